//! API errors, answered as `Status` objects the way the API server does
//! (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/status/).

use serde_json::{Value, json};

/// One cause of an error (a field that is wrong).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// Reason, e.g. `FieldValueInvalid` or `FieldManagerConflict`.
    pub reason: String,
    /// Human-readable message.
    pub message: String,
    /// The field, e.g. `spec.replicas`.
    pub field: String,
}

/// An API error: HTTP code, reason and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `StatusReason`, e.g. `NotFound`.
    pub reason: String,
    /// Message.
    pub message: String,
    /// `details.name`.
    pub name: Option<String>,
    /// `details.group`.
    pub group: Option<String>,
    /// `details.kind` (the resource, as the API server writes it).
    pub kind: Option<String>,
    /// `details.causes`.
    pub causes: Vec<Cause>,
    /// `details.retryAfterSeconds` (429, 504); also sent as the `Retry-After` header.
    pub retry_after: Option<u32>,
    /// `metadata.continue`: the token a 410 for an expired continue token carries, to continue
    /// the list inconsistently from the latest state.
    pub continue_token: Option<String>,
}

impl ApiError {
    fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.to_owned(),
            message: message.into(),
            name: None,
            group: None,
            kind: None,
            causes: Vec::new(),
            retry_after: None,
            continue_token: None,
        }
    }

    /// Adds `details` naming the object.
    #[must_use]
    pub fn about(mut self, group: &str, resource: &str, name: &str) -> Self {
        self.group = Some(group.to_owned());
        self.kind = Some(resource.to_owned());
        self.name = Some(name.to_owned());
        self
    }

    /// 404: `<resource>.<group> "<name>" not found`.
    #[must_use]
    pub fn not_found(qualified: &str, name: &str) -> Self {
        Self::new(404, "NotFound", format!("{qualified} \"{name}\" not found"))
    }

    /// 404 for a path that serves nothing.
    #[must_use]
    pub fn no_route(path: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    }

    /// 409: `<resource>.<group> "<name>" already exists`.
    #[must_use]
    pub fn already_exists(qualified: &str, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{qualified} \"{name}\" already exists"),
        )
    }

    /// 409: stale resourceVersion.
    #[must_use]
    pub fn conflict(qualified: &str, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {qualified} \"{name}\": the object has been modified; please apply \
                 your changes to the latest version and try again"
            ),
        )
    }

    /// 409: server-side apply conflicts.
    #[must_use]
    pub fn apply_conflicts(causes: Vec<Cause>) -> Self {
        let list: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.message, c.field))
            .collect();
        let mut e = Self::new(
            409,
            "Conflict",
            format!(
                "Apply failed with {} conflict{}: {}",
                causes.len(),
                if causes.len() == 1 { "" } else { "s" },
                list.join("\n")
            ),
        );
        e.causes = causes;
        e
    }

    /// 422: the object is invalid.
    #[must_use]
    pub fn invalid(kind: &str, name: &str, causes: Vec<Cause>) -> Self {
        let list: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        // `errors.NewInvalid`: one cause as is, several as `[a, b]` (an aggregate).
        let aggregate = if list.len() == 1 {
            list.join("")
        } else {
            format!("[{}]", list.join(", "))
        };
        let mut e = Self::new(
            422,
            "Invalid",
            format!("{kind} \"{name}\" is invalid: {aggregate}"),
        );
        e.causes = causes;
        e
    }

    /// An error with the given HTTP code and the reason Kubernetes uses for it.
    #[must_use]
    pub fn from_status(code: u16, message: &str) -> Self {
        let reason = match code {
            400 => "BadRequest",
            409 => "Conflict",
            415 => "UnsupportedMediaType",
            422 => "Invalid",
            501 => "NotImplemented",
            _ => "InternalError",
        };
        Self::new(code, reason, message)
    }

    /// 400.
    #[must_use]
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 403.
    #[must_use]
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    /// 405.
    #[must_use]
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    /// 410: too old resourceVersion.
    #[must_use]
    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 504: the server timed out (e.g. waiting for a resourceVersion it has not reached).
    #[must_use]
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(504, "Timeout", message)
    }

    /// 415.
    #[must_use]
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {content_type})"
            ),
        )
    }

    /// 500 (fault injection).
    #[must_use]
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// 429 (fault injection).
    #[must_use]
    pub fn too_many_requests() -> Self {
        let mut e = Self::new(
            429,
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later",
        );
        e.retry_after = Some(1);
        e
    }

    /// 501: something Kubernetes does that the double does not; it says so instead of pretending.
    #[must_use]
    pub fn not_implemented(what: impl Into<String>) -> Self {
        Self::new(
            501,
            "NotImplemented",
            format!("the ecs-bridge test double does not implement {}", what.into()),
        )
    }

    /// The `Status` object.
    #[must_use]
    pub fn to_status(&self) -> Value {
        let mut details = serde_json::Map::new();
        if let Some(n) = &self.name {
            details.insert("name".into(), json!(n));
        }
        if let Some(g) = &self.group {
            details.insert("group".into(), json!(g));
        }
        if let Some(k) = &self.kind {
            details.insert("kind".into(), json!(k));
        }
        if !self.causes.is_empty() {
            details.insert(
                "causes".into(),
                self.causes
                    .iter()
                    .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                    .collect(),
            );
        }
        if let Some(r) = self.retry_after {
            details.insert("retryAfterSeconds".into(), json!(r));
        }
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        if let Some(c) = &self.continue_token {
            status["metadata"] = json!({"continue": c});
        }
        status
    }
}
