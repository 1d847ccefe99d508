//! `Table` responses (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`),
//! which is what `kubectl get` asks for.
//!
//! A table has column definitions and one row per object: the cells as
//! kubectl prints them and the object's metadata (a
//! `PartialObjectMetadata`, so `--show-labels` and `-A` work). Columns with
//! `priority` above 0 are the ones `-o wide` adds. The columns of each
//! built-in kind follow Kubernetes' own printers (pods: NAME, READY,
//! STATUS, RESTARTS, AGE, and IP, NODE, NOMINATED NODE, READINESS GATES
//! wide; deployments: NAME, READY, UP-TO-DATE, AVAILABLE, AGE, and
//! CONTAINERS, IMAGES, SELECTOR wide; ...). Custom resources get their
//! CRD's `additionalPrinterColumns` (simple JSONPaths such as
//! `.spec.replicas` or `.status.conditions[0].type`) after NAME, else
//! NAME and AGE. Cells are computed from the objects' JSON, so the same code
//! serves every kind.

use serde_json::{json, Map, Value};

use crate::api::apiextensions::CustomResourceColumnDefinition;
use crate::api::Time;

/// True when an `Accept` header asks for a `meta.k8s.io` Table.
pub(crate) fn wants_table(accept: &str) -> bool {
    accept.split(',').any(|part| {
        let mut params = part.split(';').map(str::trim);
        let media = params.next().unwrap_or("");
        let mut as_table = false;
        let mut group_ok = true;
        for p in params {
            match p.split_once('=') {
                Some(("as", v)) => as_table = v == "Table",
                Some(("g", g)) => group_ok = g == "meta.k8s.io",
                _ => {}
            }
        }
        media == "application/json" && as_table && group_ok
    })
}

/// A column: (name, type, priority, description).
struct Column {
    name: String,
    ty: &'static str,
    format: &'static str,
    priority: i32,
    description: String,
}

fn col(name: &str, priority: i32) -> Column {
    let (ty, format) = match name {
        "Name" => ("string", "name"),
        "Restarts"
        | "Data"
        | "Secrets"
        | "Desired"
        | "Current"
        | "Allowed Disruptions"
        | "Value"
        | "Revision" => ("integer", ""),
        "Global-Default" | "AllowVolumeExpansion" => ("boolean", ""),
        "Created At" => ("date", ""),
        _ => ("string", ""),
    };
    Column {
        name: name.into(),
        ty,
        format,
        priority,
        description: String::new(),
    }
}

/// How the rows of one resource are printed.
pub(crate) struct Printer {
    columns: Vec<Column>,
    kind: Kind,
}

enum Kind {
    Builtin(&'static str),
    Custom(Vec<CustomResourceColumnDefinition>),
}

impl Printer {
    /// The printer of a built-in resource (by group and plural); `None`
    /// for resources printed as NAME and AGE.
    pub(crate) fn builtin(group: &str, plural: &str) -> Printer {
        let spec: (&'static str, &[(&str, i32)]) = match (group, plural) {
            ("", "pods") => (
                "pods",
                &[
                    ("Name", 0),
                    ("Ready", 0),
                    ("Status", 0),
                    ("Restarts", 0),
                    ("Age", 0),
                    ("IP", 1),
                    ("Node", 1),
                    ("Nominated Node", 1),
                    ("Readiness Gates", 1),
                ],
            ),
            ("apps", "deployments") => (
                "deployments",
                &[
                    ("Name", 0),
                    ("Ready", 0),
                    ("Up-to-date", 0),
                    ("Available", 0),
                    ("Age", 0),
                    ("Containers", 1),
                    ("Images", 1),
                    ("Selector", 1),
                ],
            ),
            ("apps", "replicasets") => (
                "replicasets",
                &[
                    ("Name", 0),
                    ("Desired", 0),
                    ("Current", 0),
                    ("Ready", 0),
                    ("Age", 0),
                    ("Containers", 1),
                    ("Images", 1),
                    ("Selector", 1),
                ],
            ),
            ("", "replicationcontrollers") => (
                "replicasets",
                &[
                    ("Name", 0),
                    ("Desired", 0),
                    ("Current", 0),
                    ("Ready", 0),
                    ("Age", 0),
                    ("Containers", 1),
                    ("Images", 1),
                    ("Selector", 1),
                ],
            ),
            ("apps", "daemonsets") => (
                "daemonsets",
                &[
                    ("Name", 0),
                    ("Desired", 0),
                    ("Current", 0),
                    ("Ready", 0),
                    ("Up-to-date", 0),
                    ("Available", 0),
                    ("Node Selector", 0),
                    ("Age", 0),
                    ("Containers", 1),
                    ("Images", 1),
                    ("Selector", 1),
                ],
            ),
            ("apps", "statefulsets") => (
                "statefulsets",
                &[
                    ("Name", 0),
                    ("Ready", 0),
                    ("Age", 0),
                    ("Containers", 1),
                    ("Images", 1),
                ],
            ),
            ("batch", "jobs") => (
                "jobs",
                &[
                    ("Name", 0),
                    ("Status", 0),
                    ("Completions", 0),
                    ("Duration", 0),
                    ("Age", 0),
                    ("Containers", 1),
                    ("Images", 1),
                    ("Selector", 1),
                ],
            ),
            ("batch", "cronjobs") => (
                "cronjobs",
                &[
                    ("Name", 0),
                    ("Schedule", 0),
                    ("Timezone", 0),
                    ("Suspend", 0),
                    ("Active", 0),
                    ("Last Schedule", 0),
                    ("Age", 0),
                    ("Containers", 1),
                    ("Images", 1),
                    ("Selector", 1),
                ],
            ),
            ("", "services") => (
                "services",
                &[
                    ("Name", 0),
                    ("Type", 0),
                    ("Cluster-IP", 0),
                    ("External-IP", 0),
                    ("Port(s)", 0),
                    ("Age", 0),
                    ("Selector", 1),
                ],
            ),
            ("", "nodes") => (
                "nodes",
                &[
                    ("Name", 0),
                    ("Status", 0),
                    ("Roles", 0),
                    ("Age", 0),
                    ("Version", 0),
                    ("Internal-IP", 1),
                    ("External-IP", 1),
                    ("OS-Image", 1),
                    ("Kernel-Version", 1),
                    ("Container-Runtime", 1),
                ],
            ),
            ("", "namespaces") => ("namespaces", &[("Name", 0), ("Status", 0), ("Age", 0)]),
            ("", "configmaps") => ("configmaps", &[("Name", 0), ("Data", 0), ("Age", 0)]),
            ("", "secrets") => (
                "secrets",
                &[("Name", 0), ("Type", 0), ("Data", 0), ("Age", 0)],
            ),
            ("", "serviceaccounts") => (
                "serviceaccounts",
                &[("Name", 0), ("Secrets", 0), ("Age", 0)],
            ),
            ("", "endpoints") => ("endpoints", &[("Name", 0), ("Endpoints", 0), ("Age", 0)]),
            ("", "persistentvolumeclaims") => (
                "persistentvolumeclaims",
                &[
                    ("Name", 0),
                    ("Status", 0),
                    ("Volume", 0),
                    ("Capacity", 0),
                    ("Access Modes", 0),
                    ("StorageClass", 0),
                    ("Age", 0),
                ],
            ),
            ("", "persistentvolumes") => (
                "persistentvolumes",
                &[
                    ("Name", 0),
                    ("Capacity", 0),
                    ("Access Modes", 0),
                    ("Reclaim Policy", 0),
                    ("Status", 0),
                    ("Claim", 0),
                    ("StorageClass", 0),
                    ("Age", 0),
                ],
            ),
            ("", "events") | ("events.k8s.io", "events") => (
                "events",
                &[
                    ("Last Seen", 0),
                    ("Type", 0),
                    ("Reason", 0),
                    ("Object", 0),
                    ("Message", 0),
                ],
            ),
            ("autoscaling", "horizontalpodautoscalers") => (
                "horizontalpodautoscalers",
                &[
                    ("Name", 0),
                    ("Reference", 0),
                    ("MinPods", 0),
                    ("MaxPods", 0),
                    ("Replicas", 0),
                    ("Age", 0),
                ],
            ),
            ("networking.k8s.io", "ingresses") => (
                "ingresses",
                &[
                    ("Name", 0),
                    ("Class", 0),
                    ("Hosts", 0),
                    ("Address", 0),
                    ("Ports", 0),
                    ("Age", 0),
                ],
            ),
            ("policy", "poddisruptionbudgets") => (
                "poddisruptionbudgets",
                &[
                    ("Name", 0),
                    ("Min Available", 0),
                    ("Max Unavailable", 0),
                    ("Allowed Disruptions", 0),
                    ("Age", 0),
                ],
            ),
            ("", "resourcequotas") => (
                "resourcequotas",
                &[("Name", 0), ("Age", 0), ("Request", 0), ("Limit", 0)],
            ),
            ("scheduling.k8s.io", "priorityclasses") => (
                "priorityclasses",
                &[
                    ("Name", 0),
                    ("Value", 0),
                    ("Global-Default", 0),
                    ("Age", 0),
                    ("PreemptionPolicy", 0),
                ],
            ),
            ("rbac.authorization.k8s.io", "roles" | "clusterroles")
            | ("", "limitranges")
            | ("apiextensions.k8s.io", "customresourcedefinitions") => {
                ("created", &[("Name", 0), ("Created At", 0)])
            }
            ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => (
                "bindings",
                &[
                    ("Name", 0),
                    ("Role", 0),
                    ("Age", 0),
                    ("Users", 1),
                    ("Groups", 1),
                    ("ServiceAccounts", 1),
                ],
            ),
            ("storage.k8s.io", "storageclasses") => (
                "storageclasses",
                &[
                    ("Name", 0),
                    ("Provisioner", 0),
                    ("ReclaimPolicy", 0),
                    ("VolumeBindingMode", 0),
                    ("AllowVolumeExpansion", 0),
                    ("Age", 0),
                ],
            ),
            ("coordination.k8s.io", "leases") => {
                ("leases", &[("Name", 0), ("Holder", 0), ("Age", 0)])
            }
            ("networking.k8s.io", "networkpolicies") => (
                "networkpolicies",
                &[("Name", 0), ("Pod-Selector", 0), ("Age", 0)],
            ),
            ("networking.k8s.io", "ingressclasses") => (
                "ingressclasses",
                &[
                    ("Name", 0),
                    ("Controller", 0),
                    ("Parameters", 0),
                    ("Age", 0),
                ],
            ),
            ("discovery.k8s.io", "endpointslices") => (
                "endpointslices",
                &[
                    ("Name", 0),
                    ("AddressType", 0),
                    ("Ports", 0),
                    ("Endpoints", 0),
                    ("Age", 0),
                ],
            ),
            ("apps", "controllerrevisions") => (
                "controllerrevisions",
                &[("Name", 0), ("Controller", 0), ("Revision", 0), ("Age", 0)],
            ),
            _ => ("", &[("Name", 0), ("Age", 0)]),
        };
        Printer {
            columns: spec.1.iter().map(|(n, p)| col(n, *p)).collect(),
            kind: Kind::Builtin(spec.0),
        }
    }

    /// The printer of a custom resource: NAME, the CRD's printer columns,
    /// and AGE when the CRD declares none of its own.
    pub(crate) fn custom(columns: Vec<CustomResourceColumnDefinition>) -> Printer {
        if columns.is_empty() {
            return Printer::builtin("", "");
        }
        let mut defs = vec![col("Name", 0)];
        for c in &columns {
            defs.push(Column {
                name: c.name.to_string(),
                ty: match c.r#type.as_str() {
                    "integer" => "integer",
                    "number" => "number",
                    "boolean" => "boolean",
                    "date" => "date",
                    _ => "string",
                },
                format: "",
                priority: c.priority,
                description: c.description.to_string(),
            });
        }
        Printer {
            columns: defs,
            kind: Kind::Custom(columns),
        }
    }

    /// A `Table` of the objects (their JSON), with the list's metadata.
    pub(crate) fn table(
        &self,
        objects: &[Value],
        list_meta: Map<String, Value>,
        now: Time,
    ) -> Value {
        let columns: Vec<Value> = self
            .columns
            .iter()
            .map(|c| {
                json!({
                    "name": c.name, "type": c.ty, "format": c.format,
                    "description": c.description, "priority": c.priority,
                })
            })
            .collect();
        let rows: Vec<Value> = objects.iter().map(|o| self.row(o, now)).collect();
        json!({
            "kind": "Table",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": list_meta,
            "columnDefinitions": columns,
            "rows": rows,
        })
    }

    fn row(&self, o: &Value, now: Time) -> Value {
        let cells: Vec<Value> = match &self.kind {
            Kind::Builtin(kind) => self
                .columns
                .iter()
                .map(|c| cell(kind, &c.name, o, now))
                .collect(),
            Kind::Custom(defs) => {
                let mut cells = vec![o["metadata"]["name"].clone()];
                for d in defs {
                    let v = json_path(o, &d.json_path).cloned().unwrap_or(Value::Null);
                    cells.push(match (d.r#type.as_str(), &v) {
                        ("date", Value::String(s)) => Value::String(age(s, now)),
                        _ => v,
                    });
                }
                cells
            }
        };
        json!({
            "cells": cells,
            "object": {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": o.get("metadata").cloned().unwrap_or_else(|| json!({})),
            },
        })
    }
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn none_if_empty(text: String) -> Value {
    Value::String(if text.is_empty() {
        "<none>".into()
    } else {
        text
    })
}

/// The pod template's containers (`spec.template.spec.containers`).
fn template_containers(o: &Value) -> &[Value] {
    let spec = if o["spec"]["jobTemplate"].is_object() {
        &o["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    } else {
        &o["spec"]["template"]["spec"]
    };
    spec["containers"].as_array().map_or(&[], Vec::as_slice)
}

fn join(items: &[Value], field: &str) -> String {
    items
        .iter()
        .map(|c| s(&c[field]))
        .collect::<Vec<_>>()
        .join(",")
}

fn selector(sel: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    let labels = if sel["matchLabels"].is_object() || sel["matchExpressions"].is_array() {
        &sel["matchLabels"]
    } else {
        sel
    };
    if let Some(m) = labels.as_object() {
        parts.extend(m.iter().map(|(k, v)| format!("{k}={}", s(v))));
    }
    if let Some(exprs) = sel["matchExpressions"].as_array() {
        for e in exprs {
            let values: Vec<&str> = e["values"]
                .as_array()
                .map(|v| v.iter().map(s).collect())
                .unwrap_or_default();
            let key = s(&e["key"]);
            parts.push(match s(&e["operator"]) {
                "In" => format!("{key} in ({})", values.join(",")),
                "NotIn" => format!("{key} notin ({})", values.join(",")),
                "Exists" => key.to_string(),
                "DoesNotExist" => format!("!{key}"),
                op => format!("{key} {op}"),
            });
        }
    }
    parts.join(",")
}

fn cell(kind: &str, column: &str, o: &Value, now: Time) -> Value {
    let meta = &o["metadata"];
    let spec = &o["spec"];
    let status = &o["status"];
    match (kind, column) {
        (_, "Name") => meta["name"].clone(),
        (_, "Age") => Value::String(age(s(&meta["creationTimestamp"]), now)),
        (_, "Containers") => none_if_empty(join(template_containers(o), "name")),
        (_, "Images") => none_if_empty(join(template_containers(o), "image")),
        (_, "Selector") if kind == "services" => none_if_empty(selector(&spec["selector"])),
        (_, "Selector") if kind == "jobs" || kind == "cronjobs" => {
            let sel = if kind == "cronjobs" {
                &spec["jobTemplate"]["spec"]["selector"]
            } else {
                &spec["selector"]
            };
            none_if_empty(selector(sel))
        }
        (_, "Selector") => none_if_empty(selector(&spec["selector"])),
        ("pods", "Ready") => {
            let total = spec["containers"].as_array().map_or(0, Vec::len);
            let ready = status["containerStatuses"]
                .as_array()
                .map_or(0, |c| c.iter().filter(|c| c["ready"] == true).count());
            Value::String(format!("{ready}/{total}"))
        }
        ("pods", "Status") => Value::String(pod_status(o)),
        ("pods", "Restarts") => {
            Value::from(status["containerStatuses"].as_array().map_or(0, |c| {
                c.iter().map(|c| int(&c["restartCount"])).sum::<i64>()
            }))
        }
        ("pods", "IP") => none_if_empty(s(&status["podIP"]).into()),
        ("pods", "Node") => none_if_empty(s(&spec["nodeName"]).into()),
        ("pods", "Nominated Node") => none_if_empty(s(&status["nominatedNodeName"]).into()),
        ("pods", "Readiness Gates") => {
            let gates = spec["readinessGates"].as_array().map_or(0, Vec::len);
            if gates == 0 {
                Value::String("<none>".into())
            } else {
                let ready = spec["readinessGates"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|g| {
                        status["conditions"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .any(|c| c["type"] == g["conditionType"] && c["status"] == "True")
                    })
                    .count();
                Value::String(format!("{ready}/{gates}"))
            }
        }
        ("deployments", "Ready") | ("statefulsets", "Ready") => Value::String(format!(
            "{}/{}",
            int(&status["readyReplicas"]),
            spec["replicas"].as_i64().unwrap_or(1)
        )),
        ("deployments", "Up-to-date") => Value::from(int(&status["updatedReplicas"])),
        ("deployments", "Available") => Value::from(int(&status["availableReplicas"])),
        ("replicasets", "Desired") => Value::from(spec["replicas"].as_i64().unwrap_or(1)),
        ("replicasets", "Current") => Value::from(int(&status["replicas"])),
        ("replicasets", "Ready") => Value::from(int(&status["readyReplicas"])),
        ("daemonsets", "Desired") => Value::from(int(&status["desiredNumberScheduled"])),
        ("daemonsets", "Current") => Value::from(int(&status["currentNumberScheduled"])),
        ("daemonsets", "Ready") => Value::from(int(&status["numberReady"])),
        ("daemonsets", "Up-to-date") => Value::from(int(&status["updatedNumberScheduled"])),
        ("daemonsets", "Available") => Value::from(int(&status["numberAvailable"])),
        ("daemonsets", "Node Selector") => {
            none_if_empty(selector(&spec["template"]["spec"]["nodeSelector"]))
        }
        ("jobs", "Status") => Value::String(job_status(status)),
        ("jobs", "Completions") => {
            let succeeded = int(&status["succeeded"]);
            match spec["completions"].as_i64() {
                Some(c) => Value::String(format!("{succeeded}/{c}")),
                None if spec["parallelism"].as_i64().unwrap_or(1) > 1 => {
                    Value::String(format!("{succeeded}/1 of {}", int(&spec["parallelism"])))
                }
                None => Value::String(format!("{succeeded}/1")),
            }
        }
        ("jobs", "Duration") => match (
            s(&status["startTime"]).parse::<Time>(),
            s(&status["completionTime"]).parse::<Time>(),
        ) {
            (Ok(start), Ok(end)) => Value::String(human(end.seconds_since(start))),
            (Ok(start), Err(_)) => Value::String(human(now.seconds_since(start))),
            _ => Value::String(String::new()),
        },
        ("cronjobs", "Schedule") => spec["schedule"].clone(),
        ("cronjobs", "Timezone") => none_if_empty(s(&spec["timeZone"]).into()),
        ("cronjobs", "Suspend") => Value::String(
            if spec["suspend"] == true {
                "True"
            } else {
                "False"
            }
            .into(),
        ),
        ("cronjobs", "Active") => Value::from(status["active"].as_array().map_or(0, Vec::len)),
        ("cronjobs", "Last Schedule") => match s(&status["lastScheduleTime"]) {
            "" => Value::String("<none>".into()),
            t => Value::String(age(t, now)),
        },
        ("services", "Type") => Value::String(
            match s(&spec["type"]) {
                "" => "ClusterIP",
                t => t,
            }
            .into(),
        ),
        ("services", "Cluster-IP") => none_if_empty(s(&spec["clusterIP"]).into()),
        ("services", "External-IP") => Value::String(service_external_ip(o)),
        ("services", "Port(s)") => {
            let ports: Vec<String> = spec["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let protocol = match s(&p["protocol"]) {
                        "" => "TCP",
                        p => p,
                    };
                    match p["nodePort"].as_i64() {
                        Some(n) if n > 0 => format!("{}:{n}/{protocol}", int(&p["port"])),
                        _ => format!("{}/{protocol}", int(&p["port"])),
                    }
                })
                .collect();
            none_if_empty(ports.join(","))
        }
        ("nodes", "Status") => {
            let mut text = status["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == "Ready")
                .map_or("Unknown", |c| {
                    if c["status"] == "True" {
                        "Ready"
                    } else {
                        "NotReady"
                    }
                })
                .to_string();
            if spec["unschedulable"] == true {
                text.push_str(",SchedulingDisabled");
            }
            Value::String(text)
        }
        ("nodes", "Roles") => {
            let roles: Vec<&str> = meta["labels"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
                .collect();
            none_if_empty(roles.join(","))
        }
        ("nodes", "Version") => status["nodeInfo"]["kubeletVersion"].clone(),
        ("nodes", "Internal-IP") | ("nodes", "External-IP") => {
            let want = if column == "Internal-IP" {
                "InternalIP"
            } else {
                "ExternalIP"
            };
            none_if_empty(
                status["addresses"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|a| a["type"] == want)
                    .map_or("", |a| s(&a["address"]))
                    .into(),
            )
        }
        ("nodes", "OS-Image") => status["nodeInfo"]["osImage"].clone(),
        ("nodes", "Kernel-Version") => status["nodeInfo"]["kernelVersion"].clone(),
        ("nodes", "Container-Runtime") => status["nodeInfo"]["containerRuntimeVersion"].clone(),
        ("namespaces", "Status") => Value::String(
            match s(&status["phase"]) {
                "" => "Active",
                p => p,
            }
            .into(),
        ),
        ("configmaps", "Data") => Value::from(
            o["data"].as_object().map_or(0, Map::len)
                + o["binaryData"].as_object().map_or(0, Map::len),
        ),
        ("secrets", "Type") => o["type"].clone(),
        ("secrets", "Data") => Value::from(o["data"].as_object().map_or(0, Map::len)),
        ("serviceaccounts", "Secrets") => Value::from(o["secrets"].as_array().map_or(0, Vec::len)),
        ("endpoints", "Endpoints") => {
            let mut eps: Vec<String> = Vec::new();
            for subset in o["subsets"].as_array().into_iter().flatten() {
                for a in subset["addresses"].as_array().into_iter().flatten() {
                    let ports = subset["ports"].as_array().map_or(&[][..], Vec::as_slice);
                    if ports.is_empty() {
                        eps.push(s(&a["ip"]).into());
                    }
                    for p in ports {
                        eps.push(format!("{}:{}", s(&a["ip"]), int(&p["port"])));
                    }
                }
            }
            none_if_empty(eps.join(","))
        }
        ("persistentvolumeclaims", "Status") | ("persistentvolumes", "Status") => {
            status["phase"].clone()
        }
        ("persistentvolumeclaims", "Volume") => Value::String(s(&spec["volumeName"]).into()),
        ("persistentvolumeclaims", "Capacity") => {
            Value::String(s(&status["capacity"]["storage"]).into())
        }
        ("persistentvolumes", "Capacity") => Value::String(s(&spec["capacity"]["storage"]).into()),
        ("persistentvolumeclaims", "Access Modes") | ("persistentvolumes", "Access Modes") => {
            let modes = if kind == "persistentvolumes" {
                &spec["accessModes"]
            } else {
                &status["accessModes"]
            };
            Value::String(
                modes
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|m| match s(m) {
                        "ReadWriteOnce" => "RWO",
                        "ReadOnlyMany" => "ROX",
                        "ReadWriteMany" => "RWX",
                        "ReadWriteOncePod" => "RWOP",
                        other => other,
                    })
                    .collect::<Vec<_>>()
                    .join(","),
            )
        }
        (_, "StorageClass") => Value::String(s(&spec["storageClassName"]).into()),
        ("persistentvolumes", "Reclaim Policy") => spec["persistentVolumeReclaimPolicy"].clone(),
        ("persistentvolumes", "Claim") => {
            let c = &spec["claimRef"];
            Value::String(if c.is_object() {
                format!("{}/{}", s(&c["namespace"]), s(&c["name"]))
            } else {
                String::new()
            })
        }
        ("events", "Last Seen") => {
            let t = [
                &o["lastTimestamp"],
                &o["eventTime"],
                &meta["creationTimestamp"],
            ]
            .into_iter()
            .map(s)
            .find(|t| !t.is_empty())
            .unwrap_or("");
            Value::String(age(t, now))
        }
        ("events", "Type") => o["type"].clone(),
        ("events", "Reason") => o["reason"].clone(),
        ("events", "Object") => {
            let r = &o["involvedObject"];
            Value::String(format!(
                "{}/{}",
                s(&r["kind"]).to_lowercase(),
                s(&r["name"])
            ))
        }
        ("events", "Message") => Value::String(s(&o["message"]).trim().into()),
        ("horizontalpodautoscalers", "Reference") => {
            let r = &spec["scaleTargetRef"];
            Value::String(format!("{}/{}", s(&r["kind"]), s(&r["name"])))
        }
        ("horizontalpodautoscalers", "MinPods") => {
            Value::from(spec["minReplicas"].as_i64().unwrap_or(1))
        }
        ("horizontalpodautoscalers", "MaxPods") => Value::from(int(&spec["maxReplicas"])),
        ("horizontalpodautoscalers", "Replicas") => Value::from(int(&status["currentReplicas"])),
        ("ingresses", "Class") => none_if_empty(s(&spec["ingressClassName"]).into()),
        ("ingresses", "Hosts") => {
            let hosts: Vec<&str> = spec["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| match s(&r["host"]) {
                    "" => "*",
                    h => h,
                })
                .collect();
            Value::String(if hosts.is_empty() {
                "*".into()
            } else {
                hosts.join(",")
            })
        }
        ("ingresses", "Address") => Value::String(load_balancer(&status["loadBalancer"]).join(",")),
        ("ingresses", "Ports") => {
            Value::String(if spec["tls"].as_array().is_some_and(|t| !t.is_empty()) {
                "80, 443".into()
            } else {
                "80".into()
            })
        }
        ("poddisruptionbudgets", "Min Available") => not_set(&spec["minAvailable"]),
        ("poddisruptionbudgets", "Max Unavailable") => not_set(&spec["maxUnavailable"]),
        ("poddisruptionbudgets", "Allowed Disruptions") => {
            Value::from(int(&status["disruptionsAllowed"]))
        }
        ("resourcequotas", "Request") => Value::String(quota_usage(o, false)),
        ("resourcequotas", "Limit") => Value::String(quota_usage(o, true)),
        ("priorityclasses", "Value") => Value::from(int(&o["value"])),
        ("priorityclasses", "Global-Default") => Value::Bool(o["globalDefault"] == true),
        ("priorityclasses", "PreemptionPolicy") => Value::String(match s(&o["preemptionPolicy"]) {
            "" => "PreemptLowerPriority".into(),
            p => p.into(),
        }),
        ("created", "Created At") => meta["creationTimestamp"].clone(),
        ("bindings", "Role") => {
            let r = &o["roleRef"];
            Value::String(format!("{}/{}", s(&r["kind"]), s(&r["name"])))
        }
        ("bindings", "Users" | "Groups" | "ServiceAccounts") => {
            let want = match column {
                "Users" => "User",
                "Groups" => "Group",
                _ => "ServiceAccount",
            };
            let names: Vec<String> = o["subjects"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|x| s(&x["kind"]) == want)
                .map(|x| match want {
                    "ServiceAccount" => format!("{}/{}", s(&x["namespace"]), s(&x["name"])),
                    _ => s(&x["name"]).to_string(),
                })
                .collect();
            Value::String(names.join(", "))
        }
        ("storageclasses", "Provisioner") => o["provisioner"].clone(),
        ("storageclasses", "ReclaimPolicy") => Value::String(
            match s(&o["reclaimPolicy"]) {
                "" => "Delete",
                p => p,
            }
            .into(),
        ),
        ("storageclasses", "VolumeBindingMode") => Value::String(
            match s(&o["volumeBindingMode"]) {
                "" => "Immediate",
                m => m,
            }
            .into(),
        ),
        ("storageclasses", "AllowVolumeExpansion") => {
            Value::Bool(o["allowVolumeExpansion"] == true)
        }
        ("leases", "Holder") => Value::String(s(&spec["holderIdentity"]).into()),
        ("networkpolicies", "Pod-Selector") => none_if_empty(selector(&spec["podSelector"])),
        ("ingressclasses", "Controller") => spec["controller"].clone(),
        ("ingressclasses", "Parameters") => {
            let p = &spec["parameters"];
            if p.is_object() {
                let group = match s(&p["apiGroup"]) {
                    "" => String::new(),
                    g => format!(".{g}"),
                };
                Value::String(format!("{}{group}/{}", s(&p["kind"]), s(&p["name"])))
            } else {
                Value::String("<none>".into())
            }
        }
        ("endpointslices", "AddressType") => o["addressType"].clone(),
        ("endpointslices", "Ports") => {
            let ports: Vec<String> = o["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| match p["port"].as_i64() {
                    Some(n) => n.to_string(),
                    None => "<unset>".into(),
                })
                .collect();
            Value::String(if ports.is_empty() {
                "<unset>".into()
            } else {
                ports.join(",")
            })
        }
        ("endpointslices", "Endpoints") => {
            let addresses: Vec<&str> = o["endpoints"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|e| e["addresses"].as_array().into_iter().flatten().map(s))
                .collect();
            Value::String(match addresses.len() {
                0 => "<unset>".into(),
                n if n > 3 => format!("{} + {} more...", addresses[..3].join(","), n - 3),
                _ => addresses.join(","),
            })
        }
        ("controllerrevisions", "Controller") => {
            let owner = meta["ownerReferences"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["controller"] == true);
            Value::String(match owner {
                Some(r) => format!(
                    "{}/{}",
                    s(&r["kind"]).to_lowercase() + group_suffix(s(&r["apiVersion"])).as_str(),
                    s(&r["name"])
                ),
                None => "<none>".into(),
            })
        }
        ("controllerrevisions", "Revision") => Value::from(int(&o["revision"])),
        _ => Value::String(String::new()),
    }
}

/// `.apps` for `apps/v1`, nothing for the core group.
fn group_suffix(api_version: &str) -> String {
    match api_version.rsplit_once('/') {
        Some((group, _)) => format!(".{group}"),
        None => String::new(),
    }
}

/// A pointer field as kubectl prints it: its value, or `N/A`.
fn not_set(v: &Value) -> Value {
    match v {
        Value::Null => Value::String("N/A".into()),
        Value::String(text) => Value::String(text.clone()),
        other => Value::String(other.to_string()),
    }
}

/// A ResourceQuota's `used/hard` pairs, sorted by resource name: the
/// `limits.*` resources, or all the others.
fn quota_usage(o: &Value, limits: bool) -> String {
    let hard = o["status"]["hard"]
        .as_object()
        .or_else(|| o["spec"]["hard"].as_object());
    let used = &o["status"]["used"];
    let mut names: Vec<&String> = hard
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("limits.") == limits)
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|k| {
            let hard = hard.map_or("", |h| s(&h[k.as_str()]));
            let used = match s(&used[k.as_str()]) {
                "" => "0",
                u => u,
            };
            format!("{k}: {used}/{hard}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn load_balancer(lb: &Value) -> Vec<String> {
    lb["ingress"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| match s(&i["ip"]) {
            "" => s(&i["hostname"]).to_string(),
            ip => ip.to_string(),
        })
        .collect()
}

fn service_external_ip(o: &Value) -> String {
    let spec = &o["spec"];
    let mut ips: Vec<String> = spec["externalIPs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| s(v).to_string())
        .collect();
    match s(&spec["type"]) {
        "ExternalName" => return s(&spec["externalName"]).to_string(),
        "LoadBalancer" => {
            ips.extend(load_balancer(&o["status"]["loadBalancer"]));
            if ips.is_empty() {
                return "<pending>".into();
            }
        }
        _ => {}
    }
    if ips.is_empty() {
        "<none>".into()
    } else {
        ips.join(",")
    }
}

/// The STATUS column of a pod, as kubectl prints it: the phase, or the
/// reason of a waiting or terminated container, `Init:` states while init
/// containers run, and `Terminating` once deletion has begun.
fn pod_status(o: &Value) -> String {
    let status = &o["status"];
    let mut reason = match s(&status["reason"]) {
        "" => s(&status["phase"]).to_string(),
        r => r.to_string(),
    };
    let inits = status["initContainerStatuses"].as_array();
    let init_total = o["spec"]["initContainers"].as_array().map_or(0, Vec::len);
    let mut initializing = false;
    for (i, c) in inits.into_iter().flatten().enumerate() {
        let state = &c["state"];
        if state["terminated"].is_object() && int(&state["terminated"]["exitCode"]) == 0 {
            continue;
        }
        initializing = true;
        reason = if state["terminated"].is_object() {
            match s(&state["terminated"]["reason"]) {
                "" => format!("Init:ExitCode:{}", int(&state["terminated"]["exitCode"])),
                r => format!("Init:{r}"),
            }
        } else {
            match s(&state["waiting"]["reason"]) {
                "" | "PodInitializing" => format!("Init:{i}/{init_total}"),
                r => format!("Init:{r}"),
            }
        };
        break;
    }
    if !initializing {
        let mut running = false;
        for c in status["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
            .rev()
        {
            let state = &c["state"];
            if let Some(r) = state["waiting"]["reason"]
                .as_str()
                .filter(|r| !r.is_empty())
            {
                reason = r.to_string();
            } else if state["terminated"].is_object() {
                reason = match s(&state["terminated"]["reason"]) {
                    "" => format!("ExitCode:{}", int(&state["terminated"]["exitCode"])),
                    r => r.to_string(),
                };
            } else if state["running"].is_object() && c["ready"] == true {
                running = true;
            }
        }
        if reason == "Completed" && running {
            reason = "Running".into();
        }
    }
    if o["metadata"]["deletionTimestamp"].is_string() {
        reason = if s(&status["reason"]) == "NodeLost" {
            "Unknown".into()
        } else {
            "Terminating".into()
        };
    }
    if reason.is_empty() {
        "Pending".into()
    } else {
        reason
    }
}

fn job_status(status: &Value) -> String {
    for c in status["conditions"].as_array().into_iter().flatten() {
        if c["status"] != "True" {
            continue;
        }
        match s(&c["type"]) {
            "Complete" => return "Complete".into(),
            "Failed" => return "Failed".into(),
            "Suspended" => return "Suspended".into(),
            "FailureTarget" => return "FailureTarget".into(),
            _ => {}
        }
    }
    "Running".into()
}

/// kubectl's AGE: `5s`, `3m20s`, `12m`, `4h10m`, `2d3h`, `45d`, `2y10d`.
fn age(timestamp: &str, now: Time) -> String {
    match timestamp.parse::<Time>() {
        Ok(t) => human(now.seconds_since(t)),
        Err(_) => "<unknown>".into(),
    }
}

fn human(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{}d", hours / 24),
            h => format!("{}d{h}h", hours / 24),
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        return match (hours / 24) % 365 {
            0 => format!("{}y", hours / 24 / 365),
            d => format!("{}y{d}d", hours / 24 / 365),
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// A simple JSONPath (`.spec.replicas`, `.status.conditions[0].type`,
/// `.metadata.labels.app`), as CRD printer columns use them.
fn json_path<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}');
    let mut cur = v;
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let (name, mut rest) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        if !name.is_empty() {
            cur = cur.get(name)?;
        }
        while let Some(inner) = rest.strip_prefix('[') {
            let end = inner.find(']')?;
            let index: usize = inner[..end].parse().ok()?;
            cur = cur.get(index)?;
            rest = &inner[end + 1..];
        }
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Time {
        "2026-12-06T12:00:00Z".parse().expect("time")
    }

    #[test]
    fn accept_headers() {
        assert!(wants_table(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
        ));
        assert!(!wants_table("application/json"));
        assert!(!wants_table(
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
        ));
    }

    #[test]
    fn pod_rows() {
        let pod = json!({
            "metadata": {"name": "web", "creationTimestamp": "2026-12-06T11:56:40Z", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "n1"},
            "status": {"phase": "Running", "podIP": "10.0.0.5", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 2, "state": {"running": {}}},
                {"name": "b", "ready": false, "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
            ]},
        });
        let t = Printer::builtin("", "pods").table(&[pod], Map::new(), now());
        assert_eq!(
            t["rows"][0]["cells"],
            json!([
                "web",
                "1/2",
                "CrashLoopBackOff",
                3,
                "3m20s",
                "10.0.0.5",
                "n1",
                "<none>",
                "<none>"
            ])
        );
        assert_eq!(t["rows"][0]["object"]["metadata"]["labels"]["app"], "web");
        assert_eq!(t["columnDefinitions"][5]["priority"], 1);
    }

    #[test]
    fn deployment_and_service_rows() {
        let d = json!({
            "metadata": {"name": "d", "creationTimestamp": "2026-12-04T09:00:00Z"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "d"}},
                     "template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
        });
        let t = Printer::builtin("apps", "deployments").table(&[d], Map::new(), now());
        assert_eq!(
            t["rows"][0]["cells"],
            json!(["d", "2/3", 3, 2, "2d3h", "c", "nginx:1.25", "app=d"])
        );
        let svc = json!({
            "metadata": {"name": "s", "creationTimestamp": "2026-12-06T12:00:00Z"},
            "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}], "selector": {"app": "d"}},
        });
        let t = Printer::builtin("", "services").table(&[svc], Map::new(), now());
        assert_eq!(
            t["rows"][0]["cells"],
            json!([
                "s",
                "NodePort",
                "10.96.0.10",
                "<none>",
                "80:30080/TCP",
                "0s",
                "app=d"
            ])
        );
    }

    #[test]
    fn terminating_and_init_pods() {
        let p = json!({"metadata": {"name": "p", "deletionTimestamp": "2026-12-06T12:00:00Z"}, "status": {"phase": "Running"}});
        assert_eq!(pod_status(&p), "Terminating");
        let p = json!({"spec": {"initContainers": [{}, {}]}, "status": {"phase": "Pending", "initContainerStatuses": [
            {"state": {"terminated": {"exitCode": 0}}}, {"state": {"waiting": {"reason": "PodInitializing"}}}]}});
        assert_eq!(pod_status(&p), "Init:1/2");
    }

    #[test]
    fn ages() {
        for (s, want) in [
            (5, "5s"),
            (119, "119s"),
            (200, "3m20s"),
            (600, "10m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 60 * 5, "3h5m"),
            (30 * 3600, "30h"),
            (51 * 3600, "2d3h"),
            (40 * 86400, "40d"),
            (800 * 86400, "2y70d"),
        ] {
            assert_eq!(human(s), want, "{s}");
        }
    }

    #[test]
    fn custom_columns() {
        let defs = vec![CustomResourceColumnDefinition {
            name: "Replicas".into(),
            r#type: "integer".into(),
            json_path: ".spec.replicas".into(),
            ..Default::default()
        }];
        let o = json!({"metadata": {"name": "w"}, "spec": {"replicas": 4}, "status": {"c": [{"t": "x"}]}});
        let t = Printer::custom(defs).table(std::slice::from_ref(&o), Map::new(), now());
        assert_eq!(t["rows"][0]["cells"], json!(["w", 4]));
        assert_eq!(json_path(&o, ".status.c[0].t"), Some(&json!("x")));
        assert_eq!(json_path(&o, ".status.c[3].t"), None);
    }
}
