//! A reflector store with an index by namespace and a key drawn from each object (the
//! `ecsbridge.io/service` label of a Service's children, a TaskDefinition's family), kept as the
//! watch's events are applied: a reconcile reads its Service's pods in the time it takes to
//! read those, not in a scan of every cached pod (at 1,000 Services, the scans of the children's
//! stores were a tenth of the operator's time and grew with the square of the Services).
//!
//! The index follows the store's own rules for a (re)list: the objects of `Init`..`InitDone`
//! replace the index at `InitDone`, as they replace the store. It is updated just after the
//! store, before the event goes on to the controller, so a reconcile triggered by an event sees
//! the object in both; a lookup re-checks each object's key against the store's copy.

use std::{
    collections::{BTreeSet, HashMap},
    ops::Deref,
    sync::{Arc, PoisonError, RwLock},
};

use kube::{
    Resource,
    runtime::{
        reflector::{ObjectRef, Store},
        watcher::Event,
    },
};

/// What an object is indexed by, besides its namespace (`None`: not indexed).
pub type KeyFn<K> = fn(&K) -> Option<String>;

/// Names by (namespace, key), and each object's key.
#[derive(Debug, Default)]
struct Index {
    names: HashMap<(String, String), BTreeSet<String>>,
    keys: HashMap<(String, String), String>,
}

impl Index {
    fn put(&mut self, namespace: String, name: String, key: Option<String>) {
        self.remove(&namespace, &name);
        if let Some(key) = key {
            self.names
                .entry((namespace.clone(), key.clone()))
                .or_default()
                .insert(name.clone());
            self.keys.insert((namespace, name), key);
        }
    }

    fn remove(&mut self, namespace: &str, name: &str) {
        let object = (namespace.to_owned(), name.to_owned());
        if let Some(key) = self.keys.remove(&object) {
            let slot = (object.0, key);
            if let Some(names) = self.names.get_mut(&slot) {
                names.remove(name);
                if names.is_empty() {
                    self.names.remove(&slot);
                }
            }
        }
    }
}

/// The live index, and the one a relist is building.
#[derive(Debug, Default)]
struct Indexes {
    live: Index,
    building: Index,
}

/// A store and its index (reads as the store through `Deref`).
pub struct Indexed<K: Resource<DynamicType = ()> + Clone + 'static> {
    store: Store<K>,
    index: Arc<RwLock<Indexes>>,
    key: KeyFn<K>,
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Clone for Indexed<K> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            index: self.index.clone(),
            key: self.key,
        }
    }
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Deref for Indexed<K> {
    type Target = Store<K>;

    fn deref(&self) -> &Store<K> {
        &self.store
    }
}

/// Keeps an [`Indexed`]'s index: give it every event after the store's writer had it.
pub struct IndexWriter<K> {
    index: Arc<RwLock<Indexes>>,
    key: KeyFn<K>,
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Indexed<K> {
    /// The index of `store` by `key`, and what keeps it (fed the events `store`'s writer gets).
    #[must_use]
    pub fn new(store: Store<K>, key: KeyFn<K>) -> (Self, IndexWriter<K>) {
        let index = Arc::new(RwLock::new(Indexes::default()));
        let writer = IndexWriter {
            index: index.clone(),
            key,
        };
        (Self { store, index, key }, writer)
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Store<K> {
        &self.store
    }

    /// The objects of `namespace` whose key is `key`, by name.
    #[must_use]
    pub fn of(&self, namespace: &str, key: &str) -> Vec<Arc<K>> {
        let names: Vec<String> = {
            let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
            index
                .live
                .names
                .get(&(namespace.to_owned(), key.to_owned()))
                .map(|names| names.iter().cloned().collect())
                .unwrap_or_default()
        };
        names
            .into_iter()
            .filter_map(|name| self.store.get(&ObjectRef::new(&name).within(namespace)))
            .filter(|object| (self.key)(object).as_deref() == Some(key))
            .collect()
    }
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> IndexWriter<K> {
    /// Applies `event` to the index, as the store's writer applies it to the store.
    pub fn apply(&self, event: &Event<K>) {
        let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
        let names = |o: &K| {
            let meta = o.meta();
            (
                meta.namespace.clone().unwrap_or_default(),
                meta.name.clone().unwrap_or_default(),
            )
        };
        match event {
            Event::Apply(o) => {
                let (namespace, name) = names(o);
                index.live.put(namespace, name, (self.key)(o));
            }
            Event::Delete(o) => {
                let (namespace, name) = names(o);
                index.live.remove(&namespace, &name);
            }
            Event::Init => index.building = Index::default(),
            Event::InitApply(o) => {
                let (namespace, name) = names(o);
                index.building.put(namespace, name, (self.key)(o));
            }
            Event::InitDone => index.live = std::mem::take(&mut index.building),
        }
    }
}

/// The value of label `label` (a [`KeyFn`] body).
#[must_use]
pub fn label<K: Resource>(object: &K, label: &str) -> Option<String> {
    object.meta().labels.as_ref()?.get(label).cloned()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Pod;
    use kube::runtime::{reflector, watcher::Event};

    use super::{Indexed, label};

    fn pod(namespace: &str, name: &str, service: Option<&str>) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.namespace = Some(namespace.to_owned());
        pod.metadata.name = Some(name.to_owned());
        pod.metadata.labels = service.map(|s| [("svc".to_owned(), s.to_owned())].into());
        pod
    }

    fn names(pods: &[std::sync::Arc<Pod>]) -> Vec<String> {
        pods.iter()
            .map(|p| p.metadata.name.clone().unwrap_or_default())
            .collect()
    }

    #[test]
    fn lookups_follow_applies_deletes_relabels_and_relists() {
        let (store, mut writer) = reflector::store::<Pod>();
        let (indexed, index) = Indexed::new(store, |p: &Pod| label(p, "svc"));
        let mut apply = |event: Event<Pod>| {
            writer.apply_watcher_event(&event);
            index.apply(&event);
        };
        apply(Event::Init);
        apply(Event::InitApply(pod("a", "web-2", Some("web"))));
        apply(Event::InitApply(pod("a", "web-1", Some("web"))));
        apply(Event::InitApply(pod("b", "web-1", Some("web"))));
        apply(Event::InitApply(pod("a", "other", None)));
        // Not before the relist is done, as the store.
        assert!(indexed.of("a", "web").is_empty());
        apply(Event::InitDone);
        assert_eq!(names(&indexed.of("a", "web")), ["web-1", "web-2"]);
        assert_eq!(names(&indexed.of("b", "web")), ["web-1"]);
        // Relabelled: moves.
        apply(Event::Apply(pod("a", "web-2", Some("api"))));
        assert_eq!(names(&indexed.of("a", "web")), ["web-1"]);
        assert_eq!(names(&indexed.of("a", "api")), ["web-2"]);
        apply(Event::Delete(pod("a", "web-1", Some("web"))));
        assert!(indexed.of("a", "web").is_empty());
        // A relist replaces everything: what it does not list is gone.
        apply(Event::Init);
        apply(Event::InitApply(pod("a", "web-3", Some("web"))));
        apply(Event::InitDone);
        assert_eq!(names(&indexed.of("a", "web")), ["web-3"]);
        assert!(indexed.of("a", "api").is_empty());
        assert!(indexed.of("b", "web").is_empty());
        assert_eq!(indexed.state().len(), 1, "the store agrees");
    }
}
