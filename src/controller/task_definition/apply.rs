//! Apply (async): register the planned revision, delete the revisions retention lets go (and
//! their EFS PersistentVolumes), then server-side apply the dependents that changed.
//!
//! # Steady state
//!
//! Every dependent carries [`unchanged::APPLIED_HASH`] and is only applied when the live one is
//! not [`unchanged::is_current`], so a resync of unchanged TaskDefinitions writes nothing. The
//! live ServiceAccounts, claims and PersistentVolumes come from the controller's caches
//! ([`super::children`]); an ExternalSecret from the watch started once its kind is served
//! ([`crate::controller::optional_watch`]; read by GET until that watch has listed). Whether ExternalSecrets are served is asked of discovery until they are
//! ([`crate::controller::served`]), never by an apply: without External Secrets, the
//! TaskDefinition is `Degraded` and nothing is written. Without caches (a reconcile outside the
//! controller) every dependent is applied.
//!
//! Requests per reconcile, once the caches have caught up: for a new revision, the write of its
//! family's high-water mark ([`super::families::Marks::record`]; a GET instead when a retry
//! takes again the number the mark gave it) and its CREATE; a DELETE
//! per revision let go and per PersistentVolume of it; a GET per ExternalSecret (or one discovery
//! request while the kind is not served); an apply per dependent that changed.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{apps::v1::ControllerRevision, core::v1::PersistentVolume},
    apimachinery::pkg::apis::meta::v1::OwnerReference,
};
use kube::{
    Api, Resource,
    api::{ApiResource, DeleteParams, DynamicObject, GroupVersionKind, PatchParams, PostParams},
};
use serde_json::Value;

use super::{
    FIELD_MANAGER,
    build::{Dependent, Desired, Owner},
    children::{self, Stores},
    load::Loaded,
    validate::Valid,
};
use crate::controller::{
    Context, Error, delete::delete_seen, revisions::controlled_by, served::Outcome, unchanged,
};

/// A dependent that could not be applied for a reason the user must fix (not a transient
/// failure): the kind is not served by the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// What is missing and how to fix it.
    pub message: String,
}

/// Applies `desired` for `valid`, given what `loaded` found. Returns the kinds of dependents the
/// cluster does not serve (External Secrets not installed), each once.
///
/// # Errors
/// [`Error::Kube`] when a request fails for another reason (retried with backoff).
pub async fn apply(
    ctx: &Context,
    valid: &Valid,
    desired: Desired,
    loaded: &Loaded,
) -> Result<Vec<Missing>, Error> {
    let revisions: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), &valid.namespace);
    // The owner reference of each revision the TaskDefinition controls, the new one included.
    let mut owners: BTreeMap<i64, OwnerReference> = loaded
        .revisions
        .iter()
        .filter(|cr| controlled_by(cr, &valid.uid))
        .filter_map(|cr| Some((cr.revision, cr.controller_owner_ref(&())?)))
        .collect();
    if let Some(cr) = &desired.register {
        // The mark first: a revision number is never given twice. It names this TaskDefinition,
        // so that when the create fails the retry registers the same number (as ECS, where a
        // failed registration uses none up).
        let family = valid.task_definition.family();
        ctx.task_definition_marks
            .record(&ctx.client, &valid.namespace, &family, cr.revision, &valid.uid)
            .await?;
        // Expected before the create: a create whose answer is lost may still have happened, and
        // the cache must not be trusted until it shows the revision (or another registration
        // replaces this expectation).
        ctx.task_definition_registered
            .record(&valid.uid, cr.metadata.name.as_deref().unwrap_or_default());
        let created = revisions.create(&PostParams::default(), cr).await?;
        tracing::info!(revision = created.revision, "revision registered");
        if let Some(owner) = created.controller_owner_ref(&()) {
            owners.insert(created.revision, owner);
        }
    }
    for deletion in &desired.delete {
        let revision = deletion.revision.revision;
        if delete_seen(&revisions, &deletion.revision).await? {
            tracing::info!(revision, "revision deleted by retention");
        } else {
            tracing::debug!(revision, "revision already gone or replaced");
        }
        // Its namespaced dependents go with it (garbage collection); its cluster-scoped
        // PersistentVolumes cannot be owned by it.
        delete_volumes(ctx, &deletion.volumes).await?;
        owners.remove(&revision);
    }
    apply_dependents(
        ctx,
        valid,
        &desired.dependents,
        &owners,
        loaded.dependents.as_deref(),
    )
    .await
}

/// Applies each of `dependents` that is not as wanted, with its owner reference (from `owners`
/// for a revision's) and its applied hash; a revision-owned one whose revision has no owner
/// reference (gone meanwhile) is left out.
async fn apply_dependents(
    ctx: &Context,
    valid: &Valid,
    dependents: &[Dependent],
    owners: &BTreeMap<i64, OwnerReference>,
    cached: Option<&[Stores]>,
) -> Result<Vec<Missing>, Error> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut missing: Vec<Missing> = Vec::new();
    for dependent in dependents {
        let mut obj = dependent.object.clone();
        let owner = match dependent.owner {
            None => None,
            Some(Owner::TaskDefinition) => Some(valid.owner.clone()),
            Some(Owner::Revision(r)) => match owners.get(&r) {
                Some(owner) => Some(owner.clone()),
                None => continue,
            },
        };
        if let Some(owner) = owner {
            obj["metadata"]["ownerReferences"] = serde_json::json!([owner]);
        }
        let hash = unchanged::hash(&obj);
        obj["metadata"]["annotations"][unchanged::APPLIED_HASH] = Value::String(hash);
        let ar = api_resource(&obj);
        let name = obj["metadata"]["name"].as_str().unwrap_or_default().to_owned();
        let namespace = obj.pointer("/metadata/namespace").and_then(Value::as_str);
        let api: Api<DynamicObject> = match namespace {
            Some(ns) => Api::namespaced_with(ctx.client.clone(), ns, &ar),
            None => Api::all_with(ctx.client.clone(), &ar),
        };
        let is_cached = children::cached(&ar.kind);
        if !is_cached
            && !ctx
                .served
                .served_and_watched(&ctx.client, &ar, namespace.is_some())
                .await?
        {
            // Why: asked of discovery, not by an apply that would fail (a write at every resync).
            report_missing(&mut missing, &ar);
            continue;
        }
        let kind = (ar.api_version.as_str(), ar.plural.as_str());
        let outcome = if is_cached {
            // (Without caches, as in a reconcile outside the controller: applied.)
            let live =
                cached.and_then(|stores| stores.iter().find_map(|s| s.get(&ar.kind, namespace, &name)));
            if live.is_some_and(|live| unchanged::is_current(&obj, &live)) {
                continue;
            }
            ctx.served.apply(&api, kind, &name, &obj, &params).await?
        } else {
            // Not cached by this controller: its watch, once served (else read first).
            ctx.served
                .apply_unless_current(&api, &ar, (namespace, &name), &obj, &params)
                .await?
        };
        if outcome == Outcome::NotServed {
            report_missing(&mut missing, &ar);
        }
    }
    Ok(missing)
}

/// The API resource of an object given as JSON with `apiVersion` and `kind`; the plural is the
/// lower-case kind plus `s`, true of every kind made here.
fn api_resource(obj: &Value) -> ApiResource {
    let api_version = obj["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let kind = obj["kind"].as_str().unwrap_or_default();
    let plural = format!("{}s", kind.to_ascii_lowercase());
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), &plural)
}

/// Records that dependents of `ar`'s kind could not be applied: it is not served (once).
fn report_missing(missing: &mut Vec<Missing>, ar: &ApiResource) {
    let message = not_served(ar);
    if !missing.iter().any(|m| m.message == message) {
        tracing::warn!(kind = %ar.kind, "kind not served; dependents of this kind not applied");
        missing.push(Missing { message });
    }
}

/// What to say when `ar` is not served.
fn not_served(ar: &ApiResource) -> String {
    if ar.group == "external-secrets.io" {
        format!(
            "{}/{} {} is not served by this cluster, so AWS secrets cannot be fetched: install \
             External Secrets Operator (with a SecretStore or ClusterSecretStore), or run \
             ecs-bridge with --external-secrets=false and create the Secrets the Translated \
             condition names",
            ar.group, ar.version, ar.kind
        )
    } else {
        format!("{} {} is not served by this cluster", ar.api_version, ar.kind)
    }
}

/// Deletes the PersistentVolumes `names` (of a revision retention let go); gone already is fine.
/// The volumes' `Retain` policy leaves the file systems untouched.
///
/// # Errors
/// [`Error::Kube`] when a request fails.
pub async fn delete_volumes(ctx: &Context, names: &[String]) -> Result<(), Error> {
    let api: Api<PersistentVolume> = Api::all(ctx.client.clone());
    for name in names {
        match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => tracing::info!(volume = %name, "PersistentVolume of a deleted revision deleted"),
            Err(kube::Error::Api(status)) if status.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn api_resources_of_dependents() {
        let ar = api_resource(&json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret"}));
        assert_eq!(
            (ar.group.as_str(), ar.version.as_str(), ar.plural.as_str()),
            ("external-secrets.io", "v1", "externalsecrets")
        );
        let ar = api_resource(&json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim"}));
        assert_eq!(
            (ar.group.as_str(), ar.plural.as_str()),
            ("", "persistentvolumeclaims")
        );
        assert!(
            not_served(&api_resource(
                &json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret"})
            ))
            .contains("--external-secrets=false")
        );
    }
}
