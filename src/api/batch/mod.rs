//! `batch/v1`: run-to-completion workloads.
