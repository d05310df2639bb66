//! The TaskDefinitions' revisions and dependents as the operator's watches see them: the
//! ControllerRevisions, the task roles' ServiceAccounts, the claims of EFS and shared volumes,
//! and the EFS PersistentVolumes (those labelled `app.kubernetes.io/managed-by=ecs-bridge`),
//! cached in reflector stores so that [`super::load`] reads no revision and [`super::apply`]
//! leaves the unchanged dependents alone, without a request.
//!
//! The TaskDefinition controller's [`run`](super::watch::run) fills the stores (one set per
//! watched scope) and adds them to the shared [`Context`](crate::controller::Context).
//! ExternalSecrets are watched once their kind is served ([`crate::controller::served`]).

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use k8s_openapi::api::{
    apps::v1::ControllerRevision,
    core::v1::{PersistentVolume, PersistentVolumeClaim, ServiceAccount},
};
use kube::{
    ResourceExt,
    runtime::reflector::{ObjectRef, Store},
};
use serde_json::Value;

use crate::translate::labels;

/// The revision each TaskDefinition (by uid) registered last in this process, by the name of its
/// ControllerRevision: a cache that does not hold it yet is behind this process's own write
/// (kube-controller-manager's "expectations"), and the revisions are listed instead.
#[derive(Debug, Default)]
pub struct Registered(Mutex<HashMap<String, String>>);

impl Registered {
    /// Remembers that the TaskDefinition `uid` registered the ControllerRevision `name`.
    pub fn record(&self, uid: &str, name: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(uid.to_owned(), name.to_owned());
    }

    /// Whether `revisions` hold what `uid` registered last (or it registered nothing); once they
    /// do, it is forgotten.
    pub fn seen_in(&self, uid: &str, revisions: &[ControllerRevision]) -> bool {
        let mut registered = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(name) = registered.get(uid) else {
            return true;
        };
        let seen = revisions.iter().any(|cr| cr.name_any() == *name);
        if seen {
            registered.remove(uid);
        }
        seen
    }

    /// Forgets `uid` (the TaskDefinition is gone).
    pub fn forget(&self, uid: &str) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).remove(uid);
    }
}

/// The stores of the TaskDefinitions' revisions and dependents.
#[derive(Clone)]
pub struct Stores {
    /// Whether every store below has listed once (awaited by any number of reconciles).
    pub listed: crate::controller::caches::Listed,
    /// ControllerRevisions labelled as ecs-bridge's (the TaskDefinitions' registered revisions).
    pub revisions: Store<ControllerRevision>,
    /// ServiceAccounts labelled as ecs-bridge's.
    pub service_accounts: Store<ServiceAccount>,
    /// PersistentVolumeClaims labelled as ecs-bridge's.
    pub claims: Store<PersistentVolumeClaim>,
    /// PersistentVolumes labelled as ecs-bridge's (cluster-scoped).
    pub volumes: Store<PersistentVolume>,
}

impl Stores {
    /// Waits until every store has listed once (so an empty store means "none", not "not yet").
    ///
    /// # Errors
    /// [`crate::controller::caches::Stopped`] when a store's writer was dropped (the controller
    /// is stopping).
    pub async fn ready(&self) -> Result<(), crate::controller::caches::Stopped> {
        let revisions = self.revisions.clone();
        let service_accounts = self.service_accounts.clone();
        let claims = self.claims.clone();
        let volumes = self.volumes.clone();
        self.listed
            .wait(|| async move {
                revisions.wait_until_ready().await.is_ok()
                    && service_accounts.wait_until_ready().await.is_ok()
                    && claims.wait_until_ready().await.is_ok()
                    && volumes.wait_until_ready().await.is_ok()
            })
            .await
    }

    /// The cached ControllerRevisions of the TaskDefinition `name` in `namespace` (labelled with
    /// its name, as [`crate::controller::revisions::selector`] selects them).
    #[must_use]
    pub fn revisions_of(&self, namespace: &str, name: &str) -> Vec<ControllerRevision> {
        self.revisions
            .state()
            .iter()
            .filter(|cr| {
                cr.namespace().as_deref() == Some(namespace)
                    && cr.labels().get(labels::TASK_DEFINITION).map(String::as_str) == Some(name)
            })
            .map(|cr| (**cr).clone())
            .collect()
    }

    /// The cached object of `kind` named `name` (in `namespace`, `None` for a cluster-scoped
    /// one), as JSON; `None` when not cached, or when the kind is not cached at all.
    #[must_use]
    pub fn get(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        fn key<K: kube::Resource<DynamicType = ()>>(name: &str, namespace: Option<&str>) -> ObjectRef<K> {
            match namespace {
                Some(ns) => ObjectRef::new(name).within(ns),
                None => ObjectRef::new(name),
            }
        }
        match kind {
            "ServiceAccount" => self
                .service_accounts
                .get(&key(name, namespace))
                .and_then(|o| serde_json::to_value(&*o).ok()),
            "PersistentVolumeClaim" => self
                .claims
                .get(&key(name, namespace))
                .and_then(|o| serde_json::to_value(&*o).ok()),
            "PersistentVolume" => self
                .volumes
                .get(&key(name, None))
                .and_then(|o| serde_json::to_value(&*o).ok()),
            _ => None,
        }
    }
}

/// Whether the dependents of `kind` are cached (the others are read one by one).
#[must_use]
pub fn cached(kind: &str) -> bool {
    matches!(
        kind,
        "ServiceAccount" | "PersistentVolumeClaim" | "PersistentVolume"
    )
}

/// The stores of every scope the TaskDefinition controller runs in, once each has listed (a
/// store whose writer was dropped, the controller stopping, is left out); `None` when it runs in
/// none (no caches, as in a reconcile outside the controller).
pub async fn ready_stores(ctx: &crate::controller::Context) -> Option<Vec<Stores>> {
    crate::controller::caches::ready(&ctx.task_definition_children, |s: Stores| async move {
        s.ready().await.map(|()| s)
    })
    .await
}
