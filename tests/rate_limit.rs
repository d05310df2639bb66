//! The client's rate limit against the API server double: every request is answered, none
//! dropped, at the rate asked.

use std::time::{Duration, Instant};

use ecs_bridge::runtime::rate_limit::{RateLimit, client};
use ecs_bridge_testbed::TestApiServer;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limited_client_answers_every_request_at_its_rate() {
    let server = TestApiServer::start().await;
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(server.kubeconfig()).expect("kubeconfig"),
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .expect("config");
    let limit = RateLimit::from_flags(20, 5).expect("a limit");
    let client = client(config, Some(limit)).expect("client");
    let api: Api<Namespace> = Api::all(client);
    let started = Instant::now();
    let requests = (0..25).map(|_| {
        let api = api.clone();
        async move { api.list(&Default::default()).await.map(|_| ()) }
    });
    let results = tokio::time::timeout(Duration::from_secs(20), futures::future::join_all(requests))
        .await
        .expect("every request answered within 20 s");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // 5 at once, then 20 more at 20 a second: about a second.
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900), "25 requests took {took:?}");
}
