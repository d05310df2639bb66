//! Patches: JSON patch, JSON merge patch, strategic merge patch and server-side apply.
//!
//! Everything here is a pure function over [`serde_json::Value`]: no I/O, no clock (callers
//! pass the timestamp). Behaviour follows
//! <https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/>,
//! <https://github.com/kubernetes/community/blob/master/contributors/devel/sig-api-machinery/strategic-merge-patch.md>,
//! <https://kubernetes.io/docs/reference/using-api/server-side-apply/>, RFC 6902 and RFC 7386,
//! and where those are silent, the upstream implementation (`k8s.io/apimachinery` and
//! `sigs.k8s.io/structured-merge-diff`).

mod apply;
mod fields;
mod json_patch;
mod last_applied;
mod managed;
mod merge_patch;
mod shape;
mod strategic;
mod strategic_order;
mod track;
mod typed;
mod typed_merge;

#[cfg(test)]
mod apply_tests;
#[cfg(test)]
mod ownership_tests;
#[cfg(test)]
mod strategic_tests;

use serde_json::Value;

pub use apply::apply;
pub use json_patch::json_patch;
pub use merge_patch::merge_patch;
pub use strategic::strategic_merge_patch;
pub use track::track_update;

/// The patch formats of `PATCH` requests, by `Content-Type`
/// (<https://kubernetes.io/docs/reference/using-api/api-concepts/#patch-and-apply>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchType {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json` (the `kubectl patch` default).
    Strategic,
    /// `application/apply-patch+yaml` (server-side apply).
    Apply,
}

impl PatchType {
    /// The patch type of a `Content-Type` header (parameters such as `charset` are ignored).
    #[must_use]
    pub fn from_content_type(content_type: &str) -> Option<PatchType> {
        let media = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "application/json-patch+json" => Some(Self::Json),
            "application/merge-patch+json" => Some(Self::Merge),
            "application/strategic-merge-patch+json" => Some(Self::Strategic),
            "application/apply-patch+yaml" => Some(Self::Apply),
            _ => None,
        }
    }

    /// The `Content-Type` of this patch type.
    #[must_use]
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json-patch+json",
            Self::Merge => "application/merge-patch+json",
            Self::Strategic => "application/strategic-merge-patch+json",
            Self::Apply => "application/apply-patch+yaml",
        }
    }

    /// Parses a request body of this type: JSON, or for apply YAML (of which JSON is a subset).
    ///
    /// # Errors
    /// [`PatchError::BadRequest`] when the body does not parse.
    pub fn decode_body(self, body: &[u8]) -> Result<Value, PatchError> {
        match self {
            Self::Apply => serde_json::from_slice(body).or_else(|_| {
                serde_yaml_ng::from_slice::<Value>(body)
                    .map_err(|e| PatchError::BadRequest(format!("error decoding YAML: {e}")))
            }),
            _ => serde_json::from_slice(body).map_err(|e| {
                PatchError::BadRequest(format!("invalid JSON in the {} body: {e}", self.content_type()))
            }),
        }
    }
}

/// Why a patch could not be applied. [`PatchError::http_status`] is the status upstream
/// answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch document is malformed (HTTP 400).
    #[error("{0}")]
    BadRequest(String),
    /// The patch is well-formed but cannot apply to this object, e.g. a failed JSON patch
    /// `test` or a path that does not exist (HTTP 422).
    #[error("{0}")]
    Unprocessable(String),
    /// Upstream reports this as an internal error (HTTP 500), e.g. a strategic merge patch
    /// list item without its merge key.
    #[error("{0}")]
    Internal(String),
}

impl PatchError {
    /// The HTTP status for the error.
    #[must_use]
    pub fn http_status(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::Unprocessable(_) => 422,
            Self::Internal(_) => 500,
        }
    }
}

/// A field another manager owns and the applied configuration would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The other manager.
    pub manager: String,
    /// Its operation, `Apply` or `Update`.
    pub operation: String,
    /// The API version of its entry.
    pub api_version: String,
    /// The subresource of its entry, if any.
    pub subresource: Option<String>,
    /// The field, as upstream prints it: `.spec.replicas`,
    /// `.spec.template.spec.containers[name="web"].image`.
    pub field: String,
}

impl Conflict {
    /// The manager as upstream describes it: `"kubectl"`, `"ctl" with subresource "status"`,
    /// and for updaters `"kubectl-edit" using apps/v1`.
    #[must_use]
    pub fn manager_description(&self) -> String {
        let mut out = format!("{:?}", self.manager);
        if let Some(s) = &self.subresource {
            out = format!("{out} with subresource {s:?}");
        }
        if self.operation == "Update" {
            out = format!("{out} using {}", self.api_version);
        }
        out
    }

    /// The message of the `FieldManagerConflict` status cause: `conflict with "kubectl"`.
    #[must_use]
    pub fn cause_message(&self) -> String {
        format!("conflict with {}", self.manager_description())
    }
}

/// Upstream's message for an apply conflict (HTTP 409).
fn conflicts_message(conflicts: &[Conflict]) -> String {
    if let [one] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            one.manager_description(),
            one.field
        );
    }
    let mut lines = Vec::new();
    let mut last: Option<String> = None;
    for c in conflicts {
        let who = c.manager_description();
        if last.as_ref() != Some(&who) {
            lines.push(format!("conflicts with {who}:"));
            last = Some(who);
        }
        lines.push(format!("- {}", c.field));
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// Why a server-side apply failed. [`ApplyError::http_status`] is the status upstream answers
/// with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// Other managers own fields the applied configuration changes (HTTP 409, one
    /// `FieldManagerConflict` cause per conflict with [`Conflict::cause_message`] and
    /// [`Conflict::field`]). Retry with `force=true` to take them over.
    #[error("{}", conflicts_message(.0))]
    Conflicts(Vec<Conflict>),
    /// The applied configuration is not acceptable (HTTP 400).
    #[error("{0}")]
    BadRequest(String),
    /// The applied configuration or the live object does not fit the schema, e.g. duplicate
    /// list-map keys (upstream reports this as an internal error, HTTP 500).
    #[error("{0}")]
    Internal(String),
    /// Something the double does not implement (HTTP 501).
    #[error("{0}")]
    Unsupported(String),
}

impl ApplyError {
    /// The HTTP status for the error.
    #[must_use]
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Conflicts(_) => 409,
            Self::BadRequest(_) => 400,
            Self::Internal(_) => 500,
            Self::Unsupported(_) => 501,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(
            PatchType::from_content_type("application/json-patch+json"),
            Some(PatchType::Json)
        );
        assert_eq!(
            PatchType::from_content_type("application/merge-patch+json; charset=utf-8"),
            Some(PatchType::Merge)
        );
        assert_eq!(
            PatchType::from_content_type("Application/Strategic-Merge-Patch+JSON"),
            Some(PatchType::Strategic)
        );
        assert_eq!(
            PatchType::from_content_type("application/apply-patch+yaml"),
            Some(PatchType::Apply)
        );
        assert_eq!(PatchType::from_content_type("application/json"), None);
        for t in [
            PatchType::Json,
            PatchType::Merge,
            PatchType::Strategic,
            PatchType::Apply,
        ] {
            assert_eq!(PatchType::from_content_type(t.content_type()), Some(t));
        }
    }

    #[test]
    fn apply_bodies_may_be_yaml_or_json() {
        let yaml = b"apiVersion: v1\nkind: ConfigMap\ndata:\n  a: \"1\"\n";
        assert_eq!(
            PatchType::Apply.decode_body(yaml).expect("yaml"),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1"}})
        );
        assert_eq!(
            PatchType::Apply
                .decode_body(br#"{"kind":"ConfigMap"}"#)
                .expect("json"),
            json!({"kind": "ConfigMap"})
        );
        let err = PatchType::Merge
            .decode_body(b"a: 1")
            .expect_err("merge patches are JSON");
        assert_eq!(err.http_status(), 400);
        assert!(PatchType::Apply.decode_body(b"a: [").is_err());
    }

    #[test]
    fn conflict_messages_match_upstream() {
        let c = |m: &str, op: &str, f: &str| Conflict {
            manager: m.to_owned(),
            operation: op.to_owned(),
            api_version: "apps/v1".to_owned(),
            subresource: None,
            field: f.to_owned(),
        };
        let one = ApplyError::Conflicts(vec![c("kubectl-edit", "Update", ".spec.replicas")]);
        assert_eq!(
            one.to_string(),
            "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.replicas"
        );
        assert_eq!(one.http_status(), 409);
        let two = ApplyError::Conflicts(vec![
            c("a", "Apply", ".x"),
            c("a", "Apply", ".y"),
            c("b", "Apply", ".z"),
        ]);
        assert_eq!(
            two.to_string(),
            "Apply failed with 3 conflicts: conflicts with \"a\":\n- .x\n- .y\nconflicts with \"b\":\n- .z"
        );
        let status = Conflict {
            subresource: Some("status".to_owned()),
            ..c("ctl", "Apply", ".status.x")
        };
        assert_eq!(
            status.cause_message(),
            "conflict with \"ctl\" with subresource \"status\""
        );
    }
}
