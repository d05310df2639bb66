//! The operator's Prometheus metrics (prometheus-client, prefix `ecs_bridge`), labelled by
//! controller and error kind only: never by object, so their number stays fixed however many
//! objects the cluster holds.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `ecs_bridge_reconcile_runs_total` | counter | `controller` |
//! | `ecs_bridge_reconcile_errors_total` | counter | `controller`, `error` (`controller::Error::metric_label`) |
//! | `ecs_bridge_reconcile_duration_seconds` | histogram | `controller` |
//! | `ecs_bridge_reconciles_in_flight` | gauge | `controller` |
//! | `ecs_bridge_leader` | gauge (1 while this replica runs the controllers) | none |

use std::{sync::atomic::AtomicI64, time::Instant};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::{Registry, Unit},
};

/// Labels of the per-controller metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    /// The controller (`task-definition`, `service`).
    pub controller: &'static str,
}

/// Labels of the error counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The controller.
    pub controller: &'static str,
    /// The kind of error (`controller::Error::metric_label`): a small fixed set.
    pub error: &'static str,
}

/// The histogram of one controller's reconcile durations: 5 ms to about 82 s.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

/// The operator's metrics and the registry that exposes them.
pub struct Metrics {
    registry: Registry,
    runs: Family<ControllerLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    duration: Family<ControllerLabels, Histogram, fn() -> Histogram>,
    in_flight: Family<ControllerLabels, Gauge>,
    leader: Gauge<i64, AtomicI64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Every metric, registered and at zero.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ecs_bridge");
        let runs = Family::<ControllerLabels, Counter>::default();
        registry.register("reconcile_runs", "Reconciles run, by controller", runs.clone());
        let errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "reconcile_errors",
            "Reconciles that failed, by controller and kind of error",
            errors.clone(),
        );
        let duration = Family::<ControllerLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            duration_histogram,
        );
        registry.register_with_unit(
            "reconcile_duration",
            "How long reconciles took, by controller",
            Unit::Seconds,
            duration.clone(),
        );
        let in_flight = Family::<ControllerLabels, Gauge>::default();
        registry.register(
            "reconciles_in_flight",
            "Reconciles running now, by controller",
            in_flight.clone(),
        );
        let leader = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "leader",
            "1 while this replica holds the leader lease and runs the controllers (always with --leader-elect=false), else 0",
            leader.clone(),
        );
        Self {
            registry,
            runs,
            errors,
            duration,
            in_flight,
            leader,
        }
    }

    /// Counts a reconcile of `controller` as started; the returned timer records its end.
    #[must_use]
    pub fn reconcile(&self, controller: &'static str) -> ReconcileTimer<'_> {
        let labels = ControllerLabels { controller };
        self.in_flight.get_or_create(&labels).inc();
        ReconcileTimer {
            metrics: self,
            labels,
            start: Instant::now(),
        }
    }

    /// Sets the leader gauge.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// The metrics in the OpenMetrics text format (which Prometheus scrapes).
    ///
    /// # Errors
    ///
    /// Never in practice: writing to a `String` cannot fail.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Records one reconcile: in flight until it is dropped, then counted with its duration.
pub struct ReconcileTimer<'a> {
    metrics: &'a Metrics,
    labels: ControllerLabels,
    start: Instant,
}

impl ReconcileTimer<'_> {
    /// Counts the reconcile as failed with an error of kind `error` (a stable, low-cardinality
    /// name: the controllers' `Error::metric_label`).
    pub fn failed(&self, error: &'static str) {
        self.metrics
            .errors
            .get_or_create(&ErrorLabels {
                controller: self.labels.controller,
                error,
            })
            .inc();
    }
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        // Why in drop: a reconcile abandoned mid-way (forced shutdown) still leaves the gauge.
        self.metrics.in_flight.get_or_create(&self.labels).dec();
        self.metrics.runs.get_or_create(&self.labels).inc();
        self.metrics
            .duration
            .get_or_create(&self.labels)
            .observe(self.start.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconciles_are_counted_timed_and_labelled_by_controller_and_error_only() {
        let metrics = Metrics::new();
        {
            let _ok = metrics.reconcile("service");
            let during = metrics.encode().expect("encoded");
            assert!(
                during.contains("ecs_bridge_reconciles_in_flight{controller=\"service\"} 1"),
                "{during}"
            );
        }
        {
            let failed = metrics.reconcile("service");
            failed.failed("missing_namespace");
        }
        metrics.set_leader(true);
        let text = metrics.encode().expect("encoded");
        for line in [
            "ecs_bridge_reconcile_runs_total{controller=\"service\"} 2",
            "ecs_bridge_reconcile_errors_total{controller=\"service\",error=\"missing_namespace\"} 1",
            "ecs_bridge_reconcile_duration_seconds_count{controller=\"service\"} 2",
            "ecs_bridge_reconciles_in_flight{controller=\"service\"} 0",
            "ecs_bridge_leader 1",
            "# TYPE ecs_bridge_reconcile_duration_seconds histogram",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        // No label names an object.
        assert!(!text.contains("web"), "{text}");
    }
}
