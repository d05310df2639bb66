//! Apply (async): server-side apply of a Service's workload and networking objects, then pruning
//! of the children it no longer wants (the other workload kind after a change of
//! `schedulingStrategy`, Services and TargetGroupBindings of removed load balancers, registries
//! or Service Connect entries).
//!
//! Order: workload, Services, TargetGroupBindings (they name a Service); then pruning,
//! TargetGroupBindings before Services. Apply first, prune after, so a REPLICA ↔ DAEMON switch
//! never leaves the Service with no tasks at all, and a renamed target group is bound before the
//! old binding goes.
//!
//! Networking objects the cluster cannot take do not fail the reconcile (the tasks run anyway);
//! they are [`Applied::problems`], which the status reports as `Degraded`: a TargetGroupBinding
//! when the AWS Load Balancer Controller's CRD is not installed (the kind is not served), an
//! object the API server refuses (422: e.g. a Service Connect name another Service's objects
//! already use, which would give the object two controller owners).
//!
//! Requests per reconcile besides the workload's: one apply per networking object (a no-op for
//! the API server when unchanged), one LIST of the Service's Services and one of its
//! TargetGroupBindings (by label), a DELETE per object pruned.

use std::fmt::Debug;

use k8s_openapi::{
    NamespaceResourceScope,
    api::{
        apps::v1::{DaemonSet, Deployment},
        core::v1::Service as CoreService,
    },
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
    translate::{labels, networking::TargetGroupBinding, service::Workload},
};

/// Reason of `Degraded=True` when some networking objects could not be applied.
pub const REASON_DEPENDENTS_NOT_APPLIED: &str = "DependentsNotApplied";

/// What was applied: the workload as the API server returned it (with its current status).
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The Deployment or DaemonSet after the apply.
    pub workload: Workload,
    /// The task definition that runs, `family:revision`.
    pub task_definition: String,
    /// What did not carry over exactly.
    pub translation: Translation,
    /// Networking objects that could not be applied, and why (for `Degraded`).
    pub problems: Vec<String>,
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
    let problems = apply_networking(
        ctx,
        ns,
        &selector,
        uid,
        &desired.services,
        &desired.target_group_bindings,
    )
    .await?;
    Ok(Applied {
        workload,
        task_definition: desired.task_definition,
        translation: desired.translation,
        problems,
    })
}

/// Applies the networking objects, then prunes the Service's others; returns what could not be
/// applied (see the module docs).
///
/// # Errors
/// [`Error::Kube`] when a request fails for another reason (transient: retried with backoff).
async fn apply_networking(
    ctx: &Context,
    ns: &str,
    selector: &str,
    uid: &str,
    services: &[CoreService],
    bindings: &[TargetGroupBinding],
) -> Result<Vec<String>, Error> {
    let services_api = Api::<CoreService>::namespaced(ctx.client.clone(), ns);
    let bindings_api = Api::<TargetGroupBinding>::namespaced(ctx.client.clone(), ns);
    let mut problems = Vec::new();
    for s in services {
        if let Err(problem) = refused(apply_object(&services_api, s).await)? {
            problems.push(problem);
        }
    }
    let mut served = true;
    for b in bindings {
        match apply_object(&bindings_api, b).await {
            Ok(_) => {}
            // Why: an apply creates a missing object, so 404 means the kind is not served.
            Err(Error::Kube(kube::Error::Api(status))) if not_found(&status) => {
                tracing::warn!("TargetGroupBinding not served; load balancers not bound");
                problems.push(TARGET_GROUP_BINDING_NOT_SERVED.to_owned());
                served = false;
                break;
            }
            other => {
                if let Err(problem) = refused(other)? {
                    problems.push(problem);
                }
            }
        }
    }
    if served {
        let keep: Vec<String> = bindings.iter().map(ResourceExt::name_any).collect();
        match prune_all_but(&bindings_api, selector, uid, &keep).await {
            // (Not served: there is nothing to prune.)
            Err(Error::Kube(kube::Error::Api(status))) if not_found(&status) => {}
            other => other?,
        }
    }
    let keep: Vec<String> = services.iter().map(ResourceExt::name_any).collect();
    prune_all_but(&services_api, selector, uid, &keep).await?;
    Ok(problems)
}

/// Whether `status` is a 404: a `NotFound` Status, or a plain-text 404 (which kube-rs cannot
/// parse into a Status with a reason) from an API server or a proxy in front of it.
fn not_found(status: &kube::core::Status) -> bool {
    status.is_not_found() || status.code == 404
}

/// What `Degraded` says when TargetGroupBindings are not served.
pub const TARGET_GROUP_BINDING_NOT_SERVED: &str = "elbv2.k8s.aws/v1beta1 TargetGroupBinding is not served \
     by this cluster, so the load balancers' target groups do not get the tasks: install the AWS Load \
     Balancer Controller (its CRDs), or remove loadBalancers";

/// `Ok(Ok(()))` when `result` applied, `Ok(Err(problem))` when the API server refused the object
/// (422), the error otherwise.
fn refused<K: Resource<DynamicType = ()>>(result: Result<K, Error>) -> Result<Result<(), String>, Error> {
    match result {
        Ok(_) => Ok(Ok(())),
        Err(Error::Kube(kube::Error::Api(status))) if status.code == 422 => {
            tracing::warn!(kind = %K::kind(&()), message = %status.message, "refused by the API server");
            Ok(Err(format!("{} not applied: {}", K::kind(&()), status.message)))
        }
        Err(e) => Err(e),
    }
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

/// Deletes the objects of `api` matching `selector` that `owner_uid` owns, except those named in
/// `keep` (see [`prune`]).
///
/// # Errors
/// As [`prune`].
pub async fn prune_all_but<K>(
    api: &Api<K>,
    selector: &str,
    owner_uid: &str,
    keep: &[String],
) -> Result<(), Error>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let list = api.list(&ListParams::default().labels(selector)).await?;
    for obj in list.items {
        let name = obj.name_any();
        let owned = obj.owner_references().iter().any(|o| o.uid == owner_uid);
        if owned && !keep.contains(&name) {
            delete(api, &obj).await?;
        }
    }
    Ok(())
}

/// Deletes `obj` with its uid as a precondition; gone or replaced already is fine.
async fn delete<K>(api: &Api<K>, obj: &K) -> Result<(), Error>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let name = obj.name_any();
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
    Ok(())
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
    let keep: Vec<String> = keep.iter().map(|k| (*k).to_owned()).collect();
    prune_all_but(api, selector, owner_uid, &keep).await
}
