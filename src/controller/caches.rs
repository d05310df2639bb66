//! What the controllers' caches share: the `Api` of a watched scope, the watch of the objects the
//! operator made, a reflected watch, and the stores of every scope once they have listed.

use std::{
    fmt::Debug,
    future::Future,
    sync::{PoisonError, RwLock},
};

use futures::{
    FutureExt, Stream, StreamExt, TryStreamExt,
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

use crate::{
    controller::indexed::{Indexed, KeyFn},
    translate::labels,
};

/// The backoff of every watch the operator runs: 100 ms doubling to 5 s, reset after 10 s
/// without an error.
///
/// Why this short: a watch backs off only on an error and resets only on an event (or after 10 s
/// without an error), and a re-watch that succeeds (after the API server closes a watch, every
/// few minutes, or a dropped connection) is neither. kube's default (800 ms doubling to 30 s,
/// reset after 120 s without an error) therefore climbed to 30 s on an API server failing a
/// request now and then, and a quiet watch then missed the next change for up to half a minute
/// (a Service waited over two minutes for its first status, once, with 10% of requests failing
/// and watches dropped twice a second).
///
/// Used by each cached watch ([`reflected`]) and by each controller's trigger stream (its own
/// watch: kube backs off the merged trigger stream as one, which is why the other watches' errors
/// do not reach it: [`errors_logged`]).
#[must_use]
pub fn watch_backoff() -> kube::runtime::utils::ResetTimerBackoff<kube::runtime::watcher::ExponentialBackoff>
{
    let exponential = backon::ExponentialBuilder::default()
        .with_min_delay(std::time::Duration::from_millis(100))
        .with_max_delay(std::time::Duration::from_secs(5))
        .with_factor(2.0)
        .without_max_times()
        .with_jitter();
    kube::runtime::utils::ResetTimerBackoff::new(exponential.into(), std::time::Duration::from_secs(10))
}

/// `changes` without its errors, each logged: for a watch that paces its own retries
/// ([`watch_backoff`]) and feeds a controller's triggers (`owns_stream`, `watches_stream`).
///
/// Why: kube merges a controller's watches into one trigger stream with one backoff, so an
/// error passed on from any of them paused them all, the controller's own watch included; with a
/// dozen watches each failing now and then, a controller's triggers stood still most of the time.
pub fn errors_logged<K>(
    changes: impl Stream<Item = Result<K, watcher::Error>> + Send + 'static,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = ()> + Send + 'static,
{
    changes.filter_map(|change| {
        futures::future::ready(match change {
            Ok(object) => Some(Ok(object)),
            Err(error) => {
                let kind = K::kind(&());
                tracing::warn!(%kind, error = %crate::runtime::ErrorChain(&error), "watch failed; retrying");
                None
            }
        })
    })
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

/// Drops from a watched object what no reconcile reads, before it is cached: its
/// `managedFields` (the server-side apply field owners of every manager; often the largest part
/// of an object the operator applied).
pub fn slim<K: Resource>(object: &mut K) {
    object.meta_mut().managed_fields = None;
}

/// A kind the operator caches from a watch.
pub trait Cached:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
}

impl<K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static> Cached for K {}

/// The objects a watch sees change, for a controller's triggers.
pub type Changes<K> = futures::stream::BoxStream<'static, Result<K, watcher::Error>>;

/// The watch of `api` with `config`, its objects slimmed ([`slim`]) before anything caches them.
fn slimmed<K: Cached>(
    api: Api<K>,
    config: watcher::Config,
) -> impl Stream<Item = watcher::Result<watcher::Event<K>>> {
    watcher(api, config).modify(slim)
}

/// A watch of `api` with `config`, reflected into the returned store (without what [`slim`]
/// drops), and the stream of the objects it sees change (for a controller's `owns_stream` or
/// `watches_stream`). A store is never older than the event that reaches the controller. The
/// watch backs off on its own ([`watch_backoff`]); its errors are logged, not passed on
/// ([`errors_logged`]).
pub fn reflected<K: Cached>(api: Api<K>, config: watcher::Config) -> (Store<K>, Changes<K>) {
    let (store, writer) = reflector::store::<K>();
    let changes = slimmed(api, config)
        .backoff(watch_backoff())
        .reflect(writer)
        .touched_objects();
    (store, errors_logged(changes).boxed())
}

/// [`reflected`], with the store indexed by namespace and `key` ([`Indexed`]).
pub fn reflected_indexed<K: Cached>(
    api: Api<K>,
    config: watcher::Config,
    key: KeyFn<K>,
) -> (Indexed<K>, Changes<K>) {
    let (store, writer) = reflector::store::<K>();
    let (indexed, index) = Indexed::new(store, key);
    let changes = slimmed(api, config)
        .backoff(watch_backoff())
        .reflect(writer)
        .inspect_ok(move |event| index.apply(event))
        .touched_objects();
    (indexed, errors_logged(changes).boxed())
}

/// The watch of a controller's own kind as `Controller::new` makes it, but with its objects
/// slimmed ([`slim`]) before they are cached: the store and the stream of
/// `Controller::for_stream`. (Errors go on to the controller, which backs off its trigger
/// stream: give it [`watch_backoff`].)
pub fn own<K: Cached>(api: Api<K>, config: watcher::Config) -> (Store<K>, Changes<K>) {
    let (store, writer) = reflector::store::<K>();
    let changes = slimmed(api, config).reflect(writer).applied_objects();
    (store, changes.boxed())
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::{StreamExt, stream};
    use k8s_openapi::api::core::v1::Pod;
    use kube::runtime::watcher;

    use super::{errors_logged, watch_backoff};

    #[tokio::test]
    async fn a_watch_error_is_left_out_of_the_triggers_and_the_objects_go_on() {
        let pod = |name: &str| Pod {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            ..Pod::default()
        };
        let changes = stream::iter(vec![
            Ok(pod("a")),
            Err(watcher::Error::NoResourceVersion),
            Ok(pod("b")),
        ]);
        let passed: Vec<_> = errors_logged(changes).collect().await;
        let names: Vec<_> = passed
            .iter()
            .map(|r| {
                r.as_ref()
                    .map(|p| p.metadata.name.clone().unwrap_or_default())
                    .ok()
            })
            .collect();
        assert_eq!(names, vec![Some("a".to_owned()), Some("b".to_owned())]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_watch_retries_within_five_seconds_however_often_it_failed() {
        let mut backoff = watch_backoff();
        let first = backoff.next().expect("a delay");
        assert!(first <= Duration::from_millis(200), "first retry after {first:?}");
        let longest = (0..50).filter_map(|_| backoff.next()).max().expect("delays");
        // Jitter adds up to one more delay on top of the cap.
        assert!(longest <= Duration::from_secs(10), "a retry waited {longest:?}");
        assert!(
            longest >= Duration::from_secs(5),
            "the delay climbs to the cap: {longest:?}"
        );
        // Ten quiet seconds later it starts short again.
        tokio::time::advance(Duration::from_secs(11)).await;
        let again = backoff.next().expect("a delay");
        assert!(
            again <= Duration::from_millis(200),
            "after a quiet spell: {again:?}"
        );
    }
}
