//! Object model benchmarks: `cargo bench --bench object_model` (release, our
//! own harness, about 30 s). keelson's API types against the `k8s-openapi`
//! crate's generated types (the ones kube-rs uses), decoding and encoding the
//! same JSON in the same run. Every figure is one line
//! `bench <name>: <value> <unit>`; `docs/BENCHMARKS.md` records them.
//!
//! Groups (run one by naming it: `cargo bench --bench object_model -- pod`):
//! - `pod`: a typical running Pod (`pod.json`, 6.6 KB: two containers, env
//!   with `valueFrom`, ports, resources, exec/httpGet/tcpSocket probes,
//!   emptyDir/configMap/projected volumes, tolerations, full status) decoded
//!   with `serde_json::from_slice` and encoded with `serde_json::to_writer`,
//!   in ns/object and MB/s of JSON; keelson's decode through the scheme with
//!   `fieldValidation=Strict`, and decode + default + validate (objects/s).
//! - `list`: a 1,000-item PodList built from the same pod (names, uids and
//!   IPs varied), decoded whole.
//! - `deployment`: a Deployment as the API server returns it
//!   (`deployment.json`), decode, encode, decode + default + validate.
//! - `yaml`: `manifests.yaml` (a Deployment and a Pod as users write them)
//!   through `keelson::api::manifest::Loader`, in ns per document, with and
//!   without defaulting and validation (k8s-openapi has no YAML loader).
//! - `memory`: heap bytes per decoded Pod, holding 10,000 decoded pods (a
//!   counting global allocator: live bytes after minus before, the pods'
//!   inline size included), and heap allocations per decode.
//!
//! Timing: each figure is measured in rounds of about 100 ms after one
//! warm-up round; the two sides' rounds alternate, and the median of nine
//! rounds is reported. Each iteration includes dropping the decoded value.
//! At the end the targets are checked and printed as
//! `target ...: met` or `target ...: NOT MET` lines.
use std::hint::black_box;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment as K8sDeployment;
use k8s_openapi::api::core::v1::Pod as K8sPod;
use keelson::api::apps::Deployment;
use keelson::api::core::Pod;
use keelson::api::manifest::Loader;
use keelson::api::{FieldValidation, List, Resource, Scheme};
use serde_json::Value;

#[path = "../common/alloc.rs"]
mod alloc;
use alloc::{ALLOCATIONS, COUNTING, LIVE};

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

const POD_JSON: &str = include_str!("pod.json");
const DEPLOYMENT_JSON: &str = include_str!("deployment.json");
const MANIFESTS_YAML: &str = include_str!("manifests.yaml");
const LIST_ITEMS: usize = 1_000;
const MEMORY_PODS: usize = 10_000;
const ROUND: Duration = Duration::from_millis(100);
const ROUNDS: usize = 9;

fn main() -> ExitCode {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |name: &str| filters.is_empty() || filters.iter().any(|f| f == name);
    println!("load average at start: {}", load_average());
    let inputs = match Inputs::new() {
        Ok(inputs) => inputs,
        Err(e) => {
            eprintln!("object_model: the benchmark input is not usable: {e}");
            return ExitCode::FAILURE;
        }
    };
    inputs.notes();
    let mut targets = Vec::new();
    if wanted("pod") {
        pod(&inputs, &mut targets);
    }
    if wanted("list") {
        list(&inputs, &mut targets);
    }
    if wanted("deployment") {
        deployment(&inputs, &mut targets);
    }
    if wanted("yaml") {
        yaml();
    }
    if wanted("memory") {
        memory(&inputs, &mut targets);
    }
    for t in &targets {
        println!("{t}");
    }
    println!("load average at end: {}", load_average());
    ExitCode::SUCCESS
}

/// The JSON inputs, checked once before anything is timed.
struct Inputs {
    pod: Vec<u8>,
    deployment: Vec<u8>,
    pod_list: Vec<u8>,
}

impl Inputs {
    fn new() -> Result<Self, String> {
        let pod = POD_JSON.as_bytes().to_vec();
        let deployment = DEPLOYMENT_JSON.as_bytes().to_vec();
        let pod_list = pod_list(LIST_ITEMS)?;
        // Both sides must decode every input, or the comparison is void.
        serde_json::from_slice::<Pod>(&pod).map_err(|e| format!("keelson Pod: {e}"))?;
        serde_json::from_slice::<K8sPod>(&pod).map_err(|e| format!("k8s-openapi Pod: {e}"))?;
        serde_json::from_slice::<Deployment>(&deployment)
            .map_err(|e| format!("keelson Deployment: {e}"))?;
        serde_json::from_slice::<K8sDeployment>(&deployment)
            .map_err(|e| format!("k8s-openapi Deployment: {e}"))?;
        let ours = serde_json::from_slice::<List<Pod>>(&pod_list)
            .map_err(|e| format!("keelson PodList: {e}"))?;
        let theirs = serde_json::from_slice::<k8s_openapi::List<K8sPod>>(&pod_list)
            .map_err(|e| format!("k8s-openapi PodList: {e}"))?;
        if ours.items.len() != LIST_ITEMS || theirs.items.len() != LIST_ITEMS {
            return Err("the PodList did not decode to 1,000 items".into());
        }
        // The scheme's strict decode must find nothing unknown: every field
        // of the input is one keelson knows.
        let decoded = Scheme::builtin()
            .decode(&pod, FieldValidation::Strict)
            .map_err(|e| format!("keelson strict Pod: {e}"))?;
        if !decoded.unknown_fields.is_empty() {
            return Err(format!("unknown Pod fields: {:?}", decoded.unknown_fields));
        }
        let loaded = Loader::new(Scheme::builtin()).load_str(MANIFESTS_YAML);
        if loaded.len() != 2 {
            return Err(format!("manifests.yaml: {} objects, not 2", loaded.len()));
        }
        for result in loaded {
            let mut object = result.map_err(|e| format!("manifests.yaml: {e}"))?;
            object.default_and_validate().map_err(|errors| {
                let errors: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                format!("manifests.yaml: {}", errors.join("; "))
            })?;
        }
        Ok(Inputs {
            pod,
            deployment,
            pod_list,
        })
    }

    /// Prints whether each side re-encodes the inputs to the same JSON.
    fn notes(&self) {
        fn same<T: serde::Serialize + serde::de::DeserializeOwned>(json: &[u8]) -> String {
            let input: Value = serde_json::from_slice(json).unwrap_or(Value::Null);
            match serde_json::from_slice::<T>(json).and_then(|o| serde_json::to_vec(&o)) {
                Ok(out) => {
                    let output: Value = serde_json::from_slice(&out).unwrap_or(Value::Null);
                    if output == input {
                        format!("identical JSON ({} bytes compact)", out.len())
                    } else {
                        format!("different JSON ({} bytes compact)", out.len())
                    }
                }
                Err(e) => format!("failed: {e}"),
            }
        }
        let compact = |json: &[u8]| {
            serde_json::from_slice::<Value>(json)
                .ok()
                .and_then(|v| serde_json::to_vec(&v).ok())
                .map_or(0, |v| v.len())
        };
        println!(
            "input pod.json: {} bytes ({} compact); deployment.json: {} bytes ({} compact); PodList: {} bytes",
            self.pod.len(),
            compact(&self.pod),
            self.deployment.len(),
            compact(&self.deployment),
            self.pod_list.len()
        );
        println!("round trip pod keelson: {}", same::<Pod>(&self.pod));
        println!("round trip pod k8s-openapi: {}", same::<K8sPod>(&self.pod));
        println!(
            "round trip deployment keelson: {}",
            same::<Deployment>(&self.deployment)
        );
        println!(
            "round trip deployment k8s-openapi: {}",
            same::<K8sDeployment>(&self.deployment)
        );
    }
}

/// A PodList of `n` copies of the typical pod with distinct names, uids and
/// pod IPs, compact as the API server writes it.
fn pod_list(n: usize) -> Result<Vec<u8>, String> {
    let template: Value = serde_json::from_str(POD_JSON).map_err(|e| e.to_string())?;
    let mut items = Vec::with_capacity(n);
    for i in 0..n {
        let mut item = template.clone();
        item["metadata"]["name"] = format!("fortune-6d8f9c7b4-{i:05x}").into();
        item["metadata"]["uid"] = format!("6b1e4c2a-8d3f-4a9e-b7c1-{i:012x}").into();
        item["metadata"]["resourceVersion"] = (523_817 + i).to_string().into();
        let ip = format!("10.244.{}.{}", i / 250, i % 250 + 2);
        item["status"]["podIP"] = ip.clone().into();
        item["status"]["podIPs"] = serde_json::json!([{ "ip": ip }]);
        items.push(item);
    }
    let list = serde_json::json!({
        "apiVersion": "v1",
        "kind": "PodList",
        "metadata": {"resourceVersion": "524817"},
        "items": items,
    });
    serde_json::to_vec(&list).map_err(|e| e.to_string())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn report(name: &str, value: f64, unit: &str) {
    if value >= 1000.0 {
        println!("bench {name}: {value:.0} {unit}");
    } else {
        println!("bench {name}: {value:.3} {unit}");
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// How many iterations of `f` fill about one round.
fn calibrate(f: &mut dyn FnMut()) -> u64 {
    let mut iters = 1u64;
    loop {
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        let elapsed = start.elapsed();
        if elapsed >= ROUND / 4 || iters >= 1 << 30 {
            let per = elapsed.as_secs_f64() / iters as f64;
            return ((ROUND.as_secs_f64() / per) as u64).max(1);
        }
        iters *= 4;
    }
}

fn round(iters: u64, f: &mut dyn FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed().as_secs_f64() * 1e9 / iters as f64
}

/// Median ns per iteration of each closure: one warm-up round each, then
/// `ROUNDS` rounds alternating between them.
fn measure(fs: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    let iters: Vec<u64> = fs.iter_mut().map(|f| calibrate(&mut **f)).collect();
    for (f, &n) in fs.iter_mut().zip(&iters) {
        round(n, &mut **f);
    }
    let mut samples = vec![Vec::with_capacity(ROUNDS); fs.len()];
    for r in 0..ROUNDS {
        // Alternate which side goes first, so neither always follows the other.
        let order: Vec<usize> = if r % 2 == 0 {
            (0..fs.len()).collect()
        } else {
            (0..fs.len()).rev().collect()
        };
        for i in order {
            samples[i].push(round(iters[i], &mut *fs[i]));
        }
    }
    samples.into_iter().map(median).collect()
}

fn mb_per_s(bytes: usize, ns: f64) -> f64 {
    bytes as f64 / ns * 1e9 / 1e6
}

/// Reports a keelson/k8s-openapi pair in ns/object and MB/s, and records
/// whether keelson took at most k8s-openapi's time.
fn report_pair(
    name: &str,
    bytes: usize,
    ns: &[f64],
    per: &str,
    faster_target: bool,
    targets: &mut Vec<String>,
) {
    let (ours, theirs) = (ns[0], ns[1]);
    report(&format!("keelson_{name}"), ours, &format!("ns/{per}"));
    report(&format!("k8s_openapi_{name}"), theirs, &format!("ns/{per}"));
    report(
        &format!("keelson_{name}_throughput"),
        mb_per_s(bytes, ours),
        "MB/s",
    );
    report(
        &format!("k8s_openapi_{name}_throughput"),
        mb_per_s(bytes, theirs),
        "MB/s",
    );
    report(&format!("{name}_time_ratio"), ours / theirs, "x");
    if faster_target {
        targets.push(format!(
            "target {name}: keelson at least as fast as k8s-openapi: {} ({ours:.0} vs {theirs:.0} ns/{per}, {:.2}x the time)",
            if ours <= theirs { "met" } else { "NOT MET" },
            ours / theirs
        ));
    }
}

fn pod(inputs: &Inputs, targets: &mut Vec<String>) {
    let json = &inputs.pod[..];
    let ns = measure(&mut [
        &mut || {
            black_box(serde_json::from_slice::<Pod>(black_box(json)).ok());
        },
        &mut || {
            black_box(serde_json::from_slice::<K8sPod>(black_box(json)).ok());
        },
    ]);
    report_pair("pod_decode", json.len(), &ns, "object", true, targets);

    let ours: Option<Pod> = serde_json::from_slice(json).ok();
    let theirs: Option<K8sPod> = serde_json::from_slice(json).ok();
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut buf2 = Vec::with_capacity(16 * 1024);
    let mut ours_len = 0;
    let mut theirs_len = 0;
    let ns = measure(&mut [
        &mut || {
            buf.clear();
            black_box(serde_json::to_writer(&mut buf, black_box(&ours)).ok());
            ours_len = buf.len();
        },
        &mut || {
            buf2.clear();
            black_box(serde_json::to_writer(&mut buf2, black_box(&theirs)).ok());
            theirs_len = buf2.len();
        },
    ]);
    // Throughput over the bytes each side writes (both write the compact
    // form of the same object).
    report("keelson_pod_encode", ns[0], "ns/object");
    report("k8s_openapi_pod_encode", ns[1], "ns/object");
    report(
        "keelson_pod_encode_throughput",
        mb_per_s(ours_len, ns[0]),
        "MB/s",
    );
    report(
        "k8s_openapi_pod_encode_throughput",
        mb_per_s(theirs_len, ns[1]),
        "MB/s",
    );
    report("pod_encode_time_ratio", ns[0] / ns[1], "x");

    let ns = measure(&mut [
        &mut || {
            black_box(
                Scheme::builtin()
                    .decode(black_box(json), FieldValidation::Strict)
                    .ok(),
            );
        },
        &mut || {
            if let Ok(mut pod) = serde_json::from_slice::<Pod>(black_box(json)) {
                pod.apply_defaults();
                black_box(pod.validate());
            }
        },
    ]);
    report("keelson_pod_decode_strict", ns[0], "ns/object");
    report("keelson_pod_decode_default_validate", ns[1], "ns/object");
    report(
        "keelson_pod_decode_default_validate_rate",
        1e9 / ns[1],
        "objects/s",
    );
}

fn list(inputs: &Inputs, targets: &mut Vec<String>) {
    let json = &inputs.pod_list[..];
    let ns = measure(&mut [
        &mut || {
            black_box(serde_json::from_slice::<List<Pod>>(black_box(json)).ok());
        },
        &mut || {
            black_box(serde_json::from_slice::<k8s_openapi::List<K8sPod>>(black_box(json)).ok());
        },
    ]);
    let per_item: Vec<f64> = ns.iter().map(|n| n / LIST_ITEMS as f64).collect();
    report("keelson_podlist_1000_decode", ns[0] / 1e6, "ms/list");
    report("k8s_openapi_podlist_1000_decode", ns[1] / 1e6, "ms/list");
    report_pair(
        "podlist_decode",
        json.len() / LIST_ITEMS,
        &per_item,
        "item",
        true,
        targets,
    );
}

fn deployment(inputs: &Inputs, targets: &mut Vec<String>) {
    let json = &inputs.deployment[..];
    let ns = measure(&mut [
        &mut || {
            black_box(serde_json::from_slice::<Deployment>(black_box(json)).ok());
        },
        &mut || {
            black_box(serde_json::from_slice::<K8sDeployment>(black_box(json)).ok());
        },
    ]);
    report_pair(
        "deployment_decode",
        json.len(),
        &ns,
        "object",
        true,
        targets,
    );

    let ours: Option<Deployment> = serde_json::from_slice(json).ok();
    let theirs: Option<K8sDeployment> = serde_json::from_slice(json).ok();
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut buf2 = Vec::with_capacity(16 * 1024);
    let ns = measure(&mut [
        &mut || {
            buf.clear();
            black_box(serde_json::to_writer(&mut buf, black_box(&ours)).ok());
        },
        &mut || {
            buf2.clear();
            black_box(serde_json::to_writer(&mut buf2, black_box(&theirs)).ok());
        },
        &mut || {
            if let Ok(mut d) = serde_json::from_slice::<Deployment>(black_box(json)) {
                d.apply_defaults();
                black_box(d.validate());
            }
        },
    ]);
    report("keelson_deployment_encode", ns[0], "ns/object");
    report("k8s_openapi_deployment_encode", ns[1], "ns/object");
    report("deployment_encode_time_ratio", ns[0] / ns[1], "x");
    report(
        "keelson_deployment_decode_default_validate",
        ns[2],
        "ns/object",
    );
    report(
        "keelson_deployment_decode_default_validate_rate",
        1e9 / ns[2],
        "objects/s",
    );
}

fn yaml() {
    let loader = Loader::new(Scheme::builtin());
    let docs = 2.0;
    let ns = measure(&mut [
        &mut || {
            black_box(loader.load_str(black_box(MANIFESTS_YAML)));
        },
        &mut || {
            for loaded in loader
                .load_str(black_box(MANIFESTS_YAML))
                .into_iter()
                .flatten()
            {
                let mut loaded = loaded;
                black_box(loaded.default_and_validate().is_ok());
            }
        },
    ]);
    report("keelson_manifest_load", ns[0] / docs, "ns/doc");
    report(
        "keelson_manifest_load_throughput",
        mb_per_s(MANIFESTS_YAML.len(), ns[0]),
        "MB/s",
    );
    report(
        "keelson_manifest_load_default_validate",
        ns[1] / docs,
        "ns/doc",
    );
}

/// Live heap bytes and allocations per object while `n` decoded objects are
/// held (the vector holding them has exactly `n` slots, so the objects'
/// inline size counts too).
fn heap_per_object<T>(n: usize, decode: impl Fn() -> Option<T>) -> (f64, f64) {
    LIVE.store(0, Ordering::SeqCst);
    ALLOCATIONS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    let mut held: Vec<T> = Vec::with_capacity(n);
    for _ in 0..n {
        if let Some(object) = decode() {
            held.push(object);
        }
    }
    let live = LIVE.load(Ordering::SeqCst);
    let allocations = ALLOCATIONS.load(Ordering::SeqCst);
    COUNTING.store(false, Ordering::SeqCst);
    let count = held.len().max(1) as f64;
    drop(black_box(held));
    (live as f64 / count, allocations as f64 / count)
}

fn memory(inputs: &Inputs, targets: &mut Vec<String>) {
    let json = &inputs.pod[..];
    let (ours, ours_allocs) =
        heap_per_object(MEMORY_PODS, || serde_json::from_slice::<Pod>(json).ok());
    let (theirs, theirs_allocs) =
        heap_per_object(MEMORY_PODS, || serde_json::from_slice::<K8sPod>(json).ok());
    report("keelson_pod_heap", ours, "bytes/object");
    report("k8s_openapi_pod_heap", theirs, "bytes/object");
    report("pod_heap_ratio", ours / theirs, "x");
    report(
        "keelson_pod_inline_size",
        std::mem::size_of::<Pod>() as f64,
        "bytes",
    );
    report(
        "k8s_openapi_pod_inline_size",
        std::mem::size_of::<K8sPod>() as f64,
        "bytes",
    );
    report(
        "keelson_pod_decode_allocations",
        ours_allocs,
        "allocs/object",
    );
    report(
        "k8s_openapi_pod_decode_allocations",
        theirs_allocs,
        "allocs/object",
    );
    let (ours_d, _) = heap_per_object(MEMORY_PODS, || {
        serde_json::from_slice::<Deployment>(&inputs.deployment).ok()
    });
    let (theirs_d, _) = heap_per_object(MEMORY_PODS, || {
        serde_json::from_slice::<K8sDeployment>(&inputs.deployment).ok()
    });
    report("keelson_deployment_heap", ours_d, "bytes/object");
    report("k8s_openapi_deployment_heap", theirs_d, "bytes/object");
    targets.push(format!(
        "target pod_heap: keelson at most half of k8s-openapi: {} ({ours:.0} vs {theirs:.0} bytes/object, {:.2}x)",
        if ours <= theirs / 2.0 { "met" } else { "NOT MET" },
        ours / theirs
    ));
}
