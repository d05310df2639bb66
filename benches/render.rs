//! Render throughput of the corpus task definitions, next to the throughput of merely parsing and
//! re-serialising the same JSON with serde_json, in the same run.
//!
//! Input: every task definition in `../shared/corpus/ecs/`, imported as `ecs-bridge import` does,
//! as its `RegisterTaskDefinition` JSON. `render` = parse that JSON into the typed ECS model,
//! translate it (`pod_template`: pod template, ServiceAccount, ExternalSecret, volumes, report)
//! and serialise the result to JSON. `serde_json` = `from_str::<Value>` + `to_string` of the same
//! text. Run with `cargo bench --bench render`; the ratio of the two throughputs is the figure.

use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_main};
use ecs_bridge::{
    api::ecs::RegisterTaskDefinition,
    import::{ImportOptions, Imported, import_file},
    translate::pod::{PodTranslation, pod_template},
};

/// (object name, RegisterTaskDefinition JSON) of every corpus task definition that translates.
fn corpus() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/ecs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("taskdef-") && n.ends_with(".json"))
        })
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        for obj in import_file(&f, &ImportOptions::default()).objects {
            if let Imported::TaskDefinition(td) = obj {
                let name = td.metadata.name.clone().unwrap_or_default();
                if pod_template(&name, &td.spec.task_definition, 1).is_ok() {
                    let json = serde_json::to_string(&td.spec.task_definition).expect("json");
                    out.push((name, json));
                }
            }
        }
    }
    out
}

fn render(name: &str, json: &str) -> usize {
    let td: RegisterTaskDefinition = serde_json::from_str(json).expect("task definition");
    let t = pod_template(name, &td, 1).expect("translates");
    serialise(&t) + t.report.notes.len()
}

/// The bytes of a translation's pod template and objects, serialised.
fn serialise(t: &PodTranslation) -> usize {
    let mut n = serde_json::to_string(&t.template).expect("json").len();
    for o in &t.objects {
        n += serde_json::to_string(o).expect("json").len();
    }
    n
}

fn reserialise(json: &str) -> usize {
    let v: serde_json::Value = serde_json::from_str(json).expect("json");
    serde_json::to_string(&v).expect("json").len()
}

fn bench(c: &mut Criterion) {
    let corpus = corpus();
    let bytes: usize = corpus.iter().map(|(_, j)| j.len()).sum();
    eprintln!("corpus: {} task definitions, {bytes} bytes of JSON", corpus.len());
    let mut g = c.benchmark_group("corpus");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("render", |b| {
        b.iter(|| {
            corpus
                .iter()
                .map(|(n, j)| render(std::hint::black_box(n), std::hint::black_box(j)))
                .sum::<usize>()
        });
    });
    g.bench_function("serde_json", |b| {
        b.iter(|| {
            corpus
                .iter()
                .map(|(_, j)| reserialise(std::hint::black_box(j)))
                .sum::<usize>()
        });
    });
    g.finish();
    // Where render's time goes: each stage alone, on inputs prepared outside the loop.
    let parsed: Vec<(String, RegisterTaskDefinition)> = corpus
        .iter()
        .map(|(n, j)| (n.clone(), serde_json::from_str(j).expect("task definition")))
        .collect();
    let translated: Vec<_> = parsed
        .iter()
        .map(|(n, td)| pod_template(n, td, 1).expect("translates"))
        .collect();
    let mut g = c.benchmark_group("render_stages");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("parse", |b| {
        b.iter(|| {
            corpus
                .iter()
                .map(|(_, j)| {
                    serde_json::from_str::<RegisterTaskDefinition>(std::hint::black_box(j))
                        .map_or(0, |td| td.container_definitions.len())
                })
                .sum::<usize>()
        });
    });
    g.bench_function("translate", |b| {
        b.iter(|| {
            parsed
                .iter()
                .map(|(n, td)| pod_template(n, std::hint::black_box(td), 1).map_or(0, |t| t.objects.len()))
                .sum::<usize>()
        });
    });
    g.bench_function("serialise", |b| {
        b.iter(|| {
            translated
                .iter()
                .map(|t| serialise(std::hint::black_box(t)))
                .sum::<usize>()
        });
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
