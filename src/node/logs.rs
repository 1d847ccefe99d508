//! The agent's side of `pods/{name}/log`: find the container, read its
//! logs from the runtime.
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;

use super::NodeAgent;
use crate::api::Str;
use crate::apiserver::{ApiServer, Error, PodLogOptions, PodLogStream, PodLogs};
use crate::runtime::LogOptions;

pub(crate) fn register(server: &ApiServer, node: &str, agent: Arc<NodeAgent>) {
    server.register_pod_logs(node, agent);
}

#[async_trait]
impl PodLogs for NodeAgent {
    async fn logs(
        &self,
        namespace: &str,
        pod: &str,
        options: &PodLogOptions,
    ) -> Result<PodLogStream, Error> {
        let container = options.container.clone().unwrap_or_default();
        let entry = self
            .shared
            .pods()
            .get(&(Str::from(namespace), Str::from(pod)))
            .cloned()
            .ok_or_else(|| Error::not_found("", "pods", pod))?;
        let (current, previous) = entry
            .containers()
            .get(&container)
            .cloned()
            .unwrap_or_default();
        let id = if options.previous {
            previous.ok_or_else(|| {
                Error::bad_request(format!(
                    "previous terminated container \"{container}\" in pod \"{pod}\" not found"
                ))
            })?
        } else {
            current.ok_or_else(|| {
                Error::bad_request(format!(
                    "container \"{container}\" in pod \"{pod}\" is waiting to start: ContainerCreating"
                ))
            })?
        };
        let clock = self.shared.clock;
        let runtime_options = LogOptions {
            follow: options.follow,
            tail_lines: options.tail_lines.map(|n| usize::try_from(n).unwrap_or(0)),
            since: options.since_seconds.map(|s| {
                clock.wall(tokio::time::Instant::now())
                    - Duration::from_secs(u64::try_from(s).unwrap_or(0))
            }),
            timestamps: options.timestamps,
            limit_bytes: options.limit_bytes.map(|n| u64::try_from(n).unwrap_or(0)),
        };
        let stream = self
            .shared
            .runtime
            .container_logs(&id, &runtime_options)
            .await
            .map_err(|e| Error::internal(format!("reading logs of {container}: {e}")))?;
        Ok(Box::pin(stream.map(|chunk| {
            chunk.map_err(|e| Error::internal(format!("reading logs: {e}")))
        })))
    }
}
