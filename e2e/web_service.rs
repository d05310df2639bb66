//! The README's web example end to end: apply the TaskDefinition and Service, see the
//! Deployment with the right pod template, owner reference and labels; edit the Service and see
//! it change; scale it through the scale subresource; delete it and see everything collected.

use std::time::Duration;

use serde_json::Value;

use ecs_bridge_testbed::PodOutcome;

use crate::support::{Env, eventually};

const TIMEOUT: Duration = Duration::from_secs(60);

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn web_example_runs_changes_scales_and_is_collected() {
    let env = Env::start("web").await;
    env.kubectl_ok(&["apply", "-f", &Env::s(&Env::example("web"))]);
    // The operator's log goes to a file: plain text, no terminal colour codes.
    eventually("the operator logging", TIMEOUT, || {
        let log = env.operator_log();
        (!log.is_empty()).then_some(log).ok_or("no log yet".to_owned())
    })
    .await;

    // The Deployment appears, owned by the Service, with the task definition's containers.
    let deployment = eventually("the web Deployment", TIMEOUT, || {
        env.get(&["deployment", "web"]).ok_or("absent".into())
    })
    .await;
    let svc = env.get(&["ecssvc", "web"]).expect("the Service exists");
    let owner = &deployment["metadata"]["ownerReferences"][0];
    assert_eq!(
        (s(owner, "/kind"), s(owner, "/name")),
        ("Service", "web"),
        "{deployment}"
    );
    assert_eq!(s(owner, "/uid"), s(&svc, "/metadata/uid"));
    assert_eq!(owner["controller"], true);
    assert_eq!(
        s(&deployment, "/metadata/labels/app.kubernetes.io~1managed-by"),
        "ecs-bridge"
    );
    assert_eq!(deployment.pointer("/spec/replicas"), Some(&Value::from(3)));
    let template = &deployment["spec"]["template"];
    for (label, value) in [
        ("ecsbridge.io~1service", "web"),
        ("ecsbridge.io~1task-definition", "web"),
        ("ecsbridge.io~1group", "service.web"),
    ] {
        assert_eq!(
            s(template, &format!("/metadata/labels/{label}")),
            value,
            "{template}"
        );
    }
    let container = &template["spec"]["containers"][0];
    assert_eq!(s(container, "/image"), "public.ecr.aws/nginx/nginx:1.27");
    assert_eq!(s(container, "/resources/requests/cpu"), "250m");
    assert_eq!(s(container, "/resources/limits/memory"), "512Mi");
    assert_eq!(container["ports"][0]["containerPort"], 80);

    // The Service reports its tasks running, in ECS words, and is Ready.
    env.kubectl_ok(&["wait", "--for=condition=Ready", "ecssvc/web", "--timeout=60s"]);
    let svc = env.get(&["ecssvc", "web"]).expect("service");
    assert_eq!(
        svc.pointer("/status/runningCount"),
        Some(&Value::from(3)),
        "{svc}"
    );
    assert_eq!(s(&svc, "/status/taskDefinition"), "web:1");

    // Editing the Service changes the Deployment.
    env.kubectl_ok(&[
        "patch",
        "ecssvc",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"desiredCount":5}}"#,
    ]);
    eventually("5 replicas after the edit", TIMEOUT, || {
        let d = env.get(&["deployment", "web"]).ok_or("absent")?;
        (d.pointer("/spec/replicas") == Some(&Value::from(5)))
            .then_some(())
            .ok_or(format!("{}", d["spec"]["replicas"]))
    })
    .await;

    // Editing the task definition rolls the new image out: a new ECS deployment. On the double,
    // the new tasks are held not ready for a while, so the rollout shows both deployments.
    let double = env.backend.double().map(|(_, cluster)| cluster);
    if let Some(cluster) = double {
        cluster.kubelet(PodOutcome::Running { ready: false });
    }
    let td = std::fs::read_to_string(Env::example("web/taskdefinition.yaml")).expect("example");
    let changed = env.file("td.yaml", &td.replace("nginx/nginx:1.27", "nginx/nginx:1.28"));
    env.kubectl_ok(&["apply", "-f", &Env::s(&changed)]);
    eventually("the new image in the Deployment", TIMEOUT, || {
        let d = env.get(&["deployment", "web"]).ok_or("absent")?;
        let image = s(&d, "/spec/template/spec/containers/0/image").to_owned();
        (image == "public.ecr.aws/nginx/nginx:1.28")
            .then_some(())
            .ok_or(image)
    })
    .await;
    let state = |svc: &Value| -> Vec<(String, String, String)> {
        svc.pointer("/status/deployments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|d| {
                (
                    s(d, "/status").to_owned(),
                    s(d, "/taskDefinition").to_owned(),
                    s(d, "/rolloutState").to_owned(),
                )
            })
            .collect()
    };
    if let Some(cluster) = double {
        eventually(
            "PRIMARY web:2 rolling out while ACTIVE web:1 still runs",
            TIMEOUT,
            || {
                let svc = env.get(&["ecssvc", "web"]).ok_or("absent")?;
                let st = state(&svc);
                let want = |status: &str, td: &str, rollout: &str| {
                    st.contains(&(status.to_owned(), td.to_owned(), rollout.to_owned()))
                };
                (want("PRIMARY", "web:2", "IN_PROGRESS") && want("ACTIVE", "web:1", "COMPLETED"))
                    .then_some(())
                    .ok_or(format!("{st:?}"))
            },
        )
        .await;
        // The new tasks become ready.
        cluster.kubelet(PodOutcome::Running { ready: true });
        let pods = env
            .get(&["pods", "-l", "ecsbridge.io/service=web,ecsbridge.io/revision=2"])
            .expect("pods");
        for pod in pods["items"].as_array().into_iter().flatten() {
            cluster
                .set_pod(
                    &env.namespace,
                    s(pod, "/metadata/name"),
                    PodOutcome::Running { ready: true },
                )
                .expect("pod ready");
        }
    }
    let svc = eventually("web:2 completed, the only deployment left", TIMEOUT, || {
        let svc = env.get(&["ecssvc", "web"]).ok_or("absent")?;
        let st = state(&svc);
        (st == [("PRIMARY".to_owned(), "web:2".to_owned(), "COMPLETED".to_owned())])
            .then_some(svc)
            .ok_or(format!("{st:?}"))
    })
    .await;
    let id = s(&svc, "/status/deployments/0/id").to_owned();
    let events: Vec<&str> = svc
        .pointer("/status/events")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(
        events.contains(&format!("(service web) (deployment {id}) deployment completed.").as_str()),
        "{events:#?}"
    );

    // `kubectl scale` goes through the Service's scale subresource to desiredCount.
    env.kubectl_ok(&["scale", "ecssvc/web", "--replicas=2"]);
    let svc = env.get(&["ecssvc", "web"]).expect("service");
    assert_eq!(svc.pointer("/spec/desiredCount"), Some(&Value::from(2)));
    eventually("2 replicas after kubectl scale", TIMEOUT, || {
        let d = env.get(&["deployment", "web"]).ok_or("absent")?;
        (d.pointer("/spec/replicas") == Some(&Value::from(2)))
            .then_some(())
            .ok_or(format!("{}", d["spec"]["replicas"]))
    })
    .await;

    // Deleting the Service collects the Deployment (and its ReplicaSets and pods).
    env.kubectl_ok(&["delete", "ecssvc", "web", "--wait=true", "--timeout=60s"]);
    eventually("the Deployment to be garbage-collected", TIMEOUT, || {
        match env.get(&["deployment", "web"]) {
            None => Ok(()),
            Some(_) => Err("still there".into()),
        }
    })
    .await;
    eventually("the pods to be garbage-collected", TIMEOUT, || {
        let pods = env
            .get(&["pods", "-l", "ecsbridge.io/service=web"])
            .ok_or("list failed")?;
        let n = pods["items"].as_array().map_or(0, Vec::len);
        (n == 0).then_some(()).ok_or(format!("{n} pods left"))
    })
    .await;
    let log = env.operator_log();
    assert!(log.contains("INFO"), "{log}");
    assert!(!log.contains('\u{1b}'), "colour codes in a log file: {log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn applying_the_examples_twice_changes_nothing() {
    let env = Env::start("idempotent").await;
    env.kubectl_ok(&["apply", "-f", &Env::s(&Env::example("web"))]);
    env.kubectl_ok(&["wait", "--for=condition=Ready", "ecssvc/web", "--timeout=60s"]);
    let before = env.get(&["ecssvc", "web"]).expect("service");
    let out = env.kubectl_ok(&["apply", "-f", &Env::s(&Env::example("web"))]);
    assert!(out.contains("service.ecsbridge.io/web unchanged"), "{out}");
    assert!(out.contains("taskdefinition.ecsbridge.io/web unchanged"), "{out}");
    let after = env.get(&["ecssvc", "web"]).expect("service");
    assert_eq!(
        before["spec"], after["spec"],
        "the operator never writes to a spec"
    );
    assert_eq!(
        before.pointer("/metadata/generation"),
        after.pointer("/metadata/generation")
    );
}
