//! Helpers shared by the integration tests: the Python tools they drive and the shared corpus.
#![allow(dead_code)]

pub mod cli;
pub mod helm;
pub mod models;
pub mod prune;

use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// The Python interpreter the tests use: `$PYTHON`, else `python3`.
pub fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// Runs `python -c code args...` and returns stdout; panics with stderr and a hint on failure.
pub fn python_output(code: &str, args: &[&str]) -> String {
    let out = Command::new(python())
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; install Python 3 (see README)", python()));
    assert!(
        out.status.success(),
        "python failed: {}\nhint: pip install -r requirements-dev.txt",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 from python")
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared ECS corpus (`../shared/corpus/ecs`), or `$ECS_CORPUS_DIR`.
pub fn corpus_dir() -> PathBuf {
    let dir = std::env::var_os("ECS_CORPUS_DIR").map_or_else(
        || repo_root().join("..").join("shared").join("corpus").join("ecs"),
        PathBuf::from,
    );
    assert!(
        dir.join("SOURCES.md").exists(),
        "ECS corpus not found at {} (set ECS_CORPUS_DIR)",
        dir.display()
    );
    dir
}

/// Corpus JSON files whose name starts with `prefix`, sorted.
pub fn corpus_files(prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("read corpus dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    files.sort();
    files
}

/// The botocore ECS model (service-2.json), read through the installed botocore package.
pub fn botocore_ecs_model() -> serde_json::Value {
    let code = r#"
import gzip, json, os, sys, botocore
base = os.path.join(os.path.dirname(botocore.__file__), "data", "ecs", "2014-11-13")
p = os.path.join(base, "service-2.json.gz")
data = gzip.open(p).read() if os.path.exists(p) else open(os.path.join(base, "service-2.json"), "rb").read()
sys.stdout.write(json.dumps({"version": botocore.__version__, "model": json.loads(data)}))
"#;
    serde_json::from_str(&python_output(code, &[])).expect("botocore model JSON")
}

/// Validates `files` with `kubernetes-validate --strict` for Kubernetes `version`; returns the
/// tool's output on failure.
pub fn kubernetes_validate(files: &[&Path], version: &str) -> Result<(), String> {
    let code = "import sys; from kubernetes_validate.__main__ import main; sys.exit(main())";
    let out = Command::new(python())
        .args(["-c", code, "--strict", "--quiet", "-k", version])
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run kubernetes-validate: {e}"));
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}\nhint: pip install -r requirements-dev.txt",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The oldest and newest Kubernetes versions we validate against.
pub const KUBERNETES_VERSIONS: [&str; 2] = ["1.30.0", "1.37.0"];

/// The AWS Load Balancer Controller's TargetGroupBinding CRD, as published (see
/// `hack/vendor_tgb_crd.py`).
pub fn target_group_binding_crd() -> PathBuf {
    repo_root()
        .join("testdata")
        .join("aws-load-balancer-controller")
        .join("targetgroupbindings.elbv2.k8s.aws.yaml")
}

/// External Secrets' ExternalSecret CRD (`external-secrets.io/v1` only), vendored by
/// `hack/vendor_es_crd.py`.
pub fn external_secret_crd() -> PathBuf {
    repo_root()
        .join("testdata")
        .join("external-secrets")
        .join("externalsecrets.external-secrets.io.yaml")
}

/// Validates the objects of `files` that `crd` defines against its published schema, strictly
/// (`tests/support/validate_crd.py`); returns the script's report on failure, or when no such
/// object was found.
pub fn validate_custom_resources(crd: &Path, files: &[&Path]) -> Result<String, String> {
    let script = repo_root().join("tests").join("support").join("validate_crd.py");
    let out = Command::new(python())
        .arg(&script)
        .arg(crd)
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python()));
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(report)
    } else {
        Err(format!("{report}\nhint: pip install -r requirements-dev.txt"))
    }
}
