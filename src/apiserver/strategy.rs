//! Per-kind behaviour of the registry, as Kubernetes' "strategies": what a
//! create resets, what an update of the main resource or of `status` may
//! change, when `generation` moves, which fields can be selected on.
//!
//! Kinds with a typed `status` take a fast path (field copies); every other
//! kind, custom resources included, goes through its JSON form.
use std::any::Any;
use std::borrow::Cow;

use serde_json::Value;

use crate::api::scheme::{AnyObject, FieldValidation, KindInfo};
use crate::api::{
    apiextensions, apps, autoscaling, batch, core, networking, policy, ErrorList, Str,
};

use super::error::{Error, Result};

/// Runs `$action!(Type)` for every typed kind with a `status` field.
macro_rules! status_kinds {
    ($action:ident) => {
        $action!(
            core::Pod,
            core::Node,
            apps::Deployment,
            apps::ReplicaSet,
            apps::StatefulSet,
            apps::DaemonSet,
            batch::Job,
            batch::CronJob,
            core::Service,
            core::Namespace,
            core::PersistentVolume,
            core::PersistentVolumeClaim,
            core::ResourceQuota,
            apiextensions::CustomResourceDefinition,
            networking::Ingress,
            policy::PodDisruptionBudget,
            autoscaling::v2::HorizontalPodAutoscaler,
            autoscaling::v1::HorizontalPodAutoscaler
        )
    };
}

/// Copies `src`'s status into `dst` when both are the same typed kind.
fn copy_status_typed(dst: &mut dyn Any, src: &dyn Any) -> bool {
    macro_rules! each {
        ($($t:ty),*) => {$(
            if let (Some(d), Some(s)) = (dst.downcast_mut::<$t>(), src.downcast_ref::<$t>()) {
                d.status = s.status.clone();
                return true;
            }
        )*};
    }
    status_kinds!(each);
    false
}

/// Clears the status of a typed kind.
fn clear_status_typed(dst: &mut dyn Any) -> bool {
    macro_rules! each {
        ($($t:ty),*) => {$(
            if let Some(d) = dst.downcast_mut::<$t>() {
                d.status = Default::default();
                return true;
            }
        )*};
    }
    status_kinds!(each);
    false
}

fn set_status_value(dst: &mut Value, src: &Value) {
    if let Some(map) = dst.as_object_mut() {
        match src.get("status") {
            Some(s) => map.insert("status".into(), s.clone()),
            None => map.remove("status"),
        };
    }
}

/// Resets what a create may not set: the status of kinds with a status
/// subresource (pods start `Pending` with their QoS class, namespaces
/// `Active` with the `kubernetes` finalizer, volumes and claims `Pending`).
pub(crate) fn prepare_for_create(obj: &mut dyn AnyObject, info: &KindInfo) {
    let any = obj.as_any_mut();
    if let Some(pod) = any.downcast_mut::<core::Pod>() {
        let qos = pod.qos_class();
        let nominated = std::mem::take(&mut pod.status.nominated_node_name);
        pod.status = core::PodStatus {
            phase: Str::from_static("Pending"),
            qos_class: Str::from(qos.as_str()),
            nominated_node_name: nominated,
            ..Default::default()
        };
        return;
    }
    if let Some(ns) = any.downcast_mut::<core::Namespace>() {
        ns.status = Default::default();
        ns.status.phase = Str::from_static("Active");
        if !ns.spec.finalizers.iter().any(|f| f == "kubernetes") {
            ns.spec.finalizers.push(Str::from_static("kubernetes"));
        }
        return;
    }
    if let Some(pv) = any.downcast_mut::<core::PersistentVolume>() {
        pv.status = Default::default();
        pv.status.phase = Str::from_static("Pending");
        return;
    }
    if let Some(pvc) = any.downcast_mut::<core::PersistentVolumeClaim>() {
        pvc.status = Default::default();
        pvc.status.phase = Str::from_static("Pending");
        return;
    }
    // Nodes register with their status; the kubelet owns it.
    if any.is::<core::Node>() {
        return;
    }
    // A Job selects its pods by its own uid unless `manualSelector` says
    // otherwise (the uid is set by now).
    if let Some(job) = any.downcast_mut::<crate::api::batch::Job>() {
        job.generate_selector();
    }
    if has_status(info) && !clear_status_typed(obj.as_any_mut()) {
        if let Some(d) = obj.as_any_mut().downcast_mut::<crate::api::DynamicObject>() {
            d.data.remove("status");
        }
    }
}

/// True when the kind serves a `status` subresource.
pub(crate) fn has_status(info: &KindInfo) -> bool {
    info.resource.subresources.iter().any(|s| s == "status")
}

/// For an update of the main resource: keep the stored status (the status
/// subresource owns it).
pub(crate) fn keep_old_status(
    new: &mut Box<dyn AnyObject>,
    old: &dyn AnyObject,
    info: &KindInfo,
) -> Result<()> {
    if copy_status_typed(new.as_any_mut(), old.as_any()) {
        return Ok(());
    }
    let mut value = new.to_value().map_err(encode_error)?;
    set_status_value(&mut value, &old.to_value().map_err(encode_error)?);
    *new = decode_value(info, value)?;
    Ok(())
}

/// For an update of the status subresource: the stored object with only its
/// status replaced by the new one's. Metadata other than the resource
/// version comes from the stored object.
pub(crate) fn take_new_status(
    new: Box<dyn AnyObject>,
    old: &dyn AnyObject,
    info: &KindInfo,
) -> Result<Box<dyn AnyObject>> {
    let mut merged = old.clone_object();
    if !copy_status_typed(merged.as_any_mut(), new.as_any()) {
        let mut value = old.to_value().map_err(encode_error)?;
        set_status_value(&mut value, &new.to_value().map_err(encode_error)?);
        merged = decode_value(info, value)?;
    }
    merged.meta_mut().resource_version = new.meta().resource_version.clone();
    Ok(merged)
}

/// True when anything but metadata and status differs: what moves
/// `metadata.generation`.
pub(crate) fn spec_changed(new: &dyn AnyObject, old: &dyn AnyObject) -> Result<bool> {
    let n = new.as_any();
    let o = old.as_any();
    macro_rules! fast {
        ($($t:ty),*) => {$(
            if let (Some(n), Some(o)) = (n.downcast_ref::<$t>(), o.downcast_ref::<$t>()) {
                return Ok(n.spec != o.spec);
            }
        )*};
    }
    fast!(
        core::Pod,
        core::Node,
        apps::Deployment,
        apps::ReplicaSet,
        apps::StatefulSet,
        apps::DaemonSet,
        batch::Job,
        batch::CronJob,
        core::Service,
        core::Namespace,
        core::PersistentVolumeClaim,
        core::PersistentVolume
    );
    let mut a = new.to_value().map_err(encode_error)?;
    let mut b = old.to_value().map_err(encode_error)?;
    for v in [&mut a, &mut b] {
        if let Some(m) = v.as_object_mut() {
            m.remove("metadata");
            m.remove("status");
        }
    }
    Ok(a != b)
}

/// Extra checks of a status update (terminal pod phases, ...).
pub(crate) fn validate_status_update(new: &dyn AnyObject, old: &dyn AnyObject) -> ErrorList {
    let mut errors = crate::api::validation::validate_object_meta_update(new.meta(), old.meta());
    if let (Some(n), Some(o)) = (
        new.as_any().downcast_ref::<core::Pod>(),
        old.as_any().downcast_ref::<core::Pod>(),
    ) {
        errors.extend(core::validate_pod_status_update(n, o));
    }
    if let (Some(n), Some(o)) = (
        new.as_any()
            .downcast_ref::<autoscaling::v2::HorizontalPodAutoscaler>(),
        old.as_any()
            .downcast_ref::<autoscaling::v2::HorizontalPodAutoscaler>(),
    ) {
        errors.extend(n.validate_status_update(o));
    }
    if let (Some(n), Some(o)) = (
        new.as_any().downcast_ref::<networking::Ingress>(),
        old.as_any().downcast_ref::<networking::Ingress>(),
    ) {
        errors.extend(n.validate_status_update(o));
    }
    errors
}

/// Kinds an update may create when the object does not exist.
pub(crate) fn allow_create_on_update(info: &KindInfo) -> bool {
    let r = &info.resource;
    matches!(
        (r.group.as_str(), r.plural.as_str()),
        ("", "endpoints")
            | ("", "events")
            | ("coordination.k8s.io", "leases")
            | ("discovery.k8s.io", "endpointslices")
    )
}

/// The value of a selectable field of an object; `Err` for a field the
/// kind does not support, with Kubernetes' message.
pub(crate) fn field_value<'o>(
    obj: &'o dyn AnyObject,
    info: &KindInfo,
    field: &str,
) -> Result<Option<Cow<'o, str>>> {
    let meta = obj.meta();
    match field {
        "metadata.name" => return Ok(Some(Cow::Borrowed(&meta.name))),
        "metadata.namespace" => return Ok(Some(Cow::Borrowed(&meta.namespace))),
        _ => {}
    }
    let any = obj.as_any();
    let found: Option<Option<Cow<'o, str>>> = if let Some(p) = any.downcast_ref::<core::Pod>() {
        match field {
            "spec.nodeName" => Some(Some(Cow::Borrowed(&p.spec.node_name))),
            "spec.restartPolicy" => Some(Some(Cow::Borrowed(&p.spec.restart_policy))),
            "spec.schedulerName" => Some(Some(Cow::Borrowed(&p.spec.scheduler_name))),
            "spec.serviceAccountName" => Some(Some(Cow::Borrowed(&p.spec.service_account_name))),
            "spec.hostNetwork" => Some(Some(Cow::Owned(p.spec.host_network.to_string()))),
            "status.phase" => Some(Some(Cow::Borrowed(&p.status.phase))),
            "status.podIP" => Some(Some(Cow::Borrowed(&p.status.pod_ip))),
            "status.nominatedNodeName" => Some(Some(Cow::Borrowed(&p.status.nominated_node_name))),
            _ => None,
        }
    } else if let Some(n) = any.downcast_ref::<core::Node>() {
        match field {
            "spec.unschedulable" => Some(Some(Cow::Owned(n.spec.unschedulable.to_string()))),
            _ => None,
        }
    } else if let Some(n) = any.downcast_ref::<core::Namespace>() {
        match field {
            "status.phase" => Some(Some(Cow::Borrowed(&n.status.phase))),
            _ => None,
        }
    } else if let Some(s) = any.downcast_ref::<core::Secret>() {
        match field {
            "type" => Some(Some(Cow::Borrowed(&s.type_))),
            _ => None,
        }
    } else if let Some(e) = any.downcast_ref::<core::Event>() {
        let o = &e.involved_object;
        match field {
            "involvedObject.kind" => Some(Some(Cow::Borrowed(&o.kind))),
            "involvedObject.namespace" => Some(Some(Cow::Borrowed(&o.namespace))),
            "involvedObject.name" => Some(Some(Cow::Borrowed(&o.name))),
            "involvedObject.uid" => Some(Some(Cow::Borrowed(&o.uid))),
            "involvedObject.apiVersion" => Some(Some(Cow::Borrowed(&o.api_version))),
            "involvedObject.resourceVersion" => Some(Some(Cow::Borrowed(&o.resource_version))),
            "involvedObject.fieldPath" => Some(Some(Cow::Borrowed(&o.field_path))),
            "reason" => Some(Some(Cow::Borrowed(&e.reason))),
            "reportingComponent" => Some(Some(Cow::Borrowed(&e.reporting_component))),
            "source" => Some(Some(Cow::Borrowed(&e.source.component))),
            "type" => Some(Some(Cow::Borrowed(&e.type_))),
            _ => None,
        }
    } else if let Some(r) = any.downcast_ref::<apps::ReplicaSet>() {
        match field {
            "status.replicas" => Some(Some(Cow::Owned(r.status.replicas.to_string()))),
            _ => None,
        }
    } else if let Some(j) = any.downcast_ref::<batch::Job>() {
        match field {
            "status.successful" => Some(Some(Cow::Owned(j.status.succeeded.to_string()))),
            _ => None,
        }
    } else {
        None
    };
    found.ok_or_else(|| {
        Error::bad_request(format!(
            "field label not supported: {field} (for {})",
            info.resource.kind
        ))
    })
}

/// True for a pod that can be deleted at once: never scheduled, or in a
/// terminal phase.
pub(crate) fn pod_deletes_immediately(pod: &core::Pod) -> bool {
    pod.spec.node_name.is_empty() || matches!(pod.status.phase.as_str(), "Succeeded" | "Failed")
}

pub(crate) fn encode_error(e: serde_json::Error) -> Error {
    Error::internal(format!("encoding the object: {e}"))
}

pub(crate) fn decode_value(info: &KindInfo, value: Value) -> Result<Box<dyn AnyObject>> {
    info.from_value(value, FieldValidation::Ignore)
        .map(|d| d.object)
        .map_err(Error::from)
}
