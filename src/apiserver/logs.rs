//! `pods/{name}/log`: the API server hands log requests to the node agent
//! running the pod.
//!
//! Kubernetes' API server proxies `GET .../pods/{name}/log` to the kubelet
//! of the pod's node. Here a node agent registers a [`PodLogs`] provider
//! for its node name ([`ApiServer::register_pod_logs`]); the server checks
//! the request against the pod (it must be bound; a pod with several
//! containers needs `container`) and asks the provider of the pod's node
//! ([`ApiServer::pod_logs`]). The HTTP server streams the result.
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

use super::{ApiServer, Error, Result, Target};
use crate::api::core::Pod;
use crate::api::Str;

/// The options of a log request (`PodLogOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodLogOptions {
    /// The container; may be left out when the pod has one.
    pub container: Option<Str>,
    /// Keep streaming new lines.
    pub follow: bool,
    /// The previous (terminated) instance of the container.
    pub previous: bool,
    /// Only lines of the last this many seconds.
    pub since_seconds: Option<i64>,
    /// Only the last this many lines.
    pub tail_lines: Option<i64>,
    /// Prefix lines with their RFC 3339 timestamp.
    pub timestamps: bool,
    /// At most this many bytes.
    pub limit_bytes: Option<i64>,
}

impl PodLogOptions {
    /// Reads the query parameters of a log request (`container`, `follow`,
    /// `previous`, `sinceSeconds`, `tailLines`, `timestamps`,
    /// `limitBytes`); a malformed number is a `400`.
    ///
    /// ```
    /// use keelson::apiserver::PodLogOptions;
    /// let o = PodLogOptions::from_query([("tailLines", "5"), ("follow", "true")]).unwrap();
    /// assert_eq!((o.tail_lines, o.follow), (Some(5), true));
    /// assert!(PodLogOptions::from_query([("tailLines", "x")]).is_err());
    /// ```
    pub fn from_query<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        let mut o = PodLogOptions::default();
        let number = |k: &str, v: &str| -> Result<i64> {
            v.parse()
                .map_err(|_| Error::bad_request(format!("invalid {k}: {v:?}")))
        };
        for (k, v) in params {
            let flag = v.is_empty() || v == "true" || v == "1";
            match k {
                "container" => o.container = (!v.is_empty()).then(|| Str::from(v)),
                "follow" => o.follow = flag,
                "previous" => o.previous = flag,
                "timestamps" => o.timestamps = flag,
                "sinceSeconds" => o.since_seconds = Some(number(k, v)?),
                "tailLines" => o.tail_lines = Some(number(k, v)?),
                "limitBytes" => o.limit_bytes = Some(number(k, v)?),
                _ => {}
            }
        }
        Ok(o)
    }
}

/// A stream of log bytes.
pub type PodLogStream = BoxStream<'static, std::result::Result<Bytes, Error>>;

/// What serves the logs of the pods of one node (the node agent).
#[async_trait]
pub trait PodLogs: Send + Sync + 'static {
    /// The logs of `container` (always set) of the pod.
    async fn logs(
        &self,
        namespace: &str,
        pod: &str,
        options: &PodLogOptions,
    ) -> Result<PodLogStream>;
}

/// The providers by node name.
#[derive(Default)]
pub(crate) struct Registry(RwLock<HashMap<Str, Arc<dyn PodLogs>>>);

impl ApiServer {
    /// Registers the log provider of node `node` (replacing any).
    pub fn register_pod_logs(&self, node: &str, provider: Arc<dyn PodLogs>) {
        self.inner
            .pod_logs
            .0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(Str::from(node), provider);
    }

    /// Removes the log provider of `node`.
    pub fn unregister_pod_logs(&self, node: &str) {
        self.inner
            .pod_logs
            .0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(node);
    }

    /// The logs of a pod's container, from the provider of its node:
    /// `400` when the pod is not bound, when it has several containers and
    /// none is named, or when the container is not one of the pod's; `404`
    /// when the pod does not exist; `503` when no provider serves its node.
    pub async fn pod_logs(
        &self,
        namespace: &str,
        name: &str,
        options: &PodLogOptions,
    ) -> Result<PodLogStream> {
        let target = Target::new("", "v1", "pods")
            .namespace(namespace)
            .name(name);
        let obj = self.get(&target).await?;
        let pod = obj
            .downcast_ref::<Pod>()
            .ok_or_else(|| Error::internal("a pod that is not a Pod"))?;
        let names: Vec<&str> = pod
            .spec
            .init_containers
            .iter()
            .chain(&pod.spec.containers)
            .map(|c| c.name.as_str())
            .collect();
        let container = match &options.container {
            Some(c) => {
                if !names.contains(&c.as_str()) {
                    return Err(Error::bad_request(format!(
                        "container {c} is not valid for pod {name}"
                    )));
                }
                c.clone()
            }
            None if pod.spec.containers.len() == 1 => pod.spec.containers[0].name.clone(),
            None => {
                let all: Vec<&str> = pod
                    .spec
                    .containers
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect();
                return Err(Error::bad_request(format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    all.join(" ")
                )));
            }
        };
        if pod.spec.node_name.is_empty() {
            return Err(Error::bad_request(format!(
                "pod {name} does not have a host assigned"
            )));
        }
        let provider = self
            .inner
            .pod_logs
            .0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(pod.spec.node_name.as_str())
            .cloned()
            .ok_or_else(|| {
                Error::from(crate::api::Status::unavailable(format!(
                    "no node agent serves node {}",
                    pod.spec.node_name
                )))
            })?;
        let options = PodLogOptions {
            container: Some(container),
            ..options.clone()
        };
        provider.logs(namespace, name, &options).await
    }
}
