//! The e2e environment: a backend (the double or a real cluster), the operator process, and
//! `kubectl`.

mod backend;
#[path = "../../tests/support/models.rs"]
pub mod models;
mod operator;
mod wait;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

pub use backend::Backend;
pub use operator::Operator;
use serde_json::Value;
pub use wait::{eventually, eventually_async};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One test's environment: a namespace on a backend, with the operator watching it.
pub struct Env {
    /// Where the API is.
    pub backend: Backend,
    /// The test's namespace.
    pub namespace: String,
    operator: Option<Operator>,
    scratch: PathBuf,
}

/// What [`Env::setup`] prepares besides the namespace.
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    /// Install `crds/` and wait until they are Established.
    pub crds: bool,
    /// Start the operator (unless `E2E_OPERATOR=external`).
    pub operator: bool,
}

impl Env {
    /// Starts a backend, installs the CRDs, creates the namespace `<name>-<random>` and starts
    /// the operator for it.
    pub async fn start(name: &str) -> Env {
        Env::setup(
            name,
            Setup {
                crds: true,
                operator: true,
            },
        )
        .await
    }

    /// Starts a backend, creates the namespace `<name>-<random>`, and installs the CRDs and
    /// starts the operator as `setup` says.
    pub async fn setup(name: &str, setup: Setup) -> Env {
        let backend = Backend::start().await;
        let suffix = &uuid_suffix();
        let namespace = format!("e2e-{name}-{suffix}");
        let scratch = std::env::temp_dir().join(format!("ecs-bridge-e2e-{namespace}"));
        std::fs::create_dir_all(&scratch).expect("scratch dir");
        let mut env = Env {
            backend,
            namespace,
            operator: None,
            scratch,
        };
        if setup.crds {
            env.install_crds();
        }
        // (`kubectl create namespace` sends protobuf, which the double decodes only for a few
        // kinds; apply sends JSON and works everywhere.)
        let ns = env.file(
            "namespace.yaml",
            &format!(
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {}\n",
                env.namespace
            ),
        );
        env.kubectl_ok(&["apply", "-f", &Env::s(&ns)]);
        if setup.operator && !std::env::var("E2E_OPERATOR").is_ok_and(|v| v == "external") {
            env.operator = Some(env.spawn_operator("e2e-operator"));
        }
        env
    }

    /// Installs `crds/` and waits until every CRD is Established.
    pub fn install_crds(&self) {
        self.kubectl_ok(&[
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            &repo().join("crds").to_string_lossy(),
        ]);
        for crd in [
            "taskdefinitions",
            "services",
            "capacityproviders",
            "tasks",
            "scheduledtasks",
        ] {
            self.kubectl_ok(&[
                "wait",
                "--for=condition=Established",
                &format!("crd/{crd}.ecsbridge.io"),
                "--timeout=30s",
            ]);
        }
    }

    /// Starts another `ecs-bridge run` for the test's namespace, as pod `identity` (its lease
    /// holder identity): leader election on the Lease `ecs-bridge` in the test's namespace, the
    /// HTTP endpoints on a free local port.
    pub fn spawn_operator(&self, identity: &str) -> Operator {
        Operator::spawn(
            &self.backend,
            &self.namespace,
            identity,
            &self.scratch.join(format!("{identity}.log")),
        )
    }

    /// The operator's log so far (for failure messages).
    pub fn operator_log(&self) -> String {
        self.operator.as_ref().map(Operator::log).unwrap_or_default()
    }

    /// Runs `kubectl` against the backend, in the test's namespace.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        Command::new(std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into()))
            .args(args)
            .args(["--namespace", &self.namespace])
            .env("KUBECONFIG", self.backend.kubeconfig())
            .env("KUBECACHEDIR", self.scratch.join("kubecache"))
            .output()
            .expect("kubectl on PATH")
    }

    /// Runs `kubectl` and returns stdout, failing the test (with the operator's log) on error.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {} failed:\n{}{}\n--- operator log ---\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.operator_log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `kubectl get <what> -o json`, or None when it does not exist.
    pub fn get(&self, what: &[&str]) -> Option<Value> {
        let mut args = vec!["get"];
        args.extend_from_slice(what);
        args.extend_from_slice(&["-o", "json"]);
        let out = self.kubectl(&args);
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).expect("kubectl get -o json"))
    }

    /// The names of the cluster's first `n` nodes (at least `n`: the test needs them).
    pub fn nodes(&self, n: usize) -> Vec<String> {
        let nodes = self.get(&["nodes"]).expect("nodes");
        let names: Vec<String> = nodes["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|node| {
                node.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .take(n)
            .collect();
        assert_eq!(names.len(), n, "{n} nodes needed: {names:?}");
        names
    }

    /// Labels each node with its label (`key=value`; `key-` removes it).
    pub fn label_nodes<'a>(&self, labels: impl IntoIterator<Item = (&'a String, &'a str)>) {
        for (node, label) in labels {
            self.kubectl_ok(&["label", "node", node, label, "--overwrite"]);
        }
    }

    /// Writes `text` to a scratch file and returns its path (for `kubectl apply -f`).
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.scratch.join(name);
        std::fs::write(&p, text).expect("write scratch file");
        p
    }

    /// The example manifests.
    pub fn example(path: &str) -> PathBuf {
        repo().join("examples").join(path)
    }

    /// Path as a string.
    pub fn s(p: &Path) -> String {
        p.to_string_lossy().into_owned()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        drop(self.operator.take());
        if self.backend.is_real() {
            let _ = self.kubectl(&["delete", "namespace", &self.namespace.clone(), "--wait=false"]);
        }
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

fn uuid_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{:06x}", (nanos ^ std::process::id()) & 0xff_ffff)
}
