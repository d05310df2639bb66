//! What the scale bench observes: the operator's requests (by its User-Agent), the bytes of
//! what its watches cache, the reaction of a child to a change, and the operator's memory.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use ecs_bridge_testbed::faults::RequestRecord;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::{
    Api, Client,
    api::{ApiResource, DynamicObject, GroupVersionKind, ListParams},
    runtime::{WatchStreamExt, watcher},
};

/// The operator's requests among `requests` (its User-Agent is `ecs-bridge/<version>`).
pub fn operator(requests: &[RequestRecord]) -> Vec<RequestRecord> {
    requests
        .iter()
        .filter(|r| r.user_agent.starts_with("ecs-bridge/"))
        .cloned()
        .collect()
}

/// A request's method and resource: `GET services`, `PATCH services.ecsbridge.io/NAME/status`,
/// `GET pods?watch`.
pub fn what(r: &RequestRecord) -> String {
    let parts: Vec<&str> = r.path.split('/').filter(|p| !p.is_empty()).collect();
    let (group, rest) = match parts.as_slice() {
        ["api", _, rest @ ..] => ("", rest),
        ["apis", group, _, rest @ ..] => (*group, rest),
        _ => ("", &parts[..]),
    };
    let rest = match rest {
        ["namespaces", _, rest @ ..] if !rest.is_empty() => rest,
        rest => rest,
    };
    let mut what = rest.first().copied().unwrap_or("").to_owned();
    if !group.is_empty() {
        what = format!("{what}.{group}");
    }
    if rest.len() > 1 {
        what.push_str("/NAME");
    }
    if let Some(sub) = rest.get(2) {
        what = format!("{what}/{sub}");
    }
    if r.query.contains("watch=true") {
        what.push_str("?watch");
    }
    format!("{} {what}", r.method)
}

/// `requests` by [`what`], most frequent first.
pub fn by_resource(requests: &[RequestRecord]) -> Vec<(String, usize)> {
    let mut counts = BTreeMap::<String, usize>::new();
    for r in requests {
        *counts.entry(what(r)).or_default() += 1;
    }
    let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts
}

/// Whether `r` starts or renews a watch.
pub fn is_watch(r: &RequestRecord) -> bool {
    r.method == "GET" && r.query.contains("watch=true")
}

/// The value of `key` in a query string.
fn query_value(query: &str, key: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// The JSON bytes of what the operator's watches hold: for each distinct watch it started
/// (path and selectors, from `requests`), the objects a LIST with the same selectors returns.
/// Returns (bytes over all watches, the same without the `managedFields` the operator drops before
/// caching, bytes of distinct objects, objects, watches).
pub async fn cached_bytes(
    client: &Client,
    requests: &[RequestRecord],
) -> (usize, usize, usize, usize, usize) {
    let watches: BTreeSet<(String, Option<String>, Option<String>)> = requests
        .iter()
        .filter(|r| is_watch(r))
        .map(|r| {
            (
                r.path.clone(),
                query_value(&r.query, "labelSelector"),
                query_value(&r.query, "fieldSelector"),
            )
        })
        .collect();
    let mut total = 0;
    let mut slim = 0;
    let mut distinct: HashMap<String, usize> = HashMap::new();
    for (path, labels, fields) in &watches {
        let mut url = format!("{path}?");
        if let Some(l) = labels {
            url.push_str(&format!("labelSelector={}&", urlencode(l)));
        }
        if let Some(f) = fields {
            url.push_str(&format!("fieldSelector={}&", urlencode(f)));
        }
        let request = http::Request::get(url).body(Vec::new()).expect("a request");
        let Ok(list) = client.request::<serde_json::Value>(request).await else {
            continue;
        };
        for item in list["items"].as_array().into_iter().flatten() {
            let bytes = serde_json::to_vec(item).map_or(0, |b| b.len());
            total += bytes;
            let mut cached = item.clone();
            if let Some(meta) = cached["metadata"].as_object_mut() {
                meta.remove("managedFields");
            }
            slim += serde_json::to_vec(&cached).map_or(0, |b| b.len());
            let uid = item["metadata"]["uid"].as_str().unwrap_or_default().to_owned();
            distinct.insert(uid, bytes);
        }
    }
    (
        total,
        slim,
        distinct.values().sum(),
        distinct.len(),
        watches.len(),
    )
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The Deployments of the namespace as a watch sees them: for each, its replicas and its first
/// container's image, with when each was first seen.
#[derive(Clone, Default)]
pub struct Deployments(Arc<Mutex<HashMap<String, Seen>>>);

/// What a watch saw of one Deployment, and when.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    replicas: Option<i32>,
    image: Option<String>,
    replicas_at: Option<Instant>,
    image_at: Option<Instant>,
}

impl Deployments {
    /// Watches the Deployments of `namespace` (until the runtime stops).
    pub fn watch(client: &Client, namespace: &str) -> Self {
        let seen = Self::default();
        let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
        let map = Arc::clone(&seen.0);
        tokio::spawn(async move {
            let stream = watcher(api, watcher::Config::default())
                .default_backoff()
                .applied_objects();
            futures::pin_mut!(stream);
            while let Some(Ok(d)) = stream.next().await {
                let now = Instant::now();
                let name = d.metadata.name.clone().unwrap_or_default();
                let spec = d.spec.as_ref();
                let replicas = spec.and_then(|s| s.replicas);
                let image = spec
                    .and_then(|s| s.template.spec.as_ref())
                    .and_then(|p| p.containers.first())
                    .and_then(|c| c.image.clone());
                let mut map = map.lock().expect("lock");
                let entry = map.entry(name).or_default();
                if entry.replicas != replicas {
                    entry.replicas = replicas;
                    entry.replicas_at = Some(now);
                }
                if entry.image != image {
                    entry.image = image;
                    entry.image_at = Some(now);
                }
            }
        });
        seen
    }

    /// How long after `since` the Deployment `name` was seen with `replicas` (waits up to 30 s).
    pub async fn replicas_after(&self, name: &str, replicas: i32, since: Instant) -> Duration {
        self.wait(name, since, |s| {
            (s.replicas == Some(replicas)).then_some(s.replicas_at).flatten()
        })
        .await
    }

    /// How long after `since` the Deployment `name` was seen running `image` (waits up to 30 s).
    pub async fn image_after(&self, name: &str, image: &str, since: Instant) -> Duration {
        self.wait(name, since, |s| {
            (s.image.as_deref() == Some(image))
                .then_some(s.image_at)
                .flatten()
        })
        .await
    }

    async fn wait(&self, name: &str, since: Instant, at: impl Fn(&Seen) -> Option<Instant>) -> Duration {
        loop {
            if let Some(when) = self.0.lock().expect("lock").get(name).and_then(&at) {
                return when.saturating_duration_since(since);
            }
            assert!(
                since.elapsed() < Duration::from_secs(30),
                "{name} did not change in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// The `p`th percentile (0–100) of `samples` (nearest rank).
pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The peak and current resident memory of process `pid`, in bytes (Linux `/proc`).
pub fn memory(pid: u32) -> (usize, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<usize>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (kb("VmHWM:"), kb("VmRSS:"))
}

/// How many objects of `ar` (in `namespace`) have a `Ready=True` condition, and how many there
/// are.
pub async fn ready(
    client: &Client,
    group: &str,
    kind: &str,
    plural: &str,
    namespace: &str,
) -> (usize, usize) {
    let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, "v1alpha1", kind), plural);
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &ar);
    let Ok(list) = api.list(&ListParams::default()).await else {
        return (0, 0);
    };
    let ready = list
        .items
        .iter()
        .filter(|o| {
            o.data["status"]["conditions"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
        })
        .count();
    (ready, list.items.len())
}

/// The CPU time process `pid` has used, in seconds (Linux `/proc/<pid>/stat`, at 100 ticks a
/// second).
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command (in parentheses): utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// The CPU share process `pid` used since `last` (updated), in percent of one core.
pub fn cpu_percent(pid: u32, last: &mut (Instant, f64)) -> f64 {
    let now = (Instant::now(), cpu_seconds(pid));
    let wall = now.0.duration_since(last.0).as_secs_f64();
    let share = if wall > 0.0 {
        100.0 * (now.1 - last.1) / wall
    } else {
        0.0
    };
    *last = now;
    share
}
