//! The scale bench (issue 18): N TaskDefinitions and N Services (5,000 by default,
//! `SCALE_SERVICES`), of which a share has task roles, secrets and EFS volumes, load balancers,
//! Service Connect, target-tracking auto scaling, placement expressions, a strategy over two
//! capacity providers or `DAEMON` scheduling ([`manifests::shape`]), plus N/100 ScheduledTasks,
//! on the test bed (the API server double and its simulated cluster, one node per 40
//! Services, at least 20). The operator
//! runs as its own process (`ecs-bridge run`, the release binary), so that its memory is its
//! own; its requests are told from the bench's by its User-Agent.
//!
//! It reports, in one run:
//! - the time from the operator's start (every object already applied) to every TaskDefinition,
//!   Service and ScheduledTask Ready, next to the write floor: the time the same double takes to
//!   accept exactly the objects the operator made, applied by a plain client loop with the same
//!   concurrency ([`floor`]);
//! - the operator's requests and writes per Service during convergence, against the objects it
//!   made and the status writes;
//! - at rest, over a window longer than one resync: its requests (goal: none but watch
//!   renewals) and writes (goal: none);
//! - the reaction of a Deployment to one `desiredCount` and one TaskDefinition image change,
//!   p50 and p99 over `SCALE_CHANGES` (40) changes each;
//! - the operator's peak resident memory against the JSON bytes its watches cache.
//!
//! `cargo bench --bench scale` (5,000); `make test` runs it small as a smoke test
//! (`SCALE_SERVICES=50 SCALE_ASSERT=1 cargo test --bench scale`): with `SCALE_ASSERT` set it
//! fails unless everything converges within 10 minutes, the operator makes no request but
//! watch renewals at rest, and every change reaches its Deployment. Other knobs: `SCALE_CONCURRENCY`, `SCALE_QPS`, `SCALE_BURST` (the
//! operator's flags; default the operator's defaults), `SCALE_RESYNC` (seconds, 30).

mod floor;
mod manifests;
mod observe;

use std::{
    path::PathBuf,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use ecs_bridge_testbed::{PodOutcome, SimCluster, TestApiServer, faults::RequestRecord};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::{
    Api, Client,
    api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams},
};
use manifests::{NAMESPACE, Shape};
use serde_json::{Value, json};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The YAML documents of `text` (a document that does not parse is a bug of the bench).
fn documents(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|doc| serde::Deserialize::deserialize(doc).expect("a YAML document"))
        .filter(|v: &Value| v.is_object())
        .collect()
}

/// The CRDs of the bench's cluster, as JSON: ecs-bridge's (`crds/`), and the AWS Load Balancer
/// Controller's TargetGroupBinding (v1beta1 alone: the double serves one version per CRD) and
/// External Secrets' ExternalSecret (`testdata/`).
fn crds() -> Vec<Value> {
    let mut out = Vec::new();
    let read = |path: PathBuf| -> Vec<Value> {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        documents(&text)
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("crds"))
        .expect("crds/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for file in files {
        out.extend(read(file));
    }
    out.extend(read(repo().join(
        "testdata/aws-load-balancer-controller/targetgroupbindings.elbv2.k8s.aws.yaml",
    )));
    out.extend(read(repo().join(
        "testdata/external-secrets/externalsecrets.external-secrets.io.yaml",
    )));
    for crd in &mut out {
        if crd["metadata"]["name"] == "targetgroupbindings.elbv2.k8s.aws"
            && let Some(versions) = crd.pointer_mut("/spec/versions").and_then(Value::as_array_mut)
        {
            versions.retain(|v| v["name"] == "v1beta1");
        }
        if let Some(meta) = crd["metadata"].as_object_mut() {
            meta.remove("creationTimestamp");
        }
        if let Some(obj) = crd.as_object_mut() {
            obj.remove("status");
        }
    }
    out
}

/// Applies `docs` (server-side, as `bench`), `concurrency` at once; the CRDs' kinds must be
/// served.
async fn apply_all(client: &Client, docs: &[Value], concurrency: usize) {
    let params = PatchParams::apply("bench").force();
    let results: Vec<Result<(), String>> = futures::stream::iter(docs)
        .map(|doc| {
            let client = client.clone();
            let params = params.clone();
            async move {
                let api_version = doc["apiVersion"].as_str().unwrap_or_default();
                let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
                let kind = doc["kind"].as_str().unwrap_or_default();
                let plural = match kind {
                    "Namespace" => "namespaces".to_owned(),
                    "CustomResourceDefinition" => "customresourcedefinitions".to_owned(),
                    k => format!("{}s", k.to_lowercase()),
                };
                let ar =
                    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), &plural);
                let api: Api<DynamicObject> = match doc["metadata"]["namespace"].as_str() {
                    Some(ns) => Api::namespaced_with(client, ns, &ar),
                    None => Api::all_with(client, &ar),
                };
                let name = doc["metadata"]["name"].as_str().unwrap_or_default();
                api.patch(name, &params, &Patch::Apply(doc))
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("{kind} {name}: {e}"))
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let failed: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        failed.is_empty(),
        "apply failed: {:?}",
        &failed[..failed.len().min(5)]
    );
}

/// The operator's process: `ecs-bridge run` against the bench's double.
struct Operator(std::process::Child);

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_operator(
    kubeconfig: &std::path::Path,
    resync: Duration,
    concurrency: usize,
    qps: usize,
    burst: usize,
) -> Operator {
    let log = std::env::temp_dir().join(format!("ecs-bridge-scale-{}.log", std::process::id()));
    let file = std::fs::File::create(&log).expect("operator log");
    eprintln!("  operator log: {}", log.display());
    let child = Command::new(env!("CARGO_BIN_EXE_ecs-bridge"))
        .args([
            "run",
            "--namespace",
            NAMESPACE,
            "--leader-elect=false",
            "--metrics-address",
            "127.0.0.1:0",
            "--log",
            &std::env::var("SCALE_LOG").unwrap_or_else(|_| "warn".to_owned()),
        ])
        .arg(format!("--resync-interval={}s", resync.as_secs()))
        .arg(format!("--concurrency={concurrency}"))
        .arg(format!("--qps={qps}"))
        .arg(format!("--burst={burst}"))
        .env("KUBECONFIG", kubeconfig)
        .env("POD_NAMESPACE", "ecs-bridge-system")
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("start ecs-bridge run");
    Operator(child)
}

/// (writes, requests) among `requests`.
fn tally(requests: &[RequestRecord]) -> (usize, usize) {
    (requests.iter().filter(|r| r.is_write()).count(), requests.len())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let services = env("SCALE_SERVICES", 5000);
    let scheduled = env("SCALE_SCHEDULED", services.div_ceil(100));
    let concurrency = env(
        "SCALE_CONCURRENCY",
        usize::from(ecs_bridge::controller::DEFAULT_CONCURRENCY),
    );
    let qps = env("SCALE_QPS", ecs_bridge::runtime::rate_limit::DEFAULT_QPS as usize);
    let burst = env(
        "SCALE_BURST",
        ecs_bridge::runtime::rate_limit::DEFAULT_BURST as usize,
    );
    let resync = Duration::from_secs(env("SCALE_RESYNC", 30) as u64);
    let changes = env("SCALE_CHANGES", 40);
    let asserting = std::env::var_os("SCALE_ASSERT").is_some();
    let input_concurrency = concurrency.max(1);

    let server = TestApiServer::start().await;
    let cluster = SimCluster::start(&server.api);
    // Enough nodes for every task (110 pods a node, as the kubelet's default).
    let node_count = (services / 40).max(20);
    for n in 0..node_count {
        let capacity = if n % 2 == 0 { "ON_DEMAND" } else { "SPOT" };
        let labels = json!({"kubernetes.io/hostname": format!("node-{n}"), "kubernetes.io/os": "linux",
                            "topology.kubernetes.io/zone": format!("zone-{}", n % 3),
                            "eks.amazonaws.com/capacityType": capacity});
        cluster
            .add_node(&format!("node-{n}"), &labels, "1024", "8192Gi", &json!([]))
            .expect("a node");
    }
    cluster.kubelet(PodOutcome::Running { ready: true });
    let client = floor::client(&server).await;

    // The cluster: CRDs, then every object, before the operator starts.
    let crds = crds();
    apply_all(&client, &crds, input_concurrency).await;
    let docs = documents(&manifests::all(services, scheduled));
    let (namespaces, objects): (Vec<Value>, Vec<Value>) =
        docs.into_iter().partition(|d| d["kind"] == "Namespace");
    apply_all(&client, &namespaces, input_concurrency).await;
    let input_started = Instant::now();
    apply_all(&client, &objects, input_concurrency).await;
    let input = input_started.elapsed();

    // The operator, from its start to everything Ready.
    server.api.faults.clear_requests();
    let started = Instant::now();
    let mut operator = start_operator(server.kubeconfig(), resync, concurrency, qps, burst);
    let pid = operator.0.id();
    let mut watches: Vec<RequestRecord> = Vec::new();
    let mut cpu_last = (Instant::now(), observe::cpu_seconds(pid));
    loop {
        let tds = observe::ready(
            &client,
            "ecsbridge.io",
            "TaskDefinition",
            "taskdefinitions",
            NAMESPACE,
        )
        .await;
        let svcs = observe::ready(&client, "ecsbridge.io", "Service", "services", NAMESPACE).await;
        let sts = observe::ready(
            &client,
            "ecsbridge.io",
            "ScheduledTask",
            "scheduledtasks",
            NAMESPACE,
        )
        .await;
        if tds.0 == services && svcs.0 == services && sts.0 == scheduled {
            break;
        }
        eprintln!(
            "  {:>6.1}s: Ready: {} TaskDefinitions, {} Services, {} ScheduledTasks; operator at {:.0}% CPU",
            started.elapsed().as_secs_f64(),
            tds.0,
            svcs.0,
            sts.0,
            observe::cpu_percent(pid, &mut cpu_last)
        );
        if let Ok(Some(status)) = operator.0.try_wait() {
            panic!("the operator exited: {status}");
        }
        let limit = if asserting { 600 } else { 3600 };
        assert!(
            started.elapsed() < Duration::from_secs(limit),
            "after an hour: TaskDefinitions {tds:?}, Services {svcs:?}, ScheduledTasks {sts:?} (Ready, all)"
        );
        // (Each check lists every object: not more often, the double is the bench's own.)
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let converged = started.elapsed();
    let convergence = observe::operator(&server.api.faults.requests());
    watches.extend(convergence.iter().filter(|r| observe::is_watch(r)).cloned());
    let (converge_writes, converge_requests) = tally(&convergence);
    let status_writes = convergence
        .iter()
        .filter(|r| r.is_write() && r.path.ends_with("/status"))
        .count();
    let events = convergence
        .iter()
        .filter(|r| r.method == "POST" && r.path.contains("/events"))
        .count();
    let children = floor::children(&client).await;

    // Quiet: 10 s without a write of the operator (at most 5 minutes).
    let quiet_from = Instant::now();
    loop {
        server.api.faults.clear_requests();
        tokio::time::sleep(Duration::from_secs(10)).await;
        let ops = observe::operator(&server.api.faults.requests());
        watches.extend(ops.iter().filter(|r| observe::is_watch(r)).cloned());
        if tally(&ops).0 == 0 || quiet_from.elapsed() > Duration::from_secs(300) {
            break;
        }
    }
    let settled = quiet_from.elapsed();

    // At rest: more than one resync.
    server.api.faults.clear_requests();
    let window = resync + Duration::from_secs(15);
    tokio::time::sleep(window).await;
    let rest = observe::operator(&server.api.faults.requests());
    watches.extend(rest.iter().filter(|r| observe::is_watch(r)).cloned());
    let (rest_writes, rest_requests) = tally(&rest);
    let rest_renewals = rest.iter().filter(|r| observe::is_watch(r)).count();

    // The reaction to one change, repeated on plain Services (one at a time).
    let deployments = observe::Deployments::watch(&client, NAMESPACE);
    let plain: Vec<usize> = (0..services)
        .filter(|i| manifests::shape(*i) == Shape::Plain && !manifests::has_dependents(*i))
        .collect();
    let svc_api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        NAMESPACE,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("ecsbridge.io", "v1alpha1", "Service"),
            "services",
        ),
    );
    let td_api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        NAMESPACE,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("ecsbridge.io", "v1alpha1", "TaskDefinition"),
            "taskdefinitions",
        ),
    );
    // (The watch has listed once every Deployment is known.)
    let deployment_api: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let _ = deployment_api
        .list(&kube::api::ListParams::default().limit(1))
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.api.faults.clear_requests();
    let mut scale = Vec::new();
    let mut image = Vec::new();
    for (n, i) in plain.iter().take(changes).enumerate() {
        let _ = n;
        let since = Instant::now();
        svc_api
            .patch(
                &format!("svc-{i}"),
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"desiredCount": 2}})),
            )
            .await
            .expect("desiredCount changed");
        scale.push(deployments.replicas_after(&format!("svc-{i}"), 2, since).await);
    }
    for i in plain.iter().skip(changes).take(changes) {
        let since = Instant::now();
        td_api
            .patch(
                &format!("td-{i}"),
                &PatchParams::default(),
                &Patch::Json::<()>(
                    serde_json::from_value(json!([{"op": "replace",
                        "path": "/spec/containerDefinitions/0/image", "value": manifests::image(28)}]))
                    .expect("a JSON patch"),
                ),
            )
            .await
            .expect("image changed");
        image.push(
            deployments
                .image_after(&format!("svc-{i}"), &manifests::image(28), since)
                .await,
        );
    }
    let change_requests = observe::operator(&server.api.faults.requests());
    watches.extend(change_requests.iter().filter(|r| observe::is_watch(r)).cloned());

    // Memory: the operator's peak, against what its watches cache.
    let (peak, resident) = observe::memory(pid);
    let (cached_all, cached_distinct, cached_objects, watch_count) =
        observe::cached_bytes(&client, &watches).await;
    drop(operator);
    let floor = floor::floor(
        &crds,
        &[NAMESPACE, "ecs-bridge-system"],
        &children,
        input_concurrency,
    )
    .await;

    let mb = |b: usize| b as f64 / (1024.0 * 1024.0);
    let per = |n: usize| n as f64 / services as f64;
    println!(
        "scale: {services} TaskDefinitions ({} with dependents) and {services} Services ({} with a load balancer, {} with \
         Service Connect, {} auto scaled, {} over 2 capacity providers, {} DAEMON, {} placed by an expression), {scheduled} \
         ScheduledTasks; {node_count} nodes; operator: --concurrency={concurrency} --qps={qps} --burst={burst} --resync-interval={}s",
        (0..services).filter(|i| manifests::has_dependents(*i)).count(),
        manifests::count(services, Shape::LoadBalancer),
        manifests::count(services, Shape::ServiceConnect),
        manifests::count(services, Shape::AutoScaling),
        manifests::count(services, Shape::CapacityProviders),
        manifests::count(services, Shape::Daemon),
        manifests::count(services, Shape::Placement),
        resync.as_secs()
    );
    println!(
        "  input: {} objects applied in {:.1}s before the operator started",
        objects.len(),
        input.as_secs_f64()
    );
    println!(
        "  converged: every TaskDefinition, Service and ScheduledTask Ready {:.1}s after the operator started: {:.1} Services/s",
        converged.as_secs_f64(),
        services as f64 / converged.as_secs_f64()
    );
    println!(
        "  write floor: the {} objects it made, applied to a fresh double {input_concurrency} at once: {:.1}s; converged / floor = {:.2}",
        children.len(),
        floor.as_secs_f64(),
        converged.as_secs_f64() / floor.as_secs_f64()
    );
    println!(
        "  convergence: {converge_requests} requests ({:.2}/Service), {converge_writes} writes ({:.2}/Service): \
         {status_writes} status writes ({:.2}/Service), {events} Events; objects made: {} ({:.2}/Service)",
        per(converge_requests),
        per(converge_writes),
        per(status_writes),
        children.len(),
        per(children.len())
    );
    for (what, n) in observe::by_resource(&convergence).iter().take(25) {
        println!("    {n:>8} {what}");
    }
    println!("  quiet after {:.0}s more", settled.as_secs_f64());
    println!(
        "  at rest ({}s, more than one resync): {rest_writes} writes, {} requests besides {rest_renewals} watch renewals",
        window.as_secs(),
        rest_requests - rest_renewals
    );
    for (what, n) in observe::by_resource(&rest) {
        println!("    {n:>8} {what}");
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "  reaction, desiredCount 1 -> 2 to the Deployment's replicas ({} changes): p50 {:.0} ms, p99 {:.0} ms",
        scale.len(),
        ms(observe::percentile(&scale, 50.0)),
        ms(observe::percentile(&scale, 99.0))
    );
    println!(
        "  reaction, TaskDefinition image to the Deployment's template ({} changes): p50 {:.0} ms, p99 {:.0} ms",
        image.len(),
        ms(observe::percentile(&image, 50.0)),
        ms(observe::percentile(&image, 99.0))
    );
    println!(
        "  during the changes: {} requests, {} writes by the operator",
        change_requests.len(),
        change_requests.iter().filter(|r| r.is_write()).count()
    );
    println!(
        "  memory: peak resident {:.1} MB (now {:.1} MB); its {watch_count} watches cache {:.1} MB of JSON ({:.1} MB in \
         {cached_objects} distinct objects); goal 3 x {:.1} + 30 = {:.1} MB",
        mb(peak),
        mb(resident),
        mb(cached_all),
        mb(cached_distinct),
        mb(cached_all),
        3.0 * mb(cached_all) + 30.0
    );
    if asserting {
        assert_eq!(rest_writes, 0, "writes at rest");
        assert_eq!(
            rest_requests - rest_renewals,
            0,
            "requests at rest besides watch renewals"
        );
        assert_eq!(scale.len() + image.len(), plain.len().min(2 * changes));
    }
}
