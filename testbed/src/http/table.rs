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

/// A Table of `items` (objects) for `rt`.
#[must_use]
pub fn table(rt: &ResourceType, items: &[Value], resource_version: &str) -> Value {
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
    let rows: Vec<Value> = items
        .iter()
        .map(|obj| {
            let mut cells = vec![obj.pointer("/metadata/name").cloned().unwrap_or(Value::Null)];
            for c in &custom {
                let path = c.get("jsonPath").and_then(Value::as_str).unwrap_or("");
                cells.push(json_path(obj, path).unwrap_or(Value::Null));
            }
            if !has_age {
                cells.push(obj.pointer("/metadata/creationTimestamp").cloned().unwrap_or(Value::Null));
            }
            json!({
                "cells": cells,
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
            if let Ok(i) = inner.parse::<usize>() {
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
        assert_eq!(
            json_path(&obj, ".spec.l[*].x"),
            None,
            "unsupported syntax gives an empty cell"
        );
    }
}
