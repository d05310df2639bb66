//! The signal to stop: what every controller, and the leader election, waits on.

use futures::future::{BoxFuture, Shared};

/// A future that resolves when the controllers should stop taking new work (cloneable, so every
/// controller, and the leader election, can wait on the same one).
pub type Shutdown = Shared<BoxFuture<'static, ()>>;
