//! The kinds that have a CRD but no controller yet (ScheduledTask):
//! their objects are kept as written and nothing is made from them, and their status says so
//! (`Ready=False` and `Degraded=True`, reason [`REASON_NOT_RECONCILED`]), so that a user (and Argo CD) sees it rather
//! than an object that looks forgotten. The README's kinds table says which kinds are reconciled.
//!
//! One status write per generation: an object whose status already says so for its generation
//! is left alone.

use std::{fmt::Debug, sync::Arc};

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use kube::{
    Api, Resource, ResourceExt,
    api::{ApiResource, DynamicObject, Patch, PatchParams},
    runtime::{Controller, controller::Action, watcher},
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};

use crate::{
    api::{ScheduledTask, condition},
    controller::{Context, Error, caches::scoped, error_policy},
    runtime::Shutdown,
};

/// Reason of `Ready=False` on an object of a kind no controller reconciles yet.
pub const REASON_NOT_RECONCILED: &str = "NotReconciled";
/// Name of this controller in logs.
pub const CONTROLLER: &str = "not-reconciled";
/// Field manager of these status writes.
pub const FIELD_MANAGER: &str = "ecsbridge.io/not-reconciled";

/// The status to write on `obj` (as JSON) of `kind` (`plural` for the message), at `now`; `None`
/// when its status already says it is not reconciled, for its generation.
#[must_use]
pub fn status_to_write(kind: &str, plural: &str, obj: &Value, now: Time) -> Option<Value> {
    let generation = obj.pointer("/metadata/generation").and_then(Value::as_i64);
    let conditions: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> = obj
        .pointer("/status/conditions")
        .and_then(|c| serde_json::from_value(c.clone()).ok())
        .unwrap_or_default();
    let said = condition::find(&conditions, condition::READY).is_some_and(|c| {
        c.status == "False" && c.reason == REASON_NOT_RECONCILED && c.observed_generation == generation
    });
    if said && obj.pointer("/status/observedGeneration").and_then(Value::as_i64) == generation {
        return None;
    }
    let message = format!(
        "This release of ecs-bridge does not reconcile {plural} yet: the {kind} is kept as written \
         and nothing is made from it (the README's kinds table says which kinds are reconciled)."
    );
    // Degraded too: Argo CD's health checks then say so, rather than waiting for a status that
    // never comes.
    let conditions: Vec<_> = [condition::READY, condition::DEGRADED]
        .into_iter()
        .map(|type_| {
            condition::new(
                type_,
                type_ == condition::DEGRADED,
                REASON_NOT_RECONCILED,
                message.clone(),
                generation,
                now.clone(),
            )
        })
        .collect();
    let (health, reason) = condition::health(&conditions);
    Some(json!({
        "observedGeneration": generation,
        "conditions": conditions,
        "health": health,
        "healthReason": reason,
    }))
}

async fn reconcile<K>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action, Error>
where
    K: Resource<DynamicType = ()> + Serialize,
{
    let kind = K::kind(&()).into_owned();
    let plural = format!("{kind}s");
    let value = serde_json::to_value(&*obj).unwrap_or(Value::Null);
    let Some(status) = status_to_write(&kind, &plural, &value, Time(Timestamp::now())) else {
        return Ok(Action::await_change());
    };
    let resource = ApiResource::erase::<K>(&());
    let api: Api<DynamicObject> = match obj.namespace() {
        Some(ns) => Api::namespaced_with(ctx.client.clone(), &ns, &resource),
        None => Api::all_with(ctx.client.clone(), &resource),
    };
    let body = json!({ "apiVersion": K::api_version(&()), "kind": kind, "status": status });
    api.patch_status(
        &obj.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(body),
    )
    .await?;
    tracing::info!(kind = %kind, name = %obj.name_any(), "not reconciled yet: status says so");
    Ok(Action::await_change())
}

async fn drive<K>(controller: Controller<K>, ctx: Arc<Context>, shutdown: Shutdown)
where
    K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let store = controller.store();
    let results =
        controller
            .graceful_shutdown_on(shutdown.clone())
            .run(reconcile::<K>, error_policy::<K>, ctx);
    // (Readiness does not wait for these: they make nothing.)
    crate::controller::drive(
        CONTROLLER,
        store,
        crate::runtime::Synced::unobserved(),
        results,
        shutdown,
    )
    .await;
}

/// Runs the status writer of the kinds without a controller on `namespace` (`None`: every
/// namespace) until `shutdown`.
pub async fn run(namespace: Option<String>, ctx: Arc<Context>, shutdown: Shutdown) {
    let client = ctx.client.clone();
    let ns = namespace.as_deref();
    drive(
        Controller::new(scoped::<ScheduledTask>(&client, ns), watcher::Config::default())
            .trigger_backoff(crate::controller::caches::trigger_backoff()),
        Arc::clone(&ctx),
        shutdown.clone(),
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Time {
        Time(Timestamp::from_second(1_800_000_000 + s).expect("a time"))
    }

    #[test]
    fn the_status_says_so_once_per_generation() {
        let obj = json!({"metadata": {"name": "nightly", "generation": 2}});
        let status = status_to_write("ScheduledTask", "ScheduledTasks", &obj, t(0)).expect("a status");
        assert_eq!(status["observedGeneration"], 2);
        let ready = &status["conditions"][0];
        assert_eq!(
            (&ready["type"], &ready["status"], &ready["reason"]),
            (&json!("Ready"), &json!("False"), &json!("NotReconciled"))
        );
        assert!(
            ready["message"]
                .as_str()
                .is_some_and(|m| m.contains("does not reconcile ScheduledTasks yet")),
            "{ready}"
        );
        assert_eq!(
            (&status["health"], &status["healthReason"]),
            (&json!("Degraded"), &json!("NotReconciled"))
        );
        let degraded = &status["conditions"][1];
        assert_eq!(
            (&degraded["type"], &degraded["status"], &degraded["reason"]),
            (&json!("Degraded"), &json!("True"), &json!("NotReconciled"))
        );
        // Said for this generation: nothing to write.
        let said = json!({"metadata": {"name": "nightly", "generation": 2}, "status": status});
        assert_eq!(
            status_to_write("ScheduledTask", "ScheduledTasks", &said, t(5)),
            None
        );
        // A new generation: said again.
        let mut edited = said.clone();
        edited["metadata"]["generation"] = json!(3);
        assert!(status_to_write("ScheduledTask", "ScheduledTasks", &edited, t(9)).is_some());
    }
}
