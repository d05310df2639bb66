//! Load (async, read-only): the TaskDefinitions a Service may reference.
//!
//! Takes the TaskDefinitions of the Service's namespace and leaves the choice to [`validate`]:
//! a reference matches `spec.family` or the object name, which a single GET by name cannot
//! decide. A pinned reference (`family:N`, or an ARN) also reads the ControllerRevision of
//! revision N of that TaskDefinition (one request). When the Service or the TaskDefinition has
//! placement constraints, it takes the nodes too.
//!
//! The TaskDefinitions and nodes come from the controller's caches ([`super::children`]), so
//! a Service that pins no revision costs no request here; without caches (a reconcile outside
//! the controller, as in unit tests) they are listed (one request each).

use k8s_openapi::api::{apps::v1::ControllerRevision, core::v1::Node};
use kube::{Api, ResourceExt, api::ListParams};

use super::validate;
use crate::{
    api::{Service, TaskDefinition},
    controller::{Context, Error, task_definition::revisions::revision_name},
};

/// What a Service's reconcile read from the API.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The TaskDefinitions of the Service's namespace; empty when `spec.taskDefinition` is
    /// missing or malformed (nothing to look up: validate reports it).
    pub task_definitions: Vec<TaskDefinition>,
    /// The ControllerRevision of the pinned revision, when `spec.taskDefinition` pins one, the
    /// TaskDefinition exists and the revision is stored.
    pub pinned_revision: Option<ControllerRevision>,
    /// The cluster's nodes, when the Service or its TaskDefinition has placement constraints
    /// (`=~` and `ec2InstanceId` are evaluated against them).
    pub nodes: Option<Vec<Node>>,
}

/// Reads what `svc` (in `namespace`) refers to.
///
/// # Errors
/// [`Error::Kube`] when the TaskDefinitions cannot be listed or the pinned revision cannot be
/// read (its absence is no error: validate reports it).
pub async fn load(ctx: &Context, svc: &Service, namespace: &str) -> Result<Loaded, Error> {
    let Ok(reference) = validate::reference(svc) else {
        return Ok(Loaded::default());
    };
    let cached = super::children::ready_stores(ctx).await;
    let task_definitions = match &cached {
        Some(stores) => super::children::task_definitions(stores, namespace),
        None => {
            let api: Api<TaskDefinition> = Api::namespaced(ctx.client.clone(), namespace);
            api.list(&ListParams::default()).await?.items
        }
    };
    let pinned_revision = match (
        reference.revision,
        validate::find_task_definition(&task_definitions, &reference.family),
    ) {
        (Some(revision), Ok(Some(td))) => {
            let api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), namespace);
            api.get_opt(&revision_name(&td.name_any(), revision)).await?
        }
        _ => None,
    };
    let constrained = svc
        .spec
        .service
        .placement_constraints
        .as_ref()
        .is_some_and(|c| !c.is_empty())
        || validate::find_task_definition(&task_definitions, &reference.family)
            .ok()
            .flatten()
            .is_some_and(|td| {
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
        pinned_revision,
        nodes,
    })
}

/// Reads revision `revision` of TaskDefinition `td` (the ControllerRevision that stores it), for
/// a rollback to it; `None` when retention has removed it.
///
/// # Errors
/// [`Error::Kube`] when the read fails.
pub async fn stored_revision(
    ctx: &Context,
    namespace: &str,
    td: &TaskDefinition,
    revision: i64,
) -> Result<Option<ControllerRevision>, Error> {
    let api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), namespace);
    Ok(api.get_opt(&revision_name(&td.name_any(), revision)).await?)
}
