//! `events.k8s.io/v1` Events are core/v1 Events seen through a second API, as on kube-apiserver:
//! one storage (core/v1), converted field by field on the way in and out
//! (k8s.io/kubernetes/pkg/apis/events/v1/conversion.go). An Event an operator writes through
//! `events.k8s.io/v1` is what `kubectl describe` and `kubectl events` read through core/v1, and
//! the other way round.

use axum::{
    body::{Body, Bytes},
    http::header,
    response::Response,
};
use futures::StreamExt;
use serde_json::{Map, Value};

/// `(events.k8s.io/v1 field, core/v1 field)` pairs that differ in name.
pub const RENAMED: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

/// Whether `group`/`plural` is `events.k8s.io` `events`.
#[must_use]
pub fn is_events_v1(group: &str, plural: &str) -> bool {
    group == "events.k8s.io" && plural == "events"
}

fn rename(obj: &mut Map<String, Value>, from_to: impl Iterator<Item = (&'static str, &'static str)>) {
    for (from, to) in from_to {
        if let Some(v) = obj.remove(from) {
            obj.insert(to.to_owned(), v);
        }
    }
}

/// An `events.k8s.io/v1` Event (or a merge or apply patch of one) in core/v1's words.
#[must_use]
pub fn to_core(mut v: Value) -> Value {
    if let Some(obj) = v.as_object_mut() {
        rename(obj, RENAMED.iter().copied());
        if obj.get("apiVersion").and_then(Value::as_str) == Some("events.k8s.io/v1") {
            obj.insert("apiVersion".to_owned(), Value::from("v1"));
        }
    }
    v
}

/// A JSON patch (RFC 6902) of an `events.k8s.io/v1` Event, with core/v1's paths.
#[must_use]
pub fn json_patch_to_core(mut ops: Value) -> Value {
    for op in ops.as_array_mut().into_iter().flatten() {
        for key in ["path", "from"] {
            let Some(path) = op.get(key).and_then(Value::as_str).map(str::to_owned) else {
                continue;
            };
            let mut parts = path.splitn(3, '/');
            let (_, first, rest) = (parts.next(), parts.next().unwrap_or(""), parts.next());
            if let Some((_, core)) = RENAMED.iter().find(|(v1, _)| *v1 == first) {
                let converted = match rest {
                    Some(rest) => format!("/{core}/{rest}"),
                    None => format!("/{core}"),
                };
                op[key] = Value::from(converted);
            }
        }
    }
    ops
}

/// A core/v1 Event, EventList or watch event, as `events.k8s.io/v1` shows it.
#[must_use]
pub fn from_core(mut v: Value) -> Value {
    let Some(obj) = v.as_object_mut() else {
        return v;
    };
    match obj.get("kind").and_then(Value::as_str) {
        Some("Event") => {
            rename(obj, RENAMED.iter().map(|(v1, core)| (*core, *v1)));
            obj.insert("apiVersion".to_owned(), Value::from("events.k8s.io/v1"));
        }
        Some("EventList") => {
            obj.insert("apiVersion".to_owned(), Value::from("events.k8s.io/v1"));
            if let Some(items) = obj.get_mut("items").and_then(Value::as_array_mut) {
                for item in items.iter_mut() {
                    let mut event = item.take();
                    if event.get("kind").is_none() {
                        event["kind"] = Value::from("Event");
                    }
                    *item = from_core(event);
                }
            }
        }
        _ => {
            // A watch event: its object.
            if let Some(object) = obj.get_mut("object") {
                let event = object.take();
                *object = from_core(event);
            }
        }
    }
    v
}

/// `resp`, a core/v1 answer (an object, a list, a Status, or a watch stream of one JSON event
/// per line), with every Event in it as `events.k8s.io/v1` shows it.
#[must_use]
pub fn response_from_core(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let stream = body.into_data_stream().map(|chunk| {
        chunk.map(|bytes| {
            let mut out = Vec::with_capacity(bytes.len());
            for line in bytes.split_inclusive(|b| *b == b'\n') {
                let (json, newline) = match line.strip_suffix(b"\n") {
                    Some(json) => (json, true),
                    None => (line, false),
                };
                match serde_json::from_slice::<Value>(json) {
                    Ok(v) => out.extend(serde_json::to_vec(&from_core(v)).unwrap_or_default()),
                    Err(_) => out.extend_from_slice(json),
                }
                if newline {
                    out.push(b'\n');
                }
            }
            Bytes::from(out)
        })
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_event_round_trips_through_core() {
        let v1 = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "web.1", "namespace": "team-a"},
            "regarding": {"kind": "Service", "name": "web"}, "note": "has started 1 task",
            "reason": "TasksStarted", "type": "Normal", "action": "StartTasks",
            "reportingController": "ecs-bridge", "reportingInstance": "ecs-bridge-0",
            "series": {"count": 2, "lastObservedTime": "2026-12-06T10:00:00.000000Z"}
        });
        let core = to_core(v1.clone());
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!(core["involvedObject"]["name"], "web");
        assert_eq!(core["message"], "has started 1 task");
        assert_eq!(core["reportingComponent"], "ecs-bridge");
        assert!(core.get("note").is_none() && core.get("regarding").is_none());
        assert_eq!(from_core(core), v1);
        let list =
            from_core(json!({"apiVersion": "v1", "kind": "EventList", "items": [to_core(v1.clone())]}));
        assert_eq!(list["items"][0], v1);
        let watched = from_core(json!({"type": "ADDED", "object": to_core(v1.clone())}));
        assert_eq!(watched["object"], v1);
        assert_eq!(
            json_patch_to_core(json!([{"op": "replace", "path": "/note", "value": "x"},
                                      {"op": "replace", "path": "/series/count", "value": 3}])),
            json!([{"op": "replace", "path": "/message", "value": "x"},
                   {"op": "replace", "path": "/series/count", "value": 3}])
        );
    }
}
