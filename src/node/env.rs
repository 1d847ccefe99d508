//! Container environment: `env`, `envFrom`, the downward API, and `$(VAR)`
//! expansion.
use std::collections::HashMap;

use crate::api::core::{ConfigMap, Container, Pod, ResourceFieldSelector, Secret};
use crate::api::quantity::{Quantity, ResourceList};
use crate::client::{Api, Client};
use std::sync::Arc;

/// What a pod's environment is resolved against, besides the pod.
pub(crate) struct PodContext<'a> {
    pub(crate) pod: &'a Pod,
    pub(crate) pod_ip: &'a str,
    pub(crate) host_ip: &'a str,
    pub(crate) allocatable: &'a ResourceList,
}

/// Expands `$(VAR)` references with `vars`; `$$` is a literal `$`, and
/// references to unknown variables stay as written.
///
/// ```text
/// expand("$(A)-$$(A)-$(B)", {A: x}) == "x-$(A)-$(B)"
/// ```
pub(crate) fn expand(input: &str, vars: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(') {
            match inner.find(')') {
                Some(end) => {
                    let name = &inner[..end];
                    match vars.get(name) {
                        Some(v) => out.push_str(v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &inner[end + 1..];
                }
                None => {
                    out.push_str(&rest[i..]);
                    rest = "";
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// A downward API field of the pod (`metadata.name`,
/// `metadata.labels['k']`, `status.podIP`, …).
pub(crate) fn field_value(ctx: &PodContext<'_>, path: &str) -> Result<String, String> {
    let pod = ctx.pod;
    let m = &pod.metadata;
    let keyed = |prefix: &str| -> Option<String> {
        path.strip_prefix(prefix)?
            .strip_prefix("['")?
            .strip_suffix("']")
            .map(str::to_string)
    };
    if let Some(k) = keyed("metadata.labels") {
        return Ok(m.labels.get_str(&k).unwrap_or_default().to_string());
    }
    if let Some(k) = keyed("metadata.annotations") {
        return Ok(m.annotations.get_str(&k).unwrap_or_default().to_string());
    }
    let pairs = |map: &crate::api::StringMap| {
        map.iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok(match path {
        "metadata.name" => m.name.to_string(),
        "metadata.namespace" => m.namespace.to_string(),
        "metadata.uid" => m.uid.to_string(),
        "metadata.labels" => pairs(&m.labels),
        "metadata.annotations" => pairs(&m.annotations),
        "spec.nodeName" => pod.spec.node_name.to_string(),
        "spec.serviceAccountName" => pod.spec.service_account_name.to_string(),
        "status.podIP" | "status.podIPs" => ctx.pod_ip.to_string(),
        "status.hostIP" | "status.hostIPs" => ctx.host_ip.to_string(),
        _ => return Err(format!("unsupported fieldPath {path:?}")),
    })
}

/// A `resourceFieldRef` value, divided by its divisor and rounded up.
pub(crate) fn resource_value(
    ctx: &PodContext<'_>,
    container: &Container,
    sel: &ResourceFieldSelector,
) -> Result<String, String> {
    let c = if sel.container_name.is_empty() {
        container
    } else {
        ctx.pod
            .spec
            .containers
            .iter()
            .chain(&ctx.pod.spec.init_containers)
            .find(|c| c.name == sel.container_name)
            .ok_or_else(|| format!("container {:?} not found", sel.container_name))?
    };
    let (kind, name) = sel
        .resource
        .split_once('.')
        .ok_or_else(|| format!("unsupported resource {:?}", sel.resource))?;
    let q = match kind {
        "limits" => c
            .resources
            .limits
            .get(name)
            .or_else(|| ctx.allocatable.get(name)),
        "requests" => c.resources.requests.get(name),
        _ => return Err(format!("unsupported resource {:?}", sel.resource)),
    };
    let Some(q) = q else {
        return Ok("0".to_string());
    };
    let divisor = sel.divisor.clone().unwrap_or_else(|| Quantity::from("1"));
    let value = if name == "cpu" {
        let d = divisor.milli_value().max(1);
        let v = q.milli_value();
        (v + d - 1).div_euclid(d)
    } else {
        let d = divisor.value().max(1);
        let v = q.value();
        (v + d - 1).div_euclid(d)
    };
    Ok(value.to_string())
}

/// Resolves a container's environment, in order: `envFrom` (with
/// prefixes), then `env` (each value expanded with the variables before
/// it). A missing required configMap, secret or key is an error message
/// (the kubelet's `CreateContainerConfigError`).
pub(crate) async fn resolve(
    client: &Arc<dyn Client>,
    ctx: &PodContext<'_>,
    container: &Container,
) -> Result<Vec<(String, String)>, String> {
    let ns = ctx.pod.metadata.namespace.as_str();
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let mut cms: HashMap<String, Option<ConfigMap>> = HashMap::new();
    let mut secs: HashMap<String, Option<Secret>> = HashMap::new();
    async fn get_cm<'m>(
        api: &Api<ConfigMap>,
        cache: &'m mut HashMap<String, Option<ConfigMap>>,
        name: &str,
    ) -> Result<&'m Option<ConfigMap>, String> {
        if !cache.contains_key(name) {
            let got = api.get_opt(name).await.map_err(|e| e.to_string())?;
            cache.insert(name.to_string(), got);
        }
        Ok(&cache[name])
    }
    async fn get_secret<'m>(
        api: &Api<Secret>,
        cache: &'m mut HashMap<String, Option<Secret>>,
        name: &str,
    ) -> Result<&'m Option<Secret>, String> {
        if !cache.contains_key(name) {
            let got = api.get_opt(name).await.map_err(|e| e.to_string())?;
            cache.insert(name.to_string(), got);
        }
        Ok(&cache[name])
    }

    let mut order: Vec<String> = Vec::new();
    let mut vars: HashMap<String, String> = HashMap::new();
    let set =
        |order: &mut Vec<String>, vars: &mut HashMap<String, String>, k: String, v: String| {
            if vars.insert(k.clone(), v).is_none() {
                order.push(k);
            }
        };
    for from in &container.env_from {
        if let Some(r) = &from.config_map_ref {
            match get_cm(&configmaps, &mut cms, &r.name).await? {
                Some(cm) => {
                    for (k, v) in &cm.data {
                        set(
                            &mut order,
                            &mut vars,
                            format!("{}{k}", from.prefix),
                            v.to_string(),
                        );
                    }
                }
                None if r.optional == Some(true) => {}
                None => return Err(format!("configmap {:?} not found", r.name)),
            }
        }
        if let Some(r) = &from.secret_ref {
            match get_secret(&secrets, &mut secs, &r.name).await? {
                Some(s) => {
                    for (k, _) in &s.data {
                        let v = s.decoded(k).map_err(|e| e.to_string())?;
                        set(
                            &mut order,
                            &mut vars,
                            format!("{}{k}", from.prefix),
                            String::from_utf8_lossy(&v).into_owned(),
                        );
                    }
                }
                None if r.optional == Some(true) => {}
                None => return Err(format!("secret {:?} not found", r.name)),
            }
        }
    }
    for e in &container.env {
        let value = match &e.value_from {
            None => Some(expand(&e.value, &vars)),
            Some(src) => {
                if let Some(f) = &src.field_ref {
                    Some(field_value(ctx, &f.field_path)?)
                } else if let Some(r) = &src.resource_field_ref {
                    Some(resource_value(ctx, container, r)?)
                } else if let Some(r) = &src.config_map_key_ref {
                    let optional = r.optional == Some(true);
                    match get_cm(&configmaps, &mut cms, &r.name).await? {
                        Some(cm) => match cm.data.get_str(&r.key) {
                            Some(v) => Some(v.to_string()),
                            None if optional => None,
                            None => {
                                return Err(format!(
                                    "couldn't find key {} in ConfigMap {}/{}",
                                    r.key, ns, r.name
                                ))
                            }
                        },
                        None if optional => None,
                        None => return Err(format!("configmap {:?} not found", r.name)),
                    }
                } else if let Some(r) = &src.secret_key_ref {
                    let optional = r.optional == Some(true);
                    match get_secret(&secrets, &mut secs, &r.name).await? {
                        Some(s) => match s.decoded(&r.key) {
                            Ok(v) => Some(String::from_utf8_lossy(&v).into_owned()),
                            Err(_) if optional => None,
                            Err(_) => {
                                return Err(format!(
                                    "couldn't find key {} in Secret {}/{}",
                                    r.key, ns, r.name
                                ))
                            }
                        },
                        None if optional => None,
                        None => return Err(format!("secret {:?} not found", r.name)),
                    }
                } else {
                    None
                }
            }
        };
        if let Some(v) = value {
            set(&mut order, &mut vars, e.name.to_string(), v);
        }
    }
    Ok(order
        .into_iter()
        .map(|k| {
            let v = vars.get(&k).cloned().unwrap_or_default();
            (k, v)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_follows_kubernetes() {
        let vars: HashMap<String, String> =
            [("A".to_string(), "x".to_string())].into_iter().collect();
        assert_eq!(expand("$(A)-$$(A)-$(B)", &vars), "x-$(A)-$(B)");
        assert_eq!(expand("$A $( $", &vars), "$A $( $");
        assert_eq!(expand("a$$b", &vars), "a$b");
        assert_eq!(expand("", &vars), "");
    }
}
