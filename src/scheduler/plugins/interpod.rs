//! InterPodAffinity: required pod affinity and anti-affinity filter nodes
//! (by the topology domain of the pods the terms select); preferred terms
//! score them. Existing pods' required anti-affinity is honoured too: a
//! pod may not land in a domain where a running pod's anti-affinity term
//! selects it.
//!
//! Terms apply to the namespaces listed, or selected by
//! `namespaceSelector` (an empty selector: every namespace), or else the
//! pod's own namespace. A pod whose required affinity selects no pod
//! anywhere may still be placed if it matches its own terms (the first of
//! a group).
use std::collections::HashMap;
use std::sync::Arc;

use crate::api::Str;
use crate::scheduler::cache::{ClusterObjects, Snapshot};
use crate::scheduler::framework::{
    ClusterEvent, Code, CycleState, Filter, Plugin, PreFilter, PreScore, Score, Status,
    MAX_NODE_SCORE,
};
use crate::scheduler::info::{AffinityTerm, NodeInfo, PodInfo};

type Counts = HashMap<Str, HashMap<Str, i64>>;

fn bump(counts: &mut Counts, key: &Str, value: &Str, by: i64) {
    let inner = match counts.get_mut(key.as_str()) {
        Some(m) => m,
        None => counts.entry(key.clone()).or_default(),
    };
    match inner.get_mut(value.as_str()) {
        Some(c) => *c += by,
        None => {
            inner.insert(value.clone(), by);
        }
    }
}

fn count(counts: &Counts, key: &str, value: &str) -> i64 {
    counts
        .get(key)
        .and_then(|m| m.get(value))
        .copied()
        .unwrap_or(0)
}

/// Pod affinity and anti-affinity.
#[derive(Clone, Copy, Debug, Default)]
pub struct InterPodAffinity;

impl Plugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        super::INTER_POD_AFFINITY
    }
    fn events(&self) -> &'static [ClusterEvent] {
        &[
            ClusterEvent::AssignedPodAdd,
            ClusterEvent::AssignedPodUpdate,
            ClusterEvent::AssignedPodDelete,
            ClusterEvent::NodeAdd,
            ClusterEvent::NodeUpdate,
            ClusterEvent::NamespaceChange,
        ]
    }
}

#[derive(Clone)]
struct FilterState {
    existing_anti: Counts,
    affinity: Counts,
    anti: Counts,
    cluster: Arc<ClusterObjects>,
}

fn matches_all(terms: &[AffinityTerm], pod: &PodInfo, cluster: &ClusterObjects) -> bool {
    let ns = cluster.namespaces.get(pod.namespace());
    !terms.is_empty() && terms.iter().all(|t| t.matches(pod, ns))
}

impl FilterState {
    /// Adds (`by = 1`) or removes (`-1`) `other` on `node` from the counts.
    fn account(&mut self, pod: &PodInfo, other: &PodInfo, node: &NodeInfo, by: i64) {
        let labels = node.labels();
        let pod_ns = self.cluster.namespaces.get(pod.namespace()).cloned();
        for t in &other.required_anti_affinity {
            if t.matches(pod, pod_ns.as_ref()) {
                if let Some(v) = labels.get(&t.topology_key) {
                    bump(&mut self.existing_anti, &t.topology_key, v, by);
                }
            }
        }
        let other_ns = self.cluster.namespaces.get(other.namespace()).cloned();
        if matches_all(&pod.required_affinity, other, &self.cluster) {
            for t in &pod.required_affinity {
                if let Some(v) = labels.get(&t.topology_key) {
                    bump(&mut self.affinity, &t.topology_key, v, by);
                }
            }
        }
        for t in &pod.required_anti_affinity {
            if t.matches(other, other_ns.as_ref()) {
                if let Some(v) = labels.get(&t.topology_key) {
                    bump(&mut self.anti, &t.topology_key, v, by);
                }
            }
        }
    }
}

fn has_any(c: &Counts) -> bool {
    c.values().any(|m| m.values().any(|v| *v > 0))
}

impl PreFilter for InterPodAffinity {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snapshot: &Snapshot) -> Status {
        if let Some(e) = &pod.parse_error {
            return Status::unresolvable(format!("invalid pod affinity: {e}"));
        }
        let cluster = snapshot.cluster_arc();
        let pod_ns = cluster.namespaces.get(pod.namespace());
        let mut st = FilterState {
            existing_anti: Counts::new(),
            affinity: Counts::new(),
            anti: Counts::new(),
            cluster: cluster.clone(),
        };
        if snapshot
            .nodes_with_required_anti_affinity_pods()
            .next()
            .is_some()
        {
            // Existing pods' required anti-affinity terms that select this
            // pod: they depend on its namespace and labels.
            let question = format!(
                "InterPodAffinity/existing-anti\0{}\0{:?}",
                pod.namespace(),
                pod.labels()
            );
            st.existing_anti = snapshot.domain_totals(
                question,
                |node| {
                    let mut part = Vec::new();
                    if node.pods_with_required_anti_affinity == 0 {
                        return part;
                    }
                    let labels = node.labels();
                    for other in &node.pods {
                        for t in &other.required_anti_affinity {
                            if t.matches(pod, pod_ns) {
                                if let Some(v) = labels.get(&t.topology_key) {
                                    part.push((t.topology_key.clone(), v.clone(), 1));
                                }
                            }
                        }
                    }
                    part
                },
                counts_of,
            );
        }
        if !pod.required_affinity.is_empty() {
            // Pods matching all of this pod's required affinity terms.
            let question = format!(
                "InterPodAffinity/affinity\0{}\0{:?}",
                pod.namespace(),
                pod.required_affinity
            );
            st.affinity = snapshot.domain_totals(
                question,
                |node| {
                    let mut part = Vec::new();
                    let labels = node.labels();
                    for other in &node.pods {
                        let other_ns = cluster.namespaces.get(other.namespace());
                        if pod
                            .required_affinity
                            .iter()
                            .all(|t| t.matches(other, other_ns))
                        {
                            for t in &pod.required_affinity {
                                if let Some(v) = labels.get(&t.topology_key) {
                                    part.push((t.topology_key.clone(), v.clone(), 1));
                                }
                            }
                        }
                    }
                    part
                },
                counts_of,
            );
        }
        if !pod.required_anti_affinity.is_empty() {
            // Pods matching any of this pod's required anti-affinity terms.
            let question = format!(
                "InterPodAffinity/anti\0{}\0{:?}",
                pod.namespace(),
                pod.required_anti_affinity
            );
            st.anti = snapshot.domain_totals(
                question,
                |node| {
                    let mut part = Vec::new();
                    let labels = node.labels();
                    for other in &node.pods {
                        let other_ns = cluster.namespaces.get(other.namespace());
                        for t in &pod.required_anti_affinity {
                            if t.matches(other, other_ns) {
                                if let Some(v) = labels.get(&t.topology_key) {
                                    part.push((t.topology_key.clone(), v.clone(), 1));
                                }
                            }
                        }
                    }
                    part
                },
                counts_of,
            );
        }
        let has_required =
            !pod.required_affinity.is_empty() || !pod.required_anti_affinity.is_empty();
        if !has_required && st.existing_anti.is_empty() {
            return Status::skip();
        }
        state.write(st);
        Status::success()
    }

    fn add_pod(&self, state: &mut CycleState, pod: &PodInfo, other: &PodInfo, node: &NodeInfo) {
        if let Some(st) = state.read_mut::<FilterState>() {
            st.account(pod, other, node, 1);
        }
    }

    fn remove_pod(&self, state: &mut CycleState, pod: &PodInfo, other: &PodInfo, node: &NodeInfo) {
        if let Some(st) = state.read_mut::<FilterState>() {
            st.account(pod, other, node, -1);
        }
    }
}

impl Filter for InterPodAffinity {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(st) = state.read::<FilterState>() else {
            return Status::success();
        };
        let labels = node.labels();
        for (key, values) in &st.existing_anti {
            if let Some(v) = labels.get_str(key) {
                if values.get(v).is_some_and(|c| *c > 0) {
                    return Status::unschedulable(
                        "node(s) didn't satisfy existing pods anti-affinity rules",
                    );
                }
            }
        }
        for t in &pod.required_anti_affinity {
            if let Some(v) = labels.get_str(&t.topology_key) {
                if count(&st.anti, &t.topology_key, v) > 0 {
                    return Status::unschedulable("node(s) didn't match pod anti-affinity rules");
                }
            }
        }
        if !pod.required_affinity.is_empty() {
            let mut pods_exist = true;
            for t in &pod.required_affinity {
                match labels.get_str(&t.topology_key) {
                    None => {
                        return Status::new(
                            Code::UnschedulableAndUnresolvable,
                            "node(s) didn't match pod affinity rules",
                        )
                    }
                    Some(v) => {
                        if count(&st.affinity, &t.topology_key, v) <= 0 {
                            pods_exist = false;
                        }
                    }
                }
            }
            if !pods_exist
                && (has_any(&st.affinity) || !matches_all(&pod.required_affinity, pod, &st.cluster))
            {
                return Status::unresolvable("node(s) didn't match pod affinity rules");
            }
        }
        Status::success()
    }
}

#[derive(Clone)]
struct ScoreState(Counts);

impl PreScore for InterPodAffinity {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        _nodes: &[&NodeInfo],
    ) -> Status {
        let has_preferred =
            !pod.preferred_affinity.is_empty() || !pod.preferred_anti_affinity.is_empty();
        if !has_preferred && snapshot.nodes_with_affinity_pods().next().is_none() {
            return Status::skip();
        }
        let cluster = snapshot.cluster_arc();
        let pod_ns = cluster.namespaces.get(pod.namespace());
        // This pod's preferred terms over the existing pods, and the
        // existing pods' terms over this pod: they depend on its
        // namespace, labels and preferred terms.
        let question = format!(
            "InterPodAffinity/score\0{}\0{:?}\0{:?}\0{:?}",
            pod.namespace(),
            pod.labels(),
            pod.preferred_affinity,
            pod.preferred_anti_affinity
        );
        let scores = snapshot.domain_totals(
            question,
            |node| {
                let mut part = Vec::new();
                if !has_preferred && node.pods_with_affinity == 0 {
                    return part;
                }
                let labels = node.labels();
                let mut add = |t: &AffinityTerm, sign: i64| {
                    if let Some(v) = labels.get(&t.topology_key) {
                        part.push((t.topology_key.clone(), v.clone(), sign * t.weight));
                    }
                };
                for other in &node.pods {
                    let other_ns = cluster.namespaces.get(other.namespace());
                    for (terms, sign) in [
                        (&pod.preferred_affinity, 1),
                        (&pod.preferred_anti_affinity, -1),
                    ] {
                        for t in terms {
                            if t.matches(other, other_ns) {
                                add(t, sign);
                            }
                        }
                    }
                    if other.has_affinity() {
                        for (terms, sign) in [
                            (&other.required_affinity, 1),
                            (&other.preferred_affinity, 1),
                            (&other.preferred_anti_affinity, -1),
                        ] {
                            for t in terms {
                                if t.matches(pod, pod_ns) {
                                    add(t, sign);
                                }
                            }
                        }
                    }
                }
                part
            },
            counts_of,
        );
        if scores.is_empty() {
            return Status::skip();
        }
        state.write(ScoreState(scores));
        Status::success()
    }
}

/// The plugin's counts from the snapshot's remembered totals (domains whose
/// sum is zero left out).
fn counts_of(totals: &crate::scheduler::memo::Totals) -> Counts {
    totals
        .iter()
        .map(|(k, m)| {
            let inner: HashMap<Str, i64> = m
                .iter()
                .filter(|(_, (n, _))| *n != 0)
                .map(|(d, (n, _))| (d.clone(), *n))
                .collect();
            (k.clone(), inner)
        })
        .filter(|(_, m)| !m.is_empty())
        .collect()
}

impl Score for InterPodAffinity {
    fn score(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let Some(st) = state.read::<ScoreState>() else {
            return Ok(0);
        };
        let labels = node.labels();
        Ok(st
            .0
            .iter()
            .filter_map(|(k, m)| labels.get_str(k).and_then(|v| m.get(v)))
            .sum())
    }

    /// Min-max to `0..=100`.
    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, scores: &mut [i64]) -> Status {
        let min = scores.iter().copied().min().unwrap_or(0);
        let max = scores.iter().copied().max().unwrap_or(0);
        for s in scores.iter_mut() {
            *s = if max == min {
                0
            } else {
                MAX_NODE_SCORE * (*s - min) / (max - min)
            };
        }
        Status::success()
    }
}
