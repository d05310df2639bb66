//! Starting the double: an HTTP server on 127.0.0.1 with a generated kubeconfig.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
};

use tokio::{net::TcpListener, sync::oneshot};

use crate::{
    api::ApiServer,
    gc,
    http::{self, Ctx},
};

/// A running API server double.
#[derive(Debug)]
pub struct TestApiServer {
    /// The server's state and operations (for tests that act as the cluster).
    pub api: Arc<ApiServer>,
    addr: SocketAddr,
    kubeconfig: PathBuf,
    stop: Option<oneshot::Sender<()>>,
}

impl TestApiServer {
    /// Starts a server on a free port of 127.0.0.1 and writes its kubeconfig into a fresh
    /// directory under the system temp dir.
    ///
    /// # Panics
    /// When the port cannot be bound or the kubeconfig cannot be written.
    pub async fn start() -> Self {
        let api = ApiServer::new();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let ctx = Arc::new(Ctx::new(api.clone(), addr.to_string()));
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(listener, http::router(ctx)).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "test API server stopped");
            }
        });
        gc::spawn(&api);
        let dir = std::env::temp_dir().join(format!(
            "ecs-bridge-testbed-{}-{}",
            std::process::id(),
            addr.port()
        ));
        std::fs::create_dir_all(&dir).expect("kubeconfig dir");
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_yaml(&format!("http://{addr}"), "default"))
            .expect("write kubeconfig");
        Self {
            api,
            addr,
            kubeconfig,
            stop: Some(stop),
        }
    }

    /// `http://127.0.0.1:<port>`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The kubeconfig file pointing at this server.
    #[must_use]
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }
}

impl Drop for TestApiServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = std::fs::remove_dir_all(self.kubeconfig.parent().unwrap_or(Path::new("/nonexistent")));
    }
}

/// A kubeconfig for `server` with a token user (the double does not authenticate).
#[must_use]
pub fn kubeconfig_yaml(server: &str, namespace: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: testbed\n  cluster:\n    server: {server}\ncontexts:\n- name: \
         testbed\n  context:\n    cluster: testbed\n    user: testbed\n    namespace: {namespace}\ncurrent-context: \
         testbed\nusers:\n- name: testbed\n  user:\n    token: testbed\n"
    )
}
