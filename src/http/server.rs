//! The HTTP/1.1 server: one hyper connection per client, every request
//! answered by [`handle`] from the [`ApiServer`].

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderValue, ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::IgnoredAny;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::apiextensions::CustomResourceDefinition;
use crate::api::manifest;
use crate::api::meta::DeleteOptions;
use crate::api::{Status, Time, WatchEvent};
use crate::apiserver::{
    ApiServer, Deleted, Error, ListResponse, ObjectRef, PatchType, Result, Target, UserInfo,
};

use super::discovery;
use super::protobuf::{self, ProtobufError};
use super::route::{parse_path, Query, Route};
use super::table::{self, Printer};

/// Kubernetes' limit on request bodies: 3 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Serves an [`ApiServer`] over HTTP with Kubernetes' REST paths.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use keelson::apiserver::ApiServer;
/// use keelson::http::HttpServer;
///
/// let api = ApiServer::in_memory().await.expect("api server");
/// let serving = HttpServer::new(&api).bind("127.0.0.1:0".parse().unwrap()).await?;
/// println!("serving on {}", serving.url());
/// serving.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct HttpServer {
    api: ApiServer,
    max_body: usize,
    coalescing: Coalescing,
}

/// When and how watch events are batched (see
/// [`HttpServer::watch_coalescing`]).
#[derive(Clone, Copy, Debug)]
struct Coalescing {
    window: Duration,
    min_watches: i64,
}

impl Default for Coalescing {
    fn default() -> Self {
        Coalescing {
            window: Duration::from_millis(2),
            min_watches: 100,
        }
    }
}

impl HttpServer {
    /// A server for `api`.
    pub fn new(api: &ApiServer) -> Self {
        HttpServer {
            api: api.clone(),
            max_body: DEFAULT_MAX_BODY_BYTES,
            coalescing: Coalescing::default(),
        }
    }

    /// Batch watch events in ticks of `window` while at least
    /// `min_watches` watches are open (default: 2 ms from 100 watches on).
    ///
    /// Every delivery to a watch connection costs a wake-up and a socket
    /// write; with many watchers of one resource, that cost — multiplied by
    /// the watchers — is what makes them fall behind. In ticks, a watcher
    /// that got an event waits for its next tick (each watcher has its own
    /// phase, so they do not all wake at once) and sends everything that
    /// arrived meanwhile in one write, so each event is delayed by at most
    /// `window` and each watcher writes at most once per tick. Below
    /// `min_watches` (or with a zero window) events go out as soon as they
    /// are ready.
    ///
    /// ```
    /// # async fn run() {
    /// use std::time::Duration;
    /// use keelson::apiserver::ApiServer;
    /// use keelson::http::HttpServer;
    ///
    /// let api = ApiServer::in_memory().await.unwrap();
    /// let server = HttpServer::new(&api).watch_coalescing(Duration::from_millis(1), 500);
    /// # drop(server);
    /// # }
    /// ```
    #[must_use]
    pub fn watch_coalescing(mut self, window: Duration, min_watches: usize) -> Self {
        self.coalescing = Coalescing {
            window,
            min_watches: i64::try_from(min_watches).unwrap_or(i64::MAX),
        };
        self
    }

    /// Refuse request bodies over `bytes` with 413 (default 3 MiB).
    #[must_use]
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Binds `addr` and serves until [`Serving::shutdown`].
    pub async fn bind(self, addr: SocketAddr) -> std::io::Result<Serving> {
        let listener = TcpListener::bind(addr).await?;
        self.serve(listener)
    }

    /// Serves connections accepted on `listener`.
    pub fn serve(self, listener: TcpListener) -> std::io::Result<Serving> {
        let addr = listener.local_addr()?;
        let (stop_tx, mut stop_rx) = watch::channel(false);
        let state = Arc::new(State {
            api: self.api,
            max_body: self.max_body,
            coalescing: self.coalescing,
            metrics: Metrics::default(),
            encoded: EncodedEvents::default(),
        });
        let task = tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = stop_rx.changed() => break,
                };
                let Ok((stream, _peer)) = accepted else {
                    // Out of descriptors or similar: keep serving.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                let mut stop = stop_rx.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(handle(&state, req).await) }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = stop.changed() => {
                            conn.as_mut().graceful_shutdown();
                            let _ = tokio::time::timeout(
                                std::time::Duration::from_secs(1),
                                conn,
                            )
                            .await;
                        }
                    }
                });
            }
        });
        Ok(Serving {
            addr,
            stop: stop_tx,
            task,
        })
    }
}

/// A running [`HttpServer`].
pub struct Serving {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Serving {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, ends open connections (watches included) and waits.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

struct State {
    coalescing: Coalescing,
    api: ApiServer,
    max_body: usize,
    metrics: Metrics,
    encoded: EncodedEvents,
}

/// The JSON lines of recent watch events, shared by every HTTP watcher that
/// is sent the same event: with N watchers of a resource, an event is
/// encoded once rather than N times. Keyed by the event's object (the
/// `Arc` the watch cache hands every watcher) and type; each entry holds its
/// `Arc`, so the address cannot be reused while the entry lives. Bounded:
/// the oldest entries go first.
#[derive(Default)]
struct EncodedEvents {
    inner: Mutex<EncodedInner>,
}

#[derive(Default)]
struct EncodedInner {
    by_object: std::collections::HashMap<EventKey, (ObjectRef, Bytes), BuildKeyHasher>,
    order: std::collections::VecDeque<EventKey>,
}

/// An event's object (its address), and its type and encoding in one byte.
type EventKey = (usize, u8);

/// Hashes an [`EventKey`] with a multiply and a rotate: every watcher looks
/// up every event, and the key is an address, which needs no SipHash.
#[derive(Clone, Copy, Default)]
struct BuildKeyHasher;

impl std::hash::BuildHasher for BuildKeyHasher {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

struct KeyHasher(u64);

impl KeyHasher {
    fn mix(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(26) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

impl std::hash::Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.mix(u64::from(*b));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.mix(u64::from(n));
    }
    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

const ENCODED_EVENTS: usize = 1024;

/// At most this many ready watch events are joined into one chunk.
const WATCH_BATCH: usize = 256;

impl EncodedEvents {
    /// The event as its JSON line or its protobuf frame.
    fn line(&self, e: &WatchEvent<ObjectRef>, encoding: Encoding) -> Bytes {
        let encode = |e: &WatchEvent<ObjectRef>| match encoding {
            Encoding::Json => event_line(e),
            Encoding::Protobuf { .. } => event_frame(e),
        };
        let (kind, o) = match e {
            WatchEvent::Added(o) => (0, o),
            WatchEvent::Modified(o) => (1, o),
            WatchEvent::Deleted(o) => (2, o),
            // Bookmarks and errors are made per watcher: nothing to share.
            WatchEvent::Bookmark(_) | WatchEvent::Error(_) => return Bytes::from(encode(e)),
        };
        let format = match encoding {
            Encoding::Json => 0,
            Encoding::Protobuf { .. } => 4,
        };
        let key = (Arc::as_ptr(o) as *const () as usize, kind | format);
        if let Ok(inner) = self.inner.lock() {
            if let Some((held, line)) = inner.by_object.get(&key) {
                if Arc::ptr_eq(held, o) {
                    return line.clone();
                }
            }
        }
        let line = Bytes::from(encode(e));
        if let Ok(mut inner) = self.inner.lock() {
            if inner
                .by_object
                .insert(key, (o.clone(), line.clone()))
                .is_none()
            {
                inner.order.push_back(key);
            }
            while inner.order.len() > ENCODED_EVENTS {
                if let Some(old) = inner.order.pop_front() {
                    inner.by_object.remove(&old);
                }
            }
        }
        line
    }
}

/// Request counts and latencies by verb, resource and code, and open
/// watches, for `/metrics`.
/// (verb, resource, code) → (count, seconds).
type RequestCounts = BTreeMap<(String, String, u16), (u64, f64)>;

#[derive(Default)]
struct Metrics {
    requests: Mutex<RequestCounts>,
    watches: AtomicI64,
}

impl Metrics {
    fn record(&self, verb: &str, resource: &str, code: u16, seconds: f64) {
        let mut m = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let e = m
            .entry((verb.to_string(), resource.to_string(), code))
            .or_insert((0, 0.0));
        e.0 += 1;
        e.1 += seconds;
    }

    fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        out.push_str("# HELP apiserver_request_total Requests by verb, resource and code.\n");
        out.push_str("# TYPE apiserver_request_total counter\n");
        let m = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        for ((verb, res, code), (n, _)) in m.iter() {
            let _ = writeln!(
                out,
                "apiserver_request_total{{verb=\"{verb}\",resource=\"{res}\",code=\"{code}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP apiserver_request_duration_seconds Request latency by verb and resource.\n",
        );
        out.push_str("# TYPE apiserver_request_duration_seconds summary\n");
        let mut sums: BTreeMap<(&str, &str), (u64, f64)> = BTreeMap::new();
        for ((verb, res, _), (n, s)) in m.iter() {
            let e = sums.entry((verb, res)).or_insert((0, 0.0));
            e.0 += n;
            e.1 += s;
        }
        for ((verb, res), (n, s)) in sums {
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_sum{{verb=\"{verb}\",resource=\"{res}\"}} {s}"
            );
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_count{{verb=\"{verb}\",resource=\"{res}\"}} {n}"
            );
        }
        out.push_str("# HELP apiserver_longrunning_requests Open watches.\n");
        out.push_str("# TYPE apiserver_longrunning_requests gauge\n");
        let _ = writeln!(
            out,
            "apiserver_longrunning_requests{{verb=\"WATCH\"}} {}",
            self.watches.load(Ordering::Relaxed)
        );
        out
    }
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

/// How a response is encoded, as the request's `Accept` header asks.
///
/// JSON unless the header's first media type this server writes is
/// `application/vnd.kubernetes.protobuf` (as client-go components ask:
/// `application/vnd.kubernetes.protobuf, application/json`). Kinds without
/// protobuf messages (custom resources) are answered in JSON when the
/// header accepts it too, and refused with 406 when it does not, before
/// anything is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Json,
    /// `or_json`: the header accepts JSON as well.
    Protobuf {
        or_json: bool,
    },
}

impl Encoding {
    fn from_accept(accept: &str) -> Encoding {
        let (mut protobuf, mut json) = (None, None);
        for (i, range) in accept.split(',').enumerate() {
            let mut parts = range.split(';');
            let mime = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let mut params = parts.map(str::trim);
            // `as=Table` is a table (handled apart); `q=0` is a refusal.
            if params.any(|p| {
                p.starts_with("as=")
                    || p.strip_prefix("q=")
                        .is_some_and(|q| q.trim().parse::<f32>() == Ok(0.0))
            }) {
                continue;
            }
            match mime.as_str() {
                protobuf::MEDIA_TYPE => {
                    protobuf.get_or_insert(i);
                }
                "application/json" | "application/*" | "*/*" => {
                    json.get_or_insert(i);
                }
                _ => {}
            }
        }
        match (protobuf, json) {
            (Some(p), Some(j)) if p < j => Encoding::Protobuf { or_json: true },
            (Some(_), None) => Encoding::Protobuf { or_json: false },
            _ => Encoding::Json,
        }
    }

    /// The encoding for objects of this kind (406 when the client takes
    /// only protobuf and the kind has no protobuf messages).
    fn settle(self, api_version: &str, kind: &str) -> Result<Encoding> {
        match self {
            Encoding::Protobuf { or_json } if !protobuf::encode::encodes(api_version, kind) => {
                if or_json {
                    Ok(Encoding::Json)
                } else {
                    Err(Error::not_acceptable(format!(
                        "only the following media types are accepted for {kind} ({api_version}): application/json"
                    )))
                }
            }
            other => Ok(other),
        }
    }
}

fn protobuf_response(
    code: StatusCode,
    body: Vec<u8>,
    content_type: &'static str,
) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = code;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn json_response(code: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = code;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn value_response(v: &serde_json::Value) -> Response<Body> {
    json_response(
        StatusCode::OK,
        serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec()),
    )
}

/// A failure as a `Status` with its HTTP code.
fn status_response(status: &Status) -> Response<Body> {
    let mut s = status.clone();
    s.kind = "Status".into();
    s.api_version = "v1".into();
    if s.status.is_empty() {
        s.status = "Failure".into();
    }
    let code = StatusCode::from_u16(s.code as u16).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(
        code,
        serde_json::to_vec(&s).unwrap_or_else(|_| b"{}".to_vec()),
    )
}

fn error_response(e: Error) -> Response<Body> {
    status_response(e.status())
}

fn object_json(o: &ObjectRef) -> Result<Vec<u8>> {
    o.to_json()
        .map_err(|e| Error::internal(format!("encoding the object: {e}")))
}

fn object_response(
    encoding: Encoding,
    code: StatusCode,
    o: &ObjectRef,
    warnings: &[String],
) -> Result<Response<Body>> {
    let protobuf = match encoding {
        Encoding::Json => None,
        // The request has been carried out: an object the table cannot
        // carry (which `settle` did not foresee) goes out as JSON rather
        // than as an error.
        Encoding::Protobuf { .. } => match o.to_value().map(|v| protobuf::encode::object(&v)) {
            Ok(Ok(body)) => Some(body),
            Ok(Err(e)) => {
                tracing::warn!(error = ?e, "answering in JSON: the object has no protobuf form");
                None
            }
            Err(_) => None,
        },
    };
    let mut r = match protobuf {
        Some(body) => protobuf_response(code, body, protobuf::MEDIA_TYPE),
        None => json_response(code, object_json(o)?),
    };
    add_warnings(&mut r, warnings);
    Ok(r)
}

fn add_warnings(r: &mut Response<Body>, warnings: &[String]) {
    for w in warnings {
        // The header carries text; quotes and backslashes are escaped and
        // anything that is not visible ASCII is replaced.
        let text: String = w
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .collect::<String>()
            .replace('\\', "\\\\")
            .replace('"', "\\\"");
        if let Ok(v) = HeaderValue::from_str(&format!("299 - \"{text}\"")) {
            r.headers_mut().append("warning", v);
        }
    }
}

/// A list response in the encoding asked for (JSON when the list's items
/// have no protobuf form).
fn list_response(encoding: Encoding, list: &ListResponse) -> Result<Response<Body>> {
    if let Encoding::Protobuf { .. } = encoding {
        match list_protobuf(list) {
            Ok(body) => {
                return Ok(protobuf_response(
                    StatusCode::OK,
                    body,
                    protobuf::MEDIA_TYPE,
                ))
            }
            Err(e) => {
                tracing::warn!(error = ?e, "answering in JSON: the list has no protobuf form");
            }
        }
    }
    Ok(json_response(StatusCode::OK, list_json(list)?))
}

fn list_protobuf(list: &ListResponse) -> std::result::Result<Vec<u8>, ProtobufError> {
    let items = list
        .items
        .iter()
        .map(|o| o.to_value())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| ProtobufError::Unsupported(e.to_string()))?;
    protobuf::encode::list(
        list.kind.resource.api_version.as_str(),
        list.kind.list_kind.as_str(),
        &serde_json::Value::Object(list_meta(list)),
        &items,
    )
}

/// A list's `metadata` (`ListMeta`) as JSON.
fn list_meta(list: &ListResponse) -> serde_json::Map<String, serde_json::Value> {
    let mut meta = serde_json::Map::new();
    meta.insert(
        "resourceVersion".into(),
        list.resource_version.clone().into(),
    );
    if let Some(c) = &list.continue_token {
        meta.insert("continue".into(), c.clone().into());
    }
    if let Some(n) = list.remaining {
        meta.insert("remainingItemCount".into(), n.into());
    }
    meta
}

fn list_json(list: &ListResponse) -> Result<Vec<u8>> {
    let r = &list.kind.resource;
    let meta = list_meta(list);
    let head = serde_json::json!({
        "kind": list.kind.list_kind.as_str(),
        "apiVersion": r.api_version.as_str(),
        "metadata": meta,
    });
    let mut out = serde_json::to_vec(&head).map_err(|e| Error::internal(e.to_string()))?;
    out.pop(); // the closing brace
    out.extend_from_slice(b",\"items\":[");
    for (i, o) in list.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        o.write_json(&mut out)
            .map_err(|e| Error::internal(format!("encoding the object: {e}")))?;
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}

/// The event as one frame of a protobuf watch stream. An object the table
/// cannot carry becomes an `ERROR` event (500) that says so: the stream
/// never skips an event silently.
fn event_frame(e: &WatchEvent<ObjectRef>) -> Vec<u8> {
    let (kind, value) = match e {
        WatchEvent::Added(o) => ("ADDED", o.to_value()),
        WatchEvent::Modified(o) => ("MODIFIED", o.to_value()),
        WatchEvent::Deleted(o) => ("DELETED", o.to_value()),
        WatchEvent::Bookmark(o) => ("BOOKMARK", o.to_value()),
        WatchEvent::Error(s) => ("ERROR", Ok(status_value(s))),
    };
    let encoded = value
        .map_err(|e| ProtobufError::Unsupported(e.to_string()))
        .and_then(|v| protobuf::encode::object(&v));
    match encoded {
        Ok(object) => protobuf::encode::watch_frame(kind, &object),
        Err(err) => {
            let s = Status::internal(format!(
                "the object of this {kind} event has no protobuf form ({err:?}); watch with Accept: application/json"
            ));
            let object = protobuf::encode::object(&status_value(&s)).unwrap_or_default();
            protobuf::encode::watch_frame("ERROR", &object)
        }
    }
}

/// A failure's `Status` as the JSON value clients read.
fn status_value(s: &Status) -> serde_json::Value {
    let mut s = s.clone();
    s.kind = "Status".into();
    s.api_version = "v1".into();
    if s.status.is_empty() {
        s.status = "Failure".into();
    }
    serde_json::to_value(&s).unwrap_or_default()
}

fn event_line(e: &WatchEvent<ObjectRef>) -> Vec<u8> {
    let (kind, obj) = match e {
        WatchEvent::Added(o) => ("ADDED", Some(o)),
        WatchEvent::Modified(o) => ("MODIFIED", Some(o)),
        WatchEvent::Deleted(o) => ("DELETED", Some(o)),
        WatchEvent::Bookmark(o) => ("BOOKMARK", Some(o)),
        WatchEvent::Error(_) => ("ERROR", None),
    };
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    match (obj, e) {
        (Some(o), _) => {
            if o.write_json(&mut out).is_err() {
                out.extend_from_slice(b"{}");
            }
        }
        (None, WatchEvent::Error(s)) => {
            let mut s = s.clone();
            s.kind = "Status".into();
            s.api_version = "v1".into();
            if s.status.is_empty() {
                s.status = "Failure".into();
            }
            if serde_json::to_writer(&mut out, &s).is_err() {
                out.extend_from_slice(b"{}");
            }
        }
        _ => out.extend_from_slice(b"{}"),
    }
    out.extend_from_slice(b"}\n");
    out
}

fn object_value(o: &ObjectRef) -> Result<serde_json::Value> {
    serde_json::from_slice(&object_json(o)?)
        .map_err(|e| Error::internal(format!("encoding the object: {e}")))
}

/// How a resource's objects print in a `Table`: a built-in printer, or a
/// custom resource's CRD printer columns.
async fn printer_for(api: &ApiServer, target: &Target) -> Printer {
    let builtin = Printer::builtin(&target.group, &target.resource);
    if target.group.is_empty() || !target.group.contains('.') || target.group.ends_with(".k8s.io") {
        return builtin;
    }
    let crd = Target::new("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        .name(format!("{}.{}", target.resource, target.group));
    let Ok(o) = api.get_with(&crd, "").await else {
        return builtin;
    };
    let Some(crd) = o.downcast_ref::<CustomResourceDefinition>() else {
        return builtin;
    };
    let columns = crd
        .spec
        .versions
        .iter()
        .find(|v| v.name == target.version)
        .map(|v| v.additional_printer_columns.clone())
        .unwrap_or_default();
    Printer::custom(columns)
}

/// A watch event whose object is a one-row `Table` (`kubectl get -w`).
fn table_event_line(printer: &Printer, e: &WatchEvent<ObjectRef>) -> Vec<u8> {
    let (kind, o) = match e {
        WatchEvent::Added(o) => ("ADDED", o),
        WatchEvent::Modified(o) => ("MODIFIED", o),
        WatchEvent::Deleted(o) => ("DELETED", o),
        WatchEvent::Bookmark(_) | WatchEvent::Error(_) => return event_line(e),
    };
    let Ok(v) = object_value(o) else {
        return event_line(e);
    };
    let t = printer.table(&[v], serde_json::Map::new(), Time::now());
    let mut out = serde_json::to_vec(&serde_json::json!({"type": kind, "object": t}))
        .unwrap_or_else(|_| event_line(e));
    if out.last() != Some(&b'\n') {
        out.push(b'\n');
    }
    out
}

/// Counts an open watch until dropped.
struct WatchGuard(Arc<State>);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.metrics.watches.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn handle(state: &Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let start = Instant::now();
    let method = req.method().clone();
    let route = parse_path(req.uri().path());
    let (verb, resource) = match &route {
        Some(Route::Object { target, .. }) => (
            method.as_str().to_string(),
            if target.subresource.is_empty() {
                target.resource.to_string()
            } else {
                format!("{}/{}", target.resource, target.subresource)
            },
        ),
        _ => (method.as_str().to_string(), String::new()),
    };
    let response = match route {
        None => status_response(&Status::failure(
            "NotFound",
            404,
            format!(
                "the server could not find the requested resource ({})",
                req.uri().path()
            ),
        )),
        Some(route) => match dispatch(state, route, req).await {
            Ok(r) => r,
            Err(e) => error_response(e),
        },
    };
    state.metrics.record(
        &verb,
        &resource,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

async fn dispatch(
    state: &Arc<State>,
    route: Route,
    req: Request<Incoming>,
) -> Result<Response<Body>> {
    let api = &state.api;
    let get_only = |r: Response<Body>| -> Result<Response<Body>> { Ok(r) };
    let is_get = req.method() == Method::GET || req.method() == Method::HEAD;
    let not_found = || Error::not_found("", "", req.uri().path());
    match route {
        Route::Object {
            target,
            watch_prefix,
        } => object(state, target, watch_prefix, req).await,
        _ if !is_get => Err(Error::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({} {})",
            req.method(),
            req.uri().path()
        ))),
        Route::Version => get_only(value_response(&discovery::version())),
        Route::Health => {
            let mut r = Response::new(full("ok"));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            Ok(r)
        }
        Route::Metrics => {
            let mut r = Response::new(full(state.metrics.render()));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            Ok(r)
        }
        Route::CoreVersions => Ok(value_response(&discovery::core_versions())),
        Route::Groups => Ok(value_response(&discovery::group_list(api))),
        Route::Group(g) => discovery::group(api, &g)
            .map(|v| value_response(&v))
            .ok_or_else(not_found),
        Route::Resources { group, version } => discovery::resource_list(api, &group, &version)
            .map(|v| value_response(&v))
            .ok_or_else(not_found),
        Route::OpenApiV2 => {
            let mut r = Response::new(full(discovery::openapi_v2_protobuf()));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
                ),
            );
            Ok(r)
        }
        Route::OpenApiRoot => Ok(value_response(&discovery::openapi_root(api))),
        Route::OpenApiDoc { group, version } => discovery::openapi_doc(api, &group, &version)
            .map(|v| value_response(&v))
            .ok_or_else(not_found),
    }
}

/// Reads the request body, refusing more than the limit with 413.
async fn read_body(state: &State, req: Request<Incoming>) -> Result<Bytes> {
    let too_large = || {
        Error::from(Status::too_large(format!(
            "the request body is larger than {} bytes",
            state.max_body
        )))
    };
    if let Some(len) = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > state.max_body as u64 {
            return Err(too_large());
        }
    }
    match Limited::new(req.into_body(), state.max_body)
        .collect()
        .await
    {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(too_large())
            } else {
                Err(Error::bad_request(format!("reading the request body: {e}")))
            }
        }
    }
}

/// A write's body as JSON: JSON as it is, YAML converted as Kubernetes
/// reads it (see [`manifest`](crate::api::manifest)), protobuf (client-go's
/// typed clients) decoded through [`protobuf`](super::protobuf).
fn json_body(content_type: &str, body: Bytes) -> Result<Bytes> {
    let base = content_type.split(';').next().unwrap_or("").trim();
    match base {
        "" | "application/json" | "*/*" => Ok(body),
        "application/yaml" | "application/x-yaml" | "text/yaml" => yaml_body(body),
        protobuf::MEDIA_TYPE => match protobuf::to_json(&body) {
            Ok(json) => Ok(Bytes::from(json)),
            Err(ProtobufError::Malformed(m)) => Err(Error::bad_request(m)),
            Err(ProtobufError::Unsupported(m)) => Err(Error::unsupported_media_type(format!(
                "this server does not read {m}"
            ))),
        },
        other => Err(Error::unsupported_media_type(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {other:?})"
        ))),
    }
}

/// A YAML body (one document) as JSON; JSON bodies pass unchanged, since
/// JSON is YAML. Syntax errors are 400s naming the line.
fn yaml_body(body: Bytes) -> Result<Bytes> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if matches!(first, Some(b'{') | Some(b'['))
        && serde_json::from_slice::<IgnoredAny>(&body).is_ok()
    {
        return Ok(body);
    }
    let text = std::str::from_utf8(&body)
        .map_err(|e| Error::bad_request(format!("the YAML body is not UTF-8: {e}")))?;
    // A syntax error's message already reads "error converting YAML to
    // JSON: yaml: line N: ..."; other errors get their line and column.
    let value = manifest::yaml_to_json(text).map_err(|e| match *e.kind {
        manifest::ManifestErrorKind::Syntax(_) => Error::bad_request(e.kind.to_string()),
        _ => Error::bad_request(e.to_string()),
    })?;
    serde_json::to_vec(&value)
        .map(Bytes::from)
        .map_err(|e| Error::internal(format!("encoding JSON: {e}")))
}

async fn object(
    state: &Arc<State>,
    target: Target,
    watch_prefix: bool,
    req: Request<Incoming>,
) -> Result<Response<Body>> {
    let api = &state.api;
    let query = Query::parse(req.uri().query())?;
    let user = UserInfo::admin();
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let method = req.method().clone();
    let collection = target.name.is_empty();
    let table = req
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(table::wants_table);
    if method == Method::GET && target.resource == "pods" && target.subresource == "log" {
        return pod_log(api, &target, &query).await;
    }
    let mut encoding = match (
        table,
        req.headers().get(ACCEPT).and_then(|v| v.to_str().ok()),
    ) {
        (false, Some(accept)) => Encoding::from_accept(accept),
        _ => Encoding::Json,
    };
    if encoding != Encoding::Json {
        let kind = api.body_kind(&target)?;
        encoding = encoding.settle(&kind.resource.api_version, &kind.resource.kind)?;
    }
    match method {
        Method::GET | Method::HEAD if collection || watch_prefix => {
            let opts = query.list_options()?;
            if watch_prefix || query.watch()? {
                let printer = if table {
                    Some(Arc::new(printer_for(api, &target).await))
                } else {
                    None
                };
                let stream = api.watch(&target, &opts).await?;
                state.metrics.watches.fetch_add(1, Ordering::Relaxed);
                let guard = WatchGuard(state.clone());
                // Every event that is ready when the connection polls goes
                // out in one chunk: under load a watcher that fell behind
                // catches up with one write instead of one per event.
                // With many watches open, events are also gathered in
                // ticks (see `HttpServer::watch_coalescing`).
                let ticks = state.clone();
                let window = move || {
                    let c = ticks.coalescing;
                    if ticks.metrics.watches.load(Ordering::Relaxed) >= c.min_watches {
                        c.window
                    } else {
                        Duration::ZERO
                    }
                };
                let batches = super::coalesce::Coalesce::new(stream, WATCH_BATCH, window);
                let body = StreamBody::new(batches.map(move |events| {
                    let line = |e| match &printer {
                        Some(p) => Bytes::from(table_event_line(p, e)),
                        None => guard.0.encoded.line(e, encoding),
                    };
                    let chunk = match events.as_slice() {
                        [one] => line(one),
                        many => {
                            // Room for as many lines as long as the first
                            // (events of one watch are alike): one
                            // allocation, rarely grown.
                            let mut lines = many.iter().map(line);
                            let first = lines.next().unwrap_or_default();
                            let mut buf = BytesMut::with_capacity(first.len() * many.len() + 256);
                            buf.extend_from_slice(&first);
                            for l in lines {
                                buf.extend_from_slice(&l);
                            }
                            buf.freeze()
                        }
                    };
                    Ok::<_, Infallible>(Frame::data(chunk))
                }));
                let mut r = Response::new(BodyExt::boxed_unsync(body));
                let content_type = match encoding {
                    Encoding::Json => "application/json",
                    Encoding::Protobuf { .. } => protobuf::WATCH_MEDIA_TYPE,
                };
                r.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
                return Ok(r);
            }
            let list = api.list(&target, &opts).await?;
            if table {
                let printer = printer_for(api, &target).await;
                let mut meta = serde_json::Map::new();
                meta.insert(
                    "resourceVersion".into(),
                    list.resource_version.clone().into(),
                );
                if let Some(c) = &list.continue_token {
                    meta.insert("continue".into(), c.clone().into());
                }
                let objects = list
                    .items
                    .iter()
                    .map(object_value)
                    .collect::<Result<Vec<_>>>()?;
                let t = printer.table(&objects, meta, Time::now());
                return Ok(value_response(&t));
            }
            list_response(encoding, &list)
        }
        Method::GET | Method::HEAD => {
            let rv = query.get("resourceVersion").unwrap_or("");
            let o = api.get_with(&target, rv).await?;
            if table && target.subresource.is_empty() {
                let printer = printer_for(api, &target).await;
                let t = printer.table(&[object_value(&o)?], serde_json::Map::new(), Time::now());
                return Ok(value_response(&t));
            }
            object_response(encoding, StatusCode::OK, &o, &[])
        }
        Method::POST => {
            if collection && !target.subresource.is_empty() {
                return Err(Error::method_not_allowed(
                    "POST needs a name for a subresource",
                ));
            }
            if !collection && target.subresource.is_empty() {
                return Err(Error::method_not_allowed(format!(
                    "the server does not allow this method on the requested resource (POST {})",
                    target
                )));
            }
            let opts = query.write_options()?;
            let body = json_body(&content_type, read_body(state, req).await?)?;
            let (obj, mut warnings) = api.decode_body(&target, &body, opts.field_validation)?;
            let written = api.create_as(&target, obj, &opts, &user).await?;
            warnings.extend(written.warnings.iter().cloned());
            object_response(encoding, StatusCode::CREATED, &written.object, &warnings)
        }
        Method::PUT if !collection => {
            let opts = query.write_options()?;
            let body = json_body(&content_type, read_body(state, req).await?)?;
            let (obj, mut warnings) = api.decode_body(&target, &body, opts.field_validation)?;
            let written = api.update_as(&target, obj, &opts, &user).await?;
            warnings.extend(written.warnings.iter().cloned());
            let code = if written.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            object_response(encoding, code, &written.object, &warnings)
        }
        Method::PATCH if !collection => {
            let patch_type = PatchType::from_content_type(&content_type).ok_or_else(|| {
                Error::unsupported_media_type(format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (got {content_type:?})"
                ))
            })?;
            let opts = query.write_options()?;
            let mut body = read_body(state, req).await?;
            if patch_type == PatchType::Apply {
                body = yaml_body(body)?;
            }
            let written = api
                .patch_as(&target, patch_type, &body, &opts, &user)
                .await?;
            let code = if written.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            object_response(encoding, code, &written.object, &written.warnings)
        }
        Method::DELETE => {
            let body = read_body(state, req).await?;
            let from_body: DeleteOptions = if body.iter().all(u8::is_ascii_whitespace) {
                DeleteOptions::default()
            } else {
                serde_json::from_slice(&body)
                    .map_err(|e| Error::bad_request(format!("decoding DeleteOptions: {e}")))?
            };
            let opts = query.delete_options(from_body)?;
            if collection {
                let list_opts = query.list_options()?;
                let deleted = api.delete_collection(&target, &list_opts, &opts).await?;
                let kind = api.body_kind(&target)?;
                let list = ListResponse {
                    kind,
                    items: deleted
                        .into_iter()
                        .map(|d| match d {
                            Deleted::Gone(o) | Deleted::Pending(o) => o,
                        })
                        .collect(),
                    resource_version: api.revision().to_string(),
                    continue_token: None,
                    remaining: None,
                };
                return list_response(encoding, &list);
            }
            match api.delete_as(&target, &opts, &user).await? {
                Deleted::Gone(o) => object_response(encoding, StatusCode::OK, &o, &[]),
                Deleted::Pending(o) => object_response(encoding, StatusCode::ACCEPTED, &o, &[]),
            }
        }
        other => Err(Error::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({other} {target})"
        ))),
    }
}

/// `GET .../pods/{name}/log`: the node agent's stream, chunked, as text.
async fn pod_log(api: &ApiServer, target: &Target, query: &Query) -> Result<Response<Body>> {
    let keys = [
        "container",
        "follow",
        "previous",
        "sinceSeconds",
        "tailLines",
        "timestamps",
        "limitBytes",
    ];
    let options = crate::apiserver::PodLogOptions::from_query(
        keys.iter().filter_map(|k| query.get(k).map(|v| (*k, v))),
    )?;
    let stream = api
        .pod_logs(&target.namespace, &target.name, &options)
        .await?;
    // An error mid-stream ends the body (the status line is already sent).
    let frames = stream
        .take_while(|c| std::future::ready(c.is_ok()))
        .filter_map(|c| std::future::ready(c.ok()))
        .map(|b| Ok::<_, Infallible>(Frame::data(b)));
    let mut r = Response::new(StreamBody::new(frames).boxed_unsync());
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::Encoding;

    #[test]
    fn accept_headers_choose_the_encoding() {
        let pb = |or_json| Encoding::Protobuf { or_json };
        for (accept, want) in [
            ("", Encoding::Json),
            ("application/json", Encoding::Json),
            ("*/*", Encoding::Json),
            // client-go's typed clients.
            (
                "application/vnd.kubernetes.protobuf,application/json",
                pb(true),
            ),
            ("application/vnd.kubernetes.protobuf, */*", pb(true)),
            ("application/vnd.kubernetes.protobuf", pb(false)),
            (
                "application/vnd.kubernetes.protobuf;stream=watch",
                pb(false),
            ),
            // JSON first, or protobuf refused.
            (
                "application/json, application/vnd.kubernetes.protobuf",
                Encoding::Json,
            ),
            (
                "application/vnd.kubernetes.protobuf;q=0, application/json",
                Encoding::Json,
            ),
            // kubectl get's tables are not protobuf.
            (
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
                Encoding::Json,
            ),
            (";;,,q=,application/", Encoding::Json),
        ] {
            assert_eq!(Encoding::from_accept(accept), want, "{accept:?}");
        }
        assert_eq!(pb(true).settle("v1", "Pod").ok(), Some(pb(true)));
        assert_eq!(
            pb(true).settle("example.com/v1", "Widget").ok(),
            Some(Encoding::Json)
        );
        let err = pb(false).settle("example.com/v1", "Widget").unwrap_err();
        assert_eq!(err.code(), 406);
        assert_eq!(
            Encoding::Json.settle("example.com/v1", "Widget").ok(),
            Some(Encoding::Json)
        );
    }
}
