//! Snapshots of `render`: the README examples and a representative set of corpus task
//! definitions (one per feature family), as the objects the operator creates plus the warnings a
//! user sees. A change in translation shows up as a reviewed diff (`cargo insta review`), never
//! silently.
//!
//! The corpus files are read from `../shared/corpus/ecs/` and imported as `ecs-bridge import`
//! does (namespace `snapshots`), then rendered.

mod support;

use std::path::{Path, PathBuf};

use ecs_bridge::{
    import::{ImportOptions, import_file},
    render::render_paths,
    translate::Options,
};

/// Renders `paths` and returns the objects as YAML documents followed by the diagnostics, with
/// the file paths made relative to `base` so the snapshot does not depend on the checkout.
fn rendered(paths: &[PathBuf], base: &Path) -> String {
    // (A fixed instant: the output does not depend on it, but render takes one.)
    let now = "2026-12-07T00:00:00Z".parse().expect("a time");
    let r = render_paths(paths, &Options::default(), None, now);
    let mut out = String::new();
    for o in &r.objects {
        out.push_str("---\n");
        out.push_str(&serde_yaml_ng::to_string(o).expect("yaml"));
    }
    out.push_str("# diagnostics\n");
    let prefix = format!("{}/", base.display());
    for d in &r.diagnostics {
        out.push_str(&format!("# {}\n", d.to_string().replace(&prefix, "")));
    }
    out
}

#[test]
fn readme_web_example() {
    let root = support::repo_root();
    insta::assert_snapshot!(rendered(&[root.join("examples/web")], &root));
}

#[test]
fn readme_orders_example() {
    let root = support::repo_root();
    insta::assert_snapshot!(rendered(&[root.join("examples/orders")], &root));
}

#[test]
fn readme_batch_example() {
    let root = support::repo_root();
    insta::assert_snapshot!(rendered(&[root.join("examples/batch")], &root));
}

#[test]
fn readme_capacity_example() {
    let root = support::repo_root();
    insta::assert_snapshot!(rendered(&[root.join("examples/capacity")], &root));
}

/// The corpus files of the snapshots: each shows a family of translations.
const CORPUS: &[&str] = &[
    // dependsOn HEALTHY/START → sidecars, Fargate sizes, awslogs.
    "taskdef-adot-fargate-sidecar-xray-dependson",
    // Capabilities, host volumes and PID mode of an EC2 daemon.
    "taskdef-datadog-agent-sysprobe-ec2-capabilities",
    // EFS → PersistentVolume and claim.
    "taskdef-ecsagent-efs-volume",
    // Secrets Manager and SSM → ExternalSecret.
    "taskdef-ecspresso-daemon-secrets-ssm-asm",
    // App Mesh proxy, FireLens and Envoy.
    "taskdef-firelens-appmesh-envoy-colorteller",
    // environmentFiles, shared volume, COMPLETE/START ordering.
    "taskdef-laravel-fargate-nginx-php-envfiles",
    // Windows by its paths.
    "taskdef-datadog-agent-windows-named-pipe",
    // GPUs.
    "taskdef-ecsagent-nvidia-gpu",
    // bridge networking with static and dynamic host ports.
    "taskdef-ec2-minimal-dynamic-hostport",
    // a private registry's credentials → pull secret.
    "taskdef-ecsagent-private-registry-auth",
];

#[test]
fn corpus_task_definitions() {
    let corpus = support::repo_root().join("../shared/corpus/ecs");
    let scratch = std::env::temp_dir().join(format!("ecs-bridge-snapshots-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch");
    let options = ImportOptions {
        namespace: Some("snapshots".into()),
        ..ImportOptions::default()
    };
    for name in CORPUS {
        let imported = import_file(&corpus.join(format!("{name}.json")), &options);
        assert!(
            imported.diagnostics.iter().all(|d| !d.is_error()),
            "{name}: {:?}",
            imported.diagnostics
        );
        let yaml: String = imported
            .objects
            .iter()
            .map(|o| format!("---\n{}", o.to_yaml().expect("yaml")))
            .collect();
        let file = scratch.join(format!("{name}.yaml"));
        std::fs::write(&file, yaml).expect("write");
        insta::assert_snapshot!(*name, rendered(&[file], &scratch));
    }
    let _ = std::fs::remove_dir_all(&scratch);
}
