//! What `ecs-bridge run` needs besides the controllers to run in production: leader election on
//! a Lease ([`leader`], with the pure rules in [`lease`]), the HTTP endpoints ([`http`]:
//! `/healthz`, `/readyz`, `/metrics`), readiness ([`readiness`]), metrics ([`metrics`]) and the client's request rate
//! ([`rate_limit`]).

pub mod http;
pub mod leader;
pub mod lease;
pub mod metrics;
pub mod rate_limit;
pub mod readiness;

mod error_chain;
mod shutdown;

pub use error_chain::ErrorChain;
pub use leader::LeaderConfig;
pub use metrics::Metrics;
pub use readiness::{Readiness, Synced};
pub use shutdown::Shutdown;
