//! Garbage collection and finalizers through kube-rs
//! (https://kubernetes.io/docs/concepts/architecture/garbage-collection/): background,
//! foreground and orphan propagation, custom finalizers holding an object in deletion, no new
//! finalizers on an object being deleted, namespace deletion, and dangling owner references.

mod support;

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{ConfigMap, Namespace},
};
use kube::{
    Api, Client, ResourceExt,
    api::{DeleteParams, Patch, PatchParams, PostParams, PropagationPolicy, WatchEvent, WatchParams},
};
use serde_json::{Value, json};
use support::{api_error, eventually};

/// A ConfigMap owned by `owners` (`blockOwnerDeletion` per `block`), with `finalizers`.
fn config_map(name: &str, owners: &[&ConfigMap], block: bool, finalizers: &[&str]) -> ConfigMap {
    let refs: Vec<Value> = owners
        .iter()
        .map(|o| {
            json!({
                "apiVersion": "v1", "kind": "ConfigMap", "name": o.name_any(),
                "uid": o.uid().expect("owner uid"), "blockOwnerDeletion": block,
            })
        })
        .collect();
    serde_json::from_value(json!({
        "metadata": {"name": name, "ownerReferences": refs, "finalizers": finalizers},
        "data": {"k": "v"},
    }))
    .expect("ConfigMap")
}

async fn create(cms: &Api<ConfigMap>, cm: &ConfigMap) -> ConfigMap {
    cms.create(&PostParams::default(), cm).await.expect("create")
}

async fn gone(cms: &Api<ConfigMap>, name: &str) {
    eventually(&format!("{name} is gone"), || async {
        cms.get_opt(name).await.ok()?.is_none().then_some(())
    })
    .await;
}

fn delete_with(policy: PropagationPolicy) -> DeleteParams {
    DeleteParams {
        propagation_policy: Some(policy),
        ..DeleteParams::default()
    }
}

async fn remove_finalizers(cms: &Api<ConfigMap>, name: &str) {
    cms.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("remove finalizers");
}

#[tokio::test(flavor = "multi_thread")]
async fn background_deletion_removes_dependents_and_theirs() {
    let (_server, client) = support::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client);
    let root = create(&cms, &config_map("root", &[], false, &[])).await;
    let child = create(&cms, &config_map("child", &[&root], false, &[])).await;
    create(&cms, &config_map("grandchild", &[&child], false, &[])).await;
    create(&cms, &config_map("bystander", &[], false, &[])).await;
    let deleted = cms
        .delete("root", &DeleteParams::background())
        .await
        .expect("delete");
    assert!(deleted.is_right(), "gone at once: a Status");
    gone(&cms, "child").await;
    gone(&cms, "grandchild").await;
    assert!(cms.get_opt("bystander").await.expect("get").is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn foreground_deletion_waits_for_blocking_dependents() {
    let (_server, client) = support::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client);
    let root = create(&cms, &config_map("root", &[], false, &[])).await;
    let child = create(&cms, &config_map("child", &[&root], true, &["example.com/hold"])).await;
    create(&cms, &config_map("grandchild", &[&child], true, &[])).await;

    let deleted = cms
        .delete("root", &DeleteParams::foreground())
        .await
        .expect("delete");
    let marked = deleted.left().expect("still there: the object");
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert!(
        marked.finalizers().contains(&"foregroundDeletion".to_owned()),
        "{:?}",
        marked.finalizers()
    );

    // The dependents are deleted: the grandchild goes, the child waits for its finalizer (and
    // for its own dependents, so it is deleted in the foreground too).
    gone(&cms, "grandchild").await;
    let child = eventually("the child is being deleted", || async {
        let c = cms.get("child").await.ok()?;
        c.metadata.deletion_timestamp.is_some().then_some(c)
    })
    .await;
    assert!(child.finalizers().contains(&"example.com/hold".to_owned()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let root = cms
        .get("root")
        .await
        .expect("the owner waits for its blocking dependent");
    assert!(root.finalizers().contains(&"foregroundDeletion".to_owned()));

    // A dependent that does not block does not hold the owner.
    let other = create(&cms, &config_map("other-root", &[], false, &[])).await;
    create(
        &cms,
        &config_map("loose", &[&other], false, &["example.com/hold"]),
    )
    .await;
    cms.delete("other-root", &DeleteParams::foreground())
        .await
        .expect("delete");
    gone(&cms, "other-root").await;
    let loose = cms.get("loose").await.expect("held by its finalizer");
    assert!(loose.metadata.deletion_timestamp.is_some());
    remove_finalizers(&cms, "loose").await;
    gone(&cms, "loose").await;

    remove_finalizers(&cms, "child").await;
    gone(&cms, "child").await;
    gone(&cms, "root").await;

    // A dependent with another, live owner survives; the reference to the owner being deleted
    // in the foreground is removed.
    let doomed = create(&cms, &config_map("doomed", &[], false, &[])).await;
    let alive = create(&cms, &config_map("alive", &[], false, &[])).await;
    create(&cms, &config_map("shared", &[&doomed, &alive], true, &[])).await;
    cms.delete("doomed", &DeleteParams::foreground())
        .await
        .expect("delete");
    gone(&cms, "doomed").await;
    let shared = cms.get("shared").await.expect("kept by its live owner");
    let uids: Vec<&str> = shared.owner_references().iter().map(|r| r.uid.as_str()).collect();
    assert_eq!(uids, [alive.uid().expect("uid").as_str()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn orphan_deletion_keeps_dependents_without_the_reference() {
    let (_server, client) = support::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client);
    let root = create(&cms, &config_map("root", &[], false, &[])).await;
    let other = create(&cms, &config_map("other", &[], false, &[])).await;
    create(&cms, &config_map("only-root", &[&root], true, &[])).await;
    create(&cms, &config_map("two-owners", &[&root, &other], false, &[])).await;
    cms.delete("root", &delete_with(PropagationPolicy::Orphan))
        .await
        .expect("delete");
    gone(&cms, "root").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let orphan = cms.get("only-root").await.expect("orphaned, not deleted");
    assert!(
        orphan.owner_references().is_empty(),
        "{:?}",
        orphan.owner_references()
    );
    let kept = cms.get("two-owners").await.expect("kept");
    let uids: Vec<&str> = kept.owner_references().iter().map(|r| r.uid.as_str()).collect();
    assert_eq!(uids, [other.uid().expect("uid").as_str()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn finalizers_hold_an_object_in_deletion_until_removed() {
    let (_server, client) = support::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client);
    let held = create(&cms, &config_map("held", &[], false, &["example.com/a"])).await;
    let mut events = cms
        .watch(
            &WatchParams::default().fields("metadata.name=held"),
            &held.resource_version().expect("rv"),
        )
        .await
        .expect("watch")
        .boxed();

    let deleted = cms
        .delete("held", &DeleteParams::default())
        .await
        .expect("delete");
    let marked = deleted.left().expect("the object, marked");
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert_eq!(marked.finalizers(), ["example.com/a"]);
    // Deleting again changes nothing.
    let again = cms
        .delete("held", &DeleteParams::default())
        .await
        .expect("delete again");
    assert_eq!(
        again.left().expect("object").resource_version(),
        marked.resource_version()
    );

    // No new finalizers while being deleted (other changes are fine).
    let refused = api_error(
        cms.patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": ["example.com/a", "example.com/b"]}})),
        )
        .await,
    );
    assert_eq!(
        (refused.code, refused.reason.as_str()),
        (422, "Invalid"),
        "{refused:?}"
    );
    assert_eq!(
        refused.message,
        "ConfigMap \"held\" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object \
         is being deleted, found new finalizers []string{\"example.com/b\"}"
    );
    let cause = &refused.details.expect("details").causes[0];
    assert_eq!(
        (cause.reason.as_str(), cause.field.as_str()),
        ("FieldValueForbidden", "metadata.finalizers")
    );
    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
    )
    .await
    .expect("other changes are allowed");
    // A deletion timestamp cannot be taken back.
    let resurrected = cms
        .patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"deletionTimestamp": null}})),
        )
        .await
        .expect("patch");
    assert!(resurrected.metadata.deletion_timestamp.is_some());

    remove_finalizers(&cms, "held").await;
    gone(&cms, "held").await;
    let mut types = Vec::new();
    let collect = async {
        while let Some(e) = events.try_next().await.expect("stream") {
            match e {
                WatchEvent::Modified(_) => types.push("MODIFIED"),
                WatchEvent::Deleted(_) => {
                    types.push("DELETED");
                    return;
                }
                WatchEvent::Added(_) => types.push("ADDED"),
                WatchEvent::Bookmark(_) => {}
                WatchEvent::Error(e) => panic!("{e:?}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), collect)
        .await
        .expect("DELETED within 5 s");
    assert_eq!(types, ["MODIFIED", "MODIFIED", "DELETED"]);
}

async fn namespaces(client: &Client) -> Api<Namespace> {
    Api::all(client.clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_namespace_deletes_its_contents_then_itself() {
    let (_server, client) = support::start().await;
    let nss = namespaces(&client).await;
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "doomed"}})).expect("ns");
    let created = nss
        .create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
    assert_eq!(
        created.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Active")
    );
    let finalizers = created.spec.as_ref().and_then(|s| s.finalizers.clone());
    assert_eq!(finalizers, Some(vec!["kubernetes".to_owned()]));
    assert_eq!(
        created
            .labels()
            .get("kubernetes.io/metadata.name")
            .map(String::as_str),
        Some("doomed")
    );
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    create(&cms, &config_map("plain", &[], false, &[])).await;
    create(&cms, &config_map("held", &[], false, &["example.com/hold"])).await;
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "doomed");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
        },
    }))
    .expect("deployment");
    deploys
        .create(&PostParams::default(), &d)
        .await
        .expect("create deployment");
    let elsewhere: Api<ConfigMap> = Api::default_namespaced(client.clone());
    create(&elsewhere, &config_map("safe", &[], false, &[])).await;

    let deleted = nss
        .delete("doomed", &DeleteParams::default())
        .await
        .expect("delete namespace");
    let terminating = deleted.left().expect("the namespace stays while it empties");
    assert!(terminating.metadata.deletion_timestamp.is_some());
    assert_eq!(
        terminating.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Terminating")
    );
    gone(&cms, "plain").await;
    eventually("the deployment is gone", || async {
        deploys.get_opt("web").await.ok()?.is_none().then_some(())
    })
    .await;
    // New content is refused while the namespace terminates.
    let refused = api_error(
        cms.create(&PostParams::default(), &config_map("late", &[], false, &[]))
            .await,
    );
    assert_eq!(
        (refused.code, refused.reason.as_str()),
        (403, "Forbidden"),
        "{refused:?}"
    );
    assert!(
        refused.message.contains("because it is being terminated"),
        "{}",
        refused.message
    );
    // The namespace waits for the finalizer of its last object.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(nss.get_opt("doomed").await.expect("get").is_some());
    remove_finalizers(&cms, "held").await;
    eventually("the namespace is gone", || async {
        nss.get_opt("doomed").await.ok()?.is_none().then_some(())
    })
    .await;
    assert!(elsewhere.get_opt("safe").await.expect("get").is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn dangling_owner_references_are_removed_or_collect_the_dependent() {
    let (_server, client) = support::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let live = create(&cms, &config_map("live", &[], false, &[])).await;
    let mut ghost = config_map("ghost", &[], false, &[]);
    ghost.metadata.uid = Some("00000000-0000-0000-0000-000000000000".into());
    create(&cms, &config_map("two", &[&live, &ghost], false, &[])).await;
    create(&cms, &config_map("orphan", &[&ghost], false, &[])).await;
    // An owner in another namespace does not resolve (it is treated as absent).
    let other_ns: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-public");
    let foreign = create(&other_ns, &config_map("foreign", &[], false, &[])).await;
    create(&cms, &config_map("cross", &[&foreign], false, &[])).await;

    eventually("the dangling reference is removed", || async {
        let two = cms.get("two").await.ok()?;
        let uids: Vec<String> = two.owner_references().iter().map(|r| r.uid.clone()).collect();
        (uids == [live.uid().expect("uid")]).then_some(())
    })
    .await;
    gone(&cms, "orphan").await;
    gone(&cms, "cross").await;
    assert!(other_ns.get_opt("foreign").await.expect("get").is_some());
}
