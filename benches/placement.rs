//! Placement compiler throughput: the corpus `memberOf` expressions
//! (`../shared/corpus/ecs/member-of-expressions.txt`) parsed and compiled against four sample
//! nodes, per second (patterns of `=~` compiled once, as in the operator; `regex_first_seen` is
//! the cost of a new pattern); plus the output size (node selector terms) of the largest corpus
//! expression and of an `and` of `or`s near the bound ([`compile::MAX_TERMS`]).
//! Run with `cargo bench --bench placement`.

use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_main};
use ecs_bridge::translate::placement::{
    compile::{self, Scope},
    cql,
};
use k8s_openapi::api::core::v1::Node;
use serde_json::json;

fn nodes() -> Vec<Node> {
    (0..4)
        .map(|i| {
            let zone = format!("us-east-1{}", ["a", "b", "c", "d"][i]);
            let ty = ["t2.small", "t3.micro", "m3.large", "g2.2xlarge"][i];
            serde_json::from_value(json!({
                "metadata": {"name": format!("n{i}"), "labels": {
                    "topology.kubernetes.io/zone": zone,
                    "node.kubernetes.io/instance-type": ty,
                    "ecsbridge.io/attr-stack": "prod",
                }},
                "spec": {"providerID": format!("aws:///us-east-1a/i-{i}")},
            }))
            .expect("node")
        })
        .collect()
}

fn corpus() -> Vec<String> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/ecs/member-of-expressions.txt");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter_map(|l| l.split('\t').next())
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

fn terms(text: &str, ctx: &Scope<'_>) -> Result<usize, String> {
    let expr = cql::parse(text).map_err(|e| e.to_string())?;
    let c = compile::compile_expression(text, &expr, ctx).map_err(|e| e.to_string())?;
    Ok(c.node_affinity
        .and_then(|a| a.required_during_scheduling_ignored_during_execution)
        .map_or(0, |s| s.node_selector_terms.len()))
}

fn bench(c: &mut Criterion) {
    let nodes = nodes();
    let ctx = Scope {
        nodes: Some(&nodes),
        ..Scope::default()
    };
    let exprs = corpus();
    let largest = exprs
        .iter()
        .filter_map(|e| terms(e, &ctx).ok().map(|t| (t, e)))
        .max()
        .expect("a corpus expression compiles");
    eprintln!(
        "corpus: {} expressions; largest output: {} node selector terms ({})",
        exprs.len(),
        largest.0,
        largest.1
    );
    let ors = |n: usize| {
        (0..n)
            .map(|i| format!("(attribute:a{i} == x or attribute:b{i} == y)"))
            .collect::<Vec<_>>()
            .join(" and ")
    };
    eprintln!(
        "and of 7 two-way ors: {:?} terms; and of 10: {:?}",
        terms(&ors(7), &ctx),
        terms(&ors(10), &ctx)
    );
    let mut g = c.benchmark_group("placement");
    g.throughput(Throughput::Elements(exprs.len() as u64));
    g.bench_function("corpus", |b| {
        b.iter(|| {
            exprs
                .iter()
                .map(|e| terms(std::hint::black_box(e), &ctx).unwrap_or(0))
                .sum::<usize>()
        });
    });
    // A regular expression seen for the first time is compiled; the compiler keeps
    // compiled patterns per thread, so the corpus loop above compiles each once. Here every
    // iteration has a new pattern.
    let mut n = 0_u64;
    g.throughput(Throughput::Elements(1));
    g.bench_function("regex_first_seen", |b| {
        b.iter(|| {
            n += 1;
            terms(&format!("attribute:ecs.instance-type =~ t{n}.*"), &ctx)
        });
    });
    let worst = ors(7);
    g.throughput(Throughput::Elements(1));
    g.bench_function("and_of_7_ors_128_terms", |b| {
        b.iter(|| terms(std::hint::black_box(&worst), &ctx));
    });
    g.finish();
}

// (The macro makes an undocumented public function.)
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
use group::benches;
criterion_main!(benches);
