//! The TaskDefinitions' dependents as the operator's watches see them: the task roles'
//! ServiceAccounts, the claims of EFS and shared volumes, and the EFS PersistentVolumes (those
//! labelled `app.kubernetes.io/managed-by=ecs-bridge`), cached in reflector stores so that
//! [`super::apply`] leaves the unchanged ones alone without a request.
//!
//! The TaskDefinition controller's [`run`](super::watch::run) fills the stores (one set per
//! watched scope) and adds them to the shared [`Context`](crate::controller::Context).
//! ExternalSecrets are not watched (the kind may not be served, and a watch of it would fail
//! until it is): apply reads each one it wants.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, ServiceAccount};
use kube::runtime::reflector::{ObjectRef, Store};
use serde_json::Value;

/// The stores of the TaskDefinitions' dependents.
#[derive(Clone)]
pub struct Stores {
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
    /// When a store's writer was dropped (the controller is stopping).
    pub async fn ready(&self) -> Result<(), kube::runtime::reflector::store::WriterDropped> {
        self.service_accounts.wait_until_ready().await?;
        self.claims.wait_until_ready().await?;
        self.volumes.wait_until_ready().await
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
