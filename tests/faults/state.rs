//! The converged state of a bed, as the fault runs compare it: every child the operator made
//! (as `floor::children` reads them: without server-set fields), and the status of every
//! ecs-bridge object without what differs between any two runs (times, generated ids, the
//! event history); and the children whose owner is gone.

use std::collections::{BTreeMap, BTreeSet};

use kube::{
    Api, Client,
    api::{ApiResource, DynamicObject, GroupVersionKind, ListParams},
};
use serde_json::Value;

use super::{floor, manifests::NAMESPACE};

/// The ecs-bridge kinds: kind, plural, whether namespaced.
const KINDS: [(&str, &str, bool); 5] = [
    ("TaskDefinition", "taskdefinitions", true),
    ("Service", "services", true),
    ("CapacityProvider", "capacityproviders", false),
    ("Task", "tasks", true),
    ("ScheduledTask", "scheduledtasks", true),
];

/// What the fault runs compare.
#[derive(Debug, PartialEq, Eq)]
pub struct State {
    /// `Kind namespace/name` → the child.
    pub children: BTreeMap<String, Value>,
    /// `Kind name` → its status, normalised ([`normalise`]).
    pub statuses: BTreeMap<String, Value>,
}

impl State {
    /// The state of the cluster `client` reaches.
    pub async fn read(client: &Client) -> State {
        let children = floor::children(client)
            .await
            .into_iter()
            .map(|(ar, ns, mut obj)| {
                let name = obj["metadata"]["name"].as_str().unwrap_or_default().to_owned();
                // The applied hash covers the owner references, whose uids differ between runs.
                if let Some(annotations) = obj["metadata"]["annotations"].as_object_mut() {
                    annotations.remove("ecsbridge.io/applied-hash");
                }
                // The families' marks name the uid of the TaskDefinition each number was given
                // to: the number alone is compared.
                if name == "ecsbridge-task-definition-families"
                    && let Some(data) = obj["data"].as_object_mut()
                {
                    for value in data.values_mut() {
                        let number = value.as_str().and_then(|v| v.split_whitespace().next());
                        *value = Value::from(number.unwrap_or_default());
                    }
                }
                (format!("{} {}/{name}", ar.kind, ns.unwrap_or_default()), obj)
            })
            .collect();
        let mut statuses = BTreeMap::new();
        for (kind, plural, namespaced) in KINDS {
            for obj in list(client, kind, plural, namespaced).await {
                let name = obj.metadata.name.clone().unwrap_or_default();
                let mut status = obj.data.get("status").cloned().unwrap_or(Value::Null);
                normalise(&mut status);
                if kind == "CapacityProvider" {
                    placement_left_out(&mut status);
                }
                statuses.insert(format!("{kind} {name}"), status);
            }
        }
        State { children, statuses }
    }

    /// What differs between `self` and `other`, one line each (empty when they are equal).
    pub fn differences(&self, other: &State) -> Vec<String> {
        let mut out = Vec::new();
        diff("child", &self.children, &other.children, &mut out);
        diff("status of", &self.statuses, &other.statuses, &mut out);
        out
    }
}

fn diff(what: &str, a: &BTreeMap<String, Value>, b: &BTreeMap<String, Value>, out: &mut Vec<String>) {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for key in keys {
        match (a.get(key), b.get(key)) {
            (Some(_), None) => out.push(format!("{what} {key}: only in the fault-free run")),
            (None, Some(_)) => out.push(format!("{what} {key}: only in the run with faults")),
            (Some(x), Some(y)) if x != y => {
                let mut paths = Vec::new();
                differing("", x, y, &mut paths);
                out.push(format!("{what} {key} differs at {}", paths.join(", ")));
            }
            _ => {}
        }
    }
}

/// The JSON pointers where `a` and `b` differ, with both values (each cut to 200 characters).
fn differing(at: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for key in keys {
                let (x, y) = (
                    x.get(key).unwrap_or(&Value::Null),
                    y.get(key).unwrap_or(&Value::Null),
                );
                differing(&format!("{at}/{key}"), x, y, out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                differing(&format!("{at}/{i}"), x, y, out);
            }
        }
        (x, y) if x != y => {
            let cut = |v: &Value| v.to_string().chars().take(200).collect::<String>();
            out.push(format!("{at}: {} | {}", cut(x), cut(y)));
        }
        _ => {}
    }
}

async fn list(client: &Client, kind: &str, plural: &str, namespaced: bool) -> Vec<DynamicObject> {
    let ar =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("ecsbridge.io", "v1alpha1", kind), plural);
    let api = if namespaced {
        Api::<DynamicObject>::namespaced_with(client.clone(), NAMESPACE, &ar)
    } else {
        Api::all_with(client.clone(), &ar)
    };
    api.list(&ListParams::default())
        .await
        .unwrap_or_else(|e| panic!("list {plural}: {e}"))
        .items
}

/// Removes from a status what two runs of the same manifests may not share: times, the
/// generated deployment and event ids, and the ECS event history (whose repetitions depend on
/// timing: ECS too logs "has reached a steady state" again every few hours).
pub fn normalise(status: &mut Value) {
    match status {
        Value::Object(map) => {
            map.retain(|key, _| {
                !(key.ends_with("At")
                    || key.ends_with("Time")
                    || key.ends_with("Timestamp")
                    || key.ends_with("Through")
                    || key.ends_with("After")
                    || key == "id"
                    || key == "events")
            });
            for value in map.values_mut() {
                normalise(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalise),
        Value::String(text) if text.contains("ecs-svc/") => *text = without_ids(text),
        _ => {}
    }
}

/// Leaves out of a CapacityProvider's status its `CapacityProviderReservation` (and the
/// condition messages that quote it): the share of its nodes that hold tasks, which depends on
/// where the (simulated) scheduler put each task, and so on the order the tasks were made in.
fn placement_left_out(status: &mut Value) {
    if let Some(map) = status.as_object_mut() {
        map.remove("capacityProviderReservation");
    }
    for condition in status["conditions"].as_array_mut().into_iter().flatten() {
        if let Some(c) = condition.as_object_mut() {
            c.remove("message");
        }
    }
}

/// `text` with the number of every deployment id (`ecs-svc/1234…`) left out.
fn without_ids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("ecs-svc/") {
        let (before, after) = rest.split_at(at + "ecs-svc/".len());
        out.push_str(before);
        out.push_str("ID");
        rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

/// Every child of the kinds the operator makes whose owner reference names an object (by
/// uid) that does not exist: `Kind name -> OwnerKind ownerName`.
pub async fn orphans(client: &Client) -> Vec<String> {
    let ours = ListParams::default().labels("app.kubernetes.io/managed-by=ecs-bridge");
    let mut uids = BTreeSet::new();
    let mut owned = Vec::new();
    for (kind, plural, namespaced) in KINDS {
        for obj in list(client, kind, plural, namespaced).await {
            uids.extend(obj.metadata.uid);
        }
    }
    for (ar, _) in floor::child_kinds() {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
        let list = api
            .list(&ours)
            .await
            .unwrap_or_else(|e| panic!("list {}: {e}", ar.plural));
        for obj in list.items {
            uids.extend(obj.metadata.uid.clone());
            let name = obj.metadata.name.clone().unwrap_or_default();
            for owner in obj.metadata.owner_references.unwrap_or_default() {
                owned.push((format!("{} {name}", ar.kind), owner));
            }
        }
    }
    owned
        .into_iter()
        .filter(|(_, owner)| !uids.contains(&owner.uid))
        .map(|(child, owner)| format!("{child} -> {} {}", owner.kind, owner.name))
        .collect()
}
