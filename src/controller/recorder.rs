//! Kubernetes Events (`events.k8s.io/v1`) about the reconciled objects, each with a note that
//! is current.
//!
//! kube-runtime's `Recorder` keys a series by type, reason, action and object, not by note: a
//! second "has started 1 task: (task web-…-b)" only bumps the count of the first event, whose
//! note still names task `a`, long gone. Here the note is part of the key: an occurrence with a
//! new note is a new event; the same note again within [`SERIES_WINDOW`] is that event's series
//! (count and `lastObservedTime`), as `kubectl events` shows it (`x3 over 2m`).

use std::{collections::HashMap, sync::Mutex, time::Duration};

use k8s_openapi::{
    api::{
        core::v1::ObjectReference,
        events::v1::{Event, EventSeries},
    },
    apimachinery::pkg::apis::meta::v1::MicroTime,
    jiff::Timestamp,
};
use kube::{
    Api, Client,
    api::{ObjectMeta, Patch, PatchParams, PostParams},
};

/// How long an event stays the one a repeat of its note counts on (kube-runtime's is 6 minutes).
pub const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);
/// Longest note the API server accepts (`events.k8s.io/v1` Event, `note`: 1 kB).
pub const MAX_NOTE_LEN: usize = 1024;

/// What one event says, about what.
#[derive(Debug, Clone, Copy)]
pub struct Occurrence<'a> {
    /// A Warning (else Normal).
    pub warning: bool,
    /// PascalCase reason.
    pub reason: &'a str,
    /// PascalCase action (`Deploy`, `Register`, ...).
    pub action: &'a str,
    /// What happened, for people.
    pub note: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    regarding: (Option<String>, Option<String>, Option<String>, Option<String>),
    warning: bool,
    reason: String,
    action: String,
    note: String,
}

#[derive(Debug, Clone)]
struct Seen {
    name: String,
    namespace: String,
    count: i32,
    last: Timestamp,
}

/// Publishes events as the reporting controller `controller` (instance `instance`, the pod).
pub struct Recorder {
    client: Client,
    controller: String,
    instance: Option<String>,
    seen: Mutex<HashMap<Key, Seen>>,
}

impl Recorder {
    /// A recorder reporting as `controller` (and `instance`, for `kubectl describe`).
    #[must_use]
    pub fn new(client: Client, controller: &str, instance: Option<String>) -> Self {
        Self {
            client,
            controller: controller.to_owned(),
            instance,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Publishes `what` about `regarding` at `now`: a new event, or, for the same note within
    /// [`SERIES_WINDOW`], one more of its series.
    ///
    /// # Errors
    /// When the API server refuses the write.
    pub async fn publish(
        &self,
        regarding: &ObjectReference,
        what: Occurrence<'_>,
        now: Timestamp,
    ) -> Result<(), kube::Error> {
        let note = crate::controller::status::cut(what.note, MAX_NOTE_LEN);
        let key = Key {
            regarding: (
                regarding.namespace.clone(),
                regarding.kind.clone(),
                regarding.name.clone(),
                regarding.uid.clone(),
            ),
            warning: what.warning,
            reason: what.reason.to_owned(),
            action: what.action.to_owned(),
            note: note.clone(),
        };
        let repeat = {
            let mut seen = self
                .seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            seen.retain(|_, s| now.duration_since(s.last).unsigned_abs() < SERIES_WINDOW);
            seen.get_mut(&key).map(|s| {
                s.count += 1;
                s.last = now;
                s.clone()
            })
        };
        if let Some(s) = repeat {
            let api: Api<Event> = Api::namespaced(self.client.clone(), &s.namespace);
            let series = serde_json::json!({
                "series": EventSeries { count: s.count, last_observed_time: MicroTime(now) },
            });
            api.patch(&s.name, &PatchParams::default(), &Patch::Merge(&series))
                .await?;
            return Ok(());
        }
        let namespace = regarding
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let object = regarding.name.clone().unwrap_or_default();
        // Unique per occurrence: the object, and a hash of what happened and when.
        let id = crate::fnv::hash(
            [
                regarding.uid.as_deref().unwrap_or(""),
                what.reason,
                &note,
                &now.as_nanosecond().to_string(),
            ]
            .join("\0")
            .bytes(),
        );
        let name = format!("{}.{id:016x}", object.chars().take(200).collect::<String>());
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            action: Some(what.action.to_owned()),
            event_time: Some(MicroTime(now)),
            note: Some(note),
            reason: Some(what.reason.to_owned()),
            regarding: Some(regarding.clone()),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone().unwrap_or_else(|| self.controller.clone())),
            type_: Some(if what.warning { "Warning" } else { "Normal" }.to_owned()),
            ..Event::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        api.create(&PostParams::default(), &event).await?;
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                key,
                Seen {
                    name,
                    namespace,
                    count: 1,
                    last: now,
                },
            );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;
    use crate::controller::testing::{self, json_body, next, ok};

    fn web() -> ObjectReference {
        ObjectReference {
            api_version: Some("ecsbridge.io/v1alpha1".into()),
            kind: Some("Service".into()),
            name: Some("web".into()),
            namespace: Some("team-a".into()),
            uid: Some("uid-web".into()),
            ..ObjectReference::default()
        }
    }

    fn started(task: &str) -> String {
        format!("(service web) has started 1 task: (task {task}).")
    }

    #[tokio::test]
    async fn each_note_is_its_own_event_and_a_repeat_is_its_series() {
        let (client, mut server) = testing::client();
        let recorder = Recorder::new(client, "ecs-bridge", Some("ecs-bridge-0".into()));
        let at = |s: i64| Timestamp::from_second(1_800_000_000 + s).expect("a time");
        let (a, b) = (started("web-a"), started("web-b"));
        fn what(note: &str) -> Occurrence<'_> {
            Occurrence {
                warning: false,
                reason: "TasksStarted",
                action: "StartTasks",
                note,
            }
        }
        let server_side = tokio::spawn(async move {
            let mut bodies = Vec::new();
            for method in [Method::POST, Method::POST, Method::PATCH] {
                let (request, reply) = next(&mut server).await;
                assert_eq!(request.method(), method);
                let path = request.uri().path().to_owned();
                let body = json_body(request).await;
                ok(reply, &body);
                bodies.push((path, body));
            }
            testing::assert_no_more_requests(server).await;
            bodies
        });
        recorder
            .publish(&web(), what(&a), at(0))
            .await
            .expect("published");
        recorder
            .publish(&web(), what(&b), at(1))
            .await
            .expect("published");
        recorder
            .publish(&web(), what(&b), at(2))
            .await
            .expect("published");
        let bodies = server_side.await.expect("served");
        let (first, second) = (&bodies[0].1, &bodies[1].1);
        assert_eq!(first["note"], a.as_str(), "{first}");
        assert_eq!(
            second["note"],
            b.as_str(),
            "a current note, not the first one: {second}"
        );
        assert_ne!(first["metadata"]["name"], second["metadata"]["name"]);
        assert_eq!(first["reportingController"], "ecs-bridge");
        assert_eq!(first["reportingInstance"], "ecs-bridge-0");
        assert_eq!(first["regarding"]["uid"], "uid-web");
        // The same note again: the second event's series.
        let (path, patch) = &bodies[2];
        assert!(
            path.ends_with(second["metadata"]["name"].as_str().expect("a name")),
            "{path}"
        );
        assert_eq!(patch["series"]["count"], 2, "{patch}");
    }

    #[tokio::test]
    async fn a_note_is_cut_to_what_the_api_server_accepts() {
        let (client, mut server) = testing::client();
        let recorder = Recorder::new(client, "ecs-bridge", None);
        let long = "x".repeat(5000);
        let server_side = tokio::spawn(async move {
            let (request, reply) = next(&mut server).await;
            let body = json_body(request).await;
            ok(reply, &body);
            body
        });
        let what = Occurrence {
            warning: true,
            reason: "InvalidService",
            action: "Validate",
            note: &long,
        };
        recorder
            .publish(&web(), what, Timestamp::UNIX_EPOCH)
            .await
            .expect("published");
        let body = server_side.await.expect("served");
        assert!(body["note"].as_str().is_some_and(|n| n.len() <= MAX_NOTE_LEN));
        assert_eq!(body["type"], "Warning");
    }
}
