//! The container image's Dockerfile agrees with the toolchain and the chart. There is no
//! container engine on CI's machines, so the image is not built here (`make image` builds it);
//! these checks catch the drift a reviewer would miss: a builder on another Rust than
//! `rust-toolchain.toml` pins, a final stage running as root or as another user than the chart's
//! `runAsUser`, an entrypoint the chart's `args` do not fit, or a shell-carrying base image.

use std::path::Path;

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The Dockerfile's instructions (continuation lines joined, comments dropped), as (keyword,
/// arguments).
fn instructions() -> Vec<(String, String)> {
    let text = read("Dockerfile");
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                let (keyword, args) = current.split_once(' ').unwrap_or((&current, ""));
                out.push((keyword.to_uppercase(), args.trim().to_owned()));
                current.clear();
            }
        }
    }
    out
}

/// The instructions of the last stage (the image that runs).
fn final_stage() -> Vec<(String, String)> {
    let all = instructions();
    let start = all.iter().rposition(|(k, _)| k == "FROM").expect("a FROM");
    all[start..].to_vec()
}

/// `value` of `key: value` in a flat YAML file's lines.
fn yaml_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}:")))
        .map(|v| v.trim().trim_matches('"'))
}

#[test]
fn the_builder_uses_the_pinned_toolchain() {
    let channel = yaml_value(&read("rust-toolchain.toml").replace(" =", ":"), "channel")
        .expect("a pinned channel")
        .to_owned();
    let builder = instructions()
        .into_iter()
        .find(|(k, _)| k == "FROM")
        .expect("a build stage")
        .1;
    assert!(
        builder.contains(&format!("rust:{channel}-")),
        "the build stage {builder:?} is not on Rust {channel} (rust-toolchain.toml)"
    );
    assert!(builder.ends_with("AS build"), "{builder:?}");
}

#[test]
fn the_image_runs_the_binary_as_the_charts_non_root_user() {
    let stage = final_stage();
    let from = &stage[0].1;
    assert!(
        from.starts_with("gcr.io/distroless/static") && from.ends_with(":nonroot"),
        "the image should be distroless/static (no shell, no libc): {from:?}"
    );
    let user = stage
        .iter()
        .rev()
        .find(|(k, _)| k == "USER")
        .map(|(_, v)| v.clone())
        .expect("a USER in the final stage");
    let (uid, gid) = user.split_once(':').expect("USER uid:gid");
    let (uid, gid): (u32, u32) = (
        uid.parse().expect("numeric uid"),
        gid.parse().expect("numeric gid"),
    );
    assert_ne!(uid, 0, "the operator must not run as root");
    // The chart's securityContext says the same user, so runAsNonRoot can verify it.
    let values = read("charts/ecs-bridge/values.yaml");
    let chart_uid: Vec<u32> = values
        .lines()
        .filter_map(|l| l.trim().strip_prefix("runAsUser:"))
        .map(|v| v.trim().parse().expect("a uid"))
        .collect();
    let chart_gid: Vec<u32> = values
        .lines()
        .filter_map(|l| l.trim().strip_prefix("runAsGroup:"))
        .map(|v| v.trim().parse().expect("a gid"))
        .collect();
    assert!(
        !chart_uid.is_empty() && chart_uid.iter().all(|u| *u == uid),
        "{chart_uid:?} vs {uid}"
    );
    assert!(
        !chart_gid.is_empty() && chart_gid.iter().all(|g| *g == gid),
        "{chart_gid:?} vs {gid}"
    );

    // Only the binary is copied in, and it is what runs; the chart passes `run` and its flags.
    let copies: Vec<&String> = stage
        .iter()
        .filter(|(k, _)| k == "COPY")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(copies, [&"--from=build /ecs-bridge /ecs-bridge".to_owned()]);
    let entrypoint = stage
        .iter()
        .find(|(k, _)| k == "ENTRYPOINT")
        .expect("an ENTRYPOINT");
    assert_eq!(entrypoint.1, r#"["/ecs-bridge"]"#);
    assert!(
        read("charts/ecs-bridge/templates/deployment.yaml").contains("- run\n"),
        "the chart's Deployment passes the `run` subcommand"
    );
    assert!(
        stage.iter().all(|(k, _)| k != "RUN"),
        "the final stage has no shell to RUN anything"
    );
}

#[test]
fn the_build_context_leaves_out_what_the_build_does_not_read() {
    let ignored = read(".dockerignore");
    for path in ["target", ".git", "fuzz"] {
        assert!(
            ignored.lines().any(|l| l.trim() == path),
            "{path} should be in .dockerignore"
        );
    }
    // What the manifests name must be copied: cargo checks that declared targets exist.
    let copied: String = instructions()
        .into_iter()
        .filter(|(k, _)| k == "COPY")
        .map(|(_, v)| v + "\n")
        .collect();
    let manifest = read("Cargo.toml");
    // Explicit target paths, plus the default places of benches (`[[bench]]` without a path)
    // and of the integration tests (discovered in tests/), and the workspace's other member.
    let explicit = manifest
        .lines()
        .filter_map(|l| l.trim().strip_prefix("path = \""))
        .filter_map(|p| p.split('/').next())
        .filter(|d| !d.ends_with(".rs\""));
    let defaults = ["benches", "tests", "testbed"].into_iter();
    for dir in explicit.chain(defaults) {
        assert!(
            copied.lines().any(|l| l.starts_with(&format!("{dir} "))),
            "the build stage does not copy {dir}/"
        );
    }
}
