//! `run_until` with leader election, against a mocked API server that keeps one Lease with
//! Kubernetes' optimistic concurrency: the controllers start only once the lease is ours, the
//! lease is released after a graceful shutdown, and a lost lease stops the controllers.

use std::{collections::BTreeSet, time::Duration};

use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::*;
use crate::{
    controller::testing::{self, Handle, Reply},
    runtime::lease::Timing,
};

const LEASE_PATH: &str = "/apis/coordination.k8s.io/v1/namespaces/ops/leases/ecs-bridge";

/// The mocked server's one Lease.
struct LeaseServer {
    lease: Option<Value>,
    resource_version: u64,
    /// Each write the operator made: (method, spec written).
    writes: Vec<(Method, Value)>,
}

impl LeaseServer {
    fn held_by(holder: Option<&str>) -> Self {
        let mut server = Self {
            lease: None,
            resource_version: 1,
            writes: Vec::new(),
        };
        server.set(holder);
        server
    }

    /// Someone else writes the lease: held by `holder` (or nobody), renewed now.
    fn set(&mut self, holder: Option<&str>) {
        self.resource_version += 1;
        let transitions = self
            .lease
            .as_ref()
            .and_then(|l| l["spec"]["leaseTransitions"].as_i64())
            .unwrap_or(0);
        self.lease = Some(json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "ecs-bridge", "namespace": "ops", "resourceVersion": self.resource_version.to_string()},
            "spec": {
                "holderIdentity": holder,
                "leaseDurationSeconds": 15,
                "renewTime": k8s_openapi::jiff::Timestamp::now().to_string(),
                "leaseTransitions": transitions + 1,
            },
        }));
    }

    fn holder(&self) -> Option<String> {
        self.lease
            .as_ref()
            .and_then(|l| l["spec"]["holderIdentity"].as_str())
            .map(str::to_owned)
    }

    /// Answers `request` when it is about the lease (and returns `None`); returns it otherwise.
    async fn answer(
        &mut self,
        request: http::Request<kube::client::Body>,
        reply: Reply,
    ) -> Option<(http::Request<kube::client::Body>, Reply)> {
        let path = request.uri().path().to_owned();
        if !path.starts_with("/apis/coordination.k8s.io/") {
            return Some((request, reply));
        }
        assert_eq!(path, LEASE_PATH, "{} {path}", request.method());
        let method = request.method().clone();
        match (method.clone(), &self.lease) {
            (Method::GET, Some(lease)) => testing::ok(reply, lease),
            (Method::PUT, Some(lease)) => {
                let mut body = testing::json_body(request).await;
                if body["metadata"]["resourceVersion"] != lease["metadata"]["resourceVersion"] {
                    reply.send_response(status(StatusCode::CONFLICT, "Conflict"));
                    return None;
                }
                self.writes.push((method, body["spec"].clone()));
                self.resource_version += 1;
                body["metadata"]["resourceVersion"] = json!(self.resource_version.to_string());
                testing::ok(reply, &body);
                self.lease = Some(body);
            }
            (Method::GET, None) | (Method::PUT, None) => {
                reply.send_response(status(StatusCode::NOT_FOUND, "NotFound"));
            }
            (other, _) => panic!("unexpected {other} {path}"),
        }
        None
    }
}

fn status(code: StatusCode, reason: &str) -> http::Response<kube::client::Body> {
    testing::json_response(
        code,
        &json!({
            "apiVersion": "v1", "kind": "Status", "status": "Failure",
            "reason": reason, "code": code.as_u16(), "message": reason,
        }),
    )
}

fn config() -> RunConfig {
    RunConfig {
        namespaces: vec!["team-a".into()],
        leader_election: Some(LeaderConfig {
            lease_name: "ecs-bridge".into(),
            lease_namespace: "ops".into(),
            identity: "me".into(),
            timing: Timing {
                lease_duration: Duration::from_secs(15),
                renew_deadline: Duration::from_secs(10),
                retry_period: Duration::from_millis(50),
            },
        }),
        ..RunConfig::default()
    }
}

/// The next request that is not about the lease (those are answered on the way).
async fn next_other(
    server: &mut Handle,
    leases: &mut LeaseServer,
) -> (http::Request<kube::client::Body>, Reply) {
    loop {
        let (request, reply) = testing::next(server).await;
        if let Some(other) = leases.answer(request, reply).await {
            return other;
        }
    }
}

/// Holds the replies of the controllers' first requests (LISTs, left unanswered) until the 29
/// initial LISTs of namespace `team-a` have been seen (TaskDefinitions three times: the
/// TaskDefinition, Service and Task controllers; pods three times: the Service, Task and
/// CapacityProvider controllers; CapacityProviders, nodes, Services, Tasks and ControllerRevisions
/// twice: the TaskDefinition and Service controllers; CronJobs and Jobs; and the placeholder
/// Deployments of the operator's namespace).
async fn initial_lists(server: &mut Handle, leases: &mut LeaseServer) -> Vec<Reply> {
    let mut paths = BTreeSet::new();
    let mut held = Vec::new();
    while held.len() < 29 {
        let (request, reply) = next_other(server, leases).await;
        assert_eq!(request.method(), Method::GET, "{}", request.uri());
        let path = request.uri().path();
        assert!(
            [
                "/api/v1/nodes",
                "/api/v1/persistentvolumes",
                "/apis/ecsbridge.io/v1alpha1/capacityproviders",
                "/api/v1/namespaces",
                "/apis/apps/v1/namespaces/ecs-bridge-system/deployments"
            ]
            .contains(&path)
                || path.contains("/namespaces/team-a/"),
            "{}",
            request.uri()
        );
        paths.insert(path.to_owned());
        held.push(reply);
    }
    assert_eq!(paths.len(), 20, "{paths:?}");
    held
}

/// Answers the lease's requests until `running` returns, and returns its result; any other
/// request fails the test.
async fn leases_until_done(
    server: &mut Handle,
    leases: &mut LeaseServer,
    running: tokio::task::JoinHandle<Result<(), Error>>,
) -> Result<(), Error> {
    loop {
        let next = tokio::time::timeout(Duration::from_secs(5), server.next_request())
            .await
            .expect("run_until returns or sends a request in time");
        // (None: the client is gone, run_until has returned.)
        let Some((request, reply)) = next else { break };
        if let Some((request, _)) = leases.answer(request, reply).await {
            panic!(
                "no request but the lease's: {} {}",
                request.method(),
                request.uri()
            );
        }
    }
    running.await.expect("no panic")
}

#[tokio::test]
async fn controllers_start_with_the_lease_and_release_it_after_shutdown() {
    let (client, mut server) = testing::client();
    let mut leases = LeaseServer::held_by(Some("other"));
    let (stop, stopped) = futures::channel::oneshot::channel::<()>();
    let running = tokio::spawn(run_until(config(), client, stopped.map(|_| ())));

    // While another replica holds a valid lease, the candidate only reads it.
    for _ in 0..5 {
        let (request, reply) = testing::next(&mut server).await;
        assert_eq!(
            (request.method(), request.uri().path()),
            (&Method::GET, LEASE_PATH)
        );
        assert!(leases.answer(request, reply).await.is_none());
    }
    assert!(leases.writes.is_empty());

    // The other replica releases it: the candidate takes it (one transition more), and only
    // then do the controllers list.
    leases.set(None);
    let transitions = leases.lease.as_ref().expect("lease")["spec"]["leaseTransitions"].clone();
    let held = initial_lists(&mut server, &mut leases).await;
    let (method, taken) = leases.writes.first().cloned().expect("the lease was taken");
    assert_eq!(method, Method::PUT);
    assert_eq!(taken["holderIdentity"], "me");
    assert_eq!(taken["leaseDurationSeconds"], 15);
    assert_eq!(
        taken["leaseTransitions"],
        transitions.as_i64().expect("a number") + 1
    );

    // Shutdown: the controllers stop, then the lease is released.
    stop.send(()).expect("run_until is still running");
    let result = leases_until_done(&mut server, &mut leases, running).await;
    result.expect("run_until succeeds");
    drop(held);
    assert_eq!(leases.holder(), None, "released");
    let (_, released) = leases.writes.last().cloned().expect("writes");
    assert_eq!(released["leaseDurationSeconds"], 1);
    assert_eq!(released["leaseTransitions"], taken["leaseTransitions"]);
    // Every write before the release renewed our lease.
    assert!(
        leases.writes[..leases.writes.len() - 1]
            .iter()
            .all(|(_, spec)| spec["holderIdentity"] == "me" && spec["acquireTime"] == taken["acquireTime"]),
        "{:?}",
        leases.writes
    );
}

#[tokio::test]
async fn a_lost_lease_stops_the_controllers_without_releasing() {
    let (client, mut server) = testing::client();
    let mut leases = LeaseServer::held_by(None);
    let running = tokio::spawn(run_until(config(), client, futures::future::pending()));
    let held = initial_lists(&mut server, &mut leases).await;
    assert_eq!(leases.holder().as_deref(), Some("me"));

    // Another replica takes the lease (as if ours had expired): at its next renewal the leader
    // sees it and stops.
    leases.set(Some("other"));
    let writes = leases.writes.len();
    let result = leases_until_done(&mut server, &mut leases, running).await;
    drop(held);
    let err = result.expect_err("the lease was lost");
    assert!(matches!(err, crate::run::Error::LeaseLost { .. }), "{err:?}");
    assert_eq!(
        leases.holder().as_deref(),
        Some("other"),
        "not released by the loser"
    );
    assert_eq!(leases.writes.len(), writes, "no write after the lease was taken");
}
