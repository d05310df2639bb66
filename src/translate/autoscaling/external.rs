//! The CloudWatch metrics of a Service's policies as HPA External metrics (pure), where KEDA is
//! not installed but a metrics adapter (prometheus-adapter, or another) serves the external
//! metric [`METRIC`]: one series per policy, selected by the Service and the policy, whose value
//! the adapter takes from CloudWatch (README, "Service Auto Scaling", gives the adapter rule).
//! The target is the policy's, `AverageValue` for a total (ALB request counts) and `Value` for
//! a customized metric, as [`super::cloudwatch`] says.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::autoscaling::v2::{ExternalMetricSource, MetricIdentifier, MetricSpec, MetricTarget},
    apimachinery::pkg::{api::resource::Quantity, apis::meta::v1::LabelSelector},
};

use super::{
    cloudwatch::CloudWatchMetric,
    hpa::{ACTIVE, Built, object},
};

/// The external metric's name.
pub const METRIC: &str = "ecsbridge_cloudwatch";

/// `name` as a label value: itself when it is one, else `p-` and a hash of it.
#[must_use]
pub fn label_value(name: &str) -> String {
    // (A non-empty label value.)
    if crate::names::is_qualified_name_part(name) {
        name.to_owned()
    } else {
        format!("p-{:016x}", crate::fnv::hash(name.bytes()))
    }
}

/// `x` as a quantity: whole, or in thousandths.
fn quantity(x: f64) -> Quantity {
    if x.fract() == 0.0 {
        Quantity(format!("{x:.0}"))
    } else {
        Quantity(format!("{:.0}m", (x * 1000.0).round()))
    }
}

fn metric(service: &str, m: &CloudWatchMetric) -> MetricSpec {
    let target = quantity(m.target);
    MetricSpec {
        type_: "External".to_owned(),
        external: Some(ExternalMetricSource {
            metric: MetricIdentifier {
                name: METRIC.to_owned(),
                selector: Some(LabelSelector {
                    match_labels: Some(BTreeMap::from([
                        ("service".to_owned(), service.to_owned()),
                        ("policy".to_owned(), label_value(&m.policy)),
                    ])),
                    ..LabelSelector::default()
                }),
            },
            target: if m.per_task {
                MetricTarget {
                    type_: "AverageValue".to_owned(),
                    average_value: Some(target),
                    ..MetricTarget::default()
                }
            } else {
                MetricTarget {
                    type_: "Value".to_owned(),
                    value: Some(target),
                    ..MetricTarget::default()
                }
            },
        }),
        ..MetricSpec::default()
    }
}

/// Adds `built`'s CloudWatch metrics to the HPA of Service `service` in `namespace` (made when
/// there was none), with `built`'s report and policies updated to say the HPA reads them.
pub fn add(service: &str, namespace: &str, built: &mut Built) {
    built.unsay_cloudwatch();
    for m in &built.cloudwatch {
        let dimensions: Vec<String> = m.dimensions.iter().map(|(n, v)| format!("{n}={v}")).collect();
        if let Some(s) = built.policies.iter_mut().find(|p| p.policy_name == m.policy) {
            s.state = ACTIVE.to_owned();
            s.message = Some(format!(
                "HorizontalPodAutoscaler {service}: External metric {METRIC}{{service=\"{service}\",policy=\"{}\"}}, \
                 which the metrics adapter serves as CloudWatch's {}/{} ({}) of {}",
                label_value(&m.policy),
                m.namespace,
                m.metric_name,
                m.statistic,
                if dimensions.is_empty() {
                    "the metric".to_owned()
                } else {
                    dimensions.join(", ")
                }
            ));
        }
        built
            .scaling
            .metrics
            .get_or_insert_default()
            .push(metric(service, m));
    }
    built.hpa = Some(object(service, namespace, built.scaling.clone()));
}
