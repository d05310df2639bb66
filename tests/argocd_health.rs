//! The Argo CD health checks (`charts/ecs-bridge/argocd/`), run by a real Lua 5.1 interpreter.
//!
//! Each script is taken exactly as shipped: the value of its key in the generated argocd-cm
//! snippet `charts/ecs-bridge/argocd/argocd-cm-health.yaml`. It runs under Debian's `lua5.1` in
//! the environment Argo CD gives it (gopher-lua with the base, table and package libraries and a
//! safe `os`: no `string`, `math`, `io` or `debug`, no string methods) with `obj` set to a sample
//! object, converted from JSON to a Lua table as Argo CD's decoder does (JSON null is nil: a key
//! whose value is null is absent, a null list item is dropped).
//!
//! - the hand-written samples of `testdata/argocd/<Kind>/*.json` get the health they expect, and
//!   together they run every `return` of their kind's script (line coverage from a debug hook);
//! - statuses computed by the controllers' own pure status functions (Service, TaskDefinition)
//!   get the health their conditions mean, so the Lua and the Rust stay in agreement;
//! - every script parses (`luac5.1 -p`), and the snippet is what `hack/argocd_health.py` makes of
//!   the sources (the drift test: `make generate` fixes it);
//! - `examples/argocd/application.yaml` syncs `examples/` (but itself) with server-side apply.
//!
//! `lua5.1` (and `luac5.1`) must be installed: `apt-get install -y lua5.1`. Without them these
//! tests fail, saying so; they are not skipped.

mod support;

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

use ecs_bridge::{
    api::{
        Service, TaskDefinition,
        condition::{self, DEGRADED, PROGRESSING, READY},
    },
    controller::{
        service::{
            apply::Applied,
            build::Translation,
            status::{Observation, compute, invalid_status},
            validate::{Invalid, REASON_TASK_DEFINITION_NOT_FOUND},
        },
        task_definition::{
            status::{Registration, compute_status_with},
            validate::{REASON_NAME_TOO_LONG, validate},
        },
    },
    translate::{Options, service::Workload},
};
use k8s_openapi::{
    api::apps::v1::Deployment,
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};
use serde_json::{Value, json};

/// The kinds, each with one key in the snippet.
const KINDS: [&str; 5] = [
    "TaskDefinition",
    "Service",
    "Task",
    "ScheduledTask",
    "CapacityProvider",
];
/// The health statuses Argo CD accepts from a script.
const STATUSES: [&str; 6] = [
    "Healthy",
    "Progressing",
    "Degraded",
    "Suspended",
    "Missing",
    "Unknown",
];
const INSTALL: &str =
    "install Lua 5.1: `apt-get install -y lua5.1` (Debian/Ubuntu; README, test prerequisites)";

/// Runs one script in Argo CD's environment: `lua5.1 HARNESS SCRIPT OBJECT`, where OBJECT is a
/// Lua file returning the object. Prints the status, the lines of SCRIPT that ran, then the message.
const HARNESS: &str = r#"
local script_path, object_path = arg[1], arg[2]
local chunk = assert(loadfile(script_path))
local obj = assert(loadfile(object_path))()
-- What Argo CD's gopher-lua state has for scripts from argocd-cm: the base library, table,
-- package and a safe os (util/lua/lua.go: SkipOpenLibs, then OpenBase, OpenTable, OpenPackage,
-- OpenSafeOs). Not string, math, io, debug or coroutine.
local env = {}
for name, value in pairs(_G) do
  if type(value) == "function" then env[name] = value end
end
env._G = env
env._VERSION = _VERSION
env.table = table
env.package = package
env.os = { time = os.time, date = os.date, clock = os.clock }
env.obj = obj
setfenv(chunk, env)
local lines = {}
local source = "@" .. script_path
debug.sethook(function(_, line)
  if debug.getinfo(2, "S").source == source then lines[#lines + 1] = line end
end, "l")
-- Without gopher-lua's string library, strings have no methods either.
local string_meta = getmetatable("")
local string_index = string_meta.__index
string_meta.__index = nil
local ok, hs = pcall(chunk)
string_meta.__index = string_index
debug.sethook()
if not ok then
  io.stderr:write("the script failed: ", tostring(hs), "\n")
  os.exit(3)
end
if type(hs) ~= "table" then
  io.stderr:write("the script returned a ", type(hs), ", not a table\n")
  os.exit(4)
end
for key in pairs(hs) do
  if key ~= "status" and key ~= "message" then
    io.stderr:write("unexpected key in the result: ", tostring(key), "\n")
    os.exit(5)
  end
end
io.write(tostring(hs.status), "\n", table.concat(lines, ","), "\n")
if hs.message ~= nil then io.write(tostring(hs.message)) else io.write("<nil>") end
"#;

fn lua() -> String {
    std::env::var("LUA").unwrap_or_else(|_| "lua5.1".to_owned())
}

fn luac() -> String {
    std::env::var("LUAC").unwrap_or_else(|_| "luac5.1".to_owned())
}

/// The scratch directory of this test process, with the harness and the five scripts in it
/// (written once, before any test runs one).
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("argocd-health-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        std::fs::write(dir.join("harness.lua"), HARNESS).expect("write harness");
        for kind in KINDS {
            let text = snippet()
                .get(&key(kind))
                .unwrap_or_else(|| panic!("no key {} in the snippet", key(kind)));
            std::fs::write(dir.join(format!("{kind}.lua")), text).expect("write script");
        }
        // Fail early, and say how to get Lua, when it is missing.
        let out = Command::new(lua())
            .arg("-v")
            .output()
            .unwrap_or_else(|e| panic!("cannot run `{}`: {e}; {INSTALL}", lua()));
        let version = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
        assert!(
            version.contains("Lua 5.1"),
            "`{} -v` says {version:?}, not Lua 5.1; {INSTALL}",
            lua()
        );
        dir
    })
}

/// The generated argocd-cm snippet's `data`.
fn snippet() -> &'static BTreeMap<String, String> {
    static DATA: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    DATA.get_or_init(|| {
        let path = support::repo_root().join("charts/ecs-bridge/argocd/argocd-cm-health.yaml");
        let text = std::fs::read_to_string(&path).expect("the argocd-cm snippet");
        let doc: Value = serde_yaml_ng::from_str(&text).expect("the snippet is YAML");
        serde_json::from_value(doc["data"].clone()).expect("data: string keys and values")
    })
}

/// The argocd-cm key of `kind`.
fn key(kind: &str) -> String {
    format!("resource.customizations.health.ecsbridge.io_{kind}")
}

/// The file holding the shipped script of `kind` (its value in the snippet, byte for byte).
fn script(kind: &str) -> PathBuf {
    scratch().join(format!("{kind}.lua"))
}

/// A Lua string literal of `s`.
fn lua_string(s: &str) -> String {
    let mut out = String::from("\"");
    for b in s.bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            0x20..=0x7e => out.push(char::from(b)),
            // Control characters and the bytes of non-ASCII characters, as decimal escapes.
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out.push('"');
    out
}

/// A Lua table constructor of `v`, as Argo CD's decoder builds it: null is nil, so a key whose
/// value is null is left out and a null list item is dropped (gopher-lua's Append skips nil).
fn lua_value(v: &Value) -> String {
    match v {
        Value::Null => "nil".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.to_string(),
            (_, Some(u)) => u.to_string(),
            _ => format!("{:?}", n.as_f64().expect("a JSON number")),
        },
        Value::String(s) => lua_string(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().filter(|i| !i.is_null()).map(lua_value).collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| format!("[{}] = {}", lua_string(k), lua_value(v)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
    }
}

/// What a script returned, and which of its lines ran.
#[derive(Debug)]
struct Outcome {
    status: String,
    message: String,
    lines: BTreeSet<usize>,
}

/// Runs the shipped script of `kind` with `obj`.
fn health(kind: &str, obj: &Value, label: &str) -> Outcome {
    let script = script(kind);
    let object = scratch().join(format!("{}.lua", label.replace(['/', ' '], "_")));
    std::fs::write(&object, format!("return {}\n", lua_value(obj))).expect("write object");
    let out = Command::new(lua())
        .arg(scratch().join("harness.lua"))
        .arg(&script)
        .arg(&object)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{}`: {e}; {INSTALL}", lua()));
    assert!(
        out.status.success(),
        "{kind} health check on {label} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let mut parts = stdout.splitn(3, '\n');
    let status = parts.next().unwrap_or_default().to_owned();
    let lines = parts
        .next()
        .unwrap_or_default()
        .split(',')
        .filter(|l| !l.is_empty())
        .map(|l| l.parse().expect("a line number"))
        .collect();
    let message = parts.next().unwrap_or_default().to_owned();
    assert!(
        STATUSES.contains(&status.as_str()),
        "{kind} on {label}: {status:?} is not a health status Argo CD accepts"
    );
    assert_ne!(message, "<nil>", "{kind} on {label}: every result has a message");
    Outcome {
        status,
        message,
        lines,
    }
}

/// One hand-written sample: `testdata/argocd/<Kind>/<name>.json`.
struct Sample {
    kind: String,
    name: String,
    object: Value,
    status: String,
    message: String,
}

fn samples() -> Vec<Sample> {
    let root = support::repo_root().join("testdata/argocd");
    let mut samples = Vec::new();
    for kind in KINDS {
        let dir = root.join(kind);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read sample");
            let sample: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let name = file.file_stem().and_then(|s| s.to_str()).unwrap_or("").to_owned();
            let object = sample["object"].clone();
            assert_eq!(object["kind"], kind, "{}: the object's kind", file.display());
            assert_eq!(
                object["apiVersion"],
                "ecsbridge.io/v1alpha1",
                "{}",
                file.display()
            );
            assert!(
                sample["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{}: a description says what the sample is",
                file.display()
            );
            samples.push(Sample {
                kind: kind.to_owned(),
                name,
                object,
                status: sample["expect"]["status"]
                    .as_str()
                    .expect("expect.status")
                    .to_owned(),
                message: sample["expect"]["message"]
                    .as_str()
                    .expect("expect.message")
                    .to_owned(),
            });
        }
    }
    samples
}

#[test]
fn the_snippet_has_one_key_per_kind_and_every_script_parses_under_lua_5_1() {
    let keys: BTreeSet<String> = snippet().keys().cloned().collect();
    let wanted: BTreeSet<String> = KINDS.iter().map(|k| key(k)).collect();
    assert_eq!(keys, wanted, "one argocd-cm key per kind, no wildcard");
    for kind in KINDS {
        let path = script(kind);
        let out = Command::new(luac())
            .arg("-p")
            .arg(&path)
            .output()
            .unwrap_or_else(|e| panic!("cannot run `{}`: {e}; {INSTALL}", luac()));
        assert!(
            out.status.success(),
            "the {kind} script does not parse under Lua 5.1: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_snippet_is_generated_from_the_lua_sources() {
    let out = Command::new(support::python())
        .arg(support::repo_root().join("hack/argocd_health.py"))
        .arg("--check")
        .output()
        .expect("run python3 hack/argocd_health.py --check");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_sample_gets_its_health_and_the_samples_run_every_return_of_each_script() {
    let samples = samples();
    let mut failures = Vec::new();
    let mut ran: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for sample in &samples {
        let label = format!("{}/{}", sample.kind, sample.name);
        let got = health(&sample.kind, &sample.object, &label);
        if (got.status.as_str(), got.message.as_str()) != (sample.status.as_str(), sample.message.as_str()) {
            failures.push(format!(
                "{label}: got {} {:?}, want {} {:?}",
                got.status, got.message, sample.status, sample.message
            ));
        }
        ran.entry(KINDS.iter().find(|k| **k == sample.kind).expect("a kind"))
            .or_default()
            .extend(got.lines);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every branch: each line that returns (an outcome, or "these rules do not decide") ran for
    // some sample of the kind.
    for kind in KINDS {
        let text = &snippet()[&key(kind)];
        let lines = ran.get(kind).cloned().unwrap_or_default();
        let missed: Vec<String> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| {
                let l = l.trim_start();
                l.starts_with("return ") || l.contains("health.status(") && !l.starts_with("function ")
            })
            .filter(|(i, _)| !lines.contains(&(i + 1)))
            .map(|(i, l)| format!("  line {}: {}", i + 1, l.trim()))
            .collect();
        assert!(
            missed.is_empty(),
            "no sample of testdata/argocd/{kind}/ runs these lines of its script:\n{}",
            missed.join("\n")
        );
    }
}

// --- Statuses computed by the controllers ---

fn t(seconds: i64) -> Time {
    Time(Timestamp::from_second(1_700_000_000 + seconds).expect("a time"))
}

fn cond<'a>(conditions: &'a [Condition], type_: &str) -> &'a Condition {
    condition::find(conditions, type_).unwrap_or_else(|| panic!("a {type_} condition"))
}

/// The Service `web` (3 tasks of `web`) at `generation`.
fn service(generation: i64) -> Service {
    serde_json::from_value(json!({
        "apiVersion": "ecsbridge.io/v1alpha1",
        "kind": "Service",
        "metadata": {
            "name": "web", "namespace": "team-a", "generation": generation,
            "uid": "5d3c0f61-0a4e-4e0f-9a52-2f3e0c1b7a10"
        },
        "spec": {"serviceName": "web", "taskDefinition": "web", "desiredCount": 3}
    }))
    .expect("a Service")
}

/// The Deployment of `web` as the API server returns it: `replicas` tasks, `ready` of them
/// ready, `updated` of them on the latest template.
fn deployment(replicas: i32, ready: i32, updated: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "team-a", "generation": 1},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"ecsbridge.io/service": "web"}},
            "template": {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}
        },
        "status": {
            "observedGeneration": 1, "replicas": replicas, "readyReplicas": ready,
            "updatedReplicas": updated, "availableReplicas": ready
        }
    }))
    .expect("a Deployment")
}

fn applied(deployment: Deployment, task_definition: &str) -> Applied {
    Applied {
        workload: Workload::Deployments(vec![deployment]),
        task_definition: task_definition.to_owned(),
        translation: Translation::default(),
        problems: Vec::new(),
        strategy: None,
        auto_scaling: None,
        unserved_scaling: None,
        replaced: Default::default(),
        replaced_task: None,
    }
}

/// The Service's health by the Lua, from the status the controller computed.
fn service_health(svc: &Service, label: &str) -> (String, String) {
    let obj = serde_json::to_value(svc).expect("Service to JSON");
    let got = health("Service", &obj, label);
    same_as_the_status_says(&obj, &got.status, label);
    (got.status, got.message)
}

/// The health the controller wrote into the status (`kubectl get`'s HEALTH column) is the Lua's,
/// for the generation it observed (a newer one is Progressing for Argo CD until it is observed).
fn same_as_the_status_says(obj: &Value, lua: &str, label: &str) {
    let observed = obj.pointer("/status/observedGeneration") == obj.pointer("/metadata/generation");
    if let Some(written) = obj
        .pointer("/status/health")
        .and_then(Value::as_str)
        .filter(|_| observed)
    {
        assert_eq!(
            written, lua,
            "{label}: status.health disagrees with Argo CD's health check"
        );
    }
}

fn pair(status: &str, message: &str) -> (String, String) {
    (status.to_owned(), message.to_owned())
}

#[test]
fn service_statuses_from_the_controller_get_the_health_their_conditions_mean() {
    // Steady state: Ready=True, Progressing=False → Healthy.
    let mut steady = service(1);
    steady.status = Some(compute_status(&steady, &applied(deployment(3, 3, 3), "web:1")));
    let ready = cond(&steady.status.as_ref().expect("status").conditions, READY).clone();
    assert_eq!(ready.status, "True");
    assert_eq!(
        service_health(&steady, "service-steady"),
        pair(
            "Healthy",
            "(service web) has reached a steady state: 3 of 3 tasks are running."
        )
    );
    assert_eq!(service_health(&steady, "service-steady").1, ready.message);

    // A new generation the controller has not observed yet → Progressing.
    let mut edited = steady.clone();
    edited.metadata.generation = Some(2);
    assert_eq!(
        service_health(&edited, "service-edited"),
        pair(
            "Progressing",
            "Waiting for ecs-bridge to observe generation 2 (the status is of generation 1)."
        )
    );

    // A rollout: 1 of 3 tasks on the new revision → Progressing=True → Progressing.
    let mut rolling = service(2);
    rolling.status = steady.status.clone();
    rolling.status = Some(compute_status(&rolling, &applied(deployment(4, 3, 1), "web:2")));
    let progressing = cond(&rolling.status.as_ref().expect("status").conditions, PROGRESSING).clone();
    assert_eq!(progressing.status, "True");
    assert_eq!(
        service_health(&rolling, "service-rolling"),
        pair("Progressing", "Rolling out web:2 (Deployment web).")
    );

    // Every task is of the current template but only 1 of 3 runs: the rollout is not complete
    // until they run (Progressing=True, Ready=False TasksPending) → Progressing, not Degraded.
    let mut starting = service(1);
    starting.status = Some(compute_status(&starting, &applied(deployment(3, 1, 3), "web:1")));
    let conditions = &starting.status.as_ref().expect("status").conditions;
    assert_eq!(
        (
            cond(conditions, READY).status.as_str(),
            cond(conditions, PROGRESSING).status.as_str()
        ),
        ("False", "True")
    );
    assert_eq!(
        service_health(&starting, "service-starting"),
        pair("Progressing", "Rolling out web:1 (Deployment web).")
    );

    // The circuit breaker failed the deployment: Degraded=True → Degraded with its message.
    let mut failed = service(1);
    let failure = "(service web) (deployment ecs-svc/1) deployment failed: tasks failed to start.";
    let observed = Observation {
        failure: Some(failure.to_owned()),
        ..Observation::default()
    };
    failed.status = Some(compute(&failed, &applied(deployment(3, 2, 3), "web:2"), &observed, t(0)).0);
    assert_eq!(
        cond(&failed.status.as_ref().expect("status").conditions, DEGRADED).status,
        "True"
    );
    assert_eq!(
        service_health(&failed, "service-failed"),
        pair("Degraded", failure)
    );

    // An invalid spec (Ready=False and Progressing=False, TaskDefinitionNotFound) → Degraded with
    // Ready's message; the failure above, about generation 1, is stale for generation 2.
    let mut invalid = failed.clone();
    invalid.metadata.generation = Some(2);
    let why = Invalid {
        reason: REASON_TASK_DEFINITION_NOT_FOUND,
        message: "spec.taskDefinition: no TaskDefinition \"api\" in namespace team-a".to_owned(),
    };
    invalid.status = Some(invalid_status(&invalid, &why, t(10)));
    let conditions = &invalid.status.as_ref().expect("status").conditions;
    assert_eq!(
        cond(conditions, DEGRADED).status,
        "True",
        "kept from generation 1"
    );
    assert_eq!(cond(conditions, READY).status, "False");
    assert_eq!(
        service_health(&invalid, "service-invalid"),
        pair("Degraded", &why.message)
    );
}

/// `compute_status` at a fixed time.
fn compute_status(svc: &Service, applied: &Applied) -> ecs_bridge::api::ServiceStatus {
    compute(svc, applied, &Observation::default(), t(0)).0
}

/// The TaskDefinition `web` at generation 3, one container.
fn task_definition(container: Value) -> TaskDefinition {
    serde_json::from_value(json!({
        "apiVersion": "ecsbridge.io/v1alpha1",
        "kind": "TaskDefinition",
        "metadata": {
            "name": "web", "namespace": "team-a", "generation": 3,
            "uid": "0b8e9c1e-7d55-4d8e-8f0a-3c1d2e4f5a6b"
        },
        "spec": {"family": "web", "containerDefinitions": [container]}
    }))
    .expect("a TaskDefinition")
}

fn task_definition_health(td: &TaskDefinition, label: &str) -> (String, String) {
    let obj = serde_json::to_value(td).expect("TaskDefinition to JSON");
    let got = health("TaskDefinition", &obj, label);
    same_as_the_status_says(&obj, &got.status, label);
    (got.status, got.message)
}

#[test]
fn task_definition_statuses_from_the_controller_get_the_health_their_conditions_mean() {
    let good = json!({"name": "web", "image": "nginx:1.27", "user": "1000"});
    let registered = Registration::Registered {
        latest: 2,
        retained: vec![1, 2],
    };
    let options = Options::default();

    // Registered → Healthy with Ready's message.
    let mut td = task_definition(good.clone());
    td.status = Some(compute_status_with(&td, &registered, &options, None, t(0)));
    assert_eq!(
        task_definition_health(&td, "td-registered"),
        pair("Healthy", "Revision web:2 is registered.")
    );

    // Registered, but objects its tasks need could not be made → Degraded.
    let missing = "external-secrets.io/v1 ExternalSecret is not served by this cluster";
    let mut td = task_definition(good.clone());
    td.status = Some(compute_status_with(
        &td,
        &registered,
        &options,
        Some(missing),
        t(0),
    ));
    assert_eq!(
        task_definition_health(&td, "td-missing"),
        pair("Degraded", missing)
    );

    // Refused (Ready=False, no Progressing) → Degraded with Ready's message.
    let mut td = task_definition(good);
    let refused = Registration::Refused {
        reason: REASON_NAME_TOO_LONG,
        message: "metadata.name: too long".to_owned(),
    };
    td.status = Some(compute_status_with(&td, &refused, &options, None, t(0)));
    assert_eq!(
        task_definition_health(&td, "td-refused"),
        pair("Degraded", "metadata.name: too long")
    );

    // A spec that cannot become a pod template (no image) is refused by validate: Ready=False
    // and Degraded=True → Degraded with its message.
    let td = task_definition(json!({"name": "web"}));
    let refused = validate(&td, "team-a", &options).expect_err("no image");
    let mut td = td;
    td.status = Some(compute_status_with(
        &td,
        &Registration::refused(refused.clone()),
        &options,
        None,
        t(0),
    ));
    assert_eq!(
        task_definition_health(&td, "td-unbuildable"),
        pair("Degraded", &refused.message)
    );
}

#[test]
fn json_becomes_the_lua_table_argo_cd_builds() {
    assert_eq!(
        lua_value(&json!({"a": null, "b": [1, null, "x"], "c": {"d": true}})),
        r#"{["b"] = {1, "x"}, ["c"] = {["d"] = true}}"#
    );
    assert_eq!(lua_string("a\"b\\c\nd\té"), r#""a\"b\\c\nd\009\195\169""#);
    assert_eq!(lua_value(&json!(1.5)), "1.5");
    // The harness really removes what Argo CD does not load.
    let dir = scratch();
    let probe = dir.join("probe.lua");
    std::fs::write(
        &probe,
        "local ok = pcall(function() return ('x'):upper() end)\n\
         return {status = 'Healthy', message = tostring(string) .. tostring(math) .. tostring(ok) .. obj.a}\n",
    )
    .expect("write probe");
    let object = dir.join("probe-object.lua");
    std::fs::write(&object, "return {a = \"!\"}\n").expect("write object");
    let out = Command::new(lua())
        .arg(dir.join("harness.lua"))
        .arg(&probe)
        .arg(&object)
        .output()
        .expect("run lua");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.ends_with("nilnilfalse!"), "{stdout}");
}

#[test]
fn the_example_application_syncs_the_examples_with_server_side_apply() {
    let path = support::repo_root().join("examples/argocd/application.yaml");
    let text = std::fs::read_to_string(&path).expect("examples/argocd/application.yaml");
    let app: Value = serde_yaml_ng::from_str(&text).expect("YAML");
    assert_eq!(app["apiVersion"], "argoproj.io/v1alpha1");
    assert_eq!(app["kind"], "Application");
    let source = &app["spec"]["source"];
    assert_eq!(source["path"], "examples");
    assert_eq!(source["directory"]["recurse"], true);
    // The Application is under examples/ too: it must not sync itself (e2e/spec_untouched.rs
    // applies the same set of files).
    assert_eq!(source["directory"]["exclude"], "argocd/*");
    assert!(
        source["repoURL"]
            .as_str()
            .is_some_and(|u| u.contains("REPLACE-ME")),
        "repoURL is a placeholder the README says to replace: {}",
        source["repoURL"]
    );
    let options: Vec<&str> = app["spec"]["syncPolicy"]["syncOptions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert!(options.contains(&"ServerSideApply=true"), "{options:?}");
    // Auto scaling's count is not drift, and a sync does not reset it (e2e/autoscaling.rs).
    assert!(options.contains(&"RespectIgnoreDifferences=true"), "{options:?}");
    assert_eq!(
        app["spec"]["ignoreDifferences"],
        json!([{"group": "ecsbridge.io", "kind": "Service", "jsonPointers": ["/spec/desiredCount"]}])
    );
}

fn capacity_provider_health(cp: &ecs_bridge::api::CapacityProvider, label: &str) -> (String, String) {
    let obj = serde_json::to_value(cp).expect("CapacityProvider to JSON");
    let got = health("CapacityProvider", &obj, label);
    same_as_the_status_says(&obj, &got.status, label);
    (got.status, got.message)
}

#[test]
fn capacity_provider_statuses_from_the_controller_get_the_health_their_conditions_mean() {
    use ecs_bridge::{
        controller::capacity_provider::{load::Loaded, node_pool::State, status::compute},
        translate::capacity::usage::{NodeCapacity, TaskUsage},
    };
    let provider = |deleting: bool| -> ecs_bridge::api::CapacityProvider {
        let mut cp: ecs_bridge::api::CapacityProvider = serde_json::from_value(json!({
            "apiVersion": "ecsbridge.io/v1alpha1", "kind": "CapacityProvider",
            "metadata": {"name": "spot", "generation": 1},
            "spec": {"nodeSelector": {"karpenter.sh/capacity-type": "spot"}}
        }))
        .expect("a CapacityProvider");
        if deleting {
            cp.metadata.deletion_timestamp = Some(t(0));
        }
        cp
    };
    let node = NodeCapacity {
        name: "n1".into(),
        cpu_millis: 4000,
        memory_bytes: 16 << 30,
    };
    let task = |node: Option<&str>| TaskUsage {
        node: node.map(str::to_owned),
        cpu_millis: 250,
        memory_bytes: 512 << 20,
    };
    let loaded = |tasks: Vec<TaskUsage>, users: &[&str]| Loaded {
        nodes: vec![node.clone()],
        tasks,
        users: users.iter().map(|u| (*u).to_owned()).collect(),
    };

    // Every task placed → Healthy, Ready's message.
    let mut cp = provider(false);
    cp.status = Some(compute(
        &cp,
        &loaded(vec![task(Some("n1"))], &[]),
        &decided(None, State::NotManagedInstances),
        &t(0),
    ));
    let (status, message) = capacity_provider_health(&cp, "cp-active");
    assert_eq!(status, "Healthy");
    assert!(
        message.starts_with("ACTIVE: spot selects nodes with karpenter.sh/capacity-type=spot"),
        "{message}"
    );

    // A task waits for a node → Progressing.
    let mut cp = provider(false);
    cp.status = Some(compute(
        &cp,
        &loaded(vec![task(Some("n1")), task(None)], &[]),
        &decided(None, State::NotManagedInstances),
        &t(0),
    ));
    assert_eq!(capacity_provider_health(&cp, "cp-waiting").0, "Progressing");

    // A reserved name → Degraded, naming the field.
    let mut cp = provider(false);
    cp.status = Some(compute(
        &cp,
        &loaded(vec![], &[]),
        &decided(
            Some("metadata.name: \"ecs-x\" starts with \"ecs\""),
            State::NotManagedInstances,
        ),
        &t(0),
    ));
    let (status, message) = capacity_provider_health(&cp, "cp-invalid");
    assert_eq!(status, "Degraded");
    assert!(message.starts_with("metadata.name: "), "{message}");

    // Being deleted while Services use it → Progressing, naming them.
    let mut cp = provider(true);
    cp.status = Some(compute(
        &cp,
        &loaded(vec![], &["shop/web"]),
        &decided(None, State::NotManagedInstances),
        &t(0),
    ));
    let (status, message) = capacity_provider_health(&cp, "cp-held");
    assert_eq!(status, "Progressing");
    assert!(message.contains("shop/web"), "{message}");

    // A Managed Instances provider without Karpenter → Degraded, saying what to install.
    let mut cp = provider(false);
    cp.status = Some(compute(
        &cp,
        &loaded(vec![task(Some("n1"))], &[]),
        &decided(
            None,
            State::NotServed {
                report: Default::default(),
            },
        ),
        &t(0),
    ));
    let (status, message) = capacity_provider_health(&cp, "cp-no-karpenter");
    assert_eq!(status, "Degraded");
    assert!(message.contains("install Karpenter"), "{message}");
}

fn decided(
    invalid_name: Option<&str>,
    node_pool: ecs_bridge::controller::capacity_provider::node_pool::State,
) -> ecs_bridge::controller::capacity_provider::status::Decided {
    ecs_bridge::controller::capacity_provider::status::Decided {
        invalid_name: invalid_name.map(str::to_owned),
        headroom: None,
        node_pool,
    }
}

/// The Task `report-once` at `generation` (its tasks started at generation 1).
fn task_object(generation: i64) -> ecs_bridge::api::Task {
    serde_json::from_value(json!({
        "apiVersion": "ecsbridge.io/v1alpha1",
        "kind": "Task",
        "metadata": {"name": "report-once", "namespace": "team-a", "generation": generation,
                     "uid": "9f0c2a4e-1b7d-4c3e-8a5f-6d2e1f0b3c4d"},
        "spec": {"taskDefinition": "report"},
        "status": {"startedGeneration": 1},
    }))
    .expect("a Task")
}

/// One task `report-once-1` in `last_status`, stopped with `stop_code`, its containers
/// (name, essential, exit code).
fn task_instance(
    last_status: &str,
    stop_code: Option<&str>,
    containers: &[(&str, bool, Option<i32>)],
) -> ecs_bridge::api::TaskInstance {
    ecs_bridge::api::TaskInstance {
        task_arn: "report-once-1".to_owned(),
        last_status: last_status.to_owned(),
        stop_code: stop_code.map(str::to_owned),
        stopped_reason: stop_code.map(|_| "why it stopped".to_owned()),
        containers: containers
            .iter()
            .map(|(name, essential, exit)| ecs_bridge::api::ContainerState {
                name: (*name).to_owned(),
                last_status: if exit.is_some() { "STOPPED" } else { "RUNNING" }.to_owned(),
                essential: Some(*essential),
                exit_code: *exit,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

#[test]
fn task_statuses_from_the_controller_get_the_health_the_lua_gives_them() {
    use ecs_bridge::controller::task::{
        apply::Applied as TaskApplied, decide::Plan, status::compute as task_status,
    };
    type Case<'a> = (
        &'a str,
        i64,
        Vec<ecs_bridge::api::TaskInstance>,
        (&'a str, &'a str),
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "task-running",
            1,
            vec![task_instance("RUNNING", None, &[("report", true, None)])],
            ("Progressing", "Tasks: 1 RUNNING."),
        ),
        (
            "task-succeeded",
            1,
            vec![task_instance(
                "STOPPED",
                Some("EssentialContainerExited"),
                &[("report", true, Some(0)), ("log-router", false, Some(143))],
            )],
            ("Healthy", "The task stopped successfully."),
        ),
        (
            "task-essential-failed",
            1,
            vec![task_instance(
                "STOPPED",
                Some("EssentialContainerExited"),
                &[("report", true, Some(3))],
            )],
            (
                "Degraded",
                "Task report-once-1: essential container report exited with code 3.",
            ),
        ),
        (
            "task-failed-to-start",
            1,
            vec![task_instance(
                "STOPPED",
                Some("TaskFailedToStart"),
                &[("report", true, None)],
            )],
            (
                "Degraded",
                "Task report-once-1 stopped: TaskFailedToStart: why it stopped.",
            ),
        ),
    ];
    for (label, generation, tasks, want) in cases {
        let mut task = task_object(generation);
        let plan = Plan {
            tasks,
            ..Plan::default()
        };
        let status = task_status(&task, &plan, &TaskApplied::default(), None, &t(0));
        let rust = status.health.clone().expect("a health");
        task.status = Some(status);
        let obj = serde_json::to_value(&task).expect("Task to JSON");
        let lua = health("Task", &obj, label);
        assert_eq!((lua.status.as_str(), lua.message.as_str()), want, "{label}");
        assert_eq!(rust, lua.status, "{label}: the status's health and the Lua's");
    }
    // The spec changed after the start: Degraded, saying so.
    let mut edited = task_object(2);
    let plan = Plan {
        tasks: vec![task_instance("RUNNING", None, &[("report", true, None)])],
        spec_changed: true,
        ..Plan::default()
    };
    edited.status = Some(task_status(&edited, &plan, &TaskApplied::default(), None, &t(0)));
    let lua = health(
        "Task",
        &serde_json::to_value(&edited).expect("JSON"),
        "task-edited",
    );
    assert_eq!(lua.status, "Degraded");
    assert!(
        lua.message
            .starts_with("The spec changed after the tasks started (generation 1)"),
        "{}",
        lua.message
    );
    assert_eq!(edited.status.and_then(|s| s.health).as_deref(), Some("Degraded"));
}

/// The ScheduledTask `nightly` in `state`, with one target, at generation 1.
fn scheduled_task(state: &str) -> ecs_bridge::api::ScheduledTask {
    serde_json::from_value(json!({
        "apiVersion": "ecsbridge.io/v1alpha1",
        "kind": "ScheduledTask",
        "metadata": {"name": "nightly", "namespace": "team-a", "generation": 1,
                     "uid": "3b1d9c2e-8f4a-4d6b-9e7c-1a2b3c4d5e6f",
                     "creationTimestamp": "2027-01-01T00:00:00Z"},
        "spec": {"ScheduleExpression": "cron(0 10 * * ? *)", "State": state,
                 "Targets": [{"Id": "report", "EcsParameters": {"TaskDefinitionArn": "report"}}]},
    }))
    .expect("a ScheduledTask")
}

/// A firing's Task `name` whose own health is `health` (its Degraded message `message`).
fn fired_task(name: &str, scheduled: &str, health: &str, message: &str) -> ecs_bridge::api::Task {
    let degraded = if health == "Degraded" {
        json!([{"type": "Degraded", "status": "True", "reason": "TaskFailed", "message": message,
                "lastTransitionTime": "2027-01-01T00:00:00Z"}])
    } else {
        json!([])
    };
    serde_json::from_value(json!({
        "apiVersion": "ecsbridge.io/v1alpha1",
        "kind": "Task",
        "metadata": {"name": name, "namespace": "team-a",
                     "annotations": {"ecsbridge.io/scheduled-time": scheduled}},
        "spec": {"taskDefinition": "report"},
        "status": {"health": health, "lastStatus": "STOPPED", "conditions": degraded},
    }))
    .expect("a Task")
}

#[test]
fn scheduled_task_statuses_from_the_controller_get_the_health_the_lua_gives_them() {
    use ecs_bridge::controller::scheduled_task::{apply::Applied, decide, load::Loaded, status, validate};
    let now: Timestamp = "2027-01-02T12:00:00Z".parse().expect("a time");
    let failed = fired_task(
        "nightly-28403040",
        "2027-01-02T10:00:00Z",
        "Degraded",
        "Task nightly-28403040-1: essential container report exited with code 3.",
    );
    let succeeded = fired_task("nightly-28401600", "2027-01-01T10:00:00Z", "Healthy", "");
    type Case<'a> = (&'a str, &'a str, Vec<ecs_bridge::api::Task>, &'a str);
    let cases: Vec<Case<'_>> = vec![
        ("scheduled-none-yet", "ENABLED", vec![], "Healthy"),
        (
            "scheduled-succeeded",
            "ENABLED",
            vec![succeeded.clone()],
            "Healthy",
        ),
        (
            "scheduled-latest-failed",
            "ENABLED",
            vec![succeeded.clone(), failed.clone()],
            "Degraded",
        ),
        ("scheduled-disabled", "DISABLED", vec![succeeded], "Suspended"),
    ];
    for (label, state, tasks, want) in cases {
        let mut st = scheduled_task(state);
        let v = validate::validate(&st).expect("valid");
        let loaded = Loaded {
            tasks: tasks.into_iter().map(std::sync::Arc::new).collect(),
            ..Loaded::default()
        };
        let plan = decide::decide(&st, &v, &loaded, now);
        let computed = status::compute(&st, &v, &plan, &loaded, &Applied::default(), &Time(now));
        let rust = computed.health.clone().expect("a health");
        st.status = Some(computed);
        let obj = serde_json::to_value(&st).expect("ScheduledTask to JSON");
        let lua = health("ScheduledTask", &obj, label);
        assert_eq!(lua.status, want, "{label}: {}", lua.message);
        assert_eq!(rust, lua.status, "{label}: the status's health and the Lua's");
        if label == "scheduled-latest-failed" {
            assert!(
                lua.message.contains("nightly-28403040") && lua.message.contains("exited with code 3"),
                "{label}: {}",
                lua.message
            );
        }
    }
}
