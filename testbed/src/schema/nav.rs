//! Walking a JSON schema with `$ref`s into a map of definitions.

use serde_json::{Map, Value};

/// A schema node, with the definitions its `$ref`s point into.
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    defs: &'a Map<String, Value>,
    value: &'a Value,
}

impl<'a> Node<'a> {
    /// A node of `value`, resolving `$ref`s (`#/$defs/<name>` or `#/definitions/<name>` or
    /// `#/components/schemas/<name>`) against `defs`.
    #[must_use]
    pub fn new(defs: &'a Map<String, Value>, value: &'a Value) -> Self {
        Self { defs, value }.resolve()
    }

    /// The raw schema JSON (after following `$ref`s).
    #[must_use]
    pub fn raw(&self) -> &'a Value {
        self.value
    }

    fn resolve(self) -> Self {
        let mut node = self;
        for _ in 0..32 {
            let target = node
                .value
                .get("$ref")
                .and_then(Value::as_str)
                .or_else(|| {
                    // `allOf: [{$ref}]` wraps a reference to add a description.
                    match node
                        .value
                        .get("allOf")
                        .and_then(Value::as_array)
                        .map(Vec::as_slice)
                    {
                        Some([one]) => one.get("$ref").and_then(Value::as_str),
                        _ => None,
                    }
                })
                .and_then(|r| r.rsplit('/').next());
            match target.and_then(|name| node.defs.get(name)) {
                Some(v) => {
                    node = Self {
                        defs: node.defs,
                        value: v,
                    }
                }
                None => break,
            }
        }
        node
    }

    fn child(&self, value: &'a Value) -> Node<'a> {
        Self {
            defs: self.defs,
            value,
        }
        .resolve()
    }

    fn ext_str(&self, key: &str) -> Option<&'a str> {
        self.value.get(key).and_then(Value::as_str)
    }

    /// The schema of property `name`, if the node declares it.
    #[must_use]
    pub fn property(&self, name: &str) -> Option<Node<'a>> {
        self.value
            .get("properties")
            .and_then(|p| p.get(name))
            .map(|v| self.child(v))
    }

    /// Declared property names.
    pub fn property_names(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.value
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|m| m.keys().map(String::as_str))
    }

    /// Whether the node declares `properties`.
    #[must_use]
    pub fn has_properties(&self) -> bool {
        self.value.get("properties").is_some_and(Value::is_object)
    }

    /// The schema of list items.
    #[must_use]
    pub fn items(&self) -> Option<Node<'a>> {
        self.value.get("items").map(|v| self.child(v))
    }

    /// The schema of map values (`additionalProperties` when it is a schema).
    #[must_use]
    pub fn additional_properties(&self) -> Option<Node<'a>> {
        self.value
            .get("additionalProperties")
            .filter(|v| v.is_object())
            .map(|v| self.child(v))
    }

    /// Declared types, without `null` (`type` may be a string or a list).
    #[must_use]
    pub fn types(&self) -> Vec<&'a str> {
        match self.value.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null")
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether the node is declared as type `t`.
    #[must_use]
    pub fn is_type(&self, t: &str) -> bool {
        self.types().contains(&t)
    }

    /// `x-kubernetes-list-type`: `atomic`, `set` or `map`.
    #[must_use]
    pub fn list_type(&self) -> Option<&'a str> {
        self.ext_str("x-kubernetes-list-type")
    }

    /// `x-kubernetes-list-map-keys`.
    #[must_use]
    pub fn list_map_keys(&self) -> Vec<&'a str> {
        self.value
            .get("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// `x-kubernetes-map-type`: `atomic` or `granular`.
    #[must_use]
    pub fn map_type(&self) -> Option<&'a str> {
        self.ext_str("x-kubernetes-map-type")
    }

    /// `x-kubernetes-patch-merge-key` (strategic merge patch).
    #[must_use]
    pub fn patch_merge_key(&self) -> Option<&'a str> {
        self.ext_str("x-kubernetes-patch-merge-key")
    }

    /// `x-kubernetes-patch-strategy` (strategic merge patch): `merge`, `replace`, `retainKeys`, or
    /// a comma-separated combination.
    #[must_use]
    pub fn patch_strategy(&self) -> Option<&'a str> {
        self.ext_str("x-kubernetes-patch-strategy")
    }

    /// `x-kubernetes-preserve-unknown-fields: true`.
    #[must_use]
    pub fn preserves_unknown_fields(&self) -> bool {
        self.value
            .get("x-kubernetes-preserve-unknown-fields")
            .and_then(Value::as_bool)
            == Some(true)
    }

    /// `x-kubernetes-int-or-string: true`, or the upstream `IntOrString`/`Quantity`-style
    /// definitions that allow both.
    #[must_use]
    pub fn int_or_string(&self) -> bool {
        self.value
            .get("x-kubernetes-int-or-string")
            .and_then(Value::as_bool)
            == Some(true)
            || self.ext_str("format") == Some("int-or-string")
    }

    /// `x-kubernetes-embedded-resource: true`.
    #[must_use]
    pub fn embedded_resource(&self) -> bool {
        self.value
            .get("x-kubernetes-embedded-resource")
            .and_then(Value::as_bool)
            == Some(true)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn follows_refs_and_reads_extensions() {
        let defs = json!({
            "Pod": {"type": "object", "properties": {"spec": {"$ref": "#/$defs/PodSpec"}}},
            "PodSpec": {"type": "object", "properties": {"containers": {
                "type": "array", "items": {"$ref": "#/$defs/Container"},
                "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]
            }}},
            "Container": {"type": ["object", "null"], "properties": {"name": {"type": "string"}}}
        });
        let defs = defs.as_object().expect("object").clone();
        let pod = Node::new(&defs, &defs["Pod"]);
        let containers = pod
            .property("spec")
            .and_then(|s| s.property("containers"))
            .expect("containers");
        assert_eq!(containers.patch_merge_key(), Some("name"));
        assert_eq!(containers.list_type(), Some("map"));
        assert_eq!(containers.list_map_keys(), vec!["name"]);
        let item = containers.items().expect("items");
        assert_eq!(item.types(), vec!["object"]);
        assert!(item.property("name").is_some_and(|n| n.is_type("string")));
        assert!(pod.property("nope").is_none());
    }
}
