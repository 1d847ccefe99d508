//! What every cluster starts with: the `default`, `kube-system`,
//! `kube-public` and `kube-node-lease` namespaces, and the `kubernetes`
//! Service (the API's own cluster IP, the first of the service range).
use crate::api::core::{Namespace, Service, ServicePort, ServiceSpec};
use crate::api::{IntOrString, ObjectMeta, Str};

use super::error::Result;
use super::{ApiServer, Target, WriteOptions};

/// The namespaces created at start.
pub const NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

pub(crate) async fn run(server: &ApiServer) -> Result<()> {
    let opts = WriteOptions::default();
    let namespaces = Target::new("", "v1", "namespaces");
    for name in NAMESPACES {
        let ns = Namespace {
            metadata: ObjectMeta::named(*name),
            ..Namespace::default()
        };
        match server.create(&namespaces, Box::new(ns), &opts).await {
            Ok(_) => {}
            Err(e) if e.is_already_exists() => {}
            Err(e) => return Err(e),
        }
    }
    let ip = server.inner.allocator.first_ip();
    server
        .inner
        .allocator
        .reserve_ip(server, ip, "default/kubernetes")
        .await?;
    let mut meta = ObjectMeta::namespaced("default", "kubernetes");
    meta.labels.insert("component", "apiserver");
    meta.labels.insert("provider", "kubernetes");
    let svc = Service {
        metadata: meta,
        spec: ServiceSpec {
            cluster_ip: Str::from(ip.to_string()),
            ports: vec![ServicePort {
                name: Str::from_static("https"),
                port: 443,
                protocol: Str::from_static("TCP"),
                target_port: IntOrString::Int(6443),
                ..ServicePort::default()
            }],
            ..ServiceSpec::default()
        },
        ..Service::default()
    };
    let services = Target::new("", "v1", "services").namespace("default");
    match server.create(&services, Box::new(svc), &opts).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_already_exists() => Ok(()),
        Err(e) => Err(e),
    }
}
