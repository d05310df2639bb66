//! Test helpers: TaskDefinition fixtures and a mocked API server (a `tower_test` mock service
//! behind a real `kube::Client`), in the style of kube-rs's controller-rs.

use std::{collections::HashMap, sync::Arc, time::Duration};

use http::{Request, Response, StatusCode, Uri};
use kube::{Client, client::Body};

use super::Context;
use crate::{
    api::{TaskDefinition, TaskDefinitionSpec, ecs::RegisterTaskDefinition},
    run::RunConfig,
};

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
    (Arc::new(Context::new(client, RunConfig::default())), handle)
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
