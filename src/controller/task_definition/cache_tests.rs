//! Reconciles with the controller's caches: an unchanged TaskDefinition reads its revisions from
//! the cache (no request at all), and a cache behind the object's status or behind this
//! process's own registration is not trusted (the revisions are listed).

use std::time::Duration;

use http::Method;
use k8s_openapi::api::{
    apps::v1::ControllerRevision,
    core::v1::{PersistentVolume, PersistentVolumeClaim, ServiceAccount},
};
use kube::runtime::{
    reflector::{self, store::Writer},
    watcher::Event,
};
use serde_json::Value;

use super::{
    status::{Registration, compute_status},
    *,
};
use crate::controller::{
    caches::add_scope,
    revisions,
    testing::{self, assert_no_more_requests, next, ok},
};

const REVISIONS: &str = "/apis/apps/v1/namespaces/team-a/controllerrevisions";

/// The TaskDefinition `web` with one non-root container running `image`.
fn web(image: &str) -> TaskDefinition {
    let mut td = testing::with_container(testing::task_definition("team-a", "web", 3), "app", image);
    td.spec.task_definition.container_definitions[0].user = Some("1000".into());
    td
}

/// `web(image)` registered as `revision`, as the API server stores it.
fn stored_revision(image: &str, revision: i64) -> ControllerRevision {
    let mut cr = revisions::registered_as(&web(image), revision).expect("a uid");
    cr.metadata.uid = Some(format!("uid-web-{revision}"));
    cr.metadata.resource_version = Some("5".into());
    cr
}

/// `web(image)` with the status of `latest` registered.
fn registered(image: &str, latest: i64) -> TaskDefinition {
    let mut td = web(image);
    let registration = Registration::Registered {
        latest,
        retained: vec![latest],
    };
    td.status = Some(compute_status(&td, &registration, Time(Timestamp::now())));
    td
}

/// A store listed with `items`, and its writer (kept, so the store stays ready).
fn listed<K>(items: Vec<K>) -> (reflector::Store<K>, Writer<K>)
where
    K: kube::Resource<DynamicType = ()> + Clone,
{
    let (store, mut writer) = reflector::store();
    writer.apply_watcher_event(&Event::Init);
    for item in items {
        writer.apply_watcher_event(&Event::InitApply(item));
    }
    writer.apply_watcher_event(&Event::InitDone);
    (store, writer)
}

/// Writers kept alive for a test's caches.
type Writers = (
    Writer<ControllerRevision>,
    Writer<ServiceAccount>,
    Writer<PersistentVolumeClaim>,
    Writer<PersistentVolume>,
);

/// A context whose TaskDefinition caches hold `revisions` (and no dependents).
fn cached(revisions: Vec<ControllerRevision>) -> (Arc<Context>, testing::Handle, Writers) {
    let (ctx, handle) = testing::context();
    let (revisions, w1) = listed(revisions);
    let (service_accounts, w2) = listed(Vec::new());
    let (claims, w3) = listed(Vec::new());
    let (volumes, w4) = listed(Vec::new());
    add_scope(
        &ctx.task_definition_children,
        children::Stores {
            listed: Default::default(),
            revisions,
            service_accounts,
            claims,
            volumes,
        },
    );
    (ctx, handle, (w1, w2, w3, w4))
}

/// Serves the LIST of the object's ControllerRevisions with `items`.
async fn expect_revision_list(server: &mut testing::Handle, items: Vec<ControllerRevision>) {
    let (request, reply) = next(server).await;
    assert_eq!(
        (request.method(), request.uri().path()),
        (&Method::GET, REVISIONS)
    );
    let items: Vec<Value> = items
        .into_iter()
        .map(|cr| serde_json::to_value(cr).expect("json"))
        .collect();
    ok(
        reply,
        &testing::list_body("apps/v1", "ControllerRevisionList", items),
    );
}

async fn run_reconcile(td: TaskDefinition, ctx: Arc<Context>) -> Action {
    tokio::time::timeout(Duration::from_secs(5), reconcile(Arc::new(td), ctx))
        .await
        .expect("reconcile finishes")
        .expect("reconcile succeeds")
}

#[tokio::test]
async fn an_unchanged_task_definition_makes_no_request() {
    let (ctx, server, _writers) = cached(vec![stored_revision("nginx:1.27", 1)]);
    let verifier = tokio::spawn(assert_no_more_requests(server));
    run_reconcile(registered("nginx:1.27", 1), ctx).await;
    tokio::time::timeout(Duration::from_secs(5), verifier)
        .await
        .expect("verifier finishes")
        .expect("no request");
}

#[tokio::test]
async fn a_cache_behind_the_status_is_not_trusted() {
    // The status names revision 2; the cache has seen only revision 1: it is behind (trusting
    // it would register the same spec again as revision 3).
    let (ctx, mut server, _writers) = cached(vec![stored_revision("nginx:1.27", 1)]);
    let verifier = tokio::spawn(async move {
        // (Revision 1 is gone by now: the status, retaining revision 2 alone, is up to date.)
        expect_revision_list(&mut server, vec![stored_revision("nginx:1.27", 2)]).await;
        assert_no_more_requests(server).await;
    });
    run_reconcile(registered("nginx:1.27", 2), ctx).await;
    tokio::time::timeout(Duration::from_secs(5), verifier)
        .await
        .expect("verifier finishes")
        .expect("one LIST, then nothing");
}

#[tokio::test]
async fn a_cache_without_this_process_s_last_registration_is_not_trusted() {
    let (ctx, mut server, _writers) = cached(vec![stored_revision("nginx:1.27", 1)]);
    let td = registered("nginx:1.27", 1);
    let uid = td.metadata.uid.clone().expect("a uid");
    // This process registered revision 2 (its status write failed, say); the cache has not seen
    // it yet.
    ctx.task_definition_registered
        .record(&uid, &revisions::revision_name("web", 2));
    let status_td = td.clone();
    let verifier = tokio::spawn(async move {
        expect_revision_list(
            &mut server,
            vec![stored_revision("nginx:1.26", 1), stored_revision("nginx:1.27", 2)],
        )
        .await;
        // Revision 2 holds this spec: nothing registered, the status names 2.
        let (request, reply) = next(&mut server).await;
        assert_eq!(request.method(), Method::PATCH);
        assert!(request.uri().path().ends_with("/taskdefinitions/web/status"));
        let body = testing::json_body(request).await;
        assert_eq!(body["status"]["revision"], 2);
        let mut stored = serde_json::to_value(&status_td).expect("json");
        stored["status"] = body["status"].clone();
        ok(reply, &stored);
        assert_no_more_requests(server).await;
    });
    run_reconcile(td, ctx).await;
    tokio::time::timeout(Duration::from_secs(5), verifier)
        .await
        .expect("verifier finishes")
        .expect("one LIST and the status");
}

#[tokio::test]
async fn every_reconcile_waiting_for_the_caches_is_woken() {
    // Several reconciles (tasks) wait at startup for the same stores to list; each must wake
    // once they have (a store's own readiness wakes only the last task that polled it).
    let (revisions, mut w1) = reflector::store::<ControllerRevision>();
    let (service_accounts, mut w2) = reflector::store::<ServiceAccount>();
    let (claims, mut w3) = reflector::store::<PersistentVolumeClaim>();
    let (volumes, mut w4) = reflector::store::<PersistentVolume>();
    let stores = children::Stores {
        listed: Default::default(),
        revisions,
        service_accounts,
        claims,
        volumes,
    };
    let waiting: Vec<_> = (0..4)
        .map(|_| {
            let stores = stores.clone();
            tokio::spawn(async move { stores.ready().await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    w1.apply_watcher_event(&Event::Init);
    w1.apply_watcher_event(&Event::InitDone);
    w2.apply_watcher_event(&Event::Init);
    w2.apply_watcher_event(&Event::InitDone);
    w3.apply_watcher_event(&Event::Init);
    w3.apply_watcher_event(&Event::InitDone);
    w4.apply_watcher_event(&Event::Init);
    w4.apply_watcher_event(&Event::InitDone);
    for waiter in waiting {
        tokio::time::timeout(Duration::from_secs(2), waiter)
            .await
            .expect("every waiter woken")
            .expect("joined")
            .expect("listed");
    }
}
