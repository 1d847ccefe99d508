//! Probes and lifecycle hooks: exec (through the runtime), `httpGet` (a
//! minimal HTTP/1.1 GET to the pod IP) and `tcpSocket` (a connect).
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::api::core::{Container, ExecAction, HttpGetAction, Probe, TcpSocketAction};
use crate::api::IntOrString;
use crate::runtime::ContainerRuntime;

/// How a probe or hook went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    Failure(String),
}

impl Outcome {
    pub(crate) fn ok(&self) -> bool {
        matches!(self, Outcome::Success)
    }
}

/// A probe's timing and thresholds, with Kubernetes' defaults filled in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) initial_delay: Duration,
    pub(crate) period: Duration,
    pub(crate) timeout: Duration,
    pub(crate) success_threshold: u32,
    pub(crate) failure_threshold: u32,
}

impl Timing {
    pub(crate) fn of(p: &Probe) -> Timing {
        let secs =
            |v: i32, default: u64| Duration::from_secs(if v > 0 { v as u64 } else { default });
        Timing {
            initial_delay: Duration::from_secs(p.initial_delay_seconds.max(0) as u64),
            period: secs(p.period_seconds, 10),
            timeout: secs(p.timeout_seconds, 1),
            success_threshold: p.success_threshold.max(1) as u32,
            failure_threshold: if p.failure_threshold > 0 {
                p.failure_threshold as u32
            } else {
                3
            },
        }
    }
}

fn resolve_port(port: &IntOrString, container: &Container) -> Result<u16, String> {
    let n = match port {
        IntOrString::Int(n) => *n,
        IntOrString::String(name) => match name.parse::<i32>() {
            Ok(n) => n,
            Err(_) => container
                .ports
                .iter()
                .find(|p| p.name == *name)
                .map(|p| p.container_port)
                .ok_or_else(|| format!("port {name:?} not found in the container"))?,
        },
    };
    u16::try_from(n)
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("invalid port {n}"))
}

pub(crate) async fn exec(
    runtime: &dyn ContainerRuntime,
    id: &str,
    action: &ExecAction,
    timeout: Duration,
) -> Outcome {
    let cmd: Vec<String> = action.command.iter().map(|s| s.to_string()).collect();
    match tokio::time::timeout(timeout, runtime.exec_sync(id, &cmd, timeout)).await {
        Err(_) => Outcome::Failure(format!("command timed out after {timeout:?}")),
        Ok(Err(e)) => Outcome::Failure(e.to_string()),
        Ok(Ok(r)) if r.exit_code == 0 => Outcome::Success,
        Ok(Ok(r)) => Outcome::Failure(format!(
            "command {:?} exited with {}: {}",
            cmd.join(" "),
            r.exit_code,
            String::from_utf8_lossy(&r.stdout)
        )),
    }
}

pub(crate) async fn http_get(
    action: &HttpGetAction,
    container: &Container,
    pod_ip: &str,
    timeout: Duration,
) -> Outcome {
    let port = match resolve_port(&action.port, container) {
        Ok(p) => p,
        Err(e) => return Outcome::Failure(e),
    };
    if action.scheme.eq_ignore_ascii_case("https") {
        return Outcome::Failure("https probes are not supported".to_string());
    }
    let host = if action.host.is_empty() {
        pod_ip
    } else {
        action.host.as_str()
    };
    let path = if action.path.is_empty() {
        "/"
    } else {
        action.path.as_str()
    };
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: kube-probe/1.33\r\nAccept: */*\r\nConnection: close\r\n"
    );
    for h in &action.http_headers {
        if h.name.contains(['\r', '\n']) || h.value.contains(['\r', '\n']) {
            continue;
        }
        request.push_str(&format!("{}: {}\r\n", h.name, h.value));
    }
    request.push_str("\r\n");
    let attempt = async {
        let mut stream = TcpStream::connect((host, port))
            .await
            .map_err(|e| format!("dial tcp {host}:{port}: {e}"))?;
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut head = Vec::new();
        let mut buf = [0u8; 512];
        while !head.contains(&b'\n') && head.len() < 4096 {
            let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        let line = String::from_utf8_lossy(&head);
        let code: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("malformed HTTP response {:?}", line.lines().next()))?;
        Ok::<u16, String>(code)
    };
    match tokio::time::timeout(timeout, attempt).await {
        Err(_) => Outcome::Failure(format!("Get http://{host}:{port}{path}: timeout")),
        Ok(Err(e)) => Outcome::Failure(e),
        Ok(Ok(code)) if (200..400).contains(&code) => Outcome::Success,
        Ok(Ok(code)) => Outcome::Failure(format!("HTTP probe failed with statuscode: {code}")),
    }
}

pub(crate) async fn tcp_socket(
    action: &TcpSocketAction,
    container: &Container,
    pod_ip: &str,
    timeout: Duration,
) -> Outcome {
    let port = match resolve_port(&action.port, container) {
        Ok(p) => p,
        Err(e) => return Outcome::Failure(e),
    };
    let host = if action.host.is_empty() {
        pod_ip
    } else {
        action.host.as_str()
    };
    match tokio::time::timeout(timeout, TcpStream::connect((host, port))).await {
        Err(_) => Outcome::Failure(format!("dial tcp {host}:{port}: i/o timeout")),
        Ok(Err(e)) => Outcome::Failure(format!("dial tcp {host}:{port}: {e}")),
        Ok(Ok(_)) => Outcome::Success,
    }
}

/// Runs a probe once.
pub(crate) async fn run(
    runtime: &dyn ContainerRuntime,
    id: &str,
    probe: &Probe,
    container: &Container,
    pod_ip: &str,
) -> Outcome {
    let timeout = Timing::of(probe).timeout;
    if let Some(a) = &probe.exec {
        exec(runtime, id, a, timeout).await
    } else if let Some(a) = &probe.http_get {
        http_get(a, container, pod_ip, timeout).await
    } else if let Some(a) = &probe.tcp_socket {
        tcp_socket(a, container, pod_ip, timeout).await
    } else {
        Outcome::Failure("grpc probes are not supported by this node".to_string())
    }
}

/// Runs a lifecycle hook (postStart, preStop), at most `budget` long.
pub(crate) async fn hook(
    runtime: &dyn ContainerRuntime,
    id: &str,
    handler: &crate::api::core::LifecycleHandler,
    container: &Container,
    pod_ip: &str,
    budget: Duration,
) -> Outcome {
    if let Some(a) = &handler.exec {
        exec(runtime, id, a, budget).await
    } else if let Some(a) = &handler.http_get {
        http_get(a, container, pod_ip, budget).await
    } else if let Some(a) = &handler.tcp_socket {
        tcp_socket(a, container, pod_ip, budget).await
    } else if let Some(s) = &handler.sleep {
        tokio::time::sleep(Duration::from_secs(s.seconds.max(0) as u64).min(budget)).await;
        Outcome::Success
    } else {
        Outcome::Success
    }
}
