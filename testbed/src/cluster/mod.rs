//! A tiny simulated cluster on top of the API server double: Nodes the test creates, and
//! controllers that turn Deployments, ReplicaSets, DaemonSets, Jobs and CronJobs into Pods the
//! way kube-controller-manager does (enough for status to move). It does not schedule and runs
//! no containers: tests set pod phases, container states and readiness (or ask the simulated
//! kubelet to do it for every new pod).

mod daemonset;
mod deployment;
mod job;
mod kubelet;
mod replicaset;
mod util;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

pub use kubelet::PodOutcome;

use crate::{
    api::{ApiError, ApiServer, WriteOptions},
    schema::Gvk,
};

/// The field manager the simulated controllers write with.
pub const MANAGER: &str = "kube-controller-manager";

/// Handle to the simulated cluster.
#[derive(Debug, Clone)]
pub struct SimCluster {
    api: Arc<ApiServer>,
    outcome: Arc<Mutex<Option<PodOutcome>>>,
}

impl SimCluster {
    /// Starts the simulated controllers on `api`.
    #[must_use]
    pub fn start(api: &Arc<ApiServer>) -> Self {
        let weak = Arc::downgrade(api);
        let outcome: Arc<Mutex<Option<PodOutcome>>> = Arc::new(Mutex::new(None));
        let kubelet_outcome = outcome.clone();
        tokio::spawn(async move {
            let Some(first) = weak.upgrade() else { return };
            let mut events = first.store.lock().subscribe();
            drop(first);
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tokio::select! {
                    ev = events.recv() => if let Err(RecvError::Closed) = ev {
                        return;
                    },
                    _ = tick.tick() => {}
                }
                // Coalesce a burst of events into one pass.
                while let Ok(_) | Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) =
                    events.try_recv()
                {}
                let Some(api) = weak.upgrade() else { return };
                reconcile_all(&api, &kubelet_outcome);
            }
        });
        Self {
            api: api.clone(),
            outcome,
        }
    }

    /// The API server.
    #[must_use]
    pub fn api(&self) -> &Arc<ApiServer> {
        &self.api
    }

    /// Adds a Node with `labels`, allocatable `cpu`/`memory` (e.g. "4", "16Gi") and `taints`.
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
        let rt = self
            .api
            .resource_type(&Gvk::new("", "v1", "Node"))
            .expect("nodes are built in");
        let body = json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels},
            "spec": {"taints": taints, "providerID": format!("aws:///us-east-1a/i-{name}")},
        });
        let node = self.api.create(&rt, None, body, &opts())?.object;
        let status = json!({"status": {
            "capacity": {"cpu": cpu, "memory": memory, "pods": "110"},
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
        }});
        self.api
            .patch(
                &rt,
                None,
                name,
                Some("status"),
                crate::patch::PatchType::Merge,
                &status,
                &opts(),
            )
            .map(|w| w.object)
            .or(Ok(node))
    }

    /// Makes the simulated kubelet drive every new pod (and every pod still pending) to
    /// `outcome`.
    pub fn kubelet(&self, outcome: PodOutcome) {
        *self.outcome.lock().expect("kubelet lock") = Some(outcome);
    }

    /// Sets one pod's phase, readiness and container states as `outcome` describes.
    ///
    /// # Errors
    /// When the pod does not exist.
    pub fn set_pod(&self, namespace: &str, name: &str, outcome: PodOutcome) -> Result<Value, ApiError> {
        kubelet::set_pod(&self.api, namespace, name, outcome)
    }

    /// Pods in `namespace` matching `label_selector`.
    ///
    /// # Errors
    /// For a bad selector.
    pub fn pods(&self, namespace: &str, label_selector: &str) -> Result<Vec<Value>, ApiError> {
        util::pods(&self.api, Some(namespace), Some(label_selector))
    }

    /// Creates a Job from a CronJob now, as the CronJob controller does at a scheduled time.
    ///
    /// # Errors
    /// When the CronJob does not exist.
    pub fn trigger_cronjob(&self, namespace: &str, name: &str) -> Result<Value, ApiError> {
        job::trigger_cronjob(&self.api, namespace, name)
    }
}

fn opts() -> WriteOptions {
    WriteOptions {
        field_manager: MANAGER.to_owned(),
        ..WriteOptions::default()
    }
}

/// One pass of every simulated controller.
fn reconcile_all(api: &Arc<ApiServer>, outcome: &Mutex<Option<PodOutcome>>) {
    for (name, result) in [
        ("deployment", deployment::reconcile(api)),
        ("replicaset", replicaset::reconcile(api)),
        ("daemonset", daemonset::reconcile(api)),
        ("job", job::reconcile(api)),
        ("kubelet", kubelet::reconcile(api, outcome)),
    ] {
        if let Err(e) = result {
            // Conflicts are expected when objects change under a controller; the next pass retries.
            if e.code != 409 && e.code != 404 {
                tracing::warn!(controller = name, error = %e, "simulated controller failed");
            }
        }
    }
}
