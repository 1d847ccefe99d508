//! `core/v1`: the kinds of the core API group (`apiVersion: v1`).
mod common;

pub use self::common::*;
