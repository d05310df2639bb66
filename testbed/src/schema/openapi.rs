//! The OpenAPI v3 documents (`/openapi/v3`, `/openapi/v3/<group-version>`) and `/version`.
//!
//! What kubectl (1.32 and 1.33, read in `k8s.io/kubectl` and `k8s.io/cli-runtime` v0.32.4 and
//! v0.33.1) needs from them:
//!
//! * `GET /openapi/v3` → `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=…"}}}`
//!   (`handler3.OpenAPIV3Discovery`); keys are `api/<v>` or `apis/<g>/<v>`
//!   (`openapi3.PathToGroupVersion`). A URL starting with `/openapi/v3` is fetched with its
//!   query (`?hash=`) and `Accept: application/json`.
//! * Server-side field validation (`--validate=strict`, the default): kubectl's
//!   `queryParamVerifierV3.HasSupport` looks, in the group-version document of the object's
//!   kind, for a path whose `patch` operation carries `x-kubernetes-group-version-kind` (a single
//!   object) equal to the kind, and then for a parameter with `name: fieldValidation` and
//!   `in: query` among that operation's inline `parameters`. When found, kubectl skips its own
//!   validation and sends `fieldValidation=Strict`. Otherwise (or when the document cannot be
//!   had) it falls back to `/openapi/v2` and client-side validation. For kinds missing from the
//!   documents but served by a CRD it checks Namespace's (`api/v1`) PATCH instead.
//! * `kubectl apply` on an existing object (client-side apply) computes a strategic merge patch
//!   from the document when the kind's PATCH operation has a `requestBody.content` with
//!   `application/strategic-merge-patch+json` (built-in kinds; custom resources list JSON patch,
//!   merge patch and apply patch only, so kubectl sends a merge patch) and
//!   `components.schemas` has a schema whose `x-kubernetes-group-version-kind` (a list) names
//!   the kind; it then follows `properties`, `items`, `allOf[0]` and
//!   `$ref: #/components/schemas/<name>` reading `x-kubernetes-patch-merge-key` and
//!   `x-kubernetes-patch-strategy`.
//!
//! The documents have the shape of the API server's (`openapi: 3.0.0`, per-operation inline
//! parameters, `x-kubernetes-action`, `allOf`-wrapped references), the upstream definitions
//! translated from JSON schema (`type: ["string", "null"]` → `type: string`, `#/$defs/X` →
//! `#/components/schemas/X`, the `apiVersion`/`kind` enums that kubernetes-validate adds
//! removed, `IntOrString` with `format: int-or-string`) and only the definitions reachable from
//! the served kinds. Custom resources are named like the API server names them
//! (`com.example.stable.v1.CronTab`, `…CronTabList`) with `ObjectMeta`/`ListMeta` references.
//! Responses list `application/json` only: the double serves JSON.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::{Gvk, KUBERNETES_VERSION, Schemas};

const COMPONENTS: &str = "#/components/schemas/";
const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
const API_RESOURCE_LIST: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList";
const SCALE: &str = "io.k8s.api.autoscaling.v1.Scale";
const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";

/// A resource served in a group-version document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenApiResource {
    /// Its kind.
    pub gvk: Gvk,
    /// Plural resource name, e.g. `deployments`.
    pub plural: String,
    /// Whether it lives in namespaces.
    pub namespaced: bool,
    /// Served subresources among `status` and `scale`.
    pub subresources: Vec<String>,
}

/// The `/openapi/v3` index: one entry per group-version path (`api/v1`, `apis/apps/v1`), each
/// pointing at `/openapi/v3/<path>?hash=<hash_of(path)>`.
#[must_use]
pub fn index(groups: &[String], hash_of: impl Fn(&str) -> String) -> Value {
    let paths: Map<String, Value> = groups
        .iter()
        .map(|gv| {
            let url = format!("/openapi/v3/{gv}?hash={}", hash_of(gv));
            (gv.clone(), json!({ "serverRelativeURL": url }))
        })
        .collect();
    json!({ "paths": paths })
}

/// The path of a group version in the index: `api/v1` or `apis/<group>/<version>`.
#[must_use]
pub fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// A stable hash of a document, for `?hash=` and `ETag` (the API server uses an SHA-512; any
/// value that changes with the document will do for clients).
#[must_use]
pub fn document_hash(document: &Value) -> String {
    let bytes = document.to_string();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut g: u64 = 0x8422_2325_cbf2_9ce4;
    for b in bytes.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        g = (g ^ u64::from(b))
            .wrapping_mul(0x0000_0100_0000_01b3)
            .rotate_left(7);
    }
    format!("{h:016X}{g:016X}")
}

/// The `components.schemas` name of a kind: the upstream definition name, or for a custom
/// resource the API server's `util.ToRESTFriendlyName("<group>/<version>/<Kind>")`
/// (`com.example.stable.v1.CronTab`).
#[must_use]
pub fn component_name(schemas: &Schemas, gvk: &Gvk) -> Option<String> {
    let name = schemas.definition_name(gvk)?;
    Some(if name.starts_with("crd:") {
        custom_component_name(&gvk.group, &gvk.version, &gvk.kind)
    } else {
        name.to_owned()
    })
}

fn custom_component_name(group: &str, version: &str, kind: &str) -> String {
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

/// The OpenAPI v3 document of one group version: list/read/create/replace/patch/delete(collection)
/// paths of `resources` (all of `group`/`version`), their `status` and `scale` subresources, and
/// the definitions they need. Build it once per change of the served kinds and cache it (with
/// its [`document_hash`]): translating the definitions is not free.
///
/// # Panics
/// When a resource's kind has no schema in `schemas` or a subresource is neither `status` nor
/// `scale`: serving either would be a bug of the caller.
#[must_use]
pub fn group_version_document(
    schemas: &Schemas,
    resources: &[OpenApiResource],
    group: &str,
    version: &str,
) -> Value {
    let mut doc = DocBuilder {
        schemas,
        components: BTreeMap::new(),
        pending: Vec::new(),
    };
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    let tag = tag(group, version);
    let mut paths = Map::new();
    paths.insert(
        format!("{prefix}/"),
        json!({
            "get": {
                "description": "get available resources",
                "operationId": format!("get{}APIResources", op_group(group, version)),
                "responses": responses(&[("200", "OK", Some(API_RESOURCE_LIST))]),
                "tags": [tag],
            }
        }),
    );
    doc.require(API_RESOURCE_LIST);
    for r in resources {
        doc.resource_paths(r, &prefix, &tag, &mut paths);
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": format!("v{KUBERNETES_VERSION}")},
        "paths": paths,
        "components": {"schemas": doc.finish()},
    })
}

/// `/version`: the `version.Info` of the double's Kubernetes version. `gitCommit`,
/// `gitTreeState` and `goVersion` are empty and `buildDate` is Go's default: the double is no
/// Kubernetes build.
#[must_use]
pub fn version_info() -> Value {
    let mut parts = KUBERNETES_VERSION.split('.');
    let major = parts.next().unwrap_or("1");
    let minor = parts.next().unwrap_or("0");
    let min_compat_minor = minor
        .parse::<u32>()
        .map_or_else(|_| minor.to_owned(), |m| m.saturating_sub(1).to_string());
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    json!({
        "major": major,
        "minor": minor,
        "emulationMajor": major,
        "emulationMinor": minor,
        "minCompatibilityMajor": major,
        "minCompatibilityMinor": min_compat_minor,
        "gitVersion": format!("v{KUBERNETES_VERSION}"),
        "gitCommit": "",
        "gitTreeState": "",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{arch}", std::env::consts::OS),
    })
}

/// `CoreV1`, `AppsV1`, `RbacAuthorizationV1`, `StableExampleComV1` (operation ids).
fn op_group(group: &str, version: &str) -> String {
    let group = if group.is_empty() {
        "core"
    } else {
        group.strip_suffix(".k8s.io").unwrap_or(group)
    };
    let mut out: String = group.split(['.', '-']).map(capitalize).collect();
    out.push_str(&capitalize(version));
    out
}

/// `core_v1`, `apps_v1`, `rbacAuthorization_v1` (tags).
fn tag(group: &str, version: &str) -> String {
    let camel = op_group(group, "");
    let mut chars = camel.chars();
    let lower: String = chars
        .next()
        .map(|c| c.to_ascii_lowercase())
        .into_iter()
        .chain(chars)
        .collect();
    format!("{lower}_{version}")
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase())
        .into_iter()
        .chain(chars)
        .collect()
}

fn gvk_json(gvk: &Gvk) -> Value {
    json!({"group": gvk.group, "version": gvk.version, "kind": gvk.kind})
}

fn query(name: &str, ty: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": ty, "uniqueItems": true}})
}

fn path_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": {"type": "string", "uniqueItems": true}})
}

const DRY_RUN: &str = "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed";
const FIELD_MANAGER: &str = "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.";
const FIELD_MANAGER_PATCH: &str = "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint. This field is required for apply requests (application/apply-patch) but optional for non-apply patch types (JsonPatch, MergePatch, StrategicMergePatch).";
const FIELD_VALIDATION: &str = "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.";
const FORCE: &str = "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.";

fn write_params(patch: bool) -> Vec<Value> {
    let mut params = vec![
        query("dryRun", "string", DRY_RUN),
        query(
            "fieldManager",
            "string",
            if patch { FIELD_MANAGER_PATCH } else { FIELD_MANAGER },
        ),
        query("fieldValidation", "string", FIELD_VALIDATION),
    ];
    if patch {
        params.push(query("force", "boolean", FORCE));
    }
    params
}

fn list_params(deletecollection: bool) -> Vec<Value> {
    let mut params = Vec::new();
    if !deletecollection {
        params.push(query(
            "allowWatchBookmarks",
            "boolean",
            "allowWatchBookmarks requests watch events with type \"BOOKMARK\".",
        ));
    }
    params.push(query(
        "continue",
        "string",
        "The continue option should be set when retrieving more results from the server.",
    ));
    if deletecollection {
        params.push(query("dryRun", "string", DRY_RUN));
    }
    params.push(query(
        "fieldSelector",
        "string",
        "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
    ));
    if deletecollection {
        params.extend(delete_params_tail());
    }
    params.push(query(
        "labelSelector",
        "string",
        "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
    ));
    params.push(query(
        "limit",
        "integer",
        "limit is a maximum number of responses to return for a list call.",
    ));
    if deletecollection {
        params.push(query(
            "orphanDependents",
            "boolean",
            "Deprecated: please use the PropagationPolicy.",
        ));
        params.push(query(
            "propagationPolicy",
            "string",
            "Whether and how garbage collection will be performed.",
        ));
    }
    params.push(query(
        "resourceVersion",
        "string",
        "resourceVersion sets a constraint on what resource versions a request may be served from.",
    ));
    params.push(query(
        "resourceVersionMatch",
        "string",
        "resourceVersionMatch determines how resourceVersion is applied to list calls.",
    ));
    params.push(query(
        "sendInitialEvents",
        "boolean",
        "`sendInitialEvents=true` may be set together with `watch=true`.",
    ));
    params.push(query(
        "timeoutSeconds",
        "integer",
        "Timeout for the list/watch call.",
    ));
    if !deletecollection {
        params.push(query("watch", "boolean", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion."));
    }
    params
}

fn delete_params_tail() -> Vec<Value> {
    vec![
        query(
            "gracePeriodSeconds",
            "integer",
            "The duration in seconds before the object should be deleted.",
        ),
        query(
            "ignoreStoreReadErrorWithClusterBreakingPotential",
            "boolean",
            "if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow fails with a corrupt object error.",
        ),
    ]
}

fn delete_params() -> Vec<Value> {
    let mut params = vec![query("dryRun", "string", DRY_RUN)];
    params.extend(delete_params_tail());
    params.push(query(
        "orphanDependents",
        "boolean",
        "Deprecated: please use the PropagationPolicy.",
    ));
    params.push(query(
        "propagationPolicy",
        "string",
        "Whether and how garbage collection will be performed.",
    ));
    params
}

/// `responses` with `application/json` content (plus the watch stream for lists).
fn responses(entries: &[(&str, &str, Option<&str>)]) -> Value {
    let mut out = Map::new();
    for (code, description, schema) in entries {
        let mut r = json!({"description": description});
        if let Some(schema) = schema {
            let s = json!({"schema": {"$ref": format!("{COMPONENTS}{schema}")}});
            r["content"] = json!({"application/json": s});
        }
        out.insert((*code).to_owned(), r);
    }
    out.insert("401".into(), json!({"description": "Unauthorized"}));
    Value::Object(out)
}

fn request_body(content_types: &[&str], schema: &str) -> Value {
    let s = json!({"schema": {"$ref": format!("{COMPONENTS}{schema}")}});
    let content: Map<String, Value> = content_types
        .iter()
        .map(|t| ((*t).to_owned(), s.clone()))
        .collect();
    json!({ "content": content })
}

struct DocBuilder<'a> {
    schemas: &'a Schemas,
    components: BTreeMap<String, Value>,
    pending: Vec<String>,
}

impl DocBuilder<'_> {
    fn require(&mut self, name: &str) {
        if !self.components.contains_key(name) && !self.pending.iter().any(|p| p == name) {
            self.pending.push(name.to_owned());
        }
    }

    /// Adds the kind's (and its list's) component; returns their names.
    fn kind_components(&mut self, gvk: &Gvk) -> (String, String) {
        let list_gvk = Gvk::new(&gvk.group, &gvk.version, &format!("{}List", gvk.kind));
        match self.schemas.definition_name(gvk) {
            Some(def) if def.starts_with("crd:") => {
                let name = custom_component_name(&gvk.group, &gvk.version, &gvk.kind);
                let list = custom_component_name(&gvk.group, &gvk.version, &list_gvk.kind);
                if !self.components.contains_key(&name) {
                    let schema = self
                        .schemas
                        .definitions()
                        .get(def)
                        .cloned()
                        .unwrap_or_else(|| json!({}));
                    self.components
                        .insert(name.clone(), custom_kind_schema(schema, gvk));
                    self.components
                        .insert(list.clone(), custom_list_schema(&name, &list_gvk));
                    self.require(OBJECT_META);
                    self.require(LIST_META);
                }
                (name, list)
            }
            Some(def) => {
                let def = def.to_owned();
                self.require(&def);
                let list = self
                    .schemas
                    .definition_name(&list_gvk)
                    .map_or_else(|| format!("{def}List"), str::to_owned);
                if self.schemas.definition(&list).is_some() {
                    self.require(&list);
                }
                (def, list)
            }
            None => panic!("no schema for {gvk:?}: add its CRD schema before serving it"),
        }
    }

    fn resource_paths(
        &mut self,
        r: &OpenApiResource,
        prefix: &str,
        tag: &str,
        paths: &mut Map<String, Value>,
    ) {
        let (kind_schema, list_schema) = self.kind_components(&r.gvk);
        let custom = self
            .schemas
            .definition_name(&r.gvk)
            .is_some_and(|d| d.starts_with("crd:"));
        for name in [STATUS, DELETE_OPTIONS, PATCH] {
            self.require(name);
        }
        let kind = &r.gvk.kind;
        let group = op_group(&r.gvk.group, &r.gvk.version);
        let ns = if r.namespaced { "Namespaced" } else { "" };
        let gvk = gvk_json(&r.gvk);
        let pretty = query(
            "pretty",
            "string",
            "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).",
        );
        let ns_param = path_param(
            "namespace",
            "object name and auth scope, such as for teams and projects",
        );
        let name_param = path_param("name", &format!("name of the {kind}"));
        let plural = &r.plural;
        let list_responses = {
            let mut v = responses(&[("200", "OK", Some(&list_schema))]);
            v["200"]["content"]["application/json;stream=watch"] =
                v["200"]["content"]["application/json"].clone();
            v
        };
        let patch_types: &[&str] = if custom {
            &[
                "application/apply-patch+yaml",
                "application/json-patch+json",
                "application/merge-patch+json",
            ]
        } else {
            &[
                "application/apply-patch+yaml",
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
            ]
        };
        let op = |action: &str, id: String, description: String, params: Vec<Value>, extra: Value| {
            let mut o = json!({
                "description": description,
                "operationId": id,
                "parameters": params,
                "tags": [tag],
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
            });
            if let (Some(o), Value::Object(extra)) = (o.as_object_mut(), extra) {
                o.extend(extra);
            }
            o
        };

        let collection = if r.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{plural}")
        } else {
            format!("{prefix}/{plural}")
        };
        let scoped_params = |with_name: bool| {
            let mut p = Vec::new();
            if with_name {
                p.push(name_param.clone());
            }
            if r.namespaced {
                p.push(ns_param.clone());
            }
            p.push(pretty.clone());
            p
        };

        if r.namespaced {
            let mut all = list_params(false);
            all.push(pretty.clone());
            all.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
            paths.insert(
                format!("{prefix}/{plural}"),
                json!({
                    "get": op("list", format!("list{group}{kind}ForAllNamespaces"), format!("list or watch objects of kind {kind}"), vec![], json!({"responses": list_responses})),
                    "parameters": all,
                }),
            );
        }
        paths.insert(
            collection.clone(),
            json!({
                "get": op("list", format!("list{group}{ns}{kind}"), format!("list or watch objects of kind {kind}"), list_params(false), json!({"responses": list_responses})),
                "post": op("post", format!("create{group}{ns}{kind}"), format!("create a {kind}"), write_params(false), json!({
                    "requestBody": request_body(&["*/*"], &kind_schema),
                    "responses": responses(&[("200", "OK", Some(&kind_schema)), ("201", "Created", Some(&kind_schema)), ("202", "Accepted", Some(&kind_schema))]),
                })),
                "delete": op("deletecollection", format!("deleteCollection{group}{ns}{kind}"), format!("delete collection of {kind}"), list_params(true), json!({
                    "requestBody": request_body(&["*/*"], DELETE_OPTIONS),
                    "responses": responses(&[("200", "OK", Some(STATUS))]),
                })),
                "parameters": scoped_params(false),
            }),
        );
        paths.insert(
            format!("{collection}/{{name}}"),
            json!({
                "get": op("get", format!("read{group}{ns}{kind}"), format!("read the specified {kind}"), vec![], json!({"responses": responses(&[("200", "OK", Some(&kind_schema))])})),
                "put": op("put", format!("replace{group}{ns}{kind}"), format!("replace the specified {kind}"), write_params(false), json!({
                    "requestBody": request_body(&["*/*"], &kind_schema),
                    "responses": responses(&[("200", "OK", Some(&kind_schema)), ("201", "Created", Some(&kind_schema))]),
                })),
                "patch": op("patch", format!("patch{group}{ns}{kind}"), format!("partially update the specified {kind}"), write_params(true), json!({
                    "requestBody": request_body(patch_types, PATCH),
                    "responses": responses(&[("200", "OK", Some(&kind_schema)), ("201", "Created", Some(&kind_schema))]),
                })),
                "delete": op("delete", format!("delete{group}{ns}{kind}"), format!("delete a {kind}"), delete_params(), json!({
                    "requestBody": request_body(&["*/*"], DELETE_OPTIONS),
                    "responses": responses(&[("200", "OK", Some(STATUS)), ("202", "Accepted", Some(STATUS))]),
                })),
                "parameters": scoped_params(true),
            }),
        );
        for sub in &r.subresources {
            let (schema, sub_gvk) = match sub.as_str() {
                "status" => (kind_schema.clone(), gvk.clone()),
                "scale" => {
                    self.require(SCALE);
                    (
                        SCALE.to_owned(),
                        gvk_json(&Gvk::new("autoscaling", "v1", "Scale")),
                    )
                }
                other => panic!("unsupported subresource {other:?}: the double serves status and scale"),
            };
            let suffix = capitalize(sub);
            let sub_op = |action: &str, verb: &str, description: String, params: Vec<Value>, extra: Value| {
                let mut o = op(
                    action,
                    format!("{verb}{group}{ns}{kind}{suffix}"),
                    description,
                    params,
                    extra,
                );
                o["x-kubernetes-group-version-kind"] = sub_gvk.clone();
                o
            };
            paths.insert(
                format!("{collection}/{{name}}/{sub}"),
                json!({
                    "get": sub_op("get", "read", format!("read {sub} of the specified {kind}"), vec![], json!({"responses": responses(&[("200", "OK", Some(&schema))])})),
                    "put": sub_op("put", "replace", format!("replace {sub} of the specified {kind}"), write_params(false), json!({
                        "requestBody": request_body(&["*/*"], &schema),
                        "responses": responses(&[("200", "OK", Some(&schema)), ("201", "Created", Some(&schema))]),
                    })),
                    "patch": sub_op("patch", "patch", format!("partially update {sub} of the specified {kind}"), write_params(true), json!({
                        "requestBody": request_body(patch_types, PATCH),
                        "responses": responses(&[("200", "OK", Some(&schema)), ("201", "Created", Some(&schema))]),
                    })),
                    "parameters": scoped_params(true),
                }),
            );
        }
    }

    /// Translates every pending upstream definition and what it references.
    fn finish(mut self) -> Map<String, Value> {
        // References from custom resource schemas (ObjectMeta, ListMeta) were queued already.
        while let Some(name) = self.pending.pop() {
            if self.components.contains_key(&name) {
                continue;
            }
            let Some(def) = self.schemas.definition(&name) else {
                continue;
            };
            let mut refs = BTreeSet::new();
            let mut translated = translate(def.raw(), &mut refs);
            tidy_upstream(&name, &mut translated);
            self.components.insert(name, translated);
            for r in refs {
                self.require(&r);
            }
        }
        self.components.into_iter().collect()
    }
}

/// JSON schema (upstream definitions) → OpenAPI 3.0 schema; collects referenced definitions.
fn translate(schema: &Value, refs: &mut BTreeSet<String>) -> Value {
    let Some(obj) = schema.as_object() else {
        return schema.clone();
    };
    let mut out = Map::new();
    let mut reference = None;
    for (k, v) in obj {
        match k.as_str() {
            "$ref" => {
                let target = v
                    .as_str()
                    .and_then(|r| r.rsplit('/').next())
                    .unwrap_or_default()
                    .to_owned();
                refs.insert(target.clone());
                reference = Some(format!("{COMPONENTS}{target}"));
            }
            "type" => {
                let t = match v {
                    Value::Array(ts) => ts.iter().find(|t| t.as_str() != Some("null")).cloned(),
                    other => Some(other.clone()),
                };
                if let Some(t) = t {
                    out.insert(k.clone(), t);
                }
            }
            "properties" | "patternProperties" => {
                let props = v.as_object().map(|m| {
                    m.iter()
                        .map(|(p, s)| (p.clone(), translate(s, refs)))
                        .collect::<Map<_, _>>()
                });
                out.insert(k.clone(), props.map_or_else(|| v.clone(), Value::Object));
            }
            "items" | "additionalProperties" | "not" => {
                out.insert(
                    k.clone(),
                    if v.is_object() {
                        translate(v, refs)
                    } else {
                        v.clone()
                    },
                );
            }
            "allOf" | "anyOf" | "oneOf" => {
                let alternatives = v
                    .as_array()
                    .map(|a| a.iter().map(|s| translate(s, refs)).collect::<Vec<_>>());
                out.insert(k.clone(), alternatives.map_or_else(|| v.clone(), Value::Array));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    match reference {
        // OpenAPI 3.0 ignores siblings of `$ref`: the API server wraps the reference in `allOf`.
        Some(r) if out.is_empty() => json!({"$ref": r}),
        Some(r) => {
            out.insert("allOf".into(), json!([{"$ref": r}]));
            Value::Object(out)
        }
        None => Value::Object(out),
    }
}

/// Undoes kubernetes-validate's additions so the definitions look like the API server's.
fn tidy_upstream(name: &str, schema: &mut Value) {
    if schema.get("x-kubernetes-group-version-kind").is_some()
        && let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut)
    {
        for k in ["apiVersion", "kind"] {
            if let Some(p) = props.get_mut(k).and_then(Value::as_object_mut) {
                p.remove("enum");
            }
        }
    }
    if name == INT_OR_STRING {
        schema["format"] = json!("int-or-string");
        schema["oneOf"] = json!([{"type": "integer"}, {"type": "string"}]);
    }
}

const API_VERSION_DESCRIPTION: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DESCRIPTION: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const METADATA_DESCRIPTION: &str = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

fn object_meta_ref() -> Value {
    json!({"allOf": [{"$ref": format!("{COMPONENTS}{OBJECT_META}")}], "description": METADATA_DESCRIPTION})
}

/// The API server's `buildKubeNative`: the CRD schema plus TypeMeta, ObjectMeta and the
/// properties of embedded resources.
fn custom_kind_schema(mut schema: Value, gvk: &Gvk) -> Value {
    if !schema.is_object() {
        schema = json!({});
    }
    add_embedded_properties(&mut schema);
    if schema.get("type").is_none() {
        schema["type"] = json!("object");
    }
    if !schema.get("properties").is_some_and(Value::is_object) {
        schema["properties"] = json!({});
    }
    schema["properties"]["apiVersion"] = json!({"description": API_VERSION_DESCRIPTION, "type": "string"});
    schema["properties"]["kind"] = json!({"description": KIND_DESCRIPTION, "type": "string"});
    schema["properties"]["metadata"] = object_meta_ref();
    schema["x-kubernetes-group-version-kind"] = json!([gvk_json(gvk)]);
    schema
}

fn add_embedded_properties(schema: &mut Value) {
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for v in props.values_mut() {
            add_embedded_properties(v);
        }
    }
    for k in ["items", "additionalProperties"] {
        if let Some(v) = schema.get_mut(k).filter(|v| v.is_object()) {
            add_embedded_properties(v);
        }
    }
    if schema
        .get("x-kubernetes-embedded-resource")
        .and_then(Value::as_bool)
        == Some(true)
    {
        if !schema.get("properties").is_some_and(Value::is_object) {
            schema["properties"] = json!({});
        }
        schema["properties"]["apiVersion"] = json!({"description": "apiVersion defines the versioned schema of this representation of an object. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources", "type": "string"});
        schema["properties"]["kind"] = json!({"description": "kind is a string value representing the type of this object. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds", "type": "string"});
        schema["properties"]["metadata"] = object_meta_ref();
        let mut required: Vec<Value> = schema
            .get("required")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for k in ["kind", "apiVersion"] {
            if !required.iter().any(|r| r == k) {
                required.push(json!(k));
            }
        }
        schema["required"] = Value::Array(required);
    }
}

/// The API server's `buildListSchema`.
fn custom_list_schema(item: &str, list_gvk: &Gvk) -> Value {
    let kind = list_gvk.kind.trim_end_matches("List");
    json!({
        "description": format!("{} is a list of {kind}", list_gvk.kind),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"description": API_VERSION_DESCRIPTION, "type": "string"},
            "items": {
                "description": "List of objects. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md",
                "type": "array",
                "items": {"$ref": format!("{COMPONENTS}{item}")},
            },
            "kind": {"description": KIND_DESCRIPTION, "type": "string"},
            "metadata": {
                "allOf": [{"$ref": format!("{COMPONENTS}{LIST_META}")}],
                "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
            },
        },
        "x-kubernetes-group-version-kind": [gvk_json(list_gvk)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` in the document resolves inside it, and no JSON-schema-only construct is left.
    fn assert_self_contained(doc: &Value) {
        fn walk(v: &Value, schemas: &Map<String, Value>, at: &str) {
            match v {
                Value::Object(m) => {
                    if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                        let name = r
                            .strip_prefix(COMPONENTS)
                            .unwrap_or_else(|| panic!("{at}: foreign $ref {r}"));
                        assert!(schemas.contains_key(name), "{at}: dangling $ref {r}");
                    }
                    if let Some(t) = m.get("type") {
                        // A property named `type` is an object; a JSON schema type list is an array.
                        assert!(!t.is_array(), "{at}: type {t}");
                    }
                    for (k, v) in m {
                        walk(v, schemas, &format!("{at}/{k}"));
                    }
                }
                Value::Array(a) => a.iter().for_each(|v| walk(v, schemas, at)),
                _ => {}
            }
        }
        let schemas = doc["components"]["schemas"]
            .as_object()
            .expect("components.schemas");
        walk(doc, schemas, "");
    }

    #[test]
    fn index_points_at_hashed_group_version_documents() {
        let idx = index(&["api/v1".to_owned(), "apis/apps/v1".to_owned()], |gv| {
            format!("H{}", gv.len())
        });
        assert_eq!(
            idx,
            json!({"paths": {
                "api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=H6"},
                "apis/apps/v1": {"serverRelativeURL": "/openapi/v3/apis/apps/v1?hash=H12"},
            }})
        );
        assert_eq!(group_version_path("", "v1"), "api/v1");
        assert_eq!(group_version_path("apps", "v1"), "apis/apps/v1");
    }

    #[test]
    fn built_in_document_has_what_kubectl_looks_for() {
        let schemas = Schemas::upstream();
        let deployments = OpenApiResource {
            gvk: Gvk::new("apps", "v1", "Deployment"),
            plural: "deployments".into(),
            namespaced: true,
            subresources: vec!["status".into(), "scale".into()],
        };
        let doc = group_version_document(&schemas, &[deployments], "apps", "v1");
        assert_self_contained(&doc);
        let item = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"];
        let patch = &item["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"],
            json!({"group": "apps", "version": "v1", "kind": "Deployment"})
        );
        assert_eq!(patch["operationId"], "patchAppsV1NamespacedDeployment");
        let names: Vec<(&str, &str)> = patch["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .map(|p| (p["name"].as_str().unwrap_or(""), p["in"].as_str().unwrap_or("")))
            .collect();
        assert_eq!(
            names,
            vec![
                ("dryRun", "query"),
                ("fieldManager", "query"),
                ("fieldValidation", "query"),
                ("force", "query")
            ]
        );
        assert!(
            patch["requestBody"]["content"]
                .get("application/strategic-merge-patch+json")
                .is_some()
        );
        assert!(
            item["put"]["parameters"]
                .as_array()
                .expect("params")
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert!(
            doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]["post"]["parameters"]
                .as_array()
                .expect("post params")
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        let scale_patch =
            &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"];
        assert_eq!(scale_patch["x-kubernetes-group-version-kind"]["kind"], "Scale");
        assert!(doc["paths"].get("/apis/apps/v1/deployments").is_some());

        let components = doc["components"]["schemas"].as_object().expect("schemas");
        let deployment = &components["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            deployment["x-kubernetes-group-version-kind"],
            json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
        );
        assert_eq!(deployment["type"], "object");
        assert!(deployment["properties"]["kind"].get("enum").is_none());
        assert_eq!(
            deployment["properties"]["spec"]["allOf"],
            json!([{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}])
        );
        let containers = &components["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(
            containers["items"],
            json!({"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"})
        );
        assert_eq!(components[INT_OR_STRING]["format"], "int-or-string");
        for needed in [
            OBJECT_META,
            "io.k8s.api.apps.v1.DeploymentList",
            SCALE,
            STATUS,
            DELETE_OPTIONS,
            PATCH,
            LIST_META,
        ] {
            assert!(components.contains_key(needed), "{needed} missing");
        }
        // Only what Deployments reach: no Pods, no Services, no CRDs.
        for absent in [
            "io.k8s.api.core.v1.Pod",
            "io.k8s.api.core.v1.Service",
            "io.k8s.api.batch.v1.Job",
        ] {
            assert!(!components.contains_key(absent), "{absent} should not be there");
        }
        assert!(!doc.to_string().contains("#/$defs/"));
    }

    #[test]
    fn custom_resource_document_is_named_like_the_api_server_names_it() {
        let mut schemas = (*Schemas::upstream()).clone();
        let gvk = Gvk::new("stable.example.com", "v1", "CronTab");
        schemas.add_custom(
            &gvk,
            json!({"type": "object", "properties": {
                "spec": {"type": "object", "properties": {
                    "cronSpec": {"type": "string"},
                    "template": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}
                }}
            }}),
        );
        let resource = OpenApiResource {
            gvk: gvk.clone(),
            plural: "crontabs".into(),
            namespaced: true,
            subresources: vec!["status".into()],
        };
        let doc = group_version_document(&schemas, &[resource], "stable.example.com", "v1");
        assert_self_contained(&doc);
        assert_eq!(
            component_name(&schemas, &gvk).as_deref(),
            Some("com.example.stable.v1.CronTab")
        );
        let c = &doc["components"]["schemas"]["com.example.stable.v1.CronTab"];
        assert_eq!(
            c["x-kubernetes-group-version-kind"],
            json!([{"group": "stable.example.com", "version": "v1", "kind": "CronTab"}])
        );
        assert_eq!(
            c["properties"]["metadata"]["allOf"][0]["$ref"],
            format!("{COMPONENTS}{OBJECT_META}")
        );
        let template = &c["properties"]["spec"]["properties"]["template"];
        assert_eq!(template["required"], json!(["kind", "apiVersion"]));
        assert!(
            doc["components"]["schemas"]
                .get("com.example.stable.v1.CronTabList")
                .is_some()
        );
        let patch =
            &doc["paths"]["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"]["patch"];
        assert_eq!(patch["operationId"], "patchStableExampleComV1NamespacedCronTab");
        assert!(
            patch["requestBody"]["content"]
                .get("application/strategic-merge-patch+json")
                .is_none()
        );
        assert!(
            patch["parameters"]
                .as_array()
                .expect("params")
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert!(
            doc["paths"]
                .get("/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}/status")
                .is_some()
        );
    }

    #[test]
    fn version_is_the_served_kubernetes_version() {
        let v = version_info();
        assert_eq!(v["gitVersion"], "v1.33.0");
        assert_eq!(v["major"], "1");
        assert_eq!(v["minor"], "33");
        assert_eq!(v["minCompatibilityMinor"], "32");
        assert!(v["platform"].as_str().is_some_and(|p| p.contains('/')));
    }
}
