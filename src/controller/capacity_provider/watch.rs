//! What the CapacityProvider controller watches: the providers (cluster-scoped), the nodes
//! (labels and allocatable capacity only), and in each watched scope the pods of providers'
//! tasks (by the `ecsbridge.io/capacity-provider` label) and the Services (whose strategies hold a
//! provider's deletion); the caches ([`Caches`]) that [`super::load`] reads; and which providers a
//! change concerns.

use std::{collections::BTreeMap, sync::Arc};

use futures::StreamExt;
use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{Node, NodeStatus, Pod},
};
use kube::{
    Api, ResourceExt,
    runtime::{
        Controller, WatchStreamExt,
        reflector::{self, ObjectRef, Store},
        watcher::{self, watcher},
    },
};

use super::{CONTROLLER, reconcile};
use crate::{
    api::{CapacityProvider, Service},
    controller::{
        Context,
        caches::{errors_logged, reflected, scoped, watch_backoff},
        error_policy, with_backoff_reset,
    },
    runtime::Shutdown,
    translate::capacity::{
        headroom::HEADROOM_LABEL,
        provider::{PROVIDER_LABEL, label_value},
    },
};

/// The CapacityProvider controller's caches.
#[derive(Clone)]
pub struct Caches {
    /// The nodes, with their labels and allocatable capacity (the rest of their status dropped).
    pub nodes: Store<Node>,
    /// Per watched scope: the pods of providers' tasks.
    pub pods: Vec<Store<Pod>>,
    /// Per watched scope: the Services.
    pub services: Vec<Store<Service>>,
    /// The providers' placeholder Deployments (managed scaling's headroom), in the operator's
    /// namespace.
    pub headroom: Store<Deployment>,
}

/// The live placeholder Deployment named `name`, from the caches.
#[must_use]
pub fn headroom(ctx: &Context, name: &str) -> Option<Deployment> {
    let caches = ctx
        .capacity_provider_caches
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()?;
    caches
        .headroom
        .get(&ObjectRef::new(name).within(&ctx.config.headroom_namespace))
        .map(|d| (*d).clone())
}

/// The nodes, the task pods and the Services of the controller's caches, shared (not copied).
pub type Cached = (Vec<Arc<Node>>, Vec<Arc<Pod>>, Vec<Arc<Service>>);

/// The nodes, the pods and the Services in the controller's caches; `None` without caches (a
/// reconcile outside the controller).
#[must_use]
pub fn cached(ctx: &Context) -> Option<Cached> {
    let caches = ctx
        .capacity_provider_caches
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()?;
    let nodes = caches.nodes.state();
    let pods = caches.pods.iter().flat_map(Store::state).collect();
    let services = caches.services.iter().flat_map(Store::state).collect();
    Some((nodes, pods, services))
}

/// The providers among `providers` whose tasks carry the label value `label`.
fn providers_labelled(providers: &Store<CapacityProvider>, label: &str) -> Vec<ObjectRef<CapacityProvider>> {
    providers
        .state()
        .iter()
        .filter(|cp| label_value(&cp.ecs_name()) == label)
        .map(|cp| ObjectRef::from_obj(&**cp))
        .collect()
}

/// How long the CapacityProvider controller waits for more changes before it reconciles.
pub const DEBOUNCE: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs the CapacityProvider controller (once, cluster-scoped) with the pods and Services of
/// `scopes` (`None`: every namespace) until `shutdown`; marks `synced` after the first LIST of
/// providers.
pub async fn run(
    scopes: Vec<Option<String>>,
    ctx: Arc<Context>,
    synced: crate::runtime::Synced,
    shutdown: Shutdown,
) {
    let client = ctx.client.clone();
    let (own_store, own_changes) = crate::controller::caches::own(
        Api::<CapacityProvider>::all(client.clone()),
        watcher::Config::default(),
    );
    let controller = Controller::for_stream(own_changes, own_store).trigger_backoff(watch_backoff());
    let store = controller.store();
    // Nodes: labels and allocatable capacity; a change of either re-reads every provider (there
    // are few), a heartbeat does not.
    let (nodes, node_writer) = reflector::store::<Node>();
    let node_changes = errors_logged(
        watcher(Api::<Node>::all(client.clone()), watcher::Config::default())
            .backoff(watch_backoff())
            .modify(|node| {
                let allocatable = node.status.take().and_then(|s| s.allocatable);
                node.status = allocatable.map(|a| NodeStatus {
                    allocatable: Some(a),
                    ..NodeStatus::default()
                });
                node.metadata.managed_fields = None;
            })
            .reflect(node_writer)
            .touched_objects()
            .predicate_filter(
                |node: &Node| {
                    let allocatable: BTreeMap<String, String> = node
                        .status
                        .as_ref()
                        .and_then(|s| s.allocatable.as_ref())
                        .map(|a| a.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect())
                        .unwrap_or_default();
                    Some(crate::fnv::hash(
                        format!("{:?}{allocatable:?}", node.labels()).bytes(),
                    ))
                },
                kube::runtime::utils::PredicateConfig::default(),
            ),
    );
    // The placeholder Deployments (ours, by label), mapped to their provider by label.
    let (headroom, headroom_changes) = reflected(
        Api::<Deployment>::namespaced(client.clone(), &ctx.config.headroom_namespace),
        watcher::Config::default().labels(HEADROOM_LABEL),
    );
    let by_headroom = store.clone();
    let mut pod_stores = Vec::new();
    let mut service_stores = Vec::new();
    let mut controller = controller;
    let all = store.clone();
    controller = controller
        .watches_stream(node_changes, move |_| {
            all.state()
                .iter()
                .map(|cp| ObjectRef::from_obj(&**cp))
                .collect::<Vec<_>>()
        })
        .watches_stream(headroom_changes, move |d| {
            d.labels()
                .get(HEADROOM_LABEL)
                .map(|label| providers_labelled(&by_headroom, label))
                .unwrap_or_default()
        });
    for scope in &scopes {
        let ns = scope.as_deref();
        let (pods, pod_changes) = reflected(
            scoped::<Pod>(&client, ns),
            watcher::Config::default().labels(PROVIDER_LABEL),
        );
        let (services, service_changes) =
            reflected(scoped::<Service>(&client, ns), watcher::Config::default());
        pod_stores.push(pods);
        service_stores.push(services);
        let by_label = store.clone();
        let by_service = store.clone();
        controller = controller
            .watches_stream(pod_changes, move |pod| {
                pod.labels()
                    .get(PROVIDER_LABEL)
                    .map(|label| providers_labelled(&by_label, label))
                    .unwrap_or_default()
            })
            .watches_stream(service_changes, move |svc| {
                by_service
                    .state()
                    .iter()
                    .filter(|cp| svc.uses_capacity_provider(&cp.ecs_name()))
                    .map(|cp| ObjectRef::from_obj(&**cp))
                    .collect::<Vec<_>>()
            });
    }
    *ctx.capacity_provider_caches
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Caches {
        nodes,
        pods: pod_stores,
        services: service_stores,
        headroom,
    });
    // Debounced: its status is counts over every task and Service using it, so a burst of
    // changes (thousands of tasks starting) makes one reconcile, not one per change.
    let config = kube::runtime::controller::Config::default()
        .concurrency(ctx.config.concurrency)
        .debounce(DEBOUNCE);
    let results = controller
        .with_config(config)
        .graceful_shutdown_on(shutdown.clone())
        .run(
            |cp, ctx| with_backoff_reset(CONTROLLER, reconcile, cp, ctx),
            error_policy::<CapacityProvider>,
            ctx,
        )
        .boxed();
    crate::controller::drive(CONTROLLER, store, synced, results, shutdown).await;
}
