//! Status (pure compute, then one write when it changed): a CapacityProvider in ECS's words
//! (`status` ACTIVE or DEPROVISIONING, `type`, `updateStatus`), what it selects and holds (nodes,
//! allocatable and requested capacity, running and pending tasks, `CapacityProviderReservation`,
//! [`crate::translate::capacity::usage`]), the Services that use it, and Ready / Progressing /
//! Degraded with `observedGeneration`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
};

use super::{FIELD_MANAGER, load::Loaded};
use crate::{
    api::{CapacityProvider, CapacityProviderStatus, condition},
    controller::{
        Context, Error,
        status::{same_status, status_patch},
    },
    translate::capacity::{
        provider::{ecs_type, kind},
        usage::{cpu_quantity, memory_quantity, usage},
    },
};

/// ECS's `status` of a provider that can be used.
pub const ACTIVE: &str = "ACTIVE";
/// ECS's `status` of a provider being deleted.
pub const DEPROVISIONING: &str = "DEPROVISIONING";
/// Reason: the provider can be used.
pub const REASON_ACTIVE: &str = "Active";
/// Reason: the provider is being deleted (held while Services use it).
pub const REASON_DEPROVISIONING: &str = "Deprovisioning";
/// Reason: the provider's name breaks CreateCapacityProvider's rules.
pub const REASON_INVALID_NAME: &str = "InvalidCapacityProviderName";
/// Reason: some of its tasks wait for a node.
pub const REASON_TASKS_WAITING: &str = "TasksWaitingForCapacity";
/// Reason: none of its tasks waits.
pub const REASON_SETTLED: &str = "Settled";

/// The status `cp` should have, holding `loaded`, its name refused for `invalid_name`, keeping
/// `headroom` (what it says of managed scaling's spare capacity), at `now` (the transition time
/// of conditions that change).
#[must_use]
pub fn compute(
    cp: &CapacityProvider,
    loaded: &Loaded,
    invalid_name: Option<&str>,
    headroom: Option<&str>,
    now: &Time,
) -> CapacityProviderStatus {
    let generation = cp.metadata.generation;
    let name = cp.ecs_name();
    let u = usage(&loaded.nodes, &loaded.tasks);
    let deleting = cp.meta().deletion_timestamp.is_some();
    let mut status = cp.status.clone().unwrap_or_default();
    status.observed_generation = generation;
    status.status = Some(if deleting { DEPROVISIONING } else { ACTIVE }.to_owned());
    status.type_ = Some(ecs_type(kind(cp), &name).to_owned());
    status.update_status = Some(
        if deleting {
            "DELETE_IN_PROGRESS"
        } else if generation.unwrap_or(1) <= 1 {
            "CREATE_COMPLETE"
        } else {
            "UPDATE_COMPLETE"
        }
        .to_owned(),
    );
    let selects = cp
        .spec
        .node_selector
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    status.update_status_reason = (deleting && !loaded.users.is_empty()).then(|| {
        format!(
            "The capacity provider is in use by Services {}: remove it from their capacityProviderStrategy (or \
             delete them) to finish its deletion.",
            loaded.users.join(", ")
        )
    });
    status.selects = Some(selects.clone());
    status.nodes = Some(i32::try_from(u.nodes).unwrap_or(i32::MAX));
    status.allocatable_cpu = Some(cpu_quantity(u.allocatable_cpu_millis));
    status.allocatable_memory = Some(memory_quantity(u.allocatable_memory_bytes));
    status.requested_cpu = Some(cpu_quantity(u.requested_cpu_millis));
    status.requested_memory = Some(memory_quantity(u.requested_memory_bytes));
    status.running_tasks = Some(i32::try_from(u.running).unwrap_or(i32::MAX));
    status.pending_tasks = Some(i32::try_from(u.pending).unwrap_or(i32::MAX));
    status.capacity_provider_reservation = Some(i32::try_from(u.reservation).unwrap_or(i32::MAX));
    status.services.clone_from(&loaded.users);
    status.headroom = headroom.map(str::to_owned);

    let selected = if selects.is_empty() {
        "selects every node (no nodeSelector)".to_owned()
    } else {
        format!("selects nodes with {selects}")
    };
    let (ready, degraded) = match (invalid_name, deleting) {
        (Some(why), _) => {
            let message = format!("{why}. Services cannot name it until it is renamed.");
            (
                (false, REASON_INVALID_NAME, message.clone()),
                (true, REASON_INVALID_NAME, message),
            )
        }
        (None, true) => {
            let message = status
                .update_status_reason
                .clone()
                .unwrap_or_else(|| "The capacity provider is being deleted; no Service uses it.".to_owned());
            (
                (false, REASON_DEPROVISIONING, message),
                (false, REASON_ACTIVE, "No problem.".to_owned()),
            )
        }
        (None, false) => (
            (
                true,
                REASON_ACTIVE,
                format!(
                    "{ACTIVE}: {name} {selected}: {} nodes, {} tasks running, {} waiting; CapacityProviderReservation {}.{}",
                    u.nodes,
                    u.running,
                    u.pending,
                    u.reservation,
                    if u.nodes == 0 {
                        " No node matches: label nodes so, or its tasks wait for one."
                    } else {
                        ""
                    }
                ),
            ),
            (false, REASON_ACTIVE, "No problem.".to_owned()),
        ),
    };
    let progressing = if u.pending > 0 {
        (
            true,
            REASON_TASKS_WAITING,
            format!(
                "{} tasks wait for a node of {name} (the cluster's autoscaler adds nodes for them, if it serves these \
                 nodes).",
                u.pending
            ),
        )
    } else if deleting {
        (true, REASON_DEPROVISIONING, "Being deleted.".to_owned())
    } else {
        (false, REASON_SETTLED, "No task waits for a node.".to_owned())
    };
    for (type_, (on, reason, message)) in [
        (condition::READY, ready),
        (condition::PROGRESSING, progressing),
        (condition::DEGRADED, degraded),
    ] {
        condition::set(
            &mut status.conditions,
            condition::new(type_, on, reason, message, generation, now.clone()),
        );
    }
    let (health, reason) = condition::health(&status.conditions);
    status.health = Some(health.to_owned());
    status.health_reason = Some(reason);
    status
}

/// Computes the status of `cp` and writes it when it changed.
///
/// # Errors
/// [`Error::Kube`] when the write fails.
pub async fn update(
    ctx: &Context,
    cp: &CapacityProvider,
    loaded: &Loaded,
    invalid_name: Option<String>,
    headroom: Option<String>,
    now: Time,
) -> Result<(), Error> {
    let status = compute(cp, loaded, invalid_name.as_deref(), headroom.as_deref(), &now);
    if same_status(cp.status.as_ref(), &status) {
        return Ok(());
    }
    let api: Api<CapacityProvider> = Api::all(ctx.client.clone());
    api.patch_status(
        &cp.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(status_patch::<CapacityProvider>(&status)),
    )
    .await?;
    tracing::info!(name = %cp.name_any(), "status updated");
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::translate::capacity::usage::{NodeCapacity, TaskUsage};

    fn t() -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(1_800_000_000).expect("a time"))
    }

    fn provider(deleting: bool) -> CapacityProvider {
        let mut cp: CapacityProvider = serde_json::from_value(json!({
            "apiVersion": "ecsbridge.io/v1alpha1", "kind": "CapacityProvider",
            "metadata": {"name": "fargate-spot", "generation": 1},
            "spec": {"name": "FARGATE_SPOT", "nodeSelector": {"karpenter.sh/capacity-type": "spot"}}
        }))
        .expect("a provider");
        if deleting {
            cp.metadata.deletion_timestamp = Some(t());
        }
        cp
    }

    fn loaded(users: &[&str]) -> Loaded {
        Loaded {
            nodes: vec![NodeCapacity {
                name: "a".into(),
                cpu_millis: 4000,
                memory_bytes: 16 << 30,
            }],
            tasks: vec![
                TaskUsage {
                    node: Some("a".into()),
                    cpu_millis: 250,
                    memory_bytes: 512 << 20,
                },
                TaskUsage {
                    node: None,
                    cpu_millis: 250,
                    memory_bytes: 512 << 20,
                },
            ],
            users: users.iter().map(|u| (*u).to_owned()).collect(),
        }
    }

    #[test]
    fn an_active_provider_reports_in_ecs_terms() {
        let s = compute(&provider(false), &loaded(&["shop/web"]), None, None, &t());
        assert_eq!(s.status.as_deref(), Some("ACTIVE"));
        assert_eq!(s.type_.as_deref(), Some("FARGATE_SPOT"));
        assert_eq!(s.update_status.as_deref(), Some("CREATE_COMPLETE"));
        assert_eq!(s.selects.as_deref(), Some("karpenter.sh/capacity-type=spot"));
        assert_eq!(
            (s.nodes, s.running_tasks, s.pending_tasks),
            (Some(1), Some(1), Some(1))
        );
        assert_eq!(
            s.capacity_provider_reservation,
            Some(200),
            "a task waits: M = 2, N = 1"
        );
        assert_eq!(s.services, ["shop/web"]);
        let ready = condition::find(&s.conditions, condition::READY).expect("Ready");
        assert_eq!(
            (ready.status.as_str(), ready.observed_generation),
            ("True", Some(1))
        );
        let progressing = condition::find(&s.conditions, condition::PROGRESSING).expect("Progressing");
        assert_eq!(progressing.reason, REASON_TASKS_WAITING);
        assert_eq!(s.health.as_deref(), Some("Progressing"));
    }

    #[test]
    fn a_provider_in_use_being_deleted_says_which_services_hold_it() {
        let s = compute(
            &provider(true),
            &loaded(&["shop/web", "team/api"]),
            None,
            None,
            &t(),
        );
        assert_eq!(s.status.as_deref(), Some("DEPROVISIONING"));
        assert_eq!(s.update_status.as_deref(), Some("DELETE_IN_PROGRESS"));
        let ready = condition::find(&s.conditions, condition::READY).expect("Ready");
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", REASON_DEPROVISIONING)
        );
        assert!(
            ready.message.contains("in use by Services shop/web, team/api"),
            "{}",
            ready.message
        );
    }

    #[test]
    fn a_reserved_name_is_degraded_naming_the_field() {
        let s = compute(
            &provider(false),
            &loaded(&[]),
            Some("spec.name: \"ecs-x\" starts with \"ecs\""),
            None,
            &t(),
        );
        let degraded = condition::find(&s.conditions, condition::DEGRADED).expect("Degraded");
        assert_eq!(
            (degraded.status.as_str(), degraded.reason.as_str()),
            ("True", REASON_INVALID_NAME)
        );
        assert!(
            degraded.message.starts_with("spec.name: "),
            "{}",
            degraded.message
        );
        assert_eq!(s.health.as_deref(), Some("Degraded"));
    }
}
