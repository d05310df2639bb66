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

use super::{FIELD_MANAGER, load::Loaded, node_pool::State};
use crate::{
    api::{CapacityProvider, CapacityProviderStatus, condition},
    controller::{
        Context, Error,
        status::{
            REASON_ALL_FIELDS_TRANSLATED, REASON_FIELDS_NOT_TRANSLATED, same_status, status_patch,
            translated_message,
        },
    },
    translate::capacity::{
        node_pool::NODE_POOL_LABEL,
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
/// Reason: a Managed Instances provider's NodePool cannot be made, as Karpenter is not installed.
pub const REASON_KARPENTER_NOT_INSTALLED: &str = "KarpenterNotInstalled";
/// Reason: the `managedInstancesProvider` breaks ECS's rules.
pub const REASON_INVALID_MANAGED_INSTANCES: &str = "InvalidManagedInstancesProvider";
/// Reason: a NodePool of the provider's name belongs to someone else.
pub const REASON_NODE_POOL_TAKEN: &str = "NodePoolNameTaken";
/// Reason: the operator may not manage NodePools.
pub const REASON_NODE_POOL_FORBIDDEN: &str = "NodePoolForbidden";

/// What the reconcile decided besides what it loaded: the name refused (why), the headroom
/// kept (what the status says of it), and what became of the NodePool.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    /// Why the provider's name is refused, naming the field.
    pub invalid_name: Option<String>,
    /// What the status says of managed scaling's spare capacity.
    pub headroom: Option<String>,
    /// The provider's Karpenter NodePool.
    pub node_pool: State,
}

/// The status `cp` should have, holding `loaded`, with what was `decided`, at `now` (the
/// transition time of conditions that change).
#[must_use]
#[allow(clippy::too_many_lines)]
pub fn compute(
    cp: &CapacityProvider,
    loaded: &Loaded,
    decided: &Decided,
    now: &Time,
) -> CapacityProviderStatus {
    let invalid_name = decided.invalid_name.as_deref();
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
    let previous = cp.status.as_ref().and_then(|s| s.node_pool.clone());
    status.node_pool = match &decided.node_pool {
        State::Applied { name, .. } => Some(name.clone()),
        // The NodePool stays while the provider is held for deletion, and as last applied while
        // its spec is refused: its tasks keep to its nodes (a change of selector would move them).
        State::NotManagedInstances if deleting => previous,
        State::Invalid(_) => previous,
        _ => None,
    };
    // What its tasks select: its nodeSelector, and its NodePool's nodes once it has one.
    let mut selector = cp.spec.node_selector.clone().unwrap_or_default();
    if let Some(name) = &status.node_pool {
        selector.insert(NODE_POOL_LABEL.to_owned(), name.clone());
    }
    let selects = selector
        .iter()
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
    status.headroom.clone_from(&decided.headroom);

    let selected = if selects.is_empty() {
        "selects every node (no nodeSelector)".to_owned()
    } else {
        format!("selects nodes with {selects}")
    };
    let (ready, degraded) = match (invalid_name, deleting, &decided.node_pool) {
        (Some(why), _, _) => {
            let message = format!("{why}. Services cannot name it until it is renamed.");
            (
                (false, REASON_INVALID_NAME, message.clone()),
                (true, REASON_INVALID_NAME, message),
            )
        }
        (None, false, State::Invalid(why)) => {
            let message = format!("{why}. ECS would refuse this provider; fix the field.");
            (
                (false, REASON_INVALID_MANAGED_INSTANCES, message.clone()),
                (true, REASON_INVALID_MANAGED_INSTANCES, message),
            )
        }
        (None, true, _) => {
            let message = status
                .update_status_reason
                .clone()
                .unwrap_or_else(|| "The capacity provider is being deleted; no Service uses it.".to_owned());
            (
                (false, REASON_DEPROVISIONING, message),
                (false, REASON_ACTIVE, "No problem.".to_owned()),
            )
        }
        (None, false, _) => (
            (
                true,
                REASON_ACTIVE,
                format!(
                    "{ACTIVE}: {name} {selected}: {} nodes, {} tasks running, {} waiting; CapacityProviderReservation {}.{}",
                    u.nodes,
                    u.running,
                    u.pending,
                    u.reservation,
                    match &decided.node_pool {
                        State::Applied { name, .. } =>
                            format!(" Karpenter's NodePool {name} launches its nodes."),
                        _ if u.nodes == 0 =>
                            " No node matches: label nodes so, or its tasks wait for one.".to_owned(),
                        _ => String::new(),
                    }
                ),
            ),
            match &decided.node_pool {
                State::NotServed { .. } => (
                    true,
                    REASON_KARPENTER_NOT_INSTALLED,
                    format!(
                        "{name} is a Managed Instances provider, but Karpenter's NodePool kind (karpenter.sh/v1) is \
                         not served: install Karpenter (https://karpenter.sh) for its NodePool. Until then it only \
                         schedules: its tasks run on nodes its nodeSelector matches."
                    ),
                ),
                State::Taken(owner) => (
                    true,
                    REASON_NODE_POOL_TAKEN,
                    format!(
                        "A NodePool named {} exists and is not this provider's (owner: {owner}): rename the provider \
                         (metadata.name) or that NodePool. Until then it only schedules.",
                        cp.name_any()
                    ),
                ),
                State::Forbidden(why) => (
                    true,
                    REASON_NODE_POOL_FORBIDDEN,
                    format!(
                        "The operator may not manage Karpenter's NodePools ({why}): install the chart with \
                         karpenter.enabled=true (the default), or leave managedInstancesProvider out. Until then \
                         it only schedules."
                    ),
                ),
                _ => (false, REASON_ACTIVE, "No problem.".to_owned()),
            },
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
    match &decided.node_pool {
        State::Applied { report, .. } | State::NotServed { report } => {
            let notes: Vec<String> = report.notes.iter().map(ToString::to_string).collect();
            condition::set(
                &mut status.conditions,
                if notes.is_empty() {
                    condition::new(
                        condition::TRANSLATED,
                        true,
                        REASON_ALL_FIELDS_TRANSLATED,
                        "Every field set has a Karpenter NodePool equivalent.".to_owned(),
                        generation,
                        now.clone(),
                    )
                } else {
                    condition::new(
                        condition::TRANSLATED,
                        false,
                        REASON_FIELDS_NOT_TRANSLATED,
                        translated_message(&notes),
                        generation,
                        now.clone(),
                    )
                },
            );
        }
        // Only a Managed Instances provider's fields are translated (into its NodePool).
        _ => status.conditions.retain(|c| c.type_ != condition::TRANSLATED),
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
    decided: &Decided,
    now: Time,
) -> Result<(), Error> {
    let status = compute(cp, loaded, decided, &now);
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

    fn decided(invalid_name: Option<&str>) -> Decided {
        Decided {
            invalid_name: invalid_name.map(str::to_owned),
            headroom: None,
            node_pool: State::NotManagedInstances,
        }
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
        let s = compute(&provider(false), &loaded(&["shop/web"]), &decided(None), &t());
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
            &decided(None),
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
            &decided(Some("spec.name: \"ecs-x\" starts with \"ecs\"")),
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

    #[test]
    fn a_managed_instances_provider_says_whether_karpenter_launches_its_nodes() {
        let mut report = crate::translate::report::Report::default();
        report.note(
            crate::translate::report::NoteKind::Ignored,
            "managedInstancesProvider.infrastructureRoleArn",
            "the EC2NodeClass holds it",
        );
        let applied = Decided {
            node_pool: State::Applied {
                name: "fargate-spot".into(),
                report: report.clone(),
            },
            ..decided(None)
        };
        let s = compute(&provider(false), &loaded(&[]), &applied, &t());
        assert_eq!(s.node_pool.as_deref(), Some("fargate-spot"));
        assert_eq!(
            s.selects.as_deref(),
            Some("karpenter.sh/capacity-type=spot,karpenter.sh/nodepool=fargate-spot")
        );
        let translated = condition::find(&s.conditions, condition::TRANSLATED).expect("Translated");
        assert_eq!(translated.status, "False");
        assert!(
            translated
                .message
                .contains("spec.managedInstancesProvider.infrastructureRoleArn: ignored"),
            "{}",
            translated.message
        );
        let degraded = condition::find(&s.conditions, condition::DEGRADED).expect("Degraded");
        assert_eq!(degraded.status, "False");
        // Refused later (a bad edit): the NodePool as last applied stays, and its tasks with it.
        let mut with_pool = provider(false);
        with_pool.status = Some(s);
        let refused = Decided {
            node_pool: State::Invalid("spec.managedInstancesProvider.x: bad".into()),
            ..decided(None)
        };
        let s = compute(&with_pool, &loaded(&[]), &refused, &t());
        assert_eq!(s.node_pool.as_deref(), Some("fargate-spot"));
        let forbidden = Decided {
            node_pool: State::Forbidden("nodepools.karpenter.sh is forbidden".into()),
            ..decided(None)
        };
        let s = compute(&provider(false), &loaded(&[]), &forbidden, &t());
        let degraded = condition::find(&s.conditions, condition::DEGRADED).expect("Degraded");
        assert_eq!(degraded.reason, REASON_NODE_POOL_FORBIDDEN);
        assert!(
            degraded.message.contains("karpenter.enabled=true"),
            "{}",
            degraded.message
        );

        let not_served = Decided {
            node_pool: State::NotServed { report },
            ..decided(None)
        };
        let s = compute(&provider(false), &loaded(&[]), &not_served, &t());
        assert_eq!(s.node_pool, None, "its tasks select no NodePool");
        let degraded = condition::find(&s.conditions, condition::DEGRADED).expect("Degraded");
        assert_eq!(
            (degraded.status.as_str(), degraded.reason.as_str()),
            ("True", REASON_KARPENTER_NOT_INSTALLED)
        );
        assert!(
            degraded.message.contains("install Karpenter"),
            "{}",
            degraded.message
        );
        let ready = condition::find(&s.conditions, condition::READY).expect("Ready");
        assert_eq!(ready.status, "True", "it still schedules");

        let invalid = Decided {
            node_pool: State::Invalid("spec.managedInstancesProvider.x: bad".into()),
            ..decided(None)
        };
        let s = compute(&provider(false), &loaded(&[]), &invalid, &t());
        let ready = condition::find(&s.conditions, condition::READY).expect("Ready");
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", REASON_INVALID_MANAGED_INSTANCES)
        );
        assert!(ready.message.starts_with("spec.managedInstancesProvider.x: bad"));
        // Back to a plain provider: no Translated condition left behind.
        let mut cp = provider(false);
        cp.status = Some(s);
        let s = compute(&cp, &loaded(&[]), &decided(None), &t());
        assert!(condition::find(&s.conditions, condition::TRANSLATED).is_none());
    }
}
