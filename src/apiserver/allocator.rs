//! Cluster IPs and node ports of Services, allocated in the store so that
//! several API servers on one etcd never hand out the same one: each
//! allocation is a key (`/registry/core/serviceips/10.96.0.12`,
//! `/registry/core/servicenodeports/30123`) created atomically, holding the
//! owner's `namespace/name`.
use std::net::Ipv4Addr;

use bytes::Bytes;

use crate::api::core::Service;
use crate::api::scheme::AnyObject;
use crate::api::validation::{FieldError, Path};
use crate::api::{ErrorList, Str};
use crate::store;

use super::error::{from_store, Error, Result};
use super::{ApiServer, Config};

const IP_PREFIX: &str = "/registry/core/serviceips/";
const PORT_PREFIX: &str = "/registry/core/servicenodeports/";

pub(crate) struct Allocator {
    base: u32,
    size: u32,
    cidr: String,
    ports: (u16, u16),
}

enum Claim {
    Ok,
    Taken,
}

impl Allocator {
    pub(crate) fn new(config: &Config) -> Self {
        let (base, prefix) = config.service_cidr;
        let prefix = prefix.clamp(1, 30);
        let mask = u32::MAX << (32 - prefix);
        let base = u32::from(base) & mask;
        Allocator {
            base,
            size: 1u32 << (32 - prefix),
            cidr: format!("{}/{prefix}", Ipv4Addr::from(base)),
            ports: config.node_port_range,
        }
    }

    /// The first usable IP (the `kubernetes` Service's).
    pub(crate) fn first_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.base + 1)
    }

    fn in_range(&self, ip: Ipv4Addr) -> bool {
        let v = u32::from(ip);
        v > self.base && v < self.base + self.size - 1
    }

    async fn claim(&self, api: &ApiServer, key: &str, owner: &str, dry_run: bool) -> Result<Claim> {
        let store = api.store();
        match store.get(key).await {
            Ok(kv) if kv.value == owner.as_bytes() => return Ok(Claim::Ok),
            Ok(_) => return Ok(Claim::Taken),
            Err(store::Error::NotFound { .. }) => {}
            Err(e) => return Err(from_store(e, "", "services", owner)),
        }
        if dry_run {
            return Ok(Claim::Ok);
        }
        match store.create(key, Bytes::from(owner.to_string())).await {
            Ok(_) => Ok(Claim::Ok),
            Err(store::Error::AlreadyExists { .. }) => Ok(Claim::Taken),
            Err(e) => Err(from_store(e, "", "services", owner)),
        }
    }

    async fn release(&self, api: &ApiServer, key: &str, owner: &str) {
        if let Ok(kv) = api.store().get(key).await {
            if kv.value == owner.as_bytes() {
                let _ = api.store().delete(key, Some(kv.mod_revision)).await;
            }
        }
    }

    /// Gives a Service its cluster IP and node ports (keeping those of
    /// `old` on an update), or refuses with `422 Invalid` naming the field.
    pub(crate) async fn allocate_service(
        &self,
        api: &ApiServer,
        obj: &mut dyn AnyObject,
        old: Option<&dyn AnyObject>,
        dry_run: bool,
    ) -> Result<()> {
        let old = old.and_then(|o| o.downcast_ref::<Service>()).cloned();
        let Some(svc) = obj.downcast_mut::<Service>() else {
            return Ok(());
        };
        let owner = format!("{}/{}", svc.metadata.namespace, svc.metadata.name);
        let name = svc.metadata.name.clone();
        let ty = svc.service_type().to_string();
        let mut errors = ErrorList::new();
        let spec_path = Path::root("spec");
        if ty != "ExternalName" && svc.spec.cluster_ip != "None" {
            if svc.spec.cluster_ip.is_empty() {
                if let Some(o) = old
                    .as_ref()
                    .filter(|o| !o.spec.cluster_ip.is_empty() && o.spec.cluster_ip != "None")
                {
                    svc.spec.cluster_ip = o.spec.cluster_ip.clone();
                } else {
                    match self.allocate_ip(api, &owner, dry_run).await? {
                        Some(ip) => svc.spec.cluster_ip = Str::from(ip.to_string()),
                        None => {
                            return Err(Error::internal(format!(
                                "failed to allocate a serviceIP: range {} is full",
                                self.cidr
                            )))
                        }
                    }
                }
            } else {
                let given = svc.spec.cluster_ip.clone();
                match given.parse::<Ipv4Addr>() {
                    Ok(ip) if !self.in_range(ip) => errors.push(FieldError::invalid(
                        &spec_path.child("clusterIPs").index(0),
                        &given,
                        format!(
                            "failed to allocate IP {given}: provided IP is not in the valid range. The range of valid IPs is {}",
                            self.cidr
                        ),
                    )),
                    Ok(ip) => {
                        if let Claim::Taken = self.claim(api, &format!("{IP_PREFIX}{ip}"), &owner, dry_run).await? {
                            errors.push(FieldError::invalid(
                                &spec_path.child("clusterIPs").index(0),
                                &given,
                                format!("failed to allocate IP {given}: provided IP is already allocated"),
                            ));
                        }
                    }
                    // Not IPv4: validation already reported it.
                    Err(_) => {}
                }
            }
            if svc.spec.cluster_ips.is_empty() && !svc.spec.cluster_ip.is_empty() {
                svc.spec.cluster_ips = vec![svc.spec.cluster_ip.clone()];
            }
            if svc.spec.ip_families.is_empty() {
                svc.spec.ip_families = vec![Str::from_static("IPv4")];
            }
            if svc.spec.ip_family_policy.is_none() {
                svc.spec.ip_family_policy = Some(Str::from_static("SingleStack"));
            }
        }
        let wants_ports = ty == "NodePort"
            || (ty == "LoadBalancer" && svc.spec.allocate_load_balancer_node_ports != Some(false));
        let mut keep: Vec<i32> = Vec::new();
        if wants_ports {
            let ports_path = spec_path.child("ports");
            for i in 0..svc.spec.ports.len() {
                let port = svc.spec.ports[i].node_port;
                if port == 0 {
                    // Keep the port this service port had before.
                    let previous = old.as_ref().and_then(|o| {
                        o.spec
                            .ports
                            .iter()
                            .find(|p| {
                                p.port == svc.spec.ports[i].port
                                    && p.protocol == svc.spec.ports[i].protocol
                            })
                            .map(|p| p.node_port)
                            .filter(|p| *p != 0)
                    });
                    let chosen = match previous {
                        Some(p) => Some(p),
                        None => self.allocate_port(api, &owner, dry_run, &keep).await?,
                    };
                    match chosen {
                        Some(p) => {
                            svc.spec.ports[i].node_port = p;
                            keep.push(p);
                        }
                        None => {
                            return Err(Error::internal(
                                "failed to allocate a nodePort: the range is full",
                            ))
                        }
                    }
                    continue;
                }
                let idx = ports_path.index(i);
                let path = idx.child("nodePort");
                if port < i32::from(self.ports.0) || port > i32::from(self.ports.1) {
                    errors.push(FieldError::invalid(
                        &path,
                        port,
                        format!(
                            "provided port is not in the valid range. The range of valid ports is {}-{}",
                            self.ports.0, self.ports.1
                        ),
                    ));
                    continue;
                }
                if keep.contains(&port) {
                    keep.push(port);
                    continue;
                }
                match self
                    .claim(api, &format!("{PORT_PREFIX}{port}"), &owner, dry_run)
                    .await?
                {
                    Claim::Ok => keep.push(port),
                    Claim::Taken => errors.push(FieldError::invalid(
                        &path,
                        port,
                        "provided port is already allocated",
                    )),
                }
            }
        } else if ty != "LoadBalancer" {
            for p in &mut svc.spec.ports {
                p.node_port = 0;
            }
        }
        if !errors.is_empty() {
            // Give back what this request claimed.
            if !dry_run {
                let had: Vec<i32> = old
                    .as_ref()
                    .map(|o| o.spec.ports.iter().map(|p| p.node_port).collect())
                    .unwrap_or_default();
                for p in keep.iter().filter(|p| !had.contains(p)) {
                    self.release(api, &format!("{PORT_PREFIX}{p}"), &owner)
                        .await;
                }
                if old.is_none() && !svc.spec.cluster_ip.is_empty() {
                    self.release(api, &format!("{IP_PREFIX}{}", svc.spec.cluster_ip), &owner)
                        .await;
                }
            }
            return Err(Error::invalid("", "Service", &name, &errors));
        }
        // Ports the update stopped using go back to the pool.
        if let (Some(o), false) = (old.as_ref(), dry_run) {
            for p in o.spec.ports.iter().map(|p| p.node_port).filter(|p| *p != 0) {
                if !keep.contains(&p) {
                    self.release(api, &format!("{PORT_PREFIX}{p}"), &owner)
                        .await;
                }
            }
        }
        Ok(())
    }

    async fn allocate_ip(
        &self,
        api: &ApiServer,
        owner: &str,
        dry_run: bool,
    ) -> Result<Option<Ipv4Addr>> {
        let usable = self.size.saturating_sub(2).max(1);
        let start = fastrand::u32(..usable);
        // Skip the first address: it belongs to the `kubernetes` Service.
        for i in 0..usable.min(4096) {
            let offset = 1 + (start + i) % usable;
            if offset == 1 {
                continue;
            }
            let ip = Ipv4Addr::from(self.base + offset);
            if let Claim::Ok = self
                .claim(api, &format!("{IP_PREFIX}{ip}"), owner, dry_run)
                .await?
            {
                return Ok(Some(ip));
            }
        }
        Ok(None)
    }

    async fn allocate_port(
        &self,
        api: &ApiServer,
        owner: &str,
        dry_run: bool,
        taken: &[i32],
    ) -> Result<Option<i32>> {
        let (first, last) = (i32::from(self.ports.0), i32::from(self.ports.1));
        let count = (last - first + 1).max(1);
        let start = fastrand::i32(0..count);
        for i in 0..count {
            let port = first + (start + i) % count;
            if taken.contains(&port) {
                continue;
            }
            if let Claim::Ok = self
                .claim(api, &format!("{PORT_PREFIX}{port}"), owner, dry_run)
                .await?
            {
                return Ok(Some(port));
            }
        }
        Ok(None)
    }

    /// Claims a specific IP for a Service (bootstrap of `kubernetes`).
    pub(crate) async fn reserve_ip(
        &self,
        api: &ApiServer,
        ip: Ipv4Addr,
        owner: &str,
    ) -> Result<bool> {
        Ok(matches!(
            self.claim(api, &format!("{IP_PREFIX}{ip}"), owner, false)
                .await?,
            Claim::Ok
        ))
    }

    /// Gives back a deleted Service's IP and ports.
    pub(crate) async fn release_service(&self, api: &ApiServer, obj: &dyn AnyObject) {
        let Some(svc) = obj.downcast_ref::<Service>() else {
            return;
        };
        let owner = format!("{}/{}", svc.metadata.namespace, svc.metadata.name);
        if !svc.spec.cluster_ip.is_empty() && svc.spec.cluster_ip != "None" {
            self.release(api, &format!("{IP_PREFIX}{}", svc.spec.cluster_ip), &owner)
                .await;
        }
        for p in svc.spec.ports.iter().filter(|p| p.node_port != 0) {
            self.release(api, &format!("{PORT_PREFIX}{}", p.node_port), &owner)
                .await;
        }
    }
}
