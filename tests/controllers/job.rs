//! The Job controller against the in-memory API server, on paused time.
//! No node agent exists: a [`PodDriver`] plays the kubelet — it marks
//! pods Running, Succeeded or Failed (through the status subresource) as
//! each test scripts, and finishes deleting pods.
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keelson::api::batch::{Job, JOB_TRACKING_FINALIZER};
use keelson::api::core::{
    ContainerState, ContainerStateTerminated, ContainerStatus, Pod, PodCondition,
};
use keelson::api::meta::DeleteOptions;
use keelson::api::Time;
use keelson::apiserver::ApiServer;
use keelson::client::{Api, Client, LocalClient};
use keelson::controllers::clock::Clock;
use keelson::controllers::job;
use keelson::informer::{Event, InformerFactory};
use serde_json::json;
use tokio::sync::watch;

pub(crate) const WAIT: Duration = Duration::from_secs(3600);

/// What the driver does with a new pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Mark it Running and Ready.
    Run,
    /// Run, then succeed after the delay.
    SucceedAfter(Duration),
    /// Run, then fail after the delay.
    FailAfter(Duration),
    /// Run, then restart its container (restartCount + 1) after the delay.
    RestartAfter(Duration),
}

type Script = Arc<dyn Fn(&Pod) -> Step + Send + Sync>;

/// Plays the kubelet for every pod of the cluster.
pub(crate) struct PodDriver {
    task: tokio::task::JoinHandle<()>,
    /// Most pods active (not finished, not deleting) at once.
    pub max_active: Arc<Mutex<usize>>,
    /// When each pod was first seen (tokio time) and its name.
    pub created: Arc<Mutex<Vec<(tokio::time::Instant, Pod)>>>,
}

impl Drop for PodDriver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn is_active(p: &Pod) -> bool {
    !p.metadata.is_deleting() && !matches!(p.status.phase.as_str(), "Succeeded" | "Failed")
}

/// Sets a pod's status (re-reading it on a conflict); false when it is gone.
pub(crate) async fn set_status(
    client: &Arc<dyn Client>,
    ns: &str,
    name: &str,
    f: impl Fn(&mut Pod),
) -> bool {
    let api = Api::<Pod>::namespaced(client, ns);
    for _ in 0..20 {
        let Ok(Some(mut pod)) = api.get_opt(name).await else {
            return false;
        };
        if matches!(pod.status.phase.as_str(), "Succeeded" | "Failed") {
            return true;
        }
        f(&mut pod);
        match api.update_status(&pod).await {
            Ok(_) => return true,
            Err(e) if e.is_conflict() => continue,
            Err(_) => return false,
        }
    }
    false
}

fn running(p: &mut Pod) {
    p.status.phase = "Running".into();
    p.status.conditions = vec![PodCondition {
        type_: "Ready".into(),
        status: "True".into(),
        last_transition_time: Some(Time::now()),
        ..Default::default()
    }];
    if p.status.container_statuses.is_empty() {
        p.status.container_statuses = p
            .spec
            .containers
            .iter()
            .map(|c| ContainerStatus {
                name: c.name.clone(),
                ready: true,
                ..Default::default()
            })
            .collect();
    }
}

fn finished(p: &mut Pod, exit_code: i32) {
    p.status.phase = if exit_code == 0 {
        "Succeeded"
    } else {
        "Failed"
    }
    .into();
    p.status.conditions.clear();
    p.status.container_statuses = p
        .spec
        .containers
        .iter()
        .map(|c| ContainerStatus {
            name: c.name.clone(),
            state: ContainerState {
                terminated: Some(Box::new(ContainerStateTerminated {
                    exit_code,
                    finished_at: Some(Time::now()),
                    ..Default::default()
                })),
                ..Default::default()
            },
            ..Default::default()
        })
        .collect();
}

impl PodDriver {
    pub(crate) fn start(
        client: &Arc<dyn Client>,
        script: impl Fn(&Pod) -> Step + Send + Sync + 'static,
    ) -> PodDriver {
        let script: Script = Arc::new(script);
        let factory = InformerFactory::new(client.clone());
        let informer = factory.informer::<Pod>();
        let mut sub = informer.subscribe();
        let cache = informer.cache();
        let max_active = Arc::new(Mutex::new(0));
        let created = Arc::new(Mutex::new(Vec::new()));
        let client = client.clone();
        let (m, c) = (max_active.clone(), created.clone());
        let task = tokio::spawn(async move {
            factory.start();
            let mut seen = std::collections::HashSet::new();
            let mut tasks = tokio::task::JoinSet::new();
            while let Some(event) = sub.recv().await {
                let n = cache.list().iter().filter(|p| is_active(p)).count();
                {
                    let mut max = m.lock().unwrap();
                    *max = (*max).max(n);
                }
                let pod = match &event {
                    Event::Added(p) => p.clone(),
                    Event::Updated { new, .. } => new.clone(),
                    _ => continue,
                };
                let ns = pod.metadata.namespace.to_string();
                let name = pod.metadata.name.to_string();
                if pod.metadata.is_deleting() {
                    // The kubelet confirms the deletion at once.
                    let api = Api::<Pod>::namespaced(&client, &ns);
                    let _ = api
                        .delete(
                            &name,
                            &DeleteOptions {
                                grace_period_seconds: Some(0),
                                ..Default::default()
                            },
                        )
                        .await;
                    continue;
                }
                if !seen.insert(pod.metadata.uid.clone()) {
                    continue;
                }
                c.lock()
                    .unwrap()
                    .push((tokio::time::Instant::now(), (*pod).clone()));
                let step = script(&pod);
                let client = client.clone();
                tasks.spawn(async move {
                    let delay = match step {
                        Step::Run => None,
                        Step::SucceedAfter(d) | Step::FailAfter(d) | Step::RestartAfter(d) => {
                            Some(d)
                        }
                    };
                    set_status(&client, &ns, &name, running).await;
                    let Some(d) = delay else { return };
                    tokio::time::sleep(d).await;
                    match step {
                        Step::SucceedAfter(_) => {
                            set_status(&client, &ns, &name, |p| finished(p, 0)).await;
                        }
                        Step::FailAfter(_) => {
                            set_status(&client, &ns, &name, |p| finished(p, 1)).await;
                        }
                        Step::RestartAfter(_) => {
                            set_status(&client, &ns, &name, |p| {
                                for c in &mut p.status.container_statuses {
                                    c.restart_count += 1;
                                }
                            })
                            .await;
                        }
                        _ => {}
                    }
                });
                while tasks.try_join_next().is_some() {}
            }
        });
        PodDriver {
            task,
            max_active,
            created,
        }
    }

    pub(crate) fn max_active(&self) -> usize {
        *self.max_active.lock().unwrap()
    }

    pub(crate) fn created(&self) -> Vec<(tokio::time::Instant, Pod)> {
        self.created.lock().unwrap().clone()
    }
}

/// Waits until `check` returns `Some`, polling every 50 ms (of paused
/// time), for at most [`WAIT`].
pub(crate) async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let polled = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(v) = check().await {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
    .await;
    match polled {
        Ok(v) => v,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// An in-memory server and the Job controller (restartable).
pub(crate) struct Harness {
    pub _server: ApiServer,
    pub client: Arc<dyn Client>,
    stop: Option<watch::Sender<bool>>,
    task: Option<tokio::task::JoinHandle<()>>,
    pub clock: Clock,
}

impl Harness {
    pub(crate) async fn new() -> Harness {
        let server = ApiServer::in_memory().await.unwrap();
        let client: Arc<dyn Client> = Arc::new(LocalClient::new(&server));
        let mut h = Harness {
            _server: server,
            client,
            stop: None,
            task: None,
            clock: Clock::new(),
        };
        h.start_controller();
        h
    }

    pub(crate) fn start_controller(&mut self) {
        let factory = InformerFactory::new(self.client.clone());
        let (tx, mut rx) = watch::channel(false);
        let config = job::Config::default().clock(self.clock);
        self.task = Some(tokio::spawn(job::run_with(&factory, config, async move {
            let _ = rx.wait_for(|s| *s).await;
        })));
        self.stop = Some(tx);
    }

    pub(crate) async fn stop_controller(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(true);
        }
        if let Some(t) = self.task.take() {
            // Dropping the future aborts whatever it was doing, as a crash would.
            t.abort();
            let _ = t.await;
        }
    }

    pub(crate) fn jobs(&self) -> Api<Job> {
        Api::namespaced(&self.client, "default")
    }

    pub(crate) fn pods(&self) -> Api<Pod> {
        Api::namespaced(&self.client, "default")
    }

    pub(crate) async fn create_job(&self, spec: serde_json::Value) -> Job {
        let job: Job = serde_json::from_value(spec).unwrap();
        self.jobs().create(&job).await.unwrap()
    }

    /// Waits until the Job has the condition `type_` True; returns it.
    pub(crate) async fn wait_condition(&self, name: &str, type_: &str) -> Job {
        let jobs = self.jobs();
        let (j2, p2, n2) = (self.jobs(), self.pods(), name.to_string());
        let dump = tokio::spawn(async move {
            tokio::time::sleep(WAIT - Duration::from_secs(1)).await;
            eprintln!("JOB {:?}", j2.get(&n2).await.map(|j| j.status));
            for p in p2.list(&Default::default()).await.unwrap().items {
                eprintln!(
                    "POD {} {} fin={:?} del={:?}",
                    p.metadata.name,
                    p.status.phase,
                    p.metadata.finalizers,
                    p.metadata.deletion_timestamp
                );
            }
        });
        let _abort = AbortOnDrop(dump);
        wait_for(&format!("job {name} {type_}"), || {
            let jobs = jobs.clone();
            let name = name.to_string();
            let type_ = type_.to_string();
            async move {
                let j = jobs.get(&name).await.ok()?;
                j.status
                    .conditions
                    .iter()
                    .any(|c| c.type_ == type_ && c.status == "True")
                    .then_some(j)
            }
        })
        .await
    }
}

pub(crate) fn job_json(name: &str, spec: serde_json::Value) -> serde_json::Value {
    let mut s = json!({
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]}
        }
    });
    if let (Some(base), Some(extra)) = (s.as_object_mut(), spec.as_object()) {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": s})
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn condition_reason(job: &Job, type_: &str) -> String {
    job.status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.reason.to_string())
        .unwrap_or_default()
}

#[tokio::test(start_paused = true)]
async fn completions_with_parallelism_never_exceed_parallelism() {
    let h = Harness::new().await;
    let driver = PodDriver::start(&h.client, |_| Step::SucceedAfter(Duration::from_secs(5)));
    h.create_job(job_json(
        "batch",
        json!({"completions": 5, "parallelism": 2}),
    ))
    .await;
    let done = h.wait_condition("batch", "Complete").await;
    assert_eq!(done.status.succeeded, 5);
    assert_eq!(done.status.failed, 0);
    assert_eq!(done.status.active, 0);
    assert!(done.status.completion_time.is_some());
    assert!(done.status.start_time.is_some());
    assert_eq!(condition_reason(&done, "Complete"), "CompletionsReached");
    assert!(done
        .status
        .uncounted_terminated_pods
        .unwrap_or_default()
        .succeeded
        .is_empty());
    assert!(
        driver.max_active() <= 2,
        "max active {}",
        driver.max_active()
    );
    assert_eq!(driver.created().len(), 5, "exactly five pods were created");
    // Every pod lost its tracking finalizer and is owned by the Job.
    for p in h.pods().list(&Default::default()).await.unwrap().items {
        assert!(
            !p.metadata.has_finalizer(JOB_TRACKING_FINALIZER),
            "{}",
            p.metadata.name
        );
        assert_eq!(p.metadata.controller().unwrap().uid, done.metadata.uid);
        assert_eq!(
            p.metadata.labels.get_str("batch.kubernetes.io/job-name"),
            Some("batch")
        );
    }
}

#[tokio::test(start_paused = true)]
async fn failing_pods_honour_backoff_limit_and_delays() {
    let h = Harness::new().await;
    let driver = PodDriver::start(&h.client, |_| Step::FailAfter(Duration::from_secs(1)));
    h.create_job(job_json("flaky", json!({"backoffLimit": 3})))
        .await;
    let failed = h.wait_condition("flaky", "Failed").await;
    assert_eq!(condition_reason(&failed, "Failed"), "BackoffLimitExceeded");
    assert_eq!(
        failed.status.failed, 4,
        "backoffLimit 3 allows four attempts"
    );
    assert_eq!(failed.status.succeeded, 0);
    let created = driver.created();
    assert_eq!(created.len(), 4);
    // Each replacement waits 10 s, 20 s, 40 s after the failure before it
    // (the pod ran 1 s).
    for (i, want) in [10u64, 20, 40].iter().enumerate() {
        let gap = created[i + 1].0 - created[i].0;
        let min = Duration::from_secs(want + 1);
        assert!(gap >= min, "gap {i}: {gap:?} < {min:?}");
        assert!(
            gap < min + Duration::from_secs(2),
            "gap {i}: {gap:?} far beyond {min:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn on_failure_restarts_count_against_backoff_limit() {
    let h = Harness::new().await;
    let _driver = PodDriver::start(&h.client, |_| Step::RestartAfter(Duration::from_secs(1)));
    let mut spec = job_json("restarts", json!({"backoffLimit": 1}));
    spec["spec"]["template"]["spec"]["restartPolicy"] = json!("OnFailure");
    h.create_job(spec).await;
    let failed = h.wait_condition("restarts", "Failed").await;
    assert_eq!(condition_reason(&failed, "Failed"), "BackoffLimitExceeded");
}

#[tokio::test(start_paused = true)]
async fn active_deadline_fails_the_job() {
    let h = Harness::new().await;
    let _driver = PodDriver::start(&h.client, |_| Step::Run);
    let started = tokio::time::Instant::now();
    h.create_job(job_json(
        "slow",
        json!({"parallelism": 2, "completions": 4, "activeDeadlineSeconds": 30}),
    ))
    .await;
    let failed = h.wait_condition("slow", "Failed").await;
    // startTime has second precision: the deadline may come up to 1 s early.
    assert!(
        started.elapsed() >= Duration::from_secs(29),
        "{:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(condition_reason(&failed, "Failed"), "DeadlineExceeded");
    assert_eq!(
        condition_reason(&failed, "FailureTarget"),
        "DeadlineExceeded"
    );
    assert_eq!(failed.status.active, 0);
    assert_eq!(
        failed.status.failed, 2,
        "the two running pods were terminated"
    );
    wait_for("the pods to be gone", || async {
        h.pods()
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
            .then_some(())
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn indexed_job_completes_each_index_exactly_once() {
    let h = Harness::new().await;
    let failed_once = Arc::new(Mutex::new(false));
    let f = failed_once.clone();
    let driver = PodDriver::start(&h.client, move |p| {
        let index = job::pod_index(p);
        // The first pod of index 2 fails; its replacement succeeds.
        if index == Some(2) && !std::mem::replace(&mut *f.lock().unwrap(), true) {
            return Step::FailAfter(Duration::from_secs(1));
        }
        Step::SucceedAfter(Duration::from_secs(2))
    });
    h.create_job(job_json(
        "indexed",
        json!({"completions": 5, "parallelism": 3, "completionMode": "Indexed"}),
    ))
    .await;
    let done = h.wait_condition("indexed", "Complete").await;
    assert_eq!(done.status.completed_indexes, "0-4");
    assert_eq!(done.status.succeeded, 5);
    assert_eq!(done.status.failed, 1);
    let mut per_index: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for (_, p) in driver.created() {
        let i = job::pod_index(&p).expect("an index annotation");
        per_index
            .entry(i)
            .or_default()
            .push(p.status.phase.to_string());
        assert_eq!(p.spec.hostname, format!("indexed-{i}"));
        let env = &p.spec.containers[0].env;
        assert!(
            env.iter().any(|e| e.name == "JOB_COMPLETION_INDEX"),
            "{env:?}"
        );
    }
    assert_eq!(
        per_index.keys().copied().collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    for (i, pods) in &per_index {
        assert_eq!(
            pods.len(),
            if *i == 2 { 2 } else { 1 },
            "index {i}: {pods:?}"
        );
    }
    assert!(driver.max_active() <= 3);
}

#[tokio::test(start_paused = true)]
async fn controller_restarts_do_not_double_count() {
    let mut h = Harness::new().await;
    let n = Arc::new(Mutex::new(0u32));
    let counter = n.clone();
    // Every third pod fails; all finish fast so restarts hit mid-flight.
    let _driver = PodDriver::start(&h.client, move |_| {
        let mut n = counter.lock().unwrap();
        *n += 1;
        if *n % 3 == 0 {
            Step::FailAfter(Duration::from_millis(300))
        } else {
            Step::SucceedAfter(Duration::from_millis(200))
        }
    });
    h.create_job(job_json(
        "restarted",
        json!({"completions": 12, "parallelism": 4, "backoffLimit": 100}),
    ))
    .await;
    // Kill and restart the controller every few hundred milliseconds.
    for i in 0..40u64 {
        tokio::time::sleep(Duration::from_millis(150 + (i * 37) % 200)).await;
        h.stop_controller().await;
        tokio::task::yield_now().await;
        h.start_controller();
        let j = h.jobs().get("restarted").await.unwrap();
        if j.is_finished() {
            break;
        }
    }
    let done = h.wait_condition("restarted", "Complete").await;
    assert_eq!(done.status.succeeded, 12);
    // Every failed pod counts once: the driver's record of pods says how many failed.
    let pods = h.pods().list(&Default::default()).await.unwrap().items;
    let failed = pods.iter().filter(|p| p.status.phase == "Failed").count();
    let succeeded = pods
        .iter()
        .filter(|p| p.status.phase == "Succeeded")
        .count();
    assert_eq!(done.status.failed as usize, failed, "{:?}", done.status);
    assert_eq!(succeeded, 12);
    assert!(pods
        .iter()
        .all(|p| !p.metadata.has_finalizer(JOB_TRACKING_FINALIZER)));
}

#[tokio::test(start_paused = true)]
async fn a_pod_listed_as_uncounted_is_counted_once_after_a_crash() {
    // The state a crash between "listed" and "finalizer removed" leaves.
    let mut h = Harness::new().await;
    h.stop_controller().await;
    let job = h
        .create_job(job_json(
            "crash",
            json!({"completions": 2, "parallelism": 2}),
        ))
        .await;
    let mut template = job::pod_for(&job, None);
    template.metadata.generate_name = Default::default();
    let mut pods = Vec::new();
    for name in ["crash-a", "crash-b"] {
        template.metadata.name = name.into();
        let p = h.pods().create(&template).await.unwrap();
        set_status(&h.client, "default", name, |p| finished(p, 0)).await;
        pods.push(p);
    }
    // a: listed and finalizer already removed; b: listed, finalizer still on.
    let a = h.pods().get("crash-a").await.unwrap();
    h.pods()
        .patch("crash-a", keelson::client::PatchType::Merge, &json!({"metadata": {"finalizers": [], "resourceVersion": a.metadata.resource_version}}))
        .await
        .unwrap();
    let mut j = h.jobs().get("crash").await.unwrap();
    j.status.uncounted_terminated_pods = Some(keelson::api::batch::UncountedTerminatedPods {
        succeeded: vec![pods[0].metadata.uid.clone(), pods[1].metadata.uid.clone()],
        failed: vec![],
    });
    j.status.start_time = Some(Time::now());
    h.jobs().update_status(&j).await.unwrap();
    h.start_controller();
    let done = h.wait_condition("crash", "Complete").await;
    assert_eq!(done.status.succeeded, 2);
    let all = h.pods().list(&Default::default()).await.unwrap().items;
    assert_eq!(
        all.len(),
        2,
        "no replacement pods: {:?}",
        all.iter().map(|p| &p.metadata.name).collect::<Vec<_>>()
    );
    assert!(all
        .iter()
        .all(|p| !p.metadata.has_finalizer(JOB_TRACKING_FINALIZER)));
}

#[tokio::test(start_paused = true)]
async fn work_queue_completes_after_one_success_and_the_rest_finish() {
    let h = Harness::new().await;
    let n = Arc::new(Mutex::new(0u64));
    let counter = n.clone();
    let driver = PodDriver::start(&h.client, move |_| {
        let mut n = counter.lock().unwrap();
        *n += 1;
        Step::SucceedAfter(Duration::from_secs(*n * 3))
    });
    h.create_job(job_json("queue", json!({"parallelism": 3})))
        .await;
    let done = h.wait_condition("queue", "Complete").await;
    assert_eq!(done.spec.completions, None);
    assert!(done.status.succeeded >= 1);
    assert_eq!(driver.created().len(), 3, "no pod after the first success");
}

#[tokio::test(start_paused = true)]
async fn suspend_and_resume() {
    let h = Harness::new().await;
    let driver = PodDriver::start(&h.client, |_| Step::Run);
    h.create_job(job_json(
        "held",
        json!({"completions": 3, "parallelism": 3, "suspend": true}),
    ))
    .await;
    let j = h.wait_condition("held", "Suspended").await;
    assert_eq!(j.status.start_time, None);
    assert!(driver.created().is_empty());
    h.jobs()
        .patch(
            "held",
            keelson::client::PatchType::Merge,
            &json!({"spec": {"suspend": false}}),
        )
        .await
        .unwrap();
    wait_for("three pods", || async {
        (driver.created().len() == 3).then_some(())
    })
    .await;
    // Suspending again deletes them, without counting failures.
    h.jobs()
        .patch(
            "held",
            keelson::client::PatchType::Merge,
            &json!({"spec": {"suspend": true}}),
        )
        .await
        .unwrap();
    wait_for("pods gone", || async {
        h.pods()
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
            .then_some(())
    })
    .await;
    let j = h.jobs().get("held").await.unwrap();
    assert_eq!(j.status.failed, 0);
}

#[tokio::test(start_paused = true)]
async fn ttl_after_finished_deletes_the_job() {
    let h = Harness::new().await;
    let _driver = PodDriver::start(&h.client, |_| Step::SucceedAfter(Duration::from_secs(1)));
    h.create_job(job_json("short", json!({"ttlSecondsAfterFinished": 60})))
        .await;
    h.wait_condition("short", "Complete").await;
    let finished = tokio::time::Instant::now();
    wait_for("the job to be deleted", || async {
        h.jobs()
            .get_opt("short")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    assert!(
        finished.elapsed() >= Duration::from_secs(58),
        "{:?}",
        finished.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn seed_job_manifest_runs() {
    let h = Harness::new().await;
    let driver = PodDriver::start(&h.client, |_| Step::SucceedAfter(Duration::from_secs(2)));
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/manifests/seeds/05-job-batch-job.yaml"
    ))
    .unwrap();
    let loaded = keelson::api::manifest::Loader::new(keelson::api::Scheme::builtin())
        .load_all(&text)
        .unwrap();
    let job: Job = serde_json::from_value(loaded[0].object.to_value().unwrap()).unwrap();
    h.jobs().create(&job).await.unwrap();
    let done = h.wait_condition("batch-job", "Complete").await;
    assert_eq!(done.status.succeeded, 5);
    assert!(driver.max_active() <= 2);
    let mut names: HashMap<String, usize> = HashMap::new();
    for (_, p) in driver.created() {
        *names.entry(p.metadata.name.to_string()).or_default() += 1;
    }
    assert_eq!(names.len(), 5);
}
