//! What a controller pass works with: the kinds the simulated cluster watches, a snapshot of
//! the store taken at the start of the pass (kept current with the pass's own writes), the
//! objects marked for a sync, timers, and the simulated clock.
//!
//! Like kube-controller-manager's informers and work queues, a pass syncs only the objects an
//! event (or a timer) marked: a pod change marks its controller, a ReplicaSet change its
//! Deployment, a Job change its CronJob, a Node change every DaemonSet.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering},
    },
};

use serde_json::Value;
use tokio::sync::Notify;

use super::{
    PodOutcome,
    util::{controller_ref, name, namespace, s, uid},
};
use crate::{
    api::{ApiError, ApiServer, DeleteOptions, WriteOptions},
    patch::PatchType,
    registry::ResourceType,
    schema::Gvk,
    store::Key,
};

/// The field manager the simulated controllers write with.
pub const MANAGER: &str = "kube-controller-manager";

/// The write options of the simulated controllers.
pub fn opts() -> WriteOptions {
    WriteOptions {
        field_manager: MANAGER.to_owned(),
        ..WriteOptions::default()
    }
}

/// The kinds the simulated cluster reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Pods (synced by the simulated kubelet).
    Pod,
    /// ReplicaSets.
    ReplicaSet,
    /// Deployments.
    Deployment,
    /// DaemonSets.
    DaemonSet,
    /// Jobs.
    Job,
    /// CronJobs.
    CronJob,
    /// HorizontalPodAutoscalers (`autoscaling/v2`).
    HorizontalPodAutoscaler,
    /// Nodes (never synced; a change marks every DaemonSet and pod).
    Node,
    /// ControllerRevisions (DaemonSet history; a change marks the DaemonSet).
    ControllerRevision,
}

impl Kind {
    /// Every kind, in the order a pass syncs them: the kubelet first, then the controllers that
    /// own pods, then their owners, so each reads what the previous one just wrote.
    pub const ALL: [Self; 9] = [
        Self::Pod,
        Self::ReplicaSet,
        Self::Deployment,
        Self::DaemonSet,
        Self::Job,
        Self::CronJob,
        Self::HorizontalPodAutoscaler,
        Self::Node,
        Self::ControllerRevision,
    ];

    /// API group.
    pub fn group(self) -> &'static str {
        match self {
            Self::Pod | Self::Node => "",
            Self::ReplicaSet | Self::Deployment | Self::DaemonSet | Self::ControllerRevision => "apps",
            Self::Job | Self::CronJob => "batch",
            Self::HorizontalPodAutoscaler => "autoscaling",
        }
    }

    /// API version.
    pub fn version(self) -> &'static str {
        match self {
            Self::HorizontalPodAutoscaler => "v2",
            _ => "v1",
        }
    }

    /// Resource (plural).
    pub fn plural(self) -> &'static str {
        match self {
            Self::Pod => "pods",
            Self::ReplicaSet => "replicasets",
            Self::Deployment => "deployments",
            Self::DaemonSet => "daemonsets",
            Self::Job => "jobs",
            Self::CronJob => "cronjobs",
            Self::HorizontalPodAutoscaler => "horizontalpodautoscalers",
            Self::Node => "nodes",
            Self::ControllerRevision => "controllerrevisions",
        }
    }

    /// Kind name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pod => "Pod",
            Self::ReplicaSet => "ReplicaSet",
            Self::Deployment => "Deployment",
            Self::DaemonSet => "DaemonSet",
            Self::Job => "Job",
            Self::CronJob => "CronJob",
            Self::HorizontalPodAutoscaler => "HorizontalPodAutoscaler",
            Self::Node => "Node",
            Self::ControllerRevision => "ControllerRevision",
        }
    }

    /// The kind stored under `group`/`plural`.
    pub fn from_resource(group: &str, plural: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.group() == group && k.plural() == plural)
    }

    /// The kind an owner reference names (`apiVersion` and `kind`).
    pub fn from_reference(api_version: &str, kind: &str) -> Option<Self> {
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        Self::ALL
            .into_iter()
            .find(|k| k.group() == group && k.name() == kind)
    }

    /// The resource type (all are built in).
    pub fn rt(self, api: &ApiServer) -> ResourceType {
        api.resource_type(&Gvk::new(self.group(), self.version(), self.name()))
            .expect("built-in kind")
    }
}

/// An object: kind, namespace (`""` when cluster-scoped), name.
pub type ObjKey = (Kind, String, String);

/// Objects marked for a sync.
#[derive(Debug, Default)]
pub struct Marks {
    /// Single objects.
    pub keys: BTreeSet<ObjKey>,
    /// Kinds whose every object is marked.
    pub all: BTreeSet<Kind>,
}

impl Marks {
    /// Everything (at start, and after missing events).
    pub fn everything() -> Self {
        Self {
            keys: BTreeSet::new(),
            all: Kind::ALL.into_iter().collect(),
        }
    }

    /// Whether nothing is marked.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.all.is_empty()
    }

    /// Adds `other`'s marks.
    pub fn merge(&mut self, other: Self) {
        self.keys.extend(other.keys);
        self.all.extend(other.all);
    }

    /// Marks what a change of `obj` (a `kind`) concerns: the object itself and its controller;
    /// for a Node, every DaemonSet and every pod (pending pods may now fit somewhere).
    pub fn object(&mut self, kind: Kind, obj: &Value) {
        let ns = namespace(obj);
        match kind {
            Kind::Node => {
                self.all.insert(Kind::DaemonSet);
                self.all.insert(Kind::Pod);
            }
            Kind::ControllerRevision => {}
            _ => {
                self.keys.insert((kind, ns.to_owned(), name(obj).to_owned()));
            }
        }
        if let Some(r) = controller_ref(obj)
            && let Some(owner) = Kind::from_reference(s(r, "/apiVersion"), s(r, "/kind"))
            && !matches!(owner, Kind::Node | Kind::ControllerRevision)
        {
            self.keys.insert((owner, ns.to_owned(), s(r, "/name").to_owned()));
        }
    }
}

/// Objects due for a sync at a time of the simulated clock (progress deadlines,
/// minReadySeconds, Job deadlines and TTLs, retries after errors).
#[derive(Debug, Default)]
pub struct Timers {
    due: BTreeMap<ObjKey, i64>,
}

impl Timers {
    /// Syncs `key` at `at` (milliseconds of the simulated clock), or earlier if already due
    /// earlier.
    pub fn at(&mut self, key: ObjKey, at: i64) {
        let e = self.due.entry(key).or_insert(at);
        *e = (*e).min(at);
    }

    /// The earliest due time.
    pub fn next(&self) -> Option<i64> {
        self.due.values().copied().min()
    }

    /// Removes and returns the keys due at `now`.
    pub fn take_due(&mut self, now: i64) -> Vec<ObjKey> {
        let due: Vec<ObjKey> = self
            .due
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &due {
            self.due.remove(k);
        }
        due
    }
}

/// State shared by the [`super::SimCluster`] handle and its controller task.
#[derive(Debug, Default)]
pub struct Shared {
    /// The outcome the kubelet gives every new pod.
    pub outcome: Mutex<Option<PodOutcome>>,
    /// How far the simulated clock is ahead of the real one.
    pub clock_offset_ms: AtomicI64,
    /// Wakes the controller task (marks added, clock moved).
    pub wake: Notify,
    /// Marks made outside the controller task.
    pub pending: Mutex<Marks>,
    /// Pods (by uid) the kubelet has given an outcome; it leaves them alone afterwards.
    pub handled: Mutex<HashSet<String>>,
    /// How many object syncs the controllers ran.
    pub syncs: AtomicU64,
    /// The next pod IP.
    pub next_ip: AtomicU32,
    /// What pods use, as a metrics server would report it: (namespace, label selector, usage),
    /// the first that selects a pod winning.
    pub usage: Mutex<
        Vec<(
            String,
            crate::store::selector::LabelSelector,
            super::hpa::PodUsage,
        )>,
    >,
    /// The HPA controller's memory, by `namespace/name`.
    pub hpa_memory: Mutex<HashMap<String, super::hpa::Memory>>,
}

impl Shared {
    /// Now on the simulated clock, in milliseconds since the epoch.
    pub fn now(&self) -> i64 {
        jiff::Timestamp::now().as_millisecond() + self.clock_offset_ms.load(Ordering::SeqCst)
    }

    /// Marks objects for the controller task and wakes it.
    pub fn mark(&self, f: impl FnOnce(&mut Marks)) {
        f(&mut self.pending.lock().expect("marks lock"));
        self.wake.notify_one();
    }

    /// Takes the marks made outside the task.
    pub fn take_pending(&self) -> Marks {
        std::mem::take(&mut *self.pending.lock().expect("marks lock"))
    }

    /// What `pod` (in `ns`) uses, when a test said ([`super::SimCluster::set_usage`]).
    pub fn usage_of(&self, ns: &str, pod: &Value) -> Option<super::hpa::PodUsage> {
        self.usage
            .lock()
            .expect("usage lock")
            .iter()
            .find(|(n, selector, _)| n == ns && selector.matches(pod))
            .map(|(_, _, u)| *u)
    }

    /// A fresh pod IP (10.244.0.0/16, as a pod network would hand out).
    pub fn pod_ip(&self) -> String {
        let n = self.next_ip.fetch_add(1, Ordering::SeqCst) + 2;
        format!("10.244.{}.{}", (n >> 8) & 0xff, n & 0xff)
    }
}

/// The objects of the watched kinds at the start of a pass, with an index of controller owner
/// uid → owned objects.
#[derive(Debug, Default)]
pub struct Snapshot {
    objects: BTreeMap<ObjKey, Arc<Value>>,
    children: HashMap<String, BTreeSet<ObjKey>>,
}

impl Snapshot {
    /// Reads the store.
    pub fn take(api: &ApiServer) -> Self {
        Self::take_at(api).0
    }

    /// Reads the store, and the resourceVersion it was read at (the events after it are
    /// [`Self::apply`]'d to keep it current).
    pub fn take_at(api: &ApiServer) -> (Self, u64) {
        let mut snap = Self::default();
        let state = api.store.lock();
        for (k, v) in state.all() {
            if let Some(kind) = Kind::from_resource(&k.group, &k.plural) {
                snap.put(kind, v.clone());
            }
        }
        (snap, state.resource_version())
    }

    /// Applies a store event (one after those the snapshot holds, in the store's order).
    pub fn apply(&mut self, e: &crate::store::Event) {
        let Some(kind) = Kind::from_resource(&e.key.group, &e.key.plural) else {
            return;
        };
        if e.kind == crate::store::EventType::Deleted {
            self.remove(&(kind, e.key.namespace.clone(), e.key.name.clone()));
        } else {
            self.put(kind, e.object.clone());
        }
    }

    fn key(kind: Kind, obj: &Value) -> ObjKey {
        (kind, namespace(obj).to_owned(), name(obj).to_owned())
    }

    /// Stores (or replaces) an object.
    pub fn put(&mut self, kind: Kind, obj: Arc<Value>) {
        let key = Self::key(kind, &obj);
        self.unindex(&key);
        if let Some(r) = controller_ref(&obj) {
            self.children
                .entry(s(r, "/uid").to_owned())
                .or_default()
                .insert(key.clone());
        }
        self.objects.insert(key, obj);
    }

    /// Forgets an object.
    pub fn remove(&mut self, key: &ObjKey) {
        self.unindex(key);
        self.objects.remove(key);
    }

    fn unindex(&mut self, key: &ObjKey) {
        if let Some(old) = self.objects.get(key)
            && let Some(r) = controller_ref(old)
            && let Some(set) = self.children.get_mut(s(r, "/uid"))
        {
            set.remove(key);
        }
    }

    /// An object.
    pub fn get(&self, kind: Kind, ns: &str, name: &str) -> Option<Arc<Value>> {
        self.objects.get(&(kind, ns.to_owned(), name.to_owned())).cloned()
    }

    /// Every object of a kind, in key order.
    pub fn list(&self, kind: Kind) -> Vec<Arc<Value>> {
        self.keys(kind)
            .into_iter()
            .filter_map(|k| self.objects.get(&k).cloned())
            .collect()
    }

    /// The keys of every object of a kind.
    pub fn keys(&self, kind: Kind) -> Vec<ObjKey> {
        self.objects
            .range((kind, String::new(), String::new())..)
            .take_while(|(k, _)| k.0 == kind)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The objects of `kind` in `owner`'s namespace whose controller is `owner`.
    pub fn owned(&self, owner: &Value, kind: Kind) -> Vec<Arc<Value>> {
        let ns = namespace(owner);
        self.children
            .get(uid(owner))
            .into_iter()
            .flatten()
            .filter(|k| k.0 == kind && k.1 == ns)
            .filter_map(|k| self.objects.get(k).cloned())
            .collect()
    }
}

/// One controller pass: the snapshot, the clock reading, and write helpers that keep the
/// snapshot current and mark what each write concerns.
pub struct Ctx<'a> {
    /// The API server.
    pub api: &'a Arc<ApiServer>,
    /// State shared with the handle.
    pub shared: &'a Shared,
    /// The objects.
    pub snap: Snapshot,
    /// Now, on the simulated clock (milliseconds since the epoch).
    pub now: i64,
    /// What this pass's writes concern.
    pub marks: Marks,
    /// Syncs due later.
    pub timers: &'a mut Timers,
    rts: HashMap<Kind, ResourceType>,
}

impl<'a> Ctx<'a> {
    /// A pass over the store as it is now.
    pub fn new(api: &'a Arc<ApiServer>, shared: &'a Shared, timers: &'a mut Timers) -> Self {
        Self::over(api, shared, timers, Snapshot::take(api))
    }

    /// A pass over `snap` (current: kept by the store's events).
    pub fn over(api: &'a Arc<ApiServer>, shared: &'a Shared, timers: &'a mut Timers, snap: Snapshot) -> Self {
        Self {
            api,
            shared,
            snap,
            now: shared.now(),
            marks: Marks::default(),
            timers,
            rts: HashMap::new(),
        }
    }

    /// The resource type of a kind.
    pub fn rt(&mut self, kind: Kind) -> ResourceType {
        self.rts.entry(kind).or_insert_with(|| kind.rt(self.api)).clone()
    }

    /// Syncs the object again at `at` (simulated clock).
    pub fn requeue(&mut self, kind: Kind, obj: &Value, at: i64) {
        self.timers
            .at((kind, namespace(obj).to_owned(), name(obj).to_owned()), at);
    }

    fn remember(&mut self, kind: Kind, obj: Value) -> Arc<Value> {
        self.marks.object(kind, &obj);
        let obj = Arc::new(obj);
        self.snap.put(kind, obj.clone());
        obj
    }

    fn ns(obj: &Value) -> Option<&str> {
        Some(namespace(obj)).filter(|n| !n.is_empty())
    }

    /// Creates an object.
    pub fn create(&mut self, kind: Kind, ns: &str, body: Value) -> Result<Arc<Value>, ApiError> {
        let rt = self.rt(kind);
        let ns = Some(ns).filter(|n| !n.is_empty());
        let created = self.api.create(&rt, ns, body, &opts())?.object;
        Ok(self.remember(kind, created))
    }

    /// Replaces an object (its `metadata.resourceVersion` must be current).
    pub fn update(&mut self, kind: Kind, body: Value) -> Result<Arc<Value>, ApiError> {
        let rt = self.rt(kind);
        let written = self
            .api
            .update(&rt, Self::ns(&body), name(&body), None, body.clone(), &opts())?
            .object;
        Ok(self.remember(kind, written))
    }

    /// Merge-patches an object.
    pub fn merge(&mut self, kind: Kind, obj: &Value, patch: &Value) -> Result<Arc<Value>, ApiError> {
        let rt = self.rt(kind);
        let written = self
            .api
            .patch(
                &rt,
                Self::ns(obj),
                name(obj),
                None,
                PatchType::Merge,
                patch,
                &opts(),
            )?
            .object;
        Ok(self.remember(kind, written))
    }

    /// Writes `status` through the status subresource unless it is what `obj` has; returns the
    /// object as stored.
    pub fn write_status(
        &mut self,
        kind: Kind,
        obj: &Arc<Value>,
        status: Value,
    ) -> Result<Arc<Value>, ApiError> {
        let current = obj
            .get("status")
            .cloned()
            .unwrap_or_else(|| Value::Object(Default::default()));
        if current == status {
            return Ok(obj.clone());
        }
        let rt = self.rt(kind);
        let mut body = (**obj).clone();
        body["status"] = status;
        let written = self
            .api
            .update(&rt, Self::ns(obj), name(obj), Some("status"), body, &opts())?
            .object;
        Ok(self.remember(kind, written))
    }

    /// Deletes an object (gone at once unless it has finalizers); a missing object is fine.
    pub fn delete(&mut self, kind: Kind, obj: &Value, propagation: Option<&str>) -> Result<(), ApiError> {
        let rt = self.rt(kind);
        let options = DeleteOptions {
            propagation_policy: propagation.map(str::to_owned),
            ..DeleteOptions::default()
        };
        match self.api.delete(&rt, Self::ns(obj), name(obj), &options) {
            Ok(_) | Err(ApiError { code: 404, .. }) => {}
            Err(e) => return Err(e),
        }
        let key = Key {
            group: kind.group().to_owned(),
            plural: kind.plural().to_owned(),
            namespace: namespace(obj).to_owned(),
            name: name(obj).to_owned(),
        };
        let stored = self.api.store.lock().get(&key);
        self.marks.object(kind, obj);
        match stored {
            Some(still) => self.snap.put(kind, still),
            None => self.snap.remove(&(kind, key.namespace.clone(), key.name.clone())),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use serde_json::{Value, json};

    use super::{ObjKey, Snapshot};
    use crate::{api::ApiServer, store::Key};

    fn key(plural: &str, name: &str) -> Key {
        let group = if plural == "pods" { "" } else { "apps" };
        Key {
            group: group.to_owned(),
            plural: plural.to_owned(),
            namespace: "ns".to_owned(),
            name: name.to_owned(),
        }
    }

    fn object(name: &str, controller: Option<&str>) -> Value {
        let mut o = json!({"metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}")}});
        if let Some(owner) = controller {
            o["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner, "uid": format!("uid-{owner}"), "controller": true}]);
        }
        o
    }

    fn children(s: &Snapshot) -> HashMap<String, BTreeSet<ObjKey>> {
        s.children
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The simulated cluster reads the store once and keeps its snapshot by the events after the
    /// resourceVersion it read at: the result is the snapshot a fresh read gives, events from
    /// before the read are skipped, and the children index follows re-parenting and deletion.
    #[test]
    fn a_snapshot_kept_by_events_equals_a_fresh_read() {
        let api = ApiServer::new();
        let mut events = api.store.lock().subscribe();
        {
            let mut state = api.store.lock();
            state.put(key("replicasets", "a"), object("a", None));
            state.put(key("replicasets", "b"), object("b", None));
            state.put(key("pods", "p1"), object("p1", Some("a")));
            state.put(key("pods", "p2"), object("p2", Some("a")));
            state.remove(&key("pods", "p2"));
        }
        let (mut kept, rv) = Snapshot::take_at(&api);
        {
            let mut state = api.store.lock();
            state.put(key("pods", "p1"), object("p1", Some("b")));
            state.put(key("pods", "p3"), object("p3", Some("a")));
            state.remove(&key("replicasets", "a"));
            state.put(key("pods", "p2"), object("p2", None));
            state.remove(&key("pods", "p3"));
            state.put(key("replicasets", "a"), object("a", None));
        }
        let mut applied = 0;
        while let Ok(e) = events.try_recv() {
            if e.rv > rv {
                kept.apply(&e);
                applied += 1;
            }
        }
        assert_eq!(applied, 6, "only the events after the read");
        let fresh = Snapshot::take(&api);
        assert_eq!(kept.objects, fresh.objects);
        assert_eq!(children(&kept), children(&fresh));
        assert_eq!(kept.owned(&object("b", None), super::Kind::Pod).len(), 1);
        assert!(kept.owned(&object("a", None), super::Kind::Pod).is_empty());
    }
}
