//! Configuration handed to pods: [`ConfigMap`] (plain key/value data),
//! [`Secret`] (sensitive data, base64 in JSON) and [`ServiceAccount`] (the
//! identity pods run as).
//!
//! Secret values stay as the base64 text they arrive as (what is stored and
//! served); [`Secret::decoded`] gives the bytes. `stringData` is folded into
//! `data` by defaulting, as the API server does on write.
//!
//! ```
//! use keelson::api::core::Secret;
//! use keelson::api::Resource;
//!
//! let mut secret: Secret = serde_json::from_str(
//!     r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db"},
//!         "data":{"username":"YWRtaW4="},"stringData":{"password":"s3cret"}}"#,
//! ).unwrap();
//! secret.apply_defaults();
//! assert_eq!(secret.type_, "Opaque");
//! assert_eq!(secret.decoded("username").unwrap(), b"admin");
//! assert_eq!(secret.decoded("password").unwrap(), b"s3cret");
//! assert!(secret.string_data.is_empty());
//! assert!(secret.validate().is_empty());
//! ```
use super::base64;
use super::{LocalObjectReference, ObjectReference};
use crate::api::resource::object;
use crate::api::validation::{ErrorList, FieldError, Path};
use crate::api::{Str, StringMap};

/// The most bytes a Secret's or ConfigMap's data may hold (1 MiB).
pub const MAX_DATA_SIZE: usize = 1024 * 1024;

/// `Opaque`: arbitrary user data (the default type).
pub const SECRET_TYPE_OPAQUE: &str = "Opaque";
/// A service account token; needs the `kubernetes.io/service-account.name`
/// annotation.
pub const SECRET_TYPE_SERVICE_ACCOUNT_TOKEN: &str = "kubernetes.io/service-account-token";
/// A legacy `~/.dockercfg` file under the key `.dockercfg`.
pub const SECRET_TYPE_DOCKERCFG: &str = "kubernetes.io/dockercfg";
/// A `~/.docker/config.json` file under the key `.dockerconfigjson`.
pub const SECRET_TYPE_DOCKER_CONFIG_JSON: &str = "kubernetes.io/dockerconfigjson";
/// Basic authentication: `username` and/or `password`.
pub const SECRET_TYPE_BASIC_AUTH: &str = "kubernetes.io/basic-auth";
/// SSH authentication: `ssh-privatekey`.
pub const SECRET_TYPE_SSH_AUTH: &str = "kubernetes.io/ssh-auth";
/// TLS: `tls.crt` and `tls.key`.
pub const SECRET_TYPE_TLS: &str = "kubernetes.io/tls";
/// A bootstrap token.
pub const SECRET_TYPE_BOOTSTRAP_TOKEN: &str = "bootstrap.kubernetes.io/token";
/// The annotation naming a token secret's service account.
pub const SERVICE_ACCOUNT_NAME_ANNOTATION: &str = "kubernetes.io/service-account.name";

/// Why [`Secret::decoded`] or [`ConfigMap::binary`] gave no bytes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The key is not present.
    #[error("key {0:?} not found")]
    NotFound(String),
    /// The value is not valid base64.
    #[error("value of key {key:?} is not valid base64")]
    Base64 {
        /// The key.
        key: String,
        /// The decoding error.
        #[source]
        source: base64::Error,
    },
}

object! {
    /// Non-confidential key/value data for pods: environment variables,
    /// command-line arguments or files in a volume.
    pub struct ConfigMap {
        /// When true, the data can no longer be changed.
        immutable: Option<bool> = "immutable",
        /// UTF-8 values.
        data: StringMap = "data",
        /// Binary values, as base64 text.
        binary_data: StringMap = "binaryData",
    }
    resource {
        group: "",
        version: "v1",
        kind: "ConfigMap",
        plural: "configmaps",
        scope: Namespaced,
        short_names: ["cm"],
    }

    fn validate_fields(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        let data = Path::root("data");
        let binary = Path::root("binaryData");
        let mut total = 0usize;
        for (key, value) in &self.data {
            validate_key(key, &data, &mut errors);
            if self.binary_data.contains_key(key) {
                errors.push(FieldError::invalid(
                    &data,
                    key,
                    format!("duplicate of key {key:?} present in binaryData"),
                ));
            }
            total += value.len();
        }
        for (key, value) in &self.binary_data {
            validate_key(key, &binary, &mut errors);
            if let Err(e) = base64::decode(value) {
                errors.push(FieldError::invalid(&binary.key(key), "<binary>", e.to_string()));
            }
            total += base64::decoded_len(value);
        }
        if total > MAX_DATA_SIZE {
            errors.push(FieldError::too_long(&data, MAX_DATA_SIZE));
        }
        errors
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = self.validate();
        errors.extend(crate::api::validation::validate_object_meta_update(&self.metadata, &old.metadata));
        if old.immutable == Some(true) {
            validate_immutable_data(
                self.immutable,
                [(&self.data, &old.data, "data"), (&self.binary_data, &old.binary_data, "binaryData")],
                &mut errors,
            );
        }
        errors
    }
}

impl ConfigMap {
    /// The bytes of a `binaryData` entry.
    pub fn binary(&self, key: &str) -> Result<Vec<u8>, Error> {
        let text = self
            .binary_data
            .get(key)
            .ok_or_else(|| Error::NotFound(key.to_string()))?;
        base64::decode(text).map_err(|source| Error::Base64 {
            key: key.to_string(),
            source,
        })
    }
}

object! {
    /// Sensitive key/value data (passwords, tokens, keys) for pods.
    pub struct Secret {
        /// When true, the data can no longer be changed.
        immutable: Option<bool> = "immutable",
        /// Values as base64 text (Go `[]byte`).
        data: StringMap = "data",
        /// Write-only plain-text values, merged into `data` on write.
        string_data: StringMap = "stringData",
        /// The secret's type (`Opaque`, `kubernetes.io/tls`, ...).
        type_: Str = "type",
    }
    resource {
        group: "",
        version: "v1",
        kind: "Secret",
        plural: "secrets",
        scope: Namespaced,
    }

    fn apply_defaults(&mut self) {
        if self.type_.is_empty() {
            self.type_ = Str::from_static(SECRET_TYPE_OPAQUE);
        }
        for (key, value) in std::mem::take(&mut self.string_data) {
            self.data.insert(key, base64::encode(value.as_bytes()));
        }
    }

    fn validate_fields(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        let data = Path::root("data");
        let mut total = 0usize;
        for (key, value) in &self.data {
            validate_key(key, &data, &mut errors);
            if let Err(e) = base64::decode(value) {
                errors.push(FieldError::invalid(&data.key(key), "<secret contents redacted>", e.to_string()));
            }
            total += base64::decoded_len(value);
        }
        let string_data = Path::root("stringData");
        for (key, value) in &self.string_data {
            validate_key(key, &string_data, &mut errors);
            if !self.data.contains_key(key) {
                total += value.len();
            }
        }
        if total > MAX_DATA_SIZE {
            errors.push(FieldError::too_long(&data, MAX_DATA_SIZE));
        }
        self.validate_type(&mut errors);
        errors
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = self.validate();
        errors.extend(crate::api::validation::validate_object_meta_update(&self.metadata, &old.metadata));
        if self.type_ != old.type_ && !old.type_.is_empty() {
            errors.push(FieldError::invalid(&Path::root("type"), &self.type_, "field is immutable"));
        }
        if old.immutable == Some(true) {
            validate_immutable_data(self.immutable, [(&self.data, &old.data, "data")], &mut errors);
        }
        errors
    }
}

impl Secret {
    /// The bytes of a `data` entry (or of a `stringData` entry not yet
    /// merged by defaulting).
    pub fn decoded(&self, key: &str) -> Result<Vec<u8>, Error> {
        if let Some(plain) = self.string_data.get(key) {
            return Ok(plain.as_bytes().to_vec());
        }
        let text = self
            .data
            .get(key)
            .ok_or_else(|| Error::NotFound(key.to_string()))?;
        base64::decode(text).map_err(|source| Error::Base64 {
            key: key.to_string(),
            source,
        })
    }

    /// Sets `key` to `value`, base64-encoded into `data`.
    pub fn insert_bytes(&mut self, key: impl Into<Str>, value: &[u8]) {
        self.data.insert(key, base64::encode(value));
    }

    fn has_key(&self, key: &str) -> bool {
        self.data.contains_key(key) || self.string_data.contains_key(key)
    }

    /// The checks Kubernetes makes for the well-known types.
    fn validate_type(&self, errors: &mut ErrorList) {
        let data = Path::root("data");
        let require = |errors: &mut ErrorList, key: &str| {
            if !self.has_key(key) {
                errors.push(FieldError::required(&data.key(key), ""));
            }
        };
        match &*self.type_ {
            SECRET_TYPE_SERVICE_ACCOUNT_TOKEN => {
                let meta = Path::root("metadata");
                let annotations = meta.child("annotations");
                if self
                    .metadata
                    .annotations
                    .get_str(SERVICE_ACCOUNT_NAME_ANNOTATION)
                    .is_none_or(str::is_empty)
                {
                    errors.push(FieldError::required(
                        &annotations.key(SERVICE_ACCOUNT_NAME_ANNOTATION),
                        "",
                    ));
                }
            }
            SECRET_TYPE_DOCKERCFG => require(errors, ".dockercfg"),
            SECRET_TYPE_DOCKER_CONFIG_JSON => require(errors, ".dockerconfigjson"),
            SECRET_TYPE_BASIC_AUTH if !self.has_key("username") && !self.has_key("password") => {
                errors.push(FieldError::required(
                    &data.key("username"),
                    "either username or password is required",
                ));
            }
            SECRET_TYPE_SSH_AUTH => require(errors, "ssh-privatekey"),
            SECRET_TYPE_TLS => {
                require(errors, "tls.crt");
                require(errors, "tls.key");
            }
            _ => {}
        }
    }
}

object! {
    /// An identity for processes in pods, with the secrets it may use.
    pub struct ServiceAccount {
        /// Secrets pods of this account may use (legacy token secrets).
        secrets: Vec<ObjectReference> = "secrets",
        /// Registry credentials added to pods of this account.
        image_pull_secrets: Vec<LocalObjectReference> = "imagePullSecrets",
        /// Whether pods mount an API token by default.
        automount_service_account_token: Option<bool> = "automountServiceAccountToken",
    }
    resource {
        group: "",
        version: "v1",
        kind: "ServiceAccount",
        plural: "serviceaccounts",
        scope: Namespaced,
        short_names: ["sa"],
        subresources: ["token"],
    }
}

/// Problems with `key` as a ConfigMap or Secret key: at most 253
/// characters from `[-._a-zA-Z0-9]`, not `.` or `..`, not starting with `..`.
pub fn is_config_map_key(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if key.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    if key.is_empty()
        || !key
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
    {
        errs.push(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. \
             'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is \
             '[-._a-zA-Z0-9]+')"
                .to_string(),
        );
    }
    if key == "." {
        errs.push("must not be '.'".to_string());
    } else if key == ".." {
        errs.push("must not be '..'".to_string());
    } else if key.starts_with("..") {
        errs.push("must not start with '..'".to_string());
    }
    errs
}

fn validate_key(key: &str, path: &Path<'_>, errors: &mut ErrorList) {
    for msg in is_config_map_key(key) {
        errors.push(FieldError::invalid(path, key, msg));
    }
}

fn validate_immutable_data<const N: usize>(
    immutable: Option<bool>,
    maps: [(&StringMap, &StringMap, &str); N],
    errors: &mut ErrorList,
) {
    const DETAIL: &str = "field is immutable when `immutable` is set";
    if immutable != Some(true) {
        errors.push(FieldError::forbidden(&Path::root("immutable"), DETAIL));
    }
    for (new, old, field) in maps {
        if new != old {
            errors.push(FieldError::forbidden(&Path::root(field), DETAIL));
        }
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

    // Seed 44-secret-mysecret.yaml, converted to JSON.
    const SEED_44: &str = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"mysecret"},"type":"Opaque",
        "data":{"username":"YWRtaW4=","password":"MWYyZDFlMmU2N2Rm"}}"#;
    // Seed 47-configmap-myconfig.yaml, converted to JSON.
    const SEED_47: &str = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"myconfig","namespace":"default"},
        "data":{"log.level":"info"}}"#;

    #[test]
    fn seed_secret_decodes() {
        let mut secret: Secret = round_trip(SEED_44);
        assert_eq!(secret.decoded("username").unwrap(), b"admin");
        assert_eq!(secret.decoded("password").unwrap(), b"1f2d1e2e67df");
        assert_eq!(
            secret.decoded("token"),
            Err(Error::NotFound("token".to_string()))
        );
        let before = secret.clone();
        secret.apply_defaults();
        assert_eq!(secret, before);
        assert!(secret.validate().is_empty());
    }

    #[test]
    fn seed_config_map() {
        let cm: ConfigMap = round_trip(SEED_47);
        assert_eq!(cm.data.get_str("log.level"), Some("info"));
        assert!(cm.validate().is_empty());
        assert_eq!(ConfigMap::SHORT_NAMES, ["cm"]);
    }

    #[test]
    fn field_rich_round_trips() {
        let cm: ConfigMap = round_trip(
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"app","namespace":"prod","resourceVersion":"7"},
               "immutable":true,"data":{"app.properties":"a=1\nb=2","mode":"fast"},"binaryData":{"logo.png":"iVBORw0KGgo="}}"#,
        );
        assert_eq!(cm.binary("logo.png").unwrap(), b"\x89PNG\r\n\x1a\n");
        assert!(cm.validate().is_empty(), "{}", cm.validate());

        let tls: Secret = round_trip(
            r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"tls","namespace":"prod"},"immutable":false,
               "data":{"tls.crt":"Y2VydA==","tls.key":"a2V5"},"stringData":{"extra":"plain"},"type":"kubernetes.io/tls"}"#,
        );
        assert!(tls.validate().is_empty(), "{}", tls.validate());
        assert_eq!(tls.decoded("extra").unwrap(), b"plain");

        let sa: ServiceAccount = round_trip(
            r#"{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"builder","namespace":"ci"},
               "secrets":[{"name":"builder-token","namespace":"ci","kind":"Secret"}],
               "imagePullSecrets":[{"name":"registry"}],"automountServiceAccountToken":false}"#,
        );
        assert!(sa.validate().is_empty());
        assert_eq!(ServiceAccount::SHORT_NAMES, ["sa"]);
        let nulls: ServiceAccount = serde_json::from_str(
            r#"{"metadata":{"name":"x"},"secrets":null,"imagePullSecrets":null}"#,
        )
        .unwrap();
        assert!(nulls.secrets.is_empty());
    }

    #[test]
    fn string_data_merges_into_data() {
        let mut secret: Secret = round_trip(
            r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"data":{"a":"b2xk","b":"Yg=="},"stringData":{"a":"new","c":"see"}}"#,
        );
        secret.apply_defaults();
        assert_eq!(secret.type_, SECRET_TYPE_OPAQUE);
        assert!(secret.string_data.is_empty());
        assert_eq!(secret.data.get_str("a"), Some("bmV3"));
        assert_eq!(secret.decoded("b").unwrap(), b"b");
        assert_eq!(secret.decoded("c").unwrap(), b"see");
    }

    #[test]
    fn validation_table() {
        type Edit = fn(&mut Secret);
        let cases: &[(&str, Edit, &str)] = &[
            (
                "bad key",
                |s| {
                    s.data.insert("a b", "YQ==");
                },
                "data: Invalid value: \"a b\": a valid config key",
            ),
            (
                "dot key",
                |s| {
                    s.data.insert("..x", "YQ==");
                },
                "data: Invalid value: \"..x\": must not start with '..'",
            ),
            (
                "bad base64",
                |s| {
                    s.data.insert("k", "YQ=");
                },
                "data[k]: Invalid value: \"<secret contents redacted>\": illegal base64 data",
            ),
            (
                "bad string key",
                |s| {
                    s.string_data.insert("..", "x");
                },
                "stringData: Invalid value: \"..\": must not be '..'",
            ),
            (
                "too big",
                |s| {
                    s.string_data.insert("big", "x".repeat(MAX_DATA_SIZE + 1));
                },
                "data: Too long",
            ),
            (
                "tls needs key",
                |s| {
                    s.type_ = SECRET_TYPE_TLS.into();
                    s.insert_bytes("tls.crt", b"cert");
                },
                "data[tls.key]: Required value",
            ),
            (
                "token needs account",
                |s| s.type_ = SECRET_TYPE_SERVICE_ACCOUNT_TOKEN.into(),
                "metadata.annotations[kubernetes.io/service-account.name]: Required value",
            ),
            (
                "basic auth",
                |s| s.type_ = SECRET_TYPE_BASIC_AUTH.into(),
                "data[username]: Required value",
            ),
            (
                "docker config",
                |s| s.type_ = SECRET_TYPE_DOCKER_CONFIG_JSON.into(),
                "data[.dockerconfigjson]: Required value",
            ),
        ];
        for (what, edit, want) in cases {
            let mut secret = Secret {
                metadata: crate::api::ObjectMeta::named("s"),
                ..Secret::default()
            };
            edit(&mut secret);
            let errors = secret.validate().to_string();
            assert!(errors.starts_with(want), "{what}: got {errors:?}");
        }

        let mut cm = ConfigMap {
            metadata: crate::api::ObjectMeta::named("c"),
            ..ConfigMap::default()
        };
        cm.data.insert("k", "v");
        cm.binary_data.insert("k", "dg==");
        cm.binary_data.insert("bin", "%%%");
        let errors: Vec<String> = cm.validate().iter().map(|e| e.to_string()).collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with(
            "data: Invalid value: \"k\": duplicate of key \"k\" present in binaryData"
        ));
        assert!(errors[1].starts_with("binaryData[bin]: Invalid value"));
    }

    #[test]
    fn immutable_data_cannot_change() {
        let mut old: Secret = round_trip(SEED_44);
        old.immutable = Some(true);
        let mut new = old.clone();
        assert!(new.validate_update(&old).is_empty());
        new.insert_bytes("username", b"root");
        assert_eq!(
            new.validate_update(&old).to_string(),
            "data: Forbidden: field is immutable when `immutable` is set"
        );
        new = old.clone();
        new.immutable = None;
        assert_eq!(
            new.validate_update(&old).to_string(),
            "immutable: Forbidden: field is immutable when `immutable` is set"
        );
        new = old.clone();
        new.type_ = SECRET_TYPE_BASIC_AUTH.into();
        assert_eq!(
            new.validate_update(&old).to_string(),
            "type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable"
        );

        let mut cm_old: ConfigMap = round_trip(SEED_47);
        cm_old.immutable = Some(true);
        let mut cm_new = cm_old.clone();
        cm_new.binary_data.insert("x", "eA==");
        assert_eq!(
            cm_new.validate_update(&cm_old).to_string(),
            "binaryData: Forbidden: field is immutable when `immutable` is set"
        );
        // Mutable config maps may change freely.
        cm_old.immutable = None;
        assert!(cm_new.validate_update(&cm_old).is_empty());
    }

    #[test]
    fn config_keys() {
        for (key, ok) in [
            ("log.level", true),
            ("KEY_NAME", true),
            (".hidden", true),
            (".", false),
            ("..", false),
            ("..data", false),
            ("a/b", false),
            ("", false),
        ] {
            assert_eq!(is_config_map_key(key).is_empty(), ok, "{key}");
        }
        assert!(!is_config_map_key(&"k".repeat(254)).is_empty());
    }
}
