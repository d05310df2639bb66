//! Which optional kinds the cluster serves (TargetGroupBindings of the AWS Load Balancer
//! Controller, ExternalSecrets of External Secrets): asked of discovery until a kind is served,
//! never by writing, and remembered in memory; an apply that finds the kind gone forgets it.
//!
//! So a cluster without the optional component costs a discovery request per reconcile that
//! needs the kind, and no write; a cluster with it costs nothing after the first.
//!
//! Objects of such a kind are watched once the kind is served ([`Served::served_and_watched`],
//! [`super::optional_watch`]), and read before they are applied only while the watch has not
//! listed ([`Served::apply_unless_current`]).

use std::{
    collections::HashSet,
    fmt::Debug,
    sync::{Arc, Mutex, PoisonError},
};

use kube::{
    Api, Client,
    api::{ApiResource, Patch, PatchParams},
};
use serde::{Serialize, de::DeserializeOwned};

use super::{optional_watch::OptionalWatches, unchanged};

/// The optional kinds known to be served, by `apiVersion` and plural, and the watches of those
/// the operator writes.
#[derive(Debug, Default)]
pub struct Served {
    kinds: Arc<Mutex<HashSet<(String, String)>>>,
    /// The watches of the optional kinds found served.
    pub watches: OptionalWatches,
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

    /// Whether the API server serves `ar` (as [`Self::served`]); once it does, its objects are
    /// watched ([`OptionalWatches::start`]), `namespaced` or cluster-wide.
    ///
    /// # Errors
    /// The discovery request's, other than a 404.
    pub async fn served_and_watched(
        &self,
        client: &Client,
        ar: &ApiResource,
        namespaced: bool,
    ) -> Result<bool, kube::Error> {
        let served = self.served(client, &ar.api_version, &ar.plural).await?;
        if served {
            // Why: a watch that finds the kind gone makes discovery be asked again.
            let kinds = Arc::clone(&self.kinds);
            let key = (ar.api_version.clone(), ar.plural.clone());
            self.watches.start(client, ar, namespaced, move || {
                kinds.lock().unwrap_or_else(PoisonError::into_inner).remove(&key);
            });
        }
        Ok(served)
    }

    /// The live object `name` of `ar` (in `namespace`, through `api`): from its watch once that
    /// has listed, else one GET (a 404 is a missing object).
    ///
    /// # Errors
    /// The GET's, other than a 404; or, for a watched object that is not a `K`, a
    /// deserialisation error.
    pub async fn live<K>(
        &self,
        api: &Api<K>,
        ar: &ApiResource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<K>, kube::Error>
    where
        K: Clone + DeserializeOwned + Debug,
    {
        if let Some(cached) = self.watches.lookup(ar, namespace, name) {
            return cached
                .map(|obj| {
                    serde_json::to_value(&*obj)
                        .and_then(serde_json::from_value)
                        .map_err(kube::Error::SerdeError)
                })
                .transpose();
        }
        match api.get(name).await {
            Ok(live) => Ok(Some(live)),
            Err(kube::Error::Api(status)) if not_found(&status) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Applies `obj`, named `name` in `namespace`, through `api` with `params`, unless the live
    /// object ([`Self::live`]: its watch, or a GET) is already as wanted
    /// ([`unchanged::is_current`]); then [`Self::apply`].
    ///
    /// # Errors
    /// The GET's or the apply's, other than a 404.
    pub async fn apply_unless_current<K>(
        &self,
        api: &Api<K>,
        ar: &ApiResource,
        (namespace, name): (Option<&str>, &str),
        obj: &(impl Serialize + Debug),
        params: &PatchParams,
    ) -> Result<Outcome, kube::Error>
    where
        K: Clone + DeserializeOwned + Serialize + Debug,
    {
        let live = self.live(api, ar, namespace, name).await?;
        if live.is_some_and(|live| unchanged::is_current(obj, &live)) {
            return Ok(Outcome::Current);
        }
        self.apply(api, (&ar.api_version, &ar.plural), name, obj, params)
            .await
    }

    /// Applies `obj`, named `name`, through `api` with `params`. An apply creates a missing
    /// object, so a 404 means the kind (`plural` in `api_version`) is not served (any more): it
    /// is forgotten and the outcome is [`Outcome::NotServed`].
    ///
    /// # Errors
    /// The apply's, other than a 404.
    pub async fn apply<K>(
        &self,
        api: &Api<K>,
        (api_version, plural): (&str, &str),
        name: &str,
        obj: &(impl Serialize + Debug),
        params: &PatchParams,
    ) -> Result<Outcome, kube::Error>
    where
        K: Clone + DeserializeOwned + Debug,
    {
        match api.patch(name, params, &Patch::Apply(obj)).await {
            Ok(_) => Ok(Outcome::Applied),
            Err(kube::Error::Api(status)) if not_found(&status) => {
                self.forget(api_version, plural);
                Ok(Outcome::NotServed)
            }
            Err(e) => Err(e),
        }
    }

    /// Forgets that `plural` in `api_version` is served (an apply found it gone), and stops its
    /// watch.
    pub fn forget(&self, api_version: &str, plural: &str) {
        self.watches.stop(api_version, plural);
        self.kinds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(api_version.to_owned(), plural.to_owned()));
    }
}

/// What [`Served::apply_unless_current`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The live object was already as wanted: nothing written.
    Current,
    /// The object was applied.
    Applied,
    /// The kind is no longer served: nothing written.
    NotServed,
}

/// Whether `status` is a 404: a `NotFound` Status, or a plain-text 404 (which kube-rs cannot
/// parse into a Status with a reason) from an API server or a proxy in front of it.
#[must_use]
pub fn not_found(status: &kube::core::Status) -> bool {
    status.is_not_found() || status.code == 404
}
