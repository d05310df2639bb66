//! Skipping applies that would change nothing, so that a resync of unchanged objects writes
//! nothing (pure).
//!
//! A server-side apply of an unchanged object changes nothing in the cluster but is still a write
//! request: with a thousand Services resynced every few minutes, that is load on the API server
//! and on every watcher of those objects. So each applied object carries [`APPLIED_HASH`], a
//! hash of what was applied, and an apply is skipped when the live object
//!
//! 1. carries the hash of the object about to be applied: nothing the operator wants changed,
//!    including fields it stopped setting (which server-side apply would remove); and
//! 2. still holds every field of that object ([`contains`]): nobody else changed them since
//!    (the API server's defaults add fields, which is fine; an edit of one of ours is not, and is
//!    undone by applying again).

use serde::Serialize;
use serde_json::Value;

/// Annotation: hash of the object as the operator last applied it.
pub const APPLIED_HASH: &str = "ecsbridge.io/applied-hash";

/// FNV-1a, 64 bits, as 16 hex digits (stable across versions and platforms).
fn fnv(bytes: &[u8]) -> String {
    format!("{:016x}", crate::fnv::hash(bytes.iter().copied()))
}

/// `obj` as JSON without its [`APPLIED_HASH`] annotation.
fn unstamped(obj: &impl Serialize) -> Value {
    let mut v = serde_json::to_value(obj).unwrap_or(Value::Null);
    if let Some(a) = v
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        a.remove(APPLIED_HASH);
        if a.is_empty() {
            v["metadata"].as_object_mut().map(|m| m.remove("annotations"));
        }
    }
    v
}

/// The hash of `obj` (its [`APPLIED_HASH`] annotation aside).
#[must_use]
pub fn hash(obj: &impl Serialize) -> String {
    fnv(&serde_json::to_vec(&unstamped(obj)).unwrap_or_default())
}

/// Puts [`APPLIED_HASH`] on the object `meta` belongs to, whose hash is `hash`.
pub fn stamp(meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, hash: String) {
    meta.annotations
        .get_or_insert_with(Default::default)
        .insert(APPLIED_HASH.to_owned(), hash);
}

/// Whether `have` holds everything `want` says: every field of an object (an empty object, an
/// empty list or `null` in `want` also match an absent or `null` field), lists item by item with the same
/// length, numbers by value, other scalars equal.
#[must_use]
pub fn contains(want: &Value, have: Option<&Value>) -> bool {
    // A `null` field is an absent one (as the API server reads it).
    let have = have.filter(|h| !h.is_null());
    match (want, have) {
        (Value::Null, None) => true,
        (Value::Object(w), None) => w.is_empty(),
        (Value::Array(w), None) => w.is_empty(),
        (Value::Object(w), Some(Value::Object(h))) => w.iter().all(|(k, v)| contains(v, h.get(k))),
        (Value::Array(w), Some(Value::Array(h))) => {
            w.len() == h.len() && w.iter().zip(h).all(|(w, h)| contains(w, Some(h)))
        }
        (Value::Number(w), Some(Value::Number(h))) => w.as_f64() == h.as_f64(),
        (w, Some(h)) => w == h,
        (_, None) => false,
    }
}

/// Whether applying `desired` (stamped with its hash) over `live` would change nothing.
#[must_use]
pub fn is_current(desired: &impl Serialize, live: &impl Serialize) -> bool {
    let want = serde_json::to_value(desired).unwrap_or(Value::Null);
    let have = serde_json::to_value(live).unwrap_or(Value::Null);
    let stamp = |v: &Value| {
        v.pointer("/metadata/annotations")
            .and_then(|a| a.get(APPLIED_HASH))
            .cloned()
    };
    stamp(&want).is_some() && stamp(&want) == stamp(&have) && contains(&want, Some(&have))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn stamped(v: Value) -> Value {
        let h = hash(&v);
        let mut v = v;
        v["metadata"]["annotations"][APPLIED_HASH] = json!(h);
        v
    }

    #[test]
    fn defaults_added_by_the_api_server_are_fine() {
        let desired = stamped(json!({
            "metadata": {"name": "web", "labels": {"a": "1"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}}
        }));
        let mut live = desired.clone();
        live["metadata"]["uid"] = json!("u");
        live["metadata"]["labels"]["other"] = json!("x");
        live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!("Always");
        live["spec"]["strategy"] = json!({"type": "RollingUpdate"});
        live["status"] = json!({"replicas": 2});
        assert!(is_current(&desired, &live));
    }

    #[test]
    fn an_edit_of_our_fields_or_a_changed_wish_is_not() {
        let desired = stamped(json!({"metadata": {"name": "web"}, "spec": {"replicas": 2}}));
        let mut edited = desired.clone();
        edited["spec"]["replicas"] = json!(5);
        assert!(!is_current(&desired, &edited), "someone scaled it");
        // The operator dropped a field: the hash differs, though what remains is all there.
        let old =
            stamped(json!({"metadata": {"name": "web", "annotations": {"x": "1"}}, "spec": {"replicas": 2}}));
        assert!(!is_current(&desired, &old));
        // Never applied by the operator (no hash).
        let unstamped = json!({"metadata": {"name": "web"}, "spec": {"replicas": 2}});
        assert!(!is_current(&desired, &unstamped));
        // A list item removed or added.
        let a = stamped(json!({"spec": {"ports": [{"port": 80}]}}));
        let mut b = a.clone();
        b["spec"]["ports"] = json!([{"port": 80}, {"port": 81}]);
        assert!(!is_current(&a, &b));
    }

    #[test]
    fn the_hash_ignores_its_own_annotation() {
        let v = json!({"metadata": {"name": "web"}});
        assert_eq!(hash(&v), hash(&stamped(v.clone())));
        assert_ne!(hash(&v), hash(&json!({"metadata": {"name": "api"}})));
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            (-5i64..5).prop_map(Value::from),
            "[a-c]{0,2}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                proptest::collection::btree_map("[a-c]", inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// `a` with the fields of `b` it lacks (what API server defaulting does: add, never change).
    fn extend(a: &Value, b: &Value) -> Value {
        match (a, b) {
            (Value::Object(a), Value::Object(b)) => {
                let mut out = a.clone();
                for (k, v) in b {
                    let merged = out.get(k).map_or_else(|| v.clone(), |mine| extend(mine, v));
                    out.insert(k.clone(), merged);
                }
                Value::Object(out)
            }
            (Value::Array(a), Value::Array(b)) => Value::Array(
                a.iter()
                    .enumerate()
                    .map(|(i, x)| b.get(i).map_or_else(|| x.clone(), |y| extend(x, y)))
                    .collect(),
            ),
            (a, _) => a.clone(),
        }
    }

    proptest! {
        /// Every value holds itself, and so does anything that only adds fields to it.
        #[test]
        fn containment_allows_added_fields_only(a in json_value(), b in json_value()) {
            prop_assert!(contains(&a, Some(&a)));
            prop_assert!(contains(&a, Some(&extend(&a, &b))));
            // And a changed scalar is seen.
            if let Value::Object(m) = &a
                && let Some((k, Value::Bool(x))) = m.iter().next()
            {
                let mut changed = a.clone();
                changed[k] = Value::Bool(!x);
                prop_assert!(!contains(&a, Some(&changed)));
            }
        }
    }
}
