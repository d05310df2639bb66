//! Build (pure): the objects and writes a reconcile's plan asks for — the pods of the tasks to
//! start (owned by the Task, from [`crate::translate::task::task_pods`], as `render` shows them),
//! the ServiceAccount of an overridden task role, and the patch that stops each task in place.
//!
//! Stopping in place: the pod gets the stop code, the stopped reason and the time as annotations
//! ([`STOP_CODE_ANNOTATION`] …), and an `activeDeadlineSeconds` of 1 s, which has passed (the
//! deadline counts from the pod's start; 1 is never more than a deadline set before, so a second
//! stop from a stale cache is accepted too). The kubelet then stops its containers as it stops any pod past its deadline —
//! SIGTERM, then SIGKILL after the pod's `terminationGracePeriodSeconds` (the task definition's
//! longest `stopTimeout`) — and the pod ends `Failed`, with every container's exit code kept: the
//! task stays describable, as a stopped ECS task does. (A pod's `activeDeadlineSeconds` may be
//! set, or lowered, on a running pod.)
//!
//! Each pod records the Task generation that started it ([`STARTED_GENERATION_ANNOTATION`]) and
//! the revision it runs, so that the status can be told from the pods alone (after a crash
//! between the create and the status write, or from a Task read before its status was).

use std::sync::Arc;

use k8s_openapi::{api::core::v1::Pod, jiff::Timestamp};
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};

use super::decide::Plan;
use crate::{
    api::Task,
    controller::unchanged,
    translate::task::{
        STARTED_GENERATION_ANNOTATION, STOP_CODE_ANNOTATION, STOPPED_REASON_ANNOTATION,
        STOPPING_AT_ANNOTATION, TaskObjects,
    },
};

/// What apply writes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Desired {
    /// Pods to create, owned by the Task.
    pub pods: Vec<Pod>,
    /// The ServiceAccount of an overridden task role, owned by the Task, with the applied hash.
    pub service_account: Option<Value>,
    /// Merge patches that stop tasks in place: (pod name, patch).
    pub stops: Vec<(String, Value)>,
    /// Pods to delete.
    pub deletes: Vec<Arc<Pod>>,
}

/// The writes of `plan` for `task`, the pods from `objects` (the translation, when tasks are to
/// be started), at `now`.
#[must_use]
pub fn build(task: &Task, plan: &Plan, objects: Option<&TaskObjects>, now: Timestamp) -> Desired {
    let owner = task.controller_owner_ref(&());
    let pods = objects
        .map(|o| {
            o.pods
                .iter()
                .filter(|p| {
                    plan.start.iter().any(|i| {
                        p.metadata.name.as_deref()
                            == Some(&crate::translate::task::pod_name(&task.name_any(), *i))
                    })
                })
                .cloned()
                .map(|mut p| {
                    p.metadata.owner_references = owner.clone().map(|o| vec![o]);
                    // (Which generation started it: the status can be told again from the pods.)
                    if let Some(g) = task.metadata.generation {
                        p.metadata
                            .annotations
                            .get_or_insert_with(Default::default)
                            .insert(STARTED_GENERATION_ANNOTATION.to_owned(), g.to_string());
                    }
                    p
                })
                .collect()
        })
        .unwrap_or_default();
    let service_account = objects.and_then(|o| o.service_account.clone()).map(|mut sa| {
        if let Some(o) = &owner {
            sa["metadata"]["ownerReferences"] = json!([o]);
        }
        sa["metadata"]["namespace"] = json!(task.namespace());
        let hash = unchanged::hash(&sa);
        sa["metadata"]["annotations"][unchanged::APPLIED_HASH] = json!(hash);
        sa
    });
    let stops = plan
        .stops
        .iter()
        .map(|s| {
            (
                s.pod.name_any(),
                json!({
                    "metadata": {"annotations": {
                        STOP_CODE_ANNOTATION: s.stop.code,
                        STOPPED_REASON_ANNOTATION: s.stop.reason,
                        STOPPING_AT_ANNOTATION: now.to_string(),
                    }},
                    // (1 s: past for any pod that started, and never more than a deadline set
                    // before, which the API server would refuse.)
                    "spec": {"activeDeadlineSeconds": 1},
                }),
            )
        })
        .collect();
    Desired {
        pods,
        service_account,
        stops,
        deletes: plan.deletes.clone(),
    }
}
