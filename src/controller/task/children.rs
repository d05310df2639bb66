//! What the Task controller caches: its tasks' pods (those labelled [`TASK_LABEL`]) and the
//! TaskDefinitions they run, filled by [`super::watch::run`] (one set per watched scope) and read
//! by [`super::load`]. A Task's pods have fixed names (`<task>-1` …), so finding them is a
//! lookup per task, not a scan.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::{
    Resource, ResourceExt,
    runtime::reflector::{ObjectRef, Store},
};

use crate::{
    api::TaskDefinition,
    translate::task::{TASK_LABEL, pod_name},
};

/// The Task controller's stores.
#[derive(Clone)]
pub struct Stores {
    /// Whether every store below has listed once (awaited by any number of reconciles).
    pub listed: crate::controller::caches::Listed,
    /// Pods labelled [`TASK_LABEL`].
    pub pods: Store<Pod>,
    /// The TaskDefinitions.
    pub task_definitions: Store<TaskDefinition>,
}

impl Stores {
    /// Waits until every store has listed once.
    ///
    /// # Errors
    /// [`crate::controller::caches::Stopped`] when a store's writer was dropped (the controller
    /// is stopping).
    pub async fn ready(&self) -> Result<(), crate::controller::caches::Stopped> {
        let pods = self.pods.clone();
        let task_definitions = self.task_definitions.clone();
        self.listed
            .wait(|| async move {
                pods.wait_until_ready().await.is_ok() && task_definitions.wait_until_ready().await.is_ok()
            })
            .await
    }
}

/// The stores of every scope the Task controller runs in, once each has listed; `None` when it
/// runs in none (a reconcile outside the controller, as in unit tests).
pub async fn ready_stores(ctx: &crate::controller::Context) -> Option<Vec<Stores>> {
    crate::controller::caches::ready(&ctx.task_children, |s: Stores| async move {
        s.ready().await.map(|()| s)
    })
    .await
}

/// The cached pod of task `index` of the Task `task` (uid `uid`) in `namespace`: the pod of that
/// name, labelled as the Task's and controlled by it.
#[must_use]
pub fn pod(stores: &[Stores], namespace: &str, task: &str, uid: &str, index: u32) -> Option<Arc<Pod>> {
    let key = ObjectRef::new(&pod_name(task, index)).within(namespace);
    stores
        .iter()
        .find_map(|s| s.pods.get(&key))
        .filter(|p| is_task_pod(p, task, uid))
}

/// Whether `pod` is one of the tasks of the Task `task` with uid `uid`.
#[must_use]
pub fn is_task_pod(pod: &Pod, task: &str, uid: &str) -> bool {
    pod.labels().get(TASK_LABEL).map(String::as_str) == Some(task)
        && pod
            .owner_references()
            .iter()
            .any(|o| o.controller == Some(true) && o.uid == uid)
}

/// The TaskDefinitions of `namespace`, cached.
#[must_use]
pub fn task_definitions(stores: &[Stores], namespace: &str) -> Vec<TaskDefinition> {
    stores
        .iter()
        .flat_map(|s| s.task_definitions.state())
        .filter(|td| td.meta().namespace.as_deref() == Some(namespace))
        .map(|td| (*td).clone())
        .collect()
}
