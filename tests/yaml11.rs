//! What `render`, `import` and `crdgen` print reads the same in YAML 1.1, as kubectl, Helm and
//! Argo CD read it (Go's YAML 1.1 rules; PyYAML, a YAML 1.1 reader, stands in for them here):
//! random values with the words YAML 1.1 takes for booleans, numbers and dates, printed by
//! `ecs_bridge::yaml::to_string`, read back by PyYAML, are the same values. And the CRDs the
//! chart installs read the same as the generated ones.

mod support;

use proptest::{
    prelude::*,
    strategy::ValueTree,
    test_runner::{Config, TestRunner},
};
use serde_json::{Value, json};

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(vec![
            "on",
            "Off",
            "YES",
            "no",
            "y",
            "N",
            "1_000",
            "-1_5",
            "1:20",
            "0b101",
            "2027-01-01",
            "2027-01-01T10:00:00Z",
            "OFF",
            "FLEXIBLE",
            "0x1F",
            ".5",
            "+12",
            "~",
            "null",
            "true",
            "1e3",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z0-9 :#'\"_.|>-]{0,10}",
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        word().prop_map(Value::String),
        "[a-z]{0,4}(\n[a-z :]{0,6}){1,3}".prop_map(Value::String),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(word(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn printed_yaml_reads_the_same_in_yaml_1_1() {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        proptest::test_runner::TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let strategy = value();
    let values: Vec<Value> = (0..400)
        .map(|_| strategy.new_tree(&mut runner).expect("a value").current())
        .collect();
    let dir = support::cli::scratch("yaml11", "values");
    let yaml: String = values
        .iter()
        .map(|v| format!("---\n{}", ecs_bridge::yaml::to_string(v).expect("yaml")))
        .collect();
    let yaml_file = dir.join("values.yaml");
    let json_file = dir.join("values.json");
    std::fs::write(&yaml_file, &yaml).expect("write");
    std::fs::write(&json_file, serde_json::to_string(&values).expect("json")).expect("write");
    let out = support::python_output(
        "import json, sys, yaml\n\
         docs = list(yaml.safe_load_all(open(sys.argv[1])))\n\
         want = json.load(open(sys.argv[2]))\n\
         bad = [(i, d, w) for i, (d, w) in enumerate(zip(docs, want)) if d != w]\n\
         print(len(docs), len(bad))\n\
         for i, d, w in bad[:3]: print(i, repr(d), repr(w))",
        &[
            yaml_file.to_str().expect("path"),
            json_file.to_str().expect("path"),
        ],
    );
    let first = out.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        format!("{} 0", values.len()),
        "read differently in YAML 1.1:\n{out}\n{yaml:.3000}"
    );
}

#[test]
fn the_crds_read_the_same_in_yaml_1_1() {
    // `OFF` (Scheduler's FlexibleTimeWindow.Mode) must stay a string.
    let crds = support::repo_root().join("crds");
    let out = support::python_output(
        "import sys, yaml, pathlib\n\
         p = pathlib.Path(sys.argv[1]) / 'scheduledtasks.ecsbridge.io.yaml'\n\
         crd = yaml.safe_load(p.read_text())\n\
         s = crd['spec']['versions'][0]['schema']['openAPIV3Schema']['properties']['spec']['properties']\n\
         print(s['FlexibleTimeWindow']['properties']['Mode']['enum'])",
        &[crds.to_str().expect("path")],
    );
    assert_eq!(out.trim(), "['OFF', 'FLEXIBLE']");
}
