//! The chart's RBAC: no wildcards, and it grants every request the real operator makes. The
//! operator (`ecs-bridge run`, the chart's default settings) runs against the API server double
//! with the examples and a TaskDefinition that has every kind of dependent; each request it
//! sends is turned into the attributes Kubernetes' RBAC authorizer checks (verb, API group,
//! resource, subresource, namespace, name:
//! https://kubernetes.io/docs/reference/access-authn-authz/authorization/#determine-the-request-verb)
//! and must be allowed by the chart's ClusterRole or Role.

mod support;

use std::{
    collections::BTreeSet,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use ecs_bridge_testbed::{SimCluster, TestApiServer, faults::RequestRecord};
use serde_json::Value;
use support::helm::{EVERYTHING, assert_no_wildcards, chart, install, kind, kubectl, name};

#[tokio::test(flavor = "multi_thread")]
async fn chart_rbac_has_no_wildcards() {
    let server = TestApiServer::start().await;
    // Every rule the chart can render: the optional kinds' rules on, the scheduler's Roles too.
    let sets: Vec<&str> = EVERYTHING
        .iter()
        .copied()
        .filter(|s| !s.starts_with("serviceMonitor"))
        .chain([
            "externalSecrets.enabled=true",
            "loadBalancerController.enabled=true",
            "karpenter.enabled=true",
            "keda.enabled=true",
        ])
        .collect();
    let installed = install(&server, "ecs-bridge", "ecs-bridge-system", &sets);
    let rules = assert_no_wildcards(&installed.objects);
    // One rule per purpose, each with a comment in the template: no rule repeats another.
    let mut seen = BTreeSet::new();
    for rule in &rules {
        assert!(seen.insert(rule.to_string()), "duplicate rule {rule:#}");
        assert!(
            rule["verbs"].as_array().is_some_and(|v| !v.is_empty()),
            "{rule:#}"
        );
    }
    let template = std::fs::read_to_string(chart().join("templates").join("clusterrole.yaml"))
        .expect("read clusterrole.yaml");
    let uncommented = template
        .lines()
        .zip(template.lines().skip(1))
        .filter(|(above, line)| {
            line.trim_start().starts_with("- apiGroups:") && !above.trim_start().starts_with('#')
        })
        .map(|(_, line)| line.trim().to_owned())
        .collect::<Vec<_>>();
    assert!(
        uncommented.is_empty(),
        "rules without a comment above them: {uncommented:?}"
    );
}

/// What RBAC authorizes a request as.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Attributes {
    verb: String,
    group: String,
    /// `resource` or `resource/subresource`.
    resource: String,
    namespace: Option<String>,
    name: Option<String>,
}

/// The attributes of a resource request; None for non-resource paths (discovery, /version,
/// /openapi), which every authenticated user may read (the `system:discovery` ClusterRole).
fn attributes(r: &RequestRecord) -> Option<Attributes> {
    let segments: Vec<&str> = r.path.trim_matches('/').split('/').collect();
    let (group, rest) = match segments.as_slice() {
        ["api", _version, rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some((*ns).to_owned()), rest),
        _ => (None, rest),
    };
    let (resource, name) = match rest {
        [] => return None,
        [resource] => ((*resource).to_owned(), None),
        [resource, name] => ((*resource).to_owned(), Some((*name).to_owned())),
        [resource, name, sub] => (format!("{resource}/{sub}"), Some((*name).to_owned())),
        _ => panic!("unexpected path {}", r.path),
    };
    let watch = r.query.split('&').any(|p| p == "watch=true" || p == "watch=1");
    let verb = match (r.method.as_str(), name.is_some()) {
        ("GET", true) => "get",
        ("GET", false) if watch => "watch",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        (m, _) => panic!("unexpected method {m}"),
    };
    Some(Attributes {
        verb: verb.to_owned(),
        group: group.to_owned(),
        resource,
        namespace,
        name,
    })
}

/// Whether `rule` allows `a` (RBAC: every listed field matches; resourceNames, when present,
/// must name the object).
fn allows(rule: &Value, a: &Attributes) -> bool {
    let has = |field: &str, want: &str| rule[field].as_array().into_iter().flatten().any(|v| v == want);
    let names = rule["resourceNames"].as_array().filter(|n| !n.is_empty());
    has("verbs", &a.verb)
        && has("apiGroups", &a.group)
        && has("resources", &a.resource)
        && names.is_none_or(|n| a.name.as_deref().is_some_and(|name| n.iter().any(|v| v == name)))
}

/// A TaskDefinition with every kind of dependent (task role, EFS volume, AWS secret) and a
/// Service for it, besides the examples.
const DEPENDENTS: &str = r#"
apiVersion: ecsbridge.io/v1alpha1
kind: TaskDefinition
metadata:
  name: files
spec:
  family: files
  taskRoleArn: arn:aws:iam::123456789012:role/files
  volumes:
    - name: data
      efsVolumeConfiguration:
        fileSystemId: fs-0123456789abcdef0
  containerDefinitions:
    - name: app
      image: public.ecr.aws/nginx/nginx:1.27
      memory: MEMORY
      mountPoints:
        - sourceVolume: data
          containerPath: /data
      secrets:
        - name: TOKEN
          valueFrom: arn:aws:ssm:us-east-1:123456789012:parameter/token
"#;

/// A Service of the web example's task definition scaled on its tasks' memory and its ALB's
/// requests: where KEDA is served, through a ScaledObject. (Not of `files` below, whose old
/// revisions retention must be free to delete.)
const AUTOSCALED: &str = r#"
apiVersion: ecsbridge.io/v1alpha1
kind: Service
metadata:
  name: requests
spec:
  taskDefinition: web
  desiredCount: 1
  autoScaling:
    minCapacity: 1
    maxCapacity: 4
    targetTrackingScalingPolicies:
      - policyName: memory
        targetValue: 70
        predefinedMetricSpecification: {predefinedMetricType: ECSServiceAverageMemoryUtilization}
      - policyName: requests
        targetValue: 500
        predefinedMetricSpecification:
          predefinedMetricType: ALBRequestCountPerTarget
          resourceLabel: app/shop/50dc6c495c0c9188/targetgroup/files/73e2d6bc24d8a067
"#;

/// A Task whose image no kubelet can pull (a registry under `.invalid`).
const UNPULLABLE: &str = r#"apiVersion: ecsbridge.io/v1alpha1
kind: TaskDefinition
metadata:
  name: unpullable
spec:
  family: unpullable
  containerDefinitions:
    - name: app
      image: registry.invalid/nope:1
      memory: 64
---
apiVersion: ecsbridge.io/v1alpha1
kind: Task
metadata:
  name: unpullable
spec:
  taskDefinition: unpullable
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chart_rbac_grants_every_request_the_operator_makes() {
    let server = TestApiServer::start().await;
    let _cluster = SimCluster::start_with_two_zonal_nodes(&server.api);
    let installed = install(&server, "ecs-bridge", "ecs-bridge-system", &[]);
    let rules: Vec<(Option<String>, Value)> = installed
        .objects
        .iter()
        .filter(|o| kind(o) == "ClusterRole" || kind(o) == "Role")
        .flat_map(|role| {
            let scope = role["metadata"]["namespace"].as_str().map(str::to_owned);
            role["rules"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |rule| (scope.clone(), rule))
        })
        .collect();
    assert!(
        installed
            .objects
            .iter()
            .any(|o| kind(o) == "ClusterRole" && name(o) == "ecs-bridge")
    );

    // The AWS Load Balancer Controller's CRD (v1beta1 only: the double serves one version).
    let dir = server.kubeconfig().parent().expect("dir").to_owned();
    let text = std::fs::read_to_string(support::target_group_binding_crd()).expect("vendored CRD");
    let mut crd: Value = serde_yaml_ng::from_str(&text).expect("CRD YAML");
    if let Some(versions) = crd.pointer_mut("/spec/versions").and_then(Value::as_array_mut) {
        versions.retain(|v| v["name"] == "v1beta1");
    }
    for field in ["/metadata/creationTimestamp", "/status"] {
        if let Some((parent, key)) = field.rsplit_once('/') {
            let parent = if parent.is_empty() { "" } else { parent };
            if let Some(obj) = crd.pointer_mut(parent).and_then(Value::as_object_mut) {
                obj.remove(key);
            }
        }
    }
    let tgb = dir.join("tgb-crd.json");
    std::fs::write(&tgb, crd.to_string()).expect("write CRD");
    kubectl(
        &server,
        &["apply", "--server-side", "-f", tgb.to_str().expect("path")],
    );
    // External Secrets' CRD (the chart's default expects it): the operator reads and applies
    // ExternalSecrets.
    let es = support::external_secret_crd();
    kubectl(
        &server,
        &["apply", "--server-side", "-f", es.to_str().expect("path")],
    );

    // Karpenter's NodePool kind (the test bed's stand-in CRD): the operator reads and applies the
    // NodePool of the capacity example's Managed Instances provider.
    let node_pools = support::repo_root()
        .join("tests")
        .join("support")
        .join("karpenter")
        .join("nodepools.karpenter.sh.yaml");
    kubectl(
        &server,
        &["apply", "--server-side", "-f", node_pools.to_str().expect("path")],
    );

    // KEDA's ScaledObject kind (the test bed's stand-in CRD): the operator reads and applies the
    // ScaledObject of a Service scaled on its ALB's requests.
    let scaled_objects = support::repo_root()
        .join("tests")
        .join("support")
        .join("keda")
        .join("scaledobjects.keda.sh.yaml");
    kubectl(
        &server,
        &[
            "apply",
            "--server-side",
            "-f",
            scaled_objects.to_str().expect("path"),
        ],
    );

    let ns = dir.join("shop.yaml");
    std::fs::write(&ns, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n").expect("write");
    kubectl(&server, &["apply", "-f", ns.to_str().expect("path")]);

    // The operator as the chart runs it (every namespace), keeping no old revisions so that
    // retention deletes some, and stopped tasks' pods for a second only, so that their retention
    // deletes them.
    let log_path = dir.join("operator.log");
    let mut operator = Command::new(env!("CARGO_BIN_EXE_ecs-bridge"))
        .args([
            "run",
            "--log",
            "info,kube=warn",
            "--revision-history-limit",
            "0",
            "--task-retention",
            "1s",
        ])
        .env("KUBECONFIG", server.kubeconfig())
        // As the chart's downward API sets them: the Lease lives in the release namespace.
        .env("POD_NAME", "ecs-bridge-0")
        .env("POD_NAMESPACE", "ecs-bridge-system")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).expect("log file"))
        .spawn()
        .expect("start ecs-bridge run");

    let examples = support::repo_root().join("examples");
    for example in ["web", "orders", "batch", "capacity"] {
        let path = examples.join(example);
        kubectl(
            &server,
            &["apply", "-n", "shop", "-f", path.to_str().expect("path")],
        );
    }
    let autoscaled = dir.join("autoscaled.yaml");
    std::fs::write(&autoscaled, AUTOSCALED).expect("write");
    kubectl(
        &server,
        &["apply", "-n", "shop", "-f", autoscaled.to_str().expect("path")],
    );
    // A task whose image cannot be pulled: stopped in place (its pod patched), then, once
    // stopped past the retention, its pod deleted.
    let unpullable = dir.join("unpullable.yaml");
    std::fs::write(&unpullable, UNPULLABLE).expect("write");
    kubectl(
        &server,
        &["apply", "-n", "shop", "-f", unpullable.to_str().expect("path")],
    );
    let dependents = dir.join("dependents.yaml");
    for (revision, memory) in [("1", "128"), ("2", "256")] {
        std::fs::write(&dependents, DEPENDENTS.replace("MEMORY", memory)).expect("write");
        kubectl(
            &server,
            &["apply", "-n", "shop", "-f", dependents.to_str().expect("path")],
        );
        // Each spec registers a revision: wait for it before the next.
        wait_for(
            &server,
            &log_path,
            &format!("revision {revision} of files"),
            |_| {
                kubectl(
                    &server,
                    &[
                        "get",
                        "taskdefinition",
                        "files",
                        "-n",
                        "shop",
                        "-o",
                        "jsonpath={.status.revision}",
                    ],
                ) == revision
            },
        );
    }
    // The batch example's ScheduledTask: its CronJob applied, then fired (its token deleted,
    // the firing's Task created), then made a schedule only the operator can say (its CronJob
    // deleted).
    wait_for(&server, &log_path, "the CronJob", |requests| {
        operator_requests(requests)
            .iter()
            .any(|(a, _)| a.verb == "patch" && a.resource == "cronjobs")
    });
    _cluster
        .trigger_cronjob("shop", "weekday-report")
        .expect("the CronJob fires");
    wait_for(&server, &log_path, "the firing's Task", |requests| {
        operator_requests(requests)
            .iter()
            .any(|(a, _)| a.verb == "create" && a.resource == "tasks")
    });
    kubectl(
        &server,
        &[
            "patch",
            "-n",
            "shop",
            "scheduledtask",
            "weekday-report",
            "--type=merge",
            "-p",
            r#"{"spec":{"ScheduleExpression":"cron(0 6 L * ? *)"}}"#,
        ],
    );
    // Until the operator has done the work whose requests this test checks.
    wait_for(&server, &log_path, "the operator's work", |requests| {
        let ops: Vec<Attributes> = operator_requests(requests).into_iter().map(|(a, _)| a).collect();
        let did = |verb: &str, resource: &str| ops.iter().any(|a| a.verb == verb && a.resource == resource);
        did("patch", "services/status")
            && did("patch", "taskdefinitions/status")
            && did("patch", "targetgroupbindings")
            && did("patch", "serviceaccounts")
            && did("patch", "persistentvolumes")
            && did("watch", "externalsecrets")
            && did("watch", "targetgroupbindings")
            && did("patch", "externalsecrets")
            && did("delete", "controllerrevisions")
            && did("create", "events")
            && did("create", "leases")
            && did("update", "leases")
            && did("get", "customresourcedefinitions")
            && did("patch", "capacityproviders")
            && did("patch", "capacityproviders/status")
            && did("watch", "nodepools")
            && did("patch", "nodepools")
            && did("patch", "horizontalpodautoscalers")
            && did("watch", "scaledobjects")
            && did("patch", "scaledobjects")
            && did("create", "pods")
            && did("patch", "pods")
            && did("delete", "pods")
            && did("get", "namespaces")
            && did("patch", "tasks/status")
            && did("patch", "cronjobs")
            && did("delete", "jobs")
            && did("create", "tasks")
            && did("delete", "cronjobs")
            && did("patch", "scheduledtasks/status")
    });
    let _ = operator.kill();
    let _ = operator.wait();

    let requests = operator_requests(&server.api.faults.requests());
    let mut denied = BTreeSet::new();
    for (a, line) in &requests {
        let allowed = rules.iter().any(|(scope, rule)| {
            scope.as_ref().is_none_or(|ns| a.namespace.as_ref() == Some(ns)) && allows(rule, a)
        });
        if !allowed {
            denied.insert(format!("{a:?} ({line})"));
        }
    }
    assert!(
        denied.is_empty(),
        "the chart's RBAC does not allow these requests of the operator:\n{}",
        denied.into_iter().collect::<Vec<_>>().join("\n")
    );
    let seen: BTreeSet<(String, String, String)> = requests
        .iter()
        .map(|(a, _)| (a.verb.clone(), a.group.clone(), a.resource.clone()))
        .collect();
    eprintln!("operator requests (verb, group, resource): {seen:#?}");
}

/// The operator's resource requests, with the request line for messages.
fn operator_requests(requests: &[RequestRecord]) -> Vec<(Attributes, String)> {
    requests
        .iter()
        .filter(|r| r.user_agent.starts_with("ecs-bridge/"))
        .filter_map(|r| {
            attributes(r).map(|a| (a, format!("{} {}?{} -> {}", r.method, r.path, r.query, r.status)))
        })
        .collect()
}

/// Waits (60 s at most) until `done` holds for the requests so far; panics with the operator's
/// log otherwise.
fn wait_for(
    server: &TestApiServer,
    log: &std::path::Path,
    what: &str,
    done: impl Fn(&[RequestRecord]) -> bool,
) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if done(&server.api.faults.requests()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let seen: BTreeSet<String> = operator_requests(&server.api.faults.requests())
        .into_iter()
        .map(|(a, _)| format!("{} {}/{}", a.verb, a.group, a.resource))
        .collect();
    panic!(
        "timed out waiting for {what}; operator requests so far: {seen:#?}\n--- operator log ---\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}
