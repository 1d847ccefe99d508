//! Controllers: the reconcile runtime, leader election, and the built-in
//! controllers (ReplicaSet, Deployment, Job, CronJob, DaemonSet, Namespace,
//! garbage collector).
//!
//! A controller is a loop that drives actual state towards desired state.
//! keelson's runtime feeds such loops: shared informers watch the primary
//! kind and the kinds it owns or watches, every change becomes a key on a
//! [`WorkQueue`](crate::informer::WorkQueue), and workers hand each key to
//! a [`Reconciler`] together with the object the cache holds for it.
//!
//! | piece | does |
//! |---|---|
//! | [`Reconciler`], [`reconciler_fn`], [`Action`] | the contract: reconcile a key, then wait for a change or requeue after a delay; errors retry with backoff |
//! | [`Controller`] | the builder and runner: primary kind, [`owns`](Controller::owns), [`watches`](Controller::watches), concurrency, graceful shutdown, tracing spans and metrics |
//! | [`leader`] | leader election over a `Lease`: one active instance among many |
//! | [`finalizer`] | run cleanup before an object is deleted |
//! | [`events`] | record core/v1 Events, aggregating repeats |
//! | [`replicaset`], [`deployment`], [`gc`] | the built-in controllers |
//! | [`job`] | Jobs: pods run to completion, counted exactly once (tracking finalizer), back-off, deadlines, Indexed, suspend, TTL |
//! | [`cronjob`], [`cron`] | CronJobs: Jobs on a cron schedule in a time zone, concurrency policies, history limits |
//! | [`daemonset`] | DaemonSets: a pod on every eligible node, rolling updates, ControllerRevisions |
//! | [`namespace`] | Namespace deletion: empties a terminating namespace, then finalizes it |
//! | [`clock`] | the wall clock time-driven controllers read, advanced by `tokio::time` |
//! | [`ControllerManager`] | the built-in controllers in one process, optionally behind leader election |

pub mod clock;
mod controller;
pub mod cron;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod events;
pub mod finalizer;
pub mod gc;
pub mod job;
pub mod leader;
pub mod manager;
pub mod namespace;
mod reconcile;
pub mod replicaset;

pub use self::controller::{Controller, ControllerMetrics};
pub use self::events::Recorder;
pub use self::gc::GarbageCollector;
pub use self::leader::LeaderElector;
pub use self::manager::ControllerManager;
pub use self::reconcile::{reconciler_fn, Action, ReconcileError, Reconciler, ReconcilerFn};
