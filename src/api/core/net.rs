//! Network validators shared by Services, Endpoints, EndpointSlices and
//! Nodes: IP addresses, CIDRs, port numbers and protocols (port names:
//! [`is_valid_port_name`](super::is_valid_port_name)).
//!
//! Each returns the problems found (empty when valid), worded as Kubernetes
//! words them, so callers attach them to a field path.
//!
//! ```
//! use keelson::api::core::net;
//!
//! assert!(net::is_valid_ip("10.0.0.1").is_empty());
//! assert!(!net::is_valid_ip("10.0.0.256").is_empty());
//! assert!(net::is_valid_cidr("10.244.0.0/16").is_empty());
//! assert_eq!(net::ip_family("fd00::1"), Some(net::IPV6));
//! ```
use std::net::IpAddr;

use crate::api::validation::{FieldError, Path};

/// `TCP`: the default protocol of every port.
pub const PROTOCOL_TCP: &str = "TCP";
/// `UDP`.
pub const PROTOCOL_UDP: &str = "UDP";
/// `SCTP`.
pub const PROTOCOL_SCTP: &str = "SCTP";
/// The protocols a port may use.
pub const SUPPORTED_PROTOCOLS: &[&str] = &[PROTOCOL_TCP, PROTOCOL_UDP, PROTOCOL_SCTP];

/// `IPv4`, an IP family (Service `ipFamilies`, EndpointSlice `addressType`).
pub const IPV4: &str = "IPv4";
/// `IPv6`.
pub const IPV6: &str = "IPv6";

/// Problems with `port` as a port number (1–65535).
pub fn is_valid_port_num(port: i32) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec!["must be between 1 and 65535, inclusive".to_string()]
    }
}

/// Problems with `s` as an IP address (v4 or v6).
pub fn is_valid_ip(s: &str) -> Vec<String> {
    match s.parse::<IpAddr>() {
        Ok(_) => Vec::new(),
        Err(_) => vec!["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)".into()],
    }
}

/// The family of an IP address (`IPv4` or `IPv6`), or `None` when `s` is not
/// one.
pub fn ip_family(s: &str) -> Option<&'static str> {
    match s.parse::<IpAddr>().ok()? {
        IpAddr::V4(_) => Some(IPV4),
        IpAddr::V6(_) => Some(IPV6),
    }
}

/// The family of a CIDR, or `None` when `s` is not one.
pub fn cidr_family(s: &str) -> Option<&'static str> {
    let (ip, bits) = s.split_once('/')?;
    if bits.is_empty() || !bits.bytes().all(|c| c.is_ascii_digit()) || bits.len() > 3 {
        return None;
    }
    let bits: u32 = bits.parse().ok()?;
    match ip.parse::<IpAddr>().ok()? {
        IpAddr::V4(_) if bits <= 32 => Some(IPV4),
        IpAddr::V6(_) if bits <= 128 => Some(IPV6),
        _ => None,
    }
}

/// Problems with `s` as a CIDR (`10.0.0.0/8`, `fd00::/64`).
pub fn is_valid_cidr(s: &str) -> Vec<String> {
    match cidr_family(s) {
        Some(_) => Vec::new(),
        None => vec!["must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)".into()],
    }
}

/// Why an endpoint IP cannot be used: unspecified, loopback, link-local or
/// multicast addresses do not reach a pod.
pub fn non_routable(ip: &str) -> Option<&'static str> {
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

/// An error at `path` when `port` is not a valid port number.
pub(crate) fn validate_port_num(port: i32, path: &Path<'_>) -> Option<FieldError> {
    is_valid_port_num(port)
        .into_iter()
        .next()
        .map(|msg| FieldError::invalid(path, port, msg))
}

/// Errors at `path` for a required protocol: missing or unsupported.
pub(crate) fn validate_protocol(protocol: &str, path: &Path<'_>) -> Option<FieldError> {
    if protocol.is_empty() {
        Some(FieldError::required(path, ""))
    } else if !SUPPORTED_PROTOCOLS.contains(&protocol) {
        Some(FieldError::not_supported(
            path,
            protocol,
            SUPPORTED_PROTOCOLS,
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(ip_family("192.168.0.1"), Some(IPV4));
        assert_eq!(ip_family("fd00::1"), Some(IPV6));
        assert_eq!(ip_family("None"), None);
        assert_eq!(cidr_family("10.0.0.0/8"), Some(IPV4));
        assert_eq!(cidr_family("fd00::/64"), Some(IPV6));
        for bad in ["10.0.0.0/33", "10.0.0.0", "10.0.0.0/", "10.0.0.0/+8", "x/8"] {
            assert!(!is_valid_cidr(bad).is_empty(), "{bad}");
        }
        assert!(is_valid_port_num(65535).is_empty());
        assert!(!is_valid_port_num(0).is_empty());
        assert!(!is_valid_port_num(65536).is_empty());
    }
}
