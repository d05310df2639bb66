//! Deleting exactly the object that was seen (async): the one way both controllers delete what
//! they own (pruned children, retired revisions).

use std::fmt::Debug;

use kube::{
    Api, Resource, ResourceExt,
    api::{DeleteParams, Preconditions},
};
use serde::de::DeserializeOwned;

/// Deletes `obj` with its uid as a precondition (background propagation), so an object
/// recreated meanwhile under the same name is left alone. Returns whether it was deleted: `false`
/// when it is already gone (404) or was replaced (409), which is no error.
///
/// # Errors
/// The API error of any other failure.
pub async fn delete_seen<K>(api: &Api<K>, obj: &K) -> Result<bool, kube::Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: obj.uid(),
            resource_version: None,
        }),
        ..DeleteParams::background()
    };
    match api.delete(&obj.name_any(), &params).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.is_not_found() || status.is_conflict() => Ok(false),
        Err(e) => Err(e),
    }
}
