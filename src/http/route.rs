//! Request paths and query strings, parsed into what the API server takes.

use crate::api::meta::DeleteOptions;
use crate::api::scheme::FieldValidation;
use crate::apiserver::{Error, ListOptions, Result, Target, VersionMatch, WriteOptions};

/// What a request path names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/version`
    Version,
    /// `/healthz`, `/livez`, `/readyz` (and their `/…/ping` forms).
    Health,
    /// `/metrics`
    Metrics,
    /// `/api`
    CoreVersions,
    /// `/apis`
    Groups,
    /// `/apis/{group}`
    Group(String),
    /// `/api/v1`, `/apis/{group}/{version}`
    Resources { group: String, version: String },
    /// `/openapi/v2`
    OpenApiV2,
    /// `/openapi/v3`
    OpenApiRoot,
    /// `/openapi/v3/api/v1`, `/openapi/v3/apis/{group}/{version}`
    OpenApiDoc { group: String, version: String },
    /// A resource, collection or subresource; `watch` when the path used the
    /// deprecated `/watch/` prefix.
    Object { target: Target, watch_prefix: bool },
}

/// Parses a request path (without the query string).
pub(crate) fn parse_path(path: &str) -> Option<Route> {
    let trimmed = path.trim_end_matches('/');
    let segs: Vec<String> = trimmed
        .split('/')
        .skip(1)
        .map(percent_decode)
        .collect::<Option<Vec<_>>>()?;
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match segs.as_slice() {
        ["version"] => Some(Route::Version),
        ["healthz" | "livez" | "readyz", ..] => Some(Route::Health),
        ["metrics"] => Some(Route::Metrics),
        ["api"] => Some(Route::CoreVersions),
        ["apis"] => Some(Route::Groups),
        ["apis", g] => Some(Route::Group(g.to_string())),
        ["api", v] => Some(Route::Resources {
            group: String::new(),
            version: v.to_string(),
        }),
        ["apis", g, v] => Some(Route::Resources {
            group: g.to_string(),
            version: v.to_string(),
        }),
        ["openapi", "v2"] => Some(Route::OpenApiV2),
        ["openapi", "v3"] => Some(Route::OpenApiRoot),
        ["openapi", "v3", "api", v] => Some(Route::OpenApiDoc {
            group: String::new(),
            version: v.to_string(),
        }),
        ["openapi", "v3", "apis", g, v] => Some(Route::OpenApiDoc {
            group: g.to_string(),
            version: v.to_string(),
        }),
        ["api", v, rest @ ..] => object("", v, rest),
        ["apis", g, v, rest @ ..] => object(g, v, rest),
        _ => None,
    }
}

fn object(group: &str, version: &str, rest: &[&str]) -> Option<Route> {
    let (watch_prefix, rest) = match rest {
        ["watch", rest @ ..] => (true, rest),
        _ => (false, rest),
    };
    let mut t = Target::new(group, version, "");
    match rest {
        // The namespace object itself and its subresources.
        ["namespaces", ns] if group.is_empty() => {
            t.resource = "namespaces".into();
            t.name = (*ns).into();
        }
        ["namespaces", ns, sub @ ("status" | "finalize")] if group.is_empty() => {
            t.resource = "namespaces".into();
            t.name = (*ns).into();
            t.subresource = (*sub).into();
        }
        ["namespaces", ns, res, tail @ ..] => {
            t.namespace = (*ns).into();
            t.resource = (*res).into();
            match tail {
                [] => {}
                [name] => t.name = (*name).into(),
                [name, sub] => {
                    t.name = (*name).into();
                    t.subresource = (*sub).into();
                }
                _ => return None,
            }
        }
        [res] => t.resource = (*res).into(),
        [res, name] => {
            t.resource = (*res).into();
            t.name = (*name).into();
        }
        [res, name, sub] => {
            t.resource = (*res).into();
            t.name = (*name).into();
            t.subresource = (*sub).into();
        }
        _ => return None,
    }
    if t.resource.is_empty() || (watch_prefix && !t.subresource.is_empty()) {
        return None;
    }
    Some(Route::Object {
        target: t,
        watch_prefix,
    })
}

/// Decodes `%XX` escapes (and, in query strings, `+` as a space when
/// `plus` is set). `None` for a malformed escape or invalid UTF-8.
fn decode(s: &str, plus: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn percent_decode(s: &str) -> Option<String> {
    decode(s, false)
}

/// The query string's parameters, decoded, in order.
#[derive(Debug, Default)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses `a=b&c=d`; a malformed escape is a 400.
    pub(crate) fn parse(query: Option<&str>) -> Result<Query> {
        let mut pairs = Vec::new();
        for part in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let (Some(k), Some(v)) = (decode(k, true), decode(v, true)) else {
                return Err(Error::bad_request(format!(
                    "malformed query parameter {part:?}"
                )));
            };
            pairs.push((k, v));
        }
        Ok(Query { pairs })
    }

    /// The first value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`.
    pub(crate) fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn bool(&self, key: &str) -> Result<bool> {
        match self.get(key) {
            None | Some("false") | Some("0") => Ok(false),
            Some("" | "true" | "1") => Ok(true),
            Some(other) => Err(Error::bad_request(format!(
                "invalid value {other:?} for {key}: must be true or false"
            ))),
        }
    }

    /// `?watch=true` (or `1`).
    pub(crate) fn watch(&self) -> Result<bool> {
        self.bool("watch")
    }

    /// List and watch options.
    pub(crate) fn list_options(&self) -> Result<ListOptions> {
        let mut o = ListOptions::default();
        if let Some(s) = self.get("labelSelector").filter(|s| !s.is_empty()) {
            o = o.labels(s)?;
        }
        if let Some(s) = self.get("fieldSelector").filter(|s| !s.is_empty()) {
            o = o.fields(s)?;
        }
        if let Some(l) = self.get("limit").filter(|s| !s.is_empty()) {
            o.limit = l.parse::<i64>().map(|l| l.max(0) as usize).map_err(|_| {
                Error::bad_request(format!("invalid limit {l:?}: must be an integer"))
            })?;
        }
        if let Some(c) = self.get("continue").filter(|s| !s.is_empty()) {
            o.continue_token = Some(c.to_string());
        }
        if let Some(rv) = self.get("resourceVersion") {
            o.resource_version = rv.into();
        }
        if let Some(m) = self.get("resourceVersionMatch") {
            o.version_match = VersionMatch::parse(m)?;
        }
        o.allow_bookmarks = self.bool("allowWatchBookmarks")?;
        if self.get("sendInitialEvents").is_some() {
            o.send_initial_events = Some(self.bool("sendInitialEvents")?);
        }
        if let Some(t) = self.get("timeoutSeconds").filter(|s| !s.is_empty()) {
            let secs: u64 = t.parse().map_err(|_| {
                Error::bad_request(format!("invalid timeoutSeconds {t:?}: must be an integer"))
            })?;
            o.timeout = Some(std::time::Duration::from_secs(secs));
        }
        Ok(o)
    }

    /// Write options: `dryRun`, `fieldManager`, `fieldValidation`, `force`.
    pub(crate) fn write_options(&self) -> Result<WriteOptions> {
        let mut o = WriteOptions::default();
        for d in self.all("dryRun") {
            match d {
                "All" => o.dry_run = true,
                "" => {}
                other => {
                    return Err(Error::bad_request(format!(
                        "invalid dryRun {other:?}: the only supported value is All"
                    )))
                }
            }
        }
        if let Some(m) = self.get("fieldManager") {
            o.field_manager = m.into();
        }
        if let Some(v) = self.get("fieldValidation") {
            o.field_validation = FieldValidation::parse(v).ok_or_else(|| {
                Error::bad_request(format!(
                    "fieldValidation {v:?} is invalid: must be Ignore, Warn or Strict"
                ))
            })?;
        }
        o.force = self.bool("force")?;
        Ok(o)
    }

    /// Delete options from the query (the body, when present, is merged by
    /// the caller): `gracePeriodSeconds`, `propagationPolicy`,
    /// `orphanDependents`, `dryRun`.
    pub(crate) fn delete_options(&self, mut o: DeleteOptions) -> Result<DeleteOptions> {
        if let Some(g) = self.get("gracePeriodSeconds").filter(|s| !s.is_empty()) {
            o.grace_period_seconds =
                Some(g.parse().map_err(|_| {
                    Error::bad_request(format!("invalid gracePeriodSeconds {g:?}"))
                })?);
        }
        if let Some(p) = self.get("propagationPolicy").filter(|s| !s.is_empty()) {
            o.propagation_policy = Some(p.into());
        }
        if self.get("orphanDependents").is_some() {
            o.orphan_dependents = Some(self.bool("orphanDependents")?);
        }
        for d in self.all("dryRun").filter(|d| !d.is_empty()) {
            o.dry_run.push(d.into());
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(path: &str) -> Target {
        match parse_path(path) {
            Some(Route::Object { target, .. }) => target,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn paths() {
        let t = target("/api/v1/namespaces/default/pods/web-0/status");
        assert_eq!(
            (
                t.group.as_str(),
                t.version.as_str(),
                t.resource.as_str(),
                t.namespace.as_str(),
                t.name.as_str(),
                t.subresource.as_str()
            ),
            ("", "v1", "pods", "default", "web-0", "status")
        );
        let t = target("/api/v1/namespaces/kube-system");
        assert_eq!(
            (t.resource.as_str(), t.name.as_str()),
            ("namespaces", "kube-system")
        );
        let t = target("/api/v1/namespaces/x/finalize");
        assert_eq!(t.subresource.as_str(), "finalize");
        let t = target("/apis/apps/v1/deployments");
        assert_eq!((t.group.as_str(), t.namespace.as_str()), ("apps", ""));
        let t = target("/apis/apps/v1/namespaces/d/deployments/web/scale");
        assert_eq!(t.subresource.as_str(), "scale");
        let t = target("/api/v1/nodes/n%2D1");
        assert_eq!(t.name.as_str(), "n-1");
        assert!(matches!(
            parse_path("/api/v1/watch/namespaces/d/pods"),
            Some(Route::Object {
                watch_prefix: true,
                ..
            })
        ));
        assert_eq!(parse_path("/api/v1/namespaces/a/pods/b/c/d"), None);
        assert_eq!(parse_path("/nope"), None);
        assert_eq!(parse_path("/api/v1/pods/%zz"), None);
        assert_eq!(parse_path("/version"), Some(Route::Version));
        assert_eq!(parse_path("/readyz"), Some(Route::Health));
    }

    #[test]
    fn queries() {
        let q = Query::parse(Some(
            "labelSelector=app%3Dweb%2Ctier+in+(a,b)&limit=5&watch=1&dryRun=All&fieldValidation=Strict",
        ))
        .unwrap();
        let l = q.list_options().unwrap();
        assert_eq!(l.limit, 5);
        assert!(l.label_selector.is_some());
        assert!(q.watch().unwrap());
        let w = q.write_options().unwrap();
        assert!(w.dry_run);
        assert_eq!(w.field_validation, FieldValidation::Strict);
        assert_eq!(
            Query::parse(Some("limit=x"))
                .unwrap()
                .list_options()
                .unwrap_err()
                .code(),
            400
        );
        assert_eq!(Query::parse(Some("a=%")).unwrap_err().code(), 400);
        assert_eq!(
            Query::parse(Some("fieldValidation=Loud"))
                .unwrap()
                .write_options()
                .unwrap_err()
                .code(),
            400
        );
    }
}
