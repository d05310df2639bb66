//! What `/readyz` answers: ready once the ecs-bridge CRDs are Established and, on the replica
//! running the controllers, every controller's first LIST has succeeded.
//!
//! A replica waiting for the leader lease is ready as soon as the CRDs are Established: it is a
//! healthy standby with nothing to sync. Were it unready, a Deployment of 2 replicas could
//! never finish a rolling update (the new pod would never be ready while the old one leads) and
//! a PodDisruptionBudget (`minAvailable: 1`) would count only the leader as available, so it
//! would never let a node drain evict it.

use std::sync::{
    Arc, Mutex, PoisonError,
    atomic::{AtomicBool, Ordering},
};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{Api, Client, ResourceExt};

/// Shared readiness state (cheap to clone).
#[derive(Clone, Debug, Default)]
pub struct Readiness(Arc<Inner>);

/// The controllers running here, each with its "synced" flag.
type Controllers = Vec<(&'static str, Arc<AtomicBool>)>;

#[derive(Debug, Default)]
struct Inner {
    crds_established: AtomicBool,
    /// `None` while no controller runs here (standby); otherwise one flag per controller, set
    /// when its first LIST has succeeded.
    controllers: Mutex<Option<Controllers>>,
}

/// Marks one controller as synced (its first LIST has succeeded).
#[derive(Clone, Debug)]
pub struct Synced(Arc<AtomicBool>);

impl Synced {
    /// A flag nobody reads (tests, embedders that run a controller alone).
    #[must_use]
    pub fn unobserved() -> Self {
        Self(Arc::default())
    }

    /// The controller's first LIST has succeeded.
    pub fn done(&self) {
        self.0.store(true, Ordering::Release);
    }
}

impl Readiness {
    /// Records whether the CRDs are Established.
    pub fn set_crds_established(&self, established: bool) {
        self.0.crds_established.store(established, Ordering::Release);
    }

    /// Adds a controller that must sync before this replica is ready (call before it starts).
    #[must_use]
    pub fn controller(&self, name: &'static str) -> Synced {
        let flag = Arc::new(AtomicBool::new(false));
        self.0
            .controllers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(Vec::new)
            .push((name, Arc::clone(&flag)));
        Synced(flag)
    }

    /// No controller runs here any more (standby, or stopped).
    pub fn standby(&self) {
        *self.0.controllers.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// `Ok` when ready; otherwise what is missing.
    ///
    /// # Errors
    ///
    /// A message naming what is not ready yet.
    pub fn check(&self) -> Result<(), String> {
        if !self.0.crds_established.load(Ordering::Acquire) {
            return Err("the ecs-bridge CRDs are not Established".to_owned());
        }
        let controllers = self.0.controllers.lock().unwrap_or_else(PoisonError::into_inner);
        let syncing: Vec<&str> = controllers
            .iter()
            .flatten()
            .filter(|(_, synced)| !synced.load(Ordering::Acquire))
            .map(|(name, _)| *name)
            .collect();
        if syncing.is_empty() {
            Ok(())
        } else {
            Err(format!("controllers not synced yet: {}", syncing.join(", ")))
        }
    }
}

/// Whether `crd` has the condition `Established=True`.
#[must_use]
pub fn established(crd: &CustomResourceDefinition) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Established" && c.status == "True"))
}

/// How often the CRDs are read until they are all Established.
const CRD_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// Reads the ecs-bridge CRDs every 2 s until every one is Established, then marks
/// `readiness` and returns. (Once: readiness does not watch for CRDs deleted later, whose
/// objects go with them.)
pub async fn wait_for_crds(client: Client, readiness: Readiness) {
    let api: Api<CustomResourceDefinition> = Api::all(client);
    let names: Vec<String> = crate::api::all_crds().iter().map(ResourceExt::name_any).collect();
    let mut last_missing = String::new();
    loop {
        let mut missing = Vec::new();
        for name in &names {
            match api.get_opt(name).await {
                Ok(Some(crd)) if established(&crd) => {}
                Ok(_) => missing.push(name.clone()),
                Err(e) => {
                    missing.push(format!("{name} ({})", super::error_chain::ErrorChain(&e)));
                }
            }
        }
        if missing.is_empty() {
            tracing::info!("the ecs-bridge CRDs are Established");
            readiness.set_crds_established(true);
            return;
        }
        let now = missing.join(", ");
        if now != last_missing {
            tracing::info!(missing = %now, "waiting for the ecs-bridge CRDs to be Established");
            last_missing = now;
        }
        tokio::time::sleep(CRD_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd(conditions: serde_json::Value) -> CustomResourceDefinition {
        let mut crd = crate::api::all_crds().remove(0);
        crd.status =
            Some(serde_json::from_value(serde_json::json!({ "conditions": conditions })).expect("status"));
        crd
    }

    #[test]
    fn a_crd_is_established_only_with_established_true() {
        assert!(!established(&crate::api::all_crds()[0]), "no status yet");
        assert!(!established(&crd(serde_json::json!([
            {"type": "NamesAccepted", "status": "False", "reason": "NameConflict", "message": "m", "lastTransitionTime": "2026-01-01T00:00:00Z"},
            {"type": "Established", "status": "False", "reason": "NotAccepted", "message": "m", "lastTransitionTime": "2026-01-01T00:00:00Z"},
        ]))));
        assert!(established(&crd(serde_json::json!([
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "m", "lastTransitionTime": "2026-01-01T00:00:00Z"},
        ]))));
    }

    #[test]
    fn ready_needs_crds_and_every_running_controller_synced_but_not_a_standby_one() {
        let r = Readiness::default();
        assert!(r.check().is_err(), "CRDs unknown");
        r.set_crds_established(true);
        assert_eq!(r.check(), Ok(()), "a standby replica is ready");
        let td = r.controller("task-definition");
        let svc = r.controller("service");
        assert_eq!(
            r.check(),
            Err("controllers not synced yet: task-definition, service".to_owned())
        );
        td.done();
        assert!(r.check().is_err());
        svc.done();
        assert_eq!(r.check(), Ok(()));
        r.set_crds_established(false);
        assert!(r.check().is_err());
        r.set_crds_established(true);
        let _late = r.controller("service");
        assert!(r.check().is_err(), "a controller added later must sync too");
        r.standby();
        assert_eq!(r.check(), Ok(()));
    }
}
