//! A Service's auto scaling as a KEDA `ScaledObject` (pure), where KEDA is installed and a policy
//! reads CloudWatch: KEDA's `aws-cloudwatch` scaler reads the metrics of
//! [`super::cloudwatch`], its `cpu` and `memory` scalers the utilisation targets of
//! [`super::hpa`] (the same `AverageValue` per task), and the HPA KEDA makes gets the same range
//! and behavior, on the Service's scale subresource. Only one external metrics API can serve a
//! cluster, and KEDA is the one ecs-bridge configures; it never installs it.

use std::collections::BTreeMap;

use super::{
    cloudwatch::CloudWatchMetric,
    hpa::{ACTIVE, Built, NOT_TRANSLATED},
};
use crate::{
    api::external::keda::{
        Advanced, AuthenticationRef, HorizontalPodAutoscalerConfig, ScaleTarget, ScaledObject,
        ScaledObjectSpec, Trigger,
    },
    translate::{labels, report::NoteKind},
};

/// How KEDA reaches CloudWatch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keda {
    /// The AWS region of the metrics.
    pub region: Option<String>,
    /// The (Cluster)TriggerAuthentication that gives the scaler AWS credentials (e.g. one with
    /// `podIdentity: {provider: aws}`); none: KEDA's own.
    pub authentication: Option<AuthenticationRef>,
}

/// KEDA's name for the HPA of ScaledObject `name`.
#[must_use]
pub fn hpa_name(name: &str) -> String {
    format!("keda-hpa-{name}")
}

fn trigger(m: &CloudWatchMetric, keda: &Keda, region: &str) -> Trigger {
    let (names, values): (Vec<&str>, Vec<&str>) =
        m.dimensions.iter().map(|(n, v)| (n.as_str(), v.as_str())).unzip();
    let mut metadata = BTreeMap::from([
        ("namespace".to_owned(), m.namespace.clone()),
        ("metricName".to_owned(), m.metric_name.clone()),
        ("metricStat".to_owned(), m.statistic.clone()),
        ("metricStatPeriod".to_owned(), "60".to_owned()),
        ("targetMetricValue".to_owned(), m.target.to_string()),
        ("minMetricValue".to_owned(), "0".to_owned()),
        ("awsRegion".to_owned(), region.to_owned()),
    ]);
    if !names.is_empty() {
        metadata.insert("dimensionName".to_owned(), names.join(";"));
        metadata.insert("dimensionValue".to_owned(), values.join(";"));
    }
    if let Some(unit) = &m.unit {
        metadata.insert("metricUnit".to_owned(), unit.clone());
    }
    Trigger {
        type_: "aws-cloudwatch".to_owned(),
        metric_type: Some(if m.per_task { "AverageValue" } else { "Value" }.to_owned()),
        metadata,
        authentication_ref: keda.authentication.clone(),
    }
}

/// The ScaledObject of Service `service` in `namespace` from `built` ([`super::hpa::hpa`]'s), with
/// `built`'s report and policies updated to say KEDA carries the CloudWatch policies out (or,
/// without a region, why it cannot). `None` when nothing would scale.
#[must_use]
pub fn scaled_object(service: &str, namespace: &str, built: &mut Built, keda: &Keda) -> Option<ScaledObject> {
    let mut triggers: Vec<Trigger> = built
        .scaling
        .metrics
        .iter()
        .flatten()
        .filter_map(|m| {
            let r = m.resource.as_ref()?;
            Some(Trigger {
                type_: r.name.clone(),
                metric_type: Some("AverageValue".to_owned()),
                metadata: BTreeMap::from([("value".to_owned(), r.target.average_value.as_ref()?.0.clone())]),
                authentication_ref: None,
            })
        })
        .collect();
    built.unsay_cloudwatch();
    for m in &built.cloudwatch {
        let status = built.policies.iter_mut().find(|p| p.policy_name == m.policy);
        match keda.region.as_deref() {
            Some(region) => {
                triggers.push(trigger(m, keda, region));
                if let Some(s) = status {
                    s.state = ACTIVE.to_owned();
                    s.message = Some(format!(
                        "KEDA ScaledObject {service}: aws-cloudwatch {}/{} ({}), target {}",
                        m.namespace, m.metric_name, m.statistic, m.target
                    ));
                }
            }
            None => {
                let why = "KEDA needs the metric's AWS region: run the operator with --aws-region (chart: aws.region)";
                built.report.note(
                    NoteKind::NotYetTranslated,
                    format!("autoScaling.{}", m.field),
                    why,
                );
                if let Some(s) = status {
                    s.state = NOT_TRANSLATED.to_owned();
                    s.message = Some(why.to_owned());
                }
            }
        }
    }
    if triggers.is_empty() {
        return None;
    }
    Some(ScaledObject {
        metadata: labels::service_object_meta(service, namespace),
        spec: ScaledObjectSpec {
            scale_target_ref: ScaleTarget {
                api_version: crate::api::API_VERSION.to_owned(),
                kind: "Service".to_owned(),
                name: service.to_owned(),
            },
            min_replica_count: built.scaling.min_replicas,
            max_replica_count: Some(built.scaling.max_replicas),
            advanced: Some(Advanced {
                horizontal_pod_autoscaler_config: HorizontalPodAutoscalerConfig {
                    name: None,
                    behavior: built.scaling.behavior.clone(),
                },
            }),
            triggers,
        },
    })
}
