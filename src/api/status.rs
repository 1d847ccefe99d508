//! `Status`: how the API reports errors (and some successes), with the
//! reason and HTTP code Kubernetes uses for each.
//!
//! ```
//! use keelson::api::Status;
//!
//! let s = Status::not_found("", "pods", "web-0");
//! assert_eq!(s.code, 404);
//! assert_eq!(s.reason, "NotFound");
//! assert_eq!(s.message, r#"pods "web-0" not found"#);
//! ```
use std::fmt;

use serde::{Deserialize, Serialize};

use super::serde_util::{is_default, nullable, nullable_vec};
use super::validation::ErrorList;
use super::{ListMeta, Str};

/// The reasons a `Status` can carry, as Kubernetes spells them.
pub mod reason {
    /// 400: the request is malformed.
    pub const BAD_REQUEST: &str = "BadRequest";
    /// 401: no valid credentials.
    pub const UNAUTHORIZED: &str = "Unauthorized";
    /// 403: the caller may not do this.
    pub const FORBIDDEN: &str = "Forbidden";
    /// 404: no such object or resource.
    pub const NOT_FOUND: &str = "NotFound";
    /// 405: the verb is not supported on this resource.
    pub const METHOD_NOT_ALLOWED: &str = "MethodNotAllowed";
    /// 406: no acceptable representation.
    pub const NOT_ACCEPTABLE: &str = "NotAcceptable";
    /// 409: the object exists already.
    pub const ALREADY_EXISTS: &str = "AlreadyExists";
    /// 409: the object changed since it was read.
    pub const CONFLICT: &str = "Conflict";
    /// 410: the requested resource version is gone.
    pub const GONE: &str = "Gone";
    /// 410: the requested resource version is too old (watch).
    pub const EXPIRED: &str = "Expired";
    /// 413: the request body is too large.
    pub const REQUEST_ENTITY_TOO_LARGE: &str = "RequestEntityTooLarge";
    /// 415: the body's content type is not supported.
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "UnsupportedMediaType";
    /// 422: the object is invalid.
    pub const INVALID: &str = "Invalid";
    /// 429: too many requests.
    pub const TOO_MANY_REQUESTS: &str = "TooManyRequests";
    /// 500: the server failed.
    pub const INTERNAL_ERROR: &str = "InternalError";
    /// 503: the server cannot serve now.
    pub const SERVICE_UNAVAILABLE: &str = "ServiceUnavailable";
    /// 504: the operation timed out.
    pub const TIMEOUT: &str = "Timeout";
}

/// The result of an operation that returned no object: an error, or a
/// success such as a delete.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Always `v1`.
    #[serde(default)]
    pub api_version: Str,
    /// Always `Status`.
    #[serde(default)]
    pub kind: Str,
    /// List metadata (unused, kept for the wire format).
    #[serde(default, skip_serializing_if = "is_default")]
    pub metadata: ListMeta,
    /// `Success` or `Failure`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub status: Str,
    /// A human-readable description.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub message: Str,
    /// A machine-readable reason, one of [`reason`].
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub reason: Str,
    /// Which object and which fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<StatusDetails>,
    /// The HTTP status code.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub code: i32,
}

/// Which object a `Status` is about.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusDetails {
    /// The object's name.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub name: Str,
    /// The API group.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub group: Str,
    /// The kind or resource.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub kind: Str,
    /// The object's uid.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub uid: Str,
    /// The field-level causes.
    #[serde(
        default,
        deserialize_with = "nullable_vec",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub causes: Vec<StatusCause>,
    /// Seconds to wait before retrying.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_default"
    )]
    pub retry_after_seconds: i32,
}

/// One field-level cause of a failure.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusCause {
    /// A machine-readable cause, such as `FieldValueRequired`.
    #[serde(default, rename = "reason", skip_serializing_if = "str::is_empty")]
    pub reason: Str,
    /// A human-readable description.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub message: Str,
    /// The field, as `spec.containers[0].image`.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub field: Str,
}

/// `pods` or `deployments.apps`, as Kubernetes names a group-resource.
fn qualified(group: &str, name: &str) -> String {
    if group.is_empty() {
        name.to_string()
    } else {
        format!("{name}.{group}")
    }
}

impl Status {
    /// A failure with a reason, code and message.
    pub fn failure(reason: &str, code: i32, message: impl Into<String>) -> Self {
        Status {
            api_version: Str::from_static("v1"),
            kind: Str::from_static("Status"),
            status: Str::from_static("Failure"),
            message: Str::from(message.into()),
            reason: Str::from(reason),
            code,
            ..Status::default()
        }
    }

    /// A success (as returned by some deletes).
    pub fn success() -> Self {
        Status {
            api_version: Str::from_static("v1"),
            kind: Str::from_static("Status"),
            status: Str::from_static("Success"),
            code: 200,
            ..Status::default()
        }
    }

    fn with_details(mut self, group: &str, kind: &str, name: &str) -> Self {
        self.details = Some(StatusDetails {
            name: Str::from(name),
            group: Str::from(group),
            kind: Str::from(kind),
            ..StatusDetails::default()
        });
        self
    }

    /// True for a `Success` status.
    pub fn is_success(&self) -> bool {
        self.status == "Success"
    }

    /// 404: `pods "name" not found`.
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        Status::failure(
            reason::NOT_FOUND,
            404,
            format!("{} {name:?} not found", qualified(group, resource)),
        )
        .with_details(group, resource, name)
    }

    /// 409: `pods "name" already exists`.
    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        Status::failure(
            reason::ALREADY_EXISTS,
            409,
            format!("{} {name:?} already exists", qualified(group, resource)),
        )
        .with_details(group, resource, name)
    }

    /// 409: the object was modified since it was read.
    pub fn conflict(group: &str, resource: &str, name: &str, detail: &str) -> Self {
        Status::failure(
            reason::CONFLICT,
            409,
            format!(
                "Operation cannot be fulfilled on {} {name:?}: {detail}",
                qualified(group, resource)
            ),
        )
        .with_details(group, resource, name)
    }

    /// 422: the object is invalid, with one cause per field error.
    pub fn invalid(group: &str, kind: &str, name: &str, errors: &ErrorList) -> Self {
        let mut status = Status::failure(
            reason::INVALID,
            422,
            format!("{} {name:?} is invalid: {errors}", qualified(group, kind)),
        )
        .with_details(group, kind, name);
        if let Some(details) = status.details.as_mut() {
            details.causes = errors
                .iter()
                .map(|e| {
                    let full = e.to_string();
                    let message = full
                        .strip_prefix(&e.field)
                        .and_then(|m| m.strip_prefix(": "))
                        .unwrap_or(&full);
                    StatusCause {
                        reason: Str::from(e.kind.reason()),
                        message: Str::from(message),
                        field: Str::from(e.field.as_str()),
                    }
                })
                .collect();
        }
        status
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Status::failure(reason::BAD_REQUEST, 400, message)
    }

    /// 403: `pods "name" is forbidden: why`.
    pub fn forbidden(group: &str, resource: &str, name: &str, why: &str) -> Self {
        let what = qualified(group, resource);
        let message = if name.is_empty() {
            format!("{what} is forbidden: {why}")
        } else {
            format!("{what} {name:?} is forbidden: {why}")
        };
        Status::failure(reason::FORBIDDEN, 403, message).with_details(group, resource, name)
    }

    /// 410 Expired: a watch or list asked for a compacted resource version.
    pub fn expired(message: impl Into<String>) -> Self {
        Status::failure(reason::EXPIRED, 410, message)
    }

    /// 410 Gone.
    pub fn gone(message: impl Into<String>) -> Self {
        Status::failure(reason::GONE, 410, message)
    }

    /// 405: the verb is not supported.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Status::failure(reason::METHOD_NOT_ALLOWED, 405, message)
    }

    /// 413: the body is over the limit.
    pub fn too_large(message: impl Into<String>) -> Self {
        Status::failure(reason::REQUEST_ENTITY_TOO_LARGE, 413, message)
    }

    /// 415: the content type is not supported.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Status::failure(reason::UNSUPPORTED_MEDIA_TYPE, 415, message)
    }

    /// 500: the server failed.
    pub fn internal(message: impl Into<String>) -> Self {
        Status::failure(reason::INTERNAL_ERROR, 500, message)
    }

    /// 503: the server cannot serve now.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Status::failure(reason::SERVICE_UNAVAILABLE, 503, message)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{} ({})", self.reason, self.code)
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for Status {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::validation::{FieldError, Path};

    #[test]
    fn invalid_has_causes() {
        let mut errors = ErrorList::new();
        errors.push(FieldError::invalid(
            &Path::root("metadata").child("name"),
            "myPod",
            "bad",
        ));
        let s = Status::invalid("", "Pod", "myPod", &errors);
        assert_eq!(s.code, 422);
        assert_eq!(
            s.message,
            r#"Pod "myPod" is invalid: metadata.name: Invalid value: "myPod": bad"#
        );
        let cause = &s.details.as_ref().unwrap().causes[0];
        assert_eq!(cause.field, "metadata.name");
        assert_eq!(cause.reason, "FieldValueInvalid");
        assert_eq!(cause.message, r#"Invalid value: "myPod": bad"#);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["kind"], "Status");
        assert_eq!(json["details"]["causes"][0]["field"], "metadata.name");
    }

    #[test]
    fn qualified_names() {
        assert_eq!(
            Status::already_exists("apps", "deployments", "web").message,
            r#"deployments.apps "web" already exists"#
        );
    }
}
