//! [`Service`]: a stable virtual IP and DNS name in front of a set of pods
//! (`ClusterIP`, `NodePort`, `LoadBalancer`), an alias for an external name
//! (`ExternalName`), or just DNS records for each pod (headless,
//! `clusterIP: None`).
//!
//! Defaulting follows Kubernetes: `type: ClusterIP`, `sessionAffinity: None`,
//! each port's `protocol: TCP` and `targetPort` = `port`,
//! `internalTrafficPolicy: Cluster`, `externalTrafficPolicy: Cluster` for
//! node ports and load balancers.
//!
//! ```
//! use keelson::api::core::Service;
//! use keelson::api::{IntOrString, Resource};
//!
//! let mut svc: Service = serde_json::from_str(
//!     r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"kubia"},
//!         "spec":{"ports":[{"port":80,"targetPort":8080}],"selector":{"app":"kubia"}}}"#,
//! ).unwrap();
//! svc.apply_defaults();
//! assert_eq!(svc.spec.type_, "ClusterIP");
//! assert_eq!(svc.spec.ports[0].protocol, "TCP");
//! assert_eq!(svc.spec.ports[0].target_port, IntOrString::Int(8080));
//! assert!(svc.validate().is_empty());
//! ```
use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::net;
use crate::api::resource::object;
use crate::api::serde_util::{is_default, nullable};
use crate::api::validation::{
    self, is_dns1123_label, is_dns1123_subdomain, is_qualified_name, ErrorList, FieldError, Path,
};
use crate::api::{Condition, IntOrString, Str, StringMap};

/// `ClusterIP`: a virtual IP reachable inside the cluster (the default).
pub const TYPE_CLUSTER_IP: &str = "ClusterIP";
/// `NodePort`: a cluster IP plus a port on every node.
pub const TYPE_NODE_PORT: &str = "NodePort";
/// `LoadBalancer`: a node port plus an external load balancer.
pub const TYPE_LOAD_BALANCER: &str = "LoadBalancer";
/// `ExternalName`: a DNS CNAME to `spec.externalName`.
pub const TYPE_EXTERNAL_NAME: &str = "ExternalName";
/// The service types.
pub const SERVICE_TYPES: &[&str] = &[
    TYPE_CLUSTER_IP,
    TYPE_NODE_PORT,
    TYPE_LOAD_BALANCER,
    TYPE_EXTERNAL_NAME,
];

/// `clusterIP: None`: a headless service.
pub const CLUSTER_IP_NONE: &str = "None";

/// `sessionAffinity: None` (the default).
pub const AFFINITY_NONE: &str = "None";
/// `sessionAffinity: ClientIP`: a client keeps reaching the same pod.
pub const AFFINITY_CLIENT_IP: &str = "ClientIP";
/// The default `sessionAffinityConfig.clientIP.timeoutSeconds` (3 hours).
pub const DEFAULT_CLIENT_IP_TIMEOUT_SECONDS: i32 = 10800;
/// The largest `sessionAffinityConfig.clientIP.timeoutSeconds` (1 day).
pub const MAX_CLIENT_IP_TIMEOUT_SECONDS: i32 = 86400;

/// Traffic policy `Cluster`: route to endpoints on any node (the default).
pub const TRAFFIC_POLICY_CLUSTER: &str = "Cluster";
/// Traffic policy `Local`: route only to endpoints on the receiving node.
pub const TRAFFIC_POLICY_LOCAL: &str = "Local";

/// `ipFamilyPolicy` values.
pub const IP_FAMILY_POLICIES: &[&str] = &["SingleStack", "PreferDualStack", "RequireDualStack"];

/// `trafficDistribution: PreferClose`: prefer topologically close endpoints.
pub const TRAFFIC_DISTRIBUTION_PREFER_CLOSE: &str = "PreferClose";

/// The node agent's port, which load balancers may not expose.
pub const KUBELET_PORT: i32 = 10250;

/// The node port range API servers use unless configured otherwise
/// (`--service-node-port-range`).
pub const DEFAULT_NODE_PORT_RANGE: std::ops::RangeInclusive<i32> = 30000..=32767;

object! {
    /// A named abstraction of software service: a virtual IP and port(s)
    /// the proxy forwards to the pods its selector matches.
    pub struct Service {
        /// The desired behaviour.
        spec: ServiceSpec = "spec",
        /// The observed state (load balancer addresses).
        status: ServiceStatus = "status",
    }
    resource {
        group: "",
        version: "v1",
        kind: "Service",
        plural: "services",
        scope: Namespaced,
        short_names: ["svc"],
        categories: ["all"],
        name_rule: Dns1035Label,
        subresources: ["status", "proxy"],
    }

    fn apply_defaults(&mut self) {
        self.spec.apply_defaults();
    }

    fn validate_fields(&self) -> ErrorList {
        self.spec.validate(&Path::root("spec"))
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = self.validate();
        errors.extend(validation::validate_object_meta_update(&self.metadata, &old.metadata));
        let spec = Path::root("spec");
        let involves_external_name =
            self.spec.type_ == TYPE_EXTERNAL_NAME || old.spec.type_ == TYPE_EXTERNAL_NAME;
        if !involves_external_name && !old.spec.cluster_ip.is_empty() && self.spec.cluster_ip != old.spec.cluster_ip {
            errors.push(FieldError::invalid(&spec.child("clusterIP"), &self.spec.cluster_ip, "field is immutable"));
        }
        errors
    }
}

impl Service {
    /// True for a headless service (`clusterIP: None`).
    pub fn is_headless(&self) -> bool {
        self.spec.cluster_ip == CLUSTER_IP_NONE
    }

    /// The effective type (`ClusterIP` when unset).
    pub fn service_type(&self) -> &str {
        if self.spec.type_.is_empty() {
            TYPE_CLUSTER_IP
        } else {
            &self.spec.type_
        }
    }
}

/// The desired behaviour of a [`Service`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// The ports exposed.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ports: Vec<ServicePort>,
    /// Pods with these labels receive the traffic; empty means the
    /// endpoints are managed by someone else.
    #[serde(default, skip_serializing_if = "StringMap::is_empty")]
    pub selector: StringMap,
    /// The virtual IP, `None` for headless, empty to have one allocated.
    #[serde(rename = "clusterIP", default, skip_serializing_if = "str::is_empty")]
    pub cluster_ip: Str,
    /// The virtual IPs, one per family; the first equals `clusterIP`.
    #[serde(
        rename = "clusterIPs",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub cluster_ips: Vec<Str>,
    /// `ClusterIP`, `NodePort`, `LoadBalancer` or `ExternalName`.
    #[serde(rename = "type", default, skip_serializing_if = "str::is_empty")]
    pub type_: Str,
    /// Extra IPs the nodes accept traffic for.
    #[serde(
        rename = "externalIPs",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub external_ips: Vec<Str>,
    /// `None` or `ClientIP`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub session_affinity: Str,
    /// The requested load balancer IP (deprecated).
    #[serde(
        rename = "loadBalancerIP",
        default,
        skip_serializing_if = "str::is_empty"
    )]
    pub load_balancer_ip: Str,
    /// Client CIDRs the load balancer admits.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub load_balancer_source_ranges: Vec<Str>,
    /// The DNS name an `ExternalName` service aliases.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub external_name: Str,
    /// `Cluster` or `Local`, for traffic from outside the cluster.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub external_traffic_policy: Str,
    /// The health-check node port for `Local` load balancers.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub health_check_node_port: i32,
    /// Publish endpoints of pods that are not ready (for peer discovery).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub publish_not_ready_addresses: bool,
    /// Session affinity settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_affinity_config: Option<SessionAffinityConfig>,
    /// `IPv4` and/or `IPv6`, in order of preference.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ip_families: Vec<Str>,
    /// `SingleStack`, `PreferDualStack` or `RequireDualStack`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_family_policy: Option<Str>,
    /// Whether a `LoadBalancer` service gets node ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocate_load_balancer_node_ports: Option<bool>,
    /// The load balancer implementation to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_class: Option<Str>,
    /// `Cluster` or `Local`, for traffic from inside the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_traffic_policy: Option<Str>,
    /// How traffic is spread over endpoints (`PreferClose`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_distribution: Option<Str>,
}

/// One port of a [`Service`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    /// The port's name; required when there is more than one.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub name: Str,
    /// `TCP` (default), `UDP` or `SCTP`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub protocol: Str,
    /// The application protocol (`http`, `kubernetes.io/h2c`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<Str>,
    /// The port the service exposes.
    #[serde(default, deserialize_with = "nullable")]
    pub port: i32,
    /// The pods' port: a number or a container port name; defaults to `port`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub target_port: IntOrString,
    /// The port on every node (`NodePort` and `LoadBalancer`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub node_port: i32,
}

/// Session affinity settings of a [`Service`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionAffinityConfig {
    /// Settings of `ClientIP` affinity.
    #[serde(rename = "clientIP", default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<ClientIpConfig>,
}

/// Settings of `ClientIP` session affinity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientIpConfig {
    /// How long a client sticks to a pod (1–86400 s, default 10800).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
}

/// The observed state of a [`Service`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    /// The load balancer's addresses.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub load_balancer: LoadBalancerStatus,
    /// The service's conditions.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub conditions: Vec<Condition>,
}

/// The addresses of a load balancer (also used by Ingress).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerStatus {
    /// The ingress points.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ingress: Vec<LoadBalancerIngress>,
}

/// One ingress point of a load balancer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerIngress {
    /// An IP address.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub ip: Str,
    /// A DNS name.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub hostname: Str,
    /// `VIP` or `Proxy`: how the proxy treats traffic to `ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_mode: Option<Str>,
    /// The status of each port.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ports: Vec<PortStatus>,
}

/// The status of one load balancer port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortStatus {
    /// The port number.
    #[serde(default, deserialize_with = "nullable")]
    pub port: i32,
    /// The protocol.
    #[serde(default)]
    pub protocol: Str,
    /// A CamelCase error, when the port has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Str>,
}

impl ServiceSpec {
    fn effective_type(&self) -> &str {
        if self.type_.is_empty() {
            TYPE_CLUSTER_IP
        } else {
            &self.type_
        }
    }

    fn uses_node_ports(&self) -> bool {
        matches!(self.effective_type(), TYPE_NODE_PORT | TYPE_LOAD_BALANCER)
    }

    /// Kubernetes' defaults (`SetDefaults_Service`).
    pub fn apply_defaults(&mut self) {
        if self.type_.is_empty() {
            self.type_ = Str::from_static(TYPE_CLUSTER_IP);
        }
        if self.session_affinity.is_empty() {
            self.session_affinity = Str::from_static(AFFINITY_NONE);
        }
        if self.session_affinity == AFFINITY_NONE {
            self.session_affinity_config = None;
        } else if self.session_affinity == AFFINITY_CLIENT_IP {
            let config = self
                .session_affinity_config
                .get_or_insert_with(Default::default);
            let client_ip = config.client_ip.get_or_insert_with(Default::default);
            client_ip
                .timeout_seconds
                .get_or_insert(DEFAULT_CLIENT_IP_TIMEOUT_SECONDS);
        }
        for port in &mut self.ports {
            if port.protocol.is_empty() {
                port.protocol = Str::from_static(net::PROTOCOL_TCP);
            }
            let unset = match &port.target_port {
                IntOrString::Int(0) => true,
                IntOrString::String(s) => s.is_empty(),
                IntOrString::Int(_) => false,
            };
            if unset {
                port.target_port = IntOrString::Int(port.port);
            }
        }
        if self.uses_node_ports() && self.external_traffic_policy.is_empty() {
            self.external_traffic_policy = Str::from_static(TRAFFIC_POLICY_CLUSTER);
        }
        if self.type_ != TYPE_EXTERNAL_NAME && self.internal_traffic_policy.is_none() {
            self.internal_traffic_policy = Some(Str::from_static(TRAFFIC_POLICY_CLUSTER));
        }
        if self.type_ == TYPE_LOAD_BALANCER && self.allocate_load_balancer_node_ports.is_none() {
            self.allocate_load_balancer_node_ports = Some(true);
        }
        if !self.cluster_ip.is_empty() && self.cluster_ips.is_empty() {
            self.cluster_ips.push(self.cluster_ip.clone());
        }
    }

    /// Validates the spec at `path` (`ValidateService`).
    pub fn validate(&self, path: &Path<'_>) -> ErrorList {
        let mut errors = ErrorList::new();
        let ty = self.effective_type();
        if !SERVICE_TYPES.contains(&ty) {
            errors.push(FieldError::not_supported(
                &path.child("type"),
                &self.type_,
                SERVICE_TYPES,
            ));
        }
        let headless = self.cluster_ip == CLUSTER_IP_NONE;
        if self.ports.is_empty() && !headless && ty != TYPE_EXTERNAL_NAME {
            errors.push(FieldError::required(&path.child("ports"), ""));
        }
        self.validate_ports(path, ty, &mut errors);
        self.validate_cluster_ips(path, ty, &mut errors);

        if ty == TYPE_EXTERNAL_NAME {
            let p = path.child("externalName");
            if self.external_name.is_empty() {
                errors.push(FieldError::required(&p, ""));
            } else {
                let name = self
                    .external_name
                    .strip_suffix('.')
                    .unwrap_or(&self.external_name);
                for msg in is_dns1123_subdomain(name) {
                    errors.push(FieldError::invalid(&p, &self.external_name, msg));
                }
            }
        }

        let affinity = path.child("sessionAffinity");
        if !self.session_affinity.is_empty()
            && !matches!(&*self.session_affinity, AFFINITY_NONE | AFFINITY_CLIENT_IP)
        {
            errors.push(FieldError::not_supported(
                &affinity,
                &self.session_affinity,
                &[AFFINITY_CLIENT_IP, AFFINITY_NONE],
            ));
        }
        let config = path.child("sessionAffinityConfig");
        if let Some(cfg) = &self.session_affinity_config {
            if self.session_affinity == AFFINITY_CLIENT_IP {
                let timeout = cfg.client_ip.as_ref().and_then(|c| c.timeout_seconds);
                let client_ip = config.child("clientIP");
                let t = client_ip.child("timeoutSeconds");
                match timeout {
                    Some(secs) if !(1..=MAX_CLIENT_IP_TIMEOUT_SECONDS).contains(&secs) => {
                        errors.push(FieldError::invalid(
                            &t,
                            secs,
                            format!("must be greater than 0 and less than {MAX_CLIENT_IP_TIMEOUT_SECONDS}"),
                        ));
                    }
                    Some(_) => {}
                    None => errors.push(FieldError::required(&t, "")),
                }
            } else {
                errors.push(FieldError::forbidden(
                    &config,
                    format!(
                        "must not be set when session affinity is {:?}",
                        self.session_affinity
                    ),
                ));
            }
        }

        let external_ips = path.child("externalIPs");
        for (i, ip) in self.external_ips.iter().enumerate() {
            let p = external_ips.index(i);
            for msg in net::is_valid_ip(ip) {
                errors.push(FieldError::invalid(&p, ip, msg));
            }
        }

        let is_lb = ty == TYPE_LOAD_BALANCER;
        let lb_only = "may only be used when `type` is 'LoadBalancer'";
        if !self.load_balancer_source_ranges.is_empty() {
            let ranges = path.child("loadBalancerSourceRanges");
            if !is_lb {
                errors.push(FieldError::forbidden(&ranges, lb_only));
            }
            for (i, cidr) in self.load_balancer_source_ranges.iter().enumerate() {
                let p = ranges.index(i);
                for msg in net::is_valid_cidr(cidr.trim()) {
                    errors.push(FieldError::invalid(&p, cidr, msg));
                }
            }
        }
        if !self.load_balancer_ip.is_empty() {
            let p = path.child("loadBalancerIP");
            if !is_lb {
                errors.push(FieldError::forbidden(&p, lb_only));
            }
            for msg in net::is_valid_ip(&self.load_balancer_ip) {
                errors.push(FieldError::invalid(&p, &self.load_balancer_ip, msg));
            }
        }
        if let Some(class) = &self.load_balancer_class {
            let p = path.child("loadBalancerClass");
            if !is_lb {
                errors.push(FieldError::forbidden(&p, lb_only));
            }
            for msg in is_qualified_name(class) {
                errors.push(FieldError::invalid(&p, class, msg));
            }
        }
        if self.allocate_load_balancer_node_ports.is_some() && !is_lb {
            errors.push(FieldError::forbidden(
                &path.child("allocateLoadBalancerNodePorts"),
                lb_only,
            ));
        }

        let policies = [TRAFFIC_POLICY_CLUSTER, TRAFFIC_POLICY_LOCAL];
        let etp = path.child("externalTrafficPolicy");
        if !self.external_traffic_policy.is_empty() {
            if !self.uses_node_ports() && self.external_ips.is_empty() {
                errors.push(FieldError::invalid(
                    &etp,
                    &self.external_traffic_policy,
                    "may only be set for externally-accessible services",
                ));
            } else if !policies.contains(&&*self.external_traffic_policy) {
                errors.push(FieldError::not_supported(
                    &etp,
                    &self.external_traffic_policy,
                    &policies,
                ));
            }
        }
        if self.health_check_node_port != 0 {
            let p = path.child("healthCheckNodePort");
            if !is_lb || self.external_traffic_policy != TRAFFIC_POLICY_LOCAL {
                errors.push(FieldError::invalid(
                    &p,
                    self.health_check_node_port,
                    "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
                ));
            } else if let Some(e) = net::validate_port_num(self.health_check_node_port, &p) {
                errors.push(e);
            }
        }
        if let Some(itp) = &self.internal_traffic_policy {
            if !policies.contains(&&**itp) {
                errors.push(FieldError::not_supported(
                    &path.child("internalTrafficPolicy"),
                    itp,
                    &policies,
                ));
            }
        }
        if let Some(td) = &self.traffic_distribution {
            if td != TRAFFIC_DISTRIBUTION_PREFER_CLOSE {
                errors.push(FieldError::not_supported(
                    &path.child("trafficDistribution"),
                    td,
                    &[TRAFFIC_DISTRIBUTION_PREFER_CLOSE],
                ));
            }
        }

        if let Some(policy) = &self.ip_family_policy {
            if !IP_FAMILY_POLICIES.contains(&&**policy) {
                errors.push(FieldError::not_supported(
                    &path.child("ipFamilyPolicy"),
                    policy,
                    IP_FAMILY_POLICIES,
                ));
            }
        }
        let families = path.child("ipFamilies");
        if self.ip_families.len() > 2 {
            errors.push(FieldError::too_many(&families, self.ip_families.len(), 2));
        }
        for (i, family) in self.ip_families.iter().enumerate() {
            let p = families.index(i);
            if family != net::IPV4 && family != net::IPV6 {
                errors.push(FieldError::not_supported(
                    &p,
                    family,
                    &[net::IPV4, net::IPV6],
                ));
            } else if self.ip_families[..i].contains(family) {
                errors.push(FieldError::duplicate(&p, family));
            }
        }

        errors.extend(validation::validate_labels(
            &self.selector,
            &path.child("selector"),
        ));
        errors
    }

    fn validate_ports(&self, path: &Path<'_>, ty: &str, errors: &mut ErrorList) {
        let ports = path.child("ports");
        let require_name = self.ports.len() > 1;
        let mut names = HashSet::new();
        let mut node_ports = HashSet::new();
        let mut port_protocols = HashSet::new();
        for (i, port) in self.ports.iter().enumerate() {
            let p = ports.index(i);
            let name = p.child("name");
            if port.name.is_empty() {
                if require_name {
                    errors.push(FieldError::required(&name, ""));
                }
            } else {
                for msg in is_dns1123_label(&port.name) {
                    errors.push(FieldError::invalid(&name, &port.name, msg));
                }
                if !names.insert(&*port.name) {
                    errors.push(FieldError::duplicate(&name, &port.name));
                }
            }
            if let Some(e) = net::validate_port_num(port.port, &p.child("port")) {
                errors.push(e);
            }
            let protocol = if port.protocol.is_empty() {
                net::PROTOCOL_TCP
            } else {
                &port.protocol
            };
            if !port_protocols.insert((port.port, protocol)) {
                errors.push(FieldError::duplicate(
                    &p,
                    format!("{}/{protocol}", port.port),
                ));
            }
            if ty == TYPE_LOAD_BALANCER && port.port == KUBELET_PORT {
                errors.push(FieldError::invalid(
                    &p,
                    port.port,
                    format!(
                        "may not expose port {KUBELET_PORT} externally since it is used by kubelet"
                    ),
                ));
            }
            // An empty protocol is defaulted to TCP, so only bad values are errors.
            if !port.protocol.is_empty() && !net::SUPPORTED_PROTOCOLS.contains(&&*port.protocol) {
                errors.push(FieldError::not_supported(
                    &p.child("protocol"),
                    &port.protocol,
                    net::SUPPORTED_PROTOCOLS,
                ));
            }
            if let Some(app) = &port.app_protocol {
                for msg in is_qualified_name(app) {
                    errors.push(FieldError::invalid(&p.child("appProtocol"), app, msg));
                }
            }
            let target = p.child("targetPort");
            match &port.target_port {
                IntOrString::Int(0) => {}
                IntOrString::Int(n) => {
                    if let Some(e) = net::validate_port_num(*n, &target) {
                        errors.push(e);
                    }
                }
                IntOrString::String(s) if s.is_empty() => {}
                IntOrString::String(s) => {
                    for msg in net::is_valid_port_name(s) {
                        errors.push(FieldError::invalid(&target, s, msg));
                    }
                }
            }
            if port.node_port != 0 {
                let np = p.child("nodePort");
                if ty == TYPE_CLUSTER_IP || ty == TYPE_EXTERNAL_NAME {
                    errors.push(FieldError::forbidden(
                        &np,
                        format!("may not be used when `type` is '{ty}'"),
                    ));
                } else if !DEFAULT_NODE_PORT_RANGE.contains(&port.node_port) {
                    errors.push(FieldError::invalid(
                        &np,
                        port.node_port,
                        format!(
                            "provided port is not in the valid range. The range of valid ports is {}-{}",
                            DEFAULT_NODE_PORT_RANGE.start(),
                            DEFAULT_NODE_PORT_RANGE.end()
                        ),
                    ));
                } else {
                    let protocol = if port.protocol.is_empty() {
                        net::PROTOCOL_TCP
                    } else {
                        &port.protocol
                    };
                    if !node_ports.insert((port.node_port, protocol)) {
                        errors.push(FieldError::duplicate(&np, port.node_port));
                    }
                }
            }
        }
    }

    fn validate_cluster_ips(&self, path: &Path<'_>, ty: &str, errors: &mut ErrorList) {
        let cluster_ip = path.child("clusterIP");
        let cluster_ips = path.child("clusterIPs");
        if ty == TYPE_EXTERNAL_NAME {
            if !self.cluster_ip.is_empty() {
                errors.push(FieldError::forbidden(
                    &cluster_ip,
                    "must be empty for ExternalName services",
                ));
            }
            if !self.cluster_ips.is_empty() {
                errors.push(FieldError::forbidden(
                    &cluster_ips,
                    "must be empty for ExternalName services",
                ));
            }
            return;
        }
        if let Some(first) = self.cluster_ips.first() {
            if *first != self.cluster_ip && !self.cluster_ip.is_empty() {
                errors.push(FieldError::invalid(
                    &cluster_ips,
                    first,
                    "first value must match `clusterIP`",
                ));
            }
        }
        if self.cluster_ips.len() > 2 {
            errors.push(FieldError::too_many(
                &cluster_ips,
                self.cluster_ips.len(),
                2,
            ));
        }
        if !self.cluster_ip.is_empty() {
            self.validate_one_cluster_ip(&cluster_ip, &self.cluster_ip, ty, errors);
        } else if let Some(first) = self.cluster_ips.first() {
            self.validate_one_cluster_ip(&cluster_ips.index(0), first, ty, errors);
        }
        for (i, ip) in self.cluster_ips.iter().enumerate().skip(1) {
            let p = cluster_ips.index(i);
            if ip == CLUSTER_IP_NONE {
                errors.push(FieldError::invalid(
                    &p,
                    ip,
                    "`None` may only be the only value of `clusterIPs`",
                ));
            } else {
                self.validate_one_cluster_ip(&p, ip, ty, errors);
            }
        }
        if let [a, b] = self.cluster_ips.as_slice() {
            if net::ip_family(a).is_some() && net::ip_family(a) == net::ip_family(b) {
                errors.push(FieldError::invalid(
                    &cluster_ips.index(1),
                    b,
                    "may not have the same IP family as `clusterIPs[0]`",
                ));
            }
        }
    }

    fn validate_one_cluster_ip(&self, p: &Path<'_>, ip: &str, ty: &str, errors: &mut ErrorList) {
        if ip == CLUSTER_IP_NONE {
            if ty != TYPE_CLUSTER_IP {
                errors.push(FieldError::invalid(
                    p,
                    ip,
                    "may not be set to 'None' for LoadBalancer or NodePort services",
                ));
            }
            return;
        }
        for msg in net::is_valid_ip(ip) {
            errors.push(FieldError::invalid(p, ip, msg));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Resource;

    fn round_trip(json: &str) -> Service {
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        let svc: Service = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&svc).unwrap(), value);
        svc
    }

    // Seeds 07, 08, 09, 28 and 30, converted to JSON.
    const SEED_07: &str = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"kubia"},
        "spec":{"ports":[{"port":80,"targetPort":8080}],"selector":{"app":"kubia"}}}"#;
    const SEED_08: &str = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"kubia-nodeport"},
        "spec":{"type":"NodePort","ports":[{"port":80,"targetPort":8080,"nodePort":30123}],"selector":{"app":"kubia"}}}"#;
    const SEED_09: &str = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"kubia-loadbalancer"},
        "spec":{"type":"LoadBalancer","ports":[{"port":80,"targetPort":8080}],"selector":{"app":"kubia"}}}"#;
    const SEED_28: &str = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"kubia"},
        "spec":{"clusterIP":"None","selector":{"app":"kubia"},"ports":[{"name":"http","port":80}]}}"#;
    const SEED_30: &str = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"kubia-public"},
        "spec":{"selector":{"app":"kubia"},"ports":[{"port":80,"targetPort":8080}]}}"#;

    #[test]
    fn seeds_round_trip_default_and_validate() {
        for seed in [SEED_07, SEED_08, SEED_09, SEED_28, SEED_30] {
            let mut svc = round_trip(seed);
            svc.apply_defaults();
            assert!(svc.validate().is_empty(), "{seed}: {}", svc.validate());
            // Defaulting is idempotent.
            let again = {
                let mut s = svc.clone();
                s.apply_defaults();
                s
            };
            assert_eq!(again, svc);
        }
    }

    #[test]
    fn field_rich_round_trip() {
        let json = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"shop","uid":"u-1","resourceVersion":"42","creationTimestamp":"2024-05-01T10:00:00Z","labels":{"app":"web"}},
          "spec":{"ports":[{"name":"https","protocol":"TCP","appProtocol":"https","port":443,"targetPort":"https","nodePort":31443},
                           {"name":"dns","protocol":"UDP","port":53,"targetPort":5353,"nodePort":31053}],
                  "selector":{"app":"web","tier":"front"},"clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10","fd00::a"],
                  "type":"LoadBalancer","externalIPs":["203.0.113.7"],"sessionAffinity":"ClientIP",
                  "loadBalancerIP":"198.51.100.1","loadBalancerSourceRanges":["10.0.0.0/8"],
                  "externalTrafficPolicy":"Local","healthCheckNodePort":32000,"publishNotReadyAddresses":true,
                  "sessionAffinityConfig":{"clientIP":{"timeoutSeconds":600}},"ipFamilies":["IPv4","IPv6"],
                  "ipFamilyPolicy":"PreferDualStack","allocateLoadBalancerNodePorts":false,
                  "loadBalancerClass":"example.com/lb","internalTrafficPolicy":"Local","trafficDistribution":"PreferClose"},
          "status":{"loadBalancer":{"ingress":[{"ip":"198.51.100.1","ipMode":"VIP","ports":[{"port":443,"protocol":"TCP"},{"port":53,"protocol":"UDP","error":"PortUnavailable"}]},{"hostname":"lb.example.com"}]},
                    "conditions":[{"type":"LoadBalancerReady","status":"True","observedGeneration":3,"lastTransitionTime":"2024-05-01T10:01:00Z","reason":"Provisioned","message":"ok"}]}}"#;
        let mut svc = round_trip(json);
        assert_eq!(svc.spec.ports[0].target_port, IntOrString::from("https"));
        assert!(svc.validate().is_empty(), "{}", svc.validate());
        let before = svc.clone();
        svc.apply_defaults();
        assert_eq!(svc, before, "a fully specified service needs no defaults");
        assert_eq!(Service::SHORT_NAMES, ["svc"]);
        assert_eq!(Service::CATEGORIES, ["all"]);
    }

    #[test]
    fn defaults() {
        let mut svc = round_trip(SEED_28);
        svc.apply_defaults();
        let spec = &svc.spec;
        assert_eq!(spec.type_, TYPE_CLUSTER_IP);
        assert_eq!(spec.session_affinity, AFFINITY_NONE);
        assert_eq!(spec.ports[0].protocol, "TCP");
        assert_eq!(spec.ports[0].target_port, IntOrString::Int(80));
        assert_eq!(spec.internal_traffic_policy.as_deref(), Some("Cluster"));
        assert_eq!(spec.external_traffic_policy, "");
        assert_eq!(spec.cluster_ips, vec![Str::from("None")]);

        let mut lb = round_trip(SEED_09);
        lb.spec.session_affinity = "ClientIP".into();
        lb.apply_defaults();
        assert_eq!(lb.spec.external_traffic_policy, TRAFFIC_POLICY_CLUSTER);
        assert_eq!(lb.spec.allocate_load_balancer_node_ports, Some(true));
        let timeout = lb
            .spec
            .session_affinity_config
            .as_ref()
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds);
        assert_eq!(timeout, Some(DEFAULT_CLIENT_IP_TIMEOUT_SECONDS));

        let mut ext = Service::default();
        ext.spec.type_ = TYPE_EXTERNAL_NAME.into();
        ext.apply_defaults();
        assert_eq!(ext.spec.internal_traffic_policy, None);
    }

    #[test]
    fn validation_table() {
        type Edit = fn(&mut Service);
        let cases: &[(&str, Edit, &str)] = &[
            (
                "no ports",
                |s| s.spec.ports.clear(),
                "spec.ports: Required value",
            ),
            (
                "port 0",
                |s| s.spec.ports[0].port = 0,
                "spec.ports[0].port: Invalid value: 0",
            ),
            (
                "port too big",
                |s| s.spec.ports[0].port = 70000,
                "spec.ports[0].port: Invalid value: 70000",
            ),
            (
                "unnamed second port",
                |s| {
                    s.spec.ports.push(ServicePort {
                        name: "b".into(),
                        port: 81,
                        ..Default::default()
                    });
                },
                "spec.ports[0].name: Required value",
            ),
            (
                "duplicate names",
                |s| {
                    s.spec.ports[0].name = "a".into();
                    s.spec.ports.push(ServicePort {
                        name: "a".into(),
                        port: 81,
                        ..Default::default()
                    });
                },
                "spec.ports[1].name: Duplicate value: \"a\"",
            ),
            (
                "duplicate port",
                |s| {
                    s.spec.ports[0].name = "a".into();
                    s.spec.ports.push(ServicePort {
                        name: "b".into(),
                        port: 80,
                        protocol: "TCP".into(),
                        ..Default::default()
                    });
                },
                "spec.ports[1]: Duplicate value: \"80/TCP\"",
            ),
            (
                "kubelet port",
                |s| {
                    s.spec.type_ = TYPE_LOAD_BALANCER.into();
                    s.spec.ports[0].port = KUBELET_PORT;
                },
                "spec.ports[0]: Invalid value: 10250: may not expose port 10250",
            ),
            (
                "bad protocol",
                |s| s.spec.ports[0].protocol = "HTTP".into(),
                "spec.ports[0].protocol: Unsupported value: \"HTTP\"",
            ),
            (
                "bad target name",
                |s| s.spec.ports[0].target_port = "Web_Port".into(),
                "spec.ports[0].targetPort: Invalid value: \"Web_Port\"",
            ),
            (
                "node port on ClusterIP",
                |s| s.spec.ports[0].node_port = 30001,
                "spec.ports[0].nodePort: Forbidden",
            ),
            (
                "node port out of range",
                |s| {
                    s.spec.type_ = TYPE_NODE_PORT.into();
                    s.spec.ports[0].node_port = 80;
                },
                "spec.ports[0].nodePort: Invalid value: 80",
            ),
            (
                "bad type",
                |s| s.spec.type_ = "Magic".into(),
                "spec.type: Unsupported value: \"Magic\"",
            ),
            (
                "external name missing",
                |s| s.spec.type_ = TYPE_EXTERNAL_NAME.into(),
                "spec.externalName: Required value",
            ),
            (
                "external name invalid",
                |s| {
                    s.spec.type_ = TYPE_EXTERNAL_NAME.into();
                    s.spec.external_name = "Not_A_Host".into();
                },
                "spec.externalName: Invalid value: \"Not_A_Host\"",
            ),
            (
                "cluster ip on external name",
                |s| {
                    s.spec.type_ = TYPE_EXTERNAL_NAME.into();
                    s.spec.external_name = "db.example.com.".into();
                    s.spec.cluster_ip = "10.0.0.1".into();
                },
                "spec.clusterIP: Forbidden",
            ),
            (
                "bad affinity",
                |s| s.spec.session_affinity = "Cookie".into(),
                "spec.sessionAffinity: Unsupported value: \"Cookie\"",
            ),
            (
                "affinity timeout",
                |s| {
                    s.spec.session_affinity = AFFINITY_CLIENT_IP.into();
                    s.spec.session_affinity_config = Some(SessionAffinityConfig {
                        client_ip: Some(ClientIpConfig {
                            timeout_seconds: Some(0),
                        }),
                    });
                },
                "spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0",
            ),
            (
                "bad cluster ip",
                |s| s.spec.cluster_ip = "10.0.0.300".into(),
                "spec.clusterIP: Invalid value: \"10.0.0.300\"",
            ),
            (
                "headless node port",
                |s| {
                    s.spec.type_ = TYPE_NODE_PORT.into();
                    s.spec.cluster_ip = "None".into();
                },
                "spec.clusterIP: Invalid value: \"None\": may not be set to 'None'",
            ),
            (
                "mismatched cluster ips",
                |s| {
                    s.spec.cluster_ip = "10.0.0.1".into();
                    s.spec.cluster_ips = vec!["10.0.0.2".into()];
                },
                "spec.clusterIPs: Invalid value: \"10.0.0.2\"",
            ),
            (
                "source ranges without LB",
                |s| s.spec.load_balancer_source_ranges = vec!["10.0.0.0/8".into()],
                "spec.loadBalancerSourceRanges: Forbidden",
            ),
            (
                "bad external ip",
                |s| s.spec.external_ips = vec!["nope".into()],
                "spec.externalIPs[0]: Invalid value: \"nope\"",
            ),
            (
                "etp on ClusterIP",
                |s| s.spec.external_traffic_policy = "Local".into(),
                "spec.externalTrafficPolicy: Invalid value",
            ),
            (
                "bad itp",
                |s| s.spec.internal_traffic_policy = Some("Near".into()),
                "spec.internalTrafficPolicy: Unsupported value",
            ),
            (
                "bad family",
                |s| s.spec.ip_families = vec!["IPv5".into()],
                "spec.ipFamilies[0]: Unsupported value",
            ),
            (
                "bad selector",
                |s| {
                    s.spec.selector.insert("app", "a b");
                },
                "spec.selector[app]: Invalid value",
            ),
            (
                "bad name",
                |s| s.metadata.name = "1kubia".into(),
                "metadata.name: Invalid value: \"1kubia\"",
            ),
        ];
        for (what, edit, want) in cases {
            let mut svc = round_trip(SEED_07);
            edit(&mut svc);
            let errors = svc.validate().to_string();
            assert!(
                errors.starts_with(want),
                "{what}: got {errors:?}, want {want:?}"
            );
        }
    }

    #[test]
    fn headless_and_external_name_need_no_ports() {
        let mut headless = round_trip(SEED_28);
        headless.spec.ports.clear();
        assert!(headless.validate().is_empty());
        let mut ext = Service::default();
        ext.metadata.name = "db".into();
        ext.spec.type_ = TYPE_EXTERNAL_NAME.into();
        ext.spec.external_name = "db.example.com".into();
        ext.apply_defaults();
        assert!(ext.validate().is_empty(), "{}", ext.validate());
    }

    #[test]
    fn cluster_ip_is_immutable() {
        let mut old = round_trip(SEED_07);
        old.spec.cluster_ip = "10.96.0.5".into();
        old.apply_defaults();
        let mut new = old.clone();
        assert!(new.validate_update(&old).is_empty());
        new.spec.cluster_ip = "10.96.0.6".into();
        new.spec.cluster_ips = vec!["10.96.0.6".into()];
        assert_eq!(
            new.validate_update(&old).to_string(),
            "spec.clusterIP: Invalid value: \"10.96.0.6\": field is immutable"
        );
        // Switching to ExternalName releases the IP.
        new.spec.type_ = TYPE_EXTERNAL_NAME.into();
        new.spec.external_name = "x.example.com".into();
        new.spec.cluster_ip = "".into();
        new.spec.cluster_ips.clear();
        assert!(
            new.validate_update(&old).is_empty(),
            "{}",
            new.validate_update(&old)
        );
    }

    #[test]
    fn unknown_fields_are_reported() {
        let json = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"a"},
            "spec":{"ports":[{"port":80,"targetport":8080}],"selectr":{"app":"a"},"sessionAffinityConfig":{"clientIP":{"timeout":1}}},
            "status":{"loadBalancer":{"ingress":[{"ip":"1.2.3.4","ipmode":"VIP"}]}}}"#;
        let mut unknown = Vec::new();
        let mut de = serde_json::Deserializer::from_str(json);
        let _svc: Service = serde_ignored::deserialize(&mut de, |p| {
            unknown.push(crate::api::serde_util::field_path(&p))
        })
        .unwrap();
        assert_eq!(
            unknown,
            [
                "spec.ports[0].targetport",
                "spec.selectr",
                "spec.sessionAffinityConfig.clientIP.timeout",
                "status.loadBalancer.ingress[0].ipmode"
            ]
        );
    }
}
