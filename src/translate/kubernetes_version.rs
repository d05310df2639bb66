//! The Kubernetes version a translation is for: what the cluster can express decides some of it
//! (pod-level resources, beta and on by default from 1.34, make ECS's task size exact).
//! `render --kubernetes-version` gives it offline (default: the oldest supported); the operator
//! asks its API server.

use std::fmt;

/// A Kubernetes minor version (`1.34`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KubernetesVersion {
    /// The minor version (`34` for 1.34).
    pub minor: u32,
}

/// The oldest Kubernetes version ecs-bridge supports (and `render`'s default).
pub const OLDEST_SUPPORTED: KubernetesVersion = KubernetesVersion { minor: 30 };
/// The first version whose pods have pod-level `resources` on by default (beta,
/// <https://kubernetes.io/docs/tasks/configure-pod-container/assign-pod-level-resources/>).
pub const POD_LEVEL_RESOURCES: KubernetesVersion = KubernetesVersion { minor: 34 };

impl KubernetesVersion {
    /// Whether pods have pod-level `spec.resources` (on by default).
    #[must_use]
    pub fn has_pod_level_resources(self) -> bool {
        self >= POD_LEVEL_RESOURCES
    }

    /// The version of an API server's `/version` answer (`major` `1`, `minor` `34` or `34+`, as
    /// EKS reports it).
    ///
    /// # Errors
    /// When the major version is not 1 or the minor is not a number.
    pub fn from_server(major: &str, minor: &str) -> Result<Self, String> {
        if major.trim_end_matches('+') != "1" {
            return Err(format!("major version {major:?}: only Kubernetes 1.x is known"));
        }
        let digits: String = minor.chars().take_while(char::is_ascii_digit).collect();
        digits
            .parse()
            .map(|minor| Self { minor })
            .map_err(|_| format!("minor version {minor:?} is not a number"))
    }
}

impl fmt::Display for KubernetesVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "1.{}", self.minor)
    }
}

impl std::str::FromStr for KubernetesVersion {
    type Err = String;

    /// Parses `1.34`, `1.34.2` or `v1.34.2`; refuses versions older than [`OLDEST_SUPPORTED`].
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().trim_start_matches('v');
        let mut parts = s.split('.');
        let (Some(major), Some(minor)) = (parts.next(), parts.next()) else {
            return Err(format!("{s:?}: give a version like 1.34"));
        };
        let v = Self::from_server(major, minor).map_err(|e| format!("{s:?}: {e}"))?;
        if v < OLDEST_SUPPORTED {
            return Err(format!(
                "{s:?}: Kubernetes {v} is older than the oldest supported, {OLDEST_SUPPORTED}"
            ));
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_as_people_and_api_servers_write_them() {
        for (text, minor) in [("1.34", 34), ("1.34.2", 34), ("v1.30.0", 30), ("1.37", 37)] {
            assert_eq!(
                text.parse::<KubernetesVersion>(),
                Ok(KubernetesVersion { minor }),
                "{text}"
            );
        }
        assert!(
            "1.29"
                .parse::<KubernetesVersion>()
                .is_err_and(|e| e.contains("oldest supported, 1.30"))
        );
        assert!("2.0".parse::<KubernetesVersion>().is_err());
        assert!("34".parse::<KubernetesVersion>().is_err());
        assert_eq!(
            KubernetesVersion::from_server("1", "33+"),
            Ok(KubernetesVersion { minor: 33 })
        );
        assert!(!KubernetesVersion { minor: 33 }.has_pod_level_resources());
        assert!(KubernetesVersion { minor: 34 }.has_pod_level_resources());
        assert_eq!(POD_LEVEL_RESOURCES.to_string(), "1.34");
    }
}
