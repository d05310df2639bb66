//! Kubernetes object names from ECS names.

/// Turns an ECS name (`[A-Za-z0-9_-]`, up to 255 characters) into a valid Kubernetes object name
/// (an RFC 1123 subdomain: lower case alphanumerics, `-` and `.`, at most 253 characters,
/// starting and ending with an alphanumeric). Returns `None` when nothing usable is left.
#[must_use]
pub fn object_name(ecs_name: &str) -> Option<String> {
    let mut out = String::with_capacity(ecs_name.len());
    for c in ecs_name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() || c == '.' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed: String = out
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .chars()
        .take(253)
        .collect();
    let trimmed = trimmed
        .trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned();
    (!trimmed.is_empty()).then_some(trimmed)
}

#[cfg(test)]
mod tests {
    use super::object_name;

    #[test]
    fn makes_valid_names() {
        assert_eq!(object_name("web").as_deref(), Some("web"));
        assert_eq!(object_name("Web_App-2").as_deref(), Some("web-app-2"));
        assert_eq!(object_name("__x__").as_deref(), Some("x"));
        assert_eq!(
            object_name("{{ must_env `SERVICE` }}").as_deref(),
            Some("must-env-service")
        );
        assert_eq!(object_name("___"), None);
        assert_eq!(object_name(&"a".repeat(300)).map(|n| n.len()), Some(253));
    }
}
