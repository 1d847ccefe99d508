//! Discovery documents (`/version`, `/api`, `/apis`, resource lists) and
//! the OpenAPI v3 index kubectl reads to learn that the server validates
//! fields itself.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::api::scheme::KindInfo;
use crate::apiserver::ApiServer;

/// The Kubernetes version the server reports.
pub const KUBERNETES_VERSION: (&str, &str) = ("1", "32");

/// `/version`.
pub(crate) fn version() -> Value {
    json!({
        "major": KUBERNETES_VERSION.0,
        "minor": KUBERNETES_VERSION.1,
        "gitVersion": format!("v{}.{}.0-keelson.{}", KUBERNETES_VERSION.0, KUBERNETES_VERSION.1, env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "none (keelson, Rust)",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    })
}

/// The served group-versions, in registration order: `(group, [versions])`.
fn groups(server: &ApiServer) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for k in server.kinds() {
        let r = &k.resource;
        let g = r.group.to_string();
        let v = r.version.to_string();
        match out.iter_mut().find(|(name, _)| *name == g) {
            Some((_, versions)) => {
                if !versions.contains(&v) {
                    versions.push(v);
                }
            }
            None => out.push((g, vec![v])),
        }
    }
    for (_, versions) in &mut out {
        versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
    }
    out
}

/// Kubernetes' version ordering: GA above beta above alpha, higher numbers
/// first.
fn version_priority(v: &str) -> (u8, u32, u32) {
    let Some(rest) = v.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let major: u32 = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    let (level, n) = if tail.is_empty() {
        (3, 0)
    } else if let Some(n) = tail.strip_prefix("beta") {
        (2, n.parse().unwrap_or(0))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n.parse().unwrap_or(0))
    } else {
        (0, 0)
    };
    (level, major, n)
}

/// `/api`.
pub(crate) fn core_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
    })
}

fn group_doc(name: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    json!({
        "name": name,
        "versions": vs,
        "preferredVersion": vs.first().cloned().unwrap_or(Value::Null),
    })
}

/// `/apis`.
pub(crate) fn group_list(server: &ApiServer) -> Value {
    let groups: Vec<Value> = groups(server)
        .iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, vs)| group_doc(g, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/{group}`, or `None` when the group is not served.
pub(crate) fn group(server: &ApiServer, name: &str) -> Option<Value> {
    let (g, vs) = groups(server).into_iter().find(|(g, _)| g == name)?;
    if g.is_empty() {
        return None;
    }
    let mut doc = group_doc(&g, &vs);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

const OBJECT_VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn subresource_verbs(sub: &str) -> &'static [&'static str] {
    match sub {
        "binding" | "eviction" => &["create"],
        "finalize" => &["update"],
        _ => &["get", "patch", "update"],
    }
}

fn kinds_of(server: &ApiServer, group: &str, version: &str) -> Vec<std::sync::Arc<KindInfo>> {
    server
        .kinds()
        .into_iter()
        .filter(|k| k.resource.group == group && k.resource.version == version)
        .collect()
}

/// `/api/v1` or `/apis/{group}/{version}`, or `None` when not served.
pub(crate) fn resource_list(server: &ApiServer, group: &str, version: &str) -> Option<Value> {
    let kinds = kinds_of(server, group, version);
    if kinds.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for k in &kinds {
        let r = &k.resource;
        let namespaced = r.scope.is_namespaced();
        let mut doc = json!({
            "name": r.plural.as_str(),
            "singularName": r.singular.as_str(),
            "namespaced": namespaced,
            "kind": r.kind.as_str(),
            "verbs": OBJECT_VERBS,
        });
        if !r.short_names.is_empty() {
            doc["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            doc["categories"] = json!(r.categories);
        }
        resources.push(doc);
        for sub in &r.subresources {
            let kind = match sub.as_str() {
                "scale" => "Scale",
                "binding" => "Binding",
                "eviction" => "Eviction",
                _ => r.kind.as_str(),
            };
            let mut d = json!({
                "name": format!("{}/{}", r.plural, sub),
                "singularName": "",
                "namespaced": namespaced,
                "kind": kind,
                "verbs": subresource_verbs(sub),
            });
            match sub.as_str() {
                "scale" => {
                    d["group"] = json!("autoscaling");
                    d["version"] = json!("v1");
                }
                "eviction" => {
                    d["group"] = json!("policy");
                    d["version"] = json!("v1");
                }
                _ => {}
            }
            resources.push(d);
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }))
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: one entry per served group-version.
pub(crate) fn openapi_root(server: &ApiServer) -> Value {
    let mut paths = BTreeMap::new();
    for (g, vs) in groups(server) {
        for v in vs {
            let p = gv_path(&g, &v);
            let url = format!("/openapi/v3/{p}?hash={}", server.kinds().len());
            paths.insert(p, json!({"serverRelativeURL": url}));
        }
    }
    json!({"paths": paths})
}

/// `/openapi/v3/{gv}`: the operations per path, each tagged with its
/// group-version-kind and declaring the query parameters the server honours
/// (`fieldValidation` among them, which is what kubectl checks before it
/// leaves validation to the server).
pub(crate) fn openapi_doc(server: &ApiServer, group: &str, version: &str) -> Option<Value> {
    let kinds = kinds_of(server, group, version);
    if kinds.is_empty() {
        return None;
    }
    let param = |name: &str| json!({"name": name, "in": "query", "schema": {"type": "string"}});
    let write_params = json!([
        param("dryRun"),
        param("fieldManager"),
        param("fieldValidation"),
        param("pretty")
    ]);
    let mut paths = serde_json::Map::new();
    for k in &kinds {
        let r = &k.resource;
        let gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
        let op = |verb: &str| {
            json!({
                "operationId": format!("{verb}{}", r.kind),
                "parameters": write_params,
                "x-kubernetes-action": verb,
                "x-kubernetes-group-version-kind": gvk,
                "responses": {"200": {"description": "OK"}},
            })
        };
        let base = format!("/{}", gv_path(group, version));
        let (collection, item) = if r.scope.is_namespaced() {
            (
                format!("{base}/namespaces/{{namespace}}/{}", r.plural),
                format!("{base}/namespaces/{{namespace}}/{}/{{name}}", r.plural),
            )
        } else {
            (
                format!("{base}/{}", r.plural),
                format!("{base}/{}/{{name}}", r.plural),
            )
        };
        paths.insert(
            collection,
            json!({"get": op("list"), "post": op("post"), "delete": op("deletecollection")}),
        );
        paths.insert(
            item,
            json!({"get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete")}),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (keelson)", "version": format!("v{}.{}", KUBERNETES_VERSION.0, KUBERNETES_VERSION.1)},
        "paths": paths,
        // No component schemas: kubectl then computes strategic merge
        // patches of built-in kinds from its compiled-in types.
        "components": {"schemas": {}},
    }))
}

/// `/openapi/v2` as kubectl asks for it (protobuf, `openapi_v2.Document`):
/// an empty Swagger 2.0 document. kubectl falls back to it only for kinds
/// the v3 documents do not name, and an empty document lets its request go
/// on to the server, which answers with the real error ("no matches for
/// kind ...").
pub(crate) fn openapi_v2_protobuf() -> Vec<u8> {
    // An empty message: every field at its default.
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::version_priority;

    #[test]
    fn version_order() {
        let mut v = vec!["v1beta1", "v2", "v1", "v1alpha1", "v2beta2"];
        v.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        assert_eq!(v, ["v2", "v1", "v2beta2", "v1beta1", "v1alpha1"]);
    }
}
