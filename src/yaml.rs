//! YAML as Kubernetes tools read it (pure): what `render`, `import` and `crdgen` print.
//!
//! `serde_yaml_ng` writes YAML 1.2, where `on`, `off`, `yes`, `no`, `y` and `n` are strings and
//! need no quotes. `kubectl`, Helm and Argo CD read YAML with Go's YAML 1.1 rules, where those
//! plain words are booleans: a CRD enum value `OFF` (EventBridge Scheduler's
//! `FlexibleTimeWindow.Mode`) becomes `false`, an environment value `on` a boolean the schema
//! refuses. [`to_string`] quotes every plain key or value that YAML 1.1 would read as a boolean
//! (block scalars are left alone: their lines are text), so both readers see the same strings.

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

fn quoted(word: &str) -> String {
    if YAML11_BOOLEANS.contains(&word) {
        format!("'{word}'")
    } else {
        word.to_owned()
    }
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
        out.push_str(rest);
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

/// Whether `line` opens a block scalar (`key: |-`, `'on': >`, `- |2`): its last token is a block
/// indicator that follows `: ` or `- `, or is all the line holds.
fn opens_block(line: &str) -> bool {
    let line = line.trim();
    let (before, token) = line.rsplit_once(' ').unwrap_or(("", line));
    let mut chars = token.chars();
    let indicator = matches!(chars.next(), Some('|' | '>'))
        && chars.clone().count() <= 2
        && chars.all(|c| c.is_ascii_digit() || c == '-' || c == '+');
    indicator && (before.is_empty() || before.ends_with(':') || before.ends_with('-'))
}

/// `text` (YAML as `serde_yaml_ng` writes it) with every plain key and value that YAML 1.1
/// reads as a boolean quoted.
#[must_use]
pub fn quote_yaml11_booleans(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    // The indentation of the line that opened the block scalar being read.
    let mut block: Option<usize> = None;
    for line in text.split_inclusive('\n') {
        let content = line.strip_suffix('\n').unwrap_or(line);
        let indent = content.len() - content.trim_start().len();
        if let Some(opened) = block {
            if content.trim().is_empty() || indent > opened {
                out.push_str(line);
                continue;
            }
            block = None;
        }
        let fixed = fix_line(content);
        if opens_block(&fixed) {
            block = Some(indent);
        }
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
