//! The simulated controllers stay cheap: with many objects at steady state they sync nothing
//! and write nothing, and a change syncs only the objects it concerns.

mod cluster_common;

use std::time::{Duration, Instant};

use cluster_common::{Bed, condition, deployment};
use ecs_bridge_testbed::PodOutcome;
use serde_json::json;

const DEPLOYMENTS: usize = 200;

fn all_rolled_out(bed: &Bed) -> bool {
    let ds = bed.list("Deployment", "");
    ds.len() == DEPLOYMENTS
        && ds.iter().all(|d| {
            d["status"]["availableReplicas"] == 2
                && d["status"]["updatedReplicas"] == 2
                && condition(d, "Progressing").is_some_and(|c| c["reason"] == "NewReplicaSetAvailable")
                && condition(d, "Available").is_some_and(|c| c["status"] == "True")
        })
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_deployments_at_steady_state_cause_no_writes() {
    let bed = Bed::start().await;
    for n in 0..3 {
        bed.cluster
            .add_node(&format!("node-{n}"), &json!({}), "64", "256Gi", &json!([]))
            .expect("node");
    }
    bed.cluster.kubelet(PodOutcome::Running { ready: true });
    let rv_start = bed.resource_version();
    let started = Instant::now();
    for n in 0..DEPLOYMENTS {
        bed.create(deployment(&format!("app-{n}"), 2, "nginx:1.27"));
    }
    bed.wait_for_within(Duration::from_secs(60), "every Deployment to roll out", |b| {
        all_rolled_out(b).then_some(())
    })
    .await;
    let converged = started.elapsed();
    let writes = bed.resource_version() - rv_start;
    let pods = bed.list("Pod", "").len();
    assert_eq!(pods, 2 * DEPLOYMENTS);
    // Let the last status writes settle, then measure.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rv = bed.resource_version();
    let syncs = bed.cluster.syncs();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rv_after = bed.resource_version();
    let syncs_after = bed.cluster.syncs();
    eprintln!(
        "{DEPLOYMENTS} Deployments / {pods} pods: converged in {converged:?} with {writes} writes; \
         over 2 s at steady state: {} writes, {} syncs",
        rv_after - rv,
        syncs_after - syncs
    );
    assert_eq!(rv_after, rv, "writes at steady state");
    assert_eq!(syncs_after, syncs, "syncs at steady state");

    // Scaling one Deployment touches that Deployment, its ReplicaSet and its pods only.
    bed.patch("Deployment", "app-7", json!({"spec": {"replicas": 3}}));
    bed.wait_for("app-7 at 3", |b| {
        let d = b.get("Deployment", "app-7");
        (d["status"]["availableReplicas"] == 3).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let syncs_for_one = bed.cluster.syncs() - syncs_after;
    let writes_for_one = bed.resource_version() - rv_after;
    eprintln!("scaling one Deployment: {writes_for_one} writes, {syncs_for_one} syncs");
    assert!(syncs_for_one < 40, "{syncs_for_one} syncs for one change");
    assert!(writes_for_one < 20, "{writes_for_one} writes for one change");
}
