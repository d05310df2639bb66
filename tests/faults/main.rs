//! Faults, with nothing lost (issue 18): the scale bench's manifests (`FAULT_SERVICES`
//! TaskDefinitions and Services of every shape, 30 by default; 500 for the figures in
//! `docs/performance.md`) on three test beds at once, each with the operator as its own process
//! (`ecs-bridge run`):
//! - **fault-free**, the reference;
//! - **faults**: 10% of the operator's requests failing (500, or 429 with `Retry-After`), 10%
//!   of its writes conflicting (409), every watch dropped every 3 s and, every other time, the
//!   change log compacted first, so that the watch's resumption is answered 410 Gone;
//! - **kills**: the operator SIGKILLed at random moments (`FAULT_KILLS`, 4, per phase; seeded
//!   by `FAULT_SEED`) and started again.
//!
//! Each bed converges (every object Ready, then 12 s without a write of the operator), then
//! every TaskDefinition's image changes and each rolls out (the kills go on). After each phase
//! the beds must hold the same children and the same statuses (less times, generated ids, the
//! event history, the applied hash and the uids in the families marks: `state`), no child whose
//! owner is gone, and the operator under faults must have
//! made a bounded number of requests (no hot loop) and no write at rest.

// The bench's test bed, shared with `benches/scale` (each bench module is used in part here).
#[allow(dead_code)]
#[path = "../../benches/scale/bed.rs"]
mod bed;
#[allow(dead_code)]
#[path = "../../benches/scale/floor.rs"]
mod floor;
#[allow(dead_code)]
#[path = "../../benches/scale/manifests.rs"]
mod manifests;
#[allow(dead_code)]
#[path = "../../benches/scale/observe.rs"]
mod observe;
mod state;

use std::time::{Duration, Instant};

use bed::{Bed, Flags, Operator};
use kube::{
    Api,
    api::{ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams},
};
use serde_json::{Value, json};
use state::State;

/// How long a phase may take before the test fails: `FAULT_LIMIT` seconds, 900 by default.
fn limit() -> Duration {
    Duration::from_secs(bed::env("FAULT_LIMIT", 900) as u64)
}

/// A pseudo-random sequence (xorshift), so a seed repeats a run's kill moments.
struct Rolls(u64);

impl Rolls {
    /// A number in `low..high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        low + self.0 % (high - low).max(1)
    }
}

/// One bed and its operator.
struct Run {
    name: &'static str,
    bed: Bed,
    operator: Operator,
}

impl Run {
    async fn start(name: &'static str, services: usize, scheduled: usize) -> Run {
        let bed = Bed::start(services, scheduled, 16).await;
        let log = std::env::temp_dir().join(format!("ecs-bridge-faults-{name}-{}.log", std::process::id()));
        let _ = std::fs::remove_file(&log);
        let flags = Flags {
            resync: Duration::from_secs(300),
            concurrency: 16,
            qps: 0,
            burst: 1,
            log: "info,kube=warn".to_owned(),
        };
        let operator = Operator::start(bed.server.kubeconfig(), flags, log);
        Run { name, bed, operator }
    }

    /// The operator's requests so far: (requests, writes).
    fn requests(&self) -> (usize, usize) {
        let ops = observe::operator(&self.bed.server.api.faults.requests());
        (ops.len(), ops.iter().filter(|r| r.is_write()).count())
    }

    fn alive(&mut self) {
        if let Some(status) = self.operator.exited() {
            panic!(
                "the {} operator exited: {status}; its log:\n{}",
                self.name,
                self.operator.log()
            );
        }
    }
}

/// What a phase waits for.
enum Goal {
    /// Every TaskDefinition, Service and ScheduledTask Ready.
    Converged,
    /// Every Deployment and DaemonSet running this image, and then [`Goal::Converged`].
    RolledOut(String),
}

/// Whether `run` has reached `goal`, with `services` Services and `scheduled` ScheduledTasks.
async fn reached(run: &Run, goal: &Goal, services: usize, scheduled: usize) -> bool {
    if let Goal::RolledOut(image) = goal
        && !rolled_out(run, image).await
    {
        return false;
    }
    let (tds, svcs, sts) = run.bed.ready().await;
    tds == services && svcs == services && sts == scheduled
}

/// Waits until `run` has made no write for 12 s (longer than the operator's longest backoff,
/// 10 s: a retry still due would have come).
async fn quiet(run: &Run) {
    let started = Instant::now();
    loop {
        let before = run.requests().1;
        tokio::time::sleep(Duration::from_secs(12)).await;
        if run.requests().1 == before {
            return;
        }
        assert!(
            started.elapsed() < limit(),
            "the {} operator never stops writing",
            run.name
        );
    }
}

/// Whether every Deployment and DaemonSet of `run` runs `image`.
async fn rolled_out(run: &Run, image: &str) -> bool {
    for (kind, plural) in [("Deployment", "deployments"), ("DaemonSet", "daemonsets")] {
        let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("apps", "v1", kind), plural);
        let api: Api<DynamicObject> = Api::namespaced_with(run.bed.client.clone(), manifests::NAMESPACE, &ar);
        let Ok(list) = api.list(&ListParams::default()).await else {
            return false;
        };
        let all = list.items.iter().all(|o| {
            o.data
                .pointer("/spec/template/spec/containers/0/image")
                .and_then(Value::as_str)
                == Some(image)
        });
        if !all {
            return false;
        }
    }
    true
}

/// SIGKILLs `run`'s operator and starts it again, saying when (since `started`).
fn kill(run: &mut Run, started: Instant) {
    run.operator.kill_and_restart();
    eprintln!(
        "  {:>6.1}s: operator killed and restarted",
        started.elapsed().as_secs_f64()
    );
}

/// Drives every run until each has reached `goal` (with `size`: Services, ScheduledTasks),
/// killing the operator of `runs[killed]` at random moments (at most `kills` times) meanwhile;
/// then until each is quiet. Returns how many kills there were.
async fn settle(
    runs: &mut [Run],
    goal: &Goal,
    size: (usize, usize),
    kills: (usize, usize),
    rolls: &mut Rolls,
) -> usize {
    let (killed, kills) = kills;
    let started = Instant::now();
    // The first kill soon and whatever the beds' state, so that every phase has one.
    let mut killed_times = 0;
    if kills > 0 {
        tokio::time::sleep(Duration::from_millis(rolls.between(300, 1500))).await;
        kill(&mut runs[killed], started);
        killed_times = 1;
    }
    let mut next_kill = started.elapsed() + Duration::from_millis(rolls.between(500, 6000));
    loop {
        let mut all = true;
        for run in runs.iter_mut() {
            run.alive();
        }
        for run in runs.iter() {
            all &= reached(run, goal, size.0, size.1).await;
        }
        if all {
            break;
        }
        if killed_times < kills && started.elapsed() >= next_kill {
            kill(&mut runs[killed], started);
            killed_times += 1;
            next_kill = started.elapsed() + Duration::from_millis(rolls.between(500, 6000));
        }
        assert!(started.elapsed() < limit(), "not converged after {:?}", limit());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for run in runs.iter() {
        quiet(run).await;
    }
    eprintln!(
        "  settled in {:.1}s after {killed_times} kills",
        started.elapsed().as_secs_f64()
    );
    killed_times
}

/// Compares every run's state with the first's; asserts no orphans.
async fn compare(runs: &[Run], phase: &str) {
    let reference = State::read(&runs[0].bed.client).await;
    assert!(!reference.children.is_empty(), "{phase}: no children at all");
    for run in runs {
        let orphans = state::orphans(&run.bed.client).await;
        assert!(orphans.is_empty(), "{phase}, {}: orphans: {orphans:#?}", run.name);
    }
    for run in &runs[1..] {
        let state = State::read(&run.bed.client).await;
        let differences = reference.differences(&state);
        assert!(
            differences.is_empty(),
            "{phase}, {} against fault-free: {} differences:\n{}",
            run.name,
            differences.len(),
            differences[..differences.len().min(20)].join("\n")
        );
    }
    eprintln!(
        "  {phase}: {} children and {} statuses alike on every bed, no orphans",
        reference.children.len(),
        reference.statuses.len()
    );
}

/// Faults on `run`'s double for the operator's requests: 10% failing (500 or 429), 10% of the
/// writes conflicting; a task dropping its watches every 3 s, compacting the log first every
/// other time.
fn inject(run: &Run) -> tokio::task::JoinHandle<()> {
    let faults = &run.bed.server.api.faults;
    faults.only_for_user_agent(Some("ecs-bridge/"));
    faults.fail_requests_with(0.1, &[500, 429]);
    faults.conflict_writes(0.1);
    let api = run.bed.server.api.clone();
    tokio::spawn(async move {
        for n in 0_u64.. {
            tokio::time::sleep(Duration::from_secs(3)).await;
            if n % 2 == 1 {
                api.store.lock().compact();
            }
            api.faults.drop_watches();
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn faults_and_kills_lose_nothing() {
    let services = bed::env("FAULT_SERVICES", 30);
    let scheduled = services.div_ceil(20);
    let kills = bed::env("FAULT_KILLS", 4);
    let mut rolls = Rolls(bed::env("FAULT_SEED", 1) as u64 | 1);
    let (clean, faulty, killed) = tokio::join!(
        Run::start("fault-free", services, scheduled),
        Run::start("faults", services, scheduled),
        Run::start("kills", services, scheduled),
    );
    let mut runs = [clean, faulty, killed];
    let dropper = inject(&runs[1]);

    eprintln!("convergence of {services} Services:");
    let size = (services, scheduled);
    let n = settle(&mut runs, &Goal::Converged, size, (2, kills), &mut rolls).await;
    assert!(n > 0, "the operator was never killed during convergence");
    compare(&runs, "converged").await;
    let converging = [runs[0].requests(), runs[1].requests()];

    // At rest, the faults still on: reads to recover the dropped watches, never a write.
    let before = runs[1].requests();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after = runs[1].requests();
    assert_eq!(after.1, before.1, "writes at rest under faults");
    eprintln!(
        "  at rest under faults (10 s): {} requests (watches renewed and relisted), 0 writes",
        after.0 - before.0
    );

    // A rollout: every TaskDefinition's image (the Secrets of revision 2 made first, as a
    // synced External Secrets operator would), the images changed while the kills begin.
    let image = manifests::image(28);
    let mut patching = Vec::new();
    for run in &runs {
        let secrets: Vec<Value> = (0..services)
            .filter(|i| manifests::has_dependents(*i))
            .flat_map(|i| bed::documents(&manifests::synced_secret(i).replace("-1-secrets", "-2-secrets")))
            .collect();
        bed::apply_all(&run.bed.client, &secrets, 16).await;
        let ar = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("ecsbridge.io", "v1alpha1", "TaskDefinition"),
            "taskdefinitions",
        );
        let tds: Api<DynamicObject> = Api::namespaced_with(run.bed.client.clone(), manifests::NAMESPACE, &ar);
        let image = image.clone();
        patching.push(tokio::spawn(async move {
            for i in 0..services {
                let patch =
                    json!([{"op": "replace", "path": "/spec/containerDefinitions/0/image", "value": &image}]);
                tds.patch(
                    &format!("td-{i}"),
                    &PatchParams::default(),
                    &Patch::Json::<()>(serde_json::from_value(patch).expect("a JSON patch")),
                )
                .await
                .expect("image changed");
            }
        }));
    }
    eprintln!("rollout of {services} Services:");
    let goal = Goal::RolledOut(image);
    let n = settle(&mut runs, &goal, size, (2, kills), &mut rolls).await;
    for task in patching {
        task.await.expect("the images changed");
    }
    assert!(n > 0, "the operator was never killed during the rollout");
    compare(&runs, "rolled out").await;
    dropper.abort();

    // No hot loop: the requests under faults stay within a bound of the fault-free run's.
    let total = [runs[0].requests(), runs[1].requests()];
    for (phase, [clean, faulty]) in [("convergence", converging), ("in all", total)] {
        eprintln!(
            "  {phase}: fault-free {} requests, {} writes; under faults {} requests ({:.2}x), {} writes ({:.2}x)",
            clean.0,
            clean.1,
            faulty.0,
            faulty.0 as f64 / clean.0 as f64,
            faulty.1,
            faulty.1 as f64 / clean.1 as f64
        );
    }
    let [clean, faulty] = total;
    assert!(
        faulty.1 <= 2 * clean.1 + 100,
        "writes under faults: {} against {} without",
        faulty.1,
        clean.1
    );
    assert!(
        faulty.0 <= 4 * clean.0 + 1000,
        "requests under faults: {} against {} without",
        faulty.0,
        clean.0
    );
}
