//! The operator's HTTP endpoints: `/healthz` answers at once, `/readyz` only once the CRDs are
//! Established and the controllers have synced, and `/metrics` has every metric family after a
//! reconcile.

use std::time::Duration;

use serde_json::Value;

use crate::support::{Env, Setup, eventually, eventually_async};

const TIMEOUT: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readyz_waits_for_the_crds_and_metrics_count_reconciles() {
    let real = std::env::var_os("E2E_KUBECONFIG").is_some();
    // On a real cluster the CRDs are cluster-wide and may be in use: install them (as every
    // test does) and check readiness after; on the double, start without them.
    let env = Env::setup(
        "endpoints",
        Setup {
            crds: real,
            operator: false,
        },
    )
    .await;
    let operator = env.spawn_operator("e2e-endpoints");
    let (code, body) = operator.get("/healthz").await;
    assert_eq!((code, body.as_str()), (200, "ok\n"));
    if !real {
        // The operator has looked for the CRDs and not found them: not ready.
        eventually("the operator to look for the CRDs", TIMEOUT, || {
            let log = operator.log();
            log.contains("waiting for the ecs-bridge CRDs to be Established")
                .then_some(())
                .ok_or(log)
        })
        .await;
        let (code, body) = operator.get("/readyz").await;
        assert_eq!(code, 503, "{body}");
        assert!(body.contains("CRDs are not Established"), "{body}");
        env.install_crds();
    }
    operator.ready("/readyz to answer 200", TIMEOUT).await;

    env.kubectl_ok(&["apply", "-f", &Env::s(&Env::example("web"))]);
    eventually("the web Service to have a status", TIMEOUT, || {
        let svc = env.get(&["ecssvc", "web"]).ok_or("absent")?;
        svc.pointer("/status/observedGeneration")
            .and_then(Value::as_i64)
            .map(|_| ())
            .ok_or(format!("{}", svc["status"]))
    })
    .await;
    if let Some((server, _)) = env.backend.double() {
        // A write of the Service controller fails (409): counted by its kind, with no object in
        // its labels. (Only the Services' paths fail: the lease renewals go through.)
        let faults = &server.api.faults;
        faults.only_for_user_agent(Some("ecs-bridge/"));
        faults.only_for_path(Some("/services/web"));
        faults.conflict_writes(1.0);
        env.kubectl_ok(&["scale", "ecssvc", "web", "--replicas=2"]);
        eventually_async("a failed reconcile to be counted", TIMEOUT, || async {
            let (_, metrics) = operator.get("/metrics").await;
            metrics
                .contains("ecs_bridge_reconcile_errors_total{controller=\"service\",error=\"kube\"}")
                .then_some(())
                .ok_or(metrics)
        })
        .await;
        faults.clear();
    }
    let (code, metrics) = operator.get("/metrics").await;
    assert_eq!(code, 200);
    for family in [
        "# TYPE ecs_bridge_reconcile_runs counter",
        "# TYPE ecs_bridge_reconcile_duration_seconds histogram",
        "# TYPE ecs_bridge_reconciles_in_flight gauge",
        "# TYPE ecs_bridge_leader gauge",
        "ecs_bridge_reconcile_runs_total{controller=\"task-definition\"}",
        "ecs_bridge_reconcile_runs_total{controller=\"service\"}",
        "ecs_bridge_reconciles_in_flight{controller=\"service\"}",
        "ecs_bridge_leader 1",
    ] {
        assert!(metrics.contains(family), "{family} missing from\n{metrics}");
    }
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("ecs_bridge_reconcile_duration_seconds_bucket{")
                && l.contains("controller=\"service\"")),
        "{metrics}"
    );
    // No sample is labelled with an object's name or namespace.
    assert!(!metrics.contains("web\""), "{metrics}");
    assert!(!metrics.contains(&env.namespace), "{metrics}");
}
