//! Controllers: the reconcile runtime, leader election, finalizers and
//! events, the garbage collector, and the ReplicaSet and Deployment
//! controllers, all against the in-memory API server.

mod cronjob;
mod daemonset;
mod finalizer_events;
mod gc;
mod job;
mod leader;
mod manager;
mod namespace;
mod runtime;
mod workloads;
