//! What every controller's status step shares: telling an unchanged status (so nothing is
//! written), the server-side apply body of a status, and the `Translated` condition's reasons and
//! message (every field that did not carry over exactly).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::Resource;
use serde::Serialize;
use serde_json::json;

use crate::api::{
    CapacityProviderStatus, ScheduledTaskStatus, ServiceStatus, TaskDefinitionStatus, TaskStatus, condition,
};

/// Translated=True.
pub const REASON_ALL_FIELDS_TRANSLATED: &str = "AllFieldsTranslated";
/// Translated=False: some fields were ignored, approximated or not translated yet.
pub const REASON_FIELDS_NOT_TRANSLATED: &str = "FieldsNotTranslated";
/// Ready=False: the TaskDefinition cannot become a pod template (on the TaskDefinition, and on
/// the Services that run it).
pub const REASON_INVALID_TASK_DEFINITION: &str = "InvalidTaskDefinition";
/// Longest `Translated` message listing whole notes; past it, the fields are all named and the
/// notes that do not fit are counted.
pub const MAX_MESSAGE_LEN: usize = 1000;
/// The longest condition message Kubernetes accepts (`metav1.Condition.message`, maxLength).
pub const MAX_CONDITION_MESSAGE_LEN: usize = 32768;

/// `s` cut to at most `max` bytes at a character boundary, with `…` when cut.
#[must_use]
pub fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let end = s
        .char_indices()
        .map(|(i, _)| i)
        .take_while(|i| *i + '…'.len_utf8() <= max)
        .last()
        .unwrap_or(0);
    format!("{}…", &s[..end])
}

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

/// The `Translated` condition for `generation` at `now`: True when `notes` is empty, else False
/// with every note ([`translated_message`]).
#[must_use]
pub fn translated_condition(notes: &[String], generation: Option<i64>, now: Time) -> Condition {
    if notes.is_empty() {
        condition::new(
            condition::TRANSLATED,
            true,
            REASON_ALL_FIELDS_TRANSLATED,
            "Every field set has a Kubernetes equivalent.",
            generation,
            now,
        )
    } else {
        condition::new(
            condition::TRANSLATED,
            false,
            REASON_FIELDS_NOT_TRANSLATED,
            translated_message(notes),
            generation,
            now,
        )
    }
}

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

/// The `Translated` message: every note, whole, as long as they fit in what Kubernetes accepts
/// in a condition ([`MAX_CONDITION_MESSAGE_LEN`], less some room); otherwise every field the
/// notes are about (the condition must name each field that did not carry over), then as many
/// whole notes as still fit.
#[must_use]
pub fn translated_message(notes: &[String]) -> String {
    const TAIL_ROOM: usize = 64;
    /// What the notes may take of a condition message.
    const BUDGET: usize = MAX_CONDITION_MESSAGE_LEN - 1024;
    let head = if notes.len() == 1 {
        "1 field not carried over exactly: ".to_owned()
    } else {
        format!("{} fields not carried over exactly: ", notes.len())
    };
    let full = format!("{head}{}", notes.join("; "));
    if full.len() <= BUDGET {
        return full;
    }
    let mut message = head;
    for (i, note) in notes.iter().enumerate() {
        let field = field_of(note);
        // Kubernetes refuses a longer condition message; leave room for the details.
        if message.len() + field.len() + MAX_MESSAGE_LEN + 128 > BUDGET {
            message.push_str(&format!(" … and {} more fields", notes.len() - i));
            break;
        }
        if i > 0 {
            message.push_str(", ");
        }
        message.push_str(field);
    }
    message.push_str(". Details: ");
    let budget = BUDGET;
    let mut listed = 0;
    for note in notes {
        let sep = if listed == 0 { "" } else { "; " };
        if message.len() + sep.len() + note.len() + TAIL_ROOM > budget {
            break;
        }
        message.push_str(sep);
        message.push_str(note);
        listed += 1;
    }
    if listed == 0
        && let Some(first) = notes.first()
    {
        // The first note alone is too long: cut it at a character boundary.
        let room = budget - TAIL_ROOM - message.len();
        let cut = first
            .char_indices()
            .map(|(i, _)| i)
            .take_while(|i| *i <= room)
            .last()
            .unwrap_or(0);
        message.push_str(&first[..cut]);
        message.push('…');
        listed = 1;
    }
    let rest = notes.len() - listed;
    if rest > 0 {
        message.push_str(&format!("; … and {rest} more (ecs-bridge render shows them all)"));
    }
    message
}

/// The field a note (`[TaskDefinition <name>: ]spec.<field>: <kind>: <message>`) is about: the
/// text before its kind.
fn field_of(note: &str) -> &str {
    [": approximated: ", ": ignored: ", ": not translated yet: "]
        .iter()
        .filter_map(|kind| note.find(kind))
        .min()
        .map_or_else(|| note.split(": ").next().unwrap_or(note), |i| &note[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translated_message_tells_every_note_whole_while_a_condition_holds_them() {
        // 41 notes (about 3 kB): all of them, whole, not "3 of them and 38 more".
        let notes: Vec<String> = (0..40)
            .map(|i| format!("spec.field{i:02}: approximated: {}", "x".repeat(40)))
            .chain(std::iter::once(
                "TaskDefinition web: spec.cpu: ignored: why".to_owned(),
            ))
            .collect();
        let message = translated_message(&notes);
        assert_eq!(
            message,
            format!("41 fields not carried over exactly: {}", notes.join("; "))
        );
    }

    #[test]
    fn translated_message_names_every_field_and_details_what_fits() {
        // 1,000 notes of 100 bytes: more than a condition holds.
        let notes: Vec<String> = (0..1000)
            .map(|i| format!("spec.field{i:04}: approximated: {}", "x".repeat(70)))
            .collect();
        let message = translated_message(&notes);
        assert!(message.len() <= MAX_CONDITION_MESSAGE_LEN, "{}", message.len());
        let (fields, details) = message.split_once(". Details: ").expect("fields, then details");
        let expected: Vec<String> = (0..1000).map(|i| format!("spec.field{i:04}")).collect();
        assert_eq!(
            fields,
            format!("1000 fields not carried over exactly: {}", expected.join(", ")),
            "every field is named"
        );
        let listed = details.matches(": approximated: ").count();
        assert!(listed > 100, "{listed}");
        assert!(
            details.ends_with(&format!(
                "; … and {} more (ecs-bridge render shows them all)",
                1000 - listed
            )),
            "{}",
            &details[details.len() - 100..]
        );
        // A single note too long for a condition is cut at a character boundary.
        let message = translated_message(&[format!("spec.a: ignored: {}", "é".repeat(20_000))]);
        assert!(message.len() <= MAX_CONDITION_MESSAGE_LEN, "{}", message.len());
        assert!(message.starts_with("1 field not carried over exactly: spec.a. Details: "));
        assert!(message.ends_with('…'));
    }
}
