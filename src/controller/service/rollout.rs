//! The circuit breaker's side of a rollout (pure): the history written on the Deployment, a
//! template held while the rollout cannot move, and the message of a failed deployment.

use super::{
    build::Desired,
    history::{Breaker, History},
};
use crate::translate::service::Workload;

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

/// `desired` keeping the pod template of `live` when the deployment configuration lets no task
/// be stopped or started (ECS leaves the old tasks running, and says so): the running task
/// definition becomes `live`'s. A new Service, or a template that did not change, rolls as usual.
#[must_use]
pub fn held(mut desired: Desired, live: Option<&k8s_openapi::api::apps::v1::Deployment>) -> Desired {
    let (Some(_), Some(live)) = (desired.blocked.as_ref(), live) else {
        return desired;
    };
    let Some(running) = super::history::template_task_definition(live) else {
        return desired;
    };
    if running == desired.task_definition {
        return desired;
    }
    if let (Workload::Deployment(d), Some(template)) = (
        &mut desired.workload,
        live.spec.as_ref().map(|s| s.template.clone()),
    ) {
        if let Some(spec) = d.spec.as_mut() {
            spec.template = template;
        }
        desired.task_definition = running;
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
    use k8s_openapi::api::apps::v1::Deployment;

    use super::*;

    fn deployment(revision: &str, image: &str) -> Deployment {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web"},
            "spec": {
                "selector": {},
                "template": {
                    "metadata": {"labels": {"app.kubernetes.io/name": "web", "ecsbridge.io/revision": revision}},
                    "spec": {"containers": [{"name": "web", "image": image}]}
                }
            }
        }))
        .expect("a Deployment")
    }

    fn desired(blocked: bool) -> Desired {
        Desired {
            workload: Workload::Deployment(Box::new(deployment("4", "web:new"))),
            services: Vec::new(),
            target_group_bindings: Vec::new(),
            task_definition: "web:4".into(),
            translation: super::super::build::Translation::default(),
            blocked: blocked.then(|| "stuck".to_owned()),
        }
    }

    fn image(d: &Desired) -> &str {
        let Workload::Deployment(d) = &d.workload else {
            panic!("a Deployment")
        };
        d.spec
            .as_ref()
            .expect("spec")
            .template
            .spec
            .as_ref()
            .expect("pod spec")
            .containers[0]
            .image
            .as_deref()
            .unwrap_or_default()
    }

    #[test]
    fn a_blocked_rollout_keeps_the_running_template() {
        let live = deployment("3", "web:old");
        let held_back = held(desired(true), Some(&live));
        assert_eq!(
            (held_back.task_definition.as_str(), image(&held_back)),
            ("web:3", "web:old")
        );
        // Not blocked, or nothing running yet, or the same revision: as desired.
        for d in [held(desired(false), Some(&live)), held(desired(true), None)] {
            assert_eq!((d.task_definition.as_str(), image(&d)), ("web:4", "web:new"));
        }
        let same = held(desired(true), Some(&deployment("4", "web:new")));
        assert_eq!(same.task_definition, "web:4");
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
