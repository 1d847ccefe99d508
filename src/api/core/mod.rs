//! `core/v1`: the kinds of the core API group (`apiVersion: v1`).
mod affinity;
mod common;
mod container;
mod container_validation;
mod pod;
mod pod_defaults;
mod pod_status;
mod pod_validation;
mod qos;
mod security;
mod volume;
mod volume_validation;

pub use self::affinity::*;
pub use self::common::*;
pub use self::container::*;
pub use self::container_validation::{is_config_map_key, is_env_var_name, is_valid_port_name};
pub use self::pod::*;
pub use self::pod_defaults::{
    default_container, default_pod, default_probe, default_pull_policy, default_volume,
};
pub use self::pod_status::*;
pub use self::qos::*;
pub use self::security::*;
pub use self::volume::*;
