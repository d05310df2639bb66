//! Status conditions shared by every kind: types, reasons and the helpers that set them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::{Schema, SchemaGenerator, json_schema};

/// The roll-up condition: the object does what its spec asks.
pub const READY: &str = "Ready";
/// A change is being rolled out.
pub const PROGRESSING: &str = "Progressing";
/// Something the object needs is failing.
pub const DEGRADED: &str = "Degraded";
/// The ECS spec translated to Kubernetes; the message lists every field ignored or approximated.
pub const TRANSLATED: &str = "Translated";

/// Builds a condition with the given type, status, reason and message for `generation`.
#[must_use]
pub fn new(
    type_: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
    now: Time,
) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: if status { "True" } else { "False" }.to_owned(),
        reason: reason.to_owned(),
        message: message.into(),
        observed_generation: generation,
        last_transition_time: now,
    }
}

/// Puts `cond` into `conds`, replacing the condition of the same type.
///
/// `lastTransitionTime` only moves when the status flips, as the Kubernetes API conventions ask.
pub fn set(conds: &mut Vec<Condition>, mut cond: Condition) {
    if let Some(old) = conds.iter_mut().find(|c| c.type_ == cond.type_) {
        if old.status == cond.status {
            cond.last_transition_time = old.last_transition_time.clone();
        }
        *old = cond;
    } else {
        conds.push(cond);
    }
}

/// Whether two condition lists say the same thing, ignoring transition times.
#[must_use]
pub fn same_ignoring_time(a: &[Condition], b: &[Condition]) -> bool {
    a.len() == b.len()
        && a.iter().all(|x| {
            b.iter().any(|y| {
                x.type_ == y.type_
                    && x.status == y.status
                    && x.reason == y.reason
                    && x.message == y.message
                    && x.observed_generation == y.observed_generation
            })
        })
}

/// Finds the condition of type `type_`.
#[must_use]
pub fn find<'a>(conds: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conds.iter().find(|c| c.type_ == type_)
}

/// Argo CD's health: the object is as its spec asks.
pub const HEALTHY: &str = "Healthy";
/// Argo CD's health: on its way (tasks starting, a rollout in progress).
pub const HEALTH_PROGRESSING: &str = "Progressing";
/// Argo CD's health: something the user must fix.
pub const HEALTH_DEGRADED: &str = "Degraded";

/// `Ready=False` reasons that mean "waiting", not "refused": the Service controller's
/// `TasksPending` (tasks starting) and `WaitingForTaskDefinition` (its first revision being
/// registered).
pub const WAITING_REASONS: &[&str] = &["TasksPending", "WaitingForTaskDefinition"];

/// What Argo CD's health check (`charts/ecs-bridge/argocd/health/common.lua`) says of an object
/// whose controller observed its generation and set `conds`, and why in a word (the deciding
/// condition's reason): Degraded when `Degraded=True`; Progressing while `Progressing=True`;
/// Healthy when `Ready=True`; Degraded when `Ready=False` for a reason that is not waiting for
/// tasks; Progressing otherwise. Written into each status (`health`, `healthReason`) for
/// `kubectl get`; `tests/argocd_health.rs` checks that the Lua says the same.
#[must_use]
pub fn health(conds: &[Condition]) -> (&'static str, String) {
    let is = |type_: &str, status: &str| find(conds, type_).filter(|c| c.status == status);
    if let Some(c) = is(DEGRADED, "True") {
        return (HEALTH_DEGRADED, c.reason.clone());
    }
    if let Some(c) = is(PROGRESSING, "True") {
        return (HEALTH_PROGRESSING, c.reason.clone());
    }
    match find(conds, READY) {
        None => (HEALTH_PROGRESSING, "WaitingForReady".to_owned()),
        Some(c) if c.status == "True" => (HEALTHY, c.reason.clone()),
        Some(c) if c.status == "False" && !WAITING_REASONS.contains(&c.reason.as_str()) => {
            (HEALTH_DEGRADED, c.reason.clone())
        }
        Some(c) => (HEALTH_PROGRESSING, c.reason.clone()),
    }
}

/// Schema of a `conditions` list: a list-map keyed by `type`, as the API conventions ask.
pub fn conditions_schema(generator: &mut SchemaGenerator) -> Schema {
    let item = generator.subschema_for::<Condition>();
    json_schema!({
        "type": "array",
        "description": "Conditions Ready, Progressing, Degraded and Translated, as the Kubernetes API conventions describe them.",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
        "items": item,
    })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::jiff::Timestamp;

    use super::*;

    fn c(type_: &str, status: bool, reason: &str) -> Condition {
        new(type_, status, reason, "", Some(1), Time(Timestamp::UNIX_EPOCH))
    }

    #[test]
    fn health_follows_the_argo_cd_rules_in_order() {
        let cases: &[(&[Condition], (&str, &str))] = &[
            (&[], ("Progressing", "WaitingForReady")),
            (&[c(READY, true, "Registered")], ("Healthy", "Registered")),
            (
                &[
                    c(READY, true, "SteadyState"),
                    c(DEGRADED, true, "DeploymentFailed"),
                ],
                ("Degraded", "DeploymentFailed"),
            ),
            (
                &[
                    c(READY, true, "SteadyState"),
                    c(PROGRESSING, true, "RolloutInProgress"),
                ],
                ("Progressing", "RolloutInProgress"),
            ),
            (
                &[
                    c(READY, false, "TasksPending"),
                    c(PROGRESSING, false, "RolloutCompleted"),
                ],
                ("Progressing", "TasksPending"),
            ),
            (
                &[c(READY, false, "WaitingForTaskDefinition")],
                ("Progressing", "WaitingForTaskDefinition"),
            ),
            (
                &[
                    c(READY, false, "TaskDefinitionNotFound"),
                    c(DEGRADED, false, "AsExpected"),
                ],
                ("Degraded", "TaskDefinitionNotFound"),
            ),
        ];
        for (conds, (status, reason)) in cases {
            let (h, r) = health(conds);
            assert_eq!((h, r.as_str()), (*status, *reason), "{conds:?}");
        }
    }
}
