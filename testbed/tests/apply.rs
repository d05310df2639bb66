//! Server-side apply and the other patch types through kube-rs: create by apply (one write),
//! no-op re-apply (no write), conflicts between field managers (409 with `FieldManagerConflict`
//! causes) and forcing, removal of fields a manager stops applying, shared ownership, JSON merge
//! patch and JSON patch, the resourceVersion precondition of patches, and `fieldValidation`
//! (`Strict` → 400 strict decoding error, `Warn` → `Warning` header).

mod support;

use std::collections::BTreeMap;

use axum::http::{self, Request};
use ecs_bridge_testbed::TestApiServer;
use k8s_openapi::api::{apps::v1::Deployment, core::v1::ConfigMap};
use kube::{
    Api, Client, ResourceExt,
    api::{Patch, PatchParams, PostParams, ValidationDirective},
    client::Body,
};
use serde_json::{Value, json};
use support::api_error;

fn applied(data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": data})
}

fn managers(cm: &ConfigMap) -> BTreeMap<String, Value> {
    cm.managed_fields()
        .iter()
        .map(|m| {
            (
                format!(
                    "{}/{}",
                    m.manager.clone().unwrap_or_default(),
                    m.operation.clone().unwrap_or_default()
                ),
                m.fields_v1.as_ref().map(|f| f.0.clone()).unwrap_or_default(),
            )
        })
        .collect()
}

fn data(cm: &ConfigMap) -> BTreeMap<String, String> {
    cm.data.clone().unwrap_or_default()
}

fn rv(server: &TestApiServer) -> u64 {
    server.api.store.lock().resource_version()
}

#[tokio::test(flavor = "multi_thread")]
async fn server_side_apply_ownership_conflicts_and_removal() {
    let (server, client) = support::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let a = PatchParams::apply("manager-a");
    let b = PatchParams::apply("manager-b");

    // Create by apply: one write (one resourceVersion), owned by the applier.
    let before = rv(&server);
    let created = cms
        .patch(
            "cfg",
            &a,
            &Patch::Apply(applied(json!({"shared": "1", "mine": "x"}))),
        )
        .await
        .expect("create by apply");
    assert_eq!(rv(&server), before + 1, "an apply that creates writes once");
    assert_eq!(created.resource_version(), Some((before + 1).to_string()));
    let owners = managers(&created);
    assert_eq!(owners.keys().collect::<Vec<_>>(), ["manager-a/Apply"]);
    assert!(
        owners["manager-a/Apply"].pointer("/f:data/f:mine").is_some(),
        "{owners:?}"
    );

    // The same apply again changes nothing and writes nothing.
    let again = cms
        .patch(
            "cfg",
            &a,
            &Patch::Apply(applied(json!({"shared": "1", "mine": "x"}))),
        )
        .await
        .expect("re-apply");
    assert_eq!(again.resource_version(), created.resource_version());
    assert_eq!(rv(&server), before + 1);

    // Another manager applying a different value for an owned field conflicts.
    let conflict = api_error(
        cms.patch("cfg", &b, &Patch::Apply(applied(json!({"shared": "2"}))))
            .await,
    );
    assert_eq!(
        (conflict.code, conflict.reason.as_str()),
        (409, "Conflict"),
        "{conflict:?}"
    );
    assert_eq!(
        conflict.message,
        "Apply failed with 1 conflict: conflict with \"manager-a\": .data.shared"
    );
    let causes = conflict.details.expect("details").causes;
    assert_eq!(causes.len(), 1);
    assert_eq!(
        (
            causes[0].reason.as_str(),
            causes[0].message.as_str(),
            causes[0].field.as_str()
        ),
        (
            "FieldManagerConflict",
            "conflict with \"manager-a\"",
            ".data.shared"
        )
    );
    assert_eq!(
        data(&cms.get("cfg").await.expect("get"))["shared"],
        "1",
        "nothing written"
    );

    // Applying the same value is no conflict: the field becomes shared.
    cms.patch("cfg", &b, &Patch::Apply(applied(json!({"shared": "1"}))))
        .await
        .expect("apply the same value");
    // With force, the other manager takes the field over.
    let forced = cms
        .patch(
            "cfg",
            &PatchParams::apply("manager-c").force(),
            &Patch::Apply(applied(json!({"mine": "forced"}))),
        )
        .await
        .expect("forced apply");
    assert_eq!(data(&forced)["mine"], "forced");
    let owners = managers(&forced);
    assert!(
        owners["manager-c/Apply"].pointer("/f:data/f:mine").is_some(),
        "{owners:?}"
    );
    assert!(
        owners["manager-a/Apply"].pointer("/f:data/f:mine").is_none(),
        "{owners:?}"
    );

    // A manager that stops applying a field it owns alone removes it; one it shares stays.
    cms.patch(
        "cfg",
        &a,
        &Patch::Apply(applied(json!({"only-a": "1", "shared": "1"}))),
    )
    .await
    .expect("apply more");
    let dropped = cms
        .patch("cfg", &a, &Patch::Apply(applied(json!({}))))
        .await
        .expect("apply less");
    let d = data(&dropped);
    assert!(!d.contains_key("only-a"), "{d:?}");
    assert_eq!(
        d.get("shared").map(String::as_str),
        Some("1"),
        "still applied by manager-b"
    );
    assert_eq!(
        d.get("mine").map(String::as_str),
        Some("forced"),
        "owned by manager-c"
    );

    // An Update (non-apply) manager owns what it changes; an apply then conflicts with it.
    cms.patch(
        "cfg",
        &PatchParams {
            field_manager: Some("editor".into()),
            ..PatchParams::default()
        },
        &Patch::Merge(json!({"data": {"shared": "edited"}})),
    )
    .await
    .expect("merge patch");
    let conflict = api_error(
        cms.patch("cfg", &b, &Patch::Apply(applied(json!({"shared": "1"}))))
            .await,
    );
    assert_eq!(conflict.code, 409);
    let cause = &conflict.details.expect("details").causes[0];
    assert_eq!(cause.message, "conflict with \"editor\" using v1", "{cause:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn merge_and_json_patches_and_their_preconditions() {
    let (_server, client) = support::start().await;
    let deploys: Api<Deployment> = Api::default_namespaced(client.clone());
    let body: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }))
    .expect("Deployment");
    let created = deploys
        .create(&PostParams::default(), &body)
        .await
        .expect("create");
    let pp = PatchParams::default();

    // JSON merge patch: null removes, objects merge, lists are replaced.
    let merged = deploys
        .patch(
            "web",
            &pp,
            &Patch::Merge(json!({
                "metadata": {"labels": {"app": null, "tier": "front"}},
                "spec": {"replicas": 3},
            })),
        )
        .await
        .expect("merge patch");
    assert_eq!(merged.labels().get("tier").map(String::as_str), Some("front"));
    assert!(!merged.labels().contains_key("app"));
    assert_eq!(merged.spec.as_ref().and_then(|s| s.replicas), Some(3));
    assert_eq!(merged.metadata.generation, Some(2));

    // JSON patch (RFC 6902), including a failing test operation (422, nothing written).
    let patch: Value = json!([
        {"op": "test", "path": "/spec/replicas", "value": 3},
        {"op": "replace", "path": "/spec/replicas", "value": 4},
        {"op": "add", "path": "/metadata/annotations", "value": {"a": "b"}},
    ]);
    let patched = deploys
        .patch(
            "web",
            &pp,
            &Patch::<()>::Json(serde_json::from_value(patch).expect("json patch")),
        )
        .await
        .expect("json patch");
    assert_eq!(patched.spec.as_ref().and_then(|s| s.replicas), Some(4));
    assert_eq!(patched.annotations().get("a").map(String::as_str), Some("b"));
    let failing: Value = json!([
        {"op": "test", "path": "/spec/replicas", "value": 99},
        {"op": "replace", "path": "/spec/replicas", "value": 5},
    ]);
    let failed = api_error(
        deploys
            .patch(
                "web",
                &pp,
                &Patch::<()>::Json(serde_json::from_value(failing).expect("json patch")),
            )
            .await,
    );
    assert_eq!(failed.code, 422, "{failed:?}");
    assert_eq!(
        deploys.get("web").await.expect("get").resource_version(),
        patched.resource_version()
    );

    // A resourceVersion in a patch is a precondition.
    let stale = api_error(
        deploys
            .patch(
                "web",
                &pp,
                &Patch::Merge(json!({"metadata": {"resourceVersion": created.resource_version()}, "spec": {"replicas": 7}})),
            )
            .await,
    );
    assert_eq!(
        (stale.code, stale.reason.as_str()),
        (409, "Conflict"),
        "{stale:?}"
    );
    deploys
        .patch(
            "web",
            &pp,
            &Patch::Merge(
                json!({"metadata": {"resourceVersion": patched.resource_version()}, "spec": {"replicas": 7}}),
            ),
        )
        .await
        .expect("a patch with the current resourceVersion");
}

/// Sends a raw request and returns the status, the `Warning` headers and the body.
async fn send(
    client: &Client,
    method: &str,
    uri: &str,
    content_type: &str,
    body: &Value,
) -> (u16, Vec<String>, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(Body::from(serde_json::to_vec(body).expect("json")))
        .expect("request");
    let response = client.send(request).await.expect("send");
    let status = response.status().as_u16();
    let warnings = response
        .headers()
        .get_all("warning")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect();
    let bytes = axum::body::to_bytes(axum::body::Body::new(response.into_body()), usize::MAX)
        .await
        .expect("response body");
    (
        status,
        warnings,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn field_validation_strict_warn_and_ignore() {
    let (_server, client) = support::start().await;
    let cm = |name: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}, "bogus": 1, "metadata2": {}});
    let path = "/api/v1/namespaces/default/configmaps";

    let (status, _, body) = send(
        &client,
        "POST",
        &format!("{path}?fieldValidation=Strict"),
        "application/json",
        &cm("strict"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["reason"], "BadRequest");
    assert_eq!(
        body["message"],
        "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field \"bogus\", unknown field \"metadata2\""
    );

    let (status, warnings, body) = send(
        &client,
        "POST",
        &format!("{path}?fieldValidation=Warn"),
        "application/json",
        &cm("warn"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        warnings,
        [
            "299 - \"unknown field \\\"bogus\\\"\"",
            "299 - \"unknown field \\\"metadata2\\\"\""
        ]
    );
    assert!(body.get("bogus").is_none(), "unknown fields are dropped");
    // Warn is the default.
    let (status, warnings, _) = send(&client, "POST", path, "application/json", &cm("default")).await;
    assert_eq!((status, warnings.len()), (201, 2));
    let (status, warnings, _) = send(
        &client,
        "POST",
        &format!("{path}?fieldValidation=Ignore"),
        "application/json",
        &cm("ignore"),
    )
    .await;
    assert_eq!((status, warnings.len()), (201, 0));

    // Invalid write options are refused as the API server's options validation does.
    let (status, _, body) = send(
        &client,
        "POST",
        &format!("{path}?fieldValidation=Bogus"),
        "application/json",
        &cm("bogus"),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["message"],
        "CreateOptions.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: \"Bogus\": supported \
         values: \"\", \"Ignore\", \"Strict\", \"Warn\""
    );
    let apply_path = format!("{path}/warn");
    let (status, _, body) = send(
        &client,
        "PATCH",
        &apply_path,
        "application/apply-patch+yaml",
        &json!({"apiVersion": "v1", "kind": "ConfigMap"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
    let (status, _, body) = send(
        &client,
        "PATCH",
        &format!("{apply_path}?force=true"),
        "application/merge-patch+json",
        &json!({"data": {"a": "2"}}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch"
    );

    // Through kube-rs: a strict apply with an unknown field.
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let mut strict = PatchParams::apply("strict");
    strict.field_validation = Some(ValidationDirective::Strict);
    let refused = api_error(
        cms.patch(
            "applied",
            &strict,
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1"}, "bogus": 1})),
        )
        .await,
    );
    assert_eq!(refused.code, 400, "{refused:?}");
    assert!(
        refused
            .message
            .contains("strict decoding error: unknown field \"bogus\""),
        "{}",
        refused.message
    );
    assert!(cms.get_opt("applied").await.expect("get").is_none());
}

fn deployment_config(containers: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": containers},
            },
        },
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_merges_associative_lists_by_key_and_applies_status() {
    let (_server, client) = support::start().await;
    let deploys: Api<Deployment> = Api::default_namespaced(client.clone());
    let images = |d: &Deployment| -> Vec<(String, Option<String>)> {
        d.spec
            .as_ref()
            .map(|s| {
                s.template
                    .spec
                    .as_ref()
                    .map(|p| p.containers.clone())
                    .unwrap_or_default()
            })
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c.name, c.image))
            .collect()
    };
    let a = PatchParams::apply("team-a");
    let b = PatchParams::apply("team-b");
    deploys
        .patch(
            "web",
            &a,
            &Patch::Apply(deployment_config(json!([{"name": "app", "image": "app:1"}]))),
        )
        .await
        .expect("team-a applies its container");
    // Another manager adds a container to the same list (a map keyed by name): both stay.
    let both = deploys
        .patch(
            "web",
            &b,
            &Patch::Apply(deployment_config(
                json!([{"name": "sidecar", "image": "proxy:1"}]),
            )),
        )
        .await
        .expect("team-b applies its sidecar");
    assert_eq!(
        images(&both),
        [
            ("app".to_owned(), Some("app:1".to_owned())),
            ("sidecar".to_owned(), Some("proxy:1".to_owned()))
        ]
    );
    // Changing the other team's container conflicts on that key only.
    let conflict = api_error(
        deploys
            .patch(
                "web",
                &b,
                &Patch::Apply(deployment_config(
                    json!([{"name": "app", "image": "app:2"}, {"name": "sidecar", "image": "proxy:1"}]),
                )),
            )
            .await,
    );
    assert_eq!(conflict.code, 409);
    assert_eq!(
        conflict.details.expect("details").causes[0].field,
        ".spec.template.spec.containers[name=\"app\"].image"
    );
    // team-a dropping its container removes it; team-b's stays.
    let after = deploys
        .patch("web", &a, &Patch::Apply(deployment_config(json!([]))))
        .await
        .expect("team-a drops its container");
    assert_eq!(
        images(&after),
        [("sidecar".to_owned(), Some("proxy:1".to_owned()))]
    );

    // Apply to the status subresource: status only, its own managedFields entry.
    let status = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "status": {"replicas": 3, "observedGeneration": 1}});
    let with_status = deploys
        .patch_status("web", &PatchParams::apply("status-writer"), &Patch::Apply(status))
        .await
        .expect("apply status");
    assert_eq!(with_status.status.as_ref().and_then(|s| s.replicas), Some(3));
    assert_eq!(images(&with_status), images(&after), "spec untouched");
    let entry = with_status
        .managed_fields()
        .iter()
        .find(|m| m.manager.as_deref() == Some("status-writer"))
        .cloned()
        .expect("a status-writer entry");
    assert_eq!(entry.subresource.as_deref(), Some("status"));
    assert_eq!(entry.operation.as_deref(), Some("Apply"));

    // An apply body without apiVersion and kind is refused.
    let bare = api_error(
        deploys
            .patch(
                "web",
                &a,
                &Patch::Apply(json!({"metadata": {"name": "web"}, "spec": {"replicas": 2}})),
            )
            .await,
    );
    assert_eq!(bare.code, 400, "{bare:?}");
}
