//! Capacity provider strategies (pure): ECS's rules for a `capacityProviderStrategy`, and how a
//! desired count is split over its providers (ecs-reference §2.3).
//!
//! ECS does not publish its rounding. The model here places `base` tasks on the base provider
//! first, then every further task one at a time on the weighted provider whose share would be
//! the smallest after it (`(placed + 1) / weight`), ties going to the earlier item, as
//! ecs-reference §2.3 models it; among the providers that would not go above their proportion
//! rounded up (Balinski and Young's quota method). With two providers, and in every documented
//! example (10 tasks over FARGATE {base 2, weight 1} and FARGATE_SPOT {weight 3}: 4 and 6), the
//! bound changes nothing; with three or more, the plain one-at-a-time model can give a heavy
//! provider more than one task beyond its proportion, which the bound forbids. Being one task at
//! a time, growing the count never takes a task away from a provider.

pub mod cluster;
pub mod headroom;
pub mod instance_requirements;
pub mod moves;
pub mod node_pool;
#[cfg(test)]
mod node_pool_tests;
pub mod provider;
pub mod usage;

use crate::api::ecs::CapacityProviderStrategyItem;

/// Most items a strategy may have (ECS's current limit).
pub const MAX_ITEMS: usize = 20;
/// Largest `weight` ECS accepts.
pub const MAX_WEIGHT: i32 = 1000;
/// Largest `base` ECS accepts.
pub const MAX_BASE: i32 = 100_000;

/// Why a strategy is refused: the field (relative to the strategy's parent, e.g.
/// `capacityProviderStrategy[1].base`) and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct StrategyError {
    /// The field.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl StrategyError {
    /// The error as a Service's message: its field under `spec.`, unless the strategy is the
    /// Namespace's (an annotation, named as such).
    #[must_use]
    pub fn in_service(&self) -> String {
        if self.field.starts_with("the Namespace") {
            self.to_string()
        } else {
            format!("spec.{self}")
        }
    }
}

fn refused(field: impl Into<String>, message: impl Into<String>) -> StrategyError {
    StrategyError {
        field: field.into(),
        message: message.into(),
    }
}

/// Checks `items` (the strategy at `field`, e.g. `capacityProviderStrategy`) against ECS's
/// rules that need nothing but the strategy: 1 to [`MAX_ITEMS`] items, each provider once,
/// weights 0–[`MAX_WEIGHT`] and bases 0–[`MAX_BASE`], at most one item with a base, and at
/// least one positive weight.
///
/// # Errors
/// The first rule broken, naming the item's field.
pub fn validate(field: &str, items: &[CapacityProviderStrategyItem]) -> Result<(), StrategyError> {
    if items.is_empty() {
        return Err(refused(
            field,
            "empty: name at least one capacity provider, or leave the field out",
        ));
    }
    if items.len() > MAX_ITEMS {
        return Err(refused(
            field,
            format!("{} items: ECS accepts at most {MAX_ITEMS}", items.len()),
        ));
    }
    let mut with_base: Option<usize> = None;
    for (i, item) in items.iter().enumerate() {
        let at = |f: &str| format!("{field}[{i}].{f}");
        if item.capacity_provider.trim().is_empty() {
            return Err(refused(
                at("capacityProvider"),
                "required: name a capacity provider",
            ));
        }
        if let Some(j) = items[..i]
            .iter()
            .position(|other| other.capacity_provider == item.capacity_provider)
        {
            return Err(refused(
                at("capacityProvider"),
                format!(
                    "{:?} is already item {j}: name each capacity provider once",
                    item.capacity_provider
                ),
            ));
        }
        let weight = item.weight.unwrap_or(0);
        if !(0..=MAX_WEIGHT).contains(&weight) {
            return Err(refused(
                at("weight"),
                format!("{weight} is out of range; ECS accepts 0 to {MAX_WEIGHT}"),
            ));
        }
        let base = item.base.unwrap_or(0);
        if !(0..=MAX_BASE).contains(&base) {
            return Err(refused(
                at("base"),
                format!("{base} is out of range; ECS accepts 0 to {MAX_BASE}"),
            ));
        }
        if base > 0 {
            if let Some(j) = with_base {
                return Err(refused(
                    at("base"),
                    format!(
                        "item {j} has a base already: ECS allows a base on one item only; set the \
                         others' base to 0"
                    ),
                ));
            }
            with_base = Some(i);
        }
    }
    if items.iter().all(|item| item.weight.unwrap_or(0) == 0) && (items.len() > 1 || with_base.is_none()) {
        return Err(refused(
            field,
            "every weight is 0 (the default): give at least one item a weight above 0, or the tasks \
             beyond the base have nowhere to go",
        ));
    }
    Ok(())
}

/// The built-in Fargate capacity providers (reserved names: they cannot be created, ECS has them
/// in every account).
pub const FARGATE_PROVIDERS: [&str; 2] = ["FARGATE", "FARGATE_SPOT"];

/// Checks a CapacityProvider's name as CreateCapacityProvider does: at most 255 letters, digits,
/// `_` and `-`, not starting with `aws`, `ecs` or `fargate` (in any case; the built-in FARGATE
/// and FARGATE_SPOT excepted, which the chart installs).
///
/// # Errors
/// What is wrong with the name and how to fix it.
pub fn validate_provider_name(name: &str) -> Result<(), String> {
    if FARGATE_PROVIDERS.contains(&name) {
        return Ok(());
    }
    if name.is_empty() || name.len() > 255 {
        return Err(format!("{name:?}: give 1 to 255 characters"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "{name:?}: {bad:?} is not allowed; ECS accepts letters, digits, '_' and '-'"
        ));
    }
    let lower = name.to_ascii_lowercase();
    if let Some(prefix) = ["aws", "ecs", "fargate"]
        .into_iter()
        .find(|p| lower.starts_with(p))
    {
        return Err(format!(
            "{name:?} starts with {prefix:?}, which ECS reserves for its own providers; choose another name"
        ));
    }
    Ok(())
}

/// What a capacity provider is, for the rule that a strategy does not mix kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// FARGATE or FARGATE_SPOT.
    Fargate,
    /// An Auto Scaling group provider (`autoScalingGroupProvider`).
    AutoScalingGroup,
    /// An ECS Managed Instances provider (`managedInstancesProvider`).
    ManagedInstances,
}

/// Checks `items` (the strategy at `field`) against the providers that exist: `lookup` gives a
/// provider's kind and whether it is ACTIVE (or UPDATING), `None` when there is no such
/// provider. ECS's rules: every provider exists and is active, and Fargate providers are not
/// mixed with Auto Scaling group providers.
///
/// # Errors
/// The first rule broken, naming the item's field.
pub fn validate_providers(
    field: &str,
    items: &[CapacityProviderStrategyItem],
    lookup: impl Fn(&str) -> Option<(ProviderKind, bool)>,
) -> Result<(), StrategyError> {
    let mut kinds: Vec<(usize, ProviderKind)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("{field}[{i}].capacityProvider");
        let name = &item.capacity_provider;
        match lookup(name) {
            None => {
                return Err(refused(
                    at,
                    format!(
                        "no CapacityProvider {name:?}: create it (kubectl get ecscp lists them) or name another"
                    ),
                ));
            }
            Some((_, false)) => {
                return Err(refused(
                    at,
                    format!("CapacityProvider {name:?} is not ACTIVE (it is being deleted): name another"),
                ));
            }
            Some((kind, true)) => kinds.push((i, kind)),
        }
    }
    let fargate = kinds.iter().find(|(_, k)| *k == ProviderKind::Fargate);
    let asg = kinds.iter().find(|(_, k)| *k == ProviderKind::AutoScalingGroup);
    if let (Some((f, _)), Some((a, _))) = (fargate, asg) {
        let later = (*f).max(*a);
        return Err(refused(
            format!("{field}[{later}].capacityProvider"),
            format!(
                "{:?} and {:?}: ECS does not mix Fargate and Auto Scaling group providers in one \
                 strategy; use one kind",
                items[*f].capacity_provider, items[*a].capacity_provider
            ),
        ));
    }
    Ok(())
}

/// How many of `desired` tasks each item of `items` (a valid strategy, [`validate`]) runs, in
/// the items' order (see the module docs).
#[must_use]
pub fn split(desired: u32, items: &[CapacityProviderStrategyItem]) -> Vec<u32> {
    let mut out = vec![0_u32; items.len()];
    let mut remaining = desired;
    if let Some((b, item)) = items.iter().enumerate().find(|(_, i)| i.base.unwrap_or(0) > 0) {
        let base = u32::try_from(item.base.unwrap_or(0)).unwrap_or(0);
        out[b] = base.min(remaining);
        remaining -= out[b];
    }
    let weights: Vec<u64> = items
        .iter()
        .map(|i| u64::try_from(i.weight.unwrap_or(0).max(0)).unwrap_or(0))
        .collect();
    if weights.iter().all(|w| *w == 0) {
        // (Only a single base item with weight 0: it runs everything; validate refuses others.)
        if let Some(first) = out.first_mut() {
            *first += remaining;
        }
        return out;
    }
    let total: u64 = weights.iter().sum();
    let mut placed = vec![0_u64; items.len()];
    for t in 1..=u64::from(remaining) {
        // The item whose share (placed + 1) / weight is the smallest; ties to the earlier one.
        // Compared as fractions: (a + 1) / wa < (b + 1) / wb ⇔ (a + 1) × wb < (b + 1) × wa.
        // Only items that stay within their upper quota for `t` weighted tasks may take it:
        // placed + 1 ≤ ⌈t × w / W⌉ ⇔ t × w > placed × W.
        let mut best: Option<usize> = None;
        for (i, w) in weights
            .iter()
            .enumerate()
            .filter(|(i, w)| **w > 0 && t * **w > placed[*i] * total)
        {
            best = match best {
                Some(j) if (placed[j] + 1) * w <= (placed[i] + 1) * weights[j] => Some(j),
                _ => Some(i),
            };
        }
        let Some(i) = best else { break };
        placed[i] += 1;
        out[i] += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn item(provider: &str, base: i32, weight: i32) -> CapacityProviderStrategyItem {
        CapacityProviderStrategyItem {
            capacity_provider: provider.to_owned(),
            base: Some(base),
            weight: Some(weight),
        }
    }

    #[test]
    fn the_documented_examples() {
        // ecs-reference §2.3: base 2 to FARGATE, then 8 split 1:3.
        let fargate = [item("FARGATE", 2, 1), item("FARGATE_SPOT", 0, 3)];
        assert_eq!(split(10, &fargate), [4, 6]);
        // Weights 1 and 1: even. Weights 1 and 4: 4 on B for each 1 on A.
        assert_eq!(split(10, &[item("a", 0, 1), item("b", 0, 1)]), [5, 5]);
        assert_eq!(split(10, &[item("a", 0, 1), item("b", 0, 4)]), [2, 8]);
        // Fewer tasks than the base: all on the base provider.
        assert_eq!(split(1, &fargate), [1, 0]);
        // A weight-0 item gets its base only.
        assert_eq!(split(7, &[item("a", 3, 0), item("b", 0, 1)]), [3, 4]);
        // Ties go to the earlier item.
        assert_eq!(split(1, &[item("a", 0, 1), item("b", 0, 1)]), [1, 0]);
        assert_eq!(split(0, &fargate), [0, 0]);
    }

    #[test]
    fn ecs_rules_are_enforced_naming_the_field() {
        let f = "capacityProviderStrategy";
        let err =
            |items: &[CapacityProviderStrategyItem]| validate(f, items).expect_err("refused").to_string();
        assert!(validate(f, &[item("FARGATE", 2, 1), item("FARGATE_SPOT", 0, 3)]).is_ok());
        assert!(
            validate(f, &[item("FARGATE", 1, 0)]).is_ok(),
            "one item: its base"
        );
        assert!(err(&[]).starts_with("capacityProviderStrategy: empty"));
        assert!(
            err(&[item("a", 1, 1), item("b", 2, 1)])
                .starts_with("capacityProviderStrategy[1].base: item 0 has a base already")
        );
        assert!(err(&[item("a", 0, 0), item("b", 0, 0)]).contains("every weight is 0"));
        assert!(err(&[item("a", 0, 0)]).contains("every weight is 0"));
        assert!(
            err(&[item("a", 0, 1001)])
                .starts_with("capacityProviderStrategy[0].weight: 1001 is out of range")
        );
        assert!(err(&[item("a", -1, 1)]).starts_with("capacityProviderStrategy[0].base: -1 is out of range"));
        assert!(
            err(&[item("a", 0, 1), item("a", 0, 1)])
                .starts_with("capacityProviderStrategy[1].capacityProvider")
        );
        let many: Vec<_> = (0..21).map(|i| item(&format!("p{i}"), 0, 1)).collect();
        assert!(err(&many).contains("at most 20"));
    }

    #[test]
    fn provider_names_follow_create_capacity_provider() {
        assert!(validate_provider_name("spot-pool_1").is_ok());
        assert!(validate_provider_name("FARGATE").is_ok(), "built in");
        for (name, says) in [
            ("ecs-pool", "starts with \"ecs\""),
            ("AWSpool", "starts with \"aws\""),
            ("Fargate2", "starts with \"fargate\""),
            ("pool.a", "'.' is not allowed"),
            ("", "1 to 255"),
        ] {
            let err = validate_provider_name(name).expect_err(name);
            assert!(err.contains(says), "{name}: {err}");
        }
        assert!(validate_provider_name(&"p".repeat(256)).is_err());
    }

    #[test]
    fn providers_must_exist_be_active_and_not_mix_fargate_with_auto_scaling_groups() {
        let lookup = |name: &str| match name {
            "FARGATE" | "FARGATE_SPOT" => Some((ProviderKind::Fargate, true)),
            "asg" => Some((ProviderKind::AutoScalingGroup, true)),
            "mi" => Some((ProviderKind::ManagedInstances, true)),
            "going" => Some((ProviderKind::AutoScalingGroup, false)),
            _ => None,
        };
        let f = "capacityProviderStrategy";
        assert!(validate_providers(f, &[item("FARGATE", 2, 1), item("FARGATE_SPOT", 0, 3)], lookup).is_ok());
        let err = |items: &[CapacityProviderStrategyItem]| {
            validate_providers(f, items, lookup)
                .expect_err("refused")
                .to_string()
        };
        assert!(
            err(&[item("nope", 0, 1)])
                .starts_with("capacityProviderStrategy[0].capacityProvider: no CapacityProvider \"nope\"")
        );
        assert!(err(&[item("going", 0, 1)]).contains("is not ACTIVE"));
        let mixed = err(&[item("FARGATE", 0, 1), item("asg", 0, 1)]);
        assert!(
            mixed.starts_with("capacityProviderStrategy[1].capacityProvider: \"FARGATE\" and \"asg\""),
            "{mixed}"
        );
    }

    prop_compose! {
        /// A valid strategy of 1 to 6 items: weights 0–10 (at least one positive), a base on at
        /// most one item.
        fn strategy()(
            weights in prop::collection::vec(0..=10_i32, 1..=6),
            base in 0..=12_i32,
            base_at in 0..6_usize,
            bump in 0..6_usize,
        ) -> Vec<CapacityProviderStrategyItem> {
            let n = weights.len();
            let mut items: Vec<_> = weights
                .iter()
                .enumerate()
                .map(|(i, w)| item(&format!("p{i}"), 0, *w))
                .collect();
            if items.iter().all(|i| i.weight == Some(0)) {
                items[bump % n].weight = Some(1);
            }
            items[base_at % n].base = Some(base);
            items
        }
    }

    proptest! {
        /// The laws of the split: every task is placed; the base comes first; a weight-0 item
        /// gets only its base; each weighted share is within one task of its exact proportion;
        /// and growing the count never takes a task away from a provider.
        #[test]
        fn the_split_follows_ecs(items in strategy(), desired in 0..200_u32) {
            prop_assert!(validate("s", &items).is_ok());
            let out = split(desired, &items);
            prop_assert_eq!(out.iter().sum::<u32>(), desired);
            let base_of = |i: usize| u32::try_from(items[i].base.unwrap_or(0)).unwrap_or(0);
            let based = (0..items.len()).find(|i| base_of(*i) > 0);
            let on_base = based.map_or(0, |b| base_of(b).min(desired));
            if let Some(b) = based {
                prop_assert!(out[b] >= on_base);
            }
            let rest = f64::from(desired - on_base);
            let total: i32 = items.iter().map(|i| i.weight.unwrap_or(0)).sum();
            for (i, it) in items.iter().enumerate() {
                let own_base = if Some(i) == based { on_base } else { 0 };
                let weighted = f64::from(out[i] - own_base);
                let w = it.weight.unwrap_or(0);
                if w == 0 {
                    prop_assert_eq!(out[i], own_base);
                } else {
                    let exact = rest * f64::from(w) / f64::from(total);
                    prop_assert!((weighted - exact).abs() <= 1.0, "{i}: {weighted} vs {exact}");
                }
            }
            let next = split(desired + 1, &items);
            prop_assert!(next.iter().zip(&out).all(|(n, o)| n >= o), "{:?} then {:?}", out, next);
        }
    }
}
