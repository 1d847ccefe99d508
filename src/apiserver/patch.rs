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

use std::sync::Arc;

use serde_json::Value;

use crate::api::Str;

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
        let mode = opts.field_validation;
        let warnings = std::sync::Mutex::new(Vec::<String>::new());
        let ep2: Arc<Endpoint> = ep.clone();
        let mut written = self
            .update_with(&ep, t, opts, user, |current| {
                let served = ep2.served(current.clone());
                let exists = !served.meta().name.is_empty();
                let mut value = served
                    .to_value()
                    .map_err(|e| Error::internal(format!("encoding the current object: {e}")))?;
                if !exists {
                    // Only apply creates: a patch of a missing object is 404.
                    if patch_type != PatchType::Apply {
                        return Err(Error::not_found(
                            &ep2.info.resource.group,
                            &ep2.info.resource.plural,
                            &t.name,
                        ));
                    }
                    value = Value::Object(Default::default());
                }
                apply_patch(patch_type, &mut value, &patch, &ep2.info.resource)?;
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
                let decoded = ep2.info.from_value(value, mode)?;
                let mut w = warnings.lock().unwrap_or_else(|e| e.into_inner());
                w.clear();
                w.extend(
                    decoded
                        .unknown_fields
                        .iter()
                        .map(|f| format!("unknown field {f:?}")),
                );
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
        apply_patch(patch_type, &mut value, patch, &resource.resource)?;
        let decoded = resource.from_value(value, opts.field_validation)?;
        self.update_as(t, decoded.object, opts, user).await
    }
}

fn parse_patch(patch_type: PatchType, body: &[u8]) -> Result<Value> {
    // kubectl sends apply configurations as JSON (valid YAML) too.
    let _ = patch_type;
    serde_json::from_slice(body)
        .map_err(|e| Error::bad_request(format!("error decoding patch: {e}")))
}

/// Applies `patch` to `target` by the rules of `patch_type`.
fn apply_patch(
    patch_type: PatchType,
    target: &mut Value,
    patch: &Value,
    resource: &crate::api::resource::ApiResource,
) -> Result<()> {
    let _ = resource;
    match patch_type {
        PatchType::Merge => {
            merge_patch(target, patch);
            Ok(())
        }
        PatchType::Json | PatchType::Strategic | PatchType::Apply => {
            Err(Error::unsupported_media_type(format!(
                "the patch type {:?} is not supported yet",
                patch_type.content_type()
            )))
        }
    }
}

/// RFC 7386 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let Value::Object(map) = target else { return };
    for (k, v) in patch {
        if v.is_null() {
            map.remove(k);
        } else {
            merge_patch(map.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}
