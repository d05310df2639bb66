//! What the Service controller watches, and which Services a change concerns: [`run`] builds
//! the controller with its watches and caches ([`super::children::Stores`]); the mappers turn a
//! changed TaskDefinition, node, ReplicaSet or pod into the Services to reconcile.

use std::sync::Arc;

use k8s_openapi::api::{
    apps::v1::{ControllerRevision, DaemonSet, Deployment, ReplicaSet},
    autoscaling::v2::HorizontalPodAutoscaler,
    core::v1::{Namespace, Node, Pod, Service as CoreService},
};
use kube::{
    Api, Resource, ResourceExt,
    runtime::{
        Controller, WatchStreamExt,
        controller::{self},
        predicates,
        reflector::{self, ObjectRef},
        utils::PredicateConfig,
        watcher::{self, watcher},
    },
};

use super::{CONTROLLER, children, reconcile};
use crate::{
    api::{CapacityProvider, Service, TaskDefinition},
    controller::{
        Context,
        caches::{
            add_scope, errors_logged, managed_by, reflected, reflected_indexed, scoped, slim, watch_backoff,
        },
        error_policy, with_backoff_reset,
    },
    runtime::Shutdown,
    translate::{labels, reference::TaskDefinitionRef},
};

/// The Services among `services` that a change of `td` may concern: those of its namespace
/// whose `spec.taskDefinition` names its family or its object name.
#[must_use]
pub fn services_for_task_definition(
    services: &[Arc<Service>],
    td: &TaskDefinition,
) -> Vec<ObjectRef<Service>> {
    let namespace = td.namespace();
    let family = td.family();
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

/// How long a Service's reconcile waits for its triggers to pause (kube-runtime's trailing-edge
/// debounce): a task's pod changes several times as it starts (created, scheduled, running,
/// ready), each change a trigger, and each reconcile that saw a new count wrote the status. At
/// 1,000 Services the scale bench's Service status writes fell from 5.7 to 3.0 per Service with
/// it, the reactions' p99 rose from 159 to 274 ms (`desiredCount`) and from 230 to 311 ms (image).
/// A Service whose children change more often than this without a pause waits for a pause.
pub const DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(150);

/// Runs the Service controller on `namespace` (`None`: every namespace) until `shutdown`
/// resolves and the reconciles in flight have finished; marks `synced` after the first LIST of
/// Services.
///
/// Watches Services, the Deployments, DaemonSets, Kubernetes Services and HPAs they own (only those
/// labelled `app.kubernetes.io/managed-by=ecs-bridge`, to bound memory), the ReplicaSets and
/// pods of their tasks, the nodes and TaskDefinitions (mapped to the Services that reference
/// them), and caches them all in [`children::Stores`]. TargetGroupBindings are not watched here (the
/// kind may not be served): they are cached once it is ([`crate::controller::optional_watch`]),
/// without triggering a reconcile, so a changed or deleted binding is re-applied at the next
/// resync.
pub async fn run(
    namespace: Option<String>,
    ctx: Arc<Context>,
    synced: crate::runtime::Synced,
    shutdown: Shutdown,
) {
    let client = ctx.client.clone();
    let ns = namespace.as_deref();
    let config = controller::Config::default()
        .concurrency(ctx.config.concurrency)
        .debounce(DEBOUNCE);
    let ours = managed_by();
    // NB: no generation predicate yet (see the TaskDefinition controller): our own status write
    // triggers one more reconcile, which re-applies unchanged objects and writes nothing.
    let (own_store, own_changes) =
        crate::controller::caches::own(scoped::<Service>(&client, ns), watcher::Config::default());
    let controller = Controller::for_stream(own_changes, own_store).trigger_backoff(watch_backoff());
    let store = controller.store();
    let services = store.clone();
    let placed = store.clone();
    // The TaskDefinitions, reflected: a change maps to the Services that reference it, and the
    // node watch below needs to know which TaskDefinitions have placement constraints.
    let (task_definitions, td_changes) = reflected_indexed(
        scoped::<TaskDefinition>(&client, ns),
        watcher::Config::default(),
        children::by_family,
    );
    // Placement compiles against the nodes' labels: a node that appears or whose labels change
    // re-places the Services with placement constraints, their own or their TaskDefinition's
    // (status-only node updates do not).
    // The nodes are cached without their status (images, conditions: most of a Node's size),
    // which placement does not read.
    let (node_store, node_writer) = reflector::store::<Node>();
    let nodes = errors_logged(
        watcher(Api::<Node>::all(client.clone()), watcher::Config::default())
            .backoff(watch_backoff())
            .modify(|node| {
                node.status = None;
                slim(node);
            })
            .reflect(node_writer)
            .touched_objects()
            .predicate_filter(predicates::labels, PredicateConfig::default()),
    );
    // The registered revisions, cached for the reconciles: a Service runs the stored spec of the
    // revision it asks for. No reconcile follows a change of one: the TaskDefinition's status
    // names a new revision after it is stored, and a revision missing from this cache (not seen
    // yet) is read by name.
    let (revisions, revision_changes) = reflected(scoped::<ControllerRevision>(&client, ns), ours.clone());
    // The children, cached for the reconciles (children::Stores): Deployments (owned), and the
    // ReplicaSets and pods of Services' tasks, which re-trigger their Service (ECS deployments,
    // failed tasks, events).
    let (deployments, deployment_changes) = reflected_indexed(
        scoped::<Deployment>(&client, ns),
        ours.clone(),
        children::by_service,
    );
    let (daemon_sets, daemon_set_changes) = reflected(scoped::<DaemonSet>(&client, ns), ours.clone());
    let tasks = watcher::Config::default().labels(labels::SERVICE);
    let (replica_sets, replica_set_changes) = reflected_indexed(
        scoped::<ReplicaSet>(&client, ns),
        tasks.clone(),
        children::by_service,
    );
    let (pods, pod_changes) = reflected_indexed(scoped::<Pod>(&client, ns), tasks, children::by_service);
    // The Kubernetes Services of load balancers, registries and Service Connect (owned, ours by
    // label): the reconcile leaves alone those already as wanted and prunes the others without
    // a request. (TargetGroupBindings are watched only once their kind is served, by
    // `optional_watch`; see `apply`.)
    let (core_services, core_service_changes) = reflected_indexed(
        scoped::<CoreService>(&client, ns),
        ours.clone(),
        children::by_service,
    );
    // The HPAs of auto scaling (owned, ours by label): the reconcile leaves alone one already as
    // wanted, and records its rescales as scaling activities. Only a change of spec or a rescale
    // (its lastScaleTime) re-triggers the Service: the HPA controller rewrites the status at each
    // metrics change, which is no concern of the Service. (A deleted HPA is re-applied at the
    // next resync.)
    let (hpas, hpa_changes) = reflected(scoped::<HorizontalPodAutoscaler>(&client, ns), ours.clone());
    let hpa_changes = hpa_changes.predicate_filter(
        |hpa: &HorizontalPodAutoscaler| {
            let scaled = hpa.status.as_ref().and_then(|s| s.last_scale_time.as_ref());
            Some(crate::fnv::hash(
                format!("{:?}{scaled:?}", hpa.metadata.generation).bytes(),
            ))
        },
        PredicateConfig::default(),
    );
    // The CapacityProviders (cluster-scoped) and the scope's Namespaces: a change re-places the
    // Services whose strategy may name the provider, or those of the namespace (its providers
    // and default strategy are its annotations).
    // (Only a change of spec, or a deletion, concerns the Services, and of the provider's status
    // only the NodePool its tasks select: not its counts.)
    let (capacity_providers, provider_changes) = reflected(
        Api::<CapacityProvider>::all(client.clone()),
        watcher::Config::default(),
    );
    let provider_changes = provider_changes.predicate_filter(
        |cp: &CapacityProvider| {
            let pool = cp.status.as_ref().and_then(|s| s.node_pool.as_deref());
            Some(crate::fnv::hash(
                format!("{:?}{pool:?}", cp.metadata.generation).bytes(),
            ))
        },
        PredicateConfig::default(),
    );
    let namespace_api = Api::<Namespace>::all(client.clone());
    let namespace_config = match ns {
        Some(ns) => watcher::Config::default().fields(&format!("metadata.name={ns}")),
        None => watcher::Config::default(),
    };
    let (namespaces, namespace_changes) = reflected(namespace_api, namespace_config);
    let namespace_changes =
        namespace_changes.predicate_filter(predicates::annotations, PredicateConfig::default());
    let by_provider = store.clone();
    let by_namespace = store.clone();
    add_scope(
        &ctx.service_children,
        children::Stores {
            listed: Default::default(),
            deployments,
            daemon_sets,
            replica_sets,
            pods,
            services: core_services,
            hpas,
            task_definitions: task_definitions.clone(),
            revisions,
            nodes: node_store,
            capacity_providers,
            namespaces,
        },
    );
    let controller = controller
        .watches_stream(nodes, move |_node| {
            services_with_placement(&placed.state(), &task_definitions.state())
        })
        .owns_stream(deployment_changes)
        .owns_stream(core_service_changes)
        .owns_stream(hpa_changes)
        .owns_stream(daemon_set_changes)
        .watches_stream(replica_set_changes, |rs| service_of(&rs))
        .watches_stream(pod_changes, |pod| service_of(&pod))
        .watches_stream(revision_changes, |_revision| None)
        .watches_stream(provider_changes, move |cp| {
            services_for_provider(&by_provider.state(), &cp.ecs_name())
        })
        .watches_stream(namespace_changes, move |namespace| {
            let name = namespace.name_any();
            by_namespace
                .state()
                .iter()
                .filter(|s| s.namespace().as_deref() == Some(name.as_str()))
                .map(|s| ObjectRef::from_obj(&**s))
                .collect::<Vec<_>>()
        })
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
    crate::controller::drive(CONTROLLER, store, synced, results, shutdown).await;
}

/// The Service whose tasks `obj` (a pod or ReplicaSet) belongs to, by its `ecsbridge.io/service`
/// label.
fn service_of<K: Resource>(obj: &K) -> Option<ObjectRef<Service>> {
    let name = obj.meta().labels.as_ref()?.get(labels::SERVICE)?;
    Some(ObjectRef::new(name).within(obj.meta().namespace.as_deref()?))
}

/// The Services among `services` that may run on the capacity provider named `provider`: those
/// whose strategy (their own, or the one their status records) names it, those with
/// `launchType: FARGATE` for FARGATE, and those that have none yet (their namespace's default
/// may name it).
#[must_use]
pub fn services_for_provider(services: &[Arc<Service>], provider: &str) -> Vec<ObjectRef<Service>> {
    services
        .iter()
        .filter(|svc| {
            let undecided = svc.spec.service.capacity_provider_strategy.is_none()
                && svc.spec.service.launch_type.is_none()
                && svc
                    .status
                    .as_ref()
                    .is_none_or(|s| s.capacity_provider_strategy.is_empty());
            svc.uses_capacity_provider(provider) || undecided
        })
        .map(|svc| ObjectRef::from_obj(svc.as_ref()))
        .collect()
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
