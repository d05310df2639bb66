//! Pace (pure: no client, no clock): how fast a Service split over capacity providers moves,
//! given its Deployments as they run.
//!
//! [`super::build`] makes one Deployment per provider with its share of the desired count; this
//! step keeps every change within ECS's bounds over the whole Service
//! ([`crate::translate::capacity::moves`]):
//!
//! - counts that move between Deployments (a new strategy, the switch between one Deployment
//!   and per-provider ones) move one [`moves::step`] per reconcile; Deployments no longer wanted
//!   shrink the same way and are deleted at 0 ([`Leaving`]);
//! - while counts move, a Deployment whose pod template changes waits (paused: Kubernetes still
//!   scales a paused Deployment, and rolls nothing);
//! - once they are settled, the Deployments whose template changes roll, each within its share
//!   of the bounds ([`moves::budgets`]); one left without waits, paused, for its turn.
//!
//! A Service with one Deployment and nothing else running is left as the translation made it
//! (its rolling update is the whole Service's already).

use k8s_openapi::api::apps::v1::Deployment;
use kube::ResourceExt;

use super::{children::Children, history};
use crate::{
    controller::unchanged,
    translate::{
        capacity::moves::{self, Bounds, Share, Slot},
        service::providers::{is_provider_deployment, set_share},
    },
};

/// Annotation of a Service's Deployments split over providers: the hash of the pod template it
/// was last given, to tell whether a template still has to roll.
pub const TEMPLATE_HASH: &str = "ecsbridge.io/template-hash";

/// A Deployment of the Service as it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    /// Its name.
    pub name: String,
    /// Its `spec.replicas`.
    pub replicas: u32,
    /// Its available tasks.
    pub available: u32,
    /// Its [`TEMPLATE_HASH`] annotation.
    pub template_hash: Option<String>,
    /// The task definition its template runs, `family:revision`.
    pub task_definition: Option<String>,
    /// Every task runs its current template and is available.
    pub rolled_out: bool,
}

/// A Deployment no longer wanted: the count it shrinks to (deleted at 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaving {
    /// Its name.
    pub name: String,
    /// Its replicas after this reconcile.
    pub replicas: u32,
}

/// The Deployments among `children` owned by the object with uid `uid`, as they run.
#[must_use]
pub fn live(children: &Children, uid: &str) -> Vec<Live> {
    let to_u32 = |n: Option<i32>| u32::try_from(n.unwrap_or(0).max(0)).unwrap_or(0);
    children
        .deployments
        .iter()
        .filter(|d| d.owner_references().iter().any(|o| o.uid == uid))
        .map(|d| Live {
            name: d.name_any(),
            replicas: to_u32(d.spec.as_ref().and_then(|s| s.replicas).or(Some(1))),
            available: to_u32(d.status.as_ref().and_then(|s| s.available_replicas)),
            template_hash: d.annotations().get(TEMPLATE_HASH).cloned(),
            task_definition: history::template_task_definition(d),
            rolled_out: history::rolled_out(d),
        })
        .collect()
}

/// Paces `deployments` (built, each with its target count) against `live` within `bounds` (see
/// the module docs); `paused` pauses them all (the circuit breaker failed the revision). Returns
/// the live Deployments no longer wanted, with their next count.
pub fn pace(deployments: &mut [Deployment], live: &[Live], bounds: Bounds, paused: bool) -> Vec<Leaving> {
    let leaving: Vec<&Live> = live
        .iter()
        .filter(|l| !deployments.iter().any(|d| d.name_any() == l.name))
        .collect();
    if deployments.len() <= 1 && leaving.is_empty() && !deployments.iter().any(is_provider_deployment) {
        return Vec::new();
    }
    let live_of = |d: &Deployment| live.iter().find(|l| Some(&l.name) == d.metadata.name.as_ref());
    let target = |d: &Deployment| {
        u32::try_from(d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0).max(0)).unwrap_or(0)
    };
    let hashes: Vec<String> = deployments
        .iter()
        .map(|d| unchanged::hash(&d.spec.as_ref().map(|s| &s.template)))
        .collect();
    let mut slots: Vec<Slot> = deployments
        .iter()
        .map(|d| {
            let l = live_of(d);
            Slot {
                replicas: l.map_or(0, |l| l.replicas),
                available: l.map_or(0, |l| l.available.min(l.replicas)),
                target: target(d),
            }
        })
        .collect();
    slots.extend(leaving.iter().map(|l| Slot {
        replicas: l.replicas,
        available: l.available.min(l.replicas),
        target: 0,
    }));
    let moving = !moves::settled(&slots) && !moves::scale_only(&slots);
    let next = moves::step(&slots, bounds);
    let rolling: Vec<bool> = deployments
        .iter()
        .zip(&hashes)
        .map(|(d, hash)| {
            live_of(d).is_some_and(|l| {
                let changed = match &l.template_hash {
                    Some(h) => h != hash,
                    // (Made before the split: its template runs another revision, or not.)
                    None => l.task_definition != history::template_task_definition(d),
                };
                changed || !l.rolled_out
            })
        })
        .collect();
    let replicas: Vec<u32> = next[..deployments.len()].to_vec();
    let shares = moves::budgets(&replicas, &rolling, bounds);
    for (i, d) in deployments.iter_mut().enumerate() {
        d.annotations_mut()
            .insert(TEMPLATE_HASH.to_owned(), hashes[i].clone());
        let share = if moving && rolling[i] {
            Share::Wait
        } else {
            shares[i]
        };
        set_share(d, share);
        if let Some(spec) = d.spec.as_mut() {
            spec.replicas = Some(i32::try_from(replicas[i]).unwrap_or(i32::MAX));
            if paused {
                spec.paused = Some(true);
            }
        }
    }
    leaving
        .iter()
        .zip(&next[deployments.len()..])
        .map(|(l, n)| Leaving {
            name: l.name.clone(),
            replicas: *n,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
    use serde_json::json;

    use super::*;

    /// A built Deployment `name` of provider `provider` with `replicas`, running `image`.
    fn built(name: &str, provider: &str, replicas: i32, image: &str) -> Deployment {
        let mut d: Deployment = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"ecsbridge.io/capacity-provider": provider}},
            "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "app", "image": image}]}}}
        }))
        .expect("a Deployment");
        d.spec.get_or_insert_with(DeploymentSpec::default).replicas = Some(replicas);
        d
    }

    fn live_of(d: &Deployment, replicas: u32, available: u32) -> Live {
        Live {
            name: d.name_any(),
            replicas,
            available,
            template_hash: Some(unchanged::hash(&d.spec.as_ref().map(|s| &s.template))),
            task_definition: None,
            rolled_out: available == replicas,
        }
    }

    fn bounds(desired: u32, max_surge: u32, max_unavailable: u32) -> Bounds {
        Bounds {
            desired,
            max_surge,
            max_unavailable,
        }
    }

    fn replicas(d: &Deployment) -> i32 {
        d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(-1)
    }

    fn paused(d: &Deployment) -> bool {
        d.spec.as_ref().and_then(|s| s.paused) == Some(true)
    }

    #[test]
    fn one_deployment_alone_is_left_as_translated() {
        let mut plain: Deployment = serde_json::from_value(
            json!({"metadata": {"name": "web"}, "spec": {"selector": {}, "replicas": 3,
                "template": {}}}),
        )
        .expect("a Deployment");
        let before = plain.clone();
        assert!(pace(std::slice::from_mut(&mut plain), &[], bounds(3, 3, 0), false).is_empty());
        assert_eq!(plain, before);
    }

    #[test]
    fn a_new_strategy_moves_counts_within_the_bounds_and_holds_template_changes() {
        // Live: 4 on a, 6 on b (all available); the new strategy wants 8 and 2, and b's template
        // changes too. 10 tasks at 100% / 150%: 5 may start first, none may stop.
        let a = built("web-a", "a", 8, "app:1");
        let b_live = built("web-b", "b", 2, "app:1");
        let live = [live_of(&a, 4, 4), live_of(&b_live, 6, 6)];
        let mut ds = [a.clone(), built("web-b", "b", 2, "app:2")];
        let leaving = pace(&mut ds, &live, bounds(10, 5, 0), false);
        assert!(leaving.is_empty());
        assert_eq!(
            (replicas(&ds[0]), replicas(&ds[1])),
            (8, 6),
            "a starts 4, b stops none yet"
        );
        assert!(
            !paused(&ds[0]) && paused(&ds[1]),
            "b's new template waits for the move"
        );
        assert!(ds.iter().all(|d| d.annotations().contains_key(TEMPLATE_HASH)));
        // Once a's tasks are available, only b's shrinking is left, which goes at once (it
        // keeps the Service at its desired count), and b's template rolls.
        let live = [live_of(&a, 8, 8), live_of(&b_live, 6, 6)];
        let mut ds = [a.clone(), built("web-b", "b", 2, "app:2")];
        pace(&mut ds, &live, bounds(10, 5, 0), false);
        assert_eq!((replicas(&ds[0]), replicas(&ds[1])), (8, 2));
        assert!(!paused(&ds[1]), "nothing moves against b any more");
        let live = [live_of(&a, 8, 8), live_of(&b_live, 2, 2)];
        let mut ds = [a, built("web-b", "b", 2, "app:2")];
        pace(&mut ds, &live, bounds(10, 5, 0), false);
        assert!(!paused(&ds[1]), "settled: b rolls");
        let strategy = ds[1]
            .spec
            .as_ref()
            .and_then(|s| s.strategy.clone())
            .expect("strategy");
        let rolling = strategy.rolling_update.expect("rolling update");
        assert_eq!(
            (rolling.max_surge, rolling.max_unavailable),
            (
                Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(2)),
                Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(0))
            ),
            "b's share: up to its own 2 tasks of the Service's 5"
        );
    }

    #[test]
    fn a_provider_left_shrinks_within_the_bounds_then_goes() {
        // From one plain Deployment of 4 to one provider: the plain one leaves as the new grows.
        let plain: Deployment = serde_json::from_value(
            json!({"metadata": {"name": "web"}, "spec": {"selector": {}, "template": {}}}),
        )
        .expect("a Deployment");
        let gone = Live {
            name: "web".into(),
            replicas: 4,
            available: 4,
            template_hash: None,
            task_definition: history::template_task_definition(&plain),
            rolled_out: true,
        };
        // 100% / 200%: the 4 new ones start first; none of the old stops yet.
        let mut ds = [built("web-a", "a", 4, "app:1")];
        let leaving = pace(&mut ds, std::slice::from_ref(&gone), bounds(4, 4, 0), false);
        assert_eq!(replicas(&ds[0]), 4);
        assert_eq!(
            leaving,
            [Leaving {
                name: "web".into(),
                replicas: 4
            }]
        );
        // The new ones available: the old ones stop, and the Deployment goes.
        let mut ds = [built("web-a", "a", 4, "app:1")];
        let now = live_of(&ds[0], 4, 4);
        let leaving = pace(&mut ds, &[now, gone], bounds(4, 4, 0), false);
        assert_eq!(
            leaving,
            [Leaving {
                name: "web".into(),
                replicas: 0
            }]
        );
    }
}
