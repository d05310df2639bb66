//! The CRDs are valid, structural, small enough for `kubectl apply`, shaped as the design says, and
//! Kubernetes' unknown-field pruning keeps every ECS field.
//!
//! * `kubernetes-validate --strict` accepts every `crds/*.yaml` for the oldest and the newest
//!   supported Kubernetes, and rejects a deliberately broken copy;
//! * a structural-schema checker (the Kubernetes rules plus our own: no `default`, everything typed,
//!   one short description per spec field) finds no problem in any `openAPIV3Schema`;
//! * every CRD is well under the 256 KiB `last-applied-configuration` limit;
//! * names, scope, short names, category, subresources, printer columns and the status shape are as
//!   designed;
//! * pruning (`support::prune`) a realistic TaskDefinition drops nothing, and drops exactly the
//!   unknown keys that were added to it.

mod support;

/// Spec fields that hold any JSON (botocore `document` shapes), so they keep unknown fields.
const FREE_FORM_FIELDS: &[&str] =
    &[".deploymentConfiguration.properties.lifecycleHooks.items.properties.hookDetails"];

use std::{
    collections::BTreeSet,
    fmt, fs,
    path::{Path, PathBuf},
};

use ecs_bridge::api::{self, TaskDefinition, all_crds};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Value, json};
use support::prune::{prune, prune_fragment};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The committed `crds/*.yaml` files, sorted.
fn crd_files() -> Vec<PathBuf> {
    let dir = support::repo_root().join("crds");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}; run `make generate`", dir.display()))
        .map(|e| e.expect("crds/ entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        all_crds().len(),
        "one file per CRD in crds/: {files:?}"
    );
    files
}

fn crd_name(crd: &CustomResourceDefinition) -> &str {
    crd.metadata.name.as_deref().expect("CRD has a name")
}

/// The CRD of `kind`.
fn crd_of(kind: &str) -> CustomResourceDefinition {
    all_crds()
        .into_iter()
        .find(|c| c.spec.names.kind == kind)
        .unwrap_or_else(|| panic!("no CRD of kind {kind}"))
}

/// The single version's `openAPIV3Schema` as JSON.
fn open_api_schema(crd: &CustomResourceDefinition) -> Value {
    let [version] = crd.spec.versions.as_slice() else {
        panic!("{} must have exactly one version", crd_name(crd))
    };
    let schema = version
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .unwrap_or_else(|| panic!("{} has no openAPIV3Schema", crd_name(crd)));
    serde_json::to_value(schema).expect("schema serialises to JSON")
}

/// The schema node reached by following `.a.b.c` through `properties`.
fn schema_at<'a>(schema: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted
        .trim_start_matches('.')
        .split('.')
        .try_fold(schema, |node, key| node.get("properties")?.get(key))
}

fn type_of(schema: &Value) -> Option<&str> {
    schema.get("type").and_then(Value::as_str)
}

// ---------------------------------------------------------------------------------------------
// a. kubernetes-validate --strict
// ---------------------------------------------------------------------------------------------

fn validate_committed_crds(version: &str) {
    let files = crd_files();
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    if let Err(out) = support::kubernetes_validate(&paths, version) {
        panic!("kubernetes-validate --strict -k {version} rejects crds/:\n{out}");
    }
}

#[test]
fn kubernetes_validate_accepts_crds_on_oldest_supported_version() {
    validate_committed_crds(support::KUBERNETES_VERSIONS[0]);
}

#[test]
fn kubernetes_validate_accepts_crds_on_newest_version() {
    validate_committed_crds(support::KUBERNETES_VERSIONS[1]);
}

/// A scratch directory for this test process, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ecs-bridge-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The validator is not a no-op: it rejects an unknown top-level field and a missing `spec.group`.
///
/// (It does *not* reject `scope: Sideways`: the CRD's OpenAPI schema types `scope` as a plain string,
/// so the scope is asserted in `names_scope_and_subresources_are_as_designed` instead.)
#[test]
fn kubernetes_validate_rejects_broken_crds() {
    let original_path = support::repo_root().join("crds").join("tasks.ecsbridge.io.yaml");
    let original = fs::read_to_string(&original_path).expect("read crds/tasks.ecsbridge.io.yaml");
    assert!(
        original.contains("\n  group: ecsbridge.io\n"),
        "fixture assumption: spec.group line"
    );
    let tmp = TempDir::new("crd-validate");

    let control = tmp.0.join("control.yaml");
    fs::write(&control, &original).expect("write control copy");
    let unknown_field = tmp.0.join("unknown-field.yaml");
    fs::write(&unknown_field, format!("{original}notAField: true\n")).expect("write broken copy");
    let no_group = tmp.0.join("no-group.yaml");
    fs::write(
        &no_group,
        original.replace("\n  group: ecsbridge.io\n", "\n  groop: ecsbridge.io\n"),
    )
    .expect("write broken copy");

    for version in support::KUBERNETES_VERSIONS {
        support::kubernetes_validate(&[&control], version)
            .unwrap_or_else(|e| panic!("the unmodified copy must pass on {version}: {e}"));
        let err = support::kubernetes_validate(&[&unknown_field], version)
            .expect_err("an unknown top-level field must fail --strict validation");
        assert!(err.contains("notAField"), "the error names the field: {err}");
        let err = support::kubernetes_validate(&[&no_group], version)
            .expect_err("a CRD without spec.group must fail validation");
        assert!(err.contains("group"), "the error names the field: {err}");
    }
}

// ---------------------------------------------------------------------------------------------
// b. Structural schema checker
// ---------------------------------------------------------------------------------------------

/// A rule a CRD schema must follow.
///
/// The Kubernetes rules for structural schemas are those of
/// <https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema>
/// (implemented upstream in `k8s.io/apiextensions-apiserver/pkg/apiserver/schema/validation.go`);
/// `Default`, `PreserveUnknownFields`, `UntypedAdditionalProperties` and the description rules are
/// this project's design rules on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rule {
    /// A schema node is not a JSON object (or `items` is a tuple).
    NotASchema,
    /// No non-empty `type`, and neither `x-kubernetes-int-or-string` nor
    /// `x-kubernetes-preserve-unknown-fields`.
    MissingType,
    /// The root is not `type: object`.
    RootNotObject,
    /// `type: array` without `items`.
    ArrayWithoutItems,
    /// `$ref` (structural schemas are fully inlined).
    Ref,
    /// `definitions` or `$defs`.
    Definitions,
    /// `additionalProperties` together with `properties`.
    AdditionalPropertiesWithProperties,
    /// `additionalProperties` at the root.
    AdditionalPropertiesAtRoot,
    /// `anyOf`/`allOf`/`oneOf`/`not` other than the int-or-string patterns.
    Junctor,
    /// Both `x-kubernetes-int-or-string` and `x-kubernetes-preserve-unknown-fields`.
    IntOrStringWithPreserveUnknownFields,
    /// A list-map whose keys are not scalar properties of its items.
    ListMapKeys,
    /// `default` anywhere (defaults cause GitOps drift).
    Default,
    /// `nullable: true` on a node with no type.
    NullableWithoutType,
    /// `x-kubernetes-preserve-unknown-fields` under `spec` (everything must be typed).
    PreserveUnknownFields,
    /// `additionalProperties: true` under `spec` (map values must be typed).
    UntypedAdditionalProperties,
    /// A property under `spec` without a description.
    MissingDescription,
    /// A property under `spec` whose description is not one short line.
    LongDescription,
    CutDescription,
}

/// One rule violated at one JSON path of the schema.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Problem {
    path: String,
    rule: Rule,
    detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {:?}", self.path, self.rule)?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

/// Longest description allowed for a spec field: one sentence, whole (`kubectl explain` shows
/// it; a sentence cut mid-way with "..." says less than none).
const MAX_DESCRIPTION: usize = 400;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Root,
    Field,
    Item,
}

struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn report(&mut self, path: &str, rule: Rule, detail: impl Into<String>) {
        self.problems.push(Problem {
            path: path.to_owned(),
            rule,
            detail: detail.into(),
        });
    }

    /// Checks one schema node (and everything below it). `in_spec`: the node is `spec` or below it.
    fn node(&mut self, node: &Value, path: &str, level: Level, in_spec: bool) {
        let Some(obj) = node.as_object() else {
            self.report(path, Rule::NotASchema, "not a JSON object");
            return;
        };
        let flag = |name: &str| obj.get(name).and_then(Value::as_bool) == Some(true);
        let int_or_string = flag("x-kubernetes-int-or-string");
        let preserve = flag("x-kubernetes-preserve-unknown-fields");
        let ty = obj.get("type").and_then(Value::as_str).filter(|t| !t.is_empty());

        if ty.is_none() && !int_or_string && !preserve {
            self.report(path, Rule::MissingType, "");
        }
        if level == Level::Root && ty != Some("object") {
            self.report(path, Rule::RootNotObject, format!("type {ty:?}"));
        }
        if int_or_string && preserve {
            self.report(path, Rule::IntOrStringWithPreserveUnknownFields, "");
        }
        if preserve && in_spec && !FREE_FORM_FIELDS.iter().any(|f| path.ends_with(f)) {
            self.report(
                path,
                Rule::PreserveUnknownFields,
                "every spec field must be typed",
            );
        }
        // `x-kubernetes-int-or-string` stands in for `type` here exactly as in the upstream `type`
        // rule; the apiserver forbids `nullable` only inside junctors, and `nullable` on an
        // int-or-string field is what lets an explicit `null` survive pruning.
        if obj.get("nullable").and_then(Value::as_bool) == Some(true) && ty.is_none() && !int_or_string {
            self.report(path, Rule::NullableWithoutType, "");
        }
        if obj.contains_key("$ref") {
            self.report(path, Rule::Ref, "");
        }
        for key in ["definitions", "$defs"] {
            if obj.contains_key(key) {
                self.report(path, Rule::Definitions, key);
            }
        }
        if obj.contains_key("default") {
            self.report(path, Rule::Default, format!("default {}", obj["default"]));
        }
        self.junctors(obj, path, int_or_string);

        if let Some(props) = obj.get("properties") {
            if obj.contains_key("additionalProperties") {
                self.report(path, Rule::AdditionalPropertiesWithProperties, "");
            }
            match props.as_object() {
                Some(props) => {
                    for (name, child) in props {
                        let child_path = format!("{path}.properties.{name}");
                        let child_in_spec = in_spec || (level == Level::Root && name == "spec");
                        if child_in_spec {
                            self.description(child, &child_path);
                        }
                        self.node(child, &child_path, Level::Field, child_in_spec);
                    }
                }
                None => self.report(&format!("{path}.properties"), Rule::NotASchema, "not a map"),
            }
        }
        match obj.get("additionalProperties") {
            None => {}
            Some(extra) => {
                if level == Level::Root {
                    self.report(path, Rule::AdditionalPropertiesAtRoot, "");
                }
                let extra_path = format!("{path}.additionalProperties");
                match extra {
                    Value::Object(_) => self.node(extra, &extra_path, Level::Field, in_spec),
                    Value::Bool(true) if in_spec => {
                        self.report(&extra_path, Rule::UntypedAdditionalProperties, "")
                    }
                    Value::Bool(_) => {}
                    _ => self.report(&extra_path, Rule::NotASchema, "neither a schema nor a bool"),
                }
            }
        }
        match obj.get("items") {
            Some(items @ Value::Object(_)) => {
                self.node(items, &format!("{path}.items"), Level::Item, in_spec)
            }
            Some(_) => self.report(
                &format!("{path}.items"),
                Rule::NotASchema,
                "items must be one schema",
            ),
            None if ty == Some("array") => self.report(path, Rule::ArrayWithoutItems, ""),
            None => {}
        }
        if obj.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("map") {
            self.list_map(obj, path);
        }
    }

    /// Junctors are allowed only as the two int-or-string patterns of the apiserver; kube emits
    /// none for our types, so anything else is a problem.
    fn junctors(&mut self, obj: &serde_json::Map<String, Value>, path: &str, int_or_string: bool) {
        let int_or_string_any_of = json!([{ "type": "integer" }, { "type": "string" }]);
        for key in ["anyOf", "allOf", "oneOf", "not"] {
            let Some(value) = obj.get(key) else { continue };
            let allowed = int_or_string
                && match key {
                    "anyOf" => *value == int_or_string_any_of,
                    "allOf" => *value == json!([{ "anyOf": int_or_string_any_of }]),
                    _ => false,
                };
            if !allowed {
                self.report(path, Rule::Junctor, key);
            }
        }
    }

    fn list_map(&mut self, obj: &serde_json::Map<String, Value>, path: &str) {
        let keys: Vec<&str> = obj
            .get("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .map(|k| k.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if keys.is_empty() {
            self.report(
                path,
                Rule::ListMapKeys,
                "list-type map without x-kubernetes-list-map-keys",
            );
        }
        for key in keys {
            let scalar = obj
                .get("items")
                .and_then(|i| i.get("properties"))
                .and_then(|p| p.get(key))
                .and_then(type_of)
                .is_some_and(|t| !matches!(t, "object" | "array"));
            if !scalar {
                self.report(
                    path,
                    Rule::ListMapKeys,
                    format!("key {key} is not a scalar item property"),
                );
            }
        }
    }

    fn description(&mut self, node: &Value, path: &str) {
        match node.get("description").and_then(Value::as_str).map(str::trim) {
            None | Some("") => self.report(path, Rule::MissingDescription, ""),
            Some(d) if d.chars().count() > MAX_DESCRIPTION || d.contains('\n') => self.report(
                path,
                Rule::LongDescription,
                format!(
                    "{} chars, at most {MAX_DESCRIPTION} on one line: {d:?}",
                    d.chars().count()
                ),
            ),
            Some(d) if d.ends_with("...") => self.report(path, Rule::CutDescription, format!("{d:?}")),
            Some(_) => {}
        }
    }
}

/// Every problem in `schema` (a CRD version's `openAPIV3Schema`), with JSON paths, sorted.
fn structural_problems(schema: &Value) -> Vec<Problem> {
    let mut checker = Checker { problems: Vec::new() };
    checker.node(schema, "openAPIV3Schema", Level::Root, false);
    checker.problems.sort();
    checker.problems
}

/// The problems of every CRD whose rule satisfies `which`, one line each.
fn problems_in_all_crds(which: impl Fn(Rule) -> bool) -> Vec<String> {
    let mut report = Vec::new();
    for crd in all_crds() {
        for problem in structural_problems(&open_api_schema(&crd)) {
            if which(problem.rule) {
                report.push(format!("{}: {problem}", crd_name(&crd)));
            }
        }
    }
    report
}

/// Kubernetes' structural rules, plus "everything under spec is typed".
#[test]
fn every_crd_schema_is_structural_and_typed() {
    let report = problems_in_all_crds(|r| {
        !matches!(
            r,
            Rule::Default | Rule::MissingDescription | Rule::LongDescription | Rule::CutDescription
        )
    });
    assert!(
        report.is_empty(),
        "{} schema problem(s):\n{}",
        report.len(),
        report.join("\n")
    );
}

/// Defaults make the API server write fields the user never applied, which GitOps tools then
/// report as drift.
#[test]
fn no_crd_schema_has_a_default() {
    let report = problems_in_all_crds(|r| r == Rule::Default);
    assert!(
        report.is_empty(),
        "{} default(s) in the CRD schemas (a `#[serde(default)]` non-Option field emits one):\n{}",
        report.len(),
        report.join("\n")
    );
}

/// Each spec field is documented in one short sentence (the 256 KiB budget, and `kubectl explain`).
#[test]
fn every_spec_field_has_one_short_description() {
    let report = problems_in_all_crds(|r| {
        matches!(
            r,
            Rule::MissingDescription | Rule::LongDescription | Rule::CutDescription
        )
    });
    assert!(
        report.is_empty(),
        "{} description problem(s):\n{}",
        report.len(),
        report.join("\n")
    );
}

/// The checker flags every rule, at the right path, on a hand-written bad schema.
#[test]
fn structural_checker_flags_each_rule() {
    let long = "x".repeat(MAX_DESCRIPTION + 1);
    let bad = json!({
        "type": "object",
        "additionalProperties": { "type": "string" },
        "definitions": { "Thing": { "type": "string" } },
        "properties": {
            "spec": {
                "type": "object",
                "description": "The spec.",
                "properties": {
                    "untyped": { "description": "No type." },
                    "ref": { "$ref": "#/definitions/Thing", "description": "A ref." },
                    "both": {
                        "type": "object",
                        "description": "Properties and additionalProperties.",
                        "properties": { "a": { "type": "string", "description": "A." } },
                        "additionalProperties": { "type": "string" }
                    },
                    "choice": {
                        "type": "string",
                        "description": "A junctor.",
                        "oneOf": [{ "enum": ["a"] }, { "enum": ["b"] }]
                    },
                    "defaulted": { "type": "integer", "description": "Has a default.", "default": 3 },
                    "nullableNoType": { "nullable": true, "description": "Nullable without type." },
                    "anything": {
                        "type": "object",
                        "description": "Keeps unknown fields.",
                        "x-kubernetes-preserve-unknown-fields": true
                    },
                    "freeMap": {
                        "type": "object",
                        "description": "Untyped values.",
                        "additionalProperties": true
                    },
                    "undocumented": { "type": "string" },
                    "verbose": { "type": "string", "description": long },
                    "multiline": { "type": "string", "description": "One.\nTwo." },
                    "cut": { "type": "string", "description": "The upper limit on the number of your service's..." },
                    "list": { "type": "array", "description": "No items." },
                    "tuple": { "type": "array", "description": "Tuple items.", "items": [{ "type": "string" }] },
                    "keyed": {
                        "type": "array",
                        "description": "A list-map keyed by an object.",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["k"],
                        "items": {
                            "type": "object",
                            "properties": { "k": { "type": "object", "description": "Not a scalar." } }
                        }
                    },
                    "confused": {
                        "description": "Both int-or-string and preserve-unknown-fields.",
                        "x-kubernetes-int-or-string": true,
                        "x-kubernetes-preserve-unknown-fields": true
                    },
                    "badIntOrString": {
                        "description": "An int-or-string with a junctor other than the upstream patterns.",
                        "x-kubernetes-int-or-string": true,
                        "anyOf": [{ "type": "integer" }, { "type": "boolean" }]
                    },
                    "nested": {
                        "type": "object",
                        "description": "Defaults are found inside junctor-free nested items too.",
                        "properties": {
                            "items": {
                                "type": "array",
                                "description": "Items.",
                                "items": { "type": "string", "default": "x" }
                            }
                        }
                    }
                }
            },
            "status": {
                "type": "object",
                "properties": { "free": { "type": "object", "x-kubernetes-preserve-unknown-fields": true } }
            }
        }
    });
    let got: BTreeSet<(String, Rule)> = structural_problems(&bad)
        .into_iter()
        .map(|p| (p.path, p.rule))
        .collect();
    let spec = "openAPIV3Schema.properties.spec.properties";
    let expected: BTreeSet<(String, Rule)> = [
        (
            "openAPIV3Schema".to_owned(),
            Rule::AdditionalPropertiesWithProperties,
        ),
        ("openAPIV3Schema".to_owned(), Rule::AdditionalPropertiesAtRoot),
        ("openAPIV3Schema".to_owned(), Rule::Definitions),
        (format!("{spec}.untyped"), Rule::MissingType),
        (format!("{spec}.ref"), Rule::MissingType),
        (format!("{spec}.ref"), Rule::Ref),
        (format!("{spec}.both"), Rule::AdditionalPropertiesWithProperties),
        (format!("{spec}.choice"), Rule::Junctor),
        (format!("{spec}.defaulted"), Rule::Default),
        (format!("{spec}.nullableNoType"), Rule::MissingType),
        (format!("{spec}.nullableNoType"), Rule::NullableWithoutType),
        (format!("{spec}.anything"), Rule::PreserveUnknownFields),
        (
            format!("{spec}.freeMap.additionalProperties"),
            Rule::UntypedAdditionalProperties,
        ),
        (format!("{spec}.undocumented"), Rule::MissingDescription),
        (format!("{spec}.verbose"), Rule::LongDescription),
        (format!("{spec}.multiline"), Rule::LongDescription),
        (format!("{spec}.cut"), Rule::CutDescription),
        (format!("{spec}.list"), Rule::ArrayWithoutItems),
        (format!("{spec}.tuple.items"), Rule::NotASchema),
        (format!("{spec}.keyed"), Rule::ListMapKeys),
        (
            format!("{spec}.confused"),
            Rule::IntOrStringWithPreserveUnknownFields,
        ),
        (format!("{spec}.confused"), Rule::PreserveUnknownFields),
        (format!("{spec}.badIntOrString"), Rule::Junctor),
        (format!("{spec}.nested.properties.items.items"), Rule::Default),
    ]
    .into_iter()
    .collect();
    let missed: Vec<_> = expected.difference(&got).collect();
    let unexpected: Vec<_> = got.difference(&expected).collect();
    assert!(
        missed.is_empty() && unexpected.is_empty(),
        "missed: {missed:#?}\nunexpected: {unexpected:#?}"
    );

    // And it is silent on the good forms: typed fields, typed maps, the int-or-string patterns, a
    // nullable int-or-string, and preserve-unknown-fields outside spec (status.free above).
    let good = json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "description": "The spec.",
                "properties": {
                    "labels": {
                        "type": "object",
                        "description": "A typed map.",
                        "additionalProperties": { "type": "string" }
                    },
                    "cpu": { "x-kubernetes-int-or-string": true, "nullable": true, "description": "CPU." },
                    "port": {
                        "x-kubernetes-int-or-string": true,
                        "description": "Port.",
                        "anyOf": [{ "type": "integer" }, { "type": "string" }]
                    },
                    "surge": {
                        "x-kubernetes-int-or-string": true,
                        "description": "Surge.",
                        "allOf": [{ "anyOf": [{ "type": "integer" }, { "type": "string" }] }]
                    }
                }
            }
        }
    });
    assert_eq!(structural_problems(&good), Vec::new());
}

// ---------------------------------------------------------------------------------------------
// c. Size
// ---------------------------------------------------------------------------------------------

/// `kubectl apply` (client-side) stores the whole object in the
/// `kubectl.kubernetes.io/last-applied-configuration` annotation, and annotations are capped at
/// 262144 bytes in total; keep a wide margin.
const SIZE_BUDGET: usize = 200_000;

#[test]
fn every_crd_is_well_under_the_annotation_limit() {
    let mut too_big = Vec::new();
    for crd in all_crds() {
        let size = serde_json::to_vec(&crd).expect("CRD serialises to JSON").len();
        eprintln!(
            "{:<32} {size:>7} bytes compact JSON ({:.1}% of 262144)",
            crd_name(&crd),
            size as f64 * 100.0 / 262_144.0
        );
        if size >= SIZE_BUDGET {
            too_big.push(format!("{}: {size} bytes", crd_name(&crd)));
        }
    }
    assert!(
        too_big.is_empty(),
        "CRDs over the {SIZE_BUDGET}-byte budget (hard limit 262144): {too_big:?}; shorten field docs"
    );
}

// ---------------------------------------------------------------------------------------------
// d. Names and shape
// ---------------------------------------------------------------------------------------------

struct Expected {
    kind: &'static str,
    plural: &'static str,
    short_name: &'static str,
    scope: &'static str,
    scale: bool,
}

const EXPECTED: [Expected; 5] = [
    Expected {
        kind: "TaskDefinition",
        plural: "taskdefinitions",
        short_name: "taskdef",
        scope: "Namespaced",
        scale: false,
    },
    Expected {
        kind: "Service",
        plural: "services",
        short_name: "ecssvc",
        scope: "Namespaced",
        scale: true,
    },
    Expected {
        kind: "CapacityProvider",
        plural: "capacityproviders",
        short_name: "ecscp",
        scope: "Cluster",
        scale: false,
    },
    Expected {
        kind: "Task",
        plural: "tasks",
        short_name: "ecstask",
        scope: "Namespaced",
        scale: false,
    },
    Expected {
        kind: "ScheduledTask",
        plural: "scheduledtasks",
        short_name: "ecsschedule",
        scope: "Namespaced",
        scale: false,
    },
];

#[test]
fn exactly_the_five_kinds() {
    let kinds: BTreeSet<String> = all_crds().into_iter().map(|c| c.spec.names.kind).collect();
    let expected: BTreeSet<String> = EXPECTED.iter().map(|e| e.kind.to_owned()).collect();
    assert_eq!(kinds, expected);
    let short_names: Vec<String> = all_crds()
        .into_iter()
        .flat_map(|c| c.spec.names.short_names.unwrap_or_default())
        .collect();
    let unique: BTreeSet<&String> = short_names.iter().collect();
    assert_eq!(
        unique.len(),
        short_names.len(),
        "short names must be unique: {short_names:?}"
    );
}

#[test]
fn names_scope_and_subresources_are_as_designed() {
    for e in &EXPECTED {
        let crd = crd_of(e.kind);
        let names = &crd.spec.names;
        assert_eq!(crd.spec.group, api::GROUP, "{}", e.kind);
        assert_eq!(
            crd_name(&crd),
            format!("{}.{}", e.plural, api::GROUP),
            "{}",
            e.kind
        );
        assert_eq!(names.plural, e.plural, "{}", e.kind);
        assert_eq!(
            names.singular.as_deref(),
            Some(e.kind.to_lowercase().as_str()),
            "{}",
            e.kind
        );
        assert_eq!(
            names.short_names,
            Some(vec![e.short_name.to_owned()]),
            "{}",
            e.kind
        );
        assert_eq!(
            names.categories,
            Some(vec![api::CATEGORY.to_owned()]),
            "{}",
            e.kind
        );
        assert_eq!(crd.spec.scope, e.scope, "{}", e.kind);

        let [version] = crd.spec.versions.as_slice() else {
            panic!("{}: one version", e.kind)
        };
        assert_eq!(version.name, api::VERSION, "{}", e.kind);
        assert_eq!(version.name, "v1alpha1", "{}", e.kind);
        assert!(
            version.served && version.storage,
            "{}: served and storage",
            e.kind
        );

        let sub = version
            .subresources
            .as_ref()
            .unwrap_or_else(|| panic!("{}: no subresources", e.kind));
        assert!(sub.status.is_some(), "{}: status subresource", e.kind);
        match (&sub.scale, e.scale) {
            (Some(scale), true) => {
                assert_eq!(scale.spec_replicas_path, ".spec.desiredCount", "{}", e.kind);
                assert_eq!(scale.status_replicas_path, ".status.runningCount", "{}", e.kind);
                assert_eq!(
                    scale.label_selector_path.as_deref(),
                    Some(".status.selector"),
                    "{}",
                    e.kind
                );
            }
            (None, false) => {}
            (scale, _) => panic!("{}: unexpected scale subresource {scale:?}", e.kind),
        }
    }
}

/// The scale subresource points at fields the schema really has, with the right types.
#[test]
fn service_scale_paths_exist_in_the_schema() {
    let schema = open_api_schema(&crd_of("Service"));
    for (path, ty) in [
        (".spec.desiredCount", "integer"),
        (".status.runningCount", "integer"),
        (".status.selector", "string"),
    ] {
        let node = schema_at(&schema, path).unwrap_or_else(|| panic!("Service schema has no {path}"));
        assert_eq!(type_of(node), Some(ty), "Service {path}");
    }
}

#[test]
fn printer_columns_include_age_and_point_at_real_fields() {
    for e in &EXPECTED {
        let crd = crd_of(e.kind);
        let schema = open_api_schema(&crd);
        let columns = crd.spec.versions[0]
            .additional_printer_columns
            .clone()
            .unwrap_or_default();
        assert!(!columns.is_empty(), "{}: printer columns", e.kind);
        assert!(
            columns.iter().any(|c| c.name == "Age"
                && c.type_ == "date"
                && c.json_path == ".metadata.creationTimestamp"),
            "{}: an Age column on .metadata.creationTimestamp",
            e.kind
        );
        for c in &columns {
            // `.status.conditions[?(@.type=="Ready")].status` → `.status.conditions`
            let field = c.json_path.split('[').next().unwrap_or_default();
            if field.starts_with(".metadata.") {
                continue;
            }
            assert!(
                schema_at(&schema, field).is_some(),
                "{}: printer column {} points at {}, which the schema lacks",
                e.kind,
                c.name,
                c.json_path
            );
        }
    }
}

#[test]
fn every_status_has_observed_generation_and_conditions_list_map() {
    for e in &EXPECTED {
        let schema = open_api_schema(&crd_of(e.kind));
        let status = schema_at(&schema, ".status").unwrap_or_else(|| panic!("{}: no status", e.kind));
        assert_eq!(type_of(status), Some("object"), "{}: status", e.kind);

        let generation = schema_at(status, ".observedGeneration")
            .unwrap_or_else(|| panic!("{}: no status.observedGeneration", e.kind));
        assert_eq!(
            type_of(generation),
            Some("integer"),
            "{}: observedGeneration",
            e.kind
        );

        let conditions =
            schema_at(status, ".conditions").unwrap_or_else(|| panic!("{}: no status.conditions", e.kind));
        assert_eq!(type_of(conditions), Some("array"), "{}: conditions", e.kind);
        assert_eq!(
            conditions["x-kubernetes-list-type"],
            json!("map"),
            "{}: conditions list type",
            e.kind
        );
        assert_eq!(
            conditions["x-kubernetes-list-map-keys"],
            json!(["type"]),
            "{}: conditions keys",
            e.kind
        );
        let item = &conditions["items"];
        assert_eq!(
            type_of(&item["properties"]["type"]),
            Some("string"),
            "{}: condition type",
            e.kind
        );
        assert!(
            item["required"]
                .as_array()
                .is_some_and(|r| r.contains(&json!("type"))),
            "{}: a list-map key must be required",
            e.kind
        );
    }
}

// ---------------------------------------------------------------------------------------------
// e. Pruning
// ---------------------------------------------------------------------------------------------

/// A realistic TaskDefinition touching the nested shapes pruning could get wrong: maps
/// (`dockerLabels`, `logConfiguration.options`), deep objects (`linuxParameters.capabilities`,
/// `efsVolumeConfiguration.authorizationConfig`), lists of objects, and the int-or-string task
/// `cpu` (a number) and `memory` (a string).
fn realistic_task_definition() -> Value {
    json!({
        "apiVersion": "ecsbridge.io/v1alpha1",
        "kind": "TaskDefinition",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "labels": { "app.kubernetes.io/name": "web" },
            "annotations": { "example.com/owner": "team-web" }
        },
        "spec": {
            "family": "web",
            "taskRoleArn": "arn:aws:iam::123456789012:role/web-task",
            "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["EC2"],
            "cpu": 1024,
            "memory": "2 GB",
            "runtimePlatform": { "cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX" },
            "containerDefinitions": [
                {
                    "name": "web",
                    "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2",
                    "essential": true,
                    "cpu": 768,
                    "memoryReservation": 1536,
                    "command": ["bin/server", "--port", "8080"],
                    "portMappings": [
                        { "name": "http", "containerPort": 8080, "protocol": "tcp", "appProtocol": "http" },
                        { "containerPort": 9090, "hostPort": 9090, "protocol": "tcp" }
                    ],
                    "environment": [
                        { "name": "RUST_LOG", "value": "info" },
                        { "name": "LISTEN", "value": "0.0.0.0:8080" }
                    ],
                    "secrets": [
                        {
                            "name": "DATABASE_URL",
                            "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-url-AbCdEf"
                        },
                        { "name": "API_KEY", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/web/api-key" }
                    ],
                    "linuxParameters": {
                        "capabilities": { "add": ["SYS_PTRACE"], "drop": ["NET_RAW", "MKNOD"] },
                        "initProcessEnabled": true,
                        "tmpfs": [{ "containerPath": "/tmp", "size": 64, "mountOptions": ["noexec"] }]
                    },
                    "healthCheck": {
                        "command": ["CMD-SHELL", "curl -fsS http://localhost:8080/healthz || exit 1"],
                        "interval": 30,
                        "timeout": 5,
                        "retries": 3,
                        "startPeriod": 15
                    },
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {
                            "awslogs-group": "/ecs/web",
                            "awslogs-region": "us-east-1",
                            "awslogs-stream-prefix": "web",
                            "mode": "non-blocking"
                        },
                        "secretOptions": [
                            { "name": "apiKey", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/logs/key" }
                        ]
                    },
                    "dockerLabels": { "com.example.team": "web", "com.example.cost-center": "1234" },
                    "mountPoints": [{ "sourceVolume": "efs-data", "containerPath": "/data", "readOnly": false }],
                    "dependsOn": [{ "containerName": "log-router", "condition": "START" }],
                    "ulimits": [{ "name": "nofile", "softLimit": 65536, "hardLimit": 65536 }],
                    "stopTimeout": 30,
                    "readonlyRootFilesystem": true
                },
                {
                    "name": "log-router",
                    "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
                    "essential": false,
                    "memoryReservation": 64,
                    "firelensConfiguration": {
                        "type": "fluentbit",
                        "options": { "enable-ecs-log-metadata": "true" }
                    },
                    "user": "0"
                }
            ],
            "volumes": [
                {
                    "name": "efs-data",
                    "efsVolumeConfiguration": {
                        "fileSystemId": "fs-0123456789abcdef0",
                        "rootDirectory": "/",
                        "transitEncryption": "ENABLED",
                        "transitEncryptionPort": 2049,
                        "authorizationConfig": { "accessPointId": "fsap-0123456789abcdef0", "iam": "ENABLED" }
                    }
                },
                { "name": "scratch", "host": { "sourcePath": "/var/scratch" } }
            ],
            "placementConstraints": [
                { "type": "memberOf", "expression": "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]" }
            ],
            "tags": [{ "key": "team", "value": "web" }]
        },
        "status": {
            "observedGeneration": 3,
            "revision": 7,
            "status": "ACTIVE",
            "taskDefinitionArn": "web:7",
            "conditions": [{
                "type": "Ready",
                "status": "True",
                "reason": "Registered",
                "message": "revision 7 registered",
                "lastTransitionTime": "2024-05-01T12:00:00Z",
                "observedGeneration": 3
            }]
        }
    })
}

#[test]
fn realistic_task_definition_is_a_valid_task_definition() {
    // Guards the fixture: it must be something the operator itself accepts.
    let value = realistic_task_definition();
    let td: TaskDefinition = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("the fixture is not a TaskDefinition: {e}"));
    let back = serde_json::to_value(&td).expect("serialise TaskDefinition");
    assert_eq!(back["spec"]["cpu"], json!(1024), "cpu keeps its number form");
    assert_eq!(
        back["spec"]["memory"],
        json!("2 GB"),
        "memory keeps its string form"
    );
    assert_eq!(
        back["spec"], value["spec"],
        "the Rust types keep every field of the fixture's spec"
    );
}

#[test]
fn pruning_a_realistic_task_definition_changes_nothing() {
    let schema = open_api_schema(&crd_of("TaskDefinition"));
    let original = realistic_task_definition();
    let mut pruned = original.clone();
    let removed = prune(&mut pruned, &schema);
    assert_eq!(removed, Vec::<String>::new(), "pruning dropped ECS fields");
    assert_eq!(pruned, original);
}

#[test]
fn pruning_removes_exactly_the_unknown_keys() {
    let schema = open_api_schema(&crd_of("TaskDefinition"));
    let original = realistic_task_definition();
    let mut value = original.clone();
    value["spec"]["notAnEcsField"] = json!({ "nested": true });
    value["spec"]["containerDefinitions"][1]["typo"] = json!("essentail");
    // Keys of typed maps are data, not fields: they stay.
    value["spec"]["containerDefinitions"][0]["dockerLabels"]["com.example.new"] = json!("kept");

    let removed = prune(&mut value, &schema);

    assert_eq!(
        removed,
        vec![
            "spec.containerDefinitions[1].typo".to_owned(),
            "spec.notAnEcsField".to_owned()
        ]
    );
    let mut expected = original;
    expected["spec"]["containerDefinitions"][0]["dockerLabels"]["com.example.new"] = json!("kept");
    assert_eq!(value, expected);
}

#[test]
fn prune_follows_the_apiserver_rules() {
    let schema = json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "size": { "x-kubernetes-int-or-string": true },
                    "labels": { "type": "object", "additionalProperties": { "type": "string" } },
                    "byName": {
                        "type": "object",
                        "additionalProperties": { "type": "object", "properties": { "a": { "type": "string" } } }
                    },
                    "items": {
                        "type": "array",
                        "items": { "type": "object", "properties": { "name": { "type": "string" } } }
                    },
                    "raw": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": true,
                        "properties": { "known": { "type": "object", "properties": { "k": { "type": "string" } } } }
                    },
                    "thing": { "type": "object", "properties": {} }
                }
            }
        }
    });
    let mut value = json!({
        "apiVersion": "x/v1",
        "kind": "X",
        "metadata": { "name": "x" },
        "topLevel": 1,
        "spec": {
            "size": "2 GB",
            "labels": { "any.key/at-all": "v" },
            "byName": { "one": { "a": "kept", "b": "dropped" } },
            "items": [{ "name": "n", "extra": 1 }, { "name": "m" }],
            "raw": { "whatever": { "deep": [1, 2] }, "known": { "k": "v", "z": "dropped" } },
            "thing": { "x": 1 }
        }
    });
    let removed = prune(&mut value, &schema);
    assert_eq!(
        removed,
        [
            "spec.byName.one.b",
            "spec.items[0].extra",
            "spec.raw.known.z",
            "spec.thing.x",
            "topLevel",
        ]
        .map(str::to_owned)
    );
    assert_eq!(
        value,
        json!({
            "apiVersion": "x/v1",
            "kind": "X",
            "metadata": { "name": "x" },
            "spec": {
                "size": "2 GB",
                "labels": { "any.key/at-all": "v" },
                "byName": { "one": { "a": "kept" } },
                "items": [{ "name": "n" }, { "name": "m" }],
                "raw": { "whatever": { "deep": [1, 2] }, "known": { "k": "v" } },
                "thing": {}
            }
        })
    );

    // A fragment has no resource root: `kind` is an ordinary (unknown) key there.
    let spec_schema = &schema["properties"]["spec"];
    let mut spec = json!({ "kind": "X", "size": 3 });
    assert_eq!(prune_fragment(&mut spec, spec_schema), vec!["kind".to_owned()]);
    assert_eq!(spec, json!({ "size": 3 }));
}
