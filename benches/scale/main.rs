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

// Shared with the fault runs (`tests/faults`), which use what the bench does not.
#[allow(dead_code)]
mod bed;
mod floor;
mod manifests;
mod observe;

use std::time::{Duration, Instant};

use bed::env;
use ecs_bridge_testbed::faults::RequestRecord;
use k8s_openapi::api::apps::v1::Deployment;
use kube::{
    Api,
    api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams},
};
use manifests::{NAMESPACE, Shape};
use serde_json::json;

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

    let bed = bed::Bed::start(services, scheduled, input_concurrency).await;
    let (server, client, node_count) = (&bed.server, &bed.client, bed.nodes);

    // The operator, from its start to everything Ready.
    server.api.faults.clear_requests();
    let started = Instant::now();
    let log = std::env::temp_dir().join(format!("ecs-bridge-scale-{}.log", std::process::id()));
    eprintln!("  operator log: {}", log.display());
    let flags = bed::Flags {
        resync,
        concurrency,
        qps,
        burst,
        log: std::env::var("SCALE_LOG").unwrap_or_else(|_| "warn".to_owned()),
    };
    let mut operator = bed::Operator::start(server.kubeconfig(), flags, log);
    let pid = operator.pid();
    let mut watches: Vec<RequestRecord> = Vec::new();
    let mut cpu_last = (Instant::now(), observe::cpu_seconds(pid));
    let mut printed = Instant::now();
    loop {
        let (tds, svcs, sts) = bed.ready().await;
        if tds == services && svcs == services && sts == scheduled {
            break;
        }
        if printed.elapsed() >= Duration::from_secs(5) || started.elapsed() < Duration::from_secs(1) {
            printed = Instant::now();
            eprintln!(
                "  {:>6.1}s: Ready: {} TaskDefinitions, {} Services, {} ScheduledTasks; operator at {:.0}% CPU",
                started.elapsed().as_secs_f64(),
                tds,
                svcs,
                sts,
                observe::cpu_percent(pid, &mut cpu_last)
            );
        }
        if let Some(status) = operator.exited() {
            panic!("the operator exited: {status}");
        }
        let limit = if asserting { 600 } else { 3600 };
        assert!(
            started.elapsed() < Duration::from_secs(limit),
            "after an hour: TaskDefinitions {tds:?}, Services {svcs:?}, ScheduledTasks {sts:?} (Ready, all)"
        );
        // Every second (each check lists every TaskDefinition, Service and ScheduledTask from the
        // double, which is the bench's own: a few milliseconds at 1,000 Services), so the time
        // to Ready is known to the second.
        tokio::time::sleep(Duration::from_secs(1)).await;
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
    let children = floor::children(client).await;

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
    let deployments = observe::Deployments::watch(client, NAMESPACE);
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
    let (cached_all, cached_slim, cached_distinct, cached_objects, watch_count) =
        observe::cached_bytes(client, &watches).await;
    drop(operator);
    let floor = floor::floor(
        &bed.crds,
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
        bed.objects,
        bed.input.as_secs_f64()
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
        "  memory: peak resident {:.1} MB (now {:.1} MB); its {watch_count} watches hold {:.1} MB of JSON as listed ({:.1} MB in \
         {cached_objects} distinct objects), {:.1} MB without the managedFields it drops before caching; goal 3 x {:.1} + 30 = {:.1} MB",
        mb(peak),
        mb(resident),
        mb(cached_all),
        mb(cached_distinct),
        mb(cached_slim),
        mb(cached_slim),
        3.0 * mb(cached_slim) + 30.0
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
