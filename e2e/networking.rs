//! The orders example's networking end to end: its load balancer becomes a Service and a
//! TargetGroupBinding on the target group (with the AWS Load Balancer Controller's CRD installed,
//! from `testdata/`), its Service Connect alias a Service named as clients call it; removing the
//! load balancer prunes its objects; deleting the Service collects the rest. Without the CRD, the
//! Service is `Degraded` and says why, and its other objects are made all the same.

use std::time::Duration;

use serde_json::Value;

use crate::support::{Env, eventually, repo};

const TIMEOUT: Duration = Duration::from_secs(60);
const CRD: &str = "targetgroupbindings.elbv2.k8s.aws";
const TARGET_GROUP: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/orders/73e2d6bc24d8a067";

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Installs the TargetGroupBinding CRD unless the cluster has it. The published CRD has two
/// versions (v1alpha1, v1beta1); the double serves one version per CRD, so v1beta1 (the one
/// ecs-bridge makes, and the storage version) is installed alone.
fn install_target_group_binding_crd(env: &Env) {
    if env.kubectl(&["get", "crd", CRD]).status.success() {
        return;
    }
    let path = repo()
        .join("testdata")
        .join("aws-load-balancer-controller")
        .join(format!("{CRD}.yaml"));
    let text = std::fs::read_to_string(path).expect("vendored CRD");
    let mut crd: Value = serde_yaml_ng::from_str(&text).expect("CRD YAML");
    if let Some(versions) = crd.pointer_mut("/spec/versions").and_then(Value::as_array_mut) {
        versions.retain(|v| v["name"] == "v1beta1");
    }
    if let Some(meta) = crd["metadata"].as_object_mut() {
        meta.remove("creationTimestamp");
    }
    if let Some(spec) = crd.as_object_mut() {
        spec.remove("status");
    }
    let file = env.file("tgb-crd.json", &crd.to_string());
    env.kubectl_ok(&["apply", "--server-side", "-f", &Env::s(&file)]);
    env.kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        &format!("crd/{CRD}"),
        "--timeout=30s",
    ]);
}

/// The condition `type_` of ecssvc `name`, once it has one with status `status`.
async fn condition(env: &Env, name: &str, type_: &str, status: &str) -> Value {
    eventually(&format!("{type_}={status} on ecssvc/{name}"), TIMEOUT, || {
        let svc = env.get(&["ecssvc", name]).ok_or("absent")?;
        svc["status"]["conditions"]
            .as_array()
            .and_then(|c| {
                c.iter()
                    .find(|c| c["type"] == type_ && c["status"] == status)
                    .cloned()
            })
            .ok_or(format!("{}", svc["status"]))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn load_balancers_and_service_connect_become_services_and_bindings() {
    let env = Env::start("networking").await;
    install_target_group_binding_crd(&env);
    env.kubectl_ok(&["apply", "-f", &Env::s(&Env::example("orders"))]);

    let binding = eventually("TargetGroupBinding orders.orders", TIMEOUT, || {
        env.get(&["targetgroupbinding", "orders.orders"])
            .ok_or("absent".into())
    })
    .await;
    let svc = env.get(&["ecssvc", "orders"]).expect("the Service");
    assert_eq!(s(&binding, "/spec/targetGroupARN"), TARGET_GROUP);
    assert_eq!(s(&binding, "/spec/targetType"), "ip");
    assert_eq!(s(&binding, "/spec/serviceRef/name"), "orders-lb");
    assert_eq!(s(&binding, "/spec/serviceRef/port"), "api");
    let lb = env
        .get(&["service", "orders-lb"])
        .expect("the load balancer's Service");
    let alias = env
        .get(&["service", "orders"])
        .expect("the Service Connect alias's Service");
    for obj in [&binding, &lb, &alias] {
        assert_eq!(
            s(obj, "/metadata/ownerReferences/0/uid"),
            s(&svc, "/metadata/uid"),
            "{obj}"
        );
        assert_eq!(
            s(obj, "/metadata/labels/ecsbridge.io~1service"),
            "orders",
            "{obj}"
        );
        assert_eq!(
            s(obj, "/metadata/labels/app.kubernetes.io~1managed-by"),
            "ecs-bridge",
            "{obj}"
        );
    }
    assert_eq!(s(&lb, "/spec/selector/ecsbridge.io~1service"), "orders");
    assert_eq!(lb.pointer("/spec/ports/0/targetPort"), Some(&Value::from(80)));
    assert_eq!(s(&alias, "/spec/ports/0/targetPort"), "api");
    env.kubectl_ok(&["wait", "--for=condition=Ready", "ecssvc/orders", "--timeout=60s"]);
    condition(&env, "orders", "Degraded", "False").await;

    // Without its load balancer, the Service's binding and load balancer Service go.
    env.kubectl_ok(&[
        "patch",
        "ecssvc",
        "orders",
        "--type=json",
        "-p",
        r#"[{"op": "remove", "path": "/spec/loadBalancers"}]"#,
    ]);
    eventually("the binding and orders-lb pruned", TIMEOUT, || {
        let gone = env.get(&["targetgroupbinding", "orders.orders"]).is_none()
            && env.get(&["service", "orders-lb"]).is_none();
        gone.then_some(()).ok_or("still there".to_owned())
    })
    .await;
    assert!(env.get(&["service", "orders"]).is_some(), "the alias stays");

    // Deleting the Service collects the rest.
    env.kubectl_ok(&["delete", "ecssvc", "orders", "--wait=true", "--timeout=60s"]);
    eventually("the alias's Service collected", TIMEOUT, || {
        env.get(&["service", "orders"])
            .map_or(Ok(()), |_| Err("still there".to_owned()))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_the_load_balancer_controller_the_service_says_so() {
    let env = Env::start("no-lbc").await;
    if env.backend.is_real() && env.kubectl(&["get", "crd", CRD]).status.success() {
        // (This cluster serves TargetGroupBindings: nothing to see here.)
        return;
    }
    env.kubectl_ok(&["apply", "-f", &Env::s(&Env::example("orders"))]);
    let degraded = condition(&env, "orders", "Degraded", "True").await;
    assert_eq!(s(&degraded, "/reason"), "DependentsNotApplied");
    assert!(
        s(&degraded, "/message").contains("install the AWS Load Balancer Controller"),
        "{degraded}"
    );
    // The tasks run, and the Services are made all the same; but the Service is not Ready (the
    // user must install the controller), and `kubectl get` says why.
    let ready = condition(&env, "orders", "Ready", "False").await;
    assert_eq!(s(&ready, "/reason"), "DependentsNotApplied");
    eventually("the tasks running", TIMEOUT, || {
        let svc = env.get(&["ecssvc", "orders"]).ok_or("absent")?;
        let running = svc.pointer("/status/runningCount").and_then(Value::as_i64);
        (running.is_some() && running == svc.pointer("/status/desiredCount").and_then(Value::as_i64))
            .then_some(())
            .ok_or(format!("{}", svc["status"]))
    })
    .await;
    let table = env.kubectl_ok(&["get", "ecssvc", "orders"]);
    assert!(
        table.contains("Degraded") && table.contains("DependentsNotApplied"),
        "{table}"
    );
    assert!(env.get(&["service", "orders-lb"]).is_some());
    assert!(env.get(&["service", "orders"]).is_some());
}

/// The operator's requests for TargetGroupBindings so far, on the test bed (`None` on a real
/// cluster): (watches, GETs of one binding).
fn binding_requests(env: &Env) -> Option<(usize, usize)> {
    let (server, _) = env.backend.double()?;
    let requests = server.api.faults.requests();
    let ours = requests
        .iter()
        .filter(|r| r.user_agent.starts_with("ecs-bridge") && r.path.contains("/targetgroupbindings"));
    let (mut watches, mut gets) = (0, 0);
    for r in ours {
        if r.method == "GET" && r.query.contains("watch=true") {
            watches += 1;
        } else if r.method == "GET" && !r.path.ends_with("/targetgroupbindings") {
            gets += 1;
        }
    }
    Some((watches, gets))
}

/// Makes the operator reconcile ecssvc/orders now (an annotation: no spec change).
fn nudge(env: &Env, value: &str) {
    env.kubectl_ok(&[
        "annotate",
        "--overwrite",
        "ecssvc",
        "orders",
        &format!("e2e/nudge={value}"),
    ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bindings_are_watched_while_their_kind_is_served() {
    let env = Env::start("tgb-watch").await;
    if env.backend.is_real() {
        // (Deleting a cluster's CRD would delete every binding in it.)
        return;
    }
    install_target_group_binding_crd(&env);
    env.kubectl_ok(&["apply", "-f", &Env::s(&Env::example("orders"))]);
    eventually("TargetGroupBinding orders.orders", TIMEOUT, || {
        env.get(&["targetgroupbinding", "orders.orders"])
            .ok_or("absent".into())
    })
    .await;
    condition(&env, "orders", "Degraded", "False").await;
    // Once the kind is served the bindings are watched: reconciles read no binding.
    let (watches, _) = eventually("a watch of TargetGroupBindings", TIMEOUT, || {
        binding_requests(&env)
            .filter(|(watches, _)| *watches > 0)
            .ok_or("no watch yet".to_owned())
    })
    .await;
    assert!(watches >= 1);
    let (_, gets_before) = binding_requests(&env).expect("the test bed");
    for i in 0..3 {
        nudge(&env, &i.to_string());
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let (_, gets_after) = binding_requests(&env).expect("the test bed");
    assert_eq!(gets_after, gets_before, "a watched binding is not read by GET");

    // The CRD goes (its bindings with it): the watch stops, and the Service says the kind is
    // not served.
    env.kubectl_ok(&["delete", "crd", CRD, "--wait=true", "--timeout=30s"]);
    nudge(&env, "gone");
    let degraded = condition(&env, "orders", "Degraded", "True").await;
    assert!(
        s(&degraded, "/message").contains("install the AWS Load Balancer Controller"),
        "{degraded}"
    );
    // It comes back: the binding is made again, and watched again.
    let (watches_gone, _) = binding_requests(&env).expect("the test bed");
    install_target_group_binding_crd(&env);
    nudge(&env, "back");
    eventually("TargetGroupBinding orders.orders again", TIMEOUT, || {
        env.get(&["targetgroupbinding", "orders.orders"])
            .ok_or("absent".into())
    })
    .await;
    condition(&env, "orders", "Degraded", "False").await;
    eventually("a new watch of TargetGroupBindings", TIMEOUT, || {
        binding_requests(&env)
            .filter(|(watches, _)| *watches > watches_gone)
            .ok_or("no new watch".to_owned())
    })
    .await;
}
