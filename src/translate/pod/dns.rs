//! `hostname`, `dnsServers`, `dnsSearchDomains`, `extraHosts` and `links`: the pod's hostname,
//! DNS configuration and host aliases.
//!
//! These are set per container in ECS but per pod in Kubernetes; when the containers disagree, a
//! note says what the pod got.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{HostAlias, PodDNSConfig};

use super::{Build, NoteKind, Report};
use crate::{
    api::ecs::NetworkMode,
    names::{is_dns_label, is_dns_subdomain},
};

/// Fields this stage translates.
pub(super) const HANDLED: &[&str] = &[
    "containerDefinitions[].hostname",
    "containerDefinitions[].dnsServers",
    "containerDefinitions[].dnsSearchDomains",
    "containerDefinitions[].extraHosts.*",
    "containerDefinitions[].links",
];

/// Applies this stage to the pod under construction.
pub(super) fn apply(b: &mut Build<'_>) {
    hostname(b);
    dns(b);
    host_aliases(b);
}

/// An `extraHosts` entry: (IP address, hostname).
type HostEntry = (String, String);

/// Notes, on every container that sets `field` differently from the value the pod got, that the
/// value is pod-wide.
fn pod_wide<T: PartialEq + std::fmt::Debug>(
    report: &mut Report,
    field: &str,
    values: &[(usize, Option<T>)],
    chosen: &str,
) {
    let set: Vec<&(usize, Option<T>)> = values.iter().filter(|(_, v)| v.is_some()).collect();
    let all_same = values.iter().all(|(_, v)| *v == values[0].1);
    if set.is_empty() || all_same {
        return;
    }
    for (i, _) in set {
        report.note(
            NoteKind::Approximated,
            format!("containerDefinitions[{i}].{field}"),
            format!("applies to every container of the pod in Kubernetes: {chosen}"),
        );
    }
}

/// `hostname` → the pod's `hostname` (the first container's that sets one).
fn hostname(b: &mut Build<'_>) {
    let values: Vec<(usize, Option<&str>)> =
        b.td.container_definitions
            .iter()
            .enumerate()
            .map(|(i, c)| (i, c.hostname.as_deref().filter(|h| !h.is_empty())))
            .collect();
    let Some((first, Some(raw))) = values.iter().find(|(_, v)| v.is_some()).copied() else {
        return;
    };
    let field = format!("containerDefinitions[{first}].hostname");
    if b.pod.host_network == Some(true) {
        b.report.note(
            NoteKind::Ignored,
            field,
            "with host networking the pod has the node's hostname",
        );
        return;
    }
    // A pod's hostname is a DNS label
    // (https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#pod-s-hostname-and-subdomain-fields).
    let lower = raw.to_ascii_lowercase();
    let label = lower.split('.').next().unwrap_or_default();
    if !is_dns_label(label) {
        b.report.note(
            NoteKind::Ignored,
            field,
            format!("{raw:?} is not a valid hostname (an RFC 1123 label) for Kubernetes"),
        );
        return;
    }
    b.pod.hostname = Some(label.to_owned());
    if label != raw {
        b.report.note(
            NoteKind::Approximated,
            field.clone(),
            format!(
                "the pod's hostname is {label:?} (Kubernetes hostnames are single lower-case DNS labels)"
            ),
        );
    }
    if b.td.network_mode == Some(NetworkMode::Awsvpc) {
        b.report.note(
            NoteKind::Approximated,
            field,
            "ECS rejects hostname with awsvpc networking; Kubernetes sets it",
        );
    }
    pod_wide(
        &mut b.report,
        "hostname",
        &values,
        &format!("the pod's hostname is {label:?}"),
    );
}

/// `dnsServers` and `dnsSearchDomains` → the pod's `dnsConfig`; servers mean `dnsPolicy: None`
/// (<https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#pod-dns-config>).
fn dns(b: &mut Build<'_>) {
    let td = b.td;
    let mut nameservers: Vec<String> = Vec::new();
    let mut searches: Vec<String> = Vec::new();
    for (i, c) in td.container_definitions.iter().enumerate() {
        for (j, s) in c.dns_servers.iter().flatten().enumerate() {
            let s = s.trim();
            if s.parse::<IpAddr>().is_err() {
                b.report.note(
                    NoteKind::Ignored,
                    format!("containerDefinitions[{i}].dnsServers[{j}]"),
                    format!("{s:?} is not an IP address"),
                );
            } else if !nameservers.iter().any(|n| n == s) {
                if nameservers.len() == 3 {
                    // At most three nameservers (the resolver's limit, enforced by the API).
                    b.report.note(
                        NoteKind::Ignored,
                        format!("containerDefinitions[{i}].dnsServers[{j}]"),
                        format!("{s}: Kubernetes allows at most 3 nameservers per pod"),
                    );
                } else {
                    nameservers.push(s.to_owned());
                }
            }
        }
        for (j, s) in c.dns_search_domains.iter().flatten().enumerate() {
            let d = s.trim().trim_end_matches('.').to_ascii_lowercase();
            if !is_dns_subdomain(&d) {
                b.report.note(
                    NoteKind::Ignored,
                    format!("containerDefinitions[{i}].dnsSearchDomains[{j}]"),
                    format!("{s:?} is not a DNS domain"),
                );
            } else if !searches.contains(&d) {
                if searches.len() == 32 {
                    b.report.note(
                        NoteKind::Ignored,
                        format!("containerDefinitions[{i}].dnsSearchDomains[{j}]"),
                        format!("{s}: Kubernetes allows at most 32 search domains per pod"),
                    );
                } else {
                    searches.push(d);
                }
            }
        }
    }
    let servers: Vec<(usize, Option<&Vec<String>>)> = td
        .container_definitions
        .iter()
        .enumerate()
        .map(|(i, c)| (i, c.dns_servers.as_ref().filter(|v| !v.is_empty())))
        .collect();
    let domains: Vec<(usize, Option<&Vec<String>>)> = td
        .container_definitions
        .iter()
        .enumerate()
        .map(|(i, c)| (i, c.dns_search_domains.as_ref().filter(|v| !v.is_empty())))
        .collect();
    if !nameservers.is_empty() {
        b.pod.dns_policy = Some("None".to_owned());
        if let Some((i, _)) = servers.iter().find(|(_, v)| v.is_some()) {
            b.report.note(
                NoteKind::Approximated,
                format!("containerDefinitions[{i}].dnsServers"),
                "dnsPolicy None: the pod resolves names only through these servers, so Kubernetes \
                 Service names resolve only if they forward the cluster domain",
            );
        }
        pod_wide(
            &mut b.report,
            "dnsServers",
            &servers,
            &format!("the pod's nameservers are {}", nameservers.join(", ")),
        );
    }
    if !searches.is_empty() {
        pod_wide(
            &mut b.report,
            "dnsSearchDomains",
            &domains,
            &format!("the pod's search domains are {}", searches.join(", ")),
        );
    }
    if !nameservers.is_empty() || !searches.is_empty() {
        let config = b.pod.dns_config.get_or_insert_with(PodDNSConfig::default);
        config.nameservers = (!nameservers.is_empty()).then_some(nameservers);
        config.searches = (!searches.is_empty()).then_some(searches);
    }
}

/// `extraHosts` (grouped by IP) and `links` (the linked container's name and alias → 127.0.0.1,
/// since the containers of a pod share localhost) → the pod's `hostAliases`
/// (<https://kubernetes.io/docs/tasks/network/customize-hosts-file-for-pods/>).
fn host_aliases(b: &mut Build<'_>) {
    let td = b.td;
    let mut aliases: Vec<HostAlias> = Vec::new();
    let add = |aliases: &mut Vec<HostAlias>, ip: &str, host: String| {
        let pos = aliases.iter().position(|a| a.ip == ip).unwrap_or_else(|| {
            aliases.push(HostAlias {
                ip: ip.to_owned(),
                hostnames: Some(Vec::new()),
            });
            aliases.len() - 1
        });
        let names = aliases[pos].hostnames.get_or_insert_with(Vec::new);
        if !names.contains(&host) {
            names.push(host);
        }
    };
    // Per container: its valid (ip, hostname) entries.
    let mut extra: Vec<(usize, Option<Vec<HostEntry>>)> = Vec::new();
    for (i, c) in td.container_definitions.iter().enumerate() {
        let mut mine = Vec::new();
        for (j, h) in c.extra_hosts.iter().flatten().enumerate() {
            let ip = h.ip_address.trim();
            let host = h.hostname.trim().trim_end_matches('.').to_ascii_lowercase();
            if ip.parse::<IpAddr>().is_err() {
                b.report.note(
                    NoteKind::Ignored,
                    format!("containerDefinitions[{i}].extraHosts[{j}]"),
                    format!("{:?} is not an IP address", h.ip_address),
                );
            } else if !is_dns_subdomain(&host) {
                b.report.note(
                    NoteKind::Ignored,
                    format!("containerDefinitions[{i}].extraHosts[{j}]"),
                    format!(
                        "{:?} is not a hostname Kubernetes accepts (a DNS subdomain)",
                        h.hostname
                    ),
                );
            } else {
                add(&mut aliases, ip, host.clone());
                mine.push((ip.to_owned(), host));
            }
        }
        extra.push((i, (!mine.is_empty()).then_some(mine)));
        let links = c.links.as_ref().filter(|l| !l.is_empty());
        if let Some(links) = links {
            let mut names = Vec::new();
            for link in links {
                let (name, alias) = link.split_once(':').unwrap_or((link, link));
                for n in [name, alias] {
                    let n = n.to_ascii_lowercase();
                    if is_dns_subdomain(&n) && !names.contains(&n) {
                        names.push(n);
                    }
                }
            }
            for n in &names {
                add(&mut aliases, "127.0.0.1", n.clone());
            }
            b.report.note(
                NoteKind::Approximated,
                format!("containerDefinitions[{i}].links"),
                if names.is_empty() {
                    "the containers of a pod reach each other on localhost; the link names are \
                     not valid hostnames, so use localhost"
                        .to_owned()
                } else {
                    format!(
                        "the containers of a pod reach each other on localhost: {} resolve to \
                         127.0.0.1 (hostAliases)",
                        names.join(", ")
                    )
                },
            );
        }
    }
    if aliases.is_empty() {
        return;
    }
    pod_wide(
        &mut b.report,
        "extraHosts",
        &extra,
        "the entries of every container are in the pod's /etc/hosts",
    );
    b.pod.host_aliases = Some(aliases);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::translate::{
        NoteKind,
        testing::{notes, one, spec, translate},
    };

    #[test]
    fn hostname_is_the_pods() {
        let t = one(json!({"name": "a", "image": "x", "hostname": "web"}));
        assert_eq!(spec(&t).hostname.as_deref(), Some("web"));
        assert!(notes(&t, "containerDefinitions[0].hostname").is_empty());

        let t = translate(json!({"family": "t", "containerDefinitions": [
            {"name": "a", "image": "x", "hostname": "Web.example.com"},
            {"name": "b", "image": "x", "hostname": "other"}
        ]}));
        assert_eq!(spec(&t).hostname.as_deref(), Some("web"));
        assert_eq!(notes(&t, "containerDefinitions[0].hostname").len(), 2);
        let other = notes(&t, "containerDefinitions[1].hostname");
        assert_eq!(other.len(), 1);
        assert!(other[0].message.contains("\"web\""), "{}", other[0].message);

        let t = translate(json!({"family": "t", "networkMode": "awsvpc",
            "containerDefinitions": [{"name": "a", "image": "x", "hostname": "web"}]}));
        assert_eq!(spec(&t).hostname.as_deref(), Some("web"));
        assert!(
            notes(&t, "containerDefinitions[0].hostname")[0]
                .message
                .contains("awsvpc")
        );

        let t = translate(json!({"family": "t", "networkMode": "host",
            "containerDefinitions": [{"name": "a", "image": "x", "hostname": "web"}]}));
        assert_eq!(spec(&t).hostname, None);
        assert_eq!(
            notes(&t, "containerDefinitions[0].hostname")[0].kind,
            NoteKind::Ignored
        );
    }

    #[test]
    fn dns_servers_and_search_domains_are_the_pods_dns_config() {
        let t = translate(json!({"family": "t", "containerDefinitions": [
            {"name": "a", "image": "x", "dnsServers": ["10.0.0.2", "not-an-ip"], "dnsSearchDomains": ["Example.com."]},
            {"name": "b", "image": "x", "dnsServers": ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"]}
        ]}));
        let pod = spec(&t);
        assert_eq!(pod.dns_policy.as_deref(), Some("None"));
        let config = pod.dns_config.clone().expect("dns config");
        assert_eq!(
            config.nameservers,
            Some(vec![
                "10.0.0.2".to_owned(),
                "10.0.0.3".to_owned(),
                "10.0.0.4".to_owned()
            ])
        );
        assert_eq!(config.searches, Some(vec!["example.com".to_owned()]));
        assert_eq!(
            notes(&t, "containerDefinitions[0].dnsServers[1]")[0].kind,
            NoteKind::Ignored
        );
        assert_eq!(
            notes(&t, "containerDefinitions[1].dnsServers[3]")[0].kind,
            NoteKind::Ignored
        );
        assert!(!notes(&t, "containerDefinitions[1].dnsServers").is_empty());

        let t = one(json!({"name": "a", "image": "x", "dnsSearchDomains": ["corp.internal"]}));
        assert_eq!(spec(&t).dns_policy, None, "cluster DNS stays");
        assert_eq!(
            spec(&t).dns_config.clone().expect("dns config").searches,
            Some(vec!["corp.internal".to_owned()])
        );
    }

    #[test]
    fn extra_hosts_are_grouped_by_ip_and_links_resolve_to_localhost() {
        let t = translate(
            json!({"family": "t", "networkMode": "bridge", "containerDefinitions": [
                {"name": "a", "image": "x", "links": ["db:database"], "extraHosts": [
                    {"hostname": "one", "ipAddress": "10.1.2.3"},
                    {"hostname": "two", "ipAddress": "10.1.2.3"},
                    {"hostname": "three", "ipAddress": "10.9.9.9"},
                    {"hostname": "bad", "ipAddress": "nope"}
                ]},
                {"name": "db", "image": "y"}
            ]}),
        );
        let aliases = spec(&t).host_aliases.clone().expect("host aliases");
        let got: Vec<(String, Vec<String>)> = aliases
            .into_iter()
            .map(|a| (a.ip, a.hostnames.unwrap_or_default()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("10.1.2.3".to_owned(), vec!["one".to_owned(), "two".to_owned()]),
                ("10.9.9.9".to_owned(), vec!["three".to_owned()]),
                (
                    "127.0.0.1".to_owned(),
                    vec!["db".to_owned(), "database".to_owned()]
                ),
            ]
        );
        assert_eq!(
            notes(&t, "containerDefinitions[0].extraHosts[3]")[0].kind,
            NoteKind::Ignored
        );
        assert_eq!(
            notes(&t, "containerDefinitions[0].links")[0].kind,
            NoteKind::Approximated
        );
        assert_eq!(
            notes(&t, "containerDefinitions[0].extraHosts").len(),
            1,
            "container b has none: the entries are pod-wide"
        );
    }
}
