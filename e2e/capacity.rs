//! Capacity providers end to end: a Service split over FARGATE {base 2, weight 1} and
//! FARGATE_SPOT {weight 3} runs one Deployment per provider with ECS's split, on the nodes each
//! provider selects; `kubectl scale` recomputes the split; a new strategy moves the tasks.
//!
//! The providers are the chart's built-in ones (as `ecs-bridge` defines them); the cluster's
//! first two nodes are labelled as a Fargate node and a spot node, as a user of kind would label
//! theirs.

use std::time::Duration;

use serde_json::Value;

use crate::support::{Env, eventually};

const TIMEOUT: Duration = Duration::from_secs(90);

/// `(spec.replicas, status.readyReplicas)` of Deployment `name`, and the nodes its pods run on.
fn deployment_on(env: &Env, name: &str, provider: &str) -> Result<(i64, i64, Vec<String>), String> {
    let d = env
        .get(&["deployment", name])
        .ok_or(format!("no Deployment {name}"))?;
    let replicas = d.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(-1);
    let ready = d
        .pointer("/status/readyReplicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let pods = env
        .get(&[
            "pods",
            "-l",
            &format!("ecsbridge.io/service=web,ecsbridge.io/capacity-provider={provider}"),
        ])
        .ok_or("no pods")?;
    let mut nodes: Vec<String> = pods["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            p.pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    nodes.sort();
    nodes.dedup();
    Ok((replicas, ready, nodes))
}

/// Waits until the Deployments of FARGATE and FARGATE_SPOT run `fargate` and `spot` ready tasks,
/// each on its provider's node only.
async fn split_is(env: &Env, fargate: i64, spot: i64, nodes: &[String; 2]) {
    eventually(
        &format!("{fargate} tasks on FARGATE, {spot} on FARGATE_SPOT"),
        TIMEOUT,
        || {
            let f = deployment_on(env, "web-fargate", "FARGATE")?;
            let s = deployment_on(env, "web-fargate-spot", "FARGATE_SPOT")?;
            let placed = |n: &Vec<String>, on: &String| n.is_empty() || n == std::slice::from_ref(on);
            (f.0 == fargate
                && f.1 == fargate
                && s.0 == spot
                && s.1 == spot
                && placed(&f.2, &nodes[0])
                && placed(&s.2, &nodes[1]))
            .then_some(())
            .ok_or(format!("FARGATE {f:?}, FARGATE_SPOT {s:?}"))
        },
    )
    .await;
}

/// Gives Service `web` the strategy `items` (ECS's JSON) in place, as UpdateService does.
fn set_strategy(env: &Env, items: &str) {
    let patch = env.file(
        "strategy.json",
        &format!(r#"{{"spec": {{"capacityProviderStrategy": {items}}}}}"#),
    );
    env.kubectl_ok(&[
        "patch",
        "ecssvc",
        "web",
        "--type=merge",
        "--patch-file",
        &Env::s(&patch),
    ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_service_runs_on_two_providers_with_ecs_split_and_follows_scale_and_strategy() {
    let env = Env::start("capacity").await;
    let names = env.nodes(2);
    let nodes = [names[0].clone(), names[1].clone()];
    env.label_nodes([
        (&nodes[0], "eks.amazonaws.com/compute-type=fargate"),
        (&nodes[1], "karpenter.sh/capacity-type=spot"),
    ]);
    let builtin: Vec<String> = ecs_bridge::translate::capacity::provider::builtin()
        .iter()
        .map(|cp| serde_json::to_string(cp).expect("json"))
        .collect();
    let providers = env.file("providers.json", &builtin.join("\n"));
    env.kubectl_ok(&["apply", "-f", &Env::s(&providers)]);
    let ns = &env.namespace;
    let manifests = env.file(
        "web.yaml",
        &format!(
            r"apiVersion: ecsbridge.io/v1alpha1
kind: TaskDefinition
metadata:
  name: web
  namespace: {ns}
spec:
  requiresCompatibilities: [FARGATE]
  networkMode: awsvpc
  cpu: '256'
  memory: '512'
  containerDefinitions:
    - name: web
      image: public.ecr.aws/nginx/nginx:1.27
---
apiVersion: ecsbridge.io/v1alpha1
kind: Service
metadata:
  name: web
  namespace: {ns}
spec:
  taskDefinition: web
  desiredCount: 10
  capacityProviderStrategy:
    - capacityProvider: FARGATE
      base: 2
      weight: 1
    - capacityProvider: FARGATE_SPOT
      weight: 3
"
        ),
    );
    env.kubectl_ok(&["apply", "-f", &Env::s(&manifests)]);

    // ecs-reference §2.3: base 2 on FARGATE, then 8 split 1:3.
    split_is(&env, 4, 6, &nodes).await;
    let svc = eventually("the Service steady, in ECS's words", TIMEOUT, || {
        let svc = env.get(&["ecssvc", "web"]).ok_or("absent")?;
        let ready = svc
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True");
        (ready && svc.pointer("/status/runningCount") == Some(&Value::from(10)))
            .then_some(svc.clone())
            .ok_or(format!("{:#}", svc["status"]))
    })
    .await;
    let deployments = svc
        .pointer("/status/deployments")
        .and_then(Value::as_array)
        .expect("deployments");
    assert_eq!(
        deployments.len(),
        1,
        "one ECS deployment across providers: {deployments:#?}"
    );
    assert_eq!(deployments[0]["status"], "PRIMARY");
    assert_eq!(deployments[0]["runningCount"], 10);
    assert_eq!(
        deployments[0]["capacityProviderStrategy"][1]["capacityProvider"],
        "FARGATE_SPOT"
    );
    assert_eq!(
        svc.pointer("/status/capacityProviderStrategySource"),
        Some(&Value::from("Service"))
    );

    // kubectl scale: base 2, then 18 split 1:3 one task at a time (4.5 : 13.5 → 4 : 14).
    env.kubectl_ok(&["scale", "ecssvc", "web", "--replicas=20"]);
    split_is(&env, 6, 14, &nodes).await;

    // A new strategy (UpdateService allows it in place): 20 tasks split evenly.
    set_strategy(
        &env,
        r#"[{"capacityProvider": "FARGATE", "weight": 1},
            {"capacityProvider": "FARGATE_SPOT", "weight": 1}]"#,
    );
    split_is(&env, 10, 10, &nodes).await;

    // The providers' status, in ECS's terms: one node each, 10 tasks each, every node busy.
    eventually("FARGATE_SPOT's status", TIMEOUT, || {
        let cp = env.get(&["ecscp", "fargate-spot"]).ok_or("absent")?;
        let s = &cp["status"];
        let ok = s["status"] == "ACTIVE"
            && s["type"] == "FARGATE_SPOT"
            && s["nodes"] == 1
            && s["runningTasks"] == 10
            && s["capacityProviderReservation"] == 100
            && s["services"] == serde_json::json!([format!("{ns}/web")]);
        ok.then_some(()).ok_or(format!("{s:#}"))
    })
    .await;
    let table = env.kubectl_ok(&["get", "ecscp", "fargate-spot"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header[..6],
        ["NAME", "TYPE", "STATUS", "NODES", "TASKS", "RESERVATION"],
        "{table}"
    );

    // ECS refuses to delete a provider a service uses: the deletion is held, and says by whom.
    env.kubectl_ok(&["delete", "ecscp", "fargate-spot", "--wait=false"]);
    eventually("the deletion held, naming the Service", TIMEOUT, || {
        let cp = env.get(&["ecscp", "fargate-spot"]).ok_or("gone too early")?;
        let reason = cp
            .pointer("/status/updateStatusReason")
            .and_then(Value::as_str)
            .unwrap_or("");
        (cp["status"]["status"] == "DEPROVISIONING" && reason.contains(&format!("{ns}/web")))
            .then_some(())
            .ok_or(format!("{:#}", cp["status"]))
    })
    .await;
    // The Service leaves the provider: its tasks move to FARGATE, and the provider goes.
    set_strategy(&env, r#"[{"capacityProvider": "FARGATE", "weight": 1}]"#);
    eventually("20 tasks on FARGATE, the spot Deployment gone", TIMEOUT, || {
        let f = deployment_on(&env, "web-fargate", "FARGATE")?;
        let spot = env.get(&["deployment", "web-fargate-spot"]);
        (f.0 == 20 && f.1 == 20 && spot.is_none())
            .then_some(())
            .ok_or(format!("FARGATE {f:?}, spot Deployment {}", spot.is_some()))
    })
    .await;
    eventually("the provider released", TIMEOUT, || {
        env.get(&["ecscp", "fargate-spot"])
            .map_or(Ok(()), |cp| Err(format!("{:#}", cp["status"])))
    })
    .await;

    env.label_nodes([
        (&nodes[0], "eks.amazonaws.com/compute-type-"),
        (&nodes[1], "karpenter.sh/capacity-type-"),
    ]);
}

/// Managed scaling and termination protection, from `examples/capacity`: spot-pool's
/// `targetCapacity: 80` keeps placeholder tasks of the lowest priority beside its 6 tasks
/// (ceil(6 × 20 / 80) = 2), in the operator's namespace; on-demand-pool's
/// `managedTerminationProtection: ENABLED` marks its tasks so that Karpenter and
/// cluster-autoscaler leave their nodes alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn managed_scaling_keeps_headroom_and_termination_protection_marks_tasks() {
    let env = Env::start("headroom").await;
    let names = env.nodes(2);
    env.label_nodes([
        (&names[0], "eks.amazonaws.com/capacityType=ON_DEMAND"),
        (&names[1], "eks.amazonaws.com/capacityType=SPOT"),
    ]);
    let example = Env::s(&Env::example("capacity"));
    env.kubectl_ok(&["apply", "-n", &env.namespace, "-f", &example]);

    let headroom = eventually("spot-pool's headroom", TIMEOUT, || {
        let d = env
            .get(&["deployment", "ecs-bridge-headroom-spot-pool"])
            .ok_or("no headroom Deployment")?;
        (d.pointer("/spec/replicas") == Some(&Value::from(2)))
            .then_some(d.clone())
            .ok_or(format!("{:#}", d["spec"]))
    })
    .await;
    let pod = &headroom["spec"]["template"]["spec"];
    assert_eq!(pod["priorityClassName"], "ecs-bridge-headroom", "{pod:#}");
    assert_eq!(pod["nodeSelector"]["eks.amazonaws.com/capacityType"], "SPOT");
    assert_eq!(
        headroom["metadata"]["ownerReferences"][0]["kind"], "CapacityProvider",
        "owned by its provider"
    );
    eventually("spot-pool's status says what it keeps", TIMEOUT, || {
        let cp = env.get(&["ecscp", "spot-pool"]).ok_or("absent")?;
        let said = cp
            .pointer("/status/headroom")
            .and_then(Value::as_str)
            .unwrap_or("");
        said.starts_with("2 placeholder tasks of 250m CPU and 512Mi memory keep about 20% spare")
            .then_some(())
            .ok_or(format!("{:#}", cp["status"]))
    })
    .await;
    let on_demand = env
        .get(&["deployment", "api-on-demand-pool"])
        .expect("the on-demand Deployment");
    let annotations = &on_demand["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(
        annotations["karpenter.sh/do-not-disrupt"], "true",
        "{annotations:#}"
    );
    assert_eq!(
        annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"],
        "false"
    );
    let spot = env
        .get(&["deployment", "api-spot-pool"])
        .expect("the spot Deployment");
    assert!(
        spot.pointer("/spec/template/metadata/annotations/karpenter.sh~1do-not-disrupt")
            .is_none(),
        "spot-pool has no termination protection"
    );
    env.label_nodes(names.iter().map(|n| (n, "eks.amazonaws.com/capacityType-")));
}

/// An ECS Managed Instances provider, a task definition and a Service of 2 tasks on it.
const MANAGED_INSTANCES: &str = r#"
apiVersion: ecsbridge.io/v1alpha1
kind: CapacityProvider
metadata: {name: e2e-mi-pool}
spec:
  managedInstancesProvider:
    infrastructureRoleArn: arn:aws:iam::123456789012:role/ecsInfrastructureRole
    instanceLaunchTemplate:
      ec2InstanceProfileArn: arn:aws:iam::123456789012:instance-profile/ecsInstanceRole
      networkConfiguration: {subnets: [subnet-1]}
      capacityOptionType: SPOT
      instanceRequirements:
        vCpuCount: {min: 2, max: 8}
        memoryMiB: {min: 4096}
    infrastructureOptimization: {scaleInAfter: 300}
---
apiVersion: ecsbridge.io/v1alpha1
kind: TaskDefinition
metadata: {name: mi}
spec:
  family: mi
  cpu: "256"
  memory: "512"
  containerDefinitions:
    - {name: app, image: public.ecr.aws/nginx/nginx:1.27, essential: true}
---
apiVersion: ecsbridge.io/v1alpha1
kind: Service
metadata: {name: mi}
spec:
  taskDefinition: mi
  desiredCount: 2
  capacityProviderStrategy: [{capacityProvider: e2e-mi-pool, weight: 1}]
"#;

/// The condition `type_` of ecscp `name` once its reason is `reason`.
async fn provider_condition(env: &Env, name: &str, type_: &str, reason: &str) -> Value {
    eventually(&format!("{type_} {reason} on ecscp/{name}"), TIMEOUT, || {
        let cp = env.get(&["ecscp", name]).ok_or("absent")?;
        cp["status"]["conditions"]
            .as_array()
            .and_then(|c| {
                c.iter()
                    .find(|c| c["type"] == type_ && c["reason"] == reason)
                    .cloned()
            })
            .ok_or(format!("{:#}", cp["status"]))
    })
    .await
}

/// Ready tasks of Service `mi`, and the nodes they run on.
fn mi_tasks(env: &Env) -> Result<(usize, Vec<String>), String> {
    let pods = env
        .get(&["pods", "-l", "ecsbridge.io/service=mi"])
        .ok_or("no pods")?;
    let running: Vec<&Value> = pods["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null() && p["status"]["phase"] == "Running")
        .collect();
    let mut nodes: Vec<String> = running
        .iter()
        .filter_map(|p| p["spec"]["nodeName"].as_str().map(str::to_owned))
        .collect();
    nodes.sort();
    nodes.dedup();
    Ok((running.len(), nodes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_managed_instances_provider_owns_a_karpenter_node_pool_where_karpenter_is_installed() {
    let env = Env::start("karpenter").await;
    const CRD: &str = "nodepools.karpenter.sh";
    let karpenter = env.kubectl(&["get", "crd", CRD]).status.success();
    // On a real cluster with Karpenter, no task: pending ones would launch real (spot) instances.
    let manifests = if karpenter && env.backend.is_real() {
        env.file(
            "managed-instances.yaml",
            &MANAGED_INSTANCES.replace("desiredCount: 2", "desiredCount: 0"),
        )
    } else {
        env.file("managed-instances.yaml", MANAGED_INSTANCES)
    };
    env.kubectl_ok(&["apply", "-n", &env.namespace, "-f", &Env::s(&manifests)]);
    if !karpenter {
        // Without Karpenter the provider only schedules: Degraded, saying what to install, and
        // its tasks run where they can.
        let degraded = provider_condition(&env, "e2e-mi-pool", "Degraded", "KarpenterNotInstalled").await;
        assert!(
            degraded["message"]
                .as_str()
                .unwrap_or("")
                .contains("install Karpenter"),
            "{degraded:#}"
        );
        eventually("2 tasks running without Karpenter", TIMEOUT, || {
            let (ready, nodes) = mi_tasks(&env)?;
            (ready == 2)
                .then_some(nodes.clone())
                .ok_or(format!("{ready} on {nodes:?}"))
        })
        .await;
        // Karpenter arrives (here its CRD, the stand-in of tests/support/karpenter/); the provider
        // notices at its next reconcile (a change, as here, or the resync).
        let crd = crate::support::repo()
            .join("tests/support/karpenter")
            .join(format!("{CRD}.yaml"));
        env.kubectl_ok(&["apply", "--server-side", "-f", &Env::s(&crd)]);
        env.kubectl_ok(&[
            "wait",
            "--for=condition=Established",
            &format!("crd/{CRD}"),
            "--timeout=30s",
        ]);
        env.kubectl_ok(&[
            "annotate",
            "ecscp",
            "e2e-mi-pool",
            "e2e/karpenter=installed",
            "--overwrite",
        ]);
    }
    let pool = eventually("the provider's NodePool", TIMEOUT, || {
        env.get(&["nodepools.karpenter.sh", "e2e-mi-pool"])
            .ok_or("absent".to_owned())
    })
    .await;
    assert_eq!(
        pool["metadata"]["ownerReferences"][0]["kind"], "CapacityProvider",
        "{pool:#}"
    );
    let requirements = pool["spec"]["template"]["spec"]["requirements"].to_string();
    for wanted in [
        r#"{"key":"karpenter.sh/capacity-type","operator":"In","values":["spot"]}"#,
        r#"{"key":"karpenter.k8s.aws/instance-cpu","operator":"Gt","values":["1"]}"#,
        r#"{"key":"karpenter.k8s.aws/instance-cpu","operator":"Lt","values":["9"]}"#,
    ] {
        assert!(requirements.contains(wanted), "{wanted} not in {requirements}");
    }
    assert_eq!(pool["spec"]["disruption"]["consolidateAfter"], "300s");
    // The live NodePool passes Karpenter's published schema (what the API server kept of it).
    let mut live = pool.clone();
    if let Some(o) = live.as_object_mut() {
        o.remove("status");
    }
    if let Err(e) = crate::support::models::validate_node_pools(&[live]) {
        panic!("{e}");
    }
    let cp = eventually("the provider names its NodePool", TIMEOUT, || {
        let cp = env.get(&["ecscp", "e2e-mi-pool"]).ok_or("absent")?;
        (cp["status"]["nodePool"] == "e2e-mi-pool"
            && cp["status"]["selects"] == "karpenter.sh/nodepool=e2e-mi-pool")
            .then_some(cp.clone())
            .ok_or(format!("{:#}", cp["status"]))
    })
    .await;
    assert!(
        cp["status"]["conditions"].as_array().is_some_and(|c| c
            .iter()
            .any(|c| c["type"] == "Degraded" && c["status"] == "False")),
        "{:#}",
        cp["status"]
    );
    // The Service's tasks now select the pool's nodes: Karpenter would launch one; here a node is
    // labelled as Karpenter labels its nodes, and the tasks move there.
    eventually("the tasks select the NodePool", TIMEOUT, || {
        let d = env
            .get(&["deployment", "mi-e2e-mi-pool"])
            .ok_or("no Deployment")?;
        (d["spec"]["template"]["spec"]["nodeSelector"]["karpenter.sh/nodepool"] == "e2e-mi-pool")
            .then_some(())
            .ok_or(format!("{:#}", d["spec"]["template"]["spec"]))
    })
    .await;
    if !env.backend.is_real() {
        let names = env.nodes(1);
        env.label_nodes([(&names[0], "karpenter.sh/nodepool=e2e-mi-pool")]);
        eventually("2 tasks on the NodePool's node", TIMEOUT, || {
            let (ready, nodes) = mi_tasks(&env)?;
            (ready == 2 && nodes == names)
                .then_some(())
                .ok_or(format!("{ready} on {nodes:?}"))
        })
        .await;
        env.label_nodes([(&names[0], "karpenter.sh/nodepool-")]);
    }
    env.kubectl_ok(&[
        "delete",
        "-n",
        &env.namespace,
        "-f",
        &Env::s(&manifests),
        "--wait=false",
    ]);
    if !karpenter && env.backend.is_real() {
        // The stand-in CRD this test installed, so that the next run tests a cluster without it.
        env.kubectl_ok(&["delete", "crd", CRD, "--wait=false"]);
    }
}
