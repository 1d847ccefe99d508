//! `LimitRanger`: the LimitRanges of a namespace give containers default
//! requests and limits, and bound what pods and claims may ask for.
use std::cmp::Ordering;

use async_trait::async_trait;

use crate::api::core::{Container, LimitRange, PersistentVolumeClaim, Pod};
use crate::api::quantity::{self, ResourceList};
use crate::api::scheme::AnyObject;
use crate::apiserver::error::{Error, Result};
use crate::apiserver::ApiServer;

use super::{Admission, Attributes, Operation};

/// Applies `default` and `defaultRequest` of `type: Container` limit items
/// to new pods' containers, then enforces `min`, `max` and
/// `maxLimitRequestRatio` for containers, pods and claims.
#[derive(Clone, Debug, Default)]
pub struct LimitRanger {}

fn applies(attrs: &Attributes<'_>) -> bool {
    attrs.operation == Operation::Create && attrs.subresource.is_empty()
}

#[async_trait]
impl Admission for LimitRanger {
    fn name(&self) -> &str {
        "LimitRanger"
    }

    async fn admit(
        &self,
        attrs: &Attributes<'_>,
        object: &mut dyn AnyObject,
        api: &ApiServer,
    ) -> Result<()> {
        if !applies(attrs) {
            return Ok(());
        }
        let Some(pod) = object.downcast_mut::<Pod>() else {
            return Ok(());
        };
        api.caught_up_with("", "limitranges").await;
        let ranges = api.cached::<LimitRange>(attrs.namespace);
        for range in &ranges {
            for item in range.spec.limits.iter().filter(|i| i.type_ == "Container") {
                let mut item = item.clone();
                item.apply_defaults();
                for c in pod
                    .spec
                    .containers
                    .iter_mut()
                    .chain(pod.spec.init_containers.iter_mut())
                {
                    for (name, q) in item.default.iter() {
                        if !c.resources.limits.contains_key(name) {
                            c.resources.limits.insert(name, q.clone());
                        }
                    }
                    for (name, q) in item.default_request.iter() {
                        if !c.resources.requests.contains_key(name) {
                            c.resources.requests.insert(name, q.clone());
                        }
                    }
                }
            }
        }
        Ok(())
    }

    async fn validate(
        &self,
        attrs: &Attributes<'_>,
        object: Option<&dyn AnyObject>,
        api: &ApiServer,
    ) -> Result<()> {
        if !applies(attrs) {
            return Ok(());
        }
        let Some(object) = object else { return Ok(()) };
        let mut problems = Vec::new();
        if let Some(pod) = object.downcast_ref::<Pod>() {
            api.caught_up_with("", "limitranges").await;
            let ranges = api.cached::<LimitRange>(attrs.namespace);
            for range in &ranges {
                for item in &range.spec.limits {
                    match item.type_.as_str() {
                        "Container" => {
                            for c in pod
                                .spec
                                .containers
                                .iter()
                                .chain(pod.spec.init_containers.iter())
                            {
                                check_container(c, item, &mut problems);
                            }
                        }
                        "Pod" => {
                            let (requests, limits) = pod_totals(pod);
                            check_bounds("Pod", &requests, &limits, item, &mut problems);
                        }
                        _ => {}
                    }
                }
            }
            if !problems.is_empty() {
                return Err(Error::forbidden(
                    "",
                    "pods",
                    attrs.name,
                    &format!("[{}]", problems.join(", ")),
                ));
            }
        } else if let Some(pvc) = object.downcast_ref::<PersistentVolumeClaim>() {
            api.caught_up_with("", "limitranges").await;
            let ranges = api.cached::<LimitRange>(attrs.namespace);
            for range in &ranges {
                for item in range
                    .spec
                    .limits
                    .iter()
                    .filter(|i| i.type_ == "PersistentVolumeClaim")
                {
                    let requests = &pvc.spec.resources.requests;
                    check_bounds(
                        "PersistentVolumeClaim",
                        requests,
                        requests,
                        item,
                        &mut problems,
                    );
                }
            }
            if !problems.is_empty() {
                return Err(Error::forbidden(
                    "",
                    "persistentvolumeclaims",
                    attrs.name,
                    &format!("[{}]", problems.join(", ")),
                ));
            }
        }
        Ok(())
    }
}

fn check_container(
    c: &Container,
    item: &crate::api::core::LimitRangeItem,
    problems: &mut Vec<String>,
) {
    let r = &c.resources;
    check_bounds("Container", &r.requests, &r.limits, item, problems);
    for (name, ratio) in item.max_limit_request_ratio.iter() {
        let (Some(limit), Some(request)) = (r.limits.get(name), r.requests.get(name)) else {
            continue;
        };
        let (Ok(l), Ok(q), Ok(max)) = (
            limit.try_milli_value(),
            request.try_milli_value(),
            ratio.try_milli_value(),
        ) else {
            continue;
        };
        if q > 0 && (l as i128) * 1000 > (max as i128) * (q as i128) {
            problems.push(format!(
                "{name} max limit to request ratio per Container is {ratio}, but provided ratio is {:.6}",
                l as f64 / q as f64
            ));
        }
    }
}

fn check_bounds(
    what: &str,
    requests: &ResourceList,
    limits: &ResourceList,
    item: &crate::api::core::LimitRangeItem,
    problems: &mut Vec<String>,
) {
    for (name, min) in item.min.iter() {
        match requests.get(name) {
            None => problems.push(format!(
                "minimum {name} usage per {what} is {min}.  No request is specified"
            )),
            Some(q) if q.compare(min) == Some(Ordering::Less) => problems.push(format!(
                "minimum {name} usage per {what} is {min}, but request is {q}"
            )),
            _ => {}
        }
    }
    for (name, max) in item.max.iter() {
        match limits.get(name) {
            None => problems.push(format!(
                "maximum {name} usage per {what} is {max}.  No limit is specified"
            )),
            Some(q) if q.compare(max) == Some(Ordering::Greater) => problems.push(format!(
                "maximum {name} usage per {what} is {max}, but limit is {q}"
            )),
            _ => {}
        }
    }
}

/// The pod's effective requests and limits: app containers (and sidecars)
/// summed, against the largest init container, per resource.
pub(crate) fn pod_totals(pod: &Pod) -> (ResourceList, ResourceList) {
    let sum = |pick: fn(&Container) -> &ResourceList| -> ResourceList {
        let mut total = ResourceList::default();
        let sidecars = pod
            .spec
            .init_containers
            .iter()
            .filter(|c| c.restart_policy.as_deref() == Some("Always"));
        for c in pod.spec.containers.iter().chain(sidecars) {
            total = quantity::sum(&total, pick(c)).unwrap_or(total);
        }
        for c in pod
            .spec
            .init_containers
            .iter()
            .filter(|c| c.restart_policy.as_deref() != Some("Always"))
        {
            for (name, q) in pick(c).iter() {
                let bigger = match total.get(name) {
                    Some(cur) => q.compare(cur) == Some(Ordering::Greater),
                    None => true,
                };
                if bigger {
                    total.insert(name, q.clone());
                }
            }
        }
        for (name, q) in pod.spec.overhead.iter() {
            let add = ResourceList::from_iter([(name, q.clone())]);
            total = quantity::sum(&total, &add).unwrap_or(total);
        }
        total
    };
    (sum(|c| &c.resources.requests), sum(|c| &c.resources.limits))
}
