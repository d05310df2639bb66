//! Schema helpers for CRD generation.

use schemars::Schema;
use serde_json::Value;

/// Cuts every `description` in `schema` to its first sentence, so embedded Kubernetes types keep
/// our CRDs small and their descriptions one sentence long.
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

/// The first sentence of `text`, whole: `kubectl explain` shows it, and a sentence cut mid-way
/// says less than none.
fn first_sentence(text: &str) -> String {
    text.find(". ").map_or(text, |i| &text[..=i]).to_owned()
}

#[cfg(test)]
mod tests {
    use super::first_sentence;

    #[test]
    fn keeps_the_first_sentence() {
        assert_eq!(first_sentence("One thing. Another thing."), "One thing.");
        assert_eq!(first_sentence("No full stop"), "No full stop");
        let long = format!("{} end. Next.", "word ".repeat(60));
        assert_eq!(
            first_sentence(&long),
            format!("{} end.", "word ".repeat(60)),
            "never cut mid-way"
        );
    }
}
