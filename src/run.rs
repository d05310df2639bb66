//! `ecs-bridge run`: serves `/healthz`, `/readyz` and `/metrics`, waits for the leader lease,
//! runs the controllers while it holds it, and on SIGTERM or SIGINT stops them gracefully and
//! releases the lease (see [`crate::runtime`]).

use std::{future::Future, net::SocketAddr, sync::Arc};

use futures::{
    FutureExt,
    future::{BoxFuture, join_all},
};
use kube::Client;

use crate::{
    controller::{self, Context},
    runtime::{ErrorChain, LeaderConfig, Metrics, Readiness, Shutdown, leader::Elector, readiness},
};

/// Why `ecs-bridge run` stopped with an error (a reconcile's errors are retried, never returned).
#[derive(thiserror::Error, Debug)]
pub enum Error {
    /// A signal handler (SIGTERM, SIGINT) could not be installed.
    #[error("installing the {signal} handler failed")]
    Signal {
        /// The signal, e.g. `SIGTERM`.
        signal: &'static str,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server (`/healthz`, `/readyz`, `/metrics`) could not listen on its address.
    #[error("listening on {address} for /healthz, /readyz and /metrics failed")]
    Http {
        /// The address of `--metrics-address`.
        address: std::net::SocketAddr,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// This replica lost the leader lease (not renewed in time, or taken): the controllers
    /// stopped, and the process exits so that it restarts as a candidate.
    #[error("lost the leader lease {namespace}/{name}")]
    LeaseLost {
        /// Namespace of the Lease.
        namespace: String,
        /// Name of the Lease.
        name: String,
    },
}

/// Configuration of `ecs-bridge run`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunConfig {
    /// Namespaces (ECS clusters) to watch; empty means every namespace.
    pub namespaces: Vec<String>,
    /// How the controllers run: resync, concurrency, revision retention, installation options.
    pub controllers: controller::Config,
    /// The Lease to hold before running the controllers; `None`: run them at once (a single
    /// replica). Default: `None` (the CLI's default is to elect).
    pub leader_election: Option<LeaderConfig>,
    /// Where to serve `/healthz`, `/readyz` and `/metrics`; `None`: nowhere. Default: `None`
    /// (the CLI's default is `0.0.0.0:8080`).
    pub metrics_address: Option<SocketAddr>,
}

impl RunConfig {
    /// The namespaces to watch, sorted and without duplicates or empty names; `None` for all.
    #[must_use]
    pub fn watched_namespaces(&self) -> Option<Vec<String>> {
        let mut namespaces: Vec<String> = self
            .namespaces
            .iter()
            .map(|ns| ns.trim().to_owned())
            .filter(|ns| !ns.is_empty())
            .collect();
        namespaces.sort();
        namespaces.dedup();
        (!namespaces.is_empty()).then_some(namespaces)
    }
}

/// Runs the operator until SIGTERM or SIGINT.
///
/// The first signal stops the watches and waits for the reconciles in flight; a second signal
/// returns at once.
///
/// # Errors
///
/// [`Error::Signal`] when the signal handlers cannot be installed. Errors of single reconciles
/// and of the watches are logged and retried, never returned.
pub async fn run(config: RunConfig, client: Client) -> Result<(), Error> {
    let mut signals = Signals::install()?;
    let config = with_server_version(config, &client).await;
    let (stop, stopped) = futures::channel::oneshot::channel::<()>();
    let controllers = run_until(config, client, stopped.map(|_| ()));
    tokio::pin!(controllers);
    tokio::select! {
        result = &mut controllers => return result,
        signal = signals.recv() => {
            tracing::info!(signal, "shutting down gracefully; send the signal again to force");
            // The receiver lives in `controllers`, which has not finished.
            let _ = stop.send(());
        }
    }
    tokio::select! {
        result = controllers => {
            tracing::info!("controllers stopped");
            result
        }
        signal = signals.recv() => {
            tracing::warn!(signal, "forced shutdown: reconciles in flight are abandoned");
            Ok(())
        }
    }
}

/// `config` translating for the Kubernetes version of `client`'s API server, unless one was given
/// (`--kubernetes-version`); when the server cannot say, for the oldest supported (logged).
pub async fn with_server_version(mut config: RunConfig, client: &Client) -> RunConfig {
    let options = &mut config.controllers.options;
    if let Some(given) = options.kubernetes_version {
        tracing::info!(kubernetes = %given, "translating for the Kubernetes version given");
        return config;
    }
    let detected = match client.apiserver_version().await {
        Ok(info) => {
            crate::translate::kubernetes_version::KubernetesVersion::from_server(&info.major, &info.minor)
        }
        Err(e) => Err(e.to_string()),
    };
    match detected {
        Ok(version) => {
            tracing::info!(kubernetes = %version, "translating for the API server's Kubernetes version");
            options.kubernetes_version = Some(version);
        }
        Err(e) => tracing::warn!(
            error = %e,
            kubernetes = %options.kubernetes(),
            "the API server's version is unknown: translating for the oldest supported"
        ),
    }
    config
}

/// Runs the operator with `client` until `shutdown` resolves and the reconciles in flight have
/// finished. [`run`] is this with SIGTERM/SIGINT as `shutdown`; tests and embedders pass their
/// own trigger.
///
/// With [`RunConfig::metrics_address`], serves the HTTP endpoints first. With
/// [`RunConfig::leader_election`], waits for the lease (returning when `shutdown` comes first),
/// runs the controllers while holding it and releases it once they have stopped.
///
/// # Errors
///
/// [`Error::Http`] when the address cannot be bound; [`Error::LeaseLost`] when the lease was
/// lost (the controllers have stopped gracefully by then).
pub async fn run_until(
    config: RunConfig,
    client: Client,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let shutdown: Shutdown = shutdown.boxed().shared();
    let metrics = Arc::new(Metrics::new());
    let readiness = Readiness::default();
    // (Dropped on return: the server and the CRD check stop with the controllers.)
    let _endpoints = match config.metrics_address {
        Some(address) => Some(serve(address, &client, &metrics, &readiness).await?),
        None => None,
    };
    let Some(leader) = config.leader_election.clone() else {
        metrics.set_leader(true);
        run_controllers(config, client, metrics, &readiness, shutdown).await;
        return Ok(());
    };
    let mut elector = Elector::new(client.clone(), leader.clone());
    tracing::info!(
        lease = %leader.lease_name,
        namespace = %leader.lease_namespace,
        identity = %leader.identity,
        "waiting for the leader lease"
    );
    if !elector.acquire(shutdown.clone()).await {
        tracing::info!("stopped before acquiring the leader lease");
        return Ok(());
    }
    metrics.set_leader(true);
    // Renew while the controllers run (and while they finish after a shutdown); `lost` fires
    // when renewing fails, which stops them.
    let (lost, lost_rx) = futures::channel::oneshot::channel::<()>();
    let (stop_renewing, stop_renewing_rx) = futures::channel::oneshot::channel::<()>();
    let renewing = tokio::spawn(async move {
        let was_lost = tokio::select! {
            () = elector.hold() => true,
            _ = stop_renewing_rx => false,
        };
        if was_lost {
            let _ = lost.send(());
        }
        (elector, was_lost)
    });
    let stop = futures::future::select(shutdown, lost_rx).map(|_| ());
    run_controllers(
        config,
        client,
        Arc::clone(&metrics),
        &readiness,
        stop.boxed().shared(),
    )
    .await;
    let _ = stop_renewing.send(());
    metrics.set_leader(false);
    let Ok((mut elector, lost)) = renewing.await else {
        // (The renewal task panicked: the lease expires on its own.)
        return Ok(());
    };
    if lost {
        return Err(Error::LeaseLost {
            namespace: leader.lease_namespace,
            name: leader.lease_name,
        });
    }
    if let Err(e) = elector.release().await {
        tracing::warn!(error = %ErrorChain(&e), "releasing the leader lease failed; it expires on its own");
    }
    Ok(())
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Serves the HTTP endpoints on `address` and starts the CRD check of readiness.
async fn serve(
    address: SocketAddr,
    client: &Client,
    metrics: &Arc<Metrics>,
    readiness: &Readiness,
) -> Result<AbortOnDrop, Error> {
    let listener = crate::runtime::http::bind(address)
        .await
        .map_err(|source| Error::Http { address, source })?;
    let local = listener.local_addr().unwrap_or(address);
    tracing::info!(address = %local, "serving /healthz, /readyz and /metrics");
    let endpoints = crate::runtime::http::Endpoints {
        readiness: readiness.clone(),
        metrics: Arc::clone(metrics),
    };
    let server = tokio::spawn(async move {
        if let Err(e) = crate::runtime::http::serve(listener, endpoints).await {
            tracing::error!(error = %e, "the HTTP server stopped");
        }
    });
    let crds = tokio::spawn(readiness::wait_for_crds(client.clone(), readiness.clone()));
    Ok(AbortOnDrop(vec![server, crds]))
}

/// Runs every controller in every watched scope until `shutdown` resolves and the reconciles in
/// flight have finished; each must sync before `readiness` is ready.
async fn run_controllers(
    config: RunConfig,
    client: Client,
    metrics: Arc<Metrics>,
    readiness: &Readiness,
    shutdown: Shutdown,
) {
    let namespaces = config.watched_namespaces();
    let ctx = Arc::new(Context::new(client.clone(), config.controllers).with_metrics(metrics));
    ctx.served.watches.enable(namespaces.clone().unwrap_or_default());

    // One scope per watched namespace (`None`: all namespaces); every controller runs in each.
    let scopes: Vec<Option<String>> = match namespaces {
        None => {
            tracing::info!("watching all namespaces");
            vec![None]
        }
        Some(namespaces) => {
            tracing::info!(?namespaces, "watching namespaces");
            namespaces.into_iter().map(Some).collect()
        }
    };
    let mut controllers: Vec<BoxFuture<'static, ()>> = Vec::new();
    // CapacityProviders, cluster-scoped: one controller, with the tasks of every scope.
    let synced = readiness.controller(controller::capacity_provider::CONTROLLER);
    controllers.push(
        controller::capacity_provider::watch::run(scopes.clone(), Arc::clone(&ctx), synced, shutdown.clone())
            .boxed(),
    );
    for scope in scopes {
        let synced = readiness.controller(controller::scheduled_task::CONTROLLER);
        controllers.push(
            controller::scheduled_task::watch::run(scope.clone(), Arc::clone(&ctx), synced, shutdown.clone())
                .boxed(),
        );
        let synced = readiness.controller(controller::task_definition::CONTROLLER);
        controllers.push(
            controller::task_definition::watch::run(
                scope.clone(),
                Arc::clone(&ctx),
                synced,
                shutdown.clone(),
            )
            .boxed(),
        );
        let synced = readiness.controller(controller::task::CONTROLLER);
        controllers.push(
            controller::task::watch::run(scope.clone(), Arc::clone(&ctx), synced, shutdown.clone()).boxed(),
        );
        let synced = readiness.controller(controller::service::CONTROLLER);
        controllers
            .push(controller::service::watch::run(scope, Arc::clone(&ctx), synced, shutdown.clone()).boxed());
    }
    join_all(controllers).await;
    readiness.standby();
}

/// SIGTERM and SIGINT handlers, installed up front so that no signal is missed after start-up.
struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    fn install() -> Result<Self, Error> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            terminate: signal(SignalKind::terminate()).map_err(|source| Error::Signal {
                signal: "SIGTERM",
                source,
            })?,
            interrupt: signal(SignalKind::interrupt()).map_err(|source| Error::Signal {
                signal: "SIGINT",
                source,
            })?,
        })
    }

    #[cfg(not(unix))]
    fn install() -> Result<Self, Error> {
        Ok(Self {})
    }

    /// Waits for the next signal and returns its name.
    #[cfg(unix)]
    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }

    /// Waits for the next Ctrl+C.
    #[cfg(not(unix))]
    async fn recv(&mut self) -> &'static str {
        // Without a handler there is no way to stop: keep waiting.
        match tokio::signal::ctrl_c().await {
            Ok(()) => "ctrl-c",
            Err(_) => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod leader_tests;

#[cfg(test)]
mod tests {
    use std::{collections::BTreeSet, time::Duration};

    use http::Method;

    use super::*;
    use crate::controller::testing;

    #[test]
    fn empty_namespace_list_means_all() {
        assert_eq!(RunConfig::default().watched_namespaces(), None);
        let blank = RunConfig {
            namespaces: vec![String::new(), " ".into()],
            ..RunConfig::default()
        };
        assert_eq!(blank.watched_namespaces(), None);
        let some = RunConfig {
            namespaces: vec!["b".into(), "a".into(), "b".into()],
            ..RunConfig::default()
        };
        assert_eq!(
            some.watched_namespaces(),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
    }

    /// Starts `run_until`, collects the paths of the first `n` requests (the watches' initial
    /// LISTs, never answered), then triggers shutdown and checks that `run_until` returns.
    async fn first_request_paths(config: RunConfig, n: usize) -> BTreeSet<String> {
        let (client, mut server) = testing::client();
        let (stop, stopped) = futures::channel::oneshot::channel::<()>();
        let running = tokio::spawn(run_until(config, client, stopped.map(|_| ())));
        let mut paths = BTreeSet::new();
        let mut pending = Vec::new();
        for _ in 0..n {
            let (request, reply) = tokio::time::timeout(Duration::from_secs(5), server.next_request())
                .await
                .expect("a request in time")
                .expect("a request");
            assert_eq!(request.method(), Method::GET);
            paths.insert(request.uri().path().to_owned());
            pending.push(reply);
        }
        stop.send(()).expect("run_until is still running");
        tokio::time::timeout(Duration::from_secs(5), running)
            .await
            .expect("run_until stops after shutdown")
            .expect("no panic")
            .expect("run_until succeeds");
        paths
    }

    /// The paths of the initial LISTs of every controller in `namespace` (`None`: all).
    fn list_paths(namespace: Option<&str>) -> BTreeSet<String> {
        let ns = namespace
            .map(|ns| format!("namespaces/{ns}/"))
            .unwrap_or_default();
        BTreeSet::from([
            format!("/apis/ecsbridge.io/v1alpha1/{ns}taskdefinitions"),
            format!("/apis/ecsbridge.io/v1alpha1/{ns}services"),
            format!("/apis/apps/v1/{ns}deployments"),
            format!("/apis/apps/v1/{ns}daemonsets"),
            format!("/apis/apps/v1/{ns}replicasets"),
            // (The registered revisions Services run.)
            format!("/apis/apps/v1/{ns}controllerrevisions"),
            format!("/api/v1/{ns}pods"),
            // (The Kubernetes Services of load balancers, registries and Service Connect.)
            format!("/api/v1/{ns}services"),
            // (The HPAs of auto scaling.)
            format!("/apis/autoscaling/v2/{ns}horizontalpodautoscalers"),
            // (Cluster-scoped: the Service controller of each namespace watches the nodes and
            // the CapacityProviders, and its namespace, whose annotations are the ECS cluster's.)
            "/api/v1/nodes".to_owned(),
            "/apis/ecsbridge.io/v1alpha1/capacityproviders".to_owned(),
            "/api/v1/namespaces".to_owned(),
            // The TaskDefinitions' dependents: ServiceAccounts, claims and (cluster-scoped) EFS
            // PersistentVolumes.
            format!("/api/v1/{ns}serviceaccounts"),
            format!("/api/v1/{ns}persistentvolumeclaims"),
            "/api/v1/persistentvolumes".to_owned(),
            // The Tasks (their pods and TaskDefinitions are listed again by their controller), and
            // the ScheduledTasks, with their firings' Tasks, their CronJobs and those CronJobs'
            // Jobs (each a firing's token).
            format!("/apis/ecsbridge.io/v1alpha1/{ns}tasks"),
            format!("/apis/ecsbridge.io/v1alpha1/{ns}scheduledtasks"),
            format!("/apis/batch/v1/{ns}cronjobs"),
            format!("/apis/batch/v1/{ns}jobs"),
        ])
    }

    /// CapacityProviders (cluster-scoped, one controller): listed once, whatever the number of
    /// namespaces.
    const CAPACITY_PROVIDERS: &str = "/apis/ecsbridge.io/v1alpha1/capacityproviders";
    /// The CapacityProvider controller's LISTs: providers, nodes and placeholder Deployments
    /// once, pods and Services once per namespace (here the first).
    const CAPACITY_PROVIDER_LISTS: usize = 5;
    /// The placeholder Deployments (managed scaling's headroom), in the operator's namespace.
    const HEADROOM_DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/ecs-bridge-system/deployments";

    /// Initial LISTs per watched namespace: TaskDefinitions, ServiceAccounts, claims and
    /// PersistentVolumes (TaskDefinition controller), then Services, Deployments, DaemonSets,
    /// ReplicaSets, Pods, Kubernetes Services, HPAs, TaskDefinitions, ControllerRevisions, Nodes,
    /// CapacityProviders and Namespaces (Service controller), Tasks, their pods and
    /// TaskDefinitions (Task controller), then ScheduledTasks, their Tasks, CronJobs and Jobs
    /// (ScheduledTask controller).
    const LISTS_PER_NAMESPACE: usize = 23;

    #[tokio::test]
    async fn watches_every_namespace_by_default() {
        let paths = first_request_paths(
            RunConfig::default(),
            LISTS_PER_NAMESPACE + CAPACITY_PROVIDER_LISTS,
        )
        .await;
        let mut expected = list_paths(None);
        expected.insert(CAPACITY_PROVIDERS.to_owned());
        expected.insert(HEADROOM_DEPLOYMENTS.to_owned());
        assert_eq!(paths, expected);
    }

    #[tokio::test]
    async fn watches_each_configured_namespace() {
        let config = RunConfig {
            namespaces: vec!["team-b".into(), "team-a".into()],
            ..RunConfig::default()
        };
        let paths = first_request_paths(config, 2 * LISTS_PER_NAMESPACE + CAPACITY_PROVIDER_LISTS + 2).await;
        let mut expected = list_paths(Some("team-a"));
        expected.extend(list_paths(Some("team-b")));
        expected.insert(CAPACITY_PROVIDERS.to_owned());
        expected.insert(HEADROOM_DEPLOYMENTS.to_owned());
        assert_eq!(paths, expected);
    }

    /// The next request that is not a watch (watches are left unanswered, as if nothing changed).
    async fn next_non_watch(
        server: &mut testing::Handle,
        watches: &mut Vec<tower_test::mock::SendResponse<http::Response<kube::client::Body>>>,
    ) -> (
        http::Request<kube::client::Body>,
        tower_test::mock::SendResponse<http::Response<kube::client::Body>>,
    ) {
        loop {
            let (request, reply) = tokio::time::timeout(Duration::from_secs(5), server.next_request())
                .await
                .expect("a request in time")
                .expect("a request");
            if testing::query(request.uri()).get("watch").map(String::as_str) == Some("true") {
                watches.push(reply);
            } else {
                return (request, reply);
            }
        }
    }

    #[tokio::test]
    async fn reconciles_listed_objects_and_waits_for_them_on_shutdown() {
        let (client, mut server) = testing::client();
        let (stop, stopped) = futures::channel::oneshot::channel::<()>();
        let config = RunConfig {
            namespaces: vec!["team-a".into()],
            ..RunConfig::default()
        };
        let mut running = tokio::spawn(run_until(config, client, stopped.map(|_| ())));
        let mut watches = Vec::new();

        // The initial LISTs of TaskDefinitions return one without status; every other LIST is
        // empty. The TaskDefinition controller reconciles it: it registers revision 1 (the
        // family's mark in a new ConfigMap, and a POST of a ControllerRevision), then applies
        // the status.
        let td = testing::task_definition("team-a", "web", 3);
        let (request, reply) = loop {
            let (request, reply) = next_non_watch(&mut server, &mut watches).await;
            if request
                .uri()
                .path()
                .ends_with("/configmaps/ecsbridge-task-definition-families")
            {
                // (The families' high-water marks: none yet.)
                reply.send_response(testing::json_response(
                    http::StatusCode::NOT_FOUND,
                    &serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                        "reason": "NotFound", "code": 404}),
                ));
                continue;
            }
            if request.method() == Method::POST {
                assert!(
                    request.uri().path().ends_with("/controllerrevisions")
                        || request.uri().path().ends_with("/configmaps"),
                    "{}",
                    request.uri()
                );
                let body = request.into_body().collect_bytes().await.expect("a body");
                let created: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
                reply.send_response(testing::json_response(http::StatusCode::CREATED, &created));
                continue;
            }
            if request.method() != Method::GET {
                break (request, reply);
            }
            let path = request.uri().path();
            if path == "/api/v1/nodes"
                || path == "/api/v1/namespaces/team-a/pods"
                || path == "/api/v1/persistentvolumes"
                || path == "/api/v1/namespaces"
            {
                // (The Service controller's node, pod and namespace watches, and the
                // TaskDefinition controller's PersistentVolumes: none.)
                let kind = if path.ends_with("nodes") {
                    "NodeList"
                } else if path.ends_with("/namespaces") {
                    "NamespaceList"
                } else if path.ends_with("persistentvolumes") {
                    "PersistentVolumeList"
                } else {
                    "PodList"
                };
                reply.send_response(testing::json_response(
                    http::StatusCode::OK,
                    &testing::list_body("v1", kind, Vec::new()),
                ));
                continue;
            }
            if let Some(kind) = [
                (
                    "/apis/ecsbridge.io/v1alpha1/capacityproviders",
                    "CapacityProviderList",
                ),
                ("/apis/ecsbridge.io/v1alpha1/namespaces/team-a/tasks", "TaskList"),
                (
                    "/apis/ecsbridge.io/v1alpha1/namespaces/team-a/scheduledtasks",
                    "ScheduledTaskList",
                ),
            ]
            .iter()
            .find_map(|(p, kind)| (path == *p).then_some(*kind))
            {
                reply.send_response(testing::json_response(
                    http::StatusCode::OK,
                    &testing::list_body("ecsbridge.io/v1alpha1", kind, Vec::new()),
                ));
                continue;
            }
            let (api_version, kind, items) = match path.rsplit('/').next() {
                Some("taskdefinitions") => ("ecsbridge.io/v1alpha1", "TaskDefinitionList", vec![&td]),
                Some("services") if path.starts_with("/api/v1/") => ("v1", "ServiceList", vec![]),
                Some("services") => ("ecsbridge.io/v1alpha1", "ServiceList", vec![]),
                Some("deployments") => ("apps/v1", "DeploymentList", vec![]),
                Some("daemonsets") => ("apps/v1", "DaemonSetList", vec![]),
                Some("replicasets") => ("apps/v1", "ReplicaSetList", vec![]),
                Some("controllerrevisions") => ("apps/v1", "ControllerRevisionList", vec![]),
                Some("horizontalpodautoscalers") => ("autoscaling/v2", "HorizontalPodAutoscalerList", vec![]),
                Some("serviceaccounts") => ("v1", "ServiceAccountList", vec![]),
                Some("persistentvolumeclaims") => ("v1", "PersistentVolumeClaimList", vec![]),
                Some("cronjobs") => ("batch/v1", "CronJobList", vec![]),
                Some("jobs") => ("batch/v1", "JobList", vec![]),
                _ => panic!("unexpected GET {path}"),
            };
            assert!(
                (path.starts_with("/apis/") || path.starts_with("/api/v1/"))
                    && (path.contains("/namespaces/team-a/") || path == HEADROOM_DEPLOYMENTS),
                "{path}"
            );
            let list = serde_json::json!({
                "apiVersion": api_version,
                "kind": kind,
                "metadata": { "resourceVersion": "10" },
                "items": items,
            });
            reply.send_response(testing::json_response(http::StatusCode::OK, &list));
        };
        assert_eq!(request.method(), Method::PATCH);
        assert_eq!(
            request.uri().path(),
            "/apis/ecsbridge.io/v1alpha1/namespaces/team-a/taskdefinitions/web/status"
        );

        // Shutdown while that reconcile is in flight: run_until waits for it...
        stop.send(()).expect("run_until is still running");
        assert!(
            tokio::time::timeout(Duration::from_millis(300), &mut running)
                .await
                .is_err(),
            "run_until must wait for the reconcile in flight"
        );
        // ...and returns once it has finished.
        let body = request.into_body().collect_bytes().await.expect("a body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(body["status"]["observedGeneration"], 3);
        let mut patched = serde_json::to_value(&td).expect("JSON");
        patched["status"] = body["status"].clone();
        reply.send_response(testing::json_response(http::StatusCode::OK, &patched));
        tokio::time::timeout(Duration::from_secs(5), running)
            .await
            .expect("run_until stops after the reconcile")
            .expect("no panic")
            .expect("run_until succeeds");
    }

    #[tokio::test]
    async fn the_api_servers_version_is_translated_for_unless_one_is_given() {
        use crate::translate::kubernetes_version::KubernetesVersion;
        let (client, mut server) = testing::client();
        let answer = tokio::spawn(async move {
            let (request, reply) = testing::next(&mut server).await;
            assert_eq!(request.uri().path(), "/version");
            testing::ok(
                reply,
                &serde_json::json!({"major": "1", "minor": "34+", "gitVersion": "v1.34.2-eks-1",
                    "gitCommit": "", "gitTreeState": "", "buildDate": "", "goVersion": "",
                    "compiler": "", "platform": "linux/amd64"}),
            );
            server
        });
        let config = with_server_version(RunConfig::default(), &client).await;
        assert_eq!(
            config.controllers.options.kubernetes_version,
            Some(KubernetesVersion { minor: 34 })
        );
        let server = answer.await.expect("served");
        // Given: no request.
        let mut given = RunConfig::default();
        given.controllers.options.kubernetes_version = Some(KubernetesVersion { minor: 31 });
        let config = with_server_version(given, &client).await;
        assert_eq!(
            config.controllers.options.kubernetes_version,
            Some(KubernetesVersion { minor: 31 })
        );
        testing::assert_no_more_requests(server).await;
    }

    #[tokio::test]
    async fn shutdown_before_start_returns() {
        let (client, _server) = testing::client();
        tokio::time::timeout(
            Duration::from_secs(5),
            run_until(RunConfig::default(), client, async {}),
        )
        .await
        .expect("run_until returns")
        .expect("run_until succeeds");
    }
}
