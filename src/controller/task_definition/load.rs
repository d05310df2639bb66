//! Load (async, read-only): what a TaskDefinition's reconcile reads, before anything is decided.
//!
//! - its ControllerRevisions, from the controller's cache; listed (one LIST by its name's label)
//!   only when the cache is behind: it lacks the revision the object's status names or the one
//!   this process registered last ([`children::Registered`]), or there is no cache;
//! - what registering its spec against them does ([`decide::registration`]); only when it
//!   registers a revision, its family's high-water mark too ([`families::Marks::read`]: as this
//!   process last knew it, read once), so that the new number is above every number the family
//!   ever had;
//! - only when retention may let a revision go ([`decide::needs_referrers`]), the objects of its
//!   namespace that may use one: Services, Tasks and ScheduledTasks (a LIST each);
//! - its dependents as the controller's caches last saw them ([`children`]).

use k8s_openapi::api::apps::v1::ControllerRevision;
use kube::{Api, api::ListParams};

use k8s_openapi::api::core::v1::ConfigMap;

use super::{
    children,
    decide::{self, Referrers, Registration},
    families,
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
    /// The namespace's families ConfigMap ([`families`]), when a revision is registered and it
    /// exists.
    pub families: Option<ConfigMap>,
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
    let dependents = children::ready_stores(ctx).await;
    let revisions = match dependents
        .as_deref()
        .and_then(|stores| cached_revisions(ctx, valid, stores))
    {
        Some(cached) => cached,
        None => {
            let api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), &valid.namespace);
            api.list(&ListParams::default().labels(&revisions::selector(&valid.name)))
                .await?
                .items
        }
    };
    let td = &valid.task_definition;
    let mut registration = decide::registration(td, &revisions, None);
    let mut families = None;
    if registration.as_ref().is_some_and(|r| r.register.is_some()) {
        families = ctx
            .task_definition_marks
            .read(&ctx.client, &valid.namespace)
            .await?;
        let family = td.family();
        let mark = families.as_ref().and_then(|cm| {
            Some(decide::Mark {
                revision: families::high_water_mark(cm, &family)?,
                ours: families::given_to(cm, &family) == Some(valid.uid.as_str()),
            })
        });
        if mark.is_some() {
            registration = decide::registration(td, &revisions, mark);
        }
    }
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
        families,
        referrers,
        dependents,
    })
}

/// The revisions of `valid` in `stores`, unless the cache is behind: it must hold the revision
/// the object's status names (or a later one of its own) and the one this process registered
/// last. (After a revision was deleted by hand the status names a missing one: then the
/// revisions are listed until the next registration.)
fn cached_revisions(
    ctx: &Context,
    valid: &Valid,
    stores: &[children::Stores],
) -> Option<Vec<ControllerRevision>> {
    let cached: Vec<ControllerRevision> = stores
        .iter()
        .flat_map(|s| s.revisions_of(&valid.namespace, &valid.name))
        .collect();
    let named = valid
        .task_definition
        .status
        .as_ref()
        .and_then(|s| s.revision)
        .unwrap_or(0);
    let latest_owned = cached
        .iter()
        .filter(|cr| revisions::controlled_by(cr, &valid.uid))
        .map(|cr| cr.revision)
        .max()
        .unwrap_or(0);
    (latest_owned >= named && ctx.task_definition_registered.seen_in(&valid.uid, &cached)).then_some(cached)
}
