//! Service Auto Scaling end to end, applied as Argo CD applies (server-side apply, field manager
//! `argocd-controller`, forced): the Service owns an HPA on its scale subresource; when the tasks
//! use twice their CPU target the HPA raises the Service's `desiredCount` and the operator runs
//! the new count; re-applying the manifest as Argo CD does with the documented
//! `ignoreDifferences` entry and `RespectIgnoreDifferences=true` (the live count sent back)
//! changes nothing, where the plain manifest would reset the count (the tug of war that entry
//! prevents); a scheduled action fires at its instant and raises the range.
//!
//! On the double the tasks' CPU comes from the simulated metrics (the test bed's HPA follows
//! upstream's algorithm); on a real cluster (`E2E_KUBECONFIG`) the steps that need load are
//! skipped, and the scheduled action's new min is reached the same way.

use std::time::Duration;

use ecs_bridge_testbed::PodUsage;
use jiff::{Timestamp, ToSpan};
use serde_json::Value;

use crate::support::{Env, eventually};

const TIMEOUT: Duration = Duration::from_secs(60);
/// Argo CD's field manager.
const APPLIER: &str = "argocd-controller";

/// A TaskDefinition reserving half a vCPU, and a Service of it scaled 2 to 8 tasks on 50% CPU
/// (250m a task); `ACTIONS` is replaced by its scheduled actions and `COUNT` by its count.
const MANIFESTS: &str = r#"
apiVersion: ecsbridge.io/v1alpha1
kind: TaskDefinition
metadata: {name: web}
spec:
  family: web
  cpu: "512"
  memory: "1024"
  containerDefinitions:
    - {name: web, image: public.ecr.aws/nginx/nginx:1.27, essential: true}
---
apiVersion: ecsbridge.io/v1alpha1
kind: Service
metadata: {name: web}
spec:
  taskDefinition: web
  desiredCount: COUNT
  autoScaling:
    minCapacity: 2
    maxCapacity: 8
    targetTrackingScalingPolicies:
      - policyName: cpu50
        targetValue: 50
        predefinedMetricSpecification: {predefinedMetricType: ECSServiceAverageCPUUtilization}
    scheduledActions: ACTIONS
"#;

fn manifests(count: i64, actions: &str) -> String {
    MANIFESTS
        .replace("COUNT", &count.to_string())
        .replace("ACTIONS", actions)
}

/// Applies `text` as Argo CD does.
fn argo_apply(env: &Env, name: &str, text: &str) {
    let file = env.file(name, text);
    env.kubectl_ok(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager",
        APPLIER,
        "-f",
        &Env::s(&file),
    ]);
}

fn int(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(-1)
}

/// Waits until the Service asks for `desired` tasks and reports them all running, and its
/// Deployment runs that many.
async fn runs(env: &Env, desired: i64) -> Value {
    eventually(&format!("the Service running {desired} tasks"), TIMEOUT, || {
        let svc = env.get(&["ecssvc", "web"]).ok_or("no Service")?;
        let deployment = env.get(&["deployment", "web"]).ok_or("no Deployment")?;
        let seen = (
            int(&svc, "/spec/desiredCount"),
            int(&svc, "/status/desiredCount"),
            int(&svc, "/status/runningCount"),
            int(&deployment, "/spec/replicas"),
        );
        (seen == (desired, desired, desired, desired))
            .then_some(svc)
            .ok_or(format!("(spec, status desired, running, Deployment) = {seen:?}"))
    })
    .await
}

/// The Service's tasks, for the simulated metrics.
const SELECTOR: &str = "ecsbridge.io/service=web";

/// Waits until the Service's `desiredCount` is `n` (`what` makes it so).
async fn desired_becomes(env: &Env, n: i64, what: &str) {
    eventually(what, TIMEOUT, || {
        let svc = env.get(&["ecssvc", "web"]).ok_or("no Service")?;
        (int(&svc, "/spec/desiredCount") == n)
            .then_some(())
            .ok_or(format!("desiredCount {}", svc["spec"]["desiredCount"]))
    })
    .await;
}

/// Waits for a scaling activity with `description` whose cause holds `cause`.
async fn activity(env: &Env, description: &str, cause: &str) {
    eventually(&format!("the activity {description:?}"), TIMEOUT, || {
        let svc = env.get(&["ecssvc", "web"]).ok_or("no Service")?;
        let activities = svc["status"]["autoScaling"]["scalingActivities"].clone();
        activities
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| {
                a["description"] == description && a["cause"].as_str().is_some_and(|c| c.contains(cause))
            })
            .then_some(())
            .ok_or(format!(
                "{activities}; Service status {}; HPA {}",
                svc["status"]["autoScaling"],
                env.get(&["hpa", "web"])
                    .map(|h| h["status"].clone())
                    .unwrap_or_default()
            ))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_hpa_scales_the_service_and_a_gitops_reapply_leaves_its_count() {
    let env = Env::start("autoscaling").await;
    argo_apply(&env, "web.yaml", &manifests(2, "[]"));
    runs(&env, 2).await;
    let hpa = eventually("the HPA", TIMEOUT, || {
        env.get(&["hpa", "web"]).ok_or("absent".to_owned())
    })
    .await;
    assert_eq!(
        hpa["spec"]["scaleTargetRef"],
        serde_json::json!({"apiVersion": "ecsbridge.io/v1alpha1", "kind": "Service", "name": "web"})
    );
    assert_eq!(
        hpa["spec"]["metrics"][0]["resource"]["target"]["averageValue"],
        "250m"
    );
    let svc = env.get(&["ecssvc", "web"]).expect("the Service");
    assert_eq!(svc["status"]["autoScaling"]["horizontalPodAutoscaler"], "web");

    if let Some((_, cluster)) = env.backend.double() {
        // Twice the target: ceil(2 × 2) = 4 tasks, written through the Service's scale...
        let busy = PodUsage {
            cpu_millis: 500,
            memory_bytes: 64 << 20,
        };
        let at_target = PodUsage {
            cpu_millis: 250,
            ..busy
        };
        cluster
            .set_usage(&env.namespace, SELECTOR, busy)
            .expect("selector");
        desired_becomes(&env, 4, "the HPA to raise desiredCount").await;
        // ...over which the same load is spread: at the target from then on.
        cluster
            .set_usage(&env.namespace, SELECTOR, at_target)
            .expect("selector");
        let svc = runs(&env, 4).await;
        let owners: Vec<&str> = svc["metadata"]["managedFields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e.pointer("/fieldsV1/f:spec/f:desiredCount").is_some())
            .filter_map(|e| e["manager"].as_str())
            .collect();
        assert!(
            !owners.contains(&APPLIER),
            "the HPA's write owns desiredCount now: {owners:?}"
        );
        // The rescale is a scaling activity in AAS's words.
        activity(&env, "Setting desired count to 4.", "(policy cpu50)").await;
        let generation = int(&svc, "/metadata/generation");

        // Argo CD with `RespectIgnoreDifferences=true` sends the live count back: no change.
        argo_apply(&env, "web-live.yaml", &manifests(4, "[]"));
        cluster.advance_clock(Duration::from_secs(16));
        tokio::time::sleep(Duration::from_secs(2)).await;
        let svc = runs(&env, 4).await;
        assert_eq!(
            int(&svc, "/metadata/generation"),
            generation,
            "the re-apply changed nothing"
        );

        // Without the entry, each sync would reset it to the manifest's 2; the HPA then brings it
        // back to its min (here the load, at the target for 4 tasks, would be twice it for 2).
        argo_apply(&env, "web-plain.yaml", &manifests(2, "[]"));
        desired_becomes(&env, 2, "the plain re-apply to reset the count").await;
        // Busy only once 2 tasks run: the HPA multiplies the replicas the scale subresource
        // reports, and those of the reset are reported once the Service's reconcile has run.
        runs(&env, 2).await;
        cluster
            .set_usage(&env.namespace, SELECTOR, busy)
            .expect("selector");
        desired_becomes(&env, 4, "the HPA to raise desiredCount again").await;
        cluster
            .set_usage(&env.namespace, SELECTOR, at_target)
            .expect("selector");
        runs(&env, 4).await;
    }

    // A scheduled action a few seconds ahead raises the min to 5: the operator requeues for its
    // instant, the HPA's min follows, and the HPA brings the Service to it.
    let at = Timestamp::now()
        .checked_add(4.seconds())
        .expect("a time")
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let actions = format!(
        "[{{scheduledActionName: peak, schedule: \"at({at})\", scalableTargetAction: {{minCapacity: 5}}}}]"
    );
    let live = int(
        &env.get(&["ecssvc", "web"]).expect("the Service"),
        "/spec/desiredCount",
    );
    argo_apply(&env, "web-peak.yaml", &manifests(live, &actions));
    let svc = eventually("the peak action to fire", TIMEOUT, || {
        let svc = env.get(&["ecssvc", "web"]).ok_or("no Service")?;
        let min = int(&svc, "/status/autoScaling/scalableTarget/minCapacity");
        (min == 5).then_some(svc).ok_or(format!("min in force {min}"))
    })
    .await;
    assert!(
        svc["status"]["autoScaling"]["scheduledActions"][0]
            .get("nextRun")
            .is_none(),
        "{svc}"
    );
    activity(
        &env,
        "Setting min capacity to 5.",
        "scheduled action name peak was triggered",
    )
    .await;
    eventually("the HPA's min to follow", TIMEOUT, || {
        let hpa = env.get(&["hpa", "web"]).ok_or("no HPA")?;
        (int(&hpa, "/spec/minReplicas") == 5)
            .then_some(())
            .ok_or(format!("minReplicas {}", hpa["spec"]["minReplicas"]))
    })
    .await;
    if let Some((_, cluster)) = env.backend.double() {
        cluster.advance_clock(Duration::from_secs(16));
    }
    runs(&env, 5).await;
}
