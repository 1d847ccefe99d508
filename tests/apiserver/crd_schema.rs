//! Custom objects against their CustomResourceDefinition's schema: pruning
//! (and `fieldValidation`), defaulting and validation on create, update,
//! patch and the status subresource, through the in-process client and the
//! server's own entry points.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use keelson::api::apiextensions::{crd_from_v1beta1, CustomResourceDefinition};
use keelson::api::resource::ApiResource;
use keelson::api::scheme::FieldValidation;
use keelson::api::DynamicObject;
use keelson::apiserver::{ApiServer, PatchType, Target, WriteOptions};
use keelson::client::{Api, Client, DynamicApi, Error, LocalClient};

/// The seed CRD (`39-customresourcedefinition-websites...`, v1beta1 without
/// a schema).
fn seed_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1beta1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "websites.extensions.example.com"},
        "spec": {
            "scope": "Namespaced",
            "group": "extensions.example.com",
            "version": "v1",
            "names": {"kind": "Website", "singular": "website", "plural": "websites"}
        }
    })
}

/// The seed CRD as a v1 CRD with a schema and the status subresource.
fn website_crd() -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "websites.extensions.example.com"},
        "spec": {
            "scope": "Namespaced",
            "group": "extensions.example.com",
            "names": {"kind": "Website", "singular": "website", "plural": "websites"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {
                    "status": {},
                    "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}
                },
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "required": ["spec"],
                    "properties": {
                        "spec": {
                            "type": "object",
                            "required": ["gitRepo"],
                            "properties": {
                                "gitRepo": {"type": "string", "pattern": "^https?://"},
                                "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                                "tier": {"type": "string", "enum": ["frontend", "backend"], "default": "frontend"},
                                "port": {"x-kubernetes-int-or-string": true},
                                "note": {"type": "string", "nullable": true},
                                "paths": {"type": "array", "maxItems": 3,
                                          "items": {"type": "string", "minLength": 1}},
                                "tls": {"type": "object", "default": {}, "properties": {
                                    "enabled": {"type": "boolean", "default": false},
                                    "secretName": {"type": "string"}
                                }},
                                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                            }
                        },
                        "status": {
                            "type": "object",
                            "properties": {
                                "ready": {"type": "boolean"},
                                "replicas": {"type": "integer", "minimum": 0}
                            }
                        }
                    }
                }}
            }]
        }
    }))
    .unwrap()
}

/// The seed Website (`40-website-kubia.yaml`) with `spec` replaced.
fn site(spec: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "extensions.example.com/v1",
        "kind": "Website",
        "metadata": {"name": "kubia"},
        "spec": spec
    }))
    .unwrap()
}

fn seed_spec() -> Value {
    json!({"gitRepo": "https://github.com/luksa/kubia-website-example.git"})
}

/// A server serving `crd`, and the Website API in `default`.
async fn serve(crd: &CustomResourceDefinition) -> (ApiServer, Arc<dyn Client>, DynamicApi) {
    let server = ApiServer::in_memory().await.unwrap();
    let client: Arc<dyn Client> = Arc::new(LocalClient::new(&server));
    let crds: Api<CustomResourceDefinition> = Api::all(&client);
    crds.create(crd).await.unwrap();
    let resource: ApiResource = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(k) = server.kind("extensions.example.com", "v1", "websites") {
                return k.resource.clone();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the Website kind is served");
    let sites = DynamicApi::dynamic(&client, &resource, "default");
    (server, client, sites)
}

fn target() -> Target {
    Target::new("extensions.example.com", "v1", "websites").namespace("default")
}

fn opts(mode: FieldValidation) -> WriteOptions {
    WriteOptions {
        field_validation: mode,
        ..WriteOptions::default()
    }
}

/// The 422's causes as (field, reason, message).
fn causes(e: &Error) -> Vec<(String, String, String)> {
    let s = e.status().expect("an API error");
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"), "{e}");
    s.details
        .as_ref()
        .map(|d| {
            d.causes
                .iter()
                .map(|c| {
                    (
                        c.field.to_string(),
                        c.reason.to_string(),
                        c.message.to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn has_cause(e: &Error, field: &str, reason: &str, message: &str) {
    let all = causes(e);
    assert!(
        all.iter()
            .any(|(f, r, m)| f == field && r == reason && m == message),
        "no cause {field} {reason} {message:?} in {all:?}"
    );
}

#[tokio::test]
async fn the_seed_crd_without_a_schema_keeps_every_field() {
    let crd = crd_from_v1beta1(&seed_crd()).unwrap();
    let (_s, _c, sites) = serve(&crd).await;
    let mut spec = seed_spec();
    spec["anything"] = json!({"goes": [1, "two"]});
    let created = sites
        .create_with(&site(spec.clone()), &opts(FieldValidation::Strict))
        .await
        .unwrap();
    assert_eq!(created.data["spec"], spec);
}

#[tokio::test]
async fn the_seed_website_is_accepted_and_defaulted() {
    let (_s, _c, sites) = serve(&website_crd()).await;
    let created = sites.create(&site(seed_spec())).await.unwrap();
    assert_eq!(
        created.data["spec"],
        json!({
            "gitRepo": "https://github.com/luksa/kubia-website-example.git",
            "replicas": 1,
            "tier": "frontend",
            "tls": {"enabled": false}
        }),
        "defaults applied, nested ones too"
    );
    // What was stored is what was answered.
    assert_eq!(sites.get("kubia").await.unwrap().data, created.data);
}

#[tokio::test]
async fn mutations_of_the_seed_website_are_refused_with_field_paths() {
    let (_s, _c, sites) = serve(&website_crd()).await;

    let mut spec = seed_spec();
    spec["replicas"] = json!("three");
    let e = sites.create(&site(spec)).await.unwrap_err();
    has_cause(
        &e,
        "spec.replicas",
        "FieldValueTypeInvalid",
        "Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\"",
    );
    assert!(
        e.to_string().contains(
            "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\""
        ),
        "{e}"
    );

    let e = sites
        .create(&site(json!({"replicas": 2})))
        .await
        .unwrap_err();
    has_cause(&e, "spec.gitRepo", "FieldValueRequired", "Required value");

    let mut spec = seed_spec();
    spec["tier"] = json!("pink");
    let e = sites.create(&site(spec)).await.unwrap_err();
    has_cause(
        &e,
        "spec.tier",
        "FieldValueNotSupported",
        "Unsupported value: \"pink\": supported values: \"frontend\", \"backend\"",
    );

    // Several problems at once: one cause each.
    let e = sites
        .create(&site(json!({
            "gitRepo": "ftp://example.com/x.git",
            "replicas": 11,
            "paths": ["a", "", "c", "d"]
        })))
        .await
        .unwrap_err();
    let all = causes(&e);
    assert_eq!(all.len(), 4, "{all:?}");
    has_cause(
        &e,
        "spec.gitRepo",
        "FieldValueInvalid",
        "Invalid value: \"ftp://example.com/x.git\": spec.gitRepo in body should match '^https?://'",
    );
    has_cause(
        &e,
        "spec.replicas",
        "FieldValueInvalid",
        "Invalid value: 11: spec.replicas in body should be less than or equal to 10",
    );
    has_cause(
        &e,
        "spec.paths",
        "FieldValueTooMany",
        "Too many: 4: must have at most 3 items",
    );
    has_cause(
        &e,
        "spec.paths[1]",
        "FieldValueInvalid",
        "Invalid value: \"\": spec.paths[1] in body should be at least 1 chars long",
    );

    // The root's required spec.
    let mut no_spec = site(json!({}));
    no_spec.data.remove("spec");
    let e = sites.create(&no_spec).await.unwrap_err();
    has_cause(&e, "spec", "FieldValueRequired", "Required value");

    // Nothing was stored.
    assert!(sites.get_opt("kubia").await.unwrap().is_none());
}

#[tokio::test]
async fn unknown_fields_are_pruned_warned_or_refused() {
    let (server, _c, sites) = serve(&website_crd()).await;
    let mut spec = seed_spec();
    spec["colour"] = json!("blue");
    spec["tls"] = json!({"enabled": true, "cipher": "old"});
    let mut obj = site(spec);
    obj.data.insert("extraTop".into(), json!(1));
    let body = serde_json::to_vec(&obj).unwrap();

    // Strict: 400 naming every unknown field, nothing stored.
    let e = server
        .create_json(&target(), &body, &opts(FieldValidation::Strict))
        .await
        .unwrap_err();
    assert_eq!(e.code(), 400);
    assert_eq!(
        e.to_string(),
        "strict decoding error: unknown field \"extraTop\", unknown field \"spec.colour\", unknown field \"spec.tls.cipher\""
    );
    let e = sites
        .create_with(&obj, &opts(FieldValidation::Strict))
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.code), Some(400), "{e}");

    // Warn (the default): pruned, one warning each.
    let w = server
        .create_json(&target(), &body, &opts(FieldValidation::Warn))
        .await
        .unwrap();
    assert_eq!(
        w.warnings,
        [
            "unknown field \"extraTop\"",
            "unknown field \"spec.colour\"",
            "unknown field \"spec.tls.cipher\""
        ]
    );
    let stored = sites.get("kubia").await.unwrap();
    assert!(!stored.data.contains_key("extraTop"));
    assert!(stored.data["spec"].get("colour").is_none());
    assert_eq!(stored.data["spec"]["tls"], json!({"enabled": true}));

    // Ignore: pruned silently (an update this time).
    let mut again = stored.clone();
    again.data["spec"]["colour"] = json!("red");
    let t = Target {
        name: "kubia".into(),
        ..target()
    };
    let w = server
        .update(&t, Box::new(again), &opts(FieldValidation::Ignore))
        .await
        .unwrap();
    assert!(w.warnings.is_empty());
    let d = w.object.downcast_ref::<DynamicObject>().unwrap();
    assert!(d.data["spec"].get("colour").is_none());
}

#[tokio::test]
async fn preserve_unknown_fields_int_or_string_and_nullable() {
    let (_s, _c, sites) = serve(&website_crd()).await;
    let mut spec = seed_spec();
    spec["extra"] = json!({"free": {"form": [1, {"x": null}]}});
    spec["port"] = json!("http");
    spec["note"] = Value::Null;
    spec["replicas"] = Value::Null; // not nullable: defaulted
    let created = sites
        .create_with(&site(spec), &opts(FieldValidation::Strict))
        .await
        .unwrap();
    let s = &created.data["spec"];
    assert_eq!(s["extra"], json!({"free": {"form": [1, {"x": null}]}}));
    assert_eq!(s["port"], "http");
    assert!(
        s.get("note").is_some_and(Value::is_null),
        "a nullable null is kept"
    );
    assert_eq!(s["replicas"], 1);

    let mut numeric = created.clone();
    numeric.data["spec"]["port"] = json!(8080);
    assert_eq!(
        sites.update(&numeric).await.unwrap().data["spec"]["port"],
        8080
    );

    let mut bad = sites.get("kubia").await.unwrap();
    bad.data["spec"]["port"] = json!(true);
    let e = sites.update(&bad).await.unwrap_err();
    has_cause(
        &e,
        "spec.port",
        "FieldValueTypeInvalid",
        "Invalid value: \"boolean\": spec.port in body must be of type int-or-string: \"boolean\"",
    );
}

#[tokio::test]
async fn updates_and_patches_are_validated() {
    let (server, _c, sites) = serve(&website_crd()).await;
    let created = sites.create(&site(seed_spec())).await.unwrap();

    let mut zero = created.clone();
    zero.data["spec"]["replicas"] = json!(0);
    let e = sites.update(&zero).await.unwrap_err();
    has_cause(
        &e,
        "spec.replicas",
        "FieldValueInvalid",
        "Invalid value: 0: spec.replicas in body should be greater than or equal to 1",
    );

    let e = sites
        .patch(
            "kubia",
            PatchType::Merge,
            &json!({"spec": {"tier": "pink"}}),
        )
        .await
        .unwrap_err();
    has_cause(
        &e,
        "spec.tier",
        "FieldValueNotSupported",
        "Unsupported value: \"pink\": supported values: \"frontend\", \"backend\"",
    );

    let e = sites
        .patch(
            "kubia",
            PatchType::Json,
            &json!([{"op": "remove", "path": "/spec/gitRepo"}]),
        )
        .await
        .unwrap_err();
    has_cause(&e, "spec.gitRepo", "FieldValueRequired", "Required value");

    // Removing a defaulted field defaults it again; an unknown field in a
    // patch is pruned with a warning, or refused with Strict.
    let patched = sites
        .patch(
            "kubia",
            PatchType::Json,
            &json!([{"op": "remove", "path": "/spec/tier"}]),
        )
        .await
        .unwrap();
    assert_eq!(patched.data["spec"]["tier"], "frontend");
    let t = Target {
        name: "kubia".into(),
        ..target()
    };
    let patch = serde_json::to_vec(&json!({"spec": {"colour": "blue", "replicas": 3}})).unwrap();
    let e = server
        .patch(&t, PatchType::Merge, &patch, &opts(FieldValidation::Strict))
        .await
        .unwrap_err();
    assert_eq!(e.code(), 400);
    assert!(
        e.to_string().contains("unknown field \"spec.colour\""),
        "{e}"
    );
    let w = server
        .patch(&t, PatchType::Merge, &patch, &opts(FieldValidation::Warn))
        .await
        .unwrap();
    assert_eq!(w.warnings, ["unknown field \"spec.colour\""]);
    let d = w.object.downcast_ref::<DynamicObject>().unwrap();
    assert_eq!(d.data["spec"]["replicas"], 3);
    assert!(d.data["spec"].get("colour").is_none());

    // Defaults do not move the generation by themselves: removing tier
    // (defaulted back) changed nothing, the replicas patch once.
    assert_eq!(d.metadata.generation, created.metadata.generation + 1);
}

#[tokio::test]
async fn status_is_validated_on_status_updates_only() {
    let (_s, _c, sites) = serve(&website_crd()).await;
    let created = sites.create(&site(seed_spec())).await.unwrap();

    // An invalid status on the main resource is ignored (not validated,
    // not written).
    let mut main = created.clone();
    main.data.insert("status".into(), json!({"ready": "yes"}));
    main.data["spec"]["replicas"] = json!(2);
    let updated = sites.update(&main).await.unwrap();
    assert!(updated.data.get("status").is_none());
    assert_eq!(updated.data["spec"]["replicas"], 2);

    // The status subresource validates status against properties.status.
    let mut status = updated.clone();
    status
        .data
        .insert("status".into(), json!({"ready": "yes", "replicas": -1}));
    let e = sites.update_status(&status).await.unwrap_err();
    let all = causes(&e);
    assert_eq!(all.len(), 2, "{all:?}");
    has_cause(
        &e,
        "status.ready",
        "FieldValueTypeInvalid",
        "Invalid value: \"string\": status.ready in body must be of type boolean: \"string\"",
    );
    has_cause(
        &e,
        "status.replicas",
        "FieldValueInvalid",
        "Invalid value: -1: status.replicas in body should be greater than or equal to 0",
    );

    status.data.insert(
        "status".into(),
        json!({"ready": true, "replicas": 2, "unknown": 1}),
    );
    let written = sites.update_status(&status).await.unwrap();
    assert_eq!(
        written.data["status"],
        json!({"ready": true, "replicas": 2})
    );
    assert_eq!(written.metadata.generation, updated.metadata.generation);

    let e = sites
        .patch_status(
            "kubia",
            PatchType::Merge,
            &json!({"status": {"replicas": "two"}}),
        )
        .await
        .unwrap_err();
    has_cause(
        &e,
        "status.replicas",
        "FieldValueTypeInvalid",
        "Invalid value: \"string\": status.replicas in body must be of type integer: \"string\"",
    );
}

#[tokio::test]
async fn scale_updates_are_validated_against_the_schema() {
    let (_s, _c, sites) = serve(&website_crd()).await;
    sites.create(&site(seed_spec())).await.unwrap();
    let mut scale = sites.get_scale("kubia").await.unwrap();
    assert_eq!(scale.spec.replicas, 1, "the defaulted replicas");
    scale.spec.replicas = 11;
    let e = sites.replace_scale("kubia", &scale).await.unwrap_err();
    has_cause(
        &e,
        "spec.replicas",
        "FieldValueInvalid",
        "Invalid value: 11: spec.replicas in body should be less than or equal to 10",
    );
    scale.spec.replicas = 5;
    sites.replace_scale("kubia", &scale).await.unwrap();
    assert_eq!(
        sites.get("kubia").await.unwrap().data["spec"]["replicas"],
        5
    );
}
