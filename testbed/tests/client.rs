//! Typed CRUD through kube-rs against the double: create, get, list with label and field
//! selectors, optimistic concurrency (409 on a stale resourceVersion), `metadata.generation`,
//! the status and scale subresources (Deployment and a custom resource), paginated lists with
//! `limit`/`continue` (a consistent snapshot, 410 once compacted) and delete.

mod support;

use std::collections::BTreeMap;

use k8s_openapi::api::{apps::v1::Deployment, autoscaling::v1::Scale, core::v1::ConfigMap};
use kube::{
    Api, Client, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams, VersionMatch},
};
use serde_json::json;
use support::{Widget, WidgetSpec, WidgetStatus, api_error};

fn config_map(name: &str, tier: &str, value: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"tier": tier}},
        "data": {"value": value},
    }))
    .expect("ConfigMap")
}

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }))
    .expect("Deployment")
}

async fn names<K>(api: &Api<K>, lp: &ListParams) -> Vec<String>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug + kube::Resource,
{
    api.list(lp)
        .await
        .expect("list")
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn config_maps_crud_selectors_and_optimistic_concurrency() {
    let (_server, client) = support::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let pp = PostParams::default();
    for (name, tier) in [("a", "front"), ("b", "back"), ("c", "front")] {
        let created = cms
            .create(&pp, &config_map(name, tier, "1"))
            .await
            .expect("create");
        assert_eq!(created.namespace().as_deref(), Some("default"));
        assert!(created.uid().is_some() && created.creation_timestamp().is_some());
        assert!(created.resource_version().is_some());
    }
    let again = api_error(cms.create(&pp, &config_map("a", "front", "1")).await);
    assert_eq!((again.code, again.reason.as_str()), (409, "AlreadyExists"));

    let a = cms.get("a").await.expect("get");
    assert_eq!(a.data, Some(BTreeMap::from([("value".into(), "1".into())])));

    // Label selectors.
    assert_eq!(
        names(&cms, &ListParams::default().labels("tier=front")).await,
        ["a", "c"]
    );
    assert_eq!(
        names(&cms, &ListParams::default().labels("tier!=front")).await,
        ["b"]
    );
    assert_eq!(
        names(&cms, &ListParams::default().labels("tier in (back,x)")).await,
        ["b"]
    );
    assert!(
        names(&cms, &ListParams::default().labels("!tier"))
            .await
            .is_empty()
    );
    // Field selectors: metadata.name and metadata.namespace are supported for every kind.
    assert_eq!(
        names(&cms, &ListParams::default().fields("metadata.name=b")).await,
        ["b"]
    );
    assert_eq!(
        names(
            &cms,
            &ListParams::default().fields("metadata.name!=b,metadata.namespace=default")
        )
        .await,
        ["a", "c"]
    );
    let unsupported = api_error(cms.list(&ListParams::default().fields("data.value=1")).await);
    assert_eq!(unsupported.code, 400, "{unsupported:?}");
    // Other namespaces do not leak in.
    let system: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    assert!(names(&system, &ListParams::default()).await.is_empty());

    // Optimistic concurrency: a replace carrying the current resourceVersion wins, one carrying
    // a stale resourceVersion gets 409 Conflict.
    let mut changed = a.clone();
    changed.data = Some(BTreeMap::from([("value".into(), "2".into())]));
    let replaced = cms
        .replace("a", &pp, &changed)
        .await
        .expect("replace with the current rv");
    assert_ne!(replaced.resource_version(), a.resource_version());
    let stale = api_error(cms.replace("a", &pp, &changed).await);
    assert_eq!(
        (stale.code, stale.reason.as_str()),
        (409, "Conflict"),
        "{stale:?}"
    );
    assert!(
        stale.message.contains("the object has been modified"),
        "{}",
        stale.message
    );
    // A replace that changes nothing writes nothing.
    let same = cms.replace("a", &pp, &replaced).await.expect("no-op replace");
    assert_eq!(same.resource_version(), replaced.resource_version());
    // ConfigMaps allow unconditional updates (no resourceVersion).
    let mut unconditional = replaced.clone();
    unconditional.metadata.resource_version = None;
    unconditional.data = Some(BTreeMap::from([("value".into(), "3".into())]));
    cms.replace("a", &pp, &unconditional)
        .await
        .expect("unconditional replace");
    // The name in the body must match the URL.
    let mismatch = api_error(cms.replace("b", &pp, &unconditional).await);
    assert_eq!(mismatch.code, 400, "{mismatch:?}");
    // A uid in the body is a precondition: an update meant for an earlier object of the same
    // name conflicts. A patch cannot change the uid or the name.
    let mut other_uid = cms.get("a").await.expect("get");
    other_uid.metadata.uid = Some("11111111-2222-3333-4444-555555555555".into());
    let precondition = api_error(cms.replace("a", &pp, &other_uid).await);
    assert_eq!(precondition.code, 409, "{precondition:?}");
    assert!(
        precondition
            .message
            .contains("Precondition failed: UID in precondition: 11111111-2222-3333-4444-555555555555"),
        "{}",
        precondition.message
    );
    for (field, value) in [
        ("uid", "11111111-2222-3333-4444-555555555555"),
        ("name", "renamed"),
    ] {
        let immutable = api_error(
            cms.patch(
                "a",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {field: value}})),
            )
            .await,
        );
        assert_eq!(
            (immutable.code, immutable.reason.as_str()),
            (422, "Invalid"),
            "{immutable:?}"
        );
        assert_eq!(
            immutable.message,
            format!(
                "ConfigMap \"a\" is invalid: metadata.{field}: Invalid value: \"{value}\": field is immutable"
            )
        );
    }
    // A create must not carry a resourceVersion.
    let mut with_rv = config_map("d", "x", "1");
    with_rv.metadata.resource_version = Some("5".into());
    let rv_on_create = api_error(cms.create(&pp, &with_rv).await);
    assert_eq!(rv_on_create.code, 500, "{rv_on_create:?}");
    assert!(
        rv_on_create
            .message
            .contains("resourceVersion should not be set on objects to be created"),
        "{}",
        rv_on_create.message
    );

    // Delete: gone at once (no finalizers), then 404.
    let deleted = cms.delete("a", &DeleteParams::default()).await.expect("delete");
    deleted.map_right(|s| assert_eq!(s.details.expect("details").name, "a"));
    let missing = api_error(cms.get("a").await);
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));
    assert_eq!(missing.message, "configmaps \"a\" not found");
    let missing = api_error(cms.delete("a", &DeleteParams::default()).await);
    assert_eq!(missing.code, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn deployment_generation_status_and_scale_subresources() {
    let (_server, client) = support::start().await;
    let deploys: Api<Deployment> = Api::default_namespaced(client.clone());
    let pp = PostParams::default();
    let created = deploys.create(&pp, &deployment("web", 2)).await.expect("create");
    assert_eq!(created.metadata.generation, Some(1));
    assert!(created.status.is_none(), "create does not set status");

    // Labels are not spec: no generation bump, but a new resourceVersion.
    let mut labelled = created.clone();
    labelled.labels_mut().insert("extra".into(), "1".into());
    let labelled = deploys.replace("web", &pp, &labelled).await.expect("relabel");
    assert_eq!(labelled.metadata.generation, Some(1));
    assert_ne!(labelled.resource_version(), created.resource_version());

    // A status write changes status only, not spec, and does not bump the generation.
    let mut status_body = labelled.clone();
    status_body.status =
        Some(serde_json::from_value(json!({"replicas": 2, "observedGeneration": 1})).expect("status"));
    status_body.spec.as_mut().expect("spec").replicas = Some(9);
    let with_status = deploys
        .replace_status("web", &pp, &status_body)
        .await
        .expect("replace status");
    assert_eq!(with_status.spec.as_ref().and_then(|s| s.replicas), Some(2));
    assert_eq!(with_status.status.as_ref().and_then(|s| s.replicas), Some(2));
    assert_eq!(with_status.metadata.generation, Some(1));
    let patched_status = deploys
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"readyReplicas": 1}})),
        )
        .await
        .expect("patch status");
    assert_eq!(
        patched_status.status.as_ref().and_then(|s| s.ready_replicas),
        Some(1)
    );
    assert_eq!(patched_status.metadata.generation, Some(1));

    // A main-resource write changes spec (bumping the generation), never status.
    let mut spec_change = patched_status.clone();
    spec_change.spec.as_mut().expect("spec").replicas = Some(3);
    spec_change.status.as_mut().expect("status").replicas = Some(99);
    let spec_changed = deploys
        .replace("web", &pp, &spec_change)
        .await
        .expect("replace spec");
    assert_eq!(spec_changed.metadata.generation, Some(2));
    assert_eq!(spec_changed.status.as_ref().and_then(|s| s.replicas), Some(2));
    let merged = deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 42}})),
        )
        .await
        .expect("merge patch of status through the main resource");
    assert_eq!(merged.status.as_ref().and_then(|s| s.replicas), Some(2));
    assert_eq!(merged.metadata.generation, Some(2));
    assert_eq!(
        merged.resource_version(),
        spec_changed.resource_version(),
        "no-op"
    );

    // The scale subresource reads spec.replicas, status.replicas and the selector.
    let scale = deploys.get_scale("web").await.expect("get scale");
    assert_eq!(scale.spec.as_ref().and_then(|s| s.replicas), Some(3));
    let status = scale.status.clone().expect("scale status");
    assert_eq!(
        (status.replicas, status.selector.as_deref()),
        (2, Some("app=web"))
    );
    assert_eq!(
        scale.metadata.resource_version,
        spec_changed.metadata.resource_version
    );
    let scaled = deploys
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .expect("patch scale");
    assert_eq!(scaled.spec.as_ref().and_then(|s| s.replicas), Some(5));
    let after = deploys.get("web").await.expect("get");
    assert_eq!(after.spec.as_ref().and_then(|s| s.replicas), Some(5));
    assert_eq!(after.metadata.generation, Some(3));
    // replace_scale checks the resourceVersion like any update.
    let stale = api_error(deploys.replace_scale("web", &pp, &scale).await);
    assert_eq!(stale.code, 409, "{stale:?}");
    let mut current = scaled.clone();
    current.spec.as_mut().expect("spec").replicas = Some(1);
    let replaced = deploys
        .replace_scale("web", &pp, &current)
        .await
        .expect("replace scale");
    assert_eq!(replaced.spec.and_then(|s| s.replicas), Some(1));
    let negative = api_error(
        deploys
            .patch_scale(
                "web",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": -1}})),
            )
            .await,
    );
    assert_eq!(negative.code, 422, "{negative:?}");

    deploys
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete");
    assert_eq!(api_error(deploys.get("web").await).code, 404);
}

fn widget(name: &str, replicas: i32) -> Widget {
    let mut w = Widget::new(
        name,
        WidgetSpec {
            replicas,
            color: Some("red".into()),
        },
    );
    w.labels_mut().insert("app".into(), name.into());
    w
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_resources_with_status_and_scale_subresources() {
    let (_server, client) = support::start().await;
    support::install_widget_crd(&client).await;
    let widgets: Api<Widget> = Api::default_namespaced(client.clone());
    let pp = PostParams::default();
    let mut body = widget("w1", 1);
    body.status = Some(WidgetStatus {
        phase: Some("ignored".into()),
        ..WidgetStatus::default()
    });
    let created = widgets.create(&pp, &body).await.expect("create widget");
    assert_eq!(created.metadata.generation, Some(1));
    assert!(
        created.status.is_none(),
        "status is ignored on create with a status subresource"
    );
    widgets.create(&pp, &widget("w2", 1)).await.expect("create w2");
    assert_eq!(
        names(&widgets, &ListParams::default().labels("app=w2")).await,
        ["w2"]
    );
    assert_eq!(
        names(&widgets, &ListParams::default().fields("metadata.name=w1")).await,
        ["w1"]
    );

    // Status writes: status only.
    let mut status_body = created.clone();
    status_body.status = Some(WidgetStatus {
        replicas: Some(1),
        selector: Some("app=w1".into()),
        phase: Some("Ready".into()),
    });
    status_body.spec.replicas = 7;
    let with_status = widgets
        .replace_status("w1", &pp, &status_body)
        .await
        .expect("replace status");
    assert_eq!(with_status.spec.replicas, 1);
    assert_eq!(
        with_status.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Ready")
    );
    assert_eq!(with_status.metadata.generation, Some(1));

    // Labels: no generation bump. Spec: bump. Status in a main write: ignored.
    let relabelled = widgets
        .patch(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .expect("relabel");
    assert_eq!(relabelled.metadata.generation, Some(1));
    let mut spec_change = relabelled.clone();
    spec_change.spec.replicas = 2;
    spec_change.status.as_mut().expect("status").phase = Some("Hacked".into());
    let spec_changed = widgets.replace("w1", &pp, &spec_change).await.expect("replace");
    assert_eq!(spec_changed.metadata.generation, Some(2));
    assert_eq!(
        spec_changed.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Ready")
    );
    // A stale resourceVersion conflicts; custom resources refuse unconditional updates.
    let stale = api_error(widgets.replace("w1", &pp, &spec_change).await);
    assert_eq!(stale.code, 409, "{stale:?}");
    let mut unconditional = spec_changed.clone();
    unconditional.metadata.resource_version = None;
    let refused = api_error(widgets.replace("w1", &pp, &unconditional).await);
    assert_eq!(
        (refused.code, refused.reason.as_str()),
        (422, "Invalid"),
        "{refused:?}"
    );
    assert!(
        refused
            .message
            .contains("metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"),
        "{}",
        refused.message
    );
    // Schema validation of the CRD applies.
    let invalid = api_error(
        widgets
            .patch(
                "w1",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": -3}})),
            )
            .await,
    );
    assert_eq!(invalid.code, 422, "{invalid:?}");

    // Custom resources take no strategic merge patch.
    let strategic = api_error(
        widgets
            .patch(
                "w1",
                &PatchParams::default(),
                &Patch::Strategic(json!({"spec": {"replicas": 3}})),
            )
            .await,
    );
    assert_eq!(
        (strategic.code, strategic.reason.as_str()),
        (415, "UnsupportedMediaType")
    );
    assert!(!strategic.message.contains("strategic"), "{}", strategic.message);

    // The scale subresource follows the CRD's paths.
    let scale: Scale = widgets.get_scale("w1").await.expect("get scale");
    assert_eq!(scale.spec.as_ref().and_then(|s| s.replicas), Some(2));
    let status = scale.status.expect("scale status");
    assert_eq!((status.replicas, status.selector.as_deref()), (1, Some("app=w1")));
    let scaled = widgets
        .patch_scale(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 4}})),
        )
        .await
        .expect("patch scale");
    assert_eq!(scaled.spec.and_then(|s| s.replicas), Some(4));
    let after = widgets.get("w1").await.expect("get");
    assert_eq!(after.spec.replicas, 4);
    assert_eq!(after.metadata.generation, Some(3));
    assert_eq!(
        after.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Ready")
    );

    widgets
        .delete("w1", &DeleteParams::default())
        .await
        .expect("delete");
    assert_eq!(names(&widgets, &ListParams::default()).await, ["w2"]);
}

async fn page(
    api: &Api<ConfigMap>,
    limit: u32,
    token: Option<String>,
) -> (Vec<String>, Option<String>, String) {
    let mut lp = ListParams::default().limit(limit);
    lp.continue_token = token;
    let list = api.list(&lp).await.expect("list page");
    let names = list
        .items
        .iter()
        .map(|c| format!("{}/{}", c.namespace().unwrap_or_default(), c.name_any()))
        .collect();
    (
        names,
        list.metadata.continue_.filter(|c| !c.is_empty()),
        list.metadata.resource_version.unwrap_or_default(),
    )
}

async fn namespace(client: &Client, name: &str) {
    let nss: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    nss.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": name}})).expect("ns"),
    )
    .await
    .expect("create namespace");
}

#[tokio::test(flavor = "multi_thread")]
async fn paginated_lists_are_consistent_snapshots_until_compacted() {
    let (server, client) = support::start().await;
    // Namespaces whose names sort differently as strings and as "<ns>/<name>" keys.
    for ns in ["p", "p-q"] {
        namespace(&client, ns).await;
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
        for i in 0..4 {
            cms.create(&PostParams::default(), &config_map(&format!("cm{i}"), "t", "1"))
                .await
                .expect("create");
        }
    }
    let all: Api<ConfigMap> = Api::all(client.clone());
    let (everything, none, _) = page(&all, 0, None).await;
    assert!(none.is_none());
    assert_eq!(everything.len(), 8);
    // Paging with any limit yields every object exactly once, in the same order.
    for limit in [1, 3, 5] {
        let mut seen = Vec::new();
        let mut token = None;
        loop {
            let (items, next, _) = page(&all, limit, token).await;
            assert!(items.len() <= limit as usize);
            seen.extend(items);
            match next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen, everything, "limit {limit}");
    }
    let first = all
        .list(&ListParams::default().limit(3))
        .await
        .expect("first page");
    assert_eq!(first.metadata.remaining_item_count, Some(5));

    // Changes after the first page do not show in later pages: they are served from the
    // snapshot the first page was taken at
    // (https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks).
    // Across namespaces, objects come in the order of their etcd keys, `<namespace>/<name>`.
    let ns_pq: Api<ConfigMap> = Api::namespaced(client.clone(), "p-q");
    let (first_items, token, snapshot_rv) = page(&all, 2, None).await;
    assert_eq!(first_items, ["p-q/cm0", "p-q/cm1"]);
    ns_pq
        .delete("cm2", &DeleteParams::default())
        .await
        .expect("delete");
    ns_pq
        .patch(
            "cm3",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"value": "changed"}})),
        )
        .await
        .expect("patch");
    ns_pq
        .create(&PostParams::default(), &config_map("cm9", "t", "new"))
        .await
        .expect("create");
    let mut lp = ListParams::default().limit(3);
    lp.continue_token = token.clone();
    let second = all.list(&lp).await.expect("second page from the snapshot");
    assert_eq!(
        second.metadata.resource_version.as_deref(),
        Some(snapshot_rv.as_str())
    );
    let second_names: Vec<String> = second
        .items
        .iter()
        .map(|c| format!("{}/{}", c.namespace().unwrap_or_default(), c.name_any()))
        .collect();
    assert_eq!(second_names, ["p-q/cm2", "p-q/cm3", "p/cm0"]);
    assert_eq!(
        second.items[1]
            .data
            .as_ref()
            .and_then(|d| d.get("value"))
            .map(String::as_str),
        Some("1")
    );
    // A list at an exact resourceVersion is served from the same history.
    let exact = all
        .list(
            &ListParams::default()
                .at(&snapshot_rv)
                .matching(VersionMatch::Exact),
        )
        .await
        .expect("list at an exact resourceVersion");
    assert_eq!(exact.items.len(), 8);

    // A resourceVersion the server has not reached yet times out (504, which kube-rs' default
    // retry would retry for minutes: asked without it).
    let no_retry: Api<ConfigMap> = Api::all(support::client_with(&server, None, false).await);
    let future = api_error(
        no_retry
            .list(&ListParams::default().at("999999").matching(VersionMatch::Exact))
            .await,
    );
    assert_eq!(
        (future.code, future.reason.as_str()),
        (504, "Timeout"),
        "{future:?}"
    );

    // Once the history is compacted, the token has expired: 410 with a token that continues
    // (inconsistently) from the latest state.
    server.api.store.lock().compact();
    let expired = api_error(all.list(&lp).await);
    assert_eq!(
        (expired.code, expired.reason.as_str()),
        (410, "Expired"),
        "{expired:?}"
    );
    let exact = api_error(
        all.list(
            &ListParams::default()
                .at(&snapshot_rv)
                .matching(VersionMatch::Exact),
        )
        .await,
    );
    assert_eq!(exact.code, 410, "{exact:?}");
    let inconsistent = expired
        .metadata
        .and_then(|m| m.continue_)
        .expect("a continue token with the 410");
    let (rest, _, _) = page(&all, 10, Some(inconsistent)).await;
    assert_eq!(rest, ["p-q/cm3", "p-q/cm9", "p/cm0", "p/cm1", "p/cm2", "p/cm3"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn pods_naming_a_missing_service_account_are_refused_until_it_exists() {
    use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
    let (_server, client) = support::start().await;
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let pod = |name: &str, sa: Option<&str>| -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"serviceAccountName": sa, "containers": [{"name": "a", "image": "x"}]},
        }))
        .expect("Pod")
    };
    let pp = PostParams::default();
    let err = api_error(pods.create(&pp, &pod("p1", Some("ecs-web"))).await);
    assert_eq!(err.code, 403, "{err:?}");
    assert_eq!(
        err.message,
        "pods \"p1\" is forbidden: error looking up service account default/ecs-web: serviceaccount \"ecs-web\" not found"
    );
    // `default` and no ServiceAccount at all pass.
    pods.create(&pp, &pod("p2", Some("default")))
        .await
        .expect("default");
    pods.create(&pp, &pod("p3", None)).await.expect("none");
    let sas: Api<ServiceAccount> = Api::default_namespaced(client.clone());
    let sa: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": "ecs-web"}})).expect("SA");
    sas.create(&pp, &sa).await.expect("service account");
    pods.create(&pp, &pod("p1", Some("ecs-web")))
        .await
        .expect("now admitted");
    // A ServiceAccount of the same name in another namespace does not count.
    let other: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    let err = api_error(other.create(&pp, &pod("p1", Some("ecs-web"))).await);
    assert_eq!(err.code, 403, "{err:?}");
}
