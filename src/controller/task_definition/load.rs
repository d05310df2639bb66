//! Load (async, read-only): what a TaskDefinition's reconcile reads, before anything is decided.
//!
//! - its ControllerRevisions (one LIST by its name's label);
//! - what registering its spec against them does ([`decide::registration`]), worked out once;
//! - only when retention may let a revision go ([`decide::needs_referrers`]), the objects of its
//!   namespace that may use one: Services, Tasks and ScheduledTasks (a LIST each);
//! - its dependents as the controller's caches last saw them ([`children`]).

use k8s_openapi::api::apps::v1::ControllerRevision;
use kube::{Api, api::ListParams};

use super::{
    children,
    decide::{self, Referrers, Registration},
    validate::Valid,
};
use crate::{
    api::{ScheduledTask, Service, Task},
    controller::{Context, Error, revisions},
};

/// What a TaskDefinition's reconcile read.
#[derive(Clone, Default)]
pub struct Loaded {
    /// The ControllerRevisions labelled with its name (its own, and any other object's of the
    /// same name).
    pub revisions: Vec<ControllerRevision>,
    /// What registering its spec against `revisions` does; `None` for an object without uid.
    pub registration: Option<Registration>,
    /// The objects that may use one of its revisions, when retention may let one go.
    pub referrers: Option<Referrers>,
    /// The caches of its dependents; `None` without caches (a reconcile outside the
    /// controller).
    pub dependents: Option<Vec<children::Stores>>,
}

/// Reads what `valid` needs decided, keeping `limit` revisions besides the latest.
///
/// # Errors
/// [`Error::Kube`] when a LIST fails.
pub async fn load(ctx: &Context, valid: &Valid, limit: usize) -> Result<Loaded, Error> {
    let api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), &valid.namespace);
    let revisions = api
        .list(&ListParams::default().labels(&revisions::selector(&valid.name)))
        .await?
        .items;
    let registration = decide::registration(&valid.task_definition, &revisions);
    let referrers = if decide::needs_referrers(registration.as_ref(), limit) {
        let ns = valid.namespace.as_str();
        Some(Referrers {
            services: Api::<Service>::namespaced(ctx.client.clone(), ns)
                .list(&ListParams::default())
                .await?
                .items,
            tasks: Api::<Task>::namespaced(ctx.client.clone(), ns)
                .list(&ListParams::default())
                .await?
                .items,
            scheduled_tasks: Api::<ScheduledTask>::namespaced(ctx.client.clone(), ns)
                .list(&ListParams::default())
                .await?
                .items,
        })
    } else {
        None
    };
    Ok(Loaded {
        revisions,
        registration,
        referrers,
        dependents: children::ready_stores(ctx).await,
    })
}
