//! HTTP API server benchmarks: `cargo bench --features http --bench http`
//! (release, our own harness), and with `--features http,etcd,test-util` the
//! create and get figures on a real etcd too (the bench starts its own etcd
//! member on loopback). Every figure is one line `bench <name>: <value>
//! <unit>`; `docs/BENCHMARKS.md` records them against issue 5's targets.
//!
//! Everything goes over real TCP on loopback: the server is keelson's
//! [`HttpServer`] on `127.0.0.1:0` in this process, the clients are hyper
//! HTTP/1.1 connections (one per task, kept alive), so clients and server
//! share the machine's cores (as a co-located kubectl or controller would).
//!
//! Groups (run one by naming it: `cargo bench --features http --bench http --
//! create`):
//! - `create`: `http_create_pods`, pods/s created by `POST` with 32
//!   concurrent keep-alive connections for 5 s (target ≥ 10,000/s).
//! - `get`: `http_get_p50`/`_p99`, ms per `GET` of one pod from one
//!   connection, one request at a time; `http_get_32_conns_p50`/`_p99` (and
//!   `http_get_32_conns` in gets/s) with 32 connections at once.
//! - `fanout`: `http_watch_fanout_1000_p50`/`_p99`, ms from sending a create
//!   to each of 1,000 `?watch=true` streams (each its own connection)
//!   receiving the event, while pods are created at 1,000/s for 5 s (target
//!   p99 ≤ 10 ms). The send time travels in an annotation. The watchers
//!   read their sockets raw (one task each, no HTTP client) so that the
//!   measuring side costs as little as it can beside the server.
//!   `http_watch_fanout_1000_cores` is the CPU (user and system, all
//!   threads) the process used while the pods were created, in cores.
//! - `ready`: `http_ready`, ms from spawning `target/release/examples/apiserver`
//!   to its first successful `/readyz` (polled every 1 ms), median of 5 runs
//!   (target ≤ 50 ms). Build the example first: `cargo build --release
//!   --features http --example apiserver`; the group is skipped without it.
//! - `etcd`: every figure above again with the API server on `EtcdStore`
//!   (`http_create_pods_etcd`, `http_get_p99_etcd`,
//!   `http_watch_fanout_1000_p99_etcd`, `http_ready_etcd`, …): features
//!   `etcd` and `test-util`, and the `etcd` binary on `PATH`; the readiness
//!   figure needs the example built with `--features http,etcd`.
//!
//! - `fanout-protobuf`: the same fan-out with watchers that ask for
//!   protobuf (`Accept: application/vnd.kubernetes.protobuf`, as
//!   client-go components do): `http_watch_fanout_1000_protobuf_p50`/`_p99`
//!   (same target) and `_cores`; the `etcd` group runs it too.
//! - `fanout-scale`: the fan-out with 100 and 300 watchers
//!   (`http_watch_fanout_100_*`, `http_watch_fanout_300_*`; no target),
//!   to see the server's latency where the machine is not saturated.
//! - `floor`: `http_watch_fanout_floor_{2,5,8}ms_cores` and `_p99`: what
//!   the fan-out's traffic costs with no HTTP, no API server and no
//!   keelson at all — 1,000 loopback TCP connections on this runtime, each
//!   written one chunk every window (staggered phases) of the size the
//!   fan-out sends per window at 1,000 events/s, and read by a task per
//!   connection. The figures are the CPU cores the kernel and tokio alone
//!   use for that, and the p99 from a chunk's tick to its read: the floor
//!   under `http_watch_fanout_1000_*` on this machine.
//! - `floor-protobuf`: the same with chunks sized for protobuf frames
//!   (`http_watch_fanout_floor_{2,5,8}ms_protobuf_*`), the floor under
//!   `http_watch_fanout_1000_protobuf_*`.
//!
//! `KEELSON_BENCH_WATCH_WINDOW_US` overrides the server's watch coalescing
//! window (microseconds; `0` turns it off) for experiments.
use std::io::{Read, Write};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use keelson::apiserver::ApiServer;
use keelson::http::{HttpServer, Serving};
use keelson::store::Store;

const CONNS: usize = 32;
const CREATE_FOR: Duration = Duration::from_secs(5);
const CREATE_TARGET: f64 = 10_000.0;
const GET_SEQUENTIAL: usize = 5_000;
const GET_CONCURRENT_FOR: Duration = Duration::from_secs(3);
const WATCHERS: usize = 1_000;
const FANOUT_RATE: f64 = 1_000.0;
const FANOUT_FOR: Duration = Duration::from_secs(5);
const FANOUT_CREATORS: usize = 4;
const FANOUT_TARGET_MS: f64 = 10.0;
const READY_RUNS: usize = 5;
const READY_TARGET_MS: f64 = 50.0;
/// The annotation that carries a pod's send time (ns since the run's base).
const SENT: &str = "bench.keelson.dev/sent";
/// [`SENT`] as a key in compact JSON, up to its value's first digit.
const SENT_KEY: &str = "\"bench.keelson.dev/sent\":\"";
const PODS: &str = "/api/v1/namespaces/default/pods";

fn main() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |name: &str| filters.is_empty() || filters.iter().any(|f| f == name);
    print_machine();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    if wanted("create") {
        rt.block_on(async {
            let (_api, serving) = serve(None).await;
            create_pods(serving.local_addr(), "").await;
            serving.shutdown().await;
        });
    }
    if wanted("get") {
        rt.block_on(async {
            let (_api, serving) = serve(None).await;
            get_pod(serving.local_addr(), "").await;
            serving.shutdown().await;
        });
    }
    let fanout_in_memory = |count, wire| {
        rt.block_on(async {
            let (_api, serving) = serve(None).await;
            fanout(&serving, "", count, wire).await;
            serving.shutdown().await;
        })
    };
    if wanted("fanout") {
        fanout_in_memory(WATCHERS, Wire::Json);
    }
    if wanted("fanout-protobuf") {
        fanout_in_memory(WATCHERS, Wire::Protobuf);
    }
    if wanted("fanout-scale") {
        for count in [100, 300] {
            fanout_in_memory(count, Wire::Json);
        }
    }
    if wanted("floor") {
        for window_ms in [2, 5, 8] {
            rt.block_on(fanout_floor(Duration::from_millis(window_ms), Wire::Json));
        }
    }
    if wanted("floor-protobuf") {
        for window_ms in [2, 5, 8] {
            rt.block_on(fanout_floor(
                Duration::from_millis(window_ms),
                Wire::Protobuf,
            ));
        }
    }
    if wanted("ready") {
        ready(&[], "");
    }
    if wanted("etcd") {
        rt.block_on(etcd());
    }
    println!("load average at the end: {}", load_average());
}

fn report(name: &str, value: f64, unit: &str) {
    if value >= 1000.0 {
        println!("bench {name}: {value:.0} {unit}");
    } else {
        println!("bench {name}: {value:.3} {unit}");
    }
}

fn target(name: &str, met: bool, what: &str) {
    let verdict = if met { "met" } else { "NOT met" };
    println!("target {name} {what}: {verdict}");
}

/// The `q`-quantile of sorted samples.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

fn sort(v: &mut [f64]) {
    v.sort_by(|a, b| a.total_cmp(b));
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn print_machine() {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    println!(
        "machine: {cpus} CPUs, {model}; load average {}",
        load_average()
    );
}

/// An API server (in memory, or on `store`) served on `127.0.0.1:0`.
async fn serve(store: Option<Arc<dyn Store>>) -> (ApiServer, Serving) {
    let api = match store {
        Some(s) => ApiServer::builder().store(s).build().await,
        None => ApiServer::in_memory().await,
    }
    .expect("api server");
    let mut server = HttpServer::new(&api);
    if let Some(us) = std::env::var("KEELSON_BENCH_WATCH_WINDOW_US")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        println!("(watch coalescing window set to {us} µs)");
        server = server.watch_coalescing(Duration::from_micros(us), 100);
    }
    let serving = server
        .bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    (api, serving)
}

/// A typical pod as a Deployment's ReplicaSet creates it (the one of
/// `benches/apiserver`), as the JSON a client sends; `sent` adds the
/// send-time annotation.
fn pod_json(name: &str, sent: Option<u64>) -> Bytes {
    let annotations = match sent {
        Some(t) => format!(r#","annotations":{{"{SENT}":"{t}"}}"#),
        None => String::new(),
    };
    Bytes::from(format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","labels":{{"app":"web","pod-template-hash":"7d9c6f8b5d"}}{annotations}}},"spec":{{"containers":[{{"name":"web","image":"nginx:1.25","ports":[{{"containerPort":80,"name":"http"}}],"env":[{{"name":"MODE","value":"production"}}],"resources":{{"requests":{{"cpu":"100m","memory":"128Mi"}},"limits":{{"cpu":"500m","memory":"256Mi"}}}},"readinessProbe":{{"httpGet":{{"path":"/healthz","port":80}}}}}}]}}}}"#
    ))
}

type Conn = SendRequest<Full<Bytes>>;

/// One keep-alive HTTP/1.1 connection to `addr`.
async fn connect(addr: SocketAddr) -> Conn {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let _ = stream.set_nodelay(true);
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    send
}

fn request(method: Method, path: &str, body: Bytes) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, "127.0.0.1")
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .expect("a valid request")
}

/// Sends one request and reads the whole response: its status.
async fn call(conn: &mut Conn, req: Request<Full<Bytes>>) -> StatusCode {
    conn.ready().await.expect("connection open");
    let resp = conn.send_request(req).await.expect("response");
    let status = resp.status();
    resp.into_body().collect().await.expect("body");
    status
}

/// `http_create_pods{suffix}`: POSTs of distinct pods over [`CONNS`]
/// keep-alive connections for [`CREATE_FOR`].
async fn create_pods(addr: SocketAddr, suffix: &str) {
    let mut conns = Vec::with_capacity(CONNS);
    for _ in 0..CONNS {
        conns.push(connect(addr).await);
    }
    let start = Instant::now();
    let deadline = start + CREATE_FOR;
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(c, mut conn)| {
            tokio::spawn(async move {
                let (mut created, mut failed) = (0usize, 0usize);
                let mut i = 0usize;
                while Instant::now() < deadline {
                    let body = pod_json(&format!("web-{c}-{i}"), None);
                    i += 1;
                    if call(&mut conn, request(Method::POST, PODS, body)).await
                        == StatusCode::CREATED
                    {
                        created += 1;
                    } else {
                        failed += 1;
                    }
                }
                (created, failed)
            })
        })
        .collect();
    let (mut created, mut failed) = (0, 0);
    for t in tasks {
        let (c, f) = t.await.expect("task");
        created += c;
        failed += f;
    }
    let rate = created as f64 / start.elapsed().as_secs_f64();
    let name = format!("http_create_pods{suffix}");
    report(&name, rate, "pods/s");
    if failed > 0 {
        println!("  ({failed} creates failed)");
    }
    target(&name, rate >= CREATE_TARGET, "≥ 10,000 pods/s");
}

/// `http_get_*{suffix}`: GETs of one pod, sequential on one connection and
/// from [`CONNS`] connections at once.
async fn get_pod(addr: SocketAddr, suffix: &str) {
    let mut conn = connect(addr).await;
    let status = call(
        &mut conn,
        request(Method::POST, PODS, pod_json("get-me", None)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "creating the pod to get");
    let path = format!("{PODS}/get-me");
    for _ in 0..200 {
        call(&mut conn, request(Method::GET, &path, Bytes::new())).await;
    }
    let mut lat = Vec::with_capacity(GET_SEQUENTIAL);
    for _ in 0..GET_SEQUENTIAL {
        let start = Instant::now();
        let status = call(&mut conn, request(Method::GET, &path, Bytes::new())).await;
        lat.push(start.elapsed().as_secs_f64() * 1e3);
        assert_eq!(status, StatusCode::OK, "get");
    }
    sort(&mut lat);
    report(&format!("http_get_p50{suffix}"), quantile(&lat, 0.5), "ms");
    report(&format!("http_get_p99{suffix}"), quantile(&lat, 0.99), "ms");

    let mut conns = Vec::with_capacity(CONNS);
    for _ in 0..CONNS {
        conns.push(connect(addr).await);
    }
    let start = Instant::now();
    let deadline = start + GET_CONCURRENT_FOR;
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let path = path.clone();
            tokio::spawn(async move {
                let mut lat = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let status = call(&mut conn, request(Method::GET, &path, Bytes::new())).await;
                    lat.push(t.elapsed().as_secs_f64() * 1e3);
                    assert_eq!(status, StatusCode::OK, "get");
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let rate = all.len() as f64 / start.elapsed().as_secs_f64();
    sort(&mut all);
    report(&format!("http_get_32_conns{suffix}"), rate, "gets/s");
    report(
        &format!("http_get_32_conns_p50{suffix}"),
        quantile(&all, 0.5),
        "ms",
    );
    report(
        &format!("http_get_32_conns_p99{suffix}"),
        quantile(&all, 0.99),
        "ms",
    );
}

/// The soft limit on open files, from `/proc/self/limits`.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// True when `connections` loopback connections fit under the open-files
/// limit: each is two descriptors in this process (client and server
/// side), plus the creators, the listener and the runtime's own. Says how
/// to raise it when not, and that `figure` is skipped.
fn descriptors_for(connections: usize, figure: &str) -> bool {
    let needed = (2 * connections + 256) as u64;
    match open_files_limit() {
        Some(n) if n < needed => {
            println!(
                "skipping {figure}: the open-files limit is {n}, it needs {needed}; \
                 raise it (`ulimit -n {needed}`) and rerun"
            );
            false
        }
        _ => true,
    }
}

/// Reads one watch connection raw (no HTTP client: one task and one read
/// per wake-up, so the measuring side costs little next to the server) and
/// records, for every send-time annotation in the byte stream, the latency
/// from its send time to the read that brought it. Chunk framing and the
/// response head are skipped over: only the annotations are looked for,
/// and every event line carries exactly one. The priming pod (send time 0)
/// marks the watcher live. Returns once `pods` latencies are in, or when
/// the server closes the connection.
async fn raw_watch(
    mut stream: tokio::net::TcpStream,
    pods: usize,
    base: Instant,
    primed: Arc<AtomicUsize>,
    wire: Wire,
) -> (Vec<f32>, usize) {
    let key = wire.key();
    let finder = memchr::memmem::Finder::new(key);
    let mut lat: Vec<f32> = Vec::with_capacity(pods);
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0usize;
    // Bytes carried over from the previous read (a split annotation).
    let mut kept = 0;
    while lat.len() < pods {
        let n = match stream.read(&mut buf[kept..]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        total += n;
        let now = base.elapsed().as_nanos() as u64;
        let end = kept + n;
        let mut at = 0;
        let mut carry_from = None;
        while let Some(p) = finder.find(&buf[at..end]) {
            let value = at + p + key.len();
            let Some((digits, next)) = wire.value(&buf[..end], value) else {
                carry_from = Some(at + p);
                break;
            };
            let sent = std::str::from_utf8(digits)
                .ok()
                .and_then(|d| d.parse::<u64>().ok());
            match sent {
                Some(0) => {
                    primed.fetch_add(1, Ordering::SeqCst);
                }
                Some(t) => lat.push(now.saturating_sub(t) as f32 / 1e6),
                None => {}
            }
            at = next;
        }
        // Keep what could be the start of an annotation cut by this read.
        let from = carry_from.unwrap_or_else(|| at.max(end.saturating_sub(key.len() - 1)));
        buf.copy_within(from..end, 0);
        kept = end - from;
        if kept == buf.len() {
            kept = 0;
        }
    }
    (lat, total)
}

/// How the fan-out's watchers ask for their events.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wire {
    /// JSON lines (kubectl, kube-rs).
    Json,
    /// Protobuf frames (`Accept: application/vnd.kubernetes.protobuf`, as
    /// client-go components ask).
    Protobuf,
}

impl Wire {
    /// The part of a figure's name that says which.
    fn suffix(self) -> &'static str {
        match self {
            Wire::Json => "",
            Wire::Protobuf => "_protobuf",
        }
    }

    fn accept(self) -> &'static str {
        match self {
            Wire::Json => "",
            Wire::Protobuf => "Accept: application/vnd.kubernetes.protobuf, application/json\r\n",
        }
    }

    /// What precedes the send time in the stream.
    fn key(self) -> &'static [u8] {
        match self {
            Wire::Json => SENT_KEY.as_bytes(),
            // The annotation's map entry: its key, then field 2 (0x12).
            Wire::Protobuf => SENT.as_bytes(),
        }
    }

    /// The send time's digits starting at `at` (just after the key), and
    /// where scanning goes on; `None` when the read cut them off.
    fn value(self, buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
        match self {
            Wire::Json => {
                let q = memchr::memchr(b'"', buf.get(at..)?)?;
                Some((&buf[at..at + q], at + q + 1))
            }
            Wire::Protobuf => {
                // 0x12, a one-byte length (the digits are fewer than 128).
                let len = usize::from(*buf.get(at + 1)?);
                let digits = buf.get(at + 2..at + 2 + len)?;
                Some((digits, at + 2 + len))
            }
        }
    }
}

/// CPU time of this process so far (user and system, every thread).
fn cpu_time() -> Duration {
    let (user, system) = cpu_times();
    user + system
}

/// User and system CPU time of this process so far.
fn cpu_times() -> (Duration, Duration) {
    // SAFETY: getrusage only writes the struct it is given, and an
    // all-zero `rusage` is a valid value of it.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return (Duration::ZERO, Duration::ZERO);
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (tv(u.ru_utime), tv(u.ru_stime))
}

/// Bytes of one pod event as the fan-out's watchers receive it: a JSON
/// line, and a protobuf frame (as `fanout` reports them, rounded up).
const EVENT_LINE_BYTES: usize = 1_200;
const EVENT_FRAME_BYTES: usize = 500;

/// `http_watch_fanout_floor_*`: the fan-out's traffic with nothing but
/// loopback TCP and tokio (see the module docs).
async fn fanout_floor(window: Duration, wire: Wire) {
    let ms = window.as_millis();
    let event_bytes = match wire {
        Wire::Json => EVENT_LINE_BYTES,
        Wire::Protobuf => EVENT_FRAME_BYTES,
    };
    let figure = format!("http_watch_fanout_floor_{ms}ms{}", wire.suffix());
    if !descriptors_for(WATCHERS, &figure) {
        return;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let base = Instant::now();
    let events_per_tick = (FANOUT_RATE * window.as_secs_f64()).max(1.0) as usize;
    let chunk = events_per_tick * event_bytes;
    let ticks = (FANOUT_FOR.as_secs_f64() / window.as_secs_f64()) as usize;
    let mut readers = Vec::with_capacity(WATCHERS);
    let mut writers = Vec::with_capacity(WATCHERS);
    for i in 0..WATCHERS {
        let client = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        readers.push(tokio::spawn(floor_reader(client, base, chunk, ticks)));
        // Phases spread evenly over the window, as the server's are.
        let phase =
            window.mul_f64(((i as u64 * 2_654_435_769) % (1 << 32)) as f64 / 4_294_967_296.0);
        writers.push(tokio::spawn(floor_writer(
            server, base, window, phase, chunk, ticks,
        )));
    }
    let (user, system) = cpu_times();
    let start = Instant::now();
    for w in writers {
        let _ = w.await;
    }
    let wall = start.elapsed();
    let mut all: Vec<f64> = Vec::with_capacity(WATCHERS * ticks);
    for r in readers {
        if let Ok(Ok(lat)) = tokio::time::timeout(Duration::from_secs(30), r).await {
            all.extend(lat.into_iter().map(f64::from));
        }
    }
    let (user_now, system_now) = cpu_times();
    let user = user_now.saturating_sub(user);
    let system = system_now.saturating_sub(system);
    let used = user + system;
    sort(&mut all);
    report(
        &format!("{figure}_cores"),
        used.as_secs_f64() / wall.as_secs_f64(),
        "cores",
    );
    report(&format!("{figure}_p99"), quantile(&all, 0.99), "ms");
    let writes = (WATCHERS * ticks) as f64;
    eprintln!(
        "  ({WATCHERS} connections, a {chunk}-byte chunk each every {ms} ms: {:.0} writes/s; \
         {:.1} µs user + {:.1} µs system per chunk written and read)",
        writes / wall.as_secs_f64(),
        user.as_secs_f64() * 1e6 / writes,
        system.as_secs_f64() * 1e6 / writes,
    );
}

/// Writes `ticks` chunks, one per tick of its phase; each chunk starts
/// with its tick time (ns since `base`, 8 bytes).
async fn floor_writer(
    mut stream: tokio::net::TcpStream,
    base: Instant,
    window: Duration,
    phase: Duration,
    chunk: usize,
    ticks: usize,
) {
    let mut buf = vec![b' '; chunk];
    let first = tokio::time::Instant::now() + phase;
    for k in 0..ticks {
        let at = first + window * (k as u32 + 1);
        tokio::time::sleep_until(at).await;
        let tick = base.elapsed().as_nanos() as u64;
        buf[..8].copy_from_slice(&tick.to_le_bytes());
        if stream.write_all(&buf).await.is_err() {
            return;
        }
    }
}

/// Reads `ticks` chunks; the latency of each is from its tick to the read
/// that completed it.
async fn floor_reader(
    mut stream: tokio::net::TcpStream,
    base: Instant,
    chunk: usize,
    ticks: usize,
) -> Vec<f32> {
    let mut lat = Vec::with_capacity(ticks);
    let mut buf = vec![0u8; 256 * 1024];
    let mut have = 0usize;
    while lat.len() < ticks {
        let n = match stream.read(&mut buf[have..]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        have += n;
        let now = base.elapsed().as_nanos() as u64;
        let mut at = 0;
        while have - at >= chunk {
            let mut t = [0u8; 8];
            t.copy_from_slice(&buf[at..at + 8]);
            lat.push(now.saturating_sub(u64::from_le_bytes(t)) as f32 / 1e6);
            at += chunk;
        }
        buf.copy_within(at..have, 0);
        have -= at;
    }
    lat
}

/// `http_watch_fanout_{N}_*`: `count` watch connections while
/// [`FANOUT_CREATORS`] connections create pods at [`FANOUT_RATE`] in total.
async fn fanout(serving: &Serving, suffix: &str, count: usize, wire: Wire) {
    let suffix = &format!("{}{suffix}", wire.suffix());
    if !descriptors_for(count, &format!("http_watch_fanout_{count}{suffix}")) {
        return;
    }
    let addr = serving.local_addr();
    let base = Instant::now();
    let pods = (FANOUT_RATE * FANOUT_FOR.as_secs_f64()) as usize;
    let primed = Arc::new(AtomicUsize::new(0));
    let mut watchers = Vec::with_capacity(count);
    for _ in 0..count {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let _ = stream.set_nodelay(true);
        stream
            .write_all(
                format!(
                    "GET {PODS}?watch=true HTTP/1.1\r\nHost: 127.0.0.1\r\n{}\r\n",
                    wire.accept()
                )
                .as_bytes(),
            )
            .await
            .expect("watch request");
        let primed = primed.clone();
        watchers.push(tokio::spawn(async move {
            raw_watch(stream, pods, base, primed, wire).await
        }));
    }
    // Every watcher sees one priming pod before the measured creates start.
    let mut conn = connect(addr).await;
    let status = call(
        &mut conn,
        request(Method::POST, PODS, pod_json("prime", Some(0))),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "priming create");
    let wait = Instant::now();
    while primed.load(Ordering::SeqCst) < count {
        if wait.elapsed() > Duration::from_secs(60) {
            println!(
                "only {} of {count} watchers saw the priming pod within 60 s",
                primed.load(Ordering::SeqCst)
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let mut creators = Vec::with_capacity(FANOUT_CREATORS);
    let cpu = cpu_time();
    let start = tokio::time::Instant::now();
    for c in 0..FANOUT_CREATORS {
        let mut conn = connect(addr).await;
        creators.push(tokio::spawn(async move {
            let mut failed = 0usize;
            for i in (c..pods).step_by(FANOUT_CREATORS) {
                tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / FANOUT_RATE))
                    .await;
                let sent = base.elapsed().as_nanos() as u64;
                let body = pod_json(&format!("w-{i}"), Some(sent.max(1)));
                if call(&mut conn, request(Method::POST, PODS, body)).await != StatusCode::CREATED {
                    failed += 1;
                }
            }
            failed
        }));
    }
    let mut failed = 0;
    for c in creators {
        failed += c.await.expect("creator");
    }
    let rate = pods as f64 / start.elapsed().as_secs_f64();
    let cores = cpu_time().saturating_sub(cpu).as_secs_f64() / start.elapsed().as_secs_f64();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut all: Vec<f64> = Vec::with_capacity(count * pods);
    // Deliveries by their pod's place in the creates (slices of 500 pods,
    // half a second at the asked rate), to show whether a tail is steady
    // or comes in bursts.
    let slice = (FANOUT_RATE / 2.0) as usize;
    let mut slices: Vec<Vec<f64>> = vec![Vec::new(); pods.div_ceil(slice.max(1))];
    let mut short = 0usize;
    let mut bytes = 0usize;
    for w in watchers {
        match tokio::time::timeout_at(deadline, w).await {
            Ok(Ok((lat, read))) => {
                bytes += read;
                short += pods.saturating_sub(lat.len());
                if lat.len() == pods {
                    for (i, l) in lat.iter().enumerate() {
                        slices[i / slice.max(1)].push(f64::from(*l));
                    }
                }
                all.extend(lat.into_iter().map(f64::from));
            }
            _ => short += pods,
        }
    }
    let by_slice: Vec<String> = slices
        .iter_mut()
        .map(|s| {
            sort(s);
            format!("{:.1}", quantile(s, 0.99))
        })
        .collect();
    eprintln!("  p99 per 500 pods created (ms): {}", by_slice.join(" "));
    if !all.is_empty() {
        println!(
            "  ({} bytes read per event and watcher, framing included)",
            bytes / all.len()
        );
    }
    sort(&mut all);
    report(
        &format!("http_watch_fanout_{count}_create_rate{suffix}"),
        rate,
        "pods/s",
    );
    report(
        &format!("http_watch_fanout_{count}_cores{suffix}"),
        cores,
        "cores",
    );
    if failed > 0 {
        println!("  ({failed} creates failed)");
    }
    if short > 0 {
        println!(
            "  ({short} of {} deliveries missing after 60 s)",
            count * pods
        );
    }
    let p99 = quantile(&all, 0.99);
    report(
        &format!("http_watch_fanout_{count}_p50{suffix}"),
        quantile(&all, 0.5),
        "ms",
    );
    report(&format!("http_watch_fanout_{count}_p99{suffix}"), p99, "ms");
    if count != WATCHERS {
        return;
    }
    target(
        &format!("http_watch_fanout_{count}_p99{suffix}"),
        p99 <= FANOUT_TARGET_MS && short == 0,
        "≤ 10 ms",
    );
}

/// `target/release/examples/apiserver`, next to this bench's `deps` dir.
fn example_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let release = exe.parent()?.parent()?;
    let bin = release.join("examples").join("apiserver");
    bin.is_file().then_some(bin)
}

/// Whether `GET /readyz` on `addr` answers 200.
fn readyz(addr: SocketAddr) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(50)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

/// `http_ready`: spawning the example server (with `args`) to its first
/// good `/readyz`.
fn ready(args: &[String], suffix: &str) {
    let Some(bin) = example_binary() else {
        println!(
            "skipping http_ready{suffix}: no target/release/examples/apiserver; build it with \
             `cargo build --release --features http --example apiserver`"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut samples = Vec::with_capacity(READY_RUNS);
    for run in 0..READY_RUNS {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let start = Instant::now();
        let mut child = std::process::Command::new(&bin)
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--kubeconfig")
            .arg(dir.path().join(format!("kubeconfig-{run}")))
            .args(args)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawning the example apiserver");
        let mut ok = false;
        while start.elapsed() < Duration::from_secs(10) {
            if readyz(addr) {
                ok = true;
                break;
            }
            // An example built without the features `args` need (such as
            // `--etcd` without `etcd`) exits at once: say so, not "slow".
            if let Ok(Some(status)) = child.try_wait() {
                println!(
                    "http_ready{suffix}: the example exited ({status}); build it with \
                     `cargo build --release --features http,etcd --example apiserver`"
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let elapsed = start.elapsed().as_secs_f64() * 1e3;
        let _ = child.kill();
        let _ = child.wait();
        if !ok {
            println!("http_ready{suffix}: run {run} not ready within 10 s");
            return;
        }
        samples.push(elapsed);
    }
    sort(&mut samples);
    let median = quantile(&samples, 0.5);
    report(&format!("http_ready{suffix}"), median, "ms");
    println!(
        "  (runs: {})",
        samples
            .iter()
            .map(|s| format!("{s:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    target(
        &format!("http_ready{suffix}"),
        median <= READY_TARGET_MS,
        "≤ 50 ms",
    );
}

/// The `create`, `get`, `fanout` and `ready` groups with the API server on
/// `EtcdStore`, on an etcd member started for the run.
#[cfg(all(feature = "etcd", feature = "test-util"))]
async fn etcd() {
    use keelson::store::etcd_process::EtcdProcess;
    use keelson::store::EtcdStore;

    let etcd = match EtcdProcess::start().await {
        Ok(e) => e,
        Err(e) => {
            println!("skipping the etcd figures: {e}");
            return;
        }
    };
    for (prefix, group) in [
        ("/bench-create", "create"),
        ("/bench-get", "get"),
        ("/bench-fanout", "fanout"),
        ("/bench-fanout-protobuf", "fanout-protobuf"),
    ] {
        let store = EtcdStore::connect(etcd.config().prefix(prefix))
            .await
            .expect("connecting to etcd");
        let (_api, serving) = serve(Some(Arc::new(store))).await;
        match group {
            "create" => create_pods(serving.local_addr(), "_etcd").await,
            "get" => get_pod(serving.local_addr(), "_etcd").await,
            "fanout" => fanout(&serving, "_etcd", WATCHERS, Wire::Json).await,
            _ => fanout(&serving, "_etcd", WATCHERS, Wire::Protobuf).await,
        }
        serving.shutdown().await;
    }
    // The example on the same member (its own key prefix, /registry).
    tokio::task::block_in_place(|| ready(&["--etcd".to_string(), etcd.endpoint()], "_etcd"));
}

#[cfg(not(all(feature = "etcd", feature = "test-util")))]
async fn etcd() {
    println!(
        "skipping the etcd figures: rerun with `--features http,etcd,test-util` (and etcd on PATH)"
    );
}
