//! Where the API is: the in-process double (default) or a real cluster (`E2E_KUBECONFIG`).

use std::path::{Path, PathBuf};

use ecs_bridge_testbed::{SimCluster, TestApiServer};

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
        let cluster = SimCluster::start_with_two_zonal_nodes(&server.api);
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
