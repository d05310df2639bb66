//! Every real ECS JSON file of the shared corpus (`../shared/corpus/ecs/`, see its `SOURCES.md`)
//! imports, and nothing is lost on the way.
//!
//! What this guards:
//!
//! * the corpus is there (at least 40 files, task definitions and services), so an empty or
//!   missing corpus cannot make the suite pass;
//! * `ecs_bridge::import::import_file` reports no error for any file, and exactly the warnings of
//!   [`EXPECTED_WARNINGS`] (a new warning or a missing one fails), each with a position that points
//!   at the key it is about;
//! * JSON → CR → JSON is lossless: each imported object's `spec`, serialised, equals the input
//!   object (unwrapped, less the documented read-only fields, describe-output `tags` moved into the
//!   spec, `roleArn` → `role`, `null`s removed, and less exactly the fields warned about), with
//!   numbers compared by value; the number of objects matches the input (one per task definition,
//!   one per service of a describe-services output);
//! * through YAML: `Imported::to_yaml()` parses back into an equal object, whose `metadata.name` is
//!   a valid RFC 1123 subdomain derived from the family / service name (or the file stem);
//! * Kubernetes' unknown-field pruning, with the real CRD schemas, removes nothing from any
//!   imported object;
//! * placeholders (`{{ ... }}`, `${VAR}`, `$$$VAR$$$`) survive import untouched;
//! * describe outputs the corpus lacks are built from its requests: every plain task definition
//!   wrapped as describe-task-definition output (read-only fields added; with `tags` beside it in
//!   a separate test), and all services in one
//!   describe-services output (`roleArn`, read-only fields): each imports back to its request;
//! * the real binary, `ecs-bridge import` on the whole corpus, exits 0, prints one YAML document
//!   per object (equal to the library's objects) and exactly the expected warnings on stderr;
//!   a wrongly typed value and a JSON syntax error are errors with file, line and column.

mod support;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::OnceLock,
};

use ecs_bridge::{
    api::{Service, TaskDefinition, all_crds},
    import::{
        ImportOptions, ImportResult, Imported, SERVICE_READ_ONLY, TASK_DEFINITION_READ_ONLY, import_file,
        import_text,
    },
    manifest::PathSeg,
};
use serde_json::{Value, json};

/// The warnings each corpus file is expected to produce, as field paths (in the input document).
/// Files not listed must import without any warning.
const EXPECTED_WARNINGS: &[(&str, &[&str])] = &[
    // A service pinned to revision 1 of the source account's family: import rewrites it to the
    // family, whose revisions the cluster numbers itself (--keep-task-definition-revisions keeps it).
    ("service-kecs-backend-service-discovery.json", &["taskDefinition"]),
    // `networkMode: "default"` is not an ECS value (bridge, host, awsvpc, none); import leaves it
    // out, which selects the platform default, as the example meant.
    (
        "taskdef-adot-prometheus-ec2-default-netmode.json",
        &["networkMode"],
    ),
    // `inferenceDevices` is a pre-GA container key of an amazon-ecs-agent functional test; it is
    // not in the RegisterTaskDefinition request (botocore model), so it is dropped with a warning.
    (
        "taskdef-ecsagent-elastic-inference.json",
        &["containerDefinitions[0].inferenceDevices"],
    ),
];

/// At least this many corpus files must exist.
const MIN_CORPUS_FILES: usize = 40;

// ---------------------------------------------------------------------------------------------
// Importing the corpus once
// ---------------------------------------------------------------------------------------------

/// One corpus file, its parsed JSON and what the library made of it.
struct Case {
    path: PathBuf,
    name: String,
    text: String,
    input: Value,
    result: ImportResult,
}

/// Every corpus file, imported with the library (once for all tests).
fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        corpus_paths()
            .into_iter()
            .map(|path| {
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
                let input: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
                let result = import_file(&path, &ImportOptions::default());
                Case {
                    name: file_name(&path),
                    path,
                    text,
                    input,
                    result,
                }
            })
            .collect()
    })
}

/// Every `*.json` file of the corpus, sorted.
fn corpus_paths() -> Vec<PathBuf> {
    support::corpus_files("")
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .expect("corpus file names are UTF-8")
        .to_owned()
}

/// The expected warnings of `file`, as field paths.
fn expected_warnings(file: &str) -> Vec<String> {
    EXPECTED_WARNINGS
        .iter()
        .find(|(f, _)| *f == file)
        .map(|(_, fields)| fields.iter().map(|f| (*f).to_owned()).collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Expected objects: the input, normalised the way import documents it
// ---------------------------------------------------------------------------------------------

/// What one imported object must be, derived from the input alone.
#[derive(Debug)]
enum Expected {
    TaskDefinition { spec: Value, name: String },
    Service { spec: Value, name: String },
}

/// The objects `case` must import to, in order.
fn expected_objects(case: &Case) -> Vec<Expected> {
    let mut doc = case.input.clone();
    // Warned-about fields are dropped by import (that is what the warning says), but for a
    // service's pinned `taskDefinition`, which becomes its family.
    for field in case.result.diagnostics.iter().filter_map(|d| d.field.as_ref()) {
        if let [.., PathSeg::Key(k)] = field.0.as_slice()
            && k == "taskDefinition"
        {
            assert!(
                unpin_path(&mut doc, &field.0),
                "{}: warned-about field {field} is not a pinned reference in the input",
                case.name
            );
            continue;
        }
        assert!(
            remove_path(&mut doc, &field.0),
            "{}: warned-about field {field} is not in the input",
            case.name
        );
    }
    let stem = case
        .path
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("UTF-8 stem")
        .to_owned();
    let obj = doc.as_object().expect("corpus documents are JSON objects");
    if let Some(Value::Object(td)) = obj.get("taskDefinition") {
        // describe-task-definition output: tags sit beside the task definition.
        let mut spec = Value::Object(td.clone());
        strip(&mut spec, TASK_DEFINITION_READ_ONLY);
        if let Some(tags) = obj.get("tags").filter(|t| !t.is_null()) {
            spec["tags"] = tags.clone();
        }
        vec![expected_task_definition(spec)]
    } else if obj.contains_key("containerDefinitions") {
        let mut spec = doc.clone();
        strip(&mut spec, TASK_DEFINITION_READ_ONLY);
        vec![expected_task_definition(spec)]
    } else if let Some(Value::Array(services)) = obj.get("services") {
        services
            .iter()
            .map(|s| expected_service(s.clone(), &stem))
            .collect()
    } else if let Some(svc @ Value::Object(_)) = obj.get("service") {
        vec![expected_service(svc.clone(), &stem)]
    } else {
        vec![expected_service(doc.clone(), &stem)]
    }
}

fn expected_task_definition(mut spec: Value) -> Expected {
    remove_nulls(&mut spec);
    let family = spec["family"]
        .as_str()
        .expect("every corpus task definition has a family");
    Expected::TaskDefinition {
        name: expected_name(family),
        spec,
    }
}

fn expected_service(mut spec: Value, stem: &str) -> Expected {
    strip(&mut spec, SERVICE_READ_ONLY);
    // describe-services reports the request's `role` as `roleArn`.
    if let Some(role) = spec.as_object_mut().and_then(|o| o.remove("roleArn"))
        && spec.get("role").is_none_or(Value::is_null)
    {
        spec["role"] = role;
    }
    remove_nulls(&mut spec);
    let name = match spec.get("serviceName").and_then(Value::as_str) {
        Some(n) => expected_name(n),
        None => expected_name(stem),
    };
    Expected::Service { spec, name }
}

/// Names that are not plain ECS names (templates): what import makes of them, spelled out.
const NAME_EXCEPTIONS: &[(&str, &str)] = &[(
    // ecspresso template (taskdef-laravel-fargate-nginx-php-envfiles.json): every run of
    // character a Kubernetes name cannot hold becomes `-`, trimmed at both ends.
    "{{ must_env `SYSTEM_NAME` }}-{{ must_env `ENV_NAME` }}-{{ must_env `SERVICE_NAME` }}",
    "must-env--system-name--------must-env--env-name--------must-env--service-name",
)];

/// The Kubernetes name of an ECS family / service name (or file stem): lower case, `_` → `-`.
fn expected_name(ecs_name: &str) -> String {
    if let Some((_, name)) = NAME_EXCEPTIONS.iter().find(|(n, _)| *n == ecs_name) {
        return (*name).to_owned();
    }
    assert!(
        ecs_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "{ecs_name:?} is not a plain ECS name: add it to NAME_EXCEPTIONS"
    );
    ecs_name.to_ascii_lowercase().replace('_', "-")
}

fn strip(value: &mut Value, fields: &[&str]) {
    if let Some(o) = value.as_object_mut() {
        for f in fields {
            o.remove(*f);
        }
    }
}

/// Removes object members that are `null`, at any depth (Kubernetes treats them as absent).
fn remove_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(remove_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(remove_nulls),
        _ => {}
    }
}

/// Removes the member at `path`; whether it was there.
/// Replaces the task definition reference at `path` (`family:N` or an ARN ending so) by its
/// family; false when there is no such reference.
fn unpin_path(value: &mut Value, path: &[PathSeg]) -> bool {
    match path {
        [] => match value.as_str() {
            Some(reference) => {
                let name = reference.rsplit('/').next().unwrap_or(reference);
                match name.rsplit_once(':') {
                    Some((family, n)) if n.parse::<i64>().is_ok() => {
                        *value = Value::String(family.to_owned());
                        true
                    }
                    _ => false,
                }
            }
            None => false,
        },
        [PathSeg::Key(k), rest @ ..] => value.get_mut(k.as_str()).is_some_and(|v| unpin_path(v, rest)),
        [PathSeg::Index(i), rest @ ..] => value.get_mut(*i).is_some_and(|v| unpin_path(v, rest)),
    }
}

fn remove_path(value: &mut Value, path: &[PathSeg]) -> bool {
    match path {
        [] => false,
        [PathSeg::Key(k)] => value.as_object_mut().and_then(|o| o.remove(k)).is_some(),
        [PathSeg::Index(_)] => false,
        [PathSeg::Key(k), rest @ ..] => value.get_mut(k.as_str()).is_some_and(|v| remove_path(v, rest)),
        [PathSeg::Index(i), rest @ ..] => value.get_mut(*i).is_some_and(|v| remove_path(v, rest)),
    }
}

/// JSON equality with numbers compared by value (`1` = `1.0`); on inequality, the first path
/// that differs.
fn json_diff(path: &str, a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            (x.as_f64() != y.as_f64()).then(|| format!("{path}: {x} != {y}"))
        }
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                let p = format!("{path}.{k}");
                match y.get(k) {
                    Some(w) => {
                        if let Some(d) = json_diff(&p, v, w) {
                            return Some(d);
                        }
                    }
                    None => return Some(format!("{p}: only on the left ({v})")),
                }
            }
            y.iter()
                .find(|(k, _)| !x.contains_key(*k))
                .map(|(k, v)| format!("{path}.{k}: only on the right ({v})"))
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Some(format!("{path}: {} items != {} items", x.len(), y.len()));
            }
            x.iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (v, w))| json_diff(&format!("{path}[{i}]"), v, w))
        }
        _ => (a != b).then(|| format!("{path}: {a} != {b}")),
    }
}

/// The imported object's spec and name, and which kind it is.
fn spec_of(obj: &Imported) -> (&'static str, Value, Option<String>) {
    match obj {
        Imported::TaskDefinition(td) => (
            "TaskDefinition",
            serde_json::to_value(&td.spec).expect("serialise TaskDefinition spec"),
            td.metadata.name.clone(),
        ),
        Imported::Service(svc) => (
            "Service",
            serde_json::to_value(&svc.spec).expect("serialise Service spec"),
            svc.metadata.name.clone(),
        ),
        Imported::CapacityProvider(cp) => (
            "CapacityProvider",
            serde_json::to_value(&cp.spec).expect("serialise CapacityProvider spec"),
            cp.metadata.name.clone(),
        ),
        Imported::Namespace(ns) => (
            "Namespace",
            serde_json::to_value(&ns.metadata.annotations).expect("serialise annotations"),
            ns.metadata.name.clone(),
        ),
        Imported::Task(task) => (
            "Task",
            serde_json::to_value(&task.spec).expect("serialise Task spec"),
            task.metadata.name.clone(),
        ),
        Imported::ScheduledTask(st) => (
            "ScheduledTask",
            serde_json::to_value(&st.spec).expect("serialise ScheduledTask spec"),
            st.metadata.name.clone(),
        ),
        Imported::RuleTargets(_) => panic!("targets are merged into their rule before they are seen"),
    }
}

/// Asserts that `obj` is exactly `expected`: same kind, same spec (by value), same name.
fn assert_round_trip(file: &str, index: usize, obj: &Imported, expected: &Expected) {
    let (kind, spec, name) = spec_of(obj);
    let (want_kind, want_spec, want_name) = match expected {
        Expected::TaskDefinition { spec, name } => ("TaskDefinition", spec, name),
        Expected::Service { spec, name } => ("Service", spec, name),
    };
    assert_eq!(kind, want_kind, "{file} object {index}: kind");
    if let Some(diff) = json_diff("spec", want_spec, &spec) {
        panic!(
            "{file} object {index}: JSON → CR → JSON lost or changed data (left: input, right: \
             imported): {diff}\ninput:    {want_spec}\nimported: {spec}"
        );
    }
    assert_eq!(
        name.as_deref(),
        Some(want_name.as_str()),
        "{file} object {index}: metadata.name"
    );
}

/// Kubernetes' `IsDNS1123Subdomain`: at most 253 characters of
/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`.
fn is_dns1123_subdomain(name: &str) -> bool {
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-'
    };
    !name.is_empty() && name.len() <= 253 && name.split('.').all(label_ok)
}

// ---------------------------------------------------------------------------------------------
// The corpus is there
// ---------------------------------------------------------------------------------------------

#[test]
fn corpus_is_present_with_task_definitions_and_services() {
    let all = corpus_paths();
    assert!(
        all.len() >= MIN_CORPUS_FILES,
        "expected at least {MIN_CORPUS_FILES} corpus files in {}, found {}",
        support::corpus_dir().display(),
        all.len()
    );
    assert!(
        !support::corpus_files("taskdef-").is_empty(),
        "no taskdef-* files"
    );
    assert!(
        !support::corpus_files("service-").is_empty(),
        "no service-* files"
    );
    assert_eq!(cases().len(), all.len());
    // Every file of the expectation table exists, so a renamed file cannot silence it.
    for (file, _) in EXPECTED_WARNINGS {
        assert!(
            all.iter().any(|p| file_name(p) == *file),
            "{file} is in EXPECTED_WARNINGS but not in the corpus"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Diagnostics
// ---------------------------------------------------------------------------------------------

#[test]
fn every_file_imports_without_errors_and_with_exactly_the_expected_warnings() {
    let mut problems = Vec::new();
    for case in cases() {
        let errors: Vec<String> = case
            .result
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(ToString::to_string)
            .collect();
        if !errors.is_empty() {
            problems.push(format!("{}: errors:\n  {}", case.name, errors.join("\n  ")));
        }
        let mut warned: Vec<String> = case
            .result
            .diagnostics
            .iter()
            .filter(|d| !d.is_error())
            .map(|d| {
                d.field
                    .as_ref()
                    .map_or_else(|| format!("(no field: {d})"), ToString::to_string)
            })
            .collect();
        warned.sort();
        let mut expected = expected_warnings(&case.name);
        expected.sort();
        if warned != expected {
            problems.push(format!(
                "{}: warnings {warned:?}, expected {expected:?}",
                case.name
            ));
        }
        if case.result.objects.is_empty() {
            problems.push(format!("{}: no object imported", case.name));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_warning_points_at_its_key() {
    let mut checked = 0;
    for case in cases() {
        let lines: Vec<&str> = case.text.lines().collect();
        for d in case.result.diagnostics.iter().filter(|d| !d.is_error()) {
            let field = d
                .field
                .as_ref()
                .unwrap_or_else(|| panic!("warning without a field: {d}"));
            let (line, col) = d
                .position
                .unwrap_or_else(|| panic!("warning without a position: {d}"));
            let key = field
                .0
                .iter()
                .rev()
                .find_map(|s| match s {
                    PathSeg::Key(k) => Some(k.as_str()),
                    PathSeg::Index(_) => None,
                })
                .unwrap_or_else(|| panic!("warning field without a key: {d}"));
            let source = lines
                .get(line.wrapping_sub(1))
                .unwrap_or_else(|| panic!("{d}: line {line} is past the end of the file"));
            let quoted = format!("\"{key}\"");
            assert!(
                source.contains(&quoted),
                "{d}: line {line} ({source:?}) does not hold {quoted}"
            );
            let at: String = source.chars().skip(col.wrapping_sub(1)).collect();
            assert!(
                at.starts_with(&quoted),
                "{d}: column {col} of line {line} ({source:?}) is not at {quoted}"
            );
            checked += 1;
        }
    }
    let expected: usize = EXPECTED_WARNINGS.iter().map(|(_, f)| f.len()).sum();
    assert_eq!(checked, expected, "number of warnings checked");
}

// ---------------------------------------------------------------------------------------------
// Lossless round trips
// ---------------------------------------------------------------------------------------------

#[test]
fn json_to_cr_to_json_loses_nothing() {
    let mut task_definitions = 0;
    let mut services = 0;
    for case in cases() {
        let expected = expected_objects(case);
        assert_eq!(
            case.result.objects.len(),
            expected.len(),
            "{}: number of objects imported",
            case.name
        );
        if let Some(Value::Array(described)) = case.input.get("services") {
            let n = case
                .result
                .objects
                .iter()
                .filter(|o| matches!(o, Imported::Service(_)))
                .count();
            assert_eq!(
                n,
                described.len(),
                "{}: one Service per described service",
                case.name
            );
        }
        for (i, (obj, want)) in case.result.objects.iter().zip(&expected).enumerate() {
            assert_round_trip(&case.name, i, obj, want);
            match obj {
                Imported::TaskDefinition(_) => task_definitions += 1,
                Imported::Service(_) => services += 1,
                Imported::CapacityProvider(_)
                | Imported::Namespace(_)
                | Imported::Task(_)
                | Imported::ScheduledTask(_)
                | Imported::RuleTargets(_) => {}
            }
        }
    }
    assert!(
        task_definitions > 0 && services > 0,
        "{task_definitions} task definitions, {services} services"
    );
    assert_eq!(
        task_definitions + services,
        cases().iter().map(|c| c.result.objects.len()).sum::<usize>()
    );
}

#[test]
fn yaml_parses_back_into_the_same_object_with_a_valid_name() {
    for case in cases() {
        let expected = expected_objects(case);
        for (i, (obj, want)) in case.result.objects.iter().zip(&expected).enumerate() {
            let yaml = obj.to_yaml().expect("serialise to YAML");
            let name = match obj {
                Imported::TaskDefinition(td) => {
                    let back: TaskDefinition = serde_yaml_ng::from_str(&yaml).unwrap_or_else(|e| {
                        panic!("{} object {i}: YAML does not read back: {e}\n{yaml}", case.name)
                    });
                    // The root types (kube-derived) have no PartialEq: compare their parts.
                    let ctx = format!("{} object {i}: YAML round trip", case.name);
                    assert_eq!(back.metadata, td.metadata, "{ctx}: metadata");
                    assert_eq!(back.spec, td.spec, "{ctx}: spec");
                    assert_eq!(back.status, td.status, "{ctx}: status");
                    back.metadata.name
                }
                Imported::Service(svc) => {
                    let back: Service = serde_yaml_ng::from_str(&yaml).unwrap_or_else(|e| {
                        panic!("{} object {i}: YAML does not read back: {e}\n{yaml}", case.name)
                    });
                    let ctx = format!("{} object {i}: YAML round trip", case.name);
                    assert_eq!(back.metadata, svc.metadata, "{ctx}: metadata");
                    assert_eq!(back.spec, svc.spec, "{ctx}: spec");
                    assert_eq!(back.status, svc.status, "{ctx}: status");
                    back.metadata.name
                }
                Imported::CapacityProvider(cp) => {
                    let back: ecs_bridge::api::CapacityProvider = serde_yaml_ng::from_str(&yaml)
                        .unwrap_or_else(|e| panic!("{} object {i}: YAML does not read back: {e}", case.name));
                    assert_eq!(back.spec, cp.spec, "{} object {i}: spec", case.name);
                    back.metadata.name
                }
                Imported::Namespace(ns) => {
                    let back: k8s_openapi::api::core::v1::Namespace = serde_yaml_ng::from_str(&yaml)
                        .unwrap_or_else(|e| panic!("{} object {i}: YAML does not read back: {e}", case.name));
                    assert_eq!(&back, &**ns, "{} object {i}", case.name);
                    back.metadata.name
                }
                Imported::Task(task) => {
                    let back: ecs_bridge::api::Task = serde_yaml_ng::from_str(&yaml)
                        .unwrap_or_else(|e| panic!("{} object {i}: YAML does not read back: {e}", case.name));
                    assert_eq!(back.spec, task.spec, "{} object {i}: spec", case.name);
                    back.metadata.name
                }
                Imported::ScheduledTask(st) => {
                    let back: ecs_bridge::api::ScheduledTask = serde_yaml_ng::from_str(&yaml)
                        .unwrap_or_else(|e| panic!("{} object {i}: YAML does not read back: {e}", case.name));
                    assert_eq!(back.spec, st.spec, "{} object {i}: spec", case.name);
                    back.metadata.name
                }
                Imported::RuleTargets(_) => panic!("targets are merged into their rule before they are seen"),
            };
            let name = name.unwrap_or_else(|| panic!("{} object {i}: no metadata.name", case.name));
            assert!(
                is_dns1123_subdomain(&name),
                "{} object {i}: metadata.name {name:?} is not an RFC 1123 subdomain",
                case.name
            );
            let want_name = match want {
                Expected::TaskDefinition { name, .. } | Expected::Service { name, .. } => name,
            };
            assert_eq!(&name, want_name, "{} object {i}: metadata.name", case.name);
        }
    }
}

/// The `openAPIV3Schema` of each kind, from the CRDs the operator installs.
fn schemas() -> BTreeMap<String, Value> {
    all_crds()
        .into_iter()
        .map(|crd| {
            let kind = crd.spec.names.kind.clone();
            let json = serde_json::to_value(&crd).expect("serialise CRD");
            let schema = json["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone();
            assert!(schema.is_object(), "{kind}: no openAPIV3Schema");
            (kind, schema)
        })
        .collect()
}

#[test]
fn pruning_with_the_crd_schema_removes_nothing() {
    let schemas = schemas();
    let mut checked = 0;
    for case in cases() {
        for (i, obj) in case.result.objects.iter().enumerate() {
            let yaml = obj.to_yaml().expect("serialise to YAML");
            let mut value: Value = serde_yaml_ng::from_str(&yaml).expect("YAML as JSON value");
            let kind = value["kind"].as_str().expect("kind").to_owned();
            let schema = schemas
                .get(&kind)
                .unwrap_or_else(|| panic!("no CRD for kind {kind}"));
            let before = value.clone();
            let removed = support::prune::prune(&mut value, schema);
            assert!(
                removed.is_empty(),
                "{} object {i} ({kind}): pruning removed {removed:?}",
                case.name
            );
            assert_eq!(
                value, before,
                "{} object {i}: pruning changed the object",
                case.name
            );
            checked += 1;
        }
    }
    assert!(checked >= MIN_CORPUS_FILES, "only {checked} objects pruned");
}

// ---------------------------------------------------------------------------------------------
// describe-* outputs built from the corpus requests
// ---------------------------------------------------------------------------------------------

/// A plausible value for a read-only field of describe output (its value does not matter: it is
/// dropped before typing, so it only has to be there).
fn read_only_value(field: &str) -> Value {
    match field {
        "revision" | "pendingCount" | "runningCount" => json!(3),
        "compatibilities" => json!(["EC2", "FARGATE"]),
        "requiresAttributes" => json!([{"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"}]),
        "deployments" | "events" | "taskSets" | "currentServiceDeployment" | "currentServiceRevisions" => {
            json!([{"id": "ecs-svc/1234567890", "status": "PRIMARY"}])
        }
        "createdAt" | "registeredAt" | "deregisteredAt" | "deleteRequestedAt" => {
            json!("2024-05-01T12:00:00.000000+00:00")
        }
        _ => json!(format!("arn:aws:ecs:us-east-1:123456789012:{field}/example")),
    }
}

/// Every corpus task definition written as a plain request (the corpus's own describe outputs
/// are checked above) wrapped as describe-task-definition output, read-only fields added inside
/// and, when `tags` is given, tags beside it (as `aws ecs describe-task-definition --include TAGS`
/// prints them). Import must give back the request, with the tags in it.
fn check_described_task_definitions(tags: Option<&Value>) {
    let mut checked = 0;
    for case in cases() {
        let Some(request) = case.input.as_object() else {
            continue;
        };
        let plain = request.contains_key("containerDefinitions")
            && !request.contains_key("tags")
            && !TASK_DEFINITION_READ_ONLY.iter().any(|f| request.contains_key(*f))
            && expected_warnings(&case.name).is_empty();
        if !plain {
            continue;
        }
        let mut described = request.clone();
        for f in TASK_DEFINITION_READ_ONLY {
            described.insert((*f).to_owned(), read_only_value(f));
        }
        let mut doc = json!({ "taskDefinition": described });
        let mut want = Value::Object(request.clone());
        if let Some(tags) = tags {
            doc["tags"] = tags.clone();
            want["tags"] = tags.clone();
        }
        remove_nulls(&mut want);
        let text = serde_json::to_string_pretty(&doc).expect("serialise");
        let result = import_text(&case.path, &text, &ImportOptions::default());
        assert!(
            result.diagnostics.is_empty(),
            "{} as describe output: {:?}",
            case.name,
            result
                .diagnostics
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        );
        let [obj] = result.objects.as_slice() else {
            panic!(
                "{} as describe output: {} objects",
                case.name,
                result.objects.len()
            );
        };
        let family = want["family"].as_str().expect("family");
        let want = Expected::TaskDefinition {
            name: expected_name(family),
            spec: want,
        };
        assert_round_trip(&format!("{} (described)", case.name), 0, obj, &want);
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} task definitions wrapped");
}

#[test]
fn describe_task_definition_output_of_each_corpus_request_imports_as_the_request() {
    check_described_task_definitions(None);
}

#[test]
fn describe_task_definition_output_with_tags_moves_the_tags_into_the_spec() {
    check_described_task_definitions(Some(&json!([
        {"key": "team", "value": "platform"},
        {"key": "cost-center", "value": "1234"}
    ])));
}

/// All corpus services in one describe-services output (read-only fields added, `role` written as
/// `roleArn`, a `serviceName` where the file had none, as ECS always reports it): one Service per
/// described service, in order, each equal to its request.
#[test]
fn describe_services_output_of_the_corpus_services_imports_one_service_each() {
    let mut described = Vec::new();
    let mut wanted = Vec::new();
    for case in cases().iter().filter(|c| c.name.starts_with("service-")) {
        let mut request = case.input.as_object().expect("service object").clone();
        let stem = case.name.trim_end_matches(".json");
        request
            .entry("serviceName")
            .or_insert_with(|| json!(stem.replace("service-", "described-")));
        let mut want = Value::Object(request.clone());
        remove_nulls(&mut want);
        let name = expected_name(want["serviceName"].as_str().expect("serviceName"));
        wanted.push(Expected::Service { spec: want, name });
        if let Some(role) = request.remove("role") {
            request.insert("roleArn".to_owned(), role);
        }
        for f in SERVICE_READ_ONLY {
            request.insert((*f).to_owned(), read_only_value(f));
        }
        described.push(Value::Object(request));
    }
    assert!(described.len() >= 2, "need several corpus services");
    assert!(
        described.iter().any(|s| s.get("roleArn").is_some()),
        "no corpus service with a role: roleArn → role is not exercised"
    );
    let doc = json!({"services": described, "failures": []});
    let text = serde_json::to_string_pretty(&doc).expect("serialise");
    let path = support::corpus_dir().join("described-services.json");
    // (Revisions kept as written: each service must import back to its request exactly.)
    let keep = ImportOptions {
        keep_task_definition_revisions: true,
        ..ImportOptions::default()
    };
    let result = import_text(&path, &text, &keep);
    assert!(
        result.diagnostics.is_empty(),
        "{:?}",
        result
            .diagnostics
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
    let services = result
        .objects
        .iter()
        .filter(|o| matches!(o, Imported::Service(_)))
        .count();
    assert_eq!(services, described.len(), "one Service per described service");
    assert_eq!(result.objects.len(), described.len(), "only Services");
    for (i, (obj, want)) in result.objects.iter().zip(&wanted).enumerate() {
        assert_round_trip("described-services.json", i, obj, want);
    }
}

// ---------------------------------------------------------------------------------------------
// Placeholders
// ---------------------------------------------------------------------------------------------

/// Every string value in `value`, at any depth.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

#[test]
fn objects_with_placeholders_import_and_round_trip() {
    let is_template = |s: &str| s.contains("{{") && s.contains("}}");
    let is_variable = |s: &str| s.contains("${") || s.contains("$$$");
    let (mut templates, mut variables) = (Vec::new(), Vec::new());
    for case in cases() {
        let expected = expected_objects(case);
        for (i, (obj, want)) in case.result.objects.iter().zip(&expected).enumerate() {
            let (_, spec, _) = spec_of(obj);
            let mut found = Vec::new();
            strings(&spec, &mut found);
            let has_template = found.iter().any(|s| is_template(s));
            let has_variable = found.iter().any(|s| is_variable(s));
            if !(has_template || has_variable) {
                continue;
            }
            // Still the same object, placeholders included, and the YAML keeps them verbatim.
            assert_round_trip(&case.name, i, obj, want);
            let yaml: Value =
                serde_yaml_ng::from_str(&obj.to_yaml().expect("serialise to YAML")).expect("YAML as JSON");
            let mut in_yaml = Vec::new();
            strings(&yaml["spec"], &mut in_yaml);
            for s in found.iter().filter(|s| is_template(s) || is_variable(s)) {
                assert!(
                    in_yaml.contains(s),
                    "{} object {i}: placeholder {s:?} not in the YAML",
                    case.name
                );
            }
            if has_template {
                templates.push(case.name.clone());
            }
            if has_variable {
                variables.push(case.name.clone());
            }
        }
    }
    assert!(
        !templates.is_empty(),
        "no corpus object with a `{{{{ ... }}}}` placeholder"
    );
    assert!(
        !variables.is_empty(),
        "no corpus object with a `${{VAR}}` or `$$$VAR$$$` placeholder"
    );
}

// ---------------------------------------------------------------------------------------------
// The command line
// ---------------------------------------------------------------------------------------------

fn run_import(files: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ecs-bridge"))
        .arg("import")
        .args(files)
        .output()
        .expect("run ecs-bridge import")
}

/// Splits multi-document YAML as printed by `import` (`---` lines between documents).
fn documents(stdout: &str) -> Vec<String> {
    let mut docs: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for line in stdout.lines() {
        if line == "---" {
            docs.extend(current.take());
            current = Some(String::new());
        } else {
            let doc = current.get_or_insert_with(String::new);
            doc.push_str(line);
            doc.push('\n');
        }
    }
    docs.extend(current);
    docs
}

#[test]
fn cli_imports_the_whole_corpus() {
    let paths: Vec<&Path> = cases().iter().map(|c| c.path.as_path()).collect();
    let out = run_import(&paths);
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 stdout");
    let stderr = String::from_utf8(out.stderr).expect("UTF-8 stderr");
    assert_eq!(out.status.code(), Some(0), "exit code; stderr:\n{stderr}");

    let objects: Vec<&Imported> = cases().iter().flat_map(|c| &c.result.objects).collect();
    let docs = documents(&stdout);
    assert_eq!(docs.len(), objects.len(), "one YAML document per imported object");
    for (doc, obj) in docs.iter().zip(&objects) {
        let printed: Value = serde_yaml_ng::from_str(doc).expect("each document is YAML");
        let library = match obj {
            Imported::TaskDefinition(td) => serde_json::to_value(td),
            Imported::Service(svc) => serde_json::to_value(svc),
            Imported::CapacityProvider(cp) => serde_json::to_value(cp),
            Imported::Namespace(ns) => serde_json::to_value(ns),
            Imported::Task(task) => serde_json::to_value(task),
            Imported::ScheduledTask(st) => serde_json::to_value(st),
            Imported::RuleTargets(t) => serde_json::to_value(&t.targets),
        }
        .expect("serialise object");
        if let Some(diff) = json_diff("", &library, &printed) {
            panic!("CLI output differs from the library's object: {diff}");
        }
    }

    // stderr: exactly the expected warnings, one line each, `file:line:col: warning: field: ...`.
    let mut lines: Vec<&str> = stderr.lines().collect();
    lines.sort_unstable();
    let mut expected: Vec<String> = cases()
        .iter()
        .flat_map(|c| c.result.diagnostics.iter().map(ToString::to_string))
        .collect();
    expected.sort();
    assert_eq!(lines, expected, "stderr");
    let mut expected_fields: Vec<String> = EXPECTED_WARNINGS
        .iter()
        .flat_map(|(file, fields)| {
            fields.iter().map(move |f| {
                let path = support::corpus_dir().join(file);
                format!("{}: warning: {f}: ", path.display())
            })
        })
        .collect();
    expected_fields.sort();
    assert_eq!(
        lines.len(),
        expected_fields.len(),
        "number of warning lines:\n{stderr}"
    );
    for want in &expected_fields {
        let (file_part, rest) = want.split_once(": warning: ").expect("built above");
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("{file_part}:")) && l.contains(&format!(": warning: {rest}")))
            .unwrap_or_else(|| panic!("no warning line for {want}\nstderr:\n{stderr}"));
        let position = &line[file_part.len() + 1..line.find(": warning: ").expect("warning line")];
        let (l, c) = position
            .split_once(':')
            .unwrap_or_else(|| panic!("no line:col in {line}"));
        assert!(
            l.parse::<usize>().is_ok_and(|n| n > 0) && c.parse::<usize>().is_ok_and(|n| n > 0),
            "bad position in {line}"
        );
    }
}

/// A JSON file under the system temp directory, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "ecs-bridge-corpus-import-{tag}-{}-{:?}.json",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock after 1970")
                .as_nanos()
        ));
        std::fs::write(&path, text).expect("write temp file");
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn cli_reports_a_wrongly_typed_value_with_file_position_and_field() {
    let text = "{\n  \"family\": \"web\",\n  \"containerDefinitions\": [\n    {\n      \"name\": \"app\",\n      \"image\": \"nginx\",\n      \"cpu\": \"lots\"\n    }\n  ]\n}\n";
    let file = TempFile::new("bad-cpu", text);
    let out = run_import(&[&file.0]);
    let stderr = String::from_utf8(out.stderr).expect("UTF-8 stderr");
    assert_eq!(out.status.code(), Some(1), "exit code; stderr:\n{stderr}");
    // `"cpu"` is written on line 7, column 7.
    let want = format!("{}:7:7: error: containerDefinitions[0].cpu: ", file.0.display());
    assert!(
        stderr.contains(&want),
        "stderr should contain {want:?}:\n{stderr}"
    );
    assert!(stderr.contains("expected an integer"), "stderr:\n{stderr}");
    assert!(
        stderr.contains("\"lots\""),
        "stderr should quote the value:\n{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout for a file that did not import"
    );
}

#[test]
fn cli_reports_a_json_syntax_error_with_its_position() {
    // A missing comma after `"web"`: serde_json stops at the next key, line 3 column 3.
    let text = "{\n  \"family\": \"web\"\n  \"containerDefinitions\": []\n}\n";
    let file = TempFile::new("bad-syntax", text);
    let out = run_import(&[&file.0]);
    let stderr = String::from_utf8(out.stderr).expect("UTF-8 stderr");
    assert_eq!(out.status.code(), Some(1), "exit code; stderr:\n{stderr}");
    let want = format!("{}:3:3: error: ", file.0.display());
    assert!(
        stderr.contains(&want),
        "stderr should contain {want:?}:\n{stderr}"
    );
    assert!(
        stderr.contains("expected `,`"),
        "stderr should say what was expected:\n{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout for a file that did not import"
    );
}
