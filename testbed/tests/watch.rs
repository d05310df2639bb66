//! Watches through kube-rs and kube-runtime against the double: raw ADDED/MODIFIED/DELETED
//! events, `watcher` + `reflector` converging to the stored state, 410 Gone from a compacted
//! resourceVersion (and kube-runtime relisting), bookmarks, label-selector watches that turn
//! selector changes into ADDED/DELETED, streaming lists, dropped connections, and an unchanged
//! kube-runtime `Controller` using server-side apply and owner references.

mod support;

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use ecs_bridge_testbed::{api::DeleteOptions, schema::Gvk};
use futures::{StreamExt, TryStreamExt, stream::BoxStream};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams},
    runtime::{
        Controller,
        controller::Action,
        reflector::{self, Store},
        watcher::{self, Event},
    },
};
use serde_json::json;
use support::eventually;
use tokio::sync::mpsc;

fn config_map(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}, "data": {"v": "1"}}))
        .expect("ConfigMap")
}

async fn current_rv(cms: &Api<ConfigMap>) -> String {
    cms.list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("list resourceVersion")
}

/// The next non-bookmark event of a raw watch, as (type, name), within 5 s.
async fn next_change(
    stream: &mut BoxStream<'static, kube::Result<WatchEvent<ConfigMap>>>,
) -> (String, String) {
    let next = async {
        loop {
            let event = stream
                .try_next()
                .await
                .expect("watch stream")
                .expect("the watch stays open");
            return match event {
                WatchEvent::Added(o) => ("ADDED".to_owned(), o.name_any()),
                WatchEvent::Modified(o) => ("MODIFIED".to_owned(), o.name_any()),
                WatchEvent::Deleted(o) => ("DELETED".to_owned(), o.name_any()),
                WatchEvent::Bookmark(_) => continue,
                WatchEvent::Error(e) => panic!("watch error {e:?}"),
            };
        }
    };
    tokio::time::timeout(Duration::from_secs(5), next)
        .await
        .expect("a watch event within 5 s")
}

async fn watch(
    cms: &Api<ConfigMap>,
    wp: &WatchParams,
    rv: &str,
) -> BoxStream<'static, kube::Result<WatchEvent<ConfigMap>>> {
    cms.watch(wp, rv).await.expect("start watch").boxed()
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_watches_see_added_modified_deleted_with_increasing_resource_versions() {
    let (_server, client) = support::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client);
    cms.create(&PostParams::default(), &config_map("before", json!({})))
        .await
        .expect("create");
    let rv = current_rv(&cms).await;
    let mut stream = watch(&cms, &WatchParams::default(), &rv).await;
    cms.create(&PostParams::default(), &config_map("a", json!({})))
        .await
        .expect("create");
    cms.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"v": "2"}})),
    )
    .await
    .expect("patch");
    cms.delete("a", &DeleteParams::default()).await.expect("delete");
    let mut rvs = Vec::new();
    let mut seen = Vec::new();
    let collect = async {
        while seen.len() < 3 {
            match stream.try_next().await.expect("stream").expect("open") {
                WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o)
                    if o.name_any() == "before" =>
                {
                    panic!("a watch from the list's resourceVersion does not repeat older objects")
                }
                WatchEvent::Added(o) => {
                    seen.push("ADDED");
                    rvs.push(o.resource_version());
                }
                WatchEvent::Modified(o) => {
                    seen.push("MODIFIED");
                    assert_eq!(o.data.as_ref().expect("data")["v"], "2");
                    rvs.push(o.resource_version());
                }
                WatchEvent::Deleted(o) => {
                    seen.push("DELETED");
                    rvs.push(o.resource_version());
                }
                WatchEvent::Bookmark(_) => {}
                WatchEvent::Error(e) => panic!("{e:?}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), collect)
        .await
        .expect("three events within 10 s");
    assert_eq!(seen, ["ADDED", "MODIFIED", "DELETED"]);
    let rvs: Vec<u64> = rvs
        .into_iter()
        .map(|r| r.expect("rv").parse().expect("numeric"))
        .collect();
    assert!(rvs.windows(2).all(|w| w[0] < w[1]), "{rvs:?}");

    // A watch without a resourceVersion starts with the current state as ADDED events.
    let mut fresh = watch(&cms, &WatchParams::default(), "0").await;
    assert_eq!(next_change(&mut fresh).await, ("ADDED".into(), "before".into()));
}

/// Runs a reflector over `api` with `config`; its store, and every watcher event's summary.
fn reflect(
    api: Api<ConfigMap>,
    config: watcher::Config,
) -> (Store<ConfigMap>, mpsc::UnboundedReceiver<String>) {
    let (reader, writer) = reflector::store();
    let (tx, rx) = mpsc::unbounded_channel();
    let stream = reflector::reflector(writer, watcher::watcher(api, config));
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            let summary = match event {
                Ok(Event::Init) => "Init".to_owned(),
                Ok(Event::InitApply(o)) => format!("InitApply {}", o.name_any()),
                Ok(Event::InitDone) => "InitDone".to_owned(),
                Ok(Event::Apply(o)) => format!("Apply {}", o.name_any()),
                Ok(Event::Delete(o)) => format!("Delete {}", o.name_any()),
                Err(e) => format!("Error {e}"),
            };
            if tx.send(summary).is_err() {
                return;
            }
        }
    });
    (reader, rx)
}

/// Waits until the reflector's store holds exactly what the server lists (names and
/// resourceVersions).
async fn converged(reader: &Store<ConfigMap>, cms: &Api<ConfigMap>, lp: &ListParams) {
    eventually("the reflector converges to the server's state", || async {
        let want: BTreeMap<String, Option<String>> = cms
            .list(lp)
            .await
            .ok()?
            .items
            .iter()
            .map(|c| (c.name_any(), c.resource_version()))
            .collect();
        let have: BTreeMap<String, Option<String>> = reader
            .state()
            .iter()
            .map(|c| (c.name_any(), c.resource_version()))
            .collect();
        (want == have).then_some(())
    })
    .await;
}

async fn wait_for(rx: &mut mpsc::UnboundedReceiver<String>, wanted: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let e = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no {wanted:?} within 10 s; saw {seen:?}"))
            .expect("watcher running");
        let done = e == wanted;
        seen.push(e);
        if done {
            return seen;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reflector_converges_through_changes_and_dropped_watches() {
    let (server, client) = support::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client);
    let pp = PostParams::default();
    for i in 0..3 {
        cms.create(&pp, &config_map(&format!("pre{i}"), json!({})))
            .await
            .expect("create");
    }
    let (reader, mut events) = reflect(cms.clone(), watcher::Config::default().page_size(2));
    let init = wait_for(&mut events, "InitDone").await;
    assert_eq!(
        init,
        [
            "Init",
            "InitApply pre0",
            "InitApply pre1",
            "InitApply pre2",
            "InitDone"
        ]
    );
    for i in 0..5 {
        cms.create(&pp, &config_map(&format!("cm{i}"), json!({})))
            .await
            .expect("create");
    }
    cms.patch(
        "cm1",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"v": "2"}})),
    )
    .await
    .expect("patch");
    cms.delete("pre0", &DeleteParams::default())
        .await
        .expect("delete");
    wait_for(&mut events, "Delete pre0").await;
    converged(&reader, &cms, &ListParams::default()).await;

    // Dropped watch connections: the watcher reconnects from its resourceVersion.
    let watches = || {
        server
            .api
            .faults
            .requests()
            .iter()
            .filter(|r| r.query.contains("watch=true"))
            .count()
    };
    let before = watches();
    server.api.faults.drop_watches();
    eventually("the watcher watches again", || async {
        (watches() > before).then_some(())
    })
    .await;
    cms.create(&pp, &config_map("after-drop", json!({})))
        .await
        .expect("create");
    wait_for(&mut events, "Apply after-drop").await;
    converged(&reader, &cms, &ListParams::default()).await;
}

fn config_map_type(server: &ecs_bridge_testbed::TestApiServer) -> ecs_bridge_testbed::registry::ResourceType {
    server
        .api
        .resource_type(&Gvk::new("", "v1", "ConfigMap"))
        .expect("ConfigMaps are served")
}

#[tokio::test(flavor = "multi_thread")]
async fn compacted_resource_versions_get_410_and_kube_runtime_relists() {
    let (server, client) = support::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let secrets: Api<Secret> = Api::default_namespaced(client.clone());
    let pp = PostParams::default();
    cms.create(&pp, &config_map("keep", json!({})))
        .await
        .expect("create");
    cms.create(&pp, &config_map("doomed", json!({})))
        .await
        .expect("create");

    // A raw watch from before the compaction gets one ERROR event with a 410 Status.
    let old = current_rv(&cms).await;
    cms.create(&pp, &config_map("newer", json!({})))
        .await
        .expect("create");
    server.api.store.lock().compact();
    let mut stream = watch(&cms, &WatchParams::default(), &old).await;
    match tokio::time::timeout(Duration::from_secs(5), stream.try_next()).await {
        Ok(Ok(Some(WatchEvent::Error(e)))) => {
            assert_eq!((e.code, e.reason.as_str()), (410, "Expired"), "{e:?}");
        }
        other => panic!("expected an ERROR event, got {other:?}"),
    }
    // A watch from the compaction point itself is fine.
    let now = current_rv(&cms).await;
    let mut ok = watch(&cms, &WatchParams::default(), &now).await;
    cms.patch(
        "keep",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"v": "9"}})),
    )
    .await
    .expect("patch");
    assert_eq!(next_change(&mut ok).await, ("MODIFIED".into(), "keep".into()));

    // kube-runtime: a watcher whose resourceVersion was compacted away while it was
    // disconnected gets the 410 and relists, dropping what it missed.
    let (reader, mut events) = reflect(cms.clone(), watcher::Config::default().disable_bookmarks());
    wait_for(&mut events, "InitDone").await;
    server.api.faults.delay(Duration::from_millis(300));
    server.api.faults.drop_watches();
    // The re-watch is delayed by 300 ms; meanwhile the state moves on and history is compacted.
    tokio::time::sleep(Duration::from_millis(50)).await;
    server
        .api
        .delete(
            &config_map_type(&server),
            Some("default"),
            "doomed",
            &DeleteOptions::default(),
        )
        .expect("delete in-process");
    server.api.faults.delay(Duration::ZERO);
    secrets
        .create(
            &pp,
            &serde_json::from_value(json!({"metadata": {"name": "s"}})).expect("secret"),
        )
        .await
        .expect("create an unrelated object");
    server.api.store.lock().compact();
    let relist = wait_for(&mut events, "InitDone").await;
    assert!(
        relist
            .iter()
            .any(|e| e.starts_with("Error") && e.contains("too old resource version")),
        "{relist:?}"
    );
    assert!(relist.contains(&"Init".to_owned()), "{relist:?}");
    assert!(!relist.contains(&"InitApply doomed".to_owned()), "{relist:?}");
    converged(&reader, &cms, &ListParams::default()).await;
    assert!(reader.state().iter().all(|c| c.name_any() != "doomed"));
}

#[tokio::test(flavor = "multi_thread")]
async fn bookmarks_only_when_asked_for() {
    let (_server, client) = support::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client);
    let rv = current_rv(&cms).await;
    let created = cms
        .create(&PostParams::default(), &config_map("a", json!({})))
        .await
        .expect("create");
    let created_rv: u64 = created.resource_version().expect("rv").parse().expect("numeric");

    let mut with = watch(&cms, &WatchParams::default(), &rv).await;
    let mut without = watch(&cms, &WatchParams::default().disable_bookmarks(), &rv).await;
    let bookmark = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(WatchEvent::Bookmark(b)) = with.try_next().await.expect("stream") {
                return b;
            }
        }
    })
    .await
    .expect("a BOOKMARK within 5 s");
    assert_eq!(bookmark.types.kind, "ConfigMap");
    let bookmark_rv: u64 = bookmark.metadata.resource_version.parse().expect("numeric");
    assert!(bookmark_rv >= created_rv, "{bookmark_rv} < {created_rv}");

    let quiet = tokio::time::timeout(Duration::from_millis(1500), async {
        while let Some(e) = without.try_next().await.expect("stream") {
            if let WatchEvent::Bookmark(_) = e {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        !matches!(quiet, Ok(true)),
        "no BOOKMARK without allowWatchBookmarks"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn label_selector_watches_see_objects_enter_and_leave() {
    let (_server, client) = support::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client);
    let pp = PostParams::default();
    let rv = current_rv(&cms).await;
    let mut stream = watch(&cms, &WatchParams::default().labels("app=x"), &rv).await;
    let label = |v: &str| Patch::Merge(json!({"metadata": {"labels": {"app": v}}}));
    cms.create(&pp, &config_map("m", json!({"app": "y"})))
        .await
        .expect("create");
    cms.patch("m", &PatchParams::default(), &label("x"))
        .await
        .expect("starts matching");
    cms.patch(
        "m",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"v": "2"}})),
    )
    .await
    .expect("change while matching");
    cms.patch("m", &PatchParams::default(), &label("z"))
        .await
        .expect("stops matching");
    cms.patch(
        "m",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"v": "3"}})),
    )
    .await
    .expect("change while not matching");
    cms.create(&pp, &config_map("n", json!({"app": "x"})))
        .await
        .expect("create matching");
    cms.delete("n", &DeleteParams::default())
        .await
        .expect("delete matching");
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(next_change(&mut stream).await);
    }
    let expect = |t: &str, n: &str| (t.to_owned(), n.to_owned());
    assert_eq!(
        seen,
        [
            expect("ADDED", "m"),
            expect("MODIFIED", "m"),
            expect("DELETED", "m"),
            expect("ADDED", "n"),
            expect("DELETED", "n"),
        ]
    );

    // A reflector with the selector holds exactly the matching objects.
    let (reader, mut events) = reflect(cms.clone(), watcher::Config::default().labels("app=x"));
    wait_for(&mut events, "InitDone").await;
    cms.create(&pp, &config_map("p", json!({"app": "x"})))
        .await
        .expect("create");
    cms.patch("m", &PatchParams::default(), &label("x"))
        .await
        .expect("starts matching");
    converged(&reader, &cms, &ListParams::default().labels("app=x")).await;
    cms.patch("p", &PatchParams::default(), &label("no"))
        .await
        .expect("stops matching");
    wait_for(&mut events, "Delete p").await;
    converged(&reader, &cms, &ListParams::default().labels("app=x")).await;
    assert_eq!(reader.state().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn streaming_lists_send_the_state_then_the_initial_events_end_bookmark() {
    let (_server, client) = support::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client);
    for name in ["a", "b"] {
        cms.create(&PostParams::default(), &config_map(name, json!({})))
            .await
            .expect("create");
    }
    let (reader, mut events) = reflect(cms.clone(), watcher::Config::default().streaming_lists());
    let init = wait_for(&mut events, "InitDone").await;
    assert_eq!(init, ["Init", "InitApply a", "InitApply b", "InitDone"]);
    cms.delete("a", &DeleteParams::default()).await.expect("delete");
    wait_for(&mut events, "Delete a").await;
    converged(&reader, &cms, &ListParams::default()).await;

    let wp = WatchParams {
        send_initial_events: true,
        ..WatchParams::default()
    };
    let rv = current_rv(&cms).await;
    let mut stream = watch(&cms, &wp, &rv).await;
    // From a resourceVersion, the initial events are still the current state (as ADDED), not
    // the history since it.
    assert_eq!(next_change(&mut stream).await, ("ADDED".into(), "b".into()));
}

#[derive(Clone)]
struct Ctx {
    client: Client,
    reconciles: Arc<AtomicUsize>,
}

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct ReconcileError(#[from] kube::Error);

/// Copies a source ConfigMap's data into `<name>-copy`, owned by the source, with server-side
/// apply.
async fn reconcile(source: Arc<ConfigMap>, ctx: Arc<Ctx>) -> Result<Action, ReconcileError> {
    ctx.reconciles.fetch_add(1, Ordering::SeqCst);
    let ns = source.namespace().expect("namespaced");
    let copies: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ns);
    let name = format!("{}-copy", source.name_any());
    let owner = source.controller_owner_ref(&()).expect("owner reference");
    let copy = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"role": "copy"}, "ownerReferences": [owner]},
        "data": source.data.clone().unwrap_or_default(),
    });
    copies
        .patch(&name, &PatchParams::apply("copier").force(), &Patch::Apply(copy))
        .await?;
    Ok(Action::await_change())
}

fn error_policy(_: Arc<ConfigMap>, _: &ReconcileError, _: Arc<Ctx>) -> Action {
    Action::requeue(Duration::from_millis(100))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kube_runtime_controller_converges() {
    let (_server, client) = support::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        reconciles: Arc::new(AtomicUsize::new(0)),
    });
    let controller = Controller::new(cms.clone(), watcher::Config::default().labels("role=source"))
        .owns(cms.clone(), watcher::Config::default().labels("role=copy"))
        .run(reconcile, error_policy, ctx.clone())
        .for_each(|_| futures::future::ready(()));
    tokio::spawn(controller);

    let copy_data = |name: &'static str| {
        let cms = cms.clone();
        async move {
            cms.get_opt(name)
                .await
                .ok()
                .flatten()
                .map(|c| c.data.unwrap_or_default())
        }
    };
    let source: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "s1", "labels": {"role": "source"}},
        "data": {"a": "1"},
    }))
    .expect("source");
    let source = cms
        .create(&PostParams::default(), &source)
        .await
        .expect("create source");
    let copy = eventually("the copy exists", || async {
        cms.get_opt("s1-copy").await.ok().flatten()
    })
    .await;
    assert_eq!(copy.data.clone().unwrap_or_default()["a"], "1");
    let owner = &copy.owner_references()[0];
    assert_eq!(
        (owner.uid.as_str(), owner.controller),
        (source.uid().expect("uid").as_str(), Some(true))
    );
    let managers: Vec<_> = copy
        .managed_fields()
        .iter()
        .map(|m| {
            (
                m.manager.clone().unwrap_or_default(),
                m.operation.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(managers, [("copier".to_owned(), "Apply".to_owned())]);

    cms.patch(
        "s1",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"a": "2", "b": "3"}})),
    )
    .await
    .expect("change the source");
    eventually("the copy follows", || async {
        let d = copy_data("s1-copy").await?;
        (d.get("a").map(String::as_str) == Some("2") && d.get("b").map(String::as_str) == Some("3"))
            .then_some(())
    })
    .await;
    // Dropping a key from the applied configuration removes it from the copy.
    cms.patch(
        "s1",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"b": null}})),
    )
    .await
    .expect("drop a key");
    eventually("the dropped key goes", || async {
        let d = copy_data("s1-copy").await?;
        (!d.contains_key("b") && d.len() == 1).then_some(())
    })
    .await;

    // Deleting the owned object triggers its owner's reconcile, which recreates it.
    let old_uid = cms.get("s1-copy").await.expect("copy").uid();
    cms.delete("s1-copy", &DeleteParams::default())
        .await
        .expect("delete the copy");
    eventually("the copy is recreated", || async {
        let c = cms.get_opt("s1-copy").await.ok().flatten()?;
        (c.uid() != old_uid).then_some(())
    })
    .await;

    // Converged: no write storm (an unchanged apply does not write, so nothing re-triggers).
    let settled = cms.get("s1-copy").await.expect("copy").resource_version();
    let count = ctx.reconciles.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        cms.get("s1-copy").await.expect("copy").resource_version(),
        settled
    );
    assert!(ctx.reconciles.load(Ordering::SeqCst) <= count + 1);

    // Deleting the owner deletes the copy (garbage collection).
    cms.delete("s1", &DeleteParams::default())
        .await
        .expect("delete the source");
    eventually("the copy is garbage collected", || async {
        cms.get_opt("s1-copy").await.ok()?.is_none().then_some(())
    })
    .await;
}
