//! Server-side apply and ownership tracking against the real upstream schemas.

use serde_json::{Value, json};

use super::{ApplyError, Conflict, apply};
use crate::schema::{Gvk, Schemas};

pub(super) const T0: &str = "2024-05-01T10:00:00Z";
pub(super) const T1: &str = "2024-05-01T10:05:00Z";
pub(super) const T2: &str = "2024-05-01T10:09:00Z";

pub(super) fn deploy_gvk() -> Gvk {
    Gvk::new("apps", "v1", "Deployment")
}

pub(super) fn config(spec: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"}, "spec": spec})
}

/// A configuration that sets nothing but what is never owned.
pub(super) fn bare() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"}})
}

pub(super) fn ssa(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, ApplyError> {
    let schemas = Schemas::upstream();
    apply(
        live,
        applied,
        manager,
        "apps/v1",
        None,
        force,
        schemas.kind(&deploy_gvk()),
        now,
    )
}

pub(super) fn ok(live: Option<&Value>, applied: &Value, manager: &str) -> Value {
    ssa(live, applied, manager, false, T1).expect("apply succeeds")
}

/// The entry of `manager` with `operation`.
pub(super) fn entry<'v>(obj: &'v Value, manager: &str, operation: &str) -> Option<&'v Value> {
    obj["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == operation)
}

pub(super) fn fields<'v>(obj: &'v Value, manager: &str, operation: &str) -> &'v Value {
    &entry(obj, manager, operation).unwrap_or_else(|| panic!("no {operation} entry for {manager} in {obj}"))["fieldsV1"]
}

pub(super) fn conflicts(err: ApplyError) -> Vec<Conflict> {
    match err {
        ApplyError::Conflicts(c) => c,
        other => panic!("expected conflicts, got {other:?}"),
    }
}

#[test]
fn managed_fields_of_a_two_container_deployment() {
    let applied = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [
                    {"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80}]},
                    {"name": "sidecar", "image": "busybox", "args": ["sleep", "1d"]}
                ]}
            }
        }
    });
    let out = ssa(None, &applied, "kubectl", false, T0).expect("apply");
    assert_eq!(
        out["metadata"]["managedFields"],
        json!([{
            "manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": T0, "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:containers": {
                            "k:{\"name\":\"sidecar\"}": {".": {}, "f:args": {}, "f:image": {}, "f:name": {}},
                            "k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}, "f:ports": {
                                "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}
                            }}
                        }}
                    }
                }
            }
        }])
    );
    // The object is the configuration (plus managedFields).
    let mut body = out.clone();
    body["metadata"]
        .as_object_mut()
        .expect("metadata")
        .remove("managedFields");
    assert_eq!(body, applied);
    // Serialized with sorted keys, deterministically.
    let text = serde_json::to_string(&out["metadata"]["managedFields"][0]).expect("json");
    assert!(
        text.starts_with(
            "{\"apiVersion\":\"apps/v1\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\""
        ),
        "{text}"
    );
}

#[test]
fn equal_values_are_shared_and_different_values_conflict() {
    let a = ok(None, &config(json!({"replicas": 2, "paused": false})), "a");
    let shared = ok(Some(&a), &config(json!({"replicas": 2})), "b");
    assert_eq!(
        fields(&shared, "a", "Apply"),
        &json!({"f:spec": {"f:paused": {}, "f:replicas": {}}})
    );
    assert_eq!(
        fields(&shared, "b", "Apply"),
        &json!({"f:spec": {"f:replicas": {}}})
    );
    assert_eq!(
        entry(&shared, "b", "Apply").expect("b")["time"],
        json!(null),
        "a no-op apply sets no time, as upstream"
    );

    let err = ssa(Some(&shared), &config(json!({"replicas": 3})), "c", false, T2).expect_err("conflict");
    assert_eq!(err.http_status(), 409);
    assert_eq!(
        err.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"a\":\n- .spec.replicas\nconflicts with \"b\":\n- .spec.replicas"
    );
    let found = conflicts(err);
    assert_eq!(found.len(), 2);
    assert_eq!(
        (found[0].manager.as_str(), found[0].field.as_str()),
        ("a", ".spec.replicas")
    );
    assert_eq!(found[0].cause_message(), "conflict with \"a\"");
}

#[test]
fn force_takes_ownership() {
    let a = ok(None, &config(json!({"replicas": 2, "paused": false})), "a");
    let out = ssa(Some(&a), &config(json!({"replicas": 5})), "b", true, T2).expect("forced");
    assert_eq!(out["spec"]["replicas"], 5);
    assert_eq!(fields(&out, "a", "Apply"), &json!({"f:spec": {"f:paused": {}}}));
    assert_eq!(fields(&out, "b", "Apply"), &json!({"f:spec": {"f:replicas": {}}}));
    assert_eq!(entry(&out, "b", "Apply").expect("b")["time"], T2);
    // a re-applying its old value now conflicts with b.
    let err = ssa(
        Some(&out),
        &config(json!({"replicas": 2, "paused": false})),
        "a",
        false,
        T2,
    )
    .expect_err("conflict");
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"b\": .spec.replicas"
    );
}

#[test]
fn fields_a_manager_stops_applying_are_removed() {
    let cfg = |spec: Value, labels: Value| {
        let mut c = config(spec);
        c["metadata"]["labels"] = labels;
        c
    };
    let first = ok(
        None,
        &cfg(
            json!({"replicas": 2, "paused": true}),
            json!({"a": "1", "b": "2"}),
        ),
        "a",
    );
    let second = ssa(
        Some(&first),
        &cfg(json!({"paused": true}), json!({"a": "1"})),
        "a",
        false,
        T2,
    )
    .expect("apply");
    assert_eq!(second["metadata"]["labels"], json!({"a": "1"}));
    assert!(second["spec"].get("replicas").is_none(), "{second}");
    assert_eq!(second["spec"]["paused"], true);
    assert_eq!(second["metadata"]["name"], "web", "untracked metadata survives");
    // An empty configuration releases (and removes) everything the manager owned.
    let empty = ssa(Some(&second), &bare(), "a", false, T2).expect("apply");
    assert!(
        empty.get("spec").is_none() && empty["metadata"].get("labels").is_none(),
        "{empty}"
    );
    assert!(empty["metadata"].get("managedFields").is_none(), "{empty}");
    assert_eq!(empty["metadata"]["name"], "web");
}

#[test]
fn fields_owned_by_others_survive_removal() {
    let a = ok(None, &config(json!({"replicas": 2, "paused": true})), "a");
    let b = ok(Some(&a), &config(json!({"replicas": 2})), "b");
    let out = ok(Some(&b), &bare(), "a");
    assert_eq!(
        out["spec"],
        json!({"replicas": 2}),
        "paused was only a's; replicas is b's too"
    );
    assert!(entry(&out, "a", "Apply").is_none());
    assert_eq!(fields(&out, "b", "Apply"), &json!({"f:spec": {"f:replicas": {}}}));
}

#[test]
fn list_map_items_are_removed_with_their_owner() {
    let containers = |items: Value| config(json!({"template": {"spec": {"containers": items}}}));
    let both = json!([{"name": "web", "image": "nginx"}, {"name": "sidecar", "image": "busybox"}]);
    let a = ok(None, &containers(both.clone()), "a");
    let out = ok(
        Some(&a),
        &containers(json!([{"name": "web", "image": "nginx"}])),
        "a",
    );
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"],
        json!([{"name": "web", "image": "nginx"}])
    );
    // When another applier also owns the item, it stays.
    let b = ok(
        Some(&a),
        &containers(json!([{"name": "sidecar", "image": "busybox"}])),
        "b",
    );
    let out = ok(
        Some(&b),
        &containers(json!([{"name": "web", "image": "nginx"}])),
        "a",
    );
    assert_eq!(out["spec"]["template"]["spec"]["containers"], both);
    // Items of a set are removed the same way.
    let fin = |f: Value| json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "finalizers": f}});
    let one = ok(None, &fin(json!(["x", "y"])), "a");
    let two = ok(Some(&one), &fin(json!(["z"])), "b");
    assert_eq!(
        two["metadata"]["finalizers"],
        json!(["x", "y", "z"]),
        "sets merge as a union"
    );
    let three = ok(Some(&two), &fin(json!(["x"])), "a");
    assert_eq!(three["metadata"]["finalizers"], json!(["x", "z"]));
    assert_eq!(
        fields(&three, "a", "Apply"),
        &json!({"f:metadata": {"f:finalizers": {"v:\"x\"": {}}}})
    );
}

#[test]
fn status_is_isolated_by_subresource() {
    let schemas = Schemas::upstream();
    let schema = || schemas.kind(&deploy_gvk());
    let mut applied = config(json!({"replicas": 1}));
    applied["status"] = json!({"replicas": 9});
    let main = apply(None, &applied, "user", "apps/v1", None, false, schema(), T0).expect("apply");
    assert!(
        main.get("status").is_none(),
        "status is ignored on the main resource"
    );
    let mut status_cfg = config(json!({"replicas": 7}));
    status_cfg["status"] = json!({"replicas": 1, "readyReplicas": 1});
    let status = apply(
        Some(&main),
        &status_cfg,
        "controller",
        "apps/v1",
        Some("status"),
        false,
        schema(),
        T1,
    )
    .expect("status apply");
    assert_eq!(
        status["spec"]["replicas"], 1,
        "spec is ignored on the status subresource"
    );
    assert_eq!(status["status"], json!({"replicas": 1, "readyReplicas": 1}));
    let entry = entry(&status, "controller", "Apply").expect("entry");
    assert_eq!(entry["subresource"], "status");
    assert_eq!(
        entry["fieldsV1"],
        json!({"f:status": {"f:readyReplicas": {}, "f:replicas": {}}})
    );
    // The user re-applying the main resource keeps the status and the controller's entry.
    let again = apply(
        Some(&status),
        &config(json!({"replicas": 2})),
        "user",
        "apps/v1",
        None,
        false,
        schema(),
        T2,
    )
    .expect("apply");
    assert_eq!(again["status"], json!({"replicas": 1, "readyReplicas": 1}));
    assert!(
        apply(
            Some(&again),
            &config(json!({})),
            "x",
            "apps/v1",
            Some("scale"),
            false,
            schema(),
            T2
        )
        .is_err_and(|e| e.http_status() == 501)
    );
}

#[test]
fn rejects_bad_configurations() {
    let mut wrong_version = config(json!({}));
    wrong_version["apiVersion"] = json!("apps/v1beta1");
    let err = ssa(None, &wrong_version, "a", false, T0).expect_err("version");
    assert_eq!(err.http_status(), 400);
    assert!(err.to_string().contains("expected: apps/v1"));
    let mut with_mf = config(json!({}));
    with_mf["metadata"]["managedFields"] = json!([]);
    assert_eq!(
        ssa(None, &with_mf, "a", false, T0)
            .expect_err("managedFields")
            .to_string(),
        "metadata.managedFields must be nil"
    );
    let dup = config(json!({"template": {"spec": {"containers": [{"name": "x"}, {"name": "x"}]}}}));
    assert_eq!(
        ssa(None, &dup, "a", false, T0)
            .expect_err("duplicates")
            .http_status(),
        500
    );
}
