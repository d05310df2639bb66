//! Service Connect.
//!
//! With `enabled: true`, each `services[]` entry → a `ClusterIP` Service named after the first
//! label of its client alias's `dnsName` (lower case: DNS names are case-insensitive), else its
//! `discoveryName`, else its `portName`, so that clients in the namespace reach it by the name
//! they used with ECS. `port` = `clientAliases[0].port` (else the container port); `targetPort` =
//! the Kubernetes name of the container port whose ECS `name` is `portName` (a `portName` that
//! names no port mapping is an error, as in ECS). There is no Service Connect proxy: clients
//! connect to the tasks through kube-proxy, so `tls`, `timeout`, `ingressPortOverride`, the
//! proxy's logs and test traffic rules are reported, and the Cloud Map `namespace` is replaced by
//! the Kubernetes namespace (the ECS cluster): a multi-label `dnsName` (`orders.internal`) is
//! reached as `orders` (or `orders.<namespace>.svc`), reported.

use std::collections::BTreeSet;

use k8s_openapi::{
    api::core::v1::{Service as CoreService, ServiceSpec as CoreServiceSpec},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};

use super::{
    MAX_CLIENT_ALIASES, MAX_PORT, MAX_SERVICE_NAME, NetworkError, bad, is_dns1035_label,
    ports::{PodPorts, core_service, service_port},
};
use crate::{
    api::ecs::ServiceConnectConfiguration,
    translate::{NoteKind, Report},
};

/// `serviceConnectConfiguration` → one Service per `services[]` entry, each with the field its
/// name comes from.
pub(super) fn service_connect(
    name: &str,
    sc: &ServiceConnectConfiguration,
    ports: &PodPorts<'_>,
    report: &mut Report,
    meta: &dyn Fn(&str) -> ObjectMeta,
) -> Result<Vec<(String, CoreService)>, NetworkError> {
    const NO_PROXY: &str = "there is no Service Connect proxy: clients connect to the tasks through \
                            the Kubernetes Service (kube-proxy)";
    let base = "serviceConnectConfiguration";
    let entries = sc.services.as_deref().unwrap_or_default();
    if !sc.enabled {
        if !entries.is_empty() {
            report.note(
                NoteKind::Ignored,
                format!("{base}.services"),
                "Service Connect is not enabled (enabled: false): no Services are made for it",
            );
        }
        return Ok(Vec::new());
    }
    for (field, set) in [
        ("logConfiguration", sc.log_configuration.is_some()),
        ("accessLogConfiguration", sc.access_log_configuration.is_some()),
        (
            "containerConfigurations",
            sc.container_configurations
                .as_ref()
                .is_some_and(|c| !c.is_empty()),
        ),
    ] {
        if set {
            report.note(
                NoteKind::Ignored,
                format!("{base}.{field}"),
                format!("{NO_PROXY}, so there are no proxy logs to configure"),
            );
        }
    }
    let mut out = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let field = format!("{base}.services[{i}]");
        let mapped = ports.named(&entry.port_name).ok_or_else(|| {
            bad(
                format!("{field}.portName"),
                format!(
                    "{:?} names no port mapping of the task definition; name one of its portMappings \
                     (portMappings[].name), as ECS requires",
                    entry.port_name
                ),
            )
        })?;
        let aliases = entry.client_aliases.as_deref().unwrap_or_default();
        if aliases.len() > MAX_CLIENT_ALIASES {
            return Err(bad(
                format!("{field}.clientAliases"),
                format!("ECS accepts at most {MAX_CLIENT_ALIASES} client alias per Service Connect service"),
            ));
        }
        let alias = aliases.first();
        let (object, from) = match (
            alias.and_then(|a| a.dns_name.as_deref()),
            entry.discovery_name.as_deref(),
        ) {
            (Some(dns), _) => (
                dns.split('.').next().unwrap_or_default().to_ascii_lowercase(),
                format!("{field}.clientAliases[0].dnsName"),
            ),
            (None, Some(discovery)) => (discovery.to_ascii_lowercase(), format!("{field}.discoveryName")),
            (None, None) => (entry.port_name.to_ascii_lowercase(), format!("{field}.portName")),
        };
        if !is_dns1035_label(&object) {
            return Err(bad(
                from,
                format!(
                    "{object:?} cannot name a Kubernetes Service, which clients would reach by that \
                     name: use at most {MAX_SERVICE_NAME} of a-z, 0-9 and '-', starting with a letter"
                ),
            ));
        }
        if let Some(dns) = alias.and_then(|a| a.dns_name.as_deref())
            && dns.contains('.')
        {
            report.note(
                NoteKind::Approximated,
                format!("{field}.clientAliases[0].dnsName"),
                format!(
                    "{dns:?} is reached as {object:?} in the namespace (or {object}.<namespace>.svc \
                     from others): Kubernetes names Services by namespace, not by Cloud Map namespace"
                ),
            );
        }
        let port = alias.map_or(mapped.port, |a| a.port);
        if !(1..=MAX_PORT).contains(&port) {
            return Err(bad(
                format!("{field}.clientAliases[0].port"),
                format!("{port} is out of range; ECS accepts 1 to {MAX_PORT}"),
            ));
        }
        if alias.is_some_and(|a| a.test_traffic_rules.is_some()) {
            report.note(
                NoteKind::Ignored,
                format!("{field}.clientAliases[0].testTrafficRules"),
                "blue/green test traffic is not routed: every request goes to the service's tasks",
            );
        }
        for (sub, set) in [
            ("ingressPortOverride", entry.ingress_port_override.is_some()),
            ("timeout", entry.timeout.is_some()),
            ("tls", entry.tls.is_some()),
        ] {
            if set {
                report.note(
                    NoteKind::Ignored,
                    format!("{field}.{sub}"),
                    format!("{NO_PROXY}; use a service mesh for proxy timeouts and TLS"),
                );
            }
        }
        let sp = service_port(&mapped, port, true, &mut BTreeSet::new());
        let svc = core_service(
            meta(&object),
            name,
            CoreServiceSpec {
                type_: Some("ClusterIP".to_owned()),
                ports: Some(vec![sp]),
                ..CoreServiceSpec::default()
            },
        );
        out.push((from, svc));
    }
    if let Some(namespace) = &sc.namespace {
        report.note(
            NoteKind::Approximated,
            format!("{base}.namespace"),
            format!(
                "the Cloud Map namespace {namespace:?} is not used: the Kubernetes namespace is the \
                 ECS cluster, and Service Connect names are Services in it"
            ),
        );
    }
    Ok(out)
}
