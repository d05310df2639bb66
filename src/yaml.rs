//! YAML as Kubernetes tools read it (pure): what `render`, `import` and `crdgen` print.
//!
//! `serde_yaml_ng` writes YAML 1.2, where `on`, `off`, `yes`, `no`, `y` and `n` are strings and
//! need no quotes. `kubectl`, Helm and Argo CD read YAML with Go's YAML 1.1 rules, where those
//! plain words are booleans: a CRD enum value `OFF` (EventBridge Scheduler's
//! `FlexibleTimeWindow.Mode`) becomes `false`, an environment value `on` a boolean the schema
//! refuses. [`to_string`] quotes every plain key or value that YAML 1.1 would read as other than
//! a string — booleans, numbers with `_` or in base 60, binary numbers, dates — (block scalars are
//! left alone: their lines are text), so both readers see the same strings.

use serde::Serialize;

/// The plain scalars YAML 1.1 reads as booleans that YAML 1.2 reads as strings (`true`,
/// `false`, `null` and numbers are quoted by the serializer already, as YAML 1.2 reads them too).
const YAML11_BOOLEANS: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
];

/// `value` as YAML that YAML 1.1 and 1.2 readers read alike.
///
/// # Errors
/// What the serializer refuses (a map key that is not a string, ...).
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_yaml_ng::Error> {
    Ok(quote_yaml11_booleans(&serde_yaml_ng::to_string(value)?))
}

/// Whether YAML 1.1 reads the plain scalar `word` as other than a string where YAML 1.2 reads a
/// string: its booleans, numbers with `_` or base 60 (`1:20`), binary (`0b101`), dates.
fn yaml11_not_a_string(word: &str) -> bool {
    if YAML11_BOOLEANS.contains(&word) {
        return true;
    }
    let unsigned = word.strip_prefix(['-', '+']).unwrap_or(word);
    let numeric = unsigned.starts_with(|c: char| c.is_ascii_digit())
        && unsigned
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '_' | ':' | '.' | 'e' | 'E' | '+' | '-'))
        && unsigned.contains(['_', ':']);
    let binary = unsigned
        .strip_prefix("0b")
        .is_some_and(|b| !b.is_empty() && b.chars().all(|c| matches!(c, '0' | '1' | '_')));
    let bytes = word.as_bytes();
    let date = bytes.len() >= 8
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[5].is_ascii_digit();
    numeric || binary || date
}

fn quoted(word: &str) -> String {
    if yaml11_not_a_string(word) {
        format!("'{word}'")
    } else {
        word.to_owned()
    }
}

/// The length of the quoted scalar `rest` starts with (its quotes included), when it closes.
fn quoted_len(rest: &str) -> Option<usize> {
    let mut chars = rest.char_indices();
    let (_, quote) = chars.next()?;
    let mut escaped = false;
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            ('"', '\\') if !escaped => {
                escaped = true;
                continue;
            }
            ('"', '"') if !escaped => return Some(i + 1),
            ('\'', '\'') => {
                // ('' is an escaped quote inside single quotes.)
                if rest[i + 1..].starts_with('\'') {
                    chars.next();
                } else {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        escaped = false;
    }
    None
}

/// One line with its ambiguous plain key and value quoted.
fn fix_line(line: &str) -> String {
    let indent = line.len() - line.trim_start().len();
    let (head, mut rest) = line.split_at(indent);
    let mut out = head.to_owned();
    // Sequence entries: `- `, possibly nested (`- - x`).
    while let Some(r) = rest.strip_prefix("- ") {
        out.push_str("- ");
        rest = r;
    }
    if rest == "-" {
        out.push('-');
        return out;
    }
    if rest.starts_with(['\'', '"']) {
        // A quoted key (or value): its value, if any, may still need quotes.
        match quoted_len(rest).map(|n| rest.split_at(n)) {
            Some((key, value)) if value.starts_with(": ") => {
                out.push_str(key);
                out.push_str(": ");
                out.push_str(&quoted(&value[2..]));
            }
            _ => out.push_str(rest),
        }
        return out;
    }
    if let Some((key, value)) = rest.split_once(": ") {
        out.push_str(&quoted(key));
        out.push_str(": ");
        out.push_str(&quoted(value));
    } else if let Some(key) = rest.strip_suffix(':') {
        out.push_str(&quoted(key));
        out.push(':');
    } else {
        out.push_str(&quoted(rest));
    }
    out
}

/// When `line` opens a block scalar (`key: |-`, `'on': >`, `- |2`): the column its content
/// is indented beyond — the key's (its sibling keys are at that column too), or the dash's.
fn block_opened(line: &str) -> Option<usize> {
    let indent = line.len() - line.trim_start().len();
    let trimmed = line.trim();
    let (before, token) = trimmed.rsplit_once(' ').unwrap_or(("", trimmed));
    let mut chars = token.chars();
    let indicator = matches!(chars.next(), Some('|' | '>'))
        && chars.clone().count() <= 2
        && chars.all(|c| c.is_ascii_digit() || c == '-' || c == '+');
    if !indicator || !(before.is_empty() || before.ends_with(':') || before.ends_with('-')) {
        return None;
    }
    let mut rest = trimmed;
    let mut dashes = 0;
    while let Some(r) = rest.strip_prefix("- ") {
        rest = r;
        dashes += 1;
    }
    Some(if before.ends_with(':') {
        indent + 2 * dashes
    } else {
        indent + 2 * dashes.saturating_sub(1)
    })
}

/// `text` (YAML as `serde_yaml_ng` writes it) with every plain key and value that YAML 1.1
/// reads as other than a string quoted.
#[must_use]
pub fn quote_yaml11_booleans(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    // The column the block scalar being read is indented beyond.
    let mut block: Option<usize> = None;
    for line in text.split_inclusive('\n') {
        let content = line.strip_suffix('\n').unwrap_or(line);
        let indent = content.len() - content.trim_start().len();
        if let Some(opened) = block
            && (content.trim().is_empty() || indent > opened)
        {
            out.push_str(line);
            continue;
        }
        let fixed = fix_line(content);
        block = block_opened(&fixed);
        out.push_str(&fixed);
        if line.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn yaml11_booleans_are_quoted_as_keys_values_and_items() {
        let v = json!({
            "enum": ["OFF", "FLEXIBLE"],
            "env": [{"name": "DEBUG", "value": "on"}, {"name": "y", "value": "no"}],
            "on": "yes",
            "text": "line one\noff\nline three",
            "nested": [["N", "x"]],
        });
        let text = to_string(&v).expect("yaml");
        for quoted in [
            "- 'OFF'",
            "value: 'on'",
            "name: 'y'",
            "value: 'no'",
            "'on': 'yes'",
            "- - 'N'",
        ] {
            assert!(text.contains(quoted), "{quoted} in\n{text}");
        }
        // A block scalar's lines are text, not values.
        assert!(text.contains("\n  off\n"), "{text}");
        let back: Value = serde_yaml_ng::from_str(&text).expect("parses");
        assert_eq!(back, v);
    }

    fn word() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::sample::select(YAML11_BOOLEANS.to_vec()).prop_map(str::to_owned),
            "[a-zA-Z0-9 :#'\"|>-]{0,12}",
            proptest::sample::select(vec!["|", "|-", ">", "- x", "a: b", "true", "1.5", ""])
                .prop_map(str::to_owned),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            word().prop_map(Value::String),
            "[a-z\\n ]{0,20}".prop_map(Value::String),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
        ];
        leaf.prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(word(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// The law: quoting changes no value (YAML 1.2 reads back what was written).
        #[test]
        fn quoting_changes_no_value(v in value()) {
            let text = to_string(&v).expect("yaml");
            let back: Value = serde_yaml_ng::from_str(&text).expect("parses");
            prop_assert_eq!(back, v, "{}", text);
        }
    }
}
