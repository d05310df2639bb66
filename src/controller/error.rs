//! The error type of the controllers and of `ecs-bridge run`.

use std::fmt;

/// Why a reconcile or the operator itself failed.
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
    /// A signal handler (SIGTERM, SIGINT) could not be installed.
    #[error("installing the {signal} handler failed")]
    Signal {
        /// The signal, e.g. `SIGTERM`.
        signal: &'static str,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server (`/healthz`, `/readyz`, `/metrics`) could not listen on its address.
    #[error("listening on {address} for /healthz, /readyz and /metrics failed")]
    Http {
        /// The address of `--metrics-address`.
        address: std::net::SocketAddr,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// This replica lost the leader lease (not renewed in time, or taken): the controllers
    /// stopped, and the process exits so that it restarts as a candidate.
    #[error("lost the leader lease {namespace}/{name}")]
    LeaseLost {
        /// Namespace of the Lease.
        namespace: String,
        /// Name of the Lease.
        name: String,
    },
}

impl Error {
    /// A stable, low-cardinality name for this error, for metrics labels and log fields.
    #[must_use]
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kube",
            Self::MissingNamespace { .. } => "missing_namespace",
            Self::Signal { .. } => "signal",
            Self::Http { .. } => "http",
            Self::LeaseLost { .. } => "lease_lost",
        }
    }
}

impl From<kube::Error> for Error {
    fn from(e: kube::Error) -> Self {
        Self::Kube(e)
    }
}

/// Displays an error followed by its whole `source()` chain, `outer: inner: innermost`, for logs.
#[derive(Debug, Clone, Copy)]
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(e) = source {
            write!(f, ": {e}")?;
            source = e.source();
        }
        Ok(())
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
        let e = Error::Signal {
            signal: "SIGTERM",
            source: std::io::Error::other("nope"),
        };
        assert_eq!(e.metric_label(), "signal");
        assert_eq!(
            Chain(&e).to_string(),
            "installing the SIGTERM handler failed: nope"
        );
    }
}
