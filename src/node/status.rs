//! Pod status from what the worker knows: phase, conditions and container
//! statuses, computed purely (no I/O).
use std::time::SystemTime;

use crate::api::core::{
    ContainerState as ApiState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus as ApiStatus, HostIp, Pod, PodCondition, PodIp,
    PodStatus,
};
use crate::api::{Str, Time};
use crate::runtime::{ContainerState, ContainerStatus};

/// What the status needs to know of one container.
#[derive(Debug, Clone, Default)]
pub(crate) struct ContainerView {
    pub(crate) name: Str,
    pub(crate) image: Str,
    /// The current container, as last observed.
    pub(crate) current: Option<ContainerStatus>,
    /// Why it is waiting (no container yet, or a restart pending).
    pub(crate) waiting: Option<(Str, Str)>,
    pub(crate) last_state: Option<ContainerStateTerminated>,
    pub(crate) restart_count: i32,
    pub(crate) ready: bool,
    pub(crate) started: bool,
}

fn time(t: Option<SystemTime>) -> Option<Time> {
    t.map(Time::from)
}

/// The terminated state of an exited runtime container.
pub(crate) fn terminated(s: &ContainerStatus, runtime: &str) -> ContainerStateTerminated {
    let code = s.exit_code.unwrap_or(0);
    ContainerStateTerminated {
        exit_code: code,
        signal: 0,
        reason: Str::from(if s.reason.is_empty() {
            if code == 0 {
                "Completed"
            } else {
                "Error"
            }
        } else {
            s.reason.as_str()
        }),
        message: Str::from(s.message.as_str()),
        started_at: time(s.started_at),
        finished_at: time(s.finished_at),
        container_id: Str::from(format!("{runtime}://{}", s.id)),
    }
}

pub(crate) fn container_status(v: &ContainerView, runtime: &str) -> ApiStatus {
    let mut state = ApiState::default();
    let mut image_id = Str::default();
    let mut container_id = Str::default();
    if let Some(s) = &v.current {
        image_id = Str::from(s.image_ref.as_str());
        container_id = Str::from(format!("{runtime}://{}", s.id));
    }
    match (&v.waiting, &v.current) {
        (Some((reason, message)), _) => {
            state.waiting = Some(ContainerStateWaiting {
                reason: reason.clone(),
                message: message.clone(),
            })
        }
        (None, Some(s)) if s.state == ContainerState::Running => {
            state.running = Some(ContainerStateRunning {
                started_at: time(s.started_at),
            })
        }
        (None, Some(s)) if s.state == ContainerState::Exited => {
            state.terminated = Some(Box::new(terminated(s, runtime)))
        }
        _ => {
            state.waiting = Some(ContainerStateWaiting {
                reason: Str::from_static("ContainerCreating"),
                message: Str::default(),
            })
        }
    }
    if v.waiting.is_some() {
        container_id = Str::default();
    }
    ApiStatus {
        name: v.name.clone(),
        state,
        last_state: ApiState {
            terminated: v.last_state.clone().map(Box::new),
            ..ApiState::default()
        },
        ready: v.ready,
        restart_count: v.restart_count,
        image: v.image.clone(),
        image_id,
        container_id,
        started: Some(v.started),
        ..ApiStatus::default()
    }
}

/// The pod's phase from its container statuses (as the kubelet's
/// `getPhase`), when no terminal phase was decided.
pub(crate) fn phase(pod: &Pod, initialized: bool, statuses: &[ApiStatus]) -> &'static str {
    if !initialized {
        return "Pending";
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for s in statuses {
        if s.state.running.is_some() {
            running += 1;
        } else if let Some(t) = &s.state.terminated {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if s.last_state.terminated.is_some() {
            stopped += 1;
        } else {
            waiting += 1;
        }
    }
    if waiting > 0 {
        return "Pending";
    }
    if running > 0 {
        return "Running";
    }
    if stopped > 0 {
        return match pod.spec.restart_policy.as_str() {
            "Never" if stopped == succeeded => "Succeeded",
            "Never" => "Failed",
            "OnFailure" if stopped == succeeded => "Succeeded",
            _ => "Running",
        };
    }
    "Pending"
}

fn condition(
    old: &[PodCondition],
    type_: &'static str,
    ok: bool,
    reason: &str,
    message: String,
    now: Time,
) -> PodCondition {
    let status = Str::from_static(if ok { "True" } else { "False" });
    let transition = old
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .and_then(|c| c.last_transition_time)
        .unwrap_or(now);
    PodCondition {
        type_: Str::from_static(type_),
        status,
        last_probe_time: None,
        last_transition_time: Some(transition),
        reason: Str::from(reason),
        message: Str::from(message),
    }
}

/// What the worker passes to [`build`].
pub(crate) struct PodView<'a> {
    pub(crate) pod: &'a Pod,
    pub(crate) old: Option<&'a PodStatus>,
    pub(crate) init: &'a [ContainerView],
    pub(crate) apps: &'a [ContainerView],
    pub(crate) initialized: bool,
    /// A phase decided by the worker (`Failed`/`Succeeded`), with reason
    /// and message.
    pub(crate) terminal: Option<&'a (Str, Str, Str)>,
    pub(crate) pod_ip: &'a str,
    pub(crate) host_ip: &'a str,
    pub(crate) start_time: Option<Time>,
    pub(crate) runtime: &'a str,
    pub(crate) now: Time,
}

/// The pod's status.
pub(crate) fn build(v: &PodView<'_>) -> PodStatus {
    let init: Vec<ApiStatus> = v
        .init
        .iter()
        .map(|c| container_status(c, v.runtime))
        .collect();
    let apps: Vec<ApiStatus> = v
        .apps
        .iter()
        .map(|c| container_status(c, v.runtime))
        .collect();
    let old_conditions = v.old.map(|s| &s.conditions[..]).unwrap_or(&[]);
    let (phase, reason, message) = match v.terminal {
        Some((p, r, m)) => (p.clone(), r.clone(), m.clone()),
        None => (
            Str::from_static(phase(v.pod, v.initialized, &apps)),
            Str::default(),
            Str::default(),
        ),
    };
    let terminal = phase == "Succeeded" || phase == "Failed";
    let pending_init: Vec<&str> = v
        .init
        .iter()
        .zip(&init)
        .filter(|(_, s)| s.state.terminated.as_ref().is_none_or(|t| t.exit_code != 0))
        .map(|(c, _)| c.name.as_str())
        .collect();
    let unready: Vec<&str> = v
        .apps
        .iter()
        .filter(|c| !c.ready)
        .map(|c| c.name.as_str())
        .collect();
    let now = v.now;
    let mut conditions = Vec::with_capacity(4);
    conditions.push(condition(
        old_conditions,
        "PodScheduled",
        true,
        "",
        String::new(),
        now,
    ));
    let initialized = v.initialized || (terminal && pending_init.is_empty());
    conditions.push(if initialized {
        condition(old_conditions, "Initialized", true, "", String::new(), now)
    } else {
        condition(
            old_conditions,
            "Initialized",
            false,
            "ContainersNotInitialized",
            format!(
                "containers with incomplete status: [{}]",
                pending_init.join(" ")
            ),
            now,
        )
    });
    let ready = unready.is_empty() && !terminal && initialized;
    let (ready_reason, ready_message) = if ready {
        ("", String::new())
    } else if terminal {
        ("PodCompleted", String::new())
    } else {
        (
            "ContainersNotReady",
            format!("containers with unready status: [{}]", unready.join(" ")),
        )
    };
    conditions.push(condition(
        old_conditions,
        "ContainersReady",
        ready,
        ready_reason,
        ready_message.clone(),
        now,
    ));
    conditions.push(condition(
        old_conditions,
        "Ready",
        ready,
        ready_reason,
        ready_message,
        now,
    ));
    let ip = |s: &str| Str::from(s);
    PodStatus {
        phase,
        conditions,
        message,
        reason,
        host_ip: ip(v.host_ip),
        host_ips: if v.host_ip.is_empty() {
            Vec::new()
        } else {
            vec![HostIp { ip: ip(v.host_ip) }]
        },
        pod_ip: ip(v.pod_ip),
        pod_ips: if v.pod_ip.is_empty() {
            Vec::new()
        } else {
            vec![PodIp { ip: ip(v.pod_ip) }]
        },
        start_time: v.start_time,
        init_container_statuses: init,
        container_statuses: apps,
        qos_class: Str::from_static(v.pod.qos_class().as_str()),
        ..v.old
            .cloned()
            .map(|o| PodStatus {
                nominated_node_name: o.nominated_node_name,
                ..PodStatus::default()
            })
            .unwrap_or_default()
    }
}
