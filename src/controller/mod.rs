//! The controllers of `ecs-bridge run`, one folder per reconciled kind, and what they share: the
//! [`Context`] (client, [`Config`], caches, event recorder, metrics), the [`error_policy`] with
//! its per-object exponential backoff, `drive`, and the shared modules: [`revisions`] (how
//! TaskDefinition revisions are stored), [`status`] (unchanged statuses, the status body, the
//! `Translated` condition), [`unchanged`] (the applied hash), [`served`] (optional kinds the
//! cluster serves) and [`delete`] (deleting exactly what was seen).
//!
//! # The template of a controller
//!
//! `controller/<kind>/mod.rs` holds `reconcile`, which reads as its steps, one call each, every
//! step in a module of its own:
//!
//! | step | module | may | gives |
//! |---|---|---|---|
//! | load | `load.rs` | read: the controller's caches first, a GET or LIST only for what is not watched; never write | `Loaded` |
//! | validate | `validate.rs` | pure | the validated object, or why it cannot be reconciled (the status says so, `Ready=False`) |
//! | decide | `decide.rs` | pure; the clock comes in as `now`, read once per reconcile | the `Plan`: every decision of this reconcile (which revision runs, rollouts, retention) |
//! | build | `build.rs` | pure | `Desired`: the objects, from the same `translate` functions `render` calls, with owner references and applied hashes |
//! | apply | `apply.rs` | write: a server-side apply of what is not [`unchanged::is_current`], then prune | `Applied` |
//! | status | `status.rs` | compute (pure), then write when it changed ([`status::same_status`]) | the status |
//!
//! The rules:
//!
//! - build and apply run once per reconcile. A decision that needs another round (the circuit
//!   breaker rolling back) asks for one through the requeue instead of building twice.
//! - A step never goes back to an earlier one. What load must read depends only on what it has
//!   read (a revision to roll back to is found by the same pure function decide uses). Where
//!   validation needs nothing loaded it comes first, so that nothing is read for an object that
//!   is refused (the TaskDefinition: a name that cannot label its revisions could not select
//!   them).
//! - At rest a reconcile makes no write: every applied child carries [`unchanged::APPLIED_HASH`]
//!   and is skipped while the live one, from a watch, is as wanted.
//! - `watch.rs` builds the kube-runtime `Controller` with its watches and mappers (`run`), and
//!   `children.rs` holds the caches the watches fill and load reads.
//! - A controller never imports another controller's modules: the facts both need live on the
//!   API types ([`crate::api::TaskDefinition::family`]) or in the shared modules above
//!   (`tests/module_imports.rs` checks it).
//! - Tests: `reconcile_tests.rs` drives `reconcile` against a mocked API server (the exact
//!   requests); each step's pure function has its own tests (`<step>_tests.rs` when split out).

pub mod caches;
pub mod capacity_provider;
pub mod delete;
pub mod error;
pub mod indexed;
pub mod optional_watch;
pub mod recorder;
pub mod revisions;
pub mod scheduled_task;
pub mod served;
pub mod service;
pub mod status;
pub mod task;
pub mod task_definition;
pub mod unchanged;

#[cfg(test)]
mod backoff_tests;
#[cfg(test)]
pub(crate) mod testing;

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use kube::{
    Client, Resource,
    api::DynamicObject,
    runtime::{controller::Action, reflector::ObjectRef},
};

pub use error::Error;

use crate::{
    runtime::{ErrorChain, Shutdown},
    translate::Options,
};

/// Default of [`Config::resync_interval`]: 5 minutes.
pub const DEFAULT_RESYNC_INTERVAL: Duration = Duration::from_secs(300);
/// Default of [`Config::task_retention`]: ECS keeps stopped tasks describable for at least an
/// hour.
pub const DEFAULT_TASK_RETENTION: Duration = Duration::from_secs(3600);
/// Default of [`Config::concurrency`]: chosen from the scale bench (`docs/performance.md`).
pub const DEFAULT_CONCURRENCY: u16 = 16;
/// Default of [`Config::revision_history_limit`].
pub const DEFAULT_REVISION_HISTORY_LIMIT: usize = 10;

/// How the controllers run: the part of `ecs-bridge run`'s configuration they read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// How often every object is reconciled even when nothing changed (level-triggered safety
    /// net). Default: [`DEFAULT_RESYNC_INTERVAL`].
    pub resync_interval: Duration,
    /// Most reconciles running at once per controller; 0 means no limit. Default:
    /// [`DEFAULT_CONCURRENCY`].
    pub concurrency: u16,
    /// How many of a TaskDefinition's newest revisions to keep besides the latest and those in
    /// use by Services. Default: [`DEFAULT_REVISION_HISTORY_LIMIT`].
    pub revision_history_limit: usize,
    /// The installation options every translation takes (`--external-secrets`,
    /// `--attribute-prefix`, ...).
    pub options: Options,
    /// The namespace of capacity providers' placeholder pods (managed scaling's headroom): the
    /// operator's own. Default: `ecs-bridge-system`.
    pub headroom_namespace: String,
    /// How long a stopped standalone task's pod stays (describable, with its logs) before it is
    /// deleted; the Task's status keeps the task's summary. Default: [`DEFAULT_TASK_RETENTION`].
    pub task_retention: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            resync_interval: DEFAULT_RESYNC_INTERVAL,
            concurrency: DEFAULT_CONCURRENCY,
            revision_history_limit: DEFAULT_REVISION_HISTORY_LIMIT,
            options: Options::default(),
            headroom_namespace: "ecs-bridge-system".to_owned(),
            task_retention: DEFAULT_TASK_RETENTION,
        }
    }
}

/// Delay before the first retry of a failed reconcile.
pub const BACKOFF_INITIAL: Duration = Duration::from_secs(1);
/// Longest delay between retries of a failing reconcile: short, so that an object catches up
/// within seconds once the API server recovers (a doubling backoff up to 5 minutes left objects
/// waiting minutes after a burst of failures); a failing reconcile costs a few requests, so a
/// retry every 10 s per failing object stays cheap.
pub const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// What every reconcile gets: the client, the operator's configuration and the retry state.
pub struct Context {
    /// Client for the Kubernetes API.
    pub client: Client,
    /// How the controllers run.
    pub config: Config,
    /// Consecutive failures per object; an entry exists only while an object keeps failing.
    failures: Mutex<HashMap<ObjectRef<DynamicObject>, Failing>>,
    /// The Services' children, cached: one set of stores per scope the Service controller runs
    /// in (each `run` adds its own; none: no children observed, as in unit tests of other steps).
    pub service_children: std::sync::RwLock<Vec<service::children::Stores>>,
    /// The TaskDefinitions' dependents, cached: one set of stores per scope the TaskDefinition
    /// controller runs in.
    pub task_definition_children: std::sync::RwLock<Vec<task_definition::children::Stores>>,
    /// The revision each TaskDefinition registered last in this process (until its cache holds
    /// it).
    pub task_definition_registered: task_definition::children::Registered,
    /// The families' high-water marks as this process last knew them, and the lock that makes
    /// a namespace's registrations raise them one at a time.
    pub task_definition_marks: task_definition::families::Marks,
    /// The Tasks' pods and the TaskDefinitions they run, cached: one set of stores per scope the
    /// Task controller runs in.
    pub task_children: std::sync::RwLock<Vec<task::children::Stores>>,
    /// The Task statuses this process wrote last (a Task read before its write arrived is read
    /// with it).
    pub task_statuses: task::status::Written,
    /// The ScheduledTasks' Tasks, CronJobs and tokens, cached: one set of stores per scope the
    /// ScheduledTask controller runs in.
    pub scheduled_task_children: std::sync::RwLock<Vec<scheduled_task::children::Stores>>,
    /// The CapacityProvider controller's caches (nodes, and the pods and Services of every
    /// watched scope); none before it runs, as in unit tests.
    pub capacity_provider_caches: std::sync::RwLock<Option<capacity_provider::watch::Caches>>,
    /// Publishes Kubernetes Events (events.k8s.io/v1) as `ecs-bridge`.
    pub recorder: recorder::Recorder,
    /// What the Service controller remembers of TargetGroupBindings (pruned).
    pub target_group_bindings: service::apply::Bindings,
    /// Which optional kinds the cluster serves (TargetGroupBinding, ExternalSecret).
    pub served: served::Served,
    /// The operator's metrics (reconciles, errors, durations), served on `/metrics`.
    pub metrics: Arc<crate::runtime::Metrics>,
}

impl Context {
    /// A context with no recorded failures.
    #[must_use]
    pub fn new(client: Client, config: Config) -> Self {
        Self {
            // The pod's name when the chart sets it (downward API), for `kubectl describe`.
            recorder: recorder::Recorder::new(client.clone(), "ecs-bridge", std::env::var("POD_NAME").ok()),
            client,
            config,
            failures: Mutex::new(HashMap::new()),
            service_children: std::sync::RwLock::new(Vec::new()),
            task_children: std::sync::RwLock::new(Vec::new()),
            task_statuses: task::status::Written::default(),
            scheduled_task_children: std::sync::RwLock::new(Vec::new()),
            task_definition_children: std::sync::RwLock::new(Vec::new()),
            task_definition_registered: task_definition::children::Registered::default(),
            task_definition_marks: task_definition::families::Marks::default(),
            capacity_provider_caches: std::sync::RwLock::new(None),
            target_group_bindings: service::apply::Bindings::default(),
            served: served::Served::default(),
            metrics: Arc::default(),
        }
    }

    /// This context, recording into `metrics` (those the HTTP server serves).
    #[must_use]
    pub fn with_metrics(self, metrics: Arc<crate::runtime::Metrics>) -> Self {
        Self { metrics, ..self }
    }

    /// Records one more failure of `obj` at `generation` and returns how long to wait before
    /// retrying it. A failure at another generation than the last one counts from one again: a
    /// changed spec (a watch event the user caused) is retried within a second, not after the
    /// delay the old spec earned. (Status writes do not change the generation, so a reconcile
    /// that writes its status and fails keeps backing off.)
    pub fn record_failure(&self, obj: ObjectRef<DynamicObject>, generation: Option<i64>) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let failing = failures.entry(obj).or_insert(Failing { count: 0, generation });
        if failing.generation != generation {
            *failing = Failing { count: 0, generation };
        }
        failing.count = failing.count.saturating_add(1);
        backoff_delay(failing.count)
    }

    /// Forgets the failures of `obj`: its next failure waits [`BACKOFF_INITIAL`] again.
    pub fn reset_backoff(&self, obj: &ObjectRef<DynamicObject>) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(obj);
    }

    /// How many times in a row `obj` has failed.
    #[must_use]
    pub fn failures(&self, obj: &ObjectRef<DynamicObject>) -> u32 {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(obj)
            .map_or(0, |f| f.count)
    }
}

/// The consecutive failures of one object, and the generation of the last.
#[derive(Debug, Clone, Copy)]
struct Failing {
    count: u32,
    generation: Option<i64>,
}

/// The retry delay after `failures` consecutive failures: 1 s, 2 s, 4 s, 8 s, then 10 s.
#[must_use]
pub fn backoff_delay(failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(31);
    BACKOFF_INITIAL.saturating_mul(1 << exponent).min(BACKOFF_MAX)
}

/// The erased key under which an object's failures are counted.
fn key<K: Resource<DynamicType = ()>>(obj: &K) -> ObjectRef<DynamicObject> {
    ObjectRef::from_obj(obj).erase()
}

/// Shared error policy of every controller: log, and retry the object with exponential backoff
/// (never sooner than the `retryAfterSeconds` of a 429 or 5xx answer asks).
pub fn error_policy<K: Resource<DynamicType = ()>>(obj: Arc<K>, err: &Error, ctx: Arc<Context>) -> Action {
    let object = key(obj.as_ref());
    // The backoff, or longer when the API server asked for a longer wait (`retryAfterSeconds`).
    let retry_in = ctx
        .record_failure(object.clone(), obj.meta().generation)
        .max(err.retry_after().unwrap_or_default());
    tracing::warn!(
        kind = %K::kind(&()),
        namespace = object.namespace.as_deref().unwrap_or(""),
        name = %object.name,
        error = %ErrorChain(err),
        error_kind = err.metric_label(),
        retry_in_secs = retry_in.as_secs(),
        "reconcile failed"
    );
    Action::requeue(retry_in)
}

/// Runs `reconcile` on `obj` for `controller`, counts it in [`Context::metrics`] and, when it
/// succeeds, resets the object's backoff.
///
/// Every controller wraps its reconcile function in this so that [`error_policy`]'s delays start
/// again from [`BACKOFF_INITIAL`] after a success.
pub async fn with_backoff_reset<K, F, Fut>(
    controller: &'static str,
    reconcile: F,
    obj: Arc<K>,
    ctx: Arc<Context>,
) -> Result<Action, Error>
where
    K: Resource<DynamicType = ()>,
    F: FnOnce(Arc<K>, Arc<Context>) -> Fut,
    Fut: Future<Output = Result<Action, Error>>,
{
    let object = key(obj.as_ref());
    let metrics = Arc::clone(&ctx.metrics);
    let timer = metrics.reconcile(controller);
    let result = reconcile(obj, Arc::clone(&ctx)).await;
    match &result {
        Ok(_) => ctx.reset_backoff(&object),
        Err(e) => timer.failed(e.metric_label()),
    }
    result
}

/// Drives a controller's result stream until it ends, logging each result once; stops at once
/// when `shutdown` fires before the watched kind's first LIST has succeeded.
///
/// Why: kube-runtime holds every reconcile until the store's first LIST has succeeded, and while
/// holding it never notices that its queue ended, so a graceful shutdown before that first sync
/// (CRD not installed, API server unreachable, RBAC missing) would wait forever. No reconcile can
/// be in flight then, so stopping at once loses nothing.
///
/// `synced` is marked when the store's first LIST has succeeded (readiness).
pub(crate) async fn drive<K, E>(
    controller: &'static str,
    store: kube::runtime::reflector::Store<K>,
    synced: crate::runtime::Synced,
    results: impl futures::Stream<
        Item = Result<
            (ObjectRef<K>, Action),
            kube::runtime::controller::Error<E, kube::runtime::watcher::Error>,
        >,
    >,
    shutdown: Shutdown,
) where
    K: Resource<DynamicType = ()> + Clone + 'static,
    E: std::error::Error + 'static,
{
    use futures::{FutureExt, StreamExt};
    use kube::runtime::controller::Error as ControllerError;
    let running = results.for_each(|result| async move {
        match result {
            Ok((object, _)) => tracing::trace!(controller, %object, "reconciled"),
            // Already logged by error_policy, with the retry delay.
            Err(ControllerError::ReconcilerFailed(..)) => {}
            // An object deleted while a reconcile was scheduled: expected.
            Err(ControllerError::ObjectNotFound(object)) => {
                tracing::debug!(controller, %object, "object gone before its reconcile");
            }
            Err(e) => tracing::warn!(controller, error = %ErrorChain(&e), "controller error"),
        }
    });
    let sync = store.clone();
    let mark_synced = async move {
        if sync.wait_until_ready().await.is_ok() {
            tracing::debug!(controller, "first sync done");
            synced.done();
        }
        futures::future::pending::<()>().await;
    };
    let stop_if_never_synced = async move {
        shutdown.await;
        if matches!(store.wait_until_ready().now_or_never(), Some(Ok(()))) {
            futures::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = running => {}
        () = mark_synced => {}
        () = stop_if_never_synced => {
            tracing::info!(controller, kind = %K::kind(&()), "stopped before the first sync");
        }
    }
}
