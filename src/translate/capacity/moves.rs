//! Moving a Service's tasks between its per-provider Deployments within ECS's deployment bounds,
//! counted over the whole Service (pure).
//!
//! A Service split over capacity providers runs one Deployment per provider. Kubernetes keeps
//! each Deployment within its own `maxSurge`/`maxUnavailable`, but ECS's bounds
//! (`minimumHealthyPercent`, `maximumPercent`, ecs-reference §2.4) are over the whole Service.
//! Two kinds of change move tasks across Deployments, and each is kept within the Service's
//! bounds here:
//!
//! - **A move of counts** ([`step`]): a change of strategy (UpdateService allows it in place),
//!   or the switch between one plain Deployment and per-provider ones, gives each Deployment a
//!   new target count. Deployments that grow start tasks while the Service stays at most
//!   `desired + maxSurge` tasks; those that shrink stop tasks that are not available first (the
//!   ReplicaSet controller deletes not-ready pods first), and available ones only while the
//!   Service keeps at least `desired − maxUnavailable` available. Each reconcile takes one step,
//!   as Kubernetes' own Deployment controller does between its ReplicaSets.
//! - **A new pod template** ([`budgets`]): every Deployment rolls, each within its share of
//!   the Service's `maxSurge` and `maxUnavailable`, the shares never adding up to more. A
//!   Deployment whose share would be nothing waits (paused) until one that rolls has finished
//!   and freed its share, in strategy order.
//!
//! A change of the desired count alone (`kubectl scale`, an autoscaler) is not a deployment in
//! ECS and is not bounded: every Deployment goes to its new count at once ([`step`] sees that
//! no Deployment moves against the others).

/// One Deployment of a Service, as [`step`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Slot {
    /// Its `spec.replicas` now (0 for a Deployment not created yet).
    pub replicas: u32,
    /// Its available tasks (`status.availableReplicas`; at most `replicas` counts).
    pub available: u32,
    /// The count the split gives it (0 for a Deployment no longer wanted).
    pub target: u32,
}

/// The Service's bounds during a deployment, in tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bounds {
    /// The desired count.
    pub desired: u32,
    /// Tasks that may run beyond it: `floor(desired × maximumPercent / 100) − desired`.
    pub max_surge: u32,
    /// Tasks that may be unavailable below it: `desired − ceil(desired × minimumHealthyPercent / 100)`.
    pub max_unavailable: u32,
}

/// Whether going from each slot's `replicas` to its `target` is a change of count only: no
/// Deployment moves against the others (all grow or stay, or all shrink or stay).
#[must_use]
pub fn scale_only(slots: &[Slot]) -> bool {
    slots.iter().all(|s| s.target >= s.replicas) || slots.iter().all(|s| s.target <= s.replicas)
}

/// Whether every slot is at its target.
#[must_use]
pub fn settled(slots: &[Slot]) -> bool {
    slots.iter().all(|s| s.replicas == s.target)
}

/// The replicas of each slot after one step towards the targets within `bounds` (see the
/// module docs). A change of count only goes to the targets at once.
#[must_use]
pub fn step(slots: &[Slot], bounds: Bounds) -> Vec<u32> {
    if scale_only(slots) {
        return slots.iter().map(|s| s.target).collect();
    }
    let total: u32 = slots.iter().map(|s| s.replicas).sum();
    let available: u32 = slots.iter().map(|s| s.available.min(s.replicas)).sum();
    let mut out: Vec<u32> = slots.iter().map(|s| s.replicas).collect();
    // Start: up to desired + maxSurge tasks in all, growing slots in order.
    let mut room = (bounds.desired + bounds.max_surge).saturating_sub(total);
    for (i, s) in slots.iter().enumerate().filter(|(_, s)| s.target > s.replicas) {
        let n = (s.target - s.replicas).min(room);
        out[i] += n;
        room -= n;
    }
    // Stop: unavailable tasks freely, available ones while desired − maxUnavailable stay.
    let mut spare = available.saturating_sub(bounds.desired.saturating_sub(bounds.max_unavailable));
    for (i, s) in slots.iter().enumerate().filter(|(_, s)| s.target < s.replicas) {
        let excess = s.replicas - s.target;
        let unavailable = s.replicas - s.available.min(s.replicas);
        let free = excess.min(unavailable);
        let paid = (excess - free).min(spare);
        spare -= paid;
        out[i] -= free + paid;
    }
    out
}

/// One Deployment's share of the Service's bounds while a new pod template rolls out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Share {
    /// Roll with this `maxSurge` and `maxUnavailable` (not both 0).
    Roll {
        /// The Deployment's `maxSurge`.
        max_surge: u32,
        /// The Deployment's `maxUnavailable`.
        max_unavailable: u32,
    },
    /// Wait, paused, for another Deployment to finish and free its share.
    Wait,
}

/// The shares of `bounds` for Deployments with `replicas` each, of which those with `rolling`
/// set have a pod template to roll out, in strategy order: each rolling Deployment in turn takes
/// what it can use of what is left (`maxSurge` and `maxUnavailable` up to its own count); one
/// left with nothing waits. A Deployment that does not roll (or has no task) takes the share it
/// would have if every Deployment rolled, so that a Service at rest keeps the same strategies.
#[must_use]
pub fn budgets(replicas: &[u32], rolling: &[bool], bounds: Bounds) -> Vec<Share> {
    let greedy = |take: &[bool]| {
        let (mut surge, mut unavailable) = (bounds.max_surge, bounds.max_unavailable);
        replicas
            .iter()
            .zip(take)
            .map(|(&n, &takes)| {
                if !takes || n == 0 {
                    return None;
                }
                let s = surge.min(n);
                let u = unavailable.min(n);
                surge -= s;
                unavailable -= u;
                (s + u > 0).then_some((s, u))
            })
            .collect::<Vec<_>>()
    };
    let at_rest = greedy(&vec![true; replicas.len()]);
    let now = greedy(rolling);
    replicas
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let share = if rolling.get(i).copied().unwrap_or(false) && n > 0 {
                match now[i] {
                    Some(share) => share,
                    None => return Share::Wait,
                }
            } else {
                // (Nothing to roll: any valid share; the one it has at rest, else 0 and 1.)
                at_rest[i].unwrap_or((0, 1))
            };
            Share::Roll {
                max_surge: share.0,
                max_unavailable: share.1,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn slot(replicas: u32, available: u32, target: u32) -> Slot {
        Slot {
            replicas,
            available,
            target,
        }
    }

    fn bounds(desired: u32, max_surge: u32, max_unavailable: u32) -> Bounds {
        Bounds {
            desired,
            max_surge,
            max_unavailable,
        }
    }

    #[test]
    fn a_change_of_count_goes_at_once() {
        // kubectl scale 10 → 20 over FARGATE {base 2, weight 1} / FARGATE_SPOT {weight 3}.
        let slots = [slot(4, 4, 7), slot(6, 6, 13)];
        assert_eq!(step(&slots, bounds(20, 0, 0)), [7, 13]);
        let slots = [slot(7, 7, 4), slot(13, 13, 6)];
        assert_eq!(step(&slots, bounds(10, 0, 0)), [4, 6]);
    }

    #[test]
    fn a_strategy_change_moves_within_the_bounds() {
        // 10 tasks 4/6 → 8/2 with 100% / 200%: start 4 first (room 10), stop nothing yet.
        let slots = [slot(4, 4, 8), slot(6, 6, 2)];
        assert_eq!(step(&slots, bounds(10, 10, 0)), [8, 6]);
        // Once they are available, the 4 extra ones stop.
        let slots = [slot(8, 8, 8), slot(6, 6, 2)];
        assert_eq!(step(&slots, bounds(10, 10, 0)), [8, 2]);
        // 50% / 100%: no room to start, 5 may stop first.
        let slots = [slot(4, 4, 8), slot(6, 6, 2)];
        assert_eq!(step(&slots, bounds(10, 0, 5)), [4, 2]);
        // Unavailable tasks stop freely.
        let slots = [slot(4, 4, 8), slot(6, 2, 2)];
        assert_eq!(step(&slots, bounds(10, 0, 0)), [4, 2]);
    }

    #[test]
    fn shares_add_up_to_the_bounds_and_wait_in_turn() {
        let roll = |s, u| Share::Roll {
            max_surge: s,
            max_unavailable: u,
        };
        // 4 + 6 tasks, maxSurge 10: both roll at once.
        assert_eq!(
            budgets(&[4, 6], &[true, true], bounds(10, 10, 0)),
            [roll(4, 0), roll(6, 0)]
        );
        // 1 + 1 tasks, 50% / 100%: one at a time.
        assert_eq!(
            budgets(&[1, 1], &[true, true], bounds(2, 0, 1)),
            [roll(0, 1), Share::Wait]
        );
        // Once the first has rolled, the second takes the share.
        assert_eq!(
            budgets(&[1, 1], &[false, true], bounds(2, 0, 1)),
            [roll(0, 1), roll(0, 1)]
        );
        // At rest: the shares every Deployment would have, 0 and 1 for those left without.
        assert_eq!(
            budgets(&[1, 1], &[false, false], bounds(2, 0, 1)),
            [roll(0, 1), roll(0, 1)]
        );
    }

    prop_compose! {
        fn slots()(v in prop::collection::vec((0..12_u32, 0..12_u32, 0..12_u32), 1..=5))
            -> Vec<Slot> {
            v.into_iter().map(|(r, a, t)| slot(r, a.min(r), t)).collect()
        }
    }

    proptest! {
        /// The laws of a move within the bounds: a step never takes the Service above
        /// `desired + maxSurge` tasks (or above what it had), never below `desired −
        /// maxUnavailable` available tasks (or below what it had), never moves a slot past its
        /// target; and from a Service whose tasks become available, repeated steps reach the
        /// targets whenever the bounds let anything move.
        #[test]
        fn moves_stay_within_the_bounds(mut slots in slots(), surge in 0..6_u32, unavailable in 0..6_u32) {
            let desired: u32 = slots.iter().map(|s| s.target).sum();
            let b = bounds(desired, surge, unavailable);
            for _ in 0..200 {
                let total: u32 = slots.iter().map(|s| s.replicas).sum();
                let available: u32 = slots.iter().map(|s| s.available).sum();
                let next = step(&slots, b);
                for (s, n) in slots.iter().zip(&next) {
                    prop_assert!(
                        (s.replicas <= *n && *n <= s.target) || (s.target <= *n && *n <= s.replicas),
                        "{:?} → {}", s, n
                    );
                }
                if !scale_only(&slots) {
                    let after: u32 = next.iter().sum();
                    prop_assert!(after <= total.max(desired + surge), "{} > {}", after, desired + surge);
                    let kept: u32 = slots.iter().zip(&next).map(|(s, n)| s.available.min(*n)).sum();
                    let floor = available.min(desired.saturating_sub(unavailable));
                    prop_assert!(kept >= floor, "{} available < {}", kept, floor);
                }
                // The started tasks become available.
                for (s, n) in slots.iter_mut().zip(&next) {
                    *s = slot(*n, *n, s.target);
                }
                if settled(&slots) {
                    break;
                }
            }
            prop_assert!(surge + unavailable == 0 || settled(&slots), "{:?}", slots);
        }

        /// The laws of the shares: rolling Deployments' shares add up to at most the bounds,
        /// each within its own count and not both 0; and while any Deployment with tasks has to
        /// roll and the bounds let anything move, one of them rolls.
        #[test]
        fn shares_stay_within_the_bounds(
            v in prop::collection::vec((0..12_u32, any::<bool>()), 1..=5),
            surge in 0..8_u32,
            unavailable in 0..8_u32,
        ) {
            let (replicas, rolling): (Vec<u32>, Vec<bool>) = v.into_iter().unzip();
            let desired = replicas.iter().sum();
            let shares = budgets(&replicas, &rolling, bounds(desired, surge, unavailable));
            let (mut s_sum, mut u_sum, mut any) = (0, 0, false);
            for ((share, n), r) in shares.iter().zip(&replicas).zip(&rolling) {
                match share {
                    Share::Roll { max_surge, max_unavailable } => {
                        prop_assert!(max_surge + max_unavailable > 0);
                        if *r && *n > 0 {
                            prop_assert!(*max_surge <= *n && *max_unavailable <= *n);
                            s_sum += max_surge;
                            u_sum += max_unavailable;
                            any = true;
                        }
                    }
                    Share::Wait => prop_assert!(*r && *n > 0),
                }
            }
            prop_assert!(s_sum <= surge && u_sum <= unavailable);
            let must_roll = replicas.iter().zip(&rolling).any(|(n, r)| *r && *n > 0);
            prop_assert!(!must_roll || surge + unavailable == 0 || any);
        }
    }
}
