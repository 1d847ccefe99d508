//! Every manifest in `../shared/manifests/seeds/` with the outcome
//! `../shared/manifests/README.md` expects, at the loader and
//! default-and-validate level.
use std::path::Path;

use keelson::api::core::{Pod, Secret, Service, Volume};
use keelson::api::manifest::{Loader, ManifestErrorKind};
use keelson::api::{DynamicObject, Scheme};

const SEEDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/manifests/seeds");

/// What loading, defaulting and validating a seed must give.
enum Expect {
    /// Every object loads, defaults and validates; `(kind, name)` in order.
    Accepted(&'static [(&'static str, &'static str)]),
    /// Loads, and validation refuses it naming `field` on `line`.
    Invalid { field: &'static str, line: usize },
    /// Refused at parse time on `line`.
    Syntax { line: usize },
    /// Refused as a version Kubernetes no longer serves.
    Removed {
        api_version: &'static str,
        kind: &'static str,
    },
    /// A custom resource: refused by the built-in scheme, loaded as a
    /// dynamic object when unknown kinds are allowed.
    Custom {
        kind: &'static str,
        name: &'static str,
    },
}

use Expect::*;

const TABLE: &[(&str, Expect)] = &[
    (
        "02-pod-kubia-manual.yaml",
        Accepted(&[("Pod", "kubia-manual")]),
    ),
    (
        "03-replicaset-kubia.yaml",
        Accepted(&[("ReplicaSet", "kubia")]),
    ),
    (
        "04-daemonset-ssd-monitor.yaml",
        Accepted(&[("DaemonSet", "ssd-monitor")]),
    ),
    ("05-job-batch-job.yaml", Accepted(&[("Job", "batch-job")])),
    (
        "06-cronjob-cron-job.yaml",
        Removed {
            api_version: "batch/v1beta1",
            kind: "CronJob",
        },
    ),
    ("07-service-kubia.yaml", Accepted(&[("Service", "kubia")])),
    (
        "08-service-kubia-nodeport.yaml",
        Accepted(&[("Service", "kubia-nodeport")]),
    ),
    (
        "09-service-kubia-loadbalancer.yaml",
        Accepted(&[("Service", "kubia-loadbalancer")]),
    ),
    ("11-pod-fortune.yaml", Accepted(&[("Pod", "fortune")])),
    (
        "12-pod-gitrepo-volume-pod.yaml",
        Accepted(&[("Pod", "gitrepo-volume-pod")]),
    ),
    (
        "13-persistentvolume-mongodb-pv.yaml",
        Accepted(&[("PersistentVolume", "mongodb-pv")]),
    ),
    (
        "14-persistentvolumeclaim-mongodb-pvc.yaml",
        Accepted(&[("PersistentVolumeClaim", "mongodb-pvc")]),
    ),
    (
        "16-storageclass-fast.yaml",
        Accepted(&[("StorageClass", "fast")]),
    ),
    (
        "26-deployment-kubia.yaml",
        Accepted(&[("Deployment", "kubia")]),
    ),
    ("28-service-kubia.yaml", Accepted(&[("Service", "kubia")])),
    (
        "29-statefulset-kubia.yaml",
        Accepted(&[("StatefulSet", "kubia")]),
    ),
    (
        "30-service-kubia-public.yaml",
        Accepted(&[("Service", "kubia-public")]),
    ),
    (
        "34-networkpolicy-postgres-netpolicy.yaml",
        Accepted(&[("NetworkPolicy", "postgres-netpolicy")]),
    ),
    (
        "39-customresourcedefinition-websites.extensions.example.com.yaml",
        Removed {
            api_version: "apiextensions.k8s.io/v1beta1",
            kind: "CustomResourceDefinition",
        },
    ),
    (
        "40-website-kubia.yaml",
        Custom {
            kind: "Website",
            name: "kubia",
        },
    ),
    (
        "43-ingress-example-ingress.yaml",
        Removed {
            api_version: "networking.k8s.io/v1beta1",
            kind: "Ingress",
        },
    ),
    (
        "44-secret-mysecret.yaml",
        Accepted(&[("Secret", "mysecret")]),
    ),
    (
        "45-pod-myPod.yaml",
        Invalid {
            field: "metadata.name",
            line: 4,
        },
    ),
    (
        "46-pod-myPod.yaml",
        Invalid {
            field: "metadata.name",
            line: 4,
        },
    ),
    (
        "47-configmap-myconfig.yaml",
        Accepted(&[("ConfigMap", "myconfig")]),
    ),
    ("48-deployment-nginx-nfs.yaml", Syntax { line: 28 }),
    (
        "49-deployment-nginx-nfs.yaml",
        Accepted(&[
            ("Deployment", "nginx-nfs"),
            ("PersistentVolumeClaim", "my-pvc"),
            ("PersistentVolume", "my-pv"),
        ]),
    ),
];

pub fn read_seed(name: &str) -> String {
    let path = Path::new(SEEDS).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every seed file, sorted.
pub fn seed_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(SEEDS)
        .unwrap_or_else(|e| panic!("{SEEDS}: {e}"))
        .map(|e| {
            e.expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".yaml") || n.ends_with(".yml") || n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

#[test]
fn every_seed_file_is_in_the_table() {
    let names = seed_names();
    assert!(!names.is_empty(), "no seeds in {SEEDS}");
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !TABLE.iter().any(|(file, _)| file == n))
        .collect();
    assert!(
        missing.is_empty(),
        "seeds without an expected outcome: {missing:?}"
    );
    let stale: Vec<&str> = TABLE
        .iter()
        .map(|(file, _)| *file)
        .filter(|f| !names.iter().any(|n| n == f))
        .collect();
    assert!(
        stale.is_empty(),
        "table rows without a seed file: {stale:?}"
    );
}

#[test]
fn every_seed_has_its_expected_outcome() {
    let loader = Loader::new(Scheme::builtin());
    for (file, expect) in TABLE {
        let text = read_seed(file);
        let results = loader.load_str(&text);
        match expect {
            Accepted(objects) => {
                assert_eq!(results.len(), objects.len(), "{file}: object count");
                for (result, (kind, name)) in results.into_iter().zip(objects.iter()) {
                    let mut loaded = result.unwrap_or_else(|e| panic!("{file}: {e}"));
                    assert!(loaded.warnings.is_empty(), "{file}: {:?}", loaded.warnings);
                    loaded
                        .default_and_validate()
                        .unwrap_or_else(|e| panic!("{file}: {e:?}"));
                    assert_eq!(loaded.object.type_meta().kind, *kind, "{file}");
                    assert_eq!(loaded.object.meta().name, *name, "{file}");
                }
            }
            Invalid { field, line } => {
                assert_eq!(results.len(), 1, "{file}");
                let mut loaded = results.into_iter().next().unwrap().unwrap();
                let errors = loaded.default_and_validate().unwrap_err();
                assert_eq!(errors[0].field, *field, "{file}: {errors:?}");
                assert_eq!(errors[0].line, *line, "{file}: {errors:?}");
                assert!(
                    matches!(*errors[0].kind, ManifestErrorKind::Invalid(_)),
                    "{file}: {errors:?}"
                );
                let text = errors[0].to_string();
                assert!(
                    text.contains("metadata.name") && text.contains("RFC 1123"),
                    "{file}: {text}"
                );
            }
            Syntax { line } => {
                let err = results
                    .into_iter()
                    .find_map(Result::err)
                    .unwrap_or_else(|| panic!("{file}: no error"));
                assert!(
                    matches!(*err.kind, ManifestErrorKind::Syntax(_)),
                    "{file}: {err}"
                );
                assert_eq!(err.line, *line, "{file}: {err}");
                assert!(
                    err.to_string().starts_with(&format!("line {line}, ")),
                    "{err}"
                );
            }
            Removed { api_version, kind } => {
                assert_eq!(results.len(), 1, "{file}");
                let err = results.into_iter().next().unwrap().unwrap_err();
                match &*err.kind {
                    ManifestErrorKind::RemovedApi {
                        api_version: v,
                        kind: k,
                        ..
                    } => assert_eq!((v.as_str(), k.as_str()), (*api_version, *kind), "{file}"),
                    other => panic!("{file}: {other:?}"),
                }
                let text = err.to_string();
                assert!(
                    text.contains(&format!("no kind \"{kind}\" in version \"{api_version}\"")),
                    "{file}: {text}"
                );
                assert_eq!(err.line, 1, "{file}: {text}");
            }
            Custom { kind, name } => {
                let err = results.into_iter().next().unwrap().unwrap_err();
                assert!(
                    matches!(&*err.kind, ManifestErrorKind::UnknownKind { kind: k, .. } if k == kind),
                    "{file}: {err}"
                );
                let dynamic = Loader::new(Scheme::builtin()).allow_unknown_kinds(true);
                let mut loaded = dynamic.load_str(&text).remove(0).unwrap();
                loaded.default_and_validate().unwrap();
                let obj: &DynamicObject = loaded.object.downcast_ref().expect("a dynamic object");
                assert_eq!(obj.metadata.name, *name);
                assert_eq!(obj.type_meta().kind, *kind);
            }
        }
    }
}

#[test]
fn secret_data_decodes() {
    let mut loaded = Loader::new(Scheme::builtin())
        .load_all(&read_seed("44-secret-mysecret.yaml"))
        .unwrap()
        .remove(0);
    loaded.default_and_validate().unwrap();
    let secret: &Secret = loaded.object.downcast_ref().unwrap();
    assert_eq!(secret.decoded("username").unwrap(), b"admin");
    assert_eq!(secret.decoded("password").unwrap(), b"1f2d1e2e67df");
    assert_eq!(secret.type_, "Opaque");
}

#[test]
fn node_port_is_kept() {
    let mut loaded = Loader::new(Scheme::builtin())
        .load_all(&read_seed("08-service-kubia-nodeport.yaml"))
        .unwrap()
        .remove(0);
    loaded.default_and_validate().unwrap();
    let svc: &Service = loaded.object.downcast_ref().unwrap();
    assert_eq!(svc.spec.type_, "NodePort");
    assert_eq!(svc.spec.ports[0].node_port, 30123);
}

#[test]
fn git_repo_volume_is_kept() {
    let mut loaded = Loader::new(Scheme::builtin())
        .load_all(&read_seed("12-pod-gitrepo-volume-pod.yaml"))
        .unwrap()
        .remove(0);
    loaded.default_and_validate().unwrap();
    let pod: &Pod = loaded.object.downcast_ref().unwrap();
    let volume: &Volume = &pod.spec.volumes[0];
    let repo = volume.git_repo.as_ref().expect("a gitRepo volume");
    assert_eq!(
        repo.repository,
        "https://github.com/luksa/kubia-website-example.git"
    );
    assert_eq!(repo.directory, ".");
}

/// README: "once a CRD for `websites.extensions.example.com` is
/// established, `Website` objects are served as dynamic objects". The
/// loader refuses the v1beta1 CRD (39); converted to v1 it validates, and a
/// scheme extended with its kinds loads 40 as a dynamic object even in
/// strict mode with unknown kinds refused.
#[test]
fn website_is_served_once_its_crd_is_installed() {
    use keelson::api::apiextensions::{crd_from_v1beta1, CustomResourceDefinition};
    use keelson::api::manifest::yaml_to_json;
    use keelson::api::scheme::KindInfo;
    use keelson::api::Resource;

    let crd_yaml = read_seed("39-customresourcedefinition-websites.extensions.example.com.yaml");
    let v1beta1 = yaml_to_json(&crd_yaml).unwrap();
    let mut crd: CustomResourceDefinition = crd_from_v1beta1(&v1beta1).unwrap();
    crd.apply_defaults();
    let errors = crd.validate();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(crd.metadata.name, "websites.extensions.example.com");

    let website = read_seed("40-website-kubia.yaml");
    let mut scheme = Scheme::builtin().clone();
    assert!(Loader::new(&scheme).load_str(&website).remove(0).is_err());
    for resource in crd.api_resources() {
        let list_kind = format!("{}List", resource.kind);
        scheme.insert(KindInfo::dynamic(resource, list_kind));
    }
    let mut loaded = Loader::new(&scheme).load_str(&website).remove(0).unwrap();
    loaded.default_and_validate().unwrap();
    let obj: &DynamicObject = loaded.object.downcast_ref().expect("a dynamic object");
    assert_eq!(obj.metadata.name, "kubia");
    assert_eq!(
        obj.data["spec"]["gitRepo"],
        "https://github.com/luksa/kubia-website-example.git"
    );
}
