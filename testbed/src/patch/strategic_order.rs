//! The order of merged lists in strategic merge patch, after `normalizeElementOrder`,
//! `normalizeSliceOrder` and `mergeSortedSlice` in
//! `k8s.io/apimachinery/pkg/util/strategicpatch/patch.go`.
//!
//! The preserve-order design
//! (<https://github.com/kubernetes/design-proposals-archive/blob/main/cli/preserve-order-in-strategic-merge-patch.md>)
//! orders two items by, in turn, `$setElementOrder`, the patch list and the live list. The
//! implementation interleaves: it sorts the items named by the patch (or by
//! `$setElementOrder`) in that order, sorts the live-only items in live order, then merges the
//! two, taking a live-only item first only when both items are in the live list and it comes
//! earlier there. So a live-only item keeps its place relative to the named items it preceded,
//! and an item new to the list comes before the live-only items that follow.

use serde_json::Value;

use super::PatchError;

/// What identifies an item: its merge key value for maps, the value itself for primitives.
fn id<'v>(item: &'v Value, key: Option<&str>) -> Option<&'v Value> {
    match key {
        Some(k) => item.as_object().and_then(|m| m.get(k)),
        None => Some(item),
    }
}

fn index_of(list: &[Value], item: &Value, key: Option<&str>) -> Option<usize> {
    let want = id(item, key);
    list.iter().position(|v| id(v, key) == want)
}

pub(crate) fn no_merge_key(item: &Value, key: &str) -> PatchError {
    PatchError::Internal(format!("map: {item} does not contain declared merge key: {key}"))
}

fn require_keys(items: &[Value], key: Option<&str>) -> Result<(), PatchError> {
    if let Some(k) = key
        && let Some(bad) = items.iter().find(|v| id(v, Some(k)).is_none())
    {
        return Err(no_merge_key(bad, k));
    }
    Ok(())
}

/// Splits `merged` into the items `by` names and the others, keeping their order.
pub(crate) fn partition(
    merged: Vec<Value>,
    by: &[Value],
    key: Option<&str>,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    require_keys(&merged, key)?;
    Ok(merged.into_iter().partition(|v| index_of(by, v, key).is_some()))
}

/// Sorts `items` by their position in `order` (stable; items not in `order` go last).
fn sort_by_order(
    mut items: Vec<Value>,
    order: &[Value],
    key: Option<&str>,
) -> Result<Vec<Value>, PatchError> {
    require_keys(&items, key)?;
    require_keys(order, key)?;
    items.sort_by_key(|v| index_of(order, v, key).map_or((1, 0), |i| (0, i)));
    Ok(items)
}

/// The final order of a merged list: `named` are the items the patch (or `$setElementOrder`)
/// names, in `named_order`; `live_only` the others, in `live_order`.
pub(crate) fn normalize(
    named: Vec<Value>,
    live_only: Vec<Value>,
    named_order: &[Value],
    live_order: &[Value],
    key: Option<&str>,
) -> Result<Vec<Value>, PatchError> {
    let right = sort_by_order(named, named_order, key)?;
    let left = sort_by_order(live_only, live_order, key)?;
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut left, mut right) = (left.into_iter().peekable(), right.into_iter().peekable());
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => {
                matches!((index_of(live_order, l, key), index_of(live_order, r, key)), (Some(a), Some(b)) if a < b)
            }
        };
        out.extend(if take_left { left.next() } else { right.next() });
    }
    Ok(out)
}

/// Checks that the patch list names its items in the relative order of `$setElementOrder`
/// and only items it lists (deletions and other directive items aside).
pub(crate) fn validate_set_order(
    patch: &[Value],
    order: &[Value],
    key: Option<&str>,
) -> Result<(), PatchError> {
    let is_directive = |v: &Value| v.as_object().is_some_and(|m| m.contains_key("$patch"));
    let items: Vec<&Value> = patch
        .iter()
        .filter(|v| key.is_none() || !is_directive(v))
        .collect();
    let (mut p, mut o) = (0, 0);
    while p < items.len() && o < order.len() {
        if is_directive(items[p]) {
            p += 1;
            continue;
        }
        if let Some(k) = key {
            if id(items[p], Some(k)).is_none() {
                return Err(no_merge_key(items[p], k));
            }
            if id(&order[o], Some(k)).is_none() {
                return Err(no_merge_key(&order[o], k));
            }
        }
        if id(items[p], key) == id(&order[o], key) {
            p += 1;
        }
        o += 1;
    }
    if p < items.len() && !order.is_empty() {
        let list = |l: &[&Value]| l.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        return Err(PatchError::Internal(format!(
            "The order in patch list [{}] doesn't match $setElementOrder list [{}]",
            list(&items),
            list(&order.iter().collect::<Vec<_>>())
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn vals(v: Value) -> Vec<Value> {
        v.as_array().expect("list").clone()
    }

    #[test]
    fn interleaves_like_upstream() {
        // Live C B D A E, $setElementOrder A B: D stays after C and before A, E after B.
        let live = vals(json!(["C", "B", "D", "A", "E"]));
        let (named, live_only) = partition(live.clone(), &vals(json!(["A", "B"])), None).expect("partition");
        let out = normalize(named, live_only, &vals(json!(["A", "B"])), &live, None).expect("order");
        assert_eq!(out, vals(json!(["C", "D", "A", "B", "E"])));
        // An item new to the list comes before live-only items.
        let out = normalize(
            vals(json!(["c"])),
            vals(json!(["a", "b"])),
            &vals(json!(["c"])),
            &vals(json!(["a", "b"])),
            None,
        )
        .expect("order");
        assert_eq!(out, vals(json!(["c", "a", "b"])));
    }

    #[test]
    fn validates_order_and_keys() {
        let order = vals(json!([{"name": "a"}, {"name": "b"}]));
        assert!(
            validate_set_order(&vals(json!([{"name": "a"}, {"name": "b"}])), &order, Some("name")).is_ok()
        );
        assert!(
            validate_set_order(&vals(json!([{"name": "b"}, {"name": "a"}])), &order, Some("name")).is_err()
        );
        assert!(
            validate_set_order(
                &vals(json!([{"name": "z", "$patch": "delete"}])),
                &order,
                Some("name")
            )
            .is_ok()
        );
        assert!(validate_set_order(&vals(json!([{"image": "x"}])), &order, Some("name")).is_err());
    }
}
