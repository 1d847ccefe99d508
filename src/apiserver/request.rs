//! What a request names (the resource, namespace, object and subresource) and
//! the options of each verb, with the meaning of Kubernetes' query
//! parameters.
use std::time::Duration;

use crate::api::meta::DeleteOptions;
use crate::api::scheme::FieldValidation;
use crate::api::selector::{FieldSelector, Selector};
use crate::api::{ApiResource, Str};

use super::error::{Error, Result};

/// Who is asking: the authenticated user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// The user name (`system:admin`).
    pub username: Str,
    /// The user's groups (`system:masters`).
    pub groups: Vec<Str>,
}

impl UserInfo {
    /// The all-powerful in-process user.
    pub fn admin() -> Self {
        UserInfo {
            username: Str::from_static("system:admin"),
            groups: vec![Str::from_static("system:masters")],
        }
    }
}

/// The target of a request: a resource (by group, version and plural),
/// optionally a namespace, an object name and a subresource. Built from an
/// [`ApiResource`] or from URL segments.
///
/// ```
/// use keelson::apiserver::Target;
///
/// let t = Target::new("apps", "v1", "deployments").namespace("default").name("web").subresource("scale");
/// assert_eq!(t.to_string(), "apps/v1 deployments default/web/scale");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Target {
    /// The API group (`""` for core).
    pub group: Str,
    /// The version.
    pub version: Str,
    /// The plural resource name (`pods`).
    pub resource: Str,
    /// The namespace (empty for cluster-scoped resources, or for lists and
    /// watches across all namespaces).
    pub namespace: Str,
    /// The object's name (empty for lists and creates).
    pub name: Str,
    /// The subresource (`status`, `scale`, `binding`), or empty.
    pub subresource: Str,
}

impl Target {
    /// A resource.
    pub fn new(group: impl Into<Str>, version: impl Into<Str>, resource: impl Into<Str>) -> Self {
        Target {
            group: group.into(),
            version: version.into(),
            resource: resource.into(),
            ..Target::default()
        }
    }

    /// The resource of an [`ApiResource`].
    pub fn of(resource: &ApiResource) -> Self {
        Target::new(
            resource.group.clone(),
            resource.version.clone(),
            resource.plural.clone(),
        )
    }

    /// In this namespace.
    #[must_use]
    pub fn namespace(mut self, namespace: impl Into<Str>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// This object.
    #[must_use]
    pub fn name(mut self, name: impl Into<Str>) -> Self {
        self.name = name.into();
        self
    }

    /// This subresource.
    #[must_use]
    pub fn subresource(mut self, subresource: impl Into<Str>) -> Self {
        self.subresource = subresource.into();
        self
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group.is_empty() {
            write!(f, "{} {}", self.version, self.resource)?;
        } else {
            write!(f, "{}/{} {}", self.group, self.version, self.resource)?;
        }
        if !self.namespace.is_empty() || !self.name.is_empty() {
            f.write_str(" ")?;
        }
        if !self.namespace.is_empty() {
            write!(f, "{}", self.namespace)?;
            if !self.name.is_empty() {
                f.write_str("/")?;
            }
        }
        write!(f, "{}", self.name)?;
        if !self.subresource.is_empty() {
            write!(f, "/{}", self.subresource)?;
        }
        Ok(())
    }
}

/// Options of writes (create, update, patch): `dryRun`, `fieldManager`,
/// `fieldValidation`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Run every step but do not persist (`dryRun=All`).
    pub dry_run: bool,
    /// The field manager recorded in `managedFields`.
    pub field_manager: Str,
    /// What to do with unknown fields.
    pub field_validation: FieldValidation,
    /// Server-side apply only: take ownership of conflicting fields.
    pub force: bool,
}

impl WriteOptions {
    /// Set dry run.
    #[must_use]
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Set the field manager.
    #[must_use]
    pub fn field_manager(mut self, manager: impl Into<Str>) -> Self {
        self.field_manager = manager.into();
        self
    }

    /// Set the field validation.
    #[must_use]
    pub fn field_validation(mut self, v: FieldValidation) -> Self {
        self.field_validation = v;
        self
    }

    /// Set force (server-side apply).
    #[must_use]
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }
}

/// How a list's or watch's `resourceVersion` is to be matched
/// (`resourceVersionMatch`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VersionMatch {
    /// Not given: the meaning follows `resourceVersion` alone.
    #[default]
    Unset,
    /// Data at least as new as the version.
    NotOlderThan,
    /// Data at exactly the version.
    Exact,
}

impl VersionMatch {
    /// Parses the query parameter.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "" => Ok(VersionMatch::Unset),
            "NotOlderThan" => Ok(VersionMatch::NotOlderThan),
            "Exact" => Ok(VersionMatch::Exact),
            other => Err(Error::bad_request(format!(
                "invalid resourceVersionMatch {other:?}: must be NotOlderThan or Exact"
            ))),
        }
    }
}

/// Options of list and watch: selectors, pagination, resource version.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    /// Only objects whose labels match.
    pub label_selector: Option<Selector>,
    /// Only objects whose fields match.
    pub field_selector: Option<FieldSelector>,
    /// Page size; `0` for everything.
    pub limit: usize,
    /// The token of the previous page.
    pub continue_token: Option<String>,
    /// `""` (the most recent, consistent), `"0"` (any), or a version.
    pub resource_version: Str,
    /// How `resource_version` is matched.
    pub version_match: VersionMatch,
    /// Watches only: send bookmarks.
    pub allow_bookmarks: bool,
    /// Watches only: send the current objects first (as `ADDED`), then a
    /// bookmark marking the end of the initial events.
    pub send_initial_events: Option<bool>,
    /// Watches only: end the watch after this long.
    pub timeout: Option<Duration>,
}

impl ListOptions {
    /// Select by labels (`app=web,tier!=db`).
    pub fn labels(mut self, selector: &str) -> Result<Self> {
        self.label_selector =
            Some(Selector::parse(selector).map_err(|e| Error::bad_request(e.to_string()))?);
        Ok(self)
    }

    /// Select by fields (`spec.nodeName=node-1`).
    pub fn fields(mut self, selector: &str) -> Result<Self> {
        self.field_selector = Some(
            FieldSelector::parse(selector)
                .map_err(|e| Error::bad_request(format!("invalid field selector: {e}")))?,
        );
        Ok(self)
    }

    /// Set the page size.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Continue a paginated list.
    #[must_use]
    pub fn continue_token(mut self, token: impl Into<String>) -> Self {
        self.continue_token = Some(token.into());
        self
    }

    /// Set the resource version.
    #[must_use]
    pub fn resource_version(mut self, rv: impl Into<Str>) -> Self {
        self.resource_version = rv.into();
        self
    }

    /// Set how the resource version is matched.
    #[must_use]
    pub fn version_match(mut self, m: VersionMatch) -> Self {
        self.version_match = m;
        self
    }

    /// Ask for bookmarks.
    #[must_use]
    pub fn bookmarks(mut self, allow: bool) -> Self {
        self.allow_bookmarks = allow;
        self
    }

    /// Ask for the initial events of a watch.
    #[must_use]
    pub fn send_initial_events(mut self, send: bool) -> Self {
        self.send_initial_events = Some(send);
        self
    }

    /// End the watch after this long.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// How dependents are treated when their owner is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Propagation {
    /// Dependents are left, their owner references removed.
    Orphan,
    /// The owner goes now; the garbage collector deletes the dependents.
    Background,
    /// The owner stays (with the `foregroundDeletion` finalizer) until the
    /// dependents that block it are gone.
    Foreground,
}

impl Propagation {
    /// Parses `propagationPolicy`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "Orphan" => Ok(Propagation::Orphan),
            "Background" => Ok(Propagation::Background),
            "Foreground" => Ok(Propagation::Foreground),
            other => Err(Error::bad_request(format!(
                "invalid propagationPolicy {other:?}: must be Orphan, Background or Foreground"
            ))),
        }
    }

    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Orphan => "Orphan",
            Propagation::Background => "Background",
            Propagation::Foreground => "Foreground",
        }
    }
}

/// The propagation a delete asks for, from `propagationPolicy` or the
/// deprecated `orphanDependents`; `None` when neither is given.
pub(crate) fn propagation_of(options: &DeleteOptions) -> Result<Option<Propagation>> {
    match (&options.propagation_policy, options.orphan_dependents) {
        (Some(p), Some(_)) if !p.is_empty() => Err(Error::bad_request(
            "orphanDependents and propagationPolicy cannot both be set",
        )),
        (Some(p), _) if !p.is_empty() => Propagation::parse(p).map(Some),
        (_, Some(true)) => Ok(Some(Propagation::Orphan)),
        (_, Some(false)) => Ok(Some(Propagation::Background)),
        _ => Ok(None),
    }
}

/// True when `dryRun` asks for a dry run (`All`); an unknown value is an
/// error.
pub(crate) fn parse_dry_run(values: &[Str]) -> Result<bool> {
    let mut dry = false;
    for v in values {
        match v.as_str() {
            "All" => dry = true,
            "" => {}
            other => {
                return Err(Error::bad_request(format!(
                    "Invalid dry run value {other:?}: valid values are \"All\""
                )))
            }
        }
    }
    Ok(dry)
}

/// How a patch body is to be applied (the request's `Content-Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PatchType {
    /// RFC 7386 JSON merge patch.
    Merge,
    /// RFC 6902 JSON patch.
    Json,
    /// Kubernetes' strategic merge patch.
    Strategic,
    /// Server-side apply.
    Apply,
}

impl PatchType {
    /// The content type of the patch.
    pub fn content_type(self) -> &'static str {
        match self {
            PatchType::Merge => "application/merge-patch+json",
            PatchType::Json => "application/json-patch+json",
            PatchType::Strategic => "application/strategic-merge-patch+json",
            PatchType::Apply => "application/apply-patch+yaml",
        }
    }
}

impl PatchType {
    /// The patch type of a `Content-Type` header (parameters such as
    /// `; charset=utf-8` are ignored).
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let base = content_type.split(';').next().unwrap_or("").trim();
        Some(match base {
            "application/merge-patch+json" => PatchType::Merge,
            "application/json-patch+json" => PatchType::Json,
            "application/strategic-merge-patch+json" => PatchType::Strategic,
            "application/apply-patch+yaml" | "application/apply-patch+json" => PatchType::Apply,
            _ => return None,
        })
    }
}
