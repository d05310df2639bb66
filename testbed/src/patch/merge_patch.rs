//! JSON merge patch (RFC 7386, `application/merge-patch+json`).

use serde_json::{Map, Value};

/// Applies an RFC 7386 merge patch: when `patch` is an object, its members are merged into
/// `obj` recursively and a `null` member deletes the target member; any other patch value
/// (lists included) replaces the target.
#[must_use]
pub fn merge_patch(obj: &Value, patch: &Value) -> Value {
    let Value::Object(p) = patch else {
        return patch.clone();
    };
    let mut out = match obj {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    for (k, v) in p {
        if v.is_null() {
            out.remove(k);
        } else {
            let merged = merge_patch(out.get(k).unwrap_or(&Value::Null), v);
            out.insert(k.clone(), merged);
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rfc7386_appendix_a() {
        // Every row of RFC 7386 Appendix A: (original, patch, result).
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "b"}), json!({"b": "c"}), json!({"a": "b", "b": "c"})),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (json!({"a": "b", "b": "c"}), json!({"a": null}), json!({"b": "c"})),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (json!({"a": [{"b": "c"}]}), json!({"a": [1]}), json!({"a": [1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a": "b"}), json!(["c"]), json!(["c"])),
            (json!({"a": "foo"}), json!(null), json!(null)),
            (json!({"a": "foo"}), json!("bar"), json!("bar")),
            (json!({"e": null}), json!({"a": 1}), json!({"e": null, "a": 1})),
            (json!([1, 2]), json!({"a": "b", "c": null}), json!({"a": "b"})),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (original, patch, expected) in cases {
            assert_eq!(merge_patch(&original, &patch), expected, "{original} + {patch}");
        }
    }

    #[test]
    fn kubectl_patch_merge_replaces_lists() {
        // update-api-object-kubectl-patch: with a JSON merge patch the containers list is
        // replaced, not merged.
        let deploy = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}, "replicas": 1}});
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "y"}]}}}});
        assert_eq!(
            merge_patch(&deploy, &patch),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "y"}]}}, "replicas": 1}})
        );
    }
}
