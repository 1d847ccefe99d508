//! The [`Resource`] trait: what a kind is (group, version, kind, plural,
//! scope) and how to reach its metadata, default it and validate it.
//!
//! Every built-in kind implements it; so can your own types:
//!
//! ```
//! use keelson::api::{ErrorList, Metadata, ObjectMeta, Resource, Scope};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
//! struct Backup {
//!     metadata: ObjectMeta,
//!     #[serde(default)]
//!     target: String,
//! }
//!
//! impl Metadata for Backup {
//!     fn metadata(&self) -> &ObjectMeta { &self.metadata }
//!     fn metadata_mut(&mut self) -> &mut ObjectMeta { &mut self.metadata }
//! }
//!
//! impl Resource for Backup {
//!     const GROUP: &'static str = "example.com";
//!     const VERSION: &'static str = "v1";
//!     const API_VERSION: &'static str = "example.com/v1";
//!     const KIND: &'static str = "Backup";
//!     const PLURAL: &'static str = "backups";
//!     const SCOPE: Scope = Scope::Namespaced;
//! }
//!
//! assert_eq!(Backup::api_resource().plural, "backups");
//! ```
use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::validation::{self, ErrorList, NameRule};
use super::{ObjectMeta, Str};

/// Whether objects of a kind live in a namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Objects live in a namespace (`Pod`).
    Namespaced,
    /// Objects are cluster-wide (`Node`, `Namespace`).
    Cluster,
}

impl Scope {
    /// True for [`Scope::Namespaced`].
    pub fn is_namespaced(self) -> bool {
        self == Scope::Namespaced
    }
}

/// Access to an object's metadata; implemented by typed and dynamic objects.
pub trait Metadata {
    /// The metadata.
    fn metadata(&self) -> &ObjectMeta;
    /// The metadata, mutably.
    fn metadata_mut(&mut self) -> &mut ObjectMeta;
}

/// A kind compiled into the program: its type information, defaulting and
/// validation.
pub trait Resource:
    Metadata
    + Clone
    + Debug
    + Default
    + PartialEq
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The API group (`""` for core, `apps`, ...).
    const GROUP: &'static str;
    /// The version (`v1`).
    const VERSION: &'static str;
    /// `group/version`, or `version` for the core group.
    const API_VERSION: &'static str;
    /// The kind (`Pod`).
    const KIND: &'static str;
    /// The lower-case plural used in URLs (`pods`).
    const PLURAL: &'static str;
    /// Namespaced or cluster-scoped.
    const SCOPE: Scope;
    /// Short names for kubectl (`po`).
    const SHORT_NAMES: &'static [&'static str] = &[];
    /// Categories for kubectl (`all`).
    const CATEGORIES: &'static [&'static str] = &[];
    /// How `metadata.name` is validated.
    const NAME_RULE: NameRule = NameRule::Subdomain;
    /// Subresources served besides the main resource (`status`, `scale`).
    const SUBRESOURCES: &'static [&'static str] = &[];

    /// The runtime description of this kind.
    fn api_resource() -> ApiResource {
        ApiResource {
            group: Str::from_static(Self::GROUP),
            version: Str::from_static(Self::VERSION),
            api_version: Str::from_static(Self::API_VERSION),
            kind: Str::from_static(Self::KIND),
            plural: Str::from_static(Self::PLURAL),
            singular: Str::from(Self::KIND.to_ascii_lowercase()),
            scope: Self::SCOPE,
            short_names: Self::SHORT_NAMES.iter().map(|s| Str::from(*s)).collect(),
            categories: Self::CATEGORIES.iter().map(|s| Str::from(*s)).collect(),
            subresources: Self::SUBRESOURCES.iter().map(|s| Str::from(*s)).collect(),
        }
    }

    /// Fills in the fields Kubernetes defaults (`restartPolicy: Always`, ...).
    fn apply_defaults(&mut self) {}

    /// Validates the kind's own fields (everything but `metadata`).
    fn validate_fields(&self) -> ErrorList {
        ErrorList::new()
    }

    /// Validates the whole object as for a create: metadata, then fields.
    fn validate(&self) -> ErrorList {
        let mut errors =
            validation::validate_object_meta(self.metadata(), Self::SCOPE, Self::NAME_RULE);
        errors.extend(self.validate_fields());
        errors
    }

    /// Validates an update from `old`: [`Resource::validate`] plus the rules
    /// on what may not change.
    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = self.validate();
        errors.extend(validation::validate_object_meta_update(
            self.metadata(),
            old.metadata(),
        ));
        errors
    }
}

/// The runtime description of a kind: what discovery serves and what the
/// API server routes on. Built from [`Resource`] for compiled kinds and from
/// a CustomResourceDefinition for custom ones.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ApiResource {
    /// The API group.
    pub group: Str,
    /// The version.
    pub version: Str,
    /// `group/version` or `version`.
    pub api_version: Str,
    /// The kind.
    pub kind: Str,
    /// The plural used in URLs.
    pub plural: Str,
    /// The lower-case singular name.
    pub singular: Str,
    /// Namespaced or cluster-scoped.
    pub scope: Scope,
    /// Short names.
    pub short_names: Vec<Str>,
    /// Categories.
    pub categories: Vec<Str>,
    /// Served subresources.
    pub subresources: Vec<Str>,
}

/// Defines a top-level kind: the struct (with `metadata` first), its exact
/// Kubernetes JSON encoding (`apiVersion` and `kind` written first, empty
/// fields omitted, `null` read as empty, unknown fields left for
/// `serde_ignored` to report) and its [`Resource`] impl.
///
/// Fields are `name: Type = "jsonName"`; append `@always` to a field that is
/// written even when empty. Methods after the `resource { .. }` block go into
/// the `Resource` impl (defaulting and validation).
macro_rules! object {
    (
        $(#[$attr:meta])*
        pub struct $name:ident {
            $(
                $(#[$fattr:meta])*
                $field:ident : $ty:ty = $json:literal $(@ $always:ident)?
            ),* $(,)?
        }
        resource {
            group: $group:tt,
            version: $version:tt,
            kind: $kind:literal,
            plural: $plural:literal,
            scope: $scope:ident
            $(, short_names: [$($short:literal),* $(,)?])?
            $(, categories: [$($cat:literal),* $(,)?])?
            $(, name_rule: $rule:ident)?
            $(, subresources: [$($sub:literal),* $(,)?])?
            $(,)?
        }
        $($methods:tt)*
    ) => {
        $(#[$attr])*
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct $name {
            /// Standard object metadata.
            pub metadata: $crate::api::ObjectMeta,
            $(
                $(#[$fattr])*
                pub $field: $ty,
            )*
        }

        impl $crate::api::Metadata for $name {
            fn metadata(&self) -> &$crate::api::ObjectMeta {
                &self.metadata
            }
            fn metadata_mut(&mut self) -> &mut $crate::api::ObjectMeta {
                &mut self.metadata
            }
        }

        impl $crate::api::Resource for $name {
            const GROUP: &'static str = $group;
            const VERSION: &'static str = $version;
            const API_VERSION: &'static str = $crate::api::resource::object!(@api_version $group, $version);
            const KIND: &'static str = $kind;
            const PLURAL: &'static str = $plural;
            const SCOPE: $crate::api::Scope = $crate::api::Scope::$scope;
            $(const SHORT_NAMES: &'static [&'static str] = &[$($short),*];)?
            $(const CATEGORIES: &'static [&'static str] = &[$($cat),*];)?
            $(const NAME_RULE: $crate::api::NameRule = $crate::api::NameRule::$rule;)?
            $(const SUBRESOURCES: &'static [&'static str] = &[$($sub),*];)?
            $($methods)*
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use ::serde::ser::SerializeMap;
                use $crate::api::Resource;
                let mut map = serializer.serialize_map(None)?;
                map.serialize_entry("apiVersion", Self::API_VERSION)?;
                map.serialize_entry("kind", Self::KIND)?;
                map.serialize_entry("metadata", &self.metadata)?;
                $(
                    if !$crate::api::resource::object!(@omit self.$field $(, $always)?) {
                        map.serialize_entry($json, &self.$field)?;
                    }
                )*
                map.end()
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct ObjectVisitor;
                impl<'de> ::serde::de::Visitor<'de> for ObjectVisitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(concat!("a ", $kind, " object"))
                    }
                    fn visit_map<A: ::serde::de::MapAccess<'de>>(self, mut map: A) -> Result<$name, A::Error> {
                        use $crate::api::Resource;
                        let mut out = $name::default();
                        while let Some(key) = map.next_key::<$crate::api::resource::FieldKey>()? {
                            match key.0.as_str() {
                                "apiVersion" => {
                                    let v: $crate::api::Str = map.next_value()?;
                                    $crate::api::resource::check_type_field::<A::Error>("apiVersion", &v, $name::API_VERSION)?;
                                }
                                "kind" => {
                                    let v: $crate::api::Str = map.next_value()?;
                                    $crate::api::resource::check_type_field::<A::Error>("kind", &v, $name::KIND)?;
                                }
                                "metadata" => {
                                    out.metadata = map.next_value::<Option<$crate::api::ObjectMeta>>()?.unwrap_or_default();
                                }
                                $(
                                    $json => {
                                        out.$field = map.next_value::<Option<$ty>>()?.unwrap_or_default();
                                    }
                                )*
                                _ => {
                                    map.next_value::<::serde::de::IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                deserializer.deserialize_map(ObjectVisitor)
            }
        }
    };
    (@omit $e:expr) => { $crate::api::serde_util::is_default(&$e) };
    (@omit $e:expr, always) => { false };
    (@api_version "", $version:tt) => { $version };
    (@api_version $group:tt, $version:tt) => { concat!($group, "/", $version) };
}

pub(crate) use object;

/// A JSON object key, read as an identifier so field-tracking deserializers
/// (`serde_ignored`) see the field names.
#[doc(hidden)]
pub struct FieldKey(pub Str);

impl<'de> serde::Deserialize<'de> for FieldKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl serde::de::Visitor<'_> for KeyVisitor {
            type Value = FieldKey;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FieldKey, E> {
                Ok(FieldKey(Str::from(v)))
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// Checks a decoded `apiVersion` or `kind` against the expected one (an empty
/// value is accepted: list items often omit them).
#[doc(hidden)]
pub fn check_type_field<E: serde::de::Error>(field: &str, got: &str, want: &str) -> Result<(), E> {
    if got.is_empty() || got == want {
        Ok(())
    } else {
        Err(E::custom(format_args!(
            "{field} is {got:?}, expected {want:?}"
        )))
    }
}
