//! Malformed requests thrown at the server (property test): bodies mutated
//! from valid objects or random bytes, paths with random segments and
//! escapes, query strings with garbage values, any content type and
//! `Accept` header (protobuf ones included). Every
//! error response must be a well-formed `Status` whose `code` is the HTTP
//! status, the server must keep answering, and a rejected request must not
//! change anything stored (the store's revision stays put).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::Cluster;

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];
const PREFIXES: &[&str] = &[
    "/api/v1/namespaces/default/pods",
    "/api/v1/namespaces/default/pods/keep",
    "/api/v1/namespaces/default/pods/keep/status",
    "/api/v1/namespaces/default/configmaps/keep",
    "/api/v1/namespaces/default/configmaps",
    "/apis/apps/v1/namespaces/default/deployments",
    "/apis/apps/v1/namespaces/default/deployments/keep/scale",
    "/api/v1/namespaces",
    "/api/v1/nodes",
    "/apis/nope/v9/things",
    "/api",
    "/apis",
    "/api/v1",
    "/openapi/v3",
    "",
];
const QUERIES: &[&str] = &[
    "labelSelector",
    "fieldSelector",
    "limit",
    "continue",
    "resourceVersion",
    "resourceVersionMatch",
    "watch",
    "timeoutSeconds",
    "dryRun",
    "fieldManager",
    "fieldValidation",
    "propagationPolicy",
    "gracePeriodSeconds",
    "force",
    "as",
];
const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/json-patch+json",
    "application/apply-patch+yaml",
    "application/vnd.kubernetes.protobuf",
    "text/plain",
    "",
];
const ACCEPTS: &[&str] = &[
    "",
    "application/json",
    "application/vnd.kubernetes.protobuf",
    "application/vnd.kubernetes.protobuf, application/json",
    "application/vnd.kubernetes.protobuf;q=0, */*",
    "application/json;as=Table;v=v1;g=meta.k8s.io",
    ";;,,q=,application/",
];
const VALID: &[&str] = &[
    r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"keep","labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}"#,
    r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"keep"},"data":{"k":"v"}}"#,
    r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"keep"},"spec":{"replicas":1,"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}"#,
    r#"[{"op":"replace","path":"/metadata/labels/a","value":"c"}]"#,
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: keep\ndata:\n  k: v\n",
];

/// A request: method, path, content type, body.
#[derive(Debug, Clone)]
struct Request {
    method: &'static str,
    path: String,
    content_type: &'static str,
    accept: &'static str,
    body: Vec<u8>,
}

fn escape(segment: &str) -> String {
    let mut out = String::new();
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn path() -> impl Strategy<Value = String> {
    (
        prop::sample::select(PREFIXES),
        prop::collection::vec(
            prop_oneof![
                "[a-z0-9.-]{0,12}",
                "\\PC{0,8}".prop_map(|s| escape(&s)),
                Just("..".to_string()),
                Just("%00".to_string()),
                Just("%ZZ".to_string()),
            ],
            0..3,
        ),
        prop::collection::vec(
            (
                prop::sample::select(QUERIES),
                prop_oneof![
                    "[a-zA-Z0-9=!,()<> -]{0,16}".prop_map(|s| escape(&s)),
                    Just("-1".to_string()),
                    Just("99999999999999999999".to_string()),
                    Just("%ZZ".to_string()),
                    Just("".to_string()),
                ],
            ),
            0..4,
        ),
    )
        .prop_map(|(prefix, segments, query)| {
            let mut p = prefix.to_string();
            for s in segments {
                p.push('/');
                p.push_str(&s);
            }
            if p.is_empty() {
                p.push('/');
            }
            if !query.is_empty() {
                p.push('?');
                let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
                p.push_str(&q.join("&"));
            }
            p
        })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // A valid object, mutated: byte flips, truncation, insertion.
        (
            prop::sample::select(VALID),
            prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
            any::<prop::sample::Index>(),
            any::<bool>(),
        )
            .prop_map(|(valid, flips, cut, truncate)| {
                let mut b = valid.as_bytes().to_vec();
                for (i, v) in flips {
                    let i = i.index(b.len());
                    b[i] = v;
                }
                if truncate {
                    b.truncate(cut.index(b.len() + 1));
                }
                b
            }),
        prop::collection::vec(any::<u8>(), 0..256),
        // Deep nesting and huge numbers.
        (1usize..3000).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes()),
        Just(
            br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"keep","generation":1e400}}"#
                .to_vec()
        ),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    (
        prop::sample::select(METHODS),
        path(),
        prop::sample::select(CONTENT_TYPES),
        prop::sample::select(ACCEPTS),
        body(),
    )
        .prop_map(|(method, path, content_type, accept, body)| Request {
            method,
            path,
            content_type,
            accept,
            body,
        })
}

/// The store's current revision, from a consistent list.
async fn revision(c: &Cluster) -> String {
    let (code, _, body) = c.http("GET", "/api/v1/pods?limit=1", "", b"").await;
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).expect("list");
    v["metadata"]["resourceVersion"]
        .as_str()
        .expect("resourceVersion")
        .to_string()
}

#[test]
fn malformed_requests_get_a_status_and_change_nothing() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let c = rt.block_on(async {
        let c = Cluster::start().await;
        for (path, body) in [
            ("/api/v1/namespaces/default/pods", VALID[0]),
            ("/api/v1/namespaces/default/configmaps", VALID[1]),
            ("/apis/apps/v1/namespaces/default/deployments", VALID[2]),
        ] {
            let (code, _, out) = c
                .http(
                    "POST",
                    path,
                    "Content-Type: application/json\r\n",
                    body.as_bytes(),
                )
                .await;
            assert_eq!(code, 201, "{}", String::from_utf8_lossy(&out));
        }
        c
    });
    let mut runner = TestRunner::new(Config {
        cases: 1000,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&request(), |r| {
        rt.block_on(async {
            let before = revision(&c).await;
            let mut headers = if r.content_type.is_empty() {
                String::new()
            } else {
                format!("Content-Type: {}\r\n", r.content_type)
            };
            if !r.accept.is_empty() {
                headers.push_str(&format!("Accept: {}\r\n", r.accept));
            }
            // Watches would stream until their timeout: ask for a short one.
            let path = if r.path.contains("watch=") {
                format!("{}&timeoutSeconds=1", r.path)
            } else {
                r.path.clone()
            };
            let (code, head, body) = c.http(r.method, &path, &headers, &r.body).await;
            prop_assert!((100..600).contains(&code), "{code}");
            if code >= 400 {
                let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
                    TestCaseError::fail(format!(
                        "{} {path}: {code} with a body that is not JSON ({e}): {head}\n{}",
                        r.method,
                        String::from_utf8_lossy(&body)
                    ))
                })?;
                prop_assert_eq!(&v["kind"], "Status", "{} {}: {}", r.method, path, v);
                prop_assert_eq!(&v["apiVersion"], "v1");
                prop_assert_eq!(&v["status"], "Failure");
                prop_assert_eq!(v["code"].as_u64(), Some(u64::from(code)), "{}", v);
                prop_assert!(v["message"].is_string(), "{}", v);
                let after = revision(&c).await;
                prop_assert_eq!(
                    &before,
                    &after,
                    "rejected {} {} ({}) changed the store",
                    r.method,
                    path,
                    code
                );
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    rt.block_on(async {
        // Still serving, and the seeded objects are still readable.
        let (code, _, _) = c.http("GET", "/readyz", "", b"").await;
        assert_eq!(code, 200);
        c.serving.shutdown().await;
    });
}
