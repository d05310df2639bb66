//! What every controller's status step shares: telling an unchanged status (so nothing is
//! written) and the server-side apply body of a status.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::Resource;
use serde::Serialize;
use serde_json::json;

use crate::api::{
    CapacityProviderStatus, ScheduledTaskStatus, ServiceStatus, TaskDefinitionStatus, TaskStatus, condition,
};

/// A status with conditions.
pub trait WithConditions: Clone + PartialEq {
    /// The conditions.
    fn conditions(&self) -> &[Condition];
    /// The same status without its conditions.
    #[must_use]
    fn without_conditions(&self) -> Self;
}

macro_rules! with_conditions {
    ($($t:ty),*) => {$(
        impl WithConditions for $t {
            fn conditions(&self) -> &[Condition] {
                &self.conditions
            }
            fn without_conditions(&self) -> Self {
                Self { conditions: Vec::new(), ..self.clone() }
            }
        }
    )*};
}

with_conditions!(
    TaskDefinitionStatus,
    ServiceStatus,
    CapacityProviderStatus,
    TaskStatus,
    ScheduledTaskStatus
);

/// Whether two statuses say the same thing, ignoring the conditions' transition times: when the
/// current status and the computed one agree, there is nothing to write.
#[must_use]
pub fn same_status<S: WithConditions>(current: Option<&S>, desired: &S) -> bool {
    current.is_some_and(|current| {
        current.without_conditions() == desired.without_conditions()
            && condition::same_ignoring_time(current.conditions(), desired.conditions())
    })
}

/// The server-side apply body that sets `status` on an object of kind `K`.
#[must_use]
pub fn status_patch<K: Resource<DynamicType = ()>>(status: &impl Serialize) -> serde_json::Value {
    json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    })
}
