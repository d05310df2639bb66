//! What the Task controller watches: the Tasks, their tasks' pods (labelled
//! [`TASK_LABEL`]; a pod's change re-triggers its Task through its owner reference) and the
//! TaskDefinitions (a change re-triggers the Tasks of that namespace still waiting to start on
//! it), all cached in [`super::children::Stores`].

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::{
    ResourceExt,
    runtime::{
        Controller,
        controller::{self},
        reflector::{ObjectRef, Store},
        watcher,
    },
};

use super::{CONTROLLER, children, reconcile};
use crate::{
    api::{Task, TaskDefinition},
    controller::{
        Context,
        caches::{add_scope, reflected, scoped},
        error_policy, with_backoff_reset,
    },
    runtime::Shutdown,
    translate::{reference::TaskDefinitionRef, task::TASK_LABEL},
};

/// Runs the Task controller on `namespace` (`None`: every namespace) until `shutdown`
/// resolves and the reconciles in flight have finished; marks `synced` after the first LIST of
/// Tasks.
pub async fn run(
    namespace: Option<String>,
    ctx: Arc<Context>,
    synced: crate::runtime::Synced,
    shutdown: Shutdown,
) {
    let client = ctx.client.clone();
    let ns = namespace.as_deref();
    let config = controller::Config::default().concurrency(ctx.config.concurrency);
    let (own_store, own_changes) =
        crate::controller::caches::own(scoped::<Task>(&client, ns), watcher::Config::default());
    let controller = Controller::for_stream(own_changes, own_store)
        .trigger_backoff(crate::controller::caches::watch_backoff());
    let store = controller.store();
    let (pods, pod_changes) = reflected(
        scoped::<Pod>(&client, ns),
        watcher::Config::default().labels(TASK_LABEL),
    );
    let (task_definitions, td_changes) =
        reflected(scoped::<TaskDefinition>(&client, ns), watcher::Config::default());
    add_scope(
        &ctx.task_children,
        children::Stores {
            listed: Default::default(),
            pods,
            task_definitions,
        },
    );
    let tasks = store.clone();
    let controller = controller
        .owns_stream(pod_changes)
        .watches_stream(td_changes, move |td| waiting_on(&tasks, &td))
        .with_config(config)
        .graceful_shutdown_on(shutdown.clone());
    let results = controller.run(
        |task, ctx| with_backoff_reset(CONTROLLER, reconcile, task, ctx),
        error_policy::<Task>,
        ctx,
    );
    crate::controller::drive(CONTROLLER, store, synced, results, shutdown).await;
}

/// The Tasks of `td`'s namespace that have not started and name its family or its object.
fn waiting_on(tasks: &Store<Task>, td: &TaskDefinition) -> Vec<ObjectRef<Task>> {
    let family = td.family();
    let object = td.name_any();
    tasks
        .state()
        .iter()
        .filter(|t| t.namespace() == td.namespace())
        .filter(|t| t.status.as_ref().and_then(|s| s.started_generation).is_none())
        .filter(|t| {
            TaskDefinitionRef::parse(&t.spec.run_task.task_definition)
                .is_ok_and(|r| r.family == family || r.family == object)
        })
        .map(|t| ObjectRef::from_obj(t.as_ref()))
        .collect()
}
