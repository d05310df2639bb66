//! Two operators on one API server: only the holder of the leader Lease reconciles, and when it
//! is stopped (SIGTERM) it releases the Lease after its reconciles in flight, so the other takes
//! over at its next try rather than after the lease expires.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::{
    Api,
    runtime::{WatchStreamExt, watcher},
};
use serde_json::Value;

use crate::support::{Env, Setup, eventually, eventually_async};

const TIMEOUT: Duration = Duration::from_secs(90);
const A: &str = "e2e-leader-a";
const B: &str = "e2e-leader-b";

/// A client for the test's backend.
pub async fn client(env: &Env) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(env.backend.kubeconfig()).expect("kubeconfig");
    let config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
            .await
            .expect("client config");
    kube::Client::try_from(config).expect("client")
}

fn holder(spec: &LeaseSpec) -> &str {
    spec.holder_identity.as_deref().unwrap_or("")
}

/// The value of the sample `line` (a metric with its labels) in `metrics`, 0 when absent.
fn sample(metrics: &str, line: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(line)?.trim().parse().ok())
        .unwrap_or(0.0)
}

const SERVICE_RUNS: &str = "ecs_bridge_reconcile_runs_total{controller=\"service\"}";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_the_leader_reconciles_and_hands_over_on_sigterm() {
    let env = Env::setup(
        "leader",
        Setup {
            crds: true,
            operator: false,
        },
    )
    .await;
    let leases: Api<Lease> = Api::namespaced(client(&env).await, &env.namespace);
    // Every version of the Lease, in order, as a watch sees it.
    let history: Arc<Mutex<Vec<LeaseSpec>>> = Arc::default();
    let recorder = {
        let history = Arc::clone(&history);
        let leases = leases.clone();
        tokio::spawn(async move {
            let mut versions = watcher(leases, watcher::Config::default())
                .applied_objects()
                .boxed();
            while let Some(version) = versions.next().await {
                if let Ok(lease) = version {
                    history
                        .lock()
                        .expect("history")
                        .push(lease.spec.unwrap_or_default());
                }
            }
        })
    };
    let lease_spec = || async {
        leases
            .get_opt("ecs-bridge")
            .await
            .expect("read the lease")
            .and_then(|l| l.spec)
            .unwrap_or_default()
    };

    // A starts first and takes the lease; B waits for it.
    let mut a = env.spawn_operator(A);
    let held = eventually_async("A to hold the lease", TIMEOUT, || async {
        let spec = lease_spec().await;
        (holder(&spec) == A).then_some(spec).ok_or_else(|| a.log())
    })
    .await;
    let b = env.spawn_operator(B);
    b.ready("B to be ready as a standby", TIMEOUT).await;

    // A reconciles the web example; B does not.
    env.kubectl_ok(&["apply", "-f", &Env::s(&Env::example("web"))]);
    eventually("the web Service to be Ready", TIMEOUT, || {
        let svc = env.get(&["ecssvc", "web"]).ok_or("absent")?;
        let ready = svc
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
        ready.then_some(()).ok_or(format!("{}", svc["status"]))
    })
    .await;
    let (_, a_metrics) = a.get("/metrics").await;
    let (_, b_metrics) = b.get("/metrics").await;
    assert_eq!(sample(&a_metrics, "ecs_bridge_leader"), 1.0, "{a_metrics}");
    assert!(sample(&a_metrics, SERVICE_RUNS) >= 1.0, "{a_metrics}");
    assert_eq!(sample(&b_metrics, "ecs_bridge_leader"), 0.0, "{b_metrics}");
    assert!(
        !b_metrics.contains("ecs_bridge_reconcile_runs_total{"),
        "the standby reconciled nothing:\n{b_metrics}"
    );
    assert_eq!(holder(&lease_spec().await), A);

    // Stop A gracefully: it exits cleanly, having released the lease, and B takes it over.
    a.terminate();
    let status = a.exited(TIMEOUT).await;
    assert!(
        status.success(),
        "A exits cleanly: {status}; its log:\n{}",
        a.log()
    );
    let after = eventually_async("B to hold the lease", TIMEOUT, || async {
        let spec = lease_spec().await;
        (holder(&spec) == B).then_some(spec).ok_or_else(|| b.log())
    })
    .await;
    assert_eq!(holder(&after), B, "B holds the lease; its log:\n{}", b.log());
    assert_eq!(
        after.lease_transitions,
        held.lease_transitions.map(|t| t + 1),
        "one transition: {after:?}"
    );
    // The handover went through the release: the watch saw A's last renewal, then the lease
    // without a holder, then B's; and B took it before A's lease would have expired (both
    // stamps come from this machine's clock; no wall-clock bound of the test's own).
    // (The watch may lag the GET above by an event or two.)
    let history = eventually("the watch to see B's lease", TIMEOUT, || {
        let seen = history.lock().expect("history").clone();
        seen.last()
            .is_some_and(|s| holder(s) == B)
            .then_some(seen.clone())
            .ok_or(format!("{seen:#?}"))
    })
    .await;
    recorder.abort();
    let last_a = history
        .iter()
        .rposition(|s| holder(s) == A)
        .expect("A's renewals seen");
    let Some([released, taken]) = history.get(last_a + 1..last_a + 3) else {
        panic!("the lease released, then taken: {history:#?}");
    };
    assert_eq!(holder(released), "", "A released the lease: {history:#?}");
    assert_eq!(holder(taken), B, "{history:#?}");
    let a_renewed = history[last_a].renew_time.clone().expect("renewTime").0;
    let a_expiry = a_renewed
        + Duration::from_secs(
            u64::try_from(history[last_a].lease_duration_seconds.unwrap_or(0)).unwrap_or(0),
        );
    let b_acquired = taken.acquire_time.clone().expect("acquireTime").0;
    let released_at = released.renew_time.clone().expect("renewTime").0;
    eprintln!(
        "handover: released {} after A's last renewal, taken {} after the release",
        released_at.duration_since(a_renewed),
        b_acquired.duration_since(released_at)
    );
    assert!(
        b_acquired < a_expiry,
        "B took over at {b_acquired}, before A's lease would have expired at {a_expiry}"
    );

    // B reconciles now: it scales the Service.
    env.kubectl_ok(&["scale", "ecssvc", "web", "--replicas=4"]);
    eventually("B to scale the Deployment", TIMEOUT, || {
        let d = env.get(&["deployment", "web"]).ok_or("absent")?;
        (d.pointer("/spec/replicas") == Some(&Value::from(4)))
            .then_some(())
            .ok_or(format!("{}", d["spec"]))
    })
    .await;
    let (_, b_metrics) = b.get("/metrics").await;
    assert_eq!(sample(&b_metrics, "ecs_bridge_leader"), 1.0, "{b_metrics}");
    assert!(sample(&b_metrics, SERVICE_RUNS) >= 1.0, "{b_metrics}");
}
