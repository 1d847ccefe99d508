//! Defaulting of pods and pod templates, as Kubernetes' `SetDefaults_*`
//! functions do it.
//!
//! [`default_pod_spec`] fills what every pod spec gets (also inside
//! workload templates); [`default_pod`] adds what only a Pod object gets:
//! requests copied from limits, `enableServiceLinks`, host-network ports and
//! the priority a priority admission would set.
use super::{
    Container, EnvVar, HttpGetAction, LifecycleHandler, Pod, PodSecurityContext, PodSpec,
    PodTemplateSpec, Probe, Volume, DEFAULT_SCHEDULER_NAME,
    DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS, DEFAULT_VOLUME_MODE, DNS_CLUSTER_FIRST, PROTOCOL_TCP,
    PULL_ALWAYS, PULL_IF_NOT_PRESENT, RESTART_ALWAYS, TERMINATION_MESSAGE_PATH_DEFAULT,
    TERMINATION_MESSAGE_READ_FILE,
};
use crate::api::Str;

/// Defaults a Pod: [`default_pod_spec`], then the Pod-only defaults.
pub fn default_pod(pod: &mut Pod) {
    let spec = &mut pod.spec;
    default_pod_spec(spec);
    // Requests default to limits only on Pods, never on templates, so a
    // template change does not look like a request change.
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut())
    {
        let resources = &mut c.resources;
        for (name, limit) in resources.limits.iter() {
            if !resources.requests.contains_key(name) {
                resources.requests.insert(name, limit.clone());
            }
        }
    }
    if spec.enable_service_links.is_none() {
        spec.enable_service_links = Some(true);
    }
    if spec.host_network {
        for c in spec
            .containers
            .iter_mut()
            .chain(spec.init_containers.iter_mut())
        {
            for p in &mut c.ports {
                if p.host_port == 0 {
                    p.host_port = p.container_port;
                }
            }
        }
    }
    // What the Priority admission plugin does when there is no class and no
    // global default class.
    if spec.priority.is_none() && spec.priority_class_name.is_empty() {
        spec.priority = Some(0);
    }
}

/// Defaults a pod template: its spec.
pub fn default_pod_template_spec(template: &mut PodTemplateSpec) {
    default_pod_spec(&mut template.spec);
}

/// Defaults a pod spec (`SetDefaults_PodSpec` and everything nested in it):
/// `restartPolicy: Always`, `dnsPolicy: ClusterFirst`, `schedulerName`,
/// grace period 30 s, an empty security context, and the container, probe
/// and volume defaults.
pub fn default_pod_spec(spec: &mut PodSpec) {
    if spec.dns_policy.is_empty() {
        spec.dns_policy = Str::from_static(DNS_CLUSTER_FIRST);
    }
    if spec.restart_policy.is_empty() {
        spec.restart_policy = Str::from_static(RESTART_ALWAYS);
    }
    if spec.security_context.is_none() {
        spec.security_context = Some(Box::new(PodSecurityContext::default()));
    }
    if spec.termination_grace_period_seconds.is_none() {
        spec.termination_grace_period_seconds = Some(DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS);
    }
    if spec.scheduler_name.is_empty() {
        spec.scheduler_name = Str::from_static(DEFAULT_SCHEDULER_NAME);
    }
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut())
    {
        default_container(c);
    }
    for c in &mut spec.ephemeral_containers {
        default_container_fields(
            &c.image,
            &mut c.image_pull_policy,
            &mut c.termination_message_path,
            &mut c.termination_message_policy,
        );
        for p in &mut c.ports {
            if p.protocol.is_empty() {
                p.protocol = Str::from_static(PROTOCOL_TCP);
            }
        }
        default_env(&mut c.env);
    }
    for v in &mut spec.volumes {
        default_volume(v);
    }
}

/// Defaults one container: pull policy from the image tag, termination
/// message path and policy, port protocols, probes, hooks, env field refs.
pub fn default_container(c: &mut Container) {
    default_container_fields(
        &c.image,
        &mut c.image_pull_policy,
        &mut c.termination_message_path,
        &mut c.termination_message_policy,
    );
    for p in &mut c.ports {
        if p.protocol.is_empty() {
            p.protocol = Str::from_static(PROTOCOL_TCP);
        }
    }
    for probe in [
        &mut c.liveness_probe,
        &mut c.readiness_probe,
        &mut c.startup_probe,
    ]
    .into_iter()
    .flatten()
    {
        default_probe(probe);
    }
    if let Some(lifecycle) = &mut c.lifecycle {
        for h in [&mut lifecycle.post_start, &mut lifecycle.pre_stop]
            .into_iter()
            .flatten()
        {
            default_handler(h);
        }
    }
    default_env(&mut c.env);
}

fn default_container_fields(
    image: &str,
    pull_policy: &mut Str,
    message_path: &mut Str,
    message_policy: &mut Str,
) {
    if pull_policy.is_empty() {
        *pull_policy = Str::from_static(default_pull_policy(image));
    }
    if message_path.is_empty() {
        *message_path = Str::from_static(TERMINATION_MESSAGE_PATH_DEFAULT);
    }
    if message_policy.is_empty() {
        *message_policy = Str::from_static(TERMINATION_MESSAGE_READ_FILE);
    }
}

/// The pull policy Kubernetes picks for `image`: `Always` for `:latest` or
/// an untagged image, `IfNotPresent` for any other tag or a digest.
pub fn default_pull_policy(image: &str) -> &'static str {
    if image.contains('@') {
        return PULL_IF_NOT_PRESENT;
    }
    // The tag follows the last ':' after the last '/' (a ':' before it is a
    // registry port).
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, tag)) if tag != "latest" => PULL_IF_NOT_PRESENT,
        _ => PULL_ALWAYS,
    }
}

fn default_env(env: &mut [EnvVar]) {
    for e in env {
        if let Some(field) = e.value_from.as_mut().and_then(|v| v.field_ref.as_mut()) {
            if field.api_version.is_empty() {
                field.api_version = Str::from_static("v1");
            }
        }
    }
}

/// Defaults a probe: timeout 1 s, period 10 s, success 1, failure 3, and its
/// handler.
pub fn default_probe(p: &mut Probe) {
    if p.timeout_seconds == 0 {
        p.timeout_seconds = 1;
    }
    if p.period_seconds == 0 {
        p.period_seconds = 10;
    }
    if p.success_threshold == 0 {
        p.success_threshold = 1;
    }
    if p.failure_threshold == 0 {
        p.failure_threshold = 3;
    }
    if let Some(h) = &mut p.http_get {
        default_http_get(h);
    }
    if let Some(g) = &mut p.grpc {
        if g.service.is_none() {
            g.service = Some(Str::EMPTY);
        }
    }
}

fn default_handler(h: &mut LifecycleHandler) {
    if let Some(get) = &mut h.http_get {
        default_http_get(get);
    }
}

fn default_http_get(h: &mut HttpGetAction) {
    if h.path.is_empty() {
        h.path = Str::from_static("/");
    }
    if h.scheme.is_empty() {
        h.scheme = Str::from_static("HTTP");
    }
}

/// Defaults a volume: a volume without a source is an `emptyDir`; file modes
/// of ConfigMap, Secret, downward API and projected volumes default to
/// `0644`; a `hostPath` type to `""`; token projections to one hour.
pub fn default_volume(v: &mut Volume) {
    if v.source_count() == 0 {
        v.empty_dir = Some(Box::default());
    }
    if let Some(s) = &mut v.config_map {
        s.default_mode.get_or_insert(DEFAULT_VOLUME_MODE);
    }
    if let Some(s) = &mut v.secret {
        s.default_mode.get_or_insert(DEFAULT_VOLUME_MODE);
    }
    if let Some(s) = &mut v.downward_api {
        s.default_mode.get_or_insert(DEFAULT_VOLUME_MODE);
        for item in &mut s.items {
            if let Some(f) = &mut item.field_ref {
                if f.api_version.is_empty() {
                    f.api_version = Str::from_static("v1");
                }
            }
        }
    }
    if let Some(s) = &mut v.projected {
        s.default_mode.get_or_insert(DEFAULT_VOLUME_MODE);
        for source in &mut s.sources {
            if let Some(t) = &mut source.service_account_token {
                t.expiration_seconds.get_or_insert(3600);
            }
            if let Some(d) = &mut source.downward_api {
                for item in &mut d.items {
                    if let Some(f) = &mut item.field_ref {
                        if f.api_version.is_empty() {
                            f.api_version = Str::from_static("v1");
                        }
                    }
                }
            }
        }
    }
    if let Some(s) = &mut v.host_path {
        s.type_.get_or_insert(Str::EMPTY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Resource;
    use serde_json::json;

    #[test]
    fn pull_policy_follows_the_tag() {
        for (image, want) in [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.27", "IfNotPresent"),
            ("registry.local:5000/nginx", "Always"),
            ("registry.local:5000/nginx:1.27", "IfNotPresent"),
            ("registry.local:5000/team/nginx:latest", "Always"),
            ("nginx@sha256:0123abcd", "IfNotPresent"),
            ("nginx:1.27@sha256:0123abcd", "IfNotPresent"),
            ("", "Always"),
        ] {
            assert_eq!(default_pull_policy(image), want, "{image}");
        }
    }

    #[test]
    fn pod_defaults_match_kubernetes() {
        let mut pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web"},
            "spec": {
                "containers": [{
                    "name": "web", "image": "nginx:1.27",
                    "ports": [{"containerPort": 80}],
                    "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                    "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}},
                    "livenessProbe": {"httpGet": {"port": 80}},
                    "readinessProbe": {"grpc": {"port": 9000}, "periodSeconds": 3},
                    "lifecycle": {"preStop": {"httpGet": {"port": 80}}}
                }],
                "initContainers": [{"name": "init", "image": "busybox"}],
                "volumes": [
                    {"name": "a", "configMap": {"name": "c"}},
                    {"name": "b", "secret": {"secretName": "s", "defaultMode": 256}},
                    {"name": "c", "hostPath": {"path": "/tmp"}},
                    {"name": "d"},
                    {"name": "e", "downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                    {"name": "f", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}
                ]
            }
        }))
        .unwrap();
        pod.apply_defaults();
        let got = serde_json::to_value(&pod).unwrap();
        let want = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web"},
            "spec": {
                "volumes": [
                    {"name": "a", "configMap": {"name": "c", "defaultMode": 420}},
                    {"name": "b", "secret": {"secretName": "s", "defaultMode": 256}},
                    {"name": "c", "hostPath": {"path": "/tmp", "type": ""}},
                    {"name": "d", "emptyDir": {}},
                    {"name": "e", "downwardAPI": {"items": [{"path": "n", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}], "defaultMode": 420}},
                    {"name": "f", "projected": {"sources": [{"serviceAccountToken": {"expirationSeconds": 3600, "path": "token"}}], "defaultMode": 420}}
                ],
                "initContainers": [{
                    "name": "init", "image": "busybox",
                    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "imagePullPolicy": "Always"
                }],
                "containers": [{
                    "name": "web", "image": "nginx:1.27",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}}],
                    "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}},
                    "livenessProbe": {"httpGet": {"path": "/", "port": 80, "scheme": "HTTP"},
                                      "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
                    "readinessProbe": {"grpc": {"port": 9000, "service": ""},
                                       "timeoutSeconds": 1, "periodSeconds": 3, "successThreshold": 1, "failureThreshold": 3},
                    "lifecycle": {"preStop": {"httpGet": {"path": "/", "port": 80, "scheme": "HTTP"}}},
                    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"
                }],
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 30,
                "dnsPolicy": "ClusterFirst",
                "securityContext": {},
                "schedulerName": "default-scheduler",
                "priority": 0,
                "enableServiceLinks": true
            }
        });
        assert_eq!(got, want);
        // Defaulting is idempotent.
        let mut again = pod.clone();
        again.apply_defaults();
        assert_eq!(again, pod);
        assert!(pod.validate().is_empty(), "{}", pod.validate());
    }

    #[test]
    fn templates_do_not_get_pod_only_defaults() {
        let mut t = PodTemplateSpec::default();
        let mut c = Container::new("a", "nginx");
        c.resources
            .limits
            .insert("cpu", crate::api::Quantity::from("1"));
        t.spec.containers.push(c);
        default_pod_template_spec(&mut t);
        assert!(t.spec.containers[0].resources.requests.is_empty());
        assert_eq!(t.spec.enable_service_links, None);
        assert_eq!(t.spec.priority, None);
        assert_eq!(t.spec.restart_policy, "Always");
        assert_eq!(t.spec.containers[0].image_pull_policy, "Always");
    }

    #[test]
    fn host_network_pods_get_host_ports_and_explicit_values_stay() {
        let mut pod = Pod::default();
        pod.spec.host_network = true;
        pod.spec.restart_policy = "Never".into();
        pod.spec.termination_grace_period_seconds = Some(0);
        pod.spec.priority_class_name = "high".into();
        let mut c = Container::new("a", "nginx");
        c.image_pull_policy = "Never".into();
        c.ports.push(crate::api::core::ContainerPort {
            container_port: 8080,
            protocol: "UDP".into(),
            ..Default::default()
        });
        pod.spec.containers.push(c);
        pod.apply_defaults();
        let c = &pod.spec.containers[0];
        assert_eq!(c.ports[0].host_port, 8080);
        assert_eq!(c.ports[0].protocol, "UDP");
        assert_eq!(c.image_pull_policy, "Never");
        assert_eq!(pod.spec.restart_policy, "Never");
        assert_eq!(pod.spec.termination_grace_period_seconds, Some(0));
        assert_eq!(pod.spec.priority, None, "the class decides the priority");
    }
}
