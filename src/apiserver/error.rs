//! The API server's error: a Kubernetes [`Status`], boxed.
use std::fmt;
use std::ops::Deref;

use crate::api::scheme::{DecodeError, SchemeError};
use crate::api::status::reason;
use crate::api::{ErrorList, Status};
use crate::store;

/// A failed request: the [`Status`] the API returns (reason, code, message,
/// causes). Boxed, so results stay small.
#[derive(Clone, PartialEq)]
pub struct Error(Box<Status>);

/// The result type of API server operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The status.
    pub fn status(&self) -> &Status {
        &self.0
    }

    /// The status, owned.
    pub fn into_status(self) -> Status {
        *self.0
    }

    /// The HTTP code (`404`).
    pub fn code(&self) -> i32 {
        self.0.code
    }

    /// The reason (`NotFound`).
    pub fn reason(&self) -> &str {
        &self.0.reason
    }

    /// True for `NotFound`.
    pub fn is_not_found(&self) -> bool {
        self.0.reason == reason::NOT_FOUND
    }

    /// True for `Conflict`.
    pub fn is_conflict(&self) -> bool {
        self.0.reason == reason::CONFLICT
    }

    /// True for `AlreadyExists`.
    pub fn is_already_exists(&self) -> bool {
        self.0.reason == reason::ALREADY_EXISTS
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Status::bad_request(message).into()
    }

    /// 422 Invalid with one cause per field error.
    pub fn invalid(group: &str, kind: &str, name: &str, errors: &ErrorList) -> Self {
        Status::invalid(group, kind, name, errors).into()
    }

    /// 500 InternalError.
    pub fn internal(message: impl Into<String>) -> Self {
        Status::internal(message).into()
    }

    /// 404 NotFound for a resource.
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        Status::not_found(group, resource, name).into()
    }

    /// 403 Forbidden.
    pub fn forbidden(group: &str, resource: &str, name: &str, why: &str) -> Self {
        Status::forbidden(group, resource, name, why).into()
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Status::method_not_allowed(message).into()
    }

    /// 504 Timeout (a resource version the server has not reached).
    pub fn timeout(message: impl Into<String>) -> Self {
        let mut s = Status::failure(reason::TIMEOUT, 504, message);
        s.details = Some(crate::api::StatusDetails {
            retry_after_seconds: 1,
            ..Default::default()
        });
        s.into()
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Status::unsupported_media_type(message).into()
    }

    /// 406 NotAcceptable: no media type the client accepts can carry the
    /// response.
    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Status::failure(crate::api::status::reason::NOT_ACCEPTABLE, 406, message).into()
    }
}

impl From<Status> for Error {
    fn from(s: Status) -> Self {
        Error(Box::new(s))
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        *e.0
    }
}

impl Deref for Error {
    type Target = Status;
    fn deref(&self) -> &Status {
        &self.0
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.0.code, self.0.reason, self.0.message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for Error {}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Error::bad_request(e.to_string())
    }
}

impl From<SchemeError> for Error {
    fn from(e: SchemeError) -> Self {
        Error::bad_request(e.to_string())
    }
}

/// Maps a store error for the object `name` of `group`/`resource`.
pub(crate) fn from_store(e: store::Error, group: &str, resource: &str, name: &str) -> Error {
    match e {
        store::Error::NotFound { .. } => Error::not_found(group, resource, name),
        store::Error::AlreadyExists { .. } => Status::already_exists(group, resource, name).into(),
        store::Error::Conflict { .. } => Status::conflict(
            group,
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
        .into(),
        store::Error::Compacted { requested, compacted } => Status::expired(format!(
            "The resourceVersion for the provided list is too old: {requested} (compacted at {compacted})"
        ))
        .into(),
        store::Error::FutureRevision { requested, current } => Error::timeout(format!(
            "Too large resource version: {requested}, current: {current}"
        )),
        store::Error::TooLarge { size, limit, .. } => Status::too_large(format!(
            "etcdserver: request is too large ({size} bytes, limit {limit})"
        ))
        .into(),
        store::Error::InvalidArgument(m) => Error::bad_request(m),
        store::Error::Lagged { .. } => Status::expired("watch fell behind; list again").into(),
        e @ store::Error::Unsupported(_) => Error::method_not_allowed(e.to_string()),
        e @ store::Error::Unavailable { .. } => Status::unavailable(e.to_string()).into(),
    }
}
