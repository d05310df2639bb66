//! Auto scaling in a reconcile: the Service runs its count inside the range, owns an HPA on its
//! scale subresource and records its scalable target; at rest nothing is written; without
//! `autoScaling` the HPA goes; what AAS would refuse is the status's only write.

use super::*;

const HPAS: &str = "/apis/autoscaling/v2/namespaces/team-a/horizontalpodautoscalers";

/// Service `web` (desiredCount 1) scaled 2 to 6 tasks on 50% CPU, 1 to 3 from 22:00 UTC.
fn autoscaled() -> Service {
    let mut svc = testing::service("team-a", "web", 1, "web");
    svc.spec.service.desired_count = Some(1);
    svc.spec.auto_scaling = Some(
        serde_json::from_value(json!({
            "minCapacity": 2, "maxCapacity": 6,
            "targetTrackingScalingPolicies": [{"policyName": "cpu", "targetValue": 50,
                "predefinedMetricSpecification": {"predefinedMetricType": "ECSServiceAverageCPUUtilization"}}],
            "scheduledActions": [{"scheduledActionName": "nightly", "schedule": "cron(0 22 * * ? *)",
                "scalableTargetAction": {"minCapacity": 1, "maxCapacity": 3}}]
        }))
        .expect("auto scaling"),
    );
    svc
}

/// `web` reserving 512 CPU units (half a vCPU) for the task.
fn reserving_td() -> TaskDefinition {
    let mut td = web_td();
    td.spec.task_definition.cpu = serde_json::from_value(json!("512")).expect("cpu");
    td
}

/// Gives `ctx` caches that hold [`reserving_td`] only.
fn with_reserving_td(ctx: &Context) {
    with_caches(
        ctx,
        Caches {
            task_definitions: vec![reserving_td()],
            ..Caches::default()
        },
    );
}

/// The Deployment status of two ready tasks.
fn two_ready() -> Value {
    json!({"observedGeneration": 1, "replicas": 2, "readyReplicas": 2, "updatedReplicas": 2, "availableReplicas": 2})
}

#[tokio::test]
async fn an_autoscaled_service_runs_its_range_and_owns_an_hpa_on_its_scale_subresource() {
    let (ctx, mut server) = testing::context();
    with_reserving_td(&ctx);
    let svc = autoscaled();
    let status_svc = svc.clone();
    let verifier = tokio::spawn(async move {
        let deployment = expect_workload_apply(&mut server, &format!("{DEPLOYMENTS}/web"), two_ready()).await;
        let hpa = expect_echoed_apply(&mut server, &format!("{HPAS}/web")).await;
        let status = expect_status_apply(&mut server, &status_svc).await;
        expect_steady_state_event(&mut server).await;
        (server, deployment, hpa, status)
    });
    run_reconcile(svc.clone(), Arc::clone(&ctx))
        .await
        .expect("reconcile succeeds");
    let (server, deployment, hpa, status) = verifier.await.expect("verifier passes");

    // desiredCount 1 is below the min: the Service runs 2, as AAS scales it out to the min.
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(
        hpa["metadata"]["ownerReferences"],
        json!([{"apiVersion": "ecsbridge.io/v1alpha1", "kind": "Service", "name": "web",
            "uid": "uid-team-a-web", "controller": true, "blockOwnerDeletion": true}])
    );
    assert_eq!(
        hpa["spec"]["scaleTargetRef"],
        json!({"apiVersion": "ecsbridge.io/v1alpha1", "kind": "Service", "name": "web"})
    );
    assert_eq!(
        (&hpa["spec"]["minReplicas"], &hpa["spec"]["maxReplicas"]),
        (&json!(2), &json!(6))
    );
    // 50% of half a vCPU: 250m a task on average.
    assert_eq!(
        hpa["spec"]["metrics"][0]["resource"]["target"]["averageValue"],
        "250m"
    );
    let status = &status["status"];
    assert_eq!(status["desiredCount"], 2);
    let target = &status["autoScaling"]["scalableTarget"];
    assert_eq!(
        (&target["minCapacity"], &target["maxCapacity"]),
        (&json!(2), &json!(6))
    );
    assert_eq!(status["autoScaling"]["horizontalPodAutoscaler"], "web");
    assert_eq!(status["autoScaling"]["scalingPolicies"][0]["state"], "Active");
    let next: k8s_openapi::jiff::Timestamp = status["autoScaling"]["scheduledActions"][0]["nextRun"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("a next run");
    let in_zone = next.to_zoned(k8s_openapi::jiff::tz::TimeZone::UTC);
    assert_eq!((in_zone.hour(), in_zone.minute()), (22, 0), "{next}");
    assert_eq!(condition(status, "Translated")["status"], "True", "{status}");

    // Resync with the HPA and the Deployment cached as stored and the status recorded: nothing
    // to write, nothing to ask.
    let stored = |mut obj: Value| {
        obj["metadata"]["uid"] = json!(format!("uid-{}", obj["metadata"]["name"].as_str().unwrap_or("")));
        obj["metadata"]["generation"] = json!(1);
        obj
    };
    let mut live_deployment = stored(deployment);
    live_deployment["status"] = two_ready();
    with_caches(
        &ctx,
        Caches {
            deployments: vec![live_deployment],
            hpas: vec![stored(hpa)],
            task_definitions: vec![reserving_td()],
            ..Caches::default()
        },
    );
    let mut at_rest = svc;
    at_rest.status = Some(serde_json::from_value(status.clone()).expect("a status"));
    let verifier = tokio::spawn(async move { assert_no_more_requests(server).await });
    run_reconcile(at_rest.clone(), Arc::clone(&ctx))
        .await
        .expect("reconcile succeeds");
    verifier.await.expect("verifier passes");
}

#[tokio::test]
async fn without_auto_scaling_the_hpa_goes() {
    let (ctx, mut server) = testing::context();
    let mut svc = autoscaled();
    svc.spec.auto_scaling = None;
    svc.spec.service.desired_count = Some(2);
    with_caches(
        &ctx,
        Caches {
            hpas: vec![child(
                "autoscaling/v2",
                "HorizontalPodAutoscaler",
                "web",
                "uid-team-a-web",
            )],
            task_definitions: vec![reserving_td()],
            ..Caches::default()
        },
    );
    let status_svc = svc.clone();
    let verifier = tokio::spawn(async move {
        expect_workload_apply(&mut server, &format!("{DEPLOYMENTS}/web"), two_ready()).await;
        expect_delete(&mut server, &format!("{HPAS}/web"), "uid-web").await;
        let status = expect_status_apply(&mut server, &status_svc).await;
        expect_steady_state_event(&mut server).await;
        assert_no_more_requests(server).await;
        status
    });
    run_reconcile(svc, ctx).await.expect("reconcile succeeds");
    let status = verifier.await.expect("verifier passes");
    assert!(status["status"].get("autoScaling").is_none(), "{status}");
}

#[tokio::test]
async fn auto_scaling_aas_would_refuse_writes_only_the_status() {
    let (ctx, mut server) = testing::context();
    let mut svc = autoscaled();
    if let Some(a) = svc.spec.auto_scaling.as_mut() {
        a.scheduled_actions.get_or_insert_default()[0].schedule = "cron(0 22 * * * *)".into();
    }
    with_reserving_td(&ctx);
    let status_svc = svc.clone();
    let verifier = tokio::spawn(async move {
        let status = expect_status_apply(&mut server, &status_svc).await;
        expect_warning(&mut server, "InvalidAutoScaling").await;
        assert_no_more_requests(server).await;
        status
    });
    assert_eq!(
        run_reconcile(svc, ctx).await.expect("reconcile succeeds"),
        Action::await_change()
    );
    let status = verifier.await.expect("verifier passes");
    let ready = condition(&status["status"], "Ready");
    assert_eq!(ready["reason"], "InvalidAutoScaling");
    assert_eq!(
        ready["message"],
        "spec.autoScaling.scheduledActions[0].schedule: at character 15: Day-of-week: Day-of-month and \
         Day-of-week cannot both be given: make one of them ? (cron(0 10 * * ? *))"
    );
}

#[tokio::test]
async fn the_hpas_rescale_becomes_a_scaling_activity() {
    let (ctx, mut server) = testing::context();
    let mut svc = autoscaled();
    svc.spec.service.desired_count = Some(4);
    let mut hpa = child(
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        "web",
        "uid-team-a-web",
    );
    hpa["spec"] = json!({"scaleTargetRef": {"apiVersion": "ecsbridge.io/v1alpha1", "kind": "Service", "name": "web"},
        "maxReplicas": 6, "metrics": [{"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "AverageValue", "averageValue": "250m"}}}]});
    hpa["status"] = json!({"desiredReplicas": 4, "currentReplicas": 2, "lastScaleTime": "2026-12-07T08:00:00Z",
        "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageValue": "500m"}}}]});
    with_caches(
        &ctx,
        Caches {
            hpas: vec![hpa],
            task_definitions: vec![reserving_td()],
            ..Caches::default()
        },
    );
    let status_svc = svc.clone();
    let verifier = tokio::spawn(async move {
        expect_workload_apply(&mut server, &format!("{DEPLOYMENTS}/web"), two_ready()).await;
        expect_echoed_apply(&mut server, &format!("{HPAS}/web")).await;
        expect_status_apply(&mut server, &status_svc).await
    });
    run_reconcile(svc, ctx).await.expect("reconcile succeeds");
    let status = verifier.await.expect("verifier passes");
    let activities = &status["status"]["autoScaling"]["scalingActivities"];
    assert_eq!(
        activities[0]["description"], "Setting desired count to 4.",
        "{status}"
    );
}

/// `web` scaled on CPU and on its ALB target group's requests.
fn on_requests() -> Service {
    let mut svc = autoscaled();
    svc.spec.service.desired_count = Some(2);
    if let Some(a) = svc.spec.auto_scaling.as_mut() {
        a.scheduled_actions = None;
        a.target_tracking_scaling_policies.get_or_insert_default().push(
            serde_json::from_value(json!({"policyName": "requests", "targetValue": 500,
                "predefinedMetricSpecification": {"predefinedMetricType": "ALBRequestCountPerTarget",
                    "resourceLabel": "app/shop/50dc6c495c0c9188/targetgroup/web/73e2d6bc24d8a067"}}))
            .expect("a policy"),
        );
    }
    svc
}

const SCALED_OBJECTS: &str = "/apis/keda.sh/v1alpha1/namespaces/team-a/scaledobjects";

#[tokio::test]
async fn where_keda_is_served_cloudwatch_policies_scale_through_a_scaled_object() {
    let (ctx, mut server) = testing::context();
    with_caches(
        &ctx,
        Caches {
            // The operator's own HPA of before KEDA came: it goes, KEDA makes its own.
            hpas: vec![child(
                "autoscaling/v2",
                "HorizontalPodAutoscaler",
                "web",
                "uid-team-a-web",
            )],
            task_definitions: vec![reserving_td()],
            ..Caches::default()
        },
    );
    let svc = on_requests();
    let status_svc = svc.clone();
    let verifier = tokio::spawn(async move {
        testing::expect_discovery(&mut server, "keda.sh/v1alpha1", "scaledobjects", "ScaledObject").await;
        expect_workload_apply(&mut server, &format!("{DEPLOYMENTS}/web"), two_ready()).await;
        expect_delete(&mut server, &format!("{HPAS}/web"), "uid-web").await;
        // Not watched (the kind may go): read, then applied.
        let (request, reply) = next(&mut server).await;
        assert_eq!(
            (request.method(), request.uri().path()),
            (&Method::GET, format!("{SCALED_OBJECTS}/web").as_str())
        );
        reply.send_response(testing::json_response(
            StatusCode::NOT_FOUND,
            &json!({"apiVersion": "v1", "kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404,
                "message": "scaledobjects.keda.sh \"web\" not found"}),
        ));
        let so = expect_echoed_apply(&mut server, &format!("{SCALED_OBJECTS}/web")).await;
        let status = expect_status_apply(&mut server, &status_svc).await;
        expect_steady_state_event(&mut server).await;
        assert_no_more_requests(server).await;
        (so, status)
    });
    run_reconcile(svc, ctx).await.expect("reconcile succeeds");
    let (so, status) = verifier.await.expect("verifier passes");
    assert_eq!(so["metadata"]["ownerReferences"][0]["uid"], "uid-team-a-web");
    assert_eq!(so["spec"]["scaleTargetRef"]["kind"], "Service");
    let auto_scaling = &status["status"]["autoScaling"];
    assert_eq!(auto_scaling["scaledObject"], "web");
    assert_eq!(auto_scaling["horizontalPodAutoscaler"], "keda-hpa-web");
    // (No --aws-region in this test: the ALB policy says what it needs; the CPU trigger scales.)
    assert_eq!(
        auto_scaling["scalingPolicies"][1]["state"], "NotTranslated",
        "{auto_scaling}"
    );
}

#[tokio::test]
async fn without_keda_the_service_is_degraded_naming_what_to_install_and_keeps_scaling_on_cpu() {
    let (ctx, mut server) = testing::context();
    with_reserving_td(&ctx);
    let svc = on_requests();
    let status_svc = svc.clone();
    let verifier = tokio::spawn(async move {
        expect_unserved(&mut server, "/apis/keda.sh/v1alpha1").await;
        expect_unserved(&mut server, "/apis/external.metrics.k8s.io/v1beta1").await;
        expect_workload_apply(&mut server, &format!("{DEPLOYMENTS}/web"), two_ready()).await;
        let hpa = expect_echoed_apply(&mut server, &format!("{HPAS}/web")).await;
        let status = expect_status_apply(&mut server, &status_svc).await;
        (hpa, status)
    });
    run_reconcile(svc, ctx).await.expect("reconcile succeeds");
    let (hpa, status) = verifier.await.expect("verifier passes");
    assert_eq!(
        hpa["spec"]["metrics"].as_array().map(Vec::len),
        Some(1),
        "CPU only"
    );
    let degraded = condition(&status["status"], "Degraded");
    assert_eq!(degraded["reason"], "MetricsNotServed");
    assert!(
        degraded["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("policies requests read CloudWatch metrics: install KEDA")),
        "{degraded}"
    );
}

#[tokio::test]
async fn where_an_adapter_serves_the_external_metric_the_hpa_reads_it() {
    let (ctx, mut server) = testing::context();
    with_reserving_td(&ctx);
    let svc = on_requests();
    let status_svc = svc.clone();
    let verifier = tokio::spawn(async move {
        expect_unserved(&mut server, "/apis/keda.sh/v1alpha1").await;
        // prometheus-adapter lists the external metrics its rules serve.
        testing::expect_discovery(
            &mut server,
            "external.metrics.k8s.io/v1beta1",
            "ecsbridge_cloudwatch",
            "ExternalMetricValueList",
        )
        .await;
        expect_workload_apply(&mut server, &format!("{DEPLOYMENTS}/web"), two_ready()).await;
        let hpa = expect_echoed_apply(&mut server, &format!("{HPAS}/web")).await;
        let status = expect_status_apply(&mut server, &status_svc).await;
        (hpa, status)
    });
    run_reconcile(svc, ctx).await.expect("reconcile succeeds");
    let (hpa, status) = verifier.await.expect("verifier passes");
    let metrics = hpa["spec"]["metrics"].as_array().cloned().unwrap_or_default();
    let kinds: Vec<&str> = metrics.iter().filter_map(|m| m["type"].as_str()).collect();
    assert_eq!(kinds, ["Resource", "External"]);
    assert_eq!(metrics[1]["external"]["metric"]["name"], "ecsbridge_cloudwatch");
    assert_eq!(
        condition(&status["status"], "Degraded")["status"],
        "False",
        "{status}"
    );
}
