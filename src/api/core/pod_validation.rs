//! Validation of pods and pod templates, following Kubernetes'
//! `ValidatePodSpec` for the mistakes users make: container names, images,
//! ports, environment, volumes and mounts, probes, resources, tolerations,
//! affinity, topology spread, DNS and host names.
//!
//! Fields that defaulting fills (`restartPolicy`, `dnsPolicy`, port
//! `protocol`, `imagePullPolicy`, ...) are accepted when empty, so a spec
//! validates the same before and after [`default_pod_spec`](super::default_pod_spec).
use std::cmp::Ordering;
use std::collections::HashSet;

use super::{
    Affinity, Container, EnvFromSource, EnvVar, EphemeralContainer, HttpGetAction,
    LifecycleHandler, NodeSelectorTerm, PodAffinityTerm, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, Toleration, TopologySpreadConstraint, Volume, VolumeMount,
};
use crate::api::validation::{
    is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_valid_label_value,
    validate_annotations, validate_labels, ErrorList, FieldError, Path,
};
use crate::api::{IntOrString, LabelSelector, ResourceList};

/// Validates a pod spec at `path` (`spec`, `spec.template.spec`, ...).
pub fn validate_pod_spec(spec: &PodSpec, path: &Path<'_>) -> ErrorList {
    let mut errors = ErrorList::new();
    let volumes = validate_volumes(&spec.volumes, &path.child("volumes"), &mut errors);

    // Container names are unique across all container lists.
    let mut names: HashSet<&str> = HashSet::new();
    let init_path = path.child("initContainers");
    for (i, c) in spec.init_containers.iter().enumerate() {
        let p = init_path.index(i);
        validate_container(c, &p, &volumes, spec.host_network, true, &mut errors);
        check_name_unique(&c.name, &p, &mut names, &mut errors);
    }
    let containers_path = path.child("containers");
    if spec.containers.is_empty() {
        errors.push(FieldError::required(&containers_path, ""));
    }
    for (i, c) in spec.containers.iter().enumerate() {
        let p = containers_path.index(i);
        validate_container(c, &p, &volumes, spec.host_network, false, &mut errors);
        check_name_unique(&c.name, &p, &mut names, &mut errors);
    }
    let ephemeral_path = path.child("ephemeralContainers");
    for (i, c) in spec.ephemeral_containers.iter().enumerate() {
        let p = ephemeral_path.index(i);
        validate_ephemeral_container(c, &p, &volumes, &mut errors);
        check_name_unique(&c.name, &p, &mut names, &mut errors);
    }

    one_of(
        &spec.restart_policy,
        &path.child("restartPolicy"),
        &["Always", "OnFailure", "Never"],
        &mut errors,
    );
    validate_dns(spec, path, &mut errors);
    errors.extend(validate_labels(
        &spec.node_selector,
        &path.child("nodeSelector"),
    ));
    for (field, value) in [
        ("serviceAccountName", &spec.service_account_name),
        ("nodeName", &spec.node_name),
        ("priorityClassName", &spec.priority_class_name),
    ] {
        if !value.is_empty() {
            invalid_all(
                &path.child(field),
                value,
                is_dns1123_subdomain(value),
                &mut errors,
            );
        }
    }
    for (field, value) in [("hostname", &spec.hostname), ("subdomain", &spec.subdomain)] {
        if !value.is_empty() {
            invalid_all(
                &path.child(field),
                value,
                is_dns1123_label(value),
                &mut errors,
            );
        }
    }
    if let Some(g) = spec.termination_grace_period_seconds {
        if g < 0 {
            errors.push(FieldError::invalid(
                &path.child("terminationGracePeriodSeconds"),
                g,
                "must be greater than or equal to 0",
            ));
        }
    }
    if let Some(d) = spec.active_deadline_seconds {
        if !(1..=i64::from(i32::MAX)).contains(&d) {
            errors.push(FieldError::invalid(
                &path.child("activeDeadlineSeconds"),
                d,
                "must be between 1 and 2147483647, inclusive",
            ));
        }
    }
    if spec.share_process_namespace == Some(true) && spec.host_pid {
        errors.push(FieldError::invalid(
            &path.child("shareProcessNamespace"),
            true,
            "ShareProcessNamespace and HostPID cannot both be enabled",
        ));
    }
    if let Some(policy) = &spec.preemption_policy {
        one_of(
            policy,
            &path.child("preemptionPolicy"),
            &["PreemptLowerPriority", "Never"],
            &mut errors,
        );
    }
    if let Some(os) = &spec.os {
        let p = path.child("os");
        if os.name.is_empty() {
            errors.push(FieldError::required(&p.child("name"), ""));
        } else {
            one_of(
                &os.name,
                &p.child("name"),
                &["linux", "windows"],
                &mut errors,
            );
        }
    }
    if let Some(sc) = &spec.security_context {
        let p = path.child("securityContext");
        for (field, value) in [
            ("runAsUser", sc.run_as_user),
            ("runAsGroup", sc.run_as_group),
            ("fsGroup", sc.fs_group),
        ] {
            if let Some(id) = value {
                check_id(id, &p.child(field), &mut errors);
            }
        }
        let groups = p.child("supplementalGroups");
        for (i, g) in sc.supplemental_groups.iter().enumerate() {
            check_id(*g, &groups.index(i), &mut errors);
        }
        if let Some(policy) = &sc.fs_group_change_policy {
            one_of(
                policy,
                &p.child("fsGroupChangePolicy"),
                &["OnRootMismatch", "Always"],
                &mut errors,
            );
        }
    }
    validate_tolerations(&spec.tolerations, &path.child("tolerations"), &mut errors);
    if let Some(affinity) = &spec.affinity {
        validate_affinity(affinity, &path.child("affinity"), &mut errors);
    }
    validate_topology_spread(
        &spec.topology_spread_constraints,
        &path.child("topologySpreadConstraints"),
        &mut errors,
    );
    let gates = path.child("readinessGates");
    for (i, g) in spec.readiness_gates.iter().enumerate() {
        let p = gates.index(i);
        invalid_all(
            &p.child("conditionType"),
            &g.condition_type,
            is_qualified_name(&g.condition_type),
            &mut errors,
        );
    }
    let gates = path.child("schedulingGates");
    let mut seen = HashSet::new();
    for (i, g) in spec.scheduling_gates.iter().enumerate() {
        let p = gates.index(i);
        invalid_all(&p, &g.name, is_qualified_name(&g.name), &mut errors);
        if !seen.insert(g.name.as_str()) {
            errors.push(FieldError::duplicate(&p, &g.name));
        }
    }
    let aliases = path.child("hostAliases");
    for (i, alias) in spec.host_aliases.iter().enumerate() {
        let p = aliases.index(i);
        if alias.ip.parse::<std::net::IpAddr>().is_err() {
            errors.push(FieldError::invalid(
                &p.child("ip"),
                &alias.ip,
                "must be a valid IP address",
            ));
        }
        let hostnames = p.child("hostnames");
        for (j, h) in alias.hostnames.iter().enumerate() {
            invalid_all(&hostnames.index(j), h, is_dns1123_subdomain(h), &mut errors);
        }
    }
    let claims = path.child("resourceClaims");
    let mut seen = HashSet::new();
    for (i, claim) in spec.resource_claims.iter().enumerate() {
        let p = claims.index(i);
        invalid_all(
            &p.child("name"),
            &claim.name,
            is_dns1123_label(&claim.name),
            &mut errors,
        );
        if !seen.insert(claim.name.as_str()) {
            errors.push(FieldError::duplicate(&p.child("name"), &claim.name));
        }
        match (
            &claim.resource_claim_name,
            &claim.resource_claim_template_name,
        ) {
            (Some(_), None) | (None, Some(_)) => {}
            _ => errors.push(FieldError::invalid(
                &p,
                &claim.name,
                "must specify exactly one of `resourceClaimName` or `resourceClaimTemplateName`",
            )),
        }
    }
    validate_resource_list(&spec.overhead, &path.child("overhead"), &mut errors);
    if let Some(resources) = &spec.resources {
        let p = path.child("resources");
        for (field, list) in [
            ("limits", &resources.limits),
            ("requests", &resources.requests),
        ] {
            let lp = p.child(field);
            for name in list.keys() {
                if name != "cpu" && name != "memory" && !name.starts_with("hugepages-") {
                    errors.push(FieldError::not_supported(
                        &lp.key(name),
                        name,
                        &["cpu", "memory", "hugepages-*"],
                    ));
                }
            }
        }
        validate_resources(resources, &p, &mut errors);
    }
    errors
}

/// Validates a pod template at `path` (`spec.template`): its labels,
/// annotations and spec.
pub fn validate_pod_template_spec(t: &PodTemplateSpec, path: &Path<'_>) -> ErrorList {
    let meta = path.child("metadata");
    let mut errors = validate_labels(&t.metadata.labels, &meta.child("labels"));
    errors.extend(validate_annotations(
        &t.metadata.annotations,
        &meta.child("annotations"),
    ));
    errors.extend(validate_pod_spec(&t.spec, &path.child("spec")));
    errors
}

/// What a pod update may change, as Kubernetes words it.
const UPDATABLE_FIELDS: &str = "pod updates may not change fields other than \
    `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,\
    `spec.tolerations` (only additions to existing tolerations),\
    `spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// Validates a pod spec update (`ValidatePodUpdate`): only images,
/// `activeDeadlineSeconds` (set or lowered), added tolerations and removed
/// scheduling gates may change.
pub fn validate_pod_spec_update(new: &super::PodSpec, old: &super::PodSpec) -> ErrorList {
    let mut errors = ErrorList::new();
    let spec = Path::root("spec");
    let deadline = spec.child("activeDeadlineSeconds");
    match (new.active_deadline_seconds, old.active_deadline_seconds) {
        (None, Some(_)) => errors.push(FieldError::invalid(
            &deadline,
            "nil",
            "must not update from a positive integer to nil value",
        )),
        (Some(n), Some(o)) if n > o => errors.push(FieldError::invalid(
            &deadline,
            n,
            "must be less than or equal to previous value",
        )),
        _ => {}
    }
    let tolerations = spec.child("tolerations");
    for old_t in &old.tolerations {
        let kept = new.tolerations.iter().any(|t| {
            t.key == old_t.key
                && t.operator == old_t.operator
                && t.value == old_t.value
                && t.effect == old_t.effect
                && (t.toleration_seconds == old_t.toleration_seconds || t.effect == "NoExecute")
        });
        if !kept {
            errors.push(FieldError::forbidden(
                &tolerations,
                "existing toleration can not be modified except its tolerationSeconds",
            ));
            break;
        }
    }
    let gates = spec.child("schedulingGates");
    for g in &new.scheduling_gates {
        if !old.scheduling_gates.iter().any(|o| o.name == g.name) {
            errors.push(FieldError::forbidden(
                &gates,
                format!(
                    "only deletion is allowed, but found new scheduling gate '{}'",
                    g.name
                ),
            ));
        }
    }

    // Everything else must be equal: compare with the mutable fields taken
    // from the old spec.
    let mut mutated = new.clone();
    for (n, o) in mutated.containers.iter_mut().zip(&old.containers) {
        n.image = o.image.clone();
    }
    for (n, o) in mutated.init_containers.iter_mut().zip(&old.init_containers) {
        n.image = o.image.clone();
    }
    mutated.active_deadline_seconds = old.active_deadline_seconds;
    mutated.tolerations = old.tolerations.clone();
    mutated.scheduling_gates = old.scheduling_gates.clone();
    if old.termination_grace_period_seconds.is_some_and(|g| g < 0)
        && new.termination_grace_period_seconds == Some(1)
    {
        mutated.termination_grace_period_seconds = old.termination_grace_period_seconds;
    }
    if mutated != *old {
        errors.push(FieldError::forbidden(&spec, UPDATABLE_FIELDS));
    }
    errors
}

fn check_name_unique<'a>(
    name: &'a str,
    container: &Path<'_>,
    names: &mut HashSet<&'a str>,
    errors: &mut ErrorList,
) {
    if !name.is_empty() && !names.insert(name) {
        errors.push(FieldError::duplicate(&container.child("name"), name));
    }
}

fn invalid_all(path: &Path<'_>, value: &str, messages: Vec<String>, errors: &mut ErrorList) {
    for m in messages {
        errors.push(FieldError::invalid(path, value, m));
    }
}

/// Reports `value` unless it is empty (to be defaulted) or one of `supported`.
fn one_of(value: &str, path: &Path<'_>, supported: &[&str], errors: &mut ErrorList) {
    if !value.is_empty() && !supported.contains(&value) {
        errors.push(FieldError::not_supported(path, value, supported));
    }
}

fn check_id(id: i64, path: &Path<'_>, errors: &mut ErrorList) {
    if !(0..=i64::from(i32::MAX)).contains(&id) {
        errors.push(FieldError::invalid(
            path,
            id,
            "must be between 0 and 2147483647, inclusive",
        ));
    }
}

fn check_non_negative(value: i32, path: &Path<'_>, errors: &mut ErrorList) {
    if value < 0 {
        errors.push(FieldError::invalid(
            path,
            value,
            "must be greater than or equal to 0",
        ));
    }
}

// ---------------------------------------------------------------- volumes

fn validate_volumes<'a>(
    volumes: &'a [Volume],
    path: &Path<'_>,
    errors: &mut ErrorList,
) -> HashSet<&'a str> {
    let mut names = HashSet::new();
    for (i, v) in volumes.iter().enumerate() {
        let p = path.index(i);
        let name = p.child("name");
        if v.name.is_empty() {
            errors.push(FieldError::required(&name, ""));
        } else {
            invalid_all(&name, &v.name, is_dns1123_label(&v.name), errors);
            if !names.insert(v.name.as_str()) {
                errors.push(FieldError::duplicate(&name, &v.name));
            }
        }
        let sources = v.sources();
        match sources.as_slice() {
            [] => errors.push(FieldError::required(&p, "must specify a volume type")),
            [_] => {}
            [_, rest @ ..] => {
                for source in rest {
                    errors.push(FieldError::forbidden(
                        &p.child(source),
                        "may not specify more than 1 volume type",
                    ));
                }
            }
        }
        validate_volume_source(v, &p, errors);
    }
    names
}

fn validate_volume_source(v: &Volume, p: &Path<'_>, errors: &mut ErrorList) {
    if let Some(s) = &v.host_path {
        let hp = p.child("hostPath");
        if s.path.is_empty() {
            errors.push(FieldError::required(&hp.child("path"), ""));
        }
        if let Some(t) = &s.type_ {
            one_of(
                t,
                &hp.child("type"),
                &[
                    "",
                    "DirectoryOrCreate",
                    "Directory",
                    "FileOrCreate",
                    "File",
                    "Socket",
                    "CharDevice",
                    "BlockDevice",
                ],
                errors,
            );
        }
    }
    if let Some(s) = &v.empty_dir {
        one_of(
            &s.medium,
            &p.child("emptyDir").child("medium"),
            &["", "Memory", "HugePages"],
            errors,
        );
    }
    if let Some(s) = &v.git_repo {
        let gp = p.child("gitRepo");
        if s.repository.is_empty() {
            errors.push(FieldError::required(&gp.child("repository"), ""));
        }
        if s.directory.starts_with('/') {
            errors.push(FieldError::invalid(
                &gp.child("directory"),
                &s.directory,
                "must be a relative path",
            ));
        }
        if s.directory.split('/').any(|part| part == "..") {
            errors.push(FieldError::invalid(
                &gp.child("directory"),
                &s.directory,
                "must not contain '..'",
            ));
        }
    }
    if let Some(s) = &v.secret {
        let sp = p.child("secret");
        if s.secret_name.is_empty() {
            errors.push(FieldError::required(&sp.child("secretName"), ""));
        }
        check_mode(s.default_mode, &sp.child("defaultMode"), errors);
        validate_key_to_paths(&s.items, &sp.child("items"), errors);
    }
    if let Some(s) = &v.config_map {
        let cp = p.child("configMap");
        if s.name.is_empty() {
            errors.push(FieldError::required(&cp.child("name"), ""));
        }
        check_mode(s.default_mode, &cp.child("defaultMode"), errors);
        validate_key_to_paths(&s.items, &cp.child("items"), errors);
    }
    if let Some(s) = &v.persistent_volume_claim {
        if s.claim_name.is_empty() {
            errors.push(FieldError::required(
                &p.child("persistentVolumeClaim").child("claimName"),
                "",
            ));
        }
    }
    if let Some(s) = &v.nfs {
        let np = p.child("nfs");
        if s.server.is_empty() {
            errors.push(FieldError::required(&np.child("server"), ""));
        }
        if s.path.is_empty() {
            errors.push(FieldError::required(&np.child("path"), ""));
        } else if !s.path.starts_with('/') {
            errors.push(FieldError::invalid(
                &np.child("path"),
                &s.path,
                "must be an absolute path",
            ));
        }
    }
    if let Some(s) = &v.downward_api {
        let dp = p.child("downwardAPI");
        check_mode(s.default_mode, &dp.child("defaultMode"), errors);
        let items = dp.child("items");
        for (i, item) in s.items.iter().enumerate() {
            let ip = items.index(i);
            check_relative_path(&item.path, &ip.child("path"), errors);
            check_mode(item.mode, &ip.child("mode"), errors);
            let count = usize::from(item.field_ref.is_some())
                + usize::from(item.resource_field_ref.is_some());
            if count != 1 {
                errors.push(FieldError::invalid(
                    &ip,
                    "",
                    "fieldRef and resourceFieldRef can not be specified simultaneously",
                ));
            }
        }
    }
    if let Some(s) = &v.projected {
        let pp = p.child("projected");
        check_mode(s.default_mode, &pp.child("defaultMode"), errors);
        let sources = pp.child("sources");
        for (i, source) in s.sources.iter().enumerate() {
            let sp = sources.index(i);
            let count = usize::from(source.secret.is_some())
                + usize::from(source.downward_api.is_some())
                + usize::from(source.config_map.is_some())
                + usize::from(source.service_account_token.is_some())
                + usize::from(source.cluster_trust_bundle.is_some());
            if count != 1 {
                errors.push(FieldError::forbidden(
                    &sp,
                    "may not specify more than 1 volume type per source",
                ));
            }
            if let Some(t) = &source.service_account_token {
                let tp = sp.child("serviceAccountToken");
                if t.path.is_empty() {
                    errors.push(FieldError::required(&tp.child("path"), ""));
                }
                if t.expiration_seconds.is_some_and(|e| e < 600) {
                    errors.push(FieldError::invalid(
                        &tp.child("expirationSeconds"),
                        t.expiration_seconds.unwrap_or_default(),
                        "may not specify a duration less than 10 minutes",
                    ));
                }
            }
        }
    }
    if let Some(s) = &v.csi {
        if s.driver.is_empty() {
            errors.push(FieldError::required(&p.child("csi").child("driver"), ""));
        }
    }
    if let Some(s) = &v.ephemeral {
        if s.volume_claim_template.is_none() {
            errors.push(FieldError::required(
                &p.child("ephemeral").child("volumeClaimTemplate"),
                "",
            ));
        }
    }
}

fn check_mode(mode: Option<i32>, path: &Path<'_>, errors: &mut ErrorList) {
    if let Some(m) = mode {
        if !(0..=0o777).contains(&m) {
            errors.push(FieldError::invalid(
                path,
                m,
                "must be a number between 0 and 0777 (octal), both inclusive",
            ));
        }
    }
}

fn check_relative_path(path_value: &str, path: &Path<'_>, errors: &mut ErrorList) {
    if path_value.is_empty() {
        errors.push(FieldError::required(path, ""));
    } else if path_value.starts_with('/') {
        errors.push(FieldError::invalid(
            path,
            path_value,
            "must be a relative path",
        ));
    } else if path_value.split('/').any(|part| part == "..") {
        errors.push(FieldError::invalid(
            path,
            path_value,
            "must not contain '..'",
        ));
    }
}

fn validate_key_to_paths(items: &[super::KeyToPath], path: &Path<'_>, errors: &mut ErrorList) {
    for (i, item) in items.iter().enumerate() {
        let p = path.index(i);
        if item.key.is_empty() {
            errors.push(FieldError::required(&p.child("key"), ""));
        }
        check_relative_path(&item.path, &p.child("path"), errors);
        check_mode(item.mode, &p.child("mode"), errors);
    }
}

// ------------------------------------------------------------- containers

fn validate_container(
    c: &Container,
    path: &Path<'_>,
    volumes: &HashSet<&str>,
    host_network: bool,
    init: bool,
    errors: &mut ErrorList,
) {
    validate_container_name_and_image(&c.name, &c.image, path, errors);
    let sidecar = init && c.restart_policy.as_deref() == Some("Always");
    if let Some(policy) = &c.restart_policy {
        let p = path.child("restartPolicy");
        if !init {
            errors.push(FieldError::forbidden(
                &p,
                "may not be set for non-init containers",
            ));
        } else if policy != "Always" {
            errors.push(FieldError::not_supported(&p, policy, &["Always"]));
        }
    }
    validate_ports(c, path, host_network, errors);
    validate_env(&c.env, &path.child("env"), errors);
    validate_env_from(&c.env_from, &path.child("envFrom"), errors);
    validate_mounts(
        &c.volume_mounts,
        volumes,
        &path.child("volumeMounts"),
        errors,
    );
    let devices = path.child("volumeDevices");
    for (i, d) in c.volume_devices.iter().enumerate() {
        let p = devices.index(i);
        if !volumes.contains(d.name.as_str()) {
            errors.push(FieldError::invalid(
                &p.child("name"),
                &d.name,
                "not found: must be the name of a volume in spec.volumes",
            ));
        }
        if d.device_path.is_empty() {
            errors.push(FieldError::required(&p.child("devicePath"), ""));
        }
    }
    for (field, probe) in [
        ("livenessProbe", &c.liveness_probe),
        ("readinessProbe", &c.readiness_probe),
        ("startupProbe", &c.startup_probe),
    ] {
        let Some(probe) = probe else { continue };
        let p = path.child(field);
        if init && !sidecar {
            errors.push(FieldError::forbidden(
                &p,
                "may not be set for init containers without restartPolicy=Always",
            ));
            continue;
        }
        validate_probe(probe, &p, field, errors);
    }
    if let Some(lifecycle) = &c.lifecycle {
        let p = path.child("lifecycle");
        if init && !sidecar {
            errors.push(FieldError::forbidden(
                &p,
                "may not be set for init containers without restartPolicy=Always",
            ));
        } else {
            for (field, handler) in [
                ("postStart", &lifecycle.post_start),
                ("preStop", &lifecycle.pre_stop),
            ] {
                if let Some(h) = handler {
                    validate_handler(h, &p.child(field), errors);
                }
            }
        }
    }
    one_of(
        &c.image_pull_policy,
        &path.child("imagePullPolicy"),
        &["Always", "IfNotPresent", "Never"],
        errors,
    );
    one_of(
        &c.termination_message_policy,
        &path.child("terminationMessagePolicy"),
        &["File", "FallbackToLogsOnError"],
        errors,
    );
    validate_resources(&c.resources, &path.child("resources"), errors);
    let resize = path.child("resizePolicy");
    for (i, r) in c.resize_policy.iter().enumerate() {
        let p = resize.index(i);
        one_of(
            &r.resource_name,
            &p.child("resourceName"),
            &["cpu", "memory"],
            errors,
        );
        one_of(
            &r.restart_policy,
            &p.child("restartPolicy"),
            &["NotRequired", "RestartContainer"],
            errors,
        );
    }
    if let Some(sc) = &c.security_context {
        let p = path.child("securityContext");
        for (field, value) in [
            ("runAsUser", sc.run_as_user),
            ("runAsGroup", sc.run_as_group),
        ] {
            if let Some(id) = value {
                check_id(id, &p.child(field), errors);
            }
        }
        if sc.allow_privilege_escalation == Some(false) && sc.privileged == Some(true) {
            errors.push(FieldError::invalid(
                &p,
                "",
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            ));
        }
        if let Some(m) = &sc.proc_mount {
            one_of(m, &p.child("procMount"), &["Default", "Unmasked"], errors);
        }
    }
}

fn validate_ephemeral_container(
    c: &EphemeralContainer,
    path: &Path<'_>,
    volumes: &HashSet<&str>,
    errors: &mut ErrorList,
) {
    validate_container_name_and_image(&c.name, &c.image, path, errors);
    validate_env(&c.env, &path.child("env"), errors);
    validate_env_from(&c.env_from, &path.child("envFrom"), errors);
    validate_mounts(
        &c.volume_mounts,
        volumes,
        &path.child("volumeMounts"),
        errors,
    );
    for (field, set) in [
        ("ports", !c.ports.is_empty()),
        ("livenessProbe", c.liveness_probe.is_some()),
        ("readinessProbe", c.readiness_probe.is_some()),
        ("startupProbe", c.startup_probe.is_some()),
        ("lifecycle", c.lifecycle.is_some()),
        ("resources", c.resources != ResourceRequirements::default()),
    ] {
        if set {
            errors.push(FieldError::forbidden(
                &path.child(field),
                "cannot be set for an Ephemeral Container",
            ));
        }
    }
}

fn validate_container_name_and_image(
    name: &str,
    image: &str,
    path: &Path<'_>,
    errors: &mut ErrorList,
) {
    let name_path = path.child("name");
    if name.is_empty() {
        errors.push(FieldError::required(&name_path, ""));
    } else {
        invalid_all(&name_path, name, is_dns1123_label(name), errors);
    }
    let image_path = path.child("image");
    if image.is_empty() {
        errors.push(FieldError::required(&image_path, ""));
    } else if image.trim() != image {
        errors.push(FieldError::invalid(
            &image_path,
            image,
            "must not have leading or trailing whitespace",
        ));
    }
}

/// Problems with `name` as an IANA service name (a port name): at most 15
/// lower-case alphanumerics and `-`, at least one letter, no `--`, no `-`
/// at either end.
pub fn is_valid_port_name(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.len() > 15 {
        errs.push("must be no more than 15 characters".to_string());
    }
    if !name
        .bytes()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if name.contains("--") {
        errs.push("must not contain consecutive hyphens".into());
    }
    if !name.bytes().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".into());
    }
    if name.starts_with('-') || name.ends_with('-') {
        errs.push("must not begin or end with a hyphen".into());
    }
    errs
}

fn check_port_number(port: i32, path: &Path<'_>, errors: &mut ErrorList) {
    if !(1..=65535).contains(&port) {
        errors.push(FieldError::invalid(
            path,
            port,
            "must be between 1 and 65535, inclusive",
        ));
    }
}

fn validate_ports(c: &Container, path: &Path<'_>, host_network: bool, errors: &mut ErrorList) {
    let ports = path.child("ports");
    let mut names = HashSet::new();
    for (i, port) in c.ports.iter().enumerate() {
        let p = ports.index(i);
        if !port.name.is_empty() {
            invalid_all(
                &p.child("name"),
                &port.name,
                is_valid_port_name(&port.name),
                errors,
            );
            if !names.insert(port.name.as_str()) {
                errors.push(FieldError::duplicate(&p.child("name"), &port.name));
            }
        }
        if port.container_port == 0 {
            errors.push(FieldError::required(&p.child("containerPort"), ""));
        } else {
            check_port_number(port.container_port, &p.child("containerPort"), errors);
        }
        if port.host_port != 0 {
            check_port_number(port.host_port, &p.child("hostPort"), errors);
            if host_network && port.host_port != port.container_port {
                errors.push(FieldError::invalid(
                    &p.child("hostPort"),
                    port.host_port,
                    "must match `containerPort` when `hostNetwork` is true",
                ));
            }
        }
        one_of(
            &port.protocol,
            &p.child("protocol"),
            &["SCTP", "TCP", "UDP"],
            errors,
        );
        if !port.host_ip.is_empty() && port.host_ip.parse::<std::net::IpAddr>().is_err() {
            errors.push(FieldError::invalid(
                &p.child("hostIP"),
                &port.host_ip,
                "must be a valid IP address",
            ));
        }
    }
}

/// Problems with `name` as an environment variable name (Kubernetes'
/// `IsEnvVarName`): letters, digits, `_`, `-` and `.`, not starting with a
/// digit.
pub fn is_env_var_name(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let valid = name
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
        && !name.as_bytes().first().is_some_and(u8::is_ascii_digit);
    if !valid {
        errs.push(
            "a valid environment variable name must consist of alphabetic characters, digits, \
             '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or \
             'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is \
             '[-._a-zA-Z][-._a-zA-Z0-9]*')"
                .to_string(),
        );
    }
    if name == "." || name == ".." {
        errs.push(format!("must not be '{name}'"));
    } else if name.starts_with("..") {
        errs.push("must not start with '..'".to_string());
    }
    errs
}

/// Field paths the downward API can expose through `env[].valueFrom.fieldRef`.
const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "metadata.labels",
    "metadata.annotations",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// Resources the downward API can expose through `resourceFieldRef`.
const RESOURCE_FIELDS: &[&str] = &[
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
];

fn validate_env(env: &[EnvVar], path: &Path<'_>, errors: &mut ErrorList) {
    for (i, e) in env.iter().enumerate() {
        let p = path.index(i);
        let name = p.child("name");
        if e.name.is_empty() {
            errors.push(FieldError::required(&name, ""));
        } else {
            invalid_all(&name, &e.name, is_env_var_name(&e.name), errors);
        }
        let Some(from) = &e.value_from else { continue };
        let vp = p.child("valueFrom");
        let count = usize::from(from.field_ref.is_some())
            + usize::from(from.resource_field_ref.is_some())
            + usize::from(from.config_map_key_ref.is_some())
            + usize::from(from.secret_key_ref.is_some());
        if count == 0 {
            errors.push(FieldError::invalid(
                &vp,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if count > 1 {
            errors.push(FieldError::invalid(
                &vp,
                "",
                "may not have more than one field specified at a time",
            ));
        }
        if !e.value.is_empty() {
            errors.push(FieldError::invalid(
                &vp,
                "",
                "may not be specified when `value` is not empty",
            ));
        }
        if let Some(f) = &from.field_ref {
            let field_ref = vp.child("fieldRef");
            let fp = field_ref.child("fieldPath");
            if f.field_path.is_empty() {
                errors.push(FieldError::required(&fp, ""));
            } else if !is_supported_field_path(&f.field_path) {
                errors.push(FieldError::not_supported(
                    &fp,
                    &f.field_path,
                    ENV_FIELD_PATHS,
                ));
            }
            if !f.api_version.is_empty() && f.api_version != "v1" {
                errors.push(FieldError::not_supported(
                    &vp.child("fieldRef").child("apiVersion"),
                    &f.api_version,
                    &["v1"],
                ));
            }
        }
        if let Some(r) = &from.resource_field_ref {
            let resource_ref = vp.child("resourceFieldRef");
            let rp = resource_ref.child("resource");
            if r.resource.is_empty() {
                errors.push(FieldError::required(&rp, ""));
            } else if !RESOURCE_FIELDS.contains(&r.resource.as_str())
                && !r.resource.starts_with("limits.hugepages-")
                && !r.resource.starts_with("requests.hugepages-")
            {
                errors.push(FieldError::not_supported(&rp, &r.resource, RESOURCE_FIELDS));
            }
        }
        let key_refs = [
            (
                "configMapKeyRef",
                from.config_map_key_ref.as_ref().map(|r| (&r.name, &r.key)),
            ),
            (
                "secretKeyRef",
                from.secret_key_ref.as_ref().map(|r| (&r.name, &r.key)),
            ),
        ];
        for (field, refs) in key_refs {
            let Some((name, key)) = refs else { continue };
            let rp = vp.child(field);
            if name.is_empty() {
                errors.push(FieldError::required(&rp.child("name"), ""));
            }
            if key.is_empty() {
                errors.push(FieldError::required(&rp.child("key"), ""));
            } else {
                invalid_all(&rp.child("key"), key, is_config_map_key(key), errors);
            }
        }
    }
}

fn is_supported_field_path(path: &str) -> bool {
    if ENV_FIELD_PATHS.contains(&path) {
        return true;
    }
    ["metadata.labels['", "metadata.annotations['"]
        .iter()
        .any(|prefix| {
            path.strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix("']"))
                .is_some_and(|key| is_qualified_name(key).is_empty())
        })
}

/// Problems with `key` as a ConfigMap or Secret key: alphanumerics, `-`,
/// `_` and `.`, at most 253 characters, not `.` or `..`.
pub fn is_config_map_key(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if key.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    if !key
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    {
        errs.push(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. \
             'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is \
             '[-._a-zA-Z0-9]+')"
                .to_string(),
        );
    }
    if key == "." || key == ".." {
        errs.push(format!("must not be '{key}'"));
    } else if key.starts_with("..") {
        errs.push("must not start with '..'".to_string());
    }
    errs
}

fn validate_env_from(sources: &[EnvFromSource], path: &Path<'_>, errors: &mut ErrorList) {
    for (i, s) in sources.iter().enumerate() {
        let p = path.index(i);
        if !s.prefix.is_empty() {
            invalid_all(
                &p.child("prefix"),
                &s.prefix,
                is_env_var_name(&s.prefix),
                errors,
            );
        }
        match (&s.config_map_ref, &s.secret_ref) {
            (Some(_), Some(_)) => errors.push(FieldError::invalid(
                &p,
                "",
                "may not have more than one field specified at a time",
            )),
            (None, None) => errors.push(FieldError::invalid(
                &p,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            )),
            _ => {}
        }
        for (field, name) in [
            ("configMapRef", s.config_map_ref.as_ref().map(|r| &r.name)),
            ("secretRef", s.secret_ref.as_ref().map(|r| &r.name)),
        ] {
            let Some(name) = name else { continue };
            let source = p.child(field);
            let np = source.child("name");
            if name.is_empty() {
                errors.push(FieldError::required(&np, ""));
            } else {
                invalid_all(&np, name, is_dns1123_subdomain(name), errors);
            }
        }
    }
}

fn validate_mounts(
    mounts: &[VolumeMount],
    volumes: &HashSet<&str>,
    path: &Path<'_>,
    errors: &mut ErrorList,
) {
    let mut paths = HashSet::new();
    for (i, m) in mounts.iter().enumerate() {
        let p = path.index(i);
        let name = p.child("name");
        if m.name.is_empty() {
            errors.push(FieldError::required(&name, ""));
        } else if !volumes.contains(m.name.as_str()) {
            errors.push(FieldError::invalid(
                &name,
                &m.name,
                "not found: must be the name of a volume in spec.volumes",
            ));
        }
        let mount_path = p.child("mountPath");
        if m.mount_path.is_empty() {
            errors.push(FieldError::required(&mount_path, ""));
        } else if !paths.insert(m.mount_path.as_str()) {
            errors.push(FieldError::invalid(
                &mount_path,
                &m.mount_path,
                "must be unique",
            ));
        }
        if !m.sub_path.is_empty() {
            let sp = p.child("subPath");
            if m.sub_path.starts_with('/') {
                errors.push(FieldError::invalid(
                    &sp,
                    &m.sub_path,
                    "must be a relative path",
                ));
            } else if m.sub_path.split('/').any(|part| part == "..") {
                errors.push(FieldError::invalid(
                    &sp,
                    &m.sub_path,
                    "must not contain '..'",
                ));
            }
        }
        if !m.sub_path.is_empty() && !m.sub_path_expr.is_empty() {
            errors.push(FieldError::invalid(
                &p.child("subPathExpr"),
                &m.sub_path_expr,
                "subPathExpr and subPath are mutually exclusive",
            ));
        }
        if let Some(prop) = &m.mount_propagation {
            one_of(
                prop,
                &p.child("mountPropagation"),
                &["Bidirectional", "HostToContainer", "None"],
                errors,
            );
        }
        if let Some(rro) = &m.recursive_read_only {
            one_of(
                rro,
                &p.child("recursiveReadOnly"),
                &["Disabled", "IfPossible", "Enabled"],
                errors,
            );
            if rro != "Disabled" && !m.read_only {
                errors.push(FieldError::forbidden(
                    &p.child("recursiveReadOnly"),
                    "may only be specified when readOnly is true",
                ));
            }
        }
    }
}

// ----------------------------------------------------------------- probes

fn validate_probe(probe: &Probe, path: &Path<'_>, kind: &str, errors: &mut ErrorList) {
    match probe.handler_count() {
        0 => errors.push(FieldError::required(path, "must specify a handler type")),
        1 => {}
        _ => errors.push(FieldError::forbidden(
            path,
            "may not specify more than 1 handler type",
        )),
    }
    if let Some(e) = &probe.exec {
        if e.command.is_empty() {
            errors.push(FieldError::required(
                &path.child("exec").child("command"),
                "",
            ));
        }
    }
    if let Some(h) = &probe.http_get {
        validate_http_get(h, &path.child("httpGet"), errors);
    }
    if let Some(t) = &probe.tcp_socket {
        check_port_num_or_name(&t.port, &path.child("tcpSocket").child("port"), errors);
    }
    if let Some(g) = &probe.grpc {
        check_port_number(g.port, &path.child("grpc").child("port"), errors);
    }
    check_non_negative(
        probe.initial_delay_seconds,
        &path.child("initialDelaySeconds"),
        errors,
    );
    for (field, value) in [
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ] {
        // 0 means "not set" and is defaulted.
        check_non_negative(value, &path.child(field), errors);
    }
    if kind != "readinessProbe" && probe.success_threshold > 1 {
        errors.push(FieldError::invalid(
            &path.child("successThreshold"),
            probe.success_threshold,
            "must be 1",
        ));
    }
    if let Some(g) = probe.termination_grace_period_seconds {
        let p = path.child("terminationGracePeriodSeconds");
        if kind == "readinessProbe" {
            errors.push(FieldError::invalid(
                &p,
                g,
                "must not be set for readinessProbes",
            ));
        } else if g <= 0 {
            errors.push(FieldError::invalid(&p, g, "must be greater than 0"));
        }
    }
}

fn validate_handler(h: &LifecycleHandler, path: &Path<'_>, errors: &mut ErrorList) {
    match h.handler_count() {
        0 => errors.push(FieldError::required(path, "must specify a handler type")),
        1 => {}
        _ => errors.push(FieldError::forbidden(
            path,
            "may not specify more than 1 handler type",
        )),
    }
    if let Some(e) = &h.exec {
        if e.command.is_empty() {
            errors.push(FieldError::required(
                &path.child("exec").child("command"),
                "",
            ));
        }
    }
    if let Some(g) = &h.http_get {
        validate_http_get(g, &path.child("httpGet"), errors);
    }
    if let Some(t) = &h.tcp_socket {
        check_port_num_or_name(&t.port, &path.child("tcpSocket").child("port"), errors);
    }
    if let Some(s) = &h.sleep {
        if s.seconds <= 0 {
            errors.push(FieldError::invalid(
                &path.child("sleep").child("seconds"),
                s.seconds,
                "must be greater than 0",
            ));
        }
    }
}

fn validate_http_get(h: &HttpGetAction, path: &Path<'_>, errors: &mut ErrorList) {
    check_port_num_or_name(&h.port, &path.child("port"), errors);
    one_of(&h.scheme, &path.child("scheme"), &["HTTP", "HTTPS"], errors);
    let headers = path.child("httpHeaders");
    for (i, header) in h.http_headers.iter().enumerate() {
        let valid = !header.name.is_empty()
            && header
                .name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c));
        if !valid {
            errors.push(FieldError::invalid(
                &headers.index(i).child("name"),
                &header.name,
                "a valid HTTP header must consist of alphanumeric characters or '-' (e.g. \
                 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')",
            ));
        }
    }
}

fn check_port_num_or_name(port: &IntOrString, path: &Path<'_>, errors: &mut ErrorList) {
    match port {
        IntOrString::Int(n) => check_port_number(*n, path, errors),
        IntOrString::String(s) if s.is_empty() => {
            errors.push(FieldError::required(path, ""));
        }
        IntOrString::String(s) => invalid_all(path, s, is_valid_port_name(s), errors),
    }
}

// -------------------------------------------------------------- resources

/// Resource names a container may request besides extended (`domain/name`)
/// and `hugepages-*` resources.
const CONTAINER_RESOURCES: &[&str] = &["cpu", "memory", "ephemeral-storage"];

fn is_container_resource(name: &str) -> bool {
    CONTAINER_RESOURCES.contains(&name)
        || name.starts_with("hugepages-")
        || (name.contains('/')
            && !name.starts_with("kubernetes.io/")
            && !name.contains(".kubernetes.io/")
            && is_qualified_name(name).is_empty())
}

fn validate_resource_list(list: &ResourceList, path: &Path<'_>, errors: &mut ErrorList) {
    for (name, quantity) in list.iter() {
        let p = path.key(name);
        errors.extend(quantity_checks::validate(quantity, &p));
    }
}

fn validate_resources(r: &ResourceRequirements, path: &Path<'_>, errors: &mut ErrorList) {
    for (field, list) in [("limits", &r.limits), ("requests", &r.requests)] {
        let lp = path.child(field);
        for name in list.keys() {
            if !is_container_resource(name) {
                errors.push(FieldError::invalid(
                    &lp.key(name),
                    name,
                    "must be a standard resource for containers",
                ));
            }
        }
        validate_resource_list(list, &lp, errors);
    }
    let requests = path.child("requests");
    for (name, request) in r.requests.iter() {
        let Some(limit) = r.limits.get(name) else {
            if !CONTAINER_RESOURCES.contains(&name) && !name.starts_with("hugepages-") {
                errors.push(FieldError::forbidden(
                    &requests.key(name),
                    "Limit must be set for non overcommitable resources",
                ));
            }
            continue;
        };
        let Some(order) = quantity_checks::compare(request, limit) else {
            continue; // unparsable: reported by validate_resource_list
        };
        if order == Ordering::Greater {
            errors.push(FieldError::invalid(
                &requests.key(name),
                request.as_str(),
                format!("must be less than or equal to {name} limit of {limit}"),
            ));
        } else if order != Ordering::Equal && !CONTAINER_RESOURCES.contains(&name) {
            errors.push(FieldError::invalid(
                &requests.key(name),
                request.as_str(),
                format!("must be equal to {name} limit of {limit}"),
            ));
        }
    }
}

// ---------------------------------------------------- scheduling constraints

fn validate_tolerations(tolerations: &[Toleration], path: &Path<'_>, errors: &mut ErrorList) {
    for (i, t) in tolerations.iter().enumerate() {
        let p = path.index(i);
        if !t.key.is_empty() {
            invalid_all(&p.child("key"), &t.key, is_qualified_name(&t.key), errors);
        }
        if t.key.is_empty() && t.operator != "Exists" {
            errors.push(FieldError::invalid(
                &p.child("operator"),
                &t.operator,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if t.toleration_seconds.is_some() && t.effect != "NoExecute" {
            errors.push(FieldError::invalid(
                &p.child("effect"),
                &t.effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match t.operator.as_str() {
            "" | "Equal" => invalid_all(
                &p.child("value"),
                &t.value,
                is_valid_label_value(&t.value),
                errors,
            ),
            "Exists" => {
                if !t.value.is_empty() {
                    errors.push(FieldError::invalid(
                        &p.child("operator"),
                        &t.value,
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errors.push(FieldError::not_supported(
                &p.child("operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        one_of(
            &t.effect,
            &p.child("effect"),
            &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            errors,
        );
    }
}

fn validate_affinity(a: &Affinity, path: &Path<'_>, errors: &mut ErrorList) {
    if let Some(node) = &a.node_affinity {
        let np = path.child("nodeAffinity");
        if let Some(required) = &node.required_during_scheduling_ignored_during_execution {
            let required_path = np.child("requiredDuringSchedulingIgnoredDuringExecution");
            let rp = required_path.child("nodeSelectorTerms");
            if required.node_selector_terms.is_empty() {
                errors.push(FieldError::required(
                    &rp,
                    "must have at least one node selector term",
                ));
            }
            for (i, term) in required.node_selector_terms.iter().enumerate() {
                validate_node_selector_term(term, &rp.index(i), errors);
            }
        }
        let pp = np.child("preferredDuringSchedulingIgnoredDuringExecution");
        for (i, term) in node
            .preferred_during_scheduling_ignored_during_execution
            .iter()
            .enumerate()
        {
            let p = pp.index(i);
            check_weight(term.weight, &p.child("weight"), errors);
            validate_node_selector_term(&term.preference, &p.child("preference"), errors);
        }
    }
    for (field, required, preferred) in [
        (
            "podAffinity",
            a.pod_affinity
                .as_ref()
                .map(|x| &x.required_during_scheduling_ignored_during_execution),
            a.pod_affinity
                .as_ref()
                .map(|x| &x.preferred_during_scheduling_ignored_during_execution),
        ),
        (
            "podAntiAffinity",
            a.pod_anti_affinity
                .as_ref()
                .map(|x| &x.required_during_scheduling_ignored_during_execution),
            a.pod_anti_affinity
                .as_ref()
                .map(|x| &x.preferred_during_scheduling_ignored_during_execution),
        ),
    ] {
        let ap = path.child(field);
        let rp = ap.child("requiredDuringSchedulingIgnoredDuringExecution");
        for (i, term) in required.into_iter().flatten().enumerate() {
            validate_pod_affinity_term(term, &rp.index(i), errors);
        }
        let pp = ap.child("preferredDuringSchedulingIgnoredDuringExecution");
        for (i, term) in preferred.into_iter().flatten().enumerate() {
            let p = pp.index(i);
            check_weight(term.weight, &p.child("weight"), errors);
            validate_pod_affinity_term(
                &term.pod_affinity_term,
                &p.child("podAffinityTerm"),
                errors,
            );
        }
    }
}

fn check_weight(weight: i32, path: &Path<'_>, errors: &mut ErrorList) {
    if !(1..=100).contains(&weight) {
        errors.push(FieldError::invalid(
            path,
            weight,
            "must be in the range 1-100",
        ));
    }
}

fn validate_node_selector_term(term: &NodeSelectorTerm, path: &Path<'_>, errors: &mut ErrorList) {
    let exprs = path.child("matchExpressions");
    for (i, r) in term.match_expressions.iter().enumerate() {
        let p = exprs.index(i);
        invalid_all(&p.child("key"), &r.key, is_qualified_name(&r.key), errors);
        let values = p.child("values");
        match r.operator.as_str() {
            "In" | "NotIn" => {
                if r.values.is_empty() {
                    errors.push(FieldError::required(
                        &values,
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !r.values.is_empty() {
                    errors.push(FieldError::forbidden(
                        &values,
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            "Gt" | "Lt" => {
                if r.values.len() != 1 || r.values[0].parse::<i64>().is_err() {
                    errors.push(FieldError::required(
                        &values,
                        "must be specified single value when `operator` is 'Lt' or 'Gt'",
                    ));
                }
            }
            other => errors.push(FieldError::not_supported(
                &p.child("operator"),
                other,
                &["DoesNotExist", "Exists", "Gt", "In", "Lt", "NotIn"],
            )),
        }
    }
    let fields = path.child("matchFields");
    for (i, r) in term.match_fields.iter().enumerate() {
        let p = fields.index(i);
        if r.key != "metadata.name" {
            errors.push(FieldError::not_supported(
                &p.child("key"),
                &r.key,
                &["metadata.name"],
            ));
        }
        if r.operator != "In" && r.operator != "NotIn" {
            errors.push(FieldError::not_supported(
                &p.child("operator"),
                &r.operator,
                &["In", "NotIn"],
            ));
        } else if r.values.len() != 1 {
            errors.push(FieldError::required(
                &p.child("values"),
                "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
            ));
        }
    }
}

fn validate_pod_affinity_term(term: &PodAffinityTerm, path: &Path<'_>, errors: &mut ErrorList) {
    if let Some(selector) = &term.label_selector {
        validate_selector(selector, &path.child("labelSelector"), errors);
    }
    if let Some(selector) = &term.namespace_selector {
        validate_selector(selector, &path.child("namespaceSelector"), errors);
    }
    let namespaces = path.child("namespaces");
    for (i, ns) in term.namespaces.iter().enumerate() {
        invalid_all(&namespaces.index(i), ns, is_dns1123_label(ns), errors);
    }
    let key = path.child("topologyKey");
    if term.topology_key.is_empty() {
        errors.push(FieldError::required(&key, "can not be empty"));
    } else {
        invalid_all(
            &key,
            &term.topology_key,
            is_qualified_name(&term.topology_key),
            errors,
        );
    }
    for (field, keys) in [
        ("matchLabelKeys", &term.match_label_keys),
        ("mismatchLabelKeys", &term.mismatch_label_keys),
    ] {
        let kp = path.child(field);
        for (i, k) in keys.iter().enumerate() {
            invalid_all(&kp.index(i), k, is_qualified_name(k), errors);
        }
    }
}

fn validate_selector(selector: &LabelSelector, path: &Path<'_>, errors: &mut ErrorList) {
    errors.extend(quantity_checks::validate_selector(selector, path));
}

fn validate_topology_spread(
    constraints: &[TopologySpreadConstraint],
    path: &Path<'_>,
    errors: &mut ErrorList,
) {
    let mut pairs = HashSet::new();
    for (i, c) in constraints.iter().enumerate() {
        let p = path.index(i);
        if c.max_skew <= 0 {
            errors.push(FieldError::invalid(
                &p.child("maxSkew"),
                c.max_skew,
                "must be greater than zero",
            ));
        }
        let key = p.child("topologyKey");
        if c.topology_key.is_empty() {
            errors.push(FieldError::required(&key, "can not be empty"));
        } else {
            invalid_all(
                &key,
                &c.topology_key,
                is_qualified_name(&c.topology_key),
                errors,
            );
        }
        let when = p.child("whenUnsatisfiable");
        if !["DoNotSchedule", "ScheduleAnyway"].contains(&c.when_unsatisfiable.as_str()) {
            errors.push(FieldError::not_supported(
                &when,
                &c.when_unsatisfiable,
                &["DoNotSchedule", "ScheduleAnyway"],
            ));
        }
        if !pairs.insert((c.topology_key.as_str(), c.when_unsatisfiable.as_str())) {
            errors.push(FieldError::duplicate(
                &p,
                format!("{{{}, {}}}", c.topology_key, c.when_unsatisfiable),
            ));
        }
        if let Some(min) = c.min_domains {
            if min <= 0 {
                errors.push(FieldError::invalid(
                    &p.child("minDomains"),
                    min,
                    "must be greater than 0",
                ));
            } else if c.when_unsatisfiable != "DoNotSchedule" {
                errors.push(FieldError::invalid(
                    &p.child("minDomains"),
                    min,
                    "can only use minDomains if whenUnsatisfiable=DoNotSchedule",
                ));
            }
        }
        for (field, policy) in [
            ("nodeAffinityPolicy", &c.node_affinity_policy),
            ("nodeTaintsPolicy", &c.node_taints_policy),
        ] {
            if let Some(policy) = policy {
                if policy != "Honor" && policy != "Ignore" {
                    errors.push(FieldError::not_supported(
                        &p.child(field),
                        policy,
                        &["Honor", "Ignore"],
                    ));
                }
            }
        }
        if let Some(selector) = &c.label_selector {
            validate_selector(selector, &p.child("labelSelector"), errors);
        }
        let keys = p.child("matchLabelKeys");
        for (j, k) in c.match_label_keys.iter().enumerate() {
            invalid_all(&keys.index(j), k, is_qualified_name(k), errors);
        }
    }
}

fn validate_dns(spec: &PodSpec, path: &Path<'_>, errors: &mut ErrorList) {
    let policy = path.child("dnsPolicy");
    one_of(
        &spec.dns_policy,
        &policy,
        &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        errors,
    );
    let config = path.child("dnsConfig");
    if spec.dns_policy == "None" {
        match &spec.dns_config {
            None => errors.push(FieldError::required(
                &config,
                "must provide `dnsConfig` when `dnsPolicy` is None",
            )),
            Some(c) if c.nameservers.is_empty() => errors.push(FieldError::required(
                &config.child("nameservers"),
                "must provide at least one DNS nameserver when `dnsPolicy` is None",
            )),
            _ => {}
        }
    }
    let Some(c) = &spec.dns_config else { return };
    let ns = config.child("nameservers");
    if c.nameservers.len() > 3 {
        errors.push(FieldError::invalid(
            &ns,
            c.nameservers.len(),
            "must not have more than 3 nameservers",
        ));
    }
    for (i, ip) in c.nameservers.iter().enumerate() {
        if ip.parse::<std::net::IpAddr>().is_err() {
            errors.push(FieldError::invalid(
                &ns.index(i),
                ip,
                "must be a valid IP address",
            ));
        }
    }
    let searches = config.child("searches");
    if c.searches.len() > 32 {
        errors.push(FieldError::invalid(
            &searches,
            c.searches.len(),
            "must not have more than 32 search paths",
        ));
    }
    for (i, s) in c.searches.iter().enumerate() {
        let domain = s.strip_suffix('.').unwrap_or(s);
        invalid_all(&searches.index(i), s, is_dns1123_subdomain(domain), errors);
    }
    let options = config.child("options");
    for (i, o) in c.options.iter().enumerate() {
        if o.name.is_empty() {
            errors.push(FieldError::required(
                &options.index(i),
                "Option.Name must not be empty",
            ));
        }
    }
}

/// The checks that need quantity arithmetic and selector validation from
/// `api::quantity` and `api::selector` (branch `api-selector`); they are
/// wired here so the rest of the validator does not change when they land.
mod quantity_checks {
    use std::cmp::Ordering;

    use crate::api::validation::{validate_labels, ErrorList, Path};
    use crate::api::{LabelSelector, Quantity};

    /// A quantity's syntax and sign.
    pub(super) fn validate(_quantity: &Quantity, _path: &Path<'_>) -> ErrorList {
        ErrorList::new()
    }

    /// `a` compared with `b`, when both parse.
    pub(super) fn compare(_a: &Quantity, _b: &Quantity) -> Option<Ordering> {
        None
    }

    /// A label selector's keys, operators and values.
    pub(super) fn validate_selector(selector: &LabelSelector, path: &Path<'_>) -> ErrorList {
        validate_labels(&selector.match_labels, &path.child("matchLabels"))
    }
}
