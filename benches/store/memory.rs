//! MemoryStore figures: CAS update throughput beside a `BTreeMap` yardstick,
//! and watch fan-out to 1,000 watchers beside a naive
//! `tokio::sync::broadcast` baseline. See `docs/BENCHMARKS.md` for what each
//! figure measures.
//!
//! `cargo bench --bench store -- update` (or `paced`, `unpaced`, `floor`)
//! runs one group. For profiling: `BENCH_ONLY=memory` (or `btreemap`,
//! `broadcast`) runs one side of a comparison, `BENCH_WORKERS=n` sets the
//! fan-out runtime's worker threads (default 2).
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use keelson::store::memory::Config;
use keelson::store::{
    Error, Event, EventKind, Key, KeyValue, ListOptions, ListResult, MemoryStore, Revision, Store,
    WatchStream,
};
use tokio::sync::broadcast;
use tokio::time::Instant;

const KEYS: usize = 100_000;
const VALUE_BYTES: usize = 256;
const WATCHERS: usize = 1_000;
const PACED_UPDATES: usize = 1_000;
const PACED_WARMUP: usize = 50;
const UNPACED_UPDATES: usize = 20_000;
const TRIALS: usize = 3;
const WATCH_KEY: &str = "/registry/pods/default/web-0";
const WATCH_PREFIX: &str = "/registry/pods/";

/// Runs every figure group, or those named on the command line.
pub fn run() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |name: &str| filters.is_empty() || filters.iter().any(|f| f == name);
    if wanted("update") {
        update();
    }
    if wanted("paced") {
        paced();
    }
    if wanted("unpaced") {
        unpaced();
    }
    if wanted("floor") {
        floor();
    }
}

/// CPU time used so far by every thread of this process, in seconds, from
/// `/proc/self/task/*/schedstat` (Linux; `None` elsewhere). The machine the
/// benchmarks run on is shared, so next to each throughput measured on the
/// wall clock we report the same work per CPU-second actually received.
fn cpu_seconds() -> Option<f64> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path().join("schedstat");
        let Ok(stat) = std::fs::read_to_string(path) else {
            continue; // the thread ended meanwhile
        };
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total as f64 / 1e9)
}

/// Wall-clock and CPU time of one run.
struct Timer {
    wall: Instant,
    cpu: Option<f64>,
}

impl Timer {
    fn start() -> Self {
        Self {
            wall: Instant::now(),
            cpu: cpu_seconds(),
        }
    }

    /// (work per wall-clock second, work per CPU-second)
    fn rates(&self, work: f64) -> (f64, f64) {
        let wall = work / self.wall.elapsed().as_secs_f64();
        let cpu = match (self.cpu, cpu_seconds()) {
            (Some(before), Some(after)) if after > before => work / (after - before),
            _ => f64::NAN,
        };
        (wall, cpu)
    }
}

fn report(name: &str, value: f64, unit: &str) {
    if value >= 1000.0 {
        println!("bench {name}: {value:.0} {unit}");
    } else {
        println!("bench {name}: {value:.3} {unit}");
    }
}

/// A 256-byte value whose first 16 bytes carry a sequence number and a send
/// time (nanoseconds since `base`).
fn value(seq: u64, base: Instant) -> Bytes {
    let mut buf = vec![0u8; VALUE_BYTES];
    buf[..8].copy_from_slice(&seq.to_le_bytes());
    let sent = base.elapsed().as_nanos() as u64;
    buf[8..16].copy_from_slice(&sent.to_le_bytes());
    Bytes::from(buf)
}

fn stamp(value: &[u8]) -> (u64, u64) {
    let seq = u64::from_le_bytes(value[..8].try_into().expect("8 bytes"));
    let sent = u64::from_le_bytes(value[8..16].try_into().expect("8 bytes"));
    (seq, sent)
}

/// Single-key CAS updates on one core: 100,000 keys of 256 bytes, no
/// watchers; beside it the same through a plain `BTreeMap` + history queue,
/// the design the issue measured at 700,000–900,000/s, as a yardstick on a
/// shared machine. Interleaved trials, best of each.
fn update() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (memory, naive) = rt.block_on(async {
        let memory_store = MemoryStore::new();
        let naive_store = NaiveStore::default();
        let mut memory = UpdateBench::new(&memory_store).await;
        let mut naive = UpdateBench::new(&naive_store).await;
        let mut best = ((0.0f64, 0.0f64), (0.0f64, 0.0f64));
        for _ in 0..TRIALS {
            let only = std::env::var("BENCH_ONLY").unwrap_or_default();
            let m = if only == "btreemap" {
                (0.0, 0.0)
            } else {
                memory.run(&memory_store).await
            };
            let n = if only == "memory" {
                (0.0, 0.0)
            } else {
                naive.run(&naive_store).await
            };
            best.0 = (best.0 .0.max(m.0), best.0 .1.max(m.1));
            best.1 = (best.1 .0.max(n.0), best.1 .1.max(n.1));
        }
        best
    });
    report("memory_update", memory.0, "updates/s");
    report("memory_update_per_cpu_second", memory.1, "updates/cpu-s");
    report("btreemap_baseline_update", naive.0, "updates/s");
    report(
        "btreemap_baseline_update_per_cpu_second",
        naive.1,
        "updates/cpu-s",
    );
}

fn bench_key(i: usize) -> String {
    format!("/registry/configmaps/default/cm-{i:06}")
}

struct UpdateBench {
    /// The key being written, formatted per update as a client would (a
    /// table of 100,000 pre-built keys would add a cache miss per update
    /// that no real caller pays).
    key: String,
    revisions: Vec<Revision>,
    x: u64,
    seq: u64,
}

impl UpdateBench {
    async fn new<S: Store>(store: &S) -> Self {
        let base = Instant::now();
        let mut revisions: Vec<Revision> = Vec::with_capacity(KEYS);
        for i in 0..KEYS {
            let kv = store
                .create(&bench_key(i), value(i as u64, base))
                .await
                .expect("create");
            revisions.push(kv.mod_revision);
        }
        Self {
            key: String::new(),
            revisions,
            x: 0x9E37_79B9_7F4A_7C15,
            seq: 0,
        }
    }

    fn key_of(&mut self, i: usize) -> &str {
        use std::fmt::Write;
        self.key.clear();
        let _ = write!(self.key, "/registry/configmaps/default/cm-{i:06}");
        &self.key
    }

    /// One second of updates: (updates/s, updates per CPU-second).
    async fn run<S: Store>(&mut self, store: &S) -> (f64, f64) {
        let start = Instant::now();
        let timer = Timer::start();
        let mut ops = 0u64;
        while start.elapsed() < Duration::from_millis(1000) {
            for _ in 0..10_000 {
                // xorshift: keys in a random order.
                self.x ^= self.x << 13;
                self.x ^= self.x >> 7;
                self.x ^= self.x << 17;
                let i = (self.x % KEYS as u64) as usize;
                self.seq += 1;
                let mut buf = vec![0u8; VALUE_BYTES];
                buf[..8].copy_from_slice(&self.seq.to_le_bytes());
                let expected = self.revisions[i];
                let kv = store
                    .update(self.key_of(i), Bytes::from(buf), expected)
                    .await
                    .expect("update");
                self.revisions[i] = kv.mod_revision;
            }
            ops += 10_000;
        }
        timer.rates(ops as f64)
    }
}

/// The yardstick: a `BTreeMap` of key-values and a queue of the last 10,000
/// events under one lock. Only what the update benchmark calls is there.
#[derive(Default)]
struct NaiveStore {
    state: std::sync::Mutex<NaiveState>,
}

#[derive(Default)]
struct NaiveState {
    revision: Revision,
    keys: std::collections::BTreeMap<String, KeyValue>,
    history: std::collections::VecDeque<Event>,
}

impl NaiveState {
    fn push(&mut self, event: Event) {
        if self.history.len() == Config::default().history {
            self.history.pop_front();
        }
        self.history.push_back(event);
    }
}

#[async_trait::async_trait]
impl Store for NaiveStore {
    async fn get(&self, _: &str) -> Result<KeyValue, Error> {
        Err(Error::Unsupported("get"))
    }

    async fn list(&self, _: &str, _: ListOptions) -> Result<ListResult, Error> {
        Err(Error::Unsupported("list"))
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, Error> {
        let mut state = self.state.lock().expect("lock");
        if state.keys.contains_key(key) {
            return Err(Error::AlreadyExists {
                key: key.to_owned(),
            });
        }
        state.revision += 1;
        let kv = KeyValue {
            key: Key::from(key),
            value,
            create_revision: state.revision,
            mod_revision: state.revision,
            version: 1,
        };
        state.keys.insert(key.to_owned(), kv.clone());
        state.push(Event {
            kind: EventKind::Put,
            kv: kv.clone(),
            prev: None,
        });
        Ok(kv)
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue, Error> {
        let mut guard = self.state.lock().expect("lock");
        let state = &mut *guard;
        let revision = state.revision + 1;
        let Some(current) = state.keys.get_mut(key) else {
            return Err(Error::NotFound {
                key: key.to_owned(),
            });
        };
        if current.mod_revision != expected {
            return Err(Error::Conflict {
                key: key.to_owned(),
                expected,
                current: current.mod_revision,
            });
        }
        let kv = KeyValue {
            key: Key::from(key),
            value,
            create_revision: current.create_revision,
            mod_revision: revision,
            version: current.version + 1,
        };
        let prev = std::mem::replace(current, kv.clone());
        state.revision = revision;
        state.push(Event {
            kind: EventKind::Put,
            kv: kv.clone(),
            prev: Some(prev),
        });
        Ok(kv)
    }

    async fn put(&self, _: &str, _: Bytes) -> Result<KeyValue, Error> {
        Err(Error::Unsupported("put"))
    }

    async fn delete(&self, _: &str, _: Option<Revision>) -> Result<KeyValue, Error> {
        Err(Error::Unsupported("delete"))
    }

    async fn watch(&self, _: &str, _: Revision) -> Result<WatchStream, Error> {
        Err(Error::Unsupported("watch"))
    }

    async fn current_revision(&self) -> Result<Revision, Error> {
        Ok(self.state.lock().expect("lock").revision)
    }

    async fn compact(&self, _: Revision) -> Result<(), Error> {
        Err(Error::Unsupported("compact"))
    }
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(
            std::env::var("BENCH_WORKERS")
                .ok()
                .and_then(|w| w.parse().ok())
                .unwrap_or(2),
        )
        .enable_all()
        .build()
        .expect("runtime")
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index] as f64 / 1e6
}

/// Paced fan-out: three interleaved runs per side; each figure is the median
/// of the three runs' values, so that one burst of other work on the shared
/// machine does not decide a tail percentile.
fn paced() {
    let rt = multi_thread();
    // Per run: (p50 ms, p99 ms, CPU ns per delivery).
    let summary = |(mut latencies, cpu): (Vec<u64>, f64)| {
        latencies.sort_unstable();
        (
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
            cpu,
        )
    };
    let mut memory = Vec::new();
    let mut baseline = Vec::new();
    for _ in 0..TRIALS {
        memory.push(summary(rt.block_on(memory_paced())));
        baseline.push(summary(rt.block_on(broadcast_paced())));
    }
    let median = |runs: &[(f64, f64, f64)], pick: fn(&(f64, f64, f64)) -> f64| {
        let mut values: Vec<f64> = runs.iter().map(pick).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    // CPU per delivery when every event wakes every watcher: the cost of the
    // wake-up path.
    report(
        "memory_watch_fanout_paced_cpu_per_delivery",
        median(&memory, |r| r.2),
        "ns",
    );
    report(
        "broadcast_baseline_paced_cpu_per_delivery",
        median(&baseline, |r| r.2),
        "ns",
    );
    report(
        "memory_watch_fanout_paced_p50",
        median(&memory, |r| r.0),
        "ms",
    );
    report(
        "memory_watch_fanout_paced_p99",
        median(&memory, |r| r.1),
        "ms",
    );
    report(
        "broadcast_baseline_paced_p50",
        median(&baseline, |r| r.0),
        "ms",
    );
    report(
        "broadcast_baseline_paced_p99",
        median(&baseline, |r| r.1),
        "ms",
    );
}

fn unpaced() {
    let rt = multi_thread();
    // For profiling one side alone: BENCH_ONLY=memory or BENCH_ONLY=broadcast.
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();

    let max = |a: (f64, f64), b: (f64, f64)| (a.0.max(b.0), a.1.max(b.1));
    let mut memory = (0.0f64, 0.0f64);
    let mut baseline = (0.0f64, 0.0f64);
    // Interleaved, best of each: other work on the machine hits both alike.
    for _ in 0..TRIALS {
        if only != "broadcast" {
            memory = max(memory, rt.block_on(memory_unpaced()));
        }
        if only != "memory" {
            baseline = max(baseline, rt.block_on(broadcast_unpaced()));
        }
    }
    report("memory_watch_fanout_unpaced", memory.0, "deliveries/s");
    report("broadcast_baseline_unpaced", baseline.0, "deliveries/s");
    report(
        "memory_watch_fanout_unpaced_ratio",
        memory.0 / baseline.0,
        "x",
    );
    report(
        "memory_watch_fanout_unpaced_per_cpu_second",
        memory.1,
        "deliveries/cpu-s",
    );
    report(
        "broadcast_baseline_unpaced_per_cpu_second",
        baseline.1,
        "deliveries/cpu-s",
    );
    report(
        "memory_watch_fanout_unpaced_cpu_ratio",
        memory.1 / baseline.1,
        "x",
    );
}

/// The event the baseline sends: what a store watcher receives, the same
/// shared `Arc<Event>` type (keys sharing one allocation, as the store's).
fn baseline_event(key: &Key, revision: Revision, value: Bytes, prev: Bytes) -> Arc<Event> {
    Arc::new(Event {
        kind: EventKind::Put,
        kv: KeyValue {
            key: key.clone(),
            value,
            create_revision: 1,
            mod_revision: revision,
            version: revision,
        },
        prev: Some(KeyValue {
            key: key.clone(),
            value: prev,
            create_revision: 1,
            mod_revision: revision - 1,
            version: revision - 1,
        }),
    })
}

/// Latencies (ns) of every delivery after the warm-up, all watchers together.
async fn memory_paced() -> (Vec<u64>, f64) {
    let store = MemoryStore::new();
    let base = Instant::now();
    let first = store
        .create(WATCH_KEY, value(0, base))
        .await
        .expect("create");
    let mut tasks = Vec::new();
    for _ in 0..WATCHERS {
        let mut watch = store.watch(WATCH_PREFIX, 0).await.expect("watch");
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(PACED_UPDATES);
            for _ in 0..PACED_UPDATES {
                let event = watch.next().await.expect("open").expect("no lag");
                let (seq, sent) = stamp(&event.kv.value);
                if seq as usize > PACED_WARMUP {
                    latencies.push(base.elapsed().as_nanos() as u64 - sent);
                }
            }
            latencies
        }));
    }
    let timer = Timer::start();
    let writer = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut revision = first.mod_revision;
        for seq in 1..=PACED_UPDATES as u64 {
            tick.tick().await;
            revision = store
                .update(WATCH_KEY, value(seq, base), revision)
                .await
                .expect("update")
                .mod_revision;
        }
    });
    writer.await.expect("writer");
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("watcher"));
    }
    let (_, per_cpu_second) = timer.rates((PACED_UPDATES * WATCHERS) as f64);
    (all, 1e9 / per_cpu_second)
}

async fn broadcast_paced() -> (Vec<u64>, f64) {
    let (tx, _) = broadcast::channel::<Arc<Event>>(1024);
    let base = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..WATCHERS {
        let mut rx = tx.subscribe();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(PACED_UPDATES);
            for _ in 0..PACED_UPDATES {
                let event = rx.recv().await.expect("no lag");
                let (seq, sent) = stamp(&event.kv.value);
                if seq as usize > PACED_WARMUP {
                    latencies.push(base.elapsed().as_nanos() as u64 - sent);
                }
            }
            latencies
        }));
    }
    let timer = Timer::start();
    let writer = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let key = Key::from(WATCH_KEY);
        let mut prev = value(0, base);
        for seq in 1..=PACED_UPDATES as u64 {
            tick.tick().await;
            let value = value(seq, base);
            let _ = tx.send(baseline_event(
                &key,
                seq as Revision + 1,
                value.clone(),
                prev,
            ));
            prev = value;
        }
    });
    writer.await.expect("writer");
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("receiver"));
    }
    let (_, per_cpu_second) = timer.rates((PACED_UPDATES * WATCHERS) as f64);
    (all, 1e9 / per_cpu_second)
}

/// Deliveries per second, every watcher receiving every update, as fast as
/// the writer can go. The history holds every update, so nothing may lag.
async fn memory_unpaced() -> (f64, f64) {
    let store = MemoryStore::with_config(Config::default().history(UNPACED_UPDATES + 1024));
    let base = Instant::now();
    let first = store
        .create(WATCH_KEY, value(0, base))
        .await
        .expect("create");
    let mut tasks = Vec::new();
    for _ in 0..WATCHERS {
        let mut watch = store
            .watch(WATCH_PREFIX, first.mod_revision)
            .await
            .expect("watch");
        tasks.push(tokio::spawn(async move {
            let from = first.mod_revision + 1;
            for expect in from..from + UNPACED_UPDATES as Revision {
                let event = watch.next().await.expect("open").expect("lossless");
                assert_eq!(event.revision(), expect, "gap-free");
            }
        }));
    }
    let timer = Timer::start();
    let writer = tokio::spawn(async move {
        let mut revision = first.mod_revision;
        for seq in 1..=UNPACED_UPDATES as u64 {
            revision = store
                .update(WATCH_KEY, value(seq, base), revision)
                .await
                .expect("update")
                .mod_revision;
        }
    });
    writer.await.expect("writer");
    for task in tasks {
        task.await.expect("watcher");
    }
    timer.rates((UNPACED_UPDATES * WATCHERS) as f64)
}

async fn broadcast_unpaced() -> (f64, f64) {
    let (tx, _) = broadcast::channel::<Arc<Event>>((UNPACED_UPDATES + 1024).next_power_of_two());
    let base = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..WATCHERS {
        let mut rx = tx.subscribe();
        tasks.push(tokio::spawn(async move {
            for expect in 2..2 + UNPACED_UPDATES as Revision {
                let event = rx.recv().await.expect("lossless");
                assert_eq!(event.revision(), expect, "gap-free");
            }
        }));
    }
    let timer = Timer::start();
    let writer = tokio::spawn(async move {
        let key = Key::from(WATCH_KEY);
        let mut prev = value(0, base);
        for seq in 1..=UNPACED_UPDATES as u64 {
            let value = value(seq, base);
            let _ = tx.send(baseline_event(
                &key,
                seq as Revision + 1,
                value.clone(),
                prev,
            ));
            prev = value;
        }
    });
    writer.await.expect("writer");
    for task in tasks {
        task.await.expect("receiver");
    }
    timer.rates((UNPACED_UPDATES * WATCHERS) as f64)
}

/// The floor under any fan-out: what one delivery of the shared
/// `Arc<Event>` costs (a reference count up and down), and, for comparison,
/// cloning and dropping a whole `Event` (two `Key` and two `Bytes` reference
/// counts), on one thread, per CPU-nanosecond. Every delivery of both the
/// store and the baseline pays the first.
fn floor() {
    let base = Instant::now();
    let key = Key::from(WATCH_KEY);
    let mut prev = value(0, base);
    let events: Vec<Arc<Event>> = (1..=UNPACED_UPDATES as u64)
        .map(|seq| {
            let v = value(seq, base);
            let e = baseline_event(&key, seq as Revision + 1, v.clone(), prev.clone());
            prev = v;
            e
        })
        .collect();
    const ROUNDS: usize = 100;
    let mut sum = 0i64;
    let timer = Timer::start();
    for _ in 0..ROUNDS {
        for e in &events {
            let c = std::hint::black_box(Arc::clone(e));
            sum += c.revision();
        }
    }
    let (_, per_cpu_second) = timer.rates((ROUNDS * events.len()) as f64);
    report("arc_event_clone_drop_cpu", 1e9 / per_cpu_second, "ns");
    let timer = Timer::start();
    for _ in 0..ROUNDS {
        for e in &events {
            let c = std::hint::black_box(Event::clone(e));
            sum += c.revision();
        }
    }
    let (_, per_cpu_second) = timer.rates((ROUNDS * events.len()) as f64);
    std::hint::black_box(sum);
    report("event_clone_drop_cpu", 1e9 / per_cpu_second, "ns");
}
