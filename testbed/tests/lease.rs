//! Leases (`coordination.k8s.io/v1`), as leader election uses them: a second create of the same
//! name is 409 AlreadyExists, and of two updates read at the same resourceVersion only the first
//! succeeds; the other is 409 Conflict. That is Kubernetes' optimistic concurrency
//! (<https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions>, "Kubernetes
//! leverages the concept of resource versions to achieve optimistic concurrency"; client-go's
//! `resourcelock.LeaseLock` relies on it), and what keeps two candidates from both taking a lease.

mod support;

use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::MicroTime,
    jiff::Timestamp,
};
use kube::{
    Api,
    api::{ObjectMeta, PostParams},
};
use support::api_error;

fn lease(holder: &str) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some("leader".into()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(15),
            acquire_time: Some(MicroTime(Timestamp::now())),
            renew_time: Some(MicroTime(Timestamp::now())),
            lease_transitions: Some(0),
            ..LeaseSpec::default()
        }),
    }
}

#[tokio::test]
async fn lease_writes_are_optimistically_concurrent() {
    let (_server, client) = support::start().await;
    let leases: Api<Lease> = Api::namespaced(client, "default");
    let pp = PostParams::default();

    let created = leases.create(&pp, &lease("a")).await.expect("create");
    let again = api_error(leases.create(&pp, &lease("b")).await);
    assert_eq!(
        (again.code, again.reason.as_str()),
        (409, "AlreadyExists"),
        "{again:?}"
    );

    // Two candidates read the same version; both try to take the lease.
    let read = leases.get("leader").await.expect("get");
    assert_eq!(read.metadata.resource_version, created.metadata.resource_version);
    let mut by_b = read.clone();
    by_b.spec.as_mut().expect("spec").holder_identity = Some("b".into());
    let mut by_c = read.clone();
    by_c.spec.as_mut().expect("spec").holder_identity = Some("c".into());
    let taken = leases
        .replace("leader", &pp, &by_b)
        .await
        .expect("the first update wins");
    assert_ne!(taken.metadata.resource_version, read.metadata.resource_version);
    let lost = api_error(leases.replace("leader", &pp, &by_c).await);
    assert_eq!((lost.code, lost.reason.as_str()), (409, "Conflict"), "{lost:?}");
    let now = leases.get("leader").await.expect("get");
    assert_eq!(now.spec.and_then(|s| s.holder_identity).as_deref(), Some("b"));

    // Microsecond times are stored as written (MicroTime, RFC 3339 with microseconds).
    let renew = now_micro();
    let mut renewed = taken.clone();
    renewed.spec.as_mut().expect("spec").renew_time = Some(MicroTime(renew));
    let stored = leases.replace("leader", &pp, &renewed).await.expect("renew");
    assert_eq!(stored.spec.and_then(|s| s.renew_time), Some(MicroTime(renew)));
}

/// Now, truncated to microseconds (what a MicroTime keeps).
fn now_micro() -> Timestamp {
    let now = Timestamp::now();
    Timestamp::from_microsecond(now.as_microsecond()).expect("a timestamp")
}
