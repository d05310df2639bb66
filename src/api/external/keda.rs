//! KEDA's `ScaledObject` (`keda.sh/v1alpha1`), as far as ecs-bridge writes it: where KEDA is
//! installed, a Service whose auto scaling reads CloudWatch (ALB request counts, customized
//! metrics) scales through one ([`crate::translate::autoscaling::keda`] builds it); KEDA then
//! owns the HPA, which targets the Service's scale subresource.

use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerBehavior;
use kube::CustomResource;
use serde::{Deserialize, Serialize};

/// `ScaledObjectSpec` of KEDA (`keda.sh/v1alpha1`): the fields ecs-bridge sets. Others
/// (`pollingInterval`, `cooldownPeriod`, `fallback`, ...) are left to their defaults.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "keda.sh",
    version = "v1alpha1",
    kind = "ScaledObject",
    namespaced,
    schema = "disabled",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct ScaledObjectSpec {
    /// What KEDA scales: any kind with a scale subresource.
    pub scale_target_ref: ScaleTarget,
    /// The fewest replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replica_count: Option<i32>,
    /// The most replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replica_count: Option<i32>,
    /// The HPA KEDA makes: its name and behavior.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advanced: Option<Advanced>,
    /// What it scales on.
    pub triggers: Vec<Trigger>,
}

/// `spec.scaleTargetRef` of a ScaledObject.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ScaleTarget {
    /// The target's `apiVersion`.
    pub api_version: String,
    /// The target's kind.
    pub kind: String,
    /// The target's name.
    pub name: String,
}

/// `spec.advanced` of a ScaledObject.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Advanced {
    /// The HPA KEDA makes.
    pub horizontal_pod_autoscaler_config: HorizontalPodAutoscalerConfig,
}

/// `spec.advanced.horizontalPodAutoscalerConfig` of a ScaledObject.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HorizontalPodAutoscalerConfig {
    /// The HPA's name (KEDA's default: `keda-hpa-<ScaledObject>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The HPA's behavior.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<HorizontalPodAutoscalerBehavior>,
}

/// One trigger (scaler) of a ScaledObject.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    /// The scaler: `cpu`, `memory`, `aws-cloudwatch`, ...
    #[serde(rename = "type")]
    pub type_: String,
    /// `Utilization`, `AverageValue` or `Value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_type: Option<String>,
    /// The scaler's settings.
    pub metadata: BTreeMap<String, String>,
    /// The (Cluster)TriggerAuthentication that gives the scaler its credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_ref: Option<AuthenticationRef>,
}

/// `authenticationRef` of a trigger.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationRef {
    /// The TriggerAuthentication's (or ClusterTriggerAuthentication's) name.
    pub name: String,
    /// `TriggerAuthentication` (default) or `ClusterTriggerAuthentication`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}
