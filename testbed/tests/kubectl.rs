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
