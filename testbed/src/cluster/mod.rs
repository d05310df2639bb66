//! A tiny simulated cluster on top of the API server double: Nodes the test creates, and
//! controllers that turn Deployments, ReplicaSets, DaemonSets, Jobs and CronJobs into Pods the
//! way kube-controller-manager does (enough for status to move). It runs no containers: a
//! simulated kubelet places pods on nodes and sets their phases, container states and
//! readiness as the test asks (for every new pod, or for one pod).
//!
//! The controllers run in one task, driven like kube-controller-manager's by watch events: an
//! event marks the objects it concerns (a pod its controller, a ReplicaSet its Deployment, ...)
//! and a pass syncs only those, in dependency order (kubelet, ReplicaSets, Deployments,
//! DaemonSets, Jobs, CronJobs), each writing only what changed. With nothing changing nothing is
//! synced and nothing written. Timers (progress deadlines, minReadySeconds, Job deadlines and
//! TTLs) run on a simulated clock that tests can move forward ([`SimCluster::advance_clock`]).

mod cronjob;
mod ctx;
mod daemonset;
mod deployment;
mod exits;
mod hpa;
mod job;
mod kubelet;
mod replicaset;
mod scheduling;
mod util;

use std::{
    collections::BTreeSet,
    sync::{Arc, Weak, atomic::Ordering},
    time::Duration,
};

pub use ctx::MANAGER;
use ctx::{Ctx, Kind, Marks, ObjKey, Shared, Snapshot, Timers};
pub use exits::ContainerOutcome;
pub use hpa::PodUsage;
pub use kubelet::PodOutcome;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use crate::{
    api::{ApiError, ApiServer, ListQuery},
    patch::PatchType,
    store::Event,
};

/// Handle to the simulated cluster.
#[derive(Debug, Clone)]
pub struct SimCluster {
    api: Arc<ApiServer>,
    shared: Arc<Shared>,
}

impl SimCluster {
    /// Starts the simulated controllers on `api` (they stop when the server goes away).
    #[must_use]
    pub fn start(api: &Arc<ApiServer>) -> Self {
        let shared = Arc::new(Shared::default());
        // Subscribe before returning, so nothing written after `start` is missed.
        let events = api.store.lock().subscribe();
        tokio::spawn(run(Arc::downgrade(api), shared.clone(), events));
        Self {
            api: api.clone(),
            shared,
        }
    }

    /// Starts the cluster as the operator's end-to-end tests run it: two linux/amd64 nodes,
    /// `node-a` in zone `us-east-1a` and `node-b` in `us-east-1b` (4 CPUs and 16Gi each), whose
    /// kubelet starts every pod Ready.
    ///
    /// # Panics
    /// When a node cannot be added (the API server refuses it).
    #[must_use]
    pub fn start_with_two_zonal_nodes(api: &Arc<ApiServer>) -> Self {
        let cluster = Self::start(api);
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
        cluster
    }

    /// The API server.
    #[must_use]
    pub fn api(&self) -> &Arc<ApiServer> {
        &self.api
    }

    /// Adds a Ready Node with `labels`, allocatable `cpu`/`memory` (e.g. "4", "16Gi") and
    /// `taints` (an array of `{key, value, effect}`, or null).
    ///
    /// # Errors
    /// When the node exists.
    pub fn add_node(
        &self,
        name: &str,
        labels: &Value,
        cpu: &str,
        memory: &str,
        taints: &Value,
    ) -> Result<Value, ApiError> {
        let rt = Kind::Node.rt(&self.api);
        let mut spec = json!({"providerID": format!("aws:///us-east-1a/i-{name}")});
        if taints.as_array().is_some_and(|t| !t.is_empty()) {
            spec["taints"] = taints.clone();
        }
        let body = json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels},
            "spec": spec,
        });
        let node = self.api.create(&rt, None, body, &ctx::opts())?.object;
        let count = self
            .api
            .list(&rt, None, &ListQuery::default())
            .ok()
            .and_then(|l| l["items"].as_array().map(Vec::len))
            .unwrap_or(1);
        let t = util::format_time(self.shared.now());
        let status = json!({"status": {
            "capacity": {"cpu": cpu, "memory": memory, "pods": "110"},
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
                            "lastHeartbeatTime": t, "lastTransitionTime": t}],
            "addresses": [{"type": "InternalIP", "address": format!("10.0.{}.{}", count / 250, count % 250 + 1)}, {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": "v1.33.0", "kubeProxyVersion": "v1.33.0", "containerRuntimeVersion": "containerd://2.0.0",
                         "operatingSystem": "linux", "architecture": "amd64", "osImage": "simulated", "kernelVersion": "6.1.0",
                         "machineID": "", "systemUUID": "", "bootID": ""},
        }});
        self.api
            .patch(
                &rt,
                None,
                name,
                Some("status"),
                PatchType::Merge,
                &status,
                &ctx::opts(),
            )
            .map(|w| w.object)
            .or(Ok(node))
    }

    /// Makes the simulated kubelet give every new pod (and every pod nobody has touched yet)
    /// `outcome`. A pod that fits no node (nodeSelector, affinity, taints) is marked
    /// Unschedulable instead and tried again when nodes change; with no nodes at all, pods go
    /// to a made-up `node-1`. [`PodOutcome::Pending`] leaves new pods alone.
    pub fn kubelet(&self, outcome: PodOutcome) {
        *self.shared.outcome.lock().expect("kubelet lock") = Some(outcome);
        self.shared.mark(|m| {
            m.all.insert(Kind::Pod);
        });
    }

    /// Sets one pod's phase, readiness and container states as `outcome` describes (binding
    /// it to a node first if it has none); the kubelet leaves it alone afterwards.
    ///
    /// # Errors
    /// When the pod does not exist.
    pub fn set_pod(&self, namespace: &str, name: &str, outcome: PodOutcome) -> Result<Value, ApiError> {
        let mut timers = Timers::default();
        let mut ctx = Ctx::new(&self.api, &self.shared, &mut timers);
        kubelet::set_pod(&mut ctx, namespace, name, &outcome)
    }

    /// Makes containers of a running pod run or exit (by name; the others as they are), and
    /// the pod follow as a kubelet's would (see `exits` for the rules): a container that exits
    /// under a restart policy that restarts it waits in `CrashLoopBackOff`; once every main
    /// container has terminated the pod ends.
    ///
    /// # Errors
    /// When the pod does not exist or has not started, or names no such container.
    pub fn set_containers(
        &self,
        namespace: &str,
        name: &str,
        outcomes: &[(&str, ContainerOutcome)],
    ) -> Result<Value, ApiError> {
        let mut timers = Timers::default();
        let mut ctx = Ctx::new(&self.api, &self.shared, &mut timers);
        let outcomes: Vec<(String, ContainerOutcome)> = outcomes
            .iter()
            .map(|(n, o)| ((*n).to_owned(), o.clone()))
            .collect();
        exits::set_containers(&mut ctx, namespace, name, &outcomes)
    }

    /// Pods in `namespace` matching `label_selector`.
    ///
    /// # Errors
    /// For a bad selector.
    pub fn pods(&self, namespace: &str, label_selector: &str) -> Result<Vec<Value>, ApiError> {
        let q = ListQuery {
            label_selector: Some(label_selector.to_owned()),
            ..ListQuery::default()
        };
        let list = self.api.list(&Kind::Pod.rt(&self.api), Some(namespace), &q)?;
        Ok(list["items"].as_array().cloned().unwrap_or_default())
    }

    /// Creates a Job from a CronJob now, as the CronJob controller does at a scheduled time
    /// (see `cronjob::trigger` for the details), and returns it.
    ///
    /// # Errors
    /// When the CronJob does not exist; 403 when it is suspended, or has `concurrencyPolicy:
    /// Forbid` and an active Job.
    pub fn trigger_cronjob(&self, namespace: &str, name: &str) -> Result<Value, ApiError> {
        let mut timers = Timers::default();
        let mut ctx = Ctx::new(&self.api, &self.shared, &mut timers);
        cronjob::trigger(&mut ctx, namespace, name)
    }

    /// Moves the simulated clock forward (it starts at the real time): deadlines
    /// (`progressDeadlineSeconds`, `activeDeadlineSeconds`, `ttlSecondsAfterFinished`) and
    /// `minReadySeconds` then count as passed, and the controllers look again. Times the
    /// controllers and the kubelet write are on this clock; the API server's own timestamps
    /// (creationTimestamp) are not.
    pub fn advance_clock(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.shared.clock_offset_ms.fetch_add(ms, Ordering::SeqCst);
        self.shared.wake.notify_one();
    }

    /// Says that the pods of `namespace` matching `label_selector` use `usage` (a metrics
    /// server's report; the latest call for a selector replaces it), and has every HPA look
    /// again.
    ///
    /// # Errors
    /// For a bad selector.
    pub fn set_usage(&self, namespace: &str, label_selector: &str, usage: PodUsage) -> Result<(), String> {
        let selector = crate::store::selector::LabelSelector::parse(label_selector)?;
        {
            let mut all = self.shared.usage.lock().expect("usage lock");
            all.retain(|(ns, s, _)| !(ns == namespace && *s == selector));
            all.insert(0, (namespace.to_owned(), selector, usage));
        }
        self.shared.mark(|m| {
            m.all.insert(Kind::HorizontalPodAutoscaler);
        });
        Ok(())
    }

    /// How many object syncs the controllers (and the kubelet) have run: it stays put while
    /// nothing changes.
    #[must_use]
    pub fn syncs(&self) -> u64 {
        self.shared.syncs.load(Ordering::Relaxed)
    }
}

/// The controller task: waits for events, timers or wake-ups, then runs a pass over what they
/// marked.
async fn run(
    api: Weak<ApiServer>,
    shared: Arc<Shared>,
    mut events: tokio::sync::broadcast::Receiver<Arc<Event>>,
) {
    let mut marks = Marks::everything();
    let mut timers = Timers::default();
    // The objects of the watched kinds, read once and kept current by the events after the
    // resourceVersion they were read at (as an informer's cache; read again after a lag).
    let mut kept: Option<(Snapshot, u64)> = None;
    let seen = |e: &Event, marks: &mut Marks, kept: &mut Option<(Snapshot, u64)>| {
        on_event(e, marks, &shared);
        if let Some((snap, rv)) = kept
            && e.rv > *rv
        {
            snap.apply(e);
        }
    };
    loop {
        if marks.is_empty() {
            let wait = timers.next().map_or(Duration::from_secs(3600), |at| {
                Duration::from_millis(u64::try_from(at - shared.now()).unwrap_or(0))
            });
            tokio::select! {
                ev = events.recv() => match ev {
                    Ok(e) => seen(&e, &mut marks, &mut kept),
                    Err(RecvError::Lagged(_)) => (marks, kept) = (Marks::everything(), None),
                    Err(RecvError::Closed) => return,
                },
                () = shared.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
        // Take every event already there, so a burst makes one pass.
        loop {
            match events.try_recv() {
                Ok(e) => seen(&e, &mut marks, &mut kept),
                Err(TryRecvError::Lagged(_)) => (marks, kept) = (Marks::everything(), None),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Closed) => return,
            }
        }
        marks.merge(shared.take_pending());
        for key in timers.take_due(shared.now()) {
            marks.keys.insert(key);
        }
        if marks.is_empty() {
            continue;
        }
        let Some(api) = api.upgrade() else { return };
        let (snap, rv) = kept.take().unwrap_or_else(|| Snapshot::take_at(&api));
        let snap = pass(&api, &shared, std::mem::take(&mut marks), &mut timers, snap);
        kept = Some((snap, rv));
        drop(api);
        // Let the rest of the runtime (and the test) in between passes.
        tokio::task::yield_now().await;
    }
}

/// Marks what a store event concerns.
fn on_event(e: &Event, marks: &mut Marks, shared: &Shared) {
    let Some(kind) = Kind::from_resource(&e.key.group, &e.key.plural) else {
        return;
    };
    marks.object(kind, &e.object);
    if let Some(prev) = &e.previous {
        // An owner reference that changed concerns the previous controller too.
        if util::controller_ref(prev) != util::controller_ref(&e.object) {
            marks.object(kind, prev);
        }
    }
    if kind == Kind::Pod && e.kind == crate::store::EventType::Deleted {
        shared
            .handled
            .lock()
            .expect("kubelet lock")
            .remove(util::uid(&e.object));
    }
}

/// One pass over `snap`: syncs the marked objects, kind by kind; returns the snapshot with the
/// pass's writes.
fn pass(
    api: &Arc<ApiServer>,
    shared: &Shared,
    mut todo: Marks,
    timers: &mut Timers,
    snap: Snapshot,
) -> Snapshot {
    let mut ctx = Ctx::over(api, shared, timers, snap);
    for kind in std::mem::take(&mut todo.all) {
        todo.keys.extend(ctx.snap.keys(kind));
    }
    for kind in [
        Kind::Pod,
        Kind::ReplicaSet,
        Kind::Deployment,
        Kind::DaemonSet,
        Kind::Job,
        Kind::CronJob,
        Kind::HorizontalPodAutoscaler,
    ] {
        // Marks from this pass's own writes (e.g. a pod the kubelet readied marks its
        // ReplicaSet) are synced in the same pass when their kind comes later.
        let mut keys: BTreeSet<ObjKey> = take_kind(&mut todo.keys, kind);
        keys.extend(take_kind(&mut ctx.marks.keys, kind));
        if kind == Kind::Pod {
            let pods: Vec<(String, String)> = keys.into_iter().map(|(_, ns, n)| (ns, n)).collect();
            for (ns, name) in &pods {
                let Some(pod) = ctx.snap.get(Kind::Pod, ns, name) else {
                    continue;
                };
                if let Err(e) = exits::deadline(&mut ctx, &pod) {
                    failed(&mut ctx, (Kind::Pod, ns.clone(), name.clone()), &e);
                }
            }
            for (ns, name, e) in kubelet::sync_all(&mut ctx, &pods) {
                failed(&mut ctx, (Kind::Pod, ns, name), &e);
            }
            continue;
        }
        for key in keys {
            shared.syncs.fetch_add(1, Ordering::Relaxed);
            let (_, ns, name) = &key;
            let result = match kind {
                Kind::ReplicaSet => replicaset::sync(&mut ctx, ns, name),
                Kind::Deployment => deployment::sync(&mut ctx, ns, name),
                Kind::DaemonSet => daemonset::sync(&mut ctx, ns, name),
                Kind::Job => job::sync(&mut ctx, ns, name),
                Kind::CronJob => cronjob::sync(&mut ctx, ns, name),
                Kind::HorizontalPodAutoscaler => hpa::sync(&mut ctx, ns, name),
                Kind::Pod | Kind::Node | Kind::ControllerRevision => Ok(()),
            };
            if let Err(e) = result {
                failed(&mut ctx, key, &e);
            }
        }
    }
    std::mem::take(&mut ctx.snap)
}

fn take_kind(keys: &mut BTreeSet<ObjKey>, kind: Kind) -> BTreeSet<ObjKey> {
    let rest = keys.split_off(&(kind, String::new(), String::new()));
    let mut rest = rest;
    let after = match Kind::ALL.iter().position(|k| *k == kind) {
        Some(p) if p + 1 < Kind::ALL.len() => {
            rest.split_off(&(Kind::ALL[p + 1], String::new(), String::new()))
        }
        _ => BTreeSet::new(),
    };
    keys.extend(after);
    rest
}

/// A sync that failed is tried again: soon after a conflict (someone else wrote the object),
/// a second later otherwise.
fn failed(ctx: &mut Ctx<'_>, key: ObjKey, e: &ApiError) {
    let delay = match e.code {
        404 => return,
        409 => 50,
        _ => {
            tracing::warn!(kind = ?key.0, namespace = %key.1, name = %key.2, error = %e, "simulated controller failed");
            1000
        }
    };
    let at = ctx.now + delay;
    ctx.timers.at(key, at);
}
