//! The installation options: what the cluster has installed and how its nodes are labelled. They
//! change what a translation makes, so `ecs-bridge render` and `ecs-bridge run` take the same
//! flags ([`Options`] is flattened into both) and the operator applies what `render` shows.

use super::{
    kubernetes_version::{KubernetesVersion, OLDEST_SUPPORTED},
    placement::attributes,
};

/// Default of [`Options::external_secrets`].
pub const DEFAULT_EXTERNAL_SECRETS: bool = true;

/// The installation options of a translation (flags of `render` and `run`, with `ECS_BRIDGE_*`
/// environment variables).
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Whether External Secrets (external-secrets.io/v1) is installed: AWS secrets become
    /// ExternalSecrets; with `false`, pods reference Secrets you create, which the
    /// TaskDefinition's Translated condition names.
    #[arg(long, env = "ECS_BRIDGE_EXTERNAL_SECRETS", default_value_t = DEFAULT_EXTERNAL_SECRETS,
          action = clap::ArgAction::Set)]
    pub external_secrets: bool,
    /// Load each container's `environmentFiles` (S3 objects) from a ConfigMap you create from
    /// the same file (`kubectl create configmap <name> --from-env-file=...`; the name is
    /// `<bucket>-<key>` without `.env`, and the Translated condition gives it).
    #[arg(long, env = "ECS_BRIDGE_ENVIRONMENT_FILES_AS_CONFIG_MAPS")]
    pub environment_files_as_config_maps: bool,
    /// The ecs-bridge scheduler (binpack profiles, `ecs-bridge scheduler-config`) runs in the
    /// cluster: binpack strategies set `schedulerName` (otherwise they are approximated).
    #[arg(long, env = "ECS_BRIDGE_BINPACK_SCHEDULER")]
    pub binpack_scheduler: bool,
    /// Label prefix of custom ECS attributes: `attribute:stack` reads the node label
    /// `<PREFIX>stack`. Followed by a name it must be a label key (`example.com/`,
    /// `example.com/attr-`).
    #[arg(long, value_name = "PREFIX", env = "ECS_BRIDGE_ATTRIBUTE_PREFIX",
          default_value = attributes::DEFAULT_PREFIX, value_parser = parse_attribute_prefix)]
    pub attribute_prefix: String,
    /// The Kubernetes version to translate for (`1.34`): from 1.34, a task's cpu and memory
    /// become the pod's own resources, exactly as ECS means them. `render` defaults to the
    /// oldest supported (1.30); `run` asks its API server unless given.
    #[arg(long, value_name = "VERSION", env = "ECS_BRIDGE_KUBERNETES_VERSION")]
    pub kubernetes_version: Option<KubernetesVersion>,
    /// The Karpenter `EC2NodeClass` (AMI, subnets, security groups, instance profile) that the
    /// NodePools of Managed Instances capacity providers name.
    #[arg(long, value_name = "NAME", env = "ECS_BRIDGE_KARPENTER_NODE_CLASS",
          default_value = super::capacity::node_pool::DEFAULT_NODE_CLASS)]
    pub karpenter_node_class: String,
    /// Whether KEDA is installed (its ScaledObject kind served): auto scaling on CloudWatch
    /// metrics (ALB request counts, customized metrics) becomes a KEDA ScaledObject. `run` asks
    /// discovery unless given; `render` assumes not unless given.
    #[arg(long, value_name = "BOOL", env = "ECS_BRIDGE_KEDA", action = clap::ArgAction::Set)]
    pub keda: Option<bool>,
    /// Whether a metrics adapter serves the external metric `ecsbridge_cloudwatch` (where KEDA is
    /// not installed, auto scaling on CloudWatch metrics reads it: README, "Service Auto
    /// Scaling"). `run` asks discovery unless given; `render` assumes not unless given.
    #[arg(long, value_name = "BOOL", env = "ECS_BRIDGE_EXTERNAL_METRICS", action = clap::ArgAction::Set)]
    pub external_metrics: Option<bool>,
    /// The AWS region of the CloudWatch metrics KEDA reads (`us-east-1`).
    #[arg(long, value_name = "REGION", env = "ECS_BRIDGE_AWS_REGION")]
    pub aws_region: Option<String>,
    /// The KEDA TriggerAuthentication that gives KEDA's CloudWatch scaler its AWS credentials:
    /// `NAME` (a TriggerAuthentication in each Service's namespace) or
    /// `ClusterTriggerAuthentication/NAME`; none: KEDA's own identity.
    #[arg(long, value_name = "[KIND/]NAME", env = "ECS_BRIDGE_KEDA_AUTHENTICATION",
          value_parser = parse_keda_authentication)]
    pub keda_authentication: Option<crate::api::external::keda::AuthenticationRef>,
}

impl Options {
    /// How KEDA reaches CloudWatch ([`super::autoscaling::keda`]).
    #[must_use]
    pub fn keda_settings(&self) -> super::autoscaling::keda::Keda {
        super::autoscaling::keda::Keda {
            region: self.aws_region.clone(),
            authentication: self.keda_authentication.clone(),
        }
    }

    /// The Kubernetes version translated for: the one given, else the oldest supported.
    #[must_use]
    pub fn kubernetes(&self) -> KubernetesVersion {
        self.kubernetes_version.unwrap_or(OLDEST_SUPPORTED)
    }
}

impl Default for Options {
    /// What the flags default to.
    fn default() -> Self {
        Self {
            external_secrets: DEFAULT_EXTERNAL_SECRETS,
            environment_files_as_config_maps: false,
            binpack_scheduler: false,
            attribute_prefix: attributes::DEFAULT_PREFIX.to_owned(),
            kubernetes_version: None,
            karpenter_node_class: super::capacity::node_pool::DEFAULT_NODE_CLASS.to_owned(),
            keda: None,
            external_metrics: None,
            aws_region: None,
            keda_authentication: None,
        }
    }
}

/// Parses `--attribute-prefix` (of `render`, `run` and `explain`): clap's error names the flag and
/// the value, this the rule ([`attributes::check_prefix`]).
///
/// # Errors
/// The rule the prefix breaks.
pub fn parse_attribute_prefix(prefix: &str) -> Result<String, String> {
    attributes::check_prefix(prefix)?;
    Ok(prefix.to_owned())
}

/// Parses `--keda-authentication`: `NAME` or `TriggerAuthentication/NAME` or
/// `ClusterTriggerAuthentication/NAME`.
///
/// # Errors
/// Another kind, or an empty name.
pub fn parse_keda_authentication(
    value: &str,
) -> Result<crate::api::external::keda::AuthenticationRef, String> {
    let (kind, name) = match value.split_once('/') {
        Some((kind, name)) => (Some(kind), name),
        None => (None, value),
    };
    if let Some(kind) =
        kind.filter(|k| !matches!(*k, "TriggerAuthentication" | "ClusterTriggerAuthentication"))
    {
        return Err(format!(
            "{kind:?} is not TriggerAuthentication or ClusterTriggerAuthentication"
        ));
    }
    if name.is_empty() {
        return Err("give the authentication's name".to_owned());
    }
    Ok(crate::api::external::keda::AuthenticationRef {
        name: name.to_owned(),
        kind: kind.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        options: Options,
    }

    #[test]
    fn the_defaults_are_the_flags_defaults() {
        // (Unless the environment sets one.)
        if std::env::vars().any(|(k, _)| k.starts_with("ECS_BRIDGE_")) {
            return;
        }
        let parsed = Command::try_parse_from(["ecs-bridge"]).expect("parses").options;
        assert_eq!(parsed, Options::default());
        let set = Command::try_parse_from([
            "ecs-bridge",
            "--external-secrets=false",
            "--environment-files-as-config-maps",
            "--binpack-scheduler",
            "--attribute-prefix",
            "example.com/",
            "--kubernetes-version",
            "1.34",
            "--karpenter-node-class",
            "ecs",
            "--keda",
            "true",
            "--aws-region",
            "eu-west-1",
            "--keda-authentication",
            "ClusterTriggerAuthentication/aws",
        ])
        .expect("parses")
        .options;
        assert_eq!(
            set,
            Options {
                external_secrets: false,
                environment_files_as_config_maps: true,
                binpack_scheduler: true,
                attribute_prefix: "example.com/".into(),
                kubernetes_version: Some(KubernetesVersion { minor: 34 }),
                karpenter_node_class: "ecs".into(),
                keda: Some(true),
                external_metrics: None,
                aws_region: Some("eu-west-1".into()),
                keda_authentication: Some(crate::api::external::keda::AuthenticationRef {
                    name: "aws".into(),
                    kind: Some("ClusterTriggerAuthentication".into()),
                }),
            }
        );
        let err = Command::try_parse_from(["ecs-bridge", "--keda-authentication", "Secret/aws"])
            .err()
            .expect("refused");
        assert!(err.to_string().contains("is not TriggerAuthentication"), "{err}");
        let err = Command::try_parse_from(["ecs-bridge", "--kubernetes-version", "1.20"])
            .err()
            .expect("refused");
        assert!(err.to_string().contains("oldest supported"), "{err}");
        let err = Command::try_parse_from(["ecs-bridge", "--attribute-prefix", "not a prefix"])
            .err()
            .expect("refused");
        assert!(err.to_string().contains("--attribute-prefix"), "{err}");
    }
}
