//! Property tests over random clusters, through the pure decision core and
//! the cache (as the scheduler uses them, without the API server).
use std::collections::HashMap;
use std::sync::Arc;

use keelson::api::core::Pod;
use keelson::scheduler::framework::CycleState;
use keelson::scheduler::plugins::{self, tolerates, RequiredNodeAffinity};
use keelson::scheduler::{Cache, NodeInfo, PodInfo, ScheduleError, Snapshot};
use proptest::prelude::*;

use super::support::*;

#[derive(Clone, Debug)]
struct NodeSpec {
    cpu: u32,
    mem_gi: u32,
    pods: u32,
    zone: u8,
    tainted: bool,
}

#[derive(Clone, Debug)]
struct PodSpec {
    cpu_m: u32,
    mem_mi: u32,
    tolerates: bool,
    zone_affinity: Option<u8>,
    app: u8,
    anti_host: bool,
    affinity_zone: bool,
}

fn node_spec() -> impl Strategy<Value = NodeSpec> {
    (
        1u32..8,
        1u32..16,
        2u32..12,
        0u8..3,
        prop::bool::weighted(0.25),
    )
        .prop_map(|(cpu, mem_gi, pods, zone, tainted)| NodeSpec {
            cpu,
            mem_gi,
            pods,
            zone,
            tainted,
        })
}

fn pod_spec() -> impl Strategy<Value = PodSpec> {
    (
        0u32..2500,
        0u32..4000,
        any::<bool>(),
        prop::option::weighted(0.3, 0u8..3),
        0u8..4,
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.15),
    )
        .prop_map(
            |(
                cpu_m,
                mem_mi,
                tolerates,
                zone_affinity,
                app,
                anti_host,
                _spread_zone,
                affinity_zone,
            )| PodSpec {
                cpu_m,
                mem_mi,
                tolerates,
                zone_affinity,
                app,
                anti_host,
                affinity_zone,
            },
        )
}

fn build_node(i: usize, s: &NodeSpec) -> keelson::api::core::Node {
    let mut n = label(
        node(
            &format!("n{i}"),
            &s.cpu.to_string(),
            &format!("{}Gi", s.mem_gi),
            s.pods,
        ),
        ZONE,
        &format!("z{}", s.zone),
    );
    if s.tainted {
        n = taint(n, "dedicated", "infra", "NoSchedule");
    }
    n
}

fn build_pod(i: usize, s: &PodSpec) -> Pod {
    let cpu = if s.cpu_m == 0 {
        String::new()
    } else {
        format!("{}m", s.cpu_m)
    };
    let mem = if s.mem_mi == 0 {
        String::new()
    } else {
        format!("{}Mi", s.mem_mi)
    };
    let app = format!("app{}", s.app);
    let mut p = plabel(pod("ns", &format!("p{i}"), &cpu, &mem), "app", &app);
    if s.tolerates {
        p = tolerate(p, "dedicated", "infra", "NoSchedule");
    }
    if let Some(z) = s.zone_affinity {
        p = require_node(p, ZONE, "In", &[&format!("z{z}")]);
    }
    if s.anti_host {
        p = pod_anti_affinity(p, term("app", &app, HOST));
    }
    // Every pod of app0 carries the same spread constraint, so the
    // constraint holds for all pods it counts.
    if s.app == 0 {
        p = spread(p, ZONE, 1, "app", "app0", true);
    }
    if s.affinity_zone && s.app != 0 {
        p = pod_affinity(p, term("app", "app1", ZONE));
    }
    p
}

/// Places pods one by one as the scheduler does (snapshot, schedule,
/// assume); returns the cache.
type Placed = Vec<(Arc<PodInfo>, Option<String>)>;

fn place(nodes: &[NodeSpec], pods: &[PodSpec]) -> (Cache, Placed) {
    place_with(nodes, pods, false)
}

/// `parallel`: Filter and Score on 4 threads even for one node (the
/// threaded path a large cluster takes).
fn place_with(nodes: &[NodeSpec], pods: &[PodSpec], parallel: bool) -> (Cache, Placed) {
    let mut profile = plugins::default_profile("default-scheduler");
    if parallel {
        profile.framework.parallelism = 4;
        profile.framework.parallel_threshold = 1;
    }
    let mut cache = Cache::new();
    for (i, n) in nodes.iter().enumerate() {
        cache.add_node(Arc::new(build_node(i, n)));
    }
    let mut snap = Snapshot::default();
    let mut placed = Vec::new();
    for (i, s) in pods.iter().enumerate() {
        let p = Arc::new(PodInfo::new(Arc::new(build_pod(i, s))));
        cache.update_snapshot(&mut snap);
        match profile
            .framework
            .schedule(&mut CycleState::new(), &p, &snap)
        {
            Ok(r) => {
                let mut bound = (*p.pod).clone();
                bound.spec.node_name = r.node.clone();
                let bound = Arc::new(PodInfo::new(Arc::new(bound)));
                cache.assume_pod(bound.clone(), &r.node);
                placed.push((bound, Some(r.node.to_string())));
            }
            Err(ScheduleError::Fit(_)) => placed.push((p, None)),
            Err(ScheduleError::Error(s)) => panic!("error: {s}"),
        }
    }
    (cache, placed)
}

fn check_invariants(
    cache: &mut Cache,
    placed: &[(Arc<PodInfo>, Option<String>)],
) -> Result<(), TestCaseError> {
    let mut snap = Snapshot::default();
    cache.update_snapshot(&mut snap);
    let ns_labels = None;
    for n in snap.nodes() {
        prop_assert!(
            n.requested.milli_cpu <= n.allocatable.milli_cpu,
            "{} cpu over",
            n.name()
        );
        prop_assert!(
            n.requested.memory <= n.allocatable.memory,
            "{} memory over",
            n.name()
        );
        prop_assert!(
            n.requested.pods <= n.allocatable.pods,
            "{} pods over",
            n.name()
        );
        for p in &n.pods {
            for t in &n.node().spec.taints {
                if t.effect == "NoSchedule" {
                    prop_assert!(
                        p.pod.spec.tolerations.iter().any(|x| tolerates(x, t)),
                        "untolerated taint"
                    );
                }
            }
            let aff = RequiredNodeAffinity::of(p).unwrap();
            prop_assert!(aff.matches(n), "node affinity violated");
            let zone = |ni: &NodeInfo, key: &str| ni.labels().get_str(key).map(str::to_string);
            for t in &p.required_anti_affinity {
                let dom = zone(n, &t.topology_key);
                for m in snap.nodes() {
                    if zone(m, &t.topology_key) != dom || dom.is_none() {
                        continue;
                    }
                    for q in &m.pods {
                        if q.uid != p.uid {
                            prop_assert!(
                                !t.matches(q, ns_labels),
                                "anti-affinity violated: {} and {}",
                                p.key(),
                                q.key()
                            );
                        }
                    }
                }
            }
            for t in &p.required_affinity {
                let dom = zone(n, &t.topology_key);
                let partner = snap.nodes().any(|m| {
                    zone(m, &t.topology_key) == dom
                        && m.pods
                            .iter()
                            .any(|q| q.uid != p.uid && t.matches(q, ns_labels))
                });
                prop_assert!(
                    partner || t.matches(p, ns_labels),
                    "affinity violated for {}",
                    p.key()
                );
            }
        }
    }
    // Spread of app0 over zones, among zones of the nodes: max - min <= 1
    // (every app0 pod has the constraint and no node affinity beyond zones
    // handled below).
    let mut counts: HashMap<String, i64> = HashMap::new();
    for n in snap.nodes() {
        let z = n.labels().get_str(ZONE).unwrap_or_default().to_string();
        let c = n
            .pods
            .iter()
            .filter(|p| p.labels().get_str("app") == Some("app0"))
            .count() as i64;
        *counts.entry(z).or_default() += c;
    }
    let spread_ok = placed
        .iter()
        .filter(|(p, _)| p.labels().get_str("app") == Some("app0"))
        .all(|(p, _)| {
            p.pod
                .spec
                .affinity
                .as_ref()
                .and_then(|a| a.node_affinity.as_ref())
                .is_none()
        });
    if spread_ok && !counts.is_empty() {
        let max = counts.values().max().copied().unwrap_or(0);
        let min = counts.values().min().copied().unwrap_or(0);
        prop_assert!(max - min <= 1, "spread violated: {counts:?}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn bound_pods_respect_every_hard_constraint(
        nodes in prop::collection::vec(node_spec(), 1..12),
        pods in prop::collection::vec(pod_spec(), 1..60),
    ) {
        let (mut cache, placed) = place(&nodes, &pods);
        check_invariants(&mut cache, &placed)?;
    }

    #[test]
    fn threaded_filter_and_score_respect_every_hard_constraint(
        nodes in prop::collection::vec(node_spec(), 1..12),
        pods in prop::collection::vec(pod_spec(), 1..60),
    ) {
        let (mut cache, placed) = place_with(&nodes, &pods, true);
        check_invariants(&mut cache, &placed)?;
    }

    #[test]
    fn preemption_evicts_only_lower_priority_and_then_fits(
        nodes in prop::collection::vec((1u32..4, 2u32..6), 1..6),
        fill in prop::collection::vec((100u32..1000, 0i32..5), 1..40),
        cpu_m in 500u32..3000,
        prio in 0i32..10,
    ) {
        let profile = plugins::default_profile("default-scheduler");
        let fw = &profile.framework;
        let mut cache = Cache::new();
        for (i, (cpu, pods)) in nodes.iter().enumerate() {
            cache.add_node(Arc::new(node(&format!("n{i}"), &cpu.to_string(), "8Gi", *pods)));
        }
        let mut snap = Snapshot::default();
        for (i, (c, pr)) in fill.iter().enumerate() {
            let p = Arc::new(PodInfo::new(Arc::new(priority(pod("ns", &format!("f{i}"), &format!("{c}m"), ""), *pr))));
            cache.update_snapshot(&mut snap);
            if let Ok(r) = fw.schedule(&mut CycleState::new(), &p, &snap) {
                cache.assume_pod(p, &r.node);
            }
        }
        cache.update_snapshot(&mut snap);
        let vip = Arc::new(PodInfo::new(Arc::new(priority(pod("ns", "vip", &format!("{cpu_m}m"), ""), prio))));
        let mut state = CycleState::new();
        match fw.schedule(&mut state, &vip, &snap) {
            Ok(_) => {}
            Err(ScheduleError::Error(s)) => panic!("{s}"),
            Err(ScheduleError::Fit(fit)) => {
                let (res, status) = fw.run_post_filter(&state, &vip, &snap, &fit.statuses);
                if status.is_success() {
                    let node = res.nominated_node.clone().unwrap();
                    prop_assert!(!res.victims.is_empty());
                    for v in &res.victims {
                        prop_assert!(v.priority < vip.priority, "victim of priority {} >= {}", v.priority, vip.priority);
                        prop_assert_eq!(cache.node_of(&v.uid), Some(node.as_str()));
                        cache.remove_pod(&v.uid);
                    }
                    cache.update_snapshot(&mut snap);
                    let r = fw.schedule(&mut CycleState::new(), &vip, &snap);
                    prop_assert!(r.is_ok(), "preemptor does not fit after eviction: {:?}", r.err().map(|e| e.to_string()));
                } else {
                    // No candidate: then even evicting every lower-priority
                    // pod on any node would not make room.
                    for n in snap.nodes() {
                        let free: i64 = n.allocatable.milli_cpu
                            - n.pods.iter().filter(|p| p.priority >= vip.priority).map(|p| p.requests.milli_cpu).sum::<i64>();
                        let slots = n.allocatable.pods - n.pods.iter().filter(|p| p.priority >= vip.priority).count() as i64;
                        prop_assert!(free < cpu_m as i64 || slots < 1, "node {} could have been freed", n.name());
                    }
                }
            }
        }
    }
}
