//! Fault injection as kube-rs sees it: a fraction of requests failing with a 500 Status for one
//! client only, 429 with `Retry-After` (which kube-rs' default retry honours), 409 on writes
//! only, delayed responses, and the request log counting writes.

mod support;

use std::time::{Duration, Instant};

use axum::http::{self, Request};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams},
    client::Body,
};
use serde_json::{Value, json};
use support::api_error;

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"a": "1"}})).expect("ConfigMap")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenth_of_one_clients_requests_fail_with_a_500_status() {
    let server = ecs_bridge_testbed::TestApiServer::start().await;
    let faulty = support::client_with(&server, Some("faulty/1.0"), true).await;
    let healthy = support::client_with(&server, Some("healthy/1.0"), true).await;
    server.api.faults.only_for_user_agent(Some("faulty/"));
    server.api.faults.fail_requests(0.1, 500);
    let faulty_cms: Api<ConfigMap> = Api::default_namespaced(faulty);
    let healthy_cms: Api<ConfigMap> = Api::default_namespaced(healthy);
    let mut failures = 0;
    for _ in 0..300 {
        match faulty_cms.list(&ListParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) => {
                assert_eq!(
                    (status.code, status.reason.as_str()),
                    (500, "InternalError"),
                    "{status:?}"
                );
                failures += 1;
            }
            Err(e) => panic!("a Status body, not {e:?}"),
        }
        healthy_cms
            .list(&ListParams::default())
            .await
            .expect("the other client is served");
    }
    assert!((15..=50).contains(&failures), "{failures} of 300 failed");
    let logged = server
        .api
        .faults
        .requests()
        .iter()
        .filter(|r| r.user_agent.starts_with("faulty/") && r.status == 500)
        .count();
    assert_eq!(logged, failures);
    server.api.faults.clear();
    for _ in 0..50 {
        faulty_cms
            .list(&ListParams::default())
            .await
            .expect("faults cleared");
    }
}

/// Sends a raw GET and returns status, `Retry-After` and the body.
async fn raw_get(client: &kube::Client, uri: &str) -> (u16, Option<String>, Value) {
    let request = Request::builder().uri(uri).body(Body::empty()).expect("request");
    let response = client.send(request).await.expect("send");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(http::header::RETRY_AFTER)
        .map(|v| v.to_str().expect("ascii").to_owned());
    let bytes = axum::body::to_bytes(axum::body::Body::new(response.into_body()), usize::MAX)
        .await
        .expect("body");
    (
        status,
        retry_after,
        serde_json::from_slice(&bytes).expect("a JSON body"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn too_many_requests_carry_retry_after_and_kube_rs_retries() {
    let server = ecs_bridge_testbed::TestApiServer::start().await;
    let no_retry = support::client_with(&server, Some("throttled/1.0"), false).await;
    server.api.faults.only_for_user_agent(Some("throttled/"));
    server.api.faults.fail_requests(1.0, 429);
    let (status, retry_after, body) = raw_get(&no_retry, "/api/v1/namespaces/default/configmaps").await;
    assert_eq!(status, 429);
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert_eq!(body["kind"], "Status");
    assert_eq!(body["reason"], "TooManyRequests");
    assert_eq!(body["code"], 429);
    assert_eq!(body["details"]["retryAfterSeconds"], 1);
    let cms: Api<ConfigMap> = Api::default_namespaced(no_retry);
    assert_eq!(api_error(cms.list(&ListParams::default()).await).code, 429);

    // kube-rs' default retry waits Retry-After and tries again: throttle until the first 429
    // is answered, then serve.
    let retrying = support::client_with(&server, Some("throttled/1.0"), true).await;
    server.api.faults.clear_requests();
    let api = server.api.clone();
    let lift = tokio::spawn(async move {
        support::eventually("a request is throttled", || async {
            api.faults
                .requests()
                .iter()
                .any(|r| r.status == 429)
                .then_some(())
        })
        .await;
        api.faults.fail_requests(0.0, 429);
    });
    let cms: Api<ConfigMap> = Api::default_namespaced(retrying);
    let started = Instant::now();
    cms.list(&ListParams::default())
        .await
        .expect("retried until served");
    lift.await.expect("lift the throttle");
    let statuses: Vec<u16> = server.api.faults.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses.first(), Some(&429), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&200), "{statuses:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the retry honoured Retry-After"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn conflicts_hit_writes_only() {
    let (server, client) = support::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client);
    let created = cms
        .create(&PostParams::default(), &config_map("a"))
        .await
        .expect("create");
    server.api.faults.conflict_writes(1.0);
    cms.get("a").await.expect("reads are served");
    cms.list(&ListParams::default()).await.expect("lists are served");
    let refused = [
        api_error(cms.create(&PostParams::default(), &config_map("b")).await),
        api_error(cms.replace("a", &PostParams::default(), &created).await),
        api_error(
            cms.patch(
                "a",
                &PatchParams::default(),
                &Patch::Merge(json!({"data": {"a": "2"}})),
            )
            .await,
        ),
        api_error(cms.delete("a", &DeleteParams::default()).await),
    ];
    for status in &refused {
        assert_eq!(
            (status.code, status.reason.as_str()),
            (409, "Conflict"),
            "{status:?}"
        );
    }
    server.api.faults.clear();
    assert_eq!(
        cms.get("a").await.expect("get").resource_version(),
        created.metadata.resource_version
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn delays_slow_every_response() {
    let (server, client) = support::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client);
    cms.list(&ListParams::default()).await.expect("warm up");
    server.api.faults.delay(Duration::from_millis(300));
    let started = Instant::now();
    cms.list(&ListParams::default()).await.expect("list");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    server.api.faults.delay(Duration::ZERO);
    let started = Instant::now();
    cms.list(&ListParams::default()).await.expect("list");
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_request_log_counts_writes() {
    let server = ecs_bridge_testbed::TestApiServer::start().await;
    let client = support::client_with(&server, Some("counted/2.0"), true).await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client);
    server.api.faults.clear_requests();
    cms.create(&PostParams::default(), &config_map("a"))
        .await
        .expect("create");
    cms.create(&PostParams::default(), &config_map("b"))
        .await
        .expect("create");
    cms.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"a": "2"}})),
    )
    .await
    .expect("patch");
    for _ in 0..3 {
        cms.get("a").await.expect("get");
    }
    cms.delete("b", &DeleteParams::default()).await.expect("delete");
    let _ = cms.get("missing").await;
    let log = server.api.faults.requests();
    let ours: Vec<_> = log.iter().filter(|r| r.user_agent == "counted/2.0").collect();
    assert_eq!(ours.len(), 8);
    let writes: Vec<(&str, &str)> = ours
        .iter()
        .filter(|r| r.is_write())
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        writes,
        [
            ("POST", "/api/v1/namespaces/default/configmaps"),
            ("POST", "/api/v1/namespaces/default/configmaps"),
            ("PATCH", "/api/v1/namespaces/default/configmaps/a"),
            ("DELETE", "/api/v1/namespaces/default/configmaps/b"),
        ]
    );
    assert_eq!(ours.iter().filter(|r| r.status == 404).count(), 1);
    assert_eq!(ours.iter().filter(|r| r.status == 201).count(), 2);
}
