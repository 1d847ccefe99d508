//! The Kubernetes wire protocol over HTTP (feature `http`), so kubectl,
//! client-go and kube-rs programs work against a keelson [`ApiServer`].
//!
//! [`HttpServer`] answers Kubernetes' REST paths from an [`ApiServer`]:
//!
//! - objects: `/api/v1/...` and `/apis/{group}/{version}/...`, namespaced
//!   (`/namespaces/{ns}/{resource}/{name}`) and cluster-scoped, with the
//!   `status`, `scale`, `binding`, `eviction` and `finalize` subresources;
//!   `GET` (get, list, and `?watch=true` streams of one event per line in
//!   JSON, or per frame in protobuf),
//!   `POST` (create), `PUT` (update), `PATCH` (merge, JSON, strategic merge
//!   and apply patches, by `Content-Type`), `DELETE` (with `DeleteOptions`
//!   in the body or the query) and delete-collection;
//! - query parameters: `labelSelector`, `fieldSelector`, `limit`, `continue`,
//!   `resourceVersion`, `resourceVersionMatch`, `allowWatchBookmarks`,
//!   `sendInitialEvents`, `timeoutSeconds`, `dryRun`, `fieldManager`,
//!   `fieldValidation` (unknown fields come back as `Warning` headers under
//!   `Warn`), `force`, `gracePeriodSeconds`, `propagationPolicy`;
//! - discovery (`/version`, `/api`, `/apis`, `/api/v1`, `/apis/{g}/{v}`,
//!   with verbs, short names and categories; custom resources appear when
//!   their CRD is established) and an `/openapi/v3` index whose documents
//!   declare `fieldValidation`, so kubectl leaves validation to the server;
//! - `Table` responses (`as=Table`) with per-kind columns, which `kubectl get`
//!   prints (`-o wide` adds the priority columns), for get, list and watch;
//! - request bodies in JSON or, as client-go's typed clients send them
//!   (`kubectl create namespace`, `create configmap`, `create secret`, ...),
//!   in Kubernetes' protobuf encoding for the kinds the descriptor table knows;
//! - responses in JSON, or in protobuf for clients whose `Accept` header
//!   puts `application/vnd.kubernetes.protobuf` first (client-go's typed
//!   clients do): objects, lists, and watch streams of length-prefixed
//!   `WatchEvent` frames (`application/vnd.kubernetes.protobuf;stream=watch`).
//!   Kinds the table does not know (custom resources) are answered in JSON,
//!   or refused with 406 when the client takes protobuf only;
//! - `/healthz`, `/livez`, `/readyz` and `/metrics` (Prometheus text).
//!
//! Every failure is a `Status` object with its HTTP code; bodies over 3 MiB
//! get 413. Requests run as the all-powerful `system:admin`: there is no
//! authentication or authorization yet.
//!
//! [`kubeconfig`] writes the file kubectl needs:
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use keelson::apiserver::ApiServer;
//! use keelson::http::{write_kubeconfig, HttpServer};
//!
//! let api = ApiServer::in_memory().await.expect("api server");
//! let serving = HttpServer::new(&api).bind("127.0.0.1:6443".parse().unwrap()).await?;
//! write_kubeconfig("kubeconfig".as_ref(), &serving.url(), "keelson")?;
//! // kubectl --kubeconfig kubeconfig get namespaces
//! # Ok(())
//! # }
//! ```
//!
//! [`ApiServer`]: crate::apiserver::ApiServer

mod client;
mod coalesce;
mod discovery;
mod kubeconfig;
mod protobuf;
mod route;
mod server;
mod table;

pub use self::client::HttpClient;
pub use self::discovery::KUBERNETES_VERSION;
pub use self::kubeconfig::{kubeconfig, write_kubeconfig};
pub use self::server::{HttpServer, Serving, DEFAULT_MAX_BODY_BYTES};
