//! Running the `ecs-bridge` binary from a test, with JSON inputs in a scratch directory.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

/// A fresh scratch directory for test `name` of `suite`.
pub fn scratch(suite: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ecs-bridge-{suite}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Runs `ecs-bridge <args>`: (documents of stdout, stderr, success).
pub fn run(args: &[&str]) -> (Vec<Value>, String, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_ecs-bridge"))
        .args(args)
        .output()
        .expect("run ecs-bridge");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let docs = serde_yaml_ng::Deserializer::from_str(&stdout)
        .map(|d| serde::Deserialize::deserialize(d).expect("a YAML document"))
        .filter(|v: &Value| !v.is_null())
        .collect();
    (
        docs,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

/// Writes `value` as pretty JSON to `dir/name`; returns the path.
pub fn write(dir: &Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(value).expect("JSON")).expect("write");
    path.to_str().expect("path").to_owned()
}
