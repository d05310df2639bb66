//! The Service controller: keeps a Deployment (REPLICA) or DaemonSet (DAEMON) running the
//! Service's task definition, with the Kubernetes Services and TargetGroupBindings of its load
//! balancers, Cloud Map registry and Service Connect, and reports it in ECS's words.
//!
//! [`reconcile`] reads as its steps: [`load`] → [`validate`] → [`build`] → [`apply`] →
//! [`status`]. Not yet: rollouts and the circuit breaker, auto scaling (HPA), ECS
//! `deployments[]` and `events[]`.

pub mod apply;
pub mod build;
pub mod load;
pub mod status;
pub mod validate;

use std::sync::Arc;

use k8s_openapi::api::{
    apps::v1::{DaemonSet, Deployment},
    core::v1::{Node, Service as CoreService},
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
    translate::{labels, reference::TaskDefinitionRef},
};

/// Field manager of this controller's server-side applies.
pub const FIELD_MANAGER: &str = "ecsbridge.io/service-controller";
/// Name of this controller in logs and metrics.
pub const CONTROLLER: &str = "service";

/// Reconciles one Service: resolves its TaskDefinition, applies its workload, prunes the workload
/// of the other scheduling strategy and writes its status when it changed.
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
        return Ok(Action::await_change());
    }

    let loaded = load::load(&ctx, &svc, &namespace).await?;
    let valid = match validate::validate(&svc, &loaded) {
        Ok(valid) => valid,
        Err(invalid) => return status::report_invalid(&ctx, &svc, &namespace, &invalid).await,
    };
    let desired = match build::build(
        &valid,
        &ctx.pod_options(&namespace),
        loaded.nodes.as_deref(),
        ctx.config.binpack_scheduler,
    ) {
        Ok(desired) => desired,
        Err(invalid) => return status::report_invalid(&ctx, &svc, &namespace, &invalid).await,
    };
    let applied = apply::apply(&ctx, &valid, desired).await?;
    status::update(&ctx, &svc, &namespace, &applied).await?;
    Ok(Action::requeue(ctx.config.resync_interval))
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
/// resolves and the reconciles in flight have finished.
///
/// Watches Services, the Deployments, DaemonSets and Kubernetes Services they own (only those
/// labelled `app.kubernetes.io/managed-by=ecs-bridge`, to bound memory) and TaskDefinitions
/// (mapped to the Services that reference them). TargetGroupBindings are not watched (the kind
/// may not be served, and a watch of it would fail until it is): a changed or deleted binding is
/// re-applied at the next resync.
pub async fn run(namespace: Option<String>, ctx: Arc<Context>, shutdown: Shutdown) {
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
    let nodes = watcher(Api::<Node>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .touched_objects()
        .predicate_filter(predicates::labels, PredicateConfig::default());
    let controller = controller
        .watches_stream(nodes, move |_node| {
            services_with_placement(&placed.state(), &task_definitions.state())
        })
        .owns(api::<Deployment>(&client, ns), children.clone())
        .owns(api::<DaemonSet>(&client, ns), children.clone())
        .owns(api::<CoreService>(&client, ns), children)
        .watches_stream(td_changes, move |td| {
            services_for_task_definition(&services.state(), &td)
        })
        .with_config(config)
        .graceful_shutdown_on(shutdown.clone());
    let results = controller.run(
        |svc, ctx| with_backoff_reset(reconcile, svc, ctx),
        error_policy::<Service>,
        ctx,
    );
    super::drive(CONTROLLER, store, results, shutdown).await;
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
