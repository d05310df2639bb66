//! Helpers for the simulated-cluster tests: a server with a cluster, object access by kind
//! name, polling, and a follower that checks the pods after every store event.

#![allow(dead_code)] // each test crate uses a different part

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use ecs_bridge_testbed::{
    SimCluster, TestApiServer,
    api::{DeleteOptions, ListQuery, WriteOptions},
    patch::PatchType,
    registry::ResourceType,
    schema::Gvk,
    store::{Event, EventType},
};
use serde_json::{Value, json};
use tokio::{sync::oneshot, task::JoinHandle};

/// The namespace the tests use.
pub const NS: &str = "default";

/// A server with a simulated cluster.
pub struct Bed {
    pub server: TestApiServer,
    pub cluster: SimCluster,
}

fn gvk(kind: &str) -> Gvk {
    let (group, version) = match kind {
        "Deployment" | "ReplicaSet" | "DaemonSet" | "ControllerRevision" => ("apps", "v1"),
        "Job" | "CronJob" => ("batch", "v1"),
        "HorizontalPodAutoscaler" => ("autoscaling", "v2"),
        _ => ("", "v1"),
    };
    Gvk::new(group, version, kind)
}

impl Bed {
    pub async fn start() -> Self {
        let server = TestApiServer::start().await;
        let cluster = SimCluster::start(&server.api);
        Self { server, cluster }
    }

    pub fn rt(&self, kind: &str) -> ResourceType {
        self.server.api.resource_type(&gvk(kind)).expect("built-in kind")
    }

    fn ns(kind: &str) -> Option<&'static str> {
        (kind != "Node").then_some(NS)
    }

    pub fn create(&self, body: Value) -> Value {
        let kind = body["kind"].as_str().expect("kind").to_owned();
        self.server
            .api
            .create(&self.rt(&kind), Self::ns(&kind), body, &WriteOptions::default())
            .unwrap_or_else(|e| panic!("create {kind}: {e}"))
            .object
    }

    pub fn try_get(&self, kind: &str, name: &str) -> Option<Value> {
        self.server
            .api
            .get(&self.rt(kind), Self::ns(kind), name, None)
            .ok()
    }

    pub fn get(&self, kind: &str, name: &str) -> Value {
        self.try_get(kind, name)
            .unwrap_or_else(|| panic!("{kind} {name} not found"))
    }

    pub fn patch(&self, kind: &str, name: &str, patch: Value) -> Value {
        self.server
            .api
            .patch(
                &self.rt(kind),
                Self::ns(kind),
                name,
                None,
                PatchType::Merge,
                &patch,
                &WriteOptions::default(),
            )
            .unwrap_or_else(|e| panic!("patch {kind} {name}: {e}"))
            .object
    }

    pub fn delete(&self, kind: &str, name: &str, policy: Option<&str>) {
        let opts = DeleteOptions {
            propagation_policy: policy.map(str::to_owned),
            ..DeleteOptions::default()
        };
        self.server
            .api
            .delete(&self.rt(kind), Self::ns(kind), name, &opts)
            .unwrap_or_else(|e| panic!("delete {kind} {name}: {e}"));
    }

    /// Objects of a kind matching a label selector ("" for all).
    pub fn list(&self, kind: &str, selector: &str) -> Vec<Value> {
        let q = ListQuery {
            label_selector: Some(selector.to_owned()).filter(|s| !s.is_empty()),
            ..ListQuery::default()
        };
        let list = self
            .server
            .api
            .list(&self.rt(kind), Self::ns(kind), &q)
            .expect("list");
        list["items"].as_array().cloned().unwrap_or_default()
    }

    /// Pods that count for their controller (not deleted, not finished).
    pub fn active_pods(&self, selector: &str) -> Vec<Value> {
        self.list("Pod", selector).into_iter().filter(active).collect()
    }

    /// The current resourceVersion of the store (moves with every write).
    pub fn resource_version(&self) -> u64 {
        self.server.api.store.lock().resource_version()
    }

    /// Polls `f` until it returns Some (at most 20 s), then returns that.
    pub async fn wait_for<T>(&self, what: &str, f: impl FnMut(&Self) -> Option<T>) -> T {
        self.wait_for_within(Duration::from_secs(20), what, f).await
    }

    /// Polls `f` until it returns Some (at most `limit`), then returns that.
    pub async fn wait_for_within<T>(
        &self,
        limit: Duration,
        what: &str,
        mut f: impl FnMut(&Self) -> Option<T>,
    ) -> T {
        let start = Instant::now();
        loop {
            if let Some(v) = f(self) {
                return v;
            }
            if start.elapsed() > limit {
                panic!("timed out waiting for {what} ({limit:?})");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until a Deployment's rollout is complete: observed, all replicas updated and
    /// available, Progressing NewReplicaSetAvailable. Returns the Deployment.
    pub async fn rolled_out(&self, name: &str) -> Value {
        self.wait_for(&format!("deployment {name} to roll out"), |b| {
            let d = b.get("Deployment", name);
            let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1);
            let st = &d["status"];
            let n = |f: &str| st[f].as_i64().unwrap_or(0);
            (n("observedGeneration") >= d["metadata"]["generation"].as_i64().unwrap_or(0)
                && n("replicas") == replicas
                && n("updatedReplicas") == replicas
                && n("availableReplicas") == replicas
                && condition(&d, "Progressing").is_some_and(|c| c["reason"] == "NewReplicaSetAvailable"))
            .then_some(d)
        })
        .await
    }
}

pub fn active(p: &Value) -> bool {
    p.pointer("/metadata/deletionTimestamp")
        .is_none_or(Value::is_null)
        && !matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed"))
}

pub fn ready(p: &Value) -> bool {
    p["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

pub fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

pub fn name(v: &Value) -> String {
    v["metadata"]["name"].as_str().unwrap_or_default().to_owned()
}

pub fn label(v: &Value, key: &str) -> String {
    v["metadata"]["labels"][key]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A Deployment of `replicas` nginx pods labelled `app: <name>`.
pub fn deployment(name: &str, replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    })
}

/// The pods of the store, followed event by event from the moment of the call.
pub struct PodFollower {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Followed>,
}

/// What a [`PodFollower`] saw.
#[derive(Debug, Default)]
pub struct Followed {
    /// Store events seen (of any kind).
    pub events: usize,
    /// The first violations the check reported.
    pub violations: Vec<String>,
    /// Every value the check's `measure` returned, in order.
    pub measures: Vec<(i64, i64)>,
}

impl PodFollower {
    /// Calls `check` with the pods in the namespace (by name) after every store event, starting
    /// from the state at the call; `check` returns a measure to record and an optional
    /// violation.
    pub fn start<F>(bed: &Bed, check: F) -> Self
    where
        F: Fn(&BTreeMap<String, Arc<Value>>) -> ((i64, i64), Option<String>) + Send + Sync + 'static,
    {
        let (mut pods, mut events) = {
            let state = bed.server.api.store.lock();
            let pods: BTreeMap<String, Arc<Value>> = state
                .list("", "pods", Some(NS))
                .into_iter()
                .map(|(k, v)| (k.name, v))
                .collect();
            (pods, state.subscribe())
        };
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut seen = Followed::default();
            let record = |pods: &BTreeMap<String, Arc<Value>>, seen: &mut Followed| {
                let (m, v) = check(pods);
                seen.measures.push(m);
                if let Some(v) = v
                    && seen.violations.len() < 10
                {
                    seen.violations.push(v);
                }
            };
            record(&pods, &mut seen);
            let apply = |e: &Event, pods: &mut BTreeMap<String, Arc<Value>>, seen: &mut Followed| {
                seen.events += 1;
                if e.key.plural != "pods" || !e.key.group.is_empty() || e.key.namespace != NS {
                    return;
                }
                match e.kind {
                    EventType::Deleted => {
                        pods.remove(&e.key.name);
                    }
                    _ => {
                        pods.insert(e.key.name.clone(), e.object.clone());
                    }
                }
                record(pods, seen);
            };
            loop {
                tokio::select! {
                    ev = events.recv() => match ev {
                        Ok(e) => apply(&e, &mut pods, &mut seen),
                        Err(_) => {
                            seen.violations.push("the follower missed events".into());
                            return seen;
                        }
                    },
                    _ = &mut stopped => {
                        // What is already queued still counts.
                        while let Ok(e) = events.try_recv() {
                            apply(&e, &mut pods, &mut seen);
                        }
                        return seen;
                    }
                }
            }
        });
        Self {
            stop: Some(stop),
            task,
        }
    }

    /// Stops following and returns what was seen.
    pub async fn finish(mut self) -> Followed {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.expect("follower task")
    }
}
