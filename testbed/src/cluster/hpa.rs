//! The HorizontalPodAutoscaler controller (`autoscaling/v2`), after kube-controller-manager's
//! `pkg/controller/podautoscaler` (`horizontal.go`, `replica_calculator.go`), with the metrics a
//! metrics-server would serve replaced by the usage a test sets ([`super::SimCluster::set_usage`]).
//!
//! Each sync (on a change of the HPA, a change of usage, and every 15 s of the simulated clock,
//! the controller's default `--horizontal-pod-autoscaler-sync-period`):
//!
//! 1. reads the target's `scale` subresource (any kind that has one: a Deployment, or a custom
//!    resource such as an ecs-bridge Service), its replicas and selector;
//! 2. a target at 0 replicas (with a min above 0) is not scaled ("ScalingDisabled"); one outside
//!    [min, max] is brought to the bound; otherwise each metric proposes a count
//!    (`calcPlainMetricReplicas` for `Resource` metrics with an `AverageValue` target, with the
//!    0.1 tolerance and the missing and unready pods counted as upstream counts them), and the
//!    largest wins; a metric that cannot be read does not let the others scale in;
//! 3. the proposal is stabilised (`stabilizeRecommendationWithBehaviors`: up to the lowest
//!    recommendation of the scale-up window, down to the highest of the scale-down window) and
//!    rate-limited by the behavior's policies (`convertDesiredReplicasWithBehaviorRate`, with
//!    the API server's defaults for missing rules: up by max(4 pods, 100%) per 15 s, down by
//!    100% per 15 s after a 300 s window), `selectPolicy: Disabled` forbidding the direction;
//! 4. writes the new count through the `scale` subresource, records a `SuccessfulRescale` Event,
//!    and writes the status (current and desired replicas, current metrics, the `AbleToScale`,
//!    `ScalingActive` and `ScalingLimited` conditions, `lastScaleTime`).
//!
//! Not simulated: `Utilization` targets, `Pods`, `Object` and `External` metrics (they leave the
//! HPA `ScalingActive=False` with `FailedGetExternalMetric`-like reasons), the CPU
//! initialisation period.

use std::{collections::BTreeMap, sync::Arc};

use serde_json::{Value, json};

use super::{
    Kind,
    ctx::Ctx,
    util::{format_time, i_or, is_deleting, name, pod_ready, s},
};
use crate::{api::ApiError, schema::Gvk, store::selector::LabelSelector};

/// The controller's sync period (milliseconds).
pub const SYNC_PERIOD_MS: i64 = 15_000;
/// `--horizontal-pod-autoscaler-tolerance`.
const TOLERANCE: f64 = 0.1;

/// What a test says pods use: CPU in millicores, memory in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodUsage {
    /// CPU, millicores.
    pub cpu_millis: i64,
    /// Memory, bytes.
    pub memory_bytes: i64,
}

/// The controller's memory of one HPA (in-process, as upstream's): recommendations and scale
/// events, by time on the simulated clock.
#[derive(Debug, Default)]
pub struct Memory {
    recommendations: Vec<(i64, i64)>,
    scale_up_events: Vec<(i64, i64)>,
    scale_down_events: Vec<(i64, i64)>,
}

/// A quantity (`250m`, `2`, `512Mi`, `1G`) in thousandths.
fn milli(q: &str) -> Option<i64> {
    let q = q.trim();
    let split = q.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: f64 = match suffix {
        "" => 1.0,
        "m" => 0.001,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((number * factor * 1000.0).ceil() as i64)
}

/// A count of thousandths as a quantity (`150m`, or whole units).
fn quantity(milli: i64, resource: &str) -> String {
    if resource == "cpu" || milli % 1000 != 0 {
        format!("{milli}m")
    } else {
        (milli / 1000).to_string()
    }
}

/// The behavior's rules for a direction, with the API server's defaults filled in.
fn rules(hpa: &Value, up: bool) -> (i64, String, Vec<(String, i64, i64)>) {
    let r = hpa.pointer(if up {
        "/spec/behavior/scaleUp"
    } else {
        "/spec/behavior/scaleDown"
    });
    let window = r
        .and_then(|r| r.get("stabilizationWindowSeconds"))
        .and_then(Value::as_i64)
        .unwrap_or(if up { 0 } else { 300 });
    let select = r
        .and_then(|r| r.get("selectPolicy"))
        .and_then(Value::as_str)
        .unwrap_or("Max")
        .to_owned();
    let policies: Vec<(String, i64, i64)> = r
        .and_then(|r| r.get("policies"))
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    (
                        s(p, "/type").to_owned(),
                        i_or(p, "/value", 0),
                        i_or(p, "/periodSeconds", 15),
                    )
                })
                .collect()
        })
        .unwrap_or_else(|| {
            if up {
                vec![("Pods".into(), 4, 15), ("Percent".into(), 100, 15)]
            } else {
                vec![("Percent".into(), 100, 15)]
            }
        });
    (window, select, policies)
}

/// `getReplicasChangePerPeriod`.
fn change_in_period(events: &[(i64, i64)], period_s: i64, now: i64) -> i64 {
    events
        .iter()
        .filter(|(at, _)| *at > now - period_s * 1000)
        .map(|(_, n)| n)
        .sum()
}

/// One metric's proposal (`calcPlainMetricReplicas`), or why it cannot be read.
fn proposal(
    metric: &Value,
    current: i64,
    pods: &[Arc<Value>],
    usage: &dyn Fn(&Value) -> Option<PodUsage>,
) -> Result<(i64, Value), String> {
    let type_ = s(metric, "/type");
    let resource = s(metric, "/resource/name");
    let target = metric.pointer("/resource/target");
    let average = target
        .filter(|t| s(t, "/type") == "AverageValue")
        .and_then(|t| t.get("averageValue"))
        .and_then(Value::as_str)
        .and_then(milli);
    let (Some(target), true) = (average, type_ == "Resource") else {
        return Err(format!(
            "the simulated HPA reads Resource metrics with an AverageValue target only ({type_})"
        ));
    };
    let mut metrics: BTreeMap<String, i64> = BTreeMap::new();
    let (mut ready, mut unready, mut missing) = (0_i64, Vec::new(), Vec::new());
    for pod in pods {
        if is_deleting(pod) || s(pod, "/status/phase") == "Failed" {
            continue;
        }
        let pod_name = name(pod).to_owned();
        let Some(u) = usage(pod) else {
            missing.push(pod_name);
            continue;
        };
        let value = if resource == "cpu" {
            u.cpu_millis
        } else {
            u.memory_bytes * 1000
        };
        if s(pod, "/status/phase") == "Pending" || (resource == "cpu" && !pod_ready(pod)) {
            unready.push(pod_name);
            continue;
        }
        ready += 1;
        metrics.insert(pod_name, value);
    }
    if metrics.is_empty() {
        return Err(format!(
            "unable to get metrics for resource {resource}: no metrics returned from resource metrics API"
        ));
    }
    let ratio = |m: &BTreeMap<String, i64>| m.values().sum::<i64>() as f64 / m.len() as f64 / target as f64;
    let usage_ratio = ratio(&metrics);
    let average_now = metrics.values().sum::<i64>() / metrics.len() as i64;
    let status = json!({"type": "Resource", "resource": {"name": resource, "current": {"averageValue": quantity(average_now, resource)}}});
    let scale_up_with_unready = !unready.is_empty() && usage_ratio > 1.0;
    if !scale_up_with_unready && missing.is_empty() {
        if (1.0 - usage_ratio).abs() <= TOLERANCE {
            return Ok((current, status));
        }
        return Ok(((usage_ratio * ready as f64).ceil() as i64, status));
    }
    if !missing.is_empty() {
        // Missing pods: at the target when scaling in, at 0 when scaling out.
        let assumed = if usage_ratio < 1.0 { target } else { 0 };
        for p in missing {
            metrics.insert(p, assumed);
        }
    }
    if scale_up_with_unready {
        for p in unready {
            metrics.insert(p, 0);
        }
    }
    let new_ratio = ratio(&metrics);
    if (1.0 - new_ratio).abs() <= TOLERANCE
        || (usage_ratio < 1.0 && new_ratio > 1.0)
        || (usage_ratio > 1.0 && new_ratio < 1.0)
    {
        return Ok((current, status));
    }
    let replicas = (new_ratio * metrics.len() as f64).ceil() as i64;
    if (new_ratio < 1.0 && replicas > current) || (new_ratio > 1.0 && replicas < current) {
        return Ok((current, status));
    }
    Ok((replicas, status))
}

fn condition(type_: &str, ok: bool, reason: &str, message: &str, t: &str) -> Value {
    json!({"type": type_, "status": if ok { "True" } else { "False" }, "reason": reason,
           "message": message, "lastTransitionTime": t})
}

/// Syncs the HPA `ns`/`name` (see the module docs).
pub fn sync(ctx: &mut Ctx<'_>, ns: &str, hpa_name: &str) -> Result<(), ApiError> {
    let Some(hpa) = ctx.snap.get(Kind::HorizontalPodAutoscaler, ns, hpa_name) else {
        ctx.shared
            .hpa_memory
            .lock()
            .expect("hpa lock")
            .remove(&format!("{ns}/{hpa_name}"));
        return Ok(());
    };
    if is_deleting(&hpa) {
        return Ok(());
    }
    let now = ctx.now;
    ctx.requeue(Kind::HorizontalPodAutoscaler, &hpa, now + SYNC_PERIOD_MS);
    let t = format_time(now);
    let reference = hpa.pointer("/spec/scaleTargetRef").cloned().unwrap_or(json!({}));
    let (group, version) = s(&reference, "/apiVersion")
        .rsplit_once('/')
        .unwrap_or(("", s(&reference, "/apiVersion")));
    let rt = ctx
        .api
        .resource_type(&Gvk::new(group, version, s(&reference, "/kind")));
    let scale = rt
        .as_ref()
        .ok_or_else(|| ApiError::not_found(s(&reference, "/kind"), s(&reference, "/name")))
        .and_then(|rt| ctx.api.get(rt, Some(ns), s(&reference, "/name"), Some("scale")));
    let mut status = hpa.get("status").cloned().unwrap_or(json!({}));
    status["observedGeneration"] = json!(i_or(&hpa, "/metadata/generation", 1));
    let (Some(rt), Ok(scale)) = (rt, scale) else {
        status["conditions"] = json!([condition(
            "AbleToScale",
            false,
            "FailedGetScale",
            "the HPA controller was unable to get the target's current scale",
            &t
        )]);
        return ctx
            .write_status(Kind::HorizontalPodAutoscaler, &hpa, status)
            .map(|_| ());
    };
    let current = i_or(&scale, "/spec/replicas", 0);
    let min = i_or(&hpa, "/spec/minReplicas", 1);
    let max = i_or(&hpa, "/spec/maxReplicas", 1);
    let selector = LabelSelector::parse(s(&scale, "/status/selector")).unwrap_or(LabelSelector(Vec::new()));
    let pods: Vec<Arc<Value>> = ctx
        .snap
        .list(Kind::Pod)
        .into_iter()
        .filter(|p| super::util::namespace(p) == ns && selector.matches(p))
        .collect();
    let usage = |pod: &Value| ctx.shared.usage_of(ns, pod);
    let mut conditions = vec![condition(
        "AbleToScale",
        true,
        "SucceededGetScale",
        "the HPA controller was able to get the target's current scale",
        &t,
    )];
    let mut current_metrics = Vec::new();
    let key = format!("{ns}/{hpa_name}");
    let mut limited: Option<(&str, &str)> = None;
    let (desired, rescale_reason) = if current == 0 && min != 0 {
        conditions.push(condition(
            "ScalingActive",
            false,
            "ScalingDisabled",
            "scaling is disabled since the replica count of the target is zero",
            &t,
        ));
        (0, String::new())
    } else if current > max {
        limited = Some((
            "TooManyReplicas",
            "the desired replica count is more than the maximum replica count",
        ));
        (
            max,
            "Current number of replicas above Spec.MaxReplicas".to_owned(),
        )
    } else if current < min {
        limited = Some((
            "TooFewReplicas",
            "the desired replica count is less than the minimum replica count",
        ));
        (
            min,
            "Current number of replicas below Spec.MinReplicas".to_owned(),
        )
    } else {
        let mut proposed: Option<(i64, String)> = None;
        let mut failed = None;
        for metric in hpa
            .pointer("/spec/metrics")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match proposal(metric, current, &pods, &usage) {
                Ok((n, m)) => {
                    let what = format!("{} resource", s(metric, "/resource/name"));
                    current_metrics.push(m);
                    if proposed.as_ref().is_none_or(|(p, _)| n > *p) {
                        proposed = Some((n, what));
                    }
                }
                Err(e) => failed = Some(e),
            }
        }
        match (proposed, failed) {
            (None, failed) => {
                let message = failed.unwrap_or_else(|| "the HPA has no metrics".to_owned());
                conditions.push(condition(
                    "ScalingActive",
                    false,
                    "FailedGetResourceMetric",
                    &message,
                    &t,
                ));
                (current, String::new())
            }
            // A metric that cannot be read does not let the others scale in.
            (Some((n, _)), Some(_)) if n < current => (current, String::new()),
            (Some((n, what)), _) => {
                conditions.push(condition(
                    "ScalingActive",
                    true,
                    "ValidMetricFound",
                    &format!("the HPA was able to successfully calculate a replica count from {what}"),
                    &t,
                ));
                let stabilized = stabilize(ctx, &key, &hpa, current, n);
                let (desired, why) = rate_limit(ctx, &key, &hpa, current, stabilized, (min, max));
                limited = why;
                let direction = if n > current { "above" } else { "below" };
                (desired, format!("{what} {direction} target"))
            }
        }
    };
    conditions.push(match limited {
        Some((reason, message)) => condition("ScalingLimited", true, reason, message, &t),
        None => condition(
            "ScalingLimited",
            false,
            "DesiredWithinRange",
            "the desired count is within the acceptable range",
            &t,
        ),
    });
    if desired != current {
        let mut body = scale.clone();
        body["spec"]["replicas"] = json!(desired);
        ctx.api.update(
            &rt,
            Some(ns),
            s(&reference, "/name"),
            Some("scale"),
            body,
            &super::ctx::opts(),
        )?;
        let mut memory = ctx.shared.hpa_memory.lock().expect("hpa lock");
        let m = memory.entry(key).or_default();
        if desired > current {
            m.scale_up_events.push((now, desired - current));
        } else {
            m.scale_down_events.push((now, current - desired));
        }
        drop(memory);
        conditions[0] = condition(
            "AbleToScale",
            true,
            "SucceededRescale",
            &format!("the HPA controller was able to update the target scale to {desired}"),
            &t,
        );
        status["lastScaleTime"] = json!(t);
        record_rescale(ctx, &hpa, desired, &rescale_reason, &t);
    }
    status["currentReplicas"] = json!(i_or(&scale, "/status/replicas", 0));
    status["desiredReplicas"] = json!(desired);
    if current_metrics.is_empty() {
        if let Some(o) = status.as_object_mut() {
            o.remove("currentMetrics");
        }
    } else {
        status["currentMetrics"] = json!(current_metrics);
    }
    // Transition times move only when a condition's status does.
    let before = hpa
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for c in &mut conditions {
        if let Some(b) = before
            .iter()
            .find(|b| b["type"] == c["type"] && b["status"] == c["status"])
        {
            c["lastTransitionTime"] = b["lastTransitionTime"].clone();
        }
    }
    status["conditions"] = json!(conditions);
    ctx.write_status(Kind::HorizontalPodAutoscaler, &hpa, status)
        .map(|_| ())
}

/// `stabilizeRecommendationWithBehaviors`: the proposal `desired`, held between the lowest
/// recommendation of the scale-up window and the highest of the scale-down window; records it.
fn stabilize(ctx: &Ctx<'_>, key: &str, hpa: &Value, current: i64, desired: i64) -> i64 {
    let (up_window, _, _) = rules(hpa, true);
    let (down_window, _, _) = rules(hpa, false);
    let now = ctx.now;
    let mut memory = ctx.shared.hpa_memory.lock().expect("hpa lock");
    // `maybeInitScaleDownStabilizationWindow`: a new HPA starts remembering the current count.
    let m = memory.entry(key.to_owned()).or_insert_with(|| Memory {
        recommendations: vec![(now, current)],
        ..Memory::default()
    });
    let (mut up, mut down) = (desired, desired);
    for (at, r) in &m.recommendations {
        if *at > now - up_window * 1000 {
            up = up.min(*r);
        }
        if *at > now - down_window * 1000 {
            down = down.max(*r);
        }
    }
    let obsolete = now - up_window.max(down_window) * 1000;
    m.recommendations.retain(|(at, _)| *at >= obsolete);
    m.recommendations.push((now, desired));
    current.max(up).min(down)
}

/// `convertDesiredReplicasWithBehaviorRate`: `desired` within the policies' rate and
/// [min, max], with why it was limited.
fn rate_limit(
    ctx: &Ctx<'_>,
    key: &str,
    hpa: &Value,
    current: i64,
    desired: i64,
    (min, max): (i64, i64),
) -> (i64, Option<(&'static str, &'static str)>) {
    let now = ctx.now;
    let memory = ctx.shared.hpa_memory.lock().expect("hpa lock");
    let empty = Memory::default();
    let m = memory.get(key).unwrap_or(&empty);
    let limit = |up: bool| {
        let (_, select, policies) = rules(hpa, up);
        if select == "Disabled" {
            return current;
        }
        let pick_max = (select == "Max") == up;
        let mut result = if pick_max { i64::MIN } else { i64::MAX };
        for (type_, value, period) in &policies {
            let start = current - change_in_period(&m.scale_up_events, *period, now)
                + change_in_period(&m.scale_down_events, *period, now);
            let proposed = match (type_.as_str(), up) {
                ("Pods", true) => start + value,
                ("Pods", false) => start - value,
                (_, true) => (start as f64 * (1.0 + *value as f64 / 100.0)).ceil() as i64,
                (_, false) => (start as f64 * (1.0 - *value as f64 / 100.0)) as i64,
            };
            result = if pick_max {
                result.max(proposed)
            } else {
                result.min(proposed)
            };
        }
        result
    };
    if desired > current {
        let up_limit = limit(true).max(current);
        if max > up_limit {
            let d = desired.min(up_limit);
            (
                d,
                (d < desired).then_some((
                    "ScaleUpLimit",
                    "the desired replica count is increasing faster than the maximum scale rate",
                )),
            )
        } else {
            let d = desired.min(max);
            (
                d,
                (d < desired).then_some((
                    "TooManyReplicas",
                    "the desired replica count is more than the maximum replica count",
                )),
            )
        }
    } else if desired < current {
        let down_limit = limit(false).min(current);
        if min < down_limit {
            let d = desired.max(down_limit);
            (
                d,
                (d > desired).then_some((
                    "ScaleDownLimit",
                    "the desired replica count is decreasing faster than the maximum scale rate",
                )),
            )
        } else {
            let d = desired.max(min);
            (
                d,
                (d > desired).then_some((
                    "TooFewReplicas",
                    "the desired replica count is less than the minimum replica count",
                )),
            )
        }
    } else {
        (desired, None)
    }
}

/// The `SuccessfulRescale` Event of a rescale to `size` (core/v1, as the controller's recorder
/// writes it).
fn record_rescale(ctx: &mut Ctx<'_>, hpa: &Value, size: i64, reason: &str, t: &str) {
    let Some(rt) = ctx.api.resource_type(&Gvk::new("", "v1", "Event")) else {
        return;
    };
    let ns = super::util::namespace(hpa);
    let event = json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"generateName": format!("{}.", name(hpa)), "namespace": ns},
        "involvedObject": {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "name": name(hpa), "namespace": ns, "uid": super::util::uid(hpa)},
        "reason": "SuccessfulRescale",
        "message": format!("New size: {size}; reason: {reason}"),
        "type": "Normal",
        "source": {"component": "horizontal-pod-autoscaler"},
        "firstTimestamp": t, "lastTimestamp": t, "count": 1,
    });
    if let Err(e) = ctx.api.create(&rt, Some(ns), event, &super::ctx::opts()) {
        tracing::warn!(error = %e, "simulated HPA could not record an event");
    }
}

#[cfg(test)]
mod tests {
    use super::milli;

    #[test]
    fn quantities_in_thousandths() {
        assert_eq!(milli("250m"), Some(250));
        assert_eq!(milli("2"), Some(2000));
        assert_eq!(milli("1Ki"), Some(1_024_000));
        assert_eq!(milli("0.5"), Some(500));
        assert_eq!(milli("x"), None);
    }
}
