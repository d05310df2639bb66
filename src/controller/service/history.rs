//! What the operator remembers about a Service's rollouts, kept in two annotations of its
//! Deployment so that it survives restarts and a lost status (pure).
//!
//! - [`COMPLETED`]: the last task definition (`family:revision`) every task ran: the
//!   deployment the circuit breaker rolls back to. Recorded when the Deployment's template
//!   changes, from the Deployment as it was, so remembering costs no extra write.
//! - [`FAILED`]: the task definition whose rollout the circuit breaker failed, and
//!   [`FAILED_REASON`] why its tasks failed, in ECS's words ([`super::stopped_reason`]; the
//!   failed tasks are gone after a rollback, the reason stays). While the
//!   Service still resolves to it, the operator does not roll to it again: with `rollback` it
//!   runs [`COMPLETED`] instead, without it the Deployment is paused (ECS launches no more tasks
//!   of a failed deployment). A new revision, or a Service naming another one, clears it.
//!
//! The circuit breaker trips when the PRIMARY deployment is still `IN_PROGRESS` and its
//! `failedTasks` reach the threshold (ecs-reference §2.4).

use k8s_openapi::api::apps::v1::Deployment;

use super::ecs_deployments::{COMPLETED as ROLLED_OUT, PRIMARY, primary_in_progress};
use crate::{
    api::{Service, service::ServiceDeployment},
    translate::{
        labels,
        rollout::{self, Breaker},
    },
};

/// Annotation: the last task definition that rolled out completely.
pub const COMPLETED: &str = "ecsbridge.io/completed-task-definition";
/// Annotation: the task definition whose rollout the circuit breaker failed.
pub const FAILED: &str = "ecsbridge.io/failed-task-definition";
/// Annotation: why the tasks of [`FAILED`] failed, as ECS's `stoppedReason` says it.
pub const FAILED_REASON: &str = "ecsbridge.io/failed-reason";
/// Longest [`FAILED_REASON`] kept.
const MAX_REASON_LEN: usize = 500;

/// The remembered rollouts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// [`COMPLETED`].
    pub completed: Option<String>,
    /// [`FAILED`].
    pub failed: Option<String>,
    /// [`FAILED_REASON`].
    pub failed_reason: Option<String>,
}

/// `family:revision` of the task definition `deployment`'s pod template runs.
#[must_use]
pub fn template_task_definition(deployment: &Deployment) -> Option<String> {
    let template = deployment.spec.as_ref()?.template.metadata.as_ref()?;
    labelled_task_definition(template.labels.as_ref()?)
}

/// `family:revision` of the task definition `pod` runs, from its labels.
#[must_use]
pub fn pod_task_definition(pod: &k8s_openapi::api::core::v1::Pod) -> Option<String> {
    labelled_task_definition(pod.metadata.labels.as_ref()?)
}

/// `family:revision` from a pod's (or pod template's) labels.
fn labelled_task_definition(labels: &std::collections::BTreeMap<String, String>) -> Option<String> {
    Some(format!(
        "{}:{}",
        labels.get(labels::NAME)?,
        labels.get(labels::REVISION)?
    ))
}

/// Whether every task of `deployment` runs its current template and is available.
#[must_use]
pub fn rolled_out(deployment: &Deployment) -> bool {
    let Some(status) = deployment.status.as_ref() else {
        return false;
    };
    let want = deployment.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    status.observed_generation.unwrap_or(0) >= deployment.metadata.generation.unwrap_or(0)
        && status.updated_replicas.unwrap_or(0) >= want
        && status.available_replicas.unwrap_or(0) >= want
        && status.replicas.unwrap_or(0) <= status.updated_replicas.unwrap_or(0)
}

impl History {
    /// What `deployment`'s annotations remember.
    #[must_use]
    pub fn read(deployment: Option<&Deployment>) -> Self {
        let get = |k: &str| {
            deployment
                .and_then(|d| d.metadata.annotations.as_ref())
                .and_then(|a| a.get(k))
                .cloned()
        };
        Self {
            completed: get(COMPLETED),
            failed: get(FAILED),
            failed_reason: get(FAILED_REASON).filter(|_| get(FAILED).is_some()),
        }
    }

    /// The history to write with `svc`'s next template, `svc` resolving to `resolved` and its
    /// Deployment being `live`: what `live` remembers, brought up to date ([`Self::next`]).
    #[must_use]
    pub fn of(svc: &Service, live: Option<&Deployment>, resolved: &str) -> Self {
        Self::read(live).next(live, resolved, svc.deployments())
    }

    /// The task definition the circuit breaker rolls back to from `failed`: the last completed
    /// one, when `breaker` rolls back and it is another one.
    #[must_use]
    pub fn rollback_target(&self, breaker: Option<&Breaker>, failed: &str) -> Option<&str> {
        if !breaker.is_some_and(|b| b.rollback) {
            return None;
        }
        self.completed.as_deref().filter(|c| *c != failed)
    }

    /// Whether the Service, resolving to `resolved`, must not roll to it: it failed.
    #[must_use]
    pub fn failed_now(&self, resolved: &str) -> bool {
        self.failed.as_deref() == Some(resolved)
    }

    /// The history to write with the next template, for a Service resolving to `resolved`,
    /// given the Deployment `current` as it is and the Service's `deployments` (its status).
    #[must_use]
    pub fn next(
        &self,
        current: Option<&Deployment>,
        resolved: &str,
        deployments: &[ServiceDeployment],
    ) -> Self {
        // Only what differs from `resolved`: recorded when the template is about to change, so
        // remembering writes nothing more. The live Deployment may lag behind (a cache): the
        // Service's own deployments say what completed too.
        let completed = current
            .filter(|d| rolled_out(d))
            .and_then(template_task_definition)
            .filter(|running| running != resolved)
            .or_else(|| {
                let completed = |d: &&ServiceDeployment| {
                    d.rollout_state.as_deref() == Some(ROLLED_OUT) && d.task_definition != resolved
                };
                deployments
                    .iter()
                    .filter(completed)
                    .find(|d| d.status == PRIMARY)
                    .or_else(|| {
                        deployments
                            .iter()
                            .filter(completed)
                            .max_by_key(|d| d.created_at.as_ref().map(|t| t.0))
                    })
                    .map(|d| d.task_definition.clone())
            })
            .or_else(|| self.completed.clone());
        let failed = self.failed.clone().filter(|f| f == resolved);
        Self {
            completed,
            failed_reason: self.failed_reason.clone().filter(|_| failed.is_some()),
            failed,
        }
    }

    /// Puts the history on `deployment` (an absent entry is left out, so server-side apply
    /// removes it).
    pub fn annotate(&self, deployment: &mut Deployment) {
        let annotations = deployment
            .metadata
            .annotations
            .get_or_insert_with(Default::default);
        let reason = self
            .failed_reason
            .as_deref()
            .map(|r| crate::controller::status::cut(r, MAX_REASON_LEN));
        for (key, value) in [
            (COMPLETED, &self.completed),
            (FAILED, &self.failed),
            (FAILED_REASON, &reason),
        ] {
            match value {
                Some(v) => {
                    annotations.insert(key.to_owned(), v.clone());
                }
                None => {
                    annotations.remove(key);
                }
            }
        }
    }
}

/// Whether `breaker` fails the rollout of `resolved` now: the PRIMARY deployment among
/// `deployments` runs it, is still `IN_PROGRESS` and has reached the threshold of failed tasks.
#[must_use]
pub fn trips(breaker: Option<&Breaker>, deployments: &[ServiceDeployment], resolved: &str) -> bool {
    let Some(breaker) = breaker else {
        return false;
    };
    deployments.iter().any(|d| {
        primary_in_progress(d)
            && d.task_definition == resolved
            && i64::from(d.failed_tasks) >= i64::from(breaker.threshold)
    })
}

/// The revision a Service asking for `resolved` (`family:revision`) rolls back to, given its
/// Deployment `live`: while the history remembers `resolved` as failed and the circuit breaker
/// rolls back, the last completed revision when it is another one. [`super::load`] reads it,
/// [`super::decide`] runs it.
#[must_use]
pub fn rollback_revision(svc: &Service, live: Option<&Deployment>, resolved: &str) -> Option<i64> {
    let next = History::of(svc, live, resolved);
    next.failed.as_ref()?;
    next.rollback_target(rollout::breaker(&svc.spec).as_ref(), resolved)?
        .rsplit_once(':')?
        .1
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::{
        api::{
            apps::v1::{DeploymentSpec, DeploymentStatus},
            core::v1::PodTemplateSpec,
        },
        apimachinery::pkg::apis::meta::v1::ObjectMeta,
    };

    use super::*;
    use crate::controller::service::ecs_deployments::IN_PROGRESS;

    fn deployment(revision: &str, rolled_out: bool, annotations: &[(&str, &str)]) -> Deployment {
        Deployment {
            metadata: ObjectMeta {
                generation: Some(2),
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            spec: Some(DeploymentSpec {
                replicas: Some(2),
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(BTreeMap::from([
                            (labels::NAME.to_owned(), "web".to_owned()),
                            (labels::REVISION.to_owned(), revision.to_owned()),
                        ])),
                        ..ObjectMeta::default()
                    }),
                    spec: None,
                },
                ..DeploymentSpec::default()
            }),
            status: Some(DeploymentStatus {
                observed_generation: Some(2),
                replicas: Some(if rolled_out { 2 } else { 3 }),
                updated_replicas: Some(2),
                available_replicas: Some(2),
                ..DeploymentStatus::default()
            }),
        }
    }

    #[test]
    fn the_completed_revision_is_taken_from_a_rolled_out_deployment() {
        let none = History::default();
        assert_eq!(
            none.next(Some(&deployment("3", true, &[])), "web:4", &[])
                .completed
                .as_deref(),
            Some("web:3")
        );
        // Still rolling (an old task remains): the earlier record stands.
        let earlier = History {
            completed: Some("web:2".into()),
            failed: None,
            failed_reason: None,
        };
        assert_eq!(
            earlier
                .next(Some(&deployment("3", false, &[])), "web:4", &[])
                .completed
                .as_deref(),
            Some("web:2")
        );
        assert_eq!(
            earlier.next(None, "web:4", &[]).completed.as_deref(),
            Some("web:2")
        );
        // The same revision again: nothing to record (no write once a rollout completes).
        assert_eq!(
            none.next(Some(&deployment("3", true, &[])), "web:3", &[])
                .completed,
            None
        );
    }

    #[test]
    fn a_lagging_deployment_is_made_up_for_by_the_services_own_deployments() {
        let status = |status: &str, td: &str, state: &str| ServiceDeployment {
            status: status.into(),
            task_definition: td.into(),
            rollout_state: Some(state.into()),
            ..ServiceDeployment::default()
        };
        // The cached Deployment does not look rolled out yet, but the Service saw web:3 complete.
        let lagging = deployment("3", false, &[]);
        let none = History::default();
        let primary = [status(PRIMARY, "web:3", "COMPLETED")];
        assert_eq!(
            none.next(Some(&lagging), "web:4", &primary).completed.as_deref(),
            Some("web:3")
        );
        // Mid-rollout of web:4: the ACTIVE web:3 completed earlier.
        let rolling = [
            status(PRIMARY, "web:4", IN_PROGRESS),
            status("ACTIVE", "web:3", "COMPLETED"),
        ];
        assert_eq!(
            none.next(Some(&lagging), "web:4", &rolling).completed.as_deref(),
            Some("web:3")
        );
        // Nothing completed: nothing to record.
        assert_eq!(
            none.next(None, "web:4", &[status(PRIMARY, "web:4", IN_PROGRESS)])
                .completed,
            None
        );
    }

    #[test]
    fn a_failure_is_remembered_only_while_the_service_resolves_to_it() {
        let d = deployment("3", true, &[(COMPLETED, "web:3"), (FAILED, "web:4")]);
        let h = History::read(Some(&d));
        assert_eq!(h.failed.as_deref(), Some("web:4"));
        assert!(h.failed_now("web:4"));
        assert_eq!(h.next(Some(&d), "web:4", &[]).failed.as_deref(), Some("web:4"));
        // A new revision: a new chance.
        assert!(!h.failed_now("web:5"));
        assert_eq!(h.next(Some(&d), "web:5", &[]).failed, None);
    }

    #[test]
    fn annotations_are_written_and_removed() {
        let mut d = deployment(
            "3",
            true,
            &[
                (FAILED, "web:4"),
                (FAILED_REASON, "CannotPullContainerError: x"),
                ("other", "kept"),
            ],
        );
        assert_eq!(
            History::read(Some(&d)).failed_reason.as_deref(),
            Some("CannotPullContainerError: x")
        );
        History {
            completed: Some("web:3".into()),
            failed: None,
            failed_reason: None,
        }
        .annotate(&mut d);
        let a = d.metadata.annotations.clone().expect("annotations");
        assert_eq!(a.get(COMPLETED).map(String::as_str), Some("web:3"));
        assert!(!a.contains_key(FAILED));
        assert!(!a.contains_key(FAILED_REASON));
        // A long reason is cut to what an annotation should hold.
        History {
            completed: None,
            failed: Some("web:4".into()),
            failed_reason: Some("e".repeat(2000)),
        }
        .annotate(&mut d);
        let a = d.metadata.annotations.clone().expect("annotations");
        assert!(a[FAILED_REASON].len() <= 500, "{}", a[FAILED_REASON].len());
        assert_eq!(a.get("other").map(String::as_str), Some("kept"));
    }

    #[test]
    fn the_breaker_trips_on_an_in_progress_primary_at_the_threshold() {
        let breaker = Breaker {
            threshold: 3,
            rollback: true,
            reset_on_healthy_task: true,
        };
        let d = |status: &str, state: &str, failed: i32| ServiceDeployment {
            status: status.into(),
            task_definition: "web:4".into(),
            rollout_state: Some(state.into()),
            failed_tasks: failed,
            replaced_tasks: 0,
            ..ServiceDeployment::default()
        };
        assert!(!trips(Some(&breaker), &[d(PRIMARY, IN_PROGRESS, 2)], "web:4"));
        assert!(trips(Some(&breaker), &[d(PRIMARY, IN_PROGRESS, 3)], "web:4"));
        assert!(!trips(Some(&breaker), &[d(PRIMARY, "COMPLETED", 9)], "web:4"));
        assert!(!trips(Some(&breaker), &[d("ACTIVE", IN_PROGRESS, 9)], "web:4"));
        assert!(!trips(None, &[d(PRIMARY, IN_PROGRESS, 9)], "web:4"));
        // The failures of another revision (one being replaced, or rolled back to) are not the
        // rollout of the revision the Service asks for.
        assert!(!trips(Some(&breaker), &[d(PRIMARY, IN_PROGRESS, 9)], "web:5"));
    }
}
