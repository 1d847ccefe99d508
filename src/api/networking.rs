//! `networking.k8s.io/v1`: [`Ingress`], [`IngressClass`] and
//! [`NetworkPolicy`].
//!
//! An [`Ingress`] routes HTTP(S) traffic by host and path to Services (or to
//! another resource); an [`IngressClass`] names the controller that
//! implements a class of ingresses. A [`NetworkPolicy`] restricts which pods
//! and addresses the selected pods may talk to.
//!
//! Defaulting follows Kubernetes: a NetworkPolicy's `policyTypes` becomes
//! `[Ingress]`, plus `Egress` when it has egress rules, and its ports default
//! to protocol `TCP`. An Ingress path's `pathType` has no default: it is
//! required.
//!
//! The older `networking.k8s.io/v1beta1` Ingress (`serviceName` and
//! `servicePort` backends) is not a type here; [`ingress_from_v1beta1`]
//! converts its JSON to the v1 shape.
//!
//! ```
//! use keelson::api::networking::NetworkPolicy;
//! use keelson::api::Resource;
//!
//! let mut policy: NetworkPolicy = serde_json::from_str(r#"{
//!     "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
//!     "metadata": {"name": "db", "namespace": "default"},
//!     "spec": {
//!         "podSelector": {"matchLabels": {"app": "database"}},
//!         "ingress": [{"ports": [{"port": 5432}]}],
//!         "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}]}]
//!     }
//! }"#).unwrap();
//! policy.apply_defaults();
//! assert_eq!(policy.spec.policy_types, ["Ingress", "Egress"]);
//! assert_eq!(policy.spec.ingress[0].ports[0].protocol.as_deref(), Some("TCP"));
//! assert!(policy.validate().is_empty());
//! ```
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::core::TypedLocalObjectReference;
use super::intstr::IntOrString;
use super::resource::object;
use super::selector::validate_label_selector;
use super::serde_util::{is_default, nullable};
use super::validation::{
    is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, ErrorList, FieldError, Path,
};
use super::{LabelSelector, Str};

/// For [`HttpIngressPath::path_type`]: the path matches exactly.
pub const PATH_TYPE_EXACT: &str = "Exact";
/// For [`HttpIngressPath::path_type`]: the path matches by `/`-separated prefix.
pub const PATH_TYPE_PREFIX: &str = "Prefix";
/// For [`HttpIngressPath::path_type`]: matching is up to the ingress class.
pub const PATH_TYPE_IMPLEMENTATION_SPECIFIC: &str = "ImplementationSpecific";
/// A policy type: rules about incoming traffic.
pub const POLICY_TYPE_INGRESS: &str = "Ingress";
/// A policy type: rules about outgoing traffic.
pub const POLICY_TYPE_EGRESS: &str = "Egress";

const PROTOCOLS: &[&str] = &["TCP", "UDP", "SCTP"];

object! {
    /// Routes external HTTP(S) traffic to services by host and path.
    pub struct Ingress {
        /// The desired routing.
        spec: IngressSpec = "spec",
        /// The load balancer's current state.
        status: IngressStatus = "status",
    }
    resource {
        group: "networking.k8s.io",
        version: "v1",
        kind: "Ingress",
        plural: "ingresses",
        scope: Namespaced,
        short_names: ["ing"],
        subresources: ["status"],
    }

    fn validate_fields(&self) -> ErrorList {
        validate_ingress_spec(&self.spec, &Path::root("spec"))
    }
}

object! {
    /// A class of ingresses and the controller that implements it.
    pub struct IngressClass {
        /// The controller and its parameters.
        spec: IngressClassSpec = "spec",
    }
    resource {
        group: "networking.k8s.io",
        version: "v1",
        kind: "IngressClass",
        plural: "ingressclasses",
        scope: Cluster,
    }

    fn apply_defaults(&mut self) {
        if let Some(parameters) = &mut self.spec.parameters {
            if parameters.scope.is_none() {
                parameters.scope = Some(PARAMETERS_SCOPE_CLUSTER.into());
            }
        }
    }

    fn validate_fields(&self) -> ErrorList {
        validate_ingress_class_spec(&self.spec, &Path::root("spec"))
    }
}

object! {
    /// Which traffic the selected pods may receive and send.
    pub struct NetworkPolicy {
        /// The policy.
        spec: NetworkPolicySpec = "spec",
    }
    resource {
        group: "networking.k8s.io",
        version: "v1",
        kind: "NetworkPolicy",
        plural: "networkpolicies",
        scope: Namespaced,
        short_names: ["netpol"],
    }

    fn apply_defaults(&mut self) {
        let spec = &mut self.spec;
        if spec.policy_types.is_empty() {
            spec.policy_types.push(POLICY_TYPE_INGRESS.into());
            if !spec.egress.is_empty() {
                spec.policy_types.push(POLICY_TYPE_EGRESS.into());
            }
        }
        let ports = spec
            .ingress
            .iter_mut()
            .flat_map(|rule| rule.ports.iter_mut())
            .chain(spec.egress.iter_mut().flat_map(|rule| rule.ports.iter_mut()));
        for port in ports {
            if port.protocol.is_none() {
                port.protocol = Some("TCP".into());
            }
        }
    }

    fn validate_fields(&self) -> ErrorList {
        validate_network_policy_spec(&self.spec, &Path::root("spec"))
    }
}

/// The desired routing of an [`Ingress`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressSpec {
    /// The [`IngressClass`] handling this ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_class_name: Option<Str>,
    /// Where requests no rule matches go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_backend: Option<IngressBackend>,
    /// TLS termination per host set.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tls: Vec<IngressTls>,
    /// Host and path rules.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub rules: Vec<IngressRule>,
}

/// TLS for a set of hosts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressTls {
    /// The hosts the certificate covers.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub hosts: Vec<Str>,
    /// The Secret holding the certificate and key.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub secret_name: Str,
}

/// Routing for one host (or all hosts).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressRule {
    /// The host (`foo.bar.com`, `*.bar.com`); empty for all hosts.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub host: Str,
    /// HTTP path rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpIngressRuleValue>,
}

/// The paths of an HTTP rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpIngressRuleValue {
    /// Paths and their backends.
    #[serde(default, deserialize_with = "nullable")]
    pub paths: Vec<HttpIngressPath>,
}

/// A path and the backend it routes to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpIngressPath {
    /// The path, matched by `pathType`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub path: Str,
    /// `Exact`, `Prefix` or `ImplementationSpecific`; required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_type: Option<Str>,
    /// Where matching requests go.
    #[serde(default)]
    pub backend: IngressBackend,
}

/// Where requests go: a Service port or another resource (exactly one).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressBackend {
    /// A Service port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<IngressServiceBackend>,
    /// Another resource in the ingress's namespace (such as a storage bucket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<TypedLocalObjectReference>,
}

/// A Service and one of its ports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressServiceBackend {
    /// The Service's name.
    #[serde(default)]
    pub name: Str,
    /// The port, by number or name (exactly one).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub port: ServiceBackendPort,
}

/// A Service port by number or by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceBackendPort {
    /// The port name.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub name: Str,
    /// The port number.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub number: i32,
}

/// The observed state of an [`Ingress`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressStatus {
    /// The load balancer's addresses.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub load_balancer: IngressLoadBalancerStatus,
}

/// The addresses of an ingress's load balancer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressLoadBalancerStatus {
    /// One entry per address.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ingress: Vec<IngressLoadBalancerIngress>,
}

/// One load balancer address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressLoadBalancerIngress {
    /// An IP address.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub ip: Str,
    /// A DNS name.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub hostname: Str,
    /// The ports exposed at this address.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ports: Vec<IngressPortStatus>,
}

/// The state of one load balancer port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressPortStatus {
    /// The port number.
    #[serde(default)]
    pub port: i32,
    /// `TCP`, `UDP` or `SCTP`.
    #[serde(default)]
    pub protocol: Str,
    /// Why the port is not working, in CamelCase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Str>,
}

/// For [`IngressClassParametersReference::scope`]: cluster-scoped parameters.
pub const PARAMETERS_SCOPE_CLUSTER: &str = "Cluster";
/// For [`IngressClassParametersReference::scope`]: namespaced parameters.
pub const PARAMETERS_SCOPE_NAMESPACE: &str = "Namespace";

/// The controller of an [`IngressClass`] and its parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressClassSpec {
    /// The controller, as a domain-prefixed path (`k8s.io/ingress-nginx`).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub controller: Str,
    /// A resource holding the controller's configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<IngressClassParametersReference>,
}

/// A reference to an ingress class's parameters resource.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressClassParametersReference {
    /// The resource's API group; absent for the core group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_group: Option<Str>,
    /// The resource's kind.
    #[serde(default)]
    pub kind: Str,
    /// The resource's name.
    #[serde(default)]
    pub name: Str,
    /// `Cluster` (the default) or `Namespace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Str>,
    /// The resource's namespace, with scope `Namespace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<Str>,
}

/// The rules of a [`NetworkPolicy`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySpec {
    /// The pods the policy applies to; empty selects all pods of the namespace.
    #[serde(default, deserialize_with = "nullable")]
    pub pod_selector: LabelSelector,
    /// Allowed incoming traffic (with `Ingress` in `policyTypes`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ingress: Vec<NetworkPolicyIngressRule>,
    /// Allowed outgoing traffic (with `Egress` in `policyTypes`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub egress: Vec<NetworkPolicyEgressRule>,
    /// `Ingress` and/or `Egress`: which directions the policy restricts.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub policy_types: Vec<Str>,
}

/// Incoming traffic allowed on some ports from some peers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyIngressRule {
    /// The ports; empty means all ports.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ports: Vec<NetworkPolicyPort>,
    /// The sources; empty means all sources.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub from: Vec<NetworkPolicyPeer>,
}

/// Outgoing traffic allowed on some ports to some peers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyEgressRule {
    /// The ports; empty means all ports.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ports: Vec<NetworkPolicyPort>,
    /// The destinations; empty means all destinations.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub to: Vec<NetworkPolicyPeer>,
}

/// A port or port range.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyPort {
    /// `TCP` (the default), `UDP` or `SCTP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Str>,
    /// A port number or a named container port; absent means all ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<IntOrString>,
    /// The last port of a range starting at the numeric `port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_port: Option<i32>,
}

/// A traffic source or destination: pods, namespaces, or an IP block.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyPeer {
    /// Pods (in the policy's namespace, or in the namespaces selected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<LabelSelector>,
    /// Namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// An IP range; not combinable with the selectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_block: Option<IpBlock>,
}

/// A CIDR range minus some sub-ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpBlock {
    /// The range, as `10.0.0.0/8` or `2001:db8::/64`.
    #[serde(default)]
    pub cidr: Str,
    /// Sub-ranges of `cidr` excluded from it.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub except: Vec<Str>,
}

fn push_all(errors: &mut ErrorList, path: &Path<'_>, value: &str, messages: Vec<String>) {
    for message in messages {
        errors.push(FieldError::invalid(path, value, message));
    }
}

/// Problems with `port` as a port number.
fn port_number_errors(port: i32) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec!["must be between 1 and 65535, inclusive".to_string()]
    }
}

/// Problems with `name` as a port name (an IANA service name).
pub fn is_valid_port_name(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.len() > 15 {
        errs.push("must be no more than 15 characters".to_string());
    }
    if !name
        .bytes()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    {
        errs.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string(),
        );
    }
    if !name.bytes().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if name.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if name.starts_with('-') || name.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

fn validate_host(host: &str, path: &Path<'_>, errors: &mut ErrorList) {
    if host.parse::<IpAddr>().is_ok() {
        errors.push(FieldError::invalid(
            path,
            host,
            "must be a DNS name, not an IP address",
        ));
        return;
    }
    match host.strip_prefix("*.") {
        Some(rest) => push_all(
            errors,
            path,
            host,
            is_dns1123_subdomain(rest)
                .into_iter()
                .map(|_| {
                    "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid \
                     DNS subdomain, which must consist of lower case alphanumeric characters, \
                     '-' or '.' and end with an alphanumeric character (e.g. '*.example.com')"
                        .to_string()
                })
                .take(1)
                .collect(),
        ),
        None => push_all(errors, path, host, is_dns1123_subdomain(host)),
    }
}

fn validate_ingress_spec(spec: &IngressSpec, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    if spec.rules.is_empty() && spec.default_backend.is_none() {
        errors.push(FieldError::invalid(
            &path.child("rules"),
            &spec.rules,
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(backend) = &spec.default_backend {
        errors.extend(validate_ingress_backend(
            backend,
            &path.child("defaultBackend"),
        ));
    }
    let rules = path.child("rules");
    for (i, rule) in spec.rules.iter().enumerate() {
        let rule_path = rules.index(i);
        if !rule.host.is_empty() {
            validate_host(&rule.host, &rule_path.child("host"), &mut errors);
        }
        if let Some(http) = &rule.http {
            let http_path = rule_path.child("http");
            let paths = http_path.child("paths");
            if http.paths.is_empty() {
                errors.push(FieldError::required(&paths, ""));
            }
            for (j, p) in http.paths.iter().enumerate() {
                errors.extend(validate_http_path(p, &paths.index(j)));
            }
        }
    }
    let tls = path.child("tls");
    for (i, entry) in spec.tls.iter().enumerate() {
        let entry_path = tls.index(i);
        let hosts = entry_path.child("hosts");
        for (j, host) in entry.hosts.iter().enumerate() {
            validate_host(host, &hosts.index(j), &mut errors);
        }
        if !entry.secret_name.is_empty() {
            push_all(
                &mut errors,
                &entry_path.child("secretName"),
                &entry.secret_name,
                is_dns1123_subdomain(&entry.secret_name),
            );
        }
    }
    if let Some(class) = &spec.ingress_class_name {
        push_all(
            &mut errors,
            &path.child("ingressClassName"),
            class,
            is_dns1123_subdomain(class),
        );
    }
    errors
}

fn validate_http_path(p: &HttpIngressPath, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    let path_field = path.child("path");
    match p.path_type.as_deref() {
        None => errors.push(FieldError::required(
            &path.child("pathType"),
            "pathType must be specified",
        )),
        Some(PATH_TYPE_EXACT | PATH_TYPE_PREFIX) => {
            if !p.path.starts_with('/') {
                errors.push(FieldError::invalid(
                    &path_field,
                    &p.path,
                    "must be an absolute path",
                ));
            }
            for bad in ["//", "/./", "/../", "%2f", "%2F"] {
                if p.path.contains(bad) {
                    errors.push(FieldError::invalid(
                        &path_field,
                        &p.path,
                        format!("must not contain '{bad}'"),
                    ));
                }
            }
            for bad in ["/..", "/."] {
                if p.path.ends_with(bad) {
                    errors.push(FieldError::invalid(
                        &path_field,
                        &p.path,
                        format!("cannot end with '{bad}'"),
                    ));
                }
            }
        }
        Some(PATH_TYPE_IMPLEMENTATION_SPECIFIC) => {
            if !p.path.is_empty() && !p.path.starts_with('/') {
                errors.push(FieldError::invalid(
                    &path_field,
                    &p.path,
                    "must be an absolute path",
                ));
            }
        }
        Some(other) => errors.push(FieldError::not_supported(
            &path.child("pathType"),
            other,
            &[
                PATH_TYPE_EXACT,
                PATH_TYPE_IMPLEMENTATION_SPECIFIC,
                PATH_TYPE_PREFIX,
            ],
        )),
    }
    errors.extend(validate_ingress_backend(&p.backend, &path.child("backend")));
    errors
}

fn validate_ingress_backend(backend: &IngressBackend, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    match (&backend.service, &backend.resource) {
        (Some(_), Some(_)) => errors.push(FieldError::invalid(
            path,
            "",
            "cannot set both resource and service backends",
        )),
        (None, None) => errors.push(FieldError::invalid(
            path,
            "",
            "resource or service backend is required",
        )),
        (None, Some(resource)) => {
            let resource_path = path.child("resource");
            if let Some(group) = &resource.api_group {
                push_all(
                    &mut errors,
                    &resource_path.child("apiGroup"),
                    group,
                    is_dns1123_subdomain(group),
                );
            }
            if resource.kind.is_empty() {
                errors.push(FieldError::required(&resource_path.child("kind"), ""));
            }
            if resource.name.is_empty() {
                errors.push(FieldError::required(&resource_path.child("name"), ""));
            }
        }
        (Some(service), None) => {
            let service_path = path.child("service");
            let name = service_path.child("name");
            if service.name.is_empty() {
                errors.push(FieldError::required(&name, ""));
            } else {
                push_all(
                    &mut errors,
                    &name,
                    &service.name,
                    is_dns1035_label(&service.name),
                );
            }
            let port = service_path.child("port");
            match (service.port.name.is_empty(), service.port.number) {
                (false, n) if n != 0 => errors.push(FieldError::invalid(
                    &port,
                    "",
                    "cannot set both port name & port number",
                )),
                (false, _) => push_all(
                    &mut errors,
                    &port.child("name"),
                    &service.port.name,
                    is_valid_port_name(&service.port.name),
                ),
                (true, 0) => errors.push(FieldError::required(
                    &port,
                    "port name or number is required",
                )),
                (true, n) => {
                    for message in port_number_errors(n) {
                        errors.push(FieldError::invalid(&port.child("number"), n, message));
                    }
                }
            }
        }
    }
    errors
}

fn validate_ingress_class_spec(spec: &IngressClassSpec, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    let controller = path.child("controller");
    if spec.controller.len() > 250 {
        errors.push(FieldError::too_long(&controller, 250));
    }
    match spec.controller.split_once('/') {
        _ if spec.controller.is_empty() => errors.push(FieldError::required(&controller, "")),
        Some((domain, rest)) if !domain.is_empty() && !rest.is_empty() => push_all(
            &mut errors,
            &controller,
            &spec.controller,
            is_dns1123_subdomain(domain),
        ),
        _ => errors.push(FieldError::invalid(
            &controller,
            &spec.controller,
            "must be a domain-prefixed path (such as \"acme.io/foo\")",
        )),
    }
    if let Some(params) = &spec.parameters {
        let params_path = path.child("parameters");
        if let Some(group) = &params.api_group {
            push_all(
                &mut errors,
                &params_path.child("apiGroup"),
                group,
                is_dns1123_subdomain(group),
            );
        }
        if params.kind.is_empty() {
            errors.push(FieldError::required(&params_path.child("kind"), ""));
        }
        if params.name.is_empty() {
            errors.push(FieldError::required(&params_path.child("name"), ""));
        }
        let namespace = params_path.child("namespace");
        match params.scope.as_deref() {
            None => errors.push(FieldError::required(&params_path.child("scope"), "")),
            Some(PARAMETERS_SCOPE_NAMESPACE) => match &params.namespace {
                None => errors.push(FieldError::required(
                    &namespace,
                    "`parameters.scope` is set to 'Namespace'",
                )),
                Some(ns) => push_all(&mut errors, &namespace, ns, is_dns1123_label(ns)),
            },
            Some(PARAMETERS_SCOPE_CLUSTER) => {
                if params.namespace.is_some() {
                    errors.push(FieldError::forbidden(
                        &namespace,
                        "`parameters.scope` is set to 'Cluster'",
                    ));
                }
            }
            Some(other) => errors.push(FieldError::not_supported(
                &params_path.child("scope"),
                other,
                &[PARAMETERS_SCOPE_CLUSTER, PARAMETERS_SCOPE_NAMESPACE],
            )),
        }
    }
    errors
}

fn validate_network_policy_spec(spec: &NetworkPolicySpec, path: &Path<'_>) -> ErrorList {
    let mut errors = validate_label_selector(&spec.pod_selector, &path.child("podSelector"));
    let ingress = path.child("ingress");
    for (i, rule) in spec.ingress.iter().enumerate() {
        let rule_path = ingress.index(i);
        errors.extend(validate_ports(&rule.ports, &rule_path.child("ports")));
        errors.extend(validate_peers(&rule.from, &rule_path.child("from")));
    }
    let egress = path.child("egress");
    for (i, rule) in spec.egress.iter().enumerate() {
        let rule_path = egress.index(i);
        errors.extend(validate_ports(&rule.ports, &rule_path.child("ports")));
        errors.extend(validate_peers(&rule.to, &rule_path.child("to")));
    }
    let types = path.child("policyTypes");
    for (i, t) in spec.policy_types.iter().enumerate() {
        if t != POLICY_TYPE_INGRESS && t != POLICY_TYPE_EGRESS {
            errors.push(FieldError::not_supported(
                &types.index(i),
                t,
                &[POLICY_TYPE_INGRESS, POLICY_TYPE_EGRESS],
            ));
        }
    }
    if spec.policy_types.len() > 2 {
        errors.push(FieldError::forbidden(
            &types,
            "may not specify more than two policyTypes",
        ));
    }
    errors
}

fn validate_ports(ports: &[NetworkPolicyPort], path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    for (i, port) in ports.iter().enumerate() {
        let port_path = path.index(i);
        if let Some(protocol) = &port.protocol {
            if !PROTOCOLS.contains(&protocol.as_str()) {
                errors.push(FieldError::not_supported(
                    &port_path.child("protocol"),
                    protocol,
                    PROTOCOLS,
                ));
            }
        }
        let end_port = port_path.child("endPort");
        match &port.port {
            Some(IntOrString::Int(n)) => {
                for message in port_number_errors(*n) {
                    errors.push(FieldError::invalid(&port_path.child("port"), n, message));
                }
                if let Some(end) = port.end_port {
                    if end < *n {
                        errors.push(FieldError::invalid(
                            &end_port,
                            end,
                            "must be greater than or equal to `port`",
                        ));
                    }
                    for message in port_number_errors(end) {
                        errors.push(FieldError::invalid(&end_port, end, message));
                    }
                }
            }
            Some(IntOrString::String(name)) => {
                if let Some(end) = port.end_port {
                    errors.push(FieldError::invalid(
                        &end_port,
                        end,
                        "may not be specified when `port` is non-numeric",
                    ));
                }
                push_all(
                    &mut errors,
                    &port_path.child("port"),
                    name,
                    is_valid_port_name(name),
                );
            }
            None => {
                if let Some(end) = port.end_port {
                    errors.push(FieldError::invalid(
                        &end_port,
                        end,
                        "may not be specified when `port` is not specified",
                    ));
                }
            }
        }
    }
    errors
}

fn validate_peers(peers: &[NetworkPolicyPeer], path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    for (i, peer) in peers.iter().enumerate() {
        let peer_path = path.index(i);
        let mut count = 0;
        if let Some(selector) = &peer.pod_selector {
            count += 1;
            errors.extend(validate_label_selector(
                selector,
                &peer_path.child("podSelector"),
            ));
        }
        if let Some(selector) = &peer.namespace_selector {
            count += 1;
            errors.extend(validate_label_selector(
                selector,
                &peer_path.child("namespaceSelector"),
            ));
        }
        if let Some(block) = &peer.ip_block {
            if count > 0 {
                errors.push(FieldError::forbidden(
                    &peer_path,
                    "may not specify both ipBlock and another peer",
                ));
            }
            count += 1;
            errors.extend(validate_ip_block(block, &peer_path.child("ipBlock")));
        }
        if count == 0 {
            errors.push(FieldError::required(&peer_path, "must specify a peer"));
        }
    }
    errors
}

/// A parsed CIDR: the address as a 128-bit number (IPv4 mapped into the low
/// 32 bits), the prefix length and whether it is IPv6.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cidr {
    bits: u128,
    prefix: u32,
    v6: bool,
}

impl Cidr {
    fn parse(s: &str) -> Option<Cidr> {
        let (addr, prefix) = s.split_once('/')?;
        // Go's ParseCIDR takes a plain decimal prefix.
        if prefix.is_empty() || !prefix.bytes().all(|c| c.is_ascii_digit()) || prefix.len() > 3 {
            return None;
        }
        let prefix: u32 = prefix.parse().ok()?;
        match addr.parse::<IpAddr>().ok()? {
            IpAddr::V4(a) if prefix <= 32 => Some(Cidr {
                bits: u128::from(u32::from(a)),
                prefix,
                v6: false,
            }),
            IpAddr::V6(a) if prefix <= 128 => Some(Cidr {
                bits: u128::from(a),
                prefix,
                v6: true,
            }),
            _ => None,
        }
    }

    fn width(self) -> u32 {
        if self.v6 {
            128
        } else {
            32
        }
    }

    fn network(self) -> u128 {
        let host_bits = self.width() - self.prefix;
        if host_bits >= 128 {
            0
        } else {
            (self.bits >> host_bits) << host_bits
        }
    }

    /// True when `other` is a strict sub-range of `self`.
    fn strictly_contains(self, other: Cidr) -> bool {
        if self.v6 != other.v6 || other.prefix <= self.prefix {
            return false;
        }
        let host_bits = self.width() - self.prefix;
        let mask = |v: u128| if host_bits >= 128 { 0 } else { v >> host_bits };
        mask(other.network()) == mask(self.network())
    }
}

fn validate_ip_block(block: &IpBlock, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    let cidr_path = path.child("cidr");
    if block.cidr.is_empty() {
        errors.push(FieldError::required(&cidr_path, ""));
        return errors;
    }
    let Some(cidr) = Cidr::parse(&block.cidr) else {
        errors.push(FieldError::invalid(
            &cidr_path,
            &block.cidr,
            "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
        ));
        return errors;
    };
    let except = path.child("except");
    for (i, e) in block.except.iter().enumerate() {
        let e_path = except.index(i);
        match Cidr::parse(e) {
            None => errors.push(FieldError::invalid(
                &e_path,
                e,
                "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            )),
            Some(sub) if !cidr.strictly_contains(sub) => errors.push(FieldError::invalid(
                &e_path,
                e,
                "must be a strict subset of `cidr`",
            )),
            Some(_) => {}
        }
    }
    errors
}

/// An error converting a `networking.k8s.io/v1beta1` Ingress.
#[derive(Debug, thiserror::Error)]
pub enum ConversionError {
    /// The input is not a v1beta1 (or v1) Ingress.
    #[error("not a networking.k8s.io/v1beta1 Ingress: apiVersion {api_version:?}, kind {kind:?}")]
    NotAnIngress {
        /// The input's `apiVersion`.
        api_version: String,
        /// The input's `kind`.
        kind: String,
    },
    /// The converted JSON does not decode as a v1 Ingress.
    #[error("invalid Ingress: {0}")]
    Decode(#[source] serde_json::Error),
}

/// Converts a `networking.k8s.io/v1beta1` (or `extensions/v1beta1`) Ingress
/// to `networking.k8s.io/v1`, as the API server does: each backend's
/// `serviceName`/`servicePort` becomes `service.name` and `service.port.number`
/// (or `.name` for a string port), `spec.backend` becomes
/// `spec.defaultBackend`. A missing `pathType` stays missing, so validation
/// then asks for it, as it would for a v1 object; v1 input is decoded as is.
pub fn ingress_from_v1beta1(value: &serde_json::Value) -> Result<Ingress, ConversionError> {
    use serde_json::Value;
    let api_version = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind != "Ingress" {
        return Err(ConversionError::NotAnIngress {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
        });
    }
    match api_version {
        "networking.k8s.io/v1" => {
            return serde_json::from_value(value.clone()).map_err(ConversionError::Decode)
        }
        "networking.k8s.io/v1beta1" | "extensions/v1beta1" => {}
        _ => {
            return Err(ConversionError::NotAnIngress {
                api_version: api_version.to_string(),
                kind: kind.to_string(),
            })
        }
    }
    fn convert_backend(backend: &mut Value) {
        let Some(map) = backend.as_object_mut() else {
            return;
        };
        let name = map.remove("serviceName");
        let port = map.remove("servicePort");
        if name.is_none() && port.is_none() {
            return;
        }
        let port = match port {
            Some(Value::String(s)) => serde_json::json!({ "name": s }),
            Some(Value::Number(n)) => serde_json::json!({ "number": n }),
            _ => serde_json::json!({}),
        };
        map.insert(
            "service".into(),
            serde_json::json!({ "name": name.unwrap_or(Value::Null), "port": port }),
        );
    }
    let mut out = value.clone();
    out["apiVersion"] = Value::from("networking.k8s.io/v1");
    if let Some(spec) = out.get_mut("spec").and_then(Value::as_object_mut) {
        if let Some(mut backend) = spec.remove("backend") {
            convert_backend(&mut backend);
            spec.insert("defaultBackend".into(), backend);
        }
        if let Some(rules) = spec.get_mut("rules").and_then(Value::as_array_mut) {
            let paths = rules
                .iter_mut()
                .filter_map(|r| r.pointer_mut("/http/paths"))
                .filter_map(Value::as_array_mut)
                .flatten();
            for path in paths {
                if let Some(backend) = path.get_mut("backend") {
                    convert_backend(backend);
                }
            }
        }
    }
    serde_json::from_value(out).map_err(ConversionError::Decode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ObjectMeta, Resource};
    use serde_json::{json, Value};

    fn round_trip<T: Resource>(value: Value) -> T {
        let object: T = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&object).unwrap(), value);
        object
    }

    fn fields(errors: &ErrorList) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    fn ingress_sample() -> Value {
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "default", "annotations": {"nginx.ingress.kubernetes.io/rewrite-target": "/"}},
            "spec": {
                "ingressClassName": "nginx",
                "defaultBackend": {"resource": {"apiGroup": "k8s.example.com", "kind": "StorageBucket", "name": "static-assets"}},
                "tls": [{"hosts": ["foo.bar.com", "*.bar.com"], "secretName": "tls-secret"}],
                "rules": [
                    {"host": "foo.bar.com", "http": {"paths": [
                        {"path": "/api", "pathType": "Prefix", "backend": {"service": {"name": "api", "port": {"number": 8080}}}},
                        {"path": "/", "pathType": "Exact", "backend": {"service": {"name": "web", "port": {"name": "http"}}}}
                    ]}},
                    {"http": {"paths": [
                        {"pathType": "ImplementationSpecific", "backend": {"service": {"name": "fallback", "port": {"number": 80}}}}
                    ]}}
                ]
            },
            "status": {"loadBalancer": {"ingress": [
                {"ip": "203.0.113.10", "ports": [{"port": 443, "protocol": "TCP", "error": "Pending"}]},
                {"hostname": "lb.example.com"}
            ]}}
        })
    }

    #[test]
    fn round_trips() {
        let ingress: Ingress = round_trip(ingress_sample());
        assert!(ingress.validate().is_empty(), "{}", ingress.validate());

        let class: IngressClass = round_trip(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": {"name": "external-lb", "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}},
            "spec": {
                "controller": "example.com/ingress-controller",
                "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb", "scope": "Namespace", "namespace": "external-configuration"}
            }
        }));
        assert!(class.validate().is_empty(), "{}", class.validate());

        let policy: NetworkPolicy = round_trip(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "test-network-policy", "namespace": "default"},
            "spec": {
                "podSelector": {"matchLabels": {"role": "db"}},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{
                    "from": [
                        {"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}},
                        {"namespaceSelector": {"matchLabels": {"project": "myproject"}}},
                        {"podSelector": {"matchLabels": {"role": "frontend"}}, "namespaceSelector": {}}
                    ],
                    "ports": [{"protocol": "TCP", "port": 6379}]
                }],
                "egress": [{
                    "to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}],
                    "ports": [{"protocol": "TCP", "port": 32000, "endPort": 32768}, {"protocol": "UDP", "port": "dns"}]
                }]
            }
        }));
        assert!(policy.validate().is_empty(), "{}", policy.validate());
    }

    /// `seeds/34-networkpolicy-postgres-netpolicy.yaml`, as JSON.
    fn seed_34() -> Value {
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "postgres-netpolicy"},
            "spec": {
                "podSelector": {"matchLabels": {"app": "database"}},
                "ingress": [{
                    "from": [{"podSelector": {"matchLabels": {"app": "webserver"}}}],
                    "ports": [{"port": 5432}]
                }]
            }
        })
    }

    #[test]
    fn seed_network_policy() {
        let mut policy: NetworkPolicy = round_trip(seed_34());
        policy.apply_defaults();
        assert!(policy.validate().is_empty(), "{}", policy.validate());
        assert_eq!(policy.spec.policy_types, ["Ingress"]);
        assert_eq!(
            serde_json::to_value(&policy.spec.ingress[0].ports[0]).unwrap(),
            json!({"protocol": "TCP", "port": 5432})
        );
    }

    #[test]
    fn network_policy_defaults() {
        let mut empty = NetworkPolicy::default();
        empty.apply_defaults();
        assert_eq!(empty.spec.policy_types, ["Ingress"]);
        // An empty podSelector is still written: it selects every pod.
        assert_eq!(
            serde_json::to_value(&empty.spec).unwrap()["podSelector"],
            json!({})
        );

        let mut egress: NetworkPolicy = serde_json::from_value(json!({
            "spec": {"egress": [{"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53}]}]}
        }))
        .unwrap();
        egress.apply_defaults();
        assert_eq!(egress.spec.policy_types, ["Ingress", "Egress"]);
        let protocols: Vec<_> = egress.spec.egress[0]
            .ports
            .iter()
            .map(|p| p.protocol.clone())
            .collect();
        assert_eq!(protocols, vec![Some("UDP".into()), Some("TCP".into())]);

        // Explicit policy types are kept.
        let mut explicit: NetworkPolicy = serde_json::from_value(json!({
            "spec": {"policyTypes": ["Egress"], "ingress": [{}]}
        }))
        .unwrap();
        explicit.apply_defaults();
        assert_eq!(explicit.spec.policy_types, ["Egress"]);
    }

    #[test]
    fn network_policy_validation() {
        let cases: &[(Value, &[&str])] = &[
            (
                json!({"ingress": [{"ports": [{"protocol": "ICMP"}]}]}),
                &["spec.ingress[0].ports[0].protocol"],
            ),
            (
                json!({"ingress": [{"ports": [{"port": 0}]}]}),
                &["spec.ingress[0].ports[0].port"],
            ),
            (
                json!({"ingress": [{"ports": [{"port": "Bad_Name"}]}]}),
                &["spec.ingress[0].ports[0].port"],
            ),
            (
                json!({"egress": [{"ports": [{"port": 100, "endPort": 99}]}]}),
                &["spec.egress[0].ports[0].endPort"],
            ),
            (
                json!({"egress": [{"ports": [{"port": "http", "endPort": 99}]}]}),
                &["spec.egress[0].ports[0].endPort"],
            ),
            (
                json!({"egress": [{"ports": [{"endPort": 99}]}]}),
                &["spec.egress[0].ports[0].endPort"],
            ),
            (
                json!({"egress": [{"ports": [{"port": 100, "endPort": 70000}]}]}),
                &["spec.egress[0].ports[0].endPort"],
            ),
            (
                json!({"ingress": [{"from": [{}]}]}),
                &["spec.ingress[0].from[0]"],
            ),
            (
                json!({"ingress": [{"from": [{"podSelector": {}, "ipBlock": {"cidr": "10.0.0.0/8"}}]}]}),
                &["spec.ingress[0].from[0]"],
            ),
            (
                json!({"egress": [{"to": [{"ipBlock": {"cidr": ""}}]}]}),
                &["spec.egress[0].to[0].ipBlock.cidr"],
            ),
            (
                json!({"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0"}}]}]}),
                &["spec.egress[0].to[0].ipBlock.cidr"],
            ),
            (
                json!({"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/33"}}]}]}),
                &["spec.egress[0].to[0].ipBlock.cidr"],
            ),
            (
                json!({"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/16", "10.0.0.0/8", "nope", "10.2.0.0/16"]}}]}]}),
                &[
                    "spec.egress[0].to[0].ipBlock.except[0]",
                    "spec.egress[0].to[0].ipBlock.except[1]",
                    "spec.egress[0].to[0].ipBlock.except[2]",
                ],
            ),
            (
                json!({"egress": [{"to": [{"ipBlock": {"cidr": "2001:db8::/32", "except": ["2001:db8:1::/48", "10.0.0.0/16"]}}]}]}),
                &["spec.egress[0].to[0].ipBlock.except[1]"],
            ),
            (
                json!({"policyTypes": ["Ingress", "Sideways"]}),
                &["spec.policyTypes[1]"],
            ),
            (
                json!({"policyTypes": ["Ingress", "Egress", "Ingress"]}),
                &["spec.policyTypes"],
            ),
        ];
        for (spec, want) in cases {
            let policy = NetworkPolicy {
                metadata: ObjectMeta::namespaced("ns", "p"),
                spec: serde_json::from_value(spec.clone()).unwrap(),
            };
            let errors = policy.validate();
            assert_eq!(&fields(&errors), want, "{spec}: {errors}");
        }
    }

    #[test]
    fn ingress_validation() {
        let service = json!({"service": {"name": "web", "port": {"number": 80}}});
        let path = |p: Value| json!({"rules": [{"http": {"paths": [p]}}]});
        let cases: &[(Value, &[&str])] = &[
            (json!({}), &["spec.rules"]),
            (json!({"defaultBackend": service}), &[]),
            (
                path(json!({"path": "/", "backend": service})),
                &["spec.rules[0].http.paths[0].pathType"],
            ),
            (
                path(json!({"path": "/", "pathType": "Regex", "backend": service})),
                &["spec.rules[0].http.paths[0].pathType"],
            ),
            (
                path(json!({"path": "api", "pathType": "Prefix", "backend": service})),
                &["spec.rules[0].http.paths[0].path"],
            ),
            (
                path(json!({"pathType": "Exact", "backend": service})),
                &["spec.rules[0].http.paths[0].path"],
            ),
            (
                path(json!({"path": "/a//b", "pathType": "Exact", "backend": service})),
                &["spec.rules[0].http.paths[0].path"],
            ),
            (
                path(
                    json!({"path": "api", "pathType": "ImplementationSpecific", "backend": service}),
                ),
                &["spec.rules[0].http.paths[0].path"],
            ),
            (
                path(json!({"pathType": "ImplementationSpecific", "backend": service})),
                &[],
            ),
            (
                path(json!({"path": "/", "pathType": "Prefix", "backend": {}})),
                &["spec.rules[0].http.paths[0].backend"],
            ),
            (
                path(
                    json!({"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}, "resource": {"kind": "B", "name": "b"}}}),
                ),
                &["spec.rules[0].http.paths[0].backend"],
            ),
            (
                path(
                    json!({"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80, "name": "http"}}}}),
                ),
                &["spec.rules[0].http.paths[0].backend.service.port"],
            ),
            (
                path(
                    json!({"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web"}}}),
                ),
                &["spec.rules[0].http.paths[0].backend.service.port"],
            ),
            (
                path(
                    json!({"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 70000}}}}),
                ),
                &["spec.rules[0].http.paths[0].backend.service.port.number"],
            ),
            (
                path(
                    json!({"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"name": "ht_p"}}}}),
                ),
                &["spec.rules[0].http.paths[0].backend.service.port.name"],
            ),
            (
                path(
                    json!({"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "1web", "port": {"number": 80}}}}),
                ),
                &["spec.rules[0].http.paths[0].backend.service.name"],
            ),
            (
                path(
                    json!({"path": "/", "pathType": "Prefix", "backend": {"resource": {"name": "b"}}}),
                ),
                &["spec.rules[0].http.paths[0].backend.resource.kind"],
            ),
            (
                json!({"rules": [{"host": "10.0.0.1", "http": {"paths": []}}]}),
                &["spec.rules[0].host", "spec.rules[0].http.paths"],
            ),
            (
                json!({"defaultBackend": service, "rules": [{"host": "*.Foo.com"}]}),
                &["spec.rules[0].host"],
            ),
            (
                json!({"defaultBackend": service, "tls": [{"hosts": ["ok.com", "bad_host"], "secretName": "Bad"}]}),
                &["spec.tls[0].hosts[1]", "spec.tls[0].secretName"],
            ),
            (
                json!({"defaultBackend": service, "ingressClassName": "Nginx"}),
                &["spec.ingressClassName"],
            ),
        ];
        for (spec, want) in cases {
            let ingress = Ingress {
                metadata: ObjectMeta::namespaced("ns", "i"),
                spec: serde_json::from_value(spec.clone()).unwrap(),
                status: IngressStatus::default(),
            };
            let errors = ingress.validate();
            assert_eq!(&fields(&errors), want, "{spec}: {errors}");
        }
    }

    #[test]
    fn ingress_class_defaults_and_validation() {
        let mut class: IngressClass = serde_json::from_value(json!({
            "metadata": {"name": "c"},
            "spec": {"controller": "example.com/ctl", "parameters": {"kind": "P", "name": "p"}}
        }))
        .unwrap();
        class.apply_defaults();
        assert_eq!(
            class
                .spec
                .parameters
                .as_ref()
                .and_then(|p| p.scope.as_deref()),
            Some("Cluster")
        );
        assert!(class.validate().is_empty());

        let cases: &[(Value, &[&str])] = &[
            (json!({}), &["spec.controller"]),
            (json!({"controller": "nginx"}), &["spec.controller"]),
            (json!({"controller": "Example.com/x"}), &["spec.controller"]),
            (
                json!({"controller": "a.io/x", "parameters": {"scope": "Cluster"}}),
                &["spec.parameters.kind", "spec.parameters.name"],
            ),
            (
                json!({"controller": "a.io/x", "parameters": {"kind": "K", "name": "n", "scope": "Namespace"}}),
                &["spec.parameters.namespace"],
            ),
            (
                json!({"controller": "a.io/x", "parameters": {"kind": "K", "name": "n", "scope": "Cluster", "namespace": "x"}}),
                &["spec.parameters.namespace"],
            ),
            (
                json!({"controller": "a.io/x", "parameters": {"kind": "K", "name": "n", "scope": "World"}}),
                &["spec.parameters.scope"],
            ),
        ];
        for (spec, want) in cases {
            let class = IngressClass {
                metadata: ObjectMeta::named("c"),
                spec: serde_json::from_value(spec.clone()).unwrap(),
            };
            let errors = class.validate();
            assert_eq!(&fields(&errors), want, "{spec}: {errors}");
        }
    }

    /// `seeds/43-ingress-example-ingress.yaml` (v1beta1), as JSON.
    #[test]
    fn seed_v1beta1_ingress_converts() {
        let seed = json!({
            "apiVersion": "networking.k8s.io/v1beta1",
            "kind": "Ingress",
            "metadata": {"name": "example-ingress"},
            "spec": {"rules": [{"host": "example.ingressdemo.com", "http": {"paths": [
                {"path": "/", "backend": {"serviceName": "web", "servicePort": 80}}
            ]}}]}
        });
        // Decoding it directly as v1 is refused: the apiVersion does not match.
        assert!(serde_json::from_value::<Ingress>(seed.clone()).is_err());
        let ingress = ingress_from_v1beta1(&seed).unwrap();
        assert_eq!(
            serde_json::to_value(&ingress).unwrap()["spec"],
            json!({"rules": [{"host": "example.ingressdemo.com", "http": {"paths": [
                {"path": "/", "backend": {"service": {"name": "web", "port": {"number": 80}}}}
            ]}}]})
        );
        // v1 has no default pathType: the converted object asks for one.
        assert_eq!(
            fields(&ingress.validate()),
            ["spec.rules[0].http.paths[0].pathType"]
        );
        let named = ingress_from_v1beta1(&json!({
            "apiVersion": "extensions/v1beta1", "kind": "Ingress", "metadata": {"name": "x"},
            "spec": {"backend": {"serviceName": "web", "servicePort": "http"}}
        }))
        .unwrap();
        assert_eq!(
            named
                .spec
                .default_backend
                .and_then(|b| b.service)
                .map(|s| s.port.name),
            Some("http".into())
        );
        assert!(matches!(
            ingress_from_v1beta1(&json!({"apiVersion": "v1", "kind": "Pod"})),
            Err(ConversionError::NotAnIngress { .. })
        ));
        assert!(ingress_from_v1beta1(&ingress_sample()).is_ok());
    }

    #[test]
    fn port_names() {
        assert!(is_valid_port_name("http").is_empty());
        assert!(is_valid_port_name("h2c-1").is_empty());
        for bad in ["", "123", "HTTP", "a--b", "-a", "abcdefghijklmnop"] {
            assert!(!is_valid_port_name(bad).is_empty(), "{bad}");
        }
    }

    #[test]
    fn unknown_fields_are_reported() {
        let json = r#"{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"p","labels":{"a":"b"}},
            "spec":{"podSelector":{"matchLabels":{"app":"db"}},"ingress":[{"from":[{"ipBlock":{"cidr":"10.0.0.0/8","exept":[]}}],
            "ports":[{"port":5432,"proto":"TCP"}]}]}}"#;
        let mut unknown = Vec::new();
        let mut de = serde_json::Deserializer::from_str(json);
        let _policy: NetworkPolicy = serde_ignored::deserialize(&mut de, |p| {
            unknown.push(crate::api::serde_util::field_path(&p))
        })
        .unwrap();
        assert_eq!(
            unknown,
            [
                "spec.ingress[0].from[0].ipBlock.exept",
                "spec.ingress[0].ports[0].proto"
            ]
        );
    }
}
