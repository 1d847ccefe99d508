//! Table-driven tests for each default plugin, through the pure decision
//! core (pod + snapshot in, status / node out).
use std::sync::Arc;

use keelson::api::core::{
    PersistentVolume, PersistentVolumeClaim, PodSchedulingGate, VolumeNodeAffinity,
};
use keelson::api::{ObjectMeta, Str};
use keelson::scheduler::framework::{
    num_feasible_nodes_to_find, Code, CycleState, Filter, PreFilter, Score,
};
use keelson::scheduler::plugins::{self, *};
use keelson::scheduler::{Cache, NodeInfo, PodInfo, ScheduleError, Snapshot};

use super::support::*;

fn run_filter<P: PreFilter + Filter>(
    p: &P,
    pod: &PodInfo,
    nodes: Vec<NodeInfo>,
) -> Vec<(String, Code, String)> {
    let snap = Snapshot::from_nodes(nodes);
    let mut state = CycleState::new();
    let pre = p.pre_filter(&mut state, pod, &snap);
    snap.nodes()
        .map(|n| {
            let s = if pre.is_skip() {
                keelson::scheduler::Status::success()
            } else if !pre.is_success() {
                pre.clone()
            } else {
                p.filter(&state, pod, n)
            };
            (n.name().to_string(), s.code(), s.message())
        })
        .collect()
}

fn schedule(pod: &PodInfo, snap: &Snapshot) -> Result<String, ScheduleError> {
    let profile = plugins::default_profile("default-scheduler");
    profile
        .framework
        .schedule(&mut CycleState::new(), pod, snap)
        .map(|r| r.node.to_string())
}

#[test]
fn node_resources_fit_table() {
    let full = node_info(
        node("full", "1", "1Gi", 110),
        vec![pod("d", "a", "800m", "100Mi")],
    );
    let few_pods = node_info(node("few", "8", "8Gi", 1), vec![pod("d", "b", "", "")]);
    let cases: Vec<(&str, &str, &str, NodeInfo, &[&str])> = vec![
        (
            "fits",
            "100m",
            "100Mi",
            node_info(node("n", "1", "1Gi", 110), vec![]),
            &[],
        ),
        ("cpu", "300m", "", full.clone(), &["Insufficient cpu"]),
        ("memory", "", "2Gi", full.clone(), &["Insufficient memory"]),
        (
            "both",
            "300m",
            "2Gi",
            full.clone(),
            &["Insufficient cpu", "Insufficient memory"],
        ),
        ("pods", "", "", few_pods, &["Too many pods"]),
        ("exact", "200m", "924Mi", full, &[]),
    ];
    for (name, cpu, mem, n, want) in cases {
        let p = PodInfo::new(Arc::new(pod("d", "p", cpu, mem)));
        let s = NodeResourcesFit::default().filter(&CycleState::new(), &p, &n);
        let got: Vec<&str> = s.reasons().iter().map(|r| r.as_ref()).collect();
        assert_eq!(got, want, "case {name}");
        assert_eq!(s.is_success(), want.is_empty(), "case {name}");
    }
}

#[test]
fn resource_scoring_strategies() {
    let empty = node_info(node("empty", "4", "32Gi", 110), vec![]);
    let busy = node_info(
        node("busy", "4", "32Gi", 110),
        vec![pod("d", "x", "3", "16Gi")],
    );
    let p = PodInfo::new(Arc::new(pod("d", "p", "1", "8Gi")));
    let st = CycleState::new();
    let least = NodeResourcesFit::new(ScoringStrategy::LeastAllocated);
    let most = NodeResourcesFit::new(ScoringStrategy::MostAllocated);
    // Least: empty node: cpu (4-1)/4=75, mem (32-8)/32=75 → 75.
    assert_eq!(least.score(&st, &p, &empty).unwrap(), 75);
    assert_eq!(least.score(&st, &p, &busy).unwrap(), 12); // cpu 0, mem 25 → 12
    assert_eq!(most.score(&st, &p, &empty).unwrap(), 25);
    assert_eq!(most.score(&st, &p, &busy).unwrap(), 87); // cpu 100, mem 75
    let ratio = NodeResourcesFit::new(ScoringStrategy::RequestedToCapacityRatio(vec![
        (0, 10),
        (100, 0),
    ]));
    assert_eq!(ratio.score(&st, &p, &empty).unwrap(), 75);
    // Balanced: empty: cpu .25, mem .25 → 100; busy: cpu 1.0, mem .75 → 87.
    assert_eq!(BalancedAllocation.score(&st, &p, &empty).unwrap(), 100);
    assert_eq!(BalancedAllocation.score(&st, &p, &busy).unwrap(), 87);
    // A pod without requests counts as 100m / 200Mi when scoring.
    let none = PodInfo::new(Arc::new(pod("d", "q", "", "")));
    assert_eq!(none.non_zero_milli_cpu, 100);
    assert_eq!(none.requests.milli_cpu, 0);
}

#[test]
fn taint_toleration_table() {
    let tainted = || {
        taint(
            node("t", "4", "8Gi", 110),
            "dedicated",
            "infra",
            "NoSchedule",
        )
    };
    let cases: Vec<(
        &str,
        keelson::api::core::Pod,
        keelson::api::core::Node,
        bool,
    )> = vec![
        (
            "untainted",
            pod("d", "p", "", ""),
            node("n", "4", "8Gi", 110),
            true,
        ),
        ("untolerated", pod("d", "p", "", ""), tainted(), false),
        (
            "equal",
            tolerate(pod("d", "p", "", ""), "dedicated", "infra", "NoSchedule"),
            tainted(),
            true,
        ),
        (
            "wrong value",
            tolerate(pod("d", "p", "", ""), "dedicated", "db", "NoSchedule"),
            tainted(),
            false,
        ),
        (
            "exists",
            tolerate(pod("d", "p", "", ""), "dedicated", "", ""),
            tainted(),
            true,
        ),
        (
            "wrong effect",
            tolerate(pod("d", "p", "", ""), "dedicated", "infra", "NoExecute"),
            tainted(),
            false,
        ),
        (
            "prefer only",
            pod("d", "p", "", ""),
            taint(node("n", "4", "8Gi", 110), "a", "b", "PreferNoSchedule"),
            true,
        ),
        (
            "noexecute",
            pod("d", "p", "", ""),
            taint(node("n", "4", "8Gi", 110), "a", "b", "NoExecute"),
            false,
        ),
    ];
    for (name, p, n, ok) in cases {
        let s = TaintToleration.filter(
            &CycleState::new(),
            &PodInfo::new(Arc::new(p)),
            &node_info(n, vec![]),
        );
        assert_eq!(s.is_success(), ok, "case {name}: {s}");
        if !ok {
            assert_eq!(s.code(), Code::UnschedulableAndUnresolvable);
            assert!(
                s.message().starts_with("node(s) had untolerated taint {"),
                "{s}"
            );
        }
    }
}

#[test]
fn prefer_no_schedule_scores_lower() {
    let snap = Snapshot::from_nodes([
        node_info(
            taint(node("soft", "4", "8Gi", 110), "a", "b", "PreferNoSchedule"),
            vec![],
        ),
        node_info(node("clean", "4", "8Gi", 110), vec![]),
    ]);
    for i in 0..10 {
        let p = info(pod("d", &format!("p{i}"), "100m", "100Mi"));
        assert_eq!(schedule(&p, &snap).unwrap(), "clean");
    }
}

#[test]
fn node_affinity_and_selector_table() {
    let zone_a = || label(node("a", "4", "8Gi", 110), ZONE, "zone-a");
    let cases: Vec<(&str, keelson::api::core::Pod, bool)> = vec![
        ("none", pod("d", "p", "", ""), true),
        (
            "in",
            require_node(pod("d", "p", "", ""), ZONE, "In", &["zone-a", "zone-b"]),
            true,
        ),
        (
            "not in",
            require_node(pod("d", "p", "", ""), ZONE, "NotIn", &["zone-a"]),
            false,
        ),
        (
            "exists",
            require_node(pod("d", "p", "", ""), ZONE, "Exists", &[]),
            true,
        ),
        (
            "does not exist",
            require_node(pod("d", "p", "", ""), ZONE, "DoesNotExist", &[]),
            false,
        ),
        (
            "gt",
            require_node(pod("d", "p", "", ""), "gen", "Gt", &["3"]),
            false,
        ),
        (
            "selector ok",
            {
                let mut p = pod("d", "p", "", "");
                p.spec.node_selector.insert(ZONE, "zone-a");
                p
            },
            true,
        ),
        (
            "selector no",
            {
                let mut p = pod("d", "p", "", "");
                p.spec.node_selector.insert(ZONE, "zone-b");
                p
            },
            false,
        ),
    ];
    for (name, p, ok) in cases {
        let r = run_filter(
            &NodeAffinity,
            &PodInfo::new(Arc::new(p)),
            vec![node_info(zone_a(), vec![])],
        );
        assert_eq!(r[0].1 == Code::Success, ok, "case {name}: {r:?}");
        if !ok {
            assert_eq!(r[0].2, "node(s) didn't match Pod's node affinity/selector");
        }
    }
    let gen = label(node("g", "4", "8Gi", 110), "gen", "5");
    let r = run_filter(
        &NodeAffinity,
        &info(require_node(pod("d", "p", "", ""), "gen", "Gt", &["3"])),
        vec![node_info(gen, vec![])],
    );
    assert_eq!(r[0].1, Code::Success);
}

#[test]
fn preferred_node_affinity_wins() {
    let snap = Snapshot::from_nodes([
        node_info(label(node("a", "4", "8Gi", 110), ZONE, "zone-a"), vec![]),
        node_info(label(node("b", "4", "8Gi", 110), ZONE, "zone-b"), vec![]),
        node_info(label(node("c", "4", "8Gi", 110), ZONE, "zone-c"), vec![]),
    ]);
    for i in 0..10 {
        let p = info(prefer_node(
            pod("d", &format!("p{i}"), "100m", ""),
            ZONE,
            "zone-b",
            50,
        ));
        assert_eq!(schedule(&p, &snap).unwrap(), "b");
    }
}

#[test]
fn node_ports_table() {
    let used = node_info(
        node("n", "4", "8Gi", 110),
        vec![host_port(pod("d", "x", "", ""), 8080)],
    );
    for (port, ok) in [(8080, false), (9090, true)] {
        let r = run_filter(
            &NodePorts,
            &info(host_port(pod("d", "p", "", ""), port)),
            vec![used.clone()],
        );
        assert_eq!(r[0].1 == Code::Success, ok, "port {port}");
    }
    let r = run_filter(&NodePorts, &info(pod("d", "p", "", "")), vec![used]);
    assert_eq!(r[0].1, Code::Success, "no ports: skipped");
}

#[test]
fn unschedulable_node_and_node_name() {
    let mut cordoned = node("c", "4", "8Gi", 110);
    cordoned.spec.unschedulable = true;
    let ni = node_info(cordoned, vec![]);
    let p = info(pod("d", "p", "", ""));
    assert_eq!(
        NodeUnschedulable
            .filter(&CycleState::new(), &p, &ni)
            .message(),
        "node(s) were unschedulable"
    );
    let tol = info(tolerate(
        pod("d", "p", "", ""),
        "node.kubernetes.io/unschedulable",
        "",
        "NoSchedule",
    ));
    assert!(NodeUnschedulable
        .filter(&CycleState::new(), &tol, &ni)
        .is_success());

    let mut named = pod("d", "p", "", "");
    named.spec.node_name = "other".into();
    let s = NodeName.filter(&CycleState::new(), &info(named), &ni);
    assert_eq!(s.message(), "node(s) didn't match the requested node name");
}

#[test]
fn scheduling_gates_hold_the_pod() {
    let mut p = pod("d", "p", "", "");
    p.spec.scheduling_gates.push(PodSchedulingGate {
        name: "example.com/wait".into(),
    });
    let s = keelson::scheduler::framework::PreEnqueue::pre_enqueue(&SchedulingGates, &info(p));
    assert_eq!(s.code(), Code::UnschedulableAndUnresolvable);
    assert_eq!(
        s.message(),
        "waiting for scheduling gates: [example.com/wait]"
    );
    assert!(keelson::scheduler::framework::PreEnqueue::pre_enqueue(
        &SchedulingGates,
        &info(pod("d", "q", "", ""))
    )
    .is_success());
}

#[test]
fn image_locality_prefers_nodes_with_the_image() {
    let mut with = node("with", "4", "8Gi", 110);
    with.status.images.push(keelson::api::core::ContainerImage {
        names: vec!["example.com/big:1".into()],
        size_bytes: 800 * 1024 * 1024,
    });
    let snap = Snapshot::from_nodes([
        node_info(with, vec![]),
        node_info(node("without", "4", "8Gi", 110), vec![]),
    ]);
    let mut p = pod("d", "p", "100m", "");
    p.spec.containers[0].image = "example.com/big:1".into();
    let p = info(p);
    let mut st = CycleState::new();
    let nodes: Vec<&NodeInfo> = snap.nodes().collect();
    assert!(keelson::scheduler::framework::PreScore::pre_score(
        &ImageLocality,
        &mut st,
        &p,
        &snap,
        &nodes
    )
    .is_success());
    let a = ImageLocality
        .score(&st, &p, snap.get("with").unwrap())
        .unwrap();
    let b = ImageLocality
        .score(&st, &p, snap.get("without").unwrap())
        .unwrap();
    assert!(a > b, "{a} > {b}");
    assert_eq!(b, 0);
}

#[test]
fn topology_spread_filter_table() {
    // Zone a has 2 matching pods, zone b 0; maxSkew 1.
    let nodes = || {
        vec![
            node_info(
                label(node("a1", "4", "8Gi", 110), ZONE, "a"),
                vec![
                    plabel(pod("d", "x1", "", ""), "app", "web"),
                    plabel(pod("d", "x2", "", ""), "app", "web"),
                ],
            ),
            node_info(
                label(node("b1", "4", "8Gi", 110), ZONE, "b"),
                vec![plabel(pod("other", "x3", "", ""), "app", "web")],
            ),
            node_info(node("nolabel", "4", "8Gi", 110), vec![]),
        ]
    };
    let p = info(plabel(
        spread(pod("d", "p", "", ""), ZONE, 1, "app", "web", true),
        "app",
        "web",
    ));
    let r = run_filter(&PodTopologySpread, &p, nodes());
    let by: std::collections::HashMap<_, _> = r
        .iter()
        .map(|(n, c, m)| (n.as_str(), (*c, m.as_str())))
        .collect();
    assert_eq!(by["a1"].0, Code::Unschedulable, "{r:?}");
    assert_eq!(
        by["a1"].1,
        "node(s) didn't match pod topology spread constraints"
    );
    assert_eq!(
        by["b1"].0,
        Code::Success,
        "pods of another namespace do not count"
    );
    assert_eq!(by["nolabel"].0, Code::UnschedulableAndUnresolvable);
    // maxSkew 3: zone a is fine too (2 + 1 - 0 = 3).
    let p3 = info(plabel(
        spread(pod("d", "p", "", ""), ZONE, 3, "app", "web", true),
        "app",
        "web",
    ));
    let r = run_filter(&PodTopologySpread, &p3, nodes());
    assert!(
        r.iter()
            .filter(|(n, _, _)| n != "nolabel")
            .all(|(_, c, _)| *c == Code::Success),
        "{r:?}"
    );
    // minDomains 3 with 2 domains: the minimum counts as 0, so zone b
    // (0 + 1 - 0 = 1) is fine, zone a (2 + 1 - 0) is not.
    let mut pm = plabel(
        spread(pod("d", "p", "", ""), ZONE, 2, "app", "web", true),
        "app",
        "web",
    );
    pm.spec.topology_spread_constraints[0].min_domains = Some(3);
    let r = run_filter(&PodTopologySpread, &info(pm), nodes());
    let by: std::collections::HashMap<_, _> = r.iter().map(|(n, c, _)| (n.as_str(), *c)).collect();
    assert_eq!(by["a1"], Code::Unschedulable);
    assert_eq!(by["b1"], Code::Success);
}

#[test]
fn schedule_anyway_spreads() {
    let snap = Snapshot::from_nodes([
        node_info(
            label(node("a1", "4", "8Gi", 110), ZONE, "a"),
            vec![plabel(pod("d", "x1", "", ""), "app", "web")],
        ),
        node_info(label(node("b1", "4", "8Gi", 110), ZONE, "b"), vec![]),
    ]);
    for i in 0..5 {
        let p = info(plabel(
            spread(
                pod("d", &format!("p{i}"), "100m", "100Mi"),
                ZONE,
                1,
                "app",
                "web",
                false,
            ),
            "app",
            "web",
        ));
        assert_eq!(schedule(&p, &snap).unwrap(), "b1");
    }
}

#[test]
fn inter_pod_affinity_table() {
    let nodes = || {
        vec![
            node_info(
                label(node("a1", "4", "8Gi", 110), ZONE, "a"),
                vec![plabel(pod("d", "db", "", ""), "app", "db")],
            ),
            node_info(label(node("a2", "4", "8Gi", 110), ZONE, "a"), vec![]),
            node_info(label(node("b1", "4", "8Gi", 110), ZONE, "b"), vec![]),
        ]
    };
    let codes = |p: keelson::api::core::Pod| {
        run_filter(&InterPodAffinity, &info(p), nodes())
            .into_iter()
            .map(|(n, c, _)| (n, c == Code::Success))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    // Affinity to db in the same zone: a1, a2.
    let r = codes(pod_affinity(
        pod("d", "web", "", ""),
        term("app", "db", ZONE),
    ));
    assert_eq!(
        r,
        [
            ("a1".into(), true),
            ("a2".into(), true),
            ("b1".into(), false)
        ]
        .into()
    );
    // Anti-affinity to db per host: everything but a1.
    let r = codes(pod_anti_affinity(
        pod("d", "web", "", ""),
        term("app", "db", HOST),
    ));
    assert_eq!(
        r,
        [
            ("a1".into(), false),
            ("a2".into(), true),
            ("b1".into(), true)
        ]
        .into()
    );
    // Anti-affinity per zone: only b1.
    let r = codes(pod_anti_affinity(
        pod("d", "web", "", ""),
        term("app", "db", ZONE),
    ));
    assert_eq!(
        r,
        [
            ("a1".into(), false),
            ("a2".into(), false),
            ("b1".into(), true)
        ]
        .into()
    );
    // Another namespace: the term selects pods of the pod's own namespace.
    let r = codes(pod_anti_affinity(
        pod("other", "web", "", ""),
        term("app", "db", ZONE),
    ));
    assert!(r.values().all(|ok| *ok), "{r:?}");
    // ... unless it names the namespace.
    let mut t = term("app", "db", ZONE);
    t.namespaces.push("d".into());
    let r = codes(pod_anti_affinity(pod("other", "web", "", ""), t));
    assert!(r["b1"]);
    assert!(!r["a1"]);
    // Affinity to nothing: not placeable, unless the pod matches itself.
    let r = codes(pod_affinity(
        pod("d", "x", "", ""),
        term("app", "cache", ZONE),
    ));
    assert!(r.values().all(|ok| !ok));
    let r = codes(plabel(
        pod_affinity(pod("d", "x", "", ""), term("app", "cache", ZONE)),
        "app",
        "cache",
    ));
    assert!(r.values().all(|ok| *ok));
}

#[test]
fn existing_pods_anti_affinity_is_honoured() {
    let guard = pod_anti_affinity(
        plabel(pod("d", "guard", "", ""), "app", "guard"),
        term("app", "web", HOST),
    );
    let nodes = vec![
        node_info(label(node("a1", "4", "8Gi", 110), ZONE, "a"), vec![guard]),
        node_info(label(node("a2", "4", "8Gi", 110), ZONE, "a"), vec![]),
    ];
    let r = run_filter(
        &InterPodAffinity,
        &info(plabel(pod("d", "web", "", ""), "app", "web")),
        nodes,
    );
    let by: std::collections::HashMap<_, _> = r
        .iter()
        .map(|(n, c, m)| (n.as_str(), (*c, m.as_str())))
        .collect();
    assert_eq!(
        by["a1"].1,
        "node(s) didn't satisfy existing pods anti-affinity rules"
    );
    assert_eq!(by["a2"].0, Code::Success);
}

#[test]
fn namespace_selector_terms() {
    let mut cache = Cache::new();
    for n in [
        node_info(
            label(node("a1", "4", "8Gi", 110), ZONE, "a"),
            vec![plabel(pod("team-x", "db", "", ""), "app", "db")],
        ),
        node_info(label(node("b1", "4", "8Gi", 110), ZONE, "b"), vec![]),
    ] {
        cache.add_node_info(n);
    }
    cache.update_cluster(|c| {
        let mut l = keelson::api::StringMap::default();
        l.insert("team", "x");
        c.namespaces.insert("team-x".into(), l);
        c.namespaces.insert("d".into(), Default::default());
    });
    let mut snap = Snapshot::default();
    cache.update_snapshot(&mut snap);
    let mut t = term("app", "db", ZONE);
    let mut ns_sel = keelson::api::LabelSelector::default();
    ns_sel.match_labels.insert("team", "x");
    t.namespace_selector = Some(ns_sel);
    let p = info(pod_anti_affinity(pod("d", "web", "100m", ""), t));
    for _ in 0..5 {
        assert_eq!(schedule(&p, &snap).unwrap(), "b1");
    }
}

#[test]
fn volume_binding_follows_pv_node_affinity() {
    let mut cache = Cache::new();
    for n in [
        node_info(label(node("a1", "4", "8Gi", 110), ZONE, "a"), vec![]),
        node_info(label(node("b1", "4", "8Gi", 110), ZONE, "b"), vec![]),
    ] {
        cache.add_node_info(n);
    }
    let mut pv = PersistentVolume {
        metadata: ObjectMeta::named("pv1"),
        ..Default::default()
    };
    let sel = require_node(pod("x", "x", "", ""), ZONE, "In", &["b"])
        .spec
        .affinity
        .and_then(|a| a.node_affinity)
        .and_then(|n| n.required_during_scheduling_ignored_during_execution);
    pv.spec.node_affinity = Some(VolumeNodeAffinity { required: sel });
    let mut pvc = PersistentVolumeClaim {
        metadata: ObjectMeta::namespaced("d", "data"),
        ..Default::default()
    };
    pvc.spec.volume_name = "pv1".into();
    let mut unbound = PersistentVolumeClaim {
        metadata: ObjectMeta::namespaced("d", "later"),
        ..Default::default()
    };
    unbound.spec.volume_name = Str::default();
    cache.update_cluster(|c| {
        c.pvs.insert("pv1".into(), Arc::new(pv));
        c.pvcs.insert("d/data".into(), Arc::new(pvc));
        c.pvcs.insert("d/later".into(), Arc::new(unbound));
    });
    let mut snap = Snapshot::default();
    cache.update_snapshot(&mut snap);
    let with_claim = |claim: &str| {
        let mut p = pod("d", "p", "100m", "");
        let mut v = keelson::api::core::Volume {
            name: "data".into(),
            ..Default::default()
        };
        v.persistent_volume_claim = Some(Box::new(
            keelson::api::core::PersistentVolumeClaimVolumeSource {
                claim_name: claim.into(),
                ..Default::default()
            },
        ));
        p.spec.volumes.push(v);
        info(p)
    };
    for _ in 0..5 {
        assert_eq!(schedule(&with_claim("data"), &snap).unwrap(), "b1");
    }
    let err = schedule(&with_claim("later"), &snap)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims."
    );
    let err = schedule(&with_claim("missing"), &snap)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "0/2 nodes are available: persistentvolumeclaim \"missing\" not found."
    );
}

#[test]
fn failure_message_in_kube_scheduler_style() {
    let mut nodes = Vec::new();
    for i in 0..3 {
        nodes.push(node_info(
            node(&format!("small-{i}"), "1", "8Gi", 110),
            vec![],
        ));
    }
    for i in 0..2 {
        nodes.push(node_info(
            taint(
                node(&format!("infra-{i}"), "16", "64Gi", 110),
                "dedicated",
                "infra",
                "NoSchedule",
            ),
            vec![],
        ));
    }
    let snap = Snapshot::from_nodes(nodes);
    let err = schedule(&info(pod("d", "big", "4", "1Gi")), &snap).unwrap_err();
    assert_eq!(
        err.to_string(),
        "0/5 nodes are available: 3 Insufficient cpu, 2 node(s) had untolerated taint {dedicated: infra}."
    );
    let err = schedule(&info(pod("d", "big", "4", "1Gi")), &Snapshot::default()).unwrap_err();
    assert_eq!(err.to_string(), "no nodes available to schedule pods");
}

#[test]
fn percentage_of_nodes_to_score_and_rotation() {
    assert_eq!(num_feasible_nodes_to_find(99, None), 99);
    assert_eq!(num_feasible_nodes_to_find(1000, None), 420);
    assert_eq!(num_feasible_nodes_to_find(6000, None), 300); // 50 - 48 = 2%, at least 5%
}

#[test]
fn preemption_picks_the_least_harm() {
    // n1: one priority-5 pod using all CPU; n2: two priority-1 pods using
    // all CPU. A priority-10 pod needing all CPU preempts on n2 (lower
    // victims) — the lowest highest-priority victim wins.
    let snap = Snapshot::from_nodes([
        node_info(
            node("n1", "2", "8Gi", 110),
            vec![priority(pod("d", "mid", "2", ""), 5)],
        ),
        node_info(
            node("n2", "2", "8Gi", 110),
            vec![
                priority(pod("d", "low1", "1", ""), 1),
                priority(pod("d", "low2", "1", ""), 1),
            ],
        ),
    ]);
    let profile = plugins::default_profile("default-scheduler");
    let fw = &profile.framework;
    let p = info(priority(pod("d", "vip", "2", ""), 10));
    let mut state = CycleState::new();
    let Err(ScheduleError::Fit(fit)) = fw.schedule(&mut state, &p, &snap) else {
        panic!("should not fit")
    };
    let (res, status) = fw.run_post_filter(&state, &p, &snap, &fit.statuses);
    assert!(status.is_success(), "{status}");
    assert_eq!(res.nominated_node.as_deref(), Some("n2"));
    let mut victims: Vec<_> = res
        .victims
        .iter()
        .map(|v| v.pod.metadata.name.to_string())
        .collect();
    victims.sort();
    assert_eq!(victims, ["low1", "low2"]);

    // Only one victim is needed when half the CPU suffices.
    let half = info(priority(pod("d", "vip2", "1", ""), 10));
    let mut state = CycleState::new();
    let Err(ScheduleError::Fit(fit)) = fw.schedule(&mut state, &half, &snap) else {
        panic!()
    };
    let (res, _) = fw.run_post_filter(&state, &half, &snap, &fit.statuses);
    assert_eq!(res.nominated_node.as_deref(), Some("n2"));
    assert_eq!(res.victims.len(), 1);

    // Equal priority: no victims.
    let peer = info(priority(pod("d", "peer", "2", ""), 1));
    let mut state = CycleState::new();
    let Err(ScheduleError::Fit(fit)) = fw.schedule(&mut state, &peer, &snap) else {
        panic!()
    };
    let (res, status) = fw.run_post_filter(&state, &peer, &snap, &fit.statuses);
    assert!(res.nominated_node.is_none());
    assert!(
        status
            .message()
            .starts_with("preemption: 0/2 nodes are available"),
        "{status}"
    );
}

#[test]
fn preemption_respects_anti_affinity_of_victims() {
    // The victim's anti-affinity blocks the preemptor; evicting it helps.
    let guard = priority(
        pod_anti_affinity(
            plabel(pod("d", "guard", "", ""), "app", "guard"),
            term("app", "vip", HOST),
        ),
        1,
    );
    let snap = Snapshot::from_nodes([node_info(node("n1", "2", "8Gi", 110), vec![guard])]);
    let profile = plugins::default_profile("default-scheduler");
    let fw = &profile.framework;
    let p = info(plabel(
        priority(pod("d", "vip", "100m", ""), 10),
        "app",
        "vip",
    ));
    let mut state = CycleState::new();
    let Err(ScheduleError::Fit(fit)) = fw.schedule(&mut state, &p, &snap) else {
        panic!()
    };
    let (res, status) = fw.run_post_filter(&state, &p, &snap, &fit.statuses);
    assert!(status.is_success(), "{status}");
    assert_eq!(res.victims.len(), 1);
}
