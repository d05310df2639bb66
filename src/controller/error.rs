//! The error type of the controllers' reconciles.

/// Why a reconcile failed.
#[derive(thiserror::Error, Debug)]
pub enum Error {
    /// A request to the Kubernetes API failed (transient: retried with backoff).
    #[error("Kubernetes API request failed")]
    Kube(#[source] kube::Error),
    /// The object has no namespace, though its kind is namespaced.
    #[error("{kind} {name} has no namespace")]
    MissingNamespace {
        /// Kind of the object.
        kind: &'static str,
        /// Name of the object.
        name: String,
    },
    /// A TaskDefinition was about to register a revision number its family's high-water mark
    /// already holds (another TaskDefinition of the family registered it meanwhile): retried,
    /// with the number above.
    #[error("revision {family}:{revision} was registered meanwhile by another TaskDefinition of the family")]
    RevisionTaken {
        /// The family.
        family: String,
        /// The number taken.
        revision: i64,
    },
    /// A family's high-water mark could not be raised (the write of the namespace's families
    /// ConfigMap failed; retried).
    #[error("the families' high-water marks were not raised: {message}")]
    MarkNotRaised {
        /// Why the write failed.
        message: String,
    },
}

impl Error {
    /// A stable, low-cardinality name for this error, for metrics labels and log fields.
    #[must_use]
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kube",
            Self::MissingNamespace { .. } => "missing_namespace",
            Self::RevisionTaken { .. } => "revision_taken",
            Self::MarkNotRaised { .. } => "mark_not_raised",
        }
    }

    /// How long the API server asked to wait before the next try: the `retryAfterSeconds` in
    /// the Status body of a 429 (Too Many Requests) or 5xx answer (the API server sends the same
    /// number as the `Retry-After` header), if any.
    #[must_use]
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        let Self::Kube(kube::Error::Api(status)) = self else {
            return None;
        };
        let asks = status.code == 429 || status.code >= 500;
        let seconds = status.details.as_ref()?.retry_after_seconds;
        (asks && seconds > 0).then(|| std::time::Duration::from_secs(u64::from(seconds)))
    }
}

impl From<kube::Error> for Error {
    fn from(e: kube::Error) -> Self {
        Self::Kube(e)
    }
}

#[cfg(test)]
mod tests {
    use kube::core::{Status, response::StatusDetails};

    use super::*;

    fn answered(code: u16, retry_after_seconds: u32) -> Error {
        let mut status = Status::failure("try again later", "TooManyRequests").with_code(code);
        status.details = Some(StatusDetails {
            name: String::new(),
            group: String::new(),
            kind: String::new(),
            uid: String::new(),
            causes: Vec::new(),
            retry_after_seconds,
        });
        Error::Kube(kube::Error::Api(Box::new(status)))
    }

    #[test]
    fn the_wait_a_429_asks_for_is_read() {
        assert_eq!(
            answered(429, 3).retry_after(),
            Some(std::time::Duration::from_secs(3))
        );
        assert_eq!(
            answered(503, 1).retry_after(),
            Some(std::time::Duration::from_secs(1))
        );
        // A conflict asks for nothing; neither does a 429 without a wait.
        assert_eq!(answered(409, 3).retry_after(), None);
        assert_eq!(answered(429, 0).retry_after(), None);
        let e = Error::Kube(kube::Error::LinesCodecMaxLineLengthExceeded);
        assert_eq!(e.retry_after(), None);
    }

    #[test]
    fn metric_labels_are_stable() {
        let e = Error::MissingNamespace {
            kind: "TaskDefinition",
            name: "web".into(),
        };
        assert_eq!(e.metric_label(), "missing_namespace");
        let e = Error::Kube(kube::Error::LinesCodecMaxLineLengthExceeded);
        assert_eq!(e.metric_label(), "kube");
        assert!(
            crate::runtime::ErrorChain(&e)
                .to_string()
                .starts_with("Kubernetes API request failed: "),
            "{}",
            crate::runtime::ErrorChain(&e)
        );
    }
}
