//! Shared helpers of the integration tests: a kube-rs client for a [`TestApiServer`], a small
//! custom resource (`Widget`, with status and scale subresources) and polling.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::{future::Future, time::Duration};

use ecs_bridge_testbed::TestApiServer;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{
    Api, Client, CustomResource,
    api::PostParams,
    config::{KubeConfigOptions, Kubeconfig},
};
use serde::{Deserialize, Serialize};

/// A kube-rs client for `server`, built from its generated kubeconfig as an operator builds one.
/// `user_agent` is sent as `User-Agent` (kube-rs sends none of its own); `retry` keeps kube-rs'
/// default retrying of 429/503/504.
pub async fn client_with(server: &TestApiServer, user_agent: Option<&str>, retry: bool) -> Client {
    let kubeconfig = Kubeconfig::read_from(server.kubeconfig()).expect("read the generated kubeconfig");
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kube config from the generated kubeconfig");
    if let Some(agent) = user_agent {
        config.headers.push((
            axum::http::header::USER_AGENT,
            axum::http::HeaderValue::from_str(agent).expect("user agent"),
        ));
    }
    config.default_retry = retry;
    Client::try_from(config).expect("kube client")
}

/// A kube-rs client with kube-rs' defaults.
pub async fn client(server: &TestApiServer) -> Client {
    client_with(server, None, true).await
}

/// A server and a client for it.
pub async fn start() -> (TestApiServer, Client) {
    let server = TestApiServer::start().await;
    let client = client(&server).await;
    (server, client)
}

/// The spec of the test custom resource.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "testbed.example.com",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus",
    schema = "disabled"
)]
pub struct WidgetSpec {
    /// Desired replicas (the scale subresource's `specReplicasPath`).
    pub replicas: i32,
    /// Anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

/// The status of the test custom resource.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct WidgetStatus {
    /// Observed replicas (`statusReplicasPath`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// The label selector string (`labelSelectorPath`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

/// The name of the `Widget` CRD.
pub const WIDGET_CRD: &str = "widgets.testbed.example.com";

/// The `Widget` CRD: namespaced, one version, status and scale subresources.
#[must_use]
pub fn widget_crd() -> CustomResourceDefinition {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": WIDGET_CRD},
        "spec": {
            "group": "testbed.example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wg"]},
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "object", "required": ["replicas"], "properties": {
                            "replicas": {"type": "integer", "minimum": 0},
                            "color": {"type": "string"},
                        }},
                        "status": {"type": "object", "properties": {
                            "replicas": {"type": "integer"},
                            "selector": {"type": "string"},
                            "phase": {"type": "string"},
                        }},
                    },
                }},
                "subresources": {
                    "status": {},
                    "scale": {
                        "specReplicasPath": ".spec.replicas",
                        "statusReplicasPath": ".status.replicas",
                        "labelSelectorPath": ".status.selector",
                    },
                },
            }],
        },
    }))
    .expect("Widget CRD")
}

/// Installs the `Widget` CRD through the API and waits until `widgets` are served and the CRD
/// reports `Established`.
pub async fn install_widget_crd(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &widget_crd())
        .await
        .expect("create the Widget CRD");
    eventually("the Widget CRD is established and served", || async {
        let crd = crds.get(WIDGET_CRD).await.ok()?;
        let established = crd
            .status?
            .conditions?
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        let widgets: Api<Widget> = Api::default_namespaced(client.clone());
        (established && widgets.list(&Default::default()).await.is_ok()).then_some(())
    })
    .await;
}

/// Polls `f` every 20 ms until it yields `Some`, for at most 10 s.
///
/// # Panics
/// When it never does.
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The Status of a kube-rs API error.
///
/// # Panics
/// When `result` is not an API error.
pub fn api_error<T: std::fmt::Debug>(result: kube::Result<T>) -> kube::core::Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}
