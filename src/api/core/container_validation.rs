//! Validation of containers: names and images, ports, environment, volume
//! mounts, probes and lifecycle hooks, resources and security context.
use std::cmp::Ordering;
use std::collections::HashSet;

use super::pod_validation::{check_id, check_non_negative, invalid_all, one_of, validate_profile};
use super::{
    Container, EnvFromSource, EnvVar, EphemeralContainer, HttpGetAction, LifecycleHandler, Probe,
    ResourceRequirements, VolumeMount,
};
use crate::api::quantity::validate_resource_list as validate_resource_list_quantities;
use crate::api::validation::{
    is_dns1123_label, is_dns1123_subdomain, is_qualified_name, ErrorList, FieldError, Path,
};
use crate::api::{IntOrString, Quantity, ResourceList};

pub(super) fn validate_container(
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
        if let Some(profile) = &sc.seccomp_profile {
            validate_profile(
                &profile.type_,
                profile.localhost_profile.as_deref(),
                &p.child("seccompProfile"),
                errors,
            );
        }
        if let Some(profile) = &sc.app_armor_profile {
            validate_profile(
                &profile.type_,
                profile.localhost_profile.as_deref(),
                &p.child("appArmorProfile"),
                errors,
            );
        }
        if let Some(m) = &sc.proc_mount {
            one_of(m, &p.child("procMount"), &["Default", "Unmasked"], errors);
        }
    }
}

pub(super) fn validate_ephemeral_container(
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
    let valid = !name.is_empty()
        && name
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

pub(super) fn validate_resource_list(list: &ResourceList, path: &Path<'_>, errors: &mut ErrorList) {
    errors.extend(validate_resource_list_quantities(list, path));
}

pub(super) fn validate_resources(
    r: &ResourceRequirements,
    path: &Path<'_>,
    errors: &mut ErrorList,
) {
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
            // Only cpu, memory and ephemeral-storage may be overcommitted.
            if !CONTAINER_RESOURCES.contains(&name) {
                errors.push(FieldError::forbidden(
                    &requests.key(name),
                    "Limit must be set for non overcommitable resources",
                ));
            }
            continue;
        };
        let Some(order) = request.compare(limit) else {
            continue; // unparsable: reported by validate_resource_list
        };
        // Kubernetes prints both quantities in canonical form.
        let canonical = |q: &Quantity| q.canonical().unwrap_or_else(|_| q.clone());
        let (request, limit) = (canonical(request), canonical(limit));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_names_follow_iana_rules() {
        for ok in ["http", "http-alt", "h2c", "a1", "metrics-9100"] {
            assert!(is_valid_port_name(ok).is_empty(), "{ok}");
        }
        for (bad, why) in [
            ("sixteen-chars-xx", "must be no more than 15 characters"),
            (
                "Http",
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            ),
            ("http--alt", "must not contain consecutive hyphens"),
            ("8080", "must contain at least one letter (a-z)"),
            ("-http", "must not begin or end with a hyphen"),
        ] {
            assert_eq!(is_valid_port_name(bad), vec![why.to_string()], "{bad}");
        }
    }

    #[test]
    fn env_names_and_config_keys() {
        for ok in ["PATH", "my.env-name", "_x", "MyEnvName1"] {
            assert!(is_env_var_name(ok).is_empty(), "{ok}");
        }
        for bad in ["1X", "A B", "A=B", "", ".."] {
            assert!(!is_env_var_name(bad).is_empty(), "{bad:?}");
        }
        assert!(is_config_map_key("app.properties").is_empty());
        assert!(!is_config_map_key("a/b").is_empty());
        assert_eq!(
            is_config_map_key(".."),
            vec!["must not be '..'".to_string()]
        );
    }
}
