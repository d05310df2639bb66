//! Apply (async): server-side apply of a Service's workload, then pruning of the children it no
//! longer wants (the other workload kind after a change of `schedulingStrategy`).
//!
//! Order: apply first, prune after, so a REPLICA ↔ DAEMON switch never leaves the Service with no
//! tasks at all.

use std::fmt::Debug;

use k8s_openapi::{
    NamespaceResourceScope,
    api::apps::v1::{DaemonSet, Deployment},
};
use kube::{
    Api, Resource, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams, Preconditions},
};
use serde::{Serialize, de::DeserializeOwned};

use super::{
    FIELD_MANAGER,
    build::{Desired, Translation},
    validate::ValidatedService,
};
use crate::{
    controller::{Context, Error, unchanged},
    translate::{labels, service::Workload},
};

/// What was applied: the workload as the API server returned it (with its current status).
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The Deployment or DaemonSet after the apply.
    pub workload: Workload,
    /// The task definition that runs, `family:revision`.
    pub task_definition: String,
    /// What did not carry over exactly.
    pub translation: Translation,
}

/// The label selector of the children of Service `name`: its service label and ours.
#[must_use]
pub fn children_selector(name: &str) -> String {
    format!(
        "{}={name},{}={}",
        labels::SERVICE,
        labels::MANAGED_BY,
        labels::MANAGED_BY_VALUE
    )
}

/// Applies `desired` for `valid` (unless `live`, the Deployment as last seen, already is what
/// it says), then deletes the Service's workloads of the other kind.
///
/// # Errors
/// [`Error::Kube`] when a request fails (transient: the reconcile is retried with backoff).
pub async fn apply(
    ctx: &Context,
    valid: &ValidatedService,
    desired: Desired,
    live: Option<&Deployment>,
) -> Result<Applied, Error> {
    let client = &ctx.client;
    let ns = valid.namespace.as_str();
    let selector = children_selector(&valid.name);
    let uid = valid.owner.uid.as_str();
    let workload = match desired.workload {
        Workload::Deployment(mut d) => {
            let hash = unchanged::hash(&d);
            unchanged::stamp(&mut d.metadata, hash);
            let applied = match live.filter(|live| unchanged::is_current(&d, *live)) {
                // Why: an apply that changes nothing is still a write (see `unchanged`).
                Some(live) => live.clone(),
                None => apply_object(&Api::<Deployment>::namespaced(client.clone(), ns), &d).await?,
            };
            prune(
                &Api::<DaemonSet>::namespaced(client.clone(), ns),
                &selector,
                uid,
                None,
            )
            .await?;
            Workload::Deployment(Box::new(applied))
        }
        Workload::DaemonSet(d) => {
            let applied = apply_object(&Api::<DaemonSet>::namespaced(client.clone(), ns), &d).await?;
            prune(
                &Api::<Deployment>::namespaced(client.clone(), ns),
                &selector,
                uid,
                None,
            )
            .await?;
            Workload::DaemonSet(Box::new(applied))
        }
    };
    Ok(Applied {
        workload,
        task_definition: desired.task_definition,
        translation: desired.translation,
    })
}

/// Server-side applies `obj` (field manager [`FIELD_MANAGER`], forced: this controller owns the
/// fields it sets) and returns the object as stored.
///
/// # Errors
/// [`Error::Kube`] when the API server refuses or cannot be reached.
pub async fn apply_object<K>(api: &Api<K>, obj: &K) -> Result<K, Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug,
{
    let params = PatchParams::apply(FIELD_MANAGER).force();
    Ok(api.patch(&obj.name_any(), &params, &Patch::Apply(obj)).await?)
}

/// Deletes the objects of `api` matching `selector` that `owner_uid` owns, except `keep`.
///
/// Each delete carries the object's uid as a precondition, so an object recreated meanwhile under
/// the same name is left alone; an object already gone is fine.
///
/// # Errors
/// [`Error::Kube`] when listing fails or a delete fails for another reason than "gone" or
/// "replaced".
pub async fn prune<K>(api: &Api<K>, selector: &str, owner_uid: &str, keep: Option<&str>) -> Result<(), Error>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let list = api.list(&ListParams::default().labels(selector)).await?;
    for obj in list.items {
        let name = obj.name_any();
        let owned = obj.owner_references().iter().any(|o| o.uid == owner_uid);
        if !owned || keep == Some(name.as_str()) {
            continue;
        }
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: obj.uid(),
                resource_version: None,
            }),
            ..DeleteParams::background()
        };
        match api.delete(&name, &params).await {
            Ok(_) => tracing::info!(kind = %K::kind(&()), %name, "pruned"),
            Err(kube::Error::Api(status)) if status.is_not_found() || status.is_conflict() => {
                tracing::debug!(%name, "already gone or replaced");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
