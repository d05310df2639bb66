//! Kubernetes' unknown-field pruning, re-implemented over `serde_json::Value`.
//!
//! Mirrors the API server's algorithm (`k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning`,
//! described at
//! <https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#field-pruning>):
//!
//! * an object key that is not in `properties` is removed, unless the schema has
//!   `additionalProperties` (then the value is pruned with that schema) or
//!   `x-kubernetes-preserve-unknown-fields: true` (then unknown keys are kept, known ones recursed into);
//! * array items are pruned with `items`;
//! * scalars are never touched (so `x-kubernetes-int-or-string` values are kept as written);
//! * at the resource root (and in `x-kubernetes-embedded-resource` objects) `apiVersion`, `kind` and
//!   `metadata` are always kept.
//!
//! The schema must be structural (see `tests/crd_schema.rs`); junctors (`anyOf`, ...) are ignored,
//! as the API server ignores them for pruning.

use serde_json::{Map, Value};

/// Prunes a whole custom resource (`apiVersion`, `kind`, `metadata`, `spec`, `status`) in place with
/// the CRD's `openAPIV3Schema`, as the API server does on create and update.
///
/// Returns the paths of the removed fields (`spec.containerDefinitions[0].foo`), sorted.
pub fn prune(value: &mut Value, schema: &Value) -> Vec<String> {
    let mut removed = Vec::new();
    prune_node(value, Some(schema), "", true, &mut removed);
    removed.sort();
    removed
}

/// Prunes a fragment (for example a bare `spec`) with the schema of that fragment: like [`prune`]
/// but without the resource-root exception for `apiVersion`, `kind` and `metadata`.
pub fn prune_fragment(value: &mut Value, schema: &Value) -> Vec<String> {
    let mut removed = Vec::new();
    prune_node(value, Some(schema), "", false, &mut removed);
    removed.sort();
    removed
}

const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

fn flag(schema: Option<&Value>, name: &str) -> bool {
    schema.and_then(|s| s.get(name)).and_then(Value::as_bool) == Some(true)
}

/// The schema for values of an object's unknown keys: `Some(Some(schema))` for a schema,
/// `Some(None)` for `additionalProperties: true` (values kept, nested objects emptied, as the API
/// server does with a nil schema), `None` when unknown keys are not allowed.
fn additional(schema: &Value) -> Option<Option<&Value>> {
    match schema.get("additionalProperties") {
        Some(Value::Bool(true)) => Some(None),
        Some(s @ Value::Object(_)) => Some(Some(s)),
        _ => None,
    }
}

fn property<'a>(schema: &'a Value, key: &str) -> Option<&'a Value> {
    schema.get("properties").and_then(|p| p.get(key))
}

fn prune_node(value: &mut Value, schema: Option<&Value>, path: &str, root: bool, removed: &mut Vec<String>) {
    if flag(schema, "x-kubernetes-preserve-unknown-fields") {
        skip_prune(value, schema, path, removed);
        return;
    }
    match value {
        Value::Object(map) => {
            let Some(schema) = schema else {
                remove_all(map, path, removed);
                return;
            };
            let keep_meta = root || flag(Some(schema), "x-kubernetes-embedded-resource");
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let key_path = child_path(path, &key);
                if let Some(prop) = property(schema, &key) {
                    if let Some(v) = map.get_mut(&key) {
                        prune_node(v, Some(prop), &key_path, false, removed);
                    }
                } else if let Some(extra) = additional(schema) {
                    if let Some(v) = map.get_mut(&key) {
                        prune_node(v, extra, &key_path, false, removed);
                    }
                } else if !(keep_meta && META_FIELDS.contains(&key.as_str())) {
                    map.remove(&key);
                    removed.push(key_path);
                }
            }
        }
        Value::Array(items) => {
            let item_schema = schema.and_then(|s| s.get("items"));
            for (i, v) in items.iter_mut().enumerate() {
                prune_node(v, item_schema, &format!("{path}[{i}]"), false, removed);
            }
        }
        // Scalars (including every int-or-string value) are never pruned.
        _ => {}
    }
}

/// Under `x-kubernetes-preserve-unknown-fields: true`: unknown keys stay, known ones are pruned.
fn skip_prune(value: &mut Value, schema: Option<&Value>, path: &str, removed: &mut Vec<String>) {
    let Some(schema) = schema else { return };
    match value {
        Value::Object(map) => {
            let embedded = flag(Some(schema), "x-kubernetes-embedded-resource");
            for (key, v) in map.iter_mut() {
                if embedded && META_FIELDS.contains(&key.as_str()) {
                    continue;
                }
                let key_path = child_path(path, key);
                if let Some(prop) = property(schema, key) {
                    prune_node(v, Some(prop), &key_path, false, removed);
                } else if let Some(extra) = additional(schema) {
                    prune_node(v, extra, &key_path, false, removed);
                }
            }
        }
        Value::Array(items) => {
            let item_schema = schema.get("items");
            for (i, v) in items.iter_mut().enumerate() {
                skip_prune(v, item_schema, &format!("{path}[{i}]"), removed);
            }
        }
        _ => {}
    }
}

fn remove_all(map: &mut Map<String, Value>, path: &str, removed: &mut Vec<String>) {
    removed.extend(map.keys().map(|k| child_path(path, k)));
    map.clear();
}
