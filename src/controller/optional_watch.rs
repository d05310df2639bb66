//! Watches of the optional kinds the operator writes (TargetGroupBindings, ExternalSecrets,
//! KEDA ScaledObjects, Karpenter NodePools): a watch of a kind starts once discovery finds the
//! kind served ([`super::served::Served::served_and_watched`]) and stops when the API server
//! answers it with a 404 (its CRD deleted), so that an unchanged object of such a kind costs no
//! request at rest, and a cluster without the component costs no failing watch.
//!
//! Only the objects labelled as ecs-bridge's are cached (as for every child), one store per
//! watched scope (every namespace, or each namespace `run` watches; a cluster-scoped kind is
//! watched whole). A lookup answers only from a store that has listed: before that, and for a
//! kind not watched, the caller reads the object ([`super::served::Served::live`]).

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use futures::StreamExt;
use kube::{
    Api, Client,
    api::{ApiResource, DynamicObject},
    runtime::{
        WatchStreamExt,
        reflector::{ObjectRef, Store, store::Writer},
        watcher::{self, watcher},
    },
};

use super::caches::managed_by;

/// A kind, by `apiVersion` and plural.
type Kind = (String, String);

/// The running watches of the optional kinds, and the scopes to watch.
#[derive(Debug, Default)]
pub struct OptionalWatches {
    /// The namespaces `run` watches (empty: every namespace); `None` until `run` enables the
    /// watches (a reconcile outside the controllers, as in unit tests, reads each object).
    namespaces: Mutex<Option<Vec<String>>>,
    /// The watches running, by kind.
    running: Arc<Mutex<HashMap<Kind, Arc<Running>>>>,
    /// The number of the next watch started (so that a stopped watch removes only itself).
    next: AtomicU64,
}

/// The watch of one kind: a store per scope, each with whether it has listed, and its tasks.
#[derive(Debug)]
struct Running {
    id: u64,
    stores: Vec<Scoped>,
    tasks: Vec<tokio::task::AbortHandle>,
}

/// The store of one scope (`None`: every namespace, or a cluster-scoped kind).
#[derive(Debug)]
struct Scoped {
    namespace: Option<String>,
    store: Store<DynamicObject>,
    listed: Arc<AtomicBool>,
}

impl Drop for Running {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl OptionalWatches {
    /// Enables the watches, of `namespaces` (empty: every namespace); the watches already
    /// running keep their scopes.
    pub fn enable(&self, namespaces: Vec<String>) {
        *self.namespaces.lock().unwrap_or_else(PoisonError::into_inner) = Some(namespaces);
    }

    /// Starts the watch of `ar` (namespaced or not) unless it runs or the watches are not
    /// enabled; `gone` is called when the watch finds the kind no longer served (and stops).
    /// Needs a Tokio runtime.
    pub fn start(
        &self,
        client: &Client,
        ar: &ApiResource,
        namespaced: bool,
        gone: impl Fn() + Clone + Send + 'static,
    ) {
        let kind = (ar.api_version.clone(), ar.plural.clone());
        let Some(namespaces) = self
            .namespaces
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        else {
            return;
        };
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running.contains_key(&kind) {
            return;
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let scopes: Vec<Option<String>> = if namespaced && !namespaces.is_empty() {
            namespaces.into_iter().map(Some).collect()
        } else {
            vec![None]
        };
        let mut stores = Vec::with_capacity(scopes.len());
        let mut tasks = Vec::with_capacity(scopes.len());
        for namespace in scopes {
            let api: Api<DynamicObject> = match &namespace {
                Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
                None => Api::all_with(client.clone(), ar),
            };
            let writer = Writer::new(ar.clone());
            let store = writer.as_reader();
            let listed = Arc::new(AtomicBool::new(false));
            let gone = {
                // Weak: the tasks must not keep the map (which owns their abort handles) alive, so
                // that dropping the watches (the operator stopping) aborts them.
                let running = Arc::downgrade(&self.running);
                let kind = kind.clone();
                let gone = gone.clone();
                move || {
                    let removed = running.upgrade().and_then(|running| {
                        let mut running = running.lock().unwrap_or_else(PoisonError::into_inner);
                        match running.get(&kind) {
                            Some(r) if r.id == id => running.remove(&kind),
                            _ => None,
                        }
                    });
                    gone();
                    // Why: dropping it aborts the tasks, this one among them: after the lock.
                    drop(removed);
                }
            };
            let task = tokio::spawn(reflect(api, writer, Arc::clone(&listed), gone));
            tracing::info!(api_version = %ar.api_version, plural = %ar.plural,
                namespace = namespace.as_deref().unwrap_or("*"), "watching an optional kind");
            tasks.push(task.abort_handle());
            stores.push(Scoped {
                namespace,
                store,
                listed,
            });
        }
        running.insert(kind, Arc::new(Running { id, stores, tasks }));
    }

    /// Stops the watch of `plural` in `api_version`, if it runs.
    pub fn stop(&self, api_version: &str, plural: &str) {
        let removed = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(api_version.to_owned(), plural.to_owned()));
        drop(removed);
    }

    /// The object `name` of `ar` in `namespace` as its watch last saw it: `Some(None)` when the
    /// store covering `namespace` has listed and does not hold it, `None` when no such store
    /// has listed (the kind not watched, or not yet listed): then the caller reads it.
    #[must_use]
    pub fn lookup(
        &self,
        ar: &ApiResource,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Option<Arc<DynamicObject>>> {
        let running = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(ar.api_version.clone(), ar.plural.clone()))
            .cloned()?;
        let scoped = running
            .stores
            .iter()
            .find(|s| s.namespace.is_none() || s.namespace.as_deref() == namespace)?;
        if !scoped.listed.load(Ordering::Acquire) {
            return None;
        }
        let mut key = ObjectRef::new_with(name, ar.clone());
        if let Some(ns) = namespace {
            key = key.within(ns);
        }
        Some(scoped.store.get(&key))
    }
}

/// Reflects the watch of `api` (ecs-bridge's objects) into `writer`, marking `listed` after each
/// complete list, until the kind is gone (a 404): then calls `gone` and ends.
async fn reflect(
    api: Api<DynamicObject>,
    mut writer: Writer<DynamicObject>,
    listed: Arc<AtomicBool>,
    gone: impl FnOnce(),
) {
    let stream = watcher(api, managed_by())
        .backoff(super::caches::watch_backoff())
        .modify(super::caches::slim);
    futures::pin_mut!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(event) => {
                writer.apply_watcher_event(&event);
                if matches!(event, watcher::Event::InitDone) {
                    listed.store(true, Ordering::Release);
                }
            }
            Err(e) if kind_gone(&e) => {
                listed.store(false, Ordering::Release);
                tracing::info!(error = %e, "an optional kind is no longer served; its watch stops");
                gone();
                return;
            }
            Err(e) => tracing::debug!(error = %e, "watch of an optional kind failed; retrying"),
        }
    }
}

/// Whether `e` says the kind is not served (a 404 on the list or the watch; as
/// `served::not_found` reads a Status, which this module does not import: `served` uses it).
fn kind_gone(e: &watcher::Error) -> bool {
    let not_found = |s: &kube::core::Status| s.is_not_found() || s.code == 404;
    match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => not_found(s),
        watcher::Error::WatchError(s) => not_found(s),
        _ => false,
    }
}
