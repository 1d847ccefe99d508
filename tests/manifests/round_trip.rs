//! JSON round trip of every built-in kind: a realistic object decoded with
//! serde_json into its typed value and encoded again equals the input
//! (Kubernetes' field names, empty fields omitted, nothing lost).
use keelson::api::{
    apiextensions, apps, autoscaling, batch, coordination, core, discovery, networking, policy,
    rbac, scheduling, storage, Resource, Scheme,
};
use serde_json::Value;

/// Decodes `input` as `K`, encodes it, and returns the encoding.
fn through<K: Resource>(input: &Value) -> Result<Value, String> {
    let typed: K = serde_json::from_value(input.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(&typed).map_err(|e| e.to_string())
}

type Through = fn(&Value) -> Result<Value, String>;

/// The first path where `a` and `b` differ.
fn difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                match y.get(k) {
                    Some(w) => {
                        if let Some(d) = difference(v, w, &format!("{path}.{k}")) {
                            return Some(d);
                        }
                    }
                    None => return Some(format!("{path}.{k}: lost ({v})")),
                }
            }
            y.keys()
                .find(|k| !x.contains_key(*k))
                .map(|k| format!("{path}.{k}: added ({})", y[k]))
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (v, w))| difference(v, w, &format!("{path}[{i}]"))),
        _ if a == b => None,
        _ => Some(format!("{path}: {a} became {b}")),
    }
}

const SAMPLES: &[(Through, &str)] = &[
    (
        through::<core::Pod>,
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-0","generateName":"web-","namespace":"shop",
          "uid":"6f1c7c3e-8a53-4d1e-9a0e-3e2f2b9c1a10","resourceVersion":"4711","creationTimestamp":"2024-04-01T10:00:00Z",
          "labels":{"app":"web"},"annotations":{"note":"x"},
          "ownerReferences":[{"apiVersion":"apps/v1","kind":"StatefulSet","name":"web","uid":"1b2c","controller":true,"blockOwnerDeletion":true}],
          "finalizers":["example.com/keep"]},
         "spec":{"initContainers":[{"name":"init","image":"busybox:1.36","command":["sh","-c","true"]}],
          "containers":[{"name":"nginx","image":"nginx:1.27","imagePullPolicy":"IfNotPresent",
            "ports":[{"name":"http","containerPort":80,"protocol":"TCP"}],
            "env":[{"name":"A","value":"1"},{"name":"POD","valueFrom":{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.name"}}},
                   {"name":"PW","valueFrom":{"secretKeyRef":{"name":"s","key":"password"}}}],
            "envFrom":[{"prefix":"CFG_","configMapRef":{"name":"c"}}],
            "resources":{"requests":{"cpu":"100m","memory":"128Mi"},"limits":{"cpu":"500m","memory":"256Mi"}},
            "volumeMounts":[{"name":"data","mountPath":"/data","readOnly":true}],
            "livenessProbe":{"httpGet":{"path":"/healthz","port":8080,"scheme":"HTTP"},"initialDelaySeconds":5,"periodSeconds":10},
            "readinessProbe":{"tcpSocket":{"port":"http"}},
            "lifecycle":{"preStop":{"exec":{"command":["sleep","5"]}}},
            "securityContext":{"runAsUser":1000,"readOnlyRootFilesystem":true}}],
          "volumes":[{"name":"data","persistentVolumeClaim":{"claimName":"data-web-0"}},{"name":"tmp","emptyDir":{}}],
          "restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst",
          "nodeSelector":{"disk":"ssd"},"serviceAccountName":"web","nodeName":"node-1","hostname":"web-0","subdomain":"web",
          "schedulerName":"default-scheduler","priority":0,
          "tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]},
         "status":{"phase":"Running","conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2024-04-01T10:00:05Z"}],
          "hostIP":"172.18.0.2","podIP":"10.244.1.5","podIPs":[{"ip":"10.244.1.5"}],"startTime":"2024-04-01T10:00:00Z",
          "containerStatuses":[{"name":"nginx","ready":true,"restartCount":0,"image":"nginx:1.27","imageID":"docker.io/library/nginx@sha256:abc",
            "containerID":"containerd://abc","started":true,"state":{"running":{"startedAt":"2024-04-01T10:00:03Z"}}}],
          "qosClass":"Burstable"}}"#,
    ),
    (
        through::<core::PodTemplate>,
        r#"{"apiVersion":"v1","kind":"PodTemplate","metadata":{"name":"t"},
         "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}"#,
    ),
    (
        through::<core::Binding>,
        r#"{"apiVersion":"v1","kind":"Binding","metadata":{"name":"web-0","namespace":"shop"},
         "target":{"apiVersion":"v1","kind":"Node","name":"node-1"}}"#,
    ),
    (
        through::<core::Node>,
        r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-1","labels":{"kubernetes.io/hostname":"node-1"}},
         "spec":{"podCIDR":"10.244.1.0/24","podCIDRs":["10.244.1.0/24"],"taints":[{"key":"dedicated","value":"gpu","effect":"NoSchedule"}]},
         "status":{"capacity":{"cpu":"8","memory":"32Gi","pods":"110"},"allocatable":{"cpu":"7800m","memory":"31Gi","pods":"110"},
          "conditions":[{"type":"Ready","status":"True","lastHeartbeatTime":"2024-04-01T10:00:00Z","reason":"KubeletReady"}],
          "addresses":[{"type":"InternalIP","address":"172.18.0.2"},{"type":"Hostname","address":"node-1"}],
          "daemonEndpoints":{"kubeletEndpoint":{"Port":10250}},
          "nodeInfo":{"machineID":"m","systemUUID":"u","bootID":"b","kernelVersion":"6.1.0","osImage":"Debian GNU/Linux 12",
            "containerRuntimeVersion":"containerd://1.7.0","kubeletVersion":"v1.32.0","kubeProxyVersion":"v1.32.0",
            "operatingSystem":"linux","architecture":"amd64"}}}"#,
    ),
    (
        through::<core::Service>,
        r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"kubia-nodeport","namespace":"default"},
         "spec":{"type":"NodePort","selector":{"app":"kubia"},"clusterIP":"10.96.12.7","clusterIPs":["10.96.12.7"],
          "ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":8080,"nodePort":30123}],
          "sessionAffinity":"None","externalTrafficPolicy":"Cluster","ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack"}}"#,
    ),
    (
        through::<core::Endpoints>,
        r#"{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"kubia"},
         "subsets":[{"addresses":[{"ip":"10.244.1.5","nodeName":"node-1","targetRef":{"kind":"Pod","namespace":"default","name":"kubia-x"}}],
          "ports":[{"name":"http","port":8080,"protocol":"TCP"}]}]}"#,
    ),
    (
        through::<core::Namespace>,
        r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop","labels":{"kubernetes.io/metadata.name":"shop"}},
         "spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}}"#,
    ),
    (
        through::<core::ConfigMap>,
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"myconfig"},
         "data":{"special.level":"very","app.properties":"a=1\nb=2\n"},"binaryData":{"logo.png":"iVBORw0K"}}"#,
    ),
    (
        through::<core::Secret>,
        r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"mysecret"},"type":"Opaque",
         "data":{"username":"YWRtaW4=","password":"MWYyZDFlMmU2N2Rm"}}"#,
    ),
    (
        through::<core::ServiceAccount>,
        r#"{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"web","namespace":"shop"},
         "imagePullSecrets":[{"name":"registry"}],"automountServiceAccountToken":false}"#,
    ),
    (
        through::<core::PersistentVolume>,
        r#"{"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"mongodb-pv"},
         "spec":{"capacity":{"storage":"1Gi"},"accessModes":["ReadWriteOnce","ReadOnlyMany"],
          "persistentVolumeReclaimPolicy":"Retain","hostPath":{"path":"/tmp/mongodb"},"storageClassName":"manual",
          "volumeMode":"Filesystem","claimRef":{"kind":"PersistentVolumeClaim","namespace":"default","name":"mongodb-pvc"}},
         "status":{"phase":"Bound"}}"#,
    ),
    (
        through::<core::PersistentVolumeClaim>,
        r#"{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"mongodb-pvc"},
         "spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}},"storageClassName":"",
          "volumeName":"mongodb-pv","volumeMode":"Filesystem"},
         "status":{"phase":"Bound","accessModes":["ReadWriteOnce"],"capacity":{"storage":"1Gi"}}}"#,
    ),
    (
        through::<core::Event>,
        r#"{"apiVersion":"v1","kind":"Event","metadata":{"name":"web-0.17a","namespace":"shop"},
         "involvedObject":{"apiVersion":"v1","kind":"Pod","namespace":"shop","name":"web-0","uid":"6f1c","fieldPath":"spec.containers{nginx}"},
         "reason":"Pulled","message":"Successfully pulled image","source":{"component":"kubelet","host":"node-1"},
         "firstTimestamp":"2024-04-01T10:00:01Z","lastTimestamp":"2024-04-01T10:00:02Z","count":1,"type":"Normal",
         "reportingComponent":"kubelet","reportingInstance":"node-1"}"#,
    ),
    (
        through::<core::LimitRange>,
        r#"{"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"limits"},
         "spec":{"limits":[{"type":"Container","max":{"cpu":"2","memory":"1Gi"},"min":{"cpu":"10m"},
          "default":{"cpu":"500m"},"defaultRequest":{"cpu":"100m"}}]}}"#,
    ),
    (
        through::<core::ResourceQuota>,
        r#"{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"quota"},
         "spec":{"hard":{"pods":"10","requests.cpu":"4","limits.memory":"8Gi"}},
         "status":{"hard":{"pods":"10"},"used":{"pods":"3"}}}"#,
    ),
    (
        through::<apps::Deployment>,
        r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"kubia","generation":3,"labels":{"app":"kubia"}},
         "spec":{"replicas":3,"selector":{"matchLabels":{"app":"kubia"}},
          "template":{"metadata":{"labels":{"app":"kubia"}},"spec":{"containers":[{"name":"nodejs","image":"luksa/kubia:v1"}]}},
          "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":0,"maxSurge":"25%"}},
          "minReadySeconds":10,"revisionHistoryLimit":10,"progressDeadlineSeconds":600},
         "status":{"observedGeneration":3,"replicas":3,"updatedReplicas":3,"readyReplicas":3,"availableReplicas":3,
          "conditions":[{"type":"Available","status":"True","lastUpdateTime":"2024-04-01T10:00:00Z",
            "lastTransitionTime":"2024-04-01T10:00:00Z","reason":"MinimumReplicasAvailable","message":"ok"}]}}"#,
    ),
    (
        through::<apps::ReplicaSet>,
        r#"{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"kubia"},
         "spec":{"replicas":3,"selector":{"matchExpressions":[{"key":"app","operator":"In","values":["kubia"]}]},
          "template":{"metadata":{"labels":{"app":"kubia"}},"spec":{"containers":[{"name":"kubia","image":"luksa/kubia"}]}}},
         "status":{"replicas":3,"fullyLabeledReplicas":3,"readyReplicas":2,"availableReplicas":2,"observedGeneration":1}}"#,
    ),
    (
        through::<apps::DaemonSet>,
        r#"{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"ssd-monitor"},
         "spec":{"selector":{"matchLabels":{"app":"ssd-monitor"}},
          "template":{"metadata":{"labels":{"app":"ssd-monitor"}},
            "spec":{"nodeSelector":{"disk":"ssd"},"containers":[{"name":"main","image":"luksa/ssd-monitor"}]}},
          "updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":1,"maxSurge":0}},"revisionHistoryLimit":10},
         "status":{"currentNumberScheduled":2,"numberMisscheduled":0,"desiredNumberScheduled":2,"numberReady":2,"observedGeneration":1}}"#,
    ),
    (
        through::<apps::StatefulSet>,
        r#"{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"kubia"},
         "spec":{"serviceName":"kubia","replicas":2,"selector":{"matchLabels":{"app":"kubia"}},
          "template":{"metadata":{"labels":{"app":"kubia"}},"spec":{"containers":[{"name":"kubia","image":"luksa/kubia-pet",
            "ports":[{"name":"http","containerPort":8080}],"volumeMounts":[{"name":"data","mountPath":"/var/data"}]}]}},
          "volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Mi"}}}}],
          "podManagementPolicy":"OrderedReady","updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":0}}},
         "status":{"replicas":2,"readyReplicas":2,"currentReplicas":2,"updatedReplicas":2,"availableReplicas":2,"currentRevision":"kubia-5d","updateRevision":"kubia-5d"}}"#,
    ),
    (
        through::<apps::ControllerRevision>,
        r#"{"apiVersion":"apps/v1","kind":"ControllerRevision","metadata":{"name":"kubia-5d"},
         "data":{"spec":{"template":{"spec":{"containers":[{"name":"kubia","image":"luksa/kubia-pet"}]}}}},"revision":1}"#,
    ),
    (
        through::<batch::Job>,
        r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"batch-job"},
         "spec":{"completions":5,"parallelism":2,"backoffLimit":6,"activeDeadlineSeconds":600,"ttlSecondsAfterFinished":100,
          "template":{"metadata":{"labels":{"app":"batch-job"}},
            "spec":{"restartPolicy":"OnFailure","containers":[{"name":"main","image":"luksa/batch-job"}]}}},
         "status":{"active":1,"succeeded":2,"startTime":"2024-04-01T10:00:00Z"}}"#,
    ),
    (
        through::<batch::CronJob>,
        r#"{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"cron-job"},
         "spec":{"schedule":"0,15,30,45 * * * *","concurrencyPolicy":"Forbid","startingDeadlineSeconds":15,
          "successfulJobsHistoryLimit":3,"failedJobsHistoryLimit":1,"suspend":false,
          "jobTemplate":{"spec":{"template":{"metadata":{"labels":{"app":"batch-job"}},
            "spec":{"restartPolicy":"OnFailure","containers":[{"name":"main","image":"luksa/batch-job"}]}}}}},
         "status":{"lastScheduleTime":"2024-04-01T10:00:00Z"}}"#,
    ),
    (
        through::<discovery::EndpointSlice>,
        r#"{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"kubia-abc","labels":{"kubernetes.io/service-name":"kubia"}},
         "addressType":"IPv4","endpoints":[{"addresses":["10.244.1.5"],"conditions":{"ready":true,"serving":true,"terminating":false},
          "nodeName":"node-1","targetRef":{"kind":"Pod","name":"kubia-x","namespace":"default"}}],
         "ports":[{"name":"http","protocol":"TCP","port":8080}]}"#,
    ),
    (
        through::<coordination::Lease>,
        r#"{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"node-1","namespace":"kube-node-lease"},
         "spec":{"holderIdentity":"node-1","leaseDurationSeconds":40,"acquireTime":"2024-04-01T10:00:00.000000Z",
          "renewTime":"2024-04-01T10:00:10.123456Z","leaseTransitions":2}}"#,
    ),
    (
        through::<rbac::Role>,
        r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"pod-reader","namespace":"shop"},
         "rules":[{"apiGroups":[""],"resources":["pods","pods/log"],"verbs":["get","list","watch"]},
          {"apiGroups":["apps"],"resources":["deployments"],"resourceNames":["web"],"verbs":["patch"]}]}"#,
    ),
    (
        through::<rbac::ClusterRole>,
        r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"monitoring"},
         "rules":[{"nonResourceURLs":["/metrics"],"verbs":["get"]}],
         "aggregationRule":{"clusterRoleSelectors":[{"matchLabels":{"rbac.example.com/aggregate-to-monitoring":"true"}}]}}"#,
    ),
    (
        through::<rbac::RoleBinding>,
        r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"read-pods","namespace":"shop"},
         "subjects":[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"jane"},{"kind":"ServiceAccount","name":"web","namespace":"shop"}],
         "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"pod-reader"}}"#,
    ),
    (
        through::<rbac::ClusterRoleBinding>,
        r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"monitoring"},
         "subjects":[{"kind":"Group","apiGroup":"rbac.authorization.k8s.io","name":"ops"}],
         "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"monitoring"}}"#,
    ),
    (
        through::<networking::Ingress>,
        r#"{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"example-ingress"},
         "spec":{"ingressClassName":"nginx","tls":[{"hosts":["example.ingressdemo.com"],"secretName":"tls"}],
          "rules":[{"host":"example.ingressdemo.com","http":{"paths":[{"path":"/","pathType":"Prefix",
            "backend":{"service":{"name":"web","port":{"number":80}}}}]}}]},
         "status":{"loadBalancer":{"ingress":[{"ip":"198.51.100.1"}]}}}"#,
    ),
    (
        through::<networking::IngressClass>,
        r#"{"apiVersion":"networking.k8s.io/v1","kind":"IngressClass","metadata":{"name":"nginx",
          "annotations":{"ingressclass.kubernetes.io/is-default-class":"true"}},
         "spec":{"controller":"k8s.io/ingress-nginx"}}"#,
    ),
    (
        through::<networking::NetworkPolicy>,
        r#"{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"postgres-netpolicy"},
         "spec":{"podSelector":{"matchLabels":{"app":"database"}},"policyTypes":["Ingress","Egress"],
          "ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"webserver"}}},{"ipBlock":{"cidr":"10.0.0.0/8","except":["10.1.0.0/16"]}}],
            "ports":[{"protocol":"TCP","port":5432}]}],
          "egress":[{"to":[{"namespaceSelector":{"matchLabels":{"team":"db"}}}],"ports":[{"protocol":"UDP","port":53,"endPort":60}]}]}}"#,
    ),
    (
        through::<autoscaling::v2::HorizontalPodAutoscaler>,
        r#"{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"web"},
         "spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"web"},"minReplicas":2,"maxReplicas":10,
          "metrics":[{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":60}}}],
          "behavior":{"scaleDown":{"stabilizationWindowSeconds":300,"policies":[{"type":"Pods","value":1,"periodSeconds":60}]}}},
         "status":{"currentReplicas":3,"desiredReplicas":3,
          "currentMetrics":[{"type":"Resource","resource":{"name":"cpu","current":{"averageUtilization":40,"averageValue":"200m"}}}]}}"#,
    ),
    (
        through::<autoscaling::v1::HorizontalPodAutoscaler>,
        r#"{"apiVersion":"autoscaling/v1","kind":"HorizontalPodAutoscaler","metadata":{"name":"web"},
         "spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"web"},"minReplicas":1,"maxReplicas":5,
          "targetCPUUtilizationPercentage":80},
         "status":{"currentReplicas":1,"desiredReplicas":1,"currentCPUUtilizationPercentage":12}}"#,
    ),
    (
        through::<storage::StorageClass>,
        r#"{"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"fast"},
         "provisioner":"k8s.io/minikube-hostpath","parameters":{"type":"pd-ssd"},"reclaimPolicy":"Delete",
         "volumeBindingMode":"WaitForFirstConsumer","allowVolumeExpansion":true,"mountOptions":["noatime"]}"#,
    ),
    (
        through::<scheduling::PriorityClass>,
        r#"{"apiVersion":"scheduling.k8s.io/v1","kind":"PriorityClass","metadata":{"name":"high-priority"},
         "value":1000000,"description":"for web pods","preemptionPolicy":"PreemptLowerPriority"}"#,
    ),
    (
        through::<policy::PodDisruptionBudget>,
        r#"{"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"web"},
         "spec":{"minAvailable":"50%","selector":{"matchLabels":{"app":"web"}},"unhealthyPodEvictionPolicy":"AlwaysAllow"},
         "status":{"currentHealthy":3,"desiredHealthy":2,"disruptionsAllowed":1,"expectedPods":3,"observedGeneration":1}}"#,
    ),
    (
        through::<policy::Eviction>,
        r#"{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"web-0","namespace":"shop"},
         "deleteOptions":{"gracePeriodSeconds":30}}"#,
    ),
    (
        through::<apiextensions::CustomResourceDefinition>,
        r#"{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"websites.extensions.example.com"},
         "spec":{"group":"extensions.example.com","scope":"Namespaced",
          "names":{"kind":"Website","singular":"website","plural":"websites","listKind":"WebsiteList","shortNames":["ws"]},
          "versions":[{"name":"v1","served":true,"storage":true,
            "schema":{"openAPIV3Schema":{"type":"object","properties":{"spec":{"type":"object",
              "properties":{"gitRepo":{"type":"string"}},"required":["gitRepo"]}}}},
            "subresources":{"status":{}},
            "additionalPrinterColumns":[{"name":"Repo","type":"string","jsonPath":".spec.gitRepo"}]}]},
         "status":{"acceptedNames":{"kind":"Website","plural":"websites"},"storedVersions":["v1"],
          "conditions":[{"type":"Established","status":"True","lastTransitionTime":"2024-04-01T10:00:00Z"}]}}"#,
    ),
];

#[test]
fn every_builtin_kind_round_trips() {
    let mut failures = Vec::new();
    for (through, text) in SAMPLES {
        let input: Value = serde_json::from_str(text).expect("the sample is JSON");
        let kind = input["kind"].as_str().unwrap_or("?").to_string();
        match through(&input) {
            Ok(output) => {
                if let Some(d) = difference(&input, &output, "") {
                    failures.push(format!("{kind}: {d}"));
                }
                assert_eq!(input == output, difference(&input, &output, "").is_none());
            }
            Err(e) => failures.push(format!("{kind}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The samples also decode through the scheme (so `apiVersion`/`kind` pick
/// the type the sample was checked with), and every kind of
/// `Scheme::builtin()` has a sample.
#[test]
fn every_builtin_kind_has_a_sample() {
    let scheme = Scheme::builtin();
    let mut covered = Vec::new();
    for (_, text) in SAMPLES {
        let decoded = scheme
            .decode(text.as_bytes(), keelson::api::FieldValidation::Strict)
            .unwrap_or_else(|e| panic!("{e}: {text}"));
        let tm = decoded.object.type_meta();
        covered.push((tm.api_version.to_string(), tm.kind.to_string()));
    }
    let missing: Vec<String> = scheme
        .kinds()
        .map(|k| {
            (
                k.resource.api_version.to_string(),
                k.resource.kind.to_string(),
            )
        })
        .filter(|(v, k)| !covered.iter().any(|(cv, ck)| cv == v && ck == k))
        .map(|(v, k)| format!("{v} {k}"))
        .collect();
    assert!(
        missing.is_empty(),
        "built-in kinds without a round-trip sample: {missing:?}"
    );
}
