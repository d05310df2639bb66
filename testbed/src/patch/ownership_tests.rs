//! Ownership tracking of non-apply writes, and server-side apply of custom resources.

use serde_json::{Value, json};

use super::apply_tests::{T0, T1, T2, config, conflicts, deploy_gvk, entry, fields, ok, ssa};
use super::{apply, track_update};
use crate::schema::{Gvk, Schemas};

#[test]
fn updates_take_ownership_and_later_applies_conflict() {
    let schemas = Schemas::upstream();
    let schema = || schemas.kind(&deploy_gvk());
    let applied = ok(None, &config(json!({"replicas": 2, "paused": false})), "kubectl");
    // `kubectl edit` (a PUT) changes the replicas.
    let mut edited = applied.clone();
    edited["spec"]["replicas"] = json!(5);
    let tracked = track_update(
        Some(&applied),
        &edited,
        "kubectl-edit",
        "apps/v1",
        None,
        T1,
        schema(),
    );
    assert_eq!(
        fields(&tracked, "kubectl", "Apply"),
        &json!({"f:spec": {"f:paused": {}}})
    );
    assert_eq!(
        fields(&tracked, "kubectl-edit", "Update"),
        &json!({"f:spec": {"f:replicas": {}}})
    );
    assert_eq!(
        entry(&tracked, "kubectl-edit", "Update").expect("entry")["time"],
        T1
    );
    let order: Vec<&str> = tracked["metadata"]["managedFields"]
        .as_array()
        .expect("list")
        .iter()
        .map(|e| e["manager"].as_str().expect("m"))
        .collect();
    assert_eq!(
        order,
        vec!["kubectl", "kubectl-edit"],
        "Apply entries sort before Update entries"
    );
    let err = ssa(
        Some(&tracked),
        &config(json!({"replicas": 2, "paused": false})),
        "kubectl",
        false,
        T2,
    )
    .expect_err("conflict");
    let found = conflicts(err.clone());
    assert_eq!(found[0].field, ".spec.replicas");
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.replicas"
    );
    // A write that changes nothing leaves ownership alone.
    let same = track_update(Some(&tracked), &tracked, "other", "apps/v1", None, T2, schema());
    assert_eq!(
        same["metadata"]["managedFields"],
        tracked["metadata"]["managedFields"]
    );
}

#[test]
fn track_update_on_create_and_resets() {
    let schemas = Schemas::upstream();
    let schema = || schemas.kind(&deploy_gvk());
    let mut created = config(
        json!({"replicas": 1, "template": {"metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx", "env": [{"name": "A", "value": "1"}]}]}}}),
    );
    created["metadata"]["uid"] = json!("u-1");
    let out = track_update(None, &created, "kubectl-create", "apps/v1", None, T0, schema());
    assert_eq!(
        fields(&out, "kubectl-create", "Update"),
        &json!({"f:spec": {"f:replicas": {}, "f:template": {
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:env": {".": {}, "k:{\"name\":\"A\"}": {".": {}, "f:name": {}, "f:value": {}}}, "f:image": {}, "f:name": {}}}}
        }}})
    );
    // Removing a field releases it; the entry keeps the rest.
    let mut shrunk = out.clone();
    shrunk["spec"].as_object_mut().expect("spec").remove("replicas");
    let out2 = track_update(Some(&out), &shrunk, "ctl", "apps/v1", None, T1, schema());
    assert!(
        fields(&out2, "kubectl-create", "Update")["f:spec"]
            .get("f:replicas")
            .is_none()
    );
    assert!(entry(&out2, "ctl", "Update").is_none(), "removing grants nothing");
    // A write may reset managedFields with an empty list.
    let mut reset = out2.clone();
    reset["metadata"]["managedFields"] = json!([]);
    reset["spec"]["paused"] = json!(true);
    let out3 = track_update(Some(&out2), &reset, "ctl", "apps/v1", None, T2, schema());
    assert_eq!(
        out3["metadata"]["managedFields"].as_array().expect("list").len(),
        1
    );
    assert_eq!(
        fields(&out3, "ctl", "Update"),
        &json!({"f:spec": {"f:paused": {}}})
    );
}

#[test]
fn custom_resources_use_their_list_types() {
    let gvk = Gvk::new("example.com", "v1", "Widget");
    let mut schemas = (*Schemas::upstream()).clone();
    schemas.add_custom(
        &gvk,
        json!({"type": "object", "properties": {
            "metadata": {"type": "object"},
            "spec": {"type": "object", "properties": {
                "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                          "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}},
                "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                "args": {"type": "array", "items": {"type": "string"}}
            }}
        }}),
    );
    let cfg = |spec: Value| json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "labels": {"x": "y"}}, "spec": spec});
    let run = |live: Option<&Value>, c: &Value, m: &str| {
        apply(live, c, m, "example.com/v1", None, false, schemas.kind(&gvk), T1).expect("apply")
    };
    let a = run(
        None,
        &cfg(json!({"ports": [{"name": "http", "port": 80}], "tags": ["a"], "args": ["1"]})),
        "a",
    );
    let b = run(
        Some(&a),
        &cfg(json!({"ports": [{"name": "grpc", "port": 9}], "tags": ["b"]})),
        "b",
    );
    assert_eq!(
        b["spec"]["ports"],
        json!([{"name": "http", "port": 80}, {"name": "grpc", "port": 9}])
    );
    assert_eq!(b["spec"]["tags"], json!(["a", "b"]));
    assert_eq!(
        fields(&b, "b", "Apply"),
        &json!({
            "f:metadata": {"f:labels": {"f:x": {}}},
            "f:spec": {"f:ports": {"k:{\"name\":\"grpc\"}": {".": {}, "f:name": {}, "f:port": {}}}, "f:tags": {"v:\"b\"": {}}}
        })
    );
    // Atomic lists conflict as a whole.
    let err = apply(
        Some(&b),
        &cfg(json!({"args": ["2"]})),
        "b",
        "example.com/v1",
        None,
        false,
        schemas.kind(&gvk),
        T2,
    )
    .expect_err("conflict");
    assert_eq!(conflicts(err)[0].field, ".spec.args");
    // Custom resources created by an update get `.` for new maps (no Go zero value upstream).
    let created = track_update(
        None,
        &cfg(json!({"args": ["1"]})),
        "ctl",
        "example.com/v1",
        None,
        T0,
        schemas.kind(&gvk),
    );
    assert_eq!(
        fields(&created, "ctl", "Update"),
        &json!({"f:metadata": {"f:labels": {".": {}, "f:x": {}}}, "f:spec": {".": {}, "f:args": {}}})
    );
}

#[test]
fn untracked_objects_belong_to_before_first_apply() {
    let live = config(json!({"replicas": 1, "paused": false}));
    let err = ssa(Some(&live), &config(json!({"replicas": 3})), "ctl", false, T1).expect_err("conflict");
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"before-first-apply\" using apps/v1: .spec.replicas"
    );
    let same =
        ssa(Some(&live), &config(json!({"replicas": 1})), "ctl", false, T1).expect("equal values are shared");
    assert_eq!(
        fields(&same, "before-first-apply", "Update"),
        &json!({"f:spec": {"f:paused": {}, "f:replicas": {}}})
    );
    assert_eq!(
        fields(&same, "ctl", "Apply"),
        &json!({"f:spec": {"f:replicas": {}}})
    );
}

#[test]
fn kubectl_upgrades_from_client_side_apply() {
    let schemas = Schemas::upstream();
    let schema = || schemas.kind(&deploy_gvk());
    const LAST: &str = "kubectl.kubernetes.io/last-applied-configuration";
    let client_side = |replicas: i64, annotated: i64| {
        let mut obj = config(json!({"replicas": replicas}));
        let last = serde_json::to_string(&config(json!({"replicas": annotated}))).expect("json");
        obj["metadata"]["annotations"] = json!({LAST: format!("{last}\n")});
        track_update(
            None,
            &obj,
            "kubectl-client-side-apply",
            "apps/v1",
            None,
            T0,
            schema(),
        )
    };
    let live = client_side(1, 1);
    // Another manager conflicts with the client-side apply owner...
    let err = ssa(Some(&live), &config(json!({"replicas": 2})), "other", false, T1).expect_err("conflict");
    assert_eq!(conflicts(err)[0].manager, "kubectl-client-side-apply");
    // ...but `kubectl` takes over what the annotation still describes, and refreshes it.
    let out = ssa(Some(&live), &config(json!({"replicas": 2})), "kubectl", false, T1).expect("upgrade");
    assert_eq!(out["spec"]["replicas"], 2);
    assert_eq!(
        fields(&out, "kubectl", "Apply"),
        &json!({"f:spec": {"f:replicas": {}}})
    );
    let refreshed = serde_json::to_string(&config(json!({"replicas": 2}))).expect("json") + "\n";
    assert_eq!(out["metadata"]["annotations"][LAST], json!(refreshed));
    // A field changed since the client-side apply still conflicts.
    let drifted = client_side(5, 1);
    let err = ssa(
        Some(&drifted),
        &config(json!({"replicas": 2})),
        "kubectl",
        false,
        T1,
    )
    .expect_err("conflict");
    assert_eq!(conflicts(err)[0].field, ".spec.replicas");
}
