//! `Table` responses for `kubectl get` (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`),
//! with a CRD's `additionalPrinterColumns`
//! (https://kubernetes.io/docs/reference/using-api/api-concepts/#receiving-resources-as-tables).

use serde_json::{Value, json};

use crate::registry::ResourceType;

/// Whether the client asked for a Table.
#[must_use]
pub fn wants_table(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=Table"))
}

/// The cells of one object's row.
type Cells = fn(&Value) -> Vec<Value>;

/// Column definitions of `(name, type, priority)`.
fn columns(defs: &[(&str, &str, i64)]) -> Vec<Value> {
    defs.iter()
        .map(|(name, type_, priority)| column(name, type_, *priority))
        .collect()
}

/// A column definition.
fn column(name: &str, type_: &str, priority: i64) -> Value {
    json!({"name": name, "type": type_, "format": if name == "Name" { "name" } else { "" },
           "description": name, "priority": priority})
}

/// The columns kube-apiserver prints for a built-in kind (k8s.io/kubernetes/pkg/printers/
/// internalversion/printers.go), and each row's cells; `None` for other kinds.
fn builtin(kind: &str) -> Option<(Vec<Value>, Cells)> {
    match kind {
        "Pod" => Some((
            columns(&[
                ("Name", "string", 0),
                ("Ready", "string", 0),
                ("Status", "string", 0),
                ("Restarts", "string", 0),
                ("Age", "string", 0),
                ("IP", "string", 1),
                ("Node", "string", 1),
                ("Nominated Node", "string", 1),
                ("Readiness Gates", "string", 1),
            ]),
            pod_cells,
        )),
        "Deployment" => Some((
            columns(&[
                ("Name", "string", 0),
                ("Ready", "string", 0),
                ("Up-to-date", "string", 0),
                ("Available", "string", 0),
                ("Age", "string", 0),
                ("Containers", "string", 1),
                ("Images", "string", 1),
                ("Selector", "string", 1),
            ]),
            deployment_cells,
        )),
        "ReplicaSet" => Some((
            columns(&[
                ("Name", "string", 0),
                ("Desired", "integer", 0),
                ("Current", "integer", 0),
                ("Ready", "integer", 0),
                ("Age", "string", 0),
                ("Containers", "string", 1),
                ("Images", "string", 1),
                ("Selector", "string", 1),
            ]),
            replica_set_cells,
        )),
        _ => None,
    }
}

fn int(o: &Value, p: &str) -> i64 {
    o.pointer(p).and_then(Value::as_i64).unwrap_or(0)
}

fn text(o: &Value, p: &str) -> String {
    o.pointer(p).and_then(Value::as_str).unwrap_or("").to_owned()
}

/// `kubectl`'s age of `o` (as the printers give it: a duration string).
fn age_of(o: &Value) -> Value {
    let created = text(o, "/metadata/creationTimestamp");
    let Ok(t) = created.parse::<jiff::Timestamp>() else {
        return json!("<unknown>");
    };
    let secs = jiff::Timestamp::now().duration_since(t).as_secs().max(0);
    json!(match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 3600 * 3 => format!("{}m", s / 60),
        s if s < 86_400 * 2 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    })
}

fn template_columns(o: &Value) -> (Value, Value, Value) {
    let containers: Vec<&Value> = o
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let names: Vec<String> = containers.iter().map(|c| text(c, "/name")).collect();
    let images: Vec<String> = containers.iter().map(|c| text(c, "/image")).collect();
    let selector: Vec<String> = o
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    (
        json!(names.join(",")),
        json!(images.join(",")),
        json!(selector.join(",")),
    )
}

fn deployment_cells(o: &Value) -> Vec<Value> {
    let desired = o.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let (containers, images, selector) = template_columns(o);
    vec![
        json!(text(o, "/metadata/name")),
        json!(format!("{}/{desired}", int(o, "/status/readyReplicas"))),
        json!(int(o, "/status/updatedReplicas").to_string()),
        json!(int(o, "/status/availableReplicas").to_string()),
        age_of(o),
        containers,
        images,
        selector,
    ]
}

fn replica_set_cells(o: &Value) -> Vec<Value> {
    let (containers, images, selector) = template_columns(o);
    vec![
        json!(text(o, "/metadata/name")),
        json!(o.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)),
        json!(int(o, "/status/replicas")),
        json!(int(o, "/status/readyReplicas")),
        age_of(o),
        containers,
        images,
        selector,
    ]
}

/// A pod's cells, as `printPod` computes them: READY `ready/total`, STATUS the phase or the
/// reason of the container (init containers first) that is waiting or terminated,
/// `Terminating` while deleted, RESTARTS the sum.
fn pod_cells(o: &Value) -> Vec<Value> {
    let statuses: Vec<Value> = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let total = o
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let ready = statuses.iter().filter(|c| c["ready"] == true).count();
    let restarts: i64 = statuses.iter().map(|c| int(c, "/restartCount")).sum();
    let mut reason = match text(o, "/status/reason") {
        r if !r.is_empty() => r,
        _ => match text(o, "/status/phase") {
            p if p.is_empty() => "Pending".to_owned(),
            p => p,
        },
    };
    let inits: Vec<Value> = o
        .pointer("/status/initContainerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let init_total = inits.len();
    let mut initializing = false;
    for (i, c) in inits.iter().enumerate() {
        let terminated_ok = c.pointer("/state/terminated/exitCode").and_then(Value::as_i64) == Some(0);
        if terminated_ok || c.pointer("/state/running").is_some() && c["started"] == true {
            continue;
        }
        initializing = true;
        reason = match text(c, "/state/waiting/reason") {
            w if !w.is_empty() && w != "PodInitializing" => format!("Init:{w}"),
            _ => format!("Init:{i}/{init_total}"),
        };
        break;
    }
    if !initializing {
        for c in statuses.iter().rev() {
            let waiting = text(c, "/state/waiting/reason");
            let terminated = text(c, "/state/terminated/reason");
            if !waiting.is_empty() {
                reason = waiting;
            } else if !terminated.is_empty() {
                reason = terminated;
            } else if let Some(code) = c.pointer("/state/terminated/exitCode").and_then(Value::as_i64) {
                reason = format!("ExitCode:{code}");
            }
        }
    }
    if o.pointer("/metadata/deletionTimestamp").is_some() {
        reason = "Terminating".to_owned();
    }
    let ip = match text(o, "/status/podIP") {
        ip if ip.is_empty() => "<none>".to_owned(),
        ip => ip,
    };
    let node = match text(o, "/spec/nodeName") {
        n if n.is_empty() => "<none>".to_owned(),
        n => n,
    };
    vec![
        json!(text(o, "/metadata/name")),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts.to_string()),
        age_of(o),
        json!(ip),
        json!(node),
        json!("<none>"),
        json!("<none>"),
    ]
}

/// A Table of `items` (objects) for `rt`.
#[must_use]
pub fn table(rt: &ResourceType, items: &[Value], resource_version: &str) -> Value {
    if rt.printer_columns.is_empty()
        && let Some((columns, cells)) = builtin(&rt.gvk.kind)
    {
        return envelope(columns, items, cells, resource_version);
    }
    let mut columns = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}),
    ];
    let custom: Vec<&Value> = rt.printer_columns.iter().collect();
    for c in &custom {
        columns.push(json!({
            "name": c.get("name").cloned().unwrap_or(json!("")),
            "type": c.get("type").cloned().unwrap_or(json!("string")),
            "format": c.get("format").cloned().unwrap_or(json!("")),
            "description": c.get("description").cloned().unwrap_or(json!("")),
            "priority": c.get("priority").cloned().unwrap_or(json!(0)),
        }));
    }
    let has_age = custom
        .iter()
        .any(|c| c.get("jsonPath").and_then(Value::as_str) == Some(".metadata.creationTimestamp"));
    if !has_age {
        columns
            .push(json!({"name": "Age", "type": "date", "format": "", "description": "Age", "priority": 0}));
    }
    let cells = |obj: &Value| {
        let mut cells = vec![obj.pointer("/metadata/name").cloned().unwrap_or(Value::Null)];
        for c in &custom {
            let path = c.get("jsonPath").and_then(Value::as_str).unwrap_or("");
            cells.push(json_path(obj, path).unwrap_or(Value::Null));
        }
        if !has_age {
            cells.push(
                obj.pointer("/metadata/creationTimestamp")
                    .cloned()
                    .unwrap_or(Value::Null),
            );
        }
        cells
    };
    envelope(columns, items, cells, resource_version)
}

/// The Table of `items` with `columns`, each row's `cells`, and its object's metadata.
fn envelope(
    columns: Vec<Value>,
    items: &[Value],
    cells: impl Fn(&Value) -> Vec<Value>,
    resource_version: &str,
) -> Value {
    let rows: Vec<Value> = items
        .iter()
        .map(|obj| {
            json!({
                "cells": cells(obj),
                "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata").cloned().unwrap_or(json!({}))},
            })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": columns,
        "rows": rows,
    })
}

/// Evaluates the JSONPath subset printer columns use: `.a.b`, `.a[0].b` and
/// `.a[?(@.k=="v")].b`. Anything else yields `None` (an empty cell), never a wrong value.
#[must_use]
pub fn json_path(obj: &Value, path: &str) -> Option<Value> {
    let mut cur = obj.clone();
    let mut rest = path.trim().trim_start_matches('{').trim_end_matches('}');
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            cur = cur.get(&r[..end])?.clone();
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = &r[..end];
            rest = &r[end + 1..];
            if inner == "*" {
                // Every element: the rest of the path from each, the values found in a list.
                let found: Vec<Value> = cur
                    .as_array()?
                    .iter()
                    .filter_map(|item| json_path(item, rest))
                    .collect();
                return (!found.is_empty()).then_some(Value::Array(found));
            } else if let Ok(i) = inner.parse::<usize>() {
                cur = cur.get(i)?.clone();
            } else if let Some(filter) = inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')')) {
                let (key, value) = filter.split_once("==")?;
                let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
                cur = cur
                    .as_array()?
                    .iter()
                    .find(|item| item.get(key.trim()).and_then(Value::as_str) == Some(value))?
                    .clone();
            } else {
                return None;
            }
        } else {
            return None;
        }
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn evaluates_printer_column_paths() {
        let obj = json!({"status": {"runningCount": 3, "conditions": [{"type": "Progressing", "status": "False"}, {"type": "Ready", "status": "True"}]}, "spec": {"l": [{"x": 1}]}});
        assert_eq!(json_path(&obj, ".status.runningCount"), Some(json!(3)));
        assert_eq!(
            json_path(&obj, ".status.conditions[?(@.type==\"Ready\")].status"),
            Some(json!("True"))
        );
        assert_eq!(json_path(&obj, ".spec.l[0].x"), Some(json!(1)));
        assert_eq!(json_path(&obj, ".status.missing"), None);
        assert_eq!(json_path(&obj, ".spec.l[*].x"), Some(json!([1])));
        assert_eq!(
            json_path(&obj, ".spec..x"),
            None,
            "unsupported syntax gives an empty cell"
        );
    }
}
