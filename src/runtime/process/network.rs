//! Pod networking of the process runtime: a network namespace per pod on a
//! Linux bridge (root), or a distinct loopback address per pod (anyone).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::runtime::{Error, Result};

/// How pods get their IPs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkMode {
    /// A network namespace per pod, joined to a Linux bridge by a veth pair,
    /// when the process may create them (root with `CAP_NET_ADMIN` and the
    /// `ip` command of iproute2); otherwise [`Loopback`](NetworkMode::Loopback)
    /// with a subnet derived from the bridge's.
    Auto(BridgeConfig),
    /// Always a network namespace per pod on this bridge; fails at start
    /// when that is not possible.
    Bridge(BridgeConfig),
    /// Every pod shares the host's network namespace and gets its own
    /// loopback address from `base` (a `/16` of 127.0.0.0/8): the container
    /// finds it in `POD_IP` and must bind to it.
    Loopback {
        /// The first two octets are kept (e.g. `127.42.0.0`).
        base: Ipv4Addr,
    },
}

impl Default for NetworkMode {
    fn default() -> Self {
        NetworkMode::Auto(BridgeConfig::default())
    }
}

/// The bridge and subnet of [`NetworkMode::Bridge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeConfig {
    /// The bridge's interface name (at most 15 bytes), created at start and
    /// deleted at shutdown. An existing interface of that name is reused.
    pub bridge: String,
    /// The `/24` network (e.g. `10.89.0.0`): the bridge takes `.1`, pods
    /// `.2`–`.254`.
    pub subnet: Ipv4Addr,
}

impl Default for BridgeConfig {
    /// `keelson0` on 10.89.0.0/24 (containerd's default CNI uses 10.88.0.0/16).
    fn default() -> Self {
        BridgeConfig {
            bridge: "keelson0".into(),
            subnet: Ipv4Addr::new(10, 89, 0, 0),
        }
    }
}

impl BridgeConfig {
    /// A bridge name and subnet unlikely to collide with any other runtime:
    /// derived from the process id and a per-process counter. For tests and
    /// for several runtimes in one process.
    pub fn unique() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        BridgeConfig {
            bridge: format!("kb{}x{}", pid % 100_000, n % 1000),
            subnet: Ipv4Addr::new(10, 100 + (pid % 100) as u8, (n % 250) as u8, 0),
        }
    }

    /// The bridge's own address (the pods' gateway).
    pub fn gateway(&self) -> Ipv4Addr {
        let [a, b, c, _] = self.subnet.octets();
        Ipv4Addr::new(a, b, c, 1)
    }
}

/// Runs `ip` with `args`, reporting its stderr on failure.
pub(crate) fn ip(args: &[&str]) -> Result<()> {
    let out = std::process::Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Failed(format!("running `ip` (install iproute2): {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Failed(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// `ip -batch -` with these lines (one `ip` process for several changes).
pub(crate) fn ip_batch(netns: Option<&str>, lines: &[String]) -> Result<()> {
    use std::io::Write;
    let mut cmd = std::process::Command::new("ip");
    if let Some(ns) = netns {
        cmd.args(["-n", ns]);
    }
    let mut child = cmd
        .args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Failed(format!("running `ip` (install iproute2): {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let script = lines.join("\n") + "\n";
        stdin
            .write_all(script.as_bytes())
            .map_err(|e| Error::Failed(format!("ip -batch: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::Failed(format!("ip -batch: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Failed(format!(
            "ip -batch ({}): {}",
            lines.join("; "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Whether this process can create network namespaces and links.
pub(crate) fn can_create_netns() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    root && std::process::Command::new("ip")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Creates (or reuses) the bridge with its gateway address.
pub(crate) fn ensure_bridge(config: &BridgeConfig) -> Result<()> {
    if config.bridge.is_empty() || config.bridge.len() > 15 {
        return Err(Error::InvalidArgument(format!(
            "bridge name {:?} must be 1 to 15 bytes",
            config.bridge
        )));
    }
    let exists = std::path::Path::new("/sys/class/net")
        .join(&config.bridge)
        .exists();
    if !exists {
        ip(&["link", "add", &config.bridge, "type", "bridge"])?;
    }
    let gw = format!("{}/24", config.gateway());
    // `replace` is idempotent, unlike `add`.
    ip(&["addr", "replace", &gw, "dev", &config.bridge])?;
    ip(&["link", "set", &config.bridge, "up"])
}

/// Deletes the bridge (its veths go with their namespaces).
pub(crate) fn delete_bridge(config: &BridgeConfig) {
    if std::path::Path::new("/sys/class/net")
        .join(&config.bridge)
        .exists()
    {
        let _ = ip(&["link", "del", &config.bridge]);
    }
}

/// A pod's network namespace, its veth and address.
#[derive(Debug, Clone)]
pub(crate) struct PodNetwork {
    pub netns: String,
    pub host_veth: String,
}

impl PodNetwork {
    /// `/run/netns/<name>`, the namespace's bind mount.
    pub fn netns_path(&self) -> String {
        format!("/run/netns/{}", self.netns)
    }
}

/// Creates a namespace named after `key` with `ip` on the bridge.
pub(crate) fn create_pod_network(
    config: &BridgeConfig,
    key: &str,
    addr: Ipv4Addr,
) -> Result<PodNetwork> {
    let net = PodNetwork {
        netns: format!("keelson-{key}"),
        host_veth: format!("kv{}", &key[..key.len().min(12)]),
    };
    ip(&["netns", "add", &net.netns])?;
    let host = [
        format!(
            "link add {} type veth peer name eth0 netns {}",
            net.host_veth, net.netns
        ),
        format!("link set {} master {}", net.host_veth, config.bridge),
        format!("link set {} up", net.host_veth),
    ];
    let inside = [
        "link set lo up".to_string(),
        format!("addr add {addr}/24 dev eth0"),
        "link set eth0 up".to_string(),
        format!("route add default via {}", config.gateway()),
    ];
    let made = ip_batch(None, &host).and_then(|()| ip_batch(Some(&net.netns), &inside));
    if let Err(e) = made {
        delete_pod_network(&net);
        return Err(e);
    }
    Ok(net)
}

/// Deletes a pod's namespace and veth. Idempotent.
pub(crate) fn delete_pod_network(net: &PodNetwork) {
    if std::path::Path::new("/sys/class/net")
        .join(&net.host_veth)
        .exists()
    {
        let _ = ip(&["link", "del", &net.host_veth]);
    }
    if std::path::Path::new(&net.netns_path()).exists() {
        let _ = ip(&["netns", "del", &net.netns]);
    }
}

/// Hands out addresses of a pool, lowest first.
#[derive(Debug)]
pub(crate) struct Allocator {
    /// The first three octets (bridge) or two (loopback) are fixed.
    base: Ipv4Addr,
    /// /24 (bridge: `.2`–`.254`) or /16 (loopback: `.0.2`–`.255.254`).
    wide: bool,
    used: BTreeSet<u32>,
}

impl Allocator {
    pub fn bridge(subnet: Ipv4Addr) -> Self {
        Allocator {
            base: subnet,
            wide: false,
            used: BTreeSet::new(),
        }
    }

    pub fn loopback(base: Ipv4Addr) -> Self {
        Allocator {
            base,
            wide: true,
            used: BTreeSet::new(),
        }
    }

    pub fn allocate(&mut self) -> Result<Ipv4Addr> {
        let (mask, last) = if self.wide {
            (0xffff_0000u32, 0xfffe)
        } else {
            (0xffff_ff00u32, 0xfe)
        };
        let net = u32::from(self.base) & mask;
        let free = (2..=last).find(|h| !self.used.contains(h) && h & 0xff != 0 && h & 0xff != 0xff);
        let host = free.ok_or_else(|| Error::Failed("no pod addresses left".into()))?;
        self.used.insert(host);
        Ok(Ipv4Addr::from(net | host))
    }

    pub fn release(&mut self, addr: Ipv4Addr) {
        let mask = if self.wide { 0xffff } else { 0xff };
        self.used.remove(&(u32::from(addr) & mask));
    }
}

/// The host's primary IPv4 address (for host-network pods): the local end of
/// a UDP socket "connected" to an outside address (nothing is sent), or
/// 127.0.0.1.
pub(crate) fn host_ip() -> Ipv4Addr {
    let probe = || -> std::io::Result<Ipv4Addr> {
        let socket = std::net::UdpSocket::bind("0.0.0.0:0")?;
        socket.connect("10.255.255.255:9")?;
        match socket.local_addr()?.ip() {
            std::net::IpAddr::V4(v4) if !v4.is_unspecified() => Ok(v4),
            _ => Ok(Ipv4Addr::LOCALHOST),
        }
    };
    probe().unwrap_or(Ipv4Addr::LOCALHOST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_lowest_free_and_skips_network_and_broadcast() {
        let mut a = Allocator::bridge(Ipv4Addr::new(10, 9, 8, 0));
        assert_eq!(a.allocate().unwrap(), Ipv4Addr::new(10, 9, 8, 2));
        assert_eq!(a.allocate().unwrap(), Ipv4Addr::new(10, 9, 8, 3));
        a.release(Ipv4Addr::new(10, 9, 8, 2));
        assert_eq!(a.allocate().unwrap(), Ipv4Addr::new(10, 9, 8, 2));
        for _ in 4..=254 {
            a.allocate().unwrap();
        }
        assert!(a.allocate().is_err());
        let mut l = Allocator::loopback(Ipv4Addr::new(127, 42, 7, 7));
        assert_eq!(l.allocate().unwrap(), Ipv4Addr::new(127, 42, 0, 2));
    }
}
