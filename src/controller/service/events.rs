//! ECS service events (`status.events[]`), in ECS's wording (ecs-reference §2.7), and the
//! Kubernetes Events for the same moments (pure: the clock comes in as `now`).
//!
//! An event is recorded when something changes between the current status and the new one:
//!
//! | moment | message | Kubernetes Event |
//! |---|---|---|
//! | tasks that no event named yet started (placed on a node, a container ran) | `(service web) has started 2 tasks: (task web-7d9-a) (task web-7d9-b).` | Normal `TasksStarted` |
//! | a task cannot be scheduled | `(service web) was unable to place a task because no container instance met all of its requirements. Reason: <the scheduler's message>.` | Warning `UnableToPlaceTask` |
//! | the rollout cannot move | `(service web) was unable to stop or start tasks during a deployment because of the service deployment configuration. Update the minimumHealthyPercent or maximumPercent value and try again.` | Warning `RolloutBlocked` |
//! | PRIMARY becomes COMPLETED | `(service web) (deployment ecs-svc/…) deployment completed.` | Normal `DeploymentCompleted` |
//! | PRIMARY becomes FAILED | `(service web) (deployment ecs-svc/…) deployment failed: tasks failed to start. Reason: CannotPullContainerError: ….` (the reason, ECS's `stoppedReason`, when known) | Warning `DeploymentFailed` |
//! | the breaker rolls back | `(service web) rolling back to deployment ecs-svc/….` (\[INF\]: ECS does not document it) | Warning `RollingBack` |
//! | Ready becomes True | `(service web) has reached a steady state.` | Normal `SteadyState` |
//!
//! As the ECS console does, a warning is not repeated while the same message is among the events
//! since the last steady state. Events are kept newest first, at most [`MAX_EVENTS`] (ECS returns
//! the latest 100). A task counts as started when it was created at or after the oldest kept
//! event and no kept event names it, so that no task is announced twice.

use k8s_openapi::{api::core::v1::Pod, apimachinery::pkg::apis::meta::v1::Time};

use super::ecs_deployments::{COMPLETED, FAILED, PRIMARY};
use crate::api::service::{ServiceDeployment, ServiceEvent};

/// Most events kept in `status.events`.
pub const MAX_EVENTS: usize = 100;

/// Most task names listed in one "has started" message.
const MAX_TASKS_NAMED: usize = 10;

/// Something worth an event: the ECS message and the Kubernetes Event's reason and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Happening {
    /// PascalCase reason of the Kubernetes Event.
    pub reason: &'static str,
    /// Whether the Kubernetes Event is a Warning (else Normal).
    pub warning: bool,
    /// The ECS event message.
    pub message: String,
}

/// What the events are computed from.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// The Service's name.
    pub service: &'a str,
    /// The events of the current status, newest first.
    pub events: &'a [ServiceEvent],
    /// The deployments of the current status.
    pub before: &'a [ServiceDeployment],
    /// The deployments of the new status.
    pub after: &'a [ServiceDeployment],
    /// Whether Ready was True in the current status and is in the new one.
    pub ready_before: bool,
    /// Whether Ready is True in the new status.
    pub ready_after: bool,
    /// The Service's pods.
    pub pods: &'a [Pod],
    /// Why the rollout cannot move, if it cannot (the ECS message).
    pub blocked: Option<&'a str>,
    /// The deployment the circuit breaker rolls back to, when it does now.
    pub rolling_back_to: Option<&'a str>,
    /// While the breaker's rollback is in effect: the failed task definition and the one rolled
    /// back to (`family:revision` each).
    pub rolled_back: Option<(&'a str, &'a str)>,
    /// Why the failed deployment's tasks failed, in ECS's words, when known.
    pub failed_reason: Option<&'a str>,
    /// The task replaced now because an essential container stopped, and that container.
    pub replaced: Option<(&'a str, &'a str)>,
}

/// The happenings between the current status and the new one, in the order they are recorded
/// (the last is the newest).
#[must_use]
pub fn happenings(o: &Observed<'_>) -> Vec<Happening> {
    let name = o.service;
    let mut out = Vec::new();
    let since_steady: Vec<&str> = o
        .events
        .iter()
        .take_while(|e| !e.message.ends_with(STEADY))
        .map(|e| e.message.as_str())
        .collect();
    let warn = |out: &mut Vec<Happening>, reason: &'static str, message: String| {
        if !since_steady.contains(&message.as_str()) {
            out.push(Happening {
                reason,
                warning: true,
                message,
            });
        }
    };

    let oldest = o.events.last().map(|e| e.created_at.0);
    let mut started: Vec<&str> = o
        .pods
        .iter()
        .filter(|p| has_started(p))
        .filter(|p| {
            let created = p.metadata.creation_timestamp.as_ref().map(|t| t.0);
            oldest.is_none_or(|oldest| created.is_some_and(|c| c >= oldest))
        })
        .filter_map(|p| p.metadata.name.as_deref())
        .filter(|n| {
            let named = format!("(task {n})");
            !o.events.iter().any(|e| e.message.contains(&named))
        })
        .collect();
    started.sort_unstable();
    for chunk in started.chunks(MAX_TASKS_NAMED) {
        let tasks: Vec<String> = chunk.iter().map(|n| format!("(task {n})")).collect();
        out.push(Happening {
            reason: "TasksStarted",
            warning: false,
            message: format!(
                "(service {name}) has started {} task{}: {}.",
                chunk.len(),
                if chunk.len() == 1 { "" } else { "s" },
                tasks.join(" ")
            ),
        });
    }

    if let Some((task, container)) = o.replaced {
        out.push(Happening {
            reason: "TaskStopped",
            warning: true,
            message: format!(
                "(service {name}) has stopped 1 running tasks: (task {task}). Essential container in task exited: {container}."
            ),
        });
    }

    if let Some(reason) = super::stopped_reason::unschedulable(o.pods) {
        warn(
            &mut out,
            "UnableToPlaceTask",
            format!(
                "(service {name}) was unable to place a task because no container instance met all of \
                 its requirements. Reason: {reason}."
            ),
        );
    }
    if let Some(blocked) = o.blocked {
        warn(&mut out, "RolloutBlocked", blocked.to_owned());
    }

    for d in o.after.iter().filter(|d| d.status == PRIMARY) {
        let before = o.before.iter().find(|b| b.id == d.id);
        let newly = |state: &str| {
            d.rollout_state.as_deref() == Some(state)
                && !before.is_some_and(|b| b.status == PRIMARY && b.rollout_state.as_deref() == Some(state))
        };
        if newly(FAILED) {
            out.push(Happening {
                reason: "DeploymentFailed",
                warning: true,
                message: match o.failed_reason {
                    Some(reason) => format!(
                        "(service {name}) (deployment {}) deployment failed: tasks failed to start. \
                         Reason: {reason}.",
                        d.id
                    ),
                    None => format!(
                        "(service {name}) (deployment {}) deployment failed: tasks failed to start.",
                        d.id
                    ),
                },
            });
        }
        if newly(COMPLETED) {
            out.push(Happening {
                reason: "DeploymentCompleted",
                warning: false,
                message: format!("(service {name}) (deployment {}) deployment completed.", d.id),
            });
        }
    }
    if let Some(to) = rolling_back(o, &since_steady, &out) {
        out.push(Happening {
            reason: "RollingBack",
            warning: true,
            message: format!("(service {name}) rolling back to deployment {to}."),
        });
    }
    if o.ready_after && !o.ready_before {
        out.push(Happening {
            reason: "SteadyState",
            warning: false,
            message: format!("(service {name}) has reached a steady state."),
        });
    }
    out
}

/// The deployment the circuit breaker rolls back to, when the new status is the first to say
/// so:
/// - the breaker trips now, and no event since the last steady state (`since_steady`) said it
///   rolls back (a reconcile may trip it again from a cache one write behind the one that
///   tripped it);
/// - or a rollback is in effect with its target PRIMARY in the new status, and it was never
///   announced: the newest of the failure, the announcement and the last steady state among the
///   events (`out`, this status's, then the earlier ones) is the failure; or there is none and
///   the status before still had the failed revision PRIMARY. (The reconcile that tripped the
///   breaker may have lost its status write, to an error or a crash after the rollback's
///   apply; and a status in between may have shown the failure before the target was PRIMARY.)
fn rolling_back<'a>(o: &Observed<'a>, since_steady: &[&str], out: &[Happening]) -> Option<&'a str> {
    if o.rolling_back_to.is_some() {
        let announced = since_steady.iter().any(|m| m.contains(ROLLING_BACK));
        return o.rolling_back_to.filter(|_| !announced);
    }
    let (failed, target) = o.rolled_back?;
    let primary = |ds: &'a [ServiceDeployment]| ds.iter().find(|d| d.status == PRIMARY);
    let now_target = primary(o.after).filter(|d| d.task_definition == target)?;
    let newest_first = out
        .iter()
        .rev()
        .map(|h| h.message.as_str())
        .chain(o.events.iter().map(|e| e.message.as_str()));
    let mut failure_recorded = false;
    for message in newest_first {
        if message.contains(ROLLING_BACK) {
            return None;
        }
        if message.contains(") deployment failed") {
            failure_recorded = true;
            break;
        }
        if message.ends_with(STEADY) {
            break;
        }
    }
    let was_failed = primary(o.before).is_some_and(|d| d.task_definition == failed);
    if !failure_recorded && !was_failed {
        return None;
    }
    let rolled_to = o
        .before
        .iter()
        .find(|d| d.task_definition == target)
        .unwrap_or(now_target);
    Some(rolled_to.id.as_str())
}

/// What the rollback's announcement says, after the service's name.
const ROLLING_BACK: &str = ") rolling back to deployment ";

/// How the steady state's event ends.
const STEADY: &str = "has reached a steady state.";

/// Whether `pod`'s task has started: placed on a node, with a container that ran (running now,
/// or terminated). A task that cannot be placed, or whose image cannot be pulled, has not.
fn has_started(pod: &Pod) -> bool {
    let placed = pod.spec.as_ref().is_some_and(|s| s.node_name.is_some());
    let ran = super::stopped_reason::container_statuses(pod).any(|c| {
        c.state
            .as_ref()
            .is_some_and(|st| st.running.is_some() || st.terminated.is_some())
            || c.last_state.as_ref().is_some_and(|st| st.terminated.is_some())
    });
    placed && ran
}

/// An event id: a UUID-shaped hash of the service, the time and the message (ECS ids are UUIDs;
/// a hash keeps the status a function of what happened).
#[must_use]
pub fn event_id(service: &str, at: &Time, message: &str) -> String {
    let bytes = || {
        service
            .bytes()
            .chain([0])
            .chain(at.0.as_second().to_be_bytes())
            .chain(message.bytes())
    };
    let parts = [
        crate::fnv::hash(bytes()),
        crate::fnv::hash_from(0x6c62_272e_07bb_0142, bytes()),
    ];
    let hex = format!("{:016x}{:016x}", parts[0], parts[1]);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `events` with `new` recorded at `now`, newest first, at most [`MAX_EVENTS`].
#[must_use]
pub fn record(service: &str, events: &[ServiceEvent], new: &[Happening], now: &Time) -> Vec<ServiceEvent> {
    // (An event already recorded, as when a reconcile read a status one write behind, has the
    // same id: it is not recorded twice.)
    let mut out: Vec<ServiceEvent> = new
        .iter()
        .rev()
        .map(|h| ServiceEvent {
            id: event_id(service, now, &h.message),
            created_at: now.clone(),
            message: h.message.clone(),
        })
        .filter(|e| !events.iter().any(|old| old.id == e.id))
        .collect();
    out.extend(events.iter().cloned());
    out.truncate(MAX_EVENTS);
    out
}

#[cfg(test)]
mod tests {
    use k8s_openapi::{
        api::core::v1::{PodCondition, PodStatus},
        jiff::Timestamp,
    };

    use super::*;

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(1_800_000_000 + seconds).expect("time"))
    }

    /// Task `name` created at `created`: unschedulable with that message, else placed on a node
    /// with its container running.
    fn pod(name: &str, created: i64, unschedulable: Option<&str>) -> Pod {
        let mut pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name},
            "spec": {"nodeName": "node-1", "containers": []},
            "status": {"containerStatuses": [{"name": "app", "image": "x", "imageID": "",
                "ready": true, "restartCount": 0, "state": {"running": {}}}]}
        }))
        .expect("a pod");
        pod.metadata.creation_timestamp = Some(at(created));
        if let Some(m) = unschedulable {
            pod.spec = None;
            pod.status = Some(PodStatus {
                conditions: Some(vec![PodCondition {
                    type_: "PodScheduled".into(),
                    status: "False".into(),
                    reason: Some("Unschedulable".into()),
                    message: Some(m.into()),
                    ..PodCondition::default()
                }]),
                ..PodStatus::default()
            });
        }
        pod
    }

    /// `name` placed on a node, its container waiting to be pulled: not started.
    fn pulling(name: &str, created: i64) -> Pod {
        let mut pod = pod(name, created, None);
        pod.status = Some(
            serde_json::from_value(
                serde_json::json!({"containerStatuses": [{"name": "app", "image": "x",
                "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ErrImagePull"}}}]}),
            )
            .expect("a status"),
        );
        pod
    }

    fn event(message: &str, at_: i64) -> ServiceEvent {
        ServiceEvent {
            id: "x".into(),
            created_at: at(at_),
            message: message.into(),
        }
    }

    fn observed<'a>(events: &'a [ServiceEvent], pods: &'a [Pod]) -> Observed<'a> {
        Observed {
            service: "web",
            events,
            before: &[],
            after: &[],
            ready_before: false,
            ready_after: false,
            pods,
            blocked: None,
            rolling_back_to: None,
            rolled_back: None,
            failed_reason: None,
            replaced: None,
        }
    }

    fn messages(h: &[Happening]) -> Vec<&str> {
        h.iter().map(|h| h.message.as_str()).collect()
    }

    #[test]
    fn new_tasks_are_announced_once() {
        let pods = [pod("web-b", 10, None), pod("web-a", 10, None)];
        let first = happenings(&observed(&[], &pods));
        assert_eq!(
            messages(&first),
            ["(service web) has started 2 tasks: (task web-a) (task web-b)."]
        );
        let events = record("web", &[], &first, &at(10));
        assert!(happenings(&observed(&events, &pods)).is_empty());
        // One more task; and one older than every kept event is not news.
        let pods = [
            pod("web-a", 10, None),
            pod("web-c", 20, None),
            pod("web-old", 5, None),
        ];
        assert_eq!(
            messages(&happenings(&observed(&events, &pods))),
            ["(service web) has started 1 task: (task web-c)."]
        );
        // Only tasks that started: not one waiting for a node, nor one whose image cannot be
        // pulled; once it runs, it is announced.
        let pods = [
            pod("web-d", 30, Some("0/3 nodes are available")),
            pulling("web-e", 30),
        ];
        assert!(
            !messages(&happenings(&observed(&events, &pods)))
                .iter()
                .any(|m| m.contains("has started")),
        );
        let pods = [pod("web-e", 30, None)];
        assert_eq!(
            messages(&happenings(&observed(&events, &pods))),
            ["(service web) has started 1 task: (task web-e)."]
        );
    }

    #[test]
    fn unplaceable_tasks_are_reported_with_the_schedulers_reason_once_until_steady() {
        let why = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.";
        let pods = [pod("web-a", 10, Some(why))];
        let events = [event("(service web) has started 1 task: (task web-a).", 10)];
        let got = happenings(&observed(&events, &pods));
        let want = "(service web) was unable to place a task because no container instance met all of its \
                    requirements. Reason: 0/3 nodes are available: 3 node(s) didn't match Pod's node \
                    affinity/selector.";
        assert_eq!(messages(&got), [want]);
        assert!(got[0].warning);
        assert_eq!(got[0].reason, "UnableToPlaceTask");
        // Not repeated while it is among the events since the last steady state...
        let events = record("web", &events, &got, &at(12));
        assert!(happenings(&observed(&events, &pods)).is_empty());
        // ...but repeated after one.
        let steady = [event("(service web) has reached a steady state.", 13)];
        let events = record("web", &events, &[], &at(13));
        let mut after_steady = steady.to_vec();
        after_steady.extend(events);
        assert_eq!(messages(&happenings(&observed(&after_steady, &pods))), [want]);
    }

    #[test]
    fn deployments_completing_failing_and_rolling_back() {
        let primary = |id: &str, state: &str| ServiceDeployment {
            id: id.into(),
            status: PRIMARY.into(),
            rollout_state: Some(state.into()),
            ..ServiceDeployment::default()
        };
        let before = [primary("ecs-svc/1", "IN_PROGRESS")];
        let after = [primary("ecs-svc/1", COMPLETED)];
        let o = Observed {
            before: &before,
            after: &after,
            ready_after: true,
            ..observed(&[], &[])
        };
        assert_eq!(
            messages(&happenings(&o)),
            [
                "(service web) (deployment ecs-svc/1) deployment completed.",
                "(service web) has reached a steady state."
            ]
        );
        // Completed already: nothing new.
        let o = Observed {
            before: &after,
            after: &after,
            ready_before: true,
            ready_after: true,
            ..observed(&[], &[])
        };
        assert!(happenings(&o).is_empty());
        let failed = [primary("ecs-svc/2", FAILED)];
        let o = Observed {
            before: &before,
            after: &failed,
            rolling_back_to: Some("ecs-svc/1"),
            ..observed(&[], &[])
        };
        let got = happenings(&o);
        assert_eq!(
            messages(&got),
            [
                "(service web) (deployment ecs-svc/2) deployment failed: tasks failed to start.",
                "(service web) rolling back to deployment ecs-svc/1."
            ]
        );
        assert!(got.iter().all(|h| h.warning));
    }

    #[test]
    fn a_rollback_whose_status_was_lost_is_announced_by_the_next_once() {
        let rolls_back = |o: &Observed<'_>| {
            messages(&happenings(o))
                .iter()
                .any(|m| m.contains("rolling back"))
        };
        let deployment = |id: &str, status: &str, td: &str, state: &str| ServiceDeployment {
            id: id.into(),
            status: status.into(),
            task_definition: td.into(),
            rollout_state: Some(state.into()),
            ..ServiceDeployment::default()
        };
        // The status still shows revision 2 rolling out beside revision 1's completed
        // deployment; the breaker tripped in a reconcile whose status never got written.
        let before = [
            deployment("ecs-svc/2", PRIMARY, "web:2", "IN_PROGRESS"),
            deployment("ecs-svc/1", "ACTIVE", "web:1", COMPLETED),
        ];
        let after = [
            deployment("ecs-svc/3", PRIMARY, "web:1", "IN_PROGRESS"),
            deployment("ecs-svc/2", "ACTIVE", "web:2", FAILED),
        ];
        let o = Observed {
            before: &before,
            after: &after,
            rolled_back: Some(("web:2", "web:1")),
            ..observed(&[], &[])
        };
        assert!(
            messages(&happenings(&o)).contains(&"(service web) rolling back to deployment ecs-svc/1."),
            "{:?}",
            messages(&happenings(&o))
        );
        // The usual path: the reconcile that tripped the breaker announced it (its status has
        // the failed revision PRIMARY and the event); the next, which runs the rollback, does
        // not announce it again.
        let tripped = [event("(service web) rolling back to deployment ecs-svc/1.", 5)];
        let o = Observed {
            events: &tripped,
            ..o
        };
        assert!(!rolls_back(&o), "{:?}", messages(&happenings(&o)));
        // Nor once the status shows the target PRIMARY.
        let o = Observed {
            events: &[],
            before: &after,
            ..o
        };
        assert!(!rolls_back(&o));
        // A status between showed the failure (revision 2 PRIMARY and FAILED) without the
        // announcement, and the target is PRIMARY now (seen once in CI, after a leader crash):
        // announced now, once.
        let failure = event(
            "(service web) (deployment ecs-svc/2) deployment failed: tasks failed to start.",
            6,
        );
        let steady = event("(service web) has reached a steady state.", 4);
        let shown = [failure.clone(), steady.clone()];
        let o = Observed {
            events: &shown,
            before: &after,
            ..o
        };
        assert!(rolls_back(&o), "{:?}", messages(&happenings(&o)));
        // Announced after the failure: not again, before or after the next steady state.
        let announced = [
            event("(service web) rolling back to deployment ecs-svc/1.", 7),
            failure.clone(),
            steady.clone(),
        ];
        assert!(!rolls_back(&Observed {
            events: &announced,
            ..o
        }));
        let steady_again = [
            event("(service web) has reached a steady state.", 9),
            event("(service web) (deployment ecs-svc/3) deployment completed.", 8),
            announced[0].clone(),
            failure.clone(),
        ];
        assert!(!rolls_back(&Observed {
            events: &steady_again,
            ..o
        }));
        // A rollback in effect is announced only with the target PRIMARY (not, say, while a
        // revision 3 of the user's replaces the failed one).
        let fixed = [deployment("ecs-svc/4", PRIMARY, "web:3", "IN_PROGRESS")];
        let o = Observed {
            before: &before,
            after: &fixed,
            rolled_back: Some(("web:2", "web:1")),
            ..observed(&[], &[])
        };
        assert!(!rolls_back(&o));
    }

    #[test]
    fn events_are_newest_first_bounded_and_have_uuid_shaped_ids() {
        let old: Vec<ServiceEvent> = (0..MAX_EVENTS as i64)
            .map(|i| event(&format!("e{i}"), i))
            .collect();
        let new = [
            Happening {
                reason: "A",
                warning: false,
                message: "first".into(),
            },
            Happening {
                reason: "B",
                warning: false,
                message: "second".into(),
            },
        ];
        let got = record("web", &old, &new, &at(500));
        assert_eq!(got.len(), MAX_EVENTS);
        assert_eq!(
            (
                got[0].message.as_str(),
                got[1].message.as_str(),
                got[2].message.as_str()
            ),
            ("second", "first", "e0")
        );
        let id = &got[0].id;
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
        assert_ne!(got[0].id, got[1].id);
        assert_eq!(got[0].id, event_id("web", &at(500), "second"));
        // Recording the same happening at the same time again adds nothing.
        assert_eq!(record("web", &got, &new, &at(500)), got);
    }
}
