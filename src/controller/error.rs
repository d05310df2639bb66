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
}

impl From<kube::Error> for Error {
    fn from(e: kube::Error) -> Self {
        Self::Kube(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
