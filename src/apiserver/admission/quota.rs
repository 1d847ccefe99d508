//! `ResourceQuota`: creates that would take a namespace over one of its
//! quotas are refused, and every admitted create is charged to the quotas'
//! `status.used` with a compare-and-swap, so concurrent creates never
//! overshoot.
//!
//! Usage is charged when an object is created and refunded when it is
//! deleted, when a pod reaches a terminal phase (terminal pods do not count,
//! as in Kubernetes), or when the create is not persisted after all. A
//! quota's `status` is computed from the namespace's content when the quota
//! is created or its `spec.hard` changes.
use std::cmp::Ordering;

use async_trait::async_trait;

use crate::api::core::{PersistentVolumeClaim, Pod, QosClass, ResourceQuota as Quota, Service};
use crate::api::quantity::ResourceList;
use crate::api::scheme::{AnyObject, KindInfo};
use crate::api::{ApiResource, Quantity, Str};
use crate::apiserver::error::{Error, Result};
use crate::apiserver::{ApiServer, Target, WriteOptions};

use super::limit_ranger::pod_totals;
use super::{Admission, Attributes, Operation};

/// Enforces ResourceQuotas on creates: charges `status.used` with a
/// compare-and-swap, refuses what would exceed `spec.hard`, refunds on delete.
#[derive(Clone, Debug, Default)]
pub struct ResourceQuota {}

fn is_terminal(pod: &Pod) -> bool {
    matches!(pod.status.phase.as_str(), "Succeeded" | "Failed")
}

/// The quota resources an object uses.
fn usage(resource: &ApiResource, obj: &dyn AnyObject) -> ResourceList {
    let mut u = ResourceList::default();
    let count_key = if resource.group.is_empty() {
        format!("count/{}", resource.plural)
    } else {
        format!("count/{}.{}", resource.plural, resource.group)
    };
    u.insert(count_key, Quantity::from_value(1));
    if let Some(pod) = obj.downcast_ref::<Pod>() {
        if is_terminal(pod) {
            return ResourceList::default();
        }
        u.insert("pods", Quantity::from_value(1));
        let (requests, limits) = pod_totals(pod);
        for (name, q) in requests.iter() {
            u.insert(format!("requests.{name}"), q.clone());
            if name == "cpu" || name == "memory" || name == "ephemeral-storage" {
                u.insert(name, q.clone());
            }
        }
        for (name, q) in limits.iter() {
            u.insert(format!("limits.{name}"), q.clone());
        }
        return u;
    }
    if let Some(svc) = obj.downcast_ref::<Service>() {
        u.insert("services", Quantity::from_value(1));
        let ty = svc.service_type();
        if ty == "NodePort" || ty == "LoadBalancer" {
            let ports = svc
                .spec
                .ports
                .iter()
                .filter(|p| p.node_port != 0)
                .count()
                .max(svc.spec.ports.len());
            u.insert("services.nodeports", Quantity::from_value(ports as i64));
        }
        if ty == "LoadBalancer" {
            u.insert("services.loadbalancers", Quantity::from_value(1));
        }
        return u;
    }
    if let Some(pvc) = obj.downcast_ref::<PersistentVolumeClaim>() {
        u.insert("persistentvolumeclaims", Quantity::from_value(1));
        if let Some(q) = pvc.spec.resources.requests.get("storage") {
            u.insert("requests.storage", q.clone());
        }
        return u;
    }
    if resource.group.is_empty() {
        match resource.plural.as_str() {
            "configmaps" | "secrets" | "replicationcontrollers" | "resourcequotas" => {
                u.insert(resource.plural.clone(), Quantity::from_value(1));
            }
            _ => {}
        }
    }
    u
}

/// True when the quota's scopes select this object.
fn in_scope(quota: &Quota, obj: &dyn AnyObject) -> bool {
    let mut scopes: Vec<(&str, &str, Vec<&str>)> = quota
        .spec
        .scopes
        .iter()
        .map(|s| (s.as_str(), "Exists", Vec::new()))
        .collect();
    if let Some(sel) = &quota.spec.scope_selector {
        for r in &sel.match_expressions {
            scopes.push((
                r.scope_name.as_str(),
                r.operator.as_str(),
                r.values.iter().map(|v| v.as_str()).collect(),
            ));
        }
    }
    if scopes.is_empty() {
        return true;
    }
    let Some(pod) = obj.downcast_ref::<Pod>() else {
        return false;
    };
    scopes.iter().all(|(scope, op, values)| {
        let matched = match *scope {
            "Terminating" => pod.spec.active_deadline_seconds.is_some(),
            "NotTerminating" => pod.spec.active_deadline_seconds.is_none(),
            "BestEffort" => pod.qos_class() == QosClass::BestEffort,
            "NotBestEffort" => pod.qos_class() != QosClass::BestEffort,
            "PriorityClass" => {
                let pc = pod.spec.priority_class_name.as_str();
                match *op {
                    "In" => values.contains(&pc),
                    "NotIn" => !values.contains(&pc),
                    "Exists" => !pc.is_empty(),
                    "DoesNotExist" => pc.is_empty(),
                    _ => false,
                }
            }
            _ => false,
        };
        match (*scope, *op) {
            ("PriorityClass", _) => matched,
            (_, "DoesNotExist") | (_, "NotIn") => !matched,
            _ => matched,
        }
    })
}

fn render(list: &ResourceList, keys: &[&str]) -> String {
    keys.iter()
        .map(|k| {
            let v = list
                .get(k)
                .cloned()
                .unwrap_or_else(|| Quantity::from_value(0));
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn add(a: &Quantity, b: &Quantity) -> Quantity {
    a.checked_add(b).unwrap_or_else(|| a.clone())
}

fn sub(a: &Quantity, b: &Quantity) -> Quantity {
    match a.checked_sub(b) {
        Some(q) if q.compare(&Quantity::from_value(0)) != Some(Ordering::Less) => q,
        _ => Quantity::from_value(0),
    }
}

impl ResourceQuota {
    /// Charges (or, with `refund`, releases) `obj`'s usage to every quota
    /// of the namespace that tracks it. On `check_only`, nothing is written.
    async fn charge(
        &self,
        api: &ApiServer,
        namespace: &str,
        resource: &ApiResource,
        obj: &dyn AnyObject,
        refund: bool,
        check_only: bool,
    ) -> Result<()> {
        let quotas = api.cached::<Quota>(namespace);
        if quotas.is_empty() {
            return Ok(());
        }
        let usage = usage(resource, obj);
        if usage.is_empty() {
            return Ok(());
        }
        let mut charged: Vec<Str> = Vec::new();
        for quota in quotas.iter().filter(|q| in_scope(q, obj)) {
            if !refund {
                if let Some(missing) = missing_requirements(quota, obj) {
                    self.undo(api, namespace, resource, obj, &charged).await;
                    return Err(Error::forbidden(
                        &resource.group,
                        &resource.plural,
                        &obj.meta().name,
                        &format!(
                            "failed quota: {}: must specify {missing}",
                            quota.metadata.name
                        ),
                    ));
                }
            }
            let tracked: Vec<&str> = quota
                .spec
                .hard
                .keys()
                .filter(|k| usage.contains_key(k))
                .collect();
            if tracked.is_empty() {
                continue;
            }
            if let Err(e) = self
                .charge_one(
                    api,
                    namespace,
                    &quota.metadata.name,
                    &usage,
                    refund,
                    check_only,
                )
                .await
            {
                self.undo(api, namespace, resource, obj, &charged).await;
                return Err(e);
            }
            charged.push(quota.metadata.name.clone());
        }
        Ok(())
    }

    async fn undo(
        &self,
        api: &ApiServer,
        namespace: &str,
        resource: &ApiResource,
        obj: &dyn AnyObject,
        charged: &[Str],
    ) {
        let usage = usage(resource, obj);
        for name in charged {
            let _ = self
                .charge_one(api, namespace, name, &usage, true, false)
                .await;
        }
    }

    async fn charge_one(
        &self,
        api: &ApiServer,
        namespace: &str,
        name: &str,
        usage: &ResourceList,
        refund: bool,
        check_only: bool,
    ) -> Result<()> {
        let target = Target::new("", "v1", "resourcequotas")
            .namespace(namespace)
            .name(name)
            .subresource("status");
        for _ in 0..64 {
            let current = match api
                .get(&Target {
                    subresource: Str::default(),
                    ..target.clone()
                })
                .await
            {
                Ok(c) => c,
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) => return Err(e),
            };
            let Some(quota) = current.downcast_ref::<Quota>() else {
                return Ok(());
            };
            let mut quota = quota.clone();
            let mut over = Vec::new();
            let tracked: Vec<&str> = quota
                .spec
                .hard
                .keys()
                .filter(|k| usage.contains_key(k))
                .collect();
            let mut used = quota.status.used.clone();
            for key in &tracked {
                let delta = usage
                    .get(key)
                    .cloned()
                    .unwrap_or_else(|| Quantity::from_value(0));
                let cur = used
                    .get(key)
                    .cloned()
                    .unwrap_or_else(|| Quantity::from_value(0));
                let next = if refund {
                    sub(&cur, &delta)
                } else {
                    add(&cur, &delta)
                };
                if !refund {
                    if let Some(hard) = quota.spec.hard.get(key) {
                        if next.compare(hard) == Some(Ordering::Greater) {
                            over.push(*key);
                        }
                    }
                }
                used.insert(*key, next);
            }
            if !over.is_empty() {
                return Err(Error::forbidden(
                    "",
                    "",
                    "",
                    &format!(
                        "exceeded quota: {name}, requested: {}, used: {}, limited: {}",
                        render(usage, &over),
                        render(&quota.status.used, &over),
                        render(&quota.spec.hard, &over)
                    ),
                ));
            }
            if check_only {
                return Ok(());
            }
            quota.status.used = used;
            quota.status.hard = quota.spec.hard.clone();
            match api
                .update(&target, Box::new(quota), &WriteOptions::default())
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if e.is_conflict() => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::internal(format!(
            "quota {namespace}/{name} is too contended to charge"
        )))
    }
}

/// For quotas on compute resources: the resources every container must
/// specify, when the pod does not.
fn missing_requirements(quota: &Quota, obj: &dyn AnyObject) -> Option<String> {
    let pod = obj.downcast_ref::<Pod>()?;
    let mut missing = Vec::new();
    for key in quota.spec.hard.keys() {
        let (kind, name) = match key.split_once('.') {
            Some(("requests", n)) => ("requests", n),
            Some(("limits", n)) => ("limits", n),
            _ if key == "cpu" || key == "memory" => ("requests", key),
            _ => continue,
        };
        if !matches!(name, "cpu" | "memory" | "ephemeral-storage") {
            continue;
        }
        let all = pod.spec.containers.iter().all(|c| {
            let list = if kind == "requests" {
                &c.resources.requests
            } else {
                &c.resources.limits
            };
            list.contains_key(name)
        });
        if !all {
            missing.push(format!("{kind}.{name}"));
        }
    }
    missing.sort();
    missing.dedup();
    (!missing.is_empty()).then(|| missing.join(","))
}

/// The namespace's current usage of the quota's resources.
fn namespace_usage(api: &ApiServer, namespace: &str, quota: &Quota) -> ResourceList {
    let mut used = ResourceList::default();
    for key in quota.spec.hard.keys() {
        used.insert(key, Quantity::from_value(0));
    }
    for info in api.kinds() {
        if !info.resource.scope.is_namespaced() {
            continue;
        }
        let objects = api.cached_objects(&info.resource.group, &info.resource.plural, namespace);
        for obj in objects {
            if !in_scope(quota, obj.as_ref()) {
                continue;
            }
            for (k, q) in usage(&info.resource, obj.as_ref()).iter() {
                if let Some(cur) = used.get(k).cloned() {
                    used.insert(k, add(&cur, q));
                }
            }
        }
    }
    used
}

#[async_trait]
impl Admission for ResourceQuota {
    fn name(&self) -> &str {
        "ResourceQuota"
    }

    async fn admit(
        &self,
        attrs: &Attributes<'_>,
        object: &mut dyn AnyObject,
        api: &ApiServer,
    ) -> Result<()> {
        // A quota's status starts from the namespace's content.
        if !(attrs.resource.group.is_empty()
            && attrs.resource.plural == "resourcequotas"
            && attrs.subresource.is_empty())
        {
            return Ok(());
        }
        let Some(quota) = object.downcast_mut::<Quota>() else {
            return Ok(());
        };
        let old_hard = attrs
            .old_object
            .and_then(|o| o.downcast_ref::<Quota>())
            .map(|q| q.spec.hard.clone());
        if attrs.operation == Operation::Create || old_hard.as_ref() != Some(&quota.spec.hard) {
            quota.status.hard = quota.spec.hard.clone();
            quota.status.used = namespace_usage(api, attrs.namespace, quota);
        }
        Ok(())
    }

    async fn validate(
        &self,
        attrs: &Attributes<'_>,
        object: Option<&dyn AnyObject>,
        api: &ApiServer,
    ) -> Result<()> {
        let r = attrs.resource;
        if r.group.is_empty() && r.plural == "resourcequotas" {
            return Ok(());
        }
        match attrs.operation {
            Operation::Create if attrs.subresource.is_empty() => {
                let Some(obj) = object else { return Ok(()) };
                self.charge(api, attrs.namespace, r, obj, false, attrs.dry_run)
                    .await
            }
            Operation::Update => {
                // A pod that reaches a terminal phase stops counting.
                let (Some(new), Some(old)) = (
                    object.and_then(|o| o.downcast_ref::<Pod>()),
                    attrs.old_object.and_then(|o| o.downcast_ref::<Pod>()),
                ) else {
                    return Ok(());
                };
                if !attrs.dry_run && is_terminal(new) && !is_terminal(old) {
                    self.charge(api, attrs.namespace, r, old, true, false)
                        .await?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    async fn rollback(
        &self,
        attrs: &Attributes<'_>,
        object: Option<&dyn AnyObject>,
        api: &ApiServer,
    ) {
        if attrs.operation != Operation::Create || attrs.dry_run {
            return;
        }
        if let Some(obj) = object {
            let _ = self
                .charge(api, attrs.namespace, attrs.resource, obj, true, false)
                .await;
        }
    }

    async fn deleted(&self, kind: &KindInfo, object: &dyn AnyObject, api: &ApiServer) {
        let r = &kind.resource;
        if !r.scope.is_namespaced() || (r.group.is_empty() && r.plural == "resourcequotas") {
            return;
        }
        let ns = object.meta().namespace.clone();
        let _ = self.charge(api, &ns, r, object, true, false).await;
    }
}
