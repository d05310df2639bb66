//! Reconcile tests against a mocked API server: the exact request sequence (list revisions,
//! register, retention, status) and the bodies sent.

use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{
    status::{Registration, compute_status},
    *,
};
use crate::controller::{
    Config, revisions,
    testing::{self, Handle, assert_no_more_requests, json_body, next, ok},
};

const REVISIONS: &str = "/apis/apps/v1/namespaces/team-a/controllerrevisions";
const SERVICES: &str = "/apis/ecsbridge.io/v1alpha1/namespaces/team-a/services";
const TASKS: &str = "/apis/ecsbridge.io/v1alpha1/namespaces/team-a/tasks";
const SCHEDULED_TASKS: &str = "/apis/ecsbridge.io/v1alpha1/namespaces/team-a/scheduledtasks";
const STATUS: &str = "/apis/ecsbridge.io/v1alpha1/namespaces/team-a/taskdefinitions/web/status";

/// The TaskDefinition `web` (generation 3) with one container running `image` as a non-root
/// user (so that it translates without notes).
fn web(image: &str) -> TaskDefinition {
    let mut td = testing::with_container(testing::task_definition("team-a", "web", 3), "app", image);
    td.spec.task_definition.container_definitions[0].user = Some("1000".into());
    td
}

/// `web(image)` registered as `revision`, as the API server stores it.
fn stored_revision(image: &str, revision: i64) -> Value {
    let td = web(image);
    let cr = revisions::registered_as(&td, revision).expect("a uid");
    let mut value = serde_json::to_value(cr).expect("json");
    value["metadata"]["uid"] = json!(format!("uid-web-{revision}"));
    value["metadata"]["resourceVersion"] = json!("5");
    value
}

/// A context whose configuration keeps `limit` revisions.
fn context_with_limit(limit: usize) -> (Arc<Context>, Handle) {
    let (client, handle) = testing::client();
    let config = Config {
        revision_history_limit: limit,
        ..Config::default()
    };
    (Arc::new(Context::new(client, config)), handle)
}

/// Serves the LIST of the object's ControllerRevisions (selected by its name) with `items`.
/// The namespace's families ConfigMap.
const FAMILIES: &str = "/api/v1/namespaces/team-a/configmaps/ecsbridge-task-definition-families";

async fn expect_revision_list(server: &mut Handle, items: Vec<Value>) {
    let (request, reply) = next(server).await;
    assert_eq!(
        (request.method(), request.uri().path()),
        (&Method::GET, REVISIONS)
    );
    let query = testing::query(request.uri());
    assert_eq!(
        query.get("labelSelector").map(String::as_str),
        Some("ecsbridge.io/task-definition=web")
    );
    ok(
        reply,
        &testing::list_body("apps/v1", "ControllerRevisionList", items),
    );
}

/// Serves a registration in a namespace whose families ConfigMap does not exist yet: its read
/// (404), its create with the family's mark, and the CREATE of the ControllerRevision; returns
/// the revision's body.
async fn expect_revision_create(server: &mut Handle) -> Value {
    expect_registration_above(server, None).await
}

/// Serves a registration whose family's high-water mark is `mark` (`None`: no ConfigMap yet):
/// the read of the families ConfigMap, the write of the new mark (a create, or a merge patch
/// guarded by the resource version read), and the CREATE of the ControllerRevision; returns the
/// revision's body, after checking that the mark written is its number.
async fn expect_registration_above(server: &mut Handle, mark: Option<i64>) -> Value {
    let (request, reply) = next(server).await;
    assert_eq!((request.method(), request.uri().path()), (&Method::GET, FAMILIES));
    let stored = mark.map(|m| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "ecsbridge-task-definition-families", "namespace": "team-a",
                            "resourceVersion": "42"},
               "data": {"web": m.to_string(), "api": "9"}})
    });
    match &stored {
        Some(cm) => ok(reply, cm),
        None => reply.send_response(testing::json_response(
            StatusCode::NOT_FOUND,
            &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}),
        )),
    }
    let (request, reply) = next(server).await;
    let written = match mark {
        None => {
            assert_eq!(
                (request.method(), request.uri().path()),
                (&Method::POST, "/api/v1/namespaces/team-a/configmaps")
            );
            let body = json_body(request).await;
            assert_eq!(body["metadata"]["name"], "ecsbridge-task-definition-families");
            assert!(
                body["metadata"].get("ownerReferences").is_none(),
                "owned by nothing"
            );
            reply.send_response(testing::json_response(StatusCode::CREATED, &body));
            body
        }
        Some(_) => {
            assert_eq!(
                (request.method(), request.uri().path()),
                (&Method::PATCH, FAMILIES)
            );
            assert_eq!(request.headers()["content-type"], "application/merge-patch+json");
            let body = json_body(request).await;
            assert_eq!(body["metadata"]["resourceVersion"], "42", "guarded: {body}");
            assert!(body["data"].get("api").is_none(), "only its own family: {body}");
            ok(reply, &body);
            body
        }
    };
    let (request, reply) = next(server).await;
    assert_eq!(
        (request.method(), request.uri().path()),
        (&Method::POST, REVISIONS)
    );
    let body = json_body(request).await;
    let uid = body["metadata"]["ownerReferences"][0]["uid"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        written["data"]["web"],
        json!(format!("{} {uid}", body["revision"])),
        "the mark is the new revision, given to the TaskDefinition"
    );
    let mut stored = body.clone();
    stored["metadata"]["uid"] = json!("uid-new-revision");
    reply.send_response(testing::json_response(StatusCode::CREATED, &stored));
    body
}

/// Serves the forced server-side apply of the status; returns its body.
async fn expect_status_apply(server: &mut Handle, td: &TaskDefinition) -> Value {
    let (request, reply) = next(server).await;
    let body = testing::expect_forced_apply(request, STATUS, FIELD_MANAGER).await;
    assert_eq!(body["apiVersion"], "ecsbridge.io/v1alpha1");
    assert_eq!(body["kind"], "TaskDefinition");
    assert!(body.get("spec").is_none(), "a status patch must not touch spec");
    let mut stored = serde_json::to_value(td).expect("json");
    stored["status"] = body["status"].clone();
    ok(reply, &stored);
    body
}

/// Serves the LISTs of the namespace's Tasks and ScheduledTasks (after its Services), empty.
async fn expect_no_tasks(server: &mut Handle) {
    for (path, kind) in [(TASKS, "TaskList"), (SCHEDULED_TASKS, "ScheduledTaskList")] {
        let (request, reply) = next(server).await;
        assert_eq!((request.method(), request.uri().path()), (&Method::GET, path));
        ok(
            reply,
            &testing::list_body("ecsbridge.io/v1alpha1", kind, Vec::new()),
        );
    }
}

async fn run_reconcile(td: TaskDefinition, ctx: Arc<Context>) -> Result<Action, Error> {
    tokio::time::timeout(Duration::from_secs(5), reconcile(Arc::new(td), ctx))
        .await
        .expect("reconcile finishes")
}

async fn finish<T>(verifier: tokio::task::JoinHandle<T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), verifier)
        .await
        .expect("verifier finishes")
        .expect("verifier passes")
}

fn condition<'a>(status: &'a Value, type_: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|c| c["type"] == type_)
        .unwrap_or_else(|| panic!("a {type_} condition in {status}"))
}

#[tokio::test]
async fn first_reconcile_registers_revision_one_and_writes_status() {
    let (ctx, mut server) = testing::context();
    let td = web("nginx:1.27");
    let status_td = td.clone();
    let verifier = tokio::spawn(async move {
        expect_revision_list(&mut server, Vec::new()).await;
        let created = expect_revision_create(&mut server).await;
        let status = expect_status_apply(&mut server, &status_td).await;
        assert_no_more_requests(server).await;
        (created, status)
    });
    let action = run_reconcile(td.clone(), ctx).await.expect("reconcile succeeds");
    assert_eq!(action, Action::requeue(Duration::from_secs(300)));
    let (created, status) = finish(verifier).await;

    assert_eq!(created["apiVersion"], "apps/v1");
    assert_eq!(created["kind"], "ControllerRevision");
    assert_eq!(created["metadata"]["name"], "web-1");
    assert_eq!(created["revision"], 1);
    assert_eq!(
        created["metadata"]["labels"],
        json!({
            "ecsbridge.io/task-definition": "web",
            "ecsbridge.io/revision": "1",
            "app.kubernetes.io/managed-by": "ecs-bridge",
        })
    );
    assert_eq!(
        created["metadata"]["ownerReferences"],
        json!([{
            "apiVersion": "ecsbridge.io/v1alpha1", "kind": "TaskDefinition", "name": "web",
            "uid": "uid-team-a-web", "controller": true, "blockOwnerDeletion": true
        }])
    );
    assert_eq!(
        created["data"],
        json!({
            "family": "web",
            "containerDefinitions": [{ "name": "app", "image": "nginx:1.27", "user": "1000" }],
        })
    );
    assert_eq!(
        created["metadata"]["annotations"]["ecsbridge.io/spec-hash"],
        revisions::spec_hash(&created["data"])
    );

    let status = &status["status"];
    assert_eq!(status["observedGeneration"], 3);
    assert_eq!(status["revision"], 1);
    assert_eq!(status["revisions"], json!([1]));
    assert_eq!(status["status"], "ACTIVE");
    assert_eq!(status["taskDefinitionArn"], "web:1");
    let ready = condition(status, "Ready");
    assert_eq!(
        (&ready["status"], &ready["reason"], &ready["observedGeneration"]),
        (&json!("True"), &json!("Registered"), &json!(3))
    );
    assert!(ready["lastTransitionTime"].is_string());
    let translated = condition(status, "Translated");
    assert_eq!(
        (&translated["status"], &translated["reason"]),
        (&json!("True"), &json!("AllFieldsTranslated"))
    );
}

#[tokio::test]
async fn second_reconcile_with_the_same_spec_creates_nothing() {
    let (ctx, mut server) = testing::context();
    let mut td = web("nginx:1.27");
    let registered = Registration::Registered {
        latest: 1,
        retained: vec![1],
    };
    td.status = Some(compute_status(&td, &registered, Time(Timestamp::now())));
    let verifier = tokio::spawn(async move {
        expect_revision_list(&mut server, vec![stored_revision("nginx:1.27", 1)]).await;
        // No create, and the status is up to date: nothing else.
        assert_no_more_requests(server).await;
    });
    let action = run_reconcile(td, ctx).await.expect("reconcile succeeds");
    assert_eq!(action, Action::requeue(Duration::from_secs(300)));
    finish(verifier).await;
}

#[tokio::test]
async fn same_spec_without_status_only_writes_the_status() {
    let (ctx, mut server) = testing::context();
    let td = web("nginx:1.27");
    let status_td = td.clone();
    let verifier = tokio::spawn(async move {
        expect_revision_list(&mut server, vec![stored_revision("nginx:1.27", 1)]).await;
        let status = expect_status_apply(&mut server, &status_td).await;
        assert_no_more_requests(server).await;
        status
    });
    run_reconcile(td, ctx).await.expect("reconcile succeeds");
    let status = finish(verifier).await;
    assert_eq!(status["status"]["revision"], 1);
}

#[tokio::test]
async fn a_changed_spec_registers_the_next_revision() {
    let (ctx, mut server) = testing::context();
    let mut td = web("nginx:1.28");
    let registered = Registration::Registered {
        latest: 1,
        retained: vec![1],
    };
    td.status = Some(compute_status(
        &web("nginx:1.27"),
        &registered,
        Time(Timestamp::now()),
    ));
    td.metadata.generation = Some(4);
    let status_td = td.clone();
    let verifier = tokio::spawn(async move {
        expect_revision_list(&mut server, vec![stored_revision("nginx:1.27", 1)]).await;
        let created = expect_revision_create(&mut server).await;
        let status = expect_status_apply(&mut server, &status_td).await;
        assert_no_more_requests(server).await;
        (created, status)
    });
    run_reconcile(td, ctx).await.expect("reconcile succeeds");
    let (created, status) = finish(verifier).await;
    assert_eq!(created["metadata"]["name"], "web-2");
    assert_eq!(created["revision"], 2);
    assert_eq!(created["metadata"]["labels"]["ecsbridge.io/revision"], "2");
    assert_eq!(created["data"]["containerDefinitions"][0]["image"], "nginx:1.28");
    let status = &status["status"];
    assert_eq!(status["revision"], 2);
    assert_eq!(status["revisions"], json!([1, 2]));
    assert_eq!(status["taskDefinitionArn"], "web:2");
    assert_eq!(status["observedGeneration"], 4);
}

#[tokio::test]
async fn retention_deletes_old_revisions_that_no_service_uses() {
    // Keep 2: revisions 1-5 exist, 5 is the current spec; a Service pins web:2, another still
    // runs web:1 per its status; 3 goes.
    let (ctx, mut server) = context_with_limit(2);
    let mut td = web("nginx:5");
    td.status = Some(crate::api::TaskDefinitionStatus {
        revision: Some(5),
        ..Default::default()
    });
    let status_td = td.clone();
    let verifier = tokio::spawn(async move {
        let listed = (1..=5)
            .map(|r| stored_revision(&format!("nginx:{r}"), r))
            .collect();
        expect_revision_list(&mut server, listed).await;

        let (request, reply) = next(&mut server).await;
        assert_eq!((request.method(), request.uri().path()), (&Method::GET, SERVICES));
        let pinned = testing::service("team-a", "pinned", 1, "web:2");
        let mut running = testing::service("team-a", "running", 1, "web");
        running.status = Some(crate::api::ServiceStatus {
            task_definition: Some("web:1".into()),
            ..Default::default()
        });
        let other = testing::service("team-a", "other", 1, "api:3");
        let items = [pinned, running, other]
            .iter()
            .map(|s| serde_json::to_value(s).expect("json"))
            .collect();
        ok(
            reply,
            &testing::list_body("ecsbridge.io/v1alpha1", "ServiceList", items),
        );
        expect_no_tasks(&mut server).await;

        let (request, reply) = next(&mut server).await;
        assert_eq!(
            (request.method(), request.uri().path()),
            (&Method::DELETE, format!("{REVISIONS}/web-3").as_str())
        );
        let delete = json_body(request).await;
        assert_eq!(delete["preconditions"]["uid"], "uid-web-3");
        ok(reply, &stored_revision("nginx:3", 3));

        let status = expect_status_apply(&mut server, &status_td).await;
        assert_no_more_requests(server).await;
        status
    });
    run_reconcile(td, ctx).await.expect("reconcile succeeds");
    let status = finish(verifier).await;
    assert_eq!(status["status"]["revision"], 5);
    assert_eq!(status["status"]["revisions"], json!([1, 2, 4, 5]));
}

#[tokio::test]
async fn a_revision_already_gone_is_fine() {
    let (ctx, mut server) = context_with_limit(1);
    let td = web("nginx:2");
    let status_td = td.clone();
    let verifier = tokio::spawn(async move {
        let listed = vec![stored_revision("nginx:1", 1), stored_revision("nginx:2", 2)];
        expect_revision_list(&mut server, listed).await;
        let (request, reply) = next(&mut server).await;
        assert_eq!(request.uri().path(), SERVICES);
        ok(
            reply,
            &testing::list_body("ecsbridge.io/v1alpha1", "ServiceList", Vec::new()),
        );
        expect_no_tasks(&mut server).await;
        let (request, reply) = next(&mut server).await;
        assert_eq!(request.method(), Method::DELETE);
        let status = json!({
            "apiVersion": "v1", "kind": "Status", "status": "Failure",
            "reason": "NotFound", "code": 404, "message": "not found",
        });
        reply.send_response(testing::json_response(StatusCode::NOT_FOUND, &status));
        let status = expect_status_apply(&mut server, &status_td).await;
        assert_no_more_requests(server).await;
        status
    });
    run_reconcile(td, ctx).await.expect("reconcile succeeds");
    let status = finish(verifier).await;
    assert_eq!(status["status"]["revisions"], json!([2]));
}

#[tokio::test]
async fn api_error_is_a_kube_error() {
    let (ctx, mut server) = testing::context();
    let verifier = tokio::spawn(async move {
        let (request, reply) = next(&mut server).await;
        assert_eq!(request.method(), Method::GET);
        let status = json!({
            "apiVersion": "v1", "kind": "Status", "status": "Failure",
            "message": "the server is overloaded", "reason": "ServiceUnavailable", "code": 503,
        });
        reply.send_response(testing::json_response(StatusCode::SERVICE_UNAVAILABLE, &status));
        assert_no_more_requests(server).await;
    });
    let err = run_reconcile(web("nginx:1.27"), ctx)
        .await
        .expect_err("reconcile fails");
    assert!(matches!(err, Error::Kube(_)), "{err:?}");
    assert_eq!(err.metric_label(), "kube");
    finish(verifier).await;
}

#[tokio::test]
async fn a_reapplied_object_goes_on_from_its_familys_last_number() {
    // `web` was deleted (its revisions and status went with it) after registering web:4, and is
    // applied again: ECS never reuses a number, so this is web:5.
    let (ctx, mut server) = testing::context();
    let td = web("nginx:1.27");
    let status_td = td.clone();
    let verifier = tokio::spawn(async move {
        expect_revision_list(&mut server, Vec::new()).await;
        let created = expect_registration_above(&mut server, Some(4)).await;
        let status = expect_status_apply(&mut server, &status_td).await;
        assert_no_more_requests(server).await;
        (created, status)
    });
    run_reconcile(td, ctx).await.expect("reconcile succeeds");
    let (created, status) = finish(verifier).await;
    assert_eq!(created["revision"], 5);
    assert_eq!(created["metadata"]["name"], "web-5");
    assert_eq!(status["status"]["revision"], 5);
    assert_eq!(status["status"]["taskDefinitionArn"], "web:5");
}

#[tokio::test]
async fn a_spec_ecs_would_refuse_registers_nothing() {
    // Containers reserving more cpu than the task: RegisterTaskDefinition fails, so nothing is
    // listed, registered or applied; the status and a Warning Event say why.
    let (ctx, mut server) = testing::context();
    let mut td = web("nginx:1.27");
    td.spec.task_definition.cpu = Some("256".into());
    td.spec.task_definition.container_definitions[0].cpu = Some(512);
    let status_td = td.clone();
    let verifier = tokio::spawn(async move {
        let status = expect_status_apply(&mut server, &status_td).await;
        let event = testing::expect_event(&mut server).await;
        assert_no_more_requests(server).await;
        (status, event)
    });
    run_reconcile(td, ctx).await.expect("reconcile succeeds");
    let (body, event) = finish(verifier).await;
    let ready = condition(&body["status"], "Ready");
    let degraded = condition(&body["status"], "Degraded");
    for c in [ready, degraded] {
        assert_eq!(c["reason"], "InvalidTaskDefinition", "{c}");
        assert!(
            c["message"].as_str().is_some_and(|m| m.starts_with("spec.cpu: ")),
            "{c}"
        );
    }
    assert_eq!(
        (&ready["status"], &degraded["status"]),
        (&json!("False"), &json!("True"))
    );
    assert!(body["status"].get("revision").is_none(), "{body}");
    assert_eq!(
        (&event["type"], &event["reason"], &event["note"]),
        (
            &json!("Warning"),
            &json!("InvalidTaskDefinition"),
            &degraded["message"]
        )
    );
}

#[tokio::test]
async fn a_name_too_long_for_a_label_is_not_ready() {
    let (ctx, mut server) = testing::context();
    let long = "w".repeat(64);
    let td = testing::task_definition("team-a", &long, 1);
    let status_td = td.clone();
    let path = format!("/apis/ecsbridge.io/v1alpha1/namespaces/team-a/taskdefinitions/{long}/status");
    let verifier = tokio::spawn(async move {
        let (request, reply) = next(&mut server).await;
        assert_eq!(
            (request.method(), request.uri().path()),
            (&Method::PATCH, path.as_str())
        );
        let body = json_body(request).await;
        let mut stored = serde_json::to_value(&status_td).expect("json");
        stored["status"] = body["status"].clone();
        ok(reply, &stored);
        let event = testing::expect_event(&mut server).await;
        assert_eq!(
            (&event["type"], &event["reason"]),
            (&json!("Warning"), &json!("NameTooLong"))
        );
        assert_no_more_requests(server).await;
        body
    });
    run_reconcile(td, ctx).await.expect("reconcile succeeds");
    let body = finish(verifier).await;
    let ready = condition(&body["status"], "Ready");
    assert_eq!(
        (&ready["status"], &ready["reason"]),
        (&json!("False"), &json!("NameTooLong"))
    );
    assert!(body["status"].get("revision").is_none());
}

#[tokio::test]
async fn deleted_or_namespaceless_objects_make_no_request() {
    let (ctx, server) = testing::context();
    let mut td = web("nginx:1.27");
    td.metadata.deletion_timestamp = Some(Time(Timestamp::now()));
    let action = run_reconcile(td, Arc::clone(&ctx))
        .await
        .expect("reconcile succeeds");
    assert_eq!(action, Action::await_change());

    let mut td = web("nginx:1.27");
    td.metadata.namespace = None;
    let err = run_reconcile(td, ctx).await.expect_err("reconcile fails");
    assert_eq!(err.metric_label(), "missing_namespace");
    assert_no_more_requests(server).await;
}

/// Serves a forced server-side apply to `path` with `status` (200 echoes the body); returns the body.
async fn expect_apply(server: &mut Handle, path: &str, status: StatusCode) -> Value {
    let (request, reply) = next(server).await;
    let body = testing::expect_forced_apply(request, path, FIELD_MANAGER).await;
    if status == StatusCode::OK {
        ok(reply, &body);
    } else {
        reply.send_response(testing::json_response(
            status,
            &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                    "code": status.as_u16(), "message": "the server could not find the requested resource"}),
        ));
    }
    body
}

#[tokio::test]
async fn dependents_are_applied_and_a_missing_kind_degrades_the_status() {
    let (ctx, mut server) = testing::context();
    let mut td = web("nginx:1.27");
    td.spec.task_definition.task_role_arn = Some("arn:aws:iam::123456789012:role/web".into());
    td.spec.task_definition.container_definitions[0].secrets = Some(vec![
        serde_json::from_value(
            json!({"name": "TOKEN", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/token"}),
        )
        .expect("secret"),
    ]);
    let status_td = td.clone();
    let verifier = tokio::spawn(async move {
        expect_revision_list(&mut server, Vec::new()).await;
        expect_revision_create(&mut server).await;
        // External Secrets is not installed: discovery says so, and nothing is written.
        let (request, reply) = next(&mut server).await;
        assert_eq!(
            (request.method(), request.uri().path()),
            (&Method::GET, "/apis/external-secrets.io/v1")
        );
        reply.send_response(testing::json_response(
            StatusCode::NOT_FOUND,
            &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                    "code": 404, "message": "the server could not find the requested resource"}),
        ));
        let sa = expect_apply(
            &mut server,
            "/api/v1/namespaces/team-a/serviceaccounts/ecs-web",
            StatusCode::OK,
        )
        .await;
        let status = expect_status_apply(&mut server, &status_td).await;
        let event = testing::expect_event(&mut server).await;
        assert_eq!(
            (&event["type"], &event["reason"]),
            (&json!("Warning"), &json!("DependentsNotApplied"))
        );
        assert!(
            event["note"]
                .as_str()
                .is_some_and(|n| n.contains("ExternalSecret")),
            "{event}"
        );
        assert_no_more_requests(server).await;
        (sa, status)
    });
    run_reconcile(td, ctx).await.expect("reconcile succeeds");
    let (sa, status) = finish(verifier).await;
    assert_eq!(sa["metadata"]["ownerReferences"][0]["uid"], "uid-team-a-web");
    assert_eq!(
        sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::123456789012:role/web"
    );
    let degraded = condition(&status["status"], "Degraded");
    assert_eq!(degraded["status"], "True");
    assert_eq!(degraded["reason"], "DependentsNotApplied");
    assert!(
        degraded["message"]
            .as_str()
            .is_some_and(|m| m.contains("ExternalSecret") && m.contains("--external-secrets=false")),
        "{degraded}"
    );
}

/// Serves discovery of external-secrets.io/v1: ExternalSecrets are served.
async fn expect_external_secrets_discovery(server: &mut Handle) {
    testing::expect_discovery(
        server,
        "external-secrets.io/v1",
        "externalsecrets",
        "ExternalSecret",
    )
    .await;
}

/// Serves the GET of ExternalSecret `name`: `live`, or a NotFound Status.
async fn expect_external_secret_get(server: &mut Handle, name: &str, live: Option<&Value>) {
    let (request, reply) = next(server).await;
    assert_eq!(
        (request.method(), request.uri().path()),
        (
            &Method::GET,
            format!("/apis/external-secrets.io/v1/namespaces/team-a/externalsecrets/{name}").as_str()
        )
    );
    match live {
        Some(live) => ok(reply, live),
        None => reply.send_response(testing::json_response(
            StatusCode::NOT_FOUND,
            &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                    "code": 404, "message": format!("externalsecrets \"{name}\" not found")}),
        )),
    }
}

#[tokio::test]
async fn a_revision_owns_its_external_secret_which_is_applied_once() {
    let (ctx, mut server) = testing::context();
    let mut td = web("nginx:1.27");
    td.spec.task_definition.container_definitions[0].secrets = Some(vec![
        serde_json::from_value(
            json!({"name": "TOKEN", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/token"}),
        )
        .expect("secret"),
    ]);
    const ES: &str = "/apis/external-secrets.io/v1/namespaces/team-a/externalsecrets/web-1-secrets";
    let status_td = td.clone();
    let first = tokio::spawn(async move {
        // Revision 1 is registered; its ExternalSecret is made, owned by it.
        expect_revision_list(&mut server, Vec::new()).await;
        let mut created = expect_revision_create(&mut server).await;
        expect_external_secrets_discovery(&mut server).await;
        expect_external_secret_get(&mut server, "web-1-secrets", None).await;
        let es = expect_apply(&mut server, ES, StatusCode::OK).await;
        let status = expect_status_apply(&mut server, &status_td).await;
        created["metadata"]["uid"] = json!("uid-new-revision");
        (server, created, es, status)
    });
    run_reconcile(td.clone(), Arc::clone(&ctx))
        .await
        .expect("reconcile succeeds");
    let (mut server, created, es, status) = finish(first).await;
    assert_eq!(
        es["metadata"]["ownerReferences"][0]["uid"], "uid-new-revision",
        "owned by the revision it belongs to"
    );
    assert!(
        es["metadata"]["annotations"]["ecsbridge.io/applied-hash"].is_string(),
        "{es}"
    );
    let degraded = status["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Degraded"));
    assert!(!degraded, "{status}");

    // Unchanged, as the API server has it: nothing is written, discovery is not asked again.
    let mut registered = td;
    registered.status = Some(serde_json::from_value(status["status"].clone()).expect("status"));
    let second = tokio::spawn(async move {
        expect_revision_list(&mut server, vec![created]).await;
        expect_external_secret_get(&mut server, "web-1-secrets", Some(&es)).await;
        assert_no_more_requests(server).await;
    });
    run_reconcile(registered, ctx).await.expect("reconcile succeeds");
    finish(second).await;
}
