//! Validation of pod volumes: names, exactly one source, and each source's
//! required fields, paths and file modes.
use std::collections::HashSet;

use super::pod_validation::{invalid_all, one_of};
use super::{KeyToPath, Volume};
use crate::api::validation::{is_dns1123_label, ErrorList, FieldError, Path};

pub(super) fn validate_volumes<'a>(
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
        if v.source_count() == 1 {
            validate_volume_source(v, &p, errors);
            continue;
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

fn validate_key_to_paths(items: &[KeyToPath], path: &Path<'_>, errors: &mut ErrorList) {
    for (i, item) in items.iter().enumerate() {
        let p = path.index(i);
        if item.key.is_empty() {
            errors.push(FieldError::required(&p.child("key"), ""));
        }
        check_relative_path(&item.path, &p.child("path"), errors);
        check_mode(item.mode, &p.child("mode"), errors);
    }
}
