//! The TaskDefinition controller.
//!
//! For now it only publishes status (`observedGeneration`, `status: ACTIVE`, `Ready=True`);
//! revisions (ControllerRevisions) and validation come later.

pub mod status;

use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use kube::{
    Api, ResourceExt,
    runtime::{
        Controller,
        controller::{self, Action},
        watcher,
    },
};
use tracing::{Span, field};

pub use status::{compute_status, patch_status, same_status};

use super::{Context, Error, Shutdown, error_policy, with_backoff_reset};
use crate::api::TaskDefinition;

/// Field manager of this controller's server-side applies.
pub const FIELD_MANAGER: &str = "ecsbridge.io/task-definition-controller";
/// Name of this controller in logs and metrics.
pub const CONTROLLER: &str = "task-definition";

/// Reconciles one TaskDefinition: computes its status and writes it when it changed.
///
/// Returns a periodic requeue ([`crate::run::RunConfig::resync_interval`]) as a level-triggered
/// safety net.
///
/// # Errors
///
/// [`Error::MissingNamespace`] for an object without a namespace, [`Error::Kube`] when the status
/// write fails.
#[tracing::instrument(skip_all, fields(controller = CONTROLLER, namespace = field::Empty, name = field::Empty))]
pub async fn reconcile(td: Arc<TaskDefinition>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = td.name_any();
    let namespace = td.namespace().ok_or_else(|| Error::MissingNamespace {
        kind: "TaskDefinition",
        name: name.clone(),
    })?;
    Span::current()
        .record("namespace", namespace.as_str())
        .record("name", name.as_str());

    let now = Time(Timestamp::now());
    let desired = compute_status(&td, now);
    if same_status(td.status.as_ref(), &desired) {
        tracing::debug!("status up to date");
    } else {
        let api: Api<TaskDefinition> = Api::namespaced(ctx.client.clone(), &namespace);
        patch_status(&api, &name, &desired).await?;
        tracing::info!(generation = desired.observed_generation, "status updated");
    }
    Ok(Action::requeue(ctx.config.resync_interval))
}

/// Runs the TaskDefinition controller on `api` (one namespace or all) until `shutdown` resolves
/// and the reconciles in flight have finished.
pub async fn run(api: Api<TaskDefinition>, ctx: Arc<Context>, shutdown: Shutdown) {
    let config = controller::Config::default().concurrency(ctx.config.concurrency);
    // NB: no generation predicate yet: kube-runtime only offers one through `Controller::for_stream`
    // (feature `unstable-runtime-stream-control`). Our own status write therefore triggers one more
    // reconcile, which finds the status up to date and writes nothing.
    let controller = Controller::new(api, watcher::Config::default())
        .with_config(config)
        .graceful_shutdown_on(shutdown.clone());
    let store = controller.store();
    let running = controller
        .run(
            |td, ctx| with_backoff_reset(reconcile, td, ctx),
            error_policy::<TaskDefinition>,
            ctx,
        )
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => tracing::trace!(controller = CONTROLLER, %object, "reconciled"),
                // Already logged by error_policy, with the retry delay.
                Err(controller::Error::ReconcilerFailed(..)) => {}
                // An object deleted while a reconcile was scheduled: expected.
                Err(controller::Error::ObjectNotFound(object)) => {
                    tracing::debug!(controller = CONTROLLER, %object, "object gone before its reconcile");
                }
                Err(e) => tracing::warn!(controller = CONTROLLER, error = %super::error::Chain(&e), "controller error"),
            }
        });
    // Why: kube-runtime holds every reconcile until the store's first LIST has succeeded, and while
    // holding it never notices that its queue ended, so a graceful shutdown before that first sync
    // (CRD not installed, API server unreachable, RBAC missing) would wait forever. No reconcile can
    // be in flight then, so stopping at once loses nothing.
    let stop_if_never_synced = async move {
        shutdown.await;
        if matches!(store.wait_until_ready().now_or_never(), Some(Ok(()))) {
            futures::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = running => {}
        () = stop_if_never_synced => {
            tracing::info!(controller = CONTROLLER, "stopped before the first sync of TaskDefinitions");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::Method;

    use super::*;
    use crate::controller::testing::{self, Handle};

    const STATUS_PATH: &str = "/apis/ecsbridge.io/v1alpha1/namespaces/team-a/taskdefinitions/web/status";

    /// Serves exactly one request: a forced SSA PATCH of the status; returns its JSON body.
    async fn expect_status_apply(mut server: Handle) -> serde_json::Value {
        let (request, reply) = server.next_request().await.expect("a request");
        assert_eq!(request.method(), Method::PATCH);
        assert_eq!(request.uri().path(), STATUS_PATH);
        assert_eq!(
            request
                .headers()
                .get(http::header::CONTENT_TYPE)
                .map(|v| v.to_str().expect("ascii")),
            Some("application/apply-patch+yaml")
        );
        let query = testing::query(request.uri());
        assert_eq!(query.get("fieldManager").map(String::as_str), Some(FIELD_MANAGER));
        assert_eq!(query.get("force").map(String::as_str), Some("true"));
        let body = request.into_body().collect_bytes().await.expect("a body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("a JSON body");
        // Answer like the API server: the object with the applied status.
        let mut object = serde_json::to_value(testing::task_definition("team-a", "web", 3)).expect("json");
        object["status"] = body["status"].clone();
        reply.send_response(testing::json_response(http::StatusCode::OK, &object));
        assert!(
            testing::no_request_within(server, Duration::from_millis(200)).await,
            "exactly one request expected"
        );
        body
    }

    #[tokio::test]
    async fn new_object_gets_its_status_applied() {
        let (ctx, server) = testing::context();
        let verifier = tokio::spawn(expect_status_apply(server));
        let td = Arc::new(testing::task_definition("team-a", "web", 3));
        let action = tokio::time::timeout(Duration::from_secs(5), reconcile(td, ctx))
            .await
            .expect("reconcile finishes")
            .expect("reconcile succeeds");
        assert_eq!(action, Action::requeue(Duration::from_secs(300)));

        let body = tokio::time::timeout(Duration::from_secs(5), verifier)
            .await
            .expect("verifier finishes")
            .expect("verifier passes");
        assert_eq!(body["apiVersion"], "ecsbridge.io/v1alpha1");
        assert_eq!(body["kind"], "TaskDefinition");
        assert_eq!(body["status"]["observedGeneration"], 3);
        assert_eq!(body["status"]["status"], "ACTIVE");
        let conditions = body["status"]["conditions"].as_array().expect("conditions");
        let ready = conditions
            .iter()
            .find(|c| c["type"] == "Ready")
            .expect("a Ready condition");
        assert_eq!(ready["status"], "True");
        assert_eq!(ready["reason"], "Registered");
        assert_eq!(ready["observedGeneration"], 3);
        assert!(ready["lastTransitionTime"].is_string());
    }

    #[tokio::test]
    async fn up_to_date_object_makes_no_request() {
        let (ctx, server) = testing::context();
        let mut td = testing::task_definition("team-a", "web", 3);
        let then = Time(Timestamp::from_second(1_600_000_000).expect("a time"));
        td.status = Some(compute_status(&td, then));
        // A request would never be answered, so reconcile would hang instead of finishing.
        let action = tokio::time::timeout(Duration::from_secs(5), reconcile(Arc::new(td), ctx))
            .await
            .expect("reconcile finishes without waiting for the API server")
            .expect("reconcile succeeds");
        assert_eq!(action, Action::requeue(Duration::from_secs(300)));
        assert!(testing::no_request_within(server, Duration::from_millis(200)).await);
    }

    #[tokio::test]
    async fn stale_status_is_rewritten() {
        let (ctx, server) = testing::context();
        let verifier = tokio::spawn(expect_status_apply(server));
        let mut td = testing::task_definition("team-a", "web", 3);
        td.metadata.generation = Some(2);
        td.status = Some(compute_status(&td, Time(Timestamp::now())));
        td.metadata.generation = Some(3);
        tokio::time::timeout(Duration::from_secs(5), reconcile(Arc::new(td), ctx))
            .await
            .expect("reconcile finishes")
            .expect("reconcile succeeds");
        let body = tokio::time::timeout(Duration::from_secs(5), verifier)
            .await
            .expect("verifier finishes")
            .expect("verifier passes");
        assert_eq!(body["status"]["observedGeneration"], 3);
        assert_eq!(body["status"]["conditions"][0]["observedGeneration"], 3);
    }

    #[tokio::test]
    async fn api_error_is_a_kube_error() {
        let (ctx, mut server) = testing::context();
        let verifier = tokio::spawn(async move {
            let (request, reply) = server.next_request().await.expect("a request");
            assert_eq!(request.method(), Method::PATCH);
            let status = serde_json::json!({
                "apiVersion": "v1", "kind": "Status", "status": "Failure",
                "message": "the server is overloaded", "reason": "ServiceUnavailable", "code": 503,
            });
            reply.send_response(testing::json_response(
                http::StatusCode::SERVICE_UNAVAILABLE,
                &status,
            ));
        });
        let td = Arc::new(testing::task_definition("team-a", "web", 3));
        let err = tokio::time::timeout(Duration::from_secs(5), reconcile(td, ctx))
            .await
            .expect("reconcile finishes")
            .expect_err("reconcile fails");
        assert!(matches!(err, Error::Kube(_)), "{err:?}");
        assert_eq!(err.metric_label(), "kube");
        verifier.await.expect("verifier passes");
    }

    #[tokio::test]
    async fn object_without_namespace_is_an_error() {
        let (ctx, server) = testing::context();
        let mut td = testing::task_definition("team-a", "web", 3);
        td.metadata.namespace = None;
        let err = reconcile(Arc::new(td), ctx).await.expect_err("reconcile fails");
        assert_eq!(err.metric_label(), "missing_namespace");
        assert!(testing::no_request_within(server, Duration::from_millis(100)).await);
    }
}
