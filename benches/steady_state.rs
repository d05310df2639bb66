//! Steady state costs nothing: N Services (1,000 by default; `STEADY_STATE_SERVICES`) of one
//! TaskDefinition run on the test bed (the API server double and its simulated cluster), with the
//! operator in-process and a short resync interval. Once every Service is Ready, the bench counts
//! the operator's requests over a window longer than one resync (every Service reconciled again,
//! nothing changed), then over the change of one Service's `desiredCount`. Prints the figures.
//!
//! Run with `cargo bench --bench steady_state` (about two minutes for 1,000 Services).

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use ecs_bridge::{
    api::Service,
    run::{RunConfig, run_until},
};
use ecs_bridge_testbed::{PodOutcome, SimCluster, TestApiServer, faults::RequestRecord};
use kube::{
    Api, Client, Config,
    api::{ListParams, Patch, PatchParams},
    config::{KubeConfigOptions, Kubeconfig},
};
use serde_json::json;

const NAMESPACE: &str = "bench";
const RESYNC: Duration = Duration::from_secs(20);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn kubectl(kubeconfig: &Path, args: &[&str]) {
    let out = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn manifests(services: usize) -> String {
    let mut out = String::from(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench\n---\n\
         apiVersion: ecsbridge.io/v1alpha1\nkind: TaskDefinition\nmetadata:\n  name: web\n  namespace: bench\n\
         spec:\n  containerDefinitions:\n    - name: web\n      image: public.ecr.aws/nginx/nginx:1.27\n      memory: 64\n",
    );
    for i in 0..services {
        out.push_str(&format!(
            "---\napiVersion: ecsbridge.io/v1alpha1\nkind: Service\nmetadata:\n  name: svc-{i}\n  namespace: bench\n\
             spec:\n  taskDefinition: web\n  desiredCount: 1\n"
        ));
    }
    out
}

/// The requests of a window: (writes, Service reconciles, all), and the writes themselves.
fn tally(requests: &[RequestRecord]) -> (usize, usize, usize, Vec<String>) {
    let writes: Vec<String> = requests
        .iter()
        .filter(|r| r.is_write())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    // Each Service reconcile lists the namespace's TaskDefinitions once.
    let reconciles = requests
        .iter()
        .filter(|r| {
            r.method == "GET"
                && r.path == "/apis/ecsbridge.io/v1alpha1/namespaces/bench/taskdefinitions"
                && !r.query.contains("watch=true")
        })
        .count();
    (writes.len(), reconciles, requests.len(), writes)
}

async fn ready_count(api: &Api<Service>) -> usize {
    api.list(&ListParams::default())
        .await
        .map(|l| {
            l.items
                .iter()
                .filter(|s| {
                    s.status.as_ref().is_some_and(|st| {
                        st.conditions
                            .iter()
                            .any(|c| c.type_ == "Ready" && c.status == "True")
                    })
                })
                .count()
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let services: usize = std::env::var("STEADY_STATE_SERVICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let server = TestApiServer::start().await;
    let cluster = SimCluster::start(&server.api);
    for n in 0..10 {
        let labels = json!({"kubernetes.io/hostname": format!("node-{n}"), "kubernetes.io/os": "linux",
                            "topology.kubernetes.io/zone": format!("zone-{}", n % 3)});
        cluster
            .add_node(&format!("node-{n}"), &labels, "512", "4096Gi", &json!([]))
            .expect("a node");
    }
    cluster.kubelet(PodOutcome::Running { ready: true });
    let kubeconfig = server.kubeconfig().to_path_buf();
    kubectl(
        &kubeconfig,
        &[
            "apply",
            "--server-side",
            "-f",
            &repo().join("crds").to_string_lossy(),
        ],
    );
    kubectl(
        &kubeconfig,
        &[
            "wait",
            "--for=condition=Established",
            "crd/services.ecsbridge.io",
            "--timeout=30s",
        ],
    );
    let file = std::env::temp_dir().join(format!("ecs-bridge-steady-state-{}.yaml", std::process::id()));
    std::fs::write(&file, manifests(services)).expect("manifests written");
    let started = Instant::now();
    kubectl(
        &kubeconfig,
        &["apply", "--server-side", "-f", &file.to_string_lossy()],
    );
    let _ = std::fs::remove_file(&file);

    let config = Config::from_custom_kubeconfig(
        Kubeconfig::read_from(&kubeconfig).expect("kubeconfig"),
        &KubeConfigOptions::default(),
    )
    .await
    .expect("client config");
    let client = Client::try_from(config).expect("client");
    let (stop, stopped) = futures::channel::oneshot::channel::<()>();
    let run = RunConfig {
        namespaces: vec![NAMESPACE.to_owned()],
        resync_interval: RESYNC,
        ..RunConfig::default()
    };
    let operator = tokio::spawn(run_until(run, client.clone(), async {
        let _ = stopped.await;
    }));
    let api: Api<Service> = Api::namespaced(client, NAMESPACE);
    loop {
        let ready = ready_count(&api).await;
        if ready == services {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "only {ready} of {services} Services Ready after 15 min"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let converged = started.elapsed();
    let (converge_writes, _, converge_requests, _) = tally(&server.api.faults.requests());
    // Let the last status writes and events land: wait for 10 s without a write (at most 5 min).
    let quiet_from = Instant::now();
    loop {
        server.api.faults.clear_requests();
        tokio::time::sleep(Duration::from_secs(10)).await;
        let (w, ..) = tally(&server.api.faults.requests());
        if w == 0 || quiet_from.elapsed() > Duration::from_secs(300) {
            break;
        }
    }
    let settled = quiet_from.elapsed();
    // Then watch one resync and a bit.
    server.api.faults.clear_requests();
    let window = RESYNC + Duration::from_secs(10);
    tokio::time::sleep(window).await;
    let (writes, reconciles, requests, steady_writes) = tally(&server.api.faults.requests());

    // One change: desiredCount 1 → 2 on one Service.
    server.api.faults.clear_requests();
    api.patch(
        "svc-0",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"desiredCount": 2}})),
    )
    .await
    .expect("scaled");
    let changed = Instant::now();
    loop {
        let svc = api.get("svc-0").await.expect("svc-0");
        if svc.status.and_then(|s| s.running_count) == Some(2) {
            break;
        }
        assert!(changed.elapsed() < Duration::from_secs(60), "svc-0 did not scale");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (change_writes, _, _, change_list) = tally(&server.api.faults.requests());
    // The Service with the most events, to see what repeats (if anything does).
    if let Ok(list) = api.list(&ListParams::default()).await
        && let Some(busiest) = list
            .items
            .iter()
            .max_by_key(|s| s.status.as_ref().map_or(0, |st| st.events.len()))
    {
        let events = busiest
            .status
            .as_ref()
            .map(|st| st.events.clone())
            .unwrap_or_default();
        println!("  most events: {} on {:?}", events.len(), busiest.metadata.name);
        for e in events.iter().take(8) {
            println!("    {} {}", e.created_at.0, e.message);
        }
    }
    let _ = stop.send(());
    let _ = operator.await;

    println!(
        "steady_state: {services} Services, {services} tasks (test bed, resync every {}s)",
        RESYNC.as_secs()
    );
    println!(
        "  every Service Ready in {:.1}s: {converge_requests} requests, {converge_writes} writes; then quiet (10 s without a write) after {:.0}s more",
        converged.as_secs_f64(),
        settled.as_secs_f64()
    );
    println!(
        "  steady window {}s: {reconciles} Service reconciles ({:.2} per Service), {requests} requests, {writes} writes",
        window.as_secs(),
        reconciles as f64 / services as f64
    );
    for w in steady_writes.iter().take(10) {
        println!("    steady write: {w}");
    }
    println!("  desiredCount 1 -> 2 on one Service: {change_writes} writes");
    for w in &change_list {
        println!("    {w}");
    }
}
