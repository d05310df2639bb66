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

fn is_namespace(key: &Key) -> bool {
    key.group.is_empty() && key.plural == "namespaces"
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
    let mut changes = 0;
    for (key, obj) in &objects {
        let refs = owner_refs(obj);
        if refs.is_empty() {
            continue;
        }
        // The classification of `attemptToDeleteItem` (pkg/controller/garbagecollector): owners
        // that exist and are not deleting their dependents are "solid", missing ones
        // "dangling", those being deleted in the foreground "waiting for dependents"; those
        // being deleted with `orphan` have their references removed (`orphanDependents`).
        let (mut solid, mut dangling, mut waiting, mut orphaning) = (0, 0, Vec::new(), 0);
        let mut keep = Vec::new();
        for r in &refs {
            match resolves(key, r) {
                None => dangling += 1,
                Some((_, owner)) => {
                    let owner_finalizers = meta::finalizers(&owner);
                    let owner_uid = uid(&owner).unwrap_or_default().to_owned();
                    if meta::is_deleting(&owner) && owner_finalizers.iter().any(|f| f == ORPHAN) {
                        orphaning += 1;
                    } else if meta::is_deleting(&owner) && owner_finalizers.iter().any(|f| f == FOREGROUND) {
                        waiting.push(owner_uid);
                        keep.push(r.clone());
                    } else {
                        solid += 1;
                        keep.push(r.clone());
                    }
                }
            }
        }
        if solid > 0 {
            // A live owner keeps the dependent; references to missing owners, owners waiting
            // for their dependents and orphaning owners are removed.
            if dangling + waiting.len() + orphaning > 0 {
                let alive: Vec<Value> = keep
                    .into_iter()
                    .filter(|r| {
                        !waiting
                            .iter()
                            .any(|u| r.get("uid").and_then(Value::as_str) == Some(u.as_str()))
                    })
                    .collect();
                changes += set_owner_refs(state, key, obj, alive);
            }
        } else if !waiting.is_empty() {
            // Deleted (in the foreground when it has dependents of its own); its owners wait
            // for it while its reference blocks them.
            if !meta::is_deleting(obj) {
                changes += delete_object(state, key, obj, true);
            }
        } else if dangling > 0 {
            // Every owner is gone: collected, as its own finalizers allow.
            if !meta::is_deleting(obj) {
                changes += delete_object(state, key, obj, false);
            }
        } else if orphaning > 0 {
            // Only orphaning owners: the dependent lives on without them.
            changes += set_owner_refs(state, key, obj, keep);
        }
    }
    // Owners whose foreground or orphan deletion can finish, judged on the state as the loop
    // above left it: a foreground deletion waits while a dependent's reference says
    // `blockOwnerDeletion: true`, an orphaning one while any dependent still references it.
    let mut blocked: HashSet<String> = HashSet::new();
    let mut orphaning_pending: HashSet<String> = HashSet::new();
    for (_, v) in state.all() {
        for r in owner_refs(v) {
            let Some(u) = r.get("uid").and_then(Value::as_str) else {
                continue;
            };
            orphaning_pending.insert(u.to_owned());
            if r.get("blockOwnerDeletion").and_then(Value::as_bool) == Some(true) {
                blocked.insert(u.to_owned());
            }
        }
    }
    for (key, _) in &objects {
        let Some(obj) = state.get(key) else { continue };
        if !meta::is_deleting(&obj) {
            continue;
        }
        let u = uid(&obj).unwrap_or_default();
        let mut finalizers = meta::finalizers(&obj);
        let before = finalizers.len();
        if finalizers.iter().any(|f| f == FOREGROUND) && !blocked.contains(u) {
            finalizers.retain(|f| f != FOREGROUND);
        }
        if finalizers.iter().any(|f| f == ORPHAN) && !orphaning_pending.contains(u) {
            finalizers.retain(|f| f != ORPHAN);
        }
        if finalizers.len() != before {
            changes += 1;
            let namespace_pending = is_namespace(key) && !meta::spec_finalizers(&obj).is_empty();
            if finalizers.is_empty() && !namespace_pending {
                state.remove(key);
            } else {
                let mut updated = (*obj).clone();
                meta::meta_mut(&mut updated).insert("finalizers".into(), json!(finalizers));
                state.put(key.clone(), updated);
            }
        }
    }
    // Namespaces being deleted: the namespace controller deletes their contents, then removes
    // `kubernetes` from `spec.finalizers`; the namespace goes once no finalizer is left
    // (https://kubernetes.io/docs/tasks/administer-cluster/namespaces/#deleting-a-namespace).
    for (key, _) in &objects {
        if !is_namespace(key) {
            continue;
        }
        let Some(ns) = state.get(key) else { continue };
        if !meta::is_deleting(&ns) {
            continue;
        }
        let contents: Vec<(Key, Arc<Value>)> = state
            .all()
            .filter(|(k, _)| k.namespace == key.name)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !contents.is_empty() {
            for (k, v) in contents {
                if !meta::is_deleting(&v) {
                    changes += delete_object(state, &k, &v, false);
                }
            }
            continue;
        }
        let mut spec_finalizers = meta::spec_finalizers(&ns);
        let had_kubernetes = spec_finalizers.iter().any(|f| f == "kubernetes");
        spec_finalizers.retain(|f| f != "kubernetes");
        if spec_finalizers.is_empty() && meta::finalizers(&ns).is_empty() {
            state.remove(key);
            changes += 1;
        } else if had_kubernetes {
            let mut updated = (*ns).clone();
            updated["spec"]["finalizers"] = json!(spec_finalizers);
            state.put(key.clone(), updated);
            changes += 1;
        }
    }
    changes
}

/// Replaces an object's owner references (removing the field when none are left).
fn set_owner_refs(state: &mut State, key: &Key, obj: &Value, refs: Vec<Value>) -> usize {
    let mut updated = obj.clone();
    let m = meta::meta_mut(&mut updated);
    if refs.is_empty() {
        m.remove("ownerReferences");
    } else {
        m.insert("ownerReferences".into(), json!(refs));
    }
    state.put(key.clone(), updated);
    1
}

/// Deletes an object as the garbage collector does: at once when it has no finalizers, else by
/// marking it (with `foregroundDeletion` added when the owner is deleted in the foreground).
fn delete_object(state: &mut State, key: &Key, obj: &Value, foreground: bool) -> usize {
    let mut finalizers = meta::finalizers(obj);
    if foreground && !owner_refs_of_children_empty(state, obj) && !finalizers.iter().any(|f| f == FOREGROUND)
    {
        finalizers.push(FOREGROUND.to_owned());
    }
    let namespace_pending = is_namespace(key) && !meta::spec_finalizers(obj).is_empty();
    if finalizers.is_empty() && !namespace_pending {
        state.remove(key);
        return 1;
    }
    let mut marked = obj.clone();
    let generation = meta::generation(obj);
    let m = meta::meta_mut(&mut marked);
    m.insert("deletionTimestamp".into(), Value::String(meta::now()));
    m.insert("deletionGracePeriodSeconds".into(), json!(0));
    // As the API server's `BeforeDelete` does for objects that track a generation.
    if generation > 0 {
        m.insert("generation".into(), json!(generation + 1));
    }
    if finalizers.is_empty() {
        m.remove("finalizers");
    } else {
        m.insert("finalizers".into(), json!(finalizers));
    }
    if namespace_pending {
        marked["status"]["phase"] = json!("Terminating");
    }
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
