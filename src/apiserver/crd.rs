//! Custom resources: a CustomResourceDefinition, once created, serves its
//! kind as [`DynamicObject`](crate::api::DynamicObject)s — one endpoint per
//! served version, stored in the storage version, with the status and scale
//! subresources it declares.
use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use crate::api::apiextensions::{CustomResourceDefinition, CustomResourceSubresourceScale};
use crate::api::scheme::KindInfo;
use crate::api::Str;

use super::kinds::{Conversion, Endpoint, Kinds, Storage};

/// What the API server knows of one served version of a custom kind.
#[derive(Debug)]
pub(crate) struct CrdVersion {
    /// The scale subresource's paths, when declared.
    pub scale: Option<CustomResourceSubresourceScale>,
    /// The version's schema, compiled (`None` without a schema).
    pub schema: Option<super::crd_schema::Validator>,
}

/// Registers (or re-registers) the kinds a CRD declares. Returns false when
/// the CRD declares no servable version.
pub(crate) fn register(
    kinds: &mut Kinds,
    crd: &CustomResourceDefinition,
    capacity: usize,
    progress: &Arc<AtomicI64>,
    revision: i64,
) -> bool {
    let spec = &crd.spec;
    let resources = crd.api_resources();
    if resources.is_empty() {
        return false;
    }
    let storage_version = spec
        .versions
        .iter()
        .find(|v| v.storage)
        .map(|v| v.name.clone())
        .unwrap_or_else(|| resources[0].version.clone());
    let group = spec.group.clone();
    let plural = spec.names.plural.clone();
    let list_kind = if spec.names.list_kind.is_empty() {
        Str::from(format!("{}List", spec.names.kind))
    } else {
        spec.names.list_kind.clone()
    };
    // Keep the storage (and its cache) when only versions or schemas changed.
    let storage = match kinds.storage(&group, &plural) {
        Some(s) if s.info.resource.version == storage_version => s,
        _ => {
            let mut storage_resource = resources[0].clone();
            if let Some(r) = resources.iter().find(|r| r.version == storage_version) {
                storage_resource = r.clone();
            } else {
                storage_resource.version = storage_version.clone();
                storage_resource.api_version = Str::from(format!("{group}/{storage_version}"));
            }
            let info = Arc::new(KindInfo::dynamic(storage_resource, list_kind.clone()));
            let s = Arc::new(Storage::new(info, capacity, progress.clone(), revision));
            kinds
                .storages
                .insert((group.clone(), plural.clone()), s.clone());
            s
        }
    };
    kinds
        .endpoints
        .retain(|(g, _, p), _| !(g == &group && p == &plural));
    kinds
        .order
        .retain(|(g, _, p)| !(g == &group && p == &plural));
    for resource in resources {
        let version = spec.versions.iter().find(|v| v.name == resource.version);
        let conversion = if resource.version == storage.info.resource.version {
            Conversion::None
        } else {
            Conversion::ApiVersion
        };
        let crd_version = CrdVersion {
            scale: version
                .and_then(|v| v.subresources.as_ref())
                .and_then(|s| s.scale.clone()),
            schema: version
                .and_then(|v| v.schema.as_ref())
                .and_then(|s| s.open_api_v3_schema.as_deref())
                .map(|s| {
                    super::crd_schema::Validator::compile(Some(s), spec.preserve_unknown_fields)
                }),
        };
        kinds.insert_endpoint(Endpoint {
            info: Arc::new(KindInfo::dynamic(resource, list_kind.clone())),
            storage: storage.clone(),
            conversion,
            crd: Some(Arc::new(crd_version)),
        });
    }
    true
}

/// Stops serving a CRD's kind.
pub(crate) fn unregister(kinds: &mut Kinds, crd: &CustomResourceDefinition) {
    kinds.remove_group_resource(&crd.spec.group, &crd.spec.names.plural);
}

/// True when the CRD's `Established` condition is true.
pub(crate) fn is_established(crd: &CustomResourceDefinition) -> bool {
    crd.status
        .conditions
        .iter()
        .any(|c| c.r#type == "Established" && c.status == "True")
}

/// Sets the conditions and accepted names of a CRD being written: its names
/// are accepted unless another kind already serves its group and plural.
pub(crate) fn prepare(crd: &mut CustomResourceDefinition, kinds: &Kinds) {
    use crate::api::apiextensions::CustomResourceDefinitionCondition as Condition;
    let spec = &crd.spec;
    let conflict = kinds
        .storage(&spec.group, &spec.names.plural)
        .is_some_and(|s| !s.info.is_dynamic())
        || kinds.all().iter().any(|e| {
            e.info.resource.group == spec.group
                && e.info.resource.kind == spec.names.kind
                && e.info.resource.plural != spec.names.plural
        });
    let now = Some(crate::api::Time::now());
    let set = |conds: &mut Vec<Condition>, type_: &str, ok: bool, reason: &str, message: &str| {
        let status = if ok { "True" } else { "False" };
        if let Some(c) = conds.iter_mut().find(|c| c.r#type == type_) {
            if c.status != status {
                c.last_transition_time = now;
            }
            c.status = status.into();
            c.reason = reason.into();
            c.message = message.into();
        } else {
            conds.push(Condition {
                r#type: type_.into(),
                status: status.into(),
                last_transition_time: now,
                reason: reason.into(),
                message: message.into(),
            });
        }
    };
    let mut conds = std::mem::take(&mut crd.status.conditions);
    if conflict {
        set(
            &mut conds,
            "NamesAccepted",
            false,
            "NameConflict",
            "the kind or plural is already served",
        );
        set(
            &mut conds,
            "Established",
            false,
            "NotAccepted",
            "not all names are accepted",
        );
    } else {
        set(
            &mut conds,
            "NamesAccepted",
            true,
            "NoConflicts",
            "no conflicts found",
        );
        set(
            &mut conds,
            "Established",
            true,
            "InitialNamesAccepted",
            "the initial names have been accepted",
        );
        crd.status.accepted_names = crd.spec.names.clone();
    }
    crd.status.conditions = conds;
    if let Some(storage) = crd.spec.versions.iter().find(|v| v.storage) {
        if !crd.status.stored_versions.contains(&storage.name) {
            crd.status.stored_versions.push(storage.name.clone());
        }
    }
}
