//! Field sets, as server-side apply tracks ownership, and their `FieldsV1` encoding.
//!
//! <https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management>: a
//! FieldsV1 set is a trie whose keys are path elements: `f:<name>` a map field,
//! `k:<json object>` a list-map item by its key fields, `v:<json>` a set item by value,
//! `i:<index>` a list item by position, and `.` the node itself (when the node is a member and
//! also has children). Leaves are `{}`. This mirrors `sigs.k8s.io/structured-merge-diff`'s
//! `fieldpath` package, whose `Path.String()` gives the conflict paths (`.spec.replicas`,
//! `.spec.containers[name="web"].image`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// One step of a field path.
///
/// The derived order (fields, then keys, then values, then indices) is upstream's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum PathElement {
    /// A map field (`f:`).
    Field(String),
    /// A list-map item: canonical JSON of its key fields, sorted by name (`k:`).
    Key(String),
    /// A set item: canonical JSON of the value (`v:`).
    Value(String),
    /// A list item by index (`i:`); only read back from existing entries.
    Index(usize),
}

impl PathElement {
    /// A list-map item identified by `(key field, value)` pairs.
    pub(crate) fn key<'v>(fields: impl IntoIterator<Item = (&'v str, &'v Value)>) -> Self {
        let mut sorted: Vec<(&str, &Value)> = fields.into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        let body: Vec<String> = sorted
            .iter()
            .map(|(k, v)| format!("{}:{}", canonical(&Value::from(*k)), canonical(v)))
            .collect();
        Self::Key(format!("{{{}}}", body.join(",")))
    }

    /// A set item identified by its value.
    pub(crate) fn value(v: &Value) -> Self {
        Self::Value(canonical(v))
    }

    /// The FieldsV1 key: `f:name`, `k:{"name":"web"}`, `v:"a"`, `i:0`.
    pub(crate) fn encode(&self) -> String {
        match self {
            Self::Field(name) => format!("f:{name}"),
            Self::Key(json) => format!("k:{json}"),
            Self::Value(json) => format!("v:{json}"),
            Self::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses a FieldsV1 key.
    pub(crate) fn decode(s: &str) -> Result<Self, String> {
        let parse = |body: &str| {
            serde_json::from_str::<Value>(body).map_err(|e| format!("invalid path element {s:?}: {e}"))
        };
        match s.split_at_checked(2) {
            Some(("f:", name)) => Ok(Self::Field(name.to_owned())),
            Some(("k:", body)) => match parse(body)? {
                Value::Object(m) => Ok(Self::key(m.iter().map(|(k, v)| (k.as_str(), v)))),
                _ => Err(format!("invalid path element {s:?}: a key must be a JSON object")),
            },
            Some(("v:", body)) => Ok(Self::value(&parse(body)?)),
            Some(("i:", body)) => body
                .parse()
                .map(Self::Index)
                .map_err(|e| format!("invalid path element {s:?}: {e}")),
            _ => Err(format!("unknown path element type {s:?}")),
        }
    }

    /// How upstream prints it in conflicts: `.name`, `[name="web"]`, `[="a"]`, `[0]`.
    pub(crate) fn display(&self) -> String {
        match self {
            Self::Field(name) => format!(".{name}"),
            Self::Key(json) => {
                let fields = match serde_json::from_str::<Value>(json) {
                    Ok(Value::Object(m)) => m
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(","),
                    _ => json.clone(),
                };
                format!("[{fields}]")
            }
            Self::Value(json) => format!("[={json}]"),
            Self::Index(i) => format!("[{i}]"),
        }
    }
}

/// A path as upstream prints it, e.g. `.spec.template.spec.containers[name="web"].image`.
pub(crate) fn display_path(path: &[PathElement]) -> String {
    path.iter().map(PathElement::display).collect()
}

/// JSON as Go's `encoding/json` writes it: compact, maps sorted, `<`, `>`, `&`, U+2028 and
/// U+2029 escaped (they only ever occur inside strings).
pub(crate) fn canonical(v: &Value) -> String {
    let text = match v {
        Value::Object(m) => {
            let sorted: BTreeMap<&String, &Value> = m.iter().collect();
            let body: Vec<String> = sorted
                .iter()
                .map(|(k, v)| format!("{}:{}", canonical(&Value::from(k.as_str())), canonical(v)))
                .collect();
            return format!("{{{}}}", body.join(","));
        }
        Value::Array(a) => return format!("[{}]", a.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    };
    text.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// A set of field paths, stored as a trie. A node is a member when its own path is in the set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldSet {
    member: bool,
    children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    /// Whether the set has no paths.
    pub(crate) fn is_empty(&self) -> bool {
        !self.member && self.children.values().all(FieldSet::is_empty)
    }

    /// Adds a path (the empty path is never a member).
    pub(crate) fn insert(&mut self, path: &[PathElement]) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        let mut node = self.children.entry(first.clone()).or_default();
        for pe in rest {
            node = node.children.entry(pe.clone()).or_default();
        }
        node.member = true;
    }

    /// Whether `path` is a member.
    #[cfg(test)]
    pub(crate) fn contains(&self, path: &[PathElement]) -> bool {
        match path.split_first() {
            None => false,
            Some((first, rest)) => self.children.get(first).is_some_and(|c| {
                if rest.is_empty() {
                    c.member
                } else {
                    c.contains(rest)
                }
            }),
        }
    }

    /// The subtree under `pe` (its paths relative to `pe`), if any.
    pub(crate) fn child(&self, pe: &PathElement) -> Option<&FieldSet> {
        self.children.get(pe)
    }

    /// Whether this node's own path is a member (for nodes reached with `child`).
    pub(crate) fn is_member(&self) -> bool {
        self.member
    }

    /// The children of this node.
    pub(crate) fn children(&self) -> impl Iterator<Item = (&PathElement, &FieldSet)> {
        self.children.iter()
    }

    /// Adds every path of `other`.
    pub(crate) fn union(&mut self, other: &FieldSet) {
        self.member |= other.member;
        for (pe, theirs) in &other.children {
            self.children.entry(pe.clone()).or_default().union(theirs);
        }
    }

    /// The paths of `self` that are not in `other` (exact paths: a member's descendants are
    /// not affected by removing the member).
    pub(crate) fn difference(&self, other: &FieldSet) -> FieldSet {
        self.combine(other, |a, b| a && !b)
    }

    /// The paths in both sets.
    pub(crate) fn intersection(&self, other: &FieldSet) -> FieldSet {
        self.combine(other, |a, b| a && b)
    }

    fn combine(&self, other: &FieldSet, keep: fn(bool, bool) -> bool) -> FieldSet {
        let empty = FieldSet::default();
        let mut out = FieldSet {
            member: keep(self.member, other.member),
            children: BTreeMap::new(),
        };
        for (pe, mine) in &self.children {
            let child = mine.combine(other.children.get(pe).unwrap_or(&empty), keep);
            if !child.is_empty() {
                out.children.insert(pe.clone(), child);
            }
        }
        out
    }

    /// Every member path, in order.
    pub(crate) fn paths(&self) -> Vec<Vec<PathElement>> {
        fn walk(node: &FieldSet, prefix: &mut Vec<PathElement>, out: &mut Vec<Vec<PathElement>>) {
            for (pe, child) in &node.children {
                prefix.push(pe.clone());
                if child.member {
                    out.push(prefix.clone());
                }
                walk(child, prefix, out);
                prefix.pop();
            }
        }
        let mut out = Vec::new();
        walk(self, &mut Vec::new(), &mut out);
        out
    }

    /// The FieldsV1 JSON of the set (keys sorted).
    pub(crate) fn to_fields_v1(&self) -> Value {
        let mut out = Map::new();
        for (pe, child) in &self.children {
            if child.is_empty() {
                continue;
            }
            let mut encoded = child.to_fields_v1();
            if child.member
                && let Value::Object(m) = &mut encoded
                && !m.is_empty()
            {
                m.insert(".".to_owned(), Value::Object(Map::new()));
            }
            out.insert(pe.encode(), encoded);
        }
        Value::Object(out)
    }

    /// Parses FieldsV1 JSON.
    pub(crate) fn from_fields_v1(v: &Value) -> Result<FieldSet, String> {
        fn node(v: &Value) -> Result<FieldSet, String> {
            let Value::Object(m) = v else {
                return Err(format!("expected a JSON object in fieldsV1, found {v}"));
            };
            let mut set = FieldSet {
                member: m.is_empty(),
                children: BTreeMap::new(),
            };
            for (k, child) in m {
                if k == "." {
                    set.member = true;
                } else {
                    set.children.insert(PathElement::decode(k)?, node(child)?);
                }
            }
            Ok(set)
        }
        let mut root = node(v)?;
        root.member = false;
        Ok(root)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn f(name: &str) -> PathElement {
        PathElement::Field(name.to_owned())
    }

    #[test]
    fn encodes_and_decodes_fields_v1() {
        let web = PathElement::key([("name", &json!("web"))]);
        let mut set = FieldSet::default();
        set.insert(&[f("metadata"), f("labels"), f("app")]);
        set.insert(&[f("spec"), f("containers"), web.clone()]);
        set.insert(&[f("spec"), f("containers"), web.clone(), f("image")]);
        set.insert(&[f("metadata"), f("finalizers"), PathElement::value(&json!("a<b"))]);
        let encoded = set.to_fields_v1();
        assert_eq!(
            encoded,
            json!({
                "f:metadata": {"f:labels": {"f:app": {}}, "f:finalizers": {"v:\"a\\u003cb\"": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}}}}
            })
        );
        assert_eq!(FieldSet::from_fields_v1(&encoded).expect("decodes"), set);
        assert!(set.contains(&[f("spec"), f("containers"), web.clone()]));
        assert!(!set.contains(&[f("spec"), f("containers")]));
        assert_eq!(
            display_path(&[f("spec"), f("containers"), web, f("image")]),
            ".spec.containers[name=\"web\"].image"
        );
    }

    #[test]
    fn keys_are_sorted_and_canonical() {
        let a = PathElement::key([("protocol", &json!("TCP")), ("containerPort", &json!(80))]);
        assert_eq!(a.encode(), "k:{\"containerPort\":80,\"protocol\":\"TCP\"}");
        assert_eq!(
            PathElement::decode("k:{\"protocol\": \"TCP\", \"containerPort\": 80}").expect("key"),
            a
        );
        assert_eq!(a.display(), "[containerPort=80,protocol=\"TCP\"]");
        assert_eq!(PathElement::decode("i:3").expect("index").display(), "[3]");
        assert!(PathElement::decode("x:1").is_err());
    }

    #[test]
    fn set_algebra_is_exact() {
        let mut a = FieldSet::default();
        a.insert(&[f("spec")]);
        a.insert(&[f("spec"), f("replicas")]);
        a.insert(&[f("spec"), f("paused")]);
        let mut b = FieldSet::default();
        b.insert(&[f("spec"), f("replicas")]);
        let d = a.difference(&b);
        assert_eq!(d.paths(), vec![vec![f("spec")], vec![f("spec"), f("paused")]]);
        assert_eq!(a.intersection(&b).paths(), vec![vec![f("spec"), f("replicas")]]);
        assert!(b.difference(&a).is_empty());
        let mut u = b.clone();
        u.union(&d);
        assert_eq!(u, a);
    }
}
