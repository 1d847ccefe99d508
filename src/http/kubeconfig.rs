//! Kubeconfig files pointing kubectl (or any client-go / kube-rs program) at
//! a keelson HTTP server.

use std::path::Path;

/// A kubeconfig with one cluster, one user and one context, all named
/// `name`, for a server at `server_url` (`http://127.0.0.1:6443`). The server
/// has no authentication, so the user has no credentials.
///
/// ```
/// let text = keelson::http::kubeconfig("http://127.0.0.1:6443", "keelson");
/// assert!(text.contains("server: http://127.0.0.1:6443"));
/// assert!(text.contains("current-context: keelson"));
/// ```
pub fn kubeconfig(server_url: &str, name: &str) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: {n}\n  cluster:\n    server: {url}\n\
         users:\n\
         - name: {n}\n  user: {{}}\n\
         contexts:\n\
         - name: {n}\n  context:\n    cluster: {n}\n    user: {n}\n    namespace: default\n\
         current-context: {n}\n\
         preferences: {{}}\n",
        n = q(name).trim_matches('"'),
        url = server_url,
    )
}

/// Writes [`kubeconfig`] to `path`.
pub fn write_kubeconfig(path: &Path, server_url: &str, name: &str) -> std::io::Result<()> {
    std::fs::write(path, kubeconfig(server_url, name))
}
