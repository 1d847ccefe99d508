//! The API server suite over the in-process `LocalClient`.

mod transport {
    use std::sync::Arc;

    use keelson::apiserver::ApiServer;
    use keelson::client::{Client, LocalClient};

    /// The client the suite talks through.
    pub async fn client(server: &ApiServer) -> Arc<dyn Client> {
        Arc::new(LocalClient::new(server))
    }
}

mod crd_schema;
mod suite;
