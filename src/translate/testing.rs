//! Test support of the translation tests, in one place: task definitions and service specs from
//! JSON, their translations, and the shared ECS corpus (`../shared/corpus/ecs/`, or
//! `$ECS_CORPUS_DIR`), read as `ecs-bridge import` reads it.

use std::path::PathBuf;

use k8s_openapi::api::core::v1::{Container, PodSpec};
use serde_json::{Value, json};

use super::{
    Note,
    pod::{PodError, PodTranslation, pod_template},
};
use crate::{
    api::{ServiceSpec, ecs::RegisterTaskDefinition},
    import::{ImportOptions, Imported, import_file},
};

/// The shared ECS corpus: `$ECS_CORPUS_DIR`, else `../shared/corpus/ecs` beside the checkout.
#[must_use]
pub fn corpus_dir() -> PathBuf {
    std::env::var_os("ECS_CORPUS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/ecs"),
        PathBuf::from,
    )
}

/// The corpus files whose names start with `prefix` and end with `.json`, sorted.
#[must_use]
pub fn corpus_files(prefix: &str) -> Vec<PathBuf> {
    let dir = corpus_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (set ECS_CORPUS_DIR)", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".json"))
        })
        .collect();
    files.sort();
    files
}

/// The corpus task definition `name` (a file of [`corpus_dir`]), imported as `ecs-bridge import`
/// does.
#[must_use]
pub fn corpus_task_definition(name: &str) -> RegisterTaskDefinition {
    let result = import_file(&corpus_dir().join(name), &ImportOptions::default());
    result
        .objects
        .into_iter()
        .find_map(|o| match o {
            Imported::TaskDefinition(td) => Some(td.spec.task_definition),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{name}: no task definition: {:?}", result.diagnostics))
}

/// A task definition from JSON.
#[must_use]
pub fn td(v: Value) -> RegisterTaskDefinition {
    serde_json::from_value(v).expect("task definition")
}

/// A Service spec from JSON.
#[must_use]
pub fn service_spec(v: Value) -> ServiceSpec {
    serde_json::from_value(v).expect("service spec")
}

/// The task definition `v` as revision 1 of the TaskDefinition object `t`.
///
/// # Errors
/// The translation's.
pub fn try_translate(v: Value) -> Result<PodTranslation, PodError> {
    pod_template("t", &td(v), 1)
}

/// [`try_translate`], which must succeed.
#[must_use]
pub fn translate(v: Value) -> PodTranslation {
    try_translate(v).expect("translates")
}

/// The task definition of the one container `container`, translated.
#[must_use]
pub fn one(container: Value) -> PodTranslation {
    translate(json!({"family": "t", "containerDefinitions": [container]}))
}

/// The pod spec of `t`.
#[must_use]
pub fn spec(t: &PodTranslation) -> &PodSpec {
    t.template.spec.as_ref().expect("spec")
}

/// Container `i` of `t`.
#[must_use]
pub fn container(t: &PodTranslation, i: usize) -> &Container {
    &spec(t).containers[i]
}

/// The notes of `t` on `field`.
#[must_use]
pub fn notes<'a>(t: &'a PodTranslation, field: &str) -> Vec<&'a Note> {
    t.report.notes.iter().filter(|n| n.field == field).collect()
}
