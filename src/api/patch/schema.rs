//! The strategic merge schema of the built-in kinds: which lists merge, and
//! by which key, taken from the `patchStrategy` and `patchMergeKey` tags of
//! Kubernetes' Go types (`k8s.io/api`).
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

/// How a list field is patched.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ListStrategy {
    /// The patch's list replaces the object's (no `patchStrategy`; atomic).
    #[default]
    Replace,
    /// Elements are objects matched by this key (`patchStrategy:"merge"`
    /// with `patchMergeKey`): `containers` by `name`.
    MergeByKey(&'static str),
    /// A list of scalars merged as a set (`patchStrategy:"merge"` without a
    /// key): `finalizers`.
    MergeSet,
}

/// How one field is patched: its list strategy, whether `$retainKeys`
/// applies (`patchStrategy:"retainKeys"`), and the schema of its value (or
/// of its list's elements).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldStrategy {
    /// For lists: how they merge.
    pub list: ListStrategy,
    /// The field (or each list element) is patched with `$retainKeys`:
    /// keys absent from the patch are cleared (a Deployment's `strategy`,
    /// a pod's `volumes`).
    pub retain_keys: bool,
    /// The schema of the field's object, or of each element of its list.
    pub schema: PatchSchema,
}

/// The strategic merge schema of an object type: the fields whose patch
/// differs from a plain merge. Fields not named merge as objects (if both
/// sides are objects) or are replaced.
///
/// ```
/// use keelson::api::patch::{ListStrategy, PatchSchema};
///
/// let pod = PatchSchema::for_kind("", "Pod").unwrap();
/// let containers = pod.field("spec").unwrap().schema.field("containers").unwrap();
/// assert_eq!(containers.list, ListStrategy::MergeByKey("name"));
/// // Custom resources have no strategic schema.
/// assert!(PatchSchema::for_kind("example.com", "Website").is_none());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PatchSchema {
    fields: BTreeMap<&'static str, FieldStrategy>,
}

static EMPTY: PatchSchema = PatchSchema {
    fields: BTreeMap::new(),
};

impl PatchSchema {
    /// The schema with no special fields: a strategic merge with it is a
    /// merge patch that also understands the `$patch` directives.
    pub fn empty() -> &'static PatchSchema {
        &EMPTY
    }

    /// The strategy of a field, if it has one.
    pub fn field(&self, name: &str) -> Option<&FieldStrategy> {
        self.fields.get(name)
    }

    /// The sub-schema of a field (empty when the field has none).
    pub fn child(&self, name: &str) -> &PatchSchema {
        self.fields.get(name).map_or(&EMPTY, |f| &f.schema)
    }

    /// The schema of a built-in kind (`("apps", "Deployment")`), or `None`
    /// for a kind Kubernetes does not build in (custom resources).
    pub fn for_kind(group: &str, kind: &str) -> Option<&'static PatchSchema> {
        static KINDS: OnceLock<HashMap<String, PatchSchema>> = OnceLock::new();
        KINDS.get_or_init(built_in).get(&format!("{group}/{kind}"))
    }
}

fn schema(fields: Vec<(&'static str, FieldStrategy)>) -> PatchSchema {
    PatchSchema {
        fields: fields.into_iter().collect(),
    }
}

fn object(s: PatchSchema) -> FieldStrategy {
    FieldStrategy {
        schema: s,
        ..FieldStrategy::default()
    }
}

fn keyed(key: &'static str, s: PatchSchema) -> FieldStrategy {
    FieldStrategy {
        list: ListStrategy::MergeByKey(key),
        retain_keys: false,
        schema: s,
    }
}

fn keyed_retain(key: &'static str, s: PatchSchema) -> FieldStrategy {
    FieldStrategy {
        retain_keys: true,
        ..keyed(key, s)
    }
}

fn set() -> FieldStrategy {
    FieldStrategy {
        list: ListStrategy::MergeSet,
        ..FieldStrategy::default()
    }
}

fn by(key: &'static str) -> FieldStrategy {
    keyed(key, PatchSchema::default())
}

fn metadata() -> PatchSchema {
    schema(vec![("finalizers", set()), ("ownerReferences", by("uid"))])
}

fn container() -> PatchSchema {
    schema(vec![
        ("ports", by("containerPort")),
        ("env", by("name")),
        ("volumeMounts", by("mountPath")),
        ("volumeDevices", by("devicePath")),
    ])
}

fn pod_spec() -> PatchSchema {
    schema(vec![
        ("volumes", keyed_retain("name", PatchSchema::default())),
        ("initContainers", keyed("name", container())),
        ("containers", keyed("name", container())),
        ("ephemeralContainers", keyed("name", container())),
        ("imagePullSecrets", by("name")),
        ("hostAliases", by("ip")),
        ("topologySpreadConstraints", by("topologyKey")),
        ("schedulingGates", by("name")),
        (
            "resourceClaims",
            keyed_retain("name", PatchSchema::default()),
        ),
    ])
}

fn pod_status() -> PatchSchema {
    schema(vec![
        ("conditions", by("type")),
        ("podIPs", by("ip")),
        ("hostIPs", by("ip")),
        (
            "resourceClaimStatuses",
            keyed_retain("name", PatchSchema::default()),
        ),
    ])
}

fn pod_template() -> PatchSchema {
    schema(vec![
        ("metadata", object(metadata())),
        ("spec", object(pod_spec())),
    ])
}

fn conditions_status() -> PatchSchema {
    schema(vec![("conditions", by("type"))])
}

/// A top-level kind: metadata, and the given spec and status schemas.
fn kind(spec: PatchSchema, status: PatchSchema) -> PatchSchema {
    schema(vec![
        ("metadata", object(metadata())),
        ("spec", object(spec)),
        ("status", object(status)),
    ])
}

fn workload(extra: Vec<(&'static str, FieldStrategy)>) -> PatchSchema {
    let mut spec = schema(extra);
    spec.fields.insert("template", object(pod_template()));
    kind(spec, conditions_status())
}

fn job_spec() -> PatchSchema {
    schema(vec![("template", object(pod_template()))])
}

fn built_in() -> HashMap<String, PatchSchema> {
    let mut m = Kinds(HashMap::new());
    let plain = || kind(PatchSchema::default(), PatchSchema::default());
    // Kinds whose only strategic fields are in their metadata.
    for (g, k) in [
        ("", "Binding"),
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "Endpoints"),
        ("", "Event"),
        ("", "LimitRange"),
        ("", "ResourceQuota"),
        ("", "PersistentVolume"),
        ("apps", "ControllerRevision"),
        ("autoscaling", "Scale"),
        ("discovery.k8s.io", "EndpointSlice"),
        ("coordination.k8s.io", "Lease"),
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("networking.k8s.io", "Ingress"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("storage.k8s.io", "StorageClass"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("policy", "Eviction"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ] {
        m.insert((g, k), plain());
    }
    m.insert(("", "Pod"), kind(pod_spec(), pod_status()));
    m.insert(
        ("", "PodTemplate"),
        schema(vec![
            ("metadata", object(metadata())),
            ("template", object(pod_template())),
        ]),
    );
    m.insert(
        ("", "Service"),
        kind(schema(vec![("ports", by("port"))]), conditions_status()),
    );
    m.insert(
        ("", "Node"),
        kind(
            schema(vec![("podCIDRs", set())]),
            schema(vec![("conditions", by("type")), ("addresses", by("type"))]),
        ),
    );
    m.insert(
        ("", "Namespace"),
        kind(PatchSchema::default(), conditions_status()),
    );
    m.insert(
        ("", "PersistentVolumeClaim"),
        kind(PatchSchema::default(), conditions_status()),
    );
    m.insert(
        ("", "ServiceAccount"),
        schema(vec![
            ("metadata", object(metadata())),
            ("secrets", by("name")),
        ]),
    );
    m.insert(
        ("apps", "Deployment"),
        workload(vec![(
            "strategy",
            FieldStrategy {
                retain_keys: true,
                ..FieldStrategy::default()
            },
        )]),
    );
    m.insert(("apps", "ReplicaSet"), workload(vec![]));
    m.insert(("apps", "DaemonSet"), workload(vec![]));
    m.insert(("apps", "StatefulSet"), workload(vec![]));
    m.insert(("batch", "Job"), kind(job_spec(), conditions_status()));
    m.insert(
        ("batch", "CronJob"),
        kind(
            schema(vec![(
                "jobTemplate",
                object(schema(vec![
                    ("metadata", object(metadata())),
                    ("spec", object(job_spec())),
                ])),
            )]),
            PatchSchema::default(),
        ),
    );
    m.insert(
        ("autoscaling", "HorizontalPodAutoscaler"),
        kind(PatchSchema::default(), conditions_status()),
    );
    m.insert(
        ("policy", "PodDisruptionBudget"),
        kind(PatchSchema::default(), conditions_status()),
    );
    m.0
}

struct Kinds(HashMap<String, PatchSchema>);

impl Kinds {
    fn insert(&mut self, (group, kind): (&str, &str), s: PatchSchema) {
        self.0.insert(format!("{group}/{kind}"), s);
    }
}
