//! The finalizer that holds the deletion of a CapacityProvider while Services use it (ECS refuses
//! `DeleteCapacityProvider` for a provider a service uses): on a provider exactly while some
//! Service's strategy (its own, its launch type's, or the one its status records) names it, so
//! that an unused provider (or one left after the operator is uninstalled with no Service) is
//! deleted at once.

use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
};
use serde_json::json;

use crate::{
    api::CapacityProvider,
    controller::{Context, Error},
};

/// The finalizer.
pub const FINALIZER: &str = "ecsbridge.io/capacity-provider-in-use";

/// What to do with the finalizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Add it (a provider in use that does not have it yet).
    Add,
    /// Remove it: no Service uses the provider (being deleted or not).
    Release,
    /// Leave it as it is.
    Keep,
}

/// What to do with the finalizer of `cp`, used by `users` (pure).
#[must_use]
pub fn decide(cp: &CapacityProvider, users: &[String]) -> Step {
    let has = cp.finalizers().iter().any(|f| f == FINALIZER);
    let deleting = cp.metadata.deletion_timestamp.is_some();
    match (has, users.is_empty()) {
        (false, false) if !deleting => Step::Add,
        (true, true) => Step::Release,
        _ => Step::Keep,
    }
}

/// The finalizers of `cp` with ours added (`add`) or removed.
fn with(cp: &CapacityProvider, add: bool) -> Vec<String> {
    let mut finalizers: Vec<String> = cp
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    if add {
        finalizers.push(FINALIZER.to_owned());
    }
    finalizers
}

/// Sets the finalizers of `cp` to `finalizers`, if its resource version is still the one read (a
/// conflict retries the reconcile with the object as it is now).
async fn set(ctx: &Context, cp: &CapacityProvider, finalizers: Vec<String>) -> Result<(), Error> {
    let api: Api<CapacityProvider> = Api::all(ctx.client.clone());
    let patch = json!({"metadata": {"resourceVersion": cp.resource_version(), "finalizers": finalizers}});
    api.patch(&cp.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// Adds the finalizer to `cp`.
///
/// # Errors
/// [`Error::Kube`] when the patch fails.
pub async fn add(ctx: &Context, cp: &CapacityProvider) -> Result<(), Error> {
    set(ctx, cp, with(cp, true)).await
}

/// Removes the finalizer from `cp`, letting its deletion finish.
///
/// # Errors
/// [`Error::Kube`] when the patch fails.
pub async fn release(ctx: &Context, cp: &CapacityProvider) -> Result<(), Error> {
    tracing::info!(name = %cp.name_any(), "no Service uses the capacity provider: nothing holds its deletion");
    set(ctx, cp, with(cp, false)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(deleting: bool, ours: bool) -> CapacityProvider {
        let mut cp: CapacityProvider = serde_json::from_value(json!({
            "apiVersion": "ecsbridge.io/v1alpha1", "kind": "CapacityProvider",
            "metadata": {"name": "spot", "finalizers": ["other.io/keep"]}, "spec": {}
        }))
        .expect("a provider");
        if deleting {
            cp.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ));
        }
        if ours {
            cp.metadata
                .finalizers
                .get_or_insert_with(Vec::new)
                .push(FINALIZER.to_owned());
        }
        cp
    }

    #[test]
    fn deletion_is_held_while_a_service_uses_the_provider() {
        let users = vec!["shop/web".to_owned()];
        assert_eq!(decide(&provider(false, false), &users), Step::Add, "in use");
        assert_eq!(
            decide(&provider(false, false), &[]),
            Step::Keep,
            "unused: nothing to hold"
        );
        assert_eq!(decide(&provider(false, true), &users), Step::Keep);
        assert_eq!(
            decide(&provider(false, true), &[]),
            Step::Release,
            "no longer used"
        );
        assert_eq!(decide(&provider(true, true), &users), Step::Keep, "held");
        assert_eq!(decide(&provider(true, true), &[]), Step::Release);
        assert_eq!(
            decide(&provider(true, false), &users),
            Step::Keep,
            "too late to hold"
        );
        assert_eq!(
            with(&provider(true, true), false),
            ["other.io/keep"],
            "others' kept"
        );
        assert_eq!(with(&provider(false, false), true), ["other.io/keep", FINALIZER]);
    }
}
