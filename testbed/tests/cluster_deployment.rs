//! The simulated Deployment and ReplicaSet controllers against what kube-controller-manager
//! does (https://kubernetes.io/docs/concepts/workloads/controllers/deployment/).

mod cluster_common;

use std::{collections::BTreeSet, time::Duration};

use cluster_common::{Bed, PodFollower, active, condition, deployment, label, name, ready};
use ecs_bridge_testbed::PodOutcome;
use serde_json::{Value, json};

const RUNNING: PodOutcome = PodOutcome::Running { ready: true };

fn owner(obj: &Value) -> &Value {
    &obj["metadata"]["ownerReferences"][0]
}

fn replica_sets(bed: &Bed, app: &str) -> Vec<Value> {
    bed.list("ReplicaSet", &format!("app={app}"))
}

fn rs_with_image(bed: &Bed, app: &str, image: &str) -> Option<Value> {
    replica_sets(bed, app)
        .into_iter()
        .find(|r| r["spec"]["template"]["spec"]["containers"][0]["image"] == image)
}

fn spec_replicas(rs: &Value) -> i64 {
    rs["spec"]["replicas"].as_i64().unwrap_or(1)
}

fn set_image(bed: &Bed, name: &str, image: &str) {
    bed.patch(
        "Deployment",
        name,
        json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}}),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deployment_makes_a_replica_set_and_pods_and_becomes_available() {
    let bed = Bed::start().await;
    let d = bed.create(deployment("web", 4, "nginx:1.27"));
    let (rs, pods) = bed
        .wait_for("1 ReplicaSet and 4 pods", |b| {
            let rs = replica_sets(b, "web");
            let pods = b.active_pods("app=web");
            (rs.len() == 1 && pods.len() == 4).then(|| (rs[0].clone(), pods))
        })
        .await;
    let hash = label(&rs, "pod-template-hash");
    assert_eq!(hash.len(), 10, "{rs}");
    assert_eq!(name(&rs), format!("web-{hash}"));
    assert_eq!(
        rs["spec"]["selector"]["matchLabels"]["pod-template-hash"],
        hash.as_str()
    );
    assert_eq!(
        rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"],
        hash.as_str()
    );
    assert_eq!(spec_replicas(&rs), 4);
    let o = owner(&rs);
    assert_eq!(
        (o["kind"].as_str(), o["name"].as_str()),
        (Some("Deployment"), Some("web"))
    );
    assert_eq!(o["uid"], d["metadata"]["uid"]);
    assert_eq!(
        (o["controller"].as_bool(), o["blockOwnerDeletion"].as_bool()),
        (Some(true), Some(true))
    );
    let ann = &rs["metadata"]["annotations"];
    assert_eq!(ann["deployment.kubernetes.io/revision"], "1");
    assert_eq!(ann["deployment.kubernetes.io/desired-replicas"], "4");
    assert_eq!(ann["deployment.kubernetes.io/max-replicas"], "5");
    for p in &pods {
        assert_eq!(owner(p)["kind"], "ReplicaSet");
        assert_eq!(owner(p)["uid"], rs["metadata"]["uid"]);
        assert_eq!(label(p, "pod-template-hash"), hash);
        assert!(name(p).starts_with(&format!("web-{hash}-")), "{}", name(p));
    }

    // No kubelet yet: nothing is available.
    let d = bed
        .wait_for("status with 4 unavailable replicas", |b| {
            let d = b.get("Deployment", "web");
            (d["status"]["updatedReplicas"] == 4 && d["status"]["replicas"] == 4).then_some(d)
        })
        .await;
    assert_eq!(d["status"]["unavailableReplicas"], 4, "{}", d["status"]);
    assert!(
        d["status"].get("availableReplicas").is_none(),
        "omitempty: {}",
        d["status"]
    );
    let available = condition(&d, "Available").expect("Available");
    assert_eq!(
        (available["status"].as_str(), available["reason"].as_str()),
        (Some("False"), Some("MinimumReplicasUnavailable"))
    );
    assert_eq!(
        condition(&d, "Progressing").expect("Progressing")["status"],
        "True"
    );
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );

    bed.cluster.kubelet(RUNNING);
    let d = bed.rolled_out("web").await;
    let st = &d["status"];
    assert_eq!(
        (st["availableReplicas"].as_i64(), st["readyReplicas"].as_i64()),
        (Some(4), Some(4)),
        "{st}"
    );
    assert!(st.get("unavailableReplicas").is_none(), "{st}");
    assert_eq!(st["observedGeneration"], d["metadata"]["generation"]);
    let available = condition(&d, "Available").expect("Available");
    assert_eq!(
        (available["status"].as_str(), available["reason"].as_str()),
        (Some("True"), Some("MinimumReplicasAvailable"))
    );
    assert_eq!(available["message"], "Deployment has minimum availability.");
    let progressing = condition(&d, "Progressing").expect("Progressing");
    assert_eq!(progressing["status"], "True");
    assert_eq!(progressing["reason"], "NewReplicaSetAvailable");
    assert_eq!(
        progressing["message"],
        format!("ReplicaSet \"web-{hash}\" has successfully progressed.")
    );
    for c in [available, progressing] {
        assert!(
            c["lastUpdateTime"].is_string() && c["lastTransitionTime"].is_string(),
            "{c}"
        );
    }
    let rs = bed.get("ReplicaSet", &format!("web-{hash}"));
    assert_eq!(rs["status"]["availableReplicas"], 4, "{}", rs["status"]);
    assert_eq!(rs["status"]["observedGeneration"], rs["metadata"]["generation"]);
    let pods = bed.active_pods("app=web");
    let ips: BTreeSet<String> = pods
        .iter()
        .map(|p| p["status"]["podIP"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(ips.len(), 4, "each pod has its own IP: {ips:?}");
    assert!(
        pods.iter()
            .all(|p| p["spec"]["nodeName"].is_string() && p["status"]["phase"] == "Running")
    );
}

/// https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#max-surge and
/// #max-unavailable, checked on the state after every single store event.
#[tokio::test(flavor = "multi_thread")]
async fn a_rolling_update_stays_within_max_surge_and_max_unavailable_at_every_step() {
    let bed = Bed::start().await;
    bed.cluster.kubelet(RUNNING);
    bed.create(deployment("web", 4, "nginx:1.27"));
    bed.rolled_out("web").await;
    // 25% of 4: maxSurge 1 (rounded up), maxUnavailable 1 (rounded down).
    let follower = PodFollower::start(&bed, |pods| {
        let web: Vec<_> = pods
            .values()
            .filter(|p| p["metadata"]["labels"]["app"] == "web" && active(p))
            .collect();
        let total = i64::try_from(web.len()).unwrap_or(0);
        let ready_n = i64::try_from(web.iter().filter(|p| ready(p)).count()).unwrap_or(0);
        let violation = (total > 5 || ready_n < 3).then(|| format!("{total} pods, {ready_n} ready"));
        ((total, ready_n), violation)
    });
    set_image(&bed, "web", "nginx:1.28");
    let d = bed.rolled_out("web").await;
    let seen = follower.finish().await;
    assert!(seen.violations.is_empty(), "{:?}", seen.violations);
    let most = seen.measures.iter().map(|m| m.0).max().unwrap_or(0);
    assert_eq!(most, 5, "the surge pod was used: {:?}", seen.measures);
    assert!(
        seen.measures.len() > 10,
        "followed {} pod states",
        seen.measures.len()
    );

    let rs = replica_sets(&bed, "web");
    assert_eq!(rs.len(), 2);
    let new = rs_with_image(&bed, "web", "nginx:1.28").expect("new ReplicaSet");
    let old = rs_with_image(&bed, "web", "nginx:1.27").expect("old ReplicaSet");
    assert_eq!((spec_replicas(&new), spec_replicas(&old)), (4, 0));
    assert_eq!(old["status"]["replicas"], 0);
    assert_eq!(
        new["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );
    assert_eq!(
        condition(&d, "Progressing").expect("Progressing")["message"],
        format!("ReplicaSet \"{}\" has successfully progressed.", name(&new))
    );
    let pods = bed.active_pods("app=web");
    assert!(
        pods.iter()
            .all(|p| label(p, "pod-template-hash") == label(&new, "pod-template-hash"))
    );
}

/// With maxUnavailable 0 an old pod goes only when a new one is available.
#[tokio::test(flavor = "multi_thread")]
async fn old_replica_sets_scale_down_only_as_new_pods_become_available() {
    let bed = Bed::start().await;
    bed.cluster.kubelet(RUNNING);
    let mut d = deployment("web", 4, "nginx:1.27");
    d["spec"]["strategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}});
    bed.create(d);
    bed.rolled_out("web").await;
    bed.cluster.kubelet(PodOutcome::Running { ready: false });
    set_image(&bed, "web", "nginx:1.28");
    for step in 1..=4 {
        // One new pod at a time; the old ReplicaSet waits for it.
        let new_pod = bed
            .wait_for(&format!("new pod {step}"), |b| {
                let new = rs_with_image(b, "web", "nginx:1.28")?;
                let pods: Vec<Value> = b
                    .active_pods(&format!("pod-template-hash={}", label(&new, "pod-template-hash")))
                    .into_iter()
                    .filter(|p| !ready(p) && p["status"]["phase"] == "Running")
                    .collect();
                (spec_replicas(&new) == step && pods.len() == 1).then(|| pods[0].clone())
            })
            .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let old = rs_with_image(&bed, "web", "nginx:1.27").expect("old ReplicaSet");
        assert_eq!(
            spec_replicas(&old),
            5 - step,
            "step {step}: the old ReplicaSet waits for an available new pod"
        );
        assert_eq!(bed.active_pods("app=web").iter().filter(|p| ready(p)).count(), 4);
        assert_eq!(bed.active_pods("app=web").len(), 5);
        bed.cluster
            .set_pod("default", &name(&new_pod), RUNNING)
            .expect("set pod");
    }
    bed.rolled_out("web").await;
    assert_eq!(
        spec_replicas(&rs_with_image(&bed, "web", "nginx:1.27").expect("old")),
        0
    );
}

/// An image from a registry under `.invalid` (a name that never resolves, RFC 2606) cannot be
/// pulled even when the kubelet runs every other pod: its pods wait in `ErrImagePull`, as on a
/// real cluster.
#[tokio::test(flavor = "multi_thread")]
async fn images_from_an_invalid_registry_are_never_pulled() {
    let bed = Bed::start().await;
    bed.cluster.kubelet(RUNNING);
    bed.create(deployment("web", 2, "nginx:1.27"));
    bed.rolled_out("web").await;
    set_image(&bed, "web", "registry.invalid/nginx:1.27");
    let waiting = bed
        .wait_for("pods of the new image waiting", |b| {
            let pods: Vec<Value> = b
                .active_pods("app=web")
                .into_iter()
                .filter(|p| p["spec"]["containers"][0]["image"] == "registry.invalid/nginx:1.27")
                .collect();
            (!pods.is_empty()
                && pods.iter().all(|p| {
                    p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ErrImagePull"
                }))
            .then_some(pods)
        })
        .await;
    assert!(waiting.iter().all(|p| !ready(p)), "{waiting:?}");
    // The old pods keep running: maxUnavailable 25% of 2 rounds down to 0.
    let running = bed
        .active_pods("app=web")
        .into_iter()
        .filter(|p| p["spec"]["containers"][0]["image"] == "nginx:1.27" && ready(p))
        .count();
    assert_eq!(running, 2);
}

/// https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#failed-deployment:
/// image pull errors stall the rollout; past progressDeadlineSeconds, Progressing turns False.
#[tokio::test(flavor = "multi_thread")]
async fn an_image_that_cannot_be_pulled_exceeds_the_progress_deadline() {
    let bed = Bed::start().await;
    bed.cluster.kubelet(RUNNING);
    let mut d = deployment("web", 4, "nginx:1.27");
    d["spec"]["progressDeadlineSeconds"] = json!(2);
    bed.create(d);
    bed.rolled_out("web").await;
    bed.cluster.kubelet(PodOutcome::Waiting {
        reason: "ErrImagePull".into(),
    });
    set_image(&bed, "web", "nginx:does-not-exist");
    let d = bed
        .wait_for("the rollout to progress", |b| {
            let d = b.get("Deployment", "web");
            (condition(&d, "Progressing")?["reason"] == "ReplicaSetUpdated"
                && d["status"]["updatedReplicas"] == 2)
                .then_some(d)
        })
        .await;
    assert_eq!(
        condition(&d, "Progressing").expect("Progressing")["status"],
        "True"
    );
    let started = std::time::Instant::now();
    let d = bed
        .wait_for("ProgressDeadlineExceeded", |b| {
            let d = b.get("Deployment", "web");
            (condition(&d, "Progressing")?["reason"] == "ProgressDeadlineExceeded").then_some(d)
        })
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    let progressing = condition(&d, "Progressing").expect("Progressing");
    let new = rs_with_image(&bed, "web", "nginx:does-not-exist").expect("new ReplicaSet");
    assert_eq!(progressing["status"], "False");
    assert_eq!(
        progressing["message"],
        format!("ReplicaSet \"{}\" has timed out progressing.", name(&new))
    );
    // Three old pods still serve: the Deployment stays Available.
    assert_eq!(condition(&d, "Available").expect("Available")["status"], "True");
    let st = &d["status"];
    assert_eq!(
        (
            st["replicas"].as_i64(),
            st["updatedReplicas"].as_i64(),
            st["availableReplicas"].as_i64(),
            st["unavailableReplicas"].as_i64()
        ),
        (Some(5), Some(2), Some(3), Some(2)),
        "{st}"
    );
    let old = rs_with_image(&bed, "web", "nginx:1.27").expect("old ReplicaSet");
    assert_eq!((spec_replicas(&new), spec_replicas(&old)), (2, 3));
    let stuck = bed.active_pods(&format!("pod-template-hash={}", label(&new, "pod-template-hash")));
    assert!(
        stuck
            .iter()
            .all(|p| p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ErrImagePull")
    );
    // It stays that way.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again = bed.get("Deployment", "web");
    assert_eq!(again["status"], d["status"]);
}

/// The same with the default deadline (600 s), reached by moving the simulated clock; then a
/// rollback to the previous template reuses its ReplicaSet.
#[tokio::test(flavor = "multi_thread")]
async fn the_simulated_clock_reaches_the_deadline_and_a_rollback_reuses_the_old_replica_set() {
    let bed = Bed::start().await;
    bed.cluster.kubelet(RUNNING);
    bed.create(deployment("web", 2, "nginx:1.27"));
    bed.rolled_out("web").await;
    let first = rs_with_image(&bed, "web", "nginx:1.27").expect("first ReplicaSet");
    bed.cluster.kubelet(PodOutcome::Waiting {
        reason: "ImagePullBackOff".into(),
    });
    set_image(&bed, "web", "nginx:nope");
    // 25% of 2: maxSurge 1 (rounded up), maxUnavailable 0 (rounded down): one new pod, and
    // the old ReplicaSet keeps both of its pods.
    bed.wait_for("the stalled rollout", |b| {
        let new = rs_with_image(b, "web", "nginx:nope")?;
        (spec_replicas(&new) == 1 && b.get("Deployment", "web")["status"]["updatedReplicas"] == 1)
            .then_some(())
    })
    .await;
    assert_eq!(spec_replicas(&bed.get("ReplicaSet", &name(&first))), 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let d = bed.get("Deployment", "web");
    assert_eq!(
        condition(&d, "Progressing").expect("Progressing")["reason"],
        "ReplicaSetUpdated"
    );
    bed.cluster.advance_clock(Duration::from_secs(601));
    bed.wait_for("ProgressDeadlineExceeded", |b| {
        let d = b.get("Deployment", "web");
        (condition(&d, "Progressing")?["reason"] == "ProgressDeadlineExceeded").then_some(())
    })
    .await;

    // `kubectl rollout undo`: the template goes back.
    bed.cluster.kubelet(RUNNING);
    set_image(&bed, "web", "nginx:1.27");
    let d = bed.rolled_out("web").await;
    let rs = replica_sets(&bed, "web");
    assert_eq!(rs.len(), 2, "no third ReplicaSet");
    let reused = bed.get("ReplicaSet", &name(&first));
    assert_eq!(reused["metadata"]["uid"], first["metadata"]["uid"]);
    assert_eq!(
        reused["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );
    assert_eq!(
        reused["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"],
        "1"
    );
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );
    assert_eq!(
        spec_replicas(&rs_with_image(&bed, "web", "nginx:nope").expect("failed ReplicaSet")),
        0
    );
    let progressing = condition(&d, "Progressing").expect("Progressing");
    assert_eq!(
        (progressing["status"].as_str(), progressing["reason"].as_str()),
        (Some("True"), Some("NewReplicaSetAvailable"))
    );
}

/// https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#recreate-deployment:
/// all old pods are gone before any new one is created.
#[tokio::test(flavor = "multi_thread")]
async fn recreate_kills_every_old_pod_before_creating_new_ones() {
    let bed = Bed::start().await;
    bed.cluster.kubelet(RUNNING);
    let mut d = deployment("db", 3, "postgres:16");
    d["spec"]["strategy"] = json!({"type": "Recreate"});
    bed.create(d);
    bed.rolled_out("db").await;
    let old_hash = label(&replica_sets(&bed, "db")[0], "pod-template-hash");
    let follower = PodFollower::start(&bed, move |pods| {
        let db: Vec<_> = pods
            .values()
            .filter(|p| p["metadata"]["labels"]["app"] == "db" && active(p))
            .collect();
        let old = db
            .iter()
            .filter(|p| p["metadata"]["labels"]["pod-template-hash"] == old_hash.as_str())
            .count();
        let new = db.len() - old;
        let o = i64::try_from(old).unwrap_or(0);
        let n = i64::try_from(new).unwrap_or(0);
        (
            (o, n),
            (old > 0 && new > 0).then(|| format!("{old} old and {new} new pods together")),
        )
    });
    set_image(&bed, "db", "postgres:17");
    let d = bed.rolled_out("db").await;
    let seen = follower.finish().await;
    assert!(seen.violations.is_empty(), "{:?}", seen.violations);
    assert!(seen.measures.contains(&(0, 0)), "there was a moment with no pods");
    let new = rs_with_image(&bed, "db", "postgres:17").expect("new");
    let old = rs_with_image(&bed, "db", "postgres:16").expect("old");
    assert_eq!((spec_replicas(&new), spec_replicas(&old)), (3, 0));
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );
    // Recreate has no maxUnavailable: all replicas must be available.
    assert_eq!(condition(&d, "Available").expect("Available")["status"], "True");
}

/// https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#scaling-a-replicaset:
/// not-ready pods are deleted first.
#[tokio::test(flavor = "multi_thread")]
async fn scaling_down_deletes_pods_that_are_not_ready_first() {
    let bed = Bed::start().await;
    bed.cluster.kubelet(RUNNING);
    bed.create(deployment("web", 4, "nginx:1.27"));
    bed.rolled_out("web").await;
    let pods = bed.active_pods("app=web");
    let unready: BTreeSet<String> = pods.iter().take(2).map(name).collect();
    for p in &unready {
        bed.cluster
            .set_pod("default", p, PodOutcome::Running { ready: false })
            .expect("set pod");
    }
    let d = bed
        .wait_for("2 available", |b| {
            let d = b.get("Deployment", "web");
            (d["status"]["availableReplicas"] == 2).then_some(d)
        })
        .await;
    // 2 available < 4 - maxUnavailable 1.
    let available = condition(&d, "Available").expect("Available");
    assert_eq!(
        (available["status"].as_str(), available["reason"].as_str()),
        (Some("False"), Some("MinimumReplicasUnavailable"))
    );
    assert_eq!(d["status"]["unavailableReplicas"], 2);
    bed.patch("Deployment", "web", json!({"spec": {"replicas": 2}}));
    let d = bed.rolled_out("web").await;
    let left: BTreeSet<String> = bed.active_pods("app=web").iter().map(name).collect();
    assert_eq!(left.len(), 2);
    assert!(
        left.is_disjoint(&unready),
        "kept {left:?}, not-ready were {unready:?}"
    );
    assert_eq!(condition(&d, "Available").expect("Available")["status"], "True");
    let rs = &replica_sets(&bed, "web")[0];
    assert_eq!(
        rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"],
        "2"
    );
}

/// https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#proportional-scaling,
/// with the numbers of the documentation's example.
#[tokio::test(flavor = "multi_thread")]
async fn scaling_during_a_rollout_is_proportional() {
    let bed = Bed::start().await;
    bed.cluster.kubelet(RUNNING);
    let mut d = deployment("web", 10, "nginx:1.27");
    d["spec"]["strategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}});
    bed.create(d);
    bed.rolled_out("web").await;
    bed.cluster.kubelet(PodOutcome::Waiting {
        reason: "ErrImagePull".into(),
    });
    set_image(&bed, "web", "nginx:sometag");
    let sizes = |b: &Bed| {
        Some((
            spec_replicas(&rs_with_image(b, "web", "nginx:1.27")?),
            spec_replicas(&rs_with_image(b, "web", "nginx:sometag")?),
        ))
    };
    bed.wait_for("old 8, new 5", |b| (sizes(b)? == (8, 5)).then_some(()))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sizes(&bed), Some((8, 5)));
    bed.patch("Deployment", "web", json!({"spec": {"replicas": 15}}));
    bed.wait_for("old 11, new 7", |b| (sizes(b)? == (11, 7)).then_some(()))
        .await;
    bed.wait_for("18 pods", |b| {
        (b.active_pods("app=web").len() == 18).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_deployment_does_not_roll_out_until_resumed() {
    let bed = Bed::start().await;
    bed.cluster.kubelet(RUNNING);
    bed.create(deployment("web", 2, "nginx:1.27"));
    bed.rolled_out("web").await;
    bed.patch("Deployment", "web", json!({"spec": {"paused": true}}));
    set_image(&bed, "web", "nginx:1.28");
    let d = bed
        .wait_for("DeploymentPaused", |b| {
            let d = b.get("Deployment", "web");
            (condition(&d, "Progressing")?["reason"] == "DeploymentPaused").then_some(d)
        })
        .await;
    assert_eq!(
        condition(&d, "Progressing").expect("Progressing")["status"],
        "Unknown"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(replica_sets(&bed, "web").len(), 1);
    bed.patch("Deployment", "web", json!({"spec": {"paused": false}}));
    bed.rolled_out("web").await;
    assert_eq!(
        spec_replicas(&rs_with_image(&bed, "web", "nginx:1.28").expect("new")),
        2
    );
}

/// https://kubernetes.io/docs/concepts/architecture/garbage-collection/#cascading-deletion
#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_deployment_cascades_to_its_replica_sets_and_pods() {
    let bed = Bed::start().await;
    bed.cluster.kubelet(RUNNING);
    for (app, policy) in [("web", None), ("api", Some("Foreground"))] {
        bed.create(deployment(app, 3, "nginx:1.27"));
        bed.rolled_out(app).await;
        set_image(&bed, app, "nginx:1.28");
        bed.rolled_out(app).await;
        assert_eq!(replica_sets(&bed, app).len(), 2);
        bed.delete("Deployment", app, policy);
        bed.wait_for(&format!("{app}: everything gone"), |b| {
            (b.try_get("Deployment", app).is_none()
                && replica_sets(b, app).is_empty()
                && b.list("Pod", &format!("app={app}")).is_empty())
            .then_some(())
        })
        .await;
    }
}

/// https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#min-ready-seconds:
/// a Ready pod counts as available only after minReadySeconds.
#[tokio::test(flavor = "multi_thread")]
async fn ready_pods_become_available_after_min_ready_seconds() {
    let bed = Bed::start().await;
    bed.cluster.kubelet(RUNNING);
    let mut d = deployment("web", 2, "nginx:1.27");
    d["spec"]["minReadySeconds"] = json!(30);
    bed.create(d);
    let d = bed
        .wait_for("2 ready", |b| {
            let d = b.get("Deployment", "web");
            (d["status"]["readyReplicas"] == 2).then_some(d)
        })
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let d2 = bed.get("Deployment", "web");
    assert!(
        d2["status"].get("availableReplicas").is_none(),
        "{}",
        d2["status"]
    );
    assert_eq!(d2["status"]["unavailableReplicas"], 2);
    assert_eq!(replica_sets(&bed, "web")[0]["spec"]["minReadySeconds"], 30);
    assert_eq!(d["status"]["readyReplicas"], 2);
    bed.cluster.advance_clock(Duration::from_secs(31));
    let d = bed.rolled_out("web").await;
    assert_eq!(condition(&d, "Available").expect("Available")["status"], "True");
}

/// As a real kubelet, the simulated one does not start a container whose environment names a
/// Secret or ConfigMap (or a key of one) that does not exist: `CreateContainerConfigError`,
/// with the kubelet's message; an `optional` reference does not stop it.
#[tokio::test(flavor = "multi_thread")]
async fn a_container_whose_secret_is_missing_does_not_start() {
    let bed = Bed::start().await;
    bed.cluster.kubelet(RUNNING);
    bed.create(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
        "data": {"level": "info"}}),
    );
    let with_env = |name: &str, env: Value, env_from: Value| {
        let mut d = deployment(name, 1, "nginx:1.27");
        d["spec"]["template"]["spec"]["containers"][0]["env"] = env;
        d["spec"]["template"]["spec"]["containers"][0]["envFrom"] = env_from;
        d
    };
    let secret_ref = |name: &str, optional: bool| json!([{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": name, "key": "password", "optional": optional}}}]);
    bed.create(with_env("db", secret_ref("db", false), json!([])));
    bed.create(with_env("opt", secret_ref("db", true), json!([])));
    bed.create(with_env(
        "key",
        json!([{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "absent"}}}]),
        json!([]),
    ));
    bed.create(with_env(
        "from",
        json!([]),
        json!([{"configMapRef": {"name": "nope"}}]),
    ));
    bed.create(with_env(
        "fine",
        json!([]),
        json!([{"configMapRef": {"name": "settings"}}]),
    ));
    let waiting = |b: &Bed, app: &str| {
        let pods = b.active_pods(&format!("app={app}"));
        let st = pods
            .first()?
            .pointer("/status/containerStatuses/0/state")?
            .clone();
        Some(st)
    };
    for (app, message) in [
        ("db", "secret \"db\" not found"),
        ("key", "couldn't find key absent in ConfigMap default/settings"),
        ("from", "configmap \"nope\" not found"),
    ] {
        let state = bed
            .wait_for(&format!("{app} waiting"), |b| {
                waiting(b, app).filter(|s| s.get("waiting").is_some())
            })
            .await;
        assert_eq!(
            state["waiting"]["reason"], "CreateContainerConfigError",
            "{app}: {state}"
        );
        assert_eq!(state["waiting"]["message"], message, "{app}");
    }
    for app in ["opt", "fine"] {
        bed.wait_for(&format!("{app} running"), |b| {
            waiting(b, app).filter(|s| s.get("running").is_some())
        })
        .await;
    }
}
