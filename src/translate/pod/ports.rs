//! Container `portMappings` → container ports (ecs-reference §1.4 and §1.10).
//!
//! A pod has its own IP, as an `awsvpc` task has its own network interface: its containers listen
//! on it directly, and a container's
//! [`ports`](https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#ports)
//! list says which ports they use. The list is informational (a pod accepts traffic on every port
//! of its IP), except for `hostPort`, which binds a port of the node, and for the port names that
//! Services refer to. How a mapping carries over depends on the task's network mode:
//!
//! | `networkMode` | `hostPort` | Kubernetes |
//! |---|---|---|
//! | `awsvpc` | omitted or equal to `containerPort` | `containerPort` only: exact |
//! | `host` | omitted or equal to `containerPort` | `containerPort` on a `hostNetwork` pod, where Kubernetes defaults `hostPort` to it: exact |
//! | `bridge`, or unset | fixed (not 0) | `containerPort` and `hostPort`: the node port is reserved, as ECS's static mapping is |
//! | `bridge`, or unset | `0` or omitted (dynamic) | `containerPort` only, noted: reach the pod's IP instead of an ephemeral node port |
//! | `none` | | error: ECS allows no port mappings |
//!
//! An unset `networkMode` means the platform default, which is `bridge` on Linux and NAT on
//! Windows; both map ports like `bridge`, so they are translated alike. As with ECS static
//! mappings, two pods whose containers map the same node port (`hostPort`, or any port with
//! `hostNetwork`) cannot run on one node: the scheduler keeps them apart.
//!
//! Errors, where ECS refuses the task definition (or Kubernetes the pod): a `hostPort` other than
//! `containerPort` with `awsvpc` or `host`; port mappings with `none`; a port outside 1–65535; a
//! port in two mappings of a container, whatever their protocols; two mappings of the pod on one
//! node port and protocol; two mappings with one name.
//!
//! `containerPortRange` (`"start-end"`, `bridge` or `awsvpc` only, without `hostPort`, at most
//! [`MAX_RANGES`] per container, none overlapping) becomes one unnamed container port per port,
//! when a container's ranges cover at most [`MAX_RANGE_PORTS`] ports; Kubernetes has no port
//! ranges. Above that, the ranges are reported and not listed: listing thousands of ports would
//! bloat every pod for nothing, since the ports are reachable on the pod's IP anyway.
//!
//! Port names become Kubernetes port names, which must be an `IANA_SVC_NAME` (RFC 6335 §5.1: at
//! most 15 characters of `a-z`, `0-9` and `-`, with a letter, without a leading, trailing or
//! doubled `-`) and unique within the pod. Valid names are kept as they are; others are mapped
//! by [`port_names`] (and given a `-2`, `-3`, ... suffix if the result is taken), with a note
//! naming the Kubernetes name; a name without a letter is dropped, with a note. Two mappings with
//! the same ECS name are an error: Service Connect refers to a port by its name.
//!
//! `appProtocol` has no place on a container port; Kubernetes has it on
//! [Service ports](https://kubernetes.io/docs/concepts/services-networking/service/#application-protocol).
//! It is kept in the pod template annotation [`APP_PROTOCOLS_ANNOTATION`] for the Service
//! translation, mapped by [`app_protocol`]: `http` stays `http` (an IANA service name), `http2`
//! and `grpc` become `kubernetes.io/h2c` (HTTP/2 over cleartext, which gRPC runs on; Kubernetes
//! defines no gRPC value, and Service Connect's proxy talks to the container in cleartext).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ContainerPort;

use super::{APP_PROTOCOLS_ANNOTATION, Build, NoteKind, PodError, port_names::port_names};
use crate::api::ecs::{ApplicationProtocol, NetworkMode, PortMapping, TransportProtocol};

/// Fields this stage translates.
pub(super) const HANDLED: &[&str] = &[
    "containerDefinitions[].portMappings[].containerPort",
    "containerDefinitions[].portMappings[].protocol",
    "containerDefinitions[].portMappings[].name",
    "containerDefinitions[].portMappings[].hostPort",
    "containerDefinitions[].portMappings[].appProtocol",
    "containerDefinitions[].portMappings[].containerPortRange",
];

/// The most ports a container's `containerPortRange`s are expanded into. ECS reserves at most
/// 100 static ports per instance; beyond that, a list of ports says nothing useful.
const MAX_RANGE_PORTS: i32 = 100;

/// The most `containerPortRange`s ECS accepts per container.
const MAX_RANGES: usize = 100;

/// The highest port number.
const MAX_PORT: i32 = 65_535;

/// How the task's network mode maps ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `awsvpc`: the task's own IP, as a pod's.
    Awsvpc,
    /// `host`: the node's network; the pod has `hostNetwork`.
    Host,
    /// `bridge` (`explicit`), or unset (the platform default: bridge on Linux, NAT on Windows).
    Bridge {
        /// Whether `networkMode` says `bridge`.
        explicit: bool,
    },
    /// `none`: no network, no port mappings.
    NoNetwork,
}

impl Mode {
    /// The mode of a task definition's `networkMode`.
    fn of(mode: Option<NetworkMode>) -> Self {
        match mode {
            Some(NetworkMode::Awsvpc) => Self::Awsvpc,
            Some(NetworkMode::Host) => Self::Host,
            Some(NetworkMode::Bridge) => Self::Bridge { explicit: true },
            None => Self::Bridge { explicit: false },
            Some(NetworkMode::None) => Self::NoNetwork,
        }
    }

    /// The mode, as messages name it.
    fn describe(self) -> &'static str {
        match self {
            Self::Awsvpc => "networkMode awsvpc",
            Self::Host => "networkMode host",
            Self::Bridge { explicit: true } => "networkMode bridge",
            Self::Bridge { explicit: false } => "the default network mode (bridge on Linux, NAT on Windows)",
            Self::NoNetwork => "networkMode none",
        }
    }
}

/// One port mapping, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Checked {
    /// Its index in the container's `portMappings`.
    j: usize,
    /// The first and last container port (equal for a `containerPort`).
    ports: (i32, i32),
    /// Whether it is a `containerPortRange`.
    range: bool,
    /// `TCP` or `UDP`.
    protocol: &'static str,
    /// The node port reserved (`hostPort` in Kubernetes).
    host_port: Option<i32>,
}

impl Checked {
    /// The field holding its port or range, relative to `spec`.
    fn port_field(&self, i: usize) -> String {
        let f = if self.range {
            "containerPortRange"
        } else {
            "containerPort"
        };
        format!("containerDefinitions[{i}].portMappings[{}].{f}", self.j)
    }

    /// The ports, as messages name them.
    fn describe(&self) -> String {
        if self.range {
            format!("ports {}-{}", self.ports.0, self.ports.1)
        } else {
            format!("port {}", self.ports.0)
        }
    }

    /// How many ports it covers.
    fn len(&self) -> i32 {
        self.ports.1 - self.ports.0 + 1
    }
}

/// Applies this stage to the pod under construction.
pub(super) fn apply(b: &mut Build<'_>) -> Result<(), PodError> {
    let td = b.td;
    let mode = Mode::of(td.network_mode);
    let names = port_names(td, &mut b.report)?;
    let mut app_protocols: BTreeMap<String, &'static str> = BTreeMap::new();
    // Node port and protocol → the mapping that reserves it.
    let mut node_ports: BTreeMap<(i32, &'static str), (usize, usize)> = BTreeMap::new();
    for (i, c) in td.container_definitions.iter().enumerate() {
        let mappings = c.port_mappings.as_deref().unwrap_or_default();
        if mappings.is_empty() {
            continue;
        }
        if mode == Mode::NoNetwork {
            return Err(bad(
                format!("containerDefinitions[{i}].portMappings"),
                "networkMode none allows no port mappings (the task has no network); remove them, or use awsvpc",
            ));
        }
        let checked = check_container(i, mappings, mode)?;
        let range_ports: i32 = checked.iter().filter(|m| m.range).map(Checked::len).sum();
        let mut ports = Vec::new();
        for m in &checked {
            let pm = &mappings[m.j];
            claim_node_port(&mut node_ports, i, m, mode)?;
            if m.range {
                range(b, i, m, pm, mode, range_ports, &mut ports);
            } else {
                let name = names.get(&(i, m.j)).cloned();
                ports.push(single(b, i, m, pm, mode, name, &mut app_protocols));
            }
        }
        b.containers[i].ports = (!ports.is_empty()).then_some(ports);
    }
    if !app_protocols.is_empty()
        && let Ok(json) = serde_json::to_string(&app_protocols)
    {
        b.annotations.insert(APP_PROTOCOLS_ANNOTATION.to_owned(), json);
    }
    Ok(())
}

/// Records the node port `m` binds (its `hostPort`, or its port with `host`), if any.
///
/// # Errors
/// When another mapping of the pod binds it already, for the same protocol: Kubernetes refuses
/// the pod, and ECS could not bind the port twice either.
fn claim_node_port(
    node_ports: &mut BTreeMap<(i32, &'static str), (usize, usize)>,
    i: usize,
    m: &Checked,
    mode: Mode,
) -> Result<(), PodError> {
    let node_port = match mode {
        Mode::Host => Some(m.ports.0),
        _ => m.host_port,
    };
    let Some(port) = node_port else {
        return Ok(());
    };
    let Some((a, k)) = node_ports.insert((port, m.protocol), (i, m.j)) else {
        return Ok(());
    };
    Err(bad(
        if m.host_port.is_some() {
            format!("containerDefinitions[{i}].portMappings[{}].hostPort", m.j)
        } else {
            m.port_field(i)
        },
        format!(
            "node port {port}/{} is already mapped by containerDefinitions[{a}].portMappings[{k}]; \
             a node port is bound once (with {}); map another port",
            m.protocol,
            mode.describe()
        ),
    ))
}

/// A `containerPort` mapping → its container port (named `name`); notes a dynamic host port,
/// and records the `appProtocol` for Services.
fn single(
    b: &mut Build<'_>,
    i: usize,
    m: &Checked,
    pm: &PortMapping,
    mode: Mode,
    name: Option<String>,
    app_protocols: &mut BTreeMap<String, &'static str>,
) -> ContainerPort {
    let f = |field: &str| format!("containerDefinitions[{i}].portMappings[{}].{field}", m.j);
    let port = m.ports.0;
    if matches!(mode, Mode::Bridge { .. }) && m.host_port.is_none() {
        let (field, how) = if pm.host_port.is_some() {
            (f("hostPort"), "hostPort 0")
        } else {
            (
                format!("containerDefinitions[{i}].portMappings[{}]", m.j),
                "no hostPort",
            )
        };
        b.report.note(
            NoteKind::Approximated,
            field,
            format!(
                "{how}: a dynamic host port with {}, where ECS picks an ephemeral port of the \
                 instance; no node port is reserved: the pod has its own IP, reach the container on \
                 port {port} there",
                mode.describe()
            ),
        );
    }
    if let Some(ap) = pm.app_protocol {
        let value = app_protocol(ap);
        let key = name.clone().unwrap_or_else(|| port.to_string());
        b.report.note(
            NoteKind::Approximated,
            f("appProtocol"),
            format!(
                "container ports have no appProtocol: kept as {value:?} for the port {key:?} of \
                 Services (annotation {APP_PROTOCOLS_ANNOTATION}){}",
                if ap == ApplicationProtocol::Grpc {
                    "; gRPC runs on HTTP/2 over cleartext, and Kubernetes defines no gRPC value"
                } else {
                    ""
                }
            ),
        );
        app_protocols.insert(key, value);
    }
    ContainerPort {
        container_port: port,
        host_port: m.host_port,
        name,
        protocol: Some(m.protocol.to_owned()),
        ..ContainerPort::default()
    }
}

/// A `containerPortRange` → one container port per port, or a note when the container's ranges
/// cover more than [`MAX_RANGE_PORTS`] ports (`total`).
fn range(
    b: &mut Build<'_>,
    i: usize,
    m: &Checked,
    pm: &PortMapping,
    mode: Mode,
    total: i32,
    ports: &mut Vec<ContainerPort>,
) {
    let f = |name: &str| format!("containerDefinitions[{i}].portMappings[{}].{name}", m.j);
    if pm.name.is_some() {
        b.report.note(
            NoteKind::Ignored,
            f("name"),
            "the ports of a containerPortRange are unnamed: a Kubernetes port name names one port",
        );
    }
    if pm.app_protocol.is_some() {
        b.report.note(
            NoteKind::Ignored,
            f("appProtocol"),
            "a containerPortRange has no single port for a Service to give the appProtocol to",
        );
    }
    if total > MAX_RANGE_PORTS {
        b.report.note(
            NoteKind::Approximated,
            f("containerPortRange"),
            format!(
                "{} not listed: the container's ranges cover {total} ports, more than the \
                 {MAX_RANGE_PORTS} listed as container ports; the pod accepts traffic on every port \
                 of its IP anyway (the list only informs, except for hostPort and named ports)",
                m.describe()
            ),
        );
        return;
    }
    if matches!(mode, Mode::Bridge { .. }) {
        b.report.note(
            NoteKind::Approximated,
            f("containerPortRange"),
            format!(
                "no node ports are reserved for the range ECS would map dynamically; the pod has its \
                 own IP, reach the container on {} there",
                m.describe()
            ),
        );
    }
    ports.extend((m.ports.0..=m.ports.1).map(|port| ContainerPort {
        container_port: port,
        protocol: Some(m.protocol.to_owned()),
        ..ContainerPort::default()
    }));
}

/// Checks a container's port mappings as ECS does: ports in range, `hostPort` as the network mode
/// allows, well-formed ranges, and no port in two mappings.
fn check_container(i: usize, mappings: &[PortMapping], mode: Mode) -> Result<Vec<Checked>, PodError> {
    let mut checked: Vec<Checked> = Vec::with_capacity(mappings.len());
    for (j, pm) in mappings.iter().enumerate() {
        let m = check_mapping(i, j, pm, mode)?;
        // No port in two mappings (ECS: "a port can only be included in one port mapping per
        // container"; "the same containerPort cannot be exposed for two protocols").
        if let Some(earlier) = checked
            .iter()
            .find(|e| e.ports.0 <= m.ports.1 && m.ports.0 <= e.ports.1)
        {
            let reason = if !m.range && !earlier.range && m.protocol != earlier.protocol {
                format!(
                    "port {} is already exposed over {} by portMappings[{}]; ECS exposes a container \
                     port for one protocol only",
                    m.ports.0, earlier.protocol, earlier.j
                )
            } else {
                format!(
                    "{} overlap {} of portMappings[{}]; a port can be in one port mapping of a \
                     container only, and ranges may not overlap",
                    m.describe(),
                    earlier.describe(),
                    earlier.j
                )
            };
            return Err(bad(m.port_field(i), reason));
        }
        checked.push(m);
    }
    let ranges = checked.iter().filter(|m| m.range).count();
    if ranges > MAX_RANGES {
        return Err(bad(
            format!("containerDefinitions[{i}].portMappings"),
            format!("{ranges} containerPortRanges; ECS accepts at most {MAX_RANGES} per container"),
        ));
    }
    Ok(checked)
}

/// Checks one port mapping (`containerDefinitions[i].portMappings[j]`).
fn check_mapping(i: usize, j: usize, pm: &PortMapping, mode: Mode) -> Result<Checked, PodError> {
    let f = |name: &str| format!("containerDefinitions[{i}].portMappings[{j}].{name}");
    let protocol = match pm.protocol {
        Some(TransportProtocol::Udp) => "UDP",
        Some(TransportProtocol::Tcp) | None => "TCP",
    };
    if let Some(h) = pm.host_port
        && !(0..=MAX_PORT).contains(&h)
    {
        return Err(PodError::OutOfRange {
            field: f("hostPort"),
            value: h.into(),
            min: 0,
            max: MAX_PORT.into(),
        });
    }
    match (pm.container_port, pm.container_port_range.as_deref()) {
        (None, None) => Err(PodError::Missing {
            field: f("containerPort"),
            hint: "give the port the container listens on (or containerPortRange, \"start-end\", for a range)",
        }),
        (Some(_), Some(_)) => Err(bad(
            f("containerPortRange"),
            "give containerPort or containerPortRange, not both",
        )),
        (Some(port), None) => {
            if !(1..=MAX_PORT).contains(&port) {
                return Err(PodError::OutOfRange {
                    field: f("containerPort"),
                    value: port.into(),
                    min: 1,
                    max: MAX_PORT.into(),
                });
            }
            let host_port = match (mode, pm.host_port) {
                (Mode::Awsvpc | Mode::Host, Some(h)) if h != port => {
                    return Err(bad(
                        f("hostPort"),
                        format!(
                            "hostPort {h} differs from containerPort {port}; with {}, hostPort must be \
                             omitted or equal to containerPort (a port of the task is the same port \
                             outside); use networkMode bridge to map another node port",
                            mode.describe()
                        ),
                    ));
                }
                (Mode::Bridge { .. }, Some(h)) if h > 0 => Some(h),
                _ => None,
            };
            Ok(Checked {
                j,
                ports: (port, port),
                range: false,
                protocol,
                host_port,
            })
        }
        (None, Some(text)) => {
            if !matches!(mode, Mode::Awsvpc | Mode::Bridge { .. }) {
                return Err(bad(
                    f("containerPortRange"),
                    format!(
                        "containerPortRange needs networkMode bridge or awsvpc, not {}; list the ports \
                         one by one as containerPort",
                        mode.describe()
                    ),
                ));
            }
            if pm.host_port.is_some() {
                return Err(bad(
                    f("hostPort"),
                    "hostPort cannot be set with containerPortRange (ECS maps a range's host ports \
                     itself); remove it",
                ));
            }
            let ports = parse_range(text).ok_or_else(|| {
                bad(
                    f("containerPortRange"),
                    format!(
                        "{text:?} is not a port range; write \"start-end\", both from 1 to {MAX_PORT} \
                         and start lower than end, e.g. \"8000-8010\""
                    ),
                )
            })?;
            Ok(Checked {
                j,
                ports,
                range: true,
                protocol,
                host_port: None,
            })
        }
    }
}

/// `"start-end"` → `(start, end)`, both from 1 to 65535, start lower than end.
fn parse_range(text: &str) -> Option<(i32, i32)> {
    let port = |t: &str| {
        if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse::<i32>().ok().filter(|p| (1..=MAX_PORT).contains(p))
    };
    let (start, end) = text.split_once('-')?;
    let (start, end) = (port(start)?, port(end)?);
    (start < end).then_some((start, end))
}

/// ECS `appProtocol` → Kubernetes Service port `appProtocol`: an IANA service name, or a
/// Kubernetes-defined one (`kubernetes.io/h2c`: HTTP/2 with prior knowledge over cleartext).
pub(crate) fn app_protocol(protocol: ApplicationProtocol) -> &'static str {
    match protocol {
        ApplicationProtocol::Http => "http",
        ApplicationProtocol::Http2 | ApplicationProtocol::Grpc => "kubernetes.io/h2c",
    }
}

/// A [`PodError::BadPortMapping`].
fn bad(field: String, reason: impl Into<String>) -> PodError {
    PodError::BadPortMapping {
        field,
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {

    use k8s_openapi::api::core::v1::PodSpec;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use std::collections::BTreeSet;

    use super::*;
    use crate::{api::ecs::RegisterTaskDefinition, translate::pod::port_names::is_iana_svc_name};
    use crate::{
        import::{ImportOptions, Imported, import_file},
        translate::{
            Note,
            pod::{PodTranslation, pod_template},
        },
    };

    fn translate(v: Value) -> Result<PodTranslation, PodError> {
        let td: RegisterTaskDefinition = serde_json::from_value(v).expect("task definition");
        pod_template("web", &td, 1)
    }

    /// A task definition in `mode` (`None`: unset) with one container per list of mappings.
    fn task(mode: Option<&str>, mappings: &[Value]) -> Value {
        let containers: Vec<Value> = mappings
            .iter()
            .enumerate()
            .map(|(i, m)| json!({"name": format!("c{i}"), "image": "nginx", "portMappings": m}))
            .collect();
        let mut td = json!({"family": "web", "containerDefinitions": containers});
        if let Some(mode) = mode {
            td["networkMode"] = json!(mode);
        }
        td
    }

    fn ok(mode: Option<&str>, mappings: &[Value]) -> PodTranslation {
        translate(task(mode, mappings)).unwrap_or_else(|e| panic!("translates: {e}"))
    }

    fn err(mode: Option<&str>, mappings: &[Value]) -> String {
        match translate(task(mode, mappings)) {
            Ok(t) => panic!("expected an error, got {:?}", all_ports(spec(&t))),
            Err(e) => {
                assert!(
                    matches!(
                        e,
                        PodError::BadPortMapping { .. }
                            | PodError::OutOfRange { .. }
                            | PodError::Missing { .. }
                    ),
                    "{e:?}"
                );
                e.to_string()
            }
        }
    }

    fn spec(t: &PodTranslation) -> &PodSpec {
        t.template.spec.as_ref().expect("pod spec")
    }

    /// The ports of container `i`.
    fn ports(t: &PodTranslation, i: usize) -> Vec<ContainerPort> {
        spec(t).containers[i].ports.clone().unwrap_or_default()
    }

    /// Every container's ports, init containers included, by container name.
    fn all_ports(spec: &PodSpec) -> Vec<(String, ContainerPort)> {
        spec.containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .flat_map(|c| c.ports.iter().flatten().map(|p| (c.name.clone(), p.clone())))
            .collect()
    }

    /// The notes on port mappings.
    fn port_notes(t: &PodTranslation) -> Vec<&Note> {
        t.report
            .notes
            .iter()
            .filter(|n| n.field.contains(".portMappings["))
            .collect()
    }

    fn annotation<'a>(t: &'a PodTranslation, key: &str) -> Option<&'a str> {
        t.template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(key))
            .map(String::as_str)
    }

    fn port(
        container_port: i32,
        host_port: Option<i32>,
        protocol: &str,
        name: Option<&str>,
    ) -> ContainerPort {
        ContainerPort {
            container_port,
            host_port,
            protocol: Some(protocol.to_owned()),
            name: name.map(str::to_owned),
            ..ContainerPort::default()
        }
    }

    #[test]
    fn awsvpc_with_host_port_equal_is_exact() {
        let t = ok(
            Some("awsvpc"),
            &[
                json!([{"containerPort": 80, "hostPort": 80}, {"containerPort": 53, "protocol": "udp", "name": "dns"}]),
            ],
        );
        assert_eq!(
            ports(&t, 0),
            [port(80, None, "TCP", None), port(53, None, "UDP", Some("dns"))],
            "each pod has its own IP: no node port"
        );
        assert!(port_notes(&t).is_empty(), "{:?}", t.report.notes);
        assert!(t.report.notes.is_empty(), "{:?}", t.report.notes);
    }

    #[test]
    fn awsvpc_and_host_refuse_another_host_port() {
        for mode in ["awsvpc", "host"] {
            let e = err(Some(mode), &[json!([{"containerPort": 80, "hostPort": 8080}])]);
            assert!(
                e.starts_with("spec.containerDefinitions[0].portMappings[0].hostPort: hostPort 8080 differs from containerPort 80; with networkMode "),
                "{e}"
            );
            let e = err(Some(mode), &[json!([{"containerPort": 80, "hostPort": 0}])]);
            assert!(
                e.starts_with("spec.containerDefinitions[0].portMappings[0].hostPort:"),
                "{e}"
            );
        }
    }

    #[test]
    fn bridge_fixed_host_port_is_reserved_on_the_node() {
        for mode in [Some("bridge"), None] {
            let t = ok(
                mode,
                &[
                    json!([{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81, "hostPort": 81, "protocol": "udp"}]),
                ],
            );
            assert_eq!(
                ports(&t, 0),
                [port(80, Some(8080), "TCP", None), port(81, Some(81), "UDP", None)],
                "{mode:?}"
            );
            assert!(port_notes(&t).is_empty(), "{mode:?}: {:?}", t.report.notes);
            // The security stage counts the node port (Pod Security baseline forbids host ports).
            assert!(
                t.report
                    .notes
                    .iter()
                    .any(|n| n.field == "containerDefinitions[0].portMappings"
                        && n.message.contains("hostPort 8080")),
                "{:?}",
                t.report.notes
            );
        }
    }

    #[test]
    fn bridge_dynamic_host_ports_are_noted() {
        for mode in [Some("bridge"), None] {
            let t = ok(
                mode,
                &[json!([{"containerPort": 80, "hostPort": 0}, {"containerPort": 81}])],
            );
            assert_eq!(
                ports(&t, 0),
                [port(80, None, "TCP", None), port(81, None, "TCP", None)]
            );
            let notes = port_notes(&t);
            let fields: Vec<(&str, NoteKind)> = notes.iter().map(|n| (n.field.as_str(), n.kind)).collect();
            assert_eq!(
                fields,
                [
                    (
                        "containerDefinitions[0].portMappings[0].hostPort",
                        NoteKind::Approximated
                    ),
                    ("containerDefinitions[0].portMappings[1]", NoteKind::Approximated)
                ],
                "{mode:?}"
            );
            assert!(
                notes[0].message.contains("dynamic") && notes[0].message.contains("port 80"),
                "{}",
                notes[0]
            );
            assert!(notes[1].message.contains("port 81"), "{}", notes[1]);
        }
    }

    #[test]
    fn host_mode_is_host_network_without_host_ports() {
        let t = ok(
            Some("host"),
            &[json!([{"containerPort": 80, "hostPort": 80}, {"containerPort": 8125, "protocol": "udp"}])],
        );
        assert_eq!(spec(&t).host_network, Some(true));
        assert_eq!(
            ports(&t, 0),
            [port(80, None, "TCP", None), port(8125, None, "UDP", None)],
            "Kubernetes defaults hostPort to containerPort with hostNetwork"
        );
        assert!(port_notes(&t).is_empty(), "{:?}", t.report.notes);
    }

    #[test]
    fn none_mode_allows_no_port_mappings() {
        let e = err(Some("none"), &[json!([]), json!([{"containerPort": 80}])]);
        assert!(
            e.starts_with(
                "spec.containerDefinitions[1].portMappings: networkMode none allows no port mappings"
            ),
            "{e}"
        );
        let t = ok(Some("none"), &[json!([])]);
        assert!(ports(&t, 0).is_empty());
    }

    #[test]
    fn one_node_port_is_bound_once_per_pod() {
        let e = err(
            Some("bridge"),
            &[
                json!([{"containerPort": 80, "hostPort": 8080}]),
                json!([{"containerPort": 81, "hostPort": 8080}]),
            ],
        );
        assert!(
            e.starts_with("spec.containerDefinitions[1].portMappings[0].hostPort: node port 8080/TCP is already mapped by containerDefinitions[0].portMappings[0]"),
            "{e}"
        );
        let e = err(
            Some("host"),
            &[json!([{"containerPort": 80}]), json!([{"containerPort": 80}])],
        );
        assert!(
            e.starts_with("spec.containerDefinitions[1].portMappings[0].containerPort: node port 80/TCP"),
            "{e}"
        );
        // Other protocols, or their own IPs, do not collide.
        ok(
            Some("bridge"),
            &[
                json!([{"containerPort": 80, "hostPort": 8080}]),
                json!([{"containerPort": 80, "hostPort": 8080, "protocol": "udp"}]),
            ],
        );
        ok(
            Some("awsvpc"),
            &[json!([{"containerPort": 80}]), json!([{"containerPort": 81}])],
        );
    }

    #[test]
    fn a_port_is_in_one_mapping_for_one_protocol() {
        let e = err(
            Some("awsvpc"),
            &[json!([{"containerPort": 53}, {"containerPort": 53, "protocol": "udp"}])],
        );
        assert_eq!(
            e,
            "spec.containerDefinitions[0].portMappings[1].containerPort: port 53 is already exposed over TCP by portMappings[0]; ECS exposes a container port for one protocol only"
        );
        let e = err(
            Some("awsvpc"),
            &[json!([{"containerPort": 80}, {"containerPort": 80, "name": "again"}])],
        );
        assert!(e.starts_with("spec.containerDefinitions[0].portMappings[1].containerPort: port 80 overlap port 80 of portMappings[0]"), "{e}");
    }

    #[test]
    fn ports_are_checked() {
        let e = err(Some("awsvpc"), &[json!([{"containerPort": 0}])]);
        assert_eq!(
            e,
            "spec.containerDefinitions[0].portMappings[0].containerPort: 0 is out of range; ECS accepts 1 to 65535"
        );
        let e = err(
            Some("bridge"),
            &[json!([{"containerPort": 80, "hostPort": 70000}])],
        );
        assert_eq!(
            e,
            "spec.containerDefinitions[0].portMappings[0].hostPort: 70000 is out of range; ECS accepts 0 to 65535"
        );
        let e = err(Some("awsvpc"), &[json!([{"protocol": "tcp"}])]);
        assert!(
            e.starts_with("spec.containerDefinitions[0].portMappings[0].containerPort: required"),
            "{e}"
        );
        let e = err(
            Some("awsvpc"),
            &[json!([{"containerPort": 80, "containerPortRange": "80-90"}])],
        );
        assert!(
            e.starts_with(
                "spec.containerDefinitions[0].portMappings[0].containerPortRange: give containerPort or"
            ),
            "{e}"
        );
    }

    #[test]
    fn small_ranges_become_one_port_each() {
        let t = ok(
            Some("awsvpc"),
            &[
                json!([{"containerPortRange": "8000-8002", "protocol": "udp"}, {"containerPort": 80, "name": "http"}]),
            ],
        );
        assert_eq!(
            ports(&t, 0),
            [
                port(8000, None, "UDP", None),
                port(8001, None, "UDP", None),
                port(8002, None, "UDP", None),
                port(80, None, "TCP", Some("http"))
            ]
        );
        assert!(port_notes(&t).is_empty(), "{:?}", t.report.notes);
        // With bridge, ECS would have mapped a dynamic host range.
        let t = ok(
            Some("bridge"),
            &[json!([{"containerPortRange": "8000-8001", "name": "range"}])],
        );
        assert_eq!(
            ports(&t, 0),
            [port(8000, None, "TCP", None), port(8001, None, "TCP", None)]
        );
        let notes: Vec<(&str, NoteKind)> = port_notes(&t)
            .iter()
            .map(|n| (n.field.as_str(), n.kind))
            .collect();
        assert_eq!(
            notes,
            [
                ("containerDefinitions[0].portMappings[0].name", NoteKind::Ignored),
                (
                    "containerDefinitions[0].portMappings[0].containerPortRange",
                    NoteKind::Approximated
                )
            ]
        );
        // Up to the cap, across the container's ranges.
        let t = ok(
            Some("awsvpc"),
            &[json!([{"containerPortRange": "1000-1049"}, {"containerPortRange": "2000-2049"}])],
        );
        assert_eq!(ports(&t, 0).len(), 100);
    }

    #[test]
    fn large_ranges_are_reported_not_listed() {
        let t = ok(
            Some("awsvpc"),
            &[
                json!([{"containerPortRange": "1000-1099"}, {"containerPortRange": "2000-2001"}, {"containerPort": 80}]),
            ],
        );
        assert_eq!(ports(&t, 0), [port(80, None, "TCP", None)], "single ports stay");
        let notes = port_notes(&t);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert_eq!(
            notes[0].field,
            "containerDefinitions[0].portMappings[0].containerPortRange"
        );
        assert_eq!(notes[0].kind, NoteKind::Approximated);
        assert!(
            notes[0]
                .message
                .starts_with("ports 1000-1099 not listed: the container's ranges cover 102 ports"),
            "{}",
            notes[0]
        );
    }

    #[test]
    fn bad_ranges_are_errors() {
        for text in [
            "8000",
            "8000-",
            "-8000",
            "8000-8000",
            "9000-8000",
            "0-10",
            "1-65536",
            "a-b",
            "+1-2",
            " 1-2",
            "1-2-3",
            "",
        ] {
            let e = err(Some("awsvpc"), &[json!([{"containerPortRange": text}])]);
            assert!(
                e.starts_with(&format!("spec.containerDefinitions[0].portMappings[0].containerPortRange: {text:?} is not a port range")),
                "{text:?}: {e}"
            );
        }
        let e = err(
            Some("awsvpc"),
            &[json!([{"containerPortRange": "8000-8010"}, {"containerPortRange": "8010-8020"}])],
        );
        assert_eq!(
            e,
            "spec.containerDefinitions[0].portMappings[1].containerPortRange: ports 8010-8020 overlap ports 8000-8010 of portMappings[0]; a port can be in one port mapping of a container only, and ranges may not overlap"
        );
        let e = err(
            Some("awsvpc"),
            &[json!([{"containerPortRange": "8000-8010"}, {"containerPort": 8005, "protocol": "udp"}])],
        );
        assert!(e.starts_with("spec.containerDefinitions[0].portMappings[1].containerPort: port 8005 overlap ports 8000-8010"), "{e}");
        let e = err(
            Some("bridge"),
            &[json!([{"containerPortRange": "8000-8010", "hostPort": 8000}])],
        );
        assert!(e.starts_with("spec.containerDefinitions[0].portMappings[0].hostPort: hostPort cannot be set with containerPortRange"), "{e}");
        let e = err(Some("host"), &[json!([{"containerPortRange": "8000-8010"}])]);
        assert!(e.starts_with("spec.containerDefinitions[0].portMappings[0].containerPortRange: containerPortRange needs networkMode bridge or awsvpc"), "{e}");
        let many: Vec<Value> = (0..=100)
            .map(|k| json!({"containerPortRange": format!("{}-{}", 10_000 + 2 * k, 10_001 + 2 * k)}))
            .collect();
        let e = err(Some("awsvpc"), &[json!(many)]);
        assert_eq!(
            e,
            "spec.containerDefinitions[0].portMappings: 101 containerPortRanges; ECS accepts at most 100 per container"
        );
    }

    #[test]
    fn range_parsing() {
        assert_eq!(parse_range("1-65535"), Some((1, 65_535)));
        assert_eq!(parse_range("8000-8001"), Some((8000, 8001)));
        assert_eq!(parse_range("08000-08001"), Some((8000, 8001)));
        assert_eq!(parse_range("8001-8000"), None);
    }

    #[test]
    fn names_are_mapped_with_notes_and_unique_in_the_pod() {
        let t = ok(
            Some("awsvpc"),
            &[
                json!([{"containerPort": 80, "name": "web_a"}, {"containerPort": 81, "name": "web-a"}, {"containerPort": 82, "name": "8082"}]),
                json!([{"containerPort": 90, "name": "metrics_endpoint_port"}, {"containerPort": 91, "name": "metrics-endpoint-port-2"}]),
            ],
        );
        let names = |i: usize| -> Vec<Option<String>> { ports(&t, i).into_iter().map(|p| p.name).collect() };
        assert_eq!(
            names(0),
            [Some("web-a-2".to_owned()), Some("web-a".to_owned()), None],
            "the valid name keeps it"
        );
        assert_eq!(
            names(1),
            [
                Some("metrics-endpoin".to_owned()),
                Some("metrics-endpo-2".to_owned())
            ]
        );
        let notes: Vec<(&str, NoteKind)> = port_notes(&t)
            .iter()
            .map(|n| (n.field.as_str(), n.kind))
            .collect();
        assert_eq!(
            notes,
            [
                (
                    "containerDefinitions[0].portMappings[0].name",
                    NoteKind::Approximated
                ),
                (
                    "containerDefinitions[0].portMappings[2].name",
                    NoteKind::Approximated
                ),
                (
                    "containerDefinitions[1].portMappings[0].name",
                    NoteKind::Approximated
                ),
                (
                    "containerDefinitions[1].portMappings[1].name",
                    NoteKind::Approximated
                ),
            ]
        );
        assert!(
            port_notes(&t)[0].message.contains("\"web-a-2\""),
            "{}",
            port_notes(&t)[0]
        );
        assert!(
            port_notes(&t)[1].message.contains("dropped"),
            "{}",
            port_notes(&t)[1]
        );
    }

    #[test]
    fn a_name_used_twice_is_an_error() {
        let e = err(
            Some("awsvpc"),
            &[
                json!([{"containerPort": 80, "name": "web"}]),
                json!([{"containerPort": 81, "name": "web"}]),
            ],
        );
        assert!(
            e.starts_with("spec.containerDefinitions[1].portMappings[0].name: \"web\" already names containerDefinitions[0].portMappings[0]"),
            "{e}"
        );
    }

    proptest! {
        #[test]
        fn every_port_name_is_valid_and_unique(names in proptest::collection::vec("[a-zA-Z0-9_.-]{0,20}|[a-z_-]{10,64}|[0-9-]{1,6}[a-z]?", 1..12)) {
            let mut seen = BTreeSet::new();
            let mappings: Vec<Value> = names
                .iter()
                .enumerate()
                .filter(|(_, n)| seen.insert((*n).clone()))
                .map(|(k, n)| json!({"containerPort": 1000 + k, "name": n}))
                .collect();
            let count = mappings.len();
            let (a, b) = mappings.split_at(count / 2);
            let t = ok(Some("awsvpc"), &[json!(a), json!(b)]);
            let ports = all_ports(spec(&t));
            prop_assert_eq!(ports.len(), count);
            let mut unique = BTreeSet::new();
            for (_, p) in &ports {
                if let Some(name) = &p.name {
                    prop_assert!(is_iana_svc_name(name), "{:?}", name);
                    prop_assert!(unique.insert(name.clone()), "{:?} twice", name);
                }
            }
            // Every name that could not be kept or mapped is reported.
            let named = ports.iter().filter(|(_, p)| p.name.is_some()).count();
            let changed = port_notes(&t).len();
            let kept = names.iter().filter(|n| is_iana_svc_name(n)).collect::<BTreeSet<_>>().len();
            prop_assert_eq!(kept + changed, count);
            prop_assert!(named >= kept);
        }

    }

    #[test]
    fn app_protocols_are_kept_for_services() {
        let t = ok(
            Some("awsvpc"),
            &[json!([
                {"containerPort": 80, "name": "web", "appProtocol": "http"},
                {"containerPort": 81, "name": "h2", "appProtocol": "http2"},
                {"containerPort": 9090, "appProtocol": "grpc"}
            ])],
        );
        let v: Value = serde_json::from_str(annotation(&t, APP_PROTOCOLS_ANNOTATION).expect("annotation"))
            .expect("json");
        assert_eq!(
            v,
            json!({"web": "http", "h2": "kubernetes.io/h2c", "9090": "kubernetes.io/h2c"})
        );
        let notes = port_notes(&t);
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert!(
            notes
                .iter()
                .all(|n| n.kind == NoteKind::Approximated && n.field.ends_with(".appProtocol"))
        );
        assert!(notes[2].message.contains("gRPC"), "{}", notes[2]);
        let t = ok(Some("awsvpc"), &[json!([{"containerPort": 80}])]);
        assert_eq!(annotation(&t, APP_PROTOCOLS_ANNOTATION), None);
    }

    // The corpus (../shared/corpus/ecs, or $ECS_CORPUS_DIR), through `import` as users do.
    #[test]
    fn corpus_port_mappings_translate() {
        let files = crate::translate::testing::corpus_files("taskdef-");
        assert!(files.len() >= 30, "{} corpus task definitions", files.len());
        let mut with_ports = 0;
        for file in &files {
            let result = import_file(file, &ImportOptions::default());
            for td in result.objects.into_iter().filter_map(|o| match o {
                Imported::TaskDefinition(td) => Some(td.spec.task_definition),
                _ => None,
            }) {
                let t = match pod_template("corpus", &td, 1) {
                    Ok(t) => t,
                    // spinnaker's placeholder is refused for its cpu, as ECS would.
                    Err(e) if e.to_string().starts_with("spec.cpu") => continue,
                    Err(e) => panic!("{}: {e}", file.display()),
                };
                for n in &t.report.notes {
                    assert!(
                        !(n.kind == NoteKind::NotYetTranslated && n.field.contains(".portMappings")),
                        "{}: {n}",
                        file.display()
                    );
                }
                let ports = all_ports(spec(&t));
                with_ports += usize::from(!ports.is_empty());
                let mut names = BTreeSet::new();
                for (c, p) in &ports {
                    if let Some(name) = &p.name {
                        assert!(is_iana_svc_name(name), "{}: {c}: {name:?}", file.display());
                        assert!(names.insert(name.clone()), "{}: {name:?} twice", file.display());
                    }
                    if p.host_port.is_some() {
                        assert!(
                            matches!(
                                td.network_mode,
                                None | Some(NetworkMode::Bridge | NetworkMode::Host)
                            ),
                            "{}: {c}: hostPort with {:?}",
                            file.display(),
                            td.network_mode
                        );
                    }
                }
            }
        }
        assert!(
            with_ports >= 15,
            "{with_ports} corpus task definitions with ports"
        );
    }

    #[test]
    fn corpus_network_modes() {
        use crate::translate::testing::corpus_task_definition;
        let t = |name: &str| {
            pod_template("corpus", &corpus_task_definition(name), 1).unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        // Unset networkMode is bridge (NAT on Windows): hostPort 0 is dynamic, a fixed one reserved.
        let dynamic = t("taskdef-ec2-minimal-dynamic-hostport.json");
        assert_eq!(ports(&dynamic, 0), [port(9090, None, "TCP", None)]);
        assert_eq!(
            port_notes(&dynamic)[0].field,
            "containerDefinitions[0].portMappings[0].hostPort"
        );
        let windows = t("taskdef-ecsagent-windows-gmsa-credentialspec.json");
        assert_eq!(ports(&windows, 0), [port(80, Some(8080), "TCP", None)]);
        let host = t("taskdef-ecspresso-daemon-secrets-ssm-asm.json");
        assert_eq!(spec(&host).host_network, Some(true));
        assert_eq!(
            all_ports(spec(&host))
                .into_iter()
                .map(|(_, p)| p)
                .collect::<Vec<_>>(),
            [port(80, None, "TCP", None)]
        );
        let xray = t("taskdef-xray-daemon-sidecar-udp.json");
        assert!(port_notes(&xray).is_empty(), "{:?}", xray.report.notes);
        assert!(
            all_ports(spec(&xray))
                .iter()
                .any(|(_, p)| *p == port(2000, None, "UDP", None))
        );
    }
}
