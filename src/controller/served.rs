//! Which optional kinds the cluster serves (TargetGroupBindings of the AWS Load Balancer
//! Controller, ExternalSecrets of External Secrets): asked of discovery until a kind is served,
//! never by writing, and remembered in memory; an apply that finds the kind gone forgets it.
//!
//! So a cluster without the optional component costs a discovery request per reconcile that
//! needs the kind, and no write; a cluster with it costs nothing after the first.

use std::{
    collections::HashSet,
    sync::{Mutex, PoisonError},
};

use kube::Client;

/// The optional kinds known to be served, by `apiVersion` and plural.
#[derive(Debug, Default)]
pub struct Served {
    kinds: Mutex<HashSet<(String, String)>>,
}

impl Served {
    /// Whether the API server serves `plural` in `api_version` (`group/version`); asks discovery
    /// until it does.
    ///
    /// # Errors
    /// The discovery request's, other than "no such group version" (a 404: not served).
    pub async fn served(
        &self,
        client: &Client,
        api_version: &str,
        plural: &str,
    ) -> Result<bool, kube::Error> {
        let key = (api_version.to_owned(), plural.to_owned());
        if self
            .kinds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&key)
        {
            return Ok(true);
        }
        let served = match client.list_api_group_resources(api_version).await {
            Ok(list) => list.resources.iter().any(|r| r.name == plural),
            Err(kube::Error::Api(status)) if not_found(&status) => false,
            Err(e) => return Err(e),
        };
        if served {
            self.kinds
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key);
        }
        Ok(served)
    }

    /// Forgets that `plural` in `api_version` is served (an apply found it gone).
    pub fn forget(&self, api_version: &str, plural: &str) {
        self.kinds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(api_version.to_owned(), plural.to_owned()));
    }
}

/// Whether `status` is a 404: a `NotFound` Status, or a plain-text 404 (which kube-rs cannot
/// parse into a Status with a reason) from an API server or a proxy in front of it.
#[must_use]
pub fn not_found(status: &kube::core::Status) -> bool {
    status.is_not_found() || status.code == 404
}
