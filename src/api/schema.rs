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
    let sentence = text.find(". ").map_or(text, |i| &text[..=i]);
    if sentence.chars().count() <= 200 {
        return sentence.to_owned();
    }
    let cut: String = sentence.chars().take(197).collect();
    let cut = cut.rfind(' ').map_or(cut.as_str(), |i| &cut[..i]);
    format!("{cut}...")
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
