//! Schema helpers for CRD generation.

use schemars::Schema;
use serde_json::Value;

/// Cuts every `description` in `schema` to its first sentence (at most 200 characters), so
/// embedded Kubernetes types keep our CRDs small and their descriptions one sentence long.
#[must_use]
pub fn with_short_descriptions(schema: Schema) -> Schema {
    let mut value = schema.to_value();
    shorten(&mut value);
    Schema::try_from(value).unwrap_or_default()
}

fn shorten(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if k == "description"
                    && let Value::String(s) = v
                {
                    *s = first_sentence(s);
                } else {
                    shorten(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(shorten),
        _ => {}
    }
}

fn first_sentence(text: &str) -> String {
    let end = text.find(". ").map_or(text.len(), |i| i + 1);
    let mut s: String = text[..end].chars().take(200).collect();
    if s.len() < end && s.len() >= 200 {
        s.truncate(s.rfind(' ').unwrap_or(197));
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::first_sentence;

    #[test]
    fn keeps_the_first_sentence() {
        assert_eq!(first_sentence("One thing. Another thing."), "One thing.");
        assert_eq!(first_sentence("No full stop"), "No full stop");
        let long = format!("{} end.", "word ".repeat(60));
        assert!(first_sentence(&long).len() <= 200);
    }
}
