//! Validation errors through the loader: each invalid manifest is refused,
//! and the first error names the exact field path (Kubernetes' notation)
//! and the line of that field in the file.
use keelson::api::manifest::{Loader, ManifestError, ManifestErrorKind};
use keelson::api::Scheme;

const POD: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
  annotations:
    team: shop
spec:
  restartPolicy: Always
  terminationGracePeriodSeconds: 30
  containers:
  - name: nginx
    image: nginx:1.27
    imagePullPolicy: IfNotPresent
    ports:
    - containerPort: 80
    volumeMounts:
    - name: data
      mountPath: /data
    resources:
      requests:
        cpu: 100m
      limits:
        cpu: 200m
  - name: sidecar
    image: busybox
  volumes:
  - name: data
    emptyDir: {}
";

const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      restartPolicy: Always
      containers:
      - name: nginx
        image: nginx:1.27
";

const SERVICE: &str = "\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: 8080
    nodePort: 30080
";

const JOB: &str = "\
apiVersion: batch/v1
kind: Job
metadata:
  name: batch
spec:
  backoffLimit: 4
  template:
    spec:
      restartPolicy: OnFailure
      containers:
      - name: main
        image: busybox
";

const CRONJOB: &str = "\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: \"0 3 * * *\"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: main
            image: busybox
";

const CONFIGMAP: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  level: high
";

const NAMESPACE: &str = "\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
";

/// Where the first error must come from.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    /// Loading (decoding) refuses the object.
    Load,
    /// Defaulting and validating refuses it.
    Validate,
}

struct Case {
    name: &'static str,
    base: &'static str,
    /// `(old, new)` text replacements applied to `base`.
    edits: &'static [(&'static str, &'static str)],
    phase: Phase,
    field: &'static str,
    line: usize,
}

const fn case(
    name: &'static str,
    base: &'static str,
    edits: &'static [(&'static str, &'static str)],
    phase: Phase,
    field: &'static str,
    line: usize,
) -> Case {
    Case {
        name,
        base,
        edits,
        phase,
        field,
        line,
    }
}

use Phase::*;

const CASES: &[Case] = &[
    case(
        "uppercase pod name",
        POD,
        &[("name: web\n", "name: Web\n")],
        Validate,
        "metadata.name",
        4,
    ),
    case(
        "underscore in pod name",
        POD,
        &[("name: web\n", "name: web_1\n")],
        Validate,
        "metadata.name",
        4,
    ),
    case(
        "service name starts with a digit",
        SERVICE,
        &[("name: web\n", "name: 1web\n")],
        Validate,
        "metadata.name",
        4,
    ),
    case(
        "namespace name with a dot",
        NAMESPACE,
        &[("name: shop", "name: shop.eu")],
        Validate,
        "metadata.name",
        4,
    ),
    case(
        "missing image",
        POD,
        &[("    image: nginx:1.27\n", "")],
        Validate,
        "spec.containers[0].image",
        13,
    ),
    case(
        "missing image in a deployment template",
        DEPLOYMENT,
        &[("        image: nginx:1.27\n", "")],
        Validate,
        "spec.template.spec.containers[0].image",
        17,
    ),
    case(
        "negative replicas",
        DEPLOYMENT,
        &[("replicas: 2", "replicas: -1")],
        Validate,
        "spec.replicas",
        6,
    ),
    case(
        "selector does not match template labels",
        DEPLOYMENT,
        &[("        app: web\n", "        app: api\n")],
        Validate,
        "spec.template.metadata.labels",
        12,
    ),
    case(
        "container port above 65535",
        POD,
        &[("containerPort: 80", "containerPort: 70000")],
        Validate,
        "spec.containers[0].ports[0].containerPort",
        17,
    ),
    case(
        "container port zero",
        POD,
        &[("containerPort: 80", "containerPort: 0")],
        Validate,
        "spec.containers[0].ports[0].containerPort",
        17,
    ),
    case(
        "service port zero",
        SERVICE,
        &[("port: 80", "port: 0")],
        Validate,
        "spec.ports[0].port",
        11,
    ),
    case(
        "node port out of range",
        SERVICE,
        &[("nodePort: 30080", "nodePort: 70000")],
        Validate,
        "spec.ports[0].nodePort",
        13,
    ),
    case(
        "unknown service type",
        SERVICE,
        &[("type: NodePort", "type: Public")],
        Validate,
        "spec.type",
        6,
    ),
    case(
        "malformed quantity",
        POD,
        &[("cpu: 100m", "cpu: 1.2.3")],
        Validate,
        "spec.containers[0].resources.requests[cpu]",
        23,
    ),
    case(
        "request above limit",
        POD,
        &[("cpu: 100m", "cpu: 300m")],
        Validate,
        "spec.containers[0].resources.requests[cpu]",
        23,
    ),
    case(
        "duplicate container names",
        POD,
        &[("name: sidecar", "name: nginx")],
        Validate,
        "spec.containers[1].name",
        26,
    ),
    case(
        "uppercase container name",
        POD,
        &[("name: nginx", "name: Nginx")],
        Validate,
        "spec.containers[0].name",
        13,
    ),
    case(
        "unknown restartPolicy",
        POD,
        &[("restartPolicy: Always", "restartPolicy: Sometimes")],
        Validate,
        "spec.restartPolicy",
        10,
    ),
    case(
        "deployment pods must restart always",
        DEPLOYMENT,
        &[("restartPolicy: Always", "restartPolicy: Never")],
        Validate,
        "spec.template.spec.restartPolicy",
        15,
    ),
    case(
        "job pods may not restart always",
        JOB,
        &[("restartPolicy: OnFailure", "restartPolicy: Always")],
        Validate,
        "spec.template.spec.restartPolicy",
        9,
    ),
    case(
        "unknown imagePullPolicy",
        POD,
        &[(
            "imagePullPolicy: IfNotPresent",
            "imagePullPolicy: Sometimes",
        )],
        Validate,
        "spec.containers[0].imagePullPolicy",
        15,
    ),
    case(
        "label value starting with a dash",
        POD,
        &[("    app: web\n", "    app: -web\n")],
        Validate,
        "metadata.labels[app]",
        6,
    ),
    case(
        "label value longer than 63 characters",
        POD,
        &[(
            "    app: web\n",
            "    app: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
        )],
        Validate,
        "metadata.labels[app]",
        6,
    ),
    case(
        "label key with a space",
        POD,
        &[("    app: web\n", "    \"my app\": web\n")],
        Validate,
        "metadata.labels",
        5,
    ),
    case(
        "annotation key with two slashes",
        POD,
        &[("    team: shop", "    a/b/c: shop")],
        Validate,
        "metadata.annotations",
        7,
    ),
    case(
        "negative grace period",
        POD,
        &[(
            "terminationGracePeriodSeconds: 30",
            "terminationGracePeriodSeconds: -5",
        )],
        Validate,
        "spec.terminationGracePeriodSeconds",
        11,
    ),
    case(
        "volume mount of an undeclared volume",
        POD,
        &[(
            "    - name: data\n      mountPath",
            "    - name: cache\n      mountPath",
        )],
        Validate,
        "spec.containers[0].volumeMounts[0].name",
        19,
    ),
    case(
        "negative backoffLimit",
        JOB,
        &[("backoffLimit: 4", "backoffLimit: -1")],
        Validate,
        "spec.backoffLimit",
        6,
    ),
    case(
        "malformed cron schedule",
        CRONJOB,
        &[("\"0 3 * * *\"", "\"0 3 * *\"")],
        Validate,
        "spec.schedule",
        6,
    ),
    case(
        "configmap key with a space",
        CONFIGMAP,
        &[("  level: high", "  my level: high")],
        Validate,
        "data[my level]",
        6,
    ),
    case(
        "unknown field (strict)",
        POD,
        &[(
            "    image: nginx:1.27\n",
            "    image: nginx:1.27\n    colour: blue\n",
        )],
        Load,
        "spec.containers[0].colour",
        15,
    ),
    case(
        "replicas as a word",
        DEPLOYMENT,
        &[("replicas: 2", "replicas: two")],
        Load,
        "spec.replicas",
        6,
    ),
];

/// The first error `text` gives, and the phase it came from.
fn first_error(text: &str) -> Result<(Phase, ManifestError), String> {
    let mut results = Loader::new(Scheme::builtin()).load_str(text);
    if results.len() != 1 {
        return Err(format!("{} objects", results.len()));
    }
    match results.remove(0) {
        Err(e) => Ok((Load, e)),
        Ok(mut loaded) => match loaded.default_and_validate() {
            Ok(()) => Err("accepted".to_string()),
            Err(mut errors) => Ok((Validate, errors.remove(0))),
        },
    }
}

#[test]
fn the_bases_are_valid() {
    for base in [POD, DEPLOYMENT, SERVICE, JOB, CRONJOB, CONFIGMAP, NAMESPACE] {
        let mut loaded = Loader::new(Scheme::builtin())
            .load_all(base)
            .unwrap()
            .remove(0);
        loaded
            .default_and_validate()
            .unwrap_or_else(|e| panic!("{e:?}\n{base}"));
    }
}

#[test]
fn each_invalid_manifest_names_its_field_and_line() {
    assert!(CASES.len() >= 25);
    let mut failures = Vec::new();
    for c in CASES {
        let mut text = c.base.to_string();
        for (old, new) in c.edits {
            assert!(text.contains(old), "{}: {old:?} is not in the base", c.name);
            text = text.replacen(old, new, 1);
        }
        match first_error(&text) {
            Err(what) => failures.push(format!("{}: {what}", c.name)),
            Ok((phase, e)) => {
                let got = (phase, e.field.as_str(), e.line);
                if got != (c.phase, c.field, c.line) {
                    failures.push(format!(
                        "{}: expected {:?} {} line {}, got {phase:?} {} line {} ({e})",
                        c.name, c.phase, c.field, c.line, e.field, e.line
                    ));
                }
                if phase == Validate && !matches!(*e.kind, ManifestErrorKind::Invalid(_)) {
                    failures.push(format!("{}: {:?}", c.name, e.kind));
                }
                if !e.to_string().contains(c.field) {
                    failures.push(format!(
                        "{}: the message does not name the field: {e}",
                        c.name
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
