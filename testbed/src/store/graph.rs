//! The garbage collector's view of the store, kept as every write happens (as
//! kube-controller-manager's `GraphBuilder` keeps its graph from informer events): objects by
//! uid, dependents by owner uid, and the objects a change concerns, which the collector's next
//! pass looks at (`attemptToDelete`'s queue). A pass then costs what changed, not the store's
//! size: at thousands of objects, a full scan after every create of a dependent held the store's
//! lock for most of the time.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::Key;
use crate::api::meta_helpers::is_deleting;

/// Objects by uid, dependents by owner uid, and what the collector must look at.
#[derive(Debug, Default)]
pub struct Graph {
    by_uid: HashMap<String, Key>,
    dependents: HashMap<String, BTreeSet<Key>>,
    dirty: BTreeSet<Key>,
}

fn uid(v: &Value) -> Option<&str> {
    v.pointer("/metadata/uid").and_then(Value::as_str)
}

/// The uids an object's owner references name.
fn owner_uids(v: &Value) -> impl Iterator<Item = &str> {
    v.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("uid").and_then(Value::as_str))
}

fn owner_refs(v: Option<&Value>) -> Option<&Value> {
    v.and_then(|v| v.pointer("/metadata/ownerReferences"))
}

/// The key of the namespace `name`.
fn namespace_key(name: &str) -> Key {
    Key {
        group: String::new(),
        plural: "namespaces".to_owned(),
        namespace: String::new(),
        name: name.to_owned(),
    }
}

impl Graph {
    /// Records that `key` went from `old` to `new` (`None`: absent) and marks what the change
    /// concerns: the object when its owner references changed or it is being deleted; its
    /// dependents when it is gone or being deleted; its owners and its namespace when they are
    /// being deleted (they wait for it). `get` reads the store after the change.
    pub fn changed<'a>(
        &mut self,
        key: &Key,
        old: Option<&Value>,
        new: Option<&Value>,
        get: impl Fn(&Key) -> Option<&'a Value>,
    ) {
        if let Some(old) = old {
            if let Some(u) = uid(old)
                && new.and_then(uid) != Some(u)
            {
                // That uid is gone: its dependents' owner is missing.
                self.by_uid.remove(u);
                if let Some(set) = self.dependents.get(u) {
                    self.dirty.extend(set.iter().cloned());
                }
            }
            for u in owner_uids(old) {
                if let Some(set) = self.dependents.get_mut(u) {
                    set.remove(key);
                    if set.is_empty() {
                        self.dependents.remove(u);
                    }
                }
            }
        }
        if let Some(new) = new {
            if let Some(u) = uid(new) {
                self.by_uid.insert(u.to_owned(), key.clone());
            }
            for u in owner_uids(new) {
                self.dependents
                    .entry(u.to_owned())
                    .or_default()
                    .insert(key.clone());
            }
            if owner_refs(old) != owner_refs(Some(new)) || is_deleting(new) {
                self.dirty.insert(key.clone());
            }
        }
        // Its dependents: their owner deletes them or lets them go.
        if let Some(new) = new
            && is_deleting(new)
            && let Some(u) = uid(new)
            && let Some(set) = self.dependents.get(u)
        {
            self.dirty.extend(set.iter().cloned());
        }
        // Owners and the namespace that may wait for it.
        let owners = old.into_iter().chain(new).flat_map(owner_uids);
        let waiting: Vec<Key> = owners
            .filter_map(|u| self.by_uid.get(u))
            .chain(
                Some(namespace_key(&key.namespace))
                    .filter(|_| !key.namespace.is_empty())
                    .as_ref(),
            )
            .filter(|k| get(k).is_some_and(is_deleting))
            .cloned()
            .collect();
        self.dirty.extend(waiting);
    }

    /// The next object to look at, taken off the list.
    pub fn next_dirty(&mut self) -> Option<Key> {
        self.dirty.pop_first()
    }

    /// The object with `uid`.
    #[must_use]
    pub fn by_uid(&self, uid: &str) -> Option<&Key> {
        self.by_uid.get(uid)
    }

    /// The objects whose owner references name `uid`.
    pub fn dependents(&self, uid: &str) -> impl Iterator<Item = &Key> {
        self.dependents.get(uid).into_iter().flatten()
    }

    /// Marks every object, as if each had changed (tests compare a pass after this with the
    /// incremental ones).
    #[cfg(test)]
    pub fn mark_all<'a>(&mut self, keys: impl Iterator<Item = &'a Key>) {
        self.dirty.extend(keys.cloned());
    }

    /// Whether the indexes are what the objects say (`objects`: every object in the store).
    #[cfg(test)]
    pub fn indexes_match<'a>(&self, objects: impl Iterator<Item = (&'a Key, &'a Value)>) -> bool {
        let mut fresh = Self::default();
        for (k, v) in objects {
            fresh.changed(k, None, Some(v), |_| None);
        }
        fresh.by_uid == self.by_uid && fresh.dependents == self.dependents
    }
}
