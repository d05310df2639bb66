//! What `ecs-bridge run` needs besides the controllers to run in production: leader election on
//! a Lease ([`leader`], with the pure rules in [`lease`]), the HTTP endpoints ([`http`]:
//! `/healthz`, `/readyz`, `/metrics`), readiness ([`readiness`]) and metrics ([`metrics`]).

pub mod http;
pub mod leader;
pub mod lease;
pub mod metrics;
pub mod readiness;

use std::fmt;

use futures::future::{BoxFuture, Shared};

pub use leader::LeaderConfig;
pub use metrics::Metrics;
pub use readiness::{Readiness, Synced};

/// A future that resolves when the controllers should stop taking new work (cloneable, so every
/// controller, and the leader election, can wait on the same one).
pub type Shutdown = Shared<BoxFuture<'static, ()>>;

/// Displays an error followed by its whole `source()` chain, `outer: inner: innermost`, for logs.
#[derive(Debug, Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
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
