//! The API server suite over HTTP: `HttpClient` talking to an `HttpServer`
//! on loopback, so every semantic the in-process suite checks also holds on
//! the wire.

mod transport {
    use std::sync::Arc;

    use keelson::apiserver::ApiServer;
    use keelson::client::Client;
    use keelson::http::{HttpClient, HttpServer};

    /// Serves `server` on a loopback port and returns a client for it. The
    /// server runs until the test's runtime ends.
    pub async fn client(server: &ApiServer) -> Arc<dyn Client> {
        let serving = HttpServer::new(server)
            .bind("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("bind");
        let client = HttpClient::new(&serving.url()).expect("client");
        std::mem::forget(serving);
        Arc::new(client)
    }
}

#[path = "../apiserver/suite.rs"]
mod suite;
