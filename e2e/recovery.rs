//! The operator recovers from a misbehaving API server: 10% of its requests failing with 500,
//! its watches dropped every half second, and 409 conflicts on 5% of its writes. (Each reconcile
//! makes about four requests, so roughly 40% of reconciles fail and back off: harsher than any
//! real cluster, yet the operator must still converge.)

use std::time::Duration;

use serde_json::Value;

use crate::support::{Env, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn converges_despite_failing_requests_and_dropped_watches() {
    let env = Env::start("faults").await;
    let Some((server, _)) = env.backend.double() else {
        eprintln!("fault injection needs the API server double; skipped on a real cluster");
        return;
    };
    let faults = &server.api.faults;
    faults.only_for_user_agent(Some("ecs-bridge/"));
    faults.fail_requests(0.1, 500);
    faults.conflict_writes(0.05);
    let api = server.api.clone();
    let dropper = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            api.faults.drop_watches();
        }
    });
    env.kubectl_ok(&["apply", "-f", &Env::s(&Env::example("web"))]);
    env.kubectl_ok(&[
        "patch",
        "ecssvc",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"desiredCount":4}}"#,
    ]);
    eventually(
        "the Service to be Ready with 4 tasks despite the faults",
        Duration::from_secs(120),
        || {
            let svc = env.get(&["ecssvc", "web"]).ok_or("absent")?;
            let running = svc
                .pointer("/status/runningCount")
                .cloned()
                .unwrap_or(Value::Null);
            let ready = svc
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
            (ready && running == 4)
                .then_some(())
                .ok_or(format!("runningCount {running}, ready {ready}"))
        },
    )
    .await;
    dropper.abort();
    let failed = faults
        .requests()
        .iter()
        .filter(|r| r.user_agent.starts_with("ecs-bridge/") && r.status >= 409)
        .count();
    assert!(failed > 0, "the faults were injected");
}
