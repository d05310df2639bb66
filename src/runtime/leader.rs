//! Leader election: acquire, hold and release a `coordination.k8s.io/v1` Lease so that of
//! several replicas only one runs the controllers.
//!
//! Each attempt is client-go's `tryAcquireOrRenew`: GET the Lease, [`lease::decide`], then
//! create it or replace it with the resourceVersion just read (409 Conflict means someone else
//! wrote first: not this round). The leader renews every
//! [`retry_period`](lease::Timing::retry_period) and gives up leading when it has not renewed for
//! [`renew_deadline`](lease::Timing::renew_deadline), which is shorter than the lease, so it stops
//! before another replica may start. On shutdown the leader [`Elector::release`]s the lease, so
//! the next replica takes over at its next try instead of after expiry.

use std::time::{Duration, Instant};

use k8s_openapi::{api::coordination::v1::Lease, jiff::Timestamp};
use kube::{
    Api,
    api::{ObjectMeta, PostParams},
};

use super::lease::{self, Decision, Timing, Tracker};
use super::{error_chain::ErrorChain, shutdown::Shutdown};

/// Field manager of the operator's Lease writes.
pub const FIELD_MANAGER: &str = "ecsbridge.io/leader-election";

/// Which Lease to hold, and as whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderConfig {
    /// Name of the Lease. Default: `ecs-bridge`.
    pub lease_name: String,
    /// Namespace of the Lease. Default: `POD_NAMESPACE`, else `ecs-bridge-system`.
    pub lease_namespace: String,
    /// `holderIdentity` of this replica ([`default_identity`]).
    pub identity: String,
    /// Lease duration and renewal periods.
    pub timing: Timing,
}

/// This replica's identity: `POD_NAME` (set by the chart from the downward API), else the host
/// name followed by the process id (two processes on one workstation must not share an
/// identity, or both would think they hold the lease).
#[must_use]
pub fn default_identity() -> String {
    if let Some(pod) = std::env::var("POD_NAME").ok().filter(|p| !p.is_empty()) {
        return pod;
    }
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "ecs-bridge".to_owned());
    format!("{host}-{}", std::process::id())
}

/// The default Lease namespace: `POD_NAMESPACE` (the operator's own namespace in a pod), else
/// `ecs-bridge-system`.
#[must_use]
pub fn default_namespace() -> String {
    std::env::var("POD_NAMESPACE")
        .ok()
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| "ecs-bridge-system".to_owned())
}

/// One replica's part in the election.
pub struct Elector {
    api: Api<Lease>,
    config: LeaderConfig,
    tracker: Tracker,
}

/// The outcome of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// We hold the lease (acquired or renewed).
    Held,
    /// Someone else holds it, or wrote first.
    Lost {
        /// The holder, when known.
        holder: Option<String>,
    },
}

impl Elector {
    /// An elector for `config.lease_name` in `config.lease_namespace` through `client`.
    #[must_use]
    pub fn new(client: kube::Client, config: LeaderConfig) -> Self {
        Self {
            api: Api::namespaced(client, &config.lease_namespace),
            config,
            tracker: Tracker::default(),
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &LeaderConfig {
        &self.config
    }

    /// One attempt to acquire or renew the lease.
    ///
    /// # Errors
    ///
    /// When a request fails other than with a conflict (409), which is a lost attempt.
    pub async fn try_acquire_or_renew(&mut self) -> Result<Attempt, kube::Error> {
        let current = self.api.get_opt(&self.config.lease_name).await?;
        let now = Instant::now();
        let spec = current.as_ref().and_then(|l| l.spec.clone()).unwrap_or_default();
        let valid = match &current {
            Some(_) => self.tracker.observe(&spec, now),
            None => {
                self.tracker.forget();
                false
            }
        };
        let decision = lease::decide(
            current.as_ref().map(|_| &spec),
            valid,
            &self.config.identity,
            &self.config.timing,
            Timestamp::now(),
        );
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PostParams::default()
        };
        let written = match decision {
            Decision::Wait { holder } => return Ok(Attempt::Lost { holder: Some(holder) }),
            Decision::Create(spec) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.config.lease_name.clone()),
                        namespace: Some(self.config.lease_namespace.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(spec),
                };
                self.api.create(&params, &lease).await
            }
            Decision::Renew(spec) | Decision::Take(spec) => {
                // Why: the resourceVersion read makes this write conditional (409 when another
                // candidate wrote since).
                let mut lease = current.unwrap_or_default();
                lease.spec = Some(spec);
                lease.metadata.managed_fields = None;
                self.api.replace(&self.config.lease_name, &params, &lease).await
            }
        };
        match written {
            Ok(lease) => {
                self.tracker
                    .observe(&lease.spec.unwrap_or_default(), Instant::now());
                Ok(Attempt::Held)
            }
            Err(kube::Error::Api(status)) if status.is_conflict() || status.is_already_exists() => {
                Ok(Attempt::Lost { holder: None })
            }
            Err(e) => Err(e),
        }
    }

    /// Tries every retry period until the lease is ours (`true`) or `shutdown` resolves
    /// (`false`).
    pub async fn acquire(&mut self, shutdown: Shutdown) -> bool {
        let retry = self.config.timing.retry_period;
        let mut last_holder = None;
        loop {
            let attempt = tokio::select! {
                attempt = self.try_acquire_or_renew() => attempt,
                () = shutdown.clone() => return false,
            };
            match attempt {
                Ok(Attempt::Held) => {
                    tracing::info!(
                        lease = %self.config.lease_name,
                        namespace = %self.config.lease_namespace,
                        identity = %self.config.identity,
                        "acquired the leader lease"
                    );
                    return true;
                }
                Ok(Attempt::Lost { holder }) => {
                    if holder.is_some() && holder != last_holder {
                        tracing::info!(
                            holder = holder.as_deref().unwrap_or(""),
                            "waiting for the leader lease"
                        );
                        last_holder = holder;
                    }
                }
                Err(e) => tracing::warn!(
                    lease = %self.config.lease_name,
                    namespace = %self.config.lease_namespace,
                    error = %ErrorChain(&e),
                    "cannot read or write the leader lease"
                ),
            }
            tokio::select! {
                () = tokio::time::sleep(retry) => {}
                () = shutdown.clone() => return false,
            }
        }
    }

    /// Renews the lease every retry period; returns when it is lost: someone else holds it, or
    /// it could not be renewed for the renew deadline. Cancel it (drop the future) to stop
    /// renewing.
    pub async fn hold(&mut self) {
        let Timing {
            renew_deadline,
            retry_period,
            ..
        } = self.config.timing;
        let mut renewed = Instant::now();
        loop {
            tokio::time::sleep(retry_period).await;
            let left = renew_deadline.saturating_sub(renewed.elapsed());
            let attempt =
                tokio::time::timeout(left.max(Duration::from_millis(1)), self.try_acquire_or_renew()).await;
            match attempt {
                Ok(Ok(Attempt::Held)) => renewed = Instant::now(),
                Ok(Ok(Attempt::Lost { holder: Some(holder) })) => {
                    tracing::warn!(%holder, "the leader lease was taken");
                    return;
                }
                // A conflict: our write raced another (or a renewal of ours landed unseen); the
                // next attempt reads again.
                Ok(Ok(Attempt::Lost { holder: None })) => {
                    tracing::debug!("renewing the leader lease conflicted");
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %ErrorChain(&e), "renewing the leader lease failed");
                }
                Err(_) => tracing::warn!("renewing the leader lease timed out"),
            }
            if renewed.elapsed() >= renew_deadline {
                tracing::warn!(
                    deadline_secs = renew_deadline.as_secs(),
                    "the leader lease was not renewed in time"
                );
                return;
            }
        }
    }

    /// Gives the lease up, if we still hold it, so that another replica takes over at once.
    /// Conditional on the resourceVersion read, as every write.
    ///
    /// # Errors
    ///
    /// When a request fails (the lease then expires on its own).
    pub async fn release(&mut self) -> Result<(), kube::Error> {
        for _ in 0..3 {
            let Some(mut current) = self.api.get_opt(&self.config.lease_name).await? else {
                return Ok(());
            };
            let spec = current.spec.clone().unwrap_or_default();
            if lease::holder(&spec) != Some(self.config.identity.as_str()) {
                return Ok(());
            }
            current.spec = Some(lease::released(&spec, Timestamp::now()));
            current.metadata.managed_fields = None;
            let params = PostParams {
                field_manager: Some(FIELD_MANAGER.to_owned()),
                ..PostParams::default()
            };
            match self.api.replace(&self.config.lease_name, &params, &current).await {
                Ok(_) => {
                    tracing::info!(lease = %self.config.lease_name, "released the leader lease");
                    self.tracker.forget();
                    return Ok(());
                }
                // Our own renewal, cancelled mid-flight, may have landed since the GET: read again.
                Err(kube::Error::Api(status)) if status.is_conflict() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
