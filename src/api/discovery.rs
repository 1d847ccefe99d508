//! `discovery.k8s.io/v1`: [`EndpointSlice`], the scalable successor of
//! core/v1 Endpoints. A Service's endpoints are split over slices of at most
//! 100 endpoints (1000 allowed), each labelled with [`LABEL_SERVICE_NAME`].
//!
//! ```
//! use keelson::api::discovery::{self, EndpointSlice};
//! use keelson::api::Resource;
//!
//! let mut slice: EndpointSlice = serde_json::from_str(
//!     r#"{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
//!         "metadata":{"name":"kubia-abc12","labels":{"kubernetes.io/service-name":"kubia"}},
//!         "addressType":"IPv4",
//!         "endpoints":[{"addresses":["10.244.1.5"],"conditions":{"ready":true}}],
//!         "ports":[{"name":"http","port":8080}]}"#,
//! ).unwrap();
//! slice.apply_defaults();
//! assert_eq!(slice.service_name(), Some("kubia"));
//! assert_eq!(slice.ports[0].protocol.as_deref(), Some("TCP"));
//! assert!(slice.endpoints[0].is_ready());
//! assert!(slice.validate().is_empty());
//! # let _ = discovery::LABEL_MANAGED_BY;
//! ```
use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::core::{net, ObjectReference};
use super::resource::object;
use super::serde_util::nullable;
use super::validation::{
    is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_valid_label_value, ErrorList,
    FieldError, Path,
};
use super::{Str, StringMap};

/// The label naming the Service a slice belongs to.
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
/// The label naming the controller that manages a slice.
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
/// The value of [`LABEL_MANAGED_BY`] for slices of the built-in controller.
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";

/// Address type `IPv4`.
pub const ADDRESS_TYPE_IPV4: &str = "IPv4";
/// Address type `IPv6`.
pub const ADDRESS_TYPE_IPV6: &str = "IPv6";
/// Address type `FQDN` (deprecated).
pub const ADDRESS_TYPE_FQDN: &str = "FQDN";
/// The address types.
pub const ADDRESS_TYPES: &[&str] = &[ADDRESS_TYPE_IPV4, ADDRESS_TYPE_IPV6, ADDRESS_TYPE_FQDN];

/// The most endpoints a slice may hold.
pub const MAX_ENDPOINTS: usize = 1000;
/// The most addresses an endpoint may hold.
pub const MAX_ADDRESSES: usize = 100;
/// The most ports a slice may hold.
pub const MAX_PORTS: usize = 20000;
/// The most zone hints an endpoint may carry.
pub const MAX_ZONE_HINTS: usize = 8;

object! {
    /// A subset of the endpoints implementing a Service.
    pub struct EndpointSlice {
        /// `IPv4`, `IPv6` or `FQDN`: the type of every address in the slice.
        address_type: Str = "addressType" @always,
        /// The endpoints.
        endpoints: Vec<Endpoint> = "endpoints" @always,
        /// The ports every endpoint serves.
        ports: Vec<EndpointPort> = "ports" @always,
    }
    resource {
        group: "discovery.k8s.io",
        version: "v1",
        kind: "EndpointSlice",
        plural: "endpointslices",
        scope: Namespaced,
    }

    fn apply_defaults(&mut self) {
        for port in &mut self.ports {
            port.name.get_or_insert(Str::EMPTY);
            port.protocol.get_or_insert_with(|| Str::from_static(net::PROTOCOL_TCP));
        }
    }

    fn validate_fields(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        let address_type = Path::root("addressType");
        let ty = &*self.address_type;
        if ty.is_empty() {
            errors.push(FieldError::required(&address_type, ""));
        } else if !ADDRESS_TYPES.contains(&ty) {
            errors.push(FieldError::not_supported(&address_type, ty, ADDRESS_TYPES));
        }
        let endpoints = Path::root("endpoints");
        if self.endpoints.len() > MAX_ENDPOINTS {
            errors.push(FieldError::too_many(&endpoints, self.endpoints.len(), MAX_ENDPOINTS));
        }
        for (i, endpoint) in self.endpoints.iter().enumerate() {
            endpoint.validate(ty, &endpoints.index(i), &mut errors);
        }
        let ports = Path::root("ports");
        if self.ports.len() > MAX_PORTS {
            errors.push(FieldError::too_many(&ports, self.ports.len(), MAX_PORTS));
        }
        let mut names = HashSet::new();
        for (i, port) in self.ports.iter().enumerate() {
            let p = ports.index(i);
            let name = p.child("name");
            let port_name = port.name.as_deref().unwrap_or("");
            if !port_name.is_empty() {
                for msg in is_dns1123_label(port_name) {
                    errors.push(FieldError::invalid(&name, port_name, msg));
                }
            }
            if !names.insert(port_name) {
                errors.push(FieldError::duplicate(&name, port_name));
            }
            match &port.protocol {
                Some(protocol) => errors.extend(net::validate_protocol(protocol, &p.child("protocol"))),
                None => errors.push(FieldError::required(&p.child("protocol"), "")),
            }
            if let Some(n) = port.port {
                errors.extend(net::validate_port_num(n, &p.child("port")));
            }
            if let Some(app) = &port.app_protocol {
                for msg in is_qualified_name(app) {
                    errors.push(FieldError::invalid(&p.child("appProtocol"), app, msg));
                }
            }
        }
        errors
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = self.validate();
        errors.extend(super::validation::validate_object_meta_update(&self.metadata, &old.metadata));
        if self.address_type != old.address_type {
            errors.push(FieldError::invalid(&Path::root("addressType"), &self.address_type, "field is immutable"));
        }
        errors
    }
}

impl EndpointSlice {
    /// The Service this slice belongs to (its [`LABEL_SERVICE_NAME`] label).
    pub fn service_name(&self) -> Option<&str> {
        self.metadata.labels.get_str(LABEL_SERVICE_NAME)
    }
}

/// One endpoint of an [`EndpointSlice`]: usually a pod.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// The endpoint's addresses (all of the slice's type; usually one).
    #[serde(default, deserialize_with = "nullable")]
    pub addresses: Vec<Str>,
    /// Whether it is ready, serving, terminating.
    #[serde(default, deserialize_with = "nullable")]
    pub conditions: EndpointConditions,
    /// The hostname (for headless services with `subdomain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<Str>,
    /// The object (usually a Pod) providing the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<ObjectReference>,
    /// Deprecated topology labels (use `nodeName` and `zone`).
    #[serde(default, skip_serializing_if = "StringMap::is_empty")]
    pub deprecated_topology: StringMap,
    /// The node hosting the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<Str>,
    /// The zone of the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<Str>,
    /// Routing hints for topology-aware routing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hints: Option<EndpointHints>,
}

impl Endpoint {
    /// True unless the `ready` condition is `false` (unknown counts as
    /// ready, as Kubernetes documents).
    pub fn is_ready(&self) -> bool {
        self.conditions.ready != Some(false)
    }

    fn validate(&self, address_type: &str, path: &Path<'_>, errors: &mut ErrorList) {
        let addresses = path.child("addresses");
        if self.addresses.is_empty() {
            errors.push(FieldError::required(
                &addresses,
                "must contain at least 1 address",
            ));
        } else if self.addresses.len() > MAX_ADDRESSES {
            errors.push(FieldError::too_many(
                &addresses,
                self.addresses.len(),
                MAX_ADDRESSES,
            ));
        }
        for (i, address) in self.addresses.iter().enumerate() {
            let p = addresses.index(i);
            let problems = match address_type {
                ADDRESS_TYPE_IPV4 | ADDRESS_TYPE_IPV6 => match net::ip_family(address) {
                    Some(family) if family == address_type => Vec::new(),
                    Some(_) => vec![format!("must be an {address_type} address")],
                    None => net::is_valid_ip(address),
                },
                ADDRESS_TYPE_FQDN => is_dns1123_subdomain(address),
                _ => Vec::new(),
            };
            for msg in problems {
                errors.push(FieldError::invalid(&p, address, msg));
            }
        }
        if let Some(hostname) = &self.hostname {
            for msg in is_dns1123_label(hostname) {
                errors.push(FieldError::invalid(&path.child("hostname"), hostname, msg));
            }
        }
        if let Some(node) = &self.node_name {
            for msg in is_dns1123_subdomain(node) {
                errors.push(FieldError::invalid(&path.child("nodeName"), node, msg));
            }
        }
        if let Some(zone) = &self.zone {
            for msg in is_valid_label_value(zone) {
                errors.push(FieldError::invalid(&path.child("zone"), zone, msg));
            }
        }
        if let Some(hints) = &self.hints {
            let hints_path = path.child("hints");
            let zones = hints_path.child("forZones");
            if hints.for_zones.len() > MAX_ZONE_HINTS {
                errors.push(FieldError::too_many(
                    &zones,
                    hints.for_zones.len(),
                    MAX_ZONE_HINTS,
                ));
            }
            let mut seen = HashSet::new();
            for (i, zone) in hints.for_zones.iter().enumerate() {
                let p = zones.index(i);
                let name = p.child("name");
                for msg in is_valid_label_value(&zone.name) {
                    errors.push(FieldError::invalid(&name, &zone.name, msg));
                }
                if !seen.insert(&*zone.name) {
                    errors.push(FieldError::duplicate(&name, &zone.name));
                }
            }
        }
    }
}

/// The state of an [`Endpoint`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointConditions {
    /// Ready to receive traffic (false while terminating).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
    /// Passing readiness checks, even while terminating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving: Option<bool>,
    /// Shutting down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminating: Option<bool>,
}

/// Routing hints of an [`Endpoint`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointHints {
    /// Zones that should route to this endpoint.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub for_zones: Vec<ForZone>,
}

/// A zone hint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForZone {
    /// The zone's name.
    #[serde(default)]
    pub name: Str,
}

/// A port of an [`EndpointSlice`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointPort {
    /// Matches the service port's name (`""` when it has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Str>,
    /// `TCP` (default), `UDP` or `SCTP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Str>,
    /// The port number; absent means all ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// The application protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<Str>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Resource;

    const SAMPLE: &str = r#"{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
      "metadata":{"name":"kubia-x7k2p","namespace":"default","generateName":"kubia-",
                  "labels":{"kubernetes.io/service-name":"kubia","endpointslice.kubernetes.io/managed-by":"endpointslice-controller.k8s.io"},
                  "ownerReferences":[{"apiVersion":"v1","kind":"Service","name":"kubia","uid":"s-1","controller":true,"blockOwnerDeletion":true}]},
      "addressType":"IPv4",
      "endpoints":[{"addresses":["10.244.1.5"],"conditions":{"ready":true,"serving":true,"terminating":false},"hostname":"kubia-0",
                    "targetRef":{"kind":"Pod","namespace":"default","name":"kubia-0","uid":"p-1"},"deprecatedTopology":{"kubernetes.io/hostname":"node-1"},
                    "nodeName":"node-1","zone":"eu-west-1a","hints":{"forZones":[{"name":"eu-west-1a"}]}},
                   {"addresses":["10.244.2.7"],"conditions":{"ready":false,"serving":true,"terminating":true},"nodeName":"node-2"}],
      "ports":[{"name":"http","protocol":"TCP","port":8080,"appProtocol":"http"},{"name":"dns","protocol":"UDP","port":53}]}"#;

    fn sample() -> EndpointSlice {
        serde_json::from_str(SAMPLE).unwrap()
    }

    #[test]
    fn round_trip_and_helpers() {
        let value: serde_json::Value = serde_json::from_str(SAMPLE).unwrap();
        let slice: EndpointSlice = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&slice).unwrap(), value);
        assert!(slice.validate().is_empty(), "{}", slice.validate());
        assert_eq!(slice.service_name(), Some("kubia"));
        assert!(slice.endpoints[0].is_ready());
        assert!(!slice.endpoints[1].is_ready());
        assert_eq!(EndpointSlice::API_VERSION, "discovery.k8s.io/v1");
        // Required lists are always written, even when empty.
        let empty = EndpointSlice::default();
        assert_eq!(
            serde_json::to_string(&empty).unwrap(),
            r#"{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{},"addressType":"","endpoints":[],"ports":[]}"#
        );
    }

    #[test]
    fn defaults() {
        let mut slice = sample();
        slice.ports.push(EndpointPort {
            port: Some(9090),
            ..EndpointPort::default()
        });
        slice.apply_defaults();
        assert_eq!(slice.ports[2].name.as_deref(), Some(""));
        assert_eq!(slice.ports[2].protocol.as_deref(), Some("TCP"));
        assert!(slice.validate().is_empty(), "{}", slice.validate());
    }

    #[test]
    fn validation_table() {
        type Edit = fn(&mut EndpointSlice);
        let cases: &[(&str, Edit, &str)] = &[
            (
                "no address type",
                |s| s.address_type = "".into(),
                "addressType: Required value",
            ),
            (
                "bad address type",
                |s| s.address_type = "IPX".into(),
                "addressType: Unsupported value: \"IPX\"",
            ),
            (
                "no addresses",
                |s| s.endpoints[1].addresses.clear(),
                "endpoints[1].addresses: Required value: must contain at least 1 address",
            ),
            (
                "wrong family",
                |s| s.endpoints[0].addresses[0] = "fd00::1".into(),
                "endpoints[0].addresses[0]: Invalid value: \"fd00::1\": must be an IPv4 address",
            ),
            (
                "not an ip",
                |s| s.endpoints[0].addresses[0] = "kubia".into(),
                "endpoints[0].addresses[0]: Invalid value: \"kubia\"",
            ),
            (
                "bad hostname",
                |s| s.endpoints[0].hostname = Some("Kubia.0".into()),
                "endpoints[0].hostname: Invalid value",
            ),
            (
                "bad node",
                |s| s.endpoints[1].node_name = Some("Node_2".into()),
                "endpoints[1].nodeName: Invalid value",
            ),
            (
                "dup zone hint",
                |s| {
                    if let Some(h) = &mut s.endpoints[0].hints {
                        h.for_zones.push(ForZone {
                            name: "eu-west-1a".into(),
                        });
                    }
                },
                "endpoints[0].hints.forZones[1].name: Duplicate value",
            ),
            (
                "dup port name",
                |s| s.ports[1].name = Some("http".into()),
                "ports[1].name: Duplicate value: \"http\"",
            ),
            (
                "bad protocol",
                |s| s.ports[1].protocol = Some("QUIC".into()),
                "ports[1].protocol: Unsupported value: \"QUIC\"",
            ),
            (
                "no protocol",
                |s| s.ports[1].protocol = None,
                "ports[1].protocol: Required value",
            ),
            (
                "bad port",
                |s| s.ports[0].port = Some(0),
                "ports[0].port: Invalid value: 0",
            ),
        ];
        for (what, edit, want) in cases {
            let mut slice = sample();
            edit(&mut slice);
            let errors = slice.validate().to_string();
            assert!(errors.starts_with(want), "{what}: got {errors:?}");
        }
        let mut fqdn = sample();
        fqdn.address_type = ADDRESS_TYPE_FQDN.into();
        fqdn.endpoints.truncate(1);
        fqdn.endpoints[0].addresses = vec!["kubia-0.kubia.default.svc".into()];
        assert!(fqdn.validate().is_empty(), "{}", fqdn.validate());
    }

    #[test]
    fn address_type_is_immutable() {
        let old = sample();
        let mut new = sample();
        new.address_type = ADDRESS_TYPE_IPV6.into();
        new.endpoints.clear();
        assert_eq!(
            new.validate_update(&old).to_string(),
            "addressType: Invalid value: \"IPv6\": field is immutable"
        );
    }
}
