//! Load balancers.
//!
//! Each `loadBalancers[]` entry with a `targetGroupArn` names the container port ECS registers in
//! that target group (`containerName` and `containerPort` must match a `containerPort` mapping of
//! that container, as ECS requires; otherwise an error naming `loadBalancers[i].containerPort`).
//! The entries become:
//!
//! * one Kubernetes Service `<service>-lb` selecting the tasks, with one port per distinct
//!   container port and protocol (`port` = `targetPort` = the container port, named after the
//!   container port's Kubernetes name, else `tcp-<port>`/`udp-<port>`, an `IANA_SVC_NAME`; the
//!   `appProtocol` the task definition gave the port, if any);
//! * one `TargetGroupBinding` (`elbv2.k8s.aws/v1beta1`) per target group, named
//!   `<service>.<target group name>` (lower case), with `spec.targetGroupARN`,
//!   `spec.serviceRef {name: <service>-lb, port: <port name>}` and `spec.targetType`: the AWS
//!   Load Balancer Controller then registers the tasks in the existing target group, so an
//!   existing ALB or NLB can send traffic to the cluster during a migration.
//!
//! `targetType` follows the task definition's network mode, since a target group's type is
//! fixed when it is created and ECS requires the type that matches the mode:
//!
//! | `networkMode` | ECS registers | `targetType` | the Service |
//! |---|---|---|---|
//! | `awsvpc` | task IP : `containerPort` | `ip`: the pods' IPs and container ports (pods must have VPC IPs, as with the Amazon VPC CNI) | `ClusterIP` |
//! | `bridge`, `host`, or unset | instance : host port | `instance`: every node, on the Service's node port | `NodePort` (the node port is allocated by Kubernetes; the target group's health check must use the traffic port) |
//!
//! With `instance`, the load balancer reaches any node and kube-proxy forwards to a task, where
//! ECS registered only the instances running one: the report says so.
//!
//! At most 5 target groups (ECS's limit), each once; past that, an error. `loadBalancerName` (a
//! Classic Load Balancer, which `TargetGroupBinding` cannot bind), `advancedConfiguration`
//! (blue/green target group pairs) and the service's `role` are reported, not carried.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::{
    api::core::v1::{Service as CoreService, ServicePort, ServiceSpec as CoreServiceSpec},
    apimachinery::pkg::{apis::meta::v1::ObjectMeta, util::intstr::IntOrString},
};

use super::{
    LOAD_BALANCER_SUFFIX, MAX_TARGET_GROUPS, NetworkError, bad, derived_name,
    ports::{PodPorts, container_port, core_service, service_port},
};
use crate::{
    api::{
        ecs::{LoadBalancer, NetworkMode},
        external::{ServiceReference, TargetGroupBinding, TargetGroupBindingSpec, TargetType},
    },
    translate::{NoteKind, Report},
};

/// The name of a target group from its ARN
/// (`arn:<partition>:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>`).
pub(super) fn target_group_name(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, _partition, service, _region, _account, resource] = parts.as_slice() else {
        return None;
    };
    if *prefix != "arn" || *service != "elasticloadbalancing" {
        return None;
    }
    let mut rest = resource.strip_prefix("targetgroup/")?.split('/');
    let (name, id) = (rest.next()?, rest.next()?);
    let valid = (1..=32).contains(&name.len())
        && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !id.is_empty()
        && rest.next().is_none();
    valid.then_some(name)
}

/// `loadBalancers` → the load balancer Service and a TargetGroupBinding per target group;
/// `None` when no entry has a target group.
#[allow(clippy::type_complexity)]
pub(super) fn load_balancing(
    name: &str,
    entries: &[LoadBalancer],
    ports: &PodPorts<'_>,
    report: &mut Report,
    meta: &dyn Fn(&str) -> ObjectMeta,
) -> Result<Option<(CoreService, Vec<TargetGroupBinding>)>, NetworkError> {
    let target_type = match ports.mode() {
        Some(NetworkMode::Awsvpc) => TargetType::Ip,
        _ => TargetType::Instance,
    };
    let mut service_ports: Vec<ServicePort> = Vec::new();
    let mut port_names = BTreeSet::new();
    // (port, protocol) → the Service port's name.
    let mut exposed: BTreeMap<(i32, &'static str), String> = BTreeMap::new();
    // Target group ARN → its entry; TargetGroupBinding name → its entry.
    let mut arns: BTreeMap<&str, usize> = BTreeMap::new();
    let mut binding_names: BTreeMap<String, usize> = BTreeMap::new();
    let mut bindings = Vec::new();
    let mut lb_name: Option<String> = None;
    for (i, lb) in entries.iter().enumerate() {
        let field = format!("loadBalancers[{i}]");
        if lb.advanced_configuration.is_some() {
            report.note(
                NoteKind::Ignored,
                format!("{field}.advancedConfiguration"),
                "blue/green deployments are not made: the TargetGroupBinding registers the tasks in \
                 targetGroupArn only, never in the alternate target group, and no listener rule is changed",
            );
        }
        let Some(arn) = lb.target_group_arn.as_deref() else {
            if lb.load_balancer_name.is_some() {
                report.note(
                    NoteKind::Ignored,
                    format!("{field}.loadBalancerName"),
                    "a Classic Load Balancer cannot be bound: TargetGroupBinding binds ALB and NLB \
                     target groups; register the tasks in an ALB or NLB target group (targetGroupArn) \
                     instead",
                );
                continue;
            }
            return Err(bad(
                format!("{field}.targetGroupArn"),
                "required: the ARN of the ALB or NLB target group to register the tasks in",
            ));
        };
        if lb.load_balancer_name.is_some() {
            report.note(
                NoteKind::Ignored,
                format!("{field}.loadBalancerName"),
                "a Classic Load Balancer name with a target group: the target group is bound, the \
                 Classic Load Balancer is not",
            );
        }
        if arns.len() == MAX_TARGET_GROUPS {
            return Err(bad(
                format!("{field}.targetGroupArn"),
                format!("ECS attaches at most {MAX_TARGET_GROUPS} target groups to a service"),
            ));
        }
        let tg = target_group_name(arn).ok_or_else(|| {
            bad(
                format!("{field}.targetGroupArn"),
                format!(
                    "{arn:?} is not a target group ARN; write \
                     arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>"
                ),
            )
        })?;
        if let Some(first) = arns.insert(arn, i) {
            return Err(bad(
                format!("{field}.targetGroupArn"),
                format!("loadBalancers[{first}] attaches this target group already; attach it once"),
            ));
        }
        let mapped = container_port(
            ports,
            &field,
            lb.container_name.as_deref(),
            lb.container_port,
            "required: the container and port ECS registers in the target group",
        )?;
        let port_name = match exposed.get(&(mapped.port, mapped.protocol)) {
            Some(n) => n.clone(),
            None => {
                let sp = service_port(&mapped, mapped.port, false, &mut port_names);
                let n = sp.name.clone().unwrap_or_default();
                exposed.insert((mapped.port, mapped.protocol), n.clone());
                service_ports.push(sp);
                n
            }
        };
        let service_name = match &lb_name {
            Some(n) => n.clone(),
            None => {
                let n = derived_name(name, LOAD_BALANCER_SUFFIX, "load balancer")?;
                lb_name = Some(n.clone());
                n
            }
        };
        let binding = format!("{name}.{}", tg.to_ascii_lowercase());
        if let Some(first) = binding_names.insert(binding.clone(), i) {
            return Err(bad(
                format!("{field}.targetGroupArn"),
                format!(
                    "target group {tg:?} and the one of loadBalancers[{first}] both make the \
                     TargetGroupBinding {binding:?} (names are lower case in Kubernetes); rename one"
                ),
            ));
        }
        if target_type == TargetType::Instance {
            report.note(
                NoteKind::Approximated,
                format!("{field}.targetGroupArn"),
                format!(
                    "target type instance ({}): every node is registered on the node port of \
                     Service {service_name:?}, where ECS registered each task's instance and host \
                     port; kube-proxy forwards to the tasks",
                    match ports.mode() {
                        Some(NetworkMode::Host) => "networkMode host",
                        Some(NetworkMode::Bridge) => "networkMode bridge",
                        _ => "the default network mode",
                    }
                ),
            );
        }
        bindings.push(TargetGroupBinding {
            metadata: meta(&binding),
            spec: TargetGroupBindingSpec {
                target_group_arn: arn.to_owned(),
                target_type: Some(target_type),
                service_ref: ServiceReference {
                    name: service_name,
                    port: IntOrString::String(port_name),
                },
            },
        });
    }
    let Some(lb_name) = lb_name else {
        return Ok(None);
    };
    let service = core_service(
        meta(&lb_name),
        name,
        CoreServiceSpec {
            type_: Some(
                match target_type {
                    TargetType::Ip => "ClusterIP",
                    TargetType::Instance => "NodePort",
                }
                .to_owned(),
            ),
            ports: Some(service_ports),
            ..CoreServiceSpec::default()
        },
    );
    Ok(Some((service, bindings)))
}
