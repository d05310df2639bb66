//! The resource types the double serves: a table of built-in kinds plus the kinds of installed
//! CRDs. This is what discovery (`/api`, `/apis/...`) reports and how URLs map to kinds.
//!
//! Built-in entries follow `kubectl api-resources` of Kubernetes 1.33 (plural, short names,
//! categories, scope, subresources); see https://kubernetes.io/docs/reference/kubernetes-api/.

use serde_json::Value;

use crate::schema::Gvk;

/// Where the scale subresource reads and writes replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalePaths {
    /// JSON path of the desired replicas, e.g. `.spec.replicas`.
    pub spec_replicas: String,
    /// JSON path of the observed replicas, e.g. `.status.replicas`.
    pub status_replicas: String,
    /// JSON path of the label selector string, if any.
    pub label_selector: Option<String>,
}

/// One resource type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    /// Group, version and kind.
    pub gvk: Gvk,
    /// Plural resource name (`deployments`).
    pub plural: String,
    /// Singular name (`deployment`).
    pub singular: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Short names (`deploy`).
    pub short_names: Vec<String>,
    /// Categories (`all`).
    pub categories: Vec<String>,
    /// Whether `/status` exists (writes to the main resource then ignore `status`).
    pub status_subresource: bool,
    /// The scale subresource, if any.
    pub scale: Option<ScalePaths>,
    /// Whether the API server maintains `metadata.generation` for this kind.
    pub has_generation: bool,
    /// Whether this kind comes from a CRD.
    pub custom: bool,
    /// Printer columns of a CRD version (`additionalPrinterColumns`), for `kubectl get`.
    pub printer_columns: Vec<Value>,
}

impl ResourceType {
    /// `deployments.apps` (or `pods` for the core group), as used in error messages.
    #[must_use]
    pub fn qualified(&self) -> String {
        if self.gvk.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.gvk.group)
        }
    }

    /// `Deployment.apps` (or `ConfigMap` for the core group), as 422 Invalid messages name the
    /// kind.
    #[must_use]
    pub fn qualified_kind(&self) -> String {
        if self.gvk.group.is_empty() {
            self.gvk.kind.clone()
        } else {
            format!("{}.{}", self.gvk.kind, self.gvk.group)
        }
    }

    /// The URL prefix of this type's group version: `/api/v1` or `/apis/apps/v1`.
    #[must_use]
    pub fn group_version_path(&self) -> String {
        if self.gvk.group.is_empty() {
            format!("/api/{}", self.gvk.version)
        } else {
            format!("/apis/{}/{}", self.gvk.group, self.gvk.version)
        }
    }
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    categories: &'static [&'static str],
    status: bool,
    scale: bool,
    generation: bool,
}

#[allow(clippy::too_many_arguments)] // a table row builder: one argument per column
const fn b(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    categories: &'static [&'static str],
    flags: (bool, bool, bool),
) -> Builtin {
    Builtin {
        group,
        version,
        kind,
        plural,
        namespaced,
        short,
        categories,
        status: flags.0,
        scale: flags.1,
        generation: flags.2,
    }
}

/// (status, scale, generation)
const NONE: (bool, bool, bool) = (false, false, false);
const STATUS: (bool, bool, bool) = (true, false, false);
const STATUS_GEN: (bool, bool, bool) = (true, false, true);
const SCALE_GEN: (bool, bool, bool) = (true, true, true);
const GEN: (bool, bool, bool) = (false, false, true);

const BUILTINS: &[Builtin] = &[
    b("", "v1", "Pod", "pods", true, &["po"], &["all"], STATUS),
    b("", "v1", "Service", "services", true, &["svc"], &["all"], STATUS),
    b("", "v1", "Node", "nodes", false, &["no"], &[], STATUS),
    b("", "v1", "Namespace", "namespaces", false, &["ns"], &[], STATUS),
    b("", "v1", "ConfigMap", "configmaps", true, &["cm"], &[], NONE),
    b("", "v1", "Secret", "secrets", true, &[], &[], NONE),
    b(
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        true,
        &["sa"],
        &[],
        NONE,
    ),
    b("", "v1", "Event", "events", true, &["ev"], &[], NONE),
    b("", "v1", "PodTemplate", "podtemplates", true, &[], &[], NONE),
    b("", "v1", "Endpoints", "endpoints", true, &["ep"], &[], NONE),
    b(
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        false,
        &["pv"],
        &[],
        STATUS,
    ),
    b(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
        &["pvc"],
        &[],
        STATUS,
    ),
    b(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        true,
        &["deploy"],
        &["all"],
        SCALE_GEN,
    ),
    b(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        true,
        &["rs"],
        &["all"],
        SCALE_GEN,
    ),
    b(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        true,
        &["sts"],
        &["all"],
        SCALE_GEN,
    ),
    b(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        true,
        &["ds"],
        &["all"],
        STATUS_GEN,
    ),
    b(
        "apps",
        "v1",
        "ControllerRevision",
        "controllerrevisions",
        true,
        &[],
        &[],
        NONE,
    ),
    b("batch", "v1", "Job", "jobs", true, &[], &["all"], STATUS_GEN),
    b(
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        true,
        &["cj"],
        &["all"],
        STATUS_GEN,
    ),
    b(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
        &["hpa"],
        &["all"],
        STATUS_GEN,
    ),
    b(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
        &["pdb"],
        &[],
        STATUS_GEN,
    ),
    b(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
        &["netpol"],
        &[],
        GEN,
    ),
    b(
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        true,
        &[],
        &[],
        NONE,
    ),
    b("events.k8s.io", "v1", "Event", "events", true, &["ev"], &[], NONE),
    b(
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        "priorityclasses",
        false,
        &["pc"],
        &[],
        NONE,
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "Role",
        "roles",
        true,
        &[],
        &[],
        NONE,
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        true,
        &[],
        &[],
        NONE,
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        false,
        &[],
        &[],
        NONE,
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
        &[],
        &[],
        NONE,
    ),
    b(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
        &["crd", "crds"],
        &["api-extensions"],
        STATUS_GEN,
    ),
];

/// All served resource types.
#[derive(Debug, Clone)]
pub struct Registry {
    types: Vec<ResourceType>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Registry {
    /// The built-in kinds.
    #[must_use]
    pub fn builtin() -> Self {
        let types = BUILTINS
            .iter()
            .map(|b| ResourceType {
                gvk: Gvk::new(b.group, b.version, b.kind),
                plural: b.plural.to_owned(),
                singular: b.kind.to_ascii_lowercase(),
                namespaced: b.namespaced,
                short_names: b.short.iter().map(|s| (*s).to_owned()).collect(),
                categories: b.categories.iter().map(|s| (*s).to_owned()).collect(),
                status_subresource: b.status,
                scale: b.scale.then(|| ScalePaths {
                    spec_replicas: ".spec.replicas".to_owned(),
                    status_replicas: ".status.replicas".to_owned(),
                    label_selector: Some(".status.selector".to_owned()),
                }),
                has_generation: b.generation,
                custom: false,
                printer_columns: Vec::new(),
            })
            .collect();
        Self { types }
    }

    /// Every type.
    #[must_use]
    pub fn types(&self) -> &[ResourceType] {
        &self.types
    }

    /// The type served at `group`/`version` under `plural`.
    #[must_use]
    pub fn by_plural(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|t| t.gvk.group == group && t.gvk.version == version && t.plural == plural)
    }

    /// The type of a kind.
    #[must_use]
    pub fn by_gvk(&self, gvk: &Gvk) -> Option<&ResourceType> {
        self.types.iter().find(|t| &t.gvk == gvk)
    }

    /// The type of `apiVersion` + `kind` as written in an object.
    #[must_use]
    pub fn by_api_version_kind(&self, api_version: &str, kind: &str) -> Option<&ResourceType> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        self.by_gvk(&Gvk::new(group, version, kind))
    }

    /// Adds or replaces the kinds of a CRD (one entry per served version).
    pub fn add_custom(&mut self, types: Vec<ResourceType>) {
        for t in types {
            self.types.retain(|x| {
                !(x.gvk.group == t.gvk.group && x.gvk.version == t.gvk.version && x.plural == t.plural)
            });
            self.types.push(t);
        }
    }

    /// Removes the kinds of a CRD (`plural.group`).
    pub fn remove_custom(&mut self, group: &str, plural: &str) {
        self.types
            .retain(|t| !(t.custom && t.gvk.group == group && t.plural == plural));
    }

    /// Served group versions, core first: (`group`, `version`).
    #[must_use]
    pub fn group_versions(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for t in &self.types {
            let gv = (t.gvk.group.clone(), t.gvk.version.clone());
            if !out.contains(&gv) {
                out.push(gv);
            }
        }
        out
    }
}

/// The resource types a CRD object defines (one per served version).
///
/// # Errors
/// A message when the CRD is malformed.
pub fn types_of_crd(crd: &Value) -> Result<Vec<ResourceType>, String> {
    let spec = crd.get("spec").ok_or("CRD has no spec")?;
    let group = spec
        .get("group")
        .and_then(Value::as_str)
        .ok_or("spec.group is required")?;
    let names = spec.get("names").ok_or("spec.names is required")?;
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let plural = s(names, "plural").ok_or("spec.names.plural is required")?;
    let kind = s(names, "kind").ok_or("spec.names.kind is required")?;
    let singular = s(names, "singular").unwrap_or_else(|| kind.to_ascii_lowercase());
    let list = |k: &str| -> Vec<String> {
        names
            .get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let namespaced = match spec.get("scope").and_then(Value::as_str) {
        Some("Namespaced") => true,
        Some("Cluster") => false,
        other => return Err(format!("spec.scope must be Namespaced or Cluster, not {other:?}")),
    };
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .ok_or("spec.versions is required")?;
    let mut out = Vec::new();
    for v in versions {
        if v.get("served").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let version = s(v, "name").ok_or("spec.versions[].name is required")?;
        let sub = v.get("subresources");
        let scale = sub.and_then(|s| s.get("scale")).map(|sc| ScalePaths {
            spec_replicas: s(sc, "specReplicasPath").unwrap_or_default(),
            status_replicas: s(sc, "statusReplicasPath").unwrap_or_default(),
            label_selector: s(sc, "labelSelectorPath"),
        });
        out.push(ResourceType {
            gvk: Gvk::new(group, &version, &kind),
            plural: plural.clone(),
            singular: singular.clone(),
            namespaced,
            short_names: list("shortNames"),
            categories: list("categories"),
            status_subresource: sub.and_then(|s| s.get("status")).is_some(),
            scale,
            has_generation: true,
            custom: true,
            printer_columns: v
                .get("additionalPrinterColumns")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        });
    }
    Ok(out)
}
