//! Steady state costs nothing: N Services (1,000 by default; `STEADY_STATE_SERVICES`) of one
//! TaskDefinition run on the test bed (the API server double and its simulated cluster), with the
//! operator in-process and a short resync interval. Every 10th Service has a load balancer (a
//! Kubernetes Service and a TargetGroupBinding, with the AWS Load Balancer Controller's CRD
//! installed from `testdata/`), and every 10th from the 5th a Cloud Map registry and a Service
//! Connect alias (a headless Service and one more Service), so the networking objects are
//! measured too; every 50th from the 3rd is a DAEMON Service (a DaemonSet) and every 50th from
//! the 7th has a placement expression (compiled against the cached nodes). Besides, one
//! TaskDefinition per 10 Services (`STEADY_STATE_TASK_DEFINITIONS` to change it) has what makes
//! dependents: a task role (a ServiceAccount), a Secrets Manager secret (an ExternalSecret, with
//! External Secrets' CRD from `testdata/` installed) and an EFS volume (a PersistentVolume and a
//! claim). Once every Service and TaskDefinition is Ready
//! (and the networking objects and dependents are there) and the operator has been quiet for
//! 10 s, the bench counts the operator's requests over a window longer than one resync (every
//! object reconciled again, nothing changed), then over the change of one Service's
//! `desiredCount`. Prints the figures, and the steady window's requests by method and resource.
//!
//! Run with `cargo bench --bench steady_state` (about five minutes for 1,000 Services); the
//! figures are in `docs/performance.md`.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use ecs_bridge::{
    api::external::TargetGroupBinding,
    api::{Service, TaskDefinition},
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

/// The target group of Service `i`'s load balancer.
fn target_group(i: usize) -> String {
    format!("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/svc-{i}/73e2d6bc24d8a067")
}

/// TaskDefinition `td-<i>`: a task role, a Secrets Manager secret and an EFS volume.
fn task_definition_with_dependents(i: usize) -> String {
    format!(
        "---\napiVersion: ecsbridge.io/v1alpha1\nkind: TaskDefinition\nmetadata:\n  name: td-{i}\n  namespace: bench\n\
         spec:\n  taskRoleArn: arn:aws:iam::123456789012:role/td-{i}\n\
         \x20 volumes:\n    - name: data\n      efsVolumeConfiguration:\n        fileSystemId: fs-{i:08x}\n\
         \x20 containerDefinitions:\n    - name: app\n      image: public.ecr.aws/nginx/nginx:1.27\n      memory: 64\n\
         \x20     secrets:\n        - name: TOKEN\n          valueFrom: arn:aws:secretsmanager:us-east-1:123456789012:secret:td-{i}\n\
         \x20     mountPoints:\n        - sourceVolume: data\n          containerPath: /data\n"
    )
}

/// External Secrets' ExternalSecret CRD (`testdata/`, vendored by `hack/vendor_es_crd.py`), as
/// JSON, as in a cluster with External Secrets installed.
fn external_secret_crd() -> String {
    let path = repo().join("testdata/external-secrets/externalsecrets.external-secrets.io.yaml");
    let text = std::fs::read_to_string(path).expect("vendored CRD");
    let crd: serde_json::Value = serde_yaml_ng::from_str(&text).expect("CRD YAML");
    crd.to_string()
}

fn manifests(services: usize, task_definitions: usize) -> String {
    let mut out = String::from(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench\n---\n\
         apiVersion: ecsbridge.io/v1alpha1\nkind: TaskDefinition\nmetadata:\n  name: web\n  namespace: bench\n\
         spec:\n  networkMode: awsvpc\n  containerDefinitions:\n    - name: web\n      image: public.ecr.aws/nginx/nginx:1.27\n      memory: 64\n\
         \x20     portMappings:\n        - name: http\n          containerPort: 80\n",
    );
    for i in 0..services {
        out.push_str(&format!(
            "---\napiVersion: ecsbridge.io/v1alpha1\nkind: Service\nmetadata:\n  name: svc-{i}\n  namespace: bench\n\
             spec:\n  taskDefinition: web\n  desiredCount: 1\n"
        ));
        match i % 10 {
            0 => out.push_str(&format!(
                "  loadBalancers:\n    - targetGroupArn: {}\n      containerName: web\n      containerPort: 80\n",
                target_group(i)
            )),
            5 => out.push_str(&format!(
                "  serviceRegistries:\n    - registryArn: arn:aws:servicediscovery:us-east-1:123456789012:service/srv-{i}\n\
                 \x20 serviceConnectConfiguration:\n    enabled: true\n    services:\n      - portName: http\n\
                 \x20       clientAliases:\n          - port: 80\n            dnsName: svc-{i}-api\n"
            )),
            // Every 50th from the 3rd is a DAEMON Service (a DaemonSet: a task on each node).
            3 if i % 50 == 3 => out.push_str("  schedulingStrategy: DAEMON\n"),
            // Every 50th from the 7th places by an expression (compiled against the nodes).
            7 if i % 50 == 7 => out.push_str(
                "  placementConstraints:\n    - type: memberOf\n      expression: attribute:ecs.os-type == linux\n",
            ),
            _ => {}
        }
    }
    for i in 0..task_definitions {
        out.push_str(&task_definition_with_dependents(i));
    }
    out
}

/// How many TaskDefinitions are Ready without being Degraded (registered, dependents made).
async fn task_definitions_ready(api: &Api<TaskDefinition>) -> usize {
    api.list(&ListParams::default())
        .await
        .map(|l| {
            l.items
                .iter()
                .filter(|td| {
                    td.status.as_ref().is_some_and(|st| {
                        st.conditions
                            .iter()
                            .any(|c| c.type_ == "Ready" && c.status == "True")
                            && !st
                                .conditions
                                .iter()
                                .any(|c| c.type_ == "Degraded" && c.status == "True")
                    })
                })
                .count()
        })
        .unwrap_or(0)
}

/// The TargetGroupBinding CRD of the AWS Load Balancer Controller (`testdata/`), as JSON: its
/// v1beta1 version alone (the double serves one version per CRD; ecs-bridge makes v1beta1).
fn target_group_binding_crd() -> String {
    let path = repo().join("testdata/aws-load-balancer-controller/targetgroupbindings.elbv2.k8s.aws.yaml");
    let text = std::fs::read_to_string(path).expect("vendored CRD");
    let mut crd: serde_json::Value = serde_yaml_ng::from_str(&text).expect("CRD YAML");
    if let Some(versions) = crd
        .pointer_mut("/spec/versions")
        .and_then(serde_json::Value::as_array_mut)
    {
        versions.retain(|v| v["name"] == "v1beta1");
    }
    if let Some(meta) = crd["metadata"].as_object_mut() {
        meta.remove("creationTimestamp");
    }
    if let Some(obj) = crd.as_object_mut() {
        obj.remove("status");
    }
    crd.to_string()
}

/// The requests of a window by method and resource (`GET services`, `PATCH
/// services.ecsbridge.io/NAME/status`, `GET targetgroupbindings.elbv2.k8s.aws/NAME`, `GET
/// pods?watch`), most frequent first.
fn by_resource(requests: &[RequestRecord]) -> Vec<(String, usize)> {
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for r in requests {
        let parts: Vec<&str> = r.path.split('/').filter(|p| !p.is_empty()).collect();
        // ["api", "v1", ...] or ["apis", group, version, ...], then maybe namespaces/<ns>.
        let (group, rest) = match parts.as_slice() {
            ["api", _, rest @ ..] => ("", rest),
            ["apis", group, _, rest @ ..] => (*group, rest),
            _ => ("", &parts[..]),
        };
        let rest = match rest {
            ["namespaces", _, rest @ ..] if !rest.is_empty() => rest,
            rest => rest,
        };
        let mut what = rest.first().copied().unwrap_or("").to_owned();
        if !group.is_empty() {
            what = format!("{what}.{group}");
        }
        if rest.len() > 1 {
            what.push_str("/NAME");
        }
        if let Some(sub) = rest.get(2) {
            what = format!("{what}/{sub}");
        }
        if r.query.contains("watch=true") {
            what.push_str("?watch");
        }
        *counts.entry(format!("{} {what}", r.method)).or_default() += 1;
    }
    let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts
}

/// The requests of a window: (writes, all), and the writes themselves.
fn tally(requests: &[RequestRecord]) -> (usize, usize, Vec<String>) {
    let writes: Vec<String> = requests
        .iter()
        .filter(|r| r.is_write())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    (writes.len(), requests.len(), writes)
}

/// Counts the Service controller's reconciles: the `reconcile` spans it opens (with
/// `controller = "service"`), whatever the log filter lets through; and, by reason, the
/// `reconciling object` spans kube-runtime opens for Services (why each reconcile ran).
#[derive(Clone, Default)]
struct Reconciles(
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, usize>>>,
);

impl Reconciles {
    fn count(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn reasons(&self) -> std::collections::BTreeMap<String, usize> {
        self.1.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Reconciles {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _id: &tracing::span::Id,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        struct Controller(bool);
        impl tracing::field::Visit for Controller {
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                self.0 |= field.name() == "controller" && value == "service";
            }
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0 |= field.name() == "controller" && format!("{value:?}") == "\"service\"";
            }
        }
        if attrs.metadata().name() == "reconcile" {
            let mut controller = Controller(false);
            attrs.record(&mut controller);
            if controller.0 {
                self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        if attrs.metadata().name() == "reconciling object" {
            #[derive(Default)]
            struct Why {
                service: bool,
                reason: String,
            }
            impl tracing::field::Visit for Why {
                fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                    let value = format!("{value:?}");
                    match field.name() {
                        "object.ref" => self.service = value.starts_with("Service.v1alpha1.ecsbridge.io/"),
                        "object.reason" => self.reason = value.split(": ").next().unwrap_or("").to_owned(),
                        _ => {}
                    }
                }
            }
            let mut why = Why::default();
            attrs.record(&mut why);
            if why.service
                && let Ok(mut reasons) = self.1.lock()
            {
                *reasons.entry(why.reason).or_default() += 1;
            }
        }
    }
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

/// Waits until the networking objects of `services` Services are there, each stamped with the
/// hash of what was applied; returns how many Kubernetes Services and TargetGroupBindings.
async fn networking(client: &Client, services: usize) -> (usize, usize) {
    let stamped = |annotations: Option<&std::collections::BTreeMap<String, String>>| {
        annotations.is_some_and(|a| a.contains_key("ecsbridge.io/applied-hash"))
    };
    let core: Api<k8s_openapi::api::core::v1::Service> = Api::namespaced(client.clone(), NAMESPACE);
    let bindings: Api<TargetGroupBinding> = Api::namespaced(client.clone(), NAMESPACE);
    // Per load balancer a Service and a binding; per registry and alias two Services.
    let want = (
        services.div_ceil(10) + 2 * services.saturating_sub(5).div_ceil(10),
        services.div_ceil(10),
    );
    let started = Instant::now();
    loop {
        let core = core.list(&ListParams::default()).await.expect("Services").items;
        let bindings = bindings
            .list(&ListParams::default())
            .await
            .expect("bindings")
            .items;
        let got = (core.len(), bindings.len());
        let all_stamped = core.iter().all(|s| stamped(s.metadata.annotations.as_ref()))
            && bindings.iter().all(|b| stamped(b.metadata.annotations.as_ref()));
        if got == want && all_stamped {
            return got;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "networking objects: {got:?}, want {want:?} (all stamped: {all_stamped})"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The resourceVersion of every object of the kinds whose changes trigger reconciles, by kind
/// and name.
async fn resource_versions(
    client: &Client,
) -> std::collections::BTreeMap<&'static str, std::collections::BTreeMap<String, String>> {
    use k8s_openapi::api::{
        apps::v1::{Deployment, ReplicaSet},
        core::v1::{Node, PersistentVolumeClaim, Pod, ServiceAccount},
    };
    async fn of<K>(api: Api<K>) -> std::collections::BTreeMap<String, String>
    where
        K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        api.list(&ListParams::default())
            .await
            .map(|l| {
                l.items
                    .iter()
                    .map(|o| {
                        (
                            o.meta().name.clone().unwrap_or_default(),
                            o.meta().resource_version.clone().unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
    std::collections::BTreeMap::from([
        (
            "TaskDefinitions",
            of(Api::<TaskDefinition>::namespaced(client.clone(), NAMESPACE)).await,
        ),
        (
            "Services",
            of(Api::<Service>::namespaced(client.clone(), NAMESPACE)).await,
        ),
        (
            "Deployments",
            of(Api::<Deployment>::namespaced(client.clone(), NAMESPACE)).await,
        ),
        (
            "ReplicaSets",
            of(Api::<ReplicaSet>::namespaced(client.clone(), NAMESPACE)).await,
        ),
        (
            "Pods",
            of(Api::<Pod>::namespaced(client.clone(), NAMESPACE)).await,
        ),
        ("Nodes", of(Api::<Node>::all(client.clone())).await),
        (
            "ServiceAccounts",
            of(Api::<ServiceAccount>::namespaced(client.clone(), NAMESPACE)).await,
        ),
        (
            "claims",
            of(Api::<PersistentVolumeClaim>::namespaced(
                client.clone(),
                NAMESPACE,
            ))
            .await,
        ),
    ])
}

/// Waits until the `task_definitions` TaskDefinitions' dependents are there, each stamped with
/// the hash of what was applied; returns how many ServiceAccounts, ExternalSecrets,
/// PersistentVolumes and claims.
async fn dependents(client: &Client, task_definitions: usize) -> [usize; 4] {
    use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, ServiceAccount};
    use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
    let ours = ListParams::default().labels("app.kubernetes.io/managed-by=ecs-bridge");
    let es = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("external-secrets.io", "v1", "ExternalSecret"),
        "externalsecrets",
    );
    let stamped = |meta: &kube::api::ObjectMeta| {
        meta.annotations
            .as_ref()
            .is_some_and(|a| a.contains_key("ecsbridge.io/applied-hash"))
    };
    let started = Instant::now();
    loop {
        let sa = Api::<ServiceAccount>::namespaced(client.clone(), NAMESPACE)
            .list(&ours)
            .await
            .expect("ServiceAccounts")
            .items;
        let secrets = Api::<DynamicObject>::namespaced_with(client.clone(), NAMESPACE, &es)
            .list(&ours)
            .await
            .expect("ExternalSecrets")
            .items;
        let pvs = Api::<PersistentVolume>::all(client.clone())
            .list(&ours)
            .await
            .expect("PersistentVolumes")
            .items;
        let claims = Api::<PersistentVolumeClaim>::namespaced(client.clone(), NAMESPACE)
            .list(&ours)
            .await
            .expect("claims")
            .items;
        let got = [sa.len(), secrets.len(), pvs.len(), claims.len()];
        let all_stamped = sa.iter().all(|o| stamped(&o.metadata))
            && secrets.iter().all(|o| stamped(&o.metadata))
            && pvs.iter().all(|o| stamped(&o.metadata))
            && claims.iter().all(|o| stamped(&o.metadata));
        if got == [task_definitions; 4] && all_stamped {
            return got;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "dependents: {got:?}, want {task_definitions} each (all stamped: {all_stamped})"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // The operator's warnings (errors of reconciles) show; `STEADY_STATE_LOG` changes the filter.
    use tracing_subscriber::{Layer, layer::SubscriberExt, util::SubscriberInitExt};
    let reconcile_counter = Reconciles::default();
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer().with_filter(
                tracing_subscriber::EnvFilter::try_from_env("STEADY_STATE_LOG")
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            ),
        )
        // Only the reconcile spans reach the counter: an unfiltered layer would make every
        // span of every crate (HTTP, watches) be created, slowing the operator it measures.
        .with(
            reconcile_counter
                .clone()
                .with_filter(tracing_subscriber::filter::filter_fn(|m| {
                    m.is_span() && (m.name() == "reconcile" || m.name() == "reconciling object")
                })),
        )
        .init();
    let services: usize = std::env::var("STEADY_STATE_SERVICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let task_definitions: usize = std::env::var("STEADY_STATE_TASK_DEFINITIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(services.div_ceil(10));
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
    for (name, crd) in [("tgb", target_group_binding_crd()), ("es", external_secret_crd())] {
        let file = std::env::temp_dir().join(format!(
            "ecs-bridge-steady-state-{name}-{}.json",
            std::process::id()
        ));
        std::fs::write(&file, crd).expect("CRD written");
        kubectl(
            &kubeconfig,
            &["apply", "--server-side", "-f", &file.to_string_lossy()],
        );
        let _ = std::fs::remove_file(&file);
    }
    for crd in [
        "crd/services.ecsbridge.io",
        "crd/targetgroupbindings.elbv2.k8s.aws",
        "crd/externalsecrets.external-secrets.io",
    ] {
        kubectl(
            &kubeconfig,
            &["wait", "--for=condition=Established", crd, "--timeout=30s"],
        );
    }
    let file = std::env::temp_dir().join(format!("ecs-bridge-steady-state-{}.yaml", std::process::id()));
    std::fs::write(&file, manifests(services, task_definitions)).expect("manifests written");
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
        controllers: ecs_bridge::controller::Config {
            resync_interval: RESYNC,
            ..ecs_bridge::controller::Config::default()
        },
        ..RunConfig::default()
    };
    let operator = tokio::spawn(run_until(run, client.clone(), async {
        let _ = stopped.await;
    }));
    let client_for_checks = client.clone();
    let tds: Api<TaskDefinition> = Api::namespaced(client.clone(), NAMESPACE);
    let api: Api<Service> = Api::namespaced(client, NAMESPACE);
    loop {
        let ready = ready_count(&api).await;
        if ready == services && task_definitions_ready(&tds).await == task_definitions + 1 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "only {ready} of {services} Services Ready after 15 min"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let converged = started.elapsed();
    let (core_services, bindings) = networking(&client_for_checks, services).await;
    let dependents = dependents(&client_for_checks, task_definitions).await;
    let (converge_writes, converge_requests, _) = tally(&server.api.faults.requests());
    // Let the last status writes and events land: wait for 10 s without a write (at most 5 min)
    // ... and the watch events of convergence reach the operator: no Service reconcile for a
    // changed object either (a busy operator reads its watches late).
    let quiet_from = Instant::now();
    loop {
        server.api.faults.clear_requests();
        let before = reconcile_counter.reasons();
        tokio::time::sleep(Duration::from_secs(10)).await;
        let (w, ..) = tally(&server.api.faults.requests());
        let events: usize = reconcile_counter
            .reasons()
            .iter()
            .filter(|(why, _)| why.contains("updated") || why.contains("deleted"))
            .map(|(why, n)| n - before.get(why).copied().unwrap_or(0))
            .sum();
        if (w == 0 && events == 0) || quiet_from.elapsed() > Duration::from_secs(300) {
            break;
        }
    }
    let settled = quiet_from.elapsed();
    // Then watch one resync and a bit.
    // (What the bench reads itself is read outside the window.)
    let versions_before = resource_versions(&client_for_checks).await;
    server.api.faults.clear_requests();
    let reconciles_before = reconcile_counter.count();
    let reasons_before = reconcile_counter.reasons();
    let window = RESYNC + Duration::from_secs(10);
    tokio::time::sleep(window).await;
    let steady = server.api.faults.requests();
    let reconciles = reconcile_counter.count() - reconciles_before;
    let reasons: Vec<(String, usize)> = reconcile_counter
        .reasons()
        .into_iter()
        .map(|(why, n)| {
            let before = reasons_before.get(&why).copied().unwrap_or(0);
            (why, n - before)
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    let versions_after = resource_versions(&client_for_checks).await;
    let (writes, requests, steady_writes) = tally(&steady);
    let steady_by_resource = by_resource(&steady);

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
    let (change_writes, _, change_list) = tally(&server.api.faults.requests());
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
        "steady_state: {services} Services, {} tasks, {} load balancers, {} registries and \
         Service Connect aliases, {} DAEMON Services on 10 nodes, {} with a placement expression \
         (test bed, resync every {}s)",
        services + 9 * services.saturating_sub(3).div_ceil(50),
        services.div_ceil(10),
        services.saturating_sub(5).div_ceil(10),
        services.saturating_sub(3).div_ceil(50),
        services.saturating_sub(7).div_ceil(50),
        RESYNC.as_secs()
    );
    println!(
        "  every Service Ready in {:.1}s: {converge_requests} requests, {converge_writes} writes; \
         networking: {core_services} Services, {bindings} TargetGroupBindings; then quiet (10 s \
         without a write or a reconcile for a changed object) after {:.0}s more",
        converged.as_secs_f64(),
        settled.as_secs_f64()
    );
    println!(
        "  steady window {}s: {reconciles} Service reconciles ({:.2} per Service), {requests} requests, {writes} writes",
        window.as_secs(),
        reconciles as f64 / services as f64
    );
    for (why, n) in &reasons {
        println!("    {n:>6} Service reconciles: {why}");
    }
    for w in steady_writes.iter().take(10) {
        println!("    steady write: {w}");
    }
    for (kind, before) in &versions_before {
        let after = versions_after.get(kind).cloned().unwrap_or_default();
        let changed = after.iter().filter(|(k, v)| before.get(*k) != Some(*v)).count();
        println!(
            "    {kind}: {changed} of {} changed in the steady window",
            after.len()
        );
    }
    for (what, n) in &steady_by_resource {
        println!("    {n:>6} {what}");
    }
    let dependent_writes = steady_writes
        .iter()
        .filter(|w| {
            [
                "serviceaccounts",
                "persistentvolumeclaims",
                "persistentvolumes",
                "externalsecrets",
            ]
            .iter()
            .any(|kind| w.contains(&format!("/{kind}/")))
        })
        .count();
    println!(
        "  TaskDefinition dependents: {task_definitions} TaskDefinitions with {} ServiceAccounts, {} \
         ExternalSecrets, {} PersistentVolumes and {} claims; in the steady window {dependent_writes} \
         writes to them",
        dependents[0], dependents[1], dependents[2], dependents[3]
    );
    println!("  desiredCount 1 -> 2 on one Service: {change_writes} writes");
    for w in &change_list {
        println!("    {w}");
    }
}
