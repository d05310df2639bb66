//! Fault injection for tests: failing a fraction of requests with 500 or 429, answering 409
//! conflicts, dropping watch connections and delaying responses; and a log of every request
//! (so a test can count the writes a controller makes).

use std::{
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::sync::watch;

/// One request the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Path (without the query).
    pub path: String,
    /// The query string.
    pub query: String,
    /// `User-Agent`.
    pub user_agent: String,
    /// The HTTP status code sent.
    pub status: u16,
}

impl RequestRecord {
    /// Whether the request changed (or tried to change) state.
    #[must_use]
    pub fn is_write(&self) -> bool {
        matches!(self.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE")
    }
}

/// The fault switches. All off by default.
#[derive(Debug)]
pub struct Faults {
    error_per_mille: AtomicU32,
    error_codes: Mutex<Vec<u16>>,
    conflict_per_mille: AtomicU32,
    delay_ms: AtomicU64,
    only_user_agent: Mutex<Option<String>>,
    only_path: Mutex<Option<String>>,
    writes_only: AtomicBool,
    seed: AtomicU64,
    drop_tx: watch::Sender<u64>,
    log: Mutex<Vec<RequestRecord>>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            error_per_mille: AtomicU32::new(0),
            error_codes: Mutex::new(vec![500]),
            conflict_per_mille: AtomicU32::new(0),
            delay_ms: AtomicU64::new(0),
            only_user_agent: Mutex::new(None),
            only_path: Mutex::new(None),
            writes_only: AtomicBool::new(false),
            seed: AtomicU64::new(0x9E37_79B9_7F4A_7C15),
            drop_tx: watch::channel(0).0,
            log: Mutex::new(Vec::new()),
        }
    }
}

/// What the fault switches decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    /// Serve it normally.
    None,
    /// Answer with this error code (500 or 429).
    Error(u16),
    /// Answer 409 Conflict.
    Conflict,
}

impl Faults {
    /// Fails `fraction` (0.0–1.0) of requests with `code` (500 or 429).
    pub fn fail_requests(&self, fraction: f64, code: u16) {
        self.fail_requests_with(fraction, &[code]);
    }

    /// Fails `fraction` (0.0–1.0) of requests, each with one of `codes` (500 or 429), chosen in
    /// turn by the same pseudo-random rolls.
    pub fn fail_requests_with(&self, fraction: f64, codes: &[u16]) {
        self.error_per_mille.store(per_mille(fraction), Ordering::SeqCst);
        *self.error_codes.lock().expect("faults lock") = codes.to_vec();
    }

    /// Answers `fraction` of writes with 409 Conflict.
    pub fn conflict_writes(&self, fraction: f64) {
        self.conflict_per_mille
            .store(per_mille(fraction), Ordering::SeqCst);
    }

    /// Delays every response by `delay`.
    pub fn delay(&self, delay: Duration) {
        self.delay_ms.store(
            u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }

    /// Applies faults only to requests whose `User-Agent` starts with `prefix` (e.g. the
    /// operator's), so the test's own kubectl calls are served normally.
    pub fn only_for_user_agent(&self, prefix: Option<&str>) {
        *self.only_user_agent.lock().expect("faults lock") = prefix.map(str::to_owned);
    }

    /// Applies faults only to requests whose path contains `part` (e.g. `/services/`), so
    /// that one kind of request fails while the others (a leader's lease renewals) go through.
    pub fn only_for_path(&self, part: Option<&str>) {
        *self.only_path.lock().expect("faults lock") = part.map(str::to_owned);
    }

    /// Applies error faults to writes only.
    pub fn writes_only(&self, on: bool) {
        self.writes_only.store(on, Ordering::SeqCst);
    }

    /// Turns every fault off.
    pub fn clear(&self) {
        self.fail_requests(0.0, 500);
        self.conflict_writes(0.0);
        self.delay(Duration::ZERO);
        self.only_for_user_agent(None);
        self.only_for_path(None);
        self.writes_only(false);
    }

    /// Closes every open watch connection now.
    pub fn drop_watches(&self) {
        self.drop_tx.send_modify(|n| *n += 1);
    }

    /// A receiver that changes whenever watches must be dropped.
    #[must_use]
    pub fn watch_drops(&self) -> watch::Receiver<u64> {
        self.drop_tx.subscribe()
    }

    /// The configured response delay.
    #[must_use]
    pub fn response_delay(&self) -> Duration {
        Duration::from_millis(self.delay_ms.load(Ordering::SeqCst))
    }

    /// Decides whether to inject a fault into a request (whatever its path).
    pub fn decide(&self, method: &str, user_agent: &str) -> Injected {
        self.decide_for(method, user_agent, None)
    }

    /// Decides whether to inject a fault into a request to `path` (`None`: any path).
    pub fn decide_for(&self, method: &str, user_agent: &str, path: Option<&str>) -> Injected {
        if let (Some(part), Some(path)) = (self.only_path.lock().expect("faults lock").as_deref(), path)
            && !path.contains(part)
        {
            return Injected::None;
        }
        if let Some(prefix) = self.only_user_agent.lock().expect("faults lock").as_deref()
            && !user_agent.starts_with(prefix)
        {
            return Injected::None;
        }
        let write = matches!(method, "POST" | "PUT" | "PATCH" | "DELETE");
        let roll = self.next_roll();
        let errors = self.error_per_mille.load(Ordering::SeqCst);
        if errors > 0 && (write || !self.writes_only.load(Ordering::SeqCst)) && roll < errors {
            let codes = self.error_codes.lock().expect("faults lock");
            let pick = usize::try_from(self.next_roll()).unwrap_or(0) % codes.len().max(1);
            return Injected::Error(codes.get(pick).copied().unwrap_or(500));
        }
        let conflicts = self.conflict_per_mille.load(Ordering::SeqCst);
        if write && conflicts > 0 && self.next_roll() < conflicts {
            return Injected::Conflict;
        }
        Injected::None
    }

    /// A deterministic pseudo-random number in 0..1000 (xorshift), so runs repeat.
    fn next_roll(&self) -> u32 {
        let mut x = self.seed.load(Ordering::SeqCst);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed.store(x, Ordering::SeqCst);
        u32::try_from(x % 1000).unwrap_or(0)
    }

    /// Records an answered request.
    pub fn record(&self, record: RequestRecord) {
        self.log.lock().expect("faults lock").push(record);
    }

    /// Every request answered so far.
    #[must_use]
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.log.lock().expect("faults lock").clone()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.log.lock().expect("faults lock").clear();
    }
}

fn per_mille(fraction: f64) -> u32 {
    // Clamped to 0..=1000 first, so the cast cannot truncate or wrap.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = (fraction.clamp(0.0, 1.0) * 1000.0).round() as u32;
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenth_of_requests_fail_and_only_for_the_chosen_client() {
        let f = Faults::default();
        f.fail_requests(0.1, 500);
        f.only_for_user_agent(Some("ecs-bridge"));
        let failed = (0..10_000)
            .filter(|_| f.decide("GET", "ecs-bridge/0.1") != Injected::None)
            .count();
        assert!((800..1200).contains(&failed), "{failed} of 10000 failed");
        assert!((0..1000).all(|_| f.decide("GET", "kubectl/v1.32") == Injected::None));
        f.clear();
        assert!((0..1000).all(|_| f.decide("GET", "ecs-bridge/0.1") == Injected::None));
    }

    #[test]
    fn a_path_filter_spares_other_paths() {
        let f = Faults::default();
        f.conflict_writes(1.0);
        f.only_for_path(Some("/services/"));
        let svc = "/apis/ecsbridge.io/v1alpha1/namespaces/a/services/web/status";
        let lease = "/apis/coordination.k8s.io/v1/namespaces/a/leases/ecs-bridge";
        assert_eq!(f.decide_for("PATCH", "x", Some(svc)), Injected::Conflict);
        assert_eq!(f.decide_for("PUT", "x", Some(lease)), Injected::None);
        f.clear();
        assert_eq!(f.decide_for("PATCH", "x", Some(svc)), Injected::None);
    }

    #[test]
    fn mixed_codes_are_each_injected() {
        let f = Faults::default();
        f.fail_requests_with(0.5, &[500, 429]);
        let codes: Vec<Injected> = (0..1000).map(|_| f.decide("GET", "x")).collect();
        let count = |i: Injected| codes.iter().filter(|c| **c == i).count();
        assert!(
            count(Injected::Error(500)) > 150,
            "{}",
            count(Injected::Error(500))
        );
        assert!(
            count(Injected::Error(429)) > 150,
            "{}",
            count(Injected::Error(429))
        );
        assert!(count(Injected::None) > 350);
    }

    #[test]
    fn conflicts_only_hit_writes() {
        let f = Faults::default();
        f.conflict_writes(1.0);
        assert_eq!(f.decide("GET", "x"), Injected::None);
        assert_eq!(f.decide("PATCH", "x"), Injected::Conflict);
    }
}
