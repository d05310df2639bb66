//! The Service controller: keeps a Deployment (REPLICA) or DaemonSet (DAEMON) running the
//! Service's task definition, with the Kubernetes Services and TargetGroupBindings of its load
//! balancers, Cloud Map registry and Service Connect, and reports it in ECS's words.
//!
//! [`reconcile`] reads as its steps: [`load`] → [`validate`] → [`build`] → [`apply`] →
//! [`status`], with the children read from [`children`]'s caches and the circuit breaker's
//! [`history`] and [`rollout`] in between. Not yet: auto scaling (HPA).

pub mod apply;
pub mod build;
pub mod children;
pub mod deployments;
pub mod events;
pub mod history;
pub mod load;
pub mod rollout;
pub mod status;
pub mod validate;

use std::sync::Arc;

use k8s_openapi::api::{
    apps::v1::{DaemonSet, Deployment, ReplicaSet},
    core::v1::{Node, Pod, Service as CoreService},
};
use kube::{
    Api, Client, Resource, ResourceExt,
    runtime::{
        Controller, WatchStreamExt,
        controller::{self, Action},
        predicates,
        reflector::{self, ObjectRef},
        utils::PredicateConfig,
        watcher::{self, watcher},
    },
};
use tracing::{Span, field};

use super::{Context, Error, Shutdown, error_policy, with_backoff_reset};
use crate::{
    api::{Service, TaskDefinition},
    translate::{labels, reference::TaskDefinitionRef, service::Workload},
};

/// Field manager of this controller's server-side applies.
pub const FIELD_MANAGER: &str = "ecsbridge.io/service-controller";
/// Name of this controller in logs and metrics.
pub const CONTROLLER: &str = "service";

/// Reconciles one Service: resolves its TaskDefinition, applies its workload and networking
/// objects (those that changed), prunes the workload of the other scheduling strategy and the
/// networking objects no longer wanted, and writes its status when it changed.
///
/// Returns a periodic requeue ([`crate::run::RunConfig::resync_interval`]) as a level-triggered
/// safety net, or [`Action::await_change`] when the Service is invalid (its status says why; the
/// watches re-trigger it when the Service or a TaskDefinition changes).
///
/// # Errors
///
/// [`Error::MissingNamespace`] for an object without a namespace, [`Error::Kube`] when a request
/// fails.
#[tracing::instrument(skip_all, fields(controller = CONTROLLER, namespace = field::Empty, name = field::Empty))]
pub async fn reconcile(svc: Arc<Service>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = svc.name_any();
    let namespace = svc.namespace().ok_or_else(|| Error::MissingNamespace {
        kind: "Service",
        name: name.clone(),
    })?;
    Span::current()
        .record("namespace", namespace.as_str())
        .record("name", name.as_str());
    if svc.meta().deletion_timestamp.is_some() {
        // Why: garbage collection removes the children; applying now could recreate them.
        if let Some(uid) = svc.meta().uid.as_deref() {
            ctx.target_group_bindings.forget(uid);
        }
        return Ok(Action::await_change());
    }

    let loaded = load::load(&ctx, &svc, &namespace).await?;
    let valid = match validate::validate(&svc, &loaded) {
        Ok(valid) => valid,
        Err(invalid) => return status::report_invalid(&ctx, &svc, &namespace, &invalid).await,
    };
    let children = children::of(&ctx, &namespace, &name).await;
    let resolved = format!("{}:{}", valid.family(), valid.revision);
    let breaker = crate::translate::rollout::circuit_breaker(
        svc.spec.service.deployment_configuration.as_ref(),
        svc.spec.service.desired_count.unwrap_or(1),
    );
    let history = history::History::read(children.deployment.as_deref());
    let previous_deployments = svc
        .status
        .as_ref()
        .map(|s| s.deployments.as_slice())
        .unwrap_or_default();
    let mut next = history.next(children.deployment.as_deref(), &resolved, previous_deployments);
    // The Service resolves to a task definition whose rollout failed: run the last completed one
    // instead (rollback), or stay paused on the failed one.
    let mut failure = None;
    let mut valid = valid;
    if next.failed.is_some() {
        let back_to = next
            .completed
            .as_deref()
            .filter(|c| *c != resolved)
            .and_then(|c| c.rsplit_once(':'))
            .and_then(|(_, r)| r.parse::<i64>().ok());
        failure = Some(rollout::failure_message(
            &resolved,
            breaker.as_ref(),
            next.completed.as_deref(),
        ));
        if let (Some(revision), true) = (back_to, breaker.is_some_and(|b| b.rollback)) {
            let stored = load::stored_revision(&ctx, &namespace, &valid.task_definition, revision).await?;
            match validate::with_revision(valid.clone(), revision, stored.as_ref()) {
                Ok(rolled_back) => valid = rolled_back,
                Err(invalid) => {
                    failure = Some(format!("{}; cannot roll back: {}", resolved, invalid.message))
                }
            }
        }
    }
    let place = ctx.place_options(loaded.nodes.as_deref());
    let desired = match build::build(&valid, &ctx.pod_options(&namespace), &place) {
        Ok(desired) => desired,
        Err(invalid) => return status::report_invalid(&ctx, &svc, &namespace, &invalid).await,
    };
    let desired = rollout::held(desired, children.deployment.as_deref());
    // Paused on a failed task definition it still runs (no rollback): ECS starts no more tasks.
    let paused = next.failed.is_some() && desired.task_definition == resolved;
    let blocked = desired
        .blocked
        .clone()
        .filter(|_| desired.task_definition != resolved);
    let live = apply::Live {
        deployment: children.deployment.as_deref(),
        daemon_set: children.daemon_set.as_deref(),
        services: &children.services,
    };
    let mut applied = apply::apply(
        &ctx,
        &valid,
        rollout::remembered(desired.clone(), &next, paused),
        live,
    )
    .await?;
    let mut observation = observe(&svc, &applied, &children, &next, breaker.as_ref());
    let mut action = Action::requeue(ctx.config.resync_interval);
    if history::trips(breaker.as_ref(), &observation.deployments) {
        // The circuit breaker fails the rollout of `resolved`: remember it, then roll back (on
        // the next reconcile, which reads the completed revision) or pause.
        next.failed = Some(resolved.clone());
        let rollback =
            breaker.is_some_and(|b| b.rollback) && next.completed.as_ref().is_some_and(|c| *c != resolved);
        tracing::warn!(task_definition = %resolved, rollback, "circuit breaker tripped");
        let live = apply::Live {
            deployment: None,
            ..live
        };
        applied = apply::apply(&ctx, &valid, rollout::remembered(desired, &next, !rollback), live).await?;
        observation = observe(&svc, &applied, &children, &next, breaker.as_ref());
        if rollback {
            observation.rolling_back_to = next
                .completed
                .as_deref()
                .map(|c| deployment_of(&observation.deployments, c).unwrap_or_else(|| c.to_owned()));
            action = Action::requeue(std::time::Duration::ZERO);
        }
        failure = Some(rollout::failure_message(
            &resolved,
            breaker.as_ref(),
            next.completed.as_deref(),
        ));
    }
    if action != Action::requeue(std::time::Duration::ZERO)
        && rolling_with_breaker(breaker.as_ref(), &observation)
    {
        // Failures accrue with time too (the kubelet's retries): look again soon.
        action = Action::requeue(ROLLOUT_RECHECK);
    }
    observation.failure = failure;
    observation.blocked = blocked.as_deref();
    observation.pods = &children.pods;
    status::update(&ctx, &svc, &namespace, &applied, &observation).await?;
    Ok(action)
}

/// How soon a rollout watched by a circuit breaker is looked at again, whatever changes.
pub const ROLLOUT_RECHECK: std::time::Duration = std::time::Duration::from_secs(10);

/// Whether a circuit breaker watches a PRIMARY deployment still in progress.
fn rolling_with_breaker(breaker: Option<&history::Breaker>, observation: &status::Observation<'_>) -> bool {
    breaker.is_some()
        && observation.deployments.iter().any(|d| {
            d.status == deployments::PRIMARY && d.rollout_state.as_deref() == Some(deployments::IN_PROGRESS)
        })
}

/// The ECS deployments of the applied workload.
fn observe<'a>(
    svc: &Service,
    applied: &apply::Applied,
    children: &'a children::Children,
    history: &history::History,
    breaker: Option<&history::Breaker>,
) -> status::Observation<'a> {
    let previous = svc
        .status
        .as_ref()
        .map(|s| s.deployments.as_slice())
        .unwrap_or_default();
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now());
    let counts = status::counts(svc, &applied.workload);
    let deployments = match &applied.workload {
        Workload::Deployment(d) => deployments::observe(
            d,
            &children.replica_sets,
            &children.pods,
            &deployments::Context {
                desired: counts.desired,
                failed_task_definition: history.failed.as_deref(),
                reset_on_healthy_task: breaker.is_none_or(|b| b.reset_on_healthy_task),
                rolled_out: counts.rolled_out,
                previous,
                now: &now,
            },
        ),
        Workload::DaemonSet(d) => vec![deployments::observe_daemon_set(
            d,
            &applied.task_definition,
            previous,
            &now,
        )],
    };
    status::Observation {
        deployments,
        pods: &children.pods,
        ..status::Observation::default()
    }
}

/// The id of the deployment running `task_definition` among `deployments`.
fn deployment_of(
    deployments: &[crate::api::service::ServiceDeployment],
    task_definition: &str,
) -> Option<String> {
    deployments
        .iter()
        .find(|d| d.task_definition == task_definition)
        .map(|d| d.id.clone())
}

/// The Services among `services` that a change of `td` may concern: those of its namespace
/// whose `spec.taskDefinition` names its family or its object name.
#[must_use]
pub fn services_for_task_definition(
    services: &[Arc<Service>],
    td: &TaskDefinition,
) -> Vec<ObjectRef<Service>> {
    let namespace = td.namespace();
    let family = validate::family_of(td);
    let object = td.name_any();
    services
        .iter()
        .filter(|svc| svc.namespace() == namespace)
        .filter(|svc| {
            svc.spec
                .service
                .task_definition
                .as_deref()
                .and_then(|r| TaskDefinitionRef::parse(r).ok())
                .is_some_and(|r| r.family == family || r.family == object)
        })
        .map(|svc| ObjectRef::from_obj(svc.as_ref()))
        .collect()
}

/// `Api` of `K` in `namespace`, or across all namespaces for `None`.
fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Runs the Service controller on `namespace` (`None`: every namespace) until `shutdown`
/// resolves and the reconciles in flight have finished; marks `synced` after the first LIST of
/// Services.
///
/// Watches Services, the Deployments, DaemonSets and Kubernetes Services they own (only those
/// labelled `app.kubernetes.io/managed-by=ecs-bridge`, to bound memory), the ReplicaSets and
/// pods of their tasks, the nodes and TaskDefinitions (mapped to the Services that reference
/// them), and caches them all in [`children::Stores`]. TargetGroupBindings are not watched (the kind may not be served, and a watch
/// of it would fail until it is): a changed or deleted binding is re-applied at the next resync.
pub async fn run(
    namespace: Option<String>,
    ctx: Arc<Context>,
    synced: crate::runtime::Synced,
    shutdown: Shutdown,
) {
    let client = ctx.client.clone();
    let ns = namespace.as_deref();
    let config = controller::Config::default().concurrency(ctx.config.concurrency);
    let children =
        watcher::Config::default().labels(&format!("{}={}", labels::MANAGED_BY, labels::MANAGED_BY_VALUE));
    // NB: no generation predicate yet (see the TaskDefinition controller): our own status write
    // triggers one more reconcile, which re-applies unchanged objects and writes nothing.
    let controller = Controller::new(api::<Service>(&client, ns), watcher::Config::default());
    let store = controller.store();
    let services = store.clone();
    let placed = store.clone();
    // The TaskDefinitions, reflected: a change maps to the Services that reference it, and the
    // node watch below needs to know which TaskDefinitions have placement constraints.
    let (task_definitions, td_writer) = reflector::store::<TaskDefinition>();
    let td_changes = watcher(api::<TaskDefinition>(&client, ns), watcher::Config::default())
        .default_backoff()
        .reflect(td_writer)
        .touched_objects();
    // Placement compiles against the nodes' labels: a node that appears or whose labels change
    // re-places the Services with placement constraints, their own or their TaskDefinition's
    // (status-only node updates do not).
    // The nodes are cached without their status (images, conditions: most of a Node's size),
    // which placement does not read.
    let (node_store, node_writer) = reflector::store::<Node>();
    let nodes = watcher(Api::<Node>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .modify(|node| node.status = None)
        .reflect(node_writer)
        .touched_objects()
        .predicate_filter(predicates::labels, PredicateConfig::default());
    // The children, cached for the reconciles (children::Stores): Deployments (owned), and the
    // ReplicaSets and pods of Services' tasks, which re-trigger their Service (ECS deployments,
    // failed tasks, events).
    let (deployments, deployment_writer) = reflector::store::<Deployment>();
    let deployment_changes = watcher(api::<Deployment>(&client, ns), children.clone())
        .default_backoff()
        .reflect(deployment_writer)
        .touched_objects();
    let (daemon_sets, daemon_set_writer) = reflector::store::<DaemonSet>();
    let daemon_set_changes = watcher(api::<DaemonSet>(&client, ns), children.clone())
        .default_backoff()
        .reflect(daemon_set_writer)
        .touched_objects();
    let tasks = watcher::Config::default().labels(labels::SERVICE);
    let (replica_sets, replica_set_writer) = reflector::store::<ReplicaSet>();
    let replica_set_changes = watcher(api::<ReplicaSet>(&client, ns), tasks.clone())
        .default_backoff()
        .reflect(replica_set_writer)
        .touched_objects();
    let (pods, pod_writer) = reflector::store::<Pod>();
    let pod_changes = watcher(api::<Pod>(&client, ns), tasks)
        .default_backoff()
        .reflect(pod_writer)
        .touched_objects();
    // The Kubernetes Services of load balancers, registries and Service Connect (owned, ours by
    // label): the reconcile leaves alone those already as wanted and prunes the others without
    // a request. (TargetGroupBindings are not watched: the kind may not be served, and a watch
    // of it would fail until it is; see `apply`.)
    let (core_services, core_service_writer) = reflector::store::<CoreService>();
    let core_service_changes = watcher(api::<CoreService>(&client, ns), children.clone())
        .default_backoff()
        .reflect(core_service_writer)
        .touched_objects();
    ctx.service_children
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(children::Stores {
            deployments,
            daemon_sets,
            replica_sets,
            pods,
            services: core_services,
            task_definitions: task_definitions.clone(),
            nodes: node_store,
        });
    let controller = controller
        .watches_stream(nodes, move |_node| {
            services_with_placement(&placed.state(), &task_definitions.state())
        })
        .owns_stream(deployment_changes)
        .owns_stream(core_service_changes)
        .owns_stream(daemon_set_changes)
        .watches_stream(replica_set_changes, |rs| service_of(&rs))
        .watches_stream(pod_changes, |pod| service_of(&pod))
        .watches_stream(td_changes, move |td| {
            services_for_task_definition(&services.state(), &td)
        })
        .with_config(config)
        .graceful_shutdown_on(shutdown.clone());
    let results = controller.run(
        |svc, ctx| with_backoff_reset(CONTROLLER, reconcile, svc, ctx),
        error_policy::<Service>,
        ctx,
    );
    super::drive(CONTROLLER, store, synced, results, shutdown).await;
}

/// The Service whose tasks `obj` (a pod or ReplicaSet) belongs to, by its `ecsbridge.io/service`
/// label.
fn service_of<K: Resource>(obj: &K) -> Option<ObjectRef<Service>> {
    let name = obj.meta().labels.as_ref()?.get(labels::SERVICE)?;
    Some(ObjectRef::new(name).within(obj.meta().namespace.as_deref()?))
}

/// The Services whose placement may depend on the nodes: those with placement constraints of
/// their own or whose TaskDefinition (among `task_definitions`) has some.
pub fn services_with_placement(
    services: &[Arc<Service>],
    task_definitions: &[Arc<TaskDefinition>],
) -> Vec<ObjectRef<Service>> {
    let mut refs: Vec<ObjectRef<Service>> = services
        .iter()
        .filter(|s| {
            s.spec
                .service
                .placement_constraints
                .as_ref()
                .is_some_and(|c| !c.is_empty())
        })
        .map(|s| ObjectRef::from_obj(&**s))
        .collect();
    for td in task_definitions.iter().filter(|td| {
        td.spec
            .task_definition
            .placement_constraints
            .as_ref()
            .is_some_and(|c| !c.is_empty())
    }) {
        refs.extend(services_for_task_definition(services, td));
    }
    let mut seen = std::collections::HashSet::new();
    refs.retain(|r| seen.insert(r.clone()));
    refs
}

#[cfg(test)]
mod tests;
