//! Strategic merge patch (`application/strategic-merge-patch+json`), as the API server applies
//! it (`StrategicMergeMapPatch` in `k8s.io/apimachinery/pkg/util/strategicpatch`).
//!
//! <https://github.com/kubernetes/community/blob/master/contributors/devel/sig-api-machinery/strategic-merge-patch.md>:
//! maps merge recursively and `null` deletes; a list whose field has patch strategy `merge`
//! merges its items by the patch merge key (primitives: as a set), any other list is
//! replaced. Directives: `$patch: replace|delete` in maps and list items,
//! `$retainKeys`, `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>`.
//! Directives never reach the result, also where upstream would copy them verbatim (into a
//! field the object did not have yet).

use serde_json::{Map, Value};

use super::PatchError;
use super::shape::Shape;
use super::strategic_order::{no_merge_key, normalize, partition, validate_set_order};
use crate::schema::Node;

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Applies a strategic merge patch to `obj`. `schema` is the kind's schema (its
/// `x-kubernetes-patch-strategy` and `x-kubernetes-patch-merge-key` drive list merging);
/// without it every list is replaced and every map merged.
///
/// # Errors
/// [`PatchError`] with upstream's status: malformed directives are 400, lists of lists 422,
/// and list items without their merge key or unknown `$patch` values 500.
pub fn strategic_merge_patch(
    obj: &Value,
    patch: &Value,
    schema: Option<Node<'_>>,
) -> Result<Value, PatchError> {
    let Value::Object(p) = patch else {
        return Err(PatchError::BadRequest(format!(
            "a strategic merge patch must be a JSON object, not {patch}"
        )));
    };
    let original = obj.as_object().cloned().unwrap_or_default();
    Ok(Value::Object(
        merge_map(original, p, Shape::root(schema))?.unwrap_or_default(),
    ))
}

/// Merges `patch` into `original`; `None` means `$patch: delete` (the map goes away).
fn merge_map(
    mut original: Map<String, Value>,
    patch: &Map<String, Value>,
    shape: Shape<'_>,
) -> Result<Option<Map<String, Value>>, PatchError> {
    if let Some(directive) = patch.get(PATCH) {
        return match directive.as_str() {
            // "recursive and applies to all fields of the map it's in": take the patch as is.
            Some("replace") => {
                let mut rest = patch.clone();
                rest.remove(PATCH);
                merge_map(Map::new(), &rest, shape)
            }
            Some("delete") => Ok(None),
            // `merge` "is used only in the go struct tags": upstream rejects it in a patch.
            _ => Err(PatchError::Internal(format!(
                "unknown patch type: {directive} in map: {} (a map's $patch may only be \"replace\" or \"delete\")",
                Value::Object(patch.clone())
            ))),
        };
    }
    let mut patch = patch.clone();
    if let Some(keep) = patch.remove(RETAIN_KEYS) {
        retain_keys(&mut original, &patch, &keep)?;
    }
    let orders: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for directive in orders {
        let order = patch.remove(&directive).unwrap_or_default();
        let field = &directive[SET_ELEMENT_ORDER.len()..];
        let Value::Array(order) = order else {
            return Err(bad_format("setElementOrder list"));
        };
        let field_shape = shape.field(field);
        let key = merge_key(&field_shape);
        let live = list_at(&original, field)?;
        let patched = list_at(&patch, field)?;
        if let Some(p) = patched {
            validate_set_order(p, &order, key)?;
        }
        let merged = match (live, patched) {
            (Some(l), None) => l.clone(),
            (None, Some(p)) => clean_list(p, &field_shape)?,
            (Some(l), Some(p)) => merge_list(l.clone(), p, &field_shape)?,
            (None, None) => continue,
        };
        let live_order = live.cloned().unwrap_or_default();
        patch.remove(field);
        let (named, live_only) = partition(merged, &order, key)?;
        original.insert(
            field.to_owned(),
            Value::Array(normalize(named, live_only, &order, &live_order, key)?),
        );
    }
    let mut deletions = Vec::new();
    for (k, pv) in patch {
        if let Some(field) = k.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            deletions.push((field.to_owned(), pv));
            continue;
        }
        if pv.is_null() {
            original.remove(&k);
            continue;
        }
        let field_shape = shape.field(&k);
        let merged = match (original.remove(&k), pv) {
            (Some(Value::Object(om)), Value::Object(pm)) => {
                if field_shape.strategies().contains(&"replace") {
                    merge_map(Map::new(), &pm, field_shape)?.map(Value::Object)
                } else {
                    merge_map(om, &pm, field_shape)?.map(Value::Object)
                }
            }
            (Some(Value::Array(ol)), Value::Array(pl)) => {
                Some(Value::Array(merge_list(ol, &pl, &field_shape)?))
            }
            (_, pv) => fresh(&pv, &field_shape)?,
        };
        if let Some(v) = merged {
            original.insert(k, v);
        }
    }
    for (field, values) in deletions {
        let Value::Array(values) = values else {
            return Err(bad_format("primitive list"));
        };
        if let Some(Value::Array(list)) = original.get_mut(&field) {
            list.retain(|v| !values.contains(v));
        }
    }
    Ok(Some(original))
}

fn bad_format(what: &str) -> PatchError {
    PatchError::BadRequest(format!("invalid patch format of {what}"))
}

fn list_at<'m>(m: &'m Map<String, Value>, field: &str) -> Result<Option<&'m Vec<Value>>, PatchError> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(other) => Err(PatchError::Internal(format!(
            "expected a list for {field:?} to order with $setElementOrder, found {other}"
        ))),
    }
}

/// `$retainKeys`: clear the fields of `original` the list does not name; every field the
/// patch sets must be named.
fn retain_keys(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    keep: &Value,
) -> Result<(), PatchError> {
    let Value::Array(keep) = keep else {
        return Err(bad_format("retainKeys"));
    };
    let named = |k: &str| keep.iter().any(|v| v.as_str() == Some(k));
    let unlisted = patch.iter().find(|(k, v)| {
        !v.is_null()
            && !k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            && !k.starts_with(SET_ELEMENT_ORDER)
            && !named(k)
    });
    if let Some((k, _)) = unlisted {
        return Err(PatchError::BadRequest(format!(
            "invalid patch format of retainKeys: the patch sets {k:?}, which $retainKeys does not list"
        )));
    }
    original.retain(|k, _| named(k));
    Ok(())
}

/// The merge key when the field's patch strategy is `merge`.
fn merge_key<'a>(shape: &Shape<'a>) -> Option<&'a str> {
    shape
        .strategies()
        .contains(&"merge")
        .then(|| shape.merge_key())
        .flatten()
}

/// A value for a field the original lacks: the patch value with its directives applied
/// against nothing. `None` when it deletes itself.
fn fresh(v: &Value, shape: &Shape<'_>) -> Result<Option<Value>, PatchError> {
    Ok(match v {
        Value::Object(m) => merge_map(Map::new(), m, *shape)?.map(Value::Object),
        Value::Array(l) => Some(Value::Array(clean_list(l, shape)?)),
        other => Some(other.clone()),
    })
}

/// A patch list taken as the new value: directive items dropped, items cleaned.
fn clean_list(list: &[Value], shape: &Shape<'_>) -> Result<Vec<Value>, PatchError> {
    let item = shape.item();
    let mut out = Vec::new();
    for v in list {
        if let Some(d) = v.as_object().and_then(|m| m.get(PATCH)) {
            match d.as_str() {
                Some("delete" | "replace") => continue,
                _ => return Err(list_directive_error(d, v)),
            }
        }
        out.extend(fresh(v, &item)?);
    }
    Ok(out)
}

fn list_directive_error(d: &Value, item: &Value) -> PatchError {
    if d.as_str() == Some("merge") {
        return PatchError::Internal(
            "merging lists cannot yet be specified in the patch ($patch: merge in a list item)".to_owned(),
        );
    }
    PatchError::Internal(format!("unknown patch type: {d} in map: {item}"))
}

/// Merges a patch list into a live list according to the field's patch strategy.
fn merge_list(original: Vec<Value>, patch: &[Value], shape: &Shape<'_>) -> Result<Vec<Value>, PatchError> {
    if !shape.strategies().contains(&"merge") {
        return clean_list(patch, shape);
    }
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let is_map = element_kind(&original, patch)?;
    let key = shape.merge_key();
    if !is_map {
        // A set: deduplicated union.
        let mut merged: Vec<Value> = Vec::new();
        for v in original.iter().chain(patch) {
            if !merged.contains(v) {
                merged.push(v.clone());
            }
        }
        let (named, live_only) = partition(merged, patch, None)?;
        return normalize(named, live_only, patch, &original, None);
    }
    let Some(key) = key else {
        return Err(PatchError::Internal(
            "cannot merge lists without merge key for type map".to_owned(),
        ));
    };
    let item_shape = shape.item();
    let mut live = original;
    let mut items = Vec::new();
    let mut replace = false;
    for v in patch {
        match v.get(PATCH) {
            None => items.push(v.clone()),
            Some(d) => match d.as_str() {
                Some("delete") => {
                    // "Delete operation will delete all entries in the list that match the merge key."
                    let Some(target) = v.get(key) else {
                        return Err(no_merge_key(v, key));
                    };
                    live.retain(|o| o.get(key) != Some(target));
                }
                Some("replace") => replace = true,
                _ => return Err(list_directive_error(d, v)),
            },
        }
    }
    if replace {
        // "any further $patch operations nested in this list will be ignored"
        return clean_list(&items, shape);
    }
    let live_order = live.clone();
    for item in &items {
        let Some(value) = item.get(key) else {
            return Err(no_merge_key(item, key));
        };
        let item_map = item.as_object().cloned().unwrap_or_default();
        match live.iter().position(|o| o.get(key) == Some(value)) {
            Some(i) => {
                let current = live[i].as_object().cloned().unwrap_or_default();
                live[i] = Value::Object(merge_map(current, &item_map, item_shape)?.unwrap_or_default());
            }
            None => live.extend(fresh(item, &item_shape)?),
        }
    }
    let (named, live_only) = partition(live, &items, Some(key))?;
    normalize(named, live_only, &items, &live_order, Some(key))
}

/// Whether the items (of both lists) are maps; they must all be of one JSON type.
fn element_kind(a: &[Value], b: &[Value]) -> Result<bool, PatchError> {
    let mut kinds = a.iter().chain(b).map(|v| match v {
        Value::Object(_) => 0,
        Value::Array(_) => 1,
        Value::String(_) => 2,
        Value::Number(_) => 3,
        Value::Bool(_) => 4,
        Value::Null => 5,
    });
    let first = kinds.next().unwrap_or(2);
    if first == 1 {
        return Err(PatchError::Unprocessable(
            "lists of lists are not supported".to_owned(),
        ));
    }
    if kinds.any(|k| k != first) {
        return Err(PatchError::Internal(format!(
            "list element types are not identical: {:?} and {:?}",
            a, b
        )));
    }
    Ok(first == 0)
}
