//! The Services' children as the operator's watches see them: Deployments, DaemonSets, their
//! ReplicaSets, the tasks' pods, the Kubernetes Services of their networking and the
//! HorizontalPodAutoscalers of their auto scaling, cached in
//! reflector stores; and what the Services refer to: the TaskDefinitions, their registered
//! revisions (ControllerRevisions) and the nodes (no request per reconcile).
//!
//! The Service controller's [`run`](super::watch::run) fills the stores (one set per watched
//! scope) and adds them to the shared [`Context`](crate::controller::Context); each reconcile's
//! [`super::load`] reads its Service's children here (to decide its rollout, observe ECS
//! deployments, failed tasks and events, and leave alone or prune the objects it applied), and
//! the TaskDefinitions and nodes it needs.
//!
//! A store is never older than the event that triggered a reconcile: each watch updates its
//! store before its event reaches the controller.

use std::sync::Arc;

use k8s_openapi::api::{
    apps::v1::{ControllerRevision, DaemonSet, Deployment, ReplicaSet},
    autoscaling::v2::HorizontalPodAutoscaler,
    core::v1::{Namespace, Node, Pod, Service as CoreService},
};
use kube::{
    ResourceExt,
    runtime::reflector::{ObjectRef, Store},
};

use crate::{
    api::{CapacityProvider, TaskDefinition},
    controller::indexed::{self, Indexed},
    translate::labels,
};

/// A child's Service: its `ecsbridge.io/service` label (the index of the children's stores).
#[must_use]
pub fn by_service<K: kube::Resource>(child: &K) -> Option<String> {
    indexed::label(child, labels::SERVICE)
}

/// A TaskDefinition's family (the index of the TaskDefinitions' store).
#[must_use]
pub fn by_family(td: &TaskDefinition) -> Option<String> {
    Some(td.family())
}

/// The stores of the Services' children.
#[derive(Clone)]
pub struct Stores {
    /// Whether every store below has listed once (awaited by any number of reconciles).
    pub listed: crate::controller::caches::Listed,
    /// Deployments labelled as ecs-bridge's, by Service ([`by_service`]).
    pub deployments: Indexed<Deployment>,
    /// DaemonSets labelled as ecs-bridge's.
    pub daemon_sets: Store<DaemonSet>,
    /// ReplicaSets with an `ecsbridge.io/service` label, by Service ([`by_service`]).
    pub replica_sets: Indexed<ReplicaSet>,
    /// Pods with an `ecsbridge.io/service` label, by Service ([`by_service`]).
    pub pods: Indexed<Pod>,
    /// Kubernetes Services labelled as ecs-bridge's (load balancers, registries, Service
    /// Connect), by Service ([`by_service`]).
    pub services: Indexed<CoreService>,
    /// HorizontalPodAutoscalers labelled as ecs-bridge's (auto scaling).
    pub hpas: Store<HorizontalPodAutoscaler>,
    /// The TaskDefinitions of the scope, by family ([`by_family`]).
    pub task_definitions: Indexed<TaskDefinition>,
    /// The TaskDefinitions' registered revisions (ControllerRevisions labelled as ecs-bridge's).
    pub revisions: Store<ControllerRevision>,
    /// The cluster's nodes, without their status (placement reads labels and `spec`).
    pub nodes: Store<Node>,
    /// The CapacityProviders (cluster-scoped: every scope watches all of them).
    pub capacity_providers: Store<CapacityProvider>,
    /// The scope's Namespaces (their annotations are the ECS cluster's providers and default
    /// strategy).
    pub namespaces: Store<Namespace>,
}

/// One Service's children.
#[derive(Debug, Clone, Default)]
pub struct Children {
    /// Its Deployments (one, or one per capacity provider), as last seen, by name.
    pub deployments: Vec<Arc<Deployment>>,
    /// Its DaemonSet, as last seen.
    pub daemon_set: Option<Arc<DaemonSet>>,
    /// Its ReplicaSets (owned by its Deployment or not: [`super::ecs_deployments::observe`] checks).
    pub replica_sets: Vec<ReplicaSet>,
    /// Its tasks.
    pub pods: Vec<Pod>,
    /// Its Kubernetes Services (labelled as its own; [`super::apply`] checks the owner).
    pub services: Vec<CoreService>,
    /// The HorizontalPodAutoscaler of its name, when ecs-bridge's ([`super::apply`] checks the
    /// owner).
    pub hpa: Option<Arc<HorizontalPodAutoscaler>>,
}

impl Stores {
    /// Waits until every store has listed once (so an empty store means "none", not "not yet").
    ///
    /// # Errors
    /// [`crate::controller::caches::Stopped`] when a store's writer was dropped (the controller
    /// is stopping).
    pub async fn ready(&self) -> Result<(), crate::controller::caches::Stopped> {
        let deployments = self.deployments.clone();
        let daemon_sets = self.daemon_sets.clone();
        let replica_sets = self.replica_sets.clone();
        let pods = self.pods.clone();
        let services = self.services.clone();
        let hpas = self.hpas.clone();
        let task_definitions = self.task_definitions.clone();
        let revisions = self.revisions.clone();
        let capacity_providers = self.capacity_providers.clone();
        let namespaces = self.namespaces.clone();
        let nodes = self.nodes.clone();
        self.listed
            .wait(|| async move {
                deployments.wait_until_ready().await.is_ok()
                    && daemon_sets.wait_until_ready().await.is_ok()
                    && replica_sets.wait_until_ready().await.is_ok()
                    && pods.wait_until_ready().await.is_ok()
                    && services.wait_until_ready().await.is_ok()
                    && hpas.wait_until_ready().await.is_ok()
                    && task_definitions.wait_until_ready().await.is_ok()
                    && revisions.wait_until_ready().await.is_ok()
                    && capacity_providers.wait_until_ready().await.is_ok()
                    && namespaces.wait_until_ready().await.is_ok()
                    && nodes.wait_until_ready().await.is_ok()
            })
            .await
    }

    /// The children of Service `name` in `namespace`.
    #[must_use]
    pub fn of(&self, namespace: &str, name: &str) -> Children {
        Children {
            deployments: self.deployments.of(namespace, name),
            daemon_set: self.daemon_sets.get(&ObjectRef::new(name).within(namespace)),
            replica_sets: self
                .replica_sets
                .of(namespace, name)
                .iter()
                .map(|rs| (**rs).clone())
                .collect(),
            pods: self
                .pods
                .of(namespace, name)
                .iter()
                .map(|p| (**p).clone())
                .collect(),
            services: self
                .services
                .of(namespace, name)
                .iter()
                .map(|s| (**s).clone())
                .collect(),
            hpa: self.hpas.get(&ObjectRef::new(name).within(namespace)),
        }
    }

    /// The Kubernetes Service `name` in `namespace`, if it is ecs-bridge's (any Service's).
    #[must_use]
    pub fn service(&self, namespace: &str, name: &str) -> Option<Arc<CoreService>> {
        self.services.get(&ObjectRef::new(name).within(namespace))
    }
}

/// The stores of every scope the Service controller runs in, once each has listed (a store
/// whose writer was dropped, the controller stopping, is left out); `None` when it runs in none
/// (no caches, as in a reconcile outside the controller).
pub async fn ready_stores(ctx: &crate::controller::Context) -> Option<Vec<Stores>> {
    crate::controller::caches::ready(&ctx.service_children, |s: Stores| async move {
        s.ready().await.map(|()| s)
    })
    .await
}

/// The children of Service `name` in `namespace` in `stores` ([`ready_stores`]).
#[must_use]
pub fn of(stores: &[Stores], namespace: &str, name: &str) -> Children {
    let mut all = Children::default();
    for s in stores {
        let mine = s.of(namespace, name);
        all.deployments.extend(mine.deployments);
        all.daemon_set = all.daemon_set.or(mine.daemon_set);
        all.replica_sets.extend(mine.replica_sets);
        all.pods.extend(mine.pods);
        all.services.extend(mine.services);
        all.hpa = all.hpa.or(mine.hpa);
    }
    all
}

/// The ecs-bridge Kubernetes Service `name` in `namespace` (whichever ecs-bridge Service owns
/// it), from the stores of every scope the Service controller runs in.
pub fn service(ctx: &crate::controller::Context, namespace: &str, name: &str) -> Option<Arc<CoreService>> {
    ctx.service_children
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .find_map(|s| s.service(namespace, name))
}

impl Children {
    /// The live Deployment named `name`, if it is among the Service's.
    #[must_use]
    pub fn deployment(&self, name: &str) -> Option<&Deployment> {
        self.deployments
            .iter()
            .find(|d| d.name_any() == name)
            .map(AsRef::as_ref)
    }

    /// The Deployment whose annotations carry the Service's rollout memory
    /// ([`super::history`]): the first by name that remembers something, else the first.
    #[must_use]
    pub fn remembering(&self) -> Option<&Deployment> {
        let remembers = |d: &&Arc<Deployment>| {
            d.annotations().contains_key(super::history::COMPLETED)
                || d.annotations().contains_key(super::history::FAILED)
        };
        self.deployments
            .iter()
            .find(remembers)
            .or_else(|| self.deployments.first())
            .map(AsRef::as_ref)
    }
}

/// The CapacityProviders in `stores` ([`ready_stores`]): every scope watches all of them, so the
/// first scope's are all of them.
#[must_use]
pub fn capacity_providers(stores: &[Stores]) -> Vec<CapacityProvider> {
    stores
        .first()
        .map(|s| {
            s.capacity_providers
                .state()
                .iter()
                .map(|p| (**p).clone())
                .collect()
        })
        .unwrap_or_default()
}

/// The Namespace `name` in `stores` ([`ready_stores`]), as last seen.
#[must_use]
pub fn namespace(stores: &[Stores], name: &str) -> Option<Namespace> {
    stores
        .iter()
        .find_map(|s| s.namespaces.get(&ObjectRef::new(name)))
        .map(|n| (*n).clone())
}

/// The TaskDefinitions of `namespace` in `stores` ([`ready_stores`]) that may be `family`'s (of
/// that family, or named so: what [`TaskDefinition::of_family`] chooses from), by name. Only
/// those are copied: a namespace may hold thousands.
#[must_use]
pub fn task_definitions(stores: &[Stores], namespace: &str, family: &str) -> Vec<TaskDefinition> {
    let mut task_definitions: Vec<TaskDefinition> = Vec::new();
    for s in stores {
        task_definitions.extend(
            s.task_definitions
                .of(namespace, family)
                .iter()
                .map(|td| (**td).clone()),
        );
        // The object named as the family, whatever its own family.
        if let Some(td) = s
            .task_definitions
            .store()
            .get(&ObjectRef::new(family).within(namespace))
            && !td.has_family(family)
        {
            task_definitions.push((*td).clone());
        }
    }
    task_definitions.sort_by_key(ResourceExt::name_any);
    task_definitions
}

/// The ControllerRevision `name` of `namespace` in `stores` ([`ready_stores`]), as last seen.
#[must_use]
pub fn revision(stores: &[Stores], namespace: &str, name: &str) -> Option<ControllerRevision> {
    stores
        .iter()
        .find_map(|s| s.revisions.get(&ObjectRef::new(name).within(namespace)))
        .map(|cr| (*cr).clone())
}

/// The cluster's nodes (without status) in `stores` ([`ready_stores`]): every scope watches all
/// of them, so the first scope's are all of them.
#[must_use]
pub fn nodes(stores: &[Stores]) -> Vec<Node> {
    stores
        .first()
        .map(|s| s.nodes.state().iter().map(|n| (**n).clone()).collect())
        .unwrap_or_default()
}
