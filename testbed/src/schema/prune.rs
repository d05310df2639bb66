//! Dropping unknown fields the way the API server does on every write.
//!
//! For custom resources this is the pruning of
//! <https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#field-pruning>,
//! written after `k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning/algorithm.go`
//! (v0.33) and the `unstructuredSchemaCoercer` of `customresource_handler.go` that calls it:
//!
//! 1. `metadata` at the root is decoded as `ObjectMeta`: fields `ObjectMeta` does not have are
//!    dropped and reported (`metadata.foo`), `null`s in it are dropped;
//! 2. every other field not in `properties` is dropped (and reported), unless the schema says
//!    `x-kubernetes-preserve-unknown-fields: true`; `items` and `additionalProperties` are recursed
//!    into; an object schema with neither `properties` nor `additionalProperties` keeps nothing;
//!    the root and every `x-kubernetes-embedded-resource: true` object keep `apiVersion`, `kind`
//!    and `metadata`; these paths are reported sorted, as the API server sorts them;
//! 3. `null` values whose schema is not `nullable: true` are removed
//!    (`PruneNonNullableNullsWithoutDefaults`); where the schema has a `default` the null is
//!    replaced by that default instead, which is what the API server's defaulting does right
//!    after (<https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#defaulting-and-nullable>:
//!    "null values for fields that either don't specify the nullable flag, or give it a false
//!    value, will be pruned before defaulting happens. If a default is present, it will be
//!    applied"). Removed nulls are not unknown fields and are not reported;
//! 4. the `metadata` of nested embedded resources is decoded as `ObjectMeta` too
//!    (`spec.template.metadata.foo` is reported).
//!
//! For built-in kinds (schemas carrying `x-kubernetes-group-version-kind`, i.e. the upstream
//! definitions) the same function reproduces what decoding into the Go types does: fields the
//! type does not declare are dropped and reported in document order (`sigs.k8s.io/json` strict
//! decoding paths, at most 100, no duplicates), free-form objects (`RawExtension`, `FieldsV1`:
//! `type: object` with neither `properties` nor `additionalProperties`) keep everything, and a
//! `null` object property is dropped (Go zero value, omitted on re-encoding).
//!
//! Paths look like the API server's: `spec.foo`, `spec.containers[0].foo`, `metadata.labels`.

use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

use super::{Node, Schemas};

/// Definition name of `ObjectMeta` in the upstream definitions.
pub(crate) const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// Fields every resource and embedded resource has whatever its schema says.
const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// The API server stops collecting strict decoding errors at 100 (`sigs.k8s.io/json`).
const MAX_BUILTIN_UNKNOWN: usize = 100;

/// Whose rules a schema follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// An upstream definition (it carries `x-kubernetes-group-version-kind`): Go decoding rules.
    BuiltIn,
    /// A CRD's structural schema: pruning and OpenAPI validation rules.
    Custom,
}

impl Flavor {
    /// Upstream kind definitions carry `x-kubernetes-group-version-kind`; a CRD's
    /// `openAPIV3Schema` never does.
    pub(crate) fn of(schema: Node<'_>) -> Self {
        if schema.raw().get("x-kubernetes-group-version-kind").is_some() {
            Flavor::BuiltIn
        } else {
            Flavor::Custom
        }
    }
}

/// The upstream `ObjectMeta` schema, for the `metadata` of custom resources.
pub(crate) fn object_meta() -> Node<'static> {
    static UPSTREAM: OnceLock<Arc<Schemas>> = OnceLock::new();
    let schemas: &'static Schemas = UPSTREAM.get_or_init(Schemas::upstream);
    schemas
        .definition(OBJECT_META)
        .unwrap_or_else(|| panic!("the upstream definitions have no {OBJECT_META}"))
}

/// `parent.key`, or `key` at the root.
pub(crate) fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[i]`.
pub(crate) fn index_path(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// Drops the fields of `obj` that `schema` does not know, as the API server does on create,
/// update and patch, and returns the paths of the dropped fields (`spec.foo`) in the order the
/// API server reports them (`unknown field "spec.foo"` warnings or strict errors). See the
/// module documentation for the rules and what happens to `null`s (removed, not reported).
pub fn prune(obj: &mut Value, schema: Node<'_>) -> Vec<String> {
    match Flavor::of(schema) {
        Flavor::BuiltIn => {
            let mut out = BuiltInPrune::default();
            out.prune(obj, schema, "");
            out.paths
        }
        Flavor::Custom => prune_custom(obj, schema),
    }
}

/// Steps 1–4 of the module documentation.
fn prune_custom(obj: &mut Value, schema: Node<'_>) -> Vec<String> {
    let mut reported = Vec::new();
    if let Some(meta) = obj.get_mut("metadata") {
        prune_object_meta(meta, "metadata", &mut reported);
    }
    let mut pruned = Vec::new();
    prune_structural(obj, Some(schema), true, "", &mut pruned);
    pruned.sort();
    reported.extend(pruned);
    prune_nulls(obj, Some(schema));
    coerce_embedded_metadata(obj, schema, "", &mut reported);
    reported
}

/// `metadata` decoded as `ObjectMeta`: unknown fields and `null`s dropped.
fn prune_object_meta(meta: &mut Value, path: &str, out: &mut Vec<String>) {
    let mut builtin = BuiltInPrune {
        drop_all_nulls: true,
        ..BuiltInPrune::default()
    };
    builtin.prune(meta, object_meta(), path);
    out.extend(builtin.paths);
}

/// `pruning.prune`: `embedded` is true at the root (which counts as an embedded resource) and
/// for `x-kubernetes-embedded-resource` schemas.
fn prune_structural(x: &mut Value, s: Option<Node<'_>>, root: bool, path: &str, out: &mut Vec<String>) {
    if let Some(s) = s
        && s.preserves_unknown_fields()
    {
        skip_prune(x, Some(s), root, path, out);
        return;
    }
    match x {
        Value::Object(map) => {
            let Some(s) = s else {
                for k in map.keys() {
                    out.push(child_path(path, k));
                }
                map.clear();
                return;
            };
            let embedded = root || s.embedded_resource();
            let mut unknown = Vec::new();
            for (k, v) in map.iter_mut() {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(prop) = s.property(k) {
                    prune_structural(v, Some(prop), false, &child_path(path, k), out);
                } else if let Some(additional) = additional(s) {
                    prune_structural(v, additional, false, &child_path(path, k), out);
                } else {
                    unknown.push(k.clone());
                }
            }
            for k in unknown {
                out.push(child_path(path, &k));
                map.remove(&k);
            }
        }
        Value::Array(items) => {
            let item_schema = s.and_then(|s| s.items());
            for (i, v) in items.iter_mut().enumerate() {
                prune_structural(v, item_schema, false, &index_path(path, i), out);
            }
        }
        _ => {}
    }
}

/// `pruning.skipPrune`: under `x-kubernetes-preserve-unknown-fields` unknown fields stay, known
/// ones are still pruned inside.
fn skip_prune(x: &mut Value, s: Option<Node<'_>>, root: bool, path: &str, out: &mut Vec<String>) {
    let Some(s) = s else { return };
    match x {
        Value::Object(map) => {
            let embedded = root || s.embedded_resource();
            for (k, v) in map.iter_mut() {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(prop) = s.property(k) {
                    prune_structural(v, Some(prop), false, &child_path(path, k), out);
                } else if let Some(additional) = additional(s) {
                    prune_structural(v, additional, false, &child_path(path, k), out);
                }
            }
        }
        Value::Array(items) => {
            let item_schema = s.items();
            for (i, v) in items.iter_mut().enumerate() {
                skip_prune(v, item_schema, false, &index_path(path, i), out);
            }
        }
        _ => {}
    }
}

/// `additionalProperties`: `Some(Some(schema))`, `Some(None)` for `additionalProperties: true`
/// (a value without a schema: nested objects lose every field, as in the API server), `None`
/// when absent or `false`.
fn additional(s: Node<'_>) -> Option<Option<Node<'_>>> {
    match s.raw().get("additionalProperties") {
        Some(Value::Bool(true)) => Some(None),
        Some(Value::Object(_)) => Some(s.additional_properties()),
        _ => None,
    }
}

/// Whether the schema says `nullable: true`.
pub(crate) fn nullable(s: Node<'_>) -> bool {
    s.raw().get("nullable").and_then(Value::as_bool) == Some(true)
}

/// `defaulting.PruneNonNullableNullsWithoutDefaults`, plus the defaulting of non-nullable nulls
/// that have a default.
fn prune_nulls(x: &mut Value, s: Option<Node<'_>>) {
    match x {
        Value::Object(map) => {
            let mut remove = Vec::new();
            for (k, v) in map.iter_mut() {
                let field_schema = s.and_then(|s| s.property(k).or_else(|| s.additional_properties()));
                match field_schema {
                    Some(fs) if v.is_null() && !nullable(fs) => match fs.raw().get("default") {
                        Some(default) => *v = default.clone(),
                        None => remove.push(k.clone()),
                    },
                    _ => prune_nulls(v, field_schema),
                }
            }
            for k in remove {
                map.remove(&k);
            }
        }
        Value::Array(items) => {
            let item_schema = s.and_then(|s| s.items());
            for v in items {
                prune_nulls(v, item_schema);
            }
        }
        _ => {}
    }
}

/// `objectmeta.Coerce` below the root: the `metadata` of embedded resources is `ObjectMeta`.
fn coerce_embedded_metadata(x: &mut Value, s: Node<'_>, path: &str, out: &mut Vec<String>) {
    match x {
        Value::Object(map) => {
            if !path.is_empty()
                && s.embedded_resource()
                && let Some(meta) = map.get_mut("metadata")
            {
                prune_object_meta(meta, &child_path(path, "metadata"), out);
            }
            for (k, v) in map.iter_mut() {
                if path.is_empty() && k == "metadata" {
                    continue;
                }
                if let Some(fs) = s.property(k).or_else(|| s.additional_properties()) {
                    coerce_embedded_metadata(v, fs, &child_path(path, k), out);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = s.items() {
                for (i, v) in items.iter_mut().enumerate() {
                    coerce_embedded_metadata(v, item_schema, &index_path(path, i), out);
                }
            }
        }
        _ => {}
    }
}

/// Go decoding of a built-in kind: unknown fields dropped and reported in document order.
#[derive(Default)]
struct BuiltInPrune {
    paths: Vec<String>,
    /// Inside `ObjectMeta` of a custom resource every `null` goes (it is re-encoded from Go).
    drop_all_nulls: bool,
}

impl BuiltInPrune {
    fn report(&mut self, path: String) {
        if self.paths.len() < MAX_BUILTIN_UNKNOWN && !self.paths.contains(&path) {
            self.paths.push(path);
        }
    }

    fn prune(&mut self, x: &mut Value, s: Node<'_>, path: &str) {
        match x {
            Value::Object(map) => {
                if s.has_properties() {
                    self.prune_struct(map, s, path);
                } else if let Some(values) = s.additional_properties() {
                    for (k, v) in map.iter_mut() {
                        self.prune(v, values, &child_path(path, k));
                    }
                }
                // Neither: a free-form object (RawExtension, FieldsV1, …) keeps everything.
            }
            Value::Array(items) => {
                if let Some(item_schema) = s.items() {
                    for (i, v) in items.iter_mut().enumerate() {
                        self.prune(v, item_schema, &index_path(path, i));
                    }
                }
            }
            _ => {}
        }
    }

    fn prune_struct(&mut self, map: &mut Map<String, Value>, s: Node<'_>, path: &str) {
        let mut remove = Vec::new();
        for (k, v) in map.iter_mut() {
            match s.property(k) {
                Some(_) if v.is_null() => remove.push(k.clone()),
                Some(prop) => self.prune(v, prop, &child_path(path, k)),
                None if s.preserves_unknown_fields() => {}
                None => {
                    self.report(child_path(path, k));
                    remove.push(k.clone());
                }
            }
        }
        for k in remove {
            map.remove(&k);
        }
        if self.drop_all_nulls {
            map.retain(|_, v| !v.is_null());
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::Gvk;

    fn custom(schema: Value) -> Schemas {
        let mut schemas = Schemas::default();
        schemas.add_custom(&Gvk::new("example.com", "v1", "Widget"), schema);
        schemas
    }

    fn widget(schemas: &Schemas) -> Node<'_> {
        schemas
            .kind(&Gvk::new("example.com", "v1", "Widget"))
            .expect("widget schema")
    }

    #[test]
    fn custom_resources_lose_unknown_fields_but_keep_type_and_object_meta() {
        let schemas = custom(json!({
            "type": "object",
            "properties": {
                "spec": {"type": "object", "properties": {
                    "replicas": {"type": "integer"},
                    "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                             "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}}},
                    "empty": {"type": "object"}
                }}
            }
        }));
        let mut obj = json!({
            "apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w", "bogus": 1, "labels": null},
            "spec": {
                "replicas": 2, "extra": true,
                "items": [{"name": "a", "x": 1}, {"name": "b"}],
                "labels": {"k": "v"},
                "free": {"anything": {"goes": 1}, "known": {"a": "x", "b": "y"}},
                "empty": {"gone": 1}
            },
            "status": {"phase": "x"}
        });
        let removed = prune(&mut obj, widget(&schemas));
        assert_eq!(
            removed,
            vec![
                "metadata.bogus",
                "spec.empty.gone",
                "spec.extra",
                "spec.free.known.b",
                "spec.items[0].x",
                "status",
            ]
        );
        assert_eq!(
            obj,
            json!({
                "apiVersion": "example.com/v1", "kind": "Widget",
                "metadata": {"name": "w"},
                "spec": {
                    "replicas": 2,
                    "items": [{"name": "a"}, {"name": "b"}],
                    "labels": {"k": "v"},
                    "free": {"anything": {"goes": 1}, "known": {"a": "x"}},
                    "empty": {}
                }
            })
        );
    }

    #[test]
    fn nulls_go_unless_nullable_and_defaults_replace_them() {
        let schemas = custom(json!({
            "type": "object",
            "properties": {"spec": {"type": "object", "properties": {
                "a": {"type": "string"},
                "b": {"type": "string", "nullable": true},
                "c": {"type": "string", "default": "dflt"},
                "m": {"type": "object", "additionalProperties": {"type": "string"}}
            }}}
        }));
        let mut obj = json!({"spec": {"a": null, "b": null, "c": null, "m": {"k": null}}});
        let removed = prune(&mut obj, widget(&schemas));
        assert!(removed.is_empty(), "{removed:?}");
        assert_eq!(obj, json!({"spec": {"b": null, "c": "dflt", "m": {}}}));
    }

    #[test]
    fn embedded_resources_keep_type_meta_and_their_metadata_is_object_meta() {
        let schemas = custom(json!({
            "type": "object",
            "properties": {"spec": {"type": "object", "properties": {
                "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                             "properties": {"spec": {"type": "object", "properties": {"x": {"type": "string"}}}}}
            }}}
        }));
        let mut obj = json!({"spec": {"template": {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"labels": {"a": "b"}, "nope": 1},
            "spec": {"x": "y", "z": 1}
        }}});
        let removed = prune(&mut obj, widget(&schemas));
        assert_eq!(
            removed,
            vec!["spec.template.spec.z", "spec.template.metadata.nope"]
        );
        assert_eq!(
            obj,
            json!({"spec": {"template": {
                "apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"a": "b"}}, "spec": {"x": "y"}
            }}})
        );
    }

    #[test]
    fn built_in_kinds_drop_what_the_go_types_lack() {
        let schemas = Schemas::upstream();
        let deployment = schemas
            .kind(&Gvk::new("apps", "v1", "Deployment"))
            .expect("Deployment");
        let mut obj = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "annotations": {"a": "b"}, "foo": 1},
            "spec": {
                "replicas": null,
                "bogus": 1,
                "selector": {"matchLabels": {"app": "d"}},
                "template": {"spec": {"containers": [{"name": "c", "image": "i", "imagePullSecret": "x"}]}}
            }
        });
        let removed = prune(&mut obj, deployment);
        assert_eq!(
            removed,
            vec![
                "metadata.foo",
                "spec.bogus",
                "spec.template.spec.containers[0].imagePullSecret"
            ]
        );
        assert!(obj["spec"].get("replicas").is_none());
        assert_eq!(
            obj["spec"]["template"]["spec"]["containers"][0],
            json!({"name": "c", "image": "i"})
        );
    }
}
