//! How ECS spells an enumeration value (`awslogs`, `ECSServiceAverageCPUUtilization`): its JSON
//! name, for messages and for values carried over as written.

/// The ECS spelling of `v` (its serde name); empty for a value that is not a string.
#[must_use]
pub fn enum_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
