//! Container cpu and memory → resource requests and limits.

use std::collections::BTreeMap;

use k8s_openapi::{api::core::v1::ResourceRequirements, apimachinery::pkg::api::resource::Quantity};

use super::{Build, PodError};
use crate::api::ecs::ContainerDefinition;

/// Fields this module translates.
pub(super) const HANDLED: &[&str] = &[
    "containerDefinitions[].cpu",
    "containerDefinitions[].memory",
    "containerDefinitions[].memoryReservation",
];

/// 1024 ECS cpu units = 1 vCPU = 1000 millicores (rounded to the nearest millicore, at least 1).
#[must_use]
pub fn cpu_units_to_millis(units: i32) -> i64 {
    let units = i64::from(units.max(0));
    ((units * 1000 + 512) / 1024).max(i64::from(units > 0))
}

/// Container cpu → request (ECS cpu is a share, not a cap); `memory` → limit (and request when
/// there is no `memoryReservation`); `memoryReservation` → request.
pub(super) fn resources(c: &ContainerDefinition) -> Option<ResourceRequirements> {
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    if let Some(cpu) = c.cpu.filter(|c| *c > 0) {
        requests.insert(
            "cpu".to_owned(),
            Quantity(format!("{}m", cpu_units_to_millis(cpu))),
        );
    }
    if let Some(mem) = c.memory.filter(|m| *m > 0) {
        limits.insert("memory".to_owned(), Quantity(format!("{mem}Mi")));
        requests.insert("memory".to_owned(), Quantity(format!("{mem}Mi")));
    }
    if let Some(res) = c.memory_reservation.filter(|m| *m > 0) {
        requests.insert("memory".to_owned(), Quantity(format!("{res}Mi")));
    }
    (!requests.is_empty() || !limits.is_empty()).then(|| ResourceRequirements {
        requests: (!requests.is_empty()).then_some(requests),
        limits: (!limits.is_empty()).then_some(limits),
        ..ResourceRequirements::default()
    })
}

/// Applies task-level sizes. (Container-level cpu and memory are set with each container.)
#[allow(clippy::unnecessary_wraps)]
pub(super) fn apply(_b: &mut Build<'_>) -> Result<(), PodError> {
    Ok(())
}
