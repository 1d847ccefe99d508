//! The in-process client: calls straight into an [`ApiServer`], passing
//! shared objects without encoding them.

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;

use crate::api::meta::{DeleteOptions, ListMeta};
use crate::api::{Str, WatchEvent};
use crate::apiserver::{ApiServer, Deleted, ListOptions, Target, UserInfo, WriteOptions};

use super::{Body, Client, DeletePayload, ListPayload, PatchType, Payload, PayloadStream, Result};

/// A [`Client`] for an [`ApiServer`] in the same process.
///
/// Requests run as a user (the all-powerful `system:admin` unless
/// [`LocalClient::as_user`] says otherwise), through the same admission,
/// validation and storage path as HTTP requests; responses are the server's
/// shared objects, so a read costs a reference count, not a decode.
///
/// ```
/// # tokio_test::block_on(async {
/// use keelson::apiserver::{ApiServer, Target};
/// use keelson::client::{Client, LocalClient, Payload};
///
/// let server = ApiServer::in_memory().await.unwrap();
/// let client = LocalClient::new(&server);
/// let default = Target::new("", "v1", "namespaces").name("default");
/// let Payload::Object(ns) = client.get(&default, "").await.unwrap() else { unreachable!() };
/// assert_eq!(ns.meta().name, "default");
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct LocalClient {
    server: ApiServer,
    user: UserInfo,
}

impl LocalClient {
    /// A client acting as `system:admin`.
    pub fn new(server: &ApiServer) -> Self {
        LocalClient {
            server: server.clone(),
            user: UserInfo::admin(),
        }
    }

    /// The same client acting as `user` (admission and, once configured,
    /// authorization see this user).
    pub fn as_user(&self, user: UserInfo) -> Self {
        LocalClient {
            server: self.server.clone(),
            user,
        }
    }

    /// The server this client talks to.
    pub fn server(&self) -> &ApiServer {
        &self.server
    }

    fn body(
        &self,
        target: &Target,
        body: Body,
        opts: &WriteOptions,
    ) -> Result<(Box<dyn crate::api::scheme::AnyObject>, Vec<String>)> {
        match body {
            Body::Object(o) => Ok((o, Vec::new())),
            Body::Json(bytes) => {
                Ok(self
                    .server
                    .decode_body(target, &bytes, opts.field_validation)?)
            }
        }
    }
}

fn list_payload(list: crate::apiserver::ListResponse) -> ListPayload {
    ListPayload {
        metadata: ListMeta {
            resource_version: Str::from(list.resource_version),
            continue_token: list.continue_token.map(Str::from).unwrap_or_default(),
            remaining_item_count: list.remaining,
            ..Default::default()
        },
        items: list.items.into_iter().map(Payload::Object).collect(),
    }
}

#[async_trait]
impl Client for LocalClient {
    async fn create(&self, target: &Target, body: Body, opts: &WriteOptions) -> Result<Payload> {
        let (obj, _warnings) = self.body(target, body, opts)?;
        let written = self.server.create_as(target, obj, opts, &self.user).await?;
        Ok(Payload::Object(written.object))
    }

    async fn get(&self, target: &Target, resource_version: &str) -> Result<Payload> {
        Ok(Payload::Object(
            self.server.get_with(target, resource_version).await?,
        ))
    }

    async fn list(&self, target: &Target, opts: &ListOptions) -> Result<ListPayload> {
        Ok(list_payload(self.server.list(target, opts).await?))
    }

    async fn watch(&self, target: &Target, opts: &ListOptions) -> Result<PayloadStream> {
        let stream = self.server.watch(target, opts).await?;
        Ok(Box::pin(stream.map(|event| {
            Ok(match event {
                WatchEvent::Added(o) => WatchEvent::Added(Payload::Object(o)),
                WatchEvent::Modified(o) => WatchEvent::Modified(Payload::Object(o)),
                WatchEvent::Deleted(o) => WatchEvent::Deleted(Payload::Object(o)),
                WatchEvent::Bookmark(o) => WatchEvent::Bookmark(Payload::Object(o)),
                WatchEvent::Error(s) => WatchEvent::Error(s),
            })
        })))
    }

    async fn update(&self, target: &Target, body: Body, opts: &WriteOptions) -> Result<Payload> {
        let (obj, _warnings) = self.body(target, body, opts)?;
        let written = self.server.update_as(target, obj, opts, &self.user).await?;
        Ok(Payload::Object(written.object))
    }

    async fn patch(
        &self,
        target: &Target,
        patch_type: PatchType,
        patch: Bytes,
        opts: &WriteOptions,
    ) -> Result<Payload> {
        let written = self
            .server
            .patch_as(target, patch_type, &patch, opts, &self.user)
            .await?;
        Ok(Payload::Object(written.object))
    }

    async fn delete(&self, target: &Target, opts: &DeleteOptions) -> Result<DeletePayload> {
        Ok(
            match self.server.delete_as(target, opts, &self.user).await? {
                Deleted::Gone(o) => DeletePayload::Gone(Some(Payload::Object(o))),
                Deleted::Pending(o) => DeletePayload::Pending(Payload::Object(o)),
            },
        )
    }

    async fn delete_collection(
        &self,
        target: &Target,
        list: &ListOptions,
        opts: &DeleteOptions,
    ) -> Result<ListPayload> {
        let deleted = self.server.delete_collection(target, list, opts).await?;
        Ok(ListPayload {
            metadata: ListMeta {
                resource_version: Str::from(self.server.revision().to_string()),
                ..Default::default()
            },
            items: deleted
                .into_iter()
                .map(|d| match d {
                    Deleted::Gone(o) | Deleted::Pending(o) => Payload::Object(o),
                })
                .collect(),
        })
    }
}
