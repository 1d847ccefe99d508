//! `rbac.authorization.k8s.io/v1`: who may do what.
//!
//! A [`Role`] (in a namespace) or [`ClusterRole`] (cluster-wide) lists
//! [`PolicyRule`]s: verbs on resources (or, for cluster roles, on
//! non-resource URLs such as `/healthz`). A [`RoleBinding`] or
//! [`ClusterRoleBinding`] grants a role to [`Subject`]s (users, groups,
//! service accounts) through a [`RoleRef`], which never changes after
//! creation.
//!
//! Names follow the path-segment rule (`system:controller:foo` is fine, `a/b`
//! is not). Defaulting fills in the RBAC API group on role references and on
//! user and group subjects.
//!
//! ```
//! use keelson::api::rbac::{RoleBinding, RoleRef, Subject};
//! use keelson::api::{ObjectMeta, Resource};
//!
//! let mut binding = RoleBinding {
//!     metadata: ObjectMeta::namespaced("default", "read-pods"),
//!     subjects: vec![Subject::user("jane")],
//!     role_ref: RoleRef { kind: "Role".into(), name: "pod-reader".into(), ..RoleRef::default() },
//! };
//! binding.apply_defaults();
//! assert_eq!(binding.role_ref.api_group, "rbac.authorization.k8s.io");
//! assert!(binding.validate().is_empty());
//!
//! let mut changed = binding.clone();
//! changed.role_ref.name = "pod-writer".into();
//! assert_eq!(
//!     changed.validate_update(&binding).iter().next().map(|e| e.field.as_str()),
//!     Some("roleRef")
//! );
//! ```
use serde::{Deserialize, Serialize};

use super::resource::object;
use super::selector::validate_label_selector;
use super::serde_util::nullable;
use super::validation::{is_dns1123_subdomain, is_path_segment_name, ErrorList, FieldError, Path};
use super::{LabelSelector, Str};

/// The API group of this module's kinds.
pub const GROUP: &str = "rbac.authorization.k8s.io";

/// [`Subject::kind`] of a user.
pub const USER_KIND: &str = "User";
/// [`Subject::kind`] of a group.
pub const GROUP_KIND: &str = "Group";
/// [`Subject::kind`] of a service account.
pub const SERVICE_ACCOUNT_KIND: &str = "ServiceAccount";

object! {
    /// A namespaced set of permissions.
    pub struct Role {
        /// The permissions.
        rules: Vec<PolicyRule> = "rules",
    }
    resource {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "Role",
        plural: "roles",
        scope: Namespaced,
        name_rule: PathSegment,
    }

    fn validate_fields(&self) -> ErrorList {
        validate_rules(&self.rules, true)
    }
}

object! {
    /// A cluster-wide set of permissions, optionally aggregated from other
    /// cluster roles.
    pub struct ClusterRole {
        /// The permissions (filled by the aggregation controller when
        /// `aggregationRule` is set).
        rules: Vec<PolicyRule> = "rules",
        /// Selects the cluster roles whose rules are aggregated into this one.
        aggregation_rule: Option<AggregationRule> = "aggregationRule",
    }
    resource {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRole",
        plural: "clusterroles",
        scope: Cluster,
        name_rule: PathSegment,
    }

    fn validate_fields(&self) -> ErrorList {
        let mut errors = validate_rules(&self.rules, false);
        if let Some(rule) = &self.aggregation_rule {
            let root = Path::root("aggregationRule");
            let selectors = root.child("clusterRoleSelectors");
            if rule.cluster_role_selectors.is_empty() {
                errors.push(FieldError::required(
                    &selectors,
                    "at least one clusterRoleSelector required if aggregationRule is non-nil",
                ));
            }
            for (i, selector) in rule.cluster_role_selectors.iter().enumerate() {
                errors.extend(validate_label_selector(selector, &selectors.index(i)));
            }
        }
        errors
    }
}

object! {
    /// Grants a [`Role`] or [`ClusterRole`] to subjects within one namespace.
    pub struct RoleBinding {
        /// Who is granted the role.
        subjects: Vec<Subject> = "subjects",
        /// The role granted; immutable.
        role_ref: RoleRef = "roleRef" @always,
    }
    resource {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "RoleBinding",
        plural: "rolebindings",
        scope: Namespaced,
        name_rule: PathSegment,
    }

    fn apply_defaults(&mut self) {
        default_binding(&mut self.role_ref, &mut self.subjects);
    }

    fn validate_fields(&self) -> ErrorList {
        validate_binding(&self.role_ref, &self.subjects, true)
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = self.validate();
        errors.extend(super::validation::validate_object_meta_update(&self.metadata, &old.metadata));
        errors.extend(validate_role_ref_update(&self.role_ref, &old.role_ref));
        errors
    }
}

object! {
    /// Grants a [`ClusterRole`] to subjects cluster-wide.
    pub struct ClusterRoleBinding {
        /// Who is granted the role.
        subjects: Vec<Subject> = "subjects",
        /// The cluster role granted; immutable.
        role_ref: RoleRef = "roleRef" @always,
    }
    resource {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRoleBinding",
        plural: "clusterrolebindings",
        scope: Cluster,
        name_rule: PathSegment,
    }

    fn apply_defaults(&mut self) {
        default_binding(&mut self.role_ref, &mut self.subjects);
    }

    fn validate_fields(&self) -> ErrorList {
        validate_binding(&self.role_ref, &self.subjects, false)
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = self.validate();
        errors.extend(super::validation::validate_object_meta_update(&self.metadata, &old.metadata));
        errors.extend(validate_role_ref_update(&self.role_ref, &old.role_ref));
        errors
    }
}

/// Verbs allowed on resources or non-resource URLs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    /// The verbs (`get`, `list`, `watch`, `create`, ..., or `*`).
    #[serde(default, deserialize_with = "nullable")]
    pub verbs: Vec<Str>,
    /// The API groups of `resources` (`""` is the core group, `*` all).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub api_groups: Vec<Str>,
    /// The resources (`pods`, `pods/log`, `*`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub resources: Vec<Str>,
    /// Restricts the rule to these object names.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub resource_names: Vec<Str>,
    /// URLs outside the resource API (`/healthz`, `/api/*`); cluster roles only.
    #[serde(
        default,
        rename = "nonResourceURLs",
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub non_resource_urls: Vec<Str>,
}

/// Which cluster roles a [`ClusterRole`] aggregates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AggregationRule {
    /// Cluster roles matching any of these selectors are aggregated.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub cluster_role_selectors: Vec<LabelSelector>,
}

/// Who a binding grants a role to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    /// `User`, `Group` or `ServiceAccount`.
    #[serde(default)]
    pub kind: Str,
    /// `rbac.authorization.k8s.io` for users and groups, `""` for service
    /// accounts.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub api_group: Str,
    /// The user, group or service account name.
    #[serde(default)]
    pub name: Str,
    /// The service account's namespace.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub namespace: Str,
}

impl Subject {
    /// A user subject.
    pub fn user(name: impl Into<Str>) -> Self {
        Subject {
            kind: USER_KIND.into(),
            api_group: GROUP.into(),
            name: name.into(),
            namespace: Str::default(),
        }
    }

    /// A group subject.
    pub fn group(name: impl Into<Str>) -> Self {
        Subject {
            kind: GROUP_KIND.into(),
            api_group: GROUP.into(),
            name: name.into(),
            namespace: Str::default(),
        }
    }

    /// A service account subject.
    pub fn service_account(namespace: impl Into<Str>, name: impl Into<Str>) -> Self {
        Subject {
            kind: SERVICE_ACCOUNT_KIND.into(),
            api_group: Str::default(),
            name: name.into(),
            namespace: namespace.into(),
        }
    }
}

/// The role a binding grants.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleRef {
    /// Always `rbac.authorization.k8s.io`.
    #[serde(default)]
    pub api_group: Str,
    /// `Role` or `ClusterRole`.
    #[serde(default)]
    pub kind: Str,
    /// The role's name.
    #[serde(default)]
    pub name: Str,
}

fn default_binding(role_ref: &mut RoleRef, subjects: &mut [Subject]) {
    if role_ref.api_group.is_empty() {
        role_ref.api_group = GROUP.into();
    }
    for subject in subjects {
        if subject.api_group.is_empty() && (subject.kind == USER_KIND || subject.kind == GROUP_KIND)
        {
            subject.api_group = GROUP.into();
        }
    }
}

fn validate_rules(rules: &[PolicyRule], namespaced: bool) -> ErrorList {
    let mut errors = ErrorList::new();
    let root = Path::root("rules");
    for (i, rule) in rules.iter().enumerate() {
        errors.extend(validate_policy_rule(rule, namespaced, &root.index(i)));
    }
    errors
}

/// Validates one rule of a role (`namespaced`) or cluster role.
pub fn validate_policy_rule(rule: &PolicyRule, namespaced: bool, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    if rule.verbs.is_empty() {
        errors.push(FieldError::required(
            &path.child("verbs"),
            "verbs must contain at least one value",
        ));
    }
    if !rule.non_resource_urls.is_empty() {
        let urls = path.child("nonResourceURLs");
        if namespaced {
            errors.push(FieldError::invalid(
                &urls,
                &rule.non_resource_urls,
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        if !rule.api_groups.is_empty() || !rule.resources.is_empty() {
            errors.push(FieldError::invalid(
                &urls,
                &rule.non_resource_urls,
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        return errors;
    }
    if rule.api_groups.is_empty() {
        errors.push(FieldError::required(
            &path.child("apiGroups"),
            "resource rules must supply at least one api group",
        ));
    }
    if rule.resources.is_empty() {
        errors.push(FieldError::required(
            &path.child("resources"),
            "resource rules must supply at least one resource",
        ));
    }
    errors
}

fn validate_binding(role_ref: &RoleRef, subjects: &[Subject], namespaced: bool) -> ErrorList {
    let mut errors = ErrorList::new();
    let root = Path::root("roleRef");
    if role_ref.api_group != GROUP {
        errors.push(FieldError::not_supported(
            &root.child("apiGroup"),
            &role_ref.api_group,
            &[GROUP],
        ));
    }
    let kinds: &[&str] = if namespaced {
        &["Role", "ClusterRole"]
    } else {
        &["ClusterRole"]
    };
    if !kinds.contains(&role_ref.kind.as_str()) {
        errors.push(FieldError::not_supported(
            &root.child("kind"),
            &role_ref.kind,
            kinds,
        ));
    }
    let name = root.child("name");
    if role_ref.name.is_empty() {
        errors.push(FieldError::required(&name, ""));
    } else {
        for message in is_path_segment_name(&role_ref.name) {
            errors.push(FieldError::invalid(&name, &role_ref.name, message));
        }
    }
    let subjects_path = Path::root("subjects");
    for (i, subject) in subjects.iter().enumerate() {
        errors.extend(validate_subject(
            subject,
            namespaced,
            &subjects_path.index(i),
        ));
    }
    errors
}

/// Validates one subject of a role binding (`namespaced`) or cluster role
/// binding: a cluster role binding's service account needs a namespace.
pub fn validate_subject(subject: &Subject, namespaced: bool, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    let name = path.child("name");
    if subject.name.is_empty() {
        errors.push(FieldError::required(&name, ""));
    }
    match subject.kind.as_str() {
        SERVICE_ACCOUNT_KIND => {
            if !subject.name.is_empty() {
                for message in is_dns1123_subdomain(&subject.name) {
                    errors.push(FieldError::invalid(&name, &subject.name, message));
                }
            }
            if !subject.api_group.is_empty() {
                errors.push(FieldError::not_supported(
                    &path.child("apiGroup"),
                    &subject.api_group,
                    &[""],
                ));
            }
            if !namespaced && subject.namespace.is_empty() {
                errors.push(FieldError::required(&path.child("namespace"), ""));
            }
        }
        USER_KIND | GROUP_KIND => {
            if subject.api_group != GROUP {
                errors.push(FieldError::not_supported(
                    &path.child("apiGroup"),
                    &subject.api_group,
                    &[GROUP],
                ));
            }
        }
        _ => errors.push(FieldError::not_supported(
            &path.child("kind"),
            &subject.kind,
            &[SERVICE_ACCOUNT_KIND, USER_KIND, GROUP_KIND],
        )),
    }
    errors
}

fn validate_role_ref_update(new: &RoleRef, old: &RoleRef) -> ErrorList {
    let mut errors = ErrorList::new();
    if new != old {
        errors.push(FieldError::invalid(
            &Path::root("roleRef"),
            new,
            "cannot change roleRef",
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Resource;
    use serde_json::{json, Value};

    fn round_trip<T: Resource>(value: Value) -> T {
        let object: T = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&object).unwrap(), value);
        object
    }

    #[test]
    fn round_trips() {
        let role: Role = round_trip(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "pod-reader", "namespace": "default"},
            "rules": [
                {"verbs": ["get", "watch", "list"], "apiGroups": [""], "resources": ["pods", "pods/log"]},
                {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["my-config"]}
            ]
        }));
        assert!(role.validate().is_empty(), "{}", role.validate());

        let cluster_role: ClusterRole = round_trip(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "system:monitoring", "labels": {"rbac.example.com/aggregate-to-monitoring": "true"}},
            "rules": [
                {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/metrics"]},
                {"verbs": ["*"], "apiGroups": ["apps"], "resources": ["deployments"]}
            ],
            "aggregationRule": {"clusterRoleSelectors": [
                {"matchLabels": {"rbac.example.com/aggregate-to-monitoring": "true"}}
            ]}
        }));
        assert!(
            cluster_role.validate().is_empty(),
            "{}",
            cluster_role.validate()
        );

        let binding: RoleBinding = round_trip(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "read-pods", "namespace": "default"},
            "subjects": [
                {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane"},
                {"kind": "ServiceAccount", "name": "default", "namespace": "kube-system"}
            ],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"}
        }));
        assert!(binding.validate().is_empty(), "{}", binding.validate());

        let cluster_binding: ClusterRoleBinding = round_trip(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "read-secrets-global"},
            "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "manager"}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "secret-reader"}
        }));
        assert!(cluster_binding.validate().is_empty());
    }

    #[test]
    fn role_ref_is_always_written() {
        let json = serde_json::to_value(ClusterRoleBinding::default()).unwrap();
        assert_eq!(
            json["roleRef"],
            json!({"apiGroup": "", "kind": "", "name": ""})
        );
        // Verbs have no omitempty in Go either.
        let rule = serde_json::to_value(PolicyRule::default()).unwrap();
        assert_eq!(rule, json!({"verbs": []}));
    }

    #[test]
    fn defaults() {
        let mut binding: ClusterRoleBinding = serde_json::from_value(json!({
            "metadata": {"name": "b"},
            "subjects": [
                {"kind": "User", "name": "jane"},
                {"kind": "Group", "name": "devs"},
                {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}
            ],
            "roleRef": {"kind": "ClusterRole", "name": "view"}
        }))
        .unwrap();
        binding.apply_defaults();
        assert_eq!(binding.role_ref.api_group, GROUP);
        let groups: Vec<&str> = binding
            .subjects
            .iter()
            .map(|s| s.api_group.as_str())
            .collect();
        assert_eq!(groups, vec![GROUP, GROUP, ""]);
        assert!(binding.validate().is_empty());
    }

    #[test]
    fn role_validation() {
        let cases: &[(Value, &[&str])] = &[
            (
                json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}),
                &[],
            ),
            (
                json!({"apiGroups": [""], "resources": ["pods"]}),
                &["rules[0].verbs"],
            ),
            (
                json!({"verbs": ["get"], "resources": ["pods"]}),
                &["rules[0].apiGroups"],
            ),
            (
                json!({"verbs": ["get"], "apiGroups": [""]}),
                &["rules[0].resources"],
            ),
            (
                json!({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}),
                &["rules[0].nonResourceURLs"],
            ),
            (
                json!({"verbs": ["get"], "apiGroups": [""], "nonResourceURLs": ["/x"]}),
                &["rules[0].nonResourceURLs", "rules[0].nonResourceURLs"],
            ),
        ];
        for (rule, want) in cases {
            let role = Role {
                metadata: crate::api::ObjectMeta::namespaced("ns", "r"),
                rules: vec![serde_json::from_value(rule.clone()).unwrap()],
            };
            let errors = role.validate();
            let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(&fields, want, "{rule}");
        }

        // Cluster roles may use non-resource URLs.
        let cluster = ClusterRole {
            metadata: crate::api::ObjectMeta::named("c"),
            rules: vec![serde_json::from_value(
                json!({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}),
            )
            .unwrap()],
            aggregation_rule: Some(AggregationRule::default()),
        };
        assert_eq!(
            cluster.validate().to_string(),
            "aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if aggregationRule is non-nil"
        );

        let bad_name = Role {
            metadata: crate::api::ObjectMeta::namespaced("ns", "a/b"),
            rules: Vec::new(),
        };
        assert_eq!(
            bad_name.validate().to_string(),
            r#"metadata.name: Invalid value: "a/b": may not contain '/'"#
        );
        let colon = Role {
            metadata: crate::api::ObjectMeta::namespaced("ns", "system:Role"),
            rules: Vec::new(),
        };
        assert!(colon.validate().is_empty());
    }

    #[test]
    fn binding_validation() {
        let good_ref = json!({"apiGroup": GROUP, "kind": "ClusterRole", "name": "view"});
        let cases: &[(bool, Value, Value, &[&str])] = &[
            (
                true,
                good_ref.clone(),
                json!({"kind": "User", "apiGroup": GROUP, "name": "u"}),
                &[],
            ),
            (
                true,
                json!({"apiGroup": GROUP, "kind": "Role", "name": "r"}),
                json!({"kind": "ServiceAccount", "name": "sa"}),
                &[],
            ),
            (
                false,
                json!({"apiGroup": GROUP, "kind": "Role", "name": "r"}),
                json!({"kind": "User", "apiGroup": GROUP, "name": "u"}),
                &["roleRef.kind"],
            ),
            (
                true,
                json!({"apiGroup": "x", "kind": "Kind", "name": ""}),
                json!({"kind": "User", "apiGroup": GROUP, "name": "u"}),
                &["roleRef.apiGroup", "roleRef.kind", "roleRef.name"],
            ),
            (
                true,
                json!({"apiGroup": GROUP, "kind": "Role", "name": "a/b"}),
                json!({"kind": "User", "apiGroup": GROUP, "name": "u"}),
                &["roleRef.name"],
            ),
            (
                true,
                good_ref.clone(),
                json!({"kind": "Robot", "name": "r2"}),
                &["subjects[0].kind"],
            ),
            (
                true,
                good_ref.clone(),
                json!({"kind": "User", "apiGroup": GROUP}),
                &["subjects[0].name"],
            ),
            (
                true,
                good_ref.clone(),
                json!({"kind": "User", "name": "u"}),
                &["subjects[0].apiGroup"],
            ),
            (
                true,
                good_ref.clone(),
                json!({"kind": "ServiceAccount", "apiGroup": GROUP, "name": "Bad_Name"}),
                &["subjects[0].name", "subjects[0].apiGroup"],
            ),
            (
                false,
                good_ref.clone(),
                json!({"kind": "ServiceAccount", "name": "sa"}),
                &["subjects[0].namespace"],
            ),
            (
                false,
                good_ref.clone(),
                json!({"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}),
                &[],
            ),
        ];
        for (namespaced, role_ref, subject, want) in cases {
            let role_ref: RoleRef = serde_json::from_value(role_ref.clone()).unwrap();
            let subjects = vec![serde_json::from_value::<Subject>(subject.clone()).unwrap()];
            let errors = if *namespaced {
                RoleBinding {
                    metadata: crate::api::ObjectMeta::namespaced("ns", "b"),
                    subjects,
                    role_ref,
                }
                .validate()
            } else {
                ClusterRoleBinding {
                    metadata: crate::api::ObjectMeta::named("b"),
                    subjects,
                    role_ref,
                }
                .validate()
            };
            let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(&fields, want, "{subject} {errors}");
        }
    }

    #[test]
    fn role_ref_is_immutable() {
        let old = ClusterRoleBinding {
            metadata: crate::api::ObjectMeta::named("b"),
            subjects: vec![Subject::group("g")],
            role_ref: RoleRef {
                api_group: GROUP.into(),
                kind: "ClusterRole".into(),
                name: "view".into(),
            },
        };
        let mut new = old.clone();
        new.subjects.push(Subject::user("u"));
        assert!(new.validate_update(&old).is_empty());
        new.role_ref.name = "edit".into();
        let errors = new.validate_update(&old);
        assert_eq!(errors.len(), 1);
        assert!(errors.to_string().starts_with("roleRef: Invalid value:"));
        assert!(errors.to_string().ends_with("cannot change roleRef"));
    }
}
