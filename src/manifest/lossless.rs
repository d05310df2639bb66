//! Comparing what a user wrote with what our types kept, so nothing is dropped silently.
//!
//! After a document is typed and serialised back, every field that was written (and not null)
//! but is no longer there was unknown to our types, and every value that changed was coerced.
//! Kubernetes treats `null` as "absent", and so do we.

use serde_json::Value;

use super::path::FieldPath;

/// A way in which the typed value differs from the written one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// A field that was written is gone (unknown to our types).
    Dropped(FieldPath),
    /// A value is different (for example a number that became a string).
    Changed(FieldPath),
    /// A field appeared that was not written (a default filled in).
    Added(FieldPath),
}

/// Every difference between `written` and `kept`, with paths relative to both roots.
#[must_use]
pub fn differences(written: &Value, kept: &Value) -> Vec<Difference> {
    let mut out = Vec::new();
    walk(&FieldPath::root(), written, kept, &mut out);
    out
}

fn walk(path: &FieldPath, written: &Value, kept: &Value, out: &mut Vec<Difference>) {
    match (written, kept) {
        (Value::Object(w), Value::Object(k)) => {
            for (key, wv) in w {
                match k.get(key) {
                    Some(kv) => walk(&path.key(key), wv, kv, out),
                    None if wv.is_null() => {}
                    None => out.push(Difference::Dropped(path.key(key))),
                }
            }
            for (key, kv) in k {
                if !kv.is_null() && w.get(key).is_none_or(Value::is_null) {
                    out.push(Difference::Added(path.key(key)));
                }
            }
        }
        (Value::Array(w), Value::Array(k)) if w.len() == k.len() => {
            for (i, (wv, kv)) in w.iter().zip(k).enumerate() {
                walk(&path.index(i), wv, kv, out);
            }
        }
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => {}
        (w, k) if w == k => {}
        _ => out.push(Difference::Changed(path.clone())),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reports_dropped_changed_and_added_fields_but_not_nulls() {
        let written = json!({"a": 1, "b": {"c": [1, {"d": 2, "x": 3}]}, "n": null, "s": "1"});
        let kept = json!({"a": 1.0, "b": {"c": [1, {"d": 2}]}, "s": 1, "new": true});
        let diffs = differences(&written, &kept);
        let show: Vec<String> = diffs
            .iter()
            .map(|d| match d {
                Difference::Dropped(p) => format!("dropped {p}"),
                Difference::Changed(p) => format!("changed {p}"),
                Difference::Added(p) => format!("added {p}"),
            })
            .collect();
        assert_eq!(show, vec!["dropped b.c[1].x", "changed s", "added new"]);
    }

    #[test]
    fn equal_values_have_no_differences() {
        let v = json!({"a": [1, 2, {"b": "c"}], "d": {}});
        assert!(differences(&v, &v).is_empty());
    }
}
