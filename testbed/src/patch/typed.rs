//! Schema-aware walks over objects for server-side apply, after
//! `sigs.k8s.io/structured-merge-diff/typed`: the field set of a value (`ToFieldSet`), the
//! comparison of two values (`Compare`), and the named-field closure of a set
//! (`EnsureNamedFieldsAreMembers`). Merging and removing are in `typed_merge`.
//!
//! Granular maps recurse; lists recurse by item identity when associative (list-map keys or
//! set values) and are leaves when atomic; scalars, atomic maps and empty containers are leaves.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::fields::{FieldSet, PathElement};
use super::shape::{ListSem, Shape};

/// How a position is walked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind<'a> {
    /// A scalar, atomic list or map, or a value whose type differs between the two sides.
    Leaf,
    /// A granular map (struct or map).
    Map,
    /// An associative list; no keys means a set.
    List(Vec<&'a str>),
}

fn kind_of<'a>(shape: &Shape<'a>, v: &Value) -> Option<Kind<'a>> {
    match v {
        Value::Null => None,
        Value::Object(_) if shape.map_atomic() => Some(Kind::Leaf),
        Value::Object(_) => Some(Kind::Map),
        Value::Array(_) => Some(match shape.list() {
            ListSem::Atomic => Kind::Leaf,
            ListSem::Set => Kind::List(Vec::new()),
            ListSem::Map(keys) => Kind::List(keys),
        }),
        _ => Some(Kind::Leaf),
    }
}

fn is_empty_container(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => false,
    }
}

/// The kind of a position holding `l` on one side and `r` on the other (either may be absent;
/// null is an empty container). Both empty is a leaf, which keeps `{}`/`[]`/null apart.
pub(crate) fn pair_kind<'a>(shape: &Shape<'a>, l: Option<&Value>, r: Option<&Value>) -> Kind<'a> {
    if is_empty_container(l) && is_empty_container(r) {
        return Kind::Leaf;
    }
    match (
        l.and_then(|v| kind_of(shape, v)),
        r.and_then(|v| kind_of(shape, v)),
    ) {
        (Some(a), Some(b)) if a != b => Kind::Leaf,
        (Some(k), _) | (None, Some(k)) => k,
        (None, None) => Kind::Leaf,
    }
}

/// The identity of a list item.
pub(crate) fn item_pe(list: &Shape<'_>, keys: &[&str], item: &Value) -> Result<PathElement, String> {
    if keys.is_empty() {
        return match item {
            Value::Object(_) => {
                Err("associative list without keys has an element that's a map type".to_owned())
            }
            Value::Array(_) => Err("not supported: associative list with lists as elements".to_owned()),
            Value::Null => {
                Err("associative list without keys has an element that's an explicit null".to_owned())
            }
            v => Ok(PathElement::value(v)),
        };
    }
    let Value::Object(m) = item else {
        return Err("associative list with keys may not have non-map elements".to_owned());
    };
    let fields: Vec<(&str, &Value)> = keys
        .iter()
        .filter_map(|k| m.get(*k).or_else(|| list.key_default(k)).map(|v| (*k, v)))
        .collect();
    if fields.is_empty() {
        return Err(format!(
            "associative list with keys has an element that omits all key fields {keys:?}"
        ));
    }
    Ok(PathElement::key(fields))
}

/// List items grouped by identity, and the identities in first-seen order.
pub(crate) type Indexed<'v> = (Vec<PathElement>, HashMap<PathElement, Vec<&'v Value>>);

/// Items grouped by identity, in first-seen order.
pub(crate) fn index_items<'v>(
    list: &Shape<'_>,
    keys: &[&str],
    items: &'v [Value],
) -> Result<Indexed<'v>, String> {
    let mut order = Vec::new();
    let mut by_pe: HashMap<PathElement, Vec<&Value>> = HashMap::new();
    for item in items {
        let pe = item_pe(list, keys, item)?;
        let entry = by_pe.entry(pe.clone()).or_default();
        if entry.is_empty() {
            order.push(pe);
        }
        entry.push(item);
    }
    Ok((order, by_pe))
}

/// The set of fields a value sets (upstream `ToFieldSet`): leaves, list items (with `.`),
/// map entries that are null, empty, or not declared fields (e.g. each label).
pub(crate) fn to_field_set(v: &Value, shape: Shape<'_>) -> Result<FieldSet, String> {
    fn walk(
        v: &Value,
        shape: &Shape<'_>,
        path: &mut Vec<PathElement>,
        out: &mut FieldSet,
    ) -> Result<(), String> {
        match pair_kind(shape, Some(v), None) {
            Kind::Leaf => out.insert(path),
            Kind::Map => {
                for (k, child) in v.as_object().into_iter().flatten() {
                    path.push(PathElement::Field(k.clone()));
                    walk(child, &shape.field(k), path, out)?;
                    if (is_empty_container(Some(child)) && !child.is_array()) || !shape.declares(k) {
                        out.insert(path);
                    }
                    path.pop();
                }
            }
            Kind::List(keys) => {
                let items = v.as_array().map(Vec::as_slice).unwrap_or_default();
                let (order, by_pe) = index_items(shape, &keys, items)?;
                let item_shape = shape.item();
                for pe in order {
                    path.push(pe.clone());
                    if let [only] = by_pe[&pe].as_slice() {
                        walk(only, &item_shape, path, out)?;
                    }
                    out.insert(path);
                    path.pop();
                }
            }
        }
        Ok(())
    }
    let mut out = FieldSet::default();
    walk(v, &shape, &mut Vec::new(), &mut out)?;
    Ok(out)
}

/// What changed between two values (upstream `Compare`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Comparison {
    /// Present only on the right.
    pub(crate) added: FieldSet,
    /// Leaves present on both sides with different values.
    pub(crate) modified: FieldSet,
    /// Present only on the left.
    pub(crate) removed: FieldSet,
}

/// Compares `l` (before) with `r` (after).
pub(crate) fn compare(l: &Value, r: &Value, shape: Shape<'_>) -> Result<Comparison, String> {
    let mut cmp = Comparison::default();
    walk_compare(Some(l), Some(r), &shape, &mut Vec::new(), &mut cmp, true)?;
    Ok(cmp)
}

fn walk_compare(
    l: Option<&Value>,
    r: Option<&Value>,
    shape: &Shape<'_>,
    path: &mut Vec<PathElement>,
    cmp: &mut Comparison,
    implicit: bool,
) -> Result<(), String> {
    let kind = pair_kind(shape, l, r);
    if kind == Kind::Leaf {
        match (l, r) {
            (None, _) => cmp.added.insert(path),
            (_, None) => cmp.removed.insert(path),
            (Some(a), Some(b)) if a != b => cmp.modified.insert(path),
            _ => {}
        }
        return Ok(());
    }
    match kind {
        Kind::Map => {
            let empty = Map::new();
            let lm = l.and_then(Value::as_object).unwrap_or(&empty);
            let rm = r.and_then(Value::as_object).unwrap_or(&empty);
            for k in lm.keys().chain(rm.keys().filter(|k| !lm.contains_key(*k))) {
                path.push(PathElement::Field(k.clone()));
                walk_compare(
                    lm.get(k),
                    rm.get(k),
                    &shape.field(k),
                    path,
                    cmp,
                    shape.implicit_field(k),
                )?;
                path.pop();
            }
        }
        Kind::List(keys) => {
            let li = l.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            let ri = r.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            let (lorder, lby) = index_items(shape, &keys, li)?;
            let (rorder, rby) = index_items(shape, &keys, ri)?;
            let item_shape = shape.item();
            for pe in lorder
                .iter()
                .chain(rorder.iter().filter(|pe| !lby.contains_key(*pe)))
            {
                let ls = lby.get(pe).map(Vec::as_slice).unwrap_or_default();
                let rs = rby.get(pe).map(Vec::as_slice).unwrap_or_default();
                path.push(pe.clone());
                match (ls, rs) {
                    ([] | [_], [] | [_]) => walk_compare(
                        ls.first().copied(),
                        rs.first().copied(),
                        &item_shape,
                        path,
                        cmp,
                        false,
                    )?,
                    ([_, _, ..], [_, _, ..]) => {
                        if ls != rs {
                            cmp.modified.insert(path);
                        }
                    }
                    ([_, _, ..], _) => {
                        if let [only] = rs {
                            walk_compare(None, Some(only), &item_shape, path, cmp, false)?;
                        }
                        cmp.removed.insert(path);
                    }
                    (_, _) => {
                        if let [only] = ls {
                            walk_compare(Some(only), None, &item_shape, path, cmp, false)?;
                        }
                        cmp.added.insert(path);
                    }
                }
                path.pop();
            }
        }
        Kind::Leaf => unreachable!("handled above"),
    }
    // A granular node that appears or disappears is itself added or removed, unless upstream
    // would find it in the Go zero value of a built-in kind anyway.
    if !implicit {
        match (l, r) {
            (None, Some(_)) => cmp.added.insert(path),
            (Some(_), None) => cmp.removed.insert(path),
            _ => {}
        }
    }
    Ok(())
}

/// `set` plus, for every path in it, the declared (struct) fields on the way
/// (upstream `EnsureNamedFieldsAreMembers`): `.spec.replicas` makes `.spec` a member too, but
/// `.metadata.labels.app` does not make `.metadata.labels.app`'s map entry parents members
/// beyond the declared `labels` field.
pub(crate) fn ensure_named(set: &FieldSet, shape: Shape<'_>) -> FieldSet {
    fn walk(set: &FieldSet, shape: &Shape<'_>, out: &mut FieldSet, path: &mut Vec<PathElement>) {
        for (pe, child) in set.children() {
            path.push(pe.clone());
            let child_shape = match pe {
                PathElement::Field(name) => {
                    if shape.declares(name) {
                        out.insert(path);
                    }
                    shape.field(name)
                }
                _ => shape.item(),
            };
            walk(child, &child_shape, out, path);
            path.pop();
        }
    }
    let mut out = set.clone();
    walk(set, &shape, &mut out, &mut Vec::new());
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::{Gvk, Schemas};

    #[test]
    fn field_set_of_a_deployment_config() {
        let schemas = Schemas::upstream();
        let shape = Shape::root(schemas.kind(&Gvk::new("apps", "v1", "Deployment")));
        let config = json!({
            "metadata": {"name": "d", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"spec": {"containers": [{"name": "web", "image": "nginx", "args": ["a"]}]}}}
        });
        let set = to_field_set(&config, shape).expect("set");
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:metadata": {"f:name": {}, "f:labels": {"f:app": {}}},
                "f:spec": {"f:replicas": {}, "f:selector": {},
                           "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
                               ".": {}, "f:name": {}, "f:image": {}, "f:args": {}}}}}}
            })
        );
    }

    #[test]
    fn compare_reports_leaves_and_new_nodes() {
        let schemas = Schemas::upstream();
        let shape = Shape::root(schemas.kind(&Gvk::new("apps", "v1", "Deployment")));
        let old = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}});
        let new = json!({"metadata": {"labels": {"k": "v"}},
                         "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "b", "image": "y"}]}}}});
        let cmp = compare(&old, &new, shape).expect("compare");
        assert_eq!(cmp.modified.to_fields_v1(), json!({"f:spec": {"f:replicas": {}}}));
        assert_eq!(
            cmp.added.to_fields_v1(),
            json!({"f:metadata": {"f:labels": {".": {}, "f:k": {}}},
                   "f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"b\"}": {".": {}, "f:name": {}, "f:image": {}}}}}}})
        );
        assert_eq!(
            cmp.removed.to_fields_v1(),
            json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {".": {}, "f:name": {}, "f:image": {}}}}}}})
        );
    }

    #[test]
    fn untyped_maps_are_granular_and_lists_atomic() {
        let set =
            to_field_set(&json!({"spec": {"a": {"b": 1}, "l": [1, 2]}}), Shape::root(None)).expect("set");
        assert_eq!(
            set.to_fields_v1(),
            json!({"f:spec": {".": {}, "f:a": {".": {}, "f:b": {}}, "f:l": {}}})
        );
        let named = ensure_named(&set, Shape::root(None));
        assert_eq!(named, set, "nothing is declared without a schema");
    }

    #[test]
    fn sets_reject_objects() {
        let shape = Shape::root(None);
        let meta = shape.field("metadata");
        let err = to_field_set(&json!({"metadata": {"finalizers": [{"a": 1}]}}), shape).expect_err("invalid");
        assert!(err.contains("map type"), "{err}");
        assert_eq!(meta.field("finalizers").list(), ListSem::Set);
    }
}
