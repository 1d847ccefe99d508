//! The container runtimes: the conformance suite on `FakeRuntime`, on
//! `ProcessRuntime` (network namespaces as root, loopback addresses
//! unprivileged) and on `CriRuntime` against a private containerd (feature
//! `cri`), and a pod serving HTTP on its own IP on each real one.

#[cfg(feature = "cri")]
mod cri;
mod fake;
mod process;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// GETs `path` from `addr` over plain HTTP/1.0, retrying connection
/// failures until `timeout`; returns the status line and body.
pub fn http_get(addr: SocketAddr, path: &str, timeout: Duration) -> (String, String) {
    let deadline = Instant::now() + timeout;
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
            let mut out = String::new();
            stream.read_to_string(&mut out)?;
            Ok(out)
        })();
        match attempt {
            Ok(response) if !response.is_empty() => {
                let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
                let status = head.lines().next().unwrap_or_default().to_string();
                return (status, body.to_string());
            }
            other => {
                assert!(
                    Instant::now() < deadline,
                    "GET http://{addr}{path}: {other:?} after {timeout:?}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// Fails with what to install when a binary is missing.
pub fn require(binary: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(binary).exists()))
        .unwrap_or(false);
    assert!(
        found || std::path::Path::new(binary).exists(),
        "{binary} is missing: install it with `apt-get install -y {package}`"
    );
}
