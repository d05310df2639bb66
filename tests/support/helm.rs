//! The Helm chart's test helpers: the real Helm library through `hack/helm.py`, installs on the
//! API server double, and RBAC rule checks.

use std::{path::PathBuf, process::Command};

use ecs_bridge_testbed::TestApiServer;
use serde_json::Value;

/// The chart.
pub fn chart() -> PathBuf {
    super::repo_root().join("charts").join("ecs-bridge")
}

/// Every optional part of the chart switched on (with two replicas).
pub const EVERYTHING: &[&str] = &[
    "scheduler.enabled=true",
    "serviceMonitor.enabled=true",
    "networkPolicy.enabled=true",
    "podDisruptionBudget.enabled=true",
    "replicas=2",
];

/// Runs `hack/helm.py args...`; returns stdout, or stdout and stderr on failure.
pub fn helm(args: &[&str]) -> Result<String, String> {
    let script = super::repo_root().join("hack").join("helm.py");
    let mut cmd = Command::new(super::python());
    cmd.arg(&script).args(args);
    let out = cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run {} {}: {e}; the chart tests need Python 3 (see README)",
            super::python(),
            script.display()
        )
    });
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "hack/helm.py {} failed ({}):\n{stdout}{}\nhint: it needs Python 3 with pip and PyYAML \
             (pip install -r requirements-dev.txt) and downloads the pinned helm-sdkpy wheel from PyPI \
             on first use (or set HELM_SDKPY_DIR to a directory holding it)",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// `--set` arguments for `sets`.
pub fn set_args<'a>(sets: &[&'a str]) -> Vec<&'a str> {
    sets.iter().flat_map(|s| ["--set", s]).collect()
}

/// `kubectl args...` against `server`; stdout, or panics with the output.
pub fn kubectl(server: &TestApiServer, args: &[&str]) -> String {
    let cache = server.kubeconfig().parent().expect("dir").join("kubecache");
    let out = Command::new(std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into()))
        .args(args)
        .env("KUBECONFIG", server.kubeconfig())
        .env("KUBECACHEDIR", cache)
        .output()
        .expect("kubectl on PATH");
    assert!(
        out.status.success(),
        "kubectl {} failed:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A release installed on the double.
pub struct Installed {
    /// The rendered manifest (multi-document YAML), as Helm recorded it in the release.
    pub manifest: String,
    /// The rendered objects.
    pub objects: Vec<Value>,
}

/// Installs the chart as `release` into `namespace` (created by Helm) with `sets`.
pub fn install(server: &TestApiServer, release: &str, namespace: &str, sets: &[&str]) -> Installed {
    helm_release(server, "install", release, namespace, sets)
}

/// `hack/helm.py action` (install or upgrade) of the chart as `release` in `namespace`.
pub fn helm_release(
    server: &TestApiServer,
    action: &str,
    release: &str,
    namespace: &str,
    sets: &[&str],
) -> Installed {
    let chart = chart();
    let kubeconfig = server.kubeconfig().to_str().expect("utf-8 path").to_owned();
    let mut args = vec![
        action,
        chart.to_str().expect("utf-8 path"),
        "--name",
        release,
        "--kubeconfig",
        &kubeconfig,
        "--namespace",
        namespace,
    ];
    if action == "install" {
        args.push("--create-namespace");
    }
    args.extend(set_args(sets));
    let out = helm(&args).unwrap_or_else(|e| {
        let requests: Vec<String> = server
            .api
            .faults
            .requests()
            .iter()
            .map(|r| format!("{} {} {} -> {}", r.method, r.path, r.query, r.status))
            .collect();
        panic!("{e}\nrequests:\n{}", requests.join("\n"))
    });
    let release: Value = serde_json::from_str(&out).expect("release JSON");
    assert_eq!(release["status"], "deployed", "{release:#}");
    assert!(
        release["notes"].as_str().is_some_and(|n| n.contains(namespace)),
        "NOTES.txt: {release:#}"
    );
    let manifest = release["manifest"]
        .as_str()
        .unwrap_or_else(|| panic!("no manifest in the release: {release:#}"))
        .to_owned();
    let objects = documents(&manifest);
    assert!(!objects.is_empty(), "nothing rendered: {release:#}");
    Installed { manifest, objects }
}

/// The non-empty documents of a multi-document YAML stream.
pub fn documents(yaml: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_yaml_ng::Deserializer::from_str(yaml)
        .map(|d| Value::deserialize(d).expect("rendered YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

pub fn kind(obj: &Value) -> &str {
    obj["kind"].as_str().unwrap_or_default()
}

pub fn name(obj: &Value) -> &str {
    obj["metadata"]["name"].as_str().unwrap_or_default()
}

/// No `*` in any rule of the (Cluster)Roles of `objects`; returns the ClusterRoles' rules.
pub fn assert_no_wildcards(objects: &[Value]) -> Vec<Value> {
    let mut cluster_rules = Vec::new();
    for role in objects
        .iter()
        .filter(|o| kind(o) == "ClusterRole" || kind(o) == "Role")
    {
        let rules = role["rules"].as_array().cloned().unwrap_or_default();
        assert!(!rules.is_empty(), "{} {} has no rules", kind(role), name(role));
        for rule in &rules {
            for field in ["verbs", "resources", "apiGroups", "resourceNames"] {
                for v in rule[field].as_array().into_iter().flatten() {
                    let v = v.as_str().unwrap_or_default();
                    assert!(
                        !v.contains('*'),
                        "{} {}: {field} has {v:?}: {rule:#}",
                        kind(role),
                        name(role)
                    );
                }
            }
            assert!(
                rule["nonResourceURLs"].is_null(),
                "{} {}: {rule:#}",
                kind(role),
                name(role)
            );
        }
        if kind(role) == "ClusterRole" {
            cluster_rules.extend(rules);
        }
    }
    cluster_rules
}

/// Whether `rules` grant `verb` on `group`/`resource`.
pub fn grants(rules: &[Value], group: &str, resource: &str, verb: &str) -> bool {
    let has = |rule: &Value, field: &str, want: &str| {
        rule[field].as_array().into_iter().flatten().any(|v| v == want)
    };
    rules
        .iter()
        .any(|r| has(r, "apiGroups", group) && has(r, "resources", resource) && has(r, "verbs", verb))
}
