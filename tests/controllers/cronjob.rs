//! The CronJob controller (with the Job controller and the pod driver) on
//! paused time: concurrency policies, history, the seed CronJob.
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use keelson::api::batch::{CronJob, Job, CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION};
use keelson::apiserver::ApiServer;
use keelson::client::{Api, Client, LocalClient};
use keelson::controllers::clock::Clock;
use keelson::controllers::{cronjob, job};
use keelson::informer::{Event, InformerFactory};
use serde_json::json;
use tokio::sync::watch;

use crate::job::{wait_for, PodDriver, Step};

struct Cluster {
    client: Arc<dyn Client>,
    _server: ApiServer,
    _stop: watch::Sender<bool>,
}

async fn cluster() -> Cluster {
    let server = ApiServer::in_memory().await.unwrap();
    let client: Arc<dyn Client> = Arc::new(LocalClient::new(&server));
    let factory = InformerFactory::new(client.clone());
    let clock = Clock::new();
    let (stop, rx) = watch::channel(false);
    let signal = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    tokio::spawn(cronjob::run_with(
        &factory,
        cronjob::Config::default().clock(clock),
        signal(rx.clone()),
    ));
    tokio::spawn(job::run_with(
        &factory,
        job::Config::default().clock(clock),
        signal(rx),
    ));
    Cluster {
        client,
        _server: server,
        _stop: stop,
    }
}

fn cronjob_json(name: &str, schedule: &str, policy: &str) -> CronJob {
    serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {
            "schedule": schedule,
            "concurrencyPolicy": policy,
            "jobTemplate": {"spec": {"template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]}
            }}}
        }
    }))
    .unwrap()
}

/// Records, per Job ever created, its scheduled time; and the most Jobs
/// unfinished at once.
fn watch_jobs(
    client: &Arc<dyn Client>,
) -> (
    Arc<std::sync::Mutex<BTreeSet<String>>>,
    Arc<std::sync::Mutex<usize>>,
) {
    let factory = InformerFactory::new(client.clone());
    let jobs = factory.informer::<Job>();
    let mut sub = jobs.subscribe();
    let cache = jobs.cache();
    factory.start();
    let seen = Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    let max = Arc::new(std::sync::Mutex::new(0));
    let (s, m) = (seen.clone(), max.clone());
    tokio::spawn(async move {
        let _factory = factory;
        while let Some(e) = sub.recv().await {
            if let Event::Added(j) = &e {
                if let Some(t) = j
                    .metadata
                    .annotations
                    .get_str(CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION)
                {
                    s.lock().unwrap().insert(t.to_string());
                }
            }
            let running = cache
                .list()
                .iter()
                .filter(|j| !j.is_finished() && !j.metadata.is_deleting())
                .count();
            let mut m = m.lock().unwrap();
            *m = (*m).max(running);
        }
    });
    (seen, max)
}

#[tokio::test(start_paused = true)]
async fn forbid_skips_runs_while_the_previous_is_active() {
    let c = cluster().await;
    // Each Job's pod runs 12 minutes: the :05 run falls inside the first.
    let _driver = PodDriver::start(&c.client, |_| {
        Step::SucceedAfter(Duration::from_secs(12 * 60))
    });
    let (seen, max) = watch_jobs(&c.client);
    let cjs = Api::<CronJob>::namespaced(&c.client, "default");
    cjs.create(&cronjob_json("forbid", "*/5 * * * *", "Forbid"))
        .await
        .unwrap();
    wait_for("three runs", || async {
        (seen.lock().unwrap().len() >= 3).then_some(())
    })
    .await;
    assert_eq!(*max.lock().unwrap(), 1, "never two Jobs at once");
    let times: Vec<i64> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|t| t.parse::<keelson::api::Time>().unwrap().unix_seconds())
        .collect();
    for w in times.windows(2) {
        assert!(
            w[1] - w[0] >= 600,
            "a run was skipped between {} and {}: {times:?}",
            w[0],
            w[1]
        );
        assert_eq!(w[1] % 300, 0);
    }
    let cj = cjs.get("forbid").await.unwrap();
    assert!(cj.status.last_schedule_time.is_some());
    assert!(cj.status.active.len() <= 1);
}

#[tokio::test(start_paused = true)]
async fn replace_replaces_the_active_job() {
    let c = cluster().await;
    let _driver = PodDriver::start(&c.client, |_| {
        Step::SucceedAfter(Duration::from_secs(12 * 60))
    });
    let (seen, max) = watch_jobs(&c.client);
    let cjs = Api::<CronJob>::namespaced(&c.client, "default");
    cjs.create(&cronjob_json("replace", "*/5 * * * *", "Replace"))
        .await
        .unwrap();
    wait_for("four runs", || async {
        (seen.lock().unwrap().len() >= 4).then_some(())
    })
    .await;
    let times: Vec<i64> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|t| t.parse::<keelson::api::Time>().unwrap().unix_seconds())
        .collect();
    for w in times.windows(2) {
        assert_eq!(w[1] - w[0], 300, "every slot runs: {times:?}");
    }
    assert_eq!(
        *max.lock().unwrap(),
        1,
        "the old Job goes before the new one starts"
    );
    let jobs = Api::<Job>::namespaced(&c.client, "default")
        .list(&Default::default())
        .await
        .unwrap()
        .items;
    // None of the replaced Jobs completed.
    assert!(
        jobs.iter().all(|j| j.status.succeeded == 0),
        "{:?}",
        jobs.iter().map(|j| &j.metadata.name).collect::<Vec<_>>()
    );
}

#[tokio::test(start_paused = true)]
async fn allow_keeps_history_within_limits_and_records_success() {
    let c = cluster().await;
    let _driver = PodDriver::start(&c.client, |_| Step::SucceedAfter(Duration::from_secs(30)));
    let (seen, _) = watch_jobs(&c.client);
    let cjs = Api::<CronJob>::namespaced(&c.client, "default");
    let mut cj = cronjob_json("every", "* * * * *", "Allow");
    cj.spec.successful_jobs_history_limit = Some(2);
    cjs.create(&cj).await.unwrap();
    wait_for("six runs", || async {
        (seen.lock().unwrap().len() >= 6).then_some(())
    })
    .await;
    let cj = wait_for("history trimmed", || async {
        let jobs = Api::<Job>::namespaced(&c.client, "default")
            .list(&Default::default())
            .await
            .unwrap()
            .items;
        let done = jobs
            .iter()
            .filter(|j| j.is_finished() && !j.metadata.is_deleting())
            .count();
        let cj = cjs.get("every").await.unwrap();
        (done <= 2 && cj.status.last_successful_time.is_some()).then_some(cj)
    })
    .await;
    assert!(
        cj.status.last_schedule_time >= cj.status.last_successful_time.map(|t| t.add_seconds(-120))
    );
}

#[tokio::test(start_paused = true)]
async fn seed_cronjob_as_batch_v1_runs() {
    let c = cluster().await;
    let _driver = PodDriver::start(&c.client, |_| Step::SucceedAfter(Duration::from_secs(60)));
    let (seen, _) = watch_jobs(&c.client);
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/manifests/seeds/06-cronjob-cron-job.yaml"
    ))
    .unwrap()
    .replace("batch/v1beta1", "batch/v1");
    let loaded = keelson::api::manifest::Loader::new(keelson::api::Scheme::builtin())
        .load_all(&text)
        .unwrap();
    let cj: CronJob = serde_json::from_value(loaded[0].object.to_value().unwrap()).unwrap();
    Api::<CronJob>::namespaced(&c.client, "default")
        .create(&cj)
        .await
        .unwrap();
    wait_for("two runs", || async {
        (seen.lock().unwrap().len() >= 2).then_some(())
    })
    .await;
    for t in seen.lock().unwrap().iter() {
        let secs = t.parse::<keelson::api::Time>().unwrap().unix_seconds();
        assert_eq!(secs % (15 * 60), 0, "0,15,30,45: {t}");
    }
    wait_for("a completed run", || async {
        let jobs = Api::<Job>::namespaced(&c.client, "default")
            .list(&Default::default())
            .await
            .unwrap()
            .items;
        jobs.iter()
            .any(|j| j.status.succeeded == 1 && j.is_finished())
            .then_some(())
    })
    .await;
}
