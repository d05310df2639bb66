//! Strategic merge patch against the real upstream Deployment schema.

use serde_json::{Value, json};

use super::{PatchError, strategic_merge_patch};
use crate::schema::{Gvk, Schemas};

fn deployment(containers: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d", "finalizers": ["a", "b"]},
        "spec": {
            "replicas": 1,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}}
        }
    })
}

fn two_containers() -> Value {
    deployment(json!([
        {"name": "web", "image": "nginx:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], "args": ["x", "y"]},
        {"name": "sidecar", "image": "busybox"}
    ]))
}

fn smp(obj: &Value, patch: Value) -> Result<Value, PatchError> {
    let schemas = Schemas::upstream();
    strategic_merge_patch(obj, &patch, schemas.kind(&Gvk::new("apps", "v1", "Deployment")))
}

fn containers(v: &Value) -> &Value {
    &v["spec"]["template"]["spec"]["containers"]
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .expect("list")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect()
}

fn pod_spec(containers: Value) -> Value {
    json!({"spec": {"template": {"spec": {"containers": containers}}}})
}

#[test]
fn containers_merge_by_name() {
    let out = smp(
        &two_containers(),
        pod_spec(json!([{"name": "web", "image": "nginx:2"}])),
    )
    .expect("patch");
    assert_eq!(names(containers(&out)), vec!["web", "sidecar"]);
    assert_eq!(containers(&out)[0]["image"], "nginx:2");
    assert_eq!(
        containers(&out)[0]["args"],
        json!(["x", "y"]),
        "unpatched fields stay"
    );
    assert_eq!(
        containers(&out)[1],
        json!({"name": "sidecar", "image": "busybox"})
    );
    assert_eq!(out["spec"]["replicas"], 1);
}

#[test]
fn a_new_container_is_added_where_upstream_puts_it() {
    // Upstream's mergeSortedSlice places an item the live list lacks before the live-only
    // items that follow it, so without $setElementOrder a new container comes first.
    let out = smp(
        &two_containers(),
        pod_spec(json!([{"name": "log", "image": "tail"}])),
    )
    .expect("patch");
    assert_eq!(names(containers(&out)), vec!["log", "web", "sidecar"]);
    // With the patch naming an existing item first, the new one follows it.
    let out = smp(
        &two_containers(),
        pod_spec(json!([{"name": "web"}, {"name": "log", "image": "tail"}])),
    )
    .expect("patch");
    assert_eq!(names(containers(&out)), vec!["web", "log", "sidecar"]);
}

#[test]
fn set_element_order_orders_the_merged_list() {
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}],
        "containers": [{"name": "web", "image": "nginx:3"}]
    }}}});
    let out = smp(&two_containers(), patch).expect("patch");
    assert_eq!(names(containers(&out)), vec!["sidecar", "web"]);
    assert_eq!(containers(&out)[1]["image"], "nginx:3");
    assert!(!out.to_string().contains("$setElementOrder"));

    // Items the directive does not list keep their place relative to the listed ones
    // (upstream test "merge lists of scalars": live 1 2 4, order 1 2 3 → 1 2 3 4).
    let live = json!({"metadata": {"finalizers": ["1", "2", "4"]}});
    let out = smp(
        &live,
        json!({"metadata": {"$setElementOrder/finalizers": ["1", "2", "3"], "finalizers": ["3"]}}),
    )
    .expect("patch");
    assert_eq!(out["metadata"]["finalizers"], json!(["1", "2", "3", "4"]));

    // The patch list must follow the directive's order.
    let bad = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
        "containers": [{"name": "sidecar", "image": "x"}, {"name": "web", "image": "y"}]
    }}}});
    assert!(
        smp(&two_containers(), bad)
            .expect_err("order mismatch")
            .to_string()
            .contains("doesn't match")
    );
}

#[test]
fn kubectl_apply_patch_with_deletion_and_order() {
    // The shape `kubectl apply` (client side) sends: the list's new order, deletions and
    // additions (the env example of the preserve-order design).
    let obj = deployment(json!([{"name": "web", "image": "nginx", "env": [
        {"name": "ENV2", "value": "bar"}, {"name": "ENV5", "value": "server-added-2"},
        {"name": "ENV1", "value": "foo"}, {"name": "ENV3", "value": "baz"}, {"name": "ENV4", "value": "server-added-1"}
    ]}]));
    let patch = pod_spec(json!([{
        "name": "web",
        "$setElementOrder/env": [{"name": "ENV1"}, {"name": "ENV2"}, {"name": "ENV6"}],
        "env": [{"name": "ENV3", "$patch": "delete"}, {"name": "ENV6", "value": "new-env"}]
    }]));
    let out = smp(&obj, patch).expect("patch");
    let env = &containers(&out)[0]["env"];
    assert_eq!(names(env), vec!["ENV5", "ENV1", "ENV2", "ENV6", "ENV4"]);
    assert_eq!(env[3], json!({"name": "ENV6", "value": "new-env"}));
}

#[test]
fn patch_delete_removes_a_container() {
    let out = smp(
        &two_containers(),
        pod_spec(json!([{"name": "sidecar", "$patch": "delete"}])),
    )
    .expect("patch");
    assert_eq!(names(containers(&out)), vec!["web"]);
    assert!(!out.to_string().contains("$patch"));
    let missing_key = smp(
        &two_containers(),
        pod_spec(json!([{"$patch": "delete", "image": "x"}])),
    )
    .expect_err("no merge key");
    assert_eq!(missing_key.http_status(), 500);
    assert!(
        missing_key
            .to_string()
            .contains("does not contain declared merge key: name")
    );
}

#[test]
fn env_merges_by_name_inside_a_container() {
    let patch =
        pod_spec(json!([{"name": "web", "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]}]));
    let out = smp(&two_containers(), patch).expect("patch");
    assert_eq!(
        containers(&out)[0]["env"],
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}])
    );
    // args has no patch strategy: replaced.
    let out = smp(
        &two_containers(),
        pod_spec(json!([{"name": "web", "args": ["z"]}])),
    )
    .expect("patch");
    assert_eq!(containers(&out)[0]["args"], json!(["z"]));
}

#[test]
fn finalizers_merge_as_a_set() {
    let out = smp(&two_containers(), json!({"metadata": {"finalizers": ["b", "c"]}})).expect("patch");
    assert_eq!(out["metadata"]["finalizers"], json!(["a", "b", "c"]));
    // A finalizer new to the list comes first (upstream order), duplicates collapse.
    let out = smp(&two_containers(), json!({"metadata": {"finalizers": ["c", "c"]}})).expect("patch");
    assert_eq!(out["metadata"]["finalizers"], json!(["c", "a", "b"]));
    let out = smp(
        &two_containers(),
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
    )
    .expect("patch");
    assert_eq!(out["metadata"]["finalizers"], json!(["b"]));
    let bad = smp(
        &two_containers(),
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}),
    )
    .expect_err("not a list");
    assert_eq!(bad.http_status(), 400);
}

#[test]
fn retain_keys_clears_the_other_union_members() {
    let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}});
    let out = smp(&two_containers(), patch).expect("patch");
    assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
    let unlisted = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": {"maxSurge": 2}}}});
    assert_eq!(
        smp(&two_containers(), unlisted)
            .expect_err("must list rollingUpdate")
            .http_status(),
        400
    );
    // Volumes (patch strategy merge,retainKeys) as kubectl apply sends them.
    let obj = json!({"spec": {"template": {"spec": {"containers": [], "volumes": [{"name": "v", "emptyDir": {}}]}}}});
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/volumes": [{"name": "v"}],
        "volumes": [{"name": "v", "$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}}]
    }}}});
    let out = smp(&obj, patch).expect("patch");
    assert_eq!(
        out["spec"]["template"]["spec"]["volumes"],
        json!([{"name": "v", "configMap": {"name": "cm"}}])
    );
}

#[test]
fn map_directives_and_nulls() {
    let out = smp(
        &two_containers(),
        json!({"spec": {"strategy": {"rollingUpdate": {"$patch": "delete"}}}}),
    )
    .expect("patch");
    assert_eq!(out["spec"]["strategy"], json!({"type": "RollingUpdate"}));
    let out = smp(
        &two_containers(),
        json!({"spec": {"strategy": {"rollingUpdate": null}, "replicas": null}}),
    )
    .expect("patch");
    assert_eq!(out["spec"]["strategy"], json!({"type": "RollingUpdate"}));
    assert!(out["spec"].get("replicas").is_none());
    let out = smp(
        &two_containers(),
        json!({"spec": {"template": {"metadata": {"labels": {"$patch": "replace", "tier": "db"}}}}}),
    )
    .expect("patch");
    assert_eq!(
        out["spec"]["template"]["metadata"]["labels"],
        json!({"tier": "db"})
    );
    let merge = smp(
        &two_containers(),
        json!({"spec": {"strategy": {"$patch": "merge", "type": "Recreate"}}}),
    )
    .expect_err("upstream rejects");
    assert!(merge.to_string().contains("unknown patch type"), "{merge}");
}

#[test]
fn list_replace_directive_and_fresh_fields_never_leak() {
    let out = smp(
        &two_containers(),
        pod_spec(json!([{"name": "only", "image": "x"}, {"$patch": "replace"}])),
    )
    .expect("patch");
    assert_eq!(containers(&out), &json!([{"name": "only", "image": "x"}]));
    // A field the object lacks: directives inside are applied against nothing.
    let patch = json!({"spec": {"template": {"spec": {
        "volumes": [{"name": "gone", "$patch": "delete"}, {"name": "w", "emptyDir": {}}],
        "$setElementOrder/initContainers": [{"name": "x"}],
        "$deleteFromPrimitiveList/nothing": ["x"]
    }}}});
    let out = smp(&two_containers(), patch).expect("patch");
    assert_eq!(
        out["spec"]["template"]["spec"]["volumes"],
        json!([{"name": "w", "emptyDir": {}}])
    );
    assert!(!out.to_string().contains('$'), "{out}");
    let merge_item = smp(
        &two_containers(),
        pod_spec(json!([{"name": "web", "$patch": "merge"}])),
    )
    .expect_err("unsupported");
    assert!(
        merge_item
            .to_string()
            .contains("merging lists cannot yet be specified")
    );
}

#[test]
fn without_schema_lists_are_replaced() {
    let obj = json!({"spec": {"items": [{"name": "a"}], "m": {"x": 1}}});
    let out = strategic_merge_patch(
        &obj,
        &json!({"spec": {"items": [{"name": "b"}], "m": {"y": 2}}}),
        None,
    )
    .expect("patch");
    assert_eq!(
        out,
        json!({"spec": {"items": [{"name": "b"}], "m": {"x": 1, "y": 2}}})
    );
    assert_eq!(
        strategic_merge_patch(&obj, &json!([1]), None)
            .expect_err("not an object")
            .http_status(),
        400
    );
    let empty = json!({"metadata": {"finalizers": []}});
    let lol = smp(&empty, json!({"metadata": {"finalizers": [["x"]]}})).expect_err("list of lists");
    assert_eq!(lol.http_status(), 422);
    let mixed = smp(&two_containers(), json!({"metadata": {"finalizers": [1]}})).expect_err("mixed types");
    assert!(mixed.to_string().contains("not identical"), "{mixed}");
}
