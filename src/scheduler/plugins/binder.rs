//! DefaultBinder: binds through the `pods/binding` subresource.
use async_trait::async_trait;

use crate::api::core::{Binding, ObjectReference, Pod};
use crate::api::{ObjectMeta, Str};
use crate::client::Api;
use crate::scheduler::framework::{Bind, BindContext, ClusterEvent, CycleState, Plugin, Status};

/// Posts a `Binding` to `pods/<name>/binding`.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultBinder;

impl Plugin for DefaultBinder {
    fn name(&self) -> &'static str {
        super::DEFAULT_BINDER
    }
    fn events(&self) -> &'static [ClusterEvent] {
        &[]
    }
}

#[async_trait]
impl Bind for DefaultBinder {
    async fn bind(&self, cx: &BindContext, _state: &CycleState, pod: &Pod, node: &str) -> Status {
        let api: Api<Pod> = Api::namespaced(cx.client.clone(), &pod.metadata.namespace);
        let mut meta = ObjectMeta::namespaced(&pod.metadata.namespace, &pod.metadata.name);
        meta.uid = pod.metadata.uid.clone();
        let binding = Binding {
            metadata: meta,
            target: ObjectReference {
                kind: Str::from_static("Node"),
                name: Str::from(node),
                ..ObjectReference::default()
            },
        };
        match api
            .create_subresource(&pod.metadata.name, "binding", &binding)
            .await
        {
            Ok(_) => Status::success(),
            Err(e) => Status::error(format!(
                "binding {}/{}: {e}",
                pod.metadata.namespace, pod.metadata.name
            )),
        }
    }
}
