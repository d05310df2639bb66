//! Where the API is: the in-process double (default) or a real cluster (`E2E_KUBECONFIG`).

use std::path::{Path, PathBuf};

use ecs_bridge_testbed::{PodOutcome, SimCluster, TestApiServer};

/// The backend of one test.
pub enum Backend {
    /// The API server double with a simulated cluster whose kubelet makes every pod Ready.
    Double {
        /// The server.
        server: TestApiServer,
        /// The simulated cluster.
        cluster: SimCluster,
    },
    /// A real cluster.
    Real {
        /// Its kubeconfig.
        kubeconfig: PathBuf,
    },
}

impl Backend {
    /// The double, unless `E2E_KUBECONFIG` names a real cluster's kubeconfig.
    pub async fn start() -> Backend {
        if let Some(path) = std::env::var_os("E2E_KUBECONFIG") {
            return Backend::Real {
                kubeconfig: PathBuf::from(path),
            };
        }
        let server = TestApiServer::start().await;
        let cluster = SimCluster::start(&server.api);
        for (name, zone) in [("node-a", "us-east-1a"), ("node-b", "us-east-1b")] {
            let labels = serde_json::json!({
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "topology.kubernetes.io/zone": zone,
            });
            cluster
                .add_node(name, &labels, "4", "16Gi", &serde_json::json!([]))
                .expect("add node");
        }
        cluster.kubelet(PodOutcome::Running { ready: true });
        Backend::Double { server, cluster }
    }

    /// The kubeconfig to use.
    pub fn kubeconfig(&self) -> &Path {
        match self {
            Backend::Double { server, .. } => server.kubeconfig(),
            Backend::Real { kubeconfig } => kubeconfig,
        }
    }

    /// Whether this is a real cluster.
    pub fn is_real(&self) -> bool {
        matches!(self, Backend::Real { .. })
    }

    /// The double, for tests that inject faults (None on a real cluster).
    pub fn double(&self) -> Option<(&TestApiServer, &SimCluster)> {
        match self {
            Backend::Double { server, cluster } => Some((server, cluster)),
            Backend::Real { .. } => None,
        }
    }
}
