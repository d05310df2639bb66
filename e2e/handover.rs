//! Leader handover in the middle of a circuit-breaker rollback (issue 18): two operators; the
//! leader is SIGKILLed (it releases nothing: the standby takes over once the lease expires)
//! either while the breaker counts revision 2's failed tasks, or the moment the Service says it
//! rolls back; and the rollback completes once: the Deployment goes back to revision 1 and
//! never to revision 2 again, one "deployment failed" and one "rolling back" event, one
//! rollback deployment.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::StreamExt;
use k8s_openapi::api::{apps::v1::Deployment, coordination::v1::Lease};
use kube::{
    Api,
    runtime::{WatchStreamExt, watcher},
};
use serde_json::Value;

use crate::{
    leader_election::client,
    rollback::{manifests, messages, primary},
    support::{Env, Setup, eventually, eventually_async},
};

const TIMEOUT: Duration = Duration::from_secs(90);
const GOOD: &str = "public.ecr.aws/nginx/nginx:1.27";
const BROKEN: &str = "registry.invalid/shop:broken";

/// Whether revision 2's deployment has a failed task (the breaker counts; it has not tripped).
fn counting(svc: &Value) -> bool {
    primary(svc)
        .is_some_and(|p| p["taskDefinition"] == "shop:2" && p["failedTasks"].as_i64().is_some_and(|n| n >= 1))
        && !rolling_back(svc)
}

/// Whether the Service says it rolls back.
fn rolling_back(svc: &Value) -> bool {
    messages(svc)
        .iter()
        .any(|m| m.contains("rolling back to deployment"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leader_crash_while_the_breaker_counts_fails_and_rolls_back_once() {
    rollback_across_a_crash("handover-count", counting).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leader_crash_as_the_rollback_starts_completes_it_once() {
    rollback_across_a_crash("handover-back", rolling_back).await;
}

/// Revision 2 fails under leader A, which is SIGKILLed the moment `crash_when` holds of the
/// Service; B completes the rollback, once.
async fn rollback_across_a_crash(name: &str, crash_when: fn(&Value) -> bool) {
    let env = Env::setup(
        name,
        Setup {
            crds: true,
            operator: false,
        },
    )
    .await;
    let client = client(&env).await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), &env.namespace);
    let holder = || async {
        leases
            .get_opt("ecs-bridge")
            .await
            .ok()
            .flatten()
            .and_then(|l| l.spec?.holder_identity)
            .unwrap_or_default()
    };
    let a = env.spawn_operator("e2e-handover-a");
    eventually_async("A to hold the lease", TIMEOUT, || async {
        (holder().await == "e2e-handover-a")
            .then_some(())
            .ok_or_else(|| a.log())
    })
    .await;
    let b = env.spawn_operator("e2e-handover-b");
    b.ready("B to be ready as a standby", TIMEOUT).await;

    // Every image the Deployment's template has had, in order, as a watch sees it.
    let images: Arc<Mutex<Vec<String>>> = Arc::default();
    let recorder = {
        let images = Arc::clone(&images);
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), &env.namespace);
        let config = watcher::Config::default().fields("metadata.name=shop");
        tokio::spawn(async move {
            let mut versions = watcher(deployments, config).applied_objects().boxed();
            while let Some(version) = versions.next().await {
                let Ok(d) = version else { continue };
                let image = d
                    .spec
                    .and_then(|s| s.template.spec)
                    .and_then(|s| s.containers.into_iter().next())
                    .and_then(|c| c.image)
                    .unwrap_or_default();
                let mut seen = images.lock().expect("images");
                if seen.last() != Some(&image) {
                    seen.push(image);
                }
            }
        })
    };

    let apply = |image: &str| {
        let file = env.file("shop.yaml", &manifests(image));
        env.kubectl_ok(&["apply", "-f", &Env::s(&file)]);
    };
    apply(GOOD);
    eventually("revision 1 completed under A", TIMEOUT, || {
        let svc = env.get(&["ecssvc", "shop"]).ok_or("absent")?;
        let p = primary(&svc).ok_or(format!("no PRIMARY: {}", svc["status"]))?;
        (p["taskDefinition"] == "shop:1" && p["rolloutState"] == "COMPLETED")
            .then_some(())
            .ok_or(format!("{p}"))
    })
    .await;

    // Revision 2 fails; at the moment chosen, A dies (SIGKILL: no lease release).
    apply(BROKEN);
    eventually("the moment to crash A", TIMEOUT, || {
        let svc = env.get(&["ecssvc", "shop"]).ok_or("absent")?;
        crash_when(&svc).then_some(()).ok_or(format!("{}", svc["status"]))
    })
    .await;
    drop(a);
    eprintln!("images when A died: {:?}", images.lock().expect("images"));

    eventually_async("B to take the lease over", TIMEOUT, || async {
        (holder().await == "e2e-handover-b")
            .then_some(())
            .ok_or_else(|| b.log())
    })
    .await;
    let svc = eventually("the rollback completed under B", TIMEOUT, || {
        let svc = env.get(&["ecssvc", "shop"]).ok_or("absent")?;
        let done = primary(&svc)
            .is_some_and(|p| p["taskDefinition"] == "shop:1" && p["rolloutState"] == "COMPLETED")
            && svc.pointer("/status/runningCount") == svc.pointer("/status/desiredCount");
        done.then_some(svc.clone()).ok_or(format!("{}", svc["status"]))
    })
    .await;
    // Long enough for B to have acted on any state it misread (its resync is minutes away:
    // every reconcile B makes here comes from what it watches).
    tokio::time::sleep(Duration::from_secs(10)).await;
    recorder.abort();

    let seen = images.lock().expect("images").clone();
    assert_eq!(seen, [GOOD, BROKEN, GOOD], "the Deployment's images in turn");
    let svc = env.get(&["ecssvc", "shop"]).unwrap_or(svc);
    let events = messages(&svc);
    let count = |needle: &str| events.iter().filter(|m| m.contains(needle)).count();
    assert_eq!(count("rolling back to deployment"), 1, "{events:#?}");
    assert_eq!(count("deployment failed"), 1, "{events:#?}");
    let deployments = svc
        .pointer("/status/deployments")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        deployments.len(),
        1,
        "one deployment, the rollback's: {deployments:#?}"
    );
    assert_eq!(deployments[0]["taskDefinition"], "shop:1");
    assert_eq!(
        svc.pointer("/status/taskDefinition"),
        Some(&Value::from("shop:1"))
    );
    let deployment = env.get(&["deployment", "shop"]).expect("the Deployment");
    assert_eq!(
        deployment.pointer("/metadata/annotations/ecsbridge.io~1failed-task-definition"),
        Some(&Value::from("shop:2"))
    );
}
