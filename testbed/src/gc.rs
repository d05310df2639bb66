//! The garbage collector: owner references, and the Foreground and Orphan finalizers
//! (https://kubernetes.io/docs/concepts/architecture/garbage-collection/ and
//! https://kubernetes.io/docs/concepts/overview/working-with-objects/owners-dependents/).
//!
//! - A dependent whose owners are all gone is deleted (its own finalizers still apply).
//! - A dependent with some owners gone and some alive keeps living; the dangling references are
//!   removed.
//! - An owner marked with `foregroundDeletion` has its dependents deleted; it goes once no
//!   dependent with `blockOwnerDeletion: true` remains.
//! - An owner marked with `orphan` has its references removed from its dependents, then goes.
//! - A namespace being deleted has its contents deleted, then goes.
//!
//! Owners are matched by uid; a namespaced dependent's owner must be cluster-scoped or in the
//! same namespace (a reference across namespaces is treated as unresolvable, as Kubernetes
//! does).

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use serde_json::{Value, json};

use crate::{
    api::{ApiServer, meta_helpers as meta},
    store::{Key, State},
};

const FOREGROUND: &str = "foregroundDeletion";
const ORPHAN: &str = "orphan";

/// Runs the garbage collector until the server is dropped: after every deletion or owner
/// change, and once a second.
pub fn spawn(server: &Arc<ApiServer>) -> tokio::task::JoinHandle<()> {
    let weak = Arc::downgrade(server);
    let wakeup = server.gc_wakeup.clone();
    tokio::spawn(async move {
        loop {
            let woken = wakeup.notified();
            let Some(server) = weak.upgrade() else { return };
            server.collect_garbage();
            drop(server);
            tokio::select! {
                () = woken => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    })
}

impl ApiServer {
    /// One pass of the garbage collector, repeated until nothing changes; returns how many
    /// objects it changed or deleted.
    pub fn collect_garbage(&self) -> usize {
        let mut total = 0;
        loop {
            let mut state = self.store.lock();
            let changed = pass(&mut state);
            drop(state);
            if changed == 0 {
                return total;
            }
            total += changed;
        }
    }
}

fn uid(v: &Value) -> Option<&str> {
    v.pointer("/metadata/uid").and_then(Value::as_str)
}

fn owner_refs(v: &Value) -> Vec<Value> {
    v.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// One pass over every object.
fn pass(state: &mut State) -> usize {
    let objects: Vec<(Key, Arc<Value>)> = state.all().map(|(k, v)| (k.clone(), v.clone())).collect();
    // uid → (key, object)
    let by_uid: HashMap<String, (Key, Arc<Value>)> = objects
        .iter()
        .filter_map(|(k, v)| uid(v).map(|u| (u.to_owned(), (k.clone(), v.clone()))))
        .collect();
    let resolves = |dependent: &Key, r: &Value| -> Option<(Key, Arc<Value>)> {
        let (k, v) = by_uid.get(r.get("uid").and_then(Value::as_str)?)?;
        (k.namespace.is_empty() || k.namespace == dependent.namespace).then(|| (k.clone(), v.clone()))
    };
    // Owners that still have blocking dependents.
    let mut blocked: HashSet<String> = HashSet::new();
    let mut orphaning_pending: HashSet<String> = HashSet::new();
    let mut changes = 0;
    for (key, obj) in &objects {
        let refs = owner_refs(obj);
        if refs.is_empty() {
            continue;
        }
        let mut alive = Vec::new();
        let mut dangling = false;
        let mut delete_now = false;
        for r in &refs {
            match resolves(key, r) {
                None => dangling = true,
                Some((_, owner)) => {
                    let owner_finalizers = meta::finalizers(&owner);
                    let owner_uid = uid(&owner).unwrap_or_default().to_owned();
                    if meta::is_deleting(&owner) && owner_finalizers.iter().any(|f| f == ORPHAN) {
                        orphaning_pending.insert(owner_uid);
                        dangling = true; // drop this reference
                    } else if meta::is_deleting(&owner) && owner_finalizers.iter().any(|f| f == FOREGROUND) {
                        delete_now = true;
                        if r.get("blockOwnerDeletion").and_then(Value::as_bool) == Some(true) {
                            blocked.insert(owner_uid);
                        }
                        alive.push(r.clone());
                    } else {
                        alive.push(r.clone());
                    }
                }
            }
        }
        if delete_now || alive.is_empty() {
            if !meta::is_deleting(obj) {
                changes += delete_object(state, key, obj, delete_now);
            }
            continue;
        }
        if dangling {
            let mut updated = (**obj).clone();
            meta::meta_mut(&mut updated).insert("ownerReferences".into(), json!(alive));
            state.put(key.clone(), updated);
            changes += 1;
        }
    }
    // Owners whose foreground or orphan deletion can finish.
    for (key, obj) in &objects {
        if !meta::is_deleting(obj) {
            continue;
        }
        let u = uid(obj).unwrap_or_default();
        let mut finalizers = meta::finalizers(obj);
        let before = finalizers.len();
        if finalizers.iter().any(|f| f == FOREGROUND) && !blocked.contains(u) {
            finalizers.retain(|f| f != FOREGROUND);
        }
        if finalizers.iter().any(|f| f == ORPHAN) && !orphaning_pending.contains(u) {
            finalizers.retain(|f| f != ORPHAN);
        }
        if finalizers.len() != before {
            changes += 1;
            if finalizers.is_empty() {
                state.remove(key);
            } else {
                let mut updated = (**obj).clone();
                meta::meta_mut(&mut updated).insert("finalizers".into(), json!(finalizers));
                state.put(key.clone(), updated);
            }
        }
    }
    // Namespaces being deleted: delete their contents, then the namespace.
    for (key, obj) in &objects {
        if key.group.is_empty() && key.plural == "namespaces" && meta::is_deleting(obj) {
            let contents: Vec<(Key, Arc<Value>)> = objects
                .iter()
                .filter(|(k, _)| k.namespace == key.name)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if contents.is_empty() {
                let mut finalizers = meta::finalizers(obj);
                finalizers.retain(|f| f != "kubernetes");
                if finalizers.is_empty() {
                    state.remove(key);
                    changes += 1;
                }
            } else {
                for (k, v) in contents {
                    if !meta::is_deleting(&v) {
                        changes += delete_object(state, &k, &v, false);
                    }
                }
            }
        }
    }
    changes
}

/// Deletes an object as the garbage collector does: at once when it has no finalizers, else by
/// marking it (with `foregroundDeletion` added when the owner is deleted in the foreground).
fn delete_object(state: &mut State, key: &Key, obj: &Value, foreground: bool) -> usize {
    let mut finalizers = meta::finalizers(obj);
    if foreground && !owner_refs_of_children_empty(state, obj) && !finalizers.iter().any(|f| f == FOREGROUND)
    {
        finalizers.push(FOREGROUND.to_owned());
    }
    if finalizers.is_empty() {
        state.remove(key);
        return 1;
    }
    let mut marked = obj.clone();
    let m = meta::meta_mut(&mut marked);
    m.insert("deletionTimestamp".into(), Value::String(meta::now()));
    m.insert("deletionGracePeriodSeconds".into(), json!(0));
    m.insert("finalizers".into(), json!(finalizers));
    state.put(key.clone(), marked);
    1
}

/// Whether nothing references `obj` as an owner (then foreground deletion needs no waiting).
fn owner_refs_of_children_empty(state: &State, obj: &Value) -> bool {
    let Some(u) = uid(obj) else { return true };
    !state.all().any(|(_, v)| {
        owner_refs(v)
            .iter()
            .any(|r| r.get("uid").and_then(Value::as_str) == Some(u))
    })
}
