//! Fuzzes reading manifests and rendering them: any text, split into YAML documents as
//! `ecs-bridge render` splits a file, loads into the five kinds or fails with diagnostics, and
//! renders (placement against four sample nodes, at a fixed instant) without panicking; every
//! rendered object is a JSON object with `apiVersion`, `kind` and `metadata.name`.
//! Seeds: `examples/`; dictionary: `ecs.dict`.
#![no_main]

use std::path::Path;

use ecs_bridge::{
    manifest::split_documents,
    render::{load, render},
    translate::Options,
};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Node;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fn nodes() -> Vec<Node> {
    let types = ["t2.small", "t3.micro", "m5.large", "g2.2xlarge"];
    let arches = ["amd64", "arm64", "amd64", "amd64"];
    (0..4)
        .map(|i| {
            let (ty, arch) = (types[i], arches[i]);
            serde_json::from_value(json!({
                "metadata": {"name": format!("n{i}"), "labels": {
                    "topology.kubernetes.io/zone": format!("us-east-1{}", (b'a' + i as u8) as char),
                    "node.kubernetes.io/instance-type": ty,
                    "kubernetes.io/arch": arch,
                }},
                "spec": {"providerID": format!("aws:///us-east-1a/i-{i}")},
                "status": {"allocatable": {"cpu": "2", "memory": "8Gi", "pods": "110"}},
            }))
            .expect("node")
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let docs = split_documents(Path::new("fuzz.yaml"), text);
    let (loaded, _) = load(&docs);
    let nodes = nodes();
    let now: Timestamp = "2026-12-07T10:00:00Z".parse().expect("instant");
    let rendered = render(&loaded, &Options::default(), Some(&nodes), now);
    for o in &rendered.objects {
        assert!(
            o.get("apiVersion").is_some_and(|v| v.is_string())
                && o.get("kind").is_some_and(|v| v.is_string())
                && o.pointer("/metadata/name").is_some_and(|v| v.is_string()),
            "{o}"
        );
    }
});
