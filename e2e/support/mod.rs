//! The e2e environment: a backend (the double or a real cluster), the operator process, and
//! `kubectl`.

mod backend;
mod wait;

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
};

pub use backend::Backend;
use serde_json::Value;
pub use wait::eventually;

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
    operator: Option<Child>,
    log: PathBuf,
    scratch: PathBuf,
}

impl Env {
    /// Starts a backend, installs the CRDs, creates the namespace `<name>-<random>` and starts
    /// the operator for it.
    pub async fn start(name: &str) -> Env {
        let backend = Backend::start().await;
        let suffix = &uuid_suffix();
        let namespace = format!("e2e-{name}-{suffix}");
        let scratch = std::env::temp_dir().join(format!("ecs-bridge-e2e-{namespace}"));
        std::fs::create_dir_all(&scratch).expect("scratch dir");
        let log = scratch.join("operator.log");
        let mut env = Env {
            backend,
            namespace,
            operator: None,
            log,
            scratch,
        };
        env.kubectl_ok(&[
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
            env.kubectl_ok(&[
                "wait",
                "--for=condition=Established",
                &format!("crd/{crd}.ecsbridge.io"),
                "--timeout=30s",
            ]);
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
        env.start_operator();
        env
    }

    fn start_operator(&mut self) {
        if std::env::var("E2E_OPERATOR").is_ok_and(|v| v == "external") {
            return;
        }
        let log = std::fs::File::create(&self.log).expect("operator log");
        let child = Command::new(env!("CARGO_BIN_EXE_ecs-bridge"))
            .args([
                "run",
                "--namespace",
                &self.namespace,
                "--log",
                "info,ecs_bridge=debug,kube=warn",
            ])
            .env("KUBECONFIG", self.backend.kubeconfig())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start ecs-bridge run");
        self.operator = Some(child);
    }

    /// The operator's log so far (for failure messages).
    pub fn operator_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
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
        if let Some(mut child) = self.operator.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
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
