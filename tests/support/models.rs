//! Other projects' objects checked against the projects' published schemas (Karpenter's
//! NodePools, KEDA's ScaledObjects): shared by the integration tests (`tests/support`) and the
//! e2e suite (`e2e/support`, which includes this file).

use std::{
    io::Write,
    path::PathBuf,
    process::{Command, Stdio},
};

/// Validates Karpenter NodePools against Karpenter's published schema ([`validate`]).
pub fn validate_node_pools(objects: &[serde_json::Value]) -> Result<String, String> {
    validate("NodePool", objects)
}

/// Validates KEDA ScaledObjects against KEDA's published schema ([`validate`]).
#[allow(dead_code)] // (The e2e suite, which includes this module, checks none.)
pub fn validate_scaled_objects(objects: &[serde_json::Value]) -> Result<String, String> {
    validate("ScaledObject", objects)
}

/// Validates `objects` of `kind` against their project's published schema, strictly (unknown
/// fields refused), with `tests/support/models/validate.mjs` (the npm packages pinned there,
/// installed by `make test-deps`); returns its report, as an error when an object is invalid.
pub fn validate(kind: &str, objects: &[serde_json::Value]) -> Result<String, String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("support")
        .join("models")
        .join("validate.mjs");
    let mut child = Command::new("node")
        .arg(script)
        .arg(kind)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node (hint: make test-deps): {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::Value::Array(objects.to_vec()).to_string().as_bytes())
        .expect("write the objects");
    let out = child.wait_with_output().expect("node runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(report)
    } else {
        Err(format!(
            "{report}\nhint: make test-deps (npm ci in tests/support/models)"
        ))
    }
}
