//! Schemas of every kind the double serves: the upstream Kubernetes definitions (as shipped by
//! the `kubernetes-validate` PyPI package, which copies them from the Kubernetes OpenAPI spec with
//! their `x-kubernetes-*` extensions) and the schemas of installed CRDs.
//!
//! They drive strict field validation, unknown-field pruning of custom resources, strategic
//! merge patch (`x-kubernetes-patch-merge-key`), server-side apply list semantics
//! (`x-kubernetes-list-type`) and the OpenAPI documents `kubectl` downloads.

pub mod nav;
pub mod openapi;
pub mod prune;
pub mod validate;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
    sync::{Arc, OnceLock},
};

use serde_json::{Map, Value};

pub use nav::Node;

/// The Kubernetes version whose built-in schemas the double serves (k8s-openapi's `v1_33`).
pub const KUBERNETES_VERSION: &str = "1.33.0";

/// A group, version and kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Gvk {
    /// API group (`""` for the core group).
    pub group: String,
    /// Version, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `Deployment`.
    pub kind: String,
}

impl Gvk {
    /// Builds a GVK.
    #[must_use]
    pub fn new(group: &str, version: &str, kind: &str) -> Self {
        Self {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
        }
    }

    /// `apiVersion` as written in objects: `v1` or `apps/v1`.
    #[must_use]
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// Definitions by name (`io.k8s.api.apps.v1.Deployment`, or `crd:<group>/<version>/<Kind>` for
/// custom resources), each a JSON schema whose `$ref`s point at `#/$defs/<name>`.
#[derive(Debug, Clone, Default)]
pub struct Schemas {
    defs: Map<String, Value>,
    by_gvk: BTreeMap<Gvk, String>,
}

impl Schemas {
    /// The upstream definitions, loaded once per process.
    ///
    /// # Panics
    /// When the definitions cannot be found or parsed: the double cannot be faithful without
    /// them, so it refuses to start (install them with `pip install kubernetes-validate`).
    #[must_use]
    pub fn upstream() -> Arc<Schemas> {
        static UPSTREAM: OnceLock<Arc<Schemas>> = OnceLock::new();
        UPSTREAM
            .get_or_init(|| {
                let path = definitions_path();
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("reading Kubernetes definitions {}: {e}", path.display()));
                let mut doc: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("parsing Kubernetes definitions {}: {e}", path.display()));
                let key = if doc.get("$defs").is_some() {
                    "$defs"
                } else {
                    "definitions"
                };
                let defs = match doc.get_mut(key) {
                    Some(Value::Object(m)) => std::mem::take(m),
                    _ => panic!("{} has no $defs", path.display()),
                };
                Arc::new(Schemas::from_defs(defs))
            })
            .clone()
    }

    /// Schemas from a map of definitions.
    #[must_use]
    pub fn from_defs(defs: Map<String, Value>) -> Self {
        let mut by_gvk = BTreeMap::new();
        for (name, def) in &defs {
            for gvk in def
                .get("x-kubernetes-group-version-kind")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let field = |k: &str| gvk.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                by_gvk.insert(
                    Gvk {
                        group: field("group"),
                        version: field("version"),
                        kind: field("kind"),
                    },
                    name.clone(),
                );
            }
        }
        Self { defs, by_gvk }
    }

    /// Adds (or replaces) the schema of a custom resource kind; `schema` is the CRD version's
    /// `openAPIV3Schema` (structural, no `$ref`s).
    pub fn add_custom(&mut self, gvk: &Gvk, schema: Value) {
        let name = format!("crd:{}/{}/{}", gvk.group, gvk.version, gvk.kind);
        self.defs.insert(name.clone(), schema);
        self.by_gvk.insert(gvk.clone(), name);
    }

    /// Removes a custom resource kind.
    pub fn remove_custom(&mut self, gvk: &Gvk) {
        if let Some(name) = self.by_gvk.remove(gvk) {
            self.defs.remove(&name);
        }
    }

    /// The schema of a kind.
    #[must_use]
    pub fn kind(&self, gvk: &Gvk) -> Option<Node<'_>> {
        let name = self.by_gvk.get(gvk)?;
        self.defs.get(name).map(|v| Node::new(&self.defs, v))
    }

    /// The definition name of a kind.
    #[must_use]
    pub fn definition_name(&self, gvk: &Gvk) -> Option<&str> {
        self.by_gvk.get(gvk).map(String::as_str)
    }

    /// A definition by name.
    #[must_use]
    pub fn definition(&self, name: &str) -> Option<Node<'_>> {
        self.defs.get(name).map(|v| Node::new(&self.defs, v))
    }

    /// Every definition (name → schema), for the OpenAPI documents.
    #[must_use]
    pub fn definitions(&self) -> &Map<String, Value> {
        &self.defs
    }

    /// Every kind with a schema.
    pub fn kinds(&self) -> impl Iterator<Item = &Gvk> {
        self.by_gvk.keys()
    }
}

/// Where `_definitions.json` is: `$TESTBED_K8S_DEFINITIONS`, else inside the installed
/// `kubernetes_validate` package (found with `$PYTHON`, default `python3`).
fn definitions_path() -> PathBuf {
    if let Some(p) = std::env::var_os("TESTBED_K8S_DEFINITIONS") {
        return PathBuf::from(p);
    }
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let out = Command::new(&python)
        .args([
            "-c",
            "import kubernetes_validate, os; print(os.path.dirname(kubernetes_validate.__file__))",
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python} to find kubernetes-validate: {e}"));
    assert!(
        out.status.success(),
        "kubernetes-validate is not installed ({}); pip install -r requirements-dev.txt",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    dir.join("kubernetes-json-schema")
        .join(format!("v{KUBERNETES_VERSION}-local"))
        .join("_definitions.json")
}

/// Whether `path` holds a definitions file (for callers that want to check before starting).
#[must_use]
pub fn definitions_exist(path: &Path) -> bool {
    path.join("_definitions.json").exists()
}
