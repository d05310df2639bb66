//! Tests of the shared error policy: per-object exponential backoff, reset on success, metrics.

use std::{sync::Arc, time::Duration};

use kube::runtime::controller::Action;

use super::{
    BACKOFF_INITIAL, BACKOFF_MAX, Error, backoff_delay, error_policy, key, testing, with_backoff_reset,
};

#[test]
fn backoff_doubles_from_one_second_up_to_ten_seconds() {
    let delays: Vec<u64> = (1..=8).map(|n| backoff_delay(n).as_secs()).collect();
    assert_eq!(delays, [1, 2, 4, 8, 10, 10, 10, 10]);
    assert_eq!(backoff_delay(u32::MAX), BACKOFF_MAX);
    assert_eq!(backoff_delay(0), BACKOFF_INITIAL);
}

#[tokio::test]
async fn a_changed_spec_starts_the_backoff_again() {
    let (ctx, _server) = testing::context();
    let err = Error::MissingNamespace {
        kind: "TaskDefinition",
        name: "web".into(),
    };
    let web = Arc::new(testing::task_definition("team-a", "web", 1));
    let delays: Vec<Action> = (0..5)
        .map(|_| error_policy(Arc::clone(&web), &err, Arc::clone(&ctx)))
        .collect();
    assert_eq!(delays.last(), Some(&Action::requeue(BACKOFF_MAX)));
    // The user edits the spec: generation 2. Its first failure is retried within a second.
    let edited = Arc::new(testing::task_definition("team-a", "web", 2));
    assert_eq!(
        error_policy(Arc::clone(&edited), &err, Arc::clone(&ctx)),
        Action::requeue(BACKOFF_INITIAL)
    );
    assert_eq!(
        error_policy(Arc::clone(&edited), &err, Arc::clone(&ctx)),
        Action::requeue(Duration::from_secs(2))
    );
    // A status write leaves the generation alone: the backoff goes on.
    let mut status_written = testing::task_definition("team-a", "web", 2);
    status_written.metadata.resource_version = Some("7".to_owned());
    assert_eq!(
        error_policy(Arc::new(status_written), &err, Arc::clone(&ctx)),
        Action::requeue(Duration::from_secs(4))
    );
}

#[tokio::test]
async fn error_policy_backs_off_per_object_and_resets_on_success() {
    let (ctx, _server) = testing::context();
    let web = Arc::new(testing::task_definition("team-a", "web", 1));
    let api = Arc::new(testing::task_definition("team-a", "api", 1));
    let err = || Error::MissingNamespace {
        kind: "TaskDefinition",
        name: "web".into(),
    };

    let mut actions = Vec::new();
    for _ in 0..4 {
        actions.push(error_policy(Arc::clone(&web), &err(), Arc::clone(&ctx)));
    }
    let expected: Vec<Action> = [1, 2, 4, 8]
        .map(|s| Action::requeue(Duration::from_secs(s)))
        .into();
    assert_eq!(actions, expected);
    assert_eq!(ctx.failures(&key(web.as_ref())), 4);

    // Another object has its own count.
    assert_eq!(
        error_policy(Arc::clone(&api), &err(), Arc::clone(&ctx)),
        Action::requeue(Duration::from_secs(1))
    );

    // A successful reconcile resets the count of that object only.
    let ok = with_backoff_reset(
        "task-definition",
        |_, _| async { Ok(Action::await_change()) },
        Arc::clone(&web),
        Arc::clone(&ctx),
    )
    .await;
    assert_eq!(ok.expect("reconcile succeeds"), Action::await_change());
    assert_eq!(ctx.failures(&key(web.as_ref())), 0);
    assert_eq!(ctx.failures(&key(api.as_ref())), 1);
    assert_eq!(
        error_policy(Arc::clone(&web), &err(), Arc::clone(&ctx)),
        Action::requeue(Duration::from_secs(1))
    );

    // A failed reconcile keeps it.
    let failed = with_backoff_reset(
        "task-definition",
        |_, _| async { Err(err()) },
        Arc::clone(&api),
        Arc::clone(&ctx),
    )
    .await;
    assert!(failed.is_err());
    assert_eq!(ctx.failures(&key(api.as_ref())), 1);

    // Both reconciles were counted, the failure by its kind.
    let metrics = ctx.metrics.encode().expect("metrics");
    assert!(
        metrics.contains("ecs_bridge_reconcile_runs_total{controller=\"task-definition\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "ecs_bridge_reconcile_errors_total{controller=\"task-definition\",error=\"missing_namespace\"} 1"
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn backoff_caps_at_ten_seconds() {
    let (ctx, _server) = testing::context();
    let web = Arc::new(testing::task_definition("team-a", "web", 1));
    let err = Error::MissingNamespace {
        kind: "TaskDefinition",
        name: "web".into(),
    };
    let mut last = Action::await_change();
    for _ in 0..40 {
        last = error_policy(Arc::clone(&web), &err, Arc::clone(&ctx));
    }
    assert_eq!(last, Action::requeue(BACKOFF_MAX));
}
