//! Replacing a service's task whose essential container stopped while another of its
//! containers ran on ([`crate::translate::task::essential::replacement`]): the pod is deleted,
//! as seen, and its ReplicaSet makes another, as the service scheduler starts a new task.

use kube::{Api, ResourceExt};

use crate::controller::{Context, Error};

/// Tasks replaced, by their pods' `pod-template-hash`.
pub type Replaced = std::collections::BTreeMap<String, i32>;

/// Replaces the task of `pod` (an essential container stopped): deletes the pod as seen (its uid
/// and resourceVersion as preconditions, so a pod already being deleted, or changed since, is
/// neither deleted nor counted twice), gracefully (its `terminationGracePeriodSeconds`, the task
/// definition's `stopTimeout`). Returns the count by `pod-template-hash` and the task and
/// container for the event, when it was deleted now.
///
/// # Errors
/// [`Error::Kube`] when the delete fails for another reason than a pod gone or changed.
pub async fn replace_task(
    ctx: &Context,
    ns: &str,
    pod: &k8s_openapi::api::core::v1::Pod,
) -> Result<(Replaced, Option<(String, String)>), Error> {
    let api = Api::<k8s_openapi::api::core::v1::Pod>::namespaced(ctx.client.clone(), ns);
    let params = kube::api::DeleteParams {
        preconditions: Some(kube::api::Preconditions {
            uid: pod.uid(),
            resource_version: pod.resource_version(),
        }),
        ..kube::api::DeleteParams::default()
    };
    match api.delete(&pod.name_any(), &params).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.is_not_found() || status.is_conflict() => {
            return Ok((Replaced::new(), None));
        }
        Err(e) => return Err(e.into()),
    }
    let hash = pod.labels().get("pod-template-hash").cloned().unwrap_or_default();
    let container = crate::translate::task::essential::replacement(pod)
        .and_then(|s| s.container)
        .map(|(name, code)| match code {
            Some(code) => format!("{name} (exit code {code})"),
            None => name,
        })
        .unwrap_or_default();
    tracing::info!(pod = %pod.name_any(), container = %container, "essential container stopped: task replaced");
    Ok((Replaced::from([(hash, 1)]), Some((pod.name_any(), container))))
}
