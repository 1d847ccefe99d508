//! Leader election over a Lease, in paused time: one leader among
//! candidates, takeover after expiry, release on shutdown, stepping down
//! when the lease is lost, and controllers that reconcile only while they
//! lead.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keelson::api::coordination::Lease;
use keelson::api::core::ConfigMap;
use keelson::api::{MicroTime, ObjectMeta};
use keelson::apiserver::ApiServer;
use keelson::client::{Api, LocalClient};
use keelson::controllers::leader::{LeaderElector, Outcome};
use keelson::controllers::{reconciler_fn, Action, Controller};
use keelson::informer::InformerFactory;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

const NS: &str = "kube-system";
const LEASE: &str = "controller-manager";

async fn setup() -> (ApiServer, LocalClient) {
    let server = ApiServer::in_memory().await.unwrap();
    let client = LocalClient::new(&server);
    (server, client)
}

/// A candidate whose leading future counts how many lead at once.
struct Candidate {
    elector: LeaderElector,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Outcome>,
}

struct CountDown(Arc<AtomicUsize>);

impl Drop for CountDown {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn candidate(
    client: &LocalClient,
    id: &str,
    leading_now: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
) -> Candidate {
    let elector = LeaderElector::new(client, NS, LEASE, id);
    let (stop, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn({
        let elector = elector.clone();
        async move {
            elector
                .run(
                    async {
                        let _ = stop_rx.await;
                    },
                    |leading| async move {
                        let n = leading_now.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(n, Ordering::SeqCst);
                        // Counted down however the future ends (an aborted
                        // task drops it).
                        let _guard = CountDown(leading_now);
                        leading.lost().await;
                    },
                )
                .await
        }
    });
    Candidate {
        elector,
        stop: Some(stop),
        task,
    }
}

fn leaders(cs: &[Candidate]) -> Vec<usize> {
    cs.iter()
        .enumerate()
        .filter(|(_, c)| !c.task.is_finished() && c.elector.is_leader())
        .map(|(i, _)| i)
        .collect()
}

/// Waits (in virtual time) until exactly one live candidate leads.
async fn wait_for_leader(cs: &[Candidate], limit: Duration) -> usize {
    tokio::time::timeout(limit, async {
        loop {
            if let [one] = leaders(cs)[..] {
                return one;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("no leader in time")
}

async fn lease(client: &LocalClient) -> Lease {
    Api::<Lease>::namespaced(client, NS)
        .get(LEASE)
        .await
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn exactly_one_leader_among_three_and_it_keeps_renewing() {
    let (_server, client) = setup().await;
    let now = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let cs: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|id| candidate(&client, id, now.clone(), most.clone()))
        .collect();
    let leader = wait_for_leader(&cs, Duration::from_secs(10)).await;

    // A minute of virtual time, four lease durations: always the same one
    // leader, renewing.
    let first = lease(&client).await;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(leaders(&cs), vec![leader]);
        assert_eq!(now.load(Ordering::SeqCst), 1);
    }
    let later = lease(&client).await;
    assert_eq!(most.load(Ordering::SeqCst), 1, "two led at once");
    assert_eq!(
        later.spec.holder_identity.as_deref(),
        Some(cs[leader].elector.identity())
    );
    assert_eq!(later.spec.lease_transitions, Some(0));
    assert_eq!(later.spec.lease_duration_seconds, Some(15));
    assert_eq!(later.spec.acquire_time, first.spec.acquire_time);
    assert_ne!(
        later.metadata.resource_version, first.metadata.resource_version,
        "the leader renews"
    );
    for c in &cs {
        assert_eq!(
            c.elector.leader().as_deref(),
            Some(cs[leader].elector.identity())
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_leader_that_stops_renewing_is_replaced_after_expiry() {
    let (_server, client) = setup().await;
    let now = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let cs: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|id| candidate(&client, id, now.clone(), most.clone()))
        .collect();
    let old = wait_for_leader(&cs, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(7)).await;

    // Dies without releasing: the lease still names it.
    cs[old].task.abort();
    let died = Instant::now();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(!cs[old].elector.is_leader());
    assert_eq!(
        lease(&client).await.spec.holder_identity.as_deref(),
        Some(cs[old].elector.identity())
    );

    let new = wait_for_leader(&cs, Duration::from_secs(40)).await;
    let took = died.elapsed();
    assert_ne!(new, old);
    // Not before the lease expired (its last renewal was at most one
    // retry period before the death), and not much after.
    assert!(took >= Duration::from_secs(12), "took over after {took:?}");
    assert!(took <= Duration::from_secs(25), "took over after {took:?}");
    let l = lease(&client).await;
    assert_eq!(
        l.spec.holder_identity.as_deref(),
        Some(cs[new].elector.identity())
    );
    assert_eq!(l.spec.lease_transitions, Some(1));
    assert_eq!(most.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_leader_that_shuts_down_releases_and_another_takes_over_at_once() {
    let (_server, client) = setup().await;
    let now = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let mut cs: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|id| candidate(&client, id, now.clone(), most.clone()))
        .collect();
    let old = wait_for_leader(&cs, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(5)).await;

    let _ = cs[old].stop.take().unwrap().send(());
    let stopped = Instant::now();
    let outcome = (&mut cs[old].task).await.unwrap();
    assert_eq!(outcome, Outcome::Shutdown);
    assert!(!cs[old].elector.is_leader());
    let released = lease(&client).await;
    assert_eq!(released.spec.holder_identity, None);
    assert_eq!(released.spec.lease_duration_seconds, Some(1));

    let new = wait_for_leader(&cs, Duration::from_secs(10)).await;
    let took = stopped.elapsed();
    assert_ne!(new, old);
    // At the next (jittered) retry, far sooner than the 15 s expiry.
    assert!(
        took <= Duration::from_millis(4500),
        "took over after {took:?}"
    );
    let l = lease(&client).await;
    assert_eq!(
        l.spec.holder_identity.as_deref(),
        Some(cs[new].elector.identity())
    );
    assert_eq!(l.spec.lease_transitions, Some(1));
    assert_eq!(l.spec.lease_duration_seconds, Some(15));
    assert_eq!(most.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_leader_whose_lease_is_taken_steps_down_within_the_renew_deadline() {
    let (_server, client) = setup().await;
    let now = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let mut cs = vec![candidate(&client, "a", now.clone(), most.clone())];
    wait_for_leader(&cs, Duration::from_secs(10)).await;

    // Someone else writes itself in (as an operator or a split brain
    // would): the leader cannot renew any more.
    let api = Api::<Lease>::namespaced(&client, NS);
    let mut l = api.get(LEASE).await.unwrap();
    l.spec.holder_identity = Some("intruder".into());
    l.spec.renew_time = Some(MicroTime::now());
    api.update(&l).await.unwrap();
    let taken = Instant::now();

    let outcome = tokio::time::timeout(Duration::from_secs(30), &mut cs[0].task)
        .await
        .expect("the leader did not step down")
        .unwrap();
    assert_eq!(outcome, Outcome::Lost);
    let took = taken.elapsed();
    assert!(
        took >= Duration::from_secs(10),
        "stepped down after {took:?}"
    );
    assert!(
        took <= Duration::from_secs(14),
        "stepped down after {took:?}"
    );
    assert!(!cs[0].elector.is_leader());
    assert_eq!(now.load(Ordering::SeqCst), 0, "the leading future ended");
    // Lost, not shut down: the lease is left to the intruder.
    assert_eq!(
        lease(&client).await.spec.holder_identity.as_deref(),
        Some("intruder")
    );
    assert_eq!(cs[0].elector.leader().as_deref(), Some("intruder"));
}

/// A controller manager: a factory of its own and a ConfigMap controller
/// that runs only while this instance leads.
fn manager(
    client: &LocalClient,
    id: &'static str,
    seen: Arc<Mutex<Vec<(&'static str, String)>>>,
) -> (LeaderElector, oneshot::Sender<()>, JoinHandle<Outcome>) {
    let elector = LeaderElector::new(client, NS, LEASE, id);
    let factory = InformerFactory::new(client);
    let (stop, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn({
        let elector = elector.clone();
        async move {
            elector
                .run(
                    async {
                        let _ = stop_rx.await;
                    },
                    |leading| async move {
                        let reconciler = reconciler_fn(move |key, _cm: Option<Arc<ConfigMap>>| {
                            let seen = seen.clone();
                            async move {
                                seen.lock().unwrap().push((id, key.to_string()));
                                Ok::<_, std::convert::Infallible>(Action::Done)
                            }
                        });
                        Controller::<ConfigMap>::new(&factory)
                            .graceful_shutdown_on(leading.lost())
                            .run(reconciler)
                            .await;
                    },
                )
                .await
        }
    });
    (elector, stop, task)
}

async fn wait_seen(seen: &Mutex<Vec<(&'static str, String)>>, who: &str, key: &str) {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if seen
                .lock()
                .unwrap()
                .iter()
                .any(|(w, k)| *w == who && k == key)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{who} never reconciled {key}: {:?}", seen.lock().unwrap()));
}

#[tokio::test(start_paused = true)]
async fn only_the_leading_controller_manager_reconciles_and_the_other_takes_over() {
    let (_server, client) = setup().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (ea, stop_a, task_a) = manager(&client, "a", seen.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (eb, stop_b, task_b) = manager(&client, "b", seen.clone());
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(ea.is_leader(), "the first candidate leads");
    assert!(!eb.is_leader());

    let cms = Api::<ConfigMap>::namespaced(&client, "default");
    cms.create(&ConfigMap {
        metadata: ObjectMeta::named("one"),
        ..Default::default()
    })
    .await
    .unwrap();
    wait_seen(&seen, "a", "default/one").await;
    // Standing by for a while: b reconciles nothing.
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(
        seen.lock().unwrap().iter().all(|(w, _)| *w == "a"),
        "{:?}",
        seen.lock().unwrap()
    );

    // a shuts down: its controller stops, it releases, b takes over and
    // reconciles what exists and what comes.
    let _ = stop_a.send(());
    assert_eq!(task_a.await.unwrap(), Outcome::Shutdown);
    let a_count = seen.lock().unwrap().len();
    wait_seen(&seen, "b", "default/one").await;
    assert!(eb.is_leader());
    cms.create(&ConfigMap {
        metadata: ObjectMeta::named("two"),
        ..Default::default()
    })
    .await
    .unwrap();
    wait_seen(&seen, "b", "default/two").await;
    let all = seen.lock().unwrap().clone();
    assert!(
        all[a_count..].iter().all(|(w, _)| *w == "b"),
        "a reconciled after it stopped: {all:?}"
    );

    let _ = stop_b.send(());
    assert_eq!(task_b.await.unwrap(), Outcome::Shutdown);
}

#[tokio::test(start_paused = true)]
async fn a_leading_future_that_finishes_gives_leadership_up() {
    let (_server, client) = setup().await;
    let config = keelson::controllers::leader::Config::default()
        .lease_duration(Duration::from_secs(6))
        .renew_deadline(Duration::from_secs(4))
        .retry_period(Duration::from_secs(1));
    assert!(LeaderElector::new(&client, NS, LEASE, "x")
        .with_config(config.clone().renew_deadline(Duration::from_secs(7)))
        .is_err());
    let elector = LeaderElector::new(&client, NS, LEASE, "a")
        .with_config(config)
        .unwrap();
    let outcome = elector
        .run(futures::future::pending(), |leading| async move {
            assert!(leading.is_leading());
            tokio::time::sleep(Duration::from_secs(20)).await;
        })
        .await;
    assert_eq!(outcome, Outcome::Finished);
    assert!(!elector.is_leader());
    let l = lease(&client).await;
    assert_eq!(l.spec.holder_identity, None, "released");
    assert_eq!(l.spec.lease_transitions, Some(0));
    assert!(l.spec.renew_time.is_some());
}
