//! Per-namespace resource policy: [`LimitRange`] (bounds and defaults for
//! each container, pod or claim) and [`ResourceQuota`] (caps on the total
//! a namespace may use).
//!
//! Defaulting of a `Container` limit follows Kubernetes: a missing
//! `default` (limit) is taken from `max`, and a missing `defaultRequest`
//! from `default`, then from `min`.
//!
//! ```
//! use keelson::api::core::LimitRange;
//! use keelson::api::Resource;
//!
//! let mut lr: LimitRange = serde_json::from_str(
//!     r#"{"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"limits"},
//!         "spec":{"limits":[{"type":"Container","max":{"cpu":"2"},"min":{"cpu":"100m"}}]}}"#,
//! ).unwrap();
//! lr.apply_defaults();
//! let item = &lr.spec.limits[0];
//! assert_eq!(item.default.get("cpu").map(|q| q.as_str()), Some("2"));
//! assert_eq!(item.default_request.get("cpu").map(|q| q.as_str()), Some("2"));
//! ```
use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::api::quantity::validate_nonnegative_quantity;
use crate::api::resource::object;
use crate::api::serde_util::nullable;
use crate::api::validation::{is_qualified_name, ErrorList, FieldError, Path};
use crate::api::{Quantity, ResourceList, Str};

/// Limits on each pod (sum of its containers).
pub const LIMIT_TYPE_POD: &str = "Pod";
/// Limits on each container.
pub const LIMIT_TYPE_CONTAINER: &str = "Container";
/// Limits on each PersistentVolumeClaim.
pub const LIMIT_TYPE_PVC: &str = "PersistentVolumeClaim";
/// The limit types.
pub const LIMIT_TYPES: &[&str] = &[LIMIT_TYPE_POD, LIMIT_TYPE_CONTAINER, LIMIT_TYPE_PVC];

/// The quota scopes.
pub const QUOTA_SCOPES: &[&str] = &[
    "Terminating",
    "NotTerminating",
    "BestEffort",
    "NotBestEffort",
    "PriorityClass",
    "CrossNamespacePodAffinity",
];
/// The operators of a quota scope selector.
pub const SCOPE_SELECTOR_OPERATORS: &[&str] = &["In", "NotIn", "Exists", "DoesNotExist"];

object! {
    /// Bounds and defaults for the resources of each container, pod or
    /// claim in a namespace.
    pub struct LimitRange {
        /// The limits.
        spec: LimitRangeSpec = "spec",
    }
    resource {
        group: "",
        version: "v1",
        kind: "LimitRange",
        plural: "limitranges",
        scope: Namespaced,
        short_names: ["limits"],
    }

    fn apply_defaults(&mut self) {
        for item in &mut self.spec.limits {
            item.apply_defaults();
        }
    }

    fn validate_fields(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        let spec = Path::root("spec");
        let limits = spec.child("limits");
        let mut seen_types = Vec::new();
        for (i, item) in self.spec.limits.iter().enumerate() {
            let p = limits.index(i);
            if seen_types.contains(&&*item.type_) {
                errors.push(FieldError::duplicate(&p.child("type"), &item.type_));
            }
            seen_types.push(&item.type_);
            item.validate(&p, &mut errors);
        }
        errors
    }
}

/// The limits of a [`LimitRange`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitRangeSpec {
    /// One item per kind of thing limited.
    #[serde(default, deserialize_with = "nullable")]
    pub limits: Vec<LimitRangeItem>,
}

/// Bounds and defaults for one kind of thing (`Container`, `Pod`,
/// `PersistentVolumeClaim`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitRangeItem {
    /// `Container`, `Pod` or `PersistentVolumeClaim`.
    #[serde(rename = "type", default)]
    pub type_: Str,
    /// The most each may use.
    #[serde(default, skip_serializing_if = "ResourceList::is_empty")]
    pub max: ResourceList,
    /// The least each must request.
    #[serde(default, skip_serializing_if = "ResourceList::is_empty")]
    pub min: ResourceList,
    /// The limit given to containers that set none.
    #[serde(default, skip_serializing_if = "ResourceList::is_empty")]
    pub default: ResourceList,
    /// The request given to containers that set none.
    #[serde(default, skip_serializing_if = "ResourceList::is_empty")]
    pub default_request: ResourceList,
    /// The largest allowed limit/request ratio.
    #[serde(default, skip_serializing_if = "ResourceList::is_empty")]
    pub max_limit_request_ratio: ResourceList,
}

impl LimitRangeItem {
    /// Kubernetes' defaults (`SetDefaults_LimitRangeItem`).
    pub fn apply_defaults(&mut self) {
        if self.type_ != LIMIT_TYPE_CONTAINER {
            return;
        }
        for (name, q) in &self.max {
            if !self.default.contains_key(name) {
                self.default.insert(name, q.clone());
            }
        }
        for (name, q) in &self.default {
            if !self.default_request.contains_key(name) {
                self.default_request.insert(name, q.clone());
            }
        }
        for (name, q) in &self.min {
            if !self.default_request.contains_key(name) {
                self.default_request.insert(name, q.clone());
            }
        }
    }

    fn validate(&self, path: &Path<'_>, errors: &mut ErrorList) {
        let ty = &*self.type_;
        let type_path = path.child("type");
        let type_problems = is_qualified_name(ty);
        if type_problems.is_empty() && !ty.contains('/') && !LIMIT_TYPES.contains(&ty) {
            errors.push(FieldError::invalid(
                &type_path,
                ty,
                "must be a standard limit type or fully qualified",
            ));
        }
        for msg in type_problems {
            errors.push(FieldError::invalid(&type_path, ty, msg));
        }

        let container_like = ty == LIMIT_TYPE_POD || ty == LIMIT_TYPE_CONTAINER;
        let pod = ty == LIMIT_TYPE_POD;
        let lists = [
            ("max", &self.max, true),
            ("min", &self.min, true),
            ("default", &self.default, !pod),
            ("defaultRequest", &self.default_request, !pod),
            ("maxLimitRequestRatio", &self.max_limit_request_ratio, true),
        ];
        for (field, list, checked) in lists {
            let p = path.child(field);
            if !checked {
                if !list.is_empty() {
                    errors.push(FieldError::forbidden(
                        &p,
                        "may not be specified when `type` is 'Pod'",
                    ));
                }
                continue;
            }
            for (name, q) in list {
                let key = p.key(name);
                let rule = if container_like {
                    ResourceNameRule::Container
                } else {
                    ResourceNameRule::Any
                };
                validate_resource_name(name, rule, &key, errors);
                errors.extend(validate_nonnegative_quantity(q, &key));
            }
        }
        if ty == LIMIT_TYPE_PVC {
            let has_storage = |l: &ResourceList| l.contains_key("storage");
            if !has_storage(&self.min) && !has_storage(&self.max) {
                errors.push(FieldError::required(
                    &path.child("limits"),
                    "either minimum or maximum storage value is required, but neither was provided",
                ));
            }
        }

        // For each resource: min <= defaultRequest <= default <= max, and a
        // reachable limit/request ratio. Paths and values as Kubernetes
        // reports them.
        let (default, default_request) = if pod {
            (&ResourceList::new(), &ResourceList::new())
        } else {
            (&self.default, &self.default_request)
        };
        let mut names: Vec<&str> = self
            .max
            .keys()
            .chain(self.min.keys())
            .chain(default.keys())
            .chain(default_request.keys())
            .chain(self.max_limit_request_ratio.keys())
            .collect();
        names.sort_unstable();
        names.dedup();
        let greater = |a: Option<&Quantity>, b: Option<&Quantity>| match (a, b) {
            (Some(a), Some(b)) => a.compare(b) == Some(Ordering::Greater),
            _ => false,
        };
        for name in names {
            let min = self.min.get(name);
            let max = self.max.get(name);
            let def = default.get(name);
            let req = default_request.get(name);
            let ratio = self.max_limit_request_ratio.get(name);
            let show = |q: Option<&Quantity>| q.map(|q| q.as_str().to_string()).unwrap_or_default();
            let mut push = |field: &str, value: Option<&Quantity>, detail: String| {
                let p = path.child(field);
                errors.push(FieldError::invalid(&p.key(name), show(value), detail));
            };
            if greater(min, max) {
                push(
                    "min",
                    min,
                    format!(
                        "min value {} is greater than max value {}",
                        show(min),
                        show(max)
                    ),
                );
            }
            if greater(min, req) {
                push(
                    "defaultRequest",
                    req,
                    format!(
                        "min value {} is greater than default request value {}",
                        show(min),
                        show(req)
                    ),
                );
            }
            if greater(req, max) {
                push(
                    "defaultRequest",
                    req,
                    format!(
                        "default request value {} is greater than max value {}",
                        show(req),
                        show(max)
                    ),
                );
            }
            if greater(req, def) {
                push(
                    "defaultRequest",
                    req,
                    format!(
                        "default request value {} is greater than default limit value {}",
                        show(req),
                        show(def)
                    ),
                );
            }
            if greater(min, def) {
                push(
                    "default",
                    min,
                    format!(
                        "min value {} is greater than default value {}",
                        show(min),
                        show(def)
                    ),
                );
            }
            if greater(def, max) {
                push(
                    "default",
                    max,
                    format!(
                        "default value {} is greater than max value {}",
                        show(def),
                        show(max)
                    ),
                );
            }
            if let Some(r) = ratio {
                if r.compare(&Quantity::from("1")) == Some(Ordering::Less) {
                    push(
                        "maxLimitRequestRatio",
                        ratio,
                        format!("ratio {r} is less than 1"),
                    );
                }
                let milli = |q: &Quantity| q.try_milli_value().ok().map(|v| v as f64);
                if let (Some(lo), Some(hi), Some(rv)) =
                    (min.and_then(milli), max.and_then(milli), milli(r))
                {
                    let limit = hi / lo;
                    if rv / 1000.0 > limit {
                        push(
                            "maxLimitRequestRatio",
                            ratio,
                            format!("ratio {r} is greater than max/min = {limit:.6}"),
                        );
                    }
                }
            }
            // Resources that cannot be overcommitted (hugepages, extended
            // resources) need request == limit.
            if let (Some(d), Some(r)) = (def, req) {
                if !overcommit_allowed(name) && d.compare(r) != Some(Ordering::Equal) {
                    push(
                        "defaultRequest",
                        req,
                        format!(
                            "default value {d} must equal to defaultRequest value {r} in {name}"
                        ),
                    );
                }
            }
        }
    }
}

/// Which resource names a list may hold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ResourceNameRule {
    /// Container and pod limits: `cpu`, `memory`, `ephemeral-storage`,
    /// `hugepages-*`, or a domain-qualified (extended) resource.
    Container,
    /// Any standard resource (`storage`, `pods`, ...) or a qualified one.
    Any,
    /// Quota resources (`requests.cpu`, `pods`, `count/deployments.apps`).
    Quota,
}

const CONTAINER_RESOURCES: &[&str] = &["cpu", "memory", "ephemeral-storage"];
const QUOTA_RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
];
const OTHER_STANDARD_RESOURCES: &[&str] = &["storage"];

fn is_hugepages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

/// Native resources (no domain, or a `kubernetes.io` domain) other than
/// hugepages may be overcommitted.
fn overcommit_allowed(name: &str) -> bool {
    let native = match name.split_once('/') {
        None => true,
        Some((domain, _)) => domain == "kubernetes.io" || domain.ends_with(".kubernetes.io"),
    };
    native && !is_hugepages(name)
}

fn validate_resource_name(
    name: &str,
    rule: ResourceNameRule,
    path: &Path<'_>,
    errors: &mut ErrorList,
) {
    let problems = is_qualified_name(name);
    if !problems.is_empty() {
        for msg in problems {
            errors.push(FieldError::invalid(path, name, msg));
        }
        return;
    }
    if name.contains('/') {
        return;
    }
    let (ok, detail) = match rule {
        ResourceNameRule::Container => (
            CONTAINER_RESOURCES.contains(&name) || is_hugepages(name),
            "must be a standard resource for containers",
        ),
        ResourceNameRule::Quota => (
            QUOTA_RESOURCES.contains(&name)
                || is_hugepages(name)
                || name.strip_prefix("requests.").is_some_and(is_hugepages),
            "must be a standard resource for quota",
        ),
        ResourceNameRule::Any => (
            CONTAINER_RESOURCES.contains(&name)
                || QUOTA_RESOURCES.contains(&name)
                || OTHER_STANDARD_RESOURCES.contains(&name)
                || is_hugepages(name),
            "must be a standard resource type or fully qualified",
        ),
    };
    if !ok {
        errors.push(FieldError::invalid(path, name, detail));
    }
}

object! {
    /// Caps on the total resources and object counts of a namespace.
    pub struct ResourceQuota {
        /// The caps.
        spec: ResourceQuotaSpec = "spec",
        /// The caps enforced and the current usage.
        status: ResourceQuotaStatus = "status",
    }
    resource {
        group: "",
        version: "v1",
        kind: "ResourceQuota",
        plural: "resourcequotas",
        scope: Namespaced,
        short_names: ["quota"],
        subresources: ["status"],
    }

    fn validate_fields(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        let spec = Path::root("spec");
        validate_resource_list(&self.spec.hard, &spec.child("hard"), &mut errors);
        let scopes = spec.child("scopes");
        for (i, scope) in self.spec.scopes.iter().enumerate() {
            if !QUOTA_SCOPES.contains(&&**scope) {
                errors.push(FieldError::not_supported(&scopes.index(i), scope, QUOTA_SCOPES));
            }
        }
        let has = |s: &str| self.spec.scopes.iter().any(|x| x == s);
        for (a, b) in [("Terminating", "NotTerminating"), ("BestEffort", "NotBestEffort")] {
            if has(a) && has(b) {
                errors.push(FieldError::invalid(
                    &scopes,
                    format!("{a}, {b}"),
                    "conflicting scopes",
                ));
            }
        }
        if let Some(selector) = &self.spec.scope_selector {
            let exprs = spec.child("scopeSelector");
            let exprs = exprs.child("matchExpressions");
            for (i, req) in selector.match_expressions.iter().enumerate() {
                let p = exprs.index(i);
                if !QUOTA_SCOPES.contains(&&*req.scope_name) {
                    errors.push(FieldError::not_supported(&p.child("scopeName"), &req.scope_name, QUOTA_SCOPES));
                }
                let op = &*req.operator;
                if !SCOPE_SELECTOR_OPERATORS.contains(&op) {
                    errors.push(FieldError::not_supported(&p.child("operator"), op, SCOPE_SELECTOR_OPERATORS));
                    continue;
                }
                let values = p.child("values");
                match op {
                    "In" | "NotIn" if req.values.is_empty() => errors.push(FieldError::required(
                        &values,
                        "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector",
                    )),
                    "Exists" | "DoesNotExist" if !req.values.is_empty() => errors.push(FieldError::invalid(
                        &values,
                        req.values.len(),
                        "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector",
                    )),
                    _ => {}
                }
            }
        }
        let status = Path::root("status");
        validate_resource_list(&self.status.hard, &status.child("hard"), &mut errors);
        validate_resource_list(&self.status.used, &status.child("used"), &mut errors);
        errors
    }
}

/// The caps of a [`ResourceQuota`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceQuotaSpec {
    /// The cap per resource (`requests.cpu`, `pods`, `count/deployments.apps`).
    #[serde(default, skip_serializing_if = "ResourceList::is_empty")]
    pub hard: ResourceList,
    /// Which objects count: all scopes must match.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub scopes: Vec<Str>,
    /// Which objects count, as expressions over scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_selector: Option<ScopeSelector>,
}

/// Expressions over quota scopes, ANDed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeSelector {
    /// The expressions.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub match_expressions: Vec<ScopedResourceSelectorRequirement>,
}

/// `scopeName operator values`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopedResourceSelectorRequirement {
    /// The scope (`PriorityClass`, ...).
    #[serde(default)]
    pub scope_name: Str,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    #[serde(default)]
    pub operator: Str,
    /// The values for `In` and `NotIn`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub values: Vec<Str>,
}

/// The caps enforced and the usage of a [`ResourceQuota`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceQuotaStatus {
    /// The caps enforced.
    #[serde(default, skip_serializing_if = "ResourceList::is_empty")]
    pub hard: ResourceList,
    /// The current usage.
    #[serde(default, skip_serializing_if = "ResourceList::is_empty")]
    pub used: ResourceList,
}

/// Checks quota resource names and quantities of a list.
fn validate_resource_list(list: &ResourceList, path: &Path<'_>, errors: &mut ErrorList) {
    for (name, q) in list {
        let key = path.key(name);
        validate_resource_name(name, ResourceNameRule::Quota, &key, errors);
        errors.extend(validate_nonnegative_quantity(q, &key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Resource;

    fn round_trip<T: Resource>(json: &str) -> T {
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        let obj: T = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&obj).unwrap(), value);
        obj
    }

    const LIMITS: &str = r#"{"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"limits","namespace":"dev"},
      "spec":{"limits":[{"type":"Pod","max":{"cpu":"4","memory":"8Gi"},"min":{"cpu":"50m"}},
                        {"type":"Container","max":{"cpu":"2","memory":"4Gi"},"min":{"cpu":"10m","memory":"16Mi"},
                         "default":{"cpu":"500m","memory":"512Mi"},"defaultRequest":{"cpu":"100m","memory":"128Mi"},
                         "maxLimitRequestRatio":{"cpu":"10"}},
                        {"type":"PersistentVolumeClaim","max":{"storage":"50Gi"},"min":{"storage":"1Gi"}}]}}"#;

    const QUOTA: &str = r#"{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"compute","namespace":"dev"},
      "spec":{"hard":{"limits.cpu":"8","pods":"20","requests.memory":"16Gi","count/deployments.apps":"5"},"scopes":["NotTerminating"],
              "scopeSelector":{"matchExpressions":[{"scopeName":"PriorityClass","operator":"In","values":["high"]}]}},
      "status":{"hard":{"limits.cpu":"8","pods":"20"},"used":{"limits.cpu":"1500m","pods":"3"}}}"#;

    #[test]
    fn round_trips() {
        let lr: LimitRange = round_trip(LIMITS);
        assert!(lr.validate().is_empty(), "{}", lr.validate());
        let quota: ResourceQuota = round_trip(QUOTA);
        assert!(quota.validate().is_empty(), "{}", quota.validate());
        assert_eq!(LimitRange::SHORT_NAMES, ["limits"]);
        assert_eq!(ResourceQuota::SHORT_NAMES, ["quota"]);
    }

    #[test]
    fn container_defaults() {
        let mut lr: LimitRange = serde_json::from_str(
            r#"{"metadata":{"name":"l"},"spec":{"limits":[
                {"type":"Container","max":{"cpu":"2","memory":"1Gi"},"min":{"cpu":"100m","ephemeral-storage":"1Gi"},"default":{"memory":"512Mi"}},
                {"type":"Pod","max":{"cpu":"4"}}]}}"#,
        )
        .unwrap();
        lr.apply_defaults();
        let c = &lr.spec.limits[0];
        let get = |l: &ResourceList, k: &str| l.get(k).map(|q| q.as_str().to_string());
        assert_eq!(get(&c.default, "cpu").as_deref(), Some("2"));
        assert_eq!(get(&c.default, "memory").as_deref(), Some("512Mi"));
        assert_eq!(get(&c.default_request, "cpu").as_deref(), Some("2"));
        assert_eq!(get(&c.default_request, "memory").as_deref(), Some("512Mi"));
        assert_eq!(
            get(&c.default_request, "ephemeral-storage").as_deref(),
            Some("1Gi")
        );
        assert!(
            lr.spec.limits[1].default.is_empty(),
            "Pod items get no defaults"
        );
    }

    #[test]
    fn limit_range_validation_table() {
        type Edit = fn(&mut LimitRange);
        let cases: &[(&str, Edit, &str)] = &[
            ("bad type", |l| l.spec.limits[0].type_ = "Node".into(), "spec.limits[0].type: Invalid value: \"Node\": must be a standard limit type or fully qualified"),
            ("duplicate type", |l| l.spec.limits[2].type_ = "Pod".into(), "spec.limits[2].type: Duplicate value: \"Pod\""),
            ("pod default", |l| { l.spec.limits[0].default.insert("cpu", "1"); }, "spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'"),
            ("pvc without storage", |l| {
                l.spec.limits[2].max.clear();
                l.spec.limits[2].min.clear();
            }, "spec.limits[2].limits: Required value: either minimum or maximum storage value is required"),
            ("bad resource name", |l| { l.spec.limits[1].max.insert("bad name", "1"); }, "spec.limits[1].max[bad name]: Invalid value: \"bad name\""),
        ];
        for (what, edit, want) in cases {
            let mut lr: LimitRange = serde_json::from_str(LIMITS).unwrap();
            edit(&mut lr);
            let errors = lr.validate();
            let first = errors
                .iter()
                .next()
                .map(ToString::to_string)
                .unwrap_or_default();
            assert!(first.starts_with(want), "{what}: got {errors}");
        }
    }

    #[test]
    fn quota_validation_table() {
        type Edit = fn(&mut ResourceQuota);
        let cases: &[(&str, Edit, &str)] = &[
            (
                "bad scope",
                |q| q.spec.scopes = vec!["Forever".into()],
                "spec.scopes[0]: Unsupported value: \"Forever\"",
            ),
            (
                "conflicting",
                |q| q.spec.scopes.push("Terminating".into()),
                "spec.scopes: Invalid value: \"Terminating, NotTerminating\": conflicting scopes",
            ),
            (
                "bad operator",
                |q| {
                    if let Some(s) = &mut q.spec.scope_selector {
                        s.match_expressions[0].operator = "Gt".into();
                    }
                },
                "spec.scopeSelector.matchExpressions[0].operator: Unsupported value: \"Gt\"",
            ),
            (
                "In without values",
                |q| {
                    if let Some(s) = &mut q.spec.scope_selector {
                        s.match_expressions[0].values.clear();
                    }
                },
                "spec.scopeSelector.matchExpressions[0].values: Required value",
            ),
            (
                "bad resource",
                |q| {
                    q.spec.hard.insert("-pods", "1");
                },
                "spec.hard[-pods]: Invalid value: \"-pods\"",
            ),
        ];
        for (what, edit, want) in cases {
            let mut quota: ResourceQuota = serde_json::from_str(QUOTA).unwrap();
            edit(&mut quota);
            let errors = quota.validate().to_string();
            assert!(errors.starts_with(want), "{what}: got {errors:?}");
        }
    }

    #[test]
    fn limit_range_ordering() {
        // Each case edits the Container item (index 1) of LIMITS.
        type Edit = fn(&mut LimitRangeItem);
        let cases: &[(&str, Edit, &str)] = &[
            ("min above max", |i| { i.min.insert("cpu", "3"); },
                "spec.limits[1].min[cpu]: Invalid value: \"3\": min value 3 is greater than max value 2"),
            ("default above max", |i| { i.default.insert("memory", "5Gi"); },
                "spec.limits[1].default[memory]: Invalid value: \"4Gi\": default value 5Gi is greater than max value 4Gi"),
            ("request above limit", |i| { i.default_request.insert("cpu", "600m"); },
                "spec.limits[1].defaultRequest[cpu]: Invalid value: \"600m\": default request value 600m is greater than default limit value 500m"),
            ("min above request", |i| { i.min.insert("memory", "256Mi"); },
                "spec.limits[1].defaultRequest[memory]: Invalid value: \"128Mi\": min value 256Mi is greater than default request value 128Mi"),
            ("ratio below one", |i| { i.max_limit_request_ratio.insert("cpu", "500m"); },
                "spec.limits[1].maxLimitRequestRatio[cpu]: Invalid value: \"500m\": ratio 500m is less than 1"),
            ("negative", |i| { i.min.insert("cpu", "-1"); },
                "spec.limits[1].min[cpu]: Invalid value: \"-1\": must be greater than or equal to 0"),
            ("malformed", |i| { i.max.insert("cpu", "two"); },
                "spec.limits[1].max[cpu]: Invalid value: \"two\""),
        ];
        for (what, edit, want) in cases {
            let mut lr: LimitRange = serde_json::from_str(LIMITS).unwrap();
            edit(&mut lr.spec.limits[1]);
            let errors = lr.validate();
            let first = errors
                .iter()
                .next()
                .map(ToString::to_string)
                .unwrap_or_default();
            assert!(first.starts_with(want), "{what}: got {errors}");
        }
        let mut lr: LimitRange = serde_json::from_str(LIMITS).unwrap();
        lr.spec.limits[1]
            .max_limit_request_ratio
            .insert("cpu", "300");
        assert_eq!(
            lr.validate().to_string(),
            "spec.limits[1].maxLimitRequestRatio[cpu]: Invalid value: \"300\": ratio 300 is greater than max/min = 200.000000"
        );
        // Equal bounds and unit changes (1Gi = 1024Mi) are fine.
        let mut lr: LimitRange = serde_json::from_str(LIMITS).unwrap();
        lr.spec.limits[1].default.insert("memory", "4096Mi");
        lr.spec.limits[1].min.insert("cpu", "100m");
        assert!(lr.validate().is_empty(), "{}", lr.validate());
    }

    #[test]
    fn quota_quantities() {
        let mut quota: ResourceQuota = serde_json::from_str(QUOTA).unwrap();
        quota.spec.hard.insert("pods", "-2");
        quota.status.used.insert("limits.cpu", "x");
        let fields: Vec<String> = quota.validate().iter().map(|e| e.field.clone()).collect();
        assert_eq!(fields, ["spec.hard[pods]", "status.used[limits.cpu]"]);
    }

    #[test]
    fn resource_names_and_overcommit() {
        let mut lr: LimitRange = serde_json::from_str(LIMITS).unwrap();
        let item = &mut lr.spec.limits[1];
        item.max.insert("storage", "1Gi");
        item.default.insert("example.com/gpu", "2");
        item.default_request.insert("example.com/gpu", "1");
        let errors: Vec<String> = lr.validate().iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            [
                "spec.limits[1].max[storage]: Invalid value: \"storage\": must be a standard resource for containers",
                "spec.limits[1].defaultRequest[example.com/gpu]: Invalid value: \"1\": default value 2 must equal to defaultRequest value 1 in example.com/gpu",
            ]
        );
        // Custom, domain-qualified limit types are accepted.
        let mut custom: LimitRange = serde_json::from_str(LIMITS).unwrap();
        custom.spec.limits[2].type_ = "example.com/volume".into();
        assert!(custom.validate().is_empty(), "{}", custom.validate());

        let mut quota: ResourceQuota = serde_json::from_str(QUOTA).unwrap();
        quota.spec.hard.insert("requests.hugepages-2Mi", "1Gi");
        quota.spec.hard.insert("storage", "1Gi");
        assert_eq!(
            quota.validate().to_string(),
            "spec.hard[storage]: Invalid value: \"storage\": must be a standard resource for quota"
        );
    }
}
