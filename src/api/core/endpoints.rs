//! [`Endpoints`]: the addresses and ports behind a Service, in the legacy
//! (pre-EndpointSlice) shape still read by many clients.
//!
//! Each subset is the cross product of its addresses and its ports; ready
//! addresses receive traffic, `notReadyAddresses` do not.
use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::net;
use super::ObjectReference;
use crate::api::resource::object;
use crate::api::serde_util::nullable;
use crate::api::validation::{
    is_dns1123_label, is_dns1123_subdomain, is_qualified_name, ErrorList, FieldError, Path,
};
use crate::api::Str;

object! {
    /// The endpoints implementing a Service (same name and namespace).
    pub struct Endpoints {
        /// Groups of addresses sharing the same ports.
        subsets: Vec<EndpointSubset> = "subsets",
    }
    resource {
        group: "",
        version: "v1",
        kind: "Endpoints",
        plural: "endpoints",
        scope: Namespaced,
        short_names: ["ep"],
    }

    fn apply_defaults(&mut self) {
        for subset in &mut self.subsets {
            for port in &mut subset.ports {
                if port.protocol.is_empty() {
                    port.protocol = Str::from_static(net::PROTOCOL_TCP);
                }
            }
        }
    }

    fn validate_fields(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        let subsets = Path::root("subsets");
        for (i, subset) in self.subsets.iter().enumerate() {
            subset.validate(&subsets.index(i), &mut errors);
        }
        errors
    }
}

/// Addresses and the ports they all serve.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSubset {
    /// Ready addresses.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub addresses: Vec<EndpointAddress>,
    /// Addresses not ready yet (or failing readiness).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub not_ready_addresses: Vec<EndpointAddress>,
    /// The ports.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ports: Vec<EndpointPort>,
}

/// One endpoint address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointAddress {
    /// The IP.
    #[serde(default)]
    pub ip: Str,
    /// The hostname (for headless services with `subdomain`).
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub hostname: Str,
    /// The node hosting the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<Str>,
    /// The object (usually a Pod) providing the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<ObjectReference>,
}

/// One endpoint port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointPort {
    /// Matches the service port's name.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub name: Str,
    /// The port number.
    #[serde(default, deserialize_with = "nullable")]
    pub port: i32,
    /// `TCP` (default), `UDP` or `SCTP`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub protocol: Str,
    /// The application protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<Str>,
}

impl EndpointSubset {
    fn validate(&self, path: &Path<'_>, errors: &mut ErrorList) {
        if self.addresses.is_empty() && self.not_ready_addresses.is_empty() {
            errors.push(FieldError::required(
                path,
                "must specify `addresses` or `notReadyAddresses`",
            ));
        }
        for (field, list) in [
            ("addresses", &self.addresses),
            ("notReadyAddresses", &self.not_ready_addresses),
        ] {
            let p = path.child(field);
            for (i, address) in list.iter().enumerate() {
                address.validate(&p.index(i), errors);
            }
        }
        let ports = path.child("ports");
        if self.ports.is_empty() {
            errors.push(FieldError::required(&ports, ""));
        }
        let require_name = self.ports.len() > 1;
        let mut names = HashSet::new();
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
            errors.extend(net::validate_port_num(port.port, &p.child("port")));
            errors.extend(net::validate_protocol(&port.protocol, &p.child("protocol")));
            if let Some(app) = &port.app_protocol {
                for msg in is_qualified_name(app) {
                    errors.push(FieldError::invalid(&p.child("appProtocol"), app, msg));
                }
            }
        }
    }
}

impl EndpointAddress {
    fn validate(&self, path: &Path<'_>, errors: &mut ErrorList) {
        let ip = path.child("ip");
        let problems = net::is_valid_ip(&self.ip);
        if problems.is_empty() {
            if let Some(msg) = non_routable(&self.ip) {
                errors.push(FieldError::invalid(&ip, &self.ip, msg));
            }
        }
        for msg in problems {
            errors.push(FieldError::invalid(&ip, &self.ip, msg));
        }
        if !self.hostname.is_empty() {
            for msg in is_dns1123_label(&self.hostname) {
                errors.push(FieldError::invalid(
                    &path.child("hostname"),
                    &self.hostname,
                    msg,
                ));
            }
        }
        if let Some(node) = &self.node_name {
            for msg in is_dns1123_subdomain(node) {
                errors.push(FieldError::invalid(&path.child("nodeName"), node, msg));
            }
        }
    }
}

/// Why an endpoint IP cannot be used: unspecified, loopback, link-local or
/// multicast addresses do not reach a pod.
fn non_routable(ip: &str) -> Option<&'static str> {
    let addr: std::net::IpAddr = ip.parse().ok()?;
    if addr.is_unspecified() {
        return Some("may not be unspecified (0.0.0.0)");
    }
    if addr.is_loopback() {
        return Some("may not be in the loopback range (127.0.0.0/8, ::1/128)");
    }
    if addr.is_multicast() {
        return Some("may not be in the multicast range (224.0.0.0/4, ff00::/8)");
    }
    let link_local = match addr {
        std::net::IpAddr::V4(v4) => v4.is_link_local(),
        std::net::IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    };
    link_local.then_some("may not be in the link-local range (169.254.0.0/16, fe80::/10)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Resource;

    const SAMPLE: &str = r#"{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"kubia","namespace":"default","labels":{"app":"kubia"}},
      "subsets":[{"addresses":[{"ip":"10.244.1.5","hostname":"kubia-0","nodeName":"node-1",
                  "targetRef":{"kind":"Pod","namespace":"default","name":"kubia-0","uid":"u-5","resourceVersion":"77"}}],
                  "notReadyAddresses":[{"ip":"10.244.2.9","nodeName":"node-2"}],
                  "ports":[{"name":"http","port":8080,"protocol":"TCP","appProtocol":"http"},{"name":"metrics","port":9090,"protocol":"TCP"}]}]}"#;

    #[test]
    fn round_trip_and_validate() {
        let value: serde_json::Value = serde_json::from_str(SAMPLE).unwrap();
        let ep: Endpoints = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&ep).unwrap(), value);
        assert!(ep.validate().is_empty(), "{}", ep.validate());
        assert_eq!(Endpoints::SHORT_NAMES, ["ep"]);
    }

    #[test]
    fn defaults_protocol() {
        let mut ep: Endpoints = serde_json::from_str(
            r#"{"metadata":{"name":"a"},"subsets":[{"addresses":[{"ip":"10.0.0.1"}],"ports":[{"port":80}]}]}"#,
        )
        .unwrap();
        ep.apply_defaults();
        assert_eq!(ep.subsets[0].ports[0].protocol, "TCP");
        assert!(ep.validate().is_empty());
    }

    #[test]
    fn validation_table() {
        type Edit = fn(&mut Endpoints);
        let cases: &[(&str, Edit, &str)] = &[
            ("no addresses", |e| {
                e.subsets[0].addresses.clear();
                e.subsets[0].not_ready_addresses.clear();
            }, "subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`"),
            ("bad ip", |e| e.subsets[0].addresses[0].ip = "10.0.0".into(), "subsets[0].addresses[0].ip: Invalid value: \"10.0.0\""),
            ("loopback", |e| e.subsets[0].not_ready_addresses[0].ip = "127.0.0.1".into(), "subsets[0].notReadyAddresses[0].ip: Invalid value: \"127.0.0.1\": may not be in the loopback range"),
            ("link local", |e| e.subsets[0].addresses[0].ip = "fe80::1".into(), "subsets[0].addresses[0].ip: Invalid value: \"fe80::1\": may not be in the link-local"),
            ("bad hostname", |e| e.subsets[0].addresses[0].hostname = "Kubia_0".into(), "subsets[0].addresses[0].hostname: Invalid value"),
            ("no ports", |e| e.subsets[0].ports.clear(), "subsets[0].ports: Required value"),
            ("unnamed port", |e| e.subsets[0].ports[1].name = "".into(), "subsets[0].ports[1].name: Required value"),
            ("dup port", |e| e.subsets[0].ports[1].name = "http".into(), "subsets[0].ports[1].name: Duplicate value: \"http\""),
            ("bad port", |e| e.subsets[0].ports[0].port = 0, "subsets[0].ports[0].port: Invalid value: 0"),
            ("no protocol", |e| e.subsets[0].ports[0].protocol = "".into(), "subsets[0].ports[0].protocol: Required value"),
            ("bad protocol", |e| e.subsets[0].ports[0].protocol = "tcp".into(), "subsets[0].ports[0].protocol: Unsupported value: \"tcp\""),
        ];
        for (what, edit, want) in cases {
            let mut ep: Endpoints = serde_json::from_str(SAMPLE).unwrap();
            edit(&mut ep);
            let errors = ep.validate().to_string();
            assert!(errors.starts_with(want), "{what}: got {errors:?}");
        }
    }
}
