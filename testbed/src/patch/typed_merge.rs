//! Merging an applied configuration into a live object, and removing fields from an object,
//! after `sigs.k8s.io/structured-merge-diff/typed` (`merge.go`, `remove.go`).
//!
//! Server-side apply merge (<https://kubernetes.io/docs/reference/using-api/server-side-apply/#merge-strategy>):
//! granular maps merge key by key, list-maps merge items by key, sets take the union, and
//! atomic lists and maps, like scalars, are replaced by the applied value.

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::{Map, Value};

use super::fields::{FieldSet, PathElement};
use super::shape::Shape;
use super::typed::{Kind, item_pe, pair_kind};

/// Merges `r` (the applied configuration) into `l` (the live value).
pub(crate) fn merge(l: Option<&Value>, r: Option<&Value>, shape: Shape<'_>) -> Result<Option<Value>, String> {
    match pair_kind(&shape, l, r) {
        Kind::Leaf => Ok(r.or(l).cloned()),
        Kind::Map => {
            let empty = Map::new();
            let lm = l.and_then(Value::as_object).unwrap_or(&empty);
            let rm = r.and_then(Value::as_object).unwrap_or(&empty);
            let mut out = Map::new();
            for k in lm.keys().chain(rm.keys().filter(|k| !lm.contains_key(*k))) {
                if let Some(v) = merge(lm.get(k), rm.get(k), shape.field(k))? {
                    out.insert(k.clone(), v);
                }
            }
            Ok(Some(Value::Object(out)))
        }
        Kind::List(keys) => {
            let li = l.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            let ri = r.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            merge_list(li, ri, &shape, &keys).map(|items| Some(Value::Array(items)))
        }
    }
}

/// Upstream's list merge order: items only in the live list keep their place; items in the
/// applied list come in the applied order, each shared item where the applied list puts it.
fn merge_list(l: &[Value], r: &[Value], shape: &Shape<'_>, keys: &[&str]) -> Result<Vec<Value>, String> {
    let item_shape = shape.item();
    let lpes = l
        .iter()
        .map(|v| item_pe(shape, keys, v))
        .collect::<Result<Vec<_>, _>>()?;
    let rpes = r
        .iter()
        .map(|v| item_pe(shape, keys, v))
        .collect::<Result<Vec<_>, _>>()?;
    // Live duplicates are not merged with the applied item (upstream treats them as null).
    let mut lby: HashMap<&PathElement, Option<usize>> = HashMap::new();
    for (i, pe) in lpes.iter().enumerate() {
        lby.entry(pe).and_modify(|e| *e = None).or_insert(Some(i));
    }
    let mut rby: HashMap<&PathElement, usize> = HashMap::new();
    for (i, pe) in rpes.iter().enumerate() {
        if rby.insert(pe, i).is_some() {
            return Err(format!("duplicate entries for key {}", pe.display()));
        }
    }
    let mut shared: VecDeque<&PathElement> = rpes.iter().filter(|pe| lby.contains_key(pe)).collect();
    let mut next_shared = shared.pop_front();
    let mut merged_rhs: HashSet<&PathElement> = HashSet::new();
    let mut out = Vec::with_capacity(l.len().max(r.len()));
    let push = |out: &mut Vec<Value>, lv: Option<&Value>, rv: Option<&Value>| -> Result<(), String> {
        if let Some(v) = merge(lv, rv, item_shape)? {
            out.push(v);
        }
        Ok(())
    };
    let (mut li, mut ri) = (0, 0);
    while li < l.len() || ri < r.len() {
        if li < l.len() && ri < r.len() {
            let pe = &lpes[li];
            if *pe == rpes[ri] {
                merged_rhs.insert(pe);
                push(&mut out, lby[pe].map(|i| &l[i]), Some(&r[ri]))?;
                li += 1;
                ri += 1;
                next_shared = shared.pop_front();
                continue;
            }
            if rby.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                // A shared item, but not the next one the applied list wants: it comes later.
                li += 1;
                continue;
            }
        }
        if li < l.len() {
            let pe = &lpes[li];
            if !rby.contains_key(pe) {
                push(&mut out, Some(&l[li]), None)?;
                li += 1;
                continue;
            } else if merged_rhs.contains(pe) {
                li += 1;
            }
        }
        if ri < r.len() {
            let pe = &rpes[ri];
            merged_rhs.insert(pe);
            push(
                &mut out,
                lby.get(pe).copied().flatten().map(|i| &l[i]),
                Some(&r[ri]),
            )?;
            ri += 1;
            if next_shared == Some(pe) {
                next_shared = shared.pop_front();
            }
        }
    }
    Ok(out)
}

/// `v` without the paths in `set`: a member path is removed with everything under it; other
/// nodes of `set` are walked into. Maps and lists emptied by the removal are dropped from
/// their parent (upstream leaves a null there, which decoding drops).
pub(crate) fn remove(v: &Value, set: &FieldSet, shape: Shape<'_>) -> Value {
    remove_in(v, set, &shape).unwrap_or_else(|| v.clone())
}

/// `None` when the walk emptied a non-empty container.
fn remove_in(v: &Value, set: &FieldSet, shape: &Shape<'_>) -> Option<Value> {
    match pair_kind(shape, Some(v), None) {
        Kind::Leaf => Some(v.clone()),
        Kind::Map => {
            let mut out = Map::new();
            for (k, child) in v.as_object().into_iter().flatten() {
                match set.child(&PathElement::Field(k.clone())) {
                    Some(sub) if sub.is_member() => {}
                    Some(sub) => {
                        if let Some(kept) = remove_in(child, sub, &shape.field(k)) {
                            out.insert(k.clone(), kept);
                        }
                    }
                    None => {
                        out.insert(k.clone(), child.clone());
                    }
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Kind::List(keys) => {
            let item_shape = shape.item();
            let mut out = Vec::new();
            for item in v.as_array().into_iter().flatten() {
                let Ok(pe) = item_pe(shape, &keys, item) else {
                    out.push(item.clone());
                    continue;
                };
                match set.child(&pe) {
                    Some(sub) if sub.is_member() => {}
                    Some(sub) => out.extend(remove_in(item, sub, &item_shape)),
                    None => out.push(item.clone()),
                }
            }
            (!out.is_empty()).then_some(Value::Array(out))
        }
    }
}

/// Removes from `result` the map entries the applied configuration set to null: upstream keeps
/// them as null in the merged object and decoding drops them (the field is still owned).
pub(crate) fn drop_applied_nulls(result: &mut Value, applied: &Value) {
    let (Value::Object(out), Value::Object(cfg)) = (result, applied) else {
        return;
    };
    for (k, v) in cfg {
        if v.is_null() {
            out.remove(k);
        } else if let Some(child) = out.get_mut(k) {
            drop_applied_nulls(child, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::{Gvk, Schemas};

    fn names(v: &Value) -> Vec<&str> {
        v.as_array()
            .expect("list")
            .iter()
            .map(|c| c["name"].as_str().expect("name"))
            .collect()
    }

    #[test]
    fn list_maps_merge_by_key_in_upstream_order() {
        let schemas = Schemas::upstream();
        let root = Shape::root(schemas.kind(&Gvk::new("apps", "v1", "Deployment")));
        let containers = root
            .field("spec")
            .field("template")
            .field("spec")
            .field("containers");
        let live =
            json!([{"name": "a", "image": "1"}, {"name": "b", "image": "1"}, {"name": "c", "image": "1"}]);
        let applied =
            json!([{"name": "c", "image": "2"}, {"name": "d", "image": "2"}, {"name": "a", "image": "2"}]);
        let merged = merge(Some(&live), Some(&applied), containers)
            .expect("merge")
            .expect("value");
        assert_eq!(names(&merged), vec!["b", "c", "d", "a"]);
        assert_eq!(merged[1], json!({"name": "c", "image": "2"}));
        let dup = json!([{"name": "x"}, {"name": "x"}]);
        assert!(
            merge(Some(&live), Some(&dup), containers)
                .expect_err("duplicates")
                .contains("duplicate entries")
        );
    }

    #[test]
    fn sets_union_and_atomic_replace() {
        let root = Shape::root(None);
        let live = json!({"metadata": {"finalizers": ["a", "b"]}, "spec": {"l": [1, 2], "m": {"x": 1}}});
        let applied = json!({"metadata": {"finalizers": ["c", "a"]}, "spec": {"l": [3], "m": {"y": 2}}});
        let merged = merge(Some(&live), Some(&applied), root)
            .expect("merge")
            .expect("value");
        assert_eq!(
            merged,
            json!({"metadata": {"finalizers": ["c", "a", "b"]}, "spec": {"l": [3], "m": {"x": 1, "y": 2}}})
        );
    }

    #[test]
    fn removes_members_and_empties() {
        let root = Shape::root(None);
        let v = json!({"metadata": {"labels": {"a": "1"}, "finalizers": ["x", "y"]}, "spec": {"k": 1}});
        let mut set = FieldSet::default();
        let f = |s: &str| PathElement::Field(s.to_owned());
        set.insert(&[f("metadata"), f("labels"), f("a")]);
        set.insert(&[f("metadata"), f("finalizers"), PathElement::value(&json!("y"))]);
        assert_eq!(
            remove(&v, &set, root),
            json!({"metadata": {"finalizers": ["x"]}, "spec": {"k": 1}})
        );
        let mut out = json!({"a": {"b": null, "c": 1}});
        drop_applied_nulls(&mut out, &json!({"a": {"b": null}}));
        assert_eq!(out, json!({"a": {"c": 1}}));
    }
}
