//! Loads, defaults and validates manifests as `kubectl apply
//! --dry-run=client` would, and reports each object:
//!
//! ```text
//! cargo run --example validate -- FILE... # `-` reads standard input
//! Deployment/kubia: ok
//! ../shared/manifests/seeds/45-pod-myPod.yaml:4:3: Pod/myPod: metadata.name: Invalid value: "myPod": ...
//! ```
//!
//! Each error is `FILE:LINE:COL: Kind/name: field: message`; errors found
//! before the object could be decoded (syntax, unknown kinds, removed API
//! versions) name the document instead of the object. The exit status is 0
//! only when every object of every file is valid, 1 otherwise, 2 on a usage
//! error.
use std::io::Read;
use std::process::ExitCode;

use keelson::api::manifest::{Loaded, Loader, ManifestError, ManifestErrorKind};
use keelson::api::Scheme;

/// `Kind/name` of a loaded object.
fn object_name(loaded: &Loaded) -> String {
    let meta = loaded.object.meta();
    let name = if !meta.name.is_empty() {
        meta.name.to_string()
    } else if !meta.generate_name.is_empty() {
        format!("{}*", meta.generate_name)
    } else {
        "<no name>".to_string()
    };
    format!("{}/{name}", loaded.object.type_meta().kind)
}

/// `FILE:LINE:COL: what: field: message` for one error.
fn error_line(file: &str, what: &str, e: &ManifestError) -> String {
    let mut message = e.kind.to_string();
    if let ManifestErrorKind::Invalid(fe) = &*e.kind {
        // A field error's text starts with its own path; print it once.
        if let Some(rest) = message.strip_prefix(&format!("{}: ", fe.field)) {
            message = rest.to_string();
        }
    }
    let mut out = format!("{file}:{}:{}: {what}: ", e.line, e.column);
    if !e.field.is_empty() {
        out.push_str(&e.field);
        out.push_str(": ");
    }
    out.push_str(&message);
    out
}

/// The report lines for one file's contents, and whether all is valid.
fn report(loader: &Loader<'_>, file: &str, input: &[u8]) -> (Vec<String>, bool) {
    let mut lines = Vec::new();
    let mut valid = true;
    for result in loader.load_bytes(input) {
        match result {
            Ok(mut loaded) => {
                let name = object_name(&loaded);
                match loaded.default_and_validate() {
                    Ok(()) => lines.push(format!("{name}: ok")),
                    Err(errors) => {
                        valid = false;
                        lines.extend(errors.iter().map(|e| error_line(file, &name, e)));
                    }
                }
            }
            Err(e) => {
                valid = false;
                let what = match e.item {
                    Some(item) => format!("document {} item {item}", e.document),
                    None => format!("document {}", e.document),
                };
                lines.push(error_line(file, &what, &e));
            }
        }
    }
    (lines, valid)
}

fn read(file: &str) -> std::io::Result<Vec<u8>> {
    if file == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf)?;
        Ok(buf)
    } else {
        std::fs::read(file)
    }
}

fn main() -> ExitCode {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() || files.iter().any(|f| f == "-h" || f == "--help") {
        eprintln!("usage: validate FILE... (`-` reads standard input)");
        return ExitCode::from(2);
    }
    let loader = Loader::new(Scheme::builtin());
    let mut all_valid = true;
    for file in &files {
        let name = if file == "-" {
            "<stdin>"
        } else {
            file.as_str()
        };
        match read(file) {
            Ok(input) => {
                let (lines, valid) = report(&loader, name, &input);
                for line in lines {
                    println!("{line}");
                }
                all_valid &= valid;
            }
            Err(e) => {
                println!("{name}: {e}");
                all_valid = false;
            }
        }
    }
    if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &str) -> (Vec<String>, bool) {
        report(&Loader::new(Scheme::builtin()), "f.yaml", input.as_bytes())
    }

    #[test]
    fn valid_objects_print_ok() {
        let (lines, valid) = run(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n---\n\
             apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
        );
        assert_eq!(lines, ["ConfigMap/c: ok", "Namespace/shop: ok"]);
        assert!(valid);
    }

    #[test]
    fn validation_errors_name_file_line_object_and_field() {
        let (lines, valid) = run("apiVersion: v1\nkind: Pod\nmetadata:\n  name: myPod\nspec:\n  containers:\n  - name: c\n");
        assert!(!valid);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0]
                .starts_with("f.yaml:4:3: Pod/myPod: metadata.name: Invalid value: \"myPod\": "),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].starts_with("f.yaml:7:5: Pod/myPod: spec.containers[0].image: Required value"),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn load_errors_name_the_document() {
        let (lines, valid) = run(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n---\n\
             apiVersion: batch/v1beta1\nkind: CronJob\nmetadata:\n  name: x\n---\na:\n\tb: 1\n",
        );
        assert!(!valid);
        assert_eq!(lines[0], "ConfigMap/c: ok");
        assert!(
            lines[1].starts_with("f.yaml:6:1: document 1: apiVersion: no kind \"CronJob\" in version \"batch/v1beta1\""),
            "{}",
            lines[1]
        );
        assert!(lines[2].starts_with("f.yaml:12:"), "{}", lines[2]);
        assert!(lines[2].contains(": document 2: "), "{}", lines[2]);
    }
}
