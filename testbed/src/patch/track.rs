//! Field ownership of writes that are not applies (create, update, JSON, merge and strategic
//! patches), after `Updater.Update` in `sigs.k8s.io/structured-merge-diff/merge/update.go` and
//! the API server's field manager
//! (<https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management>).

use serde_json::{Map, Value};

use super::apply::untracked;
use super::fields::FieldSet;
use super::managed::{
    Entry, Managed, Operation, is_reset, managed_fields, set_managed_fields, without_managed_fields,
};
use super::shape::Shape;
use super::typed::compare;
use crate::schema::Node;

/// Field ownership for a write that is not an apply (create, update, JSON/merge/strategic
/// patch): every field `new` adds or changes relative to `old` (`None` on create) becomes
/// `manager`'s (merged into its `Update` entry for this API version and subresource) and is
/// taken from every other manager; fields `new` drops are released. Entries left empty are
/// dropped. Returns `new` with `metadata.managedFields` updated.
///
/// As upstream, a main-resource write may set `metadata.managedFields` itself: a non-empty
/// valid list replaces the tracked entries and `[]` resets them; otherwise (and always for
/// subresources) `old`'s entries are the starting point. When the objects do not fit the
/// schema, `old`'s entries are kept unchanged, as upstream does.
#[must_use]
pub fn track_update(
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    api_version: &str,
    subresource: Option<&str>,
    now: &str,
    schema: Option<Node<'_>>,
) -> Value {
    let subresource = subresource.filter(|s| !s.is_empty());
    let old_fields = old.and_then(managed_fields);
    let from_old = || Managed::decode(old_fields).unwrap_or_default();
    let mut managed = match (subresource, managed_fields(new)) {
        (Some(_), _) => from_old(),
        (None, requested) if is_reset(requested) => Managed::default(),
        (None, requested) => match Managed::decode(requested) {
            Ok(m) if !m.entries.is_empty() => m,
            _ => from_old(),
        },
    };
    let shape = Shape::root(schema);
    let old_body = old
        .map(without_managed_fields)
        .unwrap_or_else(|| Value::Object(Map::new()));
    let mut result = without_managed_fields(new);
    let Ok(cmp) = compare(&old_body, &result, shape) else {
        if let (Some(list), Some(Value::Object(meta))) = (old_fields, result.get_mut("metadata")) {
            meta.insert("managedFields".to_owned(), list.clone());
        }
        return result;
    };
    let mut changed = cmp.modified.clone();
    changed.union(&cmp.added);
    for e in &mut managed.entries {
        e.set = e.set.difference(&changed).difference(&cmp.removed);
    }
    let mine = changed.difference(&untracked());
    if !mine.is_empty() {
        let mut entry = managed
            .take(manager, Operation::Update, api_version, subresource)
            .unwrap_or_else(|| Entry {
                manager: manager.to_owned(),
                operation: Operation::Update,
                api_version: api_version.to_owned(),
                time: None,
                subresource: subresource.map(str::to_owned),
                set: FieldSet::default(),
            });
        entry.set.union(&mine);
        entry.time = Some(now.to_owned());
        managed.entries.push(entry);
    }
    set_managed_fields(&mut result, managed);
    result
}
