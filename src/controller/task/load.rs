//! Load (async, read-only): what a Task's reconcile reads.
//!
//! - its tasks' pods, from the controller's cache, by name (`<task>-1` …). A task the status
//!   records as not stopped whose pod the cache lacks is read by name: the cache may lag a pod
//!   just created, and only the API server tells a pod that is gone from one not seen yet.
//! - only when tasks are still to be started ([`super::decide::to_start`]), or the status lacks
//!   the `Translated` condition of those started: the TaskDefinitions
//!   of its namespace (cached), the stored revision it runs (one GET), its Namespace (the ECS
//!   cluster's default capacity provider strategy; one GET), the CapacityProviders when a
//!   strategy applies, and the nodes when the request or the task definition has placement
//!   constraints. A Task whose tasks have all started reads nothing but its pods: at rest, no
//!   request.

use std::{collections::BTreeMap, sync::Arc};

use k8s_openapi::api::{
    apps::v1::ControllerRevision,
    core::v1::{Namespace, Node, Pod},
};
use kube::{Api, ResourceExt, api::ListParams};

use super::{children, decide};
use crate::{
    api::{CapacityProvider, Task, TaskDefinition},
    controller::{
        Context, Error,
        revisions::{controlled_by, revision_name},
    },
    translate::{
        capacity::cluster::DEFAULT_STRATEGY_ANNOTATION,
        reference::TaskDefinitionRef,
        task::{pod_name, selector},
    },
};

/// What a Task's reconcile read.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// Its tasks' pods, by index (1-based).
    pub pods: BTreeMap<u32, Arc<Pod>>,
    /// What starting tasks needs, when some are still to be started.
    pub start: Option<Start>,
}

/// What starting a Task's tasks needs.
#[derive(Debug, Clone, Default)]
pub struct Start {
    /// The TaskDefinitions of the Task's namespace.
    pub task_definitions: Vec<TaskDefinition>,
    /// The revision the request asks for (pinned, or the TaskDefinition's latest) and its
    /// ControllerRevision, when stored.
    pub revision: Option<(i64, Option<ControllerRevision>)>,
    /// Its Namespace, when it exists.
    pub namespace: Option<Namespace>,
    /// The CapacityProviders, when a strategy may apply.
    pub capacity_providers: Vec<CapacityProvider>,
    /// The nodes, when there are placement constraints.
    pub nodes: Option<Vec<Node>>,
}

/// Reads what `task` (in `namespace`) owns and, when tasks are to be started, what they run.
///
/// # Errors
/// [`Error::Kube`] when a request fails.
pub async fn load(ctx: &Context, task: &Task, namespace: &str) -> Result<Loaded, Error> {
    let name = task.name_any();
    let uid = task.uid().unwrap_or_default();
    let cached = children::ready_stores(ctx).await;
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), namespace);
    let slots = decide::slots(task);
    let mut pods = BTreeMap::new();
    match cached.as_deref() {
        Some(stores) => {
            for index in 1..=slots {
                if let Some(pod) = children::pod(stores, namespace, &name, &uid, index) {
                    pods.insert(index, pod);
                } else if decide::recorded_alive(task, &pod_name(&name, index)) {
                    // (Not cached: gone, or created so recently the watch has not shown it.)
                    if let Some(pod) = pods_api.get_opt(&pod_name(&name, index)).await?
                        && children::is_task_pod(&pod, &name, &uid)
                    {
                        pods.insert(index, Arc::new(pod));
                    }
                }
            }
        }
        None => {
            let listed = pods_api
                .list(&ListParams::default().labels(&selector(&name)))
                .await?;
            for index in 1..=slots {
                let wanted = pod_name(&name, index);
                if let Some(pod) = listed
                    .items
                    .iter()
                    .find(|p| p.name_any() == wanted && children::is_task_pod(p, &name, &uid))
                {
                    pods.insert(index, Arc::new(pod.clone()));
                }
            }
        }
    }
    // (Translated again when the status lacks it: a Task read before its status was written,
    // or one whose tasks started just before a crash. The revision the pods run, then.)
    let untold = !pods.is_empty()
        && task.status.as_ref().is_none_or(|s| {
            crate::api::condition::find(&s.conditions, crate::api::condition::TRANSLATED).is_none()
        });
    let start = if decide::to_start(task, &pods).is_empty() && !untold {
        None
    } else {
        let pinned = decide::started_by_pods(&pods)
            .0
            .and_then(|td| td.rsplit_once(':').and_then(|(_, r)| r.parse::<i64>().ok()));
        Some(load_start(ctx, task, namespace, cached.as_deref(), pinned).await?)
    };
    Ok(Loaded { pods, start })
}

/// What starting `task`'s tasks needs (see [`Start`]); `pinned`: the revision its pods run,
/// when they run one already.
async fn load_start(
    ctx: &Context,
    task: &Task,
    namespace: &str,
    cached: Option<&[children::Stores]>,
    pinned: Option<i64>,
) -> Result<Start, Error> {
    let run = &task.spec.run_task;
    let task_definitions = match cached {
        Some(stores) => children::task_definitions(stores, namespace),
        None => {
            Api::<TaskDefinition>::namespaced(ctx.client.clone(), namespace)
                .list(&ListParams::default())
                .await?
                .items
        }
    };
    let reference = TaskDefinitionRef::parse(&run.task_definition).ok();
    let found = reference.as_ref().and_then(|r| {
        TaskDefinition::of_family(&task_definitions, &r.family)
            .ok()
            .flatten()
            .map(|td| (r, td))
    });
    let revision = match found {
        Some((r, td)) => match pinned
            .or(r.revision)
            .or_else(|| td.status.as_ref().and_then(|s| s.revision))
        {
            Some(revision) => {
                let api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), namespace);
                let cr = api
                    .get_opt(&revision_name(&td.name_any(), revision))
                    .await?
                    .filter(|cr| controlled_by(cr, &td.uid().unwrap_or_default()));
                Some((revision, cr))
            }
            None => None,
        },
        None => None,
    };
    let namespace_object = Api::<Namespace>::all(ctx.client.clone())
        .get_opt(namespace)
        .await?;
    let has_default = namespace_object
        .as_ref()
        .and_then(|n| n.metadata.annotations.as_ref())
        .is_some_and(|a| {
            a.get(DEFAULT_STRATEGY_ANNOTATION)
                .is_some_and(|v| !v.trim().is_empty())
        });
    let capacity_providers =
        if run.capacity_provider_strategy.is_some() || run.launch_type.is_some() || has_default {
            Api::<CapacityProvider>::all(ctx.client.clone())
                .list(&ListParams::default())
                .await?
                .items
        } else {
            Vec::new()
        };
    let constrained = run.placement_constraints.as_ref().is_some_and(|c| !c.is_empty())
        || found.is_some_and(|(_, td)| {
            td.spec
                .task_definition
                .placement_constraints
                .as_ref()
                .is_some_and(|c| !c.is_empty())
        });
    let nodes = if constrained {
        Some(
            Api::<Node>::all(ctx.client.clone())
                .list(&ListParams::default())
                .await?
                .items,
        )
    } else {
        None
    };
    Ok(Start {
        task_definitions,
        revision,
        namespace: namespace_object,
        capacity_providers,
        nodes,
    })
}
