//! The DaemonSet controller: one pod of a DaemonSet's template on every
//! eligible node, as Kubernetes' `pkg/controller/daemon` does.
//!
//! Each reconcile of a DaemonSet:
//!
//! 1. makes sure a **ControllerRevision** `<ds>-<hash>` holds the current
//!    template (the hash is [`template_hash`] of the template and
//!    `status.collisionCount`); its number is one above the highest
//!    existing revision; revisions beyond `revisionHistoryLimit` (default
//!    10) that no pod uses are deleted;
//! 2. decides per node whether a daemon pod **should run** there: the
//!    template's `nodeSelector` and required node affinity match the node,
//!    and every `NoSchedule`/`NoExecute` taint is tolerated — by the
//!    template's tolerations plus the ones Kubernetes adds to every daemon
//!    pod ([`default_tolerations`]: `not-ready` and `unreachable`
//!    `NoExecute`; `disk-pressure`, `memory-pressure`, `pid-pressure` and
//!    `unschedulable` `NoSchedule`; `network-unavailable` for
//!    `hostNetwork` pods). An unschedulable node counts as tainted
//!    `node.kubernetes.io/unschedulable:NoSchedule`, which daemon pods
//!    tolerate;
//! 3. creates the missing pods — each pinned to its node with required
//!    node affinity on `metadata.name` (so the scheduler binds it there),
//!    labelled `controller-revision-hash` and `pod-template-generation`, and
//!    with the default tolerations. With [`Config::bind_directly`] the
//!    controller also binds each pod itself (`pods/binding`), for clusters
//!    without a scheduler. It deletes pods on nodes that should not run
//!    one (or are gone), failed pods (they are replaced), and surplus pods
//!    on one node;
//! 4. **updates**: with `RollingUpdate`, old-revision pods are replaced
//!    node by node — with `maxSurge: 0` an old pod is deleted while fewer
//!    than `maxUnavailable` nodes lack an available pod; with `maxSurge >
//!    0` a new pod starts beside the old one on up to `maxSurge` nodes and
//!    the old one goes once the new one is available. Unavailable old pods
//!    are replaced at once. With `OnDelete` old pods stay until someone
//!    deletes them;
//! 5. writes `status` (desired, current, misscheduled, ready, updated,
//!    available, unavailable, observedGeneration).
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;
use serde_json::json;

use super::clock::Clock;
use super::deployment::template_hash;
use super::replicaset::{
    controller_ref, controller_uid, is_pod_available, is_pod_ready, CONTROLLER_UID_INDEX,
};
use super::{Action, Controller, Reconciler};
use crate::api::apps::{ControllerRevision, DaemonSet, DaemonSetStatus, DaemonSetUpdateStrategy};
use crate::api::core::{
    Affinity, Binding, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    ObjectReference, Pod, Taint, Toleration,
};
use crate::api::meta::{DeleteOptions, Preconditions};
use crate::api::{ObjectMeta, Str, StringMap};
use crate::client::{self, Api, Client, PatchType};
use crate::informer::{Cache, InformerFactory, ObjectKey};

/// The label holding the hash of the revision a pod was made from.
pub const CONTROLLER_REVISION_HASH_LABEL: &str = "controller-revision-hash";
/// The label holding the DaemonSet generation a pod was made from.
pub const POD_TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";

/// What can go wrong in a reconcile of the DaemonSet controller.
pub use super::ReconcileError as Error;

/// Settings of the DaemonSet controller.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// DaemonSets reconciled at once (Kubernetes' `--concurrent-daemonset-syncs`, 2).
    pub concurrency: usize,
    /// Bind each new pod to its node (`pods/binding`) instead of leaving
    /// that to the scheduler (default false).
    pub bind_directly: bool,
    /// Most pods created or deleted in one reconcile (500; Kubernetes'
    /// `BurstReplicas`, 250).
    pub burst: usize,
    /// Where "now" comes from (pod availability).
    pub clock: Clock,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            concurrency: 2,
            bind_directly: false,
            burst: 500,
            clock: Clock::new(),
        }
    }
}

impl Config {
    /// Sets [`bind_directly`](Self::bind_directly).
    #[must_use]
    pub fn bind_directly(mut self, on: bool) -> Self {
        self.bind_directly = on;
        self
    }

    /// Sets [`concurrency`](Self::concurrency) (at least 1).
    #[must_use]
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Sets [`burst`](Self::burst) (at least 1).
    #[must_use]
    pub fn burst(mut self, n: usize) -> Self {
        self.burst = n.max(1);
        self
    }

    /// Sets [`clock`](Self::clock).
    #[must_use]
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }
}

// ---------------------------------------------------------------------------
// Node eligibility

/// The tolerations Kubernetes adds to every daemon pod (plus
/// `network-unavailable` for `hostNetwork` pods).
pub fn default_tolerations(host_network: bool) -> Vec<Toleration> {
    let t = |key: &str, effect: &str| Toleration {
        key: Str::from(key),
        operator: Str::from_static("Exists"),
        value: Str::default(),
        effect: Str::from(effect),
        toleration_seconds: None,
    };
    let mut out = vec![
        t("node.kubernetes.io/not-ready", "NoExecute"),
        t("node.kubernetes.io/unreachable", "NoExecute"),
        t("node.kubernetes.io/disk-pressure", "NoSchedule"),
        t("node.kubernetes.io/memory-pressure", "NoSchedule"),
        t("node.kubernetes.io/pid-pressure", "NoSchedule"),
        t("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if host_network {
        out.push(t("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    out
}

/// True when `toleration` tolerates `taint`.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if !toleration.effect.is_empty() && toleration.effect != taint.effect {
        return false;
    }
    match toleration.operator.as_str() {
        "Exists" => toleration.key.is_empty() || toleration.key == taint.key,
        "" | "Equal" => toleration.key == taint.key && toleration.value == taint.value,
        _ => false,
    }
}

fn requirement_matches(r: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = || r.values.iter().map(Str::as_str);
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| values().all(|x| x != v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(bound)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                r.values.first().and_then(|b| b.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if r.operator == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

/// True when `node` matches the node selector terms (any term; within a
/// term, every requirement). No terms match nothing.
pub fn node_selector_matches(selector: &NodeSelector, node: &Node) -> bool {
    selector.node_selector_terms.iter().any(|term| {
        (!term.match_expressions.is_empty() || !term.match_fields.is_empty())
            && term
                .match_expressions
                .iter()
                .all(|r| requirement_matches(r, node.metadata.labels.get_str(&r.key)))
            && term.match_fields.iter().all(|r| {
                let v = (r.key == "metadata.name").then_some(node.metadata.name.as_str());
                requirement_matches(r, v)
            })
    })
}

fn labels_match(selector: &StringMap, labels: &StringMap) -> bool {
    selector
        .iter()
        .all(|(k, v)| labels.get_str(k) == Some(v.as_str()))
}

/// True when a daemon pod of `template` should run on `node`: node
/// selector, required node affinity (terms other than the `metadata.name`
/// pinning) and taints (with the [`default_tolerations`]).
pub fn should_run(ds: &DaemonSet, node: &Node) -> bool {
    let spec = &ds.spec.template.spec;
    if !labels_match(&spec.node_selector, &node.metadata.labels) {
        return false;
    }
    if let Some(required) = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
    {
        if !required.node_selector_terms.is_empty() && !node_selector_matches(required, node) {
            return false;
        }
    }
    let mut tolerations = spec.tolerations.clone();
    tolerations.extend(default_tolerations(spec.host_network));
    let unschedulable = Taint {
        key: Str::from_static("node.kubernetes.io/unschedulable"),
        effect: Str::from_static("NoSchedule"),
        ..Default::default()
    };
    node.spec
        .taints
        .iter()
        .chain(node.spec.unschedulable.then_some(&unschedulable))
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .all(|t| tolerations.iter().any(|tol| tolerates(tol, t)))
}

/// The node a daemon pod is for: `spec.nodeName`, else the `metadata.name`
/// of its required node affinity.
pub fn pod_node(pod: &Pod) -> Option<Str> {
    if !pod.spec.node_name.is_empty() {
        return Some(pod.spec.node_name.clone());
    }
    pod.spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms
        .iter()
        .flat_map(|t| &t.match_fields)
        .find(|r| r.key == "metadata.name" && r.operator == "In" && r.values.len() == 1)
        .map(|r| r.values[0].clone())
}

/// The pod for `node`: the template, pinned to the node by required node
/// affinity on `metadata.name` (other requirements of each term are kept),
/// with the default tolerations and the revision labels.
pub fn pod_for(ds: &DaemonSet, node: &str, hash: &str) -> Pod {
    let template = &ds.spec.template;
    let mut labels = template.metadata.labels.clone();
    labels.insert(CONTROLLER_REVISION_HASH_LABEL, hash);
    labels.insert(
        POD_TEMPLATE_GENERATION_LABEL,
        ds.metadata.generation.to_string(),
    );
    let mut spec = template.spec.clone();
    let pin = NodeSelectorRequirement {
        key: Str::from_static("metadata.name"),
        operator: Str::from_static("In"),
        values: vec![Str::from(node)],
    };
    let affinity = spec
        .affinity
        .get_or_insert_with(|| Box::new(Affinity::default()));
    let node_affinity = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    let required = node_affinity
        .required_during_scheduling_ignored_during_execution
        .get_or_insert_with(NodeSelector::default);
    if required.node_selector_terms.is_empty() {
        required
            .node_selector_terms
            .push(NodeSelectorTerm::default());
    }
    for term in &mut required.node_selector_terms {
        term.match_fields = vec![pin.clone()];
    }
    for t in default_tolerations(spec.host_network) {
        if !spec
            .tolerations
            .iter()
            .any(|x| x.key == t.key && x.effect == t.effect)
        {
            spec.tolerations.push(t);
        }
    }
    let mut name = ds.metadata.name.clone();
    name.push_str("-");
    Pod {
        metadata: ObjectMeta {
            generate_name: name,
            namespace: ds.metadata.namespace.clone(),
            labels,
            annotations: template.metadata.annotations.clone(),
            finalizers: template.metadata.finalizers.clone(),
            owner_references: vec![controller_ref(ds)],
            ..ObjectMeta::default()
        },
        spec,
        ..Pod::default()
    }
}

fn is_finished(p: &Pod) -> bool {
    matches!(p.status.phase.as_str(), "Succeeded" | "Failed")
}

// ---------------------------------------------------------------------------
// The reconciler

/// The DaemonSet controller's [`Reconciler`]; see the [module guide](self).
pub struct DaemonSetReconciler {
    client: Arc<dyn Client>,
    pods: Cache<Pod>,
    nodes: Cache<Node>,
    revisions: Cache<ControllerRevision>,
    expectations: super::replicaset::Expectations,
    config: Config,
}

impl std::fmt::Debug for DaemonSetReconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaemonSetReconciler")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl DaemonSetReconciler {
    /// A reconciler reading pods, nodes and revisions from `factory`'s
    /// informers and writing through its client.
    pub fn new(factory: &InformerFactory, config: Config) -> Self {
        let pods = factory.informer::<Pod>();
        pods.add_index(CONTROLLER_UID_INDEX, controller_uid::<Pod>);
        let revisions = factory.informer::<ControllerRevision>();
        revisions.add_index(CONTROLLER_UID_INDEX, controller_uid::<ControllerRevision>);
        DaemonSetReconciler {
            client: factory.client().clone(),
            pods: pods.cache(),
            nodes: factory.informer::<Node>().cache(),
            revisions: revisions.cache(),
            expectations: super::replicaset::Expectations::new(Duration::from_secs(300)),
            config,
        }
    }

    /// Ensures the revision of the current template; returns its hash.
    async fn sync_revision(&self, ds: &DaemonSet, pods: &[Arc<Pod>]) -> Result<String, Error> {
        let hash = template_hash(&ds.spec.template, ds.status.collision_count);
        let ns = ds.metadata.namespace.as_str();
        let api = Api::<ControllerRevision>::namespaced(&self.client, ns);
        let mut owned = self
            .revisions
            .by_index(CONTROLLER_UID_INDEX, &ds.metadata.uid)
            .unwrap_or_default();
        owned.sort_by_key(|r| r.revision);
        let max = owned.last().map_or(0, |r| r.revision);
        let current = owned
            .iter()
            .find(|r| r.metadata.labels.get_str(CONTROLLER_REVISION_HASH_LABEL) == Some(&hash));
        match current {
            Some(r) if r.revision < max => {
                // Rolled back to an older template: it becomes the newest.
                let patch = json!({"revision": max + 1});
                api.patch(&r.metadata.name, PatchType::Merge, &patch)
                    .await
                    .map_err(|e| {
                        Error::api(format!("renumbering revision {}", r.metadata.name), e)
                    })?;
            }
            Some(_) => {}
            None => {
                let mut labels = ds.spec.template.metadata.labels.clone();
                labels.insert(CONTROLLER_REVISION_HASH_LABEL, hash.as_str());
                let mut template = serde_json::to_value(&ds.spec.template).unwrap_or(json!({}));
                if let Some(m) = template.as_object_mut() {
                    m.insert("$patch".into(), json!("replace"));
                }
                let rev = ControllerRevision {
                    metadata: ObjectMeta {
                        name: Str::from(format!("{}-{hash}", ds.metadata.name)),
                        namespace: ds.metadata.namespace.clone(),
                        labels,
                        owner_references: vec![controller_ref(ds)],
                        ..ObjectMeta::default()
                    },
                    data: json!({"spec": {"template": template}}),
                    revision: max + 1,
                };
                match api.create(&rev).await {
                    Ok(_) => {}
                    Err(e) if e.is_already_exists() => {}
                    Err(e) => {
                        return Err(Error::api(
                            format!("creating revision {}", rev.metadata.name),
                            e,
                        ))
                    }
                }
            }
        }
        // History: old revisions no pod uses, beyond the limit.
        let limit =
            usize::try_from(ds.spec.revision_history_limit.unwrap_or(10).max(0)).unwrap_or(0);
        let in_use: std::collections::HashSet<&str> = pods
            .iter()
            .filter_map(|p| p.metadata.labels.get_str(CONTROLLER_REVISION_HASH_LABEL))
            .collect();
        let old: Vec<&Arc<ControllerRevision>> = owned
            .iter()
            .filter(|r| {
                let h = r
                    .metadata
                    .labels
                    .get_str(CONTROLLER_REVISION_HASH_LABEL)
                    .unwrap_or("");
                h != hash && !in_use.contains(h)
            })
            .collect();
        if old.len() > limit {
            for r in &old[..old.len() - limit] {
                match api.delete(&r.metadata.name, &Default::default()).await {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => {
                        return Err(Error::api(
                            format!("deleting revision {}", r.metadata.name),
                            e,
                        ))
                    }
                }
            }
        }
        Ok(hash)
    }

    async fn create_pods(
        &self,
        key: &ObjectKey,
        ds: &DaemonSet,
        nodes: &[Str],
        hash: &str,
    ) -> Result<(), Error> {
        let api = Api::<Pod>::namespaced(&self.client, &ds.metadata.namespace);
        let results = join_all(nodes.iter().map(|node| {
            let api = api.clone();
            let pod = pod_for(ds, node, hash);
            async move {
                let created = api.create(&pod).await?;
                if self.config.bind_directly {
                    let binding = Binding {
                        metadata: ObjectMeta::namespaced(
                            created.metadata.namespace.clone(),
                            created.metadata.name.clone(),
                        ),
                        target: ObjectReference {
                            kind: Str::from_static("Node"),
                            api_version: Str::from_static("v1"),
                            name: node.clone(),
                            ..Default::default()
                        },
                    };
                    api.create_subresource(&created.metadata.name, "binding", &binding)
                        .await?;
                }
                Ok::<_, client::Error>(created)
            }
        }))
        .await;
        let mut first = None;
        for r in results {
            match r {
                Ok(p) => self.expectations.expect_written(key, &p.metadata),
                Err(e)
                    if e.status()
                        .is_some_and(|s| s.message.contains("is being terminated")) => {}
                Err(e) => {
                    first.get_or_insert(Error::api(format!("creating daemon pods of {key}"), e));
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    async fn delete_pods(&self, key: &ObjectKey, pods: &[Arc<Pod>]) -> Result<(), Error> {
        let results = join_all(pods.iter().map(|p| async move {
            let opts = DeleteOptions {
                preconditions: Some(Preconditions {
                    uid: Some(p.metadata.uid.clone()),
                    resource_version: None,
                }),
                ..Default::default()
            };
            let r = Api::<Pod>::namespaced(&self.client, &p.metadata.namespace)
                .delete(&p.metadata.name, &opts)
                .await;
            (p, r)
        }))
        .await;
        let mut first = None;
        for (p, r) in results {
            match r {
                Ok(_) => self.expectations.expect_deleted(
                    key,
                    ObjectKey::of(p.as_ref()),
                    p.metadata.uid.clone(),
                ),
                Err(e) if e.is_not_found() || e.is_conflict() => {}
                Err(e) => {
                    first.get_or_insert(Error::api(format!("deleting pod {}", p.metadata.name), e));
                }
            }
        }
        first.map_or(Ok(()), Err)
    }
}

#[async_trait]
impl Reconciler<DaemonSet> for DaemonSetReconciler {
    type Error = Error;

    async fn reconcile(
        &self,
        key: &ObjectKey,
        ds: Option<Arc<DaemonSet>>,
    ) -> Result<Action, Error> {
        let Some(ds) = ds else {
            self.expectations.forget(key);
            return Ok(Action::Done);
        };
        let pods: Vec<Arc<Pod>> = self
            .pods
            .by_index(CONTROLLER_UID_INDEX, &ds.metadata.uid)
            .unwrap_or_default();
        if ds.metadata.is_deleting() {
            return Ok(Action::Done);
        }
        let hash = self.sync_revision(&ds, &pods).await?;
        let now = self.config.clock.now();
        let min_ready = ds.spec.min_ready_seconds;
        let available = |p: &Pod| is_pod_available(p, min_ready, now);
        let updated =
            |p: &Pod| p.metadata.labels.get_str(CONTROLLER_REVISION_HASH_LABEL) == Some(&hash);

        // Pods by node (not being deleted).
        let mut by_node: BTreeMap<Str, Vec<Arc<Pod>>> = BTreeMap::new();
        let mut orphans = Vec::new();
        for p in &pods {
            if p.metadata.is_deleting() {
                continue;
            }
            match pod_node(p) {
                Some(n) => by_node.entry(n).or_default().push(p.clone()),
                None => orphans.push(p.clone()),
            }
        }
        let nodes: HashMap<Str, Arc<Node>> = self
            .nodes
            .list()
            .into_iter()
            .map(|n| (n.metadata.name.clone(), n))
            .collect();
        let mut create: Vec<Str> = Vec::new();
        let mut delete: Vec<Arc<Pod>> = orphans;
        let mut status = DaemonSetStatus {
            observed_generation: ds.metadata.generation,
            collision_count: ds.status.collision_count,
            conditions: ds.status.conditions.clone(),
            ..Default::default()
        };
        // Rolling-update bookkeeping per node that should run.
        let mut old_available: Vec<(Str, Arc<Pod>)> = Vec::new();
        let mut unavailable_nodes = 0usize;
        let mut surging: Vec<(Arc<Pod>, Arc<Pod>)> = Vec::new(); // (old, new)
        let mut sorted_nodes: Vec<&Arc<Node>> = nodes.values().collect();
        sorted_nodes.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        for node in sorted_nodes {
            let name = &node.metadata.name;
            let run = should_run(&ds, node);
            let mut here = by_node.remove(name).unwrap_or_default();
            if !run {
                if !here.is_empty() {
                    status.number_misscheduled += 1;
                }
                delete.extend(here);
                continue;
            }
            status.desired_number_scheduled += 1;
            // Failed pods go (and are replaced).
            let (failed, alive): (Vec<_>, Vec<_>) = here.drain(..).partition(|p| is_finished(p));
            delete.extend(failed);
            let here = alive;
            if here.is_empty() {
                create.push(name.clone());
                unavailable_nodes += 1;
                continue;
            }
            status.current_number_scheduled += 1;
            let (mut new, mut old): (Vec<_>, Vec<_>) = here.into_iter().partition(|p| updated(p));
            // Oldest first; one of each kind at most.
            new.sort_by(|a, b| {
                a.metadata
                    .creation_timestamp
                    .cmp(&b.metadata.creation_timestamp)
            });
            old.sort_by(|a, b| {
                a.metadata
                    .creation_timestamp
                    .cmp(&b.metadata.creation_timestamp)
            });
            if new.len() > 1 {
                delete.extend(new.drain(1..));
            }
            if !new.is_empty() && !old.is_empty() {
                // A surge in progress (or a leftover): the old one goes
                // once the new one is available.
                if available(&new[0]) {
                    delete.append(&mut old);
                } else if old.len() > 1 {
                    delete.extend(old.drain(1..));
                }
            } else if old.len() > 1 {
                delete.extend(old.drain(1..));
            }
            let shown = new.first().or(old.first()).cloned();
            if let Some(p) = &shown {
                if is_pod_ready(p) {
                    status.number_ready += 1;
                }
                if available(p) || old.first().is_some_and(|o| available(o)) {
                    status.number_available += 1;
                } else {
                    unavailable_nodes += 1;
                }
            }
            if let Some(n) = new.first() {
                status.updated_number_scheduled += 1;
                if let Some(o) = old.first() {
                    surging.push((o.clone(), n.clone()));
                }
            } else if let Some(o) = old.first() {
                if available(o) {
                    old_available.push((name.clone(), o.clone()));
                } else if ds.spec.update_strategy.type_ != DaemonSetUpdateStrategy::ON_DELETE {
                    // An unavailable old pod is replaced at once.
                    delete.push(o.clone());
                }
            }
        }
        // Pods on nodes that no longer exist.
        for (_, pods) in by_node {
            status.number_misscheduled += 1;
            delete.extend(pods);
        }
        status.number_unavailable = status.desired_number_scheduled - status.number_available;

        // Rolling update of available old pods.
        if ds.spec.update_strategy.type_ != DaemonSetUpdateStrategy::ON_DELETE
            && !old_available.is_empty()
        {
            let desired = status.desired_number_scheduled;
            let rolling = ds
                .spec
                .update_strategy
                .rolling_update
                .clone()
                .unwrap_or_default();
            let max_surge = rolling
                .max_surge
                .as_ref()
                .and_then(|v| v.scaled_value(desired, true).ok())
                .unwrap_or(0)
                .max(0);
            let max_unavailable = rolling
                .max_unavailable
                .as_ref()
                .map_or(Ok(1), |v| v.scaled_value(desired, true))
                .unwrap_or(1)
                .max(0);
            if max_surge > 0 {
                let budget = usize::try_from(max_surge)
                    .unwrap_or(0)
                    .saturating_sub(surging.len());
                for (node, _) in old_available.iter().take(budget) {
                    create.push(node.clone());
                }
            } else {
                let max_unavailable = usize::try_from(max_unavailable.max(1)).unwrap_or(1);
                let budget = max_unavailable.saturating_sub(unavailable_nodes);
                for (_, pod) in old_available.iter().take(budget) {
                    delete.push(pod.clone());
                }
            }
        }

        if self.expectations.satisfied(key, &self.pods) {
            let burst = self.config.burst.max(1);
            create.truncate(burst);
            delete.truncate(burst);
            let (c, d) = futures::join!(
                self.create_pods(key, &ds, &create, &hash),
                self.delete_pods(key, &delete)
            );
            c?;
            d?;
        }
        if status != ds.status {
            let patch = json!({"status": {
                "currentNumberScheduled": status.current_number_scheduled,
                "numberMisscheduled": status.number_misscheduled,
                "desiredNumberScheduled": status.desired_number_scheduled,
                "numberReady": status.number_ready,
                "observedGeneration": status.observed_generation,
                "updatedNumberScheduled": status.updated_number_scheduled,
                "numberAvailable": status.number_available,
                "numberUnavailable": status.number_unavailable,
            }});
            match Api::<DaemonSet>::namespaced(&self.client, &ds.metadata.namespace)
                .patch_status(&ds.metadata.name, PatchType::Merge, &patch)
                .await
            {
                Ok(_) => {}
                Err(e) if e.is_not_found() => return Ok(Action::Done),
                Err(e) => return Err(Error::api(format!("writing the status of {key}"), e)),
            }
        }
        // Pods ready but not yet available: look again when they may be.
        if min_ready > 0 && status.number_ready > status.number_available {
            return Ok(Action::requeue(Duration::from_secs(
                u64::try_from(min_ready).unwrap_or(1),
            )));
        }
        Ok(Action::Done)
    }
}

/// The DaemonSet controller, ready to [`run`](Controller::run) with a
/// [`DaemonSetReconciler`]: DaemonSets are the primary kind, their pods
/// map to them, and every node change queues every DaemonSet.
pub fn controller(factory: &InformerFactory, config: &Config) -> Controller<DaemonSet> {
    let sets = factory.informer::<DaemonSet>().cache();
    Controller::<DaemonSet>::new(factory)
        .name("daemonset")
        .owns::<Pod>()
        .owns::<ControllerRevision>()
        .watches::<Node>(move |_| sets.keys())
        .concurrency(config.concurrency)
}

/// Runs the DaemonSet controller with default settings until `shutdown`.
pub fn run(
    factory: &InformerFactory,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = ()> + Send + 'static {
    run_with(factory, Config::default(), shutdown)
}

/// [`run`] with settings.
pub fn run_with(
    factory: &InformerFactory,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = ()> + Send + 'static {
    let controller = controller(factory, &config).graceful_shutdown_on(shutdown);
    let reconciler = DaemonSetReconciler::new(factory, config);
    controller.run(reconciler)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, labels: &[(&str, &str)], taints: &[(&str, &str)]) -> Node {
        let mut n = Node::default();
        n.metadata.name = name.into();
        for (k, v) in labels {
            n.metadata.labels.insert(*k, *v);
        }
        n.spec.taints = taints
            .iter()
            .map(|(k, e)| Taint {
                key: Str::from(*k),
                effect: Str::from(*e),
                ..Default::default()
            })
            .collect();
        n
    }

    #[test]
    fn eligibility() {
        let mut ds = DaemonSet::default();
        ds.spec.template.spec.node_selector.insert("disk", "ssd");
        assert!(should_run(&ds, &node("a", &[("disk", "ssd")], &[])));
        assert!(!should_run(&ds, &node("b", &[], &[])));
        assert!(!should_run(
            &ds,
            &node("c", &[("disk", "ssd")], &[("gpu", "NoSchedule")])
        ));
        assert!(should_run(
            &ds,
            &node("d", &[("disk", "ssd")], &[("gpu", "PreferNoSchedule")])
        ));
        assert!(should_run(
            &ds,
            &node(
                "e",
                &[("disk", "ssd")],
                &[("node.kubernetes.io/not-ready", "NoExecute")]
            )
        ));
        let mut n = node("f", &[("disk", "ssd")], &[]);
        n.spec.unschedulable = true;
        assert!(should_run(&ds, &n), "daemon pods tolerate unschedulable");
        ds.spec.template.spec.tolerations.push(Toleration {
            key: "gpu".into(),
            operator: "Exists".into(),
            ..Default::default()
        });
        assert!(should_run(
            &ds,
            &node("c", &[("disk", "ssd")], &[("gpu", "NoSchedule")])
        ));
    }

    #[test]
    fn pods_are_pinned_by_affinity() {
        let ds = DaemonSet::default();
        let p = pod_for(&ds, "n1", "h");
        assert_eq!(pod_node(&p).as_deref(), Some("n1"));
        assert!(p.spec.node_name.is_empty());
        assert_eq!(
            p.metadata.labels.get_str(CONTROLLER_REVISION_HASH_LABEL),
            Some("h")
        );
        assert!(p
            .spec
            .tolerations
            .iter()
            .any(|t| t.key == "node.kubernetes.io/unreachable" && t.effect == "NoExecute"));
    }
}
