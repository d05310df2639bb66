//! JSON patch (RFC 6902, `application/json-patch+json`).

use serde_json::Value;

use super::PatchError;

/// Applies an RFC 6902 JSON patch to `obj`: a list of `add`, `remove`, `replace`, `move`,
/// `copy` and `test` operations, applied in order, all or nothing.
///
/// # Errors
/// [`PatchError::BadRequest`] when `patch` is not a list of valid operations (upstream decodes
/// the patch first and answers 400); [`PatchError::Unprocessable`] when an operation fails,
/// including a `test` whose value differs (upstream answers 422).
pub fn json_patch(obj: &Value, patch: &Value) -> Result<Value, PatchError> {
    let ops: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| PatchError::BadRequest(format!("invalid JSON patch (RFC 6902): {e}")))?;
    let mut out = obj.clone();
    json_patch::patch(&mut out, &ops).map_err(|e| {
        let op = &ops.0[e.operation];
        let what = match e.kind {
            json_patch::PatchErrorKind::TestFailed => {
                let expected = match op {
                    json_patch::PatchOperation::Test(t) => t.value.to_string(),
                    _ => String::new(),
                };
                format!("the value at {} is not {expected}", e.path)
            }
            _ => e.kind.to_string(),
        };
        PatchError::Unprocessable(format!(
            "JSON patch operation {} ({}) failed at path {:?}: {what}",
            e.operation,
            op_name(op),
            e.path.to_string()
        ))
    })?;
    Ok(out)
}

fn op_name(op: &json_patch::PatchOperation) -> &'static str {
    match op {
        json_patch::PatchOperation::Add(_) => "add",
        json_patch::PatchOperation::Remove(_) => "remove",
        json_patch::PatchOperation::Replace(_) => "replace",
        json_patch::PatchOperation::Move(_) => "move",
        json_patch::PatchOperation::Copy(_) => "copy",
        json_patch::PatchOperation::Test(_) => "test",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ok(doc: Value, patch: Value) -> Value {
        json_patch(&doc, &patch).expect("patch applies")
    }

    #[test]
    fn rfc6902_appendix_a_operations() {
        // A.1 add an object member, A.2 add an array element, A.16 add an array value.
        assert_eq!(
            ok(
                json!({"foo": "bar"}),
                json!([{"op": "add", "path": "/baz", "value": "qux"}])
            ),
            json!({"foo": "bar", "baz": "qux"})
        );
        assert_eq!(
            ok(
                json!({"foo": ["bar", "baz"]}),
                json!([{"op": "add", "path": "/foo/1", "value": "qux"}])
            ),
            json!({"foo": ["bar", "qux", "baz"]})
        );
        assert_eq!(
            ok(
                json!({"foo": ["bar"]}),
                json!([{"op": "add", "path": "/foo/-", "value": ["abc"]}])
            ),
            json!({"foo": ["bar", ["abc"]]})
        );
        // A.3 remove an object member, A.4 remove an array element.
        assert_eq!(
            ok(
                json!({"baz": "qux", "foo": "bar"}),
                json!([{"op": "remove", "path": "/baz"}])
            ),
            json!({"foo": "bar"})
        );
        assert_eq!(
            ok(
                json!({"foo": ["bar", "qux", "baz"]}),
                json!([{"op": "remove", "path": "/foo/1"}])
            ),
            json!({"foo": ["bar", "baz"]})
        );
        // A.5 replace, A.6 move a value, A.7 move an array element.
        assert_eq!(
            ok(
                json!({"baz": "qux", "foo": "bar"}),
                json!([{"op": "replace", "path": "/baz", "value": "boo"}])
            ),
            json!({"baz": "boo", "foo": "bar"})
        );
        assert_eq!(
            ok(
                json!({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}}),
                json!([{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}])
            ),
            json!({"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}})
        );
        assert_eq!(
            ok(
                json!({"foo": ["all", "grass", "cows", "eat"]}),
                json!([{"op": "move", "from": "/foo/1", "path": "/foo/3"}])
            ),
            json!({"foo": ["all", "cows", "eat", "grass"]})
        );
        // copy, and A.8 a successful test.
        assert_eq!(
            ok(
                json!({"a": {"b": 1}}),
                json!([{"op": "copy", "from": "/a", "path": "/c"}])
            ),
            json!({"a": {"b": 1}, "c": {"b": 1}})
        );
        assert_eq!(
            ok(
                json!({"baz": "qux", "foo": ["a", 2, "c"]}),
                json!([{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}])
            ),
            json!({"baz": "qux", "foo": ["a", 2, "c"]})
        );
        // A.14 `~` escapes.
        assert_eq!(
            ok(
                json!({"/": 9, "~1": 10}),
                json!([{"op": "test", "path": "/~01", "value": 10}, {"op": "add", "path": "/~1x", "value": 1}])
            ),
            json!({"/": 9, "~1": 10, "/x": 1})
        );
    }

    #[test]
    fn failures_are_all_or_nothing() {
        // A.9 a failed test is an error and earlier operations are not applied.
        let doc = json!({"spec": {"replicas": 1}});
        let err = json_patch(&doc, &json!([{"op": "replace", "path": "/spec/replicas", "value": 5}, {"op": "test", "path": "/spec/replicas", "value": 3}]))
            .expect_err("test fails");
        assert_eq!(err.http_status(), 422);
        assert!(
            err.to_string().contains("operation 1 (test)") && err.to_string().contains("is not 3"),
            "{err}"
        );
        // A.12 adding to a nonexistent target, removing what is not there.
        assert_eq!(
            json_patch(&doc, &json!([{"op": "add", "path": "/a/b", "value": 1}]))
                .expect_err("no parent")
                .http_status(),
            422
        );
        assert_eq!(
            json_patch(&doc, &json!([{"op": "remove", "path": "/nope"}]))
                .expect_err("nothing to remove")
                .http_status(),
            422
        );
        // Not a patch at all.
        assert_eq!(
            json_patch(&doc, &json!({"op": "add"}))
                .expect_err("not a list")
                .http_status(),
            400
        );
        assert_eq!(
            json_patch(&doc, &json!([{"op": "frob", "path": "/a"}]))
                .expect_err("bad op")
                .http_status(),
            400
        );
    }
}
