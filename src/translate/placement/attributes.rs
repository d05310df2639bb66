//! ECS container-instance attributes → Kubernetes node labels (design.md "Placement";
//! ecs-reference §3.6).
//!
//! | attribute | node label | values |
//! |---|---|---|
//! | `ecs.availability-zone` | `topology.kubernetes.io/zone` | the same |
//! | `ecs.instance-type` | `node.kubernetes.io/instance-type` | the same |
//! | `ecs.os-type` | `kubernetes.io/os` | the same (`linux`, `windows`) |
//! | `ecs.cpu-architecture` | `kubernetes.io/arch` | `x86_64` ↔ `amd64`, others the same (`arm64`) |
//! | any other (custom, or built-in without a Kubernetes label: `ecs.ami-id`, `ecs.os-family`, ...) | `<prefix><name>`, prefix `ecsbridge.io/attr-` by default | the same |
//!
//! Label the nodes of a capacity provider with the custom attributes its tasks ask for
//! (`kubectl label node n ecsbridge.io/attr-stack=prod`). An attribute name that cannot be the
//! name part of a label key (`/` and `\` are allowed in ECS attribute names, not in label names)
//! is an error.
//!
//! The prefix is configurable (`--attribute-prefix` of `render`, `explain` and `run`; env
//! `ECS_BRIDGE_ATTRIBUTE_PREFIX` for `run`) for clusters whose nodes already carry their
//! attributes under another key, e.g. `example.com/` makes `attribute:stack` read
//! `example.com/stack`. [`check_prefix`] is the one rule: the prefix followed by a name must be
//! a label key, so it is an optional DNS subdomain and `/`, then optional name characters
//! (`example.com/attr-`, `example.com/`, or `attr-` for unprefixed labels). Nothing else is
//! checked: a prefix under `kubernetes.io/` or `k8s.io/` is accepted, though those labels belong
//! to Kubernetes. The built-in attributes of the table keep their well-known labels whatever
//! the prefix.

use std::borrow::Cow;

pub use crate::names::{is_label_key, is_label_value};

/// The default prefix of the labels that carry custom attributes.
pub const DEFAULT_PREFIX: &str = "ecsbridge.io/attr-";

/// Checks a custom-attribute prefix (`--attribute-prefix`): `prefix` followed by an attribute
/// name must be a Kubernetes label key.
///
/// # Errors
/// A message giving the rule, for the caller to prefix with the flag and the value.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    if is_label_key(&format!("{prefix}a")) {
        Ok(())
    } else {
        Err(
            "followed by an attribute name it must make a Kubernetes label key: an optional DNS \
             subdomain (lower-case letters, digits, '-' and '.') and '/', then optional name \
             characters (letters, digits, '-', '_' and '.', starting with a letter or digit), like \
             example.com/attr-"
                .to_owned(),
        )
    }
}

/// How one attribute reads on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// The node label key (borrowed for the built-in attributes' well-known labels).
    pub key: Cow<'static, str>,
    /// Whether values are translated (`x86_64` ↔ `amd64`).
    arch: bool,
}

impl Mapped {
    /// The label value that stands for ECS value `v`.
    #[must_use]
    pub fn to_label<'v>(&self, v: &'v str) -> &'v str {
        if self.arch && v == "x86_64" { "amd64" } else { v }
    }

    /// The ECS value a label value stands for.
    #[must_use]
    pub fn to_ecs<'v>(&self, label: &'v str) -> &'v str {
        if self.arch && label == "amd64" {
            "x86_64"
        } else {
            label
        }
    }
}

/// The label of attribute `name`, with custom attributes under `prefix`.
///
/// # Errors
/// A message when `name` cannot be part of a label key.
pub fn map(name: &str, prefix: &str) -> Result<Mapped, String> {
    let (key, arch) = match name {
        "ecs.availability-zone" => ("topology.kubernetes.io/zone", false),
        "ecs.instance-type" => ("node.kubernetes.io/instance-type", false),
        "ecs.os-type" => ("kubernetes.io/os", false),
        "ecs.cpu-architecture" => ("kubernetes.io/arch", true),
        _ => {
            let key = format!("{prefix}{name}");
            if !is_label_key(&key) {
                return Err(format!(
                    "attribute {name:?} cannot be a Kubernetes label ({key:?}): label names have at \
                     most 63 letters, digits, '-', '_' and '.', and start and end with a letter or \
                     digit; rename the attribute"
                ));
            }
            return Ok(Mapped {
                key: Cow::Owned(key),
                arch: false,
            });
        }
    };
    Ok(Mapped {
        key: Cow::Borrowed(key),
        arch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_attributes_use_well_known_labels() {
        let m = map("ecs.cpu-architecture", DEFAULT_PREFIX).expect("maps");
        assert_eq!(m.key, "kubernetes.io/arch");
        for name in [
            "ecs.availability-zone",
            "ecs.instance-type",
            "ecs.os-type",
            "ecs.cpu-architecture",
        ] {
            let key = map(name, DEFAULT_PREFIX).expect("maps").key;
            assert!(
                is_label_key(&key),
                "{name}: {key} (built-in keys are not checked at run time)"
            );
        }
        assert_eq!((m.to_label("x86_64"), m.to_ecs("amd64")), ("amd64", "x86_64"));
        assert_eq!((m.to_label("arm64"), m.to_ecs("arm64")), ("arm64", "arm64"));
        assert_eq!(
            map("ecs.availability-zone", DEFAULT_PREFIX).expect("maps").key,
            "topology.kubernetes.io/zone"
        );
        assert_eq!(
            map("ecs.instance-type", DEFAULT_PREFIX).expect("maps").key,
            "node.kubernetes.io/instance-type"
        );
        assert_eq!(
            map("ecs.os-type", DEFAULT_PREFIX).expect("maps").key,
            "kubernetes.io/os"
        );
        let os_family = map("ecs.os-family", DEFAULT_PREFIX).expect("maps");
        assert_eq!(os_family.key, "ecsbridge.io/attr-ecs.os-family");
        assert_eq!(
            os_family.to_label("x86_64"),
            "x86_64",
            "only the arch label maps values"
        );
    }

    #[test]
    fn custom_attributes_go_under_the_prefix_or_are_refused() {
        assert_eq!(
            map("stack", DEFAULT_PREFIX).expect("maps").key,
            "ecsbridge.io/attr-stack"
        );
        assert_eq!(
            map("stack", "example.com/").expect("maps").key,
            "example.com/stack"
        );
        for bad in ["a/b", "a\\b", "x.", &"x".repeat(60)] {
            let err = map(bad, DEFAULT_PREFIX).expect_err(bad);
            assert!(err.contains("rename the attribute"), "{err}");
        }
    }

    #[test]
    fn prefixes_are_label_key_beginnings() {
        for good in [DEFAULT_PREFIX, "example.com/", "example.com/attr.", "attr-", ""] {
            assert_eq!(check_prefix(good), Ok(()), "{good:?}");
        }
        for bad in [
            "Example.com/",
            "example.com//",
            "/attr-",
            "example.com/-",
            "example.com/a b",
            "ecs bridge/",
            &format!("example.com/{}", "a".repeat(63)),
        ] {
            let err = check_prefix(bad).expect_err(bad);
            assert!(err.contains("like example.com/attr-"), "{err}");
        }
    }

    #[test]
    fn label_syntax() {
        assert!(is_label_key("topology.kubernetes.io/zone"));
        assert!(is_label_key("app"));
        assert!(!is_label_key("Example.com/x"));
        assert!(!is_label_key("/x"));
        assert!(is_label_value("us-east-1a") && is_label_value(""));
        assert!(!is_label_value("a b") && !is_label_value("-a") && !is_label_value(&"a".repeat(64)));
    }
}
