//! Kubernetes names of the task definition's port mappings: a mapping's ECS `name` becomes an
//! `IANA_SVC_NAME` (at most 15 of a-z, 0-9 and '-', with a letter, no `--`), unique in the pod,
//! and every change or drop is reported.

use std::collections::{BTreeMap, BTreeSet};

use super::{NoteKind, PodError, Report};
use crate::api::ecs::RegisterTaskDefinition;

/// The longest Kubernetes port name (`IANA_SVC_NAME`).
const MAX_PORT_NAME: usize = 15;

/// The Kubernetes name of every named `containerPort` mapping, by (container, mapping) index,
/// unique in the pod; notes the names changed or dropped.
///
/// # Errors
/// When two mappings of the task definition have the same name.
pub(super) fn port_names(
    td: &RegisterTaskDefinition,
    report: &mut Report,
) -> Result<BTreeMap<(usize, usize), String>, PodError> {
    let named: Vec<(usize, usize, &str, bool)> = td
        .container_definitions
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            c.port_mappings
                .iter()
                .flatten()
                .enumerate()
                .filter_map(move |(j, pm)| {
                    pm.name
                        .as_deref()
                        .map(|n| (i, j, n, pm.container_port_range.is_some()))
                })
        })
        .collect();
    let mut seen: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for &(i, j, name, _) in &named {
        if let Some((a, k)) = seen.insert(name, (i, j)) {
            return Err(PodError::BadPortMapping {
                field: format!("containerDefinitions[{i}].portMappings[{j}].name"),
                reason: format!(
                    "{name:?} already names containerDefinitions[{a}].portMappings[{k}]; give every \
                     port mapping of the task definition its own name (Service Connect refers to ports \
                     by name)"
                ),
            });
        }
    }
    // Ranges are unnamed (see `range`); the valid names keep theirs, the others fit around them.
    let singles: Vec<(usize, usize, &str)> = named
        .into_iter()
        .filter(|(.., range)| !range)
        .map(|(i, j, name, _)| (i, j, name))
        .collect();
    let mut taken: BTreeSet<String> = singles
        .iter()
        .filter(|(.., name)| is_iana_svc_name(name))
        .map(|(.., name)| (*name).to_owned())
        .collect();
    let mut names = BTreeMap::new();
    for (i, j, ecs) in singles {
        if is_iana_svc_name(ecs) {
            names.insert((i, j), ecs.to_owned());
            continue;
        }
        let field = format!("containerDefinitions[{i}].portMappings[{j}].name");
        let Some(name) = port_name(ecs).and_then(|base| unused(&base, &taken)) else {
            report.note(
                NoteKind::Approximated,
                field,
                format!(
                    "port name {ecs:?} dropped: a Kubernetes port name needs a letter and is at most \
                     {MAX_PORT_NAME} of a-z, 0-9 and '-', unique in the pod; the port is unnamed"
                ),
            );
            continue;
        };
        report.note(
            NoteKind::Approximated,
            field,
            format!(
                "port {ecs:?} is named {name:?} in Kubernetes (a port name is at most {MAX_PORT_NAME} \
                 of a-z, 0-9 and single '-' inside, with a letter, unique in the pod)"
            ),
        );
        taken.insert(name.clone());
        names.insert((i, j), name);
    }
    Ok(names)
}

/// Whether `name` is a Kubernetes port name (`IANA_SVC_NAME`, RFC 6335 §5.1): 1 to 15 characters
/// of `a-z`, `0-9` and `-`, at least one letter, no `-` at either end, no `--`.
pub(crate) fn is_iana_svc_name(name: &str) -> bool {
    (1..=MAX_PORT_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && name.bytes().any(|c| c.is_ascii_lowercase())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

/// An ECS port name made a Kubernetes one: lower case, every run of other characters (`_`, ...)
/// one `-`, trimmed of `-` and cut to 15 characters. `None` when no letter is left.
fn port_name(ecs: &str) -> Option<String> {
    let mut out = String::with_capacity(ecs.len());
    for c in ecs.chars() {
        let c = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '-'
        };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    // ASCII only, so any byte is a character boundary.
    out.truncate(MAX_PORT_NAME);
    let out = out.trim_end_matches('-');
    is_iana_svc_name(out).then(|| out.to_owned())
}

/// `base`, or, if taken, `base` cut to fit a `-2`, `-3`, ... suffix; `None` when no such name
/// is valid and free.
fn unused(base: &str, taken: &BTreeSet<String>) -> Option<String> {
    if !taken.contains(base) {
        return Some(base.to_owned());
    }
    (2..1000).find_map(|n: u32| {
        let suffix = format!("-{n}");
        let cut = base[..base.len().min(MAX_PORT_NAME - suffix.len())].trim_end_matches('-');
        let name = format!("{cut}{suffix}");
        (is_iana_svc_name(&name) && !taken.contains(&name)).then_some(name)
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn names_become_iana_service_names() {
        for (ecs, k8s) in [
            ("http", Some("http")),
            ("web_80-tcp", Some("web-80-tcp")),
            ("Web__80", Some("web-80")),
            ("-grpc-", Some("grpc")),
            ("service-connect-port", Some("service-connect")),
            ("a-very-long-name-here", Some("a-very-long-nam")),
            ("abcdefghijklmn-x", Some("abcdefghijklmn")),
            ("x".repeat(64).as_str(), Some("xxxxxxxxxxxxxxx")),
            ("8080", None),
            ("__", None),
            ("", None),
            ("80_80", None),
            ("p8080", Some("p8080")),
        ] {
            assert_eq!(port_name(ecs).as_deref(), k8s, "{ecs:?}");
        }
        assert!(is_iana_svc_name("http") && is_iana_svc_name("h2c") && is_iana_svc_name("a-b-c"));
        for bad in [
            "",
            "8080",
            "-a",
            "a-",
            "a--b",
            "A",
            "a_b",
            "abcdefghijklmnop",
            "a.b",
        ] {
            assert!(!is_iana_svc_name(bad), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn port_name_is_valid_or_none(ecs in "\\PC{0,70}") {
            if let Some(name) = port_name(&ecs) {
                prop_assert!(is_iana_svc_name(&name), "{:?} → {:?}", ecs, name);
            }
        }
    }
}
