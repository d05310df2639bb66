//! Reconcile tests against a mocked API server: the exact request sequence, field manager,
//! `force`, and the bodies of the applies.

use std::time::Duration;

use http::{Method, Request, StatusCode};
use kube::{ResourceExt, client::Body};
use serde_json::{Value, json};

use kube::runtime::reflector::ObjectRef;

use super::{
    watch::{run, services_for_task_definition, services_with_placement},
    *,
};
use crate::{
    api::TaskDefinition,
    controller::testing::{self, Handle, assert_no_more_requests, json_body, next, ok},
};

const TDS: &str = "/apis/ecsbridge.io/v1alpha1/namespaces/team-a/taskdefinitions";
const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/team-a/deployments";
const DAEMON_SETS: &str = "/apis/apps/v1/namespaces/team-a/daemonsets";
const STATUS: &str = "/apis/ecsbridge.io/v1alpha1/namespaces/team-a/services/web/status";
const SELECTOR: &str = "ecsbridge.io/service=web,app.kubernetes.io/managed-by=ecs-bridge";
const SERVICES: &str = "/api/v1/namespaces/team-a/services";
const BINDINGS: &str = "/apis/elbv2.k8s.aws/v1beta1/namespaces/team-a/targetgroupbindings";

/// Serves the LIST of TaskDefinitions with `items`.
async fn expect_task_definition_list(server: &mut Handle, items: &[TaskDefinition]) {
    let (request, reply) = next(server).await;
    assert_eq!((request.method(), request.uri().path()), (&Method::GET, TDS));
    let items = items
        .iter()
        .map(|td| serde_json::to_value(td).expect("json"))
        .collect();
    ok(
        reply,
        &testing::list_body("ecsbridge.io/v1alpha1", "TaskDefinitionList", items),
    );
}

/// Serves the LIST of TaskDefinitions with `td`, registered as its `status.revision` (1 when
/// unset), then the read of that revision's ControllerRevision, which stores `td`'s live spec.
async fn expect_registered(server: &mut Handle, td: TaskDefinition) {
    let revision = td.status.as_ref().and_then(|s| s.revision).unwrap_or(1);
    let td = testing::registered(td, revision);
    expect_task_definition_list(server, std::slice::from_ref(&td)).await;
    let (request, reply) = next(server).await;
    let path = format!(
        "/apis/apps/v1/namespaces/team-a/controllerrevisions/{}-{revision}",
        td.name_any()
    );
    assert_eq!(
        (request.method(), request.uri().path()),
        (&Method::GET, path.as_str())
    );
    ok(
        reply,
        &serde_json::to_value(crate::controller::revisions::registered_as(&td, revision).expect("a uid"))
            .expect("json"),
    );
}

/// Serves the POST of a Warning Event with `reason` about Service `web`.
async fn expect_warning(server: &mut Handle, reason: &str) {
    let event = testing::expect_event(server).await;
    assert_eq!(
        (&event["type"], &event["reason"]),
        (&json!("Warning"), &json!(reason)),
        "{event}"
    );
    assert_eq!(event["regarding"]["name"], "web", "{event}");
    assert!(event["note"].as_str().is_some_and(|n| !n.is_empty()), "{event}");
}

/// Checks that `request` is a forced server-side apply of `path` by this controller and returns
/// its body.
async fn expect_apply(request: Request<Body>, path: &str) -> Value {
    testing::expect_forced_apply(request, path, "ecsbridge.io/service-controller").await
}

/// Serves the apply of the workload at `path`, answering with it and `status`; returns the body.
async fn expect_workload_apply(server: &mut Handle, path: &str, status: Value) -> Value {
    let (request, reply) = next(server).await;
    let body = expect_apply(request, path).await;
    let mut stored = body.clone();
    stored["metadata"]["generation"] = json!(1);
    stored["metadata"]["uid"] = json!("uid-workload");
    stored["status"] = status;
    ok(reply, &stored);
    body
}

/// Serves a LIST of `path` selected by `selector` with `items`.
async fn expect_list(
    server: &mut Handle,
    path: &str,
    selector: &str,
    api_version: &str,
    kind: &str,
    items: Vec<Value>,
) {
    let (request, reply) = next(server).await;
    assert_eq!((request.method(), request.uri().path()), (&Method::GET, path));
    let query = testing::query(request.uri());
    assert_eq!(query.get("labelSelector").map(String::as_str), Some(selector));
    ok(reply, &testing::list_body(api_version, kind, items));
}

/// Serves the status apply; returns its body.
async fn expect_status_apply(server: &mut Handle, svc: &Service) -> Value {
    let (request, reply) = next(server).await;
    let body = expect_apply(request, STATUS).await;
    assert_eq!(body["apiVersion"], "ecsbridge.io/v1alpha1");
    assert_eq!(body["kind"], "Service");
    assert!(body.get("spec").is_none(), "a status patch must not touch spec");
    let mut stored = serde_json::to_value(svc).expect("json");
    stored["status"] = body["status"].clone();
    ok(reply, &stored);
    body
}

fn condition<'a>(status: &'a Value, type_: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|c| c["type"] == type_)
        .unwrap_or_else(|| panic!("a {type_} condition in {status}"))
}

fn web_td() -> TaskDefinition {
    testing::with_container(testing::task_definition("team-a", "web", 1), "app", "nginx:1.27")
}

fn daemon_set(name: &str, owner_uid: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {
            "name": name, "namespace": "team-a", "uid": format!("uid-ds-{name}"),
            "labels": { "ecsbridge.io/service": "web", "app.kubernetes.io/managed-by": "ecs-bridge" },
            "ownerReferences": [{
                "apiVersion": "ecsbridge.io/v1alpha1", "kind": "Service", "name": "web",
                "uid": owner_uid, "controller": true
            }]
        },
        "spec": { "selector": { "matchLabels": { "ecsbridge.io/service": "web" } }, "template": {} }
    })
}

/// The status of a DaemonSet whose 2 daemon tasks run its template.
fn ds_ready() -> Value {
    json!({
        "observedGeneration": 1, "desiredNumberScheduled": 2, "currentNumberScheduled": 2,
        "numberReady": 2, "numberMisscheduled": 0, "updatedNumberScheduled": 2
    })
}

async fn run_reconcile(svc: Service, ctx: Arc<Context>) -> Result<Action, Error> {
    tokio::time::timeout(Duration::from_secs(5), reconcile(Arc::new(svc), ctx))
        .await
        .expect("reconcile finishes")
}

#[tokio::test]
async fn applies_the_deployment_prunes_the_old_daemon_set_then_writes_status() {
    let (ctx, mut server) = testing::context();
    // Cached: the DaemonSet of an earlier DAEMON strategy, and the TaskDefinitions.
    with_caches(
        &ctx,
        Caches {
            daemon_sets: vec![daemon_set("web", "uid-team-a-web")],
            task_definitions: vec![testing::task_definition("team-a", "api", 1), web_td()],
            ..Caches::default()
        },
    );
    let svc = testing::service("team-a", "web", 2, "web");
    let status_svc = svc.clone();
    let verifier = tokio::spawn(async move {
        // No LIST: the TaskDefinitions and the old DaemonSet come from the caches.
        let deployment_status = json!({
            "observedGeneration": 1, "replicas": 3, "readyReplicas": 2, "updatedReplicas": 3
        });
        let deployment =
            expect_workload_apply(&mut server, &format!("{DEPLOYMENTS}/web"), deployment_status).await;

        // The DaemonSet of the earlier DAEMON strategy is pruned, by uid.
        let (request, reply) = next(&mut server).await;
        assert_eq!(
            (request.method(), request.uri().path()),
            (&Method::DELETE, format!("{DAEMON_SETS}/web").as_str())
        );
        let delete = json_body(request).await;
        assert_eq!(delete["preconditions"]["uid"], "uid-ds-web");
        assert_eq!(delete["propagationPolicy"], "Background");
        ok(reply, &daemon_set("web", "uid-team-a-web"));

        let status = expect_status_apply(&mut server, &status_svc).await;
        assert_no_more_requests(server).await;
        (deployment, status)
    });

    let action = run_reconcile(svc, ctx).await.expect("reconcile succeeds");
    assert_eq!(action, Action::requeue(Duration::from_secs(300)));
    let (deployment, status) = tokio::time::timeout(Duration::from_secs(5), verifier)
        .await
        .expect("verifier finishes")
        .expect("verifier passes");

    assert_eq!(deployment["apiVersion"], "apps/v1");
    assert_eq!(deployment["kind"], "Deployment");
    assert_eq!(
        deployment["metadata"]["ownerReferences"],
        json!([{
            "apiVersion": "ecsbridge.io/v1alpha1", "kind": "Service", "name": "web",
            "uid": "uid-team-a-web", "controller": true, "blockOwnerDeletion": true
        }])
    );
    assert_eq!(
        deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "ecs-bridge"
    );
    assert_eq!(deployment["spec"]["replicas"], 3);
    assert_eq!(
        deployment["spec"]["selector"]["matchLabels"]["ecsbridge.io/service"],
        "web"
    );
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        (&container["name"], &container["image"]),
        (&json!("app"), &json!("nginx:1.27"))
    );
    assert!(deployment.get("status").is_none(), "an apply must not set status");

    let status = &status["status"];
    assert_eq!(status["observedGeneration"], 2);
    assert_eq!(status["status"], "ACTIVE");
    assert_eq!(
        (
            &status["desiredCount"],
            &status["runningCount"],
            &status["pendingCount"]
        ),
        (&json!(3), &json!(2), &json!(1))
    );
    assert_eq!(status["taskDefinition"], "web:1");
    assert_eq!(status["selector"], "ecsbridge.io/service=web");
    let ready = condition(status, "Ready");
    assert_eq!(
        (&ready["status"], &ready["reason"]),
        (&json!("False"), &json!("TasksPending"))
    );
    assert_eq!(ready["observedGeneration"], 2);
    assert_eq!(condition(status, "Degraded")["reason"], "AsExpected");
    assert_eq!(condition(status, "Translated")["status"], "True");
    // 2 of 3 tasks run: the rollout is not complete.
    assert_eq!(condition(status, "Progressing")["status"], "True");
}

#[tokio::test]
async fn missing_task_definition_writes_only_the_status() {
    let (ctx, mut server) = testing::context();
    let svc = testing::service("team-a", "web", 4, "web:2");
    let status_svc = svc.clone();
    let verifier = tokio::spawn(async move {
        let other = testing::task_definition("team-a", "api", 1);
        expect_task_definition_list(&mut server, &[other]).await;
        // Next comes the status, not a Deployment: expect_apply checks the path.
        let status = expect_status_apply(&mut server, &status_svc).await;
        expect_warning(&mut server, "TaskDefinitionNotFound").await;
        assert_no_more_requests(server).await;
        status
    });

    let action = run_reconcile(svc, ctx).await.expect("reconcile succeeds");
    assert_eq!(
        action,
        Action::await_change(),
        "no retry loop: the watches re-trigger it"
    );
    let body = tokio::time::timeout(Duration::from_secs(5), verifier)
        .await
        .expect("verifier finishes")
        .expect("verifier passes");
    let status = &body["status"];
    assert_eq!(status["observedGeneration"], 4);
    for type_ in ["Ready", "Progressing"] {
        let c = condition(status, type_);
        assert_eq!(c["status"], "False", "{type_}");
        assert_eq!(c["reason"], "TaskDefinitionNotFound", "{type_}");
        assert_eq!(c["observedGeneration"], 4, "{type_}");
        let message = c["message"].as_str().expect("a message");
        assert!(
            message.contains("spec.taskDefinition") && message.contains("web:2"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn invalid_reference_looks_nothing_up() {
    let (ctx, mut server) = testing::context();
    let svc = testing::service("team-a", "web", 1, "web:latest");
    let status_svc = svc.clone();
    let verifier = tokio::spawn(async move {
        let status = expect_status_apply(&mut server, &status_svc).await;
        expect_warning(&mut server, "InvalidTaskDefinitionReference").await;
        assert_no_more_requests(server).await;
        status
    });
    let action = run_reconcile(svc, ctx).await.expect("reconcile succeeds");
    assert_eq!(action, Action::await_change());
    let body = verifier.await.expect("verifier passes");
    let ready = condition(&body["status"], "Ready");
    assert_eq!(ready["reason"], "InvalidTaskDefinitionReference");
    assert!(
        ready["message"]
            .as_str()
            .expect("message")
            .contains("\"web:latest\"")
    );
}

#[tokio::test]
async fn invalid_task_definition_writes_only_the_status() {
    let (ctx, mut server) = testing::context();
    let svc = testing::service("team-a", "web", 1, "web");
    let status_svc = svc.clone();
    let verifier = tokio::spawn(async move {
        let mut td = testing::task_definition("team-a", "web", 1);
        td.spec.task_definition.container_definitions = vec![crate::api::ecs::ContainerDefinition {
            name: Some("app".into()),
            ..Default::default()
        }];
        expect_registered(&mut server, td).await;
        let status = expect_status_apply(&mut server, &status_svc).await;
        expect_warning(&mut server, "InvalidTaskDefinition").await;
        assert_no_more_requests(server).await;
        status
    });
    let action = run_reconcile(svc, ctx).await.expect("reconcile succeeds");
    assert_eq!(action, Action::await_change());
    let body = verifier.await.expect("verifier passes");
    let ready = condition(&body["status"], "Ready");
    assert_eq!(ready["reason"], "InvalidTaskDefinition");
    assert!(
        ready["message"]
            .as_str()
            .expect("message")
            .contains("image: required")
    );
}

#[tokio::test]
async fn daemon_applies_a_daemon_set_and_prunes_deployments() {
    let (ctx, mut server) = testing::context();
    // Cached: the Deployment of an earlier REPLICA strategy.
    with_caches(
        &ctx,
        Caches {
            deployments: vec![child("apps/v1", "Deployment", "web", "uid-team-a-web")],
            task_definitions: vec![web_td()],
            ..Caches::default()
        },
    );
    let mut svc = testing::service("team-a", "web", 1, "web");
    svc.spec.service.scheduling_strategy = Some(crate::api::ecs::SchedulingStrategy::Daemon);
    let status_svc = svc.clone();
    let verifier = tokio::spawn(async move {
        let body = expect_workload_apply(&mut server, &format!("{DAEMON_SETS}/web"), ds_ready()).await;
        assert_eq!(body["kind"], "DaemonSet");
        assert_eq!(body["metadata"]["ownerReferences"][0]["uid"], "uid-team-a-web");
        expect_delete(&mut server, &format!("{DEPLOYMENTS}/web"), "uid-web").await;
        let status = expect_status_apply(&mut server, &status_svc).await;
        // The deployment completed and every daemon task runs: Kubernetes Events say so, as the
        // ECS events do.
        let event = testing::expect_event(&mut server).await;
        assert_eq!(
            (event["reason"].as_str(), event["type"].as_str()),
            (Some("DeploymentCompleted"), Some("Normal"))
        );
        let event = testing::expect_event(&mut server).await;
        assert_eq!(
            (event["reason"].as_str(), event["type"].as_str()),
            (Some("SteadyState"), Some("Normal"))
        );
        assert_eq!(event["note"], "(service web) has reached a steady state.");
        assert_eq!(event["regarding"]["kind"], "Service");
        (server, body, status)
    });
    run_reconcile(svc.clone(), Arc::clone(&ctx))
        .await
        .expect("reconcile succeeds");
    let (server, applied, body) = verifier.await.expect("verifier passes");

    // Resync with the DaemonSet as stored (and the Deployment gone) in the caches, and the
    // status written: no request at all.
    let mut stored = applied;
    stored["metadata"]["uid"] = json!("uid-workload");
    stored["metadata"]["generation"] = json!(1);
    stored["spec"]["revisionHistoryLimit"] = json!(10);
    stored["status"] = ds_ready();
    with_caches(
        &ctx,
        Caches {
            daemon_sets: vec![stored],
            task_definitions: vec![web_td()],
            ..Caches::default()
        },
    );
    let mut resynced = svc;
    resynced.status = Some(serde_json::from_value(body["status"].clone()).expect("a status"));
    let verifier = tokio::spawn(assert_no_more_requests(server));
    run_reconcile(resynced, ctx).await.expect("reconcile succeeds");
    verifier.await.expect("no request");

    let status = &body["status"];
    assert_eq!(
        (&status["desiredCount"], &status["runningCount"]),
        (&json!(2), &json!(2))
    );
    assert_eq!(
        status["events"][0]["message"],
        "(service web) has reached a steady state."
    );
    let completed = status["events"][1]["message"].as_str().expect("a message");
    assert!(
        completed.starts_with("(service web) (deployment ecs-svc/")
            && completed.ends_with(") deployment completed."),
        "{completed}"
    );
    let deployment = &status["deployments"][0];
    assert_eq!(
        (
            &deployment["status"],
            &deployment["taskDefinition"],
            &deployment["rolloutState"],
            &deployment["desiredCount"]
        ),
        (&json!("PRIMARY"), &json!("web:1"), &json!("COMPLETED"), &json!(2))
    );
    assert_eq!(condition(status, "Ready")["reason"], "SteadyState");
}

#[tokio::test]
async fn unchanged_status_is_not_written_again() {
    let svc = testing::service("team-a", "web", 1, "web");
    let deployment_status = json!({
        "observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 3
    });
    // First reconcile: the status is written.
    let (ctx, mut server) = testing::context();
    let first_svc = svc.clone();
    let ds = deployment_status.clone();
    let verifier = tokio::spawn(async move {
        expect_registered(&mut server, web_td()).await;
        expect_workload_apply(&mut server, &format!("{DEPLOYMENTS}/web"), ds).await;
        expect_status_apply(&mut server, &first_svc).await
    });
    run_reconcile(svc.clone(), ctx).await.expect("reconcile succeeds");
    let body = verifier.await.expect("verifier passes");

    // Second reconcile of the Service carrying that status: apply and prune again, no status write.
    let mut svc = svc;
    svc.status = Some(serde_json::from_value(body["status"].clone()).expect("a status"));
    let (ctx, mut server) = testing::context();
    let verifier = tokio::spawn(async move {
        expect_registered(&mut server, web_td()).await;
        expect_workload_apply(&mut server, &format!("{DEPLOYMENTS}/web"), deployment_status).await;
        assert_no_more_requests(server).await;
    });
    run_reconcile(svc, ctx).await.expect("reconcile succeeds");
    verifier.await.expect("verifier passes");
}

#[tokio::test]
async fn a_failed_apply_is_a_kube_error_and_writes_no_status() {
    let (ctx, mut server) = testing::context();
    let svc = testing::service("team-a", "web", 1, "web");
    let verifier = tokio::spawn(async move {
        expect_registered(&mut server, web_td()).await;
        let (request, reply) = next(&mut server).await;
        assert_eq!(request.method(), Method::PATCH);
        let status = json!({
            "apiVersion": "v1", "kind": "Status", "status": "Failure",
            "message": "the server is overloaded", "reason": "ServiceUnavailable", "code": 503,
        });
        reply.send_response(testing::json_response(StatusCode::SERVICE_UNAVAILABLE, &status));
        assert_no_more_requests(server).await;
    });
    let err = run_reconcile(svc, ctx).await.expect_err("reconcile fails");
    assert!(matches!(err, Error::Kube(_)), "{err:?}");
    verifier.await.expect("verifier passes");
}

#[tokio::test]
async fn a_service_being_deleted_makes_no_request() {
    let (ctx, server) = testing::context();
    let mut svc = testing::service("team-a", "web", 1, "web");
    svc.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::from_second(1_700_000_000).expect("a time"),
    ));
    assert_eq!(run_reconcile(svc, ctx).await.expect("ok"), Action::await_change());
    assert_no_more_requests(server).await;
}

#[tokio::test]
async fn object_without_namespace_is_an_error() {
    let (ctx, server) = testing::context();
    let mut svc = testing::service("team-a", "web", 1, "web");
    svc.metadata.namespace = None;
    let err = run_reconcile(svc, ctx).await.expect_err("reconcile fails");
    assert_eq!(err.metric_label(), "missing_namespace");
    assert_no_more_requests(server).await;
}

#[test]
fn task_definition_changes_map_to_the_services_that_reference_them() {
    let services: Vec<Arc<Service>> = [
        testing::service("team-a", "front", 1, "web"),
        testing::service("team-a", "pinned", 1, "web:3"),
        testing::service(
            "team-a",
            "by-arn",
            1,
            "arn:aws:ecs:eu-west-1:1:task-definition/web:2",
        ),
        testing::service("team-a", "api", 1, "api"),
        testing::service("team-a", "broken", 1, "web:latest"),
        testing::service("team-b", "front", 1, "web"),
    ]
    .into_iter()
    .map(Arc::new)
    .collect();
    let names = |refs: Vec<ObjectRef<Service>>| {
        let mut names: Vec<String> = refs
            .iter()
            .map(|r| format!("{}/{}", r.namespace.as_deref().unwrap_or(""), r.name))
            .collect();
        names.sort();
        names
    };
    let td = testing::task_definition("team-a", "web", 1);
    assert_eq!(
        names(services_for_task_definition(&services, &td)),
        ["team-a/by-arn", "team-a/front", "team-a/pinned"]
    );
    // Known by its family too: object "web-v2" registers family "web".
    let mut td = testing::task_definition("team-a", "web-v2", 1);
    td.spec.task_definition.family = Some("web".into());
    assert_eq!(names(services_for_task_definition(&services, &td)).len(), 3);
    let td = testing::task_definition("team-c", "web", 1);
    assert!(services_for_task_definition(&services, &td).is_empty());
}

#[test]
fn node_changes_map_to_the_services_whose_placement_reads_node_labels() {
    use crate::api::ecs::{
        PlacementConstraint, PlacementConstraintType, TaskDefinitionPlacementConstraint,
        TaskDefinitionPlacementConstraintType,
    };
    let expression = Some("attribute:stack == prod".to_owned());
    let mut own = testing::service("team-a", "own", 1, "api");
    own.spec.service.placement_constraints = Some(vec![PlacementConstraint {
        r#type: Some(PlacementConstraintType::Memberof),
        expression: expression.clone(),
    }]);
    let services: Vec<Arc<Service>> = [
        own,
        testing::service("team-a", "front", 1, "web:2"),
        testing::service("team-a", "api", 1, "api"),
        testing::service("team-b", "front", 1, "web"),
    ]
    .into_iter()
    .map(Arc::new)
    .collect();
    let mut web = testing::task_definition("team-a", "web", 1);
    web.spec.task_definition.placement_constraints = Some(vec![TaskDefinitionPlacementConstraint {
        r#type: Some(TaskDefinitionPlacementConstraintType::Memberof),
        expression,
    }]);
    let mut empty = testing::task_definition("team-b", "web", 1);
    empty.spec.task_definition.placement_constraints = Some(Vec::new());
    let tds = [
        Arc::new(web),
        Arc::new(empty),
        Arc::new(testing::task_definition("team-a", "api", 1)),
    ];
    let mut names: Vec<String> = services_with_placement(&services, &tds)
        .iter()
        .map(|r| format!("{}/{}", r.namespace.as_deref().unwrap_or(""), r.name))
        .collect();
    names.sort();
    // Its own constraints, or its TaskDefinition's; each once.
    assert_eq!(names, ["team-a/front", "team-a/own"]);
}

#[tokio::test]
async fn run_watches_services_owned_children_by_label_and_task_definitions() {
    use futures::FutureExt;

    let (ctx, mut server) = testing::context();
    let (stop, stopped) = futures::channel::oneshot::channel::<()>();
    let shutdown: crate::runtime::Shutdown = stopped.map(|_| ()).boxed().shared();
    let running = tokio::spawn(run(
        Some("team-a".into()),
        ctx,
        crate::runtime::Synced::unobserved(),
        shutdown,
    ));
    let mut selectors = std::collections::BTreeMap::new();
    let mut pending = Vec::new();
    for _ in 0..12 {
        let (request, reply) = next(&mut server).await;
        assert_eq!(request.method(), Method::GET);
        let query = testing::query(request.uri());
        selectors.insert(
            request.uri().path().to_owned(),
            query.get("labelSelector").cloned(),
        );
        pending.push(reply);
    }
    let managed = Some("app.kubernetes.io/managed-by=ecs-bridge".to_owned());
    assert_eq!(
        selectors,
        std::collections::BTreeMap::from([
            (
                "/apis/ecsbridge.io/v1alpha1/namespaces/team-a/services".to_owned(),
                None
            ),
            (TDS.to_owned(), None),
            (DEPLOYMENTS.to_owned(), managed.clone()),
            (DAEMON_SETS.to_owned(), managed.clone()),
            // The registered revisions (ours, by label).
            (
                "/apis/apps/v1/namespaces/team-a/controllerrevisions".to_owned(),
                managed.clone()
            ),
            // Its Kubernetes Services (TargetGroupBindings are not watched: maybe not served).
            (SERVICES.to_owned(), managed.clone()),
            // The HPAs of its auto scaling.
            (
                "/apis/autoscaling/v2/namespaces/team-a/horizontalpodautoscalers".to_owned(),
                managed
            ),
            // Nodes: placement compiles against their labels.
            ("/api/v1/nodes".to_owned(), None),
            // Capacity providers, and the namespace's default strategy (its annotations).
            ("/apis/ecsbridge.io/v1alpha1/capacityproviders".to_owned(), None),
            ("/api/v1/namespaces".to_owned(), None),
            // The tasks and their ReplicaSets: ECS deployments, failures and events.
            (
                "/apis/apps/v1/namespaces/team-a/replicasets".to_owned(),
                Some("ecsbridge.io/service".to_owned())
            ),
            (
                "/api/v1/namespaces/team-a/pods".to_owned(),
                Some("ecsbridge.io/service".to_owned())
            ),
        ])
    );
    // Never synced: shutdown stops at once.
    stop.send(()).expect("still running");
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("run stops after shutdown")
        .expect("no panic");
}

/// A TaskDefinition `web` (awsvpc) whose container `app` maps port 80, named `http`.
fn networked_td() -> TaskDefinition {
    let mut td = testing::task_definition("team-a", "web", 1);
    td.spec.task_definition = serde_json::from_value(json!({
        "family": "web",
        "networkMode": "awsvpc",
        "containerDefinitions": [{"name": "app", "image": "nginx:1.27",
            "portMappings": [{"name": "http", "containerPort": 80}]}]
    }))
    .expect("task definition");
    td
}

const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/73e2d6bc24d8a067";

/// Service `web` with a load balancer on `app:80` and a Service Connect alias `shop-web`.
fn networked_service() -> Service {
    let mut svc = testing::service("team-a", "web", 2, "web");
    svc.spec.service.load_balancers = Some(vec![
        serde_json::from_value(json!({"targetGroupArn": TG, "containerName": "app", "containerPort": 80}))
            .expect("load balancer"),
    ]);
    svc.spec.service.service_connect_configuration = Some(
        serde_json::from_value(json!({"enabled": true, "services": [
            {"portName": "http", "clientAliases": [{"port": 8080, "dnsName": "shop-web"}]}]}))
        .expect("service connect"),
    );
    svc
}

/// A child of kind `kind` named `name`, labelled as ours and owned by `owner_uid`.
fn child(api_version: &str, kind: &str, name: &str, owner_uid: &str) -> Value {
    let mut obj = json!({
        "apiVersion": api_version, "kind": kind,
        "metadata": {
            "name": name, "namespace": "team-a", "uid": format!("uid-{name}"),
            "labels": { "ecsbridge.io/service": "web", "app.kubernetes.io/managed-by": "ecs-bridge" },
            "ownerReferences": [{
                "apiVersion": "ecsbridge.io/v1alpha1", "kind": "Service", "name": "web",
                "uid": owner_uid, "controller": true
            }]
        }
    });
    if kind == "TargetGroupBinding" {
        obj["spec"] = json!({"targetGroupARN": TG, "serviceRef": {"name": "web-lb", "port": 80}});
    }
    obj
}

/// The Deployment status of three ready tasks.
fn ready() -> Value {
    json!({"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 3})
}

/// Serves the workload's apply and the DaemonSet prune of a ready Deployment; returns the
/// Deployment as stored.
async fn expect_ready_deployment(server: &mut Handle) -> Value {
    let mut stored = expect_workload_apply(server, &format!("{DEPLOYMENTS}/web"), ready()).await;
    stored["metadata"]["generation"] = json!(1);
    stored["status"] = ready();
    stored
}

/// Serves a forced apply at `path`, echoing the body; returns it.
async fn expect_echoed_apply(server: &mut Handle, path: &str) -> Value {
    let (request, reply) = next(server).await;
    let body = expect_apply(request, path).await;
    ok(reply, &body);
    body
}

/// Serves the first requests of a reconcile of [`networked_service`], up to its
/// TargetGroupBinding: the TaskDefinition LIST, the Deployment's apply (ready) and the applies of
/// its two Kubernetes Services (echoed); returns the Deployment and the Services as stored.
async fn expect_networked_workload(server: &mut Handle) -> (Value, Value, Value) {
    expect_registered(server, networked_td()).await;
    let deployment = expect_ready_deployment(server).await;
    let lb = expect_echoed_apply(server, &format!("{SERVICES}/web-lb")).await;
    let sc = expect_echoed_apply(server, &format!("{SERVICES}/shop-web")).await;
    (deployment, lb, sc)
}

/// Serves a DELETE of `path` with the uid precondition `uid`.
async fn expect_delete(server: &mut Handle, path: &str, uid: &str) {
    let (request, reply) = next(server).await;
    assert_eq!((request.method(), request.uri().path()), (&Method::DELETE, path));
    assert_eq!(json_body(request).await["preconditions"]["uid"], uid);
    ok(
        reply,
        &json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
    );
}

/// Serves the discovery of `elbv2.k8s.aws/v1beta1`: TargetGroupBindings served.
async fn expect_bindings_discovery(server: &mut Handle) {
    testing::expect_discovery(
        server,
        "elbv2.k8s.aws/v1beta1",
        "targetgroupbindings",
        "TargetGroupBinding",
    )
    .await;
}

/// Answers the next request, a GET of `path`, with a plain-text 404 (as an API server or a proxy
/// answers a path it does not serve).
async fn expect_unserved(server: &mut Handle, path: &str) {
    let (request, reply) = next(server).await;
    assert_eq!((request.method(), request.uri().path()), (&Method::GET, path));
    reply.send_response(
        http::Response::builder()
            .status(StatusCode::NOT_FOUND)
            .header(http::header::CONTENT_TYPE, "text/plain")
            .body(Body::from(b"404 page not found".to_vec()))
            .expect("response"),
    );
}

/// Serves the GET of binding `name`: `live`, or a NotFound Status.
async fn expect_binding_get(server: &mut Handle, name: &str, live: Option<&Value>) {
    let (request, reply) = next(server).await;
    assert_eq!(
        (request.method(), request.uri().path()),
        (&Method::GET, format!("{BINDINGS}/{name}").as_str())
    );
    match live {
        Some(live) => ok(reply, live),
        None => reply.send_response(testing::json_response(
            StatusCode::NOT_FOUND,
            &json!({"apiVersion": "v1", "kind": "Status", "status": "Failure", "reason": "NotFound",
                "code": 404, "message": format!("targetgroupbindings.elbv2.k8s.aws \"{name}\" not found")}),
        )),
    }
}

/// Serves the Kubernetes Event of a Service that became ready: it reached a steady state.
async fn expect_steady_state_event(server: &mut Handle) {
    let event = testing::expect_event(server).await;
    assert_eq!(event["reason"], "SteadyState", "{event}");
}

/// What the controller's caches hold in a test (JSON objects as the API server returns them).
#[derive(Default)]
struct Caches {
    deployments: Vec<Value>,
    daemon_sets: Vec<Value>,
    services: Vec<Value>,
    hpas: Vec<Value>,
    task_definitions: Vec<TaskDefinition>,
    capacity_providers: Vec<Value>,
    namespaces: Vec<Value>,
}

/// Gives `ctx` the controller's caches (replacing any), as its watches would fill them: then
/// the reconcile reads its children, TaskDefinitions and nodes from them, not from the API.
fn with_caches(ctx: &Context, caches: Caches) {
    use kube::runtime::{reflector::store, watcher::Event};
    /// The events of a watch's first list of `items`.
    fn listed<K: serde::de::DeserializeOwned>(items: Vec<Value>) -> Vec<Event<K>> {
        std::iter::once(Event::Init)
            .chain(
                items
                    .into_iter()
                    .map(|item| Event::InitApply(serde_json::from_value(item).expect("an object"))),
            )
            .chain(std::iter::once(Event::InitDone))
            .collect()
    }
    fn filled<K>(items: Vec<Value>) -> kube::runtime::reflector::Store<K>
    where
        K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + 'static,
    {
        let (reader, mut writer) = store::<K>();
        for event in listed(items) {
            writer.apply_watcher_event(&event);
        }
        reader
    }
    fn indexed<K>(
        items: Vec<Value>,
        key: crate::controller::indexed::KeyFn<K>,
    ) -> crate::controller::indexed::Indexed<K>
    where
        K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + 'static,
    {
        let (reader, mut writer) = store::<K>();
        let (indexed, index) = crate::controller::indexed::Indexed::new(reader, key);
        for event in listed(items) {
            writer.apply_watcher_event(&event);
            index.apply(&event);
        }
        indexed
    }
    // Each TaskDefinition registered its live spec (as revision 1 when its status names none).
    let registered: Vec<TaskDefinition> = caches
        .task_definitions
        .into_iter()
        .map(|td| {
            let n = td.status.as_ref().and_then(|s| s.revision).unwrap_or(1);
            testing::registered(td, n)
        })
        .collect();
    let revisions = registered
        .iter()
        .map(|td| {
            let n = td.status.as_ref().and_then(|s| s.revision).unwrap_or(1);
            serde_json::to_value(crate::controller::revisions::registered_as(td, n).expect("a uid"))
                .expect("json")
        })
        .collect();
    let task_definitions = registered
        .into_iter()
        .map(|td| serde_json::to_value(td).expect("json"))
        .collect();
    let mut stores = ctx.service_children.write().expect("not poisoned");
    stores.clear();
    stores.push(children::Stores {
        listed: Default::default(),
        deployments: indexed(caches.deployments, children::by_service),
        daemon_sets: filled(caches.daemon_sets),
        replica_sets: indexed(Vec::new(), children::by_service),
        pods: indexed(Vec::new(), children::by_service),
        services: indexed(caches.services, children::by_service),
        hpas: filled(caches.hpas),
        task_definitions: indexed(task_definitions, children::by_family),
        revisions: filled(revisions),
        nodes: filled(Vec::new()),
        capacity_providers: filled(caches.capacity_providers),
        namespaces: filled(caches.namespaces),
    });
}

#[tokio::test]
async fn load_balancers_and_service_connect_are_applied_and_the_rest_pruned() {
    let (ctx, mut server) = testing::context();
    // Cached: a registry's Service the Service no longer has, and another Service's.
    let mut theirs = child("v1", "Service", "api-lb", "uid-team-a-api");
    theirs["metadata"]["labels"]["ecsbridge.io/service"] = json!("api");
    with_caches(
        &ctx,
        Caches {
            services: vec![child("v1", "Service", "web-discovery", "uid-team-a-web"), theirs],
            task_definitions: vec![networked_td()],
            ..Caches::default()
        },
    );
    let svc = networked_service();
    let status_svc = svc.clone();
    let verifier = tokio::spawn(async move {
        expect_ready_deployment(&mut server).await;
        // Services, then the binding that names one of them (missing: applied).
        let lb = expect_echoed_apply(&mut server, &format!("{SERVICES}/web-lb")).await;
        let sc = expect_echoed_apply(&mut server, &format!("{SERVICES}/shop-web")).await;
        expect_bindings_discovery(&mut server).await;
        expect_binding_get(&mut server, "web.web-tg", None).await;
        let binding = expect_echoed_apply(&mut server, &format!("{BINDINGS}/web.web-tg")).await;
        // Pruning: bindings first (a binding must not outlive its Service), ours only, listed
        // (bindings are not cached)...
        expect_list(
            &mut server,
            BINDINGS,
            SELECTOR,
            "elbv2.k8s.aws/v1beta1",
            "TargetGroupBindingList",
            vec![
                child(
                    "elbv2.k8s.aws/v1beta1",
                    "TargetGroupBinding",
                    "web.web-tg",
                    "uid-team-a-web",
                ),
                child(
                    "elbv2.k8s.aws/v1beta1",
                    "TargetGroupBinding",
                    "web.old-tg",
                    "uid-team-a-web",
                ),
                child(
                    "elbv2.k8s.aws/v1beta1",
                    "TargetGroupBinding",
                    "web.theirs",
                    "uid-someone-else",
                ),
            ],
        )
        .await;
        expect_delete(&mut server, &format!("{BINDINGS}/web.old-tg"), "uid-web.old-tg").await;
        // ...then the Services, from the cache: no LIST.
        expect_delete(
            &mut server,
            &format!("{SERVICES}/web-discovery"),
            "uid-web-discovery",
        )
        .await;
        let status = expect_status_apply(&mut server, &status_svc).await;
        expect_steady_state_event(&mut server).await;
        assert_no_more_requests(server).await;
        (lb, sc, binding, status)
    });
    let action = run_reconcile(svc, ctx).await.expect("reconcile succeeds");
    assert_eq!(action, Action::requeue(Duration::from_secs(300)));
    let (lb, sc, binding, status) = verifier.await.expect("verifier passes");

    let owner = json!([{
        "apiVersion": "ecsbridge.io/v1alpha1", "kind": "Service", "name": "web",
        "uid": "uid-team-a-web", "controller": true, "blockOwnerDeletion": true
    }]);
    for obj in [&lb, &sc, &binding] {
        assert_eq!(obj["metadata"]["ownerReferences"], owner, "{obj}");
        assert_eq!(obj["metadata"]["labels"]["ecsbridge.io/service"], "web", "{obj}");
        assert_eq!(
            obj["metadata"]["labels"]["app.kubernetes.io/managed-by"], "ecs-bridge",
            "{obj}"
        );
        assert!(
            obj["metadata"]["annotations"][crate::controller::unchanged::APPLIED_HASH].is_string(),
            "stamped: {obj}"
        );
    }
    assert_eq!(
        (&lb["apiVersion"], &lb["kind"]),
        (&json!("v1"), &json!("Service"))
    );
    assert_eq!(lb["spec"]["selector"], json!({"ecsbridge.io/service": "web"}));
    assert_eq!(
        lb["spec"]["ports"],
        json!([{"name": "http", "port": 80, "targetPort": 80, "protocol": "TCP"}])
    );
    assert_eq!(
        sc["spec"]["ports"],
        json!([{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}])
    );
    assert_eq!(
        binding["spec"],
        json!({"targetGroupARN": TG, "targetType": "ip", "serviceRef": {"name": "web-lb", "port": "http"}})
    );
    let status = &status["status"];
    assert_eq!(condition(status, "Degraded")["status"], "False");
    assert_eq!(condition(status, "Translated")["status"], "True", "{status}");
}

#[tokio::test]
async fn unchanged_networking_objects_are_not_written_again() {
    // First reconcile: everything is applied (and the bindings listed once, for pruning).
    let (ctx, mut server) = testing::context();
    let svc = networked_service();
    let first_svc = svc.clone();
    let verifier = tokio::spawn(async move {
        let (deployment, lb, sc) = expect_networked_workload(&mut server).await;
        expect_bindings_discovery(&mut server).await;
        expect_binding_get(&mut server, "web.web-tg", None).await;
        let binding = expect_echoed_apply(&mut server, &format!("{BINDINGS}/web.web-tg")).await;
        expect_list(
            &mut server,
            BINDINGS,
            SELECTOR,
            "elbv2.k8s.aws/v1beta1",
            "TargetGroupBindingList",
            Vec::new(),
        )
        .await;
        let status = expect_status_apply(&mut server, &first_svc).await;
        expect_steady_state_event(&mut server).await;
        (server, deployment, vec![lb, sc], binding, status)
    });
    run_reconcile(svc.clone(), Arc::clone(&ctx))
        .await
        .expect("reconcile succeeds");
    let (mut server, deployment, services, binding, status) = verifier.await.expect("verifier passes");

    // Resync, with what was applied in the caches, as the API server stores it (with fields it
    // adds): one GET of the binding (not cached), and no other request at all.
    let defaulted = |mut obj: Value| {
        obj["metadata"]["uid"] = json!(format!("uid-{}", obj["metadata"]["name"].as_str().unwrap_or("")));
        obj["metadata"]["resourceVersion"] = json!("7");
        if obj["kind"] == "Service" {
            obj["spec"]["clusterIP"] = json!("10.96.0.10");
            obj["spec"]["sessionAffinity"] = json!("None");
        }
        obj
    };
    with_caches(
        &ctx,
        Caches {
            deployments: vec![defaulted(deployment)],
            services: services.into_iter().map(defaulted).collect(),
            task_definitions: vec![networked_td()],
            ..Caches::default()
        },
    );
    let mut svc = svc;
    svc.status = Some(serde_json::from_value(status["status"].clone()).expect("a status"));
    let verifier = tokio::spawn(async move {
        let mut live = defaulted(binding);
        live["spec"]["ipAddressType"] = json!("ipv4");
        expect_binding_get(&mut server, "web.web-tg", Some(&live)).await;
        assert_no_more_requests(server).await;
    });
    run_reconcile(svc, ctx).await.expect("reconcile succeeds");
    verifier.await.expect("verifier passes");
}

#[tokio::test]
async fn without_the_load_balancer_controller_the_service_is_degraded_without_trying() {
    let (ctx, mut server) = testing::context();
    let svc = networked_service();
    let status_svc = svc.clone();
    let verifier = tokio::spawn(async move {
        expect_networked_workload(&mut server).await;
        // Discovery does not know the group: no binding is read, written or listed.
        expect_unserved(&mut server, "/apis/elbv2.k8s.aws/v1beta1").await;
        let status = expect_status_apply(&mut server, &status_svc).await;
        expect_steady_state_event(&mut server).await;
        assert_no_more_requests(server).await;
        status
    });
    let action = run_reconcile(svc, ctx).await.expect("the tasks run: no failure");
    assert_eq!(action, Action::requeue(Duration::from_secs(300)));
    let body = verifier.await.expect("verifier passes");
    let status = &body["status"];
    let degraded = condition(status, "Degraded");
    assert_eq!(
        (&degraded["status"], &degraded["reason"]),
        (&json!("True"), &json!("DependentsNotApplied"))
    );
    let message = degraded["message"].as_str().expect("message");
    assert!(
        message.contains("TargetGroupBinding is not served")
            && message.contains("AWS Load Balancer Controller"),
        "{message}"
    );
    // The tasks run (ECS's steady-state event says so), but the Service is not Ready: the user
    // must install the controller.
    let ready = condition(status, "Ready");
    assert_eq!(
        (&ready["status"], &ready["reason"]),
        (&json!("False"), &json!("DependentsNotApplied"))
    );
    let running = status["runningCount"].as_i64().expect("runningCount");
    assert!(
        ready["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(&format!("{running} of {running} tasks are running, but: "))),
        "{ready}"
    );
    assert_eq!(
        (&status["health"], &status["healthReason"]),
        (&json!("Degraded"), &json!("DependentsNotApplied"))
    );
}

#[tokio::test]
async fn a_binding_whose_kind_went_away_is_reported_and_asked_about_again() {
    let (ctx, mut server) = testing::context();
    let svc = networked_service();
    let status_svc = svc.clone();
    let verifier = tokio::spawn(async move {
        expect_networked_workload(&mut server).await;
        // Discovery (perhaps stale) says served, but the path is not.
        expect_bindings_discovery(&mut server).await;
        expect_unserved(&mut server, &format!("{BINDINGS}/web.web-tg")).await;
        let (request, reply) = next(&mut server).await;
        assert_eq!(
            (request.method(), request.uri().path()),
            (&Method::PATCH, format!("{BINDINGS}/web.web-tg").as_str())
        );
        reply.send_response(
            http::Response::builder()
                .status(StatusCode::NOT_FOUND)
                .header(http::header::CONTENT_TYPE, "text/plain")
                .body(Body::from(b"404 page not found".to_vec()))
                .expect("response"),
        );
        let status = expect_status_apply(&mut server, &status_svc).await;
        expect_steady_state_event(&mut server).await;
        (server, status)
    });
    run_reconcile(svc.clone(), Arc::clone(&ctx))
        .await
        .expect("the tasks run: no failure");
    let (mut server, status) = verifier.await.expect("verifier passes");
    let degraded = condition(&status["status"], "Degraded");
    assert_eq!(degraded["reason"], "DependentsNotApplied");
    assert!(
        degraded["message"]
            .as_str()
            .is_some_and(|m| m.contains("TargetGroupBinding is not served")),
        "{degraded}"
    );
    // The next reconcile asks discovery again instead of writing.
    let mut svc = svc;
    svc.status = Some(serde_json::from_value(status["status"].clone()).expect("a status"));
    let verifier = tokio::spawn(async move {
        expect_networked_workload(&mut server).await;
        expect_unserved(&mut server, "/apis/elbv2.k8s.aws/v1beta1").await;
        assert_no_more_requests(server).await;
    });
    run_reconcile(svc, ctx).await.expect("the tasks run: no failure");
    verifier.await.expect("verifier passes");
}

#[tokio::test]
async fn a_networking_object_the_api_server_refuses_is_reported() {
    let (ctx, mut server) = testing::context();
    let svc = networked_service();
    let status_svc = svc.clone();
    let verifier = tokio::spawn(async move {
        expect_registered(&mut server, networked_td()).await;
        expect_ready_deployment(&mut server).await;
        expect_echoed_apply(&mut server, &format!("{SERVICES}/web-lb")).await;
        // `shop-web` is someone else's already (not ecs-bridge's: not in the cache), with a
        // controller: a second controller owner is refused.
        let (request, reply) = next(&mut server).await;
        assert_eq!(request.uri().path(), format!("{SERVICES}/shop-web"));
        let refusal = json!({
            "apiVersion": "v1", "kind": "Status", "status": "Failure", "reason": "Invalid", "code": 422,
            "message": "Service \"shop-web\" is invalid: metadata.ownerReferences: Invalid value: []v1.OwnerReference{...}: Only one reference can have Controller set to true"
        });
        reply.send_response(testing::json_response(StatusCode::UNPROCESSABLE_ENTITY, &refusal));
        expect_bindings_discovery(&mut server).await;
        expect_binding_get(&mut server, "web.web-tg", None).await;
        expect_echoed_apply(&mut server, &format!("{BINDINGS}/web.web-tg")).await;
        expect_list(
            &mut server,
            BINDINGS,
            SELECTOR,
            "elbv2.k8s.aws/v1beta1",
            "TargetGroupBindingList",
            Vec::new(),
        )
        .await;
        let status = expect_status_apply(&mut server, &status_svc).await;
        expect_steady_state_event(&mut server).await;
        assert_no_more_requests(server).await;
        status
    });
    run_reconcile(svc, ctx).await.expect("reconcile succeeds");
    let body = verifier.await.expect("verifier passes");
    let degraded = condition(&body["status"], "Degraded");
    assert_eq!(degraded["reason"], "DependentsNotApplied");
    let message = degraded["message"].as_str().expect("message");
    assert!(
        message.starts_with("Service not applied: Service \"shop-web\" is invalid")
            && message.contains("Only one reference can have Controller set to true"),
        "{message}"
    );
}

#[tokio::test]
async fn a_name_another_service_has_is_reported_without_asking() {
    let (ctx, mut server) = testing::context();
    // Cached: Service `api`'s `shop-web` (its Service Connect alias too).
    let mut theirs = child("v1", "Service", "shop-web", "uid-team-a-api");
    theirs["metadata"]["labels"]["ecsbridge.io/service"] = json!("api");
    theirs["metadata"]["ownerReferences"][0]["name"] = json!("api");
    with_caches(
        &ctx,
        Caches {
            services: vec![theirs],
            task_definitions: vec![networked_td()],
            ..Caches::default()
        },
    );
    let mut svc = networked_service();
    svc.spec.service.load_balancers = None;
    let status_svc = svc.clone();
    let verifier = tokio::spawn(async move {
        expect_ready_deployment(&mut server).await;
        // No apply of shop-web, no binding, no LIST, and not api's Service pruned.
        let status = expect_status_apply(&mut server, &status_svc).await;
        expect_steady_state_event(&mut server).await;
        assert_no_more_requests(server).await;
        status
    });
    run_reconcile(svc, ctx).await.expect("reconcile succeeds");
    let body = verifier.await.expect("verifier passes");
    let degraded = condition(&body["status"], "Degraded");
    assert_eq!(
        (&degraded["reason"], &degraded["message"]),
        (
            &json!("DependentsNotApplied"),
            &json!(
                "Service not applied: Service \"shop-web\" already belongs to Service.ecsbridge.io \"api\", \
                 which uses the same name; rename one"
            )
        )
    );
}

#[tokio::test]
async fn networking_ecs_would_refuse_writes_only_the_status() {
    let (ctx, mut server) = testing::context();
    let mut svc = networked_service();
    svc.spec.service.load_balancers = Some(vec![
        serde_json::from_value(json!({"targetGroupArn": TG, "containerName": "app", "containerPort": 8080}))
            .expect("load balancer"),
    ]);
    let status_svc = svc.clone();
    let verifier = tokio::spawn(async move {
        expect_registered(&mut server, networked_td()).await;
        let status = expect_status_apply(&mut server, &status_svc).await;
        expect_warning(&mut server, "InvalidNetworking").await;
        assert_no_more_requests(server).await;
        status
    });
    assert_eq!(
        run_reconcile(svc, ctx).await.expect("reconcile succeeds"),
        Action::await_change()
    );
    let body = verifier.await.expect("verifier passes");
    let ready = condition(&body["status"], "Ready");
    assert_eq!(ready["reason"], "InvalidNetworking");
    assert!(
        ready["message"]
            .as_str()
            .expect("message")
            .starts_with("spec.loadBalancers[0].containerPort: container \"app\" maps no containerPort 8080"),
        "{ready}"
    );
}

mod scaling;
