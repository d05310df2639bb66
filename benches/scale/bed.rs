//! The test bed of the scale bench and the fault runs (`tests/faults`): an API server double
//! with its simulated cluster (nodes, kubelet), the CRDs and manifests applied by a plain client,
//! and the operator as its own process (`ecs-bridge run`), which can be killed and restarted.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use ecs_bridge_testbed::{PodOutcome, SimCluster, TestApiServer};
use futures::StreamExt;
use kube::{
    Api, Client,
    api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams},
};
use serde_json::{Value, json};

use super::{floor, manifests, observe};

/// The number in the environment variable `name`, or `default`.
pub fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The YAML documents of `text` (a document that does not parse is a bug of the bench).
pub fn documents(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|doc| serde::Deserialize::deserialize(doc).expect("a YAML document"))
        .filter(|v: &Value| v.is_object())
        .collect()
}

/// The CRDs of the bench's cluster, as JSON: ecs-bridge's (`crds/`), and the AWS Load Balancer
/// Controller's TargetGroupBinding (v1beta1 alone: the double serves one version per CRD) and
/// External Secrets' ExternalSecret (`testdata/`).
pub fn crds() -> Vec<Value> {
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
pub async fn apply_all(client: &Client, docs: &[Value], concurrency: usize) {
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

/// A double with its simulated cluster, the CRDs and every manifest applied; the operator not
/// yet started.
pub struct Bed {
    /// The API server double.
    pub server: TestApiServer,
    /// Its simulated cluster (nodes, kubelet, the built-in controllers).
    pub cluster: SimCluster,
    /// A plain client of the double (no User-Agent of the operator's).
    pub client: Client,
    /// The CRDs applied.
    pub crds: Vec<Value>,
    /// How many nodes it has.
    pub nodes: usize,
    /// How many objects [`manifests::all`] applied (besides the namespaces).
    pub objects: usize,
    /// How long applying them took.
    pub input: Duration,
}

impl Bed {
    /// A bed for `services` Services and `scheduled` ScheduledTasks, the manifests applied
    /// `concurrency` at once: one node per 40 Services (at least 20; 110 pods a node, as the
    /// kubelet's default), half of them ON_DEMAND and half SPOT, every pod running and ready.
    pub async fn start(services: usize, scheduled: usize, concurrency: usize) -> Bed {
        let server = TestApiServer::start().await;
        let cluster = SimCluster::start(&server.api);
        let nodes = (services / 40).max(20);
        for n in 0..nodes {
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
        let crds = crds();
        apply_all(&client, &crds, concurrency).await;
        let docs = documents(&manifests::all(services, scheduled));
        let (namespaces, objects): (Vec<Value>, Vec<Value>) =
            docs.into_iter().partition(|d| d["kind"] == "Namespace");
        apply_all(&client, &namespaces, concurrency).await;
        let started = Instant::now();
        apply_all(&client, &objects, concurrency).await;
        Bed {
            server,
            cluster,
            client,
            crds,
            nodes,
            objects: objects.len(),
            input: started.elapsed(),
        }
    }

    /// How many TaskDefinitions, Services and ScheduledTasks are Ready.
    pub async fn ready(&self) -> (usize, usize, usize) {
        let ns = manifests::NAMESPACE;
        let client = &self.client;
        let tds = observe::ready(client, "ecsbridge.io", "TaskDefinition", "taskdefinitions", ns).await;
        let svcs = observe::ready(client, "ecsbridge.io", "Service", "services", ns).await;
        let sts = observe::ready(client, "ecsbridge.io", "ScheduledTask", "scheduledtasks", ns).await;
        (tds.0, svcs.0, sts.0)
    }
}

/// The flags the operator runs with.
#[derive(Debug, Clone)]
pub struct Flags {
    /// `--resync-interval`.
    pub resync: Duration,
    /// `--concurrency`.
    pub concurrency: usize,
    /// `--qps`.
    pub qps: usize,
    /// `--burst`.
    pub burst: usize,
    /// `--log`.
    pub log: String,
}

/// The operator's process: `ecs-bridge run` against a bed's double, for the bench's namespace,
/// without leader election. Killed when dropped.
pub struct Operator {
    child: Child,
    kubeconfig: PathBuf,
    flags: Flags,
    log: PathBuf,
}

impl Operator {
    /// Starts it against the double of `kubeconfig`, logging to `log`.
    pub fn start(kubeconfig: &Path, flags: Flags, log: PathBuf) -> Operator {
        let child = spawn(kubeconfig, &flags, &log);
        Operator {
            child,
            kubeconfig: kubeconfig.to_owned(),
            flags,
            log,
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Kills it (SIGKILL: no graceful shutdown) and starts it again, its log appended.
    pub fn kill_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(&self.kubeconfig, &self.flags, &self.log);
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(kubeconfig: &Path, flags: &Flags, log: &Path) -> Child {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("operator log");
    Command::new(env!("CARGO_BIN_EXE_ecs-bridge"))
        .args([
            "run",
            "--namespace",
            manifests::NAMESPACE,
            "--leader-elect=false",
            "--metrics-address",
            "127.0.0.1:0",
            "--log",
            &flags.log,
        ])
        .arg(format!("--resync-interval={}s", flags.resync.as_secs()))
        .arg(format!("--concurrency={}", flags.concurrency))
        .arg(format!("--qps={}", flags.qps))
        .arg(format!("--burst={}", flags.burst))
        .env("KUBECONFIG", kubeconfig)
        .env("POD_NAMESPACE", "ecs-bridge-system")
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("start ecs-bridge run")
}
