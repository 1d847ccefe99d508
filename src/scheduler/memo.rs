//! Per-node aggregates kept from one scheduling cycle to the next.
//!
//! PodTopologySpread and InterPodAffinity sum, over every node, how many
//! pods match a pod's selectors in each topology domain. kube-scheduler
//! recomputes those sums from all pods of the cluster in every cycle; with
//! 5,000 nodes and 10,000 pods that is most of a cycle. Here a
//! [`Snapshot`](super::Snapshot) keeps, per *question* (a string naming
//! everything the answer depends on besides the nodes: the pod's
//! namespace, selectors, terms, …), each node's contribution and the
//! totals. The next cycle asking the same question recomputes only the
//! nodes whose `NodeInfo` changed (the snapshot replaces a node's `Arc`
//! whenever its pods or labels change), so a cycle costs a pointer
//! comparison per node plus the work for the one or two nodes the previous
//! binding touched.
//!
//! The answer is exactly the full recomputation's: a node whose `Arc` is
//! the one its contribution was computed from has the same pods and
//! labels, and the cluster objects (namespace labels) are part of the
//! check.
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, Weak};

use super::cache::ClusterObjects;
use super::info::NodeInfo;
use crate::api::Str;

/// One node's contribution: `(key, domain, amount)` entries, where `key`
/// names the count (a topology key, or a constraint's index) and `domain`
/// is the node's value for it.
pub(crate) type Part = Vec<(Str, Str, i64)>;

/// Totals: key → domain → (sum of amounts, entries contributing). A
/// domain is present while at least one entry names it, even at sum 0.
pub(crate) type Totals = HashMap<Str, HashMap<Str, (i64, u32)>>;

/// How many questions a snapshot remembers (least recently asked first
/// out).
const CAPACITY: usize = 32;

#[derive(Default)]
struct Aggregate {
    /// Per snapshot slot: the node version the part was computed from
    /// (weak: an old version's pods are not kept alive; its allocation is,
    /// so the address cannot be reused while compared) and the part.
    slots: Vec<Option<(Weak<NodeInfo>, Part)>>,
    totals: Totals,
    cluster: usize,
    used: u64,
}

impl Aggregate {
    fn add(&mut self, part: &Part, sign: i64) {
        for (key, domain, amount) in part {
            if sign > 0 {
                let inner = match self.totals.get_mut(key.as_str()) {
                    Some(m) => m,
                    None => self.totals.entry(key.clone()).or_default(),
                };
                match inner.get_mut(domain.as_str()) {
                    Some(e) => {
                        e.0 += amount;
                        e.1 += 1;
                    }
                    None => {
                        inner.insert(domain.clone(), (*amount, 1));
                    }
                }
            } else if let Some(inner) = self.totals.get_mut(key.as_str()) {
                if let Some(e) = inner.get_mut(domain.as_str()) {
                    e.0 -= amount;
                    e.1 -= 1;
                    if e.1 == 0 {
                        inner.remove(domain.as_str());
                    }
                }
                if inner.is_empty() {
                    self.totals.remove(key.as_str());
                }
            }
        }
    }
}

/// The remembered aggregates of a snapshot (shared by its clones).
#[derive(Default)]
pub(crate) struct Memo {
    inner: Mutex<(u64, HashMap<String, Aggregate>)>,
}

impl fmt::Debug for Memo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.inner.lock().map(|g| g.1.len()).unwrap_or(0);
        f.debug_struct("Memo").field("questions", &n).finish()
    }
}

impl Memo {
    /// The totals of `part` over `nodes` for the question `key`, brought
    /// up to date from the last time it was asked, read by `read`.
    pub(crate) fn totals<R>(
        &self,
        key: String,
        nodes: &[Arc<NodeInfo>],
        cluster: &Arc<ClusterObjects>,
        mut part: impl FnMut(&NodeInfo) -> Part,
        read: impl FnOnce(&Totals) -> R,
    ) -> R {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (tick, map) = &mut *g;
        *tick += 1;
        let now = *tick;
        if !map.contains_key(&key) && map.len() >= CAPACITY {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, a)| a.used)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        let agg = map.entry(key).or_default();
        agg.used = now;
        let cluster_id = Arc::as_ptr(cluster) as usize;
        if agg.cluster != cluster_id {
            *agg = Aggregate {
                cluster: cluster_id,
                used: now,
                ..Aggregate::default()
            };
        }
        if agg.slots.len() < nodes.len() {
            agg.slots.resize_with(nodes.len(), || None);
        }
        for (i, node) in nodes.iter().enumerate() {
            if let Some((seen, _)) = &agg.slots[i] {
                if std::ptr::eq(seen.as_ptr(), Arc::as_ptr(node)) {
                    continue;
                }
            }
            let new = part(node);
            if let Some((_, old)) = agg.slots[i].take() {
                agg.add(&old, -1);
            }
            agg.add(&new, 1);
            agg.slots[i] = Some((Arc::downgrade(node), new));
        }
        while agg.slots.len() > nodes.len() {
            if let Some(Some((_, old))) = agg.slots.pop() {
                agg.add(&old, -1);
            }
        }
        read(&agg.totals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::core::Node;
    use crate::api::ObjectMeta;

    fn node(name: &str, zone: &str) -> Arc<NodeInfo> {
        let mut n = Node {
            metadata: ObjectMeta::named(name),
            ..Default::default()
        };
        n.metadata.labels.insert("zone", zone);
        Arc::new(NodeInfo::new(Arc::new(n)))
    }

    /// One per node, in its zone.
    fn zones(
        memo: &Memo,
        nodes: &[Arc<NodeInfo>],
        cluster: &Arc<ClusterObjects>,
    ) -> Vec<(String, i64, u32)> {
        let mut calls = 0;
        let mut out = memo.totals(
            "zones".to_string(),
            nodes,
            cluster,
            |n| {
                calls += 1;
                let zone = n.labels().get("zone").cloned().unwrap_or_default();
                vec![(Str::from("zone"), zone, 1)]
            },
            |t| {
                t.get("zone")
                    .map(|m| {
                        m.iter()
                            .map(|(d, (s, c))| (d.to_string(), *s, *c))
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            },
        );
        out.sort();
        out.insert(0, ("calls".into(), calls, 0));
        out
    }

    #[test]
    fn totals_follow_changed_nodes_only_and_match_a_recount() {
        let memo = Memo::default();
        let cluster = Arc::new(ClusterObjects::default());
        let mut nodes = vec![node("a", "z1"), node("b", "z1"), node("c", "z2")];
        let first = zones(&memo, &nodes, &cluster);
        assert_eq!(
            first,
            [
                ("calls".into(), 3, 0),
                ("z1".into(), 2, 2),
                ("z2".into(), 1, 1)
            ]
        );
        // Unchanged: nothing recomputed.
        assert_eq!(zones(&memo, &nodes, &cluster)[0], ("calls".into(), 0, 0));
        // One node moves zone, one is removed: only the moved one is asked
        // again, and the totals are a full recount's.
        nodes[0] = node("a", "z2");
        nodes.pop();
        let after = zones(&memo, &nodes, &cluster);
        let fresh = zones(&Memo::default(), &nodes, &cluster);
        assert_eq!(after[0], ("calls".into(), 1, 0));
        assert_eq!(after[1..], fresh[1..]);
        assert_eq!(after[1..], [("z1".into(), 1, 1), ("z2".into(), 1, 1)]);
        // Other cluster objects: everything is recomputed.
        let other = Arc::new(ClusterObjects::default());
        assert_eq!(zones(&memo, &nodes, &other)[0], ("calls".into(), 2, 0));
    }
}
