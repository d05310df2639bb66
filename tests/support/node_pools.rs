//! Karpenter NodePools checked against Karpenter's published schema: shared by the integration
//! tests (`tests/support`) and the e2e suite (`e2e/support`, which includes this file).

use std::{
    io::Write,
    path::PathBuf,
    process::{Command, Stdio},
};

/// Validates Karpenter NodePools against Karpenter's published schema, strictly (unknown fields
/// refused), with `tests/support/karpenter/validate.mjs` (the npm package pinned there, installed
/// by `make test-deps`); returns its report, as an error when an object is invalid.
pub fn validate_node_pools(objects: &[serde_json::Value]) -> Result<String, String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("support")
        .join("karpenter")
        .join("validate.mjs");
    let mut child = Command::new("node")
        .arg(script)
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
        .expect("write NodePools");
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
            "{report}\nhint: make test-deps (npm ci in tests/support/karpenter)"
        ))
    }
}
