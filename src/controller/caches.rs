//! What the controllers' caches share: the `Api` of a watched scope, the watch of the objects the
//! operator made, a reflected watch, and the stores of every scope once they have listed.

use std::{
    fmt::Debug,
    future::Future,
    sync::{PoisonError, RwLock},
};

use futures::{
    FutureExt, Stream,
    future::{BoxFuture, Shared},
};
use kube::{
    Api, Client, Resource,
    runtime::{
        WatchStreamExt,
        reflector::{self, Store},
        watcher::{self, watcher},
    },
};
use serde::de::DeserializeOwned;

use crate::translate::labels;

/// The backoff of a controller's trigger stream: its own watch and every watch it `owns` or
/// `watches` are one merged stream with one backoff, so an error of any watch pauses them all.
/// It stays short: 100 ms doubling to 5 s, reset after 10 s without an error. (kube's default,
/// 800 ms doubling to 30 s and reset only after 120 s without an error, held every trigger for
/// half a minute at a time on an API server that fails a request now and then, the more so the
/// more kinds a controller watches.)
#[must_use]
pub fn trigger_backoff() -> kube::runtime::utils::ResetTimerBackoff<kube::runtime::watcher::ExponentialBackoff>
{
    let exponential = backon::ExponentialBuilder::default()
        .with_min_delay(std::time::Duration::from_millis(100))
        .with_max_delay(std::time::Duration::from_secs(5))
        .with_factor(2.0)
        .without_max_times()
        .with_jitter();
    kube::runtime::utils::ResetTimerBackoff::new(exponential.into(), std::time::Duration::from_secs(10))
}

/// `Api` of `K` in `namespace`, or across all namespaces for `None`.
pub fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The watch of the objects the operator made: those labelled
/// `app.kubernetes.io/managed-by=ecs-bridge` (the children it owns; others of their kinds are
/// not cached, to bound memory).
#[must_use]
pub fn managed_by() -> watcher::Config {
    watcher::Config::default().labels(&format!("{}={}", labels::MANAGED_BY, labels::MANAGED_BY_VALUE))
}

/// A watch of `api` with `config`, reflected into the returned store, and the stream of the
/// objects it sees change (for a controller's `owns_stream` or `watches_stream`). A store is
/// never older than the event that reaches the controller.
pub fn reflected<K>(
    api: Api<K>,
    config: watcher::Config,
) -> (
    Store<K>,
    impl Stream<Item = Result<K, watcher::Error>> + Send + 'static,
)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (store, writer) = reflector::store::<K>();
    let changes = watcher(api, config)
        .default_backoff()
        .reflect(writer)
        .touched_objects();
    (store, changes)
}

/// Whether a scope's stores have all listed once, awaited by any number of reconciles at once.
///
/// Why: a reflector `Store`'s `wait_until_ready` keeps only the waker of the last task that
/// polled it (one `oneshot` receiver inside), so of several reconciles waiting on the same store
/// at startup all but one were never woken, and held their concurrency slots forever (15 of 16
/// Service reconciles, once, in the scale bench). A `Shared` future polls the stores with its own
/// waker and wakes every waiter.
#[derive(Clone, Default)]
pub struct Listed(std::sync::Arc<std::sync::OnceLock<Shared<BoxFuture<'static, bool>>>>);

/// A scope's stores stopped (the controller is stopping) before they had all listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the controller stopped before its caches listed")]
pub struct Stopped;

impl Listed {
    /// Waits until `all` (made once, the first time: true when every store listed, false when
    /// one's writer was dropped) resolves.
    ///
    /// # Errors
    /// [`Stopped`] when it resolved false.
    pub async fn wait<F, Fut>(&self, all: F) -> Result<(), Stopped>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = bool> + Send + 'static,
    {
        let listed = self.0.get_or_init(|| all().boxed().shared()).clone();
        if listed.await { Ok(()) } else { Err(Stopped) }
    }
}

/// Adds the caches of one scope a controller runs in (`scope`) to its `stores`, which [`ready`]
/// reads.
pub fn add_scope<S>(stores: &RwLock<Vec<S>>, scope: S) {
    stores.write().unwrap_or_else(PoisonError::into_inner).push(scope);
}

/// The stores in `stores` (one set per scope a controller runs in) once each has listed: `ready`
/// of a set fails when its writer was dropped (the controller stopping), and the set is left out.
/// `None` when the controller runs in no scope (no caches, as in a reconcile outside the
/// controller).
pub async fn ready<S, E, F, Fut>(stores: &RwLock<Vec<S>>, ready: F) -> Option<Vec<S>>
where
    S: Clone,
    F: Fn(S) -> Fut,
    Fut: Future<Output = Result<S, E>>,
{
    let stores: Vec<S> = stores.read().unwrap_or_else(PoisonError::into_inner).clone();
    if stores.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(stores.len());
    for s in stores {
        if let Ok(s) = ready(s).await {
            out.push(s);
        }
    }
    Some(out)
}
