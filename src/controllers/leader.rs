//! Leader election over a `coordination.k8s.io/v1` [`Lease`], in the shape
//! of client-go's `leaderelection`: of many candidates (replicas of a
//! controller manager or scheduler) one leads and the others wait.
//!
//! A [`LeaderElector`] names the lease (namespace and name) and its own
//! identity. [`run`](LeaderElector::run) tries to acquire the lease every
//! retry period; once it holds it, it runs the future you give it and
//! renews the lease every retry period. The future gets a [`Leading`]
//! handle whose [`lost`](Leading::lost) completes when leadership ends, so
//! it can stop its work (a [`Controller`](super::Controller) takes it as
//! its graceful-shutdown signal).
//!
//! - **Acquire**: create the lease, or take it over when its holder is
//!   empty or it has not changed for its `leaseDurationSeconds`
//!   (`leaseTransitions` + 1, a new `acquireTime`).
//! - **Renew**: a leader that cannot renew within the renew deadline steps
//!   down.
//! - **Concurrency**: every write carries the resourceVersion read, so of
//!   two candidates racing for the same lease one gets `409 Conflict` and
//!   loses.
//! - **Release**: on shutdown the leader clears `holderIdentity` and sets
//!   `leaseDurationSeconds: 1` (client-go's `ReleaseOnCancel`), so another
//!   candidate takes over at its next retry instead of after expiry.
//!
//! Like client-go, expiry is judged by when *this* candidate last saw the
//! lease record change (on the local monotonic clock, `tokio::time`), not
//! by the `renewTime` written in it: clocks of different machines need not
//! agree. `renewTime` and `acquireTime` are written as wall-clock times for
//! people and `kubectl`.
//!
//! ```
//! # tokio_test::block_on(async {
//! use keelson::apiserver::ApiServer;
//! use keelson::client::LocalClient;
//! use keelson::controllers::leader::{LeaderElector, Outcome};
//!
//! let server = ApiServer::in_memory().await.unwrap();
//! let client = LocalClient::new(&server);
//! let elector = LeaderElector::new(&client, "kube-system", "my-controller", "replica-1");
//!
//! let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
//! let (started_tx, started_rx) = tokio::sync::oneshot::channel();
//! let run = tokio::spawn({
//!     let elector = elector.clone();
//!     async move {
//!         elector
//!             .run(async { let _ = stop_rx.await; }, |leading| async move {
//!                 let _ = started_tx.send(());
//!                 leading.lost().await; // work until leadership ends
//!             })
//!             .await
//!     }
//! });
//! started_rx.await.unwrap();
//! assert!(elector.is_leader());
//! let _ = stop_tx.send(());
//! assert_eq!(run.await.unwrap(), Outcome::Shutdown);
//! assert!(!elector.is_leader());
//! # });
//! ```
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

use crate::api::coordination::{Lease, LeaseSpec};
use crate::api::{MicroTime, ObjectMeta, Str};
use crate::client::{Api, IntoClient};

/// Timings of a [`LeaderElector`], client-go's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// How long a lease is valid without renewal: a candidate takes over a
    /// lease whose record has not changed for this long (default 15 s).
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it steps down
    /// (default 10 s; less than `lease_duration`).
    pub renew_deadline: Duration,
    /// How often candidates try to acquire and the leader renews (default
    /// 2 s; acquisition attempts are jittered up to 1.2 times more).
    pub retry_period: Duration,
    /// Release the lease when leadership ends by shutdown (default true).
    pub release_on_cancel: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
            release_on_cancel: true,
        }
    }
}

impl Config {
    /// Set the lease duration.
    #[must_use]
    pub fn lease_duration(mut self, d: Duration) -> Self {
        self.lease_duration = d;
        self
    }

    /// Set the renew deadline.
    #[must_use]
    pub fn renew_deadline(mut self, d: Duration) -> Self {
        self.renew_deadline = d;
        self
    }

    /// Set the retry period.
    #[must_use]
    pub fn retry_period(mut self, d: Duration) -> Self {
        self.retry_period = d;
        self
    }

    /// Release (or keep) the lease on shutdown.
    #[must_use]
    pub fn release_on_cancel(mut self, release: bool) -> Self {
        self.release_on_cancel = release;
        self
    }

    /// Checks client-go's constraints: lease duration > renew deadline >
    /// 1.2 × retry period > 0.
    pub fn validate(&self) -> Result<(), Error> {
        if self.retry_period.is_zero() {
            return Err(Error::Config("the retry period must be greater than zero"));
        }
        if self.lease_duration <= self.renew_deadline {
            return Err(Error::Config(
                "the lease duration must be greater than the renew deadline",
            ));
        }
        if self.renew_deadline <= self.retry_period.mul_f64(JITTER) {
            return Err(Error::Config(
                "the renew deadline must be greater than 1.2 times the retry period",
            ));
        }
        Ok(())
    }
}

/// client-go's jitter factor for acquisition attempts.
const JITTER: f64 = 1.2;

/// What can go wrong in leader election.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The timings break a constraint of [`Config::validate`].
    #[error("invalid leader election config: {0}")]
    Config(&'static str),
}

/// Why [`LeaderElector::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The shutdown signal fired (while waiting or while leading).
    Shutdown,
    /// The lease could not be renewed within the renew deadline (or
    /// another candidate holds it now).
    Lost,
    /// The leading future finished on its own; leadership was given up.
    Finished,
}

/// Handed to the future that runs while leading: tells it when leadership
/// ends.
#[derive(Clone, Debug)]
pub struct Leading {
    rx: watch::Receiver<bool>,
}

impl Leading {
    /// True while this candidate still leads.
    pub fn is_leading(&self) -> bool {
        *self.rx.borrow()
    }

    /// Completes when leadership ends (lost, or shutdown). `'static`, so it
    /// can be handed to [`Controller::graceful_shutdown_on`](super::Controller::graceful_shutdown_on).
    pub fn lost(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.rx.clone();
        async move {
            // An error means the elector is gone: leadership has ended too.
            let _ = rx.wait_for(|leading| !*leading).await;
        }
    }
}

/// The lease record as this candidate last saw it, and when.
struct Observed {
    spec: LeaseSpec,
    at: Instant,
}

struct Shared {
    leading: AtomicBool,
    /// The holder this candidate last saw.
    holder: Mutex<Option<Str>>,
}

struct ResetOnDrop<'a>(&'a AtomicBool);

impl Drop for ResetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// One candidate for leadership of one lease; clones share the state (ask
/// a clone [`is_leader`](Self::is_leader) while another runs).
#[derive(Clone)]
pub struct LeaderElector {
    api: Api<Lease>,
    name: Str,
    identity: Str,
    config: Config,
    shared: Arc<Shared>,
}

impl fmt::Debug for LeaderElector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaderElector")
            .field("namespace", &self.api.namespace())
            .field("name", &self.name)
            .field("identity", &self.identity)
            .field("config", &self.config)
            .field("leading", &self.is_leader())
            .finish()
    }
}

impl LeaderElector {
    /// A candidate `identity` for the lease `namespace`/`name`, with the
    /// default timings.
    pub fn new(
        client: impl IntoClient,
        namespace: &str,
        name: impl Into<Str>,
        identity: impl Into<Str>,
    ) -> Self {
        LeaderElector {
            api: Api::namespaced(client, namespace),
            name: name.into(),
            identity: identity.into(),
            config: Config::default(),
            shared: Arc::new(Shared {
                leading: AtomicBool::new(false),
                holder: Mutex::new(None),
            }),
        }
    }

    /// Use these timings; refused when they break a constraint of
    /// [`Config::validate`].
    pub fn with_config(mut self, config: Config) -> Result<Self, Error> {
        config.validate()?;
        self.config = config;
        Ok(self)
    }

    /// The timings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// This candidate's identity.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// True while this candidate holds the lease.
    pub fn is_leader(&self) -> bool {
        self.shared.leading.load(Ordering::Acquire)
    }

    /// The holder this candidate last saw in the lease (itself when it
    /// leads; `None` before the first look or after a release).
    pub fn leader(&self) -> Option<Str> {
        self.lock_holder().clone()
    }

    fn lock_holder(&self) -> std::sync::MutexGuard<'_, Option<Str>> {
        self.shared.holder.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Campaigns until `shutdown` completes: acquires the lease, then runs
    /// `lead` while renewing it. Returns when leadership ends (or when
    /// `shutdown` fires first), after the leading future has finished:
    /// `lead` must return soon after [`Leading::lost`] completes.
    ///
    /// On [`Outcome::Shutdown`] and [`Outcome::Finished`] the lease is
    /// released (unless [`Config::release_on_cancel`] is off). To stand
    /// again after [`Outcome::Lost`], call `run` again.
    pub async fn run<F, Fut>(&self, shutdown: impl Future<Output = ()>, lead: F) -> Outcome
    where
        F: FnOnce(Leading) -> Fut,
        Fut: Future<Output = ()>,
    {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut observed = None;
        let span =
            tracing::info_span!("leader_election", lease = %self.name, identity = %self.identity);

        // Candidate: try every retry period (jittered) until acquired.
        tokio::select! {
            () = self.acquire(&mut observed).instrument(span.clone()) => {}
            () = &mut shutdown => return Outcome::Shutdown,
        }
        span.in_scope(|| tracing::info!("became leader"));
        let (tx, rx) = watch::channel(true);
        self.shared.leading.store(true, Ordering::Release);
        // Not leading any more however this future ends (even dropped).
        let _reset = ResetOnDrop(&self.shared.leading);

        let mut work = std::pin::pin!(lead(Leading { rx }));
        let outcome = tokio::select! {
            () = &mut work => Outcome::Finished,
            () = self.renew(&mut observed).instrument(span.clone()) => Outcome::Lost,
            () = &mut shutdown => Outcome::Shutdown,
        };
        self.shared.leading.store(false, Ordering::Release);
        let _ = tx.send(false);
        if outcome == Outcome::Lost {
            // Another candidate may take the lease once it has seen no
            // renewal for a lease duration; the work gets what is left of
            // that (at least one retry period) to stop, then is dropped.
            let c = &self.config;
            let grace = c
                .lease_duration
                .saturating_sub(c.renew_deadline + c.retry_period)
                .max(c.retry_period);
            if tokio::time::timeout(grace, &mut work).await.is_err() {
                span.in_scope(|| {
                    tracing::warn!(
                        ?grace,
                        "the leading work did not stop in time after leadership was lost; dropped"
                    )
                });
            }
        } else if outcome != Outcome::Finished {
            work.await;
        }
        match outcome {
            Outcome::Lost => span.in_scope(|| tracing::warn!("lost leadership")),
            _ if self.config.release_on_cancel => self.release().instrument(span.clone()).await,
            _ => {}
        }
        span.in_scope(|| tracing::info!(?outcome, "stopped leading"));
        outcome
    }

    /// Loops until the lease is ours.
    async fn acquire(&self, observed: &mut Option<Observed>) {
        loop {
            if self.try_acquire_or_renew(observed).await {
                return;
            }
            let jitter = self.config.retry_period.mul_f64(fastrand::f64() * JITTER);
            tokio::time::sleep(self.config.retry_period + jitter).await;
        }
    }

    /// Renews every retry period; returns when a renewal could not be
    /// made within the renew deadline.
    async fn renew(&self, observed: &mut Option<Observed>) {
        loop {
            tokio::time::sleep(self.config.retry_period).await;
            let deadline = Instant::now() + self.config.renew_deadline;
            let renewed = tokio::time::timeout_at(deadline, async {
                loop {
                    if self.try_acquire_or_renew(observed).await {
                        return;
                    }
                    tokio::time::sleep(self.config.retry_period).await;
                }
            })
            .await;
            if renewed.is_err() {
                return;
            }
        }
    }

    /// One attempt, as client-go's `tryAcquireOrRenew`: true when the
    /// lease is ours now.
    async fn try_acquire_or_renew(&self, observed: &mut Option<Observed>) -> bool {
        let now = Instant::now();
        let wall = MicroTime::now();
        let lease_seconds =
            i32::try_from(self.config.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX);
        let current = match self.api.get_opt(&self.name).await {
            Ok(l) => l,
            Err(e) => {
                tracing::debug!(error = %e, lease = %self.name, "reading the lease failed");
                return false;
            }
        };
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta::namespaced(self.api.namespace(), self.name.clone()),
                spec: LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(lease_seconds),
                    acquire_time: Some(wall),
                    renew_time: Some(wall),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                },
            };
            return match self.api.create(&lease).await {
                Ok(created) => {
                    self.observe(observed, created.spec, now);
                    true
                }
                Err(e) => {
                    tracing::debug!(error = %e, lease = %self.name, "creating the lease failed");
                    false
                }
            };
        };

        let record = lease.spec.clone();
        if observed.as_ref().is_none_or(|o| o.spec != record) {
            self.observe(observed, record.clone(), now);
        }
        let observed_at = observed.as_ref().map_or(now, |o| o.at);
        let holder = record.holder_identity.clone().unwrap_or_default();
        let held_by_me = holder == self.identity;
        let valid_for = Duration::from_secs(
            u64::try_from(record.lease_duration_seconds.unwrap_or(0)).unwrap_or(0),
        );
        if !holder.is_empty() && !held_by_me && observed_at + valid_for > now {
            return false;
        }

        let transitions = record.lease_transitions.unwrap_or(0);
        lease.spec = LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(lease_seconds),
            acquire_time: if held_by_me {
                record.acquire_time.or(Some(wall))
            } else {
                Some(wall)
            },
            renew_time: Some(wall),
            lease_transitions: Some(if held_by_me {
                transitions
            } else {
                transitions.saturating_add(1)
            }),
            ..record
        };
        // The resourceVersion read is the precondition: a conflict means
        // someone else wrote first.
        match self.api.update(&lease).await {
            Ok(updated) => {
                self.observe(observed, updated.spec, now);
                true
            }
            Err(e) => {
                tracing::debug!(error = %e, lease = %self.name, "updating the lease failed");
                false
            }
        }
    }

    fn observe(&self, observed: &mut Option<Observed>, spec: LeaseSpec, at: Instant) {
        *self.lock_holder() = spec.holder_identity.clone().filter(|h| !h.is_empty());
        *observed = Some(Observed { spec, at });
    }

    /// Gives the lease up if we still hold it: no holder, and a one-second
    /// duration so that candidates that do not understand an empty holder
    /// take over soon too.
    async fn release(&self) {
        let mut lease = match self.api.get_opt(&self.name).await {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, lease = %self.name, "reading the lease to release it failed");
                return;
            }
        };
        if lease.spec.holder_identity.as_deref() != Some(&*self.identity) {
            return;
        }
        let wall = MicroTime::now();
        lease.spec.holder_identity = None;
        lease.spec.lease_duration_seconds = Some(1);
        lease.spec.acquire_time = Some(wall);
        lease.spec.renew_time = Some(wall);
        match self.api.update(&lease).await {
            Ok(_) => *self.lock_holder() = None,
            Err(e) => tracing::warn!(error = %e, lease = %self.name, "releasing the lease failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid_and_bad_ones_are_refused() {
        assert!(Config::default().validate().is_ok());
        let c = Config::default().renew_deadline(Duration::from_secs(20));
        assert!(c.validate().is_err());
        let c = Config::default().retry_period(Duration::from_secs(9));
        assert!(c.validate().is_err());
        let c = Config::default().retry_period(Duration::ZERO);
        assert!(c.validate().is_err());
    }
}
