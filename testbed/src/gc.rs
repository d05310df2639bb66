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

use std::{sync::Arc, time::Duration};

use serde_json::{Value, json};

use crate::{
    api::{ApiServer, meta_helpers as meta},
    store::{Key, State},
};

const FOREGROUND: &str = "foregroundDeletion";
const ORPHAN: &str = "orphan";

/// Runs the garbage collector until the server is dropped: after every deletion or owner
/// change, and once a second. Each pass looks at the objects the writes since the last one
/// concern (the store's [`Graph`](crate::store::graph::Graph)), not at every object.
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

/// One pass: every object a change concerns (the store's graph lists them as writes happen),
/// until no change concerns another.
fn pass(state: &mut State) -> usize {
    let mut changes = 0;
    while let Some(key) = state.next_for_gc() {
        let Some(obj) = state.get(&key) else { continue };
        changes += attempt_to_delete(state, &key, &obj);
        let Some(obj) = state.get(&key) else { continue };
        if !meta::is_deleting(&obj) {
            continue;
        }
        changes += finish_deletion(state, &key, &obj);
        if is_namespace(&key)
            && let Some(ns) = state.get(&key)
        {
            changes += delete_namespace(state, &key, &ns);
        }
    }
    changes
}

/// A dependent, by what its owners are: the classification of `attemptToDeleteItem`
/// (pkg/controller/garbagecollector): owners that exist and are not deleting their dependents
/// are "solid", missing ones "dangling", those being deleted in the foreground "waiting for
/// dependents"; those being deleted with `orphan` have their references removed
/// (`orphanDependents`).
fn attempt_to_delete(state: &mut State, key: &Key, obj: &Value) -> usize {
    let refs = owner_refs(obj);
    if refs.is_empty() {
        return 0;
    }
    // A namespaced dependent's owner must be cluster-scoped or in its namespace.
    let resolves = |state: &State, r: &Value| -> Option<Arc<Value>> {
        let k = state.graph().by_uid(r.get("uid").and_then(Value::as_str)?)?;
        if k.namespace.is_empty() || k.namespace == key.namespace {
            state.get(k)
        } else {
            None
        }
    };
    let (mut solid, mut dangling, mut waiting, mut orphaning) = (0, 0, Vec::new(), 0);
    let mut keep = Vec::new();
    for r in &refs {
        match resolves(state, r) {
            None => dangling += 1,
            Some(owner) => {
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
            return set_owner_refs(state, key, obj, alive);
        }
        0
    } else if !waiting.is_empty() {
        // Deleted (in the foreground when it has dependents of its own); its owners wait
        // for it while its reference blocks them.
        if meta::is_deleting(obj) {
            0
        } else {
            delete_object(state, key, obj, true)
        }
    } else if dangling > 0 {
        // Every owner is gone: collected, as its own finalizers allow.
        if meta::is_deleting(obj) {
            0
        } else {
            delete_object(state, key, obj, false)
        }
    } else if orphaning > 0 {
        // Only orphaning owners: the dependent lives on without them.
        set_owner_refs(state, key, obj, keep)
    } else {
        0
    }
}

/// An owner whose foreground or orphan deletion can finish: a foreground deletion waits while
/// a dependent's reference says `blockOwnerDeletion: true`, an orphaning one while any
/// dependent still references it.
fn finish_deletion(state: &mut State, key: &Key, obj: &Value) -> usize {
    let u = uid(obj).unwrap_or_default();
    let mut referenced = false;
    let mut blocked = false;
    for k in state.graph().dependents(u) {
        referenced = true;
        let Some(dependent) = state.get(k) else { continue };
        blocked |= owner_refs(&dependent).iter().any(|r| {
            r.get("uid").and_then(Value::as_str) == Some(u)
                && r.get("blockOwnerDeletion").and_then(Value::as_bool) == Some(true)
        });
    }
    let mut finalizers = meta::finalizers(obj);
    let before = finalizers.len();
    if finalizers.iter().any(|f| f == FOREGROUND) && !blocked {
        finalizers.retain(|f| f != FOREGROUND);
    }
    if finalizers.iter().any(|f| f == ORPHAN) && !referenced {
        finalizers.retain(|f| f != ORPHAN);
    }
    if finalizers.len() == before {
        return 0;
    }
    let namespace_pending = is_namespace(key) && !meta::spec_finalizers(obj).is_empty();
    if finalizers.is_empty() && !namespace_pending {
        state.remove(key);
    } else {
        let mut updated = obj.clone();
        meta::meta_mut(&mut updated).insert("finalizers".into(), json!(finalizers));
        state.put(key.clone(), updated);
    }
    1
}

/// A namespace being deleted: the namespace controller deletes its contents, then removes
/// `kubernetes` from `spec.finalizers`; the namespace goes once no finalizer is left
/// (https://kubernetes.io/docs/tasks/administer-cluster/namespaces/#deleting-a-namespace).
/// Each change of its contents brings it back here (the graph marks it).
fn delete_namespace(state: &mut State, key: &Key, ns: &Value) -> usize {
    let contents: Vec<(Key, Arc<Value>)> = state
        .all()
        .filter(|(k, _)| k.namespace == key.name)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !contents.is_empty() {
        let mut changes = 0;
        for (k, v) in contents {
            if !meta::is_deleting(&v) {
                changes += delete_object(state, &k, &v, false);
            }
        }
        return changes;
    }
    let mut spec_finalizers = meta::spec_finalizers(ns);
    let had_kubernetes = spec_finalizers.iter().any(|f| f == "kubernetes");
    spec_finalizers.retain(|f| f != "kubernetes");
    if spec_finalizers.is_empty() && meta::finalizers(ns).is_empty() {
        state.remove(key);
        1
    } else if had_kubernetes {
        let mut updated = ns.clone();
        updated["spec"]["finalizers"] = json!(spec_finalizers);
        state.put(key.clone(), updated);
        1
    } else {
        0
    }
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
    state.graph().dependents(u).next().is_none()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{Value, json};

    use super::{FOREGROUND, ORPHAN, pass};
    use crate::store::{Key, State, Store};

    /// xorshift64: the same sequence every run.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            usize::try_from(self.0 % n as u64).expect("small")
        }
    }

    /// Every object, without its resourceVersion.
    fn contents(state: &State) -> BTreeMap<Key, Value> {
        state
            .all()
            .map(|(k, v)| {
                let mut v = (**v).clone();
                if let Some(m) = v["metadata"].as_object_mut() {
                    m.remove("resourceVersion");
                }
                (k.clone(), v)
            })
            .collect()
    }

    fn key(plural: &str, namespace: &str, name: &str) -> Key {
        Key {
            group: String::new(),
            plural: plural.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// The law of the incremental collector: after its passes, which look only at what the
    /// writes concerned, a pass over every object changes nothing (the two reach the same
    /// state), and its indexes are what the objects say. Random writes of owners, dangling
    /// owners, blocking references, foreground and orphan deletions and namespace deletions.
    #[test]
    fn incremental_passes_reach_what_a_full_pass_would() {
        let store = Store::new(100_000);
        let mut state = store.lock();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut next_uid = 0;
        let namespaces = ["a", "b"];
        for round in 0..2_000 {
            for _ in 0..1 + rng.below(6) {
                let live: Vec<(Key, String)> = state
                    .all()
                    .filter_map(|(k, v)| Some((k.clone(), v.pointer("/metadata/uid")?.as_str()?.to_owned())))
                    .collect();
                match rng.below(10) {
                    0..=5 => {
                        let ns = namespaces[rng.below(2)];
                        let name = format!("cm-{}", rng.below(24));
                        let k = key("configmaps", ns, &name);
                        let uid = match state.get(&k) {
                            Some(v) if rng.below(4) > 0 => {
                                v["metadata"]["uid"].as_str().unwrap_or_default().to_owned()
                            }
                            _ => {
                                next_uid += 1;
                                format!("u{next_uid}")
                            }
                        };
                        let refs: Vec<Value> = (0..rng.below(3))
                            .map(|_| {
                                let owner = if live.is_empty() || rng.below(5) == 0 {
                                    format!("missing-{}", rng.below(3))
                                } else {
                                    live[rng.below(live.len())].1.clone()
                                };
                                json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": owner,
                                       "blockOwnerDeletion": rng.below(2) == 0})
                            })
                            .collect();
                        let finalizers: Vec<&str> = [FOREGROUND, ORPHAN, "example.com/keep"]
                            .into_iter()
                            .filter(|_| rng.below(4) == 0)
                            .collect();
                        let mut metadata = json!({"name": name, "namespace": ns, "uid": uid});
                        if !refs.is_empty() {
                            metadata["ownerReferences"] = json!(refs);
                        }
                        if !finalizers.is_empty() {
                            metadata["finalizers"] = json!(finalizers);
                            if rng.below(3) == 0 {
                                metadata["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
                            }
                        }
                        state.put(k, json!({"metadata": metadata}));
                    }
                    6..=7 => {
                        if !live.is_empty() {
                            let (k, _) = &live[rng.below(live.len())];
                            state.remove(k);
                        }
                    }
                    8 => {
                        let ns = namespaces[rng.below(2)];
                        next_uid += 1;
                        let deleting = rng.below(3) == 0;
                        let mut metadata = json!({"name": ns, "uid": format!("u{next_uid}")});
                        if deleting {
                            metadata["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
                        }
                        state.put(
                            key("namespaces", "", ns),
                            json!({"metadata": metadata, "spec": {"finalizers": ["kubernetes"]}}),
                        );
                    }
                    _ => {
                        pass(&mut state);
                    }
                }
                assert!(
                    state.graph_matches(),
                    "round {round}: the graph's indexes drifted"
                );
            }
            pass(&mut state);
            let before = contents(&state);
            state.mark_all_for_gc();
            pass(&mut state);
            let after = contents(&state);
            let changed: Vec<&Key> = before
                .iter()
                .filter(|(k, v)| after.get(*k) != Some(v))
                .map(|(k, _)| k)
                .chain(after.keys().filter(|k| !before.contains_key(*k)))
                .collect();
            assert!(
                changed.is_empty(),
                "round {round}: a full pass changed what the incremental ones left: {changed:?}"
            );
        }
        assert!(next_uid > 2_000, "the rounds wrote objects");
    }
}
