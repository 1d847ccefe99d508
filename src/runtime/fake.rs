//! `FakeRuntime`: a simulated container runtime, for tests and for
//! thousands of simulated nodes in one process.
//!
//! Nothing runs: a sandbox is a record with a fake IP, a container a record
//! with a start time. A container's state is computed when asked, from
//! [`tokio::time::Instant`] and its [`Behavior`], so there is no task or
//! timer per container and paused time (`start_paused = true`) drives it
//! exactly. Everything sits behind one mutex; a container costs a few
//! hundred bytes.
//!
//! Behaviour is scripted per image or per container name through the
//! builder, or from the pod's annotations (which reach the runtime through
//! the sandbox config), so that an end-to-end user can drive it from a
//! manifest:
//!
//! | annotation | applies to |
//! |---|---|
//! | `fake.keelson.io/script` | every container of the pod (a container's `keelson-fake` command, below, wins) |
//! | `fake.keelson.io/script.<container>` | the container of that name (wins) |
//!
//! The value is a `;`-separated list of directives (see [`Behavior::parse`]):
//! `exit=<duration>:<code>` (run for a while, then exit), `exec=<from>:<code>`
//! (exec commands return `code` from `from` after the start; several allowed),
//! `stop=<duration>` (how long the container takes to stop on SIGTERM),
//! `term=<code>` (its exit code when it does, default 143), `log=<line>`
//! (written at start), `start-error=<message>`. Durations are `500ms`,
//! `10s`, `2m` or `1h`.
//!
//! A container can also carry its script in its own spec: with
//! `command: ["keelson-fake"]` ([`SCRIPT_COMMAND`]) the rest of the command
//! and the args are the directives, one each (`args: ["log=working",
//! "exit=5s:0"]`), and an exec (or exec probe) of `["keelson-fake",
//! "out=TEXT", "code=N"]` prints `TEXT` and returns `N`. An image on a
//! registry host under `.invalid` (RFC 2606: never resolves) fails to
//! pull.
//!
//! ```
//! # tokio_test::block_on(async {
//! use std::time::Duration;
//! use keelson::runtime::fake::Behavior;
//! use keelson::runtime::{ContainerConfig, ContainerRuntime, ContainerState, FakeRuntime, ImageSpec, PodSandboxConfig};
//!
//! let runtime = FakeRuntime::new()
//!     .script("job", Behavior::exit_after(Duration::ZERO, 3));
//! let sandbox = PodSandboxConfig { name: "p".into(), namespace: "default".into(), uid: "u1".into(), ..Default::default() };
//! let sid = runtime.run_pod_sandbox(&sandbox).await.unwrap();
//! assert!(runtime.pod_sandbox_status(&sid).await.unwrap().ip.is_some());
//! let config = ContainerConfig { name: "c".into(), image: ImageSpec::new("job"), ..Default::default() };
//! let cid = runtime.create_container(&sid, &config, &sandbox).await.unwrap();
//! runtime.start_container(&cid).await.unwrap();
//! let status = runtime.container_status(&cid).await.unwrap();
//! assert_eq!((status.state, status.exit_code), (ContainerState::Exited, Some(3)));
//! # });
//! ```
//!
//! Pull errors and slow pulls are scripted per image through the builder
//! only ([`Behavior::pull_error`], [`Behavior::pull_delay`]): `pull_image`
//! sees no pod.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::time::Instant;

use super::{
    ContainerConfig, ContainerFilter, ContainerRuntime, ContainerState, ContainerStatus, Error,
    ExecResult, Image, ImageSpec, LogOptions, LogStream, PodSandboxConfig, PodSandboxStatus,
    Result, RuntimeStatus, SandboxFilter, SandboxState, Version,
};
use crate::api::MicroTime;

/// A container whose command is this (`command: ["keelson-fake"]`) takes
/// its behaviour from the rest of the command and its args, one directive
/// each (`args: ["exit=3s:0", "log=done"]`); an exec of
/// `["keelson-fake", "out=TEXT", "code=N"]` prints `TEXT` and returns `N`.
pub const SCRIPT_COMMAND: &str = "keelson-fake";
/// The annotation scripting every container of a pod.
pub const SCRIPT_ANNOTATION: &str = "fake.keelson.io/script";
/// The prefix of the annotation scripting one container
/// (`fake.keelson.io/script.<container>`).
pub const SCRIPT_ANNOTATION_PREFIX: &str = "fake.keelson.io/script.";

/// What a simulated container does. The default runs until stopped, and
/// every exec in it succeeds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Behavior {
    /// Exit by itself this long after the start, with this code.
    pub exit: Option<(Duration, i32)>,
    /// Exec results over time: from each offset after the start, exec
    /// commands return the code (the latest offset reached wins; before
    /// the first, exec succeeds).
    pub exec: Vec<(Duration, i32)>,
    /// How long the container takes to exit after SIGTERM; when longer
    /// than the stop timeout it is killed (exit code 137) at the timeout.
    pub stop_delay: Duration,
    /// Lines written to stdout at start.
    pub logs: Vec<String>,
    /// `start_container` fails with this message.
    pub start_error: Option<String>,
    /// Pulling the image fails with this message (per image only).
    pub pull_error: Option<String>,
    /// Pulling the image takes this long (per image only).
    pub pull_delay: Duration,
    /// The exit code of a stop within the grace period (default 143, a
    /// process ended by SIGTERM; 0 for one that traps it and exits).
    pub term_code: Option<i32>,
}

impl Behavior {
    /// Runs until stopped.
    pub fn run_forever() -> Self {
        Behavior::default()
    }

    /// Runs for `after`, then exits with `code` (restarted by the agent
    /// according to the restart policy: a non-zero code with
    /// `restartPolicy: Always` is a crash loop).
    pub fn exit_after(after: Duration, code: i32) -> Self {
        Behavior {
            exit: Some((after, code)),
            ..Behavior::default()
        }
    }

    /// Exec commands return `code` from `from` after the start.
    #[must_use]
    pub fn exec_from(mut self, from: Duration, code: i32) -> Self {
        self.exec.push((from, code));
        self.exec.sort_by_key(|(at, _)| *at);
        self
    }

    /// Takes `delay` to stop after SIGTERM.
    #[must_use]
    pub fn stop_delay(mut self, delay: Duration) -> Self {
        self.stop_delay = delay;
        self
    }

    /// Writes `line` to stdout at start.
    #[must_use]
    pub fn log(mut self, line: impl Into<String>) -> Self {
        self.logs.push(line.into());
        self
    }

    /// Exits with `code` when stopped within the grace period.
    #[must_use]
    pub fn term_code(mut self, code: i32) -> Self {
        self.term_code = Some(code);
        self
    }

    /// Fails to start.
    #[must_use]
    pub fn start_error(mut self, message: impl Into<String>) -> Self {
        self.start_error = Some(message.into());
        self
    }

    /// The image cannot be pulled.
    #[must_use]
    pub fn pull_error(mut self, message: impl Into<String>) -> Self {
        self.pull_error = Some(message.into());
        self
    }

    /// The image takes `delay` to pull.
    #[must_use]
    pub fn pull_delay(mut self, delay: Duration) -> Self {
        self.pull_delay = delay;
        self
    }

    /// Parses the annotation form: `;`-separated directives `exit=10s:1`,
    /// `exec=30s:1` (repeatable), `stop=5s`, `term=0` (exit code of a
    /// graceful stop), `log=text`, `start-error=text`, `pull-error=text`,
    /// `pull-delay=2s`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use keelson::runtime::fake::Behavior;
    ///
    /// let b = Behavior::parse("exit=10s:1; exec=30s:1; log=hello").unwrap();
    /// assert_eq!(b.exit, Some((Duration::from_secs(10), 1)));
    /// assert_eq!(b.exec, vec![(Duration::from_secs(30), 1)]);
    /// assert!(Behavior::parse("exit=soon").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self> {
        let mut b = Behavior::default();
        for directive in text.split(';').map(str::trim).filter(|d| !d.is_empty()) {
            let bad = || Error::InvalidArgument(format!("fake script directive {directive:?}"));
            let (key, value) = directive.split_once('=').ok_or_else(bad)?;
            let timed = |v: &str| -> Result<(Duration, i32)> {
                let (d, c) = v.split_once(':').ok_or_else(bad)?;
                Ok((
                    parse_duration(d.trim()).ok_or_else(bad)?,
                    c.trim().parse().map_err(|_| bad())?,
                ))
            };
            match key.trim() {
                "exit" => b.exit = Some(timed(value)?),
                "exec" => {
                    let (at, code) = timed(value)?;
                    b = b.exec_from(at, code);
                }
                "stop" => b.stop_delay = parse_duration(value.trim()).ok_or_else(bad)?,
                "term" => b.term_code = Some(value.trim().parse().map_err(|_| bad())?),
                "log" => b.logs.push(value.to_string()),
                "start-error" => b.start_error = Some(value.to_string()),
                "pull-error" => b.pull_error = Some(value.to_string()),
                "pull-delay" => b.pull_delay = parse_duration(value.trim()).ok_or_else(bad)?,
                _ => return Err(bad()),
            }
        }
        Ok(b)
    }

    fn exec_code(&self, since_start: Duration) -> i32 {
        self.exec
            .iter()
            .rev()
            .find(|(at, _)| *at <= since_start)
            .map_or(0, |(_, c)| *c)
    }
}

/// An exec of `keelson-fake out=TEXT code=N` (directives in any order,
/// both optional).
fn scripted_exec(directives: &[String]) -> Result<ExecResult> {
    let mut result = ExecResult {
        stdout: Vec::new(),
        stderr: Vec::new(),
        exit_code: 0,
    };
    for d in directives {
        match d.split_once('=') {
            Some(("out", text)) => {
                result.stdout.extend_from_slice(text.as_bytes());
                result.stdout.push(b'\n');
            }
            Some(("code", n)) => {
                result.exit_code = n
                    .trim()
                    .parse()
                    .map_err(|_| Error::InvalidArgument(format!("fake exec directive {d:?}")))?
            }
            _ => return Err(Error::InvalidArgument(format!("fake exec directive {d:?}"))),
        }
    }
    Ok(result)
}

/// True for an image on a registry host under `.invalid`, a name that by
/// RFC 2606 never resolves: the fake cannot pull it.
fn unresolvable(image: &str) -> bool {
    image.split_once('/').is_some_and(|(host, _)| {
        host.split(':')
            .next()
            .is_some_and(|h| h.ends_with(".invalid"))
    })
}

/// `500ms`, `10s`, `2m`, `1h`, or plain seconds.
fn parse_duration(s: &str) -> Option<Duration> {
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(secs).ok()
}

/// A running simulated container's lifecycle.
#[derive(Debug, Clone, Copy)]
enum Life {
    Created,
    Running {
        started: Instant,
    },
    /// Exited: when it started (if it did), when it finished, and how.
    Exited {
        started: Option<Instant>,
        finished: Instant,
        code: i32,
    },
}

#[derive(Debug)]
struct Sandbox {
    config: Arc<PodSandboxConfig>,
    state: SandboxState,
    created: Instant,
    ip: Option<Ipv4Addr>,
}

#[derive(Debug)]
struct Container {
    sandbox: u64,
    config: Arc<ContainerConfig>,
    behavior: Arc<Behavior>,
    image_ref: Arc<str>,
    created: Instant,
    life: Life,
    logs: Vec<(Instant, Box<str>)>,
}

impl Container {
    /// The lifecycle now: a running container whose script says it has
    /// exited by `now` is reported exited at that moment.
    fn life_at(&self, now: Instant) -> Life {
        match self.life {
            Life::Running { started } => match self.behavior.exit {
                Some((after, code)) if started + after <= now => Life::Exited {
                    started: Some(started),
                    finished: started + after,
                    code,
                },
                _ => self.life,
            },
            life => life,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    sandboxes: HashMap<u64, Sandbox>,
    containers: HashMap<u64, Container>,
    images: HashMap<String, Image>,
    used_ips: HashSet<u32>,
    next_ip: u32,
}

#[derive(Debug, Default)]
struct Scripts {
    by_image: HashMap<String, Arc<Behavior>>,
    by_name: HashMap<String, Arc<Behavior>>,
}

/// A simulated container runtime (see the [module guide](self)).
#[derive(Debug, Clone)]
pub struct FakeRuntime {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    scripts: Mutex<Scripts>,
    /// The pod network: base address and size.
    network: (u32, u32),
    /// Wall clock at `epoch`, so reported times follow tokio's clock.
    epoch: (Instant, SystemTime),
}

/// Each runtime gets its own /24 of 10.128.0.0/9 unless told otherwise.
static NEXT_NETWORK: AtomicU32 = AtomicU32::new(0);

impl Default for FakeRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeRuntime {
    /// A runtime with no images (every image pulls instantly unless
    /// scripted) and a /24 of its own from `10.128.0.0/9` for pod IPs.
    pub fn new() -> Self {
        let n = NEXT_NETWORK.fetch_add(1, Ordering::Relaxed) % (1 << 15);
        let base = u32::from(Ipv4Addr::new(10, 128, 0, 0)) + (n << 8);
        Self::with_network(Ipv4Addr::from(base), 24)
    }

    /// A runtime handing out pod IPs from `base/prefix`.
    pub fn with_network(base: Ipv4Addr, prefix: u8) -> Self {
        let prefix = prefix.clamp(8, 30);
        let size = 1u32 << (32 - u32::from(prefix));
        let base = u32::from(base) & !(size - 1);
        FakeRuntime {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                scripts: Mutex::new(Scripts::default()),
                network: (base, size),
                epoch: (Instant::now(), SystemTime::now()),
            }),
        }
    }

    /// Scripts every container of `image` (matched as written in the pod).
    #[must_use]
    pub fn script(self, image: impl Into<String>, behavior: Behavior) -> Self {
        self.set_script(image, behavior);
        self
    }

    /// Scripts every container named `name` (wins over the image's script).
    #[must_use]
    pub fn script_container(self, name: impl Into<String>, behavior: Behavior) -> Self {
        self.scripts()
            .by_name
            .insert(name.into(), Arc::new(behavior));
        self
    }

    /// Scripts `image` on a shared runtime (containers created later).
    pub fn set_script(&self, image: impl Into<String>, behavior: Behavior) {
        self.scripts()
            .by_image
            .insert(image.into(), Arc::new(behavior));
    }

    /// How many containers exist (any state).
    pub fn container_count(&self) -> usize {
        self.state().containers.len()
    }

    /// How many sandboxes exist (any state).
    pub fn sandbox_count(&self) -> usize {
        self.state().sandboxes.len()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn scripts(&self) -> MutexGuard<'_, Scripts> {
        self.inner.scripts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wall(&self, at: Instant) -> SystemTime {
        self.inner.epoch.1 + at.saturating_duration_since(self.inner.epoch.0)
    }

    fn behavior_for(
        &self,
        config: &ContainerConfig,
        sandbox: &PodSandboxConfig,
    ) -> Result<Arc<Behavior>> {
        // The container's own annotation, then its command, then the
        // pod's annotation, then the builder's scripts.
        let own = sandbox
            .annotations
            .get(&format!("{SCRIPT_ANNOTATION_PREFIX}{}", config.name));
        if let Some(text) = own {
            return Behavior::parse(text).map(Arc::new);
        }
        if config.command.first().map(String::as_str) == Some(SCRIPT_COMMAND) {
            let text: Vec<&str> = config.command[1..]
                .iter()
                .chain(&config.args)
                .map(String::as_str)
                .collect();
            return Behavior::parse(&text.join(";")).map(Arc::new);
        }
        if let Some(text) = sandbox.annotations.get(SCRIPT_ANNOTATION) {
            return Behavior::parse(text).map(Arc::new);
        }
        let scripts = self.scripts();
        Ok(scripts
            .by_name
            .get(&config.name)
            .or_else(|| scripts.by_image.get(&config.image.image))
            .cloned()
            .unwrap_or_default())
    }

    fn image_behavior(&self, image: &str) -> Option<Arc<Behavior>> {
        self.scripts().by_image.get(image).cloned()
    }
}

fn parse_id(prefix: char, id: &str) -> Option<u64> {
    id.strip_prefix(prefix)
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
}

fn sandbox_id(n: u64) -> String {
    format!("s{n:x}")
}

fn container_id(n: u64) -> String {
    format!("c{n:x}")
}

fn labels_match(want: &BTreeMap<String, String>, have: &BTreeMap<String, String>) -> bool {
    want.iter().all(|(k, v)| have.get(k) == Some(v))
}

fn image_id(image: &str) -> String {
    // A stable fake digest from the reference (FNV-1a).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in image.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("sha256:{h:016x}{h:016x}{h:016x}{h:016x}")
}

impl State {
    fn sandbox(&self, id: &str) -> Result<(u64, &Sandbox)> {
        parse_id('s', id)
            .and_then(|n| self.sandboxes.get(&n).map(|s| (n, s)))
            .ok_or_else(|| Error::NotFound {
                kind: "sandbox",
                id: id.to_string(),
            })
    }

    fn container_mut(&mut self, id: &str) -> Result<&mut Container> {
        parse_id('c', id)
            .and_then(|n| self.containers.get_mut(&n))
            .ok_or_else(|| Error::NotFound {
                kind: "container",
                id: id.to_string(),
            })
    }

    fn container(&self, id: &str) -> Result<&Container> {
        parse_id('c', id)
            .and_then(|n| self.containers.get(&n))
            .ok_or_else(|| Error::NotFound {
                kind: "container",
                id: id.to_string(),
            })
    }

    fn allocate_ip(&mut self, (base, size): (u32, u32)) -> Option<Ipv4Addr> {
        let usable = size.saturating_sub(2);
        for _ in 0..usable {
            let offset = 1 + self.next_ip % usable.max(1);
            self.next_ip = self.next_ip.wrapping_add(1);
            if self.used_ips.insert(offset) {
                return Some(Ipv4Addr::from(base + offset));
            }
        }
        None
    }
}

impl FakeRuntime {
    fn sandbox_status(&self, n: u64, s: &Sandbox) -> PodSandboxStatus {
        PodSandboxStatus {
            id: sandbox_id(n),
            name: s.config.name.clone(),
            namespace: s.config.namespace.clone(),
            uid: s.config.uid.clone(),
            attempt: s.config.attempt,
            state: s.state,
            created_at: self.wall(s.created),
            ip: s.ip.map(IpAddr::V4),
            additional_ips: Vec::new(),
            labels: s.config.labels.clone(),
            annotations: s.config.annotations.clone(),
        }
    }

    fn container_status_of(&self, n: u64, c: &Container, now: Instant) -> ContainerStatus {
        let (state, started, finished, code) = match c.life_at(now) {
            Life::Created => (ContainerState::Created, None, None, None),
            Life::Running { started } => (ContainerState::Running, Some(started), None, None),
            Life::Exited {
                started,
                finished,
                code,
            } => (ContainerState::Exited, started, Some(finished), Some(code)),
        };
        let reason = match code {
            Some(0) => "Completed",
            Some(_) => "Error",
            None => "",
        };
        ContainerStatus {
            id: container_id(n),
            sandbox_id: sandbox_id(c.sandbox),
            name: c.config.name.clone(),
            attempt: c.config.attempt,
            image: c.config.image.clone(),
            image_ref: c.image_ref.to_string(),
            state,
            created_at: self.wall(c.created),
            started_at: started.map(|t| self.wall(t)),
            finished_at: finished.map(|t| self.wall(t)),
            exit_code: code,
            reason: reason.to_string(),
            message: String::new(),
            log_path: String::new(),
            labels: c.config.labels.clone(),
            annotations: c.config.annotations.clone(),
        }
    }
}

#[async_trait]
impl ContainerRuntime for FakeRuntime {
    async fn version(&self) -> Result<Version> {
        Ok(Version {
            runtime_name: "keelson-fake".to_string(),
            runtime_version: env!("CARGO_PKG_VERSION").to_string(),
            runtime_api_version: "v1".to_string(),
        })
    }

    async fn status(&self) -> Result<RuntimeStatus> {
        Ok(RuntimeStatus {
            runtime_ready: true,
            network_ready: true,
            message: String::new(),
        })
    }

    async fn run_pod_sandbox(&self, config: &PodSandboxConfig) -> Result<String> {
        let network = self.inner.network;
        let mut state = self.state();
        let ip = if config.host_network {
            None
        } else {
            Some(
                state
                    .allocate_ip(network)
                    .ok_or_else(|| Error::Failed("the pod network is full".to_string()))?,
            )
        };
        state.next_id += 1;
        let n = state.next_id;
        state.sandboxes.insert(
            n,
            Sandbox {
                config: Arc::new(config.clone()),
                state: SandboxState::Ready,
                created: Instant::now(),
                ip,
            },
        );
        Ok(sandbox_id(n))
    }

    async fn stop_pod_sandbox(&self, id: &str) -> Result<()> {
        let now = Instant::now();
        let mut state = self.state();
        let (n, _) = state.sandbox(id)?;
        if let Some(s) = state.sandboxes.get_mut(&n) {
            s.state = SandboxState::NotReady;
        }
        for c in state.containers.values_mut().filter(|c| c.sandbox == n) {
            kill(c, now, 137);
        }
        Ok(())
    }

    async fn remove_pod_sandbox(&self, id: &str) -> Result<()> {
        let mut state = self.state();
        let Some(n) = parse_id('s', id) else {
            return Ok(());
        };
        if let Some(s) = state.sandboxes.remove(&n) {
            if let Some(ip) = s.ip {
                let offset = u32::from(ip).wrapping_sub(self.inner.network.0);
                state.used_ips.remove(&offset);
            }
        }
        state.containers.retain(|_, c| c.sandbox != n);
        Ok(())
    }

    async fn pod_sandbox_status(&self, id: &str) -> Result<PodSandboxStatus> {
        let state = self.state();
        let (n, s) = state.sandbox(id)?;
        Ok(self.sandbox_status(n, s))
    }

    async fn list_pod_sandboxes(&self, filter: &SandboxFilter) -> Result<Vec<PodSandboxStatus>> {
        let state = self.state();
        let wanted = filter.id.as_deref().and_then(|id| parse_id('s', id));
        let mut out: Vec<_> = state
            .sandboxes
            .iter()
            .filter(|(n, s)| {
                (filter.id.is_none() || wanted == Some(**n))
                    && filter.state.is_none_or(|st| st == s.state)
                    && labels_match(&filter.labels, &s.config.labels)
            })
            .map(|(n, s)| self.sandbox_status(*n, s))
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
        sandbox: &PodSandboxConfig,
    ) -> Result<String> {
        let behavior = self.behavior_for(config, sandbox)?;
        let image_ref = image_id(&config.image.image);
        let mut state = self.state();
        let (sn, s) = state.sandbox(sandbox_id)?;
        if s.state != SandboxState::Ready {
            return Err(Error::InvalidArgument(format!(
                "sandbox {sandbox_id} is not ready"
            )));
        }
        state.next_id += 1;
        let n = state.next_id;
        state.containers.insert(
            n,
            Container {
                sandbox: sn,
                config: Arc::new(config.clone()),
                behavior,
                image_ref: image_ref.into(),
                created: Instant::now(),
                life: Life::Created,
                logs: Vec::new(),
            },
        );
        Ok(container_id(n))
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        let now = Instant::now();
        let mut state = self.state();
        let c = state.container_mut(id)?;
        if !matches!(c.life, Life::Created) {
            return Err(Error::InvalidArgument(format!(
                "container {id} is not in the created state"
            )));
        }
        if let Some(message) = &c.behavior.start_error {
            let message = message.clone();
            c.life = Life::Exited {
                started: None,
                finished: now,
                code: 128,
            };
            return Err(Error::Failed(message));
        }
        c.life = Life::Running { started: now };
        let lines: Vec<_> = c
            .behavior
            .logs
            .iter()
            .map(|l| (now, l.as_str().into()))
            .collect();
        c.logs.extend(lines);
        Ok(())
    }

    async fn stop_container(&self, id: &str, timeout: Duration) -> Result<()> {
        let now = Instant::now();
        let (delay, term_code) = {
            let mut state = self.state();
            let c = state.container_mut(id)?;
            match c.life_at(now) {
                Life::Running { .. } => {
                    (c.behavior.stop_delay, c.behavior.term_code.unwrap_or(143))
                }
                Life::Created => {
                    c.life = Life::Exited {
                        started: None,
                        finished: now,
                        code: 0,
                    };
                    return Ok(());
                }
                exited => {
                    c.life = exited;
                    return Ok(());
                }
            }
        };
        let (wait, code) = if delay <= timeout {
            (delay, term_code)
        } else {
            (timeout, 137)
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let now = Instant::now();
        let mut state = self.state();
        if let Ok(c) = state.container_mut(id) {
            kill(c, now, code);
        }
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        if let Some(n) = parse_id('c', id) {
            self.state().containers.remove(&n);
        }
        Ok(())
    }

    async fn container_status(&self, id: &str) -> Result<ContainerStatus> {
        let now = Instant::now();
        let state = self.state();
        let c = state.container(id)?;
        let n = parse_id('c', id).unwrap_or_default();
        Ok(self.container_status_of(n, c, now))
    }

    async fn list_containers(&self, filter: &ContainerFilter) -> Result<Vec<ContainerStatus>> {
        let now = Instant::now();
        let state = self.state();
        let wanted_id = filter.id.as_deref().and_then(|id| parse_id('c', id));
        let wanted_sandbox = filter
            .sandbox_id
            .as_deref()
            .and_then(|id| parse_id('s', id));
        let mut out: Vec<_> = state
            .containers
            .iter()
            .filter(|(n, c)| {
                (filter.id.is_none() || wanted_id == Some(**n))
                    && (filter.sandbox_id.is_none() || wanted_sandbox == Some(c.sandbox))
                    && labels_match(&filter.labels, &c.config.labels)
            })
            .map(|(n, c)| self.container_status_of(*n, c, now))
            .filter(|s| filter.state.is_none_or(|st| st == s.state))
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn exec_sync(&self, id: &str, cmd: &[String], _timeout: Duration) -> Result<ExecResult> {
        let now = Instant::now();
        let state = self.state();
        let c = state.container(id)?;
        let Life::Running { started } = c.life_at(now) else {
            return Err(Error::InvalidArgument(format!(
                "container {id} is not running"
            )));
        };
        if cmd.first().map(String::as_str) == Some(SCRIPT_COMMAND) {
            return scripted_exec(&cmd[1..]);
        }
        let code = c.behavior.exec_code(now.saturating_duration_since(started));
        Ok(ExecResult {
            stdout: if code == 0 {
                cmd.join(" ").into_bytes()
            } else {
                Vec::new()
            },
            stderr: Vec::new(),
            exit_code: code,
        })
    }

    async fn container_logs(&self, id: &str, options: &LogOptions) -> Result<LogStream> {
        let state = self.state();
        let c = state.container(id)?;
        let since = options.since;
        let mut lines: Vec<Vec<u8>> = c
            .logs
            .iter()
            .map(|(at, line)| (self.wall(*at), line))
            .filter(|(at, _)| since.is_none_or(|s| *at >= s))
            .map(|(at, line)| {
                let mut out = if options.timestamps {
                    format!("{} ", MicroTime::from(at)).into_bytes()
                } else {
                    Vec::new()
                };
                out.extend_from_slice(line.as_bytes());
                out.push(b'\n');
                out
            })
            .collect();
        if let Some(tail) = options.tail_lines {
            let skip = lines.len().saturating_sub(tail);
            lines.drain(..skip);
        }
        let mut out = lines.concat();
        if let Some(limit) = options.limit_bytes {
            out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        // Simulated containers write only at start, so following shows what
        // is there and ends.
        Ok(Box::pin(futures::stream::iter(
            (!out.is_empty()).then(|| Ok(Bytes::from(out))),
        )))
    }

    async fn pull_image(&self, image: &ImageSpec) -> Result<String> {
        if unresolvable(&image.image) {
            return Err(Error::ImagePull {
                image: image.image.clone(),
                message: format!(
                    "failed to resolve reference {:?}: the registry host does not exist",
                    image.image
                ),
            });
        }
        if let Some(b) = self.image_behavior(&image.image) {
            if !b.pull_delay.is_zero() {
                tokio::time::sleep(b.pull_delay).await;
            }
            if let Some(message) = &b.pull_error {
                return Err(Error::ImagePull {
                    image: image.image.clone(),
                    message: message.clone(),
                });
            }
        }
        let id = image_id(&image.image);
        self.state()
            .images
            .entry(image.image.clone())
            .or_insert_with(|| Image {
                id: id.clone(),
                repo_tags: vec![image.image.clone()],
                repo_digests: Vec::new(),
                size: 1 << 20,
            });
        Ok(id)
    }

    async fn list_images(&self) -> Result<Vec<Image>> {
        let mut out: Vec<_> = self.state().images.values().cloned().collect();
        out.sort_by(|a, b| a.repo_tags.cmp(&b.repo_tags));
        Ok(out)
    }

    async fn image_status(&self, image: &ImageSpec) -> Result<Option<Image>> {
        let state = self.state();
        Ok(state
            .images
            .get(&image.image)
            .cloned()
            .or_else(|| state.images.values().find(|i| i.id == image.image).cloned()))
    }

    async fn remove_image(&self, image: &ImageSpec) -> Result<()> {
        let mut state = self.state();
        state.images.remove(&image.image);
        state.images.retain(|_, i| i.id != image.image);
        Ok(())
    }
}

/// Ends a container now with `code` unless it has already exited.
fn kill(c: &mut Container, now: Instant, code: i32) {
    match c.life_at(now) {
        Life::Running { started } => {
            c.life = Life::Exited {
                started: Some(started),
                finished: now,
                code,
            }
        }
        Life::Created => {
            c.life = Life::Exited {
                started: None,
                finished: now,
                code: 0,
            }
        }
        exited => c.life = exited,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox(name: &str) -> PodSandboxConfig {
        PodSandboxConfig {
            name: name.into(),
            namespace: "default".into(),
            uid: format!("uid-{name}"),
            ..Default::default()
        }
    }

    fn container(name: &str, image: &str) -> ContainerConfig {
        ContainerConfig {
            name: name.into(),
            image: ImageSpec::new(image),
            ..Default::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn scripted_exit_and_exec_follow_paused_time() {
        let rt = FakeRuntime::new().script(
            "app",
            Behavior::exit_after(Duration::from_secs(30), 2).exec_from(Duration::from_secs(10), 1),
        );
        let sb = sandbox("p");
        let sid = rt.run_pod_sandbox(&sb).await.unwrap();
        let cid = rt
            .create_container(&sid, &container("c", "app"), &sb)
            .await
            .unwrap();
        rt.start_container(&cid).await.unwrap();
        let cmd = vec!["true".to_string()];
        assert_eq!(
            rt.exec_sync(&cid, &cmd, Duration::from_secs(1))
                .await
                .unwrap()
                .exit_code,
            0
        );
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(
            rt.exec_sync(&cid, &cmd, Duration::from_secs(1))
                .await
                .unwrap()
                .exit_code,
            1
        );
        assert_eq!(
            rt.container_status(&cid).await.unwrap().state,
            ContainerState::Running
        );
        tokio::time::advance(Duration::from_secs(20)).await;
        let st = rt.container_status(&cid).await.unwrap();
        assert_eq!((st.state, st.exit_code), (ContainerState::Exited, Some(2)));
        let started = st.started_at.unwrap();
        let finished = st.finished_at.unwrap();
        assert_eq!(
            finished.duration_since(started).unwrap(),
            Duration::from_secs(30)
        );
        assert!(rt
            .exec_sync(&cid, &cmd, Duration::from_secs(1))
            .await
            .is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn stop_honours_the_grace_period() {
        let rt = FakeRuntime::new().script(
            "slow",
            Behavior::run_forever().stop_delay(Duration::from_secs(60)),
        );
        let sb = sandbox("p");
        let sid = rt.run_pod_sandbox(&sb).await.unwrap();
        let a = rt
            .create_container(&sid, &container("a", "slow"), &sb)
            .await
            .unwrap();
        let b = rt
            .create_container(&sid, &container("b", "fast"), &sb)
            .await
            .unwrap();
        rt.start_container(&a).await.unwrap();
        rt.start_container(&b).await.unwrap();
        let t0 = Instant::now();
        rt.stop_container(&a, Duration::from_secs(5)).await.unwrap();
        assert_eq!(t0.elapsed(), Duration::from_secs(5));
        assert_eq!(rt.container_status(&a).await.unwrap().exit_code, Some(137));
        rt.stop_container(&b, Duration::from_secs(5)).await.unwrap();
        assert_eq!(rt.container_status(&b).await.unwrap().exit_code, Some(143));
        // Idempotent, and removal of the sandbox takes the containers.
        rt.stop_container(&b, Duration::from_secs(5)).await.unwrap();
        rt.stop_pod_sandbox(&sid).await.unwrap();
        rt.remove_pod_sandbox(&sid).await.unwrap();
        rt.remove_pod_sandbox(&sid).await.unwrap();
        assert_eq!(rt.container_count(), 0);
        assert!(matches!(
            rt.container_status(&a).await,
            Err(Error::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn ips_are_distinct_and_reused() {
        let rt = FakeRuntime::with_network(Ipv4Addr::new(10, 1, 2, 0), 30);
        let a = rt.run_pod_sandbox(&sandbox("a")).await.unwrap();
        let b = rt.run_pod_sandbox(&sandbox("b")).await.unwrap();
        let ip_a = rt.pod_sandbox_status(&a).await.unwrap().ip.unwrap();
        let ip_b = rt.pod_sandbox_status(&b).await.unwrap().ip.unwrap();
        assert_ne!(ip_a, ip_b);
        assert!(
            rt.run_pod_sandbox(&sandbox("c")).await.is_err(),
            "a /30 holds two pods"
        );
        rt.remove_pod_sandbox(&a).await.unwrap();
        let c = rt.run_pod_sandbox(&sandbox("c")).await.unwrap();
        assert_eq!(rt.pod_sandbox_status(&c).await.unwrap().ip, Some(ip_a));
    }

    #[tokio::test]
    async fn annotations_script_containers_and_pulls_can_fail() {
        let rt =
            FakeRuntime::new().script("broken", Behavior::default().pull_error("no such image"));
        assert!(matches!(
            rt.pull_image(&ImageSpec::new("broken")).await,
            Err(Error::ImagePull { .. })
        ));
        let id = rt.pull_image(&ImageSpec::new("busybox")).await.unwrap();
        assert_eq!(
            rt.image_status(&ImageSpec::new("busybox"))
                .await
                .unwrap()
                .unwrap()
                .id,
            id
        );

        let mut sb = sandbox("p");
        sb.annotations
            .insert(SCRIPT_ANNOTATION.into(), "log=hello;log=world".into());
        sb.annotations
            .insert(format!("{SCRIPT_ANNOTATION_PREFIX}job"), "exit=0s:4".into());
        let sid = rt.run_pod_sandbox(&sb).await.unwrap();
        let web = rt
            .create_container(&sid, &container("web", "x"), &sb)
            .await
            .unwrap();
        let job = rt
            .create_container(&sid, &container("job", "x"), &sb)
            .await
            .unwrap();
        rt.start_container(&web).await.unwrap();
        rt.start_container(&job).await.unwrap();
        assert_eq!(rt.container_status(&job).await.unwrap().exit_code, Some(4));
        let opts = LogOptions {
            tail_lines: Some(1),
            ..Default::default()
        };
        let mut logs = rt.container_logs(&web, &opts).await.unwrap();
        let chunk = futures::StreamExt::next(&mut logs).await.unwrap().unwrap();
        assert_eq!(&chunk[..], b"world\n");

        let mut bad = sandbox("q");
        bad.annotations
            .insert(SCRIPT_ANNOTATION.into(), "explode=now".into());
        let sid = rt.run_pod_sandbox(&bad).await.unwrap();
        assert!(rt
            .create_container(&sid, &container("c", "x"), &bad)
            .await
            .is_err());
    }
}
