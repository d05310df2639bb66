//! Apply (async): server-side apply of a Service's workload and networking objects, then pruning
//! of the children it no longer wants (the other workload kind after a change of
//! `schedulingStrategy`, seen in the cache; Services and TargetGroupBindings of removed load
//! balancers, registries or Service Connect entries).
//!
//! Order: workload, Services, TargetGroupBindings (they name a Service); then pruning,
//! TargetGroupBindings before Services. Apply first, prune after, so a REPLICA ↔ DAEMON switch
//! never leaves the Service with no tasks at all, and a renamed target group is bound before the
//! old binding goes.
//!
//! Networking objects the cluster cannot take do not fail the reconcile (the tasks run anyway);
//! they are [`Applied::problems`], which the status reports as `Degraded`: a TargetGroupBinding
//! when the AWS Load Balancer Controller's CRD is not installed (the kind is not served), an
//! object the API server refuses (422), or a Service Connect name another Service's objects
//! already use (which would give the object two controller owners: seen in the cache, so not
//! even asked).
//!
//! # Steady state
//!
//! Every applied object carries [`unchanged::APPLIED_HASH`] and is only applied when the live
//! one is not [`unchanged::is_current`], so a resync of unchanged Services writes nothing. The
//! live objects come from:
//!
//! * the Deployment or DaemonSet: the controller's cache ([`super::children`]); the workload of
//!   the other kind is pruned when the cache holds one the Service owns, without a LIST;
//! * Kubernetes Services: the controller's cache ([`super::children`]); pruning deletes the
//!   cached ones no longer wanted, without a LIST.
//! * TargetGroupBindings: a GET of each wanted one (the kind may not be served, so it is not
//!   watched; the GET also notices a binding someone deleted or edited). Whether the kind is
//!   served is asked of discovery until it is, never by writing. The Service's bindings are
//!   listed for pruning only when the names it wants differ from those it wanted at its last
//!   prune ([`Bindings`], in memory), so after the first reconcile of each Service not at all.
//!
//! Requests per reconcile besides the workload's, once the cache has caught up: one GET per
//! wanted TargetGroupBinding; an apply per object that changed, a LIST of TargetGroupBindings
//! when the wanted set changed (or first after start when the Service has load balancers), a
//! DELETE per object pruned.

use std::{
    collections::HashMap,
    fmt::Debug,
    sync::{Mutex, PoisonError},
};

use k8s_openapi::{
    NamespaceResourceScope,
    api::{
        apps::v1::{DaemonSet, Deployment},
        autoscaling::v2::HorizontalPodAutoscaler,
        core::v1::Service as CoreService,
    },
};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{ApiResource, ListParams, Patch, PatchParams},
};
use serde::{Serialize, de::DeserializeOwned};

use super::{
    FIELD_MANAGER,
    build::{Desired, Translation},
    children::Children,
    validate::ValidatedService,
};
use crate::{
    api::external::{ScaledObject, TargetGroupBinding},
    controller::{
        Context, Error,
        served::{Outcome, not_found},
        unchanged,
    },
    translate::{labels, networking::LOAD_BALANCER_SUFFIX, service::Workload},
};

/// Reason of `Degraded=True` when some networking objects could not be applied.
pub const REASON_DEPENDENTS_NOT_APPLIED: &str = "DependentsNotApplied";

/// What was applied: the workload as the API server returned it (with its current status).
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The Deployments or DaemonSet after the apply.
    pub workload: Workload,
    /// The task definition that runs, `family:revision`.
    pub task_definition: String,
    /// What did not carry over exactly.
    pub translation: Translation,
    /// Networking objects that could not be applied, and why (for `Degraded`).
    pub problems: Vec<String>,
    /// The capacity provider strategy the tasks run with, and where it comes from.
    pub strategy: Option<(
        Vec<crate::api::ecs::CapacityProviderStrategyItem>,
        crate::translate::capacity::provider::StrategySource,
    )>,
    /// Its auto scaling as the status records it.
    pub auto_scaling: Option<crate::api::autoscaling::AutoScalingStatus>,
    /// Why some of its policies do not scale it (KEDA missing), for `Degraded`.
    pub unserved_scaling: Option<String>,
    /// Tasks replaced because an essential container stopped, by their pods'
    /// `pod-template-hash`, and the task and container for the Service's event.
    pub replaced: std::collections::BTreeMap<String, i32>,
    /// The task replaced, and why, for the Service's event.
    pub replaced_task: Option<(String, String)>,
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

/// Applies `desired` for `valid` (each object unless its live one among `children`, the
/// Service's children as the caches last saw them, already is what it says), then deletes the
/// Service's workloads of the other kind and its networking objects no longer wanted.
///
/// # Errors
/// [`Error::Kube`] when a request fails (transient: the reconcile is retried with backoff).
pub async fn apply(
    ctx: &Context,
    valid: &ValidatedService,
    desired: Desired,
    children: &Children,
) -> Result<Applied, Error> {
    let live_daemon_set = children.daemon_set.as_deref();
    let live_services = children.services.as_slice();
    let client = &ctx.client;
    let ns = valid.namespace.as_str();
    let selector = children_selector(&valid.name);
    let uid = valid.owner.uid.as_str();
    let deployments = Api::<Deployment>::namespaced(client.clone(), ns);
    let workload = match desired.workload {
        Workload::Deployments(ds) => {
            let mut applied = Vec::with_capacity(ds.len());
            for d in ds {
                let live = d.metadata.name.as_deref().and_then(|n| children.deployment(n));
                applied.push(apply_unless_current(client, ns, d, live).await?);
            }
            // Deployments of providers the Service left: shrunk within its bounds, then deleted.
            for leaving in &desired.leaving {
                let Some(live) = children.deployment(&leaving.name).filter(|d| owned_by(*d, uid)) else {
                    continue;
                };
                if leaving.replicas == 0 {
                    delete(&deployments, live).await?;
                } else if live.spec.as_ref().and_then(|s| s.replicas) != i32::try_from(leaving.replicas).ok()
                {
                    let scale = serde_json::json!({"spec": {"replicas": leaving.replicas}});
                    deployments
                        .patch(&leaving.name, &PatchParams::default(), &Patch::Merge(&scale))
                        .await?;
                }
            }
            // The DaemonSet of an earlier DAEMON strategy (seen in the cache, so no LIST).
            if let Some(old) = live_daemon_set.filter(|ds| owned_by(*ds, uid)) {
                delete(&Api::<DaemonSet>::namespaced(client.clone(), ns), old).await?;
            }
            Workload::Deployments(applied)
        }
        Workload::DaemonSet(d) => {
            let applied = apply_unless_current(client, ns, *d, live_daemon_set).await?;
            for old in children.deployments.iter().filter(|d| owned_by(d.as_ref(), uid)) {
                delete(&deployments, old).await?;
            }
            Workload::DaemonSet(Box::new(applied))
        }
    };
    let mut problems = apply_networking(
        ctx,
        &Owner {
            namespace: ns,
            name: &valid.name,
            uid,
            selector: &selector,
        },
        &desired.services,
        &desired.target_group_bindings,
        live_services,
    )
    .await?;
    if let Some(problem) = apply_hpa(client, ns, uid, desired.hpa, children.hpa.as_deref()).await? {
        problems.push(problem);
    }
    let had_scaled_object = valid
        .service
        .status
        .as_ref()
        .and_then(|s| s.auto_scaling.as_ref())
        .and_then(|a| a.scaled_object.clone());
    let wanted = desired.scaled_object.as_ref();
    if let Some(problem) = apply_scaled_object(ctx, ns, wanted, had_scaled_object.as_deref()).await? {
        problems.push(problem);
    }
    let (replaced, replaced_task) = match &desired.replace {
        Some(pod) => super::replace::replace_task(ctx, ns, pod).await?,
        None => (std::collections::BTreeMap::new(), None),
    };
    Ok(Applied {
        replaced,
        replaced_task,
        workload,
        task_definition: desired.task_definition,
        translation: desired.translation,
        problems,
        strategy: desired.strategy,
        auto_scaling: desired.auto_scaling,
        unserved_scaling: desired.unserved_scaling,
    })
}

/// Applies `obj` (stamped with [`unchanged::APPLIED_HASH`] by [`super::build`]) unless `live`
/// already is [`unchanged::is_current`]; returns the live object either way.
///
/// # Errors
/// [`Error::Kube`] when the apply fails.
async fn apply_unless_current<K>(client: &Client, ns: &str, obj: K, live: Option<&K>) -> Result<K, Error>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + Serialize
        + DeserializeOwned
        + Debug,
{
    match live.filter(|live| unchanged::is_current(&obj, *live)) {
        // Why: an apply that changes nothing is still a write (see `unchanged`).
        Some(live) => Ok(live.clone()),
        None => apply_object(&Api::<K>::namespaced(client.clone(), ns), &obj).await,
    }
}

/// Applies `hpa` (the HPA of the Service with uid `uid`) unless `live` already is it, or deletes
/// `live` when the Service owns it and wants none; returns why it was refused (422), for
/// `Degraded`: the tasks keep running at their count.
///
/// # Errors
/// [`Error::Kube`] when a request fails for another reason.
async fn apply_hpa(
    client: &Client,
    ns: &str,
    uid: &str,
    hpa: Option<HorizontalPodAutoscaler>,
    live: Option<&HorizontalPodAutoscaler>,
) -> Result<Option<String>, Error> {
    match (hpa, live) {
        (Some(hpa), live) => Ok(refused(apply_unless_current(client, ns, hpa, live).await)?.err()),
        (None, Some(live)) if owned_by(live, uid) => {
            let api = Api::<HorizontalPodAutoscaler>::namespaced(client.clone(), ns);
            delete(&api, live).await.map(|()| None)
        }
        (None, _) => Ok(None),
    }
}

/// Applies `wanted` (KEDA's ScaledObject of a Service) unless the live one already is it (from the
/// watch started once the kind is served, else a GET), or deletes the one the Service had
/// (`had`, its status says) when it wants none; returns why it could not be applied.
///
/// # Errors
/// [`Error::Kube`] when a request fails for another reason.
async fn apply_scaled_object(
    ctx: &Context,
    ns: &str,
    wanted: Option<&ScaledObject>,
    had: Option<&str>,
) -> Result<Option<String>, Error> {
    let api = Api::<ScaledObject>::namespaced(ctx.client.clone(), ns);
    let ar = ApiResource::erase::<ScaledObject>(&());
    match (wanted, had) {
        (Some(so), _) => {
            let params = PatchParams::apply(FIELD_MANAGER).force();
            match ctx
                .served
                .apply_unless_current(&api, &ar, (Some(ns), &so.name_any()), so, &params)
                .await
            {
                Ok(Outcome::NotServed) => Ok(Some(
                    "ScaledObject not applied: KEDA's ScaledObject kind is no longer served; reinstall KEDA"
                        .to_owned(),
                )),
                Ok(Outcome::Current | Outcome::Applied) => Ok(None),
                Err(e) => Ok(refused::<ScaledObject>(Err(e.into()))?.err()),
            }
        }
        (None, Some(name)) => match api.delete(name, &kube::api::DeleteParams::default()).await {
            Ok(_) => Ok(None),
            Err(kube::Error::Api(status)) if not_found(&status) => Ok(None),
            Err(e) => Err(e.into()),
        },
        (None, None) => Ok(None),
    }
}

/// Whether `obj` is owned by the object with uid `uid`.
fn owned_by<K: Resource>(obj: &K, uid: &str) -> bool {
    obj.owner_references().iter().any(|o| o.uid == uid)
}

/// The Service whose networking objects are applied.
struct Owner<'a> {
    namespace: &'a str,
    name: &'a str,
    uid: &'a str,
    /// [`children_selector`] of `name`.
    selector: &'a str,
}

/// Applies the networking objects that changed, then prunes the Service's others; returns what
/// could not be applied (see the module docs).
///
/// # Errors
/// [`Error::Kube`] when a request fails for another reason (transient: retried with backoff).
async fn apply_networking(
    ctx: &Context,
    owner: &Owner<'_>,
    services: &[CoreService],
    bindings: &[TargetGroupBinding],
    live_services: &[CoreService],
) -> Result<Vec<String>, Error> {
    let services_api = Api::<CoreService>::namespaced(ctx.client.clone(), owner.namespace);
    let mut problems = Vec::new();
    for s in services {
        let name = s.name_any();
        let live = live_services.iter().find(|l| l.name_any() == name);
        if live.is_some_and(|live| unchanged::is_current(s, live)) {
            continue;
        }
        if let Some(other) = controlled_by_another(ctx, owner, &name) {
            // Why: the API server would refuse a second controller owner (422); no need to ask.
            problems.push(format!(
                "Service not applied: Service {name:?} already belongs to {other}, which uses the \
                 same name; rename one"
            ));
            continue;
        }
        if let Err(problem) = refused(apply_object(&services_api, s).await)? {
            problems.push(problem);
        }
    }
    let served = apply_bindings(ctx, owner, bindings, &mut problems).await?;
    if served {
        prune_bindings(ctx, owner, bindings, live_services).await?;
    }
    let keep: Vec<String> = services.iter().map(ResourceExt::name_any).collect();
    for live in live_services {
        let owned = live.owner_references().iter().any(|o| o.uid == owner.uid);
        if owned && !keep.contains(&live.name_any()) {
            delete(&services_api, live).await?;
        }
    }
    Ok(problems)
}

/// The controller owner (other than `owner`) of the cached Kubernetes Service `name`, as
/// `Service.ecsbridge.io "<name>"`.
fn controlled_by_another(ctx: &Context, owner: &Owner<'_>, name: &str) -> Option<String> {
    let live = super::children::service(ctx, owner.namespace, name)?;
    live.owner_references()
        .iter()
        .find(|o| o.controller == Some(true) && o.uid != owner.uid)
        .map(|o| {
            let group = o.api_version.split_once('/').map_or("", |(g, _)| g);
            format!("{}.{group} {:?}", o.kind, o.name)
        })
}

/// Applies the TargetGroupBindings that are missing or changed; returns whether the kind is
/// served (with a problem in `problems` when it is not).
///
/// # Errors
/// [`Error::Kube`] when a request fails for another reason.
async fn apply_bindings(
    ctx: &Context,
    owner: &Owner<'_>,
    bindings: &[TargetGroupBinding],
    problems: &mut Vec<String>,
) -> Result<bool, Error> {
    if bindings.is_empty() {
        return Ok(true);
    }
    let ar = ApiResource::erase::<TargetGroupBinding>(&());
    if !ctx.served.served_and_watched(&ctx.client, &ar, true).await? {
        tracing::warn!("TargetGroupBinding not served; load balancers not bound");
        problems.push(TARGET_GROUP_BINDING_NOT_SERVED.to_owned());
        return Ok(false);
    }
    let api = Api::<TargetGroupBinding>::namespaced(ctx.client.clone(), owner.namespace);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    for b in bindings {
        let outcome = ctx
            .served
            .apply_unless_current(&api, &ar, (Some(owner.namespace), &b.name_any()), b, &params)
            .await;
        match outcome {
            Ok(Outcome::NotServed) => {
                tracing::warn!("TargetGroupBinding no longer served; load balancers not bound");
                problems.push(TARGET_GROUP_BINDING_NOT_SERVED.to_owned());
                return Ok(false);
            }
            Ok(Outcome::Current | Outcome::Applied) => {}
            Err(e) => {
                if let Err(problem) = refused::<TargetGroupBinding>(Err(e.into()))? {
                    problems.push(problem);
                }
            }
        }
    }
    Ok(true)
}

/// Deletes the Service's TargetGroupBindings other than `bindings`, listing them only when it
/// may have some that it no longer wants: when the names it wants changed since its last prune
/// ([`Bindings`]), or before the first prune since start while it has load balancers.
///
/// # Errors
/// [`Error::Kube`] when the LIST or a DELETE fails.
async fn prune_bindings(
    ctx: &Context,
    owner: &Owner<'_>,
    bindings: &[TargetGroupBinding],
    live_services: &[CoreService],
) -> Result<(), Error> {
    let memo = &ctx.target_group_bindings;
    let keep: Vec<String> = bindings.iter().map(ResourceExt::name_any).collect();
    let load_balancer = format!("{}{LOAD_BALANCER_SUFFIX}", owner.name);
    if keep.is_empty() && !live_services.iter().any(|s| s.name_any() == load_balancer) {
        // Why: bindings name the load balancer Service and are pruned before it, so a Service
        // that wants none and has no load balancer Service has none (nothing to remember).
        memo.forget(owner.uid);
        return Ok(());
    }
    let wanted = unchanged::hash(&keep);
    if memo.pruned(owner.uid).as_deref() == Some(wanted.as_str()) {
        return Ok(());
    }
    let api = Api::<TargetGroupBinding>::namespaced(ctx.client.clone(), owner.namespace);
    match prune_all_but(&api, owner.selector, owner.uid, &keep).await {
        // (Not served: there is nothing to prune.)
        Err(Error::Kube(kube::Error::Api(status))) if not_found(&status) => {}
        other => other?,
    }
    memo.record(owner.uid, wanted);
    Ok(())
}

/// What the controller remembers of TargetGroupBindings between reconciles (in memory: a
/// restart forgets it, and costs one discovery request and one LIST per Service with load
/// balancers). Only Services with load balancers (or a load balancer Service still to prune)
/// are remembered.
#[derive(Debug, Default)]
pub struct Bindings {
    /// Per Service uid: the hash of the binding names it wanted at its last prune, after which
    /// it had no others.
    pruned: Mutex<HashMap<String, String>>,
}

impl Bindings {
    /// The hash of the binding names Service `uid` wanted at its last prune.
    fn pruned(&self, uid: &str) -> Option<String> {
        self.pruned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(uid)
            .cloned()
    }

    /// Service `uid` has no bindings but those whose names hash to `wanted`.
    fn record(&self, uid: &str, wanted: String) {
        self.pruned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(uid.to_owned(), wanted);
    }

    /// Forgets Service `uid` (deleted, or without load balancers).
    pub fn forget(&self, uid: &str) {
        self.pruned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(uid);
    }
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
/// `keep`.
///
/// Each delete carries the object's uid as a precondition, so an object recreated meanwhile under
/// the same name is left alone; an object already gone is fine.
///
/// # Errors
/// [`Error::Kube`] when listing fails or a delete fails for another reason than "gone" or
/// "replaced".
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
    if crate::controller::delete::delete_seen(api, obj).await? {
        tracing::info!(kind = %K::kind(&()), %name, "pruned");
    } else {
        tracing::debug!(%name, "already gone or replaced");
    }
    Ok(())
}
