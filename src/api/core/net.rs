//! Network validators shared by Services, Endpoints, EndpointSlices and
//! Nodes: IP addresses, CIDRs, port numbers, port names and protocols.
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
//! assert!(net::is_valid_port_name("http").is_empty());
//! assert!(!net::is_valid_port_name("http-").is_empty());
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

/// Problems with `name` as a port name: an IANA service name (RFC 6335) of
/// at most 15 lower-case alphanumerics and `-`, with at least one letter and
/// no leading, trailing or doubled `-`.
pub fn is_valid_port_name(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.len() > 15 {
        errs.push("must be no more than 15 characters".to_string());
    }
    if !name
        .bytes()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if name.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if !name.bytes().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if name.starts_with('-') || name.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
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
    fn port_names() {
        let table = [
            ("http", true),
            ("web-8080", true),
            ("8080", false),
            ("-http", false),
            ("ht--tp", false),
            ("HTTP", false),
            ("a-very-long-port-name", false),
        ];
        for (name, ok) in table {
            assert_eq!(is_valid_port_name(name).is_empty(), ok, "{name}");
        }
    }

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
