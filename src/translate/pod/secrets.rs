//! Container `secrets` → environment variables read from Kubernetes Secrets, plus one External
//! Secrets `ExternalSecret` per task definition revision that fills the Secret; `environmentFiles`
//! → `envFrom` ConfigMaps the user creates from the same files
//! (`Options::environment_files_as_config_maps`, see [`environment_file_config_map`]), or
//! reported.
//!
//! `valueFrom` forms (ecs-reference §1.11):
//! - Secrets Manager: `arn:aws:secretsmanager:<region>:<account>:secret:<name>[:<json-key>[:<version-stage>[:<version-id>]]]`
//!   (empty fields mean the default: the whole secret, `AWSCURRENT`);
//! - SSM Parameter Store: `arn:aws:ssm:<region>:<account>:parameter/<name>`, or a bare parameter
//!   name (same region as the task);
//! - `k8s:secret/<name>#<key>`: a Kubernetes Secret the user already has (no ExternalSecret).
//!
//! With External Secrets (`Options::external_secrets`, the default), the AWS references become
//! the `data` of an `ExternalSecret` named `<object_name>-<revision>-secrets` whose target Secret
//! has the same name. It reads through two `ClusterSecretStore`s the cluster administrator
//! creates: [`SECRETS_MANAGER_STORE`] (provider `aws`, service `SecretsManager`) and
//! [`PARAMETER_STORE_STORE`] (provider `aws`, service `ParameterStore`), each for the region the
//! task definitions use. Without External Secrets the containers reference the same Secret and
//! the report lists every key the user must put in it. Secret values never appear in any object.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    ConfigMapEnvSource, EnvFromSource, EnvVar, EnvVarSource, SecretKeySelector,
};
use serde_json::{Value, json};

use super::{Build, NoteKind, PodError, volumes::short_hash};
use crate::{api::ecs::ContainerDefinition, names::is_dns_subdomain, translate::labels};

/// Fields this stage translates.
pub(super) const HANDLED: &[&str] = &[
    "containerDefinitions[].secrets[].name",
    "containerDefinitions[].secrets[].valueFrom",
    "containerDefinitions[].environmentFiles",
];

/// The `ClusterSecretStore` (provider `aws`, service `SecretsManager`) that the ExternalSecrets
/// read Secrets Manager secrets through; the cluster administrator creates it.
pub(crate) const SECRETS_MANAGER_STORE: &str = "aws-secretsmanager";

/// The `ClusterSecretStore` (provider `aws`, service `ParameterStore`) that the ExternalSecrets
/// read SSM parameters through; the cluster administrator creates it.
pub(crate) const PARAMETER_STORE_STORE: &str = "aws-parameterstore";

/// How often External Secrets re-reads the values. ECS reads a secret when a task starts; a
/// running container never sees a rotation in either system (environment variables are fixed at
/// start), but a new pod gets whatever the Secret held at the last refresh, so keep it short.
const REFRESH_INTERVAL: &str = "5m";

/// Secrets Manager's default version stage (omitted from the ExternalSecret).
const AWSCURRENT: &str = "AWSCURRENT";

/// A parsed `valueFrom`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SecretRef {
    /// A Secrets Manager secret or SSM parameter, read through External Secrets.
    Aws(AwsRef),
    /// A Kubernetes Secret the user manages.
    Kubernetes {
        /// The Secret's name.
        name: String,
        /// The key in it.
        key: String,
    },
}

/// A secret in AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AwsRef {
    /// A Secrets Manager secret.
    SecretsManager {
        /// The secret's ARN without the json-key/version suffix (External Secrets passes it to
        /// GetSecretValue as the SecretId, which takes complete and partial ARNs).
        arn: String,
        /// The region in the ARN.
        region: String,
        /// The top-level JSON key to select (`remoteRef.property`).
        json_key: Option<String>,
        /// `remoteRef.version`: a stage, or `uuid/<version-id>`; `None` for AWSCURRENT.
        version: Option<String>,
        /// Whether both a stage and an id were given (the id wins).
        stage_and_id: bool,
    },
    /// An SSM parameter: its ARN or bare name, as written.
    Parameter {
        /// What External Secrets passes to GetParameter as the Name (a name or an ARN).
        key: String,
        /// The region in the ARN, if an ARN.
        region: Option<String>,
    },
}

/// Parses a `valueFrom`; the error says what is wrong (the caller adds the accepted forms).
fn parse_value_from(value: &str) -> Result<SecretRef, String> {
    if let Some(rest) = value.strip_prefix("k8s:") {
        return parse_kubernetes(rest);
    }
    if value.starts_with("arn:") {
        return parse_arn(value);
    }
    if value.is_empty() {
        return Err("it is empty".to_owned());
    }
    // Anything else is a parameter name, as ECS reads it (templated names such as ecspresso's
    // `{{ must_env `X` }}` are expanded before registration).
    Ok(SecretRef::Aws(AwsRef::Parameter {
        key: value.to_owned(),
        region: None,
    }))
}

fn parse_kubernetes(rest: &str) -> Result<SecretRef, String> {
    let rest = rest
        .strip_prefix("secret/")
        .ok_or("the native form is k8s:secret/<name>#<key>")?;
    let (name, key) = rest
        .split_once('#')
        .ok_or("the native form needs a key after '#'")?;
    if !is_dns_subdomain(name) {
        return Err(format!(
            "{name:?} is not a Secret name (lower case letters, digits, '-' and '.')"
        ));
    }
    if !is_secret_key(key) {
        return Err(format!(
            "{key:?} is not a Secret key (letters, digits, '-', '_' and '.')"
        ));
    }
    Ok(SecretRef::Kubernetes {
        name: name.to_owned(),
        key: key.to_owned(),
    })
}

fn parse_arn(value: &str) -> Result<SecretRef, String> {
    // arn:<partition>:<service>:<region>:<account>:<resource...>
    let parts: Vec<&str> = value.split(':').collect();
    let service = parts.get(2).copied().unwrap_or_default();
    if !matches!(service, "secretsmanager" | "ssm") {
        return Err(format!(
            "service {service:?} holds no secrets; ECS reads secretsmanager and ssm"
        ));
    }
    if parts.len() < 6 || parts[1].is_empty() || parts[3].is_empty() || parts[4].is_empty() {
        return Err("an ARN has a partition, service, region and account".to_owned());
    }
    let region = parts[3].to_owned();
    match parts[2] {
        "secretsmanager" => {
            if parts[5] != "secret" || parts.len() < 7 || parts[6].is_empty() {
                return Err("a Secrets Manager ARN ends with secret:<name>".to_owned());
            }
            if parts.len() > 10 {
                return Err(
                    "after the secret name come at most json-key, version-stage and version-id".to_owned(),
                );
            }
            let field = |i: usize| parts.get(i).filter(|s| !s.is_empty()).map(|s| (*s).to_owned());
            let (json_key, stage, id) = (field(7), field(8), field(9));
            let version = match (&stage, &id) {
                (_, Some(id)) => Some(format!("uuid/{id}")),
                (Some(stage), None) if stage != AWSCURRENT => Some(stage.clone()),
                _ => None,
            };
            Ok(SecretRef::Aws(AwsRef::SecretsManager {
                arn: parts[..7].join(":"),
                region,
                json_key,
                version,
                stage_and_id: stage.is_some() && id.is_some(),
            }))
        }
        "ssm" => {
            let resource = parts[5..].join(":");
            let name = resource
                .strip_prefix("parameter/")
                .filter(|n| !n.is_empty())
                .ok_or("an SSM ARN ends with parameter/<name>")?;
            if name.contains(':') {
                return Err("ECS does not document a version or label suffix on parameter ARNs".to_owned());
            }
            Ok(SecretRef::Aws(AwsRef::Parameter {
                key: value.to_owned(),
                region: Some(region),
            }))
        }
        other => Err(format!(
            "service {other:?} holds no secrets; ECS reads secretsmanager and ssm"
        )),
    }
}

/// A Secret data key: `[-._a-zA-Z0-9]+`, at most 253 characters.
fn is_secret_key(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.chars().all(is_secret_key_char)
}

fn is_secret_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// The key in the generated Secret for container `container`'s variable `env`:
/// `<container>.<env>`, other characters as '_' and then a hash of the original name so that
/// distinct names stay distinct.
fn secret_key(container: &str, env: &str) -> String {
    let mapped: String = env
        .chars()
        .map(|c| if is_secret_key_char(c) { c } else { '_' })
        .collect();
    let mut key = format!("{container}.{mapped}");
    if mapped != env || env.is_empty() {
        key = format!("{key}-{}", short_hash(&[env]));
    }
    if key.len() > 253 {
        let hash = short_hash(&[&key]);
        key.truncate(244);
        key = format!("{key}-{hash}");
    }
    key
}

/// One `data` entry of the ExternalSecret.
struct Entry {
    secret_key: String,
    store: &'static str,
    remote_ref: Value,
}

/// The ConfigMap an environment file (`arn:<partition>:s3:::<bucket>/<key>`) loads from, when
/// `environmentFiles` map to ConfigMaps: `<bucket>-<key>` without the `.env` extension, lower
/// case, with `-` for every character a name cannot have (`arn:aws:s3:::cfg/prod/App_1.env` →
/// `cfg-prod-app-1`). `None` when `arn` is not an S3 object ARN.
#[must_use]
pub(super) fn environment_file_config_map(arn: &str) -> Option<String> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_partition), Some("s3"), Some(""), Some(""), Some(path)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let (bucket, key) = path.split_once('/')?;
    if bucket.is_empty() || key.is_empty() {
        return None;
    }
    let key = key.strip_suffix(".env").unwrap_or(key);
    let mut name = String::new();
    for ch in format!("{bucket}-{key}").chars() {
        let ch = ch.to_ascii_lowercase();
        let ch = if ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '.' {
            ch
        } else {
            '-'
        };
        if !(ch == '-' && name.ends_with('-')) {
            name.push(ch);
        }
    }
    let name: String = name.chars().take(253).collect();
    let name = name.trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_owned();
    (!name.is_empty()).then_some(name)
}

/// `environmentFiles` of container `i`: `envFrom` ConfigMaps when so configured (Kubernetes, like
/// ECS, lets `environment` win over them), else reported.
fn environment_files(b: &mut Build<'_>, i: usize, c: &ContainerDefinition) -> Result<(), PodError> {
    let files = c.environment_files.as_deref().unwrap_or_default();
    if !b.options.environment_files_as_config_maps {
        for (j, file) in files.iter().enumerate() {
            b.report.note(
                NoteKind::Ignored,
                format!("containerDefinitions[{i}].environmentFiles[{j}]"),
                format!(
                    "the variables in S3 object {:?} are not loaded: put them in `environment`, \
                     or run ecs-bridge with --environment-files-as-config-maps and create a \
                     ConfigMap per file",
                    file.value
                ),
            );
        }
        return Ok(());
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut from = Vec::new();
    for (j, file) in files.iter().enumerate() {
        let field = format!("containerDefinitions[{i}].environmentFiles[{j}].value");
        let name = environment_file_config_map(&file.value).ok_or_else(|| PodError::BadEnvironmentFile {
            field: field.clone(),
            reason: format!(
                "{:?} is not an S3 object ARN; use arn:aws:s3:::<bucket>/<key>.env",
                file.value
            ),
        })?;
        if let Some(first) = seen.insert(name.clone(), j) {
            return Err(PodError::BadEnvironmentFile {
                field,
                reason: format!(
                    "{:?} and environmentFiles[{first}] would both load from ConfigMap {name:?}; \
                     rename one of the files",
                    file.value
                ),
            });
        }
        let local = file.value.rsplit('/').next().unwrap_or("app.env");
        let s3 = file.value.splitn(6, ':').nth(5).unwrap_or_default();
        b.report.note(
            NoteKind::Approximated,
            format!("containerDefinitions[{i}].environmentFiles[{j}]"),
            format!(
                "loaded from ConfigMap {name:?}, which you create from the same file: `aws s3 cp \
                 s3://{s3} {local} && kubectl create configmap {name} --from-env-file={local}`; \
                 the pod does not start until it exists"
            ),
        );
        from.push(EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource {
                name: name.clone(),
                optional: None,
            }),
            ..EnvFromSource::default()
        });
    }
    if !from.is_empty() {
        b.containers[i].env_from.get_or_insert_with(Vec::new).extend(from);
    }
    Ok(())
}

/// Applies this stage to the pod under construction.
pub(super) fn apply(b: &mut Build<'_>) -> Result<(), PodError> {
    let secret_name = format!("{}-{}-secrets", b.object_name, b.revision);
    let mut entries: Vec<Entry> = Vec::new();
    let mut keys: BTreeSet<String> = BTreeSet::new();
    // The first region seen per store: a ClusterSecretStore reads one region.
    let mut regions: BTreeMap<&'static str, String> = BTreeMap::new();
    let td = b.td;
    for (i, c) in td.container_definitions.iter().enumerate() {
        environment_files(b, i, c)?;
        let container = b.containers[i].name.clone();
        let mut env = Vec::new();
        for (j, s) in c.secrets.iter().flatten().enumerate() {
            let field = format!("containerDefinitions[{i}].secrets[{j}].valueFrom");
            let parsed = parse_value_from(&s.value_from).map_err(|reason| PodError::BadSecretReference {
                field: field.clone(),
                value: s.value_from.clone(),
                reason,
            })?;
            let (name, key) = match parsed {
                SecretRef::Kubernetes { name, key } => (name, key),
                SecretRef::Aws(aws) => {
                    let mut key = secret_key(&container, &s.name);
                    while !keys.insert(key.clone()) {
                        key = format!("{key}-{j}");
                    }
                    let (store, region, remote_ref) = remote_ref(&aws, b, &field);
                    if let Some(region) = region.filter(|_| b.options.external_secrets) {
                        let first = regions.entry(store).or_insert_with(|| region.clone());
                        if *first != region {
                            b.report.note(
                                NoteKind::Approximated,
                                field.clone(),
                                format!(
                                    "in region {region}, but the ClusterSecretStore {store:?} \
                                     reads one region and other secrets use {first}; replicate \
                                     the secret to {first} or it will not sync"
                                ),
                            );
                        }
                    }
                    if !b.options.external_secrets {
                        b.report.note(
                            NoteKind::Approximated,
                            field.clone(),
                            format!(
                                "External Secrets is off: create Secret {secret_name:?} with key \
                                 {key:?} holding the value of {:?}",
                                s.value_from
                            ),
                        );
                    }
                    entries.push(Entry {
                        secret_key: key.clone(),
                        store,
                        remote_ref,
                    });
                    (secret_name.clone(), key)
                }
            };
            env.push(EnvVar {
                name: s.name.clone(),
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name,
                        key,
                        optional: None,
                    }),
                    ..EnvVarSource::default()
                }),
                ..EnvVar::default()
            });
        }
        if !env.is_empty() {
            b.containers[i].env.get_or_insert_with(Vec::new).extend(env);
        }
    }
    if b.options.external_secrets && !entries.is_empty() {
        let object = external_secret(
            &secret_name,
            labels::task_definition_labels(b.object_name, b.revision),
            &entries,
        );
        b.objects.push(object);
    }
    Ok(())
}

/// The store, the region (for ARNs) and the `remoteRef` of an AWS reference.
fn remote_ref(r: &AwsRef, b: &mut Build<'_>, field: &str) -> (&'static str, Option<String>, Value) {
    match r {
        AwsRef::SecretsManager {
            arn,
            region,
            json_key,
            version,
            stage_and_id,
        } => {
            if *stage_and_id {
                b.report.note(
                    NoteKind::Approximated,
                    field,
                    "names both a version stage and a version id; the version id is used",
                );
            }
            let mut remote = serde_json::Map::new();
            remote.insert("key".into(), json!(arn));
            if let Some(p) = json_key {
                remote.insert("property".into(), json!(p));
            }
            if let Some(v) = version {
                remote.insert("version".into(), json!(v));
            }
            (SECRETS_MANAGER_STORE, Some(region.clone()), Value::Object(remote))
        }
        AwsRef::Parameter { key, region } => (PARAMETER_STORE_STORE, region.clone(), json!({ "key": key })),
    }
}

/// The ExternalSecret: the first entry's store is the default, other entries name theirs.
fn external_secret(name: &str, labels: BTreeMap<String, String>, entries: &[Entry]) -> Value {
    let default_store = entries.first().map_or(SECRETS_MANAGER_STORE, |e| e.store);
    let data: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut d = json!({ "secretKey": e.secret_key, "remoteRef": e.remote_ref });
            if e.store != default_store {
                d["sourceRef"] = json!({ "storeRef": { "name": e.store, "kind": "ClusterSecretStore" } });
            }
            d
        })
        .collect();
    json!({
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": { "name": name, "labels": labels },
        "spec": {
            "refreshInterval": REFRESH_INTERVAL,
            "secretStoreRef": { "name": default_store, "kind": "ClusterSecretStore" },
            "target": { "name": name, "creationPolicy": "Owner" },
            "data": data,
        },
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{
        api::ecs::RegisterTaskDefinition,
        translate::{
            Options,
            pod::{PodTranslation, pod_template_with},
            testing::td,
        },
    };

    fn with_secrets(secrets: Value) -> RegisterTaskDefinition {
        td(json!({
            "family": "web",
            "containerDefinitions": [{"name": "app_1", "image": "x", "secrets": secrets}]
        }))
    }

    fn translate(t: &RegisterTaskDefinition, external_secrets: bool) -> PodTranslation {
        pod_template_with(
            "web",
            t,
            3,
            None,
            &Options {
                external_secrets,
                ..Options::default()
            },
        )
        .expect("translates")
    }

    fn env(t: &PodTranslation) -> Vec<(String, String, String)> {
        let pod = t.template.spec.as_ref().expect("spec");
        pod.containers
            .iter()
            .chain(pod.init_containers.iter().flatten())
            .flat_map(|c| c.env.iter().flatten())
            .filter_map(|e| {
                let r = e.value_from.as_ref()?.secret_key_ref.as_ref()?;
                Some((e.name.clone(), r.name.clone(), r.key.clone()))
            })
            .collect()
    }

    /// The notes of this stage (other stages note other fields).
    fn mine(t: &PodTranslation) -> Vec<&crate::translate::Note> {
        t.report
            .notes
            .iter()
            .filter(|n| n.field.contains(".secrets[") || n.field.contains(".environmentFiles"))
            .collect()
    }

    /// The ExternalSecrets among the objects.
    fn external_secrets(t: &PodTranslation) -> Vec<&Value> {
        t.objects
            .iter()
            .filter(|o| o["kind"] == "ExternalSecret")
            .collect()
    }

    const SM: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf";

    #[test]
    fn parses_every_secrets_manager_form() {
        let sm = |json_key: Option<&str>, version: Option<&str>| {
            SecretRef::Aws(AwsRef::SecretsManager {
                arn: SM.to_owned(),
                region: "us-east-1".to_owned(),
                json_key: json_key.map(str::to_owned),
                version: version.map(str::to_owned),
                stage_and_id: false,
            })
        };
        let parse = |suffix: &str| parse_value_from(&format!("{SM}{suffix}")).expect("parses");
        assert_eq!(parse(""), sm(None, None));
        assert_eq!(parse(":password::"), sm(Some("password"), None));
        assert_eq!(parse("::AWSPREVIOUS:"), sm(None, Some("AWSPREVIOUS")));
        assert_eq!(parse("::AWSCURRENT:"), sm(None, None), "the default is omitted");
        assert_eq!(
            parse(":::0123-abcd"),
            sm(None, Some("uuid/0123-abcd")),
            "External Secrets reads `uuid/<id>` as a VersionId"
        );
        assert_eq!(
            parse(":password:AWSPREVIOUS:"),
            sm(Some("password"), Some("AWSPREVIOUS"))
        );
        let SecretRef::Aws(AwsRef::SecretsManager {
            version,
            stage_and_id,
            ..
        }) = parse(":k:AWSPREVIOUS:v1")
        else {
            panic!("a Secrets Manager reference");
        };
        assert_eq!(
            (version.as_deref(), stage_and_id),
            (Some("uuid/v1"), true),
            "the version id wins"
        );
    }

    #[test]
    fn parses_parameters_and_kubernetes_secrets() {
        let arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/a/b/c";
        assert_eq!(
            parse_value_from(arn),
            Ok(SecretRef::Aws(AwsRef::Parameter {
                key: arn.to_owned(),
                region: Some("eu-west-1".to_owned())
            }))
        );
        assert_eq!(
            parse_value_from("/ecspresso-test/foo"),
            Ok(SecretRef::Aws(AwsRef::Parameter {
                key: "/ecspresso-test/foo".to_owned(),
                region: None
            }))
        );
        assert_eq!(
            parse_value_from("k8s:secret/db-creds#pass.word"),
            Ok(SecretRef::Kubernetes {
                name: "db-creds".to_owned(),
                key: "pass.word".to_owned()
            })
        );
    }

    #[test]
    fn rejects_malformed_references_naming_the_field() {
        for (bad, why) in [
            ("arn:aws:secretsmanager:us-east-1:1:secret:a:b:c:d:e", "at most"),
            ("arn:aws:secretsmanager:us-east-1:1:parameter/a", "secret:<name>"),
            ("arn:aws:secretsmanager::1:secret:a", "region"),
            ("arn:aws:ssm:us-east-1:1:secret:a", "parameter/<name>"),
            ("arn:aws:ssm:us-east-1:1:parameter/a:3", "version"),
            ("arn:aws:s3:::bucket/key", "holds no secrets"),
            ("k8s:secret/Bad_Name#k", "not a Secret name"),
            ("k8s:secret/name", "after '#'"),
            ("k8s:configmap/x#y", "k8s:secret/"),
            ("", "empty"),
        ] {
            let err = pod_template_with(
                "web",
                &with_secrets(json!([{"name": "A", "valueFrom": "ok"}, {"name": "B", "valueFrom": bad}])),
                1,
                None,
                &Options::default(),
            )
            .expect_err(bad);
            let msg = err.to_string();
            assert!(
                msg.starts_with("spec.containerDefinitions[0].secrets[1].valueFrom: "),
                "{msg}"
            );
            assert!(msg.contains(why), "{bad}: {msg}");
            assert!(msg.contains("k8s:secret/<name>#<key>"), "lists the forms: {msg}");
        }
    }

    #[test]
    fn aws_secrets_become_one_external_secret_per_revision() {
        let t = translate(
            &with_secrets(json!([
                {"name": "DB_PASSWORD", "valueFrom": format!("{SM}:password:AWSPREVIOUS:")},
                {"name": "API_KEY", "valueFrom": "/app/api-key"},
                {"name": "TOKEN", "valueFrom": "k8s:secret/mine#token"}
            ])),
            true,
        );
        assert_eq!(
            env(&t),
            vec![
                (
                    "DB_PASSWORD".into(),
                    "web-3-secrets".into(),
                    "app-1.DB_PASSWORD".into()
                ),
                ("API_KEY".into(), "web-3-secrets".into(), "app-1.API_KEY".into()),
                ("TOKEN".into(), "mine".into(), "token".into()),
            ]
        );
        let es = external_secrets(&t);
        assert_eq!(es.len(), 1, "{:?}", t.objects);
        let es = es[0];
        assert_eq!(es["apiVersion"], "external-secrets.io/v1");
        assert_eq!(es["kind"], "ExternalSecret");
        assert_eq!(es["metadata"]["name"], "web-3-secrets");
        assert_eq!(es["metadata"]["labels"][labels::REVISION], "3");
        assert_eq!(
            es["spec"]["secretStoreRef"],
            json!({"name": "aws-secretsmanager", "kind": "ClusterSecretStore"})
        );
        assert_eq!(
            es["spec"]["target"],
            json!({"name": "web-3-secrets", "creationPolicy": "Owner"})
        );
        assert_eq!(
            es["spec"]["data"],
            json!([
                {"secretKey": "app-1.DB_PASSWORD",
                 "remoteRef": {"key": SM, "property": "password", "version": "AWSPREVIOUS"}},
                {"secretKey": "app-1.API_KEY", "remoteRef": {"key": "/app/api-key"},
                 "sourceRef": {"storeRef": {"name": "aws-parameterstore", "kind": "ClusterSecretStore"}}}
            ])
        );
        assert!(mine(&t).is_empty(), "{:?}", t.report.notes);
    }

    #[test]
    fn without_external_secrets_the_report_names_the_secret_and_keys() {
        let t = translate(
            &with_secrets(json!([{"name": "P", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/p"}])),
            false,
        );
        assert!(external_secrets(&t).is_empty(), "{:?}", t.objects);
        assert_eq!(
            env(&t),
            vec![("P".into(), "web-3-secrets".into(), "app-1.P".into())]
        );
        let notes = mine(&t);
        assert_eq!(notes.len(), 1, "{:?}", t.report.notes);
        let n = notes[0];
        assert_eq!(n.kind, NoteKind::Approximated);
        assert_eq!(n.field, "containerDefinitions[0].secrets[0].valueFrom");
        assert!(
            n.message.contains("\"web-3-secrets\"") && n.message.contains("\"app-1.P\""),
            "{}",
            n.message
        );
    }

    #[test]
    fn keys_stay_valid_and_distinct() {
        assert_eq!(secret_key("app", "DB_URL"), "app.DB_URL");
        let odd = secret_key("app", "$$$SECRET_NAME$$$");
        assert!(is_secret_key(&odd), "{odd}");
        assert_ne!(secret_key("app", "A$B"), secret_key("app", "A%B"));
        assert!(secret_key("app", &"x".repeat(400)).len() <= 253);
    }

    #[test]
    fn a_second_region_is_reported() {
        let t = translate(
            &with_secrets(json!([
                {"name": "A", "valueFrom": SM},
                {"name": "B", "valueFrom": "arn:aws:secretsmanager:eu-west-1:1:secret:b"}
            ])),
            true,
        );
        let fields: Vec<&str> = mine(&t).iter().map(|n| n.field.as_str()).collect();
        assert_eq!(fields, vec!["containerDefinitions[0].secrets[1].valueFrom"]);
    }

    #[test]
    fn environment_file_config_map_names() {
        for (arn, name) in [
            ("arn:aws:s3:::bucket/app.env", Some("bucket-app")),
            ("arn:aws:s3:::cfg/prod/App_1.env", Some("cfg-prod-app-1")),
            ("arn:aws-cn:s3:::my.bucket/x//y.env", Some("my.bucket-x-y")),
            ("arn:aws:s3:::bucket/", None),
            ("arn:aws:s3:::bucket", None),
            ("s3://bucket/app.env", None),
            ("arn:aws:ssm:us-east-1:1:parameter/app.env", None),
            ("arn:aws:s3:::_/_.env", None),
        ] {
            assert_eq!(environment_file_config_map(arn).as_deref(), name, "{arn}");
        }
        let long = format!("arn:aws:s3:::b/{}.env", "k".repeat(400));
        assert_eq!(environment_file_config_map(&long).map(|n| n.len()), Some(253));
    }

    #[test]
    fn environment_files_load_from_config_maps_when_configured() {
        let spec = td(json!({
            "family": "web",
            "containerDefinitions": [{"name": "a", "image": "x",
                "environment": [{"name": "A", "value": "wins"}],
                "environmentFiles": [
                    {"value": "arn:aws:s3:::cfg/common.env", "type": "s3"},
                    {"value": "arn:aws:s3:::cfg/prod/app.env", "type": "s3"}
                ]}]
        }));
        let options = Options {
            environment_files_as_config_maps: true,
            ..Options::default()
        };
        let t = pod_template_with("web", &spec, 1, None, &options).expect("translates");
        let c = &t.template.spec.as_ref().expect("spec").containers[0];
        let from: Vec<&str> = c
            .env_from
            .iter()
            .flatten()
            .filter_map(|f| f.config_map_ref.as_ref().map(|r| r.name.as_str()))
            .collect();
        assert_eq!(from, ["cfg-common", "cfg-prod-app"], "in the files' order");
        assert!(
            c.env.iter().flatten().any(|e| e.name == "A"),
            "environment stays: it wins over envFrom"
        );
        let notes = mine(&t);
        assert_eq!(notes.len(), 2);
        assert!(
            notes[1]
                .message
                .contains("kubectl create configmap cfg-prod-app --from-env-file=app.env"),
            "{}",
            notes[1].message
        );

        let clash = td(
            json!({"family": "web", "containerDefinitions": [{"name": "a", "image": "x",
            "environmentFiles": [{"value": "arn:aws:s3:::cfg/a_b.env", "type": "s3"}, {"value": "arn:aws:s3:::cfg/a-b.env", "type": "s3"}]}]}),
        );
        let err = pod_template_with("web", &clash, 1, None, &options).expect_err("clash");
        assert!(
            err.to_string()
                .starts_with("spec.containerDefinitions[0].environmentFiles[1].value: "),
            "{err}"
        );
        let bad = td(
            json!({"family": "web", "containerDefinitions": [{"name": "a", "image": "x",
            "environmentFiles": [{"value": "s3://cfg/a.env", "type": "s3"}]}]}),
        );
        let err = pod_template_with("web", &bad, 1, None, &options).expect_err("not an ARN");
        assert!(err.to_string().contains("is not an S3 object ARN"), "{err}");
    }

    #[test]
    fn environment_files_are_reported_with_the_object() {
        let t = translate(
            &td(json!({
                "family": "web",
                "containerDefinitions": [{"name": "a", "image": "x", "environmentFiles": [
                    {"value": "arn:aws:s3:::bucket/app.env", "type": "s3"}
                ]}]
            })),
            true,
        );
        let notes = mine(&t);
        assert_eq!(notes.len(), 1, "{:?}", t.report.notes);
        let n = notes[0];
        assert_eq!(
            (n.kind, n.field.as_str()),
            (NoteKind::Ignored, "containerDefinitions[0].environmentFiles[0]")
        );
        assert!(n.message.contains("arn:aws:s3:::bucket/app.env"), "{}", n.message);
    }

    fn corpus(name: &str) -> RegisterTaskDefinition {
        crate::translate::testing::corpus_task_definition(name)
    }

    #[test]
    fn corpus_secrets_translate() {
        let t = translate(&corpus("taskdef-kecs-service-with-secrets.json"), true);
        assert_eq!(env(&t).len(), 6);
        let data = external_secrets(&t)[0]["spec"]["data"].as_array().expect("data");
        assert_eq!(data.len(), 6);
        assert_eq!(
            data[3]["remoteRef"]["key"],
            "arn:aws:secretsmanager:us-east-1:000000000000:secret:myapp/prod/db"
        );
        assert_eq!(
            external_secrets(&t)[0]["spec"]["secretStoreRef"]["name"],
            PARAMETER_STORE_STORE,
            "the first entry's store is the default"
        );

        let t = translate(&corpus("taskdef-ecspresso-daemon-secrets-ssm-asm.json"), true);
        let keys: Vec<&Value> = external_secrets(&t)[0]["spec"]["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|d| &d["remoteRef"]["key"])
            .collect();
        assert_eq!(keys[0], "/ecspresso-test/foo");
        assert_eq!(keys.len(), 3);

        // A template placeholder is taken as a parameter name, with a valid Secret key.
        let t = translate(&corpus("taskdef-ecsagent-secrets-env.json"), true);
        let (_, _, key) = env(&t).pop().expect("one secret");
        assert!(is_secret_key(&key), "{key}");
    }
}
