//! Selector matching and quantity reads must not allocate: informer indexes,
//! list filters and the scheduler run them over 100k objects.
//!
//! A counting global allocator (per thread, so the test harness's own
//! threads do not disturb the count) checks it.
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Instant;

use keelson::api::quantity::Quantity;
use keelson::api::selector::{FieldSelector, LabelSelector, LabelSelectorRequirement, Selector};
use keelson::api::StringMap;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: the slot may be gone while a thread shuts down.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (out, ALLOCATIONS.with(Cell::get) - before)
}

fn objects(n: usize) -> Vec<StringMap> {
    (0..n)
        .map(|i| {
            let mut labels = StringMap::new();
            labels.insert("app", ["web", "api", "db"][i % 3]);
            labels.insert("env", ["prod", "qa", "dev", "staging"][i % 4]);
            labels.insert("pod-template-hash", format!("{:x}", i % 97));
            if i % 10 == 0 {
                labels.insert("canary", "true");
            }
            labels.insert("shard", (i % 16).to_string());
            labels
        })
        .collect()
}

#[test]
fn matching_does_not_allocate() {
    let objects = objects(100_000);
    let selectors: Vec<Selector> = [
        "app=web",
        "app in (web,api),env notin (qa,dev),!canary",
        "env!=prod,pod-template-hash",
        "shard>3,shard<12",
        "example.com/team=a",
        "",
    ]
    .iter()
    .map(|s| Selector::parse(s).unwrap())
    .collect();
    let structured = LabelSelector {
        match_labels: StringMap::from([("app", "web")]),
        match_expressions: vec![LabelSelectorRequirement {
            key: "env".into(),
            operator: "In".into(),
            values: vec!["prod".into(), "qa".into()],
        }],
    };
    let fields = FieldSelector::parse("metadata.namespace=default,status.phase!=Failed").unwrap();

    let start = Instant::now();
    let (counts, allocations) = allocations_during(|| {
        let mut counts = vec![0usize; selectors.len() + 2];
        for labels in &objects {
            for (i, sel) in selectors.iter().enumerate() {
                counts[i] += usize::from(sel.matches(labels));
            }
            counts[selectors.len()] += usize::from(structured.matches(labels));
            let get = |field: &str| match field {
                "metadata.namespace" => Some("default"),
                "status.phase" => labels.get_str("app"),
                _ => None,
            };
            counts[selectors.len() + 1] += usize::from(fields.matches(get));
        }
        counts
    });
    let elapsed = start.elapsed();
    assert_eq!(allocations, 1, "only the result vector may allocate");
    println!(
        "bench selector_match_100k: {:.1} ms for {} selectors",
        elapsed.as_secs_f64() * 1e3,
        selectors.len() + 2
    );
    // Per-selector timings, for the record.
    for sel in &selectors {
        let start = Instant::now();
        let n = objects.iter().filter(|l| sel.matches(l)).count();
        println!(
            "bench selector_match_100k[{sel}]: {:.2} ms ({n} matched)",
            start.elapsed().as_secs_f64() * 1e3
        );
    }
    let start = Instant::now();
    let n = objects.iter().filter(|l| structured.matches(l)).count();
    println!(
        "bench label_selector_match_100k[structured]: {:.2} ms ({n} matched)",
        start.elapsed().as_secs_f64() * 1e3
    );
    // The counts are what the selectors mean.
    assert_eq!(counts[0], 33_334);
    assert_eq!(counts[selectors.len() - 1], 100_000);
    assert_eq!(counts[4], 0);
    let expected = objects
        .iter()
        .filter(|l| {
            matches!(l.get_str("app"), Some("web" | "api"))
                && !matches!(l.get_str("env"), Some("qa" | "dev"))
                && !l.contains_key("canary")
        })
        .count();
    assert_eq!(counts[1], expected);
}

#[test]
fn quantity_reads_do_not_allocate() {
    let quantities: Vec<Quantity> = ["100m", "1.5", "64Mi", "2Gi", "1e3", "0.5Ki", "250m", "3"]
        .iter()
        .map(|s| Quantity::from(*s))
        .collect();
    let (total, allocations) = allocations_during(|| {
        let mut total = 0i64;
        for _ in 0..10_000 {
            for q in &quantities {
                total = total.wrapping_add(q.milli_value());
                total = total.wrapping_add(q.value());
            }
        }
        total
    });
    assert_eq!(allocations, 0);
    assert_ne!(total, 0);
}
