//! [`super::families::Marks`] against a mocked API server: a namespace's registrations raise
//! their marks by group commit from the copy last written (no GET, no conflict between them, the
//! marks that waited written together), a mark already reached refuses the number, and a failed
//! write makes the next one read again.

use std::sync::Arc;

use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::families::{CONFIG_MAP, Marks};
use crate::controller::{
    Error,
    testing::{self, assert_no_more_requests, json_body, next, ok},
};

const PATH: &str = "/api/v1/namespaces/team-a/configmaps/ecsbridge-task-definition-families";

fn config_map(resource_version: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": CONFIG_MAP, "namespace": "team-a", "resourceVersion": resource_version},
           "data": data})
}

#[tokio::test]
async fn registrations_of_a_namespace_raise_their_marks_by_group_commit() {
    let (client, mut server) = testing::client();
    let marks = Arc::new(Marks::default());
    let verifier = tokio::spawn(async move {
        // Read once.
        let (request, reply) = next(&mut server).await;
        assert_eq!((request.method(), request.uri().path()), (&Method::GET, PATH));
        ok(reply, &config_map("1", json!({"old": "3"})));
        // The first write carries the first mark; the two that waited for it go together in the
        // second, guarded by the version the first returned.
        let mut seen = Vec::new();
        for version in ["2", "3"] {
            let (request, reply) = next(&mut server).await;
            assert_eq!((request.method(), request.uri().path()), (&Method::PATCH, PATH));
            let body = json_body(request).await;
            seen.push((
                body["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                body["data"].clone(),
            ));
            ok(reply, &config_map(version, body["data"].clone()));
        }
        assert_no_more_requests(server).await;
        seen
    });
    let (a, b, c) = tokio::join!(
        marks.record(&client, "team-a", "web", 1, "uid-web"),
        marks.record(&client, "team-a", "api", 1, "uid-api"),
        marks.record(&client, "team-a", "db", 7, "uid-db")
    );
    a.expect("web raised");
    b.expect("api raised");
    c.expect("db raised");
    let seen = verifier.await.expect("verifier");
    assert_eq!(seen[0], ("1".to_owned(), json!({"web": "1 uid-web"})));
    assert_eq!(
        seen[1],
        ("2".to_owned(), json!({"api": "1 uid-api", "db": "7 uid-db"}))
    );
}

#[tokio::test]
async fn a_number_the_mark_reached_is_refused_and_a_failed_write_reads_again() {
    let (client, mut server) = testing::client();
    let marks = Marks::default();
    let verifier = tokio::spawn(async move {
        let (request, reply) = next(&mut server).await;
        assert_eq!(request.method(), Method::GET);
        ok(reply, &config_map("7", json!({"web": "4"})));
        // After the refusal: read again, then a patch that conflicts.
        let (request, reply) = next(&mut server).await;
        assert_eq!(request.method(), Method::GET);
        ok(reply, &config_map("8", json!({"web": "4"})));
        let (request, reply) = next(&mut server).await;
        assert_eq!(request.method(), Method::PATCH);
        reply.send_response(testing::json_response(
            StatusCode::CONFLICT,
            &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Conflict", "code": 409,
                    "message": "the object has been modified"}),
        ));
        // After the conflict: read again.
        let (request, reply) = next(&mut server).await;
        assert_eq!(request.method(), Method::GET);
        ok(reply, &config_map("9", json!({"web": "5 uid-web"})));
        assert_no_more_requests(server).await;
    });
    let taken = marks.record(&client, "team-a", "web", 4, "uid-web").await;
    assert!(
        matches!(&taken, Err(Error::RevisionTaken { family, revision: 4 }) if family == "web"),
        "{taken:?}"
    );
    assert!(matches!(
        marks.record(&client, "team-a", "web", 5, "uid-web").await,
        Err(Error::MarkNotRaised { .. })
    ));
    let read = marks.read(&client, "team-a").await.expect("read");
    assert_eq!(
        read.and_then(|cm| cm.data)
            .and_then(|d| d.get("web").cloned())
            .as_deref(),
        Some("5 uid-web")
    );
    verifier.await.expect("verifier");
}

#[tokio::test]
async fn two_waiters_of_one_family_never_get_the_same_number() {
    // Two TaskDefinitions may name one family; their registrations of the same number wait for
    // the same write: one gets it, the other is refused (and retried above it).
    let (client, mut server) = testing::client();
    let marks = Marks::default();
    let verifier = tokio::spawn(async move {
        let (request, reply) = next(&mut server).await;
        assert_eq!(request.method(), Method::GET);
        ok(reply, &config_map("1", json!({"web": "4"})));
        let mut written = Vec::new();
        for version in ["2", "3"] {
            let (request, reply) = next(&mut server).await;
            assert_eq!(request.method(), Method::PATCH);
            let body = json_body(request).await;
            written.push(body["data"].clone());
            ok(reply, &config_map(version, body["data"].clone()));
        }
        assert_no_more_requests(server).await;
        written
    });
    let (first, a, b) = tokio::join!(
        marks.record(&client, "team-a", "api", 1, "uid-api"),
        marks.record(&client, "team-a", "web", 5, "uid-web"),
        marks.record(&client, "team-a", "web", 5, "uid-web-too")
    );
    first.expect("api raised");
    assert!(a.is_ok(), "{a:?}");
    assert!(
        matches!(&b, Err(Error::RevisionTaken { family, revision: 5 }) if family == "web"),
        "{b:?}"
    );
    let written = verifier.await.expect("verifier");
    assert_eq!(
        written,
        [json!({"api": "1 uid-api"}), json!({"web": "5 uid-web"})]
    );
}

#[tokio::test]
async fn the_number_given_to_a_task_definition_is_its_again_after_a_failed_create() {
    // The mark is at 4, given to uid-web: its registration of 4 again (the create failed after
    // the mark was raised) needs no write; another TaskDefinition of the family is refused it.
    let (client, mut server) = testing::client();
    let marks = Marks::default();
    let verifier = tokio::spawn(async move {
        let (request, reply) = next(&mut server).await;
        assert_eq!(request.method(), Method::GET);
        ok(reply, &config_map("7", json!({"web": "4 uid-web"})));
        let (request, reply) = next(&mut server).await;
        assert_eq!(request.method(), Method::GET);
        ok(reply, &config_map("7", json!({"web": "4 uid-web"})));
        assert_no_more_requests(server).await;
    });
    marks
        .record(&client, "team-a", "web", 4, "uid-web")
        .await
        .expect("the same TaskDefinition's number");
    let other = marks.record(&client, "team-a", "web", 4, "uid-other").await;
    assert!(
        matches!(&other, Err(Error::RevisionTaken { revision: 4, .. })),
        "{other:?}"
    );
    verifier.await.expect("verifier");
}
