//! A Managed Instances provider's Karpenter NodePool
//! ([`crate::translate::capacity::node_pool`]), owned by the provider (cluster-scoped, so the
//! garbage collector deletes it with the provider): applied where Karpenter's NodePool kind is
//! served, when it changed; a provider that stops being Managed Instances deletes the one it
//! owned. Where the kind is not served, the provider schedules only, and its status says what to
//! install.
//!
//! The kind may not be served, so NodePools are watched only once it is
//! ([`crate::controller::served::Served::served_and_watched`]); until that watch has listed, the
//! provider's own is read before it is applied.

use kube::{
    Api, Resource, ResourceExt,
    api::{ApiResource, DeleteParams, PatchParams},
};

use super::FIELD_MANAGER;
use crate::{
    api::{CapacityProvider, external::NodePool},
    controller::{
        Context, Error,
        served::{Outcome, not_found},
        unchanged,
    },
    translate::{
        capacity::node_pool::{self, API_VERSION, PLURAL},
        report::Report,
    },
};

/// What became of a provider's NodePool.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// Not a Managed Instances provider (or being deleted): no NodePool.
    NotManagedInstances,
    /// The NodePool named so is as wanted; `report` says what its translation could not carry.
    Applied {
        /// The NodePool's name.
        name: String,
        /// Fields translated approximately or not at all.
        report: Report,
    },
    /// Karpenter's NodePool kind is not served: the provider schedules only.
    NotServed {
        /// Fields translated approximately or not at all.
        report: Report,
    },
    /// The provider's `managedInstancesProvider` cannot become a NodePool: why, naming the field.
    Invalid(String),
    /// A NodePool of the provider's name exists and is not the provider's: who owns it.
    Taken(String),
    /// The operator may not read or write NodePools (RBAC): the API server's message.
    Forbidden(String),
}

/// What a failed NodePool request means for the provider: a refusal of the object (400, 422)
/// makes it [`State::Invalid`], a refusal of the operator (403) [`State::Forbidden`], each said
/// in the status; anything else is retried.
fn refused(e: kube::Error, name: &str) -> Result<State, Error> {
    match e {
        kube::Error::Api(s) if s.code == 400 || s.code == 422 => Ok(State::Invalid(format!(
            "Karpenter's NodePool {name} was refused: {}",
            s.message
        ))),
        kube::Error::Api(s) if s.code == 403 => Ok(State::Forbidden(s.message)),
        e => Err(e.into()),
    }
}

/// Builds `cp`'s NodePool and applies it when it changed, or deletes the one `cp` owned when it
/// wants none.
///
/// # Errors
/// [`Error::Kube`] when a request fails.
pub async fn reconcile(ctx: &Context, cp: &CapacityProvider) -> Result<State, Error> {
    if cp.meta().deletion_timestamp.is_some() {
        return Ok(State::NotManagedInstances);
    }
    let built = match node_pool::node_pool(cp, &ctx.config.options.karpenter_node_class) {
        Err(e) => return Ok(State::Invalid(e.to_string())),
        Ok(None) => {
            release(ctx, cp).await?;
            return Ok(State::NotManagedInstances);
        }
        Ok(Some(built)) => built,
    };
    let ar = ApiResource::erase::<NodePool>(&());
    if !ctx.served.served_and_watched(&ctx.client, &ar, false).await? {
        return Ok(State::NotServed { report: built.report });
    }
    let mut wanted = built.node_pool;
    let name = wanted.name_any();
    if let Some(mut owner) = cp.controller_owner_ref(&()) {
        owner.block_owner_deletion = Some(true);
        wanted.metadata.owner_references = Some(vec![owner]);
    }
    let hash = unchanged::hash(&wanted);
    unchanged::stamp(&mut wanted.metadata, hash);
    let api: Api<NodePool> = Api::all(ctx.client.clone());
    let live = match ctx.served.live(&api, &ar, None, &name).await {
        Ok(live) => live,
        Err(e) => return refused(e, &name),
    };
    if let Some(live) = &live {
        if !owned_by(live, cp) {
            let owners: Vec<String> = live
                .owner_references()
                .iter()
                .map(|o| format!("{} {}", o.kind, o.name))
                .collect();
            return Ok(State::Taken(if owners.is_empty() {
                "no owner (made by hand or by another tool)".to_owned()
            } else {
                owners.join(", ")
            }));
        }
        if unchanged::is_current(&wanted, live) {
            return Ok(State::Applied {
                name,
                report: built.report,
            });
        }
    }
    let outcome = match ctx
        .served
        .apply(
            &api,
            (API_VERSION, PLURAL),
            &name,
            &wanted,
            &PatchParams::apply(FIELD_MANAGER).force(),
        )
        .await
    {
        Ok(outcome) => outcome,
        Err(e) => return refused(e, &name),
    };
    if outcome == Outcome::NotServed {
        return Ok(State::NotServed { report: built.report });
    }
    tracing::info!(name = %cp.name_any(), node_pool = %name, "NodePool applied");
    Ok(State::Applied {
        name,
        report: built.report,
    })
}

/// Whether `cp` owns `obj`.
fn owned_by(obj: &impl Resource, cp: &CapacityProvider) -> bool {
    obj.meta()
        .owner_references
        .iter()
        .flatten()
        .any(|o| Some(&o.uid) == cp.meta().uid.as_ref())
}

/// Deletes the NodePool `cp`'s status names, if `cp` owns it (a provider that stopped being
/// Managed Instances).
async fn release(ctx: &Context, cp: &CapacityProvider) -> Result<(), Error> {
    let Some(name) = cp.status.as_ref().and_then(|s| s.node_pool.as_ref()) else {
        return Ok(());
    };
    let api: Api<NodePool> = Api::all(ctx.client.clone());
    match api.get(name).await {
        Ok(live) if owned_by(&live, cp) => match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if not_found(&s) => {}
            Err(e) => return Err(e.into()),
        },
        Ok(_) => {}
        Err(kube::Error::Api(s)) if not_found(&s) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
