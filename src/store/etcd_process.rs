//! Throwaway etcd members and clusters on loopback, for tests and benchmarks
//! (features `etcd` and `test-util`).
//!
//! [`EtcdProcess`] starts one member, [`EtcdCluster`] three; each runs the
//! `etcd` binary (Debian: `apt-get install etcd-server`) on free loopback
//! ports with its data in a fresh temporary directory, waits until it serves
//! requests, and kills it and removes the directory when dropped, also when a
//! test panics (then the directory is kept and its path printed, for the
//! logs). etcd's output goes to `etcd.log` in each member's directory.
//!
//! The members use short raft timings (10 ms heartbeats, 50 ms elections), so
//! a member is healthy in about 50 ms and a cluster elects a new leader within
//! a fraction of a second after losing one.
//!
//! ```no_run
//! use keelson::store::etcd_process::{EtcdCluster, EtcdProcess};
//! use keelson::store::{EtcdStore, Store};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let etcd = EtcdProcess::start().await?;
//! let store = EtcdStore::connect(etcd.config().prefix("/test-1")).await?;
//! store.create("/a", "1".into()).await?;
//!
//! let cluster = EtcdCluster::start().await?;
//! let store = EtcdStore::connect(cluster.config()).await?;
//! if let Some(leader) = cluster.leader().await {
//!     cluster.kill(leader)?; // SIGKILL; the other two elect a new leader
//! }
//! store.current_revision().await?;
//! # Ok(())
//! # }
//! ```
use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use etcd_client::{Client, ConnectOptions};
use tempfile::TempDir;
use tokio::time::{sleep, timeout, Instant};

use super::etcd::Config;
use super::DEFAULT_MAX_VALUE_BYTES;

/// What can go wrong starting etcd.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The `etcd` binary is not installed (or not where [`Options::binary`]
    /// says).
    #[error(
        "the etcd binary {binary:?} was not found: install it (Debian: `apt-get install \
         etcd-server`) or set KEELSON_ETCD_BIN"
    )]
    BinaryNotFound {
        /// The binary that was looked for.
        binary: PathBuf,
    },
    /// A file system or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// etcd exited during startup.
    #[error(
        "etcd member {member} exited during startup ({status}); log {log:?} ends with:\n{tail}"
    )]
    Exited {
        /// The member's name.
        member: String,
        /// Its exit status.
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The end of its log.
        tail: String,
    },
    /// etcd did not become healthy in time.
    #[error("etcd did not become healthy within {waited:?}; member logs in {dir:?}")]
    NotHealthy {
        /// How long we waited.
        waited: Duration,
        /// The directory holding the members' data and logs.
        dir: PathBuf,
    },
    /// No such member in the cluster.
    #[error("no member {0} in the cluster")]
    NoSuchMember(usize),
}

/// How to start etcd.
#[derive(Clone, Debug)]
pub struct Options {
    /// The etcd binary: `$KEELSON_ETCD_BIN` if set, else `etcd` from `PATH`.
    pub binary: PathBuf,
    /// etcd's `--max-request-bytes`: by default [`DEFAULT_MAX_VALUE_BYTES`]
    /// plus 1 MiB, so that values up to the store's limit fit in a request
    /// with their key and framing.
    pub max_request_bytes: usize,
    /// How long to wait for the member (or cluster) to become healthy.
    /// Default 20 s.
    pub startup_timeout: Duration,
    /// More command-line arguments for every member.
    pub extra_args: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            binary: std::env::var_os("KEELSON_ETCD_BIN")
                .map_or_else(|| PathBuf::from("etcd"), PathBuf::from),
            max_request_bytes: DEFAULT_MAX_VALUE_BYTES + 1024 * 1024,
            startup_timeout: Duration::from_secs(20),
            extra_args: Vec::new(),
        }
    }
}

impl Options {
    /// Set the etcd binary.
    #[must_use]
    pub fn binary(mut self, binary: impl Into<PathBuf>) -> Self {
        self.binary = binary.into();
        self
    }

    /// Set etcd's `--max-request-bytes`.
    #[must_use]
    pub fn max_request_bytes(mut self, bytes: usize) -> Self {
        self.max_request_bytes = bytes;
        self
    }

    /// Set how long to wait for health.
    #[must_use]
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Add a command-line argument for every member.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.extra_args.push(arg.into());
        self
    }
}

/// How often a start is retried when a port picked as free was taken by
/// someone else before etcd bound it.
const PORT_ATTEMPTS: usize = 5;

/// One etcd member process.
#[derive(Debug)]
struct Member {
    name: String,
    client_port: u16,
    peer_port: u16,
    dir: PathBuf,
    child: Mutex<Option<Child>>,
}

impl Member {
    fn client_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("etcd.log")
    }

    fn spawn(&self, options: &Options, initial_cluster: &str, token: &str) -> Result<(), Error> {
        let io = |what: String| move |source| Error::Io { what, source };
        std::fs::create_dir_all(&self.dir)
            .map_err(io(format!("creating {}", self.dir.display())))?;
        // Appended to, so that a restarted member's log follows its first.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(io(format!("opening {}", self.log_path().display())))?;
        let log_err = log
            .try_clone()
            .map_err(io("duplicating the log file".to_owned()))?;
        let client = self.client_url();
        let peer = self.peer_url();
        let args: Vec<OsString> = [
            "--name",
            &self.name,
            "--listen-client-urls",
            &client,
            "--advertise-client-urls",
            &client,
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
            "--initial-cluster",
            initial_cluster,
            "--initial-cluster-token",
            token,
            "--initial-cluster-state",
            "new",
            "--heartbeat-interval=10",
            "--election-timeout=50",
        ]
        .iter()
        .map(OsString::from)
        .chain([
            OsString::from("--data-dir"),
            self.dir.join("data").into_os_string(),
            OsString::from(format!("--max-request-bytes={}", options.max_request_bytes)),
        ])
        .chain(options.extra_args.iter().map(OsString::from))
        .collect();
        let child = Command::new(&options.binary)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|source| {
                if source.kind() == std::io::ErrorKind::NotFound {
                    Error::BinaryNotFound {
                        binary: options.binary.clone(),
                    }
                } else {
                    Error::Io {
                        what: format!("starting {}", options.binary.display()),
                        source,
                    }
                }
            })?;
        *lock(&self.child) = Some(child);
        Ok(())
    }

    /// `Some(error)` if the process has exited.
    fn exited(&self) -> Option<Error> {
        let mut child = lock(&self.child);
        let status = match child.as_mut().map(Child::try_wait) {
            None => "killed".to_owned(),
            Some(Ok(None)) => return None,
            Some(Ok(Some(status))) => status.to_string(),
            Some(Err(err)) => err.to_string(),
        };
        Some(Error::Exited {
            member: self.name.clone(),
            status,
            log: self.log_path(),
            tail: log_tail(&self.log_path()),
        })
    }

    fn kill(&self) {
        if let Some(mut child) = lock(&self.child).take() {
            // SIGKILL: no chance to flush or hand over leadership.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn is_running(&self) -> bool {
        self.exited().is_none()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The telling part of a log file, for error messages: lines that look like
/// errors (etcd prints its usage after a bad flag, burying the reason), then
/// the last lines.
fn log_tail(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = File::open(path) {
        let _ = file.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().collect();
    let errors = lines.iter().filter(|line| {
        let line = line.to_ascii_lowercase();
        [
            "error",
            "fatal",
            "panic",
            "invalid",
            "not defined",
            "already in use",
        ]
        .iter()
        .any(|word| line.contains(word))
    });
    let tail = lines[lines.len().saturating_sub(10)..].iter();
    errors
        .take(10)
        .chain(tail)
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}

/// `count` distinct free loopback ports. Held all at once so they differ,
/// then released for etcd to bind; another process may grab one in
/// between, which the callers detect and retry.
fn free_ports(count: usize) -> Result<Vec<u16>, Error> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind(("127.0.0.1", 0)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| Error::Io {
            what: "finding a free loopback port".into(),
            source,
        })?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| Error::Io {
            what: "finding a free loopback port".into(),
            source,
        })
}

/// A group of members started together: one for [`EtcdProcess`], three for
/// [`EtcdCluster`].
#[derive(Debug)]
struct Members {
    members: Vec<Member>,
    /// `None` only while dropping.
    dir: Option<TempDir>,
    options: Options,
    initial_cluster: String,
    token: String,
}

impl Members {
    async fn start(count: usize, options: &Options) -> Result<Self, Error> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let members = Self::spawn(count, options)?;
            match members.wait_healthy(options.startup_timeout).await {
                Ok(()) => return Ok(members),
                Err(Error::Exited { ref tail, .. })
                    if attempt < PORT_ATTEMPTS && tail.contains("address already in use") =>
                {
                    // A port was taken between picking and binding it.
                    continue;
                }
                Err(err) => return Err(err),
            }
        }
    }

    fn spawn(count: usize, options: &Options) -> Result<Self, Error> {
        let dir = tempfile::Builder::new()
            .prefix("keelson-etcd-")
            .tempdir()
            .map_err(|source| Error::Io {
                what: "creating a temporary directory".into(),
                source,
            })?;
        let ports = free_ports(2 * count)?;
        let members: Vec<Member> = ports
            .chunks_exact(2)
            .enumerate()
            .map(|(i, pair)| {
                let name = format!("m{i}");
                Member {
                    dir: dir.path().join(&name),
                    name,
                    client_port: pair[0],
                    peer_port: pair[1],
                    child: Mutex::new(None),
                }
            })
            .collect();
        let initial_cluster = members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url()))
            .collect::<Vec<_>>()
            .join(",");
        let token = format!("keelson-{}-{}", std::process::id(), ports[0]);
        // Constructed before spawning, so that Drop kills what was started
        // if a later member fails.
        let members = Self {
            members,
            dir: Some(dir),
            options: options.clone(),
            initial_cluster,
            token,
        };
        for member in &members.members {
            member.spawn(options, &members.initial_cluster, &members.token)?;
        }
        Ok(members)
    }

    /// Wait until every member answers and agrees on a leader.
    async fn wait_healthy(&self, limit: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + limit;
        loop {
            for member in &self.members {
                if let Some(exited) = member.exited() {
                    return Err(exited);
                }
            }
            let mut leaders = Vec::new();
            for member in &self.members {
                leaders.push(status(&member.client_url()).await.map(|s| s.1));
            }
            if let Some(Some(first)) = leaders.first() {
                if *first != 0 && leaders.iter().all(|l| *l == Some(*first)) {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::NotHealthy {
                    waited: limit,
                    dir: self.path().to_path_buf(),
                });
            }
            sleep(Duration::from_millis(20)).await;
        }
    }

    fn path(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new(""), TempDir::path)
    }

    fn member(&self, index: usize) -> Result<&Member, Error> {
        self.members.get(index).ok_or(Error::NoSuchMember(index))
    }

    /// Start a killed member again, on its ports and data, and wait until
    /// it answers with a leader.
    async fn restart(&self, index: usize) -> Result<(), Error> {
        let member = self.member(index)?;
        if member.is_running() {
            return Ok(());
        }
        member.spawn(&self.options, &self.initial_cluster, &self.token)?;
        let deadline = Instant::now() + self.options.startup_timeout;
        loop {
            if let Some(exited) = member.exited() {
                return Err(exited);
            }
            if let Some((_, leader)) = status(&member.client_url()).await {
                if leader != 0 {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::NotHealthy {
                    waited: self.options.startup_timeout,
                    dir: self.path().to_path_buf(),
                });
            }
            sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Members {
    fn drop(&mut self) {
        for member in &self.members {
            member.kill();
        }
        if let Some(dir) = self.dir.take() {
            if std::thread::panicking() {
                let kept = dir.keep();
                eprintln!("etcd data and logs kept in {}", kept.display());
            }
        }
    }
}

/// A member's own id and the leader it knows of (0: none), or `None` if it
/// does not answer.
async fn status(endpoint: &str) -> Option<(u64, u64)> {
    let options = ConnectOptions::new()
        .with_connect_timeout(Duration::from_millis(200))
        .with_timeout(Duration::from_millis(500));
    let ask = async {
        let mut client = Client::connect([endpoint], Some(options)).await.ok()?;
        let status = client.status().await.ok()?;
        Some((status.header()?.member_id(), status.leader()))
    };
    timeout(Duration::from_secs(1), ask).await.ok().flatten()
}

/// One etcd member on free loopback ports, with its own temporary data
/// directory; killed and removed on drop.
#[derive(Debug)]
pub struct EtcdProcess {
    members: Members,
}

impl EtcdProcess {
    /// Start a member with the default [`Options`] and wait until it serves.
    pub async fn start() -> Result<Self, Error> {
        Self::start_with(Options::default()).await
    }

    /// Start a member and wait until it serves.
    pub async fn start_with(options: Options) -> Result<Self, Error> {
        Ok(Self {
            members: Members::start(1, &options).await?,
        })
    }

    fn member(&self) -> Result<&Member, Error> {
        self.members.member(0)
    }

    /// The client URL, such as `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> String {
        self.member().map(Member::client_url).unwrap_or_default()
    }

    /// A store configuration pointing at this member.
    pub fn config(&self) -> Config {
        Config::default().endpoints([self.endpoint()])
    }

    /// The directory holding the member's data and `etcd.log`.
    pub fn dir(&self) -> &Path {
        self.members.path()
    }

    /// etcd's log file.
    pub fn log_path(&self) -> PathBuf {
        self.member().map(Member::log_path).unwrap_or_default()
    }

    /// Kill the member with SIGKILL (it stays dead).
    pub fn kill(&self) {
        if let Ok(member) = self.member() {
            member.kill();
        }
    }

    /// Whether the member is still running.
    pub fn is_running(&self) -> bool {
        self.member().is_ok_and(Member::is_running)
    }

    /// Start the member again after [`kill`](Self::kill), on the same ports
    /// and data, and wait until it serves.
    pub async fn restart(&self) -> Result<(), Error> {
        self.members.restart(0).await
    }
}

/// A cluster of three etcd members on free loopback ports, with their own
/// temporary directories; killed and removed on drop.
#[derive(Debug)]
pub struct EtcdCluster {
    members: Members,
}

impl EtcdCluster {
    /// The number of members.
    pub const SIZE: usize = 3;

    /// Start three members with the default [`Options`] and wait until they
    /// have elected a leader.
    pub async fn start() -> Result<Self, Error> {
        Self::start_with(Options::default()).await
    }

    /// Start three members and wait until they have elected a leader.
    pub async fn start_with(options: Options) -> Result<Self, Error> {
        Ok(Self {
            members: Members::start(Self::SIZE, &options).await?,
        })
    }

    /// The client URLs of all members, dead ones included (as a client
    /// configured before a failure has them).
    pub fn endpoints(&self) -> Vec<String> {
        self.members
            .members
            .iter()
            .map(Member::client_url)
            .collect()
    }

    /// The client URL of one member.
    pub fn endpoint(&self, member: usize) -> Result<String, Error> {
        self.members.member(member).map(Member::client_url)
    }

    /// A store configuration with every member's endpoint.
    pub fn config(&self) -> Config {
        Config::default().endpoints(self.endpoints())
    }

    /// The directory holding the members' data and logs.
    pub fn dir(&self) -> &Path {
        self.members.path()
    }

    /// The index of the current leader, as the live members report it.
    pub async fn leader(&self) -> Option<usize> {
        for member in &self.members.members {
            if !member.is_running() {
                continue;
            }
            let Some((_, leader)) = status(&member.client_url()).await else {
                continue;
            };
            for (index, candidate) in self.members.members.iter().enumerate() {
                if candidate.is_running() {
                    if let Some((id, _)) = status(&candidate.client_url()).await {
                        if id == leader {
                            return Some(index);
                        }
                    }
                }
            }
        }
        None
    }

    /// Wait until the live members have a leader; its index.
    pub async fn wait_for_leader(&self, limit: Duration) -> Option<usize> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(leader) = self.leader().await {
                return Some(leader);
            }
            if Instant::now() >= deadline {
                return None;
            }
            sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kill one member with SIGKILL (it stays dead).
    pub fn kill(&self, member: usize) -> Result<(), Error> {
        self.members.member(member)?.kill();
        Ok(())
    }

    /// Whether a member is still running.
    pub fn is_running(&self, member: usize) -> bool {
        self.members.member(member).is_ok_and(Member::is_running)
    }

    /// Start a killed member again, on its ports and data, and wait until
    /// it has rejoined (knows a leader).
    pub async fn restart(&self, member: usize) -> Result<(), Error> {
        self.members.restart(member).await
    }
}
