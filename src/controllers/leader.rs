//! Leader election over a coordination.k8s.io/v1 `Lease`.
