//! The AWS Load Balancer Controller's `TargetGroupBinding` (`elbv2.k8s.aws/v1beta1`), as far as
//! ecs-bridge writes it (the Service controller binds a service's tasks to its existing target
//! groups with it; [`crate::translate::networking`] builds them).

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use serde::{Deserialize, Serialize};

/// `TargetGroupBindingSpec` of the AWS Load Balancer Controller (`elbv2.k8s.aws/v1beta1`): the
/// fields ecs-bridge sets. Others (`networking`, `nodeSelector`, `ipAddressType`, `vpcID`, ...)
/// are left to their defaults, and to whoever else manages them.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "elbv2.k8s.aws",
    version = "v1beta1",
    kind = "TargetGroupBinding",
    namespaced,
    schema = "disabled",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupBindingSpec {
    /// The target group's ARN.
    #[serde(rename = "targetGroupARN")]
    pub target_group_arn: String,
    /// `ip` or `instance`: must be the target group's type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_type: Option<TargetType>,
    /// The Kubernetes Service (and its port) whose endpoints are registered.
    pub service_ref: ServiceReference,
}

/// How a target group addresses its targets.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TargetType {
    /// Pod IP and container port (ECS `awsvpc`).
    Ip,
    /// Node and node port (ECS `bridge` and `host`: instance and host port).
    Instance,
}

/// `spec.serviceRef` of a TargetGroupBinding.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ServiceReference {
    /// The Service's name.
    pub name: String,
    /// A port of that Service, by name or number.
    pub port: IntOrString,
}
