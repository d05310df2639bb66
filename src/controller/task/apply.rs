//! Apply (async, writes): creates the tasks' pods (a pod that exists already is kept: the
//! names are fixed, so a retry creates nothing twice; one of another owner, such as the
//! terminating pod of a Task deleted and made again, holds the start back), applies an overridden task role's
//! ServiceAccount, patches the tasks to stop, and deletes the pods the plan lets go (exactly the
//! pod seen, by uid).

use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams, PostParams},
};

use super::{FIELD_MANAGER, build::Desired};
use crate::controller::{Context, Error, delete::delete_seen};

/// A pod the API server refused to create (admission, quota, validation): the task fails to
/// start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The pod's name.
    pub pod: String,
    /// The API server's reason (`Forbidden`, `Invalid`, ...).
    pub reason: String,
    /// Its message.
    pub message: String,
}

/// What apply did that the status reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Applied {
    /// Pods the API server refused.
    pub refused: Vec<Refused>,
    /// Pods not created because another object's pod has the name (that of a Task deleted and
    /// made again, still terminating): started once it is gone.
    pub taken: Vec<String>,
}

/// Writes `desired` in `namespace`.
///
/// # Errors
/// [`Error::Kube`] when a request fails for another reason than a pod that exists already, is
/// refused (reported in [`Applied`]) or is gone.
pub async fn apply(ctx: &Context, namespace: &str, desired: Desired) -> Result<Applied, Error> {
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), namespace);
    let mut applied = Applied::default();
    if let Some(sa) = desired.service_account {
        let api: Api<ServiceAccount> = Api::namespaced(ctx.client.clone(), namespace);
        let name = sa["metadata"]["name"].as_str().unwrap_or_default().to_owned();
        api.patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&sa),
        )
        .await?;
    }
    for pod in desired.pods {
        match pods.create(&PostParams::default(), &pod).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {
                // Ours already (a retry), or another's (a Task of the same name, deleted and
                // made again, whose pod is still terminating)?
                let owner = pod
                    .metadata
                    .owner_references
                    .as_ref()
                    .and_then(|o| o.first())
                    .map(|o| o.uid.clone())
                    .unwrap_or_default();
                let ours = pods.get_opt(&pod.name_any()).await?.is_some_and(|live| {
                    live.owner_references()
                        .iter()
                        .any(|o| o.controller == Some(true) && o.uid == owner)
                });
                if !ours {
                    applied.taken.push(pod.name_any());
                }
            }
            Err(kube::Error::Api(e)) if matches!(e.code, 400 | 403 | 422) => applied.refused.push(Refused {
                pod: pod.name_any(),
                reason: e.reason.clone(),
                message: e.message.clone(),
            }),
            Err(e) => return Err(e.into()),
        }
    }
    for (name, patch) in desired.stops {
        match pods
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    for pod in desired.deletes {
        delete_seen(&pods, &pod).await?;
    }
    Ok(applied)
}
