//! The scheduler: table-driven plugin tests, property tests over random
//! clusters (pure decision core + cache), and end-to-end tests against the
//! in-memory API server.

mod integration;
mod plugins;
mod props;
mod support;
