//! A failing rollout rolls back by itself: a Service with ECS's deployment circuit breaker runs
//! revision 1; revision 2's image cannot be pulled (a registry under `.invalid`, which never
//! resolves, on a real cluster too); its failed tasks reach the threshold, the deployment turns
//! FAILED, and the Service goes back to revision 1, saying so in ECS's words. Revision 3 then
//! rolls out normally.

use std::time::Duration;

use serde_json::Value;

use crate::support::{Env, eventually};

const TIMEOUT: Duration = Duration::from_secs(90);

/// The TaskDefinition and Service `shop`, with the circuit breaker and rollback on.
pub fn manifests(image: &str) -> String {
    format!(
        r#"apiVersion: ecsbridge.io/v1alpha1
kind: TaskDefinition
metadata:
  name: shop
spec:
  containerDefinitions:
    - name: shop
      image: {image}
      memory: 64
---
apiVersion: ecsbridge.io/v1alpha1
kind: Service
metadata:
  name: shop
spec:
  taskDefinition: shop
  desiredCount: 2
  deploymentConfiguration:
    deploymentCircuitBreaker:
      enable: true
      rollback: true
"#
    )
}

fn image(deployment: &Value) -> &str {
    deployment
        .pointer("/spec/template/spec/containers/0/image")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The Service's PRIMARY deployment.
pub fn primary(svc: &Value) -> Option<&Value> {
    svc.pointer("/status/deployments")?
        .as_array()?
        .iter()
        .find(|d| d["status"] == "PRIMARY")
}

/// The messages of the Service's ECS events.
pub fn messages(svc: &Value) -> Vec<String> {
    svc.pointer("/status/events")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e["message"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_rollout_rolls_back_to_the_last_completed_revision() {
    let env = Env::start("rollback").await;
    let good = "public.ecr.aws/nginx/nginx:1.27";
    let apply = |image: &str| {
        let file = env.file("shop.yaml", &manifests(image));
        env.kubectl_ok(&["apply", "-f", &Env::s(&file)]);
    };
    apply(good);
    let completed = eventually("revision 1 completed", TIMEOUT, || {
        let svc = env.get(&["ecssvc", "shop"]).ok_or("absent")?;
        let p = primary(&svc).ok_or(format!("no PRIMARY: {}", svc["status"]))?;
        (p["taskDefinition"] == "shop:1" && p["rolloutState"] == "COMPLETED")
            .then(|| p["id"].as_str().unwrap_or("").to_owned())
            .ok_or(format!("{p}"))
    })
    .await;

    // Revision 2 cannot start: the breaker (threshold 3 for 2 tasks) fails it and rolls back.
    apply("registry.invalid/shop:broken");
    let svc = eventually("the rollback to revision 1", TIMEOUT, || {
        let svc = env.get(&["ecssvc", "shop"]).ok_or("absent")?;
        let degraded = svc
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Degraded" && c["status"] == "True" && c["reason"] == "DeploymentFailed");
        let back = primary(&svc).is_some_and(|p| p["taskDefinition"] == "shop:1");
        (degraded && back)
            .then_some(svc.clone())
            .ok_or(format!("{}", svc["status"]))
    })
    .await;
    let events = messages(&svc);
    assert!(
        events
            .iter()
            .any(|m| m.starts_with("(service shop) (deployment ecs-svc/")
                && m.contains("deployment failed: tasks failed to start.")),
        "{events:#?}"
    );
    assert!(
        events.contains(&format!("(service shop) rolling back to deployment {completed}.")),
        "{events:#?}"
    );
    let deployment = env.get(&["deployment", "shop"]).expect("the Deployment");
    assert_eq!(image(&deployment), good);
    assert_eq!(
        deployment.pointer("/metadata/annotations/ecsbridge.io~1failed-task-definition"),
        Some(&Value::from("shop:2"))
    );
    // The tasks of revision 1 run again; the Service says what happened. It is not Ready: the
    // failed revision is for the user to fix.
    let svc = eventually("the rollback completed", TIMEOUT, || {
        let svc = env.get(&["ecssvc", "shop"]).ok_or("absent")?;
        let done = primary(&svc).is_some_and(|p| p["rolloutState"] == "COMPLETED")
            && svc.pointer("/status/runningCount") == svc.pointer("/status/desiredCount");
        done.then_some(svc.clone()).ok_or(format!("{}", svc["status"]))
    })
    .await;
    let ready = svc
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (&ready["status"], &ready["reason"]),
        (&Value::from("False"), &Value::from("DeploymentFailed"))
    );
    // `kubectl get` shows it: Argo CD's health and why, the PRIMARY deployment's rollout state
    // and failed tasks; `-o wide` the message.
    let table = env.kubectl_ok(&["get", "ecssvc", "shop"]);
    let header: Vec<&str> = table.lines().next().unwrap_or("").split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME", "DESIRED", "RUNNING", "PENDING", "TASKDEF", "READY", "HEALTH", "REASON", "ROLLOUT",
            "FAILED", "AGE"
        ],
        "{table}"
    );
    let row: Vec<&str> = table.lines().nth(1).unwrap_or("").split_whitespace().collect();
    assert_eq!(
        &row[4..10],
        [
            "shop:1",
            "False",
            "Degraded",
            "DeploymentFailed",
            "COMPLETED",
            "0"
        ],
        "{table}"
    );
    // `kubectl events` and `kubectl describe` show the events, each with its own note: every
    // "has started" ECS event of the status is one Kubernetes Event with that very note (not
    // one series whose note names the first tasks). (Published after the status write that
    // records them: looked for until they are there.)
    eventually("the events in kubectl events", TIMEOUT, || {
        let svc = env.get(&["ecssvc", "shop"]).ok_or("absent")?;
        let started: Vec<String> = messages(&svc)
            .into_iter()
            .filter(|m| m.contains("has started"))
            .collect();
        let events = env.kubectl_ok(&["events", "--for", "ecssvc/shop"]);
        let shown = events.lines().filter(|l| l.contains("has started")).count();
        (events.contains("DeploymentFailed")
            && events.contains("Reason: CannotPullContainerError")
            && events.contains("RollingBack")
            && !started.is_empty()
            && shown == started.len()
            && started.iter().all(|m| events.contains(m.as_str())))
        .then_some(())
        .ok_or(format!("{started:#?}\n{events}"))
    })
    .await;
    let described = env.kubectl_ok(&["describe", "ecssvc", "shop"]);
    assert!(
        described.contains("Events:") && described.contains("RollingBack"),
        "{described}"
    );
    let wide = env.kubectl_ok(&["get", "ecssvc", "shop", "-o", "wide"]);
    assert!(
        wide.lines()
            .next()
            .is_some_and(|h| h.contains("LAUNCH") && h.contains("PROVIDERS") && h.contains("MESSAGE")),
        "{wide}"
    );
    assert!(wide.contains("rolled back to shop:1"), "{wide}");
    assert_eq!(
        svc.pointer("/status/taskDefinition"),
        Some(&Value::from("shop:1"))
    );
    // As in ECS, the rollback is a new deployment of revision 1, not the completed one again.
    let rollback = primary(&svc).expect("a PRIMARY deployment");
    assert_ne!(rollback["id"].as_str(), Some(completed.as_str()), "{rollback}");
    let degraded = svc
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Degraded"))
        .cloned()
        .unwrap_or_default();
    let message = degraded["message"].as_str().unwrap_or("");
    assert!(
        message.contains("shop:2") && message.contains("rolled back to shop:1"),
        "{message}"
    );
    // Why, in ECS's words: the image cannot be pulled.
    assert!(
        message.contains("CannotPullContainerError: ") && message.contains("registry.invalid/shop:broken"),
        "{message}"
    );
    let events = messages(&svc);
    assert!(
        events
            .iter()
            .any(|m| m
                .contains("deployment failed: tasks failed to start. Reason: CannotPullContainerError: ")),
        "{events:#?}"
    );

    // A fixed revision rolls out, and the failure is forgotten.
    apply("public.ecr.aws/nginx/nginx:1.28");
    eventually("revision 3 completed", TIMEOUT, || {
        let svc = env.get(&["ecssvc", "shop"]).ok_or("absent")?;
        let p = primary(&svc).ok_or("no PRIMARY")?;
        let healthy = svc
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Degraded" && c["status"] == "False");
        (p["taskDefinition"] == "shop:3" && p["rolloutState"] == "COMPLETED" && healthy)
            .then_some(())
            .ok_or(format!("{}", svc["status"]))
    })
    .await;
    let deployment = env.get(&["deployment", "shop"]).expect("the Deployment");
    assert_eq!(image(&deployment), "public.ecr.aws/nginx/nginx:1.28");
    assert_eq!(
        deployment.pointer("/metadata/annotations/ecsbridge.io~1failed-task-definition"),
        None
    );
}
