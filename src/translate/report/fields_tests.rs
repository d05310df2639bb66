//! The walk agrees with walking the value's JSON (`serde_json::to_value`, then the objects and
//! lists of the result, as the report did before the walk existed): on arbitrary JSON and on every
//! corpus task definition, typed.

use proptest::prelude::*;
use serde_json::Value;

use super::fields::{Visit, find};
use crate::{
    manifest::FieldPath,
    translate::testing::{corpus_files, corpus_task_definition},
};

/// The reference: the fields of `value`'s JSON to report, walking the JSON.
fn json_walk(value: &Value, classify: &dyn Fn(&str) -> Visit) -> Vec<FieldPath> {
    fn go(path: &FieldPath, value: &Value, classify: &dyn Fn(&str) -> Visit, out: &mut Vec<FieldPath>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let empty = v.as_array().is_some_and(Vec::is_empty)
                        || v.as_object().is_some_and(|o| o.is_empty());
                    if v.is_null() || empty {
                        continue;
                    }
                    let child = path.key(k);
                    match classify(&child.pattern()) {
                        Visit::Skip => {}
                        Visit::Descend => go(&child, v, classify, out),
                        Visit::Report => out.push(child),
                    }
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    go(&path.index(i), v, classify, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    go(&FieldPath::root(), value, classify, &mut out);
    out
}

/// Classifies by pattern depth and a hash of the pattern, so that every kind of decision occurs
/// at every depth.
fn classify_by(seed: u8) -> impl Fn(&str) -> Visit {
    move |pattern: &str| {
        let h = pattern.bytes().fold(u32::from(seed), |h, b| {
            h.wrapping_mul(31).wrapping_add(u32::from(b))
        });
        match h % 3 {
            0 => Visit::Skip,
            1 => Visit::Descend,
            _ => Visit::Report,
        }
    }
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-c]{0,2}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-c.\\[]{1,2}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn agrees_with_the_json_walk_on_any_json(value in json(), seed in any::<u8>()) {
        let classify = classify_by(seed);
        prop_assert_eq!(find(&value, &classify), json_walk(&value, &classify));
    }
}

#[test]
fn agrees_with_the_json_walk_on_every_corpus_task_definition() {
    let files = corpus_files("taskdef-");
    assert!(files.len() > 20, "{} corpus task definitions", files.len());
    let mut reported = 0;
    for file in files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let td = corpus_task_definition(&name);
        let json = serde_json::to_value(&td).expect("json");
        for seed in 0..8 {
            let classify = classify_by(seed);
            let typed = find(&td, &classify);
            assert_eq!(typed, json_walk(&json, &classify), "{name}, seed {seed}");
            reported += typed.len();
        }
        // Everything reported at the top: each set field of the JSON, in key order.
        let top: Vec<String> = find(&td, |_| Visit::Report)
            .iter()
            .map(ToString::to_string)
            .collect();
        let keys: Vec<String> = json
            .as_object()
            .expect("object")
            .iter()
            .filter(|(_, v)| {
                !(v.is_null()
                    || v.as_array().is_some_and(Vec::is_empty)
                    || v.as_object().is_some_and(|o| o.is_empty()))
            })
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(top, keys, "{name}");
    }
    assert!(reported > 100, "the classifications report fields ({reported})");
}
