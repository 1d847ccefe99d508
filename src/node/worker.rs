//! The agent's loop (pods in, workers out) and the pod worker: one task per
//! pod that drives the runtime from the pod's spec and writes its status.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::env::{self, PodContext};
use super::probe::{self, Timing};
use super::status::{self, ContainerView, PodView};
use super::volumes::{self, VolumePaths};
use super::{admission, register, static_pods, PodEntry, Result, Shared, MIRROR_ANNOTATION};
use crate::api::core::{Container, ContainerStateTerminated, Pod, PodStatus};
use crate::api::meta::{DeleteOptions, Preconditions};
use crate::api::selector::FieldSelector;
use crate::api::{Str, Time};
use crate::client::Api;
use crate::informer::{reflector, Event, SharedInformer};
use crate::runtime::{
    ContainerConfig, ContainerFilter, ContainerState, ContainerStatus, ImageSpec, PodSandboxConfig,
    PodSandboxStatus, PortMapping, Resources, SandboxFilter, SandboxState,
};

/// What the runtime held when the agent started: the ready sandboxes of
/// pods (by pod uid) and their containers (by sandbox id). A restarted
/// agent (one run with `stop_pods_on_shutdown(false)`, or one that
/// crashed) adopts them as the kubelet does: a pod whose sandbox is still
/// there keeps it, its IP and its running containers (no restart, the
/// restart count goes on); sandboxes of pods no longer bound to the node
/// are stopped and removed once the first list of pods is in.
#[derive(Default)]
pub(crate) struct Recovered {
    sandboxes: HashMap<String, PodSandboxStatus>,
    containers: HashMap<String, Vec<ContainerStatus>>,
}

impl Recovered {
    /// What the runtime holds now.
    async fn list(shared: &Shared) -> Recovered {
        let rt = &shared.runtime;
        let filter = SandboxFilter {
            state: Some(SandboxState::Ready),
            ..SandboxFilter::default()
        };
        let mut out = Recovered::default();
        let Ok(sandboxes) = rt.list_pod_sandboxes(&filter).await else {
            return out;
        };
        for s in sandboxes {
            if s.uid.is_empty() {
                continue;
            }
            // Several for one pod: keep the newest.
            let newer = out
                .sandboxes
                .get(&s.uid)
                .is_none_or(|o| o.created_at < s.created_at);
            if newer {
                out.sandboxes.insert(s.uid.clone(), s);
            }
        }
        if out.sandboxes.is_empty() {
            return out;
        }
        if let Ok(containers) = rt.list_containers(&ContainerFilter::default()).await {
            for c in containers {
                out.containers
                    .entry(c.sandbox_id.clone())
                    .or_default()
                    .push(c);
            }
        }
        out
    }
}

/// The first crash-loop delay.
const BACKOFF_INITIAL: Duration = Duration::from_secs(10);
/// The longest crash-loop delay.
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// A container that ran this long starts its backoff over.
const BACKOFF_RESET: Duration = Duration::from_secs(600);

/// What a worker is told.
#[derive(Clone)]
pub(crate) struct Update {
    pub(crate) pod: Arc<Pod>,
    /// The pod object is gone from the API: stop everything, delete nothing.
    pub(crate) gone: bool,
    /// The agent is stopping and stops its pods.
    pub(crate) stop: bool,
}

struct WorkerHandle {
    tx: watch::Sender<Update>,
    pod: Arc<Pod>,
    terminal: Arc<AtomicBool>,
}

/// Messages from the static pod source.
pub(crate) enum StaticPod {
    /// Run (or update) this pod.
    Upsert(Arc<Pod>),
    /// The manifest is gone: stop the pod with this uid.
    Remove(Str),
}

fn key(pod: &Pod) -> (Str, Str) {
    (pod.metadata.namespace.clone(), pod.metadata.name.clone())
}

fn is_terminal_phase(phase: &str) -> bool {
    phase == "Succeeded" || phase == "Failed"
}

/// The agent: register, heartbeat, watch pods, run workers.
pub(crate) async fn run_agent(
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    tokio::pin!(shutdown);
    let version = tokio::select! {
        v = shared.runtime.version() => v?,
        _ = &mut shutdown => return Ok(()),
    };
    let _ = shared.runtime_name.set(version.runtime_name);
    let node = loop {
        tokio::select! {
            r = register::register(&shared, None) => match r {
                Ok(n) => break n,
                Err(e) => {
                    tracing::warn!(node = %shared.config.node_name, error = %e, "registering the node");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            },
            _ = &mut shutdown => return Ok(()),
        }
    };
    let mut background = JoinSet::new();
    background.spawn(register::heartbeat(shared.clone(), node));
    let (static_tx, mut static_rx) = mpsc::unbounded_channel();
    if let Some(dir) = shared.config.static_pod_dir.clone() {
        background.spawn(static_pods::run(shared.clone(), dir, static_tx));
    } else {
        drop(static_tx);
    }

    let api: Api<Pod> = Api::all(shared.client.clone());
    let informer = SharedInformer::new(
        api,
        reflector::Config {
            field_selector: Some(FieldSelector::one_term(
                "spec.nodeName",
                shared.config.node_name.clone(),
            )),
            ..reflector::Config::default()
        },
    );
    let mut events = informer.subscribe();
    *shared.recovered.lock().unwrap_or_else(|e| e.into_inner()) = Recovered::list(&shared).await;
    let cache = informer.cache();
    let first_list = cache.wait_until_ready();
    tokio::pin!(first_list);
    let mut orphans_pending = true;
    informer.start();

    let mut agent = Dispatcher {
        shared: shared.clone(),
        workers: HashMap::new(),
        refused: HashSet::new(),
        tasks: JoinSet::new(),
    };
    let mut static_open = shared.config.static_pod_dir.is_some();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            e = events.recv() => match e {
                Some(Event::Added(pod)) | Some(Event::Updated { new: pod, .. }) => agent.upsert(pod, false),
                Some(Event::Deleted(pod)) => agent.gone(&pod),
                None => break,
            },
            r = &mut first_list, if orphans_pending => {
                orphans_pending = false;
                if r.is_ok() {
                    // Hand out the first list, then what no pod claims
                    // is an orphan.
                    while let Some(e) = events.try_recv() {
                        match e {
                            Event::Added(pod) | Event::Updated { new: pod, .. } => agent.upsert(pod, false),
                            Event::Deleted(pod) => agent.gone(&pod),
                        }
                    }
                    agent.remove_orphans();
                }
            },
            m = static_rx.recv(), if static_open => match m {
                Some(StaticPod::Upsert(pod)) => agent.upsert(pod, true),
                Some(StaticPod::Remove(uid)) => agent.remove_static(&uid),
                None => static_open = false,
            },
            Some(done) = agent.tasks.join_next(), if !agent.tasks.is_empty() => {
                if let Ok(uid) = done {
                    agent.workers.remove(&uid);
                }
            }
        }
    }
    informer.shutdown();
    background.abort_all();
    if shared.config.stop_pods_on_shutdown {
        for w in agent.workers.values() {
            let mut u = w.tx.borrow().clone();
            u.stop = true;
            let _ = w.tx.send(u);
        }
        while agent.tasks.join_next().await.is_some() {}
    } else {
        agent.tasks.abort_all();
        while agent.tasks.join_next().await.is_some() {}
    }
    Ok(())
}

struct Dispatcher {
    shared: Arc<Shared>,
    workers: HashMap<Str, WorkerHandle>,
    refused: HashSet<Str>,
    tasks: JoinSet<Str>,
}

impl Dispatcher {
    /// Stops and removes the recovered sandboxes no pod of the node has
    /// claimed (pods deleted or moved while the agent was away).
    fn remove_orphans(&mut self) {
        let orphans: Vec<PodSandboxStatus> = {
            let mut rec = self
                .shared
                .recovered
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let uids: Vec<String> = rec
                .sandboxes
                .keys()
                .filter(|uid| !self.workers.contains_key(uid.as_str()))
                .cloned()
                .collect();
            uids.iter()
                .filter_map(|uid| rec.sandboxes.remove(uid))
                .collect()
        };
        for s in orphans {
            tracing::info!(pod = %s.name, namespace = %s.namespace, "removing the sandbox of a pod no longer on this node");
            let rt = self.shared.runtime.clone();
            tokio::spawn(async move {
                let _ = rt.stop_pod_sandbox(&s.id).await;
                let _ = rt.remove_pod_sandbox(&s.id).await;
            });
        }
    }

    fn upsert(&mut self, pod: Arc<Pod>, is_static: bool) {
        if !is_static && pod.metadata.annotations.contains_key(MIRROR_ANNOTATION) {
            return;
        }
        let uid = pod.metadata.uid.clone();
        if let Some(w) = self.workers.get_mut(&uid) {
            w.pod = pod.clone();
            let _ = w.tx.send(Update {
                pod,
                gone: false,
                stop: false,
            });
            return;
        }
        if self.refused.contains(&uid) {
            return;
        }
        let deleting = pod.metadata.deletion_timestamp.is_some();
        if is_terminal_phase(&pod.status.phase) || deleting {
            if deleting && !is_static {
                // Nothing runs for it here: finish the deletion.
                let shared = self.shared.clone();
                tokio::spawn(async move { delete_pod(&shared, &pod).await });
            }
            return;
        }
        let allocatable = self.shared.allocatable.clone();
        let admitted = self
            .workers
            .values()
            .filter(|w| !w.terminal.load(Ordering::Relaxed))
            .map(|w| w.pod.as_ref());
        if let Some((reason, message)) = admission::refuse(&pod, admitted, &allocatable) {
            tracing::info!(pod = %pod.metadata.name, reason, "pod refused by node admission");
            self.refused.insert(uid);
            let shared = self.shared.clone();
            tokio::spawn(async move {
                let mut p = (*pod).clone();
                p.status.phase = Str::from_static("Failed");
                p.status.reason = Str::from_static(reason);
                p.status.message = Str::from(format!("Pod was rejected: {message}"));
                p.status.start_time = Some(shared.clock.now());
                p.metadata.resource_version = Str::default();
                let api: Api<Pod> = Api::namespaced(shared.client.clone(), &p.metadata.namespace);
                if let Err(e) = api.update_status(&p).await {
                    tracing::warn!(pod = %p.metadata.name, error = %e, "writing a refused pod's status");
                }
            });
            return;
        }
        let (tx, rx) = watch::channel(Update {
            pod: pod.clone(),
            gone: false,
            stop: false,
        });
        let terminal = Arc::new(AtomicBool::new(false));
        let entry = Arc::new(PodEntry::default());
        self.shared.pods().insert(key(&pod), entry.clone());
        let worker = Worker::new(
            self.shared.clone(),
            pod.clone(),
            rx,
            terminal.clone(),
            entry,
            is_static,
        );
        let span = tracing::info_span!("pod", pod = %format!("{}/{}", pod.metadata.namespace, pod.metadata.name));
        self.tasks
            .spawn(tracing::Instrument::instrument(worker.run(), span));
        self.workers.insert(uid, WorkerHandle { tx, pod, terminal });
    }

    fn gone(&mut self, pod: &Arc<Pod>) {
        self.refused.remove(&pod.metadata.uid);
        if let Some(w) = self.workers.get(&pod.metadata.uid) {
            let _ = w.tx.send(Update {
                pod: pod.clone(),
                gone: true,
                stop: false,
            });
        }
    }

    fn remove_static(&mut self, uid: &str) {
        if let Some(w) = self.workers.get(uid) {
            let _ = w.tx.send(Update {
                pod: w.pod.clone(),
                gone: false,
                stop: true,
            });
        }
    }
}

/// Deletes the pod object for good (grace period 0, the pod's uid as a
/// precondition).
async fn delete_pod(shared: &Shared, pod: &Pod) {
    let api: Api<Pod> = Api::namespaced(shared.client.clone(), &pod.metadata.namespace);
    let opts = DeleteOptions {
        grace_period_seconds: Some(0),
        preconditions: (!pod.metadata.uid.is_empty()).then(|| Preconditions {
            uid: Some(pod.metadata.uid.clone()),
            resource_version: None,
        }),
        ..DeleteOptions::default()
    };
    match api.delete(&pod.metadata.name, &opts).await {
        Ok(_) => {}
        Err(e) if e.is_not_found() || e.is_conflict() => {}
        Err(e) => tracing::warn!(pod = %pod.metadata.name, error = %e, "deleting the pod"),
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct ProbeState {
    next: Option<Instant>,
    successes: u32,
    failures: u32,
}

#[derive(Debug, Default)]
struct Slot {
    spec: Container,
    id: Option<String>,
    previous_id: Option<String>,
    /// Containers created so far (the next attempt number).
    attempts: u32,
    observed: Option<ContainerStatus>,
    waiting: Option<(Str, Str)>,
    last_state: Option<ContainerStateTerminated>,
    /// The delay of the last restart (zero: none yet).
    backoff: Duration,
    /// A restart (or retry) is due at this instant.
    next_start: Option<Instant>,
    /// The exit a pending restart is for (a container id).
    restart_for: Option<String>,
    running_since: Option<Instant>,
    /// Init: succeeded. App: terminated for good.
    done: bool,
    ready: bool,
    started: bool,
    liveness: ProbeState,
    readiness: ProbeState,
    startup: ProbeState,
    pull_failures: u32,
}

impl Slot {
    fn new(spec: &Container) -> Self {
        Slot {
            spec: spec.clone(),
            waiting: Some((Str::from_static("ContainerCreating"), Str::default())),
            ..Slot::default()
        }
    }

    fn state(&self) -> Option<ContainerState> {
        self.observed.as_ref().map(|s| s.state)
    }

    fn view(&self) -> ContainerView {
        ContainerView {
            name: self.spec.name.clone(),
            image: self.spec.image.clone(),
            current: self.observed.clone(),
            waiting: self.waiting.clone(),
            last_state: self.last_state.clone(),
            restart_count: self.attempts.saturating_sub(1) as i32,
            ready: self.ready,
            started: self.started,
        }
    }
}

struct Worker {
    shared: Arc<Shared>,
    pod: Arc<Pod>,
    rx: watch::Receiver<Update>,
    terminal_flag: Arc<AtomicBool>,
    entry: Arc<PodEntry>,
    is_static: bool,
    sandbox: Option<(String, PodSandboxConfig)>,
    pod_ip: String,
    volumes: Option<VolumePaths>,
    next_volume_sync: Option<Instant>,
    init: Vec<Slot>,
    apps: Vec<Slot>,
    start: Instant,
    start_time: Time,
    terminal: Option<(Str, Str, Str)>,
    pod_error: Option<(Str, Str)>,
    last_status: Option<PodStatus>,
}

impl Worker {
    fn new(
        shared: Arc<Shared>,
        pod: Arc<Pod>,
        rx: watch::Receiver<Update>,
        terminal_flag: Arc<AtomicBool>,
        entry: Arc<PodEntry>,
        is_static: bool,
    ) -> Self {
        let init = pod.spec.init_containers.iter().map(Slot::new).collect();
        let apps = pod.spec.containers.iter().map(Slot::new).collect();
        let start_time = pod.status.start_time.unwrap_or_else(|| shared.clock.now());
        Worker {
            pod,
            rx,
            terminal_flag,
            entry,
            is_static,
            sandbox: None,
            pod_ip: String::new(),
            volumes: None,
            next_volume_sync: None,
            init,
            apps,
            start: Instant::now(),
            start_time,
            terminal: None,
            pod_error: None,
            last_status: None,
            shared,
        }
    }

    fn restart_policy(&self) -> &str {
        match self.pod.spec.restart_policy.as_str() {
            "" => "Always",
            p => p,
        }
    }

    fn grace_period(&self) -> Duration {
        let secs = self
            .pod
            .metadata
            .deletion_grace_period_seconds
            .filter(|_| self.pod.metadata.deletion_timestamp.is_some())
            .or(self.pod.spec.termination_grace_period_seconds)
            .unwrap_or(crate::api::core::DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS);
        Duration::from_secs(secs.max(0) as u64)
    }

    fn runtime_name(&self) -> &str {
        self.shared
            .runtime_name
            .get()
            .map_or("fake", String::as_str)
    }

    async fn run(mut self) -> Str {
        let uid = self.pod.metadata.uid.clone();
        loop {
            let update = self.rx.borrow_and_update().clone();
            self.pod = update.pod.clone();
            if update.gone || update.stop || self.pod.metadata.deletion_timestamp.is_some() {
                let delete = !update.gone && !update.stop && !self.is_static;
                self.terminate().await;
                if delete {
                    self.write_status().await;
                    delete_pod(&self.shared, &self.pod).await;
                }
                if self.is_static && update.stop {
                    // The mirror pod has a uid of its own.
                    let mut mirror = (*self.pod).clone();
                    mirror.metadata.uid = Str::default();
                    delete_pod(&self.shared, &mirror).await;
                }
                break;
            }
            self.sync().await;
            self.write_status().await;
            let wake = self.next_wake();
            tokio::select! {
                r = self.rx.changed() => if r.is_err() { break },
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
        self.shared.pods().remove(&key(&self.pod));
        uid
    }

    fn next_wake(&self) -> Instant {
        let now = Instant::now();
        let mut wake = now + self.shared.config.sync_period;
        if self.terminal.is_some() {
            return now + Duration::from_secs(3600);
        }
        for s in self.init.iter().chain(&self.apps) {
            for t in [
                s.next_start,
                s.liveness.next,
                s.readiness.next,
                s.startup.next,
            ]
            .into_iter()
            .flatten()
            {
                wake = wake.min(t.max(now));
            }
        }
        if let Some(d) = self.pod.spec.active_deadline_seconds {
            wake = wake.min((self.start + Duration::from_secs(d.max(0) as u64)).max(now));
        }
        if let Some(t) = self.next_volume_sync {
            wake = wake.min(t.max(now));
        }
        wake
    }

    fn host_ip(&self) -> &str {
        &self.shared.config.address
    }

    /// One pass: bring the runtime one step closer to the spec.
    async fn sync(&mut self) {
        if self.terminal.is_some() {
            return;
        }
        let now = Instant::now();
        if let Some(d) = self.pod.spec.active_deadline_seconds {
            if now >= self.start + Duration::from_secs(d.max(0) as u64) {
                self.kill_all(self.grace_period()).await;
                self.refresh().await;
                self.finish(
                    "Failed",
                    "DeadlineExceeded",
                    "Pod was active on the node longer than the specified deadline",
                )
                .await;
                return;
            }
        }
        if self.sandbox.is_none() && !self.create_sandbox().await {
            return;
        }
        if !self.sync_volumes(now).await {
            return;
        }
        self.refresh().await;

        // Init containers, one at a time, each to success.
        for i in 0..self.init.len() {
            if self.init[i].done {
                continue;
            }
            match self.init[i].state() {
                Some(ContainerState::Running) => return,
                Some(ContainerState::Created) if self.init[i].waiting.is_none() => return,
                Some(ContainerState::Exited) if self.init[i].restart_for != self.init[i].id => {
                    let code = self.init[i]
                        .observed
                        .as_ref()
                        .and_then(|s| s.exit_code)
                        .unwrap_or(0);
                    if code == 0 {
                        self.init[i].done = true;
                        continue;
                    }
                    if self.restart_policy() == "Never" {
                        let name = self.init[i].spec.name.clone();
                        self.finish("Failed", "", &format!("init container {name} failed"))
                            .await;
                        return;
                    }
                    self.schedule_restart(true, i, now);
                    return;
                }
                _ => {
                    if self.init[i].next_start.is_none_or(|t| t <= now) {
                        self.start_container(true, i).await;
                    }
                    return;
                }
            }
        }

        // App containers.
        let policy = self.restart_policy().to_string();
        for i in 0..self.apps.len() {
            if self.apps[i].done {
                continue;
            }
            match self.apps[i].state() {
                Some(ContainerState::Running) => self.probe(i, now).await,
                Some(ContainerState::Exited) if self.apps[i].restart_for != self.apps[i].id => {
                    let slot = &mut self.apps[i];
                    slot.ready = false;
                    slot.started = false;
                    let code = slot
                        .observed
                        .as_ref()
                        .and_then(|s| s.exit_code)
                        .unwrap_or(0);
                    let restart = match policy.as_str() {
                        "Never" => false,
                        "OnFailure" => code != 0,
                        _ => true,
                    };
                    if restart {
                        self.schedule_restart(false, i, now);
                    } else {
                        slot.done = true;
                    }
                }
                // Created but not started (a failed start is retried below).
                Some(ContainerState::Created) | Some(ContainerState::Unknown)
                    if self.apps[i].waiting.is_none() => {}
                _ => {
                    if self.apps[i].next_start.is_none_or(|t| t <= now) {
                        self.start_container(false, i).await;
                    }
                }
            }
        }
        if !self.apps.is_empty() && self.apps.iter().all(|s| s.done) {
            let all_ok = self.apps.iter().all(|s| {
                s.observed
                    .as_ref()
                    .and_then(|o| o.exit_code)
                    .is_some_and(|c| c == 0)
            });
            let phase = if all_ok { "Succeeded" } else { "Failed" };
            self.finish(phase, "", "").await;
        }
    }

    /// A terminal phase: stop the sandbox, keep the containers (for logs
    /// and status) until the pod is deleted.
    async fn finish(&mut self, phase: &'static str, reason: &str, message: &str) {
        for s in self.init.iter_mut().chain(self.apps.iter_mut()) {
            s.ready = false;
            s.next_start = None;
            if s.observed.is_none() && s.waiting.is_some() && s.last_state.is_none() {
                continue;
            }
            if s.restart_for.is_some() && s.restart_for == s.id {
                // A restart that will not come: show the exit.
                s.waiting = None;
                s.last_state = None;
            }
        }
        if let Some((id, _)) = &self.sandbox {
            if let Err(e) = self.shared.runtime.stop_pod_sandbox(id).await {
                tracing::warn!(error = %e, "stopping the sandbox of a finished pod");
            }
        }
        self.terminal = Some((
            Str::from_static(phase),
            Str::from(reason),
            Str::from(message),
        ));
        self.terminal_flag.store(true, Ordering::Relaxed);
    }

    async fn create_sandbox(&mut self) -> bool {
        let pod = &self.pod;
        let m = &pod.metadata;
        let mut labels = BTreeMap::new();
        labels.insert("io.kubernetes.pod.name".to_string(), m.name.to_string());
        labels.insert(
            "io.kubernetes.pod.namespace".to_string(),
            m.namespace.to_string(),
        );
        labels.insert("io.kubernetes.pod.uid".to_string(), m.uid.to_string());
        for (k, v) in m.labels.iter() {
            labels.insert(k.to_string(), v.to_string());
        }
        let annotations = m
            .annotations
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let port_mappings = pod
            .spec
            .containers
            .iter()
            .flat_map(|c| &c.ports)
            .filter(|p| p.host_port > 0)
            .map(|p| PortMapping {
                protocol: if p.protocol.is_empty() {
                    "TCP".to_string()
                } else {
                    p.protocol.to_string()
                },
                container_port: u16::try_from(p.container_port).unwrap_or(0),
                host_port: u16::try_from(p.host_port).unwrap_or(0),
                host_ip: p.host_ip.to_string(),
            })
            .collect();
        let config = PodSandboxConfig {
            name: m.name.to_string(),
            namespace: m.namespace.to_string(),
            uid: m.uid.to_string(),
            attempt: 0,
            hostname: if pod.spec.host_network {
                String::new()
            } else if pod.spec.hostname.is_empty() {
                m.name.to_string()
            } else {
                pod.spec.hostname.to_string()
            },
            log_directory: self
                .shared
                .root
                .join("logs")
                .join(format!("{}_{}_{}", m.namespace, m.name, m.uid))
                .display()
                .to_string(),
            host_network: pod.spec.host_network,
            port_mappings,
            labels,
            annotations,
            cgroup_parent: String::new(),
        };
        let rt = &self.shared.runtime;
        let found = self
            .shared
            .recovered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .sandboxes
            .remove(m.uid.as_str());
        if let Some(found) = found {
            tracing::info!(pod = %m.name, sandbox = %found.id, "adopting the sandbox of an earlier run");
            self.pod_ip = if pod.spec.host_network {
                self.host_ip().to_string()
            } else {
                found.ip.map(|ip| ip.to_string()).unwrap_or_default()
            };
            self.sandbox = Some((found.id, config));
            self.pod_error = None;
            return true;
        }
        let id = match rt.run_pod_sandbox(&config).await {
            Ok(id) => id,
            Err(e) => {
                self.pod_error = Some((
                    Str::from_static("ContainerCreating"),
                    Str::from(format!("failed to create the pod sandbox: {e}")),
                ));
                return false;
            }
        };
        self.pod_ip = match rt.pod_sandbox_status(&id).await {
            Ok(s) => s.ip.map(|ip| ip.to_string()).unwrap_or_default(),
            Err(_) => String::new(),
        };
        if pod.spec.host_network {
            self.pod_ip = self.host_ip().to_string();
        }
        self.sandbox = Some((id, config));
        self.pod_error = None;
        true
    }

    /// Takes over the container an earlier run of the agent left in the
    /// adopted sandbox for this slot, if it still runs (or, for an init
    /// container, succeeded): its newest instance, counting its attempts.
    fn adopt_container(&mut self, init: bool, i: usize, sandbox_id: &str) -> bool {
        let name = self.slot(init, i).spec.name.clone();
        let found = {
            let mut rec = self
                .shared
                .recovered
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let Some(list) = rec.containers.get_mut(sandbox_id) else {
                return false;
            };
            let newest = list
                .iter()
                .enumerate()
                .filter(|(_, c)| c.name == name.as_str())
                .max_by_key(|(_, c)| (c.attempt, c.created_at))
                .map(|(k, _)| k);
            let Some(k) = newest else { return false };
            list.swap_remove(k)
        };
        let usable = match found.state {
            ContainerState::Running => true,
            ContainerState::Exited => init && found.exit_code == Some(0),
            _ => false,
        };
        if !usable {
            return false;
        }
        tracing::info!(pod = %self.pod.metadata.name, container = %name, id = %found.id, "adopting a container of an earlier run");
        let slot = self.slot(init, i);
        slot.id = Some(found.id.clone());
        slot.attempts = found.attempt + 1;
        slot.observed = None;
        slot.waiting = None;
        slot.next_start = None;
        let entry = (slot.id.clone(), slot.previous_id.clone());
        self.entry.containers().insert(name, entry);
        true
    }

    fn context(&self) -> (ResourceListOwned, &Pod) {
        (self.shared.allocatable.clone(), &self.pod)
    }

    async fn sync_volumes(&mut self, now: Instant) -> bool {
        let due = self.volumes.is_none() || self.next_volume_sync.is_some_and(|t| t <= now);
        if !due {
            return true;
        }
        let (allocatable, pod) = self.context();
        let ctx = PodContext {
            pod,
            pod_ip: &self.pod_ip,
            host_ip: &self.shared.config.address,
            allocatable: &allocatable,
        };
        match volumes::setup(&self.shared.client, &self.shared.root, &ctx).await {
            Ok(paths) => {
                self.volumes = Some(paths);
                self.next_volume_sync = volumes::has_synced_volumes(&self.pod.spec.volumes)
                    .then(|| now + self.shared.config.volume_sync_period);
                self.pod_error = None;
                true
            }
            Err(e) => {
                tracing::debug!(error = %e, "setting up volumes");
                if self.volumes.is_none() {
                    self.pod_error = Some((Str::from_static("ContainerCreating"), Str::from(e)));
                    self.next_volume_sync = Some(now + self.shared.config.sync_period);
                    return false;
                }
                self.next_volume_sync = Some(now + self.shared.config.volume_sync_period);
                true
            }
        }
    }

    /// Observes every container the worker created.
    async fn refresh(&mut self) {
        let rt = self.shared.runtime.clone();
        for s in self.init.iter_mut().chain(self.apps.iter_mut()) {
            if let Some(id) = &s.id {
                match rt.container_status(id).await {
                    Ok(st) => s.observed = Some(st),
                    Err(e) => {
                        tracing::debug!(error = %e, "container status");
                    }
                }
            }
        }
    }

    fn slot(&mut self, init: bool, i: usize) -> &mut Slot {
        if init {
            &mut self.init[i]
        } else {
            &mut self.apps[i]
        }
    }

    /// The container exited and will be restarted: record its end, and
    /// wait out the backoff (`CrashLoopBackOff`).
    fn schedule_restart(&mut self, init: bool, i: usize, now: Instant) {
        let runtime = self.runtime_name().to_string();
        let clock = self.shared.clock;
        let pod_name = format!(
            "{}_{}({})",
            self.pod.metadata.name, self.pod.metadata.namespace, self.pod.metadata.uid
        );
        let slot = self.slot(init, i);
        let Some(observed) = slot.observed.clone() else {
            return;
        };
        // The runtime's clock may differ from ours: measure the run in its
        // clock, and place it from when we started the container.
        let finished = match (
            slot.running_since,
            observed.started_at,
            observed.finished_at,
        ) {
            (Some(since), Some(s), Some(f)) => since + f.duration_since(s).unwrap_or_default(),
            (_, _, Some(f)) => clock.instant_of(f),
            _ => now,
        }
        .min(now);
        let ran = observed
            .started_at
            .map(|t| {
                observed
                    .finished_at
                    .and_then(|f| f.duration_since(t).ok())
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        if ran >= BACKOFF_RESET {
            slot.backoff = Duration::ZERO;
        }
        let delay = if slot.backoff.is_zero() {
            BACKOFF_INITIAL
        } else {
            (slot.backoff * 2).min(BACKOFF_MAX)
        };
        slot.backoff = delay;
        slot.next_start = Some(finished + delay);
        slot.restart_for = slot.id.clone();
        slot.last_state = Some(status::terminated(&observed, &runtime));
        slot.waiting = Some((
            Str::from_static("CrashLoopBackOff"),
            Str::from(format!(
                "back-off {}s restarting failed container={} pod={pod_name}",
                delay.as_secs(),
                slot.spec.name
            )),
        ));
    }

    /// Pulls, creates and starts the container of a slot.
    async fn start_container(&mut self, init: bool, i: usize) {
        let now = Instant::now();
        let Some((sandbox_id, sandbox_config)) = self.sandbox.clone() else {
            return;
        };
        if self.adopt_container(init, i, &sandbox_id) {
            return;
        }
        let rt = self.shared.runtime.clone();
        let spec = self.slot(init, i).spec.clone();
        let image = ImageSpec::new(spec.image.as_str());
        let present = matches!(rt.image_status(&image).await, Ok(Some(_)));
        if !present || spec.image_pull_policy == "Always" {
            if let Err(e) = rt.pull_image(&image).await {
                let period = self.shared.config.sync_period;
                let slot = self.slot(init, i);
                slot.pull_failures += 1;
                let reason = if slot.pull_failures > 1 {
                    "ImagePullBackOff"
                } else {
                    "ErrImagePull"
                };
                let delay = (BACKOFF_INITIAL
                    * 2u32.saturating_pow(slot.pull_failures.saturating_sub(1).min(5)))
                .min(BACKOFF_MAX);
                slot.waiting = Some((Str::from_static(reason), Str::from(e.to_string())));
                slot.next_start = Some(
                    now + if slot.pull_failures > 1 {
                        delay
                    } else {
                        period
                    },
                );
                return;
            }
        }
        self.slot(init, i).pull_failures = 0;
        let allocatable = self.shared.allocatable.clone();
        let host_ip = self.shared.config.address.clone();
        let ctx = PodContext {
            pod: &self.pod,
            pod_ip: &self.pod_ip,
            host_ip: &host_ip,
            allocatable: &allocatable,
        };
        let envs = match env::resolve(&self.shared.client, &ctx, &spec).await {
            Ok(e) => e,
            Err(e) => {
                let period = self.shared.config.sync_period;
                let slot = self.slot(init, i);
                slot.waiting = Some((Str::from_static("CreateContainerConfigError"), Str::from(e)));
                slot.next_start = Some(now + period);
                return;
            }
        };
        let mounts =
            match volumes::mounts(&spec, self.volumes.as_ref().unwrap_or(&VolumePaths::new())) {
                Ok(m) => m,
                Err(e) => {
                    let period = self.shared.config.sync_period;
                    let slot = self.slot(init, i);
                    slot.waiting =
                        Some((Str::from_static("CreateContainerConfigError"), Str::from(e)));
                    slot.next_start = Some(now + period);
                    return;
                }
            };
        let vars: HashMap<String, String> = envs.iter().cloned().collect();
        let expand =
            |v: &[Str]| -> Vec<String> { v.iter().map(|s| env::expand(s, &vars)).collect() };
        let attempt = self.slot(init, i).attempts;
        let mut labels = BTreeMap::new();
        labels.insert(
            "io.kubernetes.container.name".to_string(),
            spec.name.to_string(),
        );
        labels.insert(
            "io.kubernetes.pod.name".to_string(),
            self.pod.metadata.name.to_string(),
        );
        labels.insert(
            "io.kubernetes.pod.namespace".to_string(),
            self.pod.metadata.namespace.to_string(),
        );
        labels.insert(
            "io.kubernetes.pod.uid".to_string(),
            self.pod.metadata.uid.to_string(),
        );
        let mut annotations = BTreeMap::new();
        annotations.insert(
            "io.kubernetes.container.restartCount".to_string(),
            attempt.to_string(),
        );
        let res = &spec.resources;
        let config = ContainerConfig {
            name: spec.name.to_string(),
            attempt,
            image: image.clone(),
            command: expand(&spec.command),
            args: expand(&spec.args),
            working_dir: spec.working_dir.to_string(),
            envs,
            mounts,
            labels,
            annotations,
            log_path: format!("{}/{attempt}.log", spec.name),
            resources: Resources {
                cpu_request_millis: res
                    .requests
                    .get("cpu")
                    .map_or(0, |q| q.milli_value().max(0) as u64),
                cpu_limit_millis: res
                    .limits
                    .get("cpu")
                    .map_or(0, |q| q.milli_value().max(0) as u64),
                memory_limit_bytes: res
                    .limits
                    .get("memory")
                    .map_or(0, |q| q.value().max(0) as u64),
            },
            tty: spec.tty,
            stdin: spec.stdin,
        };
        let id = match rt
            .create_container(&sandbox_id, &config, &sandbox_config)
            .await
        {
            Ok(id) => id,
            Err(e) => {
                let period = self.shared.config.sync_period;
                let slot = self.slot(init, i);
                slot.waiting = Some((
                    Str::from_static("CreateContainerError"),
                    Str::from(e.to_string()),
                ));
                slot.next_start = Some(now + period);
                return;
            }
        };
        // One terminated instance is kept (for `previous` logs).
        let old_previous = {
            let slot = self.slot(init, i);
            let old = slot.previous_id.take();
            slot.previous_id = slot.id.take();
            slot.id = Some(id.clone());
            slot.attempts += 1;
            slot.observed = None;
            slot.restart_for = None;
            slot.next_start = None;
            slot.ready = false;
            slot.started = false;
            old
        };
        if let Some(old) = old_previous {
            let _ = rt.remove_container(&old).await;
        }
        {
            let slot = self.slot(init, i);
            let entry = (slot.id.clone(), slot.previous_id.clone());
            let name = slot.spec.name.clone();
            self.entry.containers().insert(name, entry);
        }
        let started = rt.start_container(&id).await;
        let slot = self.slot(init, i);
        if let Err(e) = started {
            slot.waiting = Some((
                Str::from_static("RunContainerError"),
                Str::from(e.to_string()),
            ));
            slot.next_start = Some(now + BACKOFF_INITIAL);
            return;
        }
        slot.waiting = None;
        slot.running_since = Some(now);
        let at = |p: &Option<Box<crate::api::core::Probe>>| {
            p.as_ref().map(|p| ProbeState {
                next: Some(now + Timing::of(p).initial_delay),
                ..ProbeState::default()
            })
        };
        slot.liveness = at(&spec.liveness_probe).unwrap_or_default();
        slot.readiness = at(&spec.readiness_probe).unwrap_or_default();
        slot.startup = at(&spec.startup_probe).unwrap_or_default();
        slot.started = spec.startup_probe.is_none();
        slot.ready = spec.readiness_probe.is_none() && slot.started && !init;
        if let Ok(st) = rt.container_status(&id).await {
            slot.observed = Some(st);
        }
        if let Some(hook) = spec.lifecycle.as_ref().and_then(|l| l.post_start.clone()) {
            let budget = self.grace_period().max(Duration::from_secs(1));
            let outcome = probe::hook(rt.as_ref(), &id, &hook, &spec, &self.pod_ip, budget).await;
            if let probe::Outcome::Failure(why) = outcome {
                tracing::info!(container = %spec.name, why, "postStart hook failed; killing the container");
                let _ = rt.stop_container(&id, self.grace_period()).await;
                if let Ok(st) = rt.container_status(&id).await {
                    self.slot(init, i).observed = Some(st);
                }
            }
        }
    }

    /// Runs the due probes of a running app container.
    async fn probe(&mut self, i: usize, now: Instant) {
        let rt = self.shared.runtime.clone();
        let spec = self.apps[i].spec.clone();
        let Some(id) = self.apps[i].id.clone() else {
            return;
        };
        let pod_ip = self.pod_ip.clone();
        // Startup probe first; liveness and readiness wait for it.
        if let (Some(p), false) = (&spec.startup_probe, self.apps[i].started) {
            let t = Timing::of(p);
            if self.apps[i].startup.next.is_some_and(|n| n <= now) {
                let ok = probe::run(rt.as_ref(), &id, p, &spec, &pod_ip).await.ok();
                let st = &mut self.apps[i].startup;
                st.next = Some(now + t.period);
                if ok {
                    st.failures = 0;
                    self.apps[i].started = true;
                    let slot = &mut self.apps[i];
                    slot.liveness.next = spec
                        .liveness_probe
                        .as_ref()
                        .map(|p| now + Timing::of(p).initial_delay);
                    slot.readiness.next = spec
                        .readiness_probe
                        .as_ref()
                        .map(|p| now + Timing::of(p).initial_delay);
                    slot.ready = spec.readiness_probe.is_none();
                } else {
                    st.failures += 1;
                    if st.failures >= t.failure_threshold {
                        self.kill(i, p, "startup").await;
                    }
                }
            }
            return;
        }
        if let Some(p) = &spec.liveness_probe {
            let t = Timing::of(p);
            if self.apps[i].liveness.next.is_some_and(|n| n <= now) {
                let ok = probe::run(rt.as_ref(), &id, p, &spec, &pod_ip).await.ok();
                let st = &mut self.apps[i].liveness;
                st.next = Some(now + t.period);
                if ok {
                    st.failures = 0;
                } else {
                    st.failures += 1;
                    if st.failures >= t.failure_threshold {
                        self.kill(i, p, "liveness").await;
                        return;
                    }
                }
            }
        }
        if let Some(p) = &spec.readiness_probe {
            let t = Timing::of(p);
            if self.apps[i].readiness.next.is_some_and(|n| n <= now) {
                let ok = probe::run(rt.as_ref(), &id, p, &spec, &pod_ip).await.ok();
                let slot = &mut self.apps[i];
                slot.readiness.next = Some(now + t.period);
                if ok {
                    slot.readiness.failures = 0;
                    slot.readiness.successes += 1;
                    if slot.readiness.successes >= t.success_threshold {
                        slot.ready = true;
                    }
                } else {
                    slot.readiness.successes = 0;
                    slot.readiness.failures += 1;
                    if slot.readiness.failures >= t.failure_threshold {
                        slot.ready = false;
                    }
                }
            }
        }
    }

    /// A failed liveness or startup probe: stop the container (the next
    /// pass restarts it by policy).
    async fn kill(&mut self, i: usize, p: &crate::api::core::Probe, which: &str) {
        let Some(id) = self.apps[i].id.clone() else {
            return;
        };
        tracing::info!(container = %self.apps[i].spec.name, which, "probe failed; restarting the container");
        let grace = p
            .termination_grace_period_seconds
            .map(|s| Duration::from_secs(s.max(0) as u64))
            .unwrap_or_else(|| self.grace_period());
        let rt = self.shared.runtime.clone();
        self.pre_stop(i, grace).await;
        let _ = rt.stop_container(&id, grace).await;
        let slot = &mut self.apps[i];
        slot.ready = false;
        slot.liveness = ProbeState::default();
        slot.readiness = ProbeState::default();
        slot.startup = ProbeState::default();
        if let Ok(st) = rt.container_status(&id).await {
            slot.observed = Some(st);
        }
    }

    async fn pre_stop(&self, i: usize, budget: Duration) {
        let slot = &self.apps[i];
        let (Some(id), Some(hook)) = (
            slot.id.as_ref(),
            slot.spec
                .lifecycle
                .as_ref()
                .and_then(|l| l.pre_stop.as_ref()),
        ) else {
            return;
        };
        if slot.state() != Some(ContainerState::Running) {
            return;
        }
        let outcome = probe::hook(
            self.shared.runtime.as_ref(),
            id,
            hook,
            &slot.spec,
            &self.pod_ip,
            budget,
        )
        .await;
        if let probe::Outcome::Failure(why) = outcome {
            tracing::info!(container = %slot.spec.name, why, "preStop hook failed");
        }
    }

    /// Stops every running container within `grace`: preStop hooks, then
    /// the runtime's stop (SIGTERM, SIGKILL at the deadline), all
    /// containers at once.
    async fn kill_all(&mut self, grace: Duration) {
        self.refresh().await;
        let deadline = Instant::now() + grace;
        let rt = self.shared.runtime.clone();
        let this = &*self;
        let stops = this
            .apps
            .iter()
            .enumerate()
            .chain(
                this.init
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (usize::MAX - i, s)),
            )
            .filter(|(_, s)| s.state() == Some(ContainerState::Running))
            .filter_map(|(i, s)| s.id.clone().map(|id| (i, id)))
            .map(|(i, id)| {
                let rt = rt.clone();
                async move {
                    if i < this.apps.len() {
                        this.pre_stop(i, grace).await;
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    let _ = rt.stop_container(&id, left).await;
                }
            });
        futures::future::join_all(stops).await;
    }

    /// Stops the pod for good: containers (gracefully), the sandbox, the
    /// volumes.
    async fn terminate(&mut self) {
        let grace = self.grace_period();
        if self.terminal.is_none() {
            self.kill_all(grace).await;
        }
        self.refresh().await;
        if self.terminal.is_none() {
            for s in self.init.iter_mut().chain(self.apps.iter_mut()) {
                s.ready = false;
                if s.restart_for.is_some() && s.restart_for == s.id {
                    s.waiting = None;
                }
            }
        }
        let rt = &self.shared.runtime;
        if let Some((id, _)) = &self.sandbox {
            if let Err(e) = rt.stop_pod_sandbox(id).await {
                tracing::warn!(error = %e, "stopping the sandbox");
            }
            if let Err(e) = rt.remove_pod_sandbox(id).await {
                tracing::warn!(error = %e, "removing the sandbox");
            }
        }
        if self.volumes.as_ref().is_some_and(|v| !v.is_empty()) {
            volumes::teardown(&self.shared.root, &self.pod.metadata.uid).await;
        }
        self.terminal_flag.store(true, Ordering::Relaxed);
    }

    async fn write_status(&mut self) {
        let init: Vec<ContainerView> = self.init.iter().map(Slot::view).collect();
        let mut apps: Vec<ContainerView> = self.apps.iter().map(Slot::view).collect();
        let initialized = self.init.iter().all(|s| s.done);
        if !initialized {
            for v in &mut apps {
                if v.current.is_none() {
                    v.waiting = Some((Str::from_static("PodInitializing"), Str::default()));
                }
            }
        }
        if let Some((reason, message)) = &self.pod_error {
            for v in apps.iter_mut() {
                if v.current.is_none() {
                    v.waiting = Some((reason.clone(), message.clone()));
                }
            }
        }
        let runtime = self.runtime_name().to_string();
        let host_ip = self.shared.config.address.clone();
        let new = status::build(&PodView {
            pod: &self.pod,
            old: self.last_status.as_ref().or(Some(&self.pod.status)),
            init: &init,
            apps: &apps,
            initialized,
            terminal: self.terminal.as_ref(),
            pod_ip: &self.pod_ip,
            host_ip: &host_ip,
            start_time: Some(self.start_time),
            runtime: &runtime,
            now: self.shared.clock.now(),
        });
        if self.last_status.as_ref() == Some(&new) {
            return;
        }
        let mut pod = (*self.pod).clone();
        pod.status = new.clone();
        pod.metadata.resource_version = Str::default();
        if self.is_static {
            // The mirror pod has a uid of its own.
            pod.metadata.uid = Str::default();
        }
        let api: Api<Pod> = Api::namespaced(self.shared.client.clone(), &pod.metadata.namespace);
        match api.update_status(&pod).await {
            Ok(_) => self.last_status = Some(new),
            Err(e) if e.is_not_found() => self.last_status = Some(new),
            Err(e) => tracing::warn!(error = %e, "writing the pod status"),
        }
    }
}

type ResourceListOwned = crate::api::quantity::ResourceList;
