//! The real `kubectl` against the double: apply, get, patch, delete, wait.

use std::process::{Command, Output};

use ecs_bridge_testbed::TestApiServer;

fn kubectl(server: &TestApiServer, args: &[&str], stdin: Option<&str>) -> Output {
    let cache = server.kubeconfig().parent().expect("dir").join("kubecache");
    let mut cmd = Command::new(std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into()));
    cmd.args(args)
        .env("KUBECONFIG", server.kubeconfig())
        .env("KUBECACHEDIR", cache);
    if let Some(input) = stdin {
        use std::io::Write;
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("kubectl on PATH");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        return child.wait_with_output().expect("kubectl output");
    }
    cmd.output().expect("kubectl on PATH")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "kubectl failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const DEPLOYMENT: &str = r"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
";

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_apply_twice_is_a_no_op_and_get_shows_the_object() {
    let server = TestApiServer::start().await;
    let first = ok(&kubectl(&server, &["apply", "-f", "-"], Some(DEPLOYMENT)));
    assert!(first.contains("deployment.apps/web created"), "{first}");
    let rv1 = ok(&kubectl(
        &server,
        &[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ],
        None,
    ));
    let second = ok(&kubectl(&server, &["apply", "-f", "-"], Some(DEPLOYMENT)));
    assert!(second.contains("deployment.apps/web unchanged"), "{second}");
    let rv2 = ok(&kubectl(
        &server,
        &[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ],
        None,
    ));
    assert_eq!(rv1, rv2, "a second apply writes nothing");
    let changed = DEPLOYMENT.replace("replicas: 2", "replicas: 4");
    let third = ok(&kubectl(&server, &["apply", "-f", "-"], Some(&changed)));
    assert!(third.contains("deployment.apps/web configured"), "{third}");
    let replicas = ok(&kubectl(
        &server,
        &[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.replicas} {.metadata.generation}",
        ],
        None,
    ));
    assert_eq!(replicas, "4 2");
    let table = ok(&kubectl(&server, &["get", "deploy"], None));
    assert!(table.contains("NAME") && table.contains("web"), "{table}");
    let deleted = ok(&kubectl(&server, &["delete", "deploy", "web"], None));
    assert!(deleted.contains("deleted"), "{deleted}");
    let gone = kubectl(&server, &["get", "deploy", "web"], None);
    assert!(!gone.status.success());
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("not found"),
        "{}",
        String::from_utf8_lossy(&gone.stderr)
    );
}

const WIDGET_CRD: &str = r"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.testbed.example.com
spec:
  group: testbed.example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wg]}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              replicas: {type: integer}
          status:
            type: object
            properties:
              phase: {type: string}
    subresources:
      status: {}
";

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_waits_for_conditions_and_jsonpath() {
    let server = TestApiServer::start().await;
    ok(&kubectl(&server, &["apply", "-f", "-"], Some(WIDGET_CRD)));
    let waited = ok(&kubectl(
        &server,
        &[
            "wait",
            "--for=condition=Established",
            "crd/widgets.testbed.example.com",
            "--timeout=10s",
        ],
        None,
    ));
    assert!(waited.contains("condition met"), "{waited}");
    ok(&kubectl(
        &server,
        &["apply", "-f", "-"],
        Some("apiVersion: testbed.example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {replicas: 1}\n"),
    ));
    // The status changes a moment later (as a controller would set it); kubectl waits for it.
    let api = server.api.clone();
    let setter = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let rt = api
            .resource_type(&ecs_bridge_testbed::schema::Gvk::new(
                "testbed.example.com",
                "v1",
                "Widget",
            ))
            .expect("widgets are served");
        api.patch(
            &rt,
            Some("default"),
            "w",
            Some("status"),
            ecs_bridge_testbed::patch::PatchType::Merge,
            &serde_json::json!({"status": {"phase": "Ready"}}),
            &ecs_bridge_testbed::api::WriteOptions::default(),
        )
        .expect("set status");
    });
    let waited = ok(&kubectl(
        &server,
        &[
            "wait",
            "--for=jsonpath={.status.phase}=Ready",
            "widget/w",
            "--timeout=10s",
        ],
        None,
    ));
    assert!(
        waited.contains("widget.testbed.example.com/w condition met"),
        "{waited}"
    );
    setter.await.expect("status setter");
    let missing = kubectl(
        &server,
        &[
            "wait",
            "--for=jsonpath={.status.phase}=Gone",
            "widget/w",
            "--timeout=1s",
        ],
        None,
    );
    assert!(!missing.status.success(), "a condition never met times out");
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_patches_scales_and_deletes_with_wait() {
    let server = TestApiServer::start().await;
    ok(&kubectl(&server, &["apply", "-f", "-"], Some(DEPLOYMENT)));
    let get = |path: &str| {
        ok(&kubectl(
            &server,
            &["get", "deploy", "web", "-o", &format!("jsonpath={path}")],
            None,
        ))
    };
    let merged = ok(&kubectl(
        &server,
        &[
            "patch",
            "deploy",
            "web",
            "--type=merge",
            "-p",
            r#"{"spec":{"replicas":3},"metadata":{"labels":{"tier":"front"}}}"#,
        ],
        None,
    ));
    assert!(merged.contains("deployment.apps/web patched"), "{merged}");
    assert_eq!(get("{.spec.replicas} {.metadata.labels.tier}"), "3 front");
    let json = ok(&kubectl(
        &server,
        &[
            "patch",
            "deploy",
            "web",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/replicas","value":4},{"op":"remove","path":"/metadata/labels/tier"}]"#,
        ],
        None,
    ));
    assert!(json.contains("deployment.apps/web patched"), "{json}");
    assert_eq!(get("{.spec.replicas} {.metadata.labels.tier}"), "4 ");
    let failed = kubectl(
        &server,
        &[
            "patch",
            "deploy",
            "web",
            "--type=json",
            "-p",
            r#"[{"op":"test","path":"/spec/replicas","value":9}]"#,
        ],
        None,
    );
    assert!(!failed.status.success(), "a failed JSON patch test is an error");
    // The default (strategic merge) patch merges containers by name.
    ok(&kubectl(
        &server,
        &[
            "patch",
            "deploy",
            "web",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.28"}]}}}}"#,
        ],
        None,
    ));
    assert_eq!(get("{.spec.template.spec.containers[*].image}"), "nginx:1.28");

    let scaled = ok(&kubectl(
        &server,
        &["scale", "deploy", "web", "--replicas=6"],
        None,
    ));
    assert!(scaled.contains("deployment.apps/web scaled"), "{scaled}");
    assert_eq!(get("{.spec.replicas}"), "6");
    // A precondition on the current size that does not hold.
    let refused = kubectl(
        &server,
        &["scale", "deploy", "web", "--current-replicas=2", "--replicas=1"],
        None,
    );
    assert!(!refused.status.success());
    assert_eq!(get("{.spec.replicas}"), "6");

    // kubectl's typed commands send protobuf: the double decodes it for the kinds it knows
    // (http/protobuf.rs) ...
    let created = ok(&kubectl(
        &server,
        &["create", "configmap", "plain", "--from-literal=a=1"],
        None,
    ));
    assert!(created.contains("configmap/plain created"), "{created}");
    let data = ok(&kubectl(
        &server,
        &["get", "configmap", "plain", "-o", "jsonpath={.data.a}"],
        None,
    ));
    assert_eq!(data, "1");
    // ... and says so for the others.
    let protobuf = kubectl(
        &server,
        &["create", "deployment", "typed", "--image=nginx:1.27"],
        None,
    );
    assert!(!protobuf.status.success());
    assert!(
        String::from_utf8_lossy(&protobuf.stderr).contains("protobuf request bodies of apps/v1 Deployment"),
        "{}",
        String::from_utf8_lossy(&protobuf.stderr)
    );
    let started = std::time::Instant::now();
    let deleted = ok(&kubectl(
        &server,
        &["delete", "configmap", "plain", "--wait=true", "--timeout=10s"],
        None,
    ));
    assert!(deleted.contains("configmap \"plain\" deleted"), "{deleted}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "no finalizers: no waiting"
    );
    let gone = kubectl(&server, &["get", "configmap", "plain"], None);
    assert!(!gone.status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_server_side_apply_conflicts_and_forces() {
    let server = TestApiServer::start().await;
    let config = |value: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: ssa}}\ndata: {{key: \"{value}\"}}\n")
    };
    let applied = ok(&kubectl(
        &server,
        &["apply", "--server-side", "-f", "-"],
        Some(&config("1")),
    ));
    assert!(applied.contains("configmap/ssa serverside-applied"), "{applied}");
    let conflict = kubectl(
        &server,
        &["apply", "--server-side", "--field-manager=other", "-f", "-"],
        Some(&config("2")),
    );
    assert!(!conflict.status.success());
    let stderr = String::from_utf8_lossy(&conflict.stderr);
    assert!(
        stderr.contains("Apply failed with 1 conflict: conflict with \"kubectl\": .data.key"),
        "{stderr}"
    );
    ok(&kubectl(
        &server,
        &[
            "apply",
            "--server-side",
            "--field-manager=other",
            "--force-conflicts",
            "-f",
            "-",
        ],
        Some(&config("2")),
    ));
    let value = ok(&kubectl(
        &server,
        &[
            "get",
            "configmap",
            "ssa",
            "-o",
            "jsonpath={.data.key} {.metadata.managedFields[*].manager}",
        ],
        None,
    ));
    // kubectl's entry owned nothing else, so it is gone.
    assert_eq!(value, "2 other");
}

/// events.k8s.io/v1 and core/v1 Events are one store, as on kube-apiserver: an Event written
/// through events.k8s.io (as operators' recorders write them) is what `kubectl events --for`
/// (core/v1, with its involvedObject field selectors) and `kubectl describe` show, and a series
/// patched through events.k8s.io shows its count.
#[tokio::test(flavor = "multi_thread")]
async fn events_written_through_events_k8s_io_are_what_kubectl_events_shows() {
    let server = TestApiServer::start().await;
    ok(&kubectl(&server, &["create", "configmap", "web"], None));
    ok(&kubectl(&server, &["create", "configmap", "other"], None));
    let uid = |object: &str| {
        ok(&kubectl(
            &server,
            &["get", "configmap", object, "-o", "jsonpath={.metadata.uid}"],
            None,
        ))
    };
    let event = |name: &str, object: &str, note: &str| {
        format!(
            "apiVersion: events.k8s.io/v1\nkind: Event\nmetadata:\n  name: {name}\n  namespace: default\n\
             eventTime: \"2026-12-06T10:00:00.000000Z\"\nreportingController: ecs-bridge\n\
             reportingInstance: ecs-bridge-0\naction: StartTasks\nreason: TasksStarted\ntype: Normal\n\
             note: {note}\nregarding:\n  apiVersion: v1\n  kind: ConfigMap\n  name: {object}\n  namespace: default\n\
             \x20 uid: {}\n",
            uid(object)
        )
    };
    ok(&kubectl(
        &server,
        &["create", "-f", "-"],
        Some(&event("web.1", "web", "started task a")),
    ));
    ok(&kubectl(
        &server,
        &["create", "-f", "-"],
        Some(&event("web.2", "web", "started task b")),
    ));
    ok(&kubectl(
        &server,
        &["create", "-f", "-"],
        Some(&event("other.1", "other", "not about web")),
    ));
    ok(&kubectl(
        &server,
        &[
            "patch",
            "events.events.k8s.io",
            "web.2",
            "--type=merge",
            "-p",
            r#"{"series": {"count": 3, "lastObservedTime": "2026-12-06T10:02:00.000000Z"}}"#,
        ],
        None,
    ));

    // Read back through core/v1: the fields renamed as kube-apiserver converts them.
    let core = ok(&kubectl(&server, &["get", "events", "web.2", "-o", "json"], None));
    let core: serde_json::Value = serde_json::from_str(&core).expect("JSON");
    assert_eq!(core["apiVersion"], "v1");
    assert_eq!(core["message"], "started task b");
    assert_eq!(core["involvedObject"]["name"], "web");
    assert_eq!(core["reportingComponent"], "ecs-bridge");
    assert_eq!(core["series"]["count"], 3);
    // And through events.k8s.io/v1 again.
    let v1 = ok(&kubectl(
        &server,
        &["get", "events.events.k8s.io", "web.2", "-o", "json"],
        None,
    ));
    let v1: serde_json::Value = serde_json::from_str(&v1).expect("JSON");
    assert_eq!(
        (v1["apiVersion"].as_str(), v1["note"].as_str()),
        (Some("events.k8s.io/v1"), Some("started task b"))
    );

    let shown = ok(&kubectl(&server, &["events", "--for", "configmap/web"], None));
    assert!(
        shown.contains("started task a") && shown.contains("started task b"),
        "{shown}"
    );
    assert!(!shown.contains("not about web"), "{shown}");
    let described = ok(&kubectl(&server, &["describe", "configmap", "web"], None));
    assert!(
        described.contains("Events:") && described.contains("started task b"),
        "{described}"
    );
}

/// `kubectl get` of built-in kinds prints the columns kube-apiserver's printers give them:
/// pods READY, STATUS (the waiting reason of a container that cannot start), RESTARTS, and
/// NODE with `-o wide`; Deployments READY, UP-TO-DATE, AVAILABLE.
#[tokio::test(flavor = "multi_thread")]
async fn built_in_kinds_print_their_real_columns() {
    let server = TestApiServer::start().await;
    let cluster = ecs_bridge_testbed::SimCluster::start(&server.api);
    cluster.kubelet(ecs_bridge_testbed::PodOutcome::Running { ready: true });
    ok(&kubectl(&server, &["apply", "-f", "-"], Some(DEPLOYMENT)));
    let broken = DEPLOYMENT
        .replace("name: web\n  labels", "name: broken\n  labels")
        .replace("{app: web}", "{app: broken}")
        .replace("image: nginx:1.27", "image: registry.invalid/x:1");
    ok(&kubectl(&server, &["apply", "-f", "-"], Some(&broken)));
    let mut deployments = String::new();
    for _ in 0..100 {
        deployments = ok(&kubectl(&server, &["get", "deployments"], None));
        if deployments
            .lines()
            .any(|l| l.starts_with("web ") && l.contains("2/2"))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let header: Vec<&str> = deployments
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        "{deployments}"
    );
    let web: Vec<&str> = deployments
        .lines()
        .find(|l| l.starts_with("web "))
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(&web[..4], ["web", "2/2", "2", "2"], "{deployments}");

    let pods = ok(&kubectl(&server, &["get", "pods", "-o", "wide"], None));
    let header: Vec<&str> = pods.lines().next().unwrap_or("").split_whitespace().collect();
    assert_eq!(
        &header[..7],
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"],
        "{pods}"
    );
    let broken_pod: Vec<&str> = pods
        .lines()
        .find(|l| l.starts_with("broken-"))
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(&broken_pod[1..4], ["0/1", "ErrImagePull", "0"], "{pods}");
    assert!(
        pods.lines()
            .filter(|l| l.starts_with("web-"))
            .all(|l| l.contains("1/1") && l.contains("Running")),
        "{pods}"
    );
}
