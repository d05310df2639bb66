//! Kubernetes object names from ECS names, and the checks of Kubernetes name syntax.

/// Turns an ECS name (`[A-Za-z0-9_-]`, up to 255 characters) into a valid Kubernetes object name
/// (an RFC 1123 subdomain made of lower case alphanumerics and `-`, at most 253 characters,
/// starting and ending with an alphanumeric). Returns `None` when nothing usable is left.
#[must_use]
pub fn object_name(ecs_name: &str) -> Option<String> {
    kubernetes_name(ecs_name, 253)
}

/// Turns an EventBridge rule or schedule name into a ScheduledTask name (at most 52 characters:
/// its CronJob's and its Tasks' names add to it). Returns `None` when nothing usable is left.
#[must_use]
pub fn scheduled_task_name(rule: &str) -> Option<String> {
    kubernetes_name(rule, 52)
}

/// Turns an ECS container name into a Kubernetes container name (an RFC 1123 label: at most 63
/// characters). Returns `None` when nothing usable is left.
#[must_use]
pub fn container_name(ecs_name: &str) -> Option<String> {
    kubernetes_name(ecs_name, 63)
}

/// Every character that is not a lower-case letter or a digit becomes '-' (runs are kept, so
/// `a--b` and `a-b` stay distinct); dots too, since each dot-separated part of a subdomain would
/// have to start and end with an alphanumeric. Cut to `max` characters and trimmed of '-'.
fn kubernetes_name(ecs_name: &str, max: usize) -> Option<String> {
    // One buffer: every character maps to one ASCII byte, so bytes are characters.
    let mut name = String::with_capacity(ecs_name.len());
    for c in ecs_name.chars() {
        name.push(if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '-'
        });
    }
    let leading = name.len() - name.trim_start_matches('-').len();
    name.drain(..leading);
    name.truncate(max.min(name.len()));
    let kept = name.trim_end_matches('-').len();
    name.truncate(kept);
    (!name.is_empty()).then_some(name)
}

/// An RFC 1123 label: lower-case alphanumerics and '-', at most 63, alphanumeric at both ends.
#[must_use]
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// An RFC 1123 subdomain (object names, key prefixes): dot-separated labels, at most 253
/// characters.
#[must_use]
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// The name part of a qualified name (label and annotation keys), and a non-empty label value:
/// at most 63 of `[A-Za-z0-9-_.]`, alphanumeric at both ends.
#[must_use]
pub fn is_qualified_name_part(s: &str) -> bool {
    let ok_end = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    s.len() <= 63
        && ok_end(s.chars().next())
        && ok_end(s.chars().last())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A label key: `[prefix/]name`, the prefix a DNS subdomain, the name a qualified name part.
#[must_use]
pub fn is_label_key(key: &str) -> bool {
    match key.rsplit_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_qualified_name_part(name),
        None => is_qualified_name_part(key),
    }
}

/// A label value: empty, or a qualified name part.
#[must_use]
pub fn is_label_value(v: &str) -> bool {
    v.is_empty() || is_qualified_name_part(v)
}

#[cfg(test)]
mod tests {
    use super::{container_name, object_name};

    #[test]
    fn makes_valid_names() {
        assert_eq!(object_name("web").as_deref(), Some("web"));
        assert_eq!(object_name("Web_App-2").as_deref(), Some("web-app-2"));
        assert_eq!(object_name("__x__").as_deref(), Some("x"));
        assert_eq!(
            object_name("{{ must_env `SERVICE` }}").as_deref(),
            Some("must-env--service")
        );
        assert_eq!(object_name("a..b").as_deref(), Some("a--b"));
        assert_eq!(object_name("web.-x").as_deref(), Some("web--x"));
        assert_ne!(object_name("a--b"), object_name("a-b"));
        assert_eq!(object_name("___"), None);
        assert_eq!(object_name(&"a".repeat(300)).map(|n| n.len()), Some(253));
        assert_eq!(container_name(&"a".repeat(300)).map(|n| n.len()), Some(63));
        assert_eq!(container_name("log_router").as_deref(), Some("log-router"));
    }

    /// The mapping as first written (three strings, by characters): the one-buffer version must
    /// give the same name for every input, or objects would be renamed on upgrade.
    fn by_characters(ecs_name: &str, max: usize) -> Option<String> {
        let mapped: String = ecs_name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let cut: String = mapped.trim_matches('-').chars().take(max).collect();
        let cut = cut.trim_end_matches('-');
        (!cut.is_empty()).then(|| cut.to_owned())
    }

    proptest::proptest! {
        #[test]
        fn names_are_those_of_the_character_mapping(
            name in "[-_a-zA-Z0-9.é ]{0,80}",
            max in 1usize..70,
        ) {
            proptest::prop_assert_eq!(super::kubernetes_name(&name, max), by_characters(&name, max));
        }
    }
}
