//! What the TaskDefinition controller watches: the TaskDefinitions, and their dependents (the
//! task roles' ServiceAccounts, the claims and the EFS PersistentVolumes labelled as ecs-bridge's),
//! cached in [`super::children::Stores`]; a dependent that changes or goes re-triggers its
//! TaskDefinition, so it is made again at once.

use std::sync::Arc;

use k8s_openapi::api::{
    apps::v1::ControllerRevision,
    core::v1::{PersistentVolume, PersistentVolumeClaim, ServiceAccount},
};
use kube::{
    Api, Resource,
    runtime::{
        Controller,
        controller::{self},
        reflector::ObjectRef,
        watcher,
    },
};

use super::{CONTROLLER, children, reconcile};
use crate::{
    api::TaskDefinition,
    controller::{
        Context,
        caches::{add_scope, managed_by, reflected, scoped},
        error_policy, with_backoff_reset,
    },
    runtime::Shutdown,
    translate::labels,
};

/// Runs the TaskDefinition controller on `namespace` (`None`: every namespace) until `shutdown`
/// resolves and the reconciles in flight have finished; marks `synced` after its first LIST.
pub async fn run(
    namespace: Option<String>,
    ctx: Arc<Context>,
    synced: crate::runtime::Synced,
    shutdown: Shutdown,
) {
    let client = ctx.client.clone();
    let ns = namespace.as_deref();
    let config = controller::Config::default().concurrency(ctx.config.concurrency);
    let ours = managed_by();
    // NB: no generation predicate yet: kube-runtime offers one only through `Controller::for_stream`
    // over a predicate-filtered watch (available with the `unstable-runtime` feature we enable),
    // which this controller does not use. Our own status write therefore triggers one more
    // reconcile, which finds the status up to date and writes nothing.
    let (own_store, own_changes) =
        crate::controller::caches::own(scoped::<TaskDefinition>(&client, ns), watcher::Config::default());
    let controller = Controller::for_stream(own_changes, own_store)
        .trigger_backoff(crate::controller::caches::watch_backoff());
    let store = controller.store();
    // The registered revisions (ours by label): load reads them here rather than listing them
    // at every reconcile. A change of one re-triggers nothing (this controller wrote it).
    let (revisions, revision_changes) = reflected(scoped::<ControllerRevision>(&client, ns), ours.clone());
    let (service_accounts, sa_changes) = reflected(scoped::<ServiceAccount>(&client, ns), ours.clone());
    let (claims, claim_changes) = reflected(scoped::<PersistentVolumeClaim>(&client, ns), ours.clone());
    let (volumes, volume_changes) = reflected(Api::<PersistentVolume>::all(client.clone()), ours);
    add_scope(
        &ctx.task_definition_children,
        children::Stores {
            listed: Default::default(),
            revisions,
            service_accounts,
            claims,
            volumes,
        },
    );
    let scope = namespace.clone();
    let controller = controller
        .owns_stream(sa_changes)
        .watches_stream(revision_changes, |_revision| None::<ObjectRef<TaskDefinition>>)
        .watches_stream(claim_changes, |pvc| task_definition_of(&pvc, None))
        .watches_stream(volume_changes, move |pv| {
            task_definition_of(&pv, scope.as_deref())
        })
        .with_config(config)
        .graceful_shutdown_on(shutdown.clone());
    let results = controller.run(
        |td, ctx| with_backoff_reset(CONTROLLER, reconcile, td, ctx),
        error_policy::<TaskDefinition>,
        ctx,
    );
    crate::controller::drive(CONTROLLER, store, synced, results, shutdown).await;
}

/// The TaskDefinition a dependent belongs to, by its `ecsbridge.io/task-definition` label, in its
/// namespace (a PersistentVolume's is its `ecsbridge.io/namespace` label); for a
/// cluster-scoped one outside the watched namespace `scope`, none.
fn task_definition_of<K: Resource>(obj: &K, scope: Option<&str>) -> Option<ObjectRef<TaskDefinition>> {
    let labels = obj.meta().labels.as_ref()?;
    let name = labels.get(labels::TASK_DEFINITION)?;
    let namespace = match obj.meta().namespace.as_deref() {
        Some(ns) => ns,
        None => labels.get(labels::NAMESPACE)?,
    };
    if scope.is_some_and(|s| s != namespace) {
        return None;
    }
    Some(ObjectRef::new(name).within(namespace))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::PersistentVolume;

    use super::*;

    #[test]
    fn a_dependent_maps_to_its_task_definition() {
        let pv: PersistentVolume = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "ecs-team-a-web-1-data-x", "labels": {
                "ecsbridge.io/task-definition": "web", "ecsbridge.io/namespace": "team-a"}}
        }))
        .expect("a PV");
        assert_eq!(
            task_definition_of(&pv, None),
            Some(ObjectRef::new("web").within("team-a"))
        );
        assert_eq!(
            task_definition_of(&pv, Some("team-a")),
            task_definition_of(&pv, None)
        );
        assert_eq!(task_definition_of(&pv, Some("team-b")), None);
        let claim: PersistentVolumeClaim = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-1-data", "namespace": "team-a",
                "labels": {"ecsbridge.io/task-definition": "web"}}
        }))
        .expect("a claim");
        assert_eq!(
            task_definition_of(&claim, None),
            Some(ObjectRef::new("web").within("team-a"))
        );
    }
}
