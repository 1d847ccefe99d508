//! Validation of pods and pod templates, following Kubernetes'
//! `ValidatePodSpec` for the mistakes users make. This file holds the
//! pod-level rules (container name uniqueness, restart and DNS policy,
//! node selector, host names, tolerations, affinity, topology spread,
//! scheduling gates, resource claims) and the update rules; containers are
//! checked in `container_validation.rs` and volumes in `volume_validation.rs`.
//!
//! Fields that defaulting fills (`restartPolicy`, `dnsPolicy`, port
//! `protocol`, `imagePullPolicy`, ...) are accepted when empty, so a spec
//! validates the same before and after [`default_pod_spec`](super::default_pod_spec).
use std::collections::HashSet;

use super::container_validation::{
    validate_container, validate_ephemeral_container, validate_resource_list, validate_resources,
};
use super::volume_validation::validate_volumes;
use super::{
    Affinity, Container, NodeSelectorTerm, PodAffinityTerm, PodSpec, PodTemplateSpec, Toleration,
    TopologySpreadConstraint,
};
use crate::api::validation::{
    is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_valid_label_value,
    validate_annotations, validate_labels, ErrorList, FieldError, Path,
};
use crate::api::LabelSelector;

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
    check_host_port_conflicts(&spec.init_containers, &init_path, &mut errors);
    check_host_port_conflicts(&spec.containers, &containers_path, &mut errors);
    let ephemeral_path = path.child("ephemeralContainers");
    for (i, c) in spec.ephemeral_containers.iter().enumerate() {
        let p = ephemeral_path.index(i);
        validate_ephemeral_container(c, &p, &volumes, &mut errors);
        if !c.target_container_name.is_empty()
            && !spec
                .all_containers()
                .any(|other| other.name == c.target_container_name)
        {
            errors.push(FieldError::invalid(
                &p.child("targetContainerName"),
                &c.target_container_name,
                "not found: must be the name of a container or init container",
            ));
        }
    }
    for (i, c) in spec.ephemeral_containers.iter().enumerate() {
        check_name_unique(&c.name, &ephemeral_path.index(i), &mut names, &mut errors);
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
        if let Some(profile) = &sc.seccomp_profile {
            validate_profile(
                &profile.type_,
                profile.localhost_profile.as_deref(),
                &p.child("seccompProfile"),
                &mut errors,
            );
        }
        if let Some(profile) = &sc.app_armor_profile {
            validate_profile(
                &profile.type_,
                profile.localhost_profile.as_deref(),
                &p.child("appArmorProfile"),
                &mut errors,
            );
        }
        let sysctls = p.child("sysctls");
        let mut seen = HashSet::new();
        for (i, sysctl) in sc.sysctls.iter().enumerate() {
            let item = sysctls.index(i);
            let sp = item.child("name");
            if sysctl.name.is_empty() {
                errors.push(FieldError::required(&sp, ""));
            } else if !is_sysctl_name(&sysctl.name) {
                errors.push(FieldError::invalid(
                    &sp,
                    &sysctl.name,
                    "must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$",
                ));
            } else if !seen.insert(sysctl.name.as_str()) {
                errors.push(FieldError::duplicate(&sp, &sysctl.name));
            }
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
    let spec = path.child("spec");
    errors.extend(validate_pod_spec(&t.spec, &spec));
    if !t.spec.ephemeral_containers.is_empty() {
        errors.push(FieldError::forbidden(
            &spec.child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errors
}

/// Host ports must be unique per protocol and host IP within a container
/// list (`spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//8080"`).
fn check_host_port_conflicts(containers: &[Container], path: &Path<'_>, errors: &mut ErrorList) {
    let mut seen = HashSet::new();
    for (i, c) in containers.iter().enumerate() {
        let cp = path.index(i);
        let ports = cp.child("ports");
        for (j, port) in c.ports.iter().enumerate() {
            if port.host_port == 0 {
                continue;
            }
            let protocol = if port.protocol.is_empty() {
                "TCP"
            } else {
                &port.protocol
            };
            let key = format!("{protocol}/{}/{}", port.host_ip, port.host_port);
            if !seen.insert(key.clone()) {
                errors.push(FieldError::duplicate(
                    &ports.index(j).child("hostPort"),
                    key,
                ));
            }
        }
    }
}

/// Validates a seccomp or AppArmor profile: a supported type, and a
/// `localhostProfile` exactly when the type is `Localhost`.
pub(super) fn validate_profile(
    type_: &str,
    localhost_profile: Option<&str>,
    path: &Path<'_>,
    errors: &mut ErrorList,
) {
    let tp = path.child("type");
    if type_.is_empty() {
        errors.push(FieldError::required(&tp, ""));
    } else {
        one_of(
            type_,
            &tp,
            &["Localhost", "RuntimeDefault", "Unconfined"],
            errors,
        );
    }
    let lp = path.child("localhostProfile");
    match (type_ == "Localhost", localhost_profile) {
        (true, None) | (true, Some("")) => errors.push(FieldError::required(
            &lp,
            "must be set when seccomp type is Localhost",
        )),
        (false, Some(profile)) => errors.push(FieldError::invalid(
            &lp,
            profile,
            "can only be set when seccomp type is Localhost",
        )),
        _ => {}
    }
}

/// Validates a status update of a pod (`pods/status`, what the kubelet
/// writes): metadata may not change identity, the phase is known, IPs are
/// valid and unique with the primary first, restart counts are not negative.
pub fn validate_pod_status_update(new: &super::Pod, old: &super::Pod) -> ErrorList {
    let mut errors =
        crate::api::validation::validate_object_meta_update(&new.metadata, &old.metadata);
    let status = &new.status;
    let path = Path::root("status");
    one_of(
        &status.phase,
        &path.child("phase"),
        &["Pending", "Running", "Succeeded", "Failed", "Unknown"],
        &mut errors,
    );
    // Terminal phases are final.
    if matches!(old.status.phase.as_str(), "Succeeded" | "Failed")
        && status.phase != old.status.phase
    {
        errors.push(FieldError::forbidden(
            &path.child("phase"),
            format!(
                "cannot transition from terminal phase {:?} to {:?}",
                old.status.phase.as_str(),
                status.phase.as_str()
            ),
        ));
    }
    let conditions = path.child("conditions");
    for (i, c) in status.conditions.iter().enumerate() {
        let p = conditions.index(i);
        if c.type_.is_empty() {
            errors.push(FieldError::required(&p.child("type"), ""));
        }
        one_of(
            &c.status,
            &p.child("status"),
            &["True", "False", "Unknown"],
            &mut errors,
        );
    }
    if !status.nominated_node_name.is_empty() {
        invalid_all(
            &path.child("nominatedNodeName"),
            &status.nominated_node_name,
            is_dns1123_subdomain(&status.nominated_node_name),
            &mut errors,
        );
    }
    for (field, primary_field, primary, ips) in [
        (
            "podIPs",
            "podIP",
            &status.pod_ip,
            status
                .pod_ips
                .iter()
                .map(|x| x.ip.as_str())
                .collect::<Vec<_>>(),
        ),
        (
            "hostIPs",
            "hostIP",
            &status.host_ip,
            status
                .host_ips
                .iter()
                .map(|x| x.ip.as_str())
                .collect::<Vec<_>>(),
        ),
    ] {
        let p = path.child(field);
        if ips.len() > 2 {
            errors.push(FieldError::too_many(&p, ips.len(), 2));
        }
        let mut seen = HashSet::new();
        for (i, ip) in ips.iter().enumerate() {
            if ip.parse::<std::net::IpAddr>().is_err() {
                errors.push(FieldError::invalid(
                    &p.index(i),
                    ip,
                    "must be a valid IP address",
                ));
            } else if !seen.insert(*ip) {
                errors.push(FieldError::duplicate(&p.index(i), ip));
            }
        }
        if !primary.is_empty() && ips.first().is_some_and(|first| first != primary) {
            errors.push(FieldError::invalid(
                &path.child(primary_field),
                primary,
                format!("must match the first entry of `status.{field}`"),
            ));
        }
    }
    for (field, statuses) in [
        ("initContainerStatuses", &status.init_container_statuses),
        ("containerStatuses", &status.container_statuses),
        (
            "ephemeralContainerStatuses",
            &status.ephemeral_container_statuses,
        ),
    ] {
        let p = path.child(field);
        for (i, cs) in statuses.iter().enumerate() {
            if cs.restart_count < 0 {
                errors.push(FieldError::invalid(
                    &p.index(i).child("restartCount"),
                    cs.restart_count,
                    "must be greater than or equal to 0",
                ));
            }
        }
    }
    errors
}

/// A sysctl name: dot- or slash-separated segments of lower-case
/// alphanumerics, `-` and `_`, each starting and ending alphanumeric.
fn is_sysctl_name(name: &str) -> bool {
    name.len() <= 253
        && name.split(['.', '/']).all(|seg| {
            let b = seg.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|&c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_'
                })
        })
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

pub(super) fn invalid_all(
    path: &Path<'_>,
    value: &str,
    messages: Vec<String>,
    errors: &mut ErrorList,
) {
    for m in messages {
        errors.push(FieldError::invalid(path, value, m));
    }
}

/// Reports `value` unless it is empty (to be defaulted) or one of `supported`.
pub(super) fn one_of(value: &str, path: &Path<'_>, supported: &[&str], errors: &mut ErrorList) {
    if !value.is_empty() && !supported.contains(&value) {
        errors.push(FieldError::not_supported(path, value, supported));
    }
}

pub(super) fn check_id(id: i64, path: &Path<'_>, errors: &mut ErrorList) {
    if !(0..=i64::from(i32::MAX)).contains(&id) {
        errors.push(FieldError::invalid(
            path,
            id,
            "must be between 0 and 2147483647, inclusive",
        ));
    }
}

pub(super) fn check_non_negative(value: i32, path: &Path<'_>, errors: &mut ErrorList) {
    if value < 0 {
        errors.push(FieldError::invalid(
            path,
            value,
            "must be greater than or equal to 0",
        ));
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
    errors.extend(crate::api::selector::validate_label_selector(
        selector, path,
    ));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::core::{
        ContainerPort, EnvVar, EnvVarSource, ExecAction, HttpGetAction, Lifecycle,
        LifecycleHandler, ObjectFieldSelector, Pod, PodDnsConfig, PodSchedulingGate, Probe,
        SecretKeySelector, TcpSocketAction, Volume, VolumeMount,
    };
    use crate::api::validation::ErrorType;
    use crate::api::{ObjectMeta, Resource};

    fn valid_spec() -> PodSpec {
        let mut c = Container::new("app", "nginx:1.27");
        c.ports.push(ContainerPort {
            name: "http".into(),
            container_port: 80,
            ..ContainerPort::default()
        });
        c.volume_mounts.push(VolumeMount {
            name: "data".into(),
            mount_path: "/data".into(),
            ..VolumeMount::default()
        });
        PodSpec {
            containers: vec![c],
            volumes: vec![Volume::empty_dir("data")],
            ..PodSpec::default()
        }
    }

    use crate::api::core::Container;

    fn probe() -> Box<Probe> {
        Box::new(Probe {
            tcp_socket: Some(TcpSocketAction {
                port: 80.into(),
                ..TcpSocketAction::default()
            }),
            ..Probe::default()
        })
    }

    type Case = (
        &'static str,
        fn(&mut PodSpec),
        &'static [(ErrorType, &'static str)],
    );

    #[test]
    fn pod_spec_errors_name_the_field() {
        use ErrorType::*;
        let cases: &[Case] = &[
            ("valid", |_| {}, &[]),
            ("no containers", |s| s.containers.clear(), &[(Required, "spec.containers")]),
            ("image required", |s| s.containers[0].image = "".into(), &[(Required, "spec.containers[0].image")]),
            ("bad container name", |s| s.containers[0].name = "App".into(), &[(Invalid, "spec.containers[0].name")]),
            (
                "duplicate name across init and regular",
                |s| s.init_containers.push(Container::new("app", "busybox")),
                &[(Duplicate, "spec.containers[0].name")],
            ),
            ("port 0", |s| s.containers[0].ports[0].container_port = 0, &[(Required, "spec.containers[0].ports[0].containerPort")]),
            ("port too big", |s| s.containers[0].ports[0].container_port = 70000, &[(Invalid, "spec.containers[0].ports[0].containerPort")]),
            ("host port range", |s| s.containers[0].ports[0].host_port = -1, &[(Invalid, "spec.containers[0].ports[0].hostPort")]),
            ("port name too long", |s| s.containers[0].ports[0].name = "a-very-long-port-name".into(), &[(Invalid, "spec.containers[0].ports[0].name")]),
            ("port name digits only", |s| s.containers[0].ports[0].name = "8080".into(), &[(Invalid, "spec.containers[0].ports[0].name")]),
            (
                "duplicate port name",
                |s| {
                    let p = s.containers[0].ports[0].clone();
                    s.containers[0].ports.push(ContainerPort { container_port: 81, ..p });
                },
                &[(Duplicate, "spec.containers[0].ports[1].name")],
            ),
            ("protocol", |s| s.containers[0].ports[0].protocol = "HTTP".into(), &[(NotSupported, "spec.containers[0].ports[0].protocol")]),
            (
                "hostNetwork needs hostPort == containerPort",
                |s| {
                    s.host_network = true;
                    s.containers[0].ports[0].host_port = 8080;
                },
                &[(Invalid, "spec.containers[0].ports[0].hostPort")],
            ),
            ("volume name", |s| s.volumes[0].name = "Data_1".into(), &[(Invalid, "spec.volumes[0].name"), (Invalid, "spec.containers[0].volumeMounts[0].name")]),
            (
                "duplicate volume",
                |s| s.volumes.push(Volume::empty_dir("data")),
                &[(Duplicate, "spec.volumes[1].name")],
            ),
            ("no volume source", |s| s.volumes[0].empty_dir = None, &[(Required, "spec.volumes[0]")]),
            (
                "two volume sources",
                |s| s.volumes[0].git_repo = Some(Box::new(crate::api::core::GitRepoVolumeSource { repository: "r".into(), ..Default::default() })),
                &[(Forbidden, "spec.volumes[0].gitRepo")],
            ),
            ("mount of unknown volume", |s| s.containers[0].volume_mounts[0].name = "nope".into(), &[(Invalid, "spec.containers[0].volumeMounts[0].name")]),
            ("mountPath required", |s| s.containers[0].volume_mounts[0].mount_path = "".into(), &[(Required, "spec.containers[0].volumeMounts[0].mountPath")]),
            (
                "env name",
                |s| s.containers[0].env.push(EnvVar { name: "1BAD".into(), value: "x".into(), value_from: None }),
                &[(Invalid, "spec.containers[0].env[0].name")],
            ),
            (
                "env valueFrom with two sources",
                |s| {
                    s.containers[0].env.push(EnvVar {
                        name: "A".into(),
                        value: "".into(),
                        value_from: Some(Box::new(EnvVarSource {
                            field_ref: Some(ObjectFieldSelector { api_version: "v1".into(), field_path: "metadata.name".into() }),
                            secret_key_ref: Some(SecretKeySelector { name: "s".into(), key: "k".into(), optional: None }),
                            ..EnvVarSource::default()
                        })),
                    })
                },
                &[(Invalid, "spec.containers[0].env[0].valueFrom")],
            ),
            (
                "env fieldRef path",
                |s| {
                    s.containers[0].env.push(EnvVar {
                        name: "A".into(),
                        value: "".into(),
                        value_from: Some(Box::new(EnvVarSource {
                            field_ref: Some(ObjectFieldSelector { api_version: "v1".into(), field_path: "spec.bogus".into() }),
                            ..EnvVarSource::default()
                        })),
                    })
                },
                &[(NotSupported, "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath")],
            ),
            ("restartPolicy", |s| s.restart_policy = "Sometimes".into(), &[(NotSupported, "spec.restartPolicy")]),
            ("dnsPolicy", |s| s.dns_policy = "Google".into(), &[(NotSupported, "spec.dnsPolicy")]),
            ("dnsPolicy None needs config", |s| s.dns_policy = "None".into(), &[(Required, "spec.dnsConfig")]),
            (
                "dnsConfig nameserver",
                |s| s.dns_config = Some(Box::new(PodDnsConfig { nameservers: vec!["dns".into()], ..Default::default() })),
                &[(Invalid, "spec.dnsConfig.nameservers[0]")],
            ),
            ("probe without handler", |s| s.containers[0].liveness_probe = Some(Box::default()), &[(Required, "spec.containers[0].livenessProbe")]),
            (
                "probe with two handlers",
                |s| {
                    let mut p = probe();
                    p.exec = Some(ExecAction { command: vec!["true".into()] });
                    s.containers[0].readiness_probe = Some(p);
                },
                &[(Forbidden, "spec.containers[0].readinessProbe")],
            ),
            (
                "negative threshold",
                |s| {
                    let mut p = probe();
                    p.failure_threshold = -1;
                    s.containers[0].startup_probe = Some(p);
                },
                &[(Invalid, "spec.containers[0].startupProbe.failureThreshold")],
            ),
            (
                "liveness success threshold must be 1",
                |s| {
                    let mut p = probe();
                    p.success_threshold = 2;
                    s.containers[0].liveness_probe = Some(p);
                },
                &[(Invalid, "spec.containers[0].livenessProbe.successThreshold")],
            ),
            (
                "httpGet port name",
                |s| {
                    let mut p = probe();
                    p.tcp_socket = None;
                    p.http_get = Some(HttpGetAction { port: "http_port".into(), ..Default::default() });
                    s.containers[0].liveness_probe = Some(p);
                },
                &[(Invalid, "spec.containers[0].livenessProbe.httpGet.port")],
            ),
            (
                "probe on init container",
                |s| {
                    let mut c = Container::new("init", "busybox");
                    c.readiness_probe = Some(probe());
                    s.init_containers.push(c);
                },
                &[(Forbidden, "spec.initContainers[0].readinessProbe")],
            ),
            (
                "probe on sidecar is fine",
                |s| {
                    let mut c = Container::new("proxy", "envoy");
                    c.restart_policy = Some("Always".into());
                    c.readiness_probe = Some(probe());
                    s.init_containers.push(c);
                },
                &[],
            ),
            ("restartPolicy on regular container", |s| s.containers[0].restart_policy = Some("Always".into()), &[(Forbidden, "spec.containers[0].restartPolicy")]),
            (
                "lifecycle handler required",
                |s| s.containers[0].lifecycle = Some(Box::new(Lifecycle { pre_stop: Some(LifecycleHandler::default()), post_start: None })),
                &[(Required, "spec.containers[0].lifecycle.preStop")],
            ),
            ("imagePullPolicy", |s| s.containers[0].image_pull_policy = "Sometimes".into(), &[(NotSupported, "spec.containers[0].imagePullPolicy")]),
            (
                "unsupported resource name",
                |s| {
                    s.containers[0].resources.limits.insert("gpu", crate::api::Quantity::from("1"));
                },
                &[(Invalid, "spec.containers[0].resources.limits[gpu]")],
            ),
            (
                "extended resource needs a limit",
                |s| {
                    s.containers[0].resources.requests.insert("example.com/gpu", crate::api::Quantity::from("1"));
                },
                &[(Forbidden, "spec.containers[0].resources.requests[example.com/gpu]")],
            ),
            (
                "request above limit",
                |s| {
                    let r = &mut s.containers[0].resources;
                    r.limits.insert("memory", crate::api::Quantity::from("1Gi"));
                    r.requests.insert("memory", crate::api::Quantity::from("1025Mi"));
                },
                &[(Invalid, "spec.containers[0].resources.requests[memory]")],
            ),
            (
                "hugepages are not overcommitable",
                |s| {
                    let r = &mut s.containers[0].resources;
                    r.requests.insert("hugepages-2Mi", crate::api::Quantity::from("2Mi"));
                    r.requests.insert("memory", crate::api::Quantity::from("1Gi"));
                },
                &[(Forbidden, "spec.containers[0].resources.requests[hugepages-2Mi]")],
            ),
            (
                "request equal to limit in other units",
                |s| {
                    let r = &mut s.containers[0].resources;
                    r.limits.insert("cpu", crate::api::Quantity::from("1"));
                    r.requests.insert("cpu", crate::api::Quantity::from("1000m"));
                },
                &[],
            ),
            (
                "malformed quantity",
                |s| {
                    s.containers[0].resources.requests.insert("cpu", crate::api::Quantity::from("1 core"));
                },
                &[(Invalid, "spec.containers[0].resources.requests[cpu]")],
            ),
            (
                "negative quantity",
                |s| {
                    s.containers[0].resources.limits.insert("memory", crate::api::Quantity::from("-1Mi"));
                },
                &[(Invalid, "spec.containers[0].resources.limits[memory]")],
            ),
            (
                "affinity selector operator",
                |s| {
                    s.affinity = Some(Box::new(Affinity {
                        pod_affinity: Some(crate::api::core::PodAffinity {
                            required_during_scheduling_ignored_during_execution: vec![PodAffinityTerm {
                                topology_key: "kubernetes.io/hostname".into(),
                                label_selector: Some(LabelSelector {
                                    match_expressions: vec![crate::api::LabelSelectorRequirement {
                                        key: "app".into(),
                                        operator: "Equals".into(),
                                        values: vec!["web".into()],
                                    }],
                                    ..Default::default()
                                }),
                                ..Default::default()
                            }],
                            ..Default::default()
                        }),
                        ..Default::default()
                    }));
                },
                &[(Invalid, "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchExpressions[0].operator")],
            ),
            (
                "host port conflict",
                |s| {
                    s.containers[0].ports[0].host_port = 8080;
                    let mut c = Container::new("other", "nginx");
                    c.ports.push(ContainerPort { container_port: 81, host_port: 8080, ..Default::default() });
                    s.containers.push(c);
                },
                &[(Duplicate, "spec.containers[1].ports[0].hostPort")],
            ),
            (
                "ephemeral target must exist",
                |s| {
                    s.ephemeral_containers.push(crate::api::core::EphemeralContainer {
                        name: "debug".into(),
                        image: "busybox".into(),
                        target_container_name: "nope".into(),
                        ..Default::default()
                    })
                },
                &[(Invalid, "spec.ephemeralContainers[0].targetContainerName")],
            ),
            (
                "seccomp localhost needs a profile",
                |s| {
                    let sc = crate::api::core::SecurityContext {
                        seccomp_profile: Some(crate::api::core::SeccompProfile { type_: "Localhost".into(), localhost_profile: None }),
                        ..Default::default()
                    };
                    s.containers[0].security_context = Some(Box::new(sc));
                },
                &[(Required, "spec.containers[0].securityContext.seccompProfile.localhostProfile")],
            ),
            (
                "pod seccomp type and sysctl name",
                |s| {
                    let sc = crate::api::core::PodSecurityContext {
                        seccomp_profile: Some(crate::api::core::SeccompProfile { type_: "Strict".into(), localhost_profile: None }),
                        sysctls: vec![crate::api::core::Sysctl { name: "Net.Core".into(), value: "1".into() }],
                        ..Default::default()
                    };
                    s.security_context = Some(Box::new(sc));
                },
                &[
                    (NotSupported, "spec.securityContext.seccompProfile.type"),
                    (Invalid, "spec.securityContext.sysctls[0].name"),
                ],
            ),
            ("negative grace period", |s| s.termination_grace_period_seconds = Some(-1), &[(Invalid, "spec.terminationGracePeriodSeconds")]),
            ("zero deadline", |s| s.active_deadline_seconds = Some(0), &[(Invalid, "spec.activeDeadlineSeconds")]),
            (
                "toleration Exists with value",
                |s| s.tolerations.push(Toleration { key: "k".into(), operator: "Exists".into(), value: "v".into(), ..Default::default() }),
                &[(Invalid, "spec.tolerations[0].operator")],
            ),
            (
                "toleration effect",
                |s| s.tolerations.push(Toleration { key: "k".into(), value: "v".into(), effect: "NoRun".into(), ..Default::default() }),
                &[(NotSupported, "spec.tolerations[0].effect")],
            ),
            (
                "toleration seconds need NoExecute",
                |s| s.tolerations.push(Toleration { key: "k".into(), operator: "Exists".into(), effect: "NoSchedule".into(), toleration_seconds: Some(5), ..Default::default() }),
                &[(Invalid, "spec.tolerations[0].effect")],
            ),
            (
                "empty key needs Exists",
                |s| s.tolerations.push(Toleration { operator: "Equal".into(), ..Default::default() }),
                &[(Invalid, "spec.tolerations[0].operator")],
            ),
            ("nodeSelector value", |s| {
                s.node_selector.insert("disk", "s s d");
            }, &[(Invalid, "spec.nodeSelector[disk]")]),
            ("hostname", |s| s.hostname = "web.0".into(), &[(Invalid, "spec.hostname")]),
            ("subdomain", |s| s.subdomain = "Web".into(), &[(Invalid, "spec.subdomain")]),
            ("priorityClassName", |s| s.priority_class_name = "High".into(), &[(Invalid, "spec.priorityClassName")]),
            ("preemptionPolicy", |s| s.preemption_policy = Some("Always".into()), &[(NotSupported, "spec.preemptionPolicy")]),
            ("serviceAccountName", |s| s.service_account_name = "my_sa".into(), &[(Invalid, "spec.serviceAccountName")]),
            (
                "topology spread",
                |s| {
                    s.topology_spread_constraints.push(TopologySpreadConstraint { max_skew: 0, when_unsatisfiable: "Maybe".into(), ..Default::default() });
                },
                &[
                    (Invalid, "spec.topologySpreadConstraints[0].maxSkew"),
                    (Required, "spec.topologySpreadConstraints[0].topologyKey"),
                    (NotSupported, "spec.topologySpreadConstraints[0].whenUnsatisfiable"),
                ],
            ),
            (
                "node affinity operator and weight",
                |s| {
                    let term = crate::api::core::NodeSelectorTerm {
                        match_expressions: vec![crate::api::core::NodeSelectorRequirement { key: "zone".into(), operator: "Exists".into(), values: vec!["a".into()] }],
                        ..Default::default()
                    };
                    s.affinity = Some(Box::new(Affinity {
                        node_affinity: Some(crate::api::core::NodeAffinity {
                            required_during_scheduling_ignored_during_execution: Some(crate::api::core::NodeSelector { node_selector_terms: vec![term.clone()] }),
                            preferred_during_scheduling_ignored_during_execution: vec![crate::api::core::PreferredSchedulingTerm { weight: 0, preference: Default::default() }],
                        }),
                        ..Default::default()
                    }));
                },
                &[
                    (Forbidden, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values"),
                    (Invalid, "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight"),
                ],
            ),
            (
                "pod anti-affinity topologyKey",
                |s| {
                    s.affinity = Some(Box::new(Affinity {
                        pod_anti_affinity: Some(crate::api::core::PodAntiAffinity {
                            required_during_scheduling_ignored_during_execution: vec![PodAffinityTerm::default()],
                            ..Default::default()
                        }),
                        ..Default::default()
                    }));
                },
                &[(Required, "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey")],
            ),
            (
                "scheduling gates unique",
                |s| s.scheduling_gates = vec![PodSchedulingGate { name: "a".into() }, PodSchedulingGate { name: "a".into() }],
                &[(Duplicate, "spec.schedulingGates[1]")],
            ),
        ];
        for (name, mutate, want) in cases {
            let mut spec = valid_spec();
            mutate(&mut spec);
            let got: Vec<(ErrorType, String)> = validate_pod_spec(&spec, &Path::root("spec"))
                .into_iter()
                .map(|e| (e.kind, e.field))
                .collect();
            let want: Vec<(ErrorType, String)> =
                want.iter().map(|(k, f)| (*k, f.to_string())).collect();
            assert_eq!(got, want, "case {name:?}");
        }
    }

    #[test]
    fn request_above_limit_message() {
        let mut spec = valid_spec();
        let r = &mut spec.containers[0].resources;
        r.limits
            .insert("memory", crate::api::Quantity::from("1024Mi"));
        r.requests
            .insert("memory", crate::api::Quantity::from("2Gi"));
        assert_eq!(
            validate_pod_spec(&spec, &Path::root("spec")).to_string(),
            "spec.containers[0].resources.requests[memory]: Invalid value: \"2Gi\": must be less than or equal to memory limit of 1Gi"
        );
    }

    #[test]
    fn status_updates() {
        let old = pod(valid_spec());
        let mut new = old.clone();
        new.status.phase = "Running".into();
        new.status.pod_ip = "10.0.0.5".into();
        new.status.pod_ips = vec![
            crate::api::core::PodIp {
                ip: "10.0.0.5".into(),
            },
            crate::api::core::PodIp {
                ip: "fd00::5".into(),
            },
        ];
        assert!(validate_pod_status_update(&new, &old).is_empty());
        let mut bad = new.clone();
        bad.status.phase = "Done".into();
        bad.status.pod_ips[1].ip = "10.0.0.5".into();
        bad.status.pod_ip = "10.0.0.6".into();
        let fields: Vec<(ErrorType, String)> = validate_pod_status_update(&bad, &old)
            .into_iter()
            .map(|e| (e.kind, e.field))
            .collect();
        assert_eq!(
            fields,
            [
                (ErrorType::NotSupported, "status.phase".to_string()),
                (ErrorType::Duplicate, "status.podIPs[1]".to_string()),
                (ErrorType::Invalid, "status.podIP".to_string()),
            ]
        );
        let mut done = new.clone();
        done.status.phase = "Succeeded".into();
        assert_eq!(
            validate_pod_status_update(&new, &done).to_string(),
            "status.phase: Forbidden: cannot transition from terminal phase \"Succeeded\" to \"Running\""
        );
    }

    #[test]
    fn template_paths_and_labels() {
        let mut t = PodTemplateSpec {
            metadata: ObjectMeta::default(),
            spec: valid_spec(),
        };
        t.metadata.labels.insert("app", "bad value");
        t.spec.containers[0].image = "".into();
        t.spec
            .ephemeral_containers
            .push(crate::api::core::EphemeralContainer {
                name: "debug".into(),
                image: "busybox".into(),
                ..Default::default()
            });
        let errors = validate_pod_template_spec(&t, &Path::root("spec").child("template"));
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.template.metadata.labels[app]",
                "spec.template.spec.containers[0].image",
                "spec.template.spec.ephemeralContainers"
            ]
        );
        assert_eq!(
            errors.iter().nth(1).unwrap().to_string(),
            "spec.template.spec.containers[0].image: Required value"
        );
    }

    fn pod(spec: PodSpec) -> Pod {
        let mut pod = Pod {
            metadata: ObjectMeta::namespaced("default", "web"),
            spec,
            ..Pod::default()
        };
        pod.apply_defaults();
        pod
    }

    #[test]
    fn pod_updates_only_change_what_is_mutable() {
        let old = pod(valid_spec());
        let mut new = old.clone();
        new.spec.containers[0].image = "nginx:1.28".into();
        new.spec.active_deadline_seconds = Some(600);
        new.spec.tolerations.push(Toleration {
            key: "k".into(),
            operator: "Exists".into(),
            ..Default::default()
        });
        assert!(
            new.validate_update(&old).is_empty(),
            "{}",
            new.validate_update(&old)
        );

        let mut changed = old.clone();
        changed.spec.containers[0].ports[0].container_port = 81;
        let errors = changed.validate_update(&old);
        assert_eq!(errors.len(), 1);
        let e = errors.iter().next().unwrap();
        assert_eq!((e.kind, e.field.as_str()), (ErrorType::Forbidden, "spec"));
        assert!(e
            .detail
            .starts_with("pod updates may not change fields other than"));

        let mut longer = new.clone();
        longer.spec.active_deadline_seconds = Some(700);
        assert_eq!(
            longer.validate_update(&new).to_string(),
            "spec.activeDeadlineSeconds: Invalid value: 700: must be less than or equal to previous value"
        );

        let mut removed = new.clone();
        removed.spec.tolerations.clear();
        assert_eq!(
            removed.validate_update(&new).to_string(),
            "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"
        );

        let mut gated = old.clone();
        gated
            .spec
            .scheduling_gates
            .push(PodSchedulingGate { name: "g".into() });
        let mut ungated = gated.clone();
        ungated.spec.scheduling_gates.clear();
        assert!(ungated.validate_update(&gated).is_empty());
        assert_eq!(
            gated.validate_update(&ungated).to_string(),
            "spec.schedulingGates: Forbidden: only deletion is allowed, but found new scheduling gate 'g'"
        );

        let mut renamed = old.clone();
        renamed.metadata.name = "other".into();
        assert_eq!(
            renamed.validate_update(&old).to_string(),
            "metadata.name: Invalid value: \"name\": field is immutable"
        );
    }
}
