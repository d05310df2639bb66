//! What the schema says about one position in an object, for strategic merge patch and
//! server-side apply: how lists merge and which map fields are declared.
//!
//! Extensions are read from the schema as written at the use site first (a property with a
//! `$ref` may carry its own `x-kubernetes-patch-strategy`, e.g. `DeploymentSpec.strategy`
//! has `retainKeys`), then from the referenced definition.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::schema::Node;

/// How server-side apply treats a list (`x-kubernetes-list-type`, or for built-in types without
/// it, the patch strategy), as `k8s.io/kube-openapi/pkg/schemaconv` converts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ListSem<'a> {
    /// Replaced as a whole and owned as a leaf (the default).
    Atomic,
    /// Items are scalars identified by their value.
    Set,
    /// Items are objects identified by these key fields.
    Map(Vec<&'a str>),
}

/// A schema position; `Shape::default()` knows nothing (untyped: maps granular, lists atomic).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Shape<'a> {
    node: Option<Node<'a>>,
    /// The schema as written where it is used (before following `$ref`).
    decl: Option<&'a Value>,
    /// Built-in kind (its values are Go structs upstream, see `implicit_field`).
    builtin: bool,
    root: bool,
}

impl<'a> Shape<'a> {
    /// The shape of a whole object of a kind (`None` when the kind has no schema).
    pub(crate) fn root(node: Option<Node<'a>>) -> Self {
        let builtin = node.is_some_and(|n| n.raw().get("x-kubernetes-group-version-kind").is_some());
        Self {
            node,
            decl: None,
            builtin,
            root: true,
        }
    }

    fn child(&self, node: Option<Node<'a>>, decl: Option<&'a Value>) -> Self {
        Self {
            node,
            decl,
            builtin: self.builtin,
            root: false,
        }
    }

    fn ext(&self, key: &str) -> Option<&'a Value> {
        self.decl
            .and_then(|d| d.get(key))
            .or_else(|| self.node.and_then(|n| n.raw().get(key)))
    }

    fn ext_str(&self, key: &str) -> Option<&'a str> {
        self.ext(key).and_then(Value::as_str)
    }

    fn has_properties(&self) -> bool {
        self.node.is_some_and(|n| n.has_properties())
    }

    /// The shape of map field `name`: a declared property, else the `additionalProperties`
    /// schema, else untyped. `metadata` of an object is always `ObjectMeta`: custom resource
    /// schemas leave it open and upstream substitutes the built-in definition.
    pub(crate) fn field(&self, name: &str) -> Shape<'a> {
        let declared = self.node.and_then(|n| {
            n.property(name)
                .map(|p| (p, n.raw().get("properties").and_then(|ps| ps.get(name))))
        });
        let shape = match declared {
            Some((node, decl)) => self.child(Some(node), decl),
            None => match self.node.and_then(|n| n.additional_properties()) {
                Some(node) => self.child(
                    Some(node),
                    self.node.and_then(|n| n.raw().get("additionalProperties")),
                ),
                None => self.child(None, None),
            },
        };
        if self.root && name == "metadata" && !shape.has_properties() {
            return self.child(Some(object_meta()), None);
        }
        shape
    }

    /// Whether `name` is a declared property (a struct field upstream).
    pub(crate) fn declares(&self, name: &str) -> bool {
        if self.root && name == "metadata" {
            return true;
        }
        self.node.is_some_and(|n| n.property(name).is_some())
    }

    /// The shape of list items.
    pub(crate) fn item(&self) -> Shape<'a> {
        self.child(
            self.node.and_then(|n| n.items()),
            self.node.and_then(|n| n.raw().get("items")),
        )
    }

    /// Whether map field `name` of a built-in kind exists in the Go zero value of its parent
    /// (a non-pointer struct, or a required, non-`omitempty` field), so upstream never sees it
    /// "added" and never records it with `.` in an Update entry.
    pub(crate) fn implicit_field(&self, name: &str) -> bool {
        if !self.builtin || !self.declares(name) {
            return false;
        }
        let required = self
            .node
            .and_then(|n| n.raw().get("required"))
            .and_then(Value::as_array)
            .is_some_and(|r| r.iter().any(|k| k.as_str() == Some(name)));
        required || self.field(name).has_properties()
    }

    /// `x-kubernetes-map-type: atomic`.
    pub(crate) fn map_atomic(&self) -> bool {
        self.ext_str("x-kubernetes-map-type") == Some("atomic")
    }

    /// The list semantics of server-side apply.
    pub(crate) fn list(&self) -> ListSem<'a> {
        match self.ext_str("x-kubernetes-list-type") {
            Some("set") => return ListSem::Set,
            Some("map") => {
                let keys: Vec<&str> = self
                    .ext("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                return if keys.is_empty() {
                    ListSem::Atomic
                } else {
                    ListSem::Map(keys)
                };
            }
            Some(_) => return ListSem::Atomic,
            None => {}
        }
        if self.strategies().contains(&"merge") {
            return match self.merge_key() {
                Some(key) => ListSem::Map(vec![key]),
                None => ListSem::Set,
            };
        }
        ListSem::Atomic
    }

    /// `x-kubernetes-patch-strategy`, split on commas (`merge,retainKeys`).
    pub(crate) fn strategies(&self) -> Vec<&'a str> {
        self.ext_str("x-kubernetes-patch-strategy")
            .map(|s| s.split(',').map(str::trim).collect())
            .unwrap_or_default()
    }

    /// `x-kubernetes-patch-merge-key`.
    pub(crate) fn merge_key(&self) -> Option<&'a str> {
        self.ext_str("x-kubernetes-patch-merge-key")
    }

    /// The schema `default` of key field `key` of this list's items (upstream uses it when an
    /// item omits the key, e.g. a container or service port without `protocol`). The
    /// definitions shipped by kubernetes-validate lack the `default: TCP` the API server
    /// publishes for `protocol`, so built-in kinds get it here.
    pub(crate) fn key_default(&self, key: &str) -> Option<&'a Value> {
        static TCP: OnceLock<Value> = OnceLock::new();
        self.item().field(key).ext("default").or_else(|| {
            (self.builtin && key == "protocol").then(|| TCP.get_or_init(|| Value::String("TCP".to_owned())))
        })
    }
}

/// The parts of `io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta` that matter for merging.
fn object_meta() -> Node<'static> {
    static META: OnceLock<(Map<String, Value>, Value)> = OnceLock::new();
    let (defs, value) = META.get_or_init(|| {
        let string_map = json!({"type": "object", "additionalProperties": {"type": "string"}});
        let scalar = json!({"type": "string"});
        let mut props = Map::new();
        for name in [
            "name",
            "generateName",
            "namespace",
            "selfLink",
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "deletionTimestamp",
        ] {
            props.insert(name.to_owned(), scalar.clone());
        }
        for name in ["generation", "deletionGracePeriodSeconds"] {
            props.insert(name.to_owned(), json!({"type": "integer"}));
        }
        props.insert("labels".to_owned(), string_map.clone());
        props.insert("annotations".to_owned(), string_map);
        props.insert(
            "finalizers".to_owned(),
            json!({"type": "array", "items": {"type": "string"},
                   "x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge"}),
        );
        props.insert(
            "ownerReferences".to_owned(),
            json!({"type": "array", "items": {"type": "object", "x-kubernetes-map-type": "atomic"},
                   "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["uid"],
                   "x-kubernetes-patch-merge-key": "uid", "x-kubernetes-patch-strategy": "merge"}),
        );
        props.insert(
            "managedFields".to_owned(),
            json!({"type": "array", "x-kubernetes-list-type": "atomic"}),
        );
        (Map::new(), json!({"type": "object", "properties": props}))
    });
    Node::new(defs, value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Gvk, Schemas};

    #[test]
    fn reads_upstream_list_semantics() {
        let schemas = Schemas::upstream();
        let root = Shape::root(schemas.kind(&Gvk::new("apps", "v1", "Deployment")));
        let pod = root.field("spec").field("template").field("spec");
        assert_eq!(pod.field("containers").list(), ListSem::Map(vec!["name"]));
        assert_eq!(pod.field("tolerations").list(), ListSem::Atomic);
        assert_eq!(
            pod.field("containers").item().field("args").list(),
            ListSem::Atomic
        );
        assert_eq!(root.field("metadata").field("finalizers").list(), ListSem::Set);
        let ports = pod.field("containers").item().field("ports");
        assert_eq!(ports.list(), ListSem::Map(vec!["containerPort", "protocol"]));
        assert_eq!(ports.key_default("protocol"), Some(&json!("TCP")));
        // The extension sits next to the `$ref`, not in the referenced definition.
        assert_eq!(
            root.field("spec").field("strategy").strategies(),
            vec!["retainKeys"]
        );
        assert!(root.field("spec").field("selector").map_atomic());
        assert!(root.implicit_field("spec") && root.field("spec").implicit_field("template"));
        assert!(!root.field("metadata").implicit_field("labels"));
        assert!(pod.implicit_field("containers"), "containers is required");
    }

    #[test]
    fn untyped_and_custom_metadata() {
        let none = Shape::root(None);
        assert_eq!(none.field("spec").field("items").list(), ListSem::Atomic);
        assert_eq!(none.field("metadata").field("finalizers").list(), ListSem::Set);
        assert!(!none.implicit_field("spec"));
    }
}
