//! Test helpers: TaskDefinition fixtures and a mocked API server (a `tower_test` mock service
//! behind a real `kube::Client`), in the style of kube-rs's controller-rs.

use std::{collections::HashMap, sync::Arc, time::Duration};

use http::{Request, Response, StatusCode, Uri};
use kube::{Client, client::Body};

use super::{Config, Context};
use crate::api::{TaskDefinition, TaskDefinitionSpec, ecs::RegisterTaskDefinition};

/// The API server's side of the mock: yields each request the client sends, with its reply slot.
pub type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

/// A client whose requests go to the returned [`Handle`].
pub fn client() -> (Client, Handle) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    (Client::new(service, "default"), handle)
}

/// A context around a mocked client with the default configuration.
pub fn context() -> (Arc<Context>, Handle) {
    let (client, handle) = client();
    (Arc::new(Context::new(client, Config::default())), handle)
}

/// The slot to answer one mocked request with.
pub type Reply = tower_test::mock::SendResponse<Response<Body>>;

/// The next request the client sends (within 5 s).
pub async fn next(server: &mut Handle) -> (Request<Body>, Reply) {
    tokio::time::timeout(Duration::from_secs(5), server.next_request())
        .await
        .expect("a request in time")
        .expect("a request")
}

/// The JSON body of `request`.
pub async fn json_body(request: Request<Body>) -> serde_json::Value {
    let bytes = request.into_body().collect_bytes().await.expect("a body");
    serde_json::from_slice(&bytes).expect("a JSON body")
}

/// Answers 200 with `body`.
pub fn ok(reply: Reply, body: &serde_json::Value) {
    reply.send_response(json_response(StatusCode::OK, body));
}

/// Fails unless the client stays silent for 200 ms.
pub async fn assert_no_more_requests(server: Handle) {
    assert!(
        no_request_within(server, Duration::from_millis(200)).await,
        "no further request expected"
    );
}

/// Checks that `request` is a forced server-side apply of `path` by `field_manager`, and returns
/// its body.
pub async fn expect_forced_apply(
    request: Request<Body>,
    path: &str,
    field_manager: &str,
) -> serde_json::Value {
    assert_eq!(
        (request.method(), request.uri().path()),
        (&http::Method::PATCH, path)
    );
    assert_eq!(
        request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .map(|v| v.to_str().expect("ascii")),
        Some("application/apply-patch+yaml")
    );
    let query = query(request.uri());
    assert_eq!(query.get("fieldManager").map(String::as_str), Some(field_manager));
    assert_eq!(query.get("force").map(String::as_str), Some("true"));
    json_body(request).await
}

/// A TaskDefinition `namespace/name` at `generation`, without status.
pub fn task_definition(namespace: &str, name: &str, generation: i64) -> TaskDefinition {
    let mut td = TaskDefinition::new(
        name,
        TaskDefinitionSpec {
            task_definition: RegisterTaskDefinition {
                family: Some(name.to_owned()),
                ..Default::default()
            },
        },
    );
    td.metadata.namespace = Some(namespace.to_owned());
    td.metadata.generation = Some(generation);
    td.metadata.uid = Some(format!("uid-{namespace}-{name}"));
    td.metadata.resource_version = Some("1".to_owned());
    td
}

/// A JSON response with `status`.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(body).expect("serializable")))
        .expect("a valid response")
}

/// The decoded query parameters of `uri`.
pub fn query(uri: &Uri) -> HashMap<String, String> {
    form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// Whether the client sends no request within `wait` (a closed client counts as none).
pub async fn no_request_within(mut server: Handle, wait: Duration) -> bool {
    match tokio::time::timeout(wait, server.next_request()).await {
        Err(_) | Ok(None) => true,
        Ok(Some((request, _))) => {
            eprintln!("unexpected request: {} {}", request.method(), request.uri());
            false
        }
    }
}

/// A Service `namespace/name` at `generation` running `task_definition` with `desiredCount: 3`,
/// without status.
pub fn service(namespace: &str, name: &str, generation: i64, task_definition: &str) -> crate::api::Service {
    use crate::api::{Service, ServiceSpec, ecs::CreateService};
    let mut svc = Service::new(
        name,
        ServiceSpec {
            service: CreateService {
                task_definition: Some(task_definition.to_owned()),
                desired_count: Some(3),
                ..Default::default()
            },
            auto_scaling: None,
        },
    );
    svc.metadata.namespace = Some(namespace.to_owned());
    svc.metadata.generation = Some(generation);
    svc.metadata.uid = Some(format!("uid-{namespace}-{name}"));
    svc.metadata.resource_version = Some("1".to_owned());
    svc
}

/// `td` with one more container, `name` running `image`.
pub fn with_container(mut td: TaskDefinition, name: &str, image: &str) -> TaskDefinition {
    td.spec
        .task_definition
        .container_definitions
        .push(crate::api::ecs::ContainerDefinition {
            name: Some(name.to_owned()),
            image: Some(image.to_owned()),
            ..Default::default()
        });
    td
}

/// `td` with `status.revision` `revision`: registered, as the TaskDefinition controller reports.
pub fn registered(mut td: TaskDefinition, revision: i64) -> TaskDefinition {
    let status = td.status.get_or_insert_with(Default::default);
    status.revision = Some(revision);
    if !status.revisions.contains(&revision) {
        status.revisions.push(revision);
    }
    td
}

/// The body of a LIST response: `kind` (e.g. `DeploymentList`) of `api_version` with `items`.
pub fn list_body(api_version: &str, kind: &str, items: Vec<serde_json::Value>) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": { "resourceVersion": "10" },
        "items": items,
    })
}

/// Serves the next request, discovery of `group_version` (`GET /apis/<group_version>`): it serves
/// `plural` of `kind`.
pub async fn expect_discovery(server: &mut Handle, group_version: &str, plural: &str, kind: &str) {
    let (request, reply) = next(server).await;
    assert_eq!(
        (request.method(), request.uri().path()),
        (&http::Method::GET, format!("/apis/{group_version}").as_str())
    );
    ok(
        reply,
        &serde_json::json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": [{"name": plural, "singularName": kind.to_ascii_lowercase(),
                "namespaced": true, "kind": kind, "verbs": ["get", "list", "patch"]}]}),
    );
}

/// Serves the next request, the POST of an `events.k8s.io/v1` Event in `team-a`; returns its body.
pub async fn expect_event(server: &mut Handle) -> serde_json::Value {
    let (request, reply) = next(server).await;
    assert_eq!(
        (request.method(), request.uri().path()),
        (
            &http::Method::POST,
            "/apis/events.k8s.io/v1/namespaces/team-a/events"
        )
    );
    let body = json_body(request).await;
    ok(reply, &body);
    body
}
