//! End-to-end suite: the real `ecs-bridge run` binary, driven with the real `kubectl`.
//!
//! One suite, two backends. By default every test starts its own in-process API server double
//! with a simulated cluster (`ecs-bridge-testbed`), installs `crds/`, and starts the operator
//! against it. With `E2E_KUBECONFIG` set, the same tests run against that cluster instead (kind
//! or EKS; see `e2e/kind.yaml` and `make e2e-kind`), each in a fresh namespace.

mod support;

mod autoscaling;
mod capacity;
mod dependents;
mod endpoints;
mod handover;
mod leader_election;
mod networking;
mod placement;
mod recovery;
mod revisions;
mod rollback;
mod scheduled_tasks;
mod spec_untouched;
mod tasks;
mod web_service;
