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
