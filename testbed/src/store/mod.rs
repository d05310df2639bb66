//! Object storage with resourceVersions and a change log for watches.
//!
//! Every write takes the next resourceVersion from one global counter, as etcd's revision does;
//! the change log keeps the most recent events so a watch can resume from a resourceVersion, and
//! answers "410 Gone" for one older than the log holds
//! (https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes).

pub mod graph;
pub mod selector;

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
};

use serde_json::Value;
use tokio::sync::broadcast;

/// Where an object is stored: its group, resource (plural), namespace (`""` when
/// cluster-scoped) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// API group.
    pub group: String,
    /// Plural resource name.
    pub plural: String,
    /// Namespace, or `""`.
    pub namespace: String,
    /// Object name.
    pub name: String,
}

impl Key {
    /// The end of the object's etcd key: `<namespace>/<name>`, or `<name>` when cluster-scoped.
    /// Lists come in the order of these (as strings) and continue tokens point into it.
    #[must_use]
    pub fn etcd_suffix(&self) -> String {
        if self.namespace.is_empty() {
            self.name.clone()
        } else {
            format!("{}/{}", self.namespace, self.name)
        }
    }
}

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Created.
    Added,
    /// Changed.
    Modified,
    /// Removed.
    Deleted,
}

impl EventType {
    /// The watch event type string.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change, as watches see it.
#[derive(Debug, Clone)]
pub struct Event {
    /// The resourceVersion of the change.
    pub rv: u64,
    /// What happened.
    pub kind: EventType,
    /// Which object.
    pub key: Key,
    /// The object after the change (before it, for deletions, with the deletion's
    /// resourceVersion).
    pub object: Arc<Value>,
    /// The object before a modification or deletion (to tell when it starts or stops matching a
    /// selector, and to rebuild past states for lists at an older resourceVersion).
    pub previous: Option<Arc<Value>>,
}

/// Receives every event from the moment it subscribed.
pub type EventReceiver = broadcast::Receiver<Arc<Event>>;

/// The answer when a watch asks for a resourceVersion older than the log holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gone {
    /// The oldest resourceVersion a watch can still start from.
    pub oldest: u64,
}

/// The state behind the lock.
#[derive(Debug)]
pub struct State {
    rv: u64,
    objects: BTreeMap<Key, Arc<Value>>,
    log: VecDeque<Arc<Event>>,
    /// Events with rv <= this are no longer in the log.
    compacted: u64,
    capacity: usize,
    tx: broadcast::Sender<Arc<Event>>,
    /// The garbage collector's graph, kept at every write.
    graph: graph::Graph,
}

/// The object store.
#[derive(Debug)]
pub struct Store {
    state: Mutex<State>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new(10_000)
    }
}

impl Store {
    /// A store whose change log keeps `capacity` events.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(65_536);
        Self {
            state: Mutex::new(State {
                rv: 1,
                objects: BTreeMap::new(),
                log: VecDeque::new(),
                compacted: 1,
                capacity,
                tx,
                graph: graph::Graph::default(),
            }),
        }
    }

    /// Locks the store for a read-modify-write.
    ///
    /// # Panics
    /// If a previous holder panicked.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("store lock poisoned")
    }
}

impl State {
    /// The current resourceVersion (of the latest write).
    #[must_use]
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    /// An object.
    #[must_use]
    pub fn get(&self, key: &Key) -> Option<Arc<Value>> {
        self.objects.get(key).cloned()
    }

    /// Objects of a resource, in a namespace or all of them, in the order of their etcd keys
    /// (`<namespace>/<name>` compared as strings, which is what the API server's lists follow;
    /// `p-q/x` comes before `p/x`).
    #[must_use]
    pub fn list(&self, group: &str, plural: &str, namespace: Option<&str>) -> Vec<(Key, Arc<Value>)> {
        let mut out: Vec<(Key, Arc<Value>)> = self
            .objects
            .iter()
            .filter(|(k, _)| {
                k.group == group && k.plural == plural && namespace.is_none_or(|n| k.namespace == n)
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.sort_by_cached_key(|(k, _)| k.etcd_suffix());
        out
    }

    /// Objects of a resource as they were at resourceVersion `rv` (after the write that took
    /// `rv`), rebuilt from the change log, in etcd key order; what a paginated list's later pages
    /// and a list with `resourceVersionMatch=Exact` serve.
    ///
    /// # Errors
    /// [`Gone`] when the log no longer reaches back to `rv` (it was compacted), or `rv` is in
    /// the future.
    pub fn snapshot(
        &self,
        rv: u64,
        group: &str,
        plural: &str,
        namespace: Option<&str>,
    ) -> Result<Vec<(Key, Arc<Value>)>, Gone> {
        if rv < self.compacted || rv > self.rv {
            return Err(Gone {
                oldest: self.compacted,
            });
        }
        let mut objects: BTreeMap<Key, Arc<Value>> =
            self.list(group, plural, namespace).into_iter().collect();
        for e in self.log.iter().rev().take_while(|e| e.rv > rv) {
            if e.key.group != group
                || e.key.plural != plural
                || namespace.is_some_and(|n| e.key.namespace != n)
            {
                continue;
            }
            match (e.kind, &e.previous) {
                (EventType::Added, _) => {
                    objects.remove(&e.key);
                }
                (EventType::Modified | EventType::Deleted, Some(before)) => {
                    objects.insert(e.key.clone(), before.clone());
                }
                (EventType::Modified | EventType::Deleted, None) => {}
            }
        }
        let mut out: Vec<(Key, Arc<Value>)> = objects.into_iter().collect();
        out.sort_by_cached_key(|(k, _)| k.etcd_suffix());
        Ok(out)
    }

    /// The garbage collector's graph.
    #[must_use]
    pub fn graph(&self) -> &graph::Graph {
        &self.graph
    }

    /// The next object a change concerns for the garbage collector, taken off its list.
    pub fn next_for_gc(&mut self) -> Option<Key> {
        self.graph.next_dirty()
    }

    /// Has the garbage collector look at every object (tests: a full pass after the incremental
    /// ones must change nothing).
    #[cfg(test)]
    pub fn mark_all_for_gc(&mut self) {
        self.graph.mark_all(self.objects.keys());
    }

    /// Whether the garbage collector's graph is what the objects say.
    #[cfg(test)]
    #[must_use]
    pub fn graph_matches(&self) -> bool {
        self.graph
            .indexes_match(self.objects.iter().map(|(k, v)| (k, &**v)))
    }

    /// Every object (for namespace deletion).
    pub fn all(&self) -> impl Iterator<Item = (&Key, &Arc<Value>)> {
        self.objects.iter()
    }

    /// Stores `object` under `key` with the next resourceVersion, which it returns.
    pub fn put(&mut self, key: Key, mut object: Value) -> Arc<Value> {
        self.rv += 1;
        set_rv(&mut object, self.rv);
        let object = Arc::new(object);
        let previous = self.objects.insert(key.clone(), object.clone());
        let objects = &self.objects;
        self.graph.changed(&key, previous.as_deref(), Some(&object), |k| {
            objects.get(k).map(|v| &**v)
        });
        let kind = if previous.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.record(kind, key, object.clone(), previous);
        object
    }

    /// Removes an object; the DELETED event carries the next resourceVersion.
    pub fn remove(&mut self, key: &Key) -> Option<Arc<Value>> {
        let old = self.objects.remove(key)?;
        let objects = &self.objects;
        self.graph
            .changed(key, Some(&old), None, |k| objects.get(k).map(|v| &**v));
        self.rv += 1;
        let mut last = (*old).clone();
        set_rv(&mut last, self.rv);
        let last = Arc::new(last);
        self.record(EventType::Deleted, key.clone(), last.clone(), Some(old));
        Some(last)
    }

    fn record(&mut self, kind: EventType, key: Key, object: Arc<Value>, previous: Option<Arc<Value>>) {
        let event = Arc::new(Event {
            rv: self.rv,
            kind,
            key,
            object,
            previous,
        });
        self.log.push_back(event.clone());
        while self.log.len() > self.capacity {
            if let Some(e) = self.log.pop_front() {
                self.compacted = e.rv;
            }
        }
        // No receivers is fine: nobody is watching.
        let _ = self.tx.send(event);
    }

    /// Events after `rv` for `group`/`plural`, and a receiver for later ones (taken under the
    /// same lock, so none is missed or repeated).
    ///
    /// # Errors
    /// [`Gone`] when `rv` is older than the log holds.
    pub fn watch_from(
        &self,
        rv: u64,
        group: &str,
        plural: &str,
    ) -> Result<(Vec<Arc<Event>>, EventReceiver), Gone> {
        if rv < self.compacted {
            return Err(Gone {
                oldest: self.compacted,
            });
        }
        let past = self
            .log
            .iter()
            .filter(|e| e.rv > rv && e.key.group == group && e.key.plural == plural)
            .cloned()
            .collect();
        Ok((past, self.tx.subscribe()))
    }

    /// A receiver for events from now on.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }

    /// Forgets the change log, as etcd compaction does: watches from any earlier
    /// resourceVersion get 410 Gone.
    pub fn compact(&mut self) {
        self.log.clear();
        self.compacted = self.rv;
    }
}

fn set_rv(object: &mut Value, rv: u64) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".to_owned(), Value::String(rv.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn key(name: &str) -> Key {
        Key {
            group: "apps".into(),
            plural: "deployments".into(),
            namespace: "default".into(),
            name: name.into(),
        }
    }

    #[test]
    fn writes_take_increasing_resource_versions_and_are_logged() {
        let store = Store::new(100);
        let mut s = store.lock();
        let a = s.put(key("a"), json!({"metadata": {"name": "a"}}));
        let b = s.put(key("a"), json!({"metadata": {"name": "a"}, "spec": {}}));
        assert_eq!(a["metadata"]["resourceVersion"], "2");
        assert_eq!(b["metadata"]["resourceVersion"], "3");
        let gone = s.remove(&key("a")).expect("removed");
        assert_eq!(gone["metadata"]["resourceVersion"], "4");
        let (events, _) = s.watch_from(2, "apps", "deployments").expect("in the log");
        let kinds: Vec<_> = events.iter().map(|e| (e.kind, e.rv)).collect();
        assert_eq!(kinds, vec![(EventType::Modified, 3), (EventType::Deleted, 4)]);
    }

    #[test]
    fn snapshots_rebuild_past_states_until_compacted() {
        let store = Store::new(100);
        let mut s = store.lock();
        s.put(key("a"), json!({"metadata": {"name": "a"}, "v": 1}));
        s.put(key("b"), json!({"metadata": {"name": "b"}}));
        let at = s.resource_version();
        s.put(key("a"), json!({"metadata": {"name": "a"}, "v": 2}));
        s.remove(&key("b"));
        s.put(key("c"), json!({"metadata": {"name": "c"}}));
        let past = s.snapshot(at, "apps", "deployments", None).expect("in the log");
        let names: Vec<(&str, Option<&Value>)> =
            past.iter().map(|(k, v)| (k.name.as_str(), v.get("v"))).collect();
        assert_eq!(names, [("a", Some(&json!(1))), ("b", None)]);
        assert_eq!(past[1].1["metadata"]["resourceVersion"], at.to_string());
        assert_eq!(
            s.snapshot(s.resource_version(), "apps", "deployments", None)
                .expect("now")
                .len(),
            2
        );
        s.compact();
        assert!(s.snapshot(at, "apps", "deployments", None).is_err());
    }

    #[test]
    fn lists_follow_etcd_key_order() {
        let store = Store::new(100);
        let mut s = store.lock();
        for ns in ["p", "p-q"] {
            let k = Key {
                namespace: ns.into(),
                ..key("x")
            };
            s.put(k, json!({"metadata": {}}));
        }
        let order: Vec<String> = s
            .list("apps", "deployments", None)
            .iter()
            .map(|(k, _)| k.etcd_suffix())
            .collect();
        assert_eq!(order, ["p-q/x", "p/x"]);
    }

    #[test]
    fn too_old_resource_versions_are_gone() {
        let store = Store::new(2);
        let mut s = store.lock();
        for i in 0..5 {
            s.put(key(&format!("o{i}")), json!({"metadata": {}}));
        }
        assert_eq!(
            s.watch_from(1, "apps", "deployments").err(),
            Some(Gone { oldest: 4 })
        );
        assert!(s.watch_from(4, "apps", "deployments").is_ok());
        s.compact();
        assert!(s.watch_from(5, "apps", "deployments").is_err());
        assert!(s.watch_from(6, "apps", "deployments").is_ok());
    }
}
