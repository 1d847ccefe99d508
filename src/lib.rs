//! keelson: composable control-plane components, the parts Kubernetes is made of.
#![warn(missing_docs)]

pub mod store;
