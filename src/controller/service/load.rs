//! Load (async, read-only): the TaskDefinitions a Service may reference.
//!
//! Lists the TaskDefinitions of the Service's namespace (one request) and leaves the choice to
//! [`validate`](super::validate): a reference matches `spec.family` or the object name, which a
//! single GET by name cannot decide.

use kube::{Api, api::ListParams};

use super::validate;
use crate::{
    api::{Service, TaskDefinition},
    controller::{Context, Error},
};

/// What a Service's reconcile read from the API.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The TaskDefinitions of the Service's namespace; empty when `spec.taskDefinition` is
    /// missing or malformed (nothing to look up: validate reports it).
    pub task_definitions: Vec<TaskDefinition>,
}

/// Reads what `svc` (in `namespace`) refers to.
///
/// # Errors
/// [`Error::Kube`] when the TaskDefinitions cannot be listed.
pub async fn load(ctx: &Context, svc: &Service, namespace: &str) -> Result<Loaded, Error> {
    if validate::reference(svc).is_err() {
        return Ok(Loaded::default());
    }
    let api: Api<TaskDefinition> = Api::namespaced(ctx.client.clone(), namespace);
    let list = api.list(&ListParams::default()).await?;
    Ok(Loaded {
        task_definitions: list.items,
    })
}
