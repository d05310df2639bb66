//! The rules of leader election on a `coordination.k8s.io/v1` Lease, as client-go's
//! `leaderelection` package applies them (pure: no client, no clock of its own).
//!
//! A candidate reads the Lease, [`decide`]s, and writes what it decided with the
//! resourceVersion it read, so that of two candidates writing the same version one gets 409
//! Conflict: optimistic concurrency is what makes the election safe.
//!
//! Whether another holder's lease has expired is judged by the candidate's own monotonic clock
//! ([`Tracker`]): the lease is valid for `leaseDurationSeconds` after the candidate *saw it
//! change*, never by comparing `renewTime` with the local wall clock, so clock skew between nodes
//! cannot make two replicas lead at once (client-go does the same with its `observedTime`).

use std::time::{Duration, Instant};

use k8s_openapi::{
    api::coordination::v1::LeaseSpec, apimachinery::pkg::apis::meta::v1::MicroTime, jiff::Timestamp,
};

/// How long a lease lasts and how often it is renewed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// `leaseDurationSeconds`: how long others wait after the last renewal they saw before
    /// taking the lease. Default: 15 s (client-go's and controller-runtime's).
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up leading. Shorter than
    /// `lease_duration`, so the leader stops before anyone else may start. Default: 10 s.
    pub renew_deadline: Duration,
    /// How often candidates try to acquire and the leader renews. Default: 2 s.
    pub retry_period: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

impl Timing {
    /// `leaseDurationSeconds` as the Lease stores it.
    #[must_use]
    pub fn lease_duration_seconds(&self) -> i32 {
        i32::try_from(self.lease_duration.as_secs())
            .unwrap_or(i32::MAX)
            .max(1)
    }
}

/// What a candidate should write after reading the Lease.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// No Lease exists: create it, held by us.
    Create(LeaseSpec),
    /// We hold it: renew it (same `acquireTime` and `leaseTransitions`, a new `renewTime`).
    Renew(LeaseSpec),
    /// Nobody holds it, or its holder let it expire: take it (a new `acquireTime`, one more
    /// transition).
    Take(LeaseSpec),
    /// Someone else holds a valid lease: wait.
    Wait {
        /// Its holder.
        holder: String,
    },
}

/// The holder of `spec`, when it has one (an empty `holderIdentity` is none, as in client-go).
#[must_use]
pub fn holder(spec: &LeaseSpec) -> Option<&str> {
    spec.holder_identity.as_deref().filter(|h| !h.is_empty())
}

/// What `identity` should write, given the Lease's `current` spec (`None`: no Lease), whether
/// that spec is still `valid` by the candidate's clock ([`Tracker::observe`]), and the time
/// `now`.
#[must_use]
pub fn decide(
    current: Option<&LeaseSpec>,
    valid: bool,
    identity: &str,
    timing: &Timing,
    now: Timestamp,
) -> Decision {
    let held_by_us = |acquire_time: Option<MicroTime>, transitions: i32| LeaseSpec {
        holder_identity: Some(identity.to_owned()),
        lease_duration_seconds: Some(timing.lease_duration_seconds()),
        acquire_time,
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    };
    let Some(current) = current else {
        return Decision::Create(held_by_us(Some(MicroTime(now)), 0));
    };
    let transitions = current.lease_transitions.unwrap_or(0);
    match holder(current) {
        Some(h) if h == identity => Decision::Renew(held_by_us(
            current.acquire_time.clone().or(Some(MicroTime(now))),
            transitions,
        )),
        Some(h) if valid => Decision::Wait { holder: h.to_owned() },
        _ => Decision::Take(held_by_us(Some(MicroTime(now)), transitions.saturating_add(1))),
    }
}

/// The spec that gives the lease up at `now`, as client-go's `ReleaseOnCancel` writes it: no
/// holder (so any candidate takes it at its next try rather than after expiry), a duration of
/// one second, the transitions kept.
#[must_use]
pub fn released(current: &LeaseSpec, now: Timestamp) -> LeaseSpec {
    LeaseSpec {
        holder_identity: None,
        lease_duration_seconds: Some(1),
        acquire_time: Some(MicroTime(now)),
        renew_time: Some(MicroTime(now)),
        lease_transitions: current.lease_transitions,
        ..LeaseSpec::default()
    }
}

/// Tells, by the candidate's own monotonic clock, whether the lease it reads is still valid: a
/// lease is valid until `leaseDurationSeconds` after the candidate first saw its current spec.
#[derive(Debug, Default)]
pub struct Tracker {
    seen: Option<(LeaseSpec, Instant)>,
}

impl Tracker {
    /// Records that `spec` was read (or written) at `at` and returns whether it is still valid
    /// then. A spec unchanged since the last observation keeps its first observation time.
    pub fn observe(&mut self, spec: &LeaseSpec, at: Instant) -> bool {
        let since = match &self.seen {
            Some((seen, since)) if seen == spec => *since,
            _ => at,
        };
        self.seen = Some((spec.clone(), since));
        let duration =
            Duration::from_secs(u64::try_from(spec.lease_duration_seconds.unwrap_or(0)).unwrap_or(0));
        since + duration > at
    }

    /// Forgets what was seen (the Lease is gone).
    pub fn forget(&mut self) {
        self.seen = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).expect("a timestamp")
    }

    fn held(holder: &str, renewed: i64, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.to_owned()),
            lease_duration_seconds: Some(15),
            acquire_time: Some(MicroTime(t(0))),
            renew_time: Some(MicroTime(t(renewed))),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn a_missing_lease_is_created_held_by_us() {
        let d = decide(None, false, "a", &Timing::default(), t(5));
        assert_eq!(
            d,
            Decision::Create(LeaseSpec {
                holder_identity: Some("a".into()),
                lease_duration_seconds: Some(15),
                acquire_time: Some(MicroTime(t(5))),
                renew_time: Some(MicroTime(t(5))),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            })
        );
    }

    #[test]
    fn our_lease_is_renewed_keeping_acquire_time_and_transitions() {
        let Decision::Renew(spec) = decide(Some(&held("a", 3, 4)), true, "a", &Timing::default(), t(9))
        else {
            panic!("renew");
        };
        assert_eq!(spec.acquire_time, Some(MicroTime(t(0))));
        assert_eq!(spec.renew_time, Some(MicroTime(t(9))));
        assert_eq!(spec.lease_transitions, Some(4));
        assert_eq!(spec.holder_identity.as_deref(), Some("a"));
    }

    #[test]
    fn another_holders_valid_lease_is_left_alone() {
        let d = decide(Some(&held("b", 3, 4)), true, "a", &Timing::default(), t(9));
        assert_eq!(d, Decision::Wait { holder: "b".into() });
    }

    #[test]
    fn an_expired_or_released_lease_is_taken_with_one_more_transition() {
        for current in [held("b", 3, 4), released(&held("b", 3, 4), t(5))] {
            // Expired (another holder, no longer valid) or released (no holder, valid or not).
            for valid in [false, current.holder_identity.is_none()] {
                let Decision::Take(spec) = decide(Some(&current), valid, "a", &Timing::default(), t(30))
                else {
                    panic!("take {current:?} valid={valid}");
                };
                assert_eq!(spec.holder_identity.as_deref(), Some("a"));
                assert_eq!(spec.acquire_time, Some(MicroTime(t(30))));
                assert_eq!(spec.renew_time, Some(MicroTime(t(30))));
                assert_eq!(spec.lease_transitions, Some(5));
                assert_eq!(spec.lease_duration_seconds, Some(15));
            }
        }
        // An empty holderIdentity is no holder (client-go writes "" when it releases).
        let empty = LeaseSpec {
            holder_identity: Some(String::new()),
            ..held("b", 3, 4)
        };
        assert!(matches!(
            decide(Some(&empty), true, "a", &Timing::default(), t(4)),
            Decision::Take(_)
        ));
    }

    #[test]
    fn release_clears_the_holder_and_keeps_transitions() {
        let r = released(&held("a", 3, 7), t(8));
        assert_eq!(holder(&r), None);
        assert_eq!(r.lease_transitions, Some(7));
        assert_eq!(r.lease_duration_seconds, Some(1));
        assert_eq!(r.renew_time, Some(MicroTime(t(8))));
    }

    #[test]
    fn validity_runs_from_when_the_spec_was_first_seen_by_the_local_clock() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let mut tracker = Tracker::default();
        // (renewTime is far in the past by the wall clock: it does not matter.)
        let first = held("b", -3600, 1);
        assert!(tracker.observe(&first, at(0)));
        assert!(tracker.observe(&first, at(14)));
        assert!(
            !tracker.observe(&first, at(15)),
            "expired 15 s after first seen unchanged"
        );
        // A renewal (a changed spec) restarts the clock.
        let renewed = held("b", -3598, 1);
        assert!(tracker.observe(&renewed, at(16)));
        assert!(tracker.observe(&renewed, at(30)));
        assert!(!tracker.observe(&renewed, at(31)));
        tracker.forget();
        assert!(tracker.observe(&renewed, at(31)), "seen anew after forgetting");
    }
}
