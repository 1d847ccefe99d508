//! [`HttpClient`]: the [`Client`] trait over Kubernetes' REST protocol.
//!
//! It speaks to a keelson [`HttpServer`](super::HttpServer) or any
//! Kubernetes API server reachable over plain HTTP (`http://host:port`),
//! with JSON bodies, the same paths and query parameters kubectl uses, and
//! `Status` errors turned back into [`Error::Api`]. Connections are pooled
//! (HTTP/1.1 keep-alive).
//!
//! Watches reconnect: when a watch's connection drops or the server ends
//! it without having been asked to (no `timeoutSeconds`), the client opens a
//! new one from the last resourceVersion it delivered (events and
//! bookmarks), so consumers see one unbroken stream. A `410 Gone` ends the
//! stream with an `Error` event: list again.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use keelson::api::core::ConfigMap;
//! use keelson::client::Api;
//! use keelson::http::HttpClient;
//!
//! let client = HttpClient::new("http://127.0.0.1:6443")?;
//! let cms: Api<ConfigMap> = Api::namespaced(&client, "default");
//! for cm in cms.list(&Default::default()).await?.items {
//!     println!("{}", cm.metadata.name);
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{ACCEPT, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::api::meta::DeleteOptions;
use crate::api::scheme::FieldValidation;
use crate::api::{ListMeta, Status, WatchEvent};
use crate::apiserver::{ListOptions, PatchType, Target, VersionMatch, WriteOptions};
use crate::client::{
    Body, Client, DeletePayload, Error, ListPayload, Payload, PayloadStream, Result,
};

type Pool = hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>;

/// A [`Client`] over HTTP. Cheap to clone: clones share the connection
/// pool.
#[derive(Clone, Debug)]
pub struct HttpClient {
    base: String,
    pool: Pool,
}

impl HttpClient {
    /// A client for the server at `url` (`http://host:port`, optionally
    /// with a path prefix).
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] when the URL is not an `http://` URL.
    pub fn new(url: &str) -> Result<Self> {
        let uri: Uri = url.parse().map_err(|e| Error::Transport {
            message: format!("invalid server URL {url:?}"),
            source: Some(Box::new(e)),
        })?;
        if uri.scheme_str() != Some("http") || uri.authority().is_none() {
            return Err(Error::Transport {
                message: format!("server URL {url:?} must be http://host:port"),
                source: None,
            });
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let pool = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Ok(HttpClient {
            base: url.trim_end_matches('/').to_string(),
            pool,
        })
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<Response<Incoming>> {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path_and_query}", self.base))
            .header(ACCEPT, "application/json");
        if let Some(ct) = content_type {
            req = req.header(CONTENT_TYPE, ct);
        }
        let req = req.body(Full::new(body)).map_err(|e| Error::Transport {
            message: format!("building the request {path_and_query}"),
            source: Some(Box::new(e)),
        })?;
        self.pool.request(req).await.map_err(|e| Error::Transport {
            message: format!("sending {path_and_query}"),
            source: Some(Box::new(e)),
        })
    }

    /// Sends a request and reads the whole response; non-2xx responses
    /// become [`Error::Api`].
    async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<(StatusCode, Bytes)> {
        let resp = self
            .send(method, path_and_query, content_type, body)
            .await?;
        let code = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| Error::Transport {
                message: format!("reading the response of {path_and_query}"),
                source: Some(Box::new(e)),
            })?
            .to_bytes();
        if code.is_success() {
            Ok((code, bytes))
        } else {
            Err(Error::Api(Box::new(status_of(code, &bytes))))
        }
    }
}

/// The `Status` of a failed response (or one made from its code and text).
fn status_of(code: StatusCode, body: &[u8]) -> Status {
    if let Ok(s) = serde_json::from_slice::<Status>(body) {
        if s.kind == "Status" || s.code != 0 {
            return s;
        }
    }
    Status {
        kind: "Status".into(),
        api_version: "v1".into(),
        status: "Failure".into(),
        code: i32::from(code.as_u16()),
        reason: code
            .canonical_reason()
            .unwrap_or("Unknown")
            .replace(' ', "")
            .into(),
        message: String::from_utf8_lossy(body).trim().to_string().into(),
        ..Default::default()
    }
}

/// Percent-encodes a query value.
fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The REST path of a target: `/api/v1/namespaces/ns/pods/name/status`.
fn path(t: &Target) -> String {
    let mut p = if t.group.is_empty() {
        format!("/api/{}", t.version)
    } else {
        format!("/apis/{}/{}", t.group, t.version)
    };
    if !t.namespace.is_empty() {
        let _ = write!(p, "/namespaces/{}", encode(&t.namespace));
    }
    let _ = write!(p, "/{}", t.resource);
    if !t.name.is_empty() {
        let _ = write!(p, "/{}", encode(&t.name));
    }
    if !t.subresource.is_empty() {
        let _ = write!(p, "/{}", t.subresource);
    }
    p
}

struct QueryString(String);

impl QueryString {
    fn new() -> Self {
        QueryString(String::new())
    }

    fn add(&mut self, key: &str, value: &str) {
        self.0.push(if self.0.is_empty() { '?' } else { '&' });
        self.0.push_str(key);
        self.0.push('=');
        self.0.push_str(&encode(value));
    }

    fn write(mut self, opts: &WriteOptions) -> Self {
        if opts.dry_run {
            self.add("dryRun", "All");
        }
        if !opts.field_manager.is_empty() {
            self.add("fieldManager", &opts.field_manager);
        }
        let validation = match opts.field_validation {
            FieldValidation::Ignore => "Ignore",
            FieldValidation::Warn => "Warn",
            FieldValidation::Strict => "Strict",
        };
        self.add("fieldValidation", validation);
        if opts.force {
            self.add("force", "true");
        }
        self
    }

    fn list(mut self, opts: &ListOptions) -> Self {
        if let Some(s) = &opts.label_selector {
            self.add("labelSelector", &s.to_string());
        }
        if let Some(s) = &opts.field_selector {
            self.add("fieldSelector", &s.to_string());
        }
        if opts.limit > 0 {
            self.add("limit", &opts.limit.to_string());
        }
        if let Some(c) = &opts.continue_token {
            self.add("continue", c);
        }
        if !opts.resource_version.is_empty() {
            self.add("resourceVersion", &opts.resource_version);
        }
        match opts.version_match {
            VersionMatch::Unset => {}
            VersionMatch::NotOlderThan => self.add("resourceVersionMatch", "NotOlderThan"),
            VersionMatch::Exact => self.add("resourceVersionMatch", "Exact"),
        }
        self
    }

    fn watch(mut self, opts: &ListOptions, resource_version: &str) -> Self {
        self.add("watch", "true");
        if let Some(s) = &opts.label_selector {
            self.add("labelSelector", &s.to_string());
        }
        if let Some(s) = &opts.field_selector {
            self.add("fieldSelector", &s.to_string());
        }
        if !resource_version.is_empty() {
            self.add("resourceVersion", resource_version);
        }
        if opts.allow_bookmarks {
            self.add("allowWatchBookmarks", "true");
        }
        if let Some(send) = opts.send_initial_events {
            self.add("sendInitialEvents", if send { "true" } else { "false" });
        }
        if let Some(t) = opts.timeout {
            self.add("timeoutSeconds", &t.as_secs().max(1).to_string());
        }
        self
    }
}

fn body_bytes(body: Body) -> Result<Bytes> {
    match body {
        Body::Json(b) => Ok(b),
        Body::Object(o) => {
            let mut out = Vec::with_capacity(1024);
            o.write_json(&mut out)
                .map_err(|e| Error::Decode(format!("encoding the object: {e}")))?;
            Ok(Bytes::from(out))
        }
    }
}

#[derive(Deserialize)]
struct RawList<'a> {
    #[serde(default)]
    metadata: ListMeta,
    #[serde(borrow, default)]
    items: Vec<&'a RawValue>,
}

fn list_payload(bytes: &[u8]) -> Result<ListPayload> {
    let list: RawList<'_> =
        serde_json::from_slice(bytes).map_err(|e| Error::Decode(format!("a list: {e}")))?;
    Ok(ListPayload {
        metadata: list.metadata,
        items: list
            .items
            .into_iter()
            .map(|raw| Payload::Json(Bytes::copy_from_slice(raw.get().as_bytes())))
            .collect(),
    })
}

#[derive(Deserialize)]
struct RawEvent<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(borrow)]
    object: &'a RawValue,
}

/// One line of a watch response as an event.
fn event(line: &[u8]) -> Result<WatchEvent<Payload>> {
    let e: RawEvent<'_> =
        serde_json::from_slice(line).map_err(|e| Error::Decode(format!("a watch event: {e}")))?;
    let payload = || Payload::Json(Bytes::copy_from_slice(e.object.get().as_bytes()));
    Ok(match e.kind {
        "ADDED" => WatchEvent::Added(payload()),
        "MODIFIED" => WatchEvent::Modified(payload()),
        "DELETED" => WatchEvent::Deleted(payload()),
        "BOOKMARK" => WatchEvent::Bookmark(payload()),
        "ERROR" => WatchEvent::Error(
            serde_json::from_str(e.object.get())
                .map_err(|e| Error::Decode(format!("a watch error: {e}")))?,
        ),
        other => return Err(Error::Decode(format!("unknown watch event type {other:?}"))),
    })
}

/// The resourceVersion of an event's object.
fn resource_version_of(p: &Payload) -> Option<String> {
    #[derive(Deserialize)]
    struct Meta {
        #[serde(rename = "resourceVersion", default)]
        resource_version: String,
    }
    #[derive(Deserialize)]
    struct Obj {
        metadata: Meta,
    }
    match p {
        Payload::Json(b) => serde_json::from_slice::<Obj>(b)
            .ok()
            .map(|o| o.metadata.resource_version),
        Payload::Object(o) => Some(o.meta().resource_version.to_string()),
    }
}

/// A watch over HTTP that reconnects from the last resourceVersion.
struct Watch {
    client: HttpClient,
    target: Target,
    opts: ListOptions,
    resource_version: String,
    body: Option<Incoming>,
    buf: BytesMut,
    ready: VecDeque<Result<WatchEvent<Payload>>>,
    failures: u32,
    done: bool,
}

/// Reconnection gives up after this many failures in a row.
const MAX_RECONNECTS: u32 = 8;

impl Watch {
    async fn connect(&mut self) -> Result<()> {
        let q = QueryString::new().watch(&self.opts, &self.resource_version);
        let resp = self
            .client
            .send(
                Method::GET,
                &format!("{}{}", path(&self.target), q.0),
                None,
                Bytes::new(),
            )
            .await?;
        let code = resp.status();
        if !code.is_success() {
            let body = resp
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            return Err(Error::Api(Box::new(status_of(code, &body))));
        }
        self.body = Some(resp.into_body());
        Ok(())
    }

    fn take_lines(&mut self) {
        while let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
            let line = self.buf.split_to(i + 1);
            let line = &line[..i];
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let e = event(line);
            if let Ok(e) = &e {
                match e {
                    WatchEvent::Error(_) => self.done = true,
                    other => {
                        if let Some(rv) = other.object().and_then(resource_version_of) {
                            if !rv.is_empty() {
                                self.resource_version = rv;
                            }
                        }
                    }
                }
            }
            self.ready.push_back(e);
        }
    }

    async fn next_event(&mut self) -> Option<Result<WatchEvent<Payload>>> {
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Some(e);
            }
            if self.done {
                return None;
            }
            let Some(body) = self.body.as_mut() else {
                if let Err(e) = self.connect().await {
                    self.failures += 1;
                    // API errors (410, 403, ...) and repeated transport
                    // failures end the watch.
                    if matches!(e, Error::Api(_)) || self.failures >= MAX_RECONNECTS {
                        self.done = true;
                        return Some(match e {
                            Error::Api(s) if s.code == 410 => Ok(WatchEvent::Error(*s)),
                            e => Err(e),
                        });
                    }
                    let backoff = Duration::from_millis(50u64 << self.failures.min(6));
                    tokio::time::sleep(backoff).await;
                }
                continue;
            };
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        self.failures = 0;
                        self.buf.extend_from_slice(data.chunk());
                        self.take_lines();
                    }
                }
                end => {
                    // The stream ended (cleanly or not). A watch asked to
                    // time out ends here; otherwise reconnect.
                    self.body = None;
                    self.buf.clear();
                    if self.opts.timeout.is_some() && end.is_none() {
                        self.done = true;
                    }
                }
            }
        }
    }

    fn into_stream(self) -> impl Stream<Item = Result<WatchEvent<Payload>>> + Send {
        futures::stream::unfold(self, |mut w| async move {
            let e = w.next_event().await?;
            Some((e, w))
        })
    }
}

#[async_trait]
impl Client for HttpClient {
    async fn create(&self, target: &Target, body: Body, opts: &WriteOptions) -> Result<Payload> {
        let q = QueryString::new().write(opts);
        let (_, bytes) = self
            .call(
                Method::POST,
                &format!("{}{}", path(target), q.0),
                Some("application/json"),
                body_bytes(body)?,
            )
            .await?;
        Ok(Payload::Json(bytes))
    }

    async fn get(&self, target: &Target, resource_version: &str) -> Result<Payload> {
        let mut q = QueryString::new();
        if !resource_version.is_empty() {
            q.add("resourceVersion", resource_version);
        }
        let (_, bytes) = self
            .call(
                Method::GET,
                &format!("{}{}", path(target), q.0),
                None,
                Bytes::new(),
            )
            .await?;
        Ok(Payload::Json(bytes))
    }

    async fn list(&self, target: &Target, opts: &ListOptions) -> Result<ListPayload> {
        let q = QueryString::new().list(opts);
        let (_, bytes) = self
            .call(
                Method::GET,
                &format!("{}{}", path(target), q.0),
                None,
                Bytes::new(),
            )
            .await?;
        list_payload(&bytes)
    }

    async fn watch(&self, target: &Target, opts: &ListOptions) -> Result<PayloadStream> {
        let mut w = Watch {
            client: self.clone(),
            target: target.clone(),
            opts: opts.clone(),
            resource_version: opts.resource_version.to_string(),
            body: None,
            buf: BytesMut::new(),
            ready: VecDeque::new(),
            failures: 0,
            done: false,
        };
        // The first connection's errors are the call's errors, as they are
        // for the in-process client.
        w.connect().await?;
        Ok(w.into_stream().boxed())
    }

    async fn update(&self, target: &Target, body: Body, opts: &WriteOptions) -> Result<Payload> {
        let q = QueryString::new().write(opts);
        let (_, bytes) = self
            .call(
                Method::PUT,
                &format!("{}{}", path(target), q.0),
                Some("application/json"),
                body_bytes(body)?,
            )
            .await?;
        Ok(Payload::Json(bytes))
    }

    async fn patch(
        &self,
        target: &Target,
        patch_type: PatchType,
        patch: Bytes,
        opts: &WriteOptions,
    ) -> Result<Payload> {
        let q = QueryString::new().write(opts);
        let (_, bytes) = self
            .call(
                Method::PATCH,
                &format!("{}{}", path(target), q.0),
                Some(patch_type.content_type()),
                patch,
            )
            .await?;
        Ok(Payload::Json(bytes))
    }

    async fn delete(&self, target: &Target, opts: &DeleteOptions) -> Result<DeletePayload> {
        let body = serde_json::to_vec(opts)
            .map_err(|e| Error::Decode(format!("encoding DeleteOptions: {e}")))?;
        let (code, bytes) = self
            .call(
                Method::DELETE,
                &path(target),
                Some("application/json"),
                Bytes::from(body),
            )
            .await?;
        if code == StatusCode::ACCEPTED {
            return Ok(DeletePayload::Pending(Payload::Json(bytes)));
        }
        let is_status = serde_json::from_slice::<serde_json::Value>(&bytes)
            .is_ok_and(|v| v["kind"] == "Status");
        Ok(DeletePayload::Gone(
            (!is_status).then_some(Payload::Json(bytes)),
        ))
    }

    async fn delete_collection(
        &self,
        target: &Target,
        list: &ListOptions,
        opts: &DeleteOptions,
    ) -> Result<ListPayload> {
        let body = serde_json::to_vec(opts)
            .map_err(|e| Error::Decode(format!("encoding DeleteOptions: {e}")))?;
        let q = QueryString::new().list(list);
        let (_, bytes) = self
            .call(
                Method::DELETE,
                &format!("{}{}", path(target), q.0),
                Some("application/json"),
                Bytes::from(body),
            )
            .await?;
        list_payload(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let t = Target::new("", "v1", "pods")
            .namespace("default")
            .name("web")
            .subresource("status");
        assert_eq!(path(&t), "/api/v1/namespaces/default/pods/web/status");
        let t = Target::new("apps", "v1", "deployments");
        assert_eq!(path(&t), "/apis/apps/v1/deployments");
    }

    #[test]
    fn queries_are_encoded() {
        let opts = ListOptions::default()
            .labels("env in (a,b),!canary")
            .expect("selector")
            .limit(5);
        let q = QueryString::new().list(&opts);
        // The selector prints its requirements in canonical (sorted) order.
        assert_eq!(
            q.0,
            "?labelSelector=%21canary%2Cenv%20in%20%28a%2Cb%29&limit=5"
        );
    }

    #[test]
    fn events_and_lists_decode() {
        let e = event(br#"{"type":"ADDED","object":{"metadata":{"resourceVersion":"7"}}}"#)
            .expect("event");
        assert_eq!(
            e.object().and_then(resource_version_of).as_deref(),
            Some("7")
        );
        let e =
            event(br#"{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}}"#)
                .expect("event");
        assert!(matches!(e, WatchEvent::Error(s) if s.code == 410));
        assert!(event(b"{not json").is_err());
        let l = list_payload(
            br#"{"metadata":{"resourceVersion":"3","continue":"x"},"items":[{"a":1},{"b":2}]}"#,
        )
        .expect("list");
        assert_eq!(l.items.len(), 2);
        assert_eq!(l.metadata.continue_token, "x");
    }

    #[test]
    fn non_status_errors_get_a_status() {
        let s = status_of(StatusCode::BAD_GATEWAY, b"upstream down");
        assert_eq!(
            (s.code, s.reason.as_str(), s.message.as_str()),
            (502, "BadGateway", "upstream down")
        );
    }
}
