//! Load (async, read-only): everything a Service's reconcile reads, before anything is decided.
//!
//! - its children (workload, ReplicaSets, pods, Kubernetes Services), from the controller's
//!   caches ([`super::children`]);
//! - the TaskDefinitions of its namespace: a reference matches `spec.family` or the object name,
//!   which a single GET by name cannot decide, so [`super::validate`] chooses among them;
//! - the stored revisions it may run: the one it asks for (pinned, `family:N` or an ARN; else
//!   the TaskDefinition's latest registered, `status.revision`), and the one the circuit breaker
//!   rolls back to while the revision it asks for is remembered as failed
//!   ([`super::history::rollback_revision`]). A Service only ever runs a stored revision, never
//!   the live spec: a revision number always means one spec, and an edit of the TaskDefinition
//!   reaches the Service once, as the revision it registers;
//! - the nodes, when the Service or its TaskDefinition has placement constraints;
//! - its Namespace (the ECS cluster's capacity providers and default strategy) and the
//!   CapacityProviders.
//!
//! The TaskDefinitions, revisions, nodes and children come from the controller's caches, so a
//! reconcile costs no request here (a revision not cached yet is read by name); without caches
//! (a reconcile outside the controller, as in unit tests) the TaskDefinitions and nodes are
//! listed and each revision is read (one request each).

use k8s_openapi::api::{
    apps::v1::ControllerRevision,
    core::v1::{Namespace, Node},
};
use kube::{Api, ResourceExt, api::ListParams};

use super::{children::Children, history};
use crate::{
    api::{CapacityProvider, Service, TaskDefinition, external::ScaledObject},
    controller::{
        Context, Error,
        revisions::{self, revision_name},
    },
    translate::{autoscaling::external::METRIC as EXTERNAL_METRIC, reference::TaskDefinitionRef},
};

/// What a Service's reconcile read.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The TaskDefinitions of the Service's namespace that may be the family it asks for (from
    /// the caches; all of the namespace's when listed); empty when `spec.taskDefinition` is
    /// missing or malformed (nothing to look up: validate reports it).
    pub task_definitions: Vec<TaskDefinition>,
    /// The ControllerRevision of the revision the Service asks for ([`asked_revision`]), when the
    /// TaskDefinition exists and the revision is stored.
    pub revision: Option<ControllerRevision>,
    /// The revision the circuit breaker rolls back to, and its ControllerRevision when stored.
    pub rollback_revision: Option<(i64, Option<ControllerRevision>)>,
    /// The cluster's nodes, when the Service or its TaskDefinition has placement constraints
    /// (`=~` and `ec2InstanceId` are evaluated against them).
    pub nodes: Option<Vec<Node>>,
    /// The Service's children, as the caches last saw them.
    pub children: Children,
    /// The CapacityProviders, when the Service may run on some (it names a strategy or a launch
    /// type, records one, or its namespace has a default).
    pub capacity_providers: Vec<CapacityProvider>,
    /// Its Namespace (the ECS cluster: its providers and default strategy), when known.
    pub namespace: Option<Namespace>,
    /// Whether KEDA's ScaledObject kind is served, when its auto scaling reads CloudWatch (asked
    /// of discovery until served, or given by `--keda`); false otherwise.
    pub keda: bool,
    /// Without KEDA, whether a metrics adapter serves the external metric
    /// `ecsbridge_cloudwatch` (asked of discovery until served, or `--external-metrics`).
    pub external_metrics: bool,
}

/// Reads what `svc` (in `namespace`) refers to and what it owns.
///
/// # Errors
/// [`Error::Kube`] when the TaskDefinitions or nodes cannot be listed or a stored revision
/// cannot be read (their absence is no error: validate reports it).
pub async fn load(ctx: &Context, svc: &Service, namespace: &str) -> Result<Loaded, Error> {
    let cached = super::children::ready_stores(ctx).await;
    let children = super::children::of(cached.as_deref().unwrap_or_default(), namespace, &svc.name_any());
    let reference = svc
        .spec
        .service
        .task_definition
        .as_deref()
        .map(TaskDefinitionRef::parse);
    let (capacity_providers, namespace_object) = capacity(ctx, svc, cached.as_deref(), namespace).await?;
    let keda = match (svc.spec.auto_scaling.as_ref(), ctx.config.options.keda) {
        (Some(a), None) if a.reads_cloudwatch() => {
            let ar = kube::api::ApiResource::erase::<ScaledObject>(&());
            ctx.served.served_and_watched(&ctx.client, &ar, true).await?
        }
        (Some(a), Some(given)) => {
            let keda = given && a.reads_cloudwatch();
            if keda {
                // Given served: watched at once.
                let ar = kube::api::ApiResource::erase::<ScaledObject>(&());
                ctx.served.watches.start(&ctx.client, &ar, true, || {});
            }
            keda
        }
        _ => false,
    };
    let external_metrics = match (
        svc.spec.auto_scaling.as_ref(),
        ctx.config.options.external_metrics,
    ) {
        (Some(a), None) if !keda && a.reads_cloudwatch() => {
            let api_version = "external.metrics.k8s.io/v1beta1";
            ctx.served
                .served(&ctx.client, api_version, EXTERNAL_METRIC)
                .await?
        }
        (Some(a), Some(given)) => given && !keda && a.reads_cloudwatch(),
        _ => false,
    };
    let Some(Ok(reference)) = reference else {
        return Ok(Loaded {
            children,
            capacity_providers,
            namespace: namespace_object,
            keda,
            external_metrics,
            ..Loaded::default()
        });
    };
    let task_definitions = match &cached {
        Some(stores) => super::children::task_definitions(stores, namespace, &reference.family),
        None => {
            let api: Api<TaskDefinition> = Api::namespaced(ctx.client.clone(), namespace);
            api.list(&ListParams::default()).await?.items
        }
    };
    let found = TaskDefinition::of_family(&task_definitions, &reference.family)
        .ok()
        .flatten();
    let stores = cached.as_deref();
    let revision = match found.and_then(|td| Some((td, asked_revision(&reference, td)?))) {
        Some((td, revision)) => stored_revision(ctx, stores, td, revision).await?,
        None => None,
    };
    let rollback_revision = match found {
        Some(td) => {
            let resolved = format!(
                "{}:{}",
                td.family(),
                reference.revision.unwrap_or_else(|| td.latest_revision())
            );
            match history::rollback_revision(svc, children.remembering(), &resolved) {
                Some(revision) => Some((revision, stored_revision(ctx, stores, td, revision).await?)),
                None => None,
            }
        }
        None => None,
    };
    let constrained = svc
        .spec
        .service
        .placement_constraints
        .as_ref()
        .is_some_and(|c| !c.is_empty())
        || found.is_some_and(|td| {
            td.spec
                .task_definition
                .placement_constraints
                .as_ref()
                .is_some_and(|c| !c.is_empty())
        });
    let nodes = match (constrained, cached) {
        (false, _) => None,
        // Only now: most Services have no constraints, and the nodes are not copied for them.
        (true, Some(stores)) => Some(super::children::nodes(&stores)),
        (true, None) => Some(
            Api::<Node>::all(ctx.client.clone())
                .list(&ListParams::default())
                .await?
                .items,
        ),
    };
    Ok(Loaded {
        task_definitions,
        revision,
        rollback_revision,
        nodes,
        children,
        capacity_providers,
        namespace: namespace_object,
        keda,
        external_metrics,
    })
}

/// The CapacityProviders and the Namespace `namespace`, from the caches. Without caches (a
/// reconcile outside the controller), the CapacityProviders are listed only when `svc` names a
/// strategy or a launch type, and the Namespace is not read: its default strategy is not used.
///
/// # Errors
/// [`Error::Kube`] when a request fails.
async fn capacity(
    ctx: &Context,
    svc: &Service,
    stores: Option<&[super::children::Stores]>,
    namespace: &str,
) -> Result<(Vec<CapacityProvider>, Option<Namespace>), Error> {
    if let Some(stores) = stores {
        return Ok((
            super::children::capacity_providers(stores),
            super::children::namespace(stores, namespace),
        ));
    }
    let named =
        svc.spec.service.capacity_provider_strategy.is_some() || svc.spec.service.launch_type.is_some();
    if !named {
        return Ok((Vec::new(), None));
    }
    let providers = Api::<CapacityProvider>::all(ctx.client.clone())
        .list(&ListParams::default())
        .await?
        .items;
    Ok((providers, None))
}

/// The revision a Service whose `spec.taskDefinition` is `reference` asks of `td`: the pinned one,
/// else the latest registered (`status.revision`); `None` while `td` has registered none.
#[must_use]
pub fn asked_revision(reference: &TaskDefinitionRef, td: &TaskDefinition) -> Option<i64> {
    reference
        .revision
        .or_else(|| td.status.as_ref().and_then(|s| s.revision))
}

/// The ControllerRevision of `td`'s `revision`: from `stores` when cached there and controlled by
/// `td`, else read by name (not cached yet, or no caches); `None` when it does not exist.
///
/// # Errors
/// [`Error::Kube`] when the read fails.
async fn stored_revision(
    ctx: &Context,
    stores: Option<&[super::children::Stores]>,
    td: &TaskDefinition,
    revision: i64,
) -> Result<Option<ControllerRevision>, Error> {
    let name = revision_name(&td.name_any(), revision);
    let namespace = td.namespace().unwrap_or_default();
    let uid = td.uid().unwrap_or_default();
    let cached = stores
        .and_then(|stores| super::children::revision(stores, &namespace, &name))
        .filter(|cr| revisions::controlled_by(cr, &uid));
    if cached.is_some() {
        return Ok(cached);
    }
    let api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), &namespace);
    Ok(api.get_opt(&name).await?)
}
