//! Managed scaling's headroom ([`crate::translate::capacity::headroom`]): the placeholder
//! Deployment of a provider with `targetCapacity` below 100, owned by the provider, in the
//! operator's namespace; applied when it changed (the live one comes from the watch, [`super::watch`])
//! and deleted when no longer wanted.

use k8s_openapi::api::apps::v1::Deployment;
use kube::{
    Api, Resource, ResourceExt,
    api::{DeleteParams, Patch, PatchParams},
};

use super::{FIELD_MANAGER, load::Loaded};
use crate::{
    api::CapacityProvider,
    controller::{Context, Error, unchanged},
    translate::capacity::{headroom, provider::Provider},
};

/// The headroom `cp` keeps for `loaded`: its placeholder Deployment (owned, stamped) and what the
/// status says of it; `None` when it keeps none.
#[must_use]
pub fn wanted(cp: &CapacityProvider, loaded: &Loaded, namespace: &str) -> Option<(Deployment, String)> {
    if cp.meta().deletion_timestamp.is_some() {
        return None;
    }
    let target = headroom::target_capacity(cp)?;
    let p = headroom::sized(
        target,
        u64::try_from(loaded.tasks.len()).unwrap_or(u64::MAX),
        loaded.tasks.iter().map(|t| t.cpu_millis).sum(),
        loaded.tasks.iter().map(|t| t.memory_bytes).sum(),
    )?;
    let (count, cpu, memory) = (p.count, p.cpu_millis, p.memory_bytes);
    let mut d = headroom::deployment(&cp.name_any(), &Provider::of(cp), namespace, count, cpu, memory);
    if let Some(mut owner) = cp.controller_owner_ref(&()) {
        owner.block_owner_deletion = Some(true);
        d.metadata.owner_references = Some(vec![owner]);
    }
    let hash = unchanged::hash(&d);
    unchanged::stamp(&mut d.metadata, hash);
    Some((d, headroom::describe(target, count, cpu, memory)))
}

/// Applies `wanted` unless `live` already is it, or deletes `live` when nothing is wanted.
///
/// # Errors
/// [`Error::Kube`] when a request fails.
pub async fn apply(
    ctx: &Context,
    cp: &CapacityProvider,
    wanted: Option<&Deployment>,
    live: Option<&Deployment>,
) -> Result<(), Error> {
    let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ctx.config.headroom_namespace);
    match (wanted, live) {
        (Some(d), live) if !live.is_some_and(|l| unchanged::is_current(d, l)) => {
            api.patch(
                &d.name_any(),
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(d),
            )
            .await?;
            tracing::info!(name = %cp.name_any(), "headroom applied");
        }
        (None, Some(l))
            if l.owner_references()
                .iter()
                .any(|o| Some(&o.uid) == cp.uid().as_ref()) =>
        {
            match api.delete(&l.name_any(), &DeleteParams::background()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        _ => {}
    }
    Ok(())
}
