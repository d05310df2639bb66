//! The circuit breaker's side of a rollout (pure): the Service's breaker, the history written on
//! the Deployment, and the message of a failed deployment.

use super::{
    build::Desired,
    history::{Breaker, History},
};
use crate::{
    api::{Service, ecs::ThresholdType},
    translate::service::Workload,
};

/// The Service's circuit breaker for its desired count (ecs-reference §2.4), or `None` when it
/// has none or it is disabled.
///
/// Threshold: `BOUNDED_PERCENT` (the default, value 50) is `ceil(value% × desired)` kept within
/// 3 and 200; `UNBOUNDED_PERCENT` the same without bounds (at least 1); `COUNT` the value.
#[must_use]
pub fn breaker(svc: &Service) -> Option<Breaker> {
    let cb = svc
        .spec
        .service
        .deployment_configuration
        .as_ref()?
        .deployment_circuit_breaker
        .as_ref()
        .filter(|cb| cb.enable)?;
    let desired = i64::from(svc.spec.service.desired_count.unwrap_or(1).max(0));
    let (kind, value) = cb
        .threshold_configuration
        .as_ref()
        .map_or((ThresholdType::BoundedPercent, 50), |t| {
            (t.r#type, i64::from(t.value))
        });
    let percent = (desired * value.max(0) + 99) / 100;
    let threshold = match kind {
        ThresholdType::Count => value,
        ThresholdType::UnboundedPercent => percent,
        ThresholdType::BoundedPercent => percent.clamp(3, 200),
    }
    .max(1);
    Some(Breaker {
        threshold: i32::try_from(threshold).unwrap_or(i32::MAX),
        rollback: cb.rollback,
        reset_on_healthy_task: cb.reset_on_healthy_task.unwrap_or(true),
    })
}

/// `desired` with the rollout `history` on its Deployment, paused when `paused`.
#[must_use]
pub fn remembered(mut desired: Desired, history: &History, paused: bool) -> Desired {
    if let Workload::Deployment(d) = &mut desired.workload {
        history.annotate(d);
        if let Some(spec) = d.spec.as_mut() {
            spec.paused = paused.then_some(true);
        }
    }
    desired
}

/// Degraded's message for a failed rollout of `failed`.
#[must_use]
pub fn failure_message(failed: &str, breaker: Option<&Breaker>, completed: Option<&str>) -> String {
    let threshold = breaker.map_or(String::new(), |b| format!(" ({} failed tasks)", b.threshold));
    let what_now = match (
        breaker.is_some_and(|b| b.rollback),
        completed.filter(|c| *c != failed),
    ) {
        (true, Some(c)) => format!("rolled back to {c}"),
        (true, None) => "no earlier deployment completed, so there is nothing to roll back to".to_owned(),
        (false, _) => "rollback is off, so the deployment is paused".to_owned(),
    };
    format!(
        "ECS deployment circuit breaker: tasks of {failed} failed to start{threshold}; {what_now}. \
         Register a fixed revision (or point spec.taskDefinition at one) to deploy again."
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::controller::testing;

    fn service(desired: i32, breaker: serde_json::Value) -> Service {
        let mut svc = testing::service("team-a", "web", 1, "web");
        svc.spec.service.desired_count = Some(desired);
        svc.spec.service.deployment_configuration =
            Some(serde_json::from_value(json!({"deploymentCircuitBreaker": breaker})).expect("config"));
        svc
    }

    #[test]
    fn thresholds_follow_ecs() {
        let on = json!({"enable": true, "rollback": true});
        // ceil(50% × desired), within 3..=200.
        for (desired, threshold) in [(1, 3), (6, 3), (7, 4), (10, 5), (400, 200), (1000, 200)] {
            assert_eq!(
                breaker(&service(desired, on.clone())).map(|b| b.threshold),
                Some(threshold),
                "{desired}"
            );
        }
        let with = |kind: &str, value: i32| {
            json!({"enable": true, "rollback": false,
                   "thresholdConfiguration": {"type": kind, "value": value}})
        };
        assert_eq!(
            breaker(&service(10, with("COUNT", 2))).map(|b| b.threshold),
            Some(2)
        );
        assert_eq!(
            breaker(&service(1000, with("UNBOUNDED_PERCENT", 50))).map(|b| b.threshold),
            Some(500)
        );
        assert_eq!(
            breaker(&service(1, with("UNBOUNDED_PERCENT", 10))).map(|b| b.threshold),
            Some(1)
        );
        assert_eq!(
            breaker(&service(10, with("BOUNDED_PERCENT", 10))).map(|b| b.threshold),
            Some(3)
        );
        let b = breaker(&service(4, with("COUNT", 2))).expect("a breaker");
        assert!(!b.rollback && b.reset_on_healthy_task);
        assert_eq!(
            breaker(&service(4, json!({"enable": false, "rollback": true}))),
            None
        );
        assert_eq!(breaker(&testing::service("team-a", "web", 1, "web")), None);
    }

    #[test]
    fn the_failure_message_says_what_happens_next() {
        let b = Breaker {
            threshold: 3,
            rollback: true,
            reset_on_healthy_task: true,
        };
        let m = failure_message("web:4", Some(&b), Some("web:3"));
        assert!(
            m.contains("web:4") && m.contains("(3 failed tasks)") && m.contains("rolled back to web:3"),
            "{m}"
        );
        let m = failure_message("web:4", Some(&b), None);
        assert!(m.contains("nothing to roll back to"), "{m}");
        let m = failure_message("web:4", Some(&Breaker { rollback: false, ..b }), Some("web:3"));
        assert!(m.contains("paused"), "{m}");
    }
}
