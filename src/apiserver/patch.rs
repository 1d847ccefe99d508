//! PATCH: apply a patch document to the current object and store the
//! result through the same update path as a replace (defaulting,
//! validation, admission, optimistic concurrency with retries).
//!
//! The patch is applied to the object as served (for a converted kind, the
//! served version), decoded back with the request's field validation, and
//! converted to the storage version. A patch that carries
//! `metadata.resourceVersion` is a precondition; one that does not is
//! re-applied to the fresh object after a conflict, so concurrent patches
//! of different fields all land.
//!
//! The patch rules themselves are pure functions in [`crate::api::patch`]:
//! merge patch, JSON patch, strategic merge patch (built-in kinds only; a
//! custom resource answers 415, as in Kubernetes) and server-side apply,
//! which needs `fieldManager` and records field ownership in
//! `metadata.managedFields`. Other patches with a `fieldManager` record
//! the fields they change as that manager's `Update`.

use std::sync::Arc;

use serde_json::Value;

use crate::api::patch::{self as p, ApplyOptions, PatchError, PatchSchema};
use crate::api::status::reason;
use crate::api::{AnyObject, ApiResource, Status, StatusCause, StatusDetails, Str, Time};

use super::error::{Error, Result};
use super::kinds::Endpoint;
use super::registry::Written;
use super::request::{PatchType, Target, UserInfo, WriteOptions};
use super::ApiServer;

impl ApiServer {
    /// Patches an object (or its `status` or `scale` subresource) as
    /// `system:admin`.
    pub async fn patch(
        &self,
        t: &Target,
        patch_type: PatchType,
        patch: &[u8],
        opts: &WriteOptions,
    ) -> Result<Written> {
        self.patch_as(t, patch_type, patch, opts, &UserInfo::admin())
            .await
    }

    /// Patches an object as `user`.
    pub async fn patch_as(
        &self,
        t: &Target,
        patch_type: PatchType,
        patch: &[u8],
        opts: &WriteOptions,
        user: &UserInfo,
    ) -> Result<Written> {
        let ep = self.endpoint(t)?;
        if t.name.is_empty() {
            return Err(Error::method_not_allowed(
                "the server does not allow this method on the requested resource: a patch needs a name",
            ));
        }
        let patch = parse_patch(patch_type, patch)?;
        check_options(patch_type, opts)?;
        match t.subresource.as_str() {
            "" | "status" => {}
            "scale" => return self.patch_scale(t, patch_type, &patch, opts, user).await,
            other => {
                return Err(Error::method_not_allowed(format!(
                    "the server does not allow this method on the requested resource ({} {other})",
                    t.resource
                )))
            }
        }
        if patch_type == PatchType::Apply && t.subresource.is_empty() {
            // Apply creates a missing object (with the create's admission
            // and validation); losing a race to another create falls back to
            // the update below.
            match self.get(t).await {
                Err(e) if e.is_not_found() => {
                    let (mut obj, warnings) = patched_object(
                        &ep,
                        t,
                        patch_type,
                        &patch,
                        opts,
                        Value::Object(Default::default()),
                    )?;
                    obj.meta_mut().resource_version = Str::default();
                    match self.create_as(t, obj, opts, user).await {
                        Err(e) if e.is_already_exists() => {}
                        Ok(mut written) => {
                            written.warnings.extend(warnings);
                            return Ok(written);
                        }
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
                Ok(_) => {}
            }
        }
        let warnings = std::sync::Mutex::new(Vec::<String>::new());
        let ep2: Arc<Endpoint> = ep.clone();
        let mut written = self
            .update_with(&ep, t, opts, user, |current| {
                let served = ep2.served(current.clone());
                let exists = !served.meta().name.is_empty();
                let value = if exists {
                    served
                        .to_value()
                        .map_err(|e| Error::internal(format!("encoding the current object: {e}")))?
                } else if patch_type == PatchType::Apply {
                    Value::Object(Default::default())
                } else {
                    // Only apply creates: a patch of a missing object is 404.
                    return Err(Error::not_found(
                        &ep2.info.resource.group,
                        &ep2.info.resource.plural,
                        &t.name,
                    ));
                };
                let (obj, found) = patched_object(&ep2, t, patch_type, &patch, opts, value)?;
                let mut w = warnings.lock().unwrap_or_else(|e| e.into_inner());
                *w = found;
                Ok(ep2.to_storage(obj))
            })
            .await?;
        written
            .warnings
            .extend(warnings.into_inner().unwrap_or_default());
        Ok(written)
    }

    async fn patch_scale(
        &self,
        t: &Target,
        patch_type: PatchType,
        patch: &Value,
        opts: &WriteOptions,
        user: &UserInfo,
    ) -> Result<Written> {
        let current = self.get(t).await?;
        let mut value = current
            .to_value()
            .map_err(|e| Error::internal(format!("encoding the scale: {e}")))?;
        let resource = self.body_kind(t)?;
        apply_patch(
            patch_type,
            &mut value,
            patch,
            &resource.resource,
            opts,
            &t.subresource,
        )?;
        let decoded = resource.from_value(value, opts.field_validation)?;
        self.update_as(t, decoded.object, opts, user).await
    }
}

/// The object `value` (the current object as served, or `{}`) becomes
/// once patched, decoded with the request's field validation, and the
/// unknown-field warnings.
fn patched_object(
    ep: &Endpoint,
    t: &Target,
    patch_type: PatchType,
    patch: &Value,
    opts: &WriteOptions,
    mut value: Value,
) -> Result<(Box<dyn AnyObject>, Vec<String>)> {
    apply_patch(
        patch_type,
        &mut value,
        patch,
        &ep.info.resource,
        opts,
        &t.subresource,
    )?;
    if let Value::Object(map) = &mut value {
        // The URL names the object; a patch cannot rename it.
        let meta = map
            .entry("metadata")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Value::Object(meta) = meta {
            meta.entry("name")
                .or_insert_with(|| Value::String(t.name.to_string()));
            if !t.namespace.is_empty() {
                meta.entry("namespace")
                    .or_insert_with(|| Value::String(t.namespace.to_string()));
            }
        }
    }
    let decoded = ep.info.from_value(value, opts.field_validation)?;
    let warnings = decoded
        .unknown_fields
        .iter()
        .map(|f| format!("unknown field {f:?}"))
        .collect();
    let mut obj = decoded.object;
    if obj.meta().name != t.name {
        return Err(Error::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({})",
            obj.meta().name,
            t.name
        )));
    }
    if patch_type == PatchType::Apply {
        // Apply never carries a precondition of its own.
        obj.meta_mut().resource_version = Str::default();
    }
    Ok((obj, warnings))
}

fn parse_patch(patch_type: PatchType, body: &[u8]) -> Result<Value> {
    // Apply configurations are read as JSON (which is YAML too, and what
    // kubectl sends); YAML proper is not read yet.
    let _ = patch_type;
    serde_json::from_slice(body)
        .map_err(|e| Error::bad_request(format!("error decoding patch: {e}")))
}

/// The checks Kubernetes makes of `PatchOptions` (422 Invalid).
fn check_options(patch_type: PatchType, opts: &WriteOptions) -> Result<()> {
    let invalid = |m: &str| -> Error {
        Status::failure(
            reason::INVALID,
            422,
            format!("PatchOptions.meta.k8s.io \"\" is invalid: {m}"),
        )
        .into()
    };
    if patch_type == PatchType::Apply && opts.field_manager.is_empty() {
        return Err(invalid(
            "fieldManager: Required value: is required for apply patch",
        ));
    }
    if patch_type != PatchType::Apply && opts.force {
        return Err(invalid(
            "force: Forbidden: may not be specified for non-apply patch",
        ));
    }
    Ok(())
}

/// Applies `patch` to `target` by the rules of `patch_type`, and records
/// field ownership.
fn apply_patch(
    patch_type: PatchType,
    target: &mut Value,
    patch: &Value,
    resource: &ApiResource,
    opts: &WriteOptions,
    subresource: &str,
) -> Result<()> {
    let schema = PatchSchema::for_kind(&resource.group, &resource.kind);
    let owner = ApplyOptions {
        manager: &opts.field_manager,
        force: opts.force,
        api_version: &resource.api_version,
        subresource,
        time: Some(Time::now()),
    };
    if patch_type == PatchType::Apply {
        return Ok(p::apply(target, patch, schema, &owner)?);
    }
    let old = target.clone();
    match patch_type {
        PatchType::Merge => p::merge(target, patch),
        PatchType::Json => p::json_patch(target, patch)?,
        PatchType::Strategic => {
            let Some(schema) = schema else {
                return Err(Error::unsupported_media_type(
                    "the body of the request was in an unknown format - accepted media types include: \
                     application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                ));
            };
            p::strategic_merge(target, patch, schema)?
        }
        PatchType::Apply => {}
    }
    p::record_update(&old, target, schema, &owner);
    Ok(())
}

impl From<PatchError> for Error {
    fn from(e: PatchError) -> Self {
        let message = e.to_string();
        match e {
            PatchError::BadDocument(_) => Error::bad_request(message),
            PatchError::Operation { .. } | PatchError::Unprocessable(_) => {
                Status::failure(reason::INVALID, 422, message).into()
            }
            PatchError::UnsupportedKind(_) => Error::unsupported_media_type(message),
            PatchError::Conflicts(conflicts) => {
                let mut s = Status::failure(reason::CONFLICT, 409, message);
                s.details = Some(StatusDetails {
                    causes: conflicts
                        .into_iter()
                        .map(|c| StatusCause {
                            reason: Str::from_static("FieldManagerConflict"),
                            message: Str::from(format!("conflict with {:?}", c.manager)),
                            field: Str::from(c.field),
                        })
                        .collect(),
                    ..StatusDetails::default()
                });
                s.into()
            }
        }
    }
}
