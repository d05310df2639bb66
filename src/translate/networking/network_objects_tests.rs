//! Tests of [`super::network_objects`]: load balancers, Cloud Map, Service Connect and names.

use proptest::prelude::*;
use serde_json::{Value, json};

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;

use super::{load_balancers::target_group_name, *};
use crate::translate::{Note, pod::pod_template};
use crate::{api::external::TargetType, translate::labels::selector_labels};

const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/73e2d6bc24d8a067";

fn tg(name: &str) -> String {
    format!("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{name}/0123456789abcdef")
}

/// A task definition in `mode` with container `app` mapping 8080 (`http`, appProtocol
/// http), 9090 (unnamed) and 5353/udp (`dns`).
fn td(mode: &str) -> RegisterTaskDefinition {
    serde_json::from_value(json!({
        "family": "web",
        "networkMode": mode,
        "containerDefinitions": [{
            "name": "app", "image": "nginx",
            "portMappings": [
                {"name": "http", "containerPort": 8080, "appProtocol": "http"},
                {"containerPort": 9090},
                {"name": "dns", "containerPort": 5353, "protocol": "udp"}
            ]
        }, {
            "name": "log_router", "image": "fluent-bit",
            "portMappings": [{"name": "Metrics_Port", "containerPort": 2020}]
        }]
    }))
    .expect("task definition")
}

fn translate(mode: &str, service: Value) -> Result<NetworkObjects, NetworkError> {
    translate_named("web", mode, service)
}

fn translate_named(name: &str, mode: &str, service: Value) -> Result<NetworkObjects, NetworkError> {
    let td = td(mode);
    let pod = pod_template("web", &td, 1).expect("pod template");
    let spec: ServiceSpec = serde_json::from_value(service).expect("service spec");
    network_objects(name, "shop", &spec, &td, &pod.template)
}

fn err_field(e: &NetworkError) -> &str {
    match e {
        NetworkError::Field { field, .. } => field,
        NetworkError::Name { .. } => "metadata.name",
    }
}

fn json(v: &impl Serialize) -> Value {
    serde_json::to_value(v).expect("json")
}

fn notes(n: &NetworkObjects) -> Vec<(NoteKind, &str)> {
    n.report
        .notes
        .iter()
        .map(|Note { kind, field, .. }| (*kind, field.as_str()))
        .collect()
}

#[test]
fn an_awsvpc_load_balancer_binds_pod_ips_through_a_cluster_ip_service() {
    let n = translate(
        "awsvpc",
        json!({"loadBalancers": [{"targetGroupArn": TG, "containerName": "app", "containerPort": 8080}]}),
    )
    .expect("translates");
    assert_eq!(n.services.len(), 1);
    assert_eq!(
        json(&n.services[0]),
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web-lb", "namespace": "shop", "labels": {
                "app.kubernetes.io/managed-by": "ecs-bridge", "ecsbridge.io/service": "web"}},
            "spec": {
                "type": "ClusterIP",
                "selector": {"ecsbridge.io/service": "web"},
                "ports": [{"name": "http", "port": 8080, "targetPort": 8080, "protocol": "TCP", "appProtocol": "http"}]
            }
        })
    );
    assert_eq!(
        json(&n.target_group_bindings),
        json!([{
            "apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding",
            "metadata": {"name": "web.web-tg", "namespace": "shop", "labels": {
                "app.kubernetes.io/managed-by": "ecs-bridge", "ecsbridge.io/service": "web"}},
            "spec": {"targetGroupARN": TG, "targetType": "ip", "serviceRef": {"name": "web-lb", "port": "http"}}
        }])
    );
    assert!(n.report.is_empty(), "{:?}", n.report);
    assert_eq!(
        n.services[0].spec.as_ref().and_then(|s| s.selector.clone()),
        Some(selector_labels("web")),
        "the Service selects the workload's pods"
    );
}

#[test]
fn bridge_and_host_load_balancers_register_nodes_on_a_node_port() {
    for mode in ["bridge", "host"] {
        let n = translate(
            mode,
            json!({"loadBalancers": [{"targetGroupArn": TG, "containerName": "app", "containerPort": 9090}]}),
        )
        .expect("translates");
        let spec = n.services[0].spec.as_ref().expect("spec");
        assert_eq!(spec.type_.as_deref(), Some("NodePort"), "{mode}");
        let ports = spec.ports.as_ref().expect("ports");
        assert_eq!(
            (ports[0].name.as_deref(), ports[0].port, ports[0].node_port),
            (Some("tcp-9090"), 9090, None),
            "{mode}: the node port is Kubernetes' to allocate"
        );
        let b = &n.target_group_bindings[0].spec;
        assert_eq!(b.target_type, Some(TargetType::Instance), "{mode}");
        assert_eq!(b.service_ref.port, IntOrString::String("tcp-9090".into()));
        assert_eq!(
            notes(&n),
            vec![(NoteKind::Approximated, "loadBalancers[0].targetGroupArn")]
        );
        assert!(
            n.report.notes[0].message.contains(&format!("networkMode {mode}")),
            "{:?}",
            n.report.notes
        );
    }
}

#[test]
fn target_groups_share_the_service_ports_they_have_in_common() {
    let n = translate(
        "awsvpc",
        json!({"loadBalancers": [
            {"targetGroupArn": tg("A-Public"), "containerName": "app", "containerPort": 8080},
            {"targetGroupArn": tg("internal"), "containerName": "app", "containerPort": 8080},
            {"targetGroupArn": tg("dns"), "containerName": "app", "containerPort": 5353},
            {"targetGroupArn": tg("metrics"), "containerName": "log_router", "containerPort": 2020}
        ]}),
    )
    .expect("translates");
    let ports: Vec<(String, i32, String)> = n.services[0]
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .expect("ports")
        .into_iter()
        .map(|p| (p.name.unwrap_or_default(), p.port, p.protocol.unwrap_or_default()))
        .collect();
    assert_eq!(
        ports,
        vec![
            ("http".into(), 8080, "TCP".into()),
            ("dns".into(), 5353, "UDP".into()),
            ("metrics-port".into(), 2020, "TCP".into()),
        ],
        "renamed ports keep their Kubernetes name"
    );
    let bindings: Vec<(Option<String>, IntOrString)> = n
        .target_group_bindings
        .iter()
        .map(|b| (b.metadata.name.clone(), b.spec.service_ref.port.clone()))
        .collect();
    assert_eq!(
        bindings,
        vec![
            (Some("web.a-public".into()), IntOrString::String("http".into())),
            (Some("web.internal".into()), IntOrString::String("http".into())),
            (Some("web.dns".into()), IntOrString::String("dns".into())),
            (
                Some("web.metrics".into()),
                IntOrString::String("metrics-port".into())
            ),
        ]
    );
}

#[test]
fn load_balancers_on_ports_the_task_definition_does_not_map_are_errors() {
    let cases = [
        (
            json!({"containerName": "app", "containerPort": 81}),
            "loadBalancers[0].containerPort",
            "maps no containerPort 81 (its containerPorts: 8080, 9090, 5353)",
        ),
        (
            json!({"containerName": "nginx", "containerPort": 8080}),
            "loadBalancers[0].containerName",
            "\"nginx\" is not a container of the task definition (its containers: \"app\", \"log_router\")",
        ),
        (
            json!({"containerPort": 8080}),
            "loadBalancers[0].containerName",
            "required",
        ),
        (
            json!({"containerName": "app"}),
            "loadBalancers[0].containerPort",
            "required",
        ),
    ];
    for (mut lb, field, reason) in cases {
        lb["targetGroupArn"] = json!(TG);
        let e = translate("awsvpc", json!({"loadBalancers": [lb]})).expect_err("refused");
        assert_eq!(err_field(&e), field, "{e}");
        assert!(e.to_string().contains(reason), "{e}");
    }
}

#[test]
fn target_groups_are_checked_as_ecs_checks_them() {
    let lb = |arn: &str| json!({"targetGroupArn": arn, "containerName": "app", "containerPort": 8080});
    let six: Vec<Value> = (0..6).map(|i| lb(&tg(&format!("tg-{i}")))).collect();
    let e = translate("awsvpc", json!({"loadBalancers": six})).expect_err("six");
    assert_eq!(err_field(&e), "loadBalancers[5].targetGroupArn");
    assert!(e.to_string().contains("at most 5 target groups"), "{e}");
    let five: Vec<Value> = (0..5).map(|i| lb(&tg(&format!("tg-{i}")))).collect();
    assert_eq!(
        translate("awsvpc", json!({"loadBalancers": five}))
            .expect("five")
            .target_group_bindings
            .len(),
        5
    );

    let e = translate("awsvpc", json!({"loadBalancers": [lb(TG), lb(TG)]})).expect_err("twice");
    assert_eq!(err_field(&e), "loadBalancers[1].targetGroupArn");
    assert!(e.to_string().contains("loadBalancers[0] attaches"), "{e}");

    let e = translate(
        "awsvpc",
        json!({"loadBalancers": [lb(&tg("Web")), lb(&tg("web"))]}),
    )
    .expect_err("one name in lower case");
    assert_eq!(err_field(&e), "loadBalancers[1].targetGroupArn");
    assert!(e.to_string().contains("\"web.web\""), "{e}");

    for arn in [
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188",
        "web-tg",
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/-bad/1",
    ] {
        let e = translate("awsvpc", json!({"loadBalancers": [lb(arn)]})).expect_err(arn);
        assert!(e.to_string().contains("is not a target group ARN"), "{e}");
    }
    let e = translate(
        "awsvpc",
        json!({"loadBalancers": [{"containerName": "app", "containerPort": 8080}]}),
    )
    .expect_err("no target group");
    assert_eq!(err_field(&e), "loadBalancers[0].targetGroupArn");
}

#[test]
fn classic_load_balancers_blue_green_and_the_role_are_reported() {
    let n = translate(
        "bridge",
        json!({
            "role": "ecsServiceRole",
            "loadBalancers": [
                {"loadBalancerName": "legacy-elb", "containerName": "app", "containerPort": 8080},
                {"targetGroupArn": TG, "containerName": "app", "containerPort": 8080,
                 "advancedConfiguration": {"alternateTargetGroupArn": tg("green")}}
            ]
        }),
    )
    .expect("translates");
    assert_eq!(
        notes(&n),
        vec![
            (NoteKind::Ignored, "loadBalancers[0].loadBalancerName"),
            (NoteKind::Ignored, "loadBalancers[1].advancedConfiguration"),
            (NoteKind::Approximated, "loadBalancers[1].targetGroupArn"),
            (NoteKind::Ignored, "role"),
        ]
    );
    assert_eq!(n.target_group_bindings.len(), 1);
    let only_classic = translate(
        "bridge",
        json!({"loadBalancers": [{"loadBalancerName": "legacy-elb", "containerName": "app", "containerPort": 8080}]}),
    )
    .expect("translates");
    assert!(only_classic.is_empty(), "nothing to bind: {only_classic:?}");
}

#[test]
fn a_service_name_that_cannot_name_a_kubernetes_service_is_an_error() {
    let lb =
        json!({"loadBalancers": [{"targetGroupArn": TG, "containerName": "app", "containerPort": 8080}]});
    for name in ["2048-game", "web.v2", &"w".repeat(61)] {
        let e = translate_named(name, "awsvpc", lb.clone()).expect_err(name);
        assert!(matches!(e, NetworkError::Name { .. }), "{e}");
        assert!(e.to_string().starts_with("metadata.name: "), "{e}");
    }
    assert!(translate_named(&"w".repeat(60), "awsvpc", lb).is_ok());
    // Without networking, any name is fine here.
    assert!(
        translate_named("2048-game", "awsvpc", json!({}))
            .expect("nothing")
            .is_empty()
    );
}

#[test]
fn a_cloud_map_registry_becomes_a_headless_service() {
    let n = translate(
        "bridge",
        json!({"serviceRegistries": [{"registryArn": "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-abc",
            "containerName": "app", "containerPort": 8080}]}),
    )
    .expect("translates");
    assert_eq!(
        json(&n.services[0])["spec"],
        json!({
            "clusterIP": "None",
            "selector": {"ecsbridge.io/service": "web"},
            "ports": [{"name": "http", "port": 8080, "targetPort": 8080, "protocol": "TCP", "appProtocol": "http"}]
        })
    );
    assert_eq!(n.services[0].metadata.name.as_deref(), Some("web-discovery"));
    assert_eq!(
        notes(&n),
        vec![(NoteKind::Approximated, "serviceRegistries[0].registryArn")]
    );
    assert!(
        n.report.notes[0].message.contains("DNS web-discovery.shop.svc"),
        "{:?}",
        n.report.notes
    );

    // awsvpc: `port` (SRV), or nothing (A records only).
    let n = translate("awsvpc", json!({"serviceRegistries": [{"port": 7000}]})).expect("port");
    let port = &n.services[0]
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .expect("ports")[0];
    assert_eq!(
        (port.name.as_deref(), port.port, port.target_port.clone()),
        (Some("tcp-7000"), 7000, Some(IntOrString::Int(7000)))
    );
    assert_eq!(
        notes(&n),
        vec![(NoteKind::Ignored, "serviceRegistries[0].registryArn")]
    );
    let n = translate("awsvpc", json!({"serviceRegistries": [{"registryArn": "arn:x"}]})).expect("A records");
    assert_eq!(n.services[0].spec.as_ref().and_then(|s| s.ports.clone()), None);
}

#[test]
fn cloud_map_registries_are_checked_as_ecs_checks_them() {
    let cases = [
        (
            "awsvpc",
            json!([{"port": 80, "containerName": "app", "containerPort": 8080}]),
            "serviceRegistries[0].port",
        ),
        (
            "bridge",
            json!([{"registryArn": "arn:x"}]),
            "serviceRegistries[0].containerName",
        ),
        (
            "awsvpc",
            json!([{"containerName": "app", "containerPort": 1}]),
            "serviceRegistries[0].containerPort",
        ),
        (
            "awsvpc",
            json!([{"containerPort": 8080}]),
            "serviceRegistries[0].containerName",
        ),
        ("awsvpc", json!([{}, {}]), "serviceRegistries[1]"),
        ("awsvpc", json!([{"port": 0}]), "serviceRegistries[0].port"),
    ];
    for (mode, registries, field) in cases {
        let e = translate(mode, json!({"serviceRegistries": registries})).expect_err(field);
        assert_eq!(err_field(&e), field, "{e}");
    }
}

#[test]
fn service_connect_services_are_named_as_clients_call_them() {
    let n = translate(
        "awsvpc",
        json!({"serviceConnectConfiguration": {
            "enabled": true,
            "namespace": "internal",
            "services": [
                {"portName": "http", "clientAliases": [{"port": 80, "dnsName": "Orders.internal"}]},
                {"portName": "dns", "discoveryName": "resolver"},
                {"portName": "Metrics_Port", "discoveryName": "metrics", "clientAliases": [{"port": 9100}],
                 "tls": {"issuerCertificateAuthority": {"awsPcaAuthorityArn": "arn:ca"}},
                 "timeout": {"idleTimeoutSeconds": 10}, "ingressPortOverride": 15000}
            ],
            "logConfiguration": {"logDriver": "awslogs"}
        }}),
    )
    .expect("translates");
    let services: Vec<Value> = n.services.iter().map(json).collect();
    let summary: Vec<(&str, &Value, &Value)> = services
        .iter()
        .map(|s| {
            (
                s["metadata"]["name"].as_str().unwrap_or_default(),
                &s["spec"]["type"],
                &s["spec"]["ports"][0],
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "orders",
                &json!("ClusterIP"),
                &json!({"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP", "appProtocol": "http"})
            ),
            (
                "resolver",
                &json!("ClusterIP"),
                &json!({"name": "dns", "port": 5353, "targetPort": "dns", "protocol": "UDP"})
            ),
            (
                "metrics",
                &json!("ClusterIP"),
                &json!({"name": "metrics-port", "port": 9100, "targetPort": "metrics-port", "protocol": "TCP"})
            ),
        ]
    );
    assert_eq!(
        notes(&n),
        vec![
            (NoteKind::Ignored, "serviceConnectConfiguration.logConfiguration"),
            (
                NoteKind::Approximated,
                "serviceConnectConfiguration.services[0].clientAliases[0].dnsName"
            ),
            (
                NoteKind::Ignored,
                "serviceConnectConfiguration.services[2].ingressPortOverride"
            ),
            (
                NoteKind::Ignored,
                "serviceConnectConfiguration.services[2].timeout"
            ),
            (NoteKind::Ignored, "serviceConnectConfiguration.services[2].tls"),
            (NoteKind::Approximated, "serviceConnectConfiguration.namespace"),
        ]
    );
}

#[test]
fn service_connect_is_checked_as_ecs_checks_it() {
    let sc =
        |services: Value| json!({"serviceConnectConfiguration": {"enabled": true, "services": services}});
    let cases = [
        (
            json!([{"portName": "https"}]),
            "serviceConnectConfiguration.services[0].portName",
            "names no port mapping",
        ),
        (
            json!([{"portName": "http", "clientAliases": [{"port": 80}, {"port": 81}]}]),
            "serviceConnectConfiguration.services[0].clientAliases",
            "at most 1 client alias",
        ),
        (
            json!([{"portName": "http", "clientAliases": [{"port": 80, "dnsName": "my_orders"}]}]),
            "serviceConnectConfiguration.services[0].clientAliases[0].dnsName",
            "cannot name a Kubernetes Service",
        ),
        (
            json!([{"portName": "http", "discoveryName": "1st"}]),
            "serviceConnectConfiguration.services[0].discoveryName",
            "cannot name a Kubernetes Service",
        ),
        (
            json!([{"portName": "http", "clientAliases": [{"port": 70000}]}]),
            "serviceConnectConfiguration.services[0].clientAliases[0].port",
            "out of range",
        ),
        (
            json!([
                {"portName": "http", "clientAliases": [{"port": 80, "dnsName": "api"}]},
                {"portName": "dns", "discoveryName": "API"}
            ]),
            "serviceConnectConfiguration.services[1].discoveryName",
            "which serviceConnectConfiguration.services[0].clientAliases[0].dnsName makes already",
        ),
    ];
    for (services, field, reason) in cases {
        let e = translate("awsvpc", sc(services)).expect_err(field);
        assert_eq!(err_field(&e), field, "{e}");
        assert!(e.to_string().contains(reason), "{e}");
    }
    // Disabled: nothing, and said.
    let n = translate(
        "awsvpc",
        json!({"serviceConnectConfiguration": {"enabled": false, "services": [{"portName": "nope"}]}}),
    )
    .expect("disabled");
    assert!(n.is_empty());
    assert_eq!(
        notes(&n),
        vec![(NoteKind::Ignored, "serviceConnectConfiguration.services")]
    );
}

#[test]
fn names_of_one_service_never_collide_silently() {
    let both = json!({
        "loadBalancers": [{"targetGroupArn": TG, "containerName": "app", "containerPort": 8080}],
        "serviceRegistries": [{"containerName": "app", "containerPort": 8080}],
        "serviceConnectConfiguration": {"enabled": true, "services": [
            {"portName": "http", "clientAliases": [{"port": 80, "dnsName": "web"}]}]}
    });
    let n = translate("awsvpc", both.clone()).expect("the usual names are distinct");
    let names: Vec<&str> = n
        .services
        .iter()
        .filter_map(|s| s.metadata.name.as_deref())
        .collect();
    assert_eq!(names, vec!["web-lb", "web-discovery", "web"]);
    for taken in ["web-lb", "web-discovery"] {
        let mut spec = both.clone();
        spec["serviceConnectConfiguration"]["services"][0]["clientAliases"][0]["dnsName"] = json!(taken);
        let e = translate("awsvpc", spec).expect_err(taken);
        let message = e.to_string();
        assert!(
            message.contains("serviceConnectConfiguration.services[0].clientAliases[0].dnsName"),
            "{message}"
        );
        assert!(
            message.starts_with("spec.loadBalancers: ") || message.starts_with("spec.serviceRegistries: "),
            "{message}"
        );
    }
}

#[test]
fn every_networking_field_is_handled_or_reported() {
    let spec: ServiceSpec = serde_json::from_value(json!({
        "taskDefinition": "web",
        "role": "r",
        "loadBalancers": [{"targetGroupArn": TG, "loadBalancerName": "x", "containerName": "app",
            "containerPort": 8080, "advancedConfiguration": {"alternateTargetGroupArn": "a",
            "productionListenerRule": "p", "testListenerRule": "t", "roleArn": "r"}}],
        "serviceRegistries": [{"registryArn": "arn:x", "containerName": "app", "containerPort": 8080}],
        "serviceConnectConfiguration": {"enabled": true, "namespace": "n",
            "services": [{"portName": "http", "discoveryName": "d", "ingressPortOverride": 1,
                "clientAliases": [{"port": 80, "dnsName": "x",
                    "testTrafficRules": {"header": {"name": "h", "value": {"exact": "v"}}}}],
                "timeout": {"idleTimeoutSeconds": 1, "perRequestTimeoutSeconds": 1},
                "tls": {"issuerCertificateAuthority": {"awsPcaAuthorityArn": "a"}, "kmsKey": "k", "roleArn": "r"}}],
            "logConfiguration": {"logDriver": "awslogs"},
            "accessLogConfiguration": {"format": "JSON", "includeQueryParameters": "ENABLED"},
            "containerConfigurations": [{"logLevel": "debug"}]}
    }))
    .expect("spec");
    let td = td("awsvpc");
    let pod = pod_template("web", &td, 1).expect("pod");
    let w = crate::translate::service::workload::workload(
        "web",
        "shop",
        &spec,
        &pod.template,
        &crate::translate::service::workload::WorkloadInput::default(),
        &crate::translate::Options::default(),
    )
    .expect("workload");
    assert!(w.report.is_empty(), "{:?}", w.report.notes);
    let n = network_objects("web", "shop", &spec, &td, &pod.template).expect("networking");
    for field in [
        "role",
        "loadBalancers[0].loadBalancerName",
        "loadBalancers[0].advancedConfiguration",
        "serviceRegistries[0].registryArn",
        "serviceConnectConfiguration.namespace",
        "serviceConnectConfiguration.services[0].clientAliases[0].testTrafficRules",
        "serviceConnectConfiguration.services[0].ingressPortOverride",
        "serviceConnectConfiguration.services[0].timeout",
        "serviceConnectConfiguration.services[0].tls",
        "serviceConnectConfiguration.logConfiguration",
        "serviceConnectConfiguration.accessLogConfiguration",
        "serviceConnectConfiguration.containerConfigurations",
    ] {
        assert!(
            n.report.notes.iter().any(|note| note.field == field),
            "{field} is not reported: {:?}",
            n.report.notes
        );
    }
}

#[test]
fn target_group_names_come_from_their_arns() {
    assert_eq!(target_group_name(TG), Some("web-tg"));
    assert_eq!(
        target_group_name("arn:aws-cn:elasticloadbalancing:cn-north-1:1:targetgroup/A1/x"),
        Some("A1")
    );
    for bad in [
        "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web",
        "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1/2",
        "arn:aws:ec2:us-east-1:1:targetgroup/web/1",
        &format!(
            "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/{}/1",
            "a".repeat(33)
        ),
        "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/a_b/1",
    ] {
        assert_eq!(target_group_name(bad), None, "{bad}");
    }
}

proptest! {
    /// Whatever Service Connect names are asked for, the objects of one service either have
    /// valid, distinct names, or the translation says which fields clash.
    #[test]
    fn service_names_are_valid_and_distinct(
        aliases in proptest::collection::vec(
            prop_oneof![Just("web"), Just("web-lb"), Just("web-discovery"), Just("Web"), Just("api"), Just("a.b"), Just("x_y")],
            1..3,
        ),
    ) {
        let port_names = ["http", "dns"];
        let services: Vec<Value> = aliases.iter().zip(port_names).map(|(a, p)| {
            json!({"portName": p, "clientAliases": [{"port": 80, "dnsName": a}]})
        }).collect();
        let spec = json!({
            "loadBalancers": [{"targetGroupArn": TG, "containerName": "app", "containerPort": 8080}],
            "serviceRegistries": [{"port": 8080}],
            "serviceConnectConfiguration": {"enabled": true, "services": services}
        });
        match translate("awsvpc", spec) {
            Ok(n) => {
                let names: Vec<String> = n.services.iter().filter_map(|s| s.metadata.name.clone()).collect();
                let distinct: BTreeSet<&String> = names.iter().collect();
                prop_assert_eq!(distinct.len(), names.len());
                for name in &names {
                    prop_assert!(is_dns1035_label(name), "{}", name);
                }
            }
            Err(e) => prop_assert!(matches!(e, NetworkError::Field { .. }), "{}", e),
        }
    }
}
