//! A REPLICA service split over capacity providers: one Deployment per provider of its strategy
//! (ecs-reference §2.3; design.md "Capacity providers").
//!
//! Each provider's Deployment is the service's Deployment with:
//! - the name `<service>-<provider>` ([`provider::deployment_name`]) and the label
//!   [`PROVIDER_LABEL`] on it, in its selector and on its pods, so that the Deployments' pods
//!   never overlap;
//! - the provider's node selector and tolerations added to the placement the service already
//!   has (a node selector key the placement already sets to another value is an error naming the
//!   strategy item: no node could take the tasks);
//! - with managed termination protection, the pod annotations that keep Karpenter and
//!   cluster-autoscaler from removing a node that runs the tasks;
//! - its share of the desired count ([`capacity::split`]: base first, then one task at a time by
//!   weight) and its share of the rollout bounds ([`moves::budgets`], the shares a Service at
//!   rest has; the controller gives rolling Deployments theirs, [`moves`]).
//!
//! With auto scaling the count is still the Service's `desiredCount`, which the autoscaler sets
//! through the Service's `scale` subresource, so the split follows every new count.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{
        apps::v1::{Deployment, DeploymentStrategy, RollingUpdateDeployment},
        core::v1::PodSpec,
    },
    apimachinery::pkg::util::intstr::IntOrString,
};

use super::ServiceError;
use crate::{
    api::{ServiceSpec, ecs::CapacityProviderStrategyItem},
    translate::{
        capacity::{
            self,
            moves::{self, Bounds, Share},
            provider::{self, PROVIDER_LABEL, Provider, StrategyProvider},
        },
        rollout,
    },
};

/// Whether `d` is one of a service's per-provider Deployments (labelled with its provider).
#[must_use]
pub fn is_provider_deployment(d: &Deployment) -> bool {
    d.metadata
        .labels
        .as_ref()
        .is_some_and(|l| l.contains_key(PROVIDER_LABEL))
}

/// ECS's bounds of a deployment of the REPLICA service `spec`, in tasks.
///
/// # Errors
/// [`ServiceError::Field`] when the percentages are out of range ([`rollout::percents`]).
pub fn bounds(spec: &ServiceSpec) -> Result<Bounds, ServiceError> {
    let (min, max) = rollout::percents(spec)?;
    let desired = spec.service.desired_count.unwrap_or(1).max(0);
    let b = rollout::bounds(i64::from(desired), i64::from(min), i64::from(max));
    let d = i64::from(desired);
    let to_u32 = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
    Ok(Bounds {
        desired: to_u32(d),
        max_surge: to_u32(b.max_tasks - d),
        max_unavailable: to_u32(d - b.min_tasks),
    })
}

/// `base` (the service `service`'s Deployment) split over `providers` (see the module docs).
///
/// # Errors
/// [`ServiceError::Field`] naming the strategy item whose provider selects nodes the placement
/// excludes, or the deployment configuration.
pub fn split(
    service: &str,
    spec: &ServiceSpec,
    base: &Deployment,
    providers: &[StrategyProvider],
    field: &str,
) -> Result<Vec<Deployment>, ServiceError> {
    let bounds = bounds(spec)?;
    let items: Vec<CapacityProviderStrategyItem> = providers.iter().map(|p| p.item.clone()).collect();
    let counts = capacity::split(bounds.desired, &items);
    let shares = moves::budgets(&counts, &vec![false; counts.len()], bounds);
    providers
        .iter()
        .zip(counts)
        .zip(shares)
        .enumerate()
        .map(|(i, ((p, count), share))| {
            let mut d = on_provider(
                service,
                base,
                &p.provider,
                &format!("{field}[{i}].capacityProvider"),
            )?;
            if let Some(spec) = d.spec.as_mut() {
                spec.replicas = Some(i32::try_from(count).unwrap_or(i32::MAX));
            }
            set_share(&mut d, share);
            Ok(d)
        })
        .collect()
}

/// `base` moved onto `provider` (name, labels, selector, node selector, tolerations, pod
/// annotations); `field` names the strategy item in errors.
///
/// # Errors
/// [`ServiceError::Field`] at `field` when the provider's node selector contradicts the
/// placement's.
pub fn on_provider(
    service: &str,
    base: &Deployment,
    provider: &Provider,
    field: &str,
) -> Result<Deployment, ServiceError> {
    let mut d = base.clone();
    let label = provider.label_value();
    d.metadata.name = Some(provider::deployment_name(service, &provider.name));
    d.metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(PROVIDER_LABEL.to_owned(), label.clone());
    let Some(spec) = d.spec.as_mut() else {
        return Ok(d);
    };
    spec.selector
        .match_labels
        .get_or_insert_with(BTreeMap::new)
        .insert(PROVIDER_LABEL.to_owned(), label.clone());
    let meta = spec.template.metadata.get_or_insert_with(Default::default);
    meta.labels
        .get_or_insert_with(BTreeMap::new)
        .insert(PROVIDER_LABEL.to_owned(), label);
    let annotations = provider.pod_annotations();
    if !annotations.is_empty() {
        meta.annotations
            .get_or_insert_with(BTreeMap::new)
            .extend(annotations);
    }
    schedule_on(
        spec.template.spec.get_or_insert_with(Default::default),
        provider,
        field,
    )?;
    Ok(d)
}

/// Adds `provider`'s node selector and tolerations to `pod`.
///
/// # Errors
/// [`ServiceError::Field`] at `field` when `pod` already selects another value of one of the
/// provider's node labels.
pub fn schedule_on(pod: &mut PodSpec, provider: &Provider, field: &str) -> Result<(), ServiceError> {
    let selector = pod.node_selector.get_or_insert_with(BTreeMap::new);
    for (k, v) in &provider.node_selector {
        match selector.get(k) {
            Some(own) if own != v => {
                return Err(ServiceError::Field {
                    field: field.to_owned(),
                    message: format!(
                        "CapacityProvider {:?} selects nodes with {k}={v}, but the task's placement needs \
                         {k}={own}: no node could run the tasks; name another provider or change the placement",
                        provider.name
                    ),
                });
            }
            _ => {
                selector.insert(k.clone(), v.clone());
            }
        }
    }
    if selector.is_empty() {
        pod.node_selector = None;
    }
    if !provider.tolerations.is_empty() {
        let tolerations = pod.tolerations.get_or_insert_with(Vec::new);
        for t in &provider.tolerations {
            if !tolerations.contains(t) {
                tolerations.push(t.clone());
            }
        }
    }
    Ok(())
}

/// Gives `d` the rolling update of `share`; a [`Share::Wait`] pauses it.
pub fn set_share(d: &mut Deployment, share: Share) {
    let Some(spec) = d.spec.as_mut() else {
        return;
    };
    let (surge, unavailable) = match share {
        Share::Roll {
            max_surge,
            max_unavailable,
        } => (max_surge, max_unavailable),
        // (Paused; the strategy only has to be valid.)
        Share::Wait => (0, 1),
    };
    let int = |n: u32| IntOrString::Int(i32::try_from(n).unwrap_or(i32::MAX));
    spec.strategy = Some(DeploymentStrategy {
        type_: Some("RollingUpdate".to_owned()),
        rolling_update: Some(RollingUpdateDeployment {
            max_surge: Some(int(surge)),
            max_unavailable: Some(int(unavailable)),
        }),
    });
    if share == Share::Wait {
        spec.paused = Some(true);
    }
}
