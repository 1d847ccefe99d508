//! Validation: field paths, field errors, and the name, label and annotation
//! rules every kind shares.
//!
//! Validators walk an object with a [`Path`] (no allocation until an error is
//! found) and collect [`FieldError`]s into an [`ErrorList`]. Messages follow
//! Kubernetes' wording, so users see what kubectl would show them.
//!
//! ```
//! use keelson::api::validation::{is_dns1123_subdomain, ErrorList, FieldError, Path};
//!
//! let spec = Path::root("spec");
//! let containers = spec.child("containers");
//! let first = containers.index(0);
//! let mut errors = ErrorList::new();
//! errors.push(FieldError::required(&first.child("image"), ""));
//! assert_eq!(errors.to_string(), "spec.containers[0].image: Required value");
//!
//! assert!(is_dns1123_subdomain("kubia-manual").is_empty());
//! assert!(!is_dns1123_subdomain("myPod").is_empty());
//! ```
use std::fmt;

use super::{ObjectMeta, Scope, StringMap};

/// How a kind's `metadata.name` is validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NameRule {
    /// A DNS-1123 subdomain: lower-case alphanumerics, `-` and `.`, at most
    /// 253 characters (most kinds).
    Subdomain,
    /// A DNS-1123 label: lower-case alphanumerics and `-`, at most 63
    /// characters (Namespace).
    Label,
    /// A DNS-1035 label: a DNS-1123 label that starts with a letter (Service).
    Dns1035Label,
    /// Any string usable as a URL path segment: not `.` or `..`, no `/` or
    /// `%` (RBAC roles).
    PathSegment,
}

impl NameRule {
    /// The problems with `name` under this rule (empty when valid).
    pub fn check(self, name: &str) -> Vec<String> {
        match self {
            NameRule::Subdomain => is_dns1123_subdomain(name),
            NameRule::Label => is_dns1123_label(name),
            NameRule::Dns1035Label => is_dns1035_label(name),
            NameRule::PathSegment => is_path_segment_name(name),
        }
    }
}

/// A position in an object, as `spec.containers[0].image`. Built on the
/// stack by chaining; turned into a string only when an error is reported.
#[derive(Clone, Copy, Debug)]
pub struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    segment: Segment<'a>,
}

#[derive(Clone, Copy, Debug)]
enum Segment<'a> {
    Field(&'a str),
    Index(usize),
    Key(&'a str),
}

impl<'a> Path<'a> {
    /// A top-level field, such as `spec` or `metadata`.
    pub const fn root(field: &'a str) -> Self {
        Path {
            parent: None,
            segment: Segment::Field(field),
        }
    }

    /// A field under this one: `spec` → `spec.containers`.
    pub const fn child(&'a self, field: &'a str) -> Path<'a> {
        Path {
            parent: Some(self),
            segment: Segment::Field(field),
        }
    }

    /// A list element: `spec.containers` → `spec.containers[0]`.
    pub const fn index(&'a self, index: usize) -> Path<'a> {
        Path {
            parent: Some(self),
            segment: Segment::Index(index),
        }
    }

    /// A map entry: `metadata.labels` → `metadata.labels[app]`.
    pub const fn key(&'a self, key: &'a str) -> Path<'a> {
        Path {
            parent: Some(self),
            segment: Segment::Key(key),
        }
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(parent) = self.parent {
            write!(f, "{parent}")?;
        }
        match self.segment {
            Segment::Field(name) if self.parent.is_some() => write!(f, ".{name}"),
            Segment::Field(name) => f.write_str(name),
            Segment::Index(i) => write!(f, "[{i}]"),
            Segment::Key(k) => write!(f, "[{k}]"),
        }
    }
}

/// The kind of a field error; its [`reason`](ErrorType::reason) is what a
/// `Status` cause carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorType {
    /// A required field is missing.
    Required,
    /// A value is malformed or out of range.
    Invalid,
    /// A value is not one of the supported ones.
    NotSupported,
    /// A value appears twice where it must be unique.
    Duplicate,
    /// A value is not allowed here (or may not change).
    Forbidden,
    /// A value is too long.
    TooLong,
    /// A list has too many items.
    TooMany,
    /// A field has the wrong JSON type or is unknown.
    TypeInvalid,
    /// The validator itself failed.
    Internal,
}

impl ErrorType {
    /// Kubernetes' cause type, such as `FieldValueRequired`.
    pub fn reason(self) -> &'static str {
        match self {
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::TypeInvalid => "FieldValueTypeInvalid",
            ErrorType::Internal => "InternalError",
        }
    }

    fn label(self) -> &'static str {
        match self {
            ErrorType::Required => "Required value",
            ErrorType::Invalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
            ErrorType::TypeInvalid => "Invalid value",
            ErrorType::Internal => "Internal error",
        }
    }
}

/// One problem with one field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// What kind of problem.
    pub kind: ErrorType,
    /// The field's path, as `spec.containers[0].image`.
    pub field: String,
    /// The offending value, rendered (strings quoted), when there is one.
    pub value: Option<String>,
    /// Why, in words.
    pub detail: String,
}

impl FieldError {
    fn new(
        kind: ErrorType,
        path: &Path<'_>,
        value: Option<String>,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            kind,
            field: path.to_string(),
            value,
            detail: detail.into(),
        }
    }

    /// A required field is missing.
    pub fn required(path: &Path<'_>, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Required, path, None, detail)
    }

    /// A value is malformed. `value` is rendered with `Debug` (strings quoted).
    pub fn invalid(path: &Path<'_>, value: impl fmt::Debug, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Invalid, path, Some(format!("{value:?}")), detail)
    }

    /// A value is not one of `supported`.
    pub fn not_supported(path: &Path<'_>, value: impl fmt::Debug, supported: &[&str]) -> Self {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        Self::new(
            ErrorType::NotSupported,
            path,
            Some(format!("{value:?}")),
            format!("supported values: {}", list.join(", ")),
        )
    }

    /// A value repeats where it must be unique.
    pub fn duplicate(path: &Path<'_>, value: impl fmt::Debug) -> Self {
        Self::new(ErrorType::Duplicate, path, Some(format!("{value:?}")), "")
    }

    /// A value is not allowed.
    pub fn forbidden(path: &Path<'_>, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Forbidden, path, None, detail)
    }

    /// A value is longer than `max`.
    pub fn too_long(path: &Path<'_>, max: usize) -> Self {
        Self::new(
            ErrorType::TooLong,
            path,
            None,
            format!("may not be more than {max} bytes"),
        )
    }

    /// A list has `actual` items, over `max`.
    pub fn too_many(path: &Path<'_>, actual: usize, max: usize) -> Self {
        Self::new(
            ErrorType::TooMany,
            path,
            Some(actual.to_string()),
            format!("must have at most {max} items"),
        )
    }

    /// A field has the wrong type, or is not known.
    pub fn type_invalid(path: &Path<'_>, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::TypeInvalid, path, None, detail)
    }

    /// An error with a path given as a string (for errors found outside a
    /// [`Path`] walk, such as decoding).
    pub fn at(kind: ErrorType, field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            kind,
            field: field.into(),
            value: None,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.kind.label())?;
        if let Some(value) = &self.value {
            write!(f, ": {value}")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

impl std::error::Error for FieldError {}

/// The field errors found in one object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErrorList(Vec<FieldError>);

impl ErrorList {
    /// No errors.
    pub const fn new() -> Self {
        ErrorList(Vec::new())
    }

    /// Adds an error.
    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// True when there are no errors.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of errors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The errors.
    pub fn iter(&self) -> std::slice::Iter<'_, FieldError> {
        self.0.iter()
    }

    /// `Ok(())` when empty, else `Err(self)`.
    pub fn into_result(self) -> Result<(), ErrorList> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }

    /// The errors as a vector.
    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }
}

impl Extend<FieldError> for ErrorList {
    fn extend<I: IntoIterator<Item = FieldError>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

impl FromIterator<FieldError> for ErrorList {
    fn from_iter<I: IntoIterator<Item = FieldError>>(iter: I) -> Self {
        ErrorList(iter.into_iter().collect())
    }
}

impl IntoIterator for ErrorList {
    type Item = FieldError;
    type IntoIter = std::vec::IntoIter<FieldError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a ErrorList {
    type Item = &'a FieldError;
    type IntoIter = std::slice::Iter<'a, FieldError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for ErrorList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [] => Ok(()),
            [one] => write!(f, "{one}"),
            many => {
                f.write_str("[")?;
                for (i, e) in many.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{e}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl std::error::Error for ErrorList {}

const DNS1123_LABEL_MAX: usize = 63;
const DNS1123_SUBDOMAIN_MAX: usize = 253;
const QUALIFIED_NAME_MAX: usize = 63;
const LABEL_VALUE_MAX: usize = 63;
/// The most bytes all annotations of one object may hold together (256 KiB).
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

fn is_lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn label_shape_ok(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && is_lower_alnum(b[0])
        && is_lower_alnum(b[b.len() - 1])
        && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
}

/// Problems with `s` as a DNS-1123 label (empty when valid).
pub fn is_dns1123_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_LABEL_MAX {
        errs.push(format!(
            "must be no more than {DNS1123_LABEL_MAX} characters"
        ));
    }
    if !label_shape_ok(s) {
        errs.push(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', \
             and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc', \
             regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
                .to_string(),
        );
    }
    errs
}

/// Problems with `s` as a DNS-1123 subdomain (empty when valid).
pub fn is_dns1123_subdomain(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_SUBDOMAIN_MAX {
        errs.push(format!(
            "must be no more than {DNS1123_SUBDOMAIN_MAX} characters"
        ));
    }
    if s.is_empty() || !s.split('.').all(label_shape_ok) {
        errs.push(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' \
             or '.', and must start and end with an alphanumeric character (e.g. 'example.com', \
             regex used for validation is \
             '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
                .to_string(),
        );
    }
    errs
}

/// Problems with `s` as a DNS-1035 label (empty when valid).
pub fn is_dns1035_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_LABEL_MAX {
        errs.push(format!(
            "must be no more than {DNS1123_LABEL_MAX} characters"
        ));
    }
    let starts_with_letter = s.as_bytes().first().is_some_and(u8::is_ascii_lowercase);
    if !label_shape_ok(s) || !starts_with_letter {
        errs.push(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start \
             with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name', \
             or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
                .to_string(),
        );
    }
    errs
}

/// Problems with `s` as a path segment name (empty when valid).
pub fn is_path_segment_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s == "." || s == ".." {
        errs.push(format!("may not be '{s}'"));
    }
    for bad in ["/", "%"] {
        if s.contains(bad) {
            errs.push(format!("may not contain '{bad}'"));
        }
    }
    errs
}

fn qualified_name_part_ok(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Problems with `s` as a qualified name, the form of label and annotation
/// keys: an optional DNS-1123 subdomain prefix (≤ 253) and `/`, then a name
/// of at most 63 alphanumerics, `-`, `_` and `.` (empty when valid).
pub fn is_qualified_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let (prefix, name) = match s.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, s),
    };
    if name.contains('/') {
        errs.push(
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must \
             start and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or \
             '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') \
             with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
                .to_string(),
        );
        return errs;
    }
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            errs.push("prefix part must be non-empty".to_string());
        } else {
            errs.extend(
                is_dns1123_subdomain(prefix)
                    .into_iter()
                    .map(|m| format!("prefix part {m}")),
            );
        }
    }
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else {
        if name.len() > QUALIFIED_NAME_MAX {
            errs.push(format!(
                "name part must be no more than {QUALIFIED_NAME_MAX} characters"
            ));
        }
        if !qualified_name_part_ok(name) {
            errs.push(
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start \
                 and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or \
                 '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
                    .to_string(),
            );
        }
    }
    errs
}

/// Problems with `s` as a label value: empty, or at most 63 alphanumerics,
/// `-`, `_` and `.` starting and ending with an alphanumeric.
pub fn is_valid_label_value(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > LABEL_VALUE_MAX {
        errs.push(format!("must be no more than {LABEL_VALUE_MAX} characters"));
    }
    if !s.is_empty() && !qualified_name_part_ok(s) {
        errs.push(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' \
             or '.', and must start and end with an alphanumeric character (e.g. 'MyValue', or \
             'my_value', or '12345', regex used for validation is \
             '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
                .to_string(),
        );
    }
    errs
}

fn push_all(errors: &mut ErrorList, path: &Path<'_>, value: &str, messages: Vec<String>) {
    for message in messages {
        errors.push(FieldError::invalid(path, value, message));
    }
}

/// Validates label keys and values.
pub fn validate_labels(labels: &StringMap, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    for (key, value) in labels {
        push_all(&mut errors, path, key, is_qualified_name(key));
        push_all(
            &mut errors,
            &path.key(key),
            value,
            is_valid_label_value(value),
        );
    }
    errors
}

/// Validates annotation keys and their total size.
pub fn validate_annotations(annotations: &StringMap, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    let mut total = 0usize;
    for (key, value) in annotations {
        push_all(
            &mut errors,
            path,
            key,
            is_qualified_name(&key.to_ascii_lowercase()),
        );
        total += key.len() + value.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errors.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errors
}

/// Validates `metadata` for a create: name (or generateName) by `rule`,
/// namespace by `scope`, labels, annotations, owner references, finalizers.
pub fn validate_object_meta(meta: &ObjectMeta, scope: Scope, rule: NameRule) -> ErrorList {
    let mut errors = ErrorList::new();
    let root = Path::root("metadata");
    if meta.name.is_empty() {
        if meta.generate_name.is_empty() {
            errors.push(FieldError::required(
                &root.child("name"),
                "name or generateName is required",
            ));
        } else {
            // A prefix may end in '-'; the random suffix completes it.
            let prefix = meta.generate_name.trim_end_matches('-');
            let probe = if prefix.is_empty() { "a" } else { prefix };
            push_all(
                &mut errors,
                &root.child("generateName"),
                &meta.generate_name,
                rule.check(probe),
            );
        }
    } else {
        push_all(
            &mut errors,
            &root.child("name"),
            &meta.name,
            rule.check(&meta.name),
        );
    }
    match scope {
        Scope::Namespaced if !meta.namespace.is_empty() => {
            push_all(
                &mut errors,
                &root.child("namespace"),
                &meta.namespace,
                is_dns1123_label(&meta.namespace),
            );
        }
        Scope::Cluster if !meta.namespace.is_empty() => {
            errors.push(FieldError::forbidden(
                &root.child("namespace"),
                "not allowed on this type",
            ));
        }
        _ => {}
    }
    if meta.generation < 0 {
        errors.push(FieldError::invalid(
            &root.child("generation"),
            meta.generation,
            "must be greater than or equal to 0",
        ));
    }
    errors.extend(validate_labels(&meta.labels, &root.child("labels")));
    errors.extend(validate_annotations(
        &meta.annotations,
        &root.child("annotations"),
    ));
    let owners = root.child("ownerReferences");
    let mut controllers = 0;
    for (i, owner) in meta.owner_references.iter().enumerate() {
        let p = owners.index(i);
        for (field, value) in [
            ("apiVersion", &owner.api_version),
            ("kind", &owner.kind),
            ("name", &owner.name),
            ("uid", &owner.uid),
        ] {
            if value.is_empty() {
                errors.push(FieldError::required(&p.child(field), ""));
            }
        }
        if owner.controller == Some(true) {
            controllers += 1;
        }
    }
    if controllers > 1 {
        errors.push(FieldError::invalid(
            &owners,
            controllers,
            "Only one reference can have Controller set to true",
        ));
    }
    let finalizers = root.child("finalizers");
    for (i, f) in meta.finalizers.iter().enumerate() {
        push_all(&mut errors, &finalizers.index(i), f, is_qualified_name(f));
    }
    errors
}

/// Validates what may not change in `metadata` on update: name, namespace,
/// uid, creationTimestamp.
pub fn validate_object_meta_update(new: &ObjectMeta, old: &ObjectMeta) -> ErrorList {
    let mut errors = ErrorList::new();
    let root = Path::root("metadata");
    let immutable = [
        ("name", new.name == old.name),
        ("namespace", new.namespace == old.namespace),
        ("uid", new.uid.is_empty() || new.uid == old.uid),
        (
            "creationTimestamp",
            new.creation_timestamp.is_none() || new.creation_timestamp == old.creation_timestamp,
        ),
    ];
    for (field, unchanged) in immutable {
        if !unchanged {
            errors.push(FieldError::invalid(
                &root.child(field),
                field,
                "field is immutable",
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_display() {
        let spec = Path::root("spec");
        let c = spec.child("containers");
        let c0 = c.index(0);
        assert_eq!(c0.child("image").to_string(), "spec.containers[0].image");
        let labels = Path::root("metadata");
        let l = labels.child("labels");
        assert_eq!(l.key("app").to_string(), "metadata.labels[app]");
    }

    #[test]
    fn names() {
        let table: &[(&str, NameRule, bool)] = &[
            ("kubia-manual", NameRule::Subdomain, true),
            ("a.b.c", NameRule::Subdomain, true),
            ("myPod", NameRule::Subdomain, false),
            ("-a", NameRule::Subdomain, false),
            ("a..b", NameRule::Subdomain, false),
            ("", NameRule::Subdomain, false),
            ("a.b", NameRule::Label, false),
            ("1abc", NameRule::Label, true),
            ("1abc", NameRule::Dns1035Label, false),
            ("abc-1", NameRule::Dns1035Label, true),
            ("system:admin", NameRule::PathSegment, true),
            ("a/b", NameRule::PathSegment, false),
            ("..", NameRule::PathSegment, false),
        ];
        for &(name, rule, ok) in table {
            assert_eq!(rule.check(name).is_empty(), ok, "{name} {rule:?}");
        }
        assert!(!is_dns1123_label(&"a".repeat(64)).is_empty());
        assert!(is_dns1123_subdomain(&"a".repeat(253)).is_empty());
        assert!(!is_dns1123_subdomain(&"a".repeat(254)).is_empty());
    }

    #[test]
    fn label_keys_and_values() {
        let table: &[(&str, bool)] = &[
            ("app", true),
            ("app.kubernetes.io/name", true),
            ("Example.com/x", false),
            ("/x", false),
            ("a/b/c", false),
            ("a/", false),
            ("_x", false),
            ("My_Name.1", true),
        ];
        for &(key, ok) in table {
            assert_eq!(is_qualified_name(key).is_empty(), ok, "{key}");
        }
        assert!(is_qualified_name(&"a".repeat(63)).is_empty());
        assert!(!is_qualified_name(&"a".repeat(64)).is_empty());
        assert!(is_valid_label_value("").is_empty());
        assert!(!is_valid_label_value("a b").is_empty());
        assert!(!is_valid_label_value(&"a".repeat(64)).is_empty());
    }

    #[test]
    fn object_meta_errors_name_fields() {
        let mut meta = ObjectMeta::named("myPod");
        meta.labels.insert("bad key", "v");
        meta.labels.insert("ok", "bad value!");
        let errors = validate_object_meta(&meta, Scope::Namespaced, NameRule::Subdomain);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec!["metadata.name", "metadata.labels", "metadata.labels[ok]"]
        );
        assert!(errors
            .to_string()
            .contains(r#"metadata.name: Invalid value: "myPod""#));

        let none = validate_object_meta(
            &ObjectMeta::default(),
            Scope::Namespaced,
            NameRule::Subdomain,
        );
        assert_eq!(
            none.to_string(),
            "metadata.name: Required value: name or generateName is required"
        );

        let mut cluster = ObjectMeta::namespaced("default", "node-1");
        cluster.generation = 1;
        let errors = validate_object_meta(&cluster, Scope::Cluster, NameRule::Subdomain);
        assert_eq!(
            errors.iter().next().map(|e| e.kind),
            Some(ErrorType::Forbidden)
        );

        let generated = ObjectMeta {
            generate_name: "web-".into(),
            ..ObjectMeta::default()
        };
        assert!(
            validate_object_meta(&generated, Scope::Namespaced, NameRule::Subdomain).is_empty()
        );
    }

    #[test]
    fn annotations_size_limit() {
        let mut meta = ObjectMeta::named("a");
        meta.annotations
            .insert("big", "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT));
        let errors = validate_object_meta(&meta, Scope::Namespaced, NameRule::Subdomain);
        assert_eq!(
            errors.iter().next().map(|e| e.kind),
            Some(ErrorType::TooLong)
        );
    }

    #[test]
    fn immutable_on_update() {
        let old = ObjectMeta::namespaced("a", "x");
        let new = ObjectMeta::namespaced("b", "x");
        let errors = validate_object_meta_update(&new, &old);
        assert_eq!(
            errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(),
            vec!["metadata.namespace"]
        );
    }
}
