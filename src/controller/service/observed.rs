//! What a Service's workload runs, in ECS's words (pure: no client; the clock comes in as
//! `now`): the task counts and the ECS `deployments[]` of its one Deployment, of its Deployments
//! split over capacity providers (one ECS deployment per task definition across them, as ECS has
//! one deployment per revision whatever the providers its tasks run on), or of its DaemonSet.

use std::collections::BTreeMap;

use k8s_openapi::{api::apps::v1::Deployment, apimachinery::pkg::apis::meta::v1::Time};

use super::{
    children::Children,
    ecs_deployments::{
        ACTIVE, Counts, Inputs, PRIMARY, daemon_set_counts, deployment_counts, observe, observe_daemon_set,
        of_deployment, rollout_state, rollout_state_reason, sort, updated_at,
    },
    history,
};
use crate::{
    api::{Service, service::ServiceDeployment},
    translate::{
        rollout::Breaker,
        service::{Workload, providers::is_provider_deployment},
    },
};

/// Counts the tasks of `workload`, the workload of `svc` as the API server returned it.
#[must_use]
pub fn counts(svc: &Service, workload: &Workload) -> Counts {
    match workload {
        Workload::Deployments(d) => deployments_counts(svc, d),
        Workload::DaemonSet(d) => daemon_set_counts(d),
    }
}

/// The counts of a Service's Deployments: one, or one per capacity provider (whose tasks add
/// up; the Service's desired count is theirs together).
fn deployments_counts(svc: &Service, deployments: &[Deployment]) -> Counts {
    match deployments {
        [one] => deployment_counts(svc, one),
        many => {
            let each: Vec<Counts> = many.iter().map(|d| deployment_counts(svc, d)).collect();
            let desired = svc.spec.service.desired_count.unwrap_or(1);
            let running = each.iter().map(|c| c.running).sum();
            Counts {
                desired,
                running,
                pending: each.iter().map(|c| c.pending).sum(),
                caught_up: each.iter().all(|c| c.caught_up),
                rolled_out: many.iter().all(history::rolled_out) && running >= desired,
            }
        }
    }
}

/// The ECS deployments of `workload`, running `task_definition` (`family:revision`): those of a
/// Deployment's ReplicaSets ([`observe`]), or the one of a DaemonSet ([`observe_daemon_set`]).
/// `failed` is the task definition the circuit breaker failed, `previous` the deployments of the
/// current status.
#[must_use]
#[allow(clippy::too_many_arguments)]
pub fn of_workload(
    svc: &Service,
    workload: &Workload,
    task_definition: &str,
    children: &Children,
    failed: Option<&str>,
    breaker: Option<&Breaker>,
    replaced: &std::collections::BTreeMap<String, i32>,
    now: &Time,
) -> Vec<ServiceDeployment> {
    match workload {
        Workload::Deployments(d) => {
            of_deployments(svc, d, task_definition, children, failed, breaker, replaced, now)
        }
        Workload::DaemonSet(d) => vec![observe_daemon_set(d, task_definition, svc.deployments(), now)],
    }
}

/// The ECS deployments of `svc`'s Deployments `deployments`, running `task_definition`: those of
/// its one Deployment ([`of_deployment`]), or, split over capacity providers, one per task
/// definition across the providers ([`merge`]).
#[must_use]
#[allow(clippy::too_many_arguments)]
pub fn of_deployments(
    svc: &Service,
    deployments: &[Deployment],
    task_definition: &str,
    children: &Children,
    failed: Option<&str>,
    breaker: Option<&Breaker>,
    replaced: &std::collections::BTreeMap<String, i32>,
    now: &Time,
) -> Vec<ServiceDeployment> {
    match deployments {
        [] => Vec::new(),
        [one] if !is_provider_deployment(one) => {
            of_deployment(svc, one, children, failed, breaker, replaced, now)
        }
        many => {
            let each: Vec<Vec<ServiceDeployment>> = many
                .iter()
                .map(|d| {
                    observe(
                        d,
                        &children.replica_sets,
                        &children.pods,
                        &Inputs {
                            desired: d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0),
                            failed_task_definition: failed,
                            reset_on_healthy_task: breaker.is_none_or(|b| b.reset_on_healthy_task),
                            // (This Deployment's own; [`merge`] decides the Service's state.)
                            rolled_out: history::rolled_out(d),
                            previous: &[],
                            replaced,
                            now,
                        },
                    )
                })
                .collect();
            let strategy = strategy_of(svc);
            merge(
                &each.concat(),
                &Merge {
                    task_definition,
                    desired: svc.spec.service.desired_count.unwrap_or(1),
                    failed,
                    rolled_out: deployments_counts(svc, many).rolled_out,
                    strategy: &strategy,
                    previous: svc.deployments(),
                    now,
                },
            )
        }
    }
}

/// The strategy `svc` runs with: its own, else the one its status records.
fn strategy_of(svc: &Service) -> Vec<crate::api::ecs::CapacityProviderStrategyItem> {
    svc.spec
        .service
        .capacity_provider_strategy
        .clone()
        .or_else(|| svc.status.as_ref().map(|s| s.capacity_provider_strategy.clone()))
        .unwrap_or_default()
}

/// What [`merge`] needs besides the per-provider deployments.
#[derive(Debug, Clone, Copy)]
pub struct Merge<'a> {
    /// The task definition the Service runs now (its deployment is PRIMARY).
    pub task_definition: &'a str,
    /// The Service's desired count.
    pub desired: i32,
    /// The task definition the circuit breaker failed.
    pub failed: Option<&'a str>,
    /// Every provider's Deployment runs its current template, and enough tasks are ready.
    pub rolled_out: bool,
    /// The strategy the Service runs with (the PRIMARY deployment's).
    pub strategy: &'a [crate::api::ecs::CapacityProviderStrategyItem],
    /// The deployments of the current status.
    pub previous: &'a [ServiceDeployment],
    /// Now.
    pub now: &'a Time,
}

/// One ECS deployment per task definition out of the per-provider deployments `each`: counts
/// and failures added up, the id and creation of the oldest, PRIMARY for the task definition the
/// Service runs, ACTIVE for the others (ECS has one deployment per revision, whatever the
/// providers its tasks run on).
#[must_use]
pub fn merge(each: &[ServiceDeployment], m: &Merge<'_>) -> Vec<ServiceDeployment> {
    let mut groups: BTreeMap<&str, Vec<&ServiceDeployment>> = BTreeMap::new();
    for d in each {
        groups.entry(d.task_definition.as_str()).or_default().push(d);
    }
    let mut out: Vec<ServiceDeployment> = groups
        .into_iter()
        .map(|(td, mut parts)| {
            parts.sort_by(|a, b| {
                a.created_at
                    .as_ref()
                    .map(|t| t.0)
                    .cmp(&b.created_at.as_ref().map(|t| t.0))
                    .then_with(|| a.id.cmp(&b.id))
            });
            let oldest = parts[0];
            let primary = td == m.task_definition;
            let before = m.previous.iter().find(|d| d.id == oldest.id);
            let rollout_state = rollout_state(primary, td, m.failed, m.rolled_out, before);
            let id = oldest.id.clone();
            let mut d = ServiceDeployment {
                rollout_state_reason: rollout_state.map(|s| rollout_state_reason(s, &id)),
                rollout_state: rollout_state.map(str::to_owned),
                status: if primary { PRIMARY } else { ACTIVE }.to_owned(),
                task_definition: td.to_owned(),
                desired_count: if primary {
                    m.desired
                } else {
                    parts.iter().map(|p| p.desired_count).sum()
                },
                pending_count: parts.iter().map(|p| p.pending_count).sum(),
                running_count: parts.iter().map(|p| p.running_count).sum(),
                // (The parts count only the tasks replaced now; the merged deployment carries
                // those replaced before.)
                failed_tasks: parts.iter().map(|p| p.failed_tasks).sum::<i32>()
                    + before.map_or(0, |b| b.replaced_tasks),
                replaced_tasks: before.map_or(0, |b| b.replaced_tasks)
                    + parts.iter().map(|p| p.replaced_tasks).sum::<i32>(),
                capacity_provider_strategy: if primary {
                    m.strategy.to_vec()
                } else {
                    before
                        .map(|b| b.capacity_provider_strategy.clone())
                        .unwrap_or_default()
                },
                created_at: oldest.created_at.clone(),
                updated_at: None,
                id,
            };
            d.updated_at = updated_at(before, &d, m.now);
            d
        })
        .collect();
    sort(&mut out);
    out
}
