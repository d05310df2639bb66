//! GET, LIST and WATCH.

use std::{sync::Arc, time::Duration};

use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use super::{ApiError, ApiServer};
use crate::{
    registry::ResourceType,
    store::{
        Event, EventType,
        selector::{FieldSelector, LabelSelector, selectable_fields},
    },
};

/// Query parameters of a list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// `labelSelector`.
    pub label_selector: Option<String>,
    /// `fieldSelector`.
    pub field_selector: Option<String>,
    /// `limit` (0 = no limit).
    pub limit: usize,
    /// `continue`.
    pub continue_token: Option<String>,
}

/// Where a watch starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchStart {
    /// No resourceVersion, or "0": synthetic ADDED events for every existing object first.
    Now,
    /// After this resourceVersion.
    After(u64),
}

/// Query parameters of a watch.
#[derive(Debug, Clone)]
pub struct WatchQuery {
    /// Selectors.
    pub list: ListQuery,
    /// `resourceVersion`.
    pub start: WatchStart,
    /// `allowWatchBookmarks`.
    pub bookmarks: bool,
    /// `sendInitialEvents` (streaming lists): ADDED events, then a bookmark marking their end.
    pub send_initial_events: bool,
    /// `timeoutSeconds`.
    pub timeout: Option<Duration>,
}

/// A watch event as sent on the wire (`{"type": ..., "object": ...}`).
pub type WireEvent = Value;

impl ApiServer {
    /// GET one object.
    ///
    /// # Errors
    /// 404 when it does not exist.
    pub fn get(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        subresource: Option<&str>,
    ) -> Result<Value, ApiError> {
        Self::check_scope(rt, namespace)?;
        let obj = self
            .store
            .lock()
            .get(&Self::key(rt, namespace, name))
            .ok_or_else(|| {
                ApiError::not_found(&rt.qualified(), name).about(&rt.gvk.group, &rt.plural, name)
            })?;
        match subresource {
            None | Some("status") => Ok((*obj).clone()),
            Some("scale") if rt.scale.is_some() => Ok(self.scale_of(rt, &obj)),
            Some(other) => Err(ApiError::not_implemented(format!(
                "GET of the {other:?} subresource of {}",
                rt.qualified()
            ))),
        }
    }

    fn selectors(rt: &ResourceType, q: &ListQuery) -> Result<(LabelSelector, FieldSelector), ApiError> {
        let labels =
            LabelSelector::parse(q.label_selector.as_deref().unwrap_or("")).map_err(ApiError::bad_request)?;
        let fields = FieldSelector::parse(
            q.field_selector.as_deref().unwrap_or(""),
            selectable_fields(&rt.gvk.group, &rt.gvk.kind),
        )
        .map_err(ApiError::bad_request)?;
        Ok((labels, fields))
    }

    /// LIST, in a namespace or across all; `limit`/`continue` page through a consistent snapshot
    /// (the continue token carries the snapshot's resourceVersion and the last key).
    ///
    /// # Errors
    /// 400 for a bad selector, 410 for an expired continue token.
    pub fn list(&self, rt: &ResourceType, namespace: Option<&str>, q: &ListQuery) -> Result<Value, ApiError> {
        if !rt.namespaced && namespace.is_some() {
            Self::check_scope(rt, namespace)?;
        }
        let (labels, fields) = Self::selectors(rt, q)?;
        let state = self.store.lock();
        let rv = state.resource_version();
        let (after, snapshot_rv) = match &q.continue_token {
            Some(token) => {
                let (snap, last) = token
                    .split_once(':')
                    .ok_or_else(|| ApiError::bad_request("invalid continue token"))?;
                let snap: u64 = snap
                    .parse()
                    .map_err(|_| ApiError::bad_request("invalid continue token"))?;
                // Objects changed since the snapshot cannot be served consistently.
                (Some(last.to_owned()), snap)
            }
            None => (None, rv),
        };
        let mut items: Vec<Arc<Value>> = state
            .list(&rt.gvk.group, &rt.plural, namespace.filter(|_| rt.namespaced))
            .into_iter()
            .filter(|(k, _)| {
                after
                    .as_ref()
                    .is_none_or(|a| format!("{}/{}", k.namespace, k.name) > *a)
            })
            .map(|(_, v)| v)
            .filter(|v| labels.matches(v) && fields.matches(v))
            .collect();
        drop(state);
        if q.continue_token.is_some() && items.iter().any(|i| rv_of(i) > snapshot_rv) {
            return Err(ApiError::gone(
                "The provided continue parameter is too old to display a consistent list result. You can start a new \
                 list without the continue parameter.",
            ));
        }
        let mut continue_token = None;
        if q.limit > 0 && items.len() > q.limit {
            items.truncate(q.limit);
            if let Some(last) = items.last() {
                let ns = last
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let name = last
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                continue_token = Some(format!("{snapshot_rv}:{ns}/{name}"));
            }
        }
        let mut metadata = json!({"resourceVersion": snapshot_rv.to_string()});
        if let Some(c) = continue_token {
            metadata["continue"] = Value::String(c);
        }
        Ok(json!({
            "apiVersion": rt.gvk.api_version(),
            "kind": format!("{}List", rt.gvk.kind),
            "metadata": metadata,
            "items": items.iter().map(|v| (**v).clone()).collect::<Vec<_>>(),
        }))
    }

    /// WATCH: a channel of wire events (`ADDED`/`MODIFIED`/`DELETED`/`BOOKMARK`/`ERROR`),
    /// following https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes.
    /// A too old resourceVersion yields one `ERROR` event with a 410 Status, as the API server
    /// sends it. The channel closes on timeout or when the fault switches drop watches.
    ///
    /// # Errors
    /// 400 for bad selectors.
    pub fn watch(
        self: &Arc<Self>,
        rt: &ResourceType,
        namespace: Option<&str>,
        q: WatchQuery,
    ) -> Result<mpsc::Receiver<WireEvent>, ApiError> {
        let (labels, fields) = Self::selectors(rt, &q.list)?;
        let (tx, rx) = mpsc::channel(1024);
        let ns = namespace.filter(|_| rt.namespaced).map(str::to_owned);
        let (group, plural) = (rt.gvk.group.clone(), rt.plural.clone());
        let matches = move |e: &Event| {
            e.key.group == group
                && e.key.plural == plural
                && ns.as_ref().is_none_or(|n| &e.key.namespace == n)
        };
        let state = self.store.lock();
        let current = state.resource_version();
        let (initial, receiver): (Vec<WireEvent>, Option<broadcast::Receiver<Arc<Event>>>) = match q.start {
            WatchStart::Now => {
                let objs = state.list(&rt.gvk.group, &rt.plural, namespace.filter(|_| rt.namespaced));
                // "Get State and Start at Most Recent": synthetic ADDED events first.
                let initial = objs
                    .into_iter()
                    .map(|(_, v)| v)
                    .filter(|v| labels.matches(v) && fields.matches(v))
                    .map(|v| json!({"type": "ADDED", "object": *v}))
                    .collect();
                (initial, Some(state.subscribe()))
            }
            WatchStart::After(rv) => match state.watch_from(rv, &rt.gvk.group, &rt.plural) {
                Ok((past, receiver)) => (
                    past.iter()
                        .filter(|e| matches(e))
                        .filter_map(|e| wire(e, &labels, &fields))
                        .collect(),
                    Some(receiver),
                ),
                Err(gone) => {
                    let status = ApiError::gone(format!("too old resource version: {rv} ({})", gone.oldest))
                        .to_status();
                    (vec![json!({"type": "ERROR", "object": status})], None)
                }
            },
        };
        drop(state);
        let api_version = rt.gvk.api_version();
        let kind = rt.gvk.kind.clone();
        let mut drops = self.faults.watch_drops();
        drops.mark_unchanged();
        tokio::spawn(async move {
            for e in initial {
                if tx.send(e).await.is_err() {
                    return;
                }
            }
            let Some(mut receiver) = receiver else { return };
            let mut last_rv = current;
            if q.send_initial_events {
                let b = bookmark(&api_version, &kind, last_rv, true);
                if tx.send(b).await.is_err() {
                    return;
                }
            }
            let deadline = q.timeout.map(|t| tokio::time::Instant::now() + t);
            let mut ticker = tokio::time::interval(Duration::from_secs(1));
            loop {
                let sleep_until =
                    deadline.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
                tokio::select! {
                    ev = receiver.recv() => match ev {
                        Ok(e) => {
                            last_rv = e.rv;
                            if matches(&e) && let Some(w) = wire(&e, &labels, &fields) && tx.send(w).await.is_err() {
                                return;
                            }
                        }
                        // A watcher that fell behind is closed; the client resumes from its last
                        // resourceVersion, as with a real API server's closed watch.
                        Err(_) => return,
                    },
                    _ = ticker.tick(), if q.bookmarks => {
                        if tx.send(bookmark(&api_version, &kind, last_rv, false)).await.is_err() {
                            return;
                        }
                    }
                    _ = drops.changed() => return,
                    () = tokio::time::sleep_until(sleep_until) => return,
                }
            }
        });
        Ok(rx)
    }
}

fn rv_of(v: &Value) -> u64 {
    v.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The wire form of a stored event, or None when the object does not match the selectors. An
/// object that starts matching is sent as ADDED and one that stops matching as DELETED, as the
/// API server's watch cache does.
fn wire(e: &Event, labels: &LabelSelector, fields: &FieldSelector) -> Option<WireEvent> {
    let now = labels.matches(&e.object) && fields.matches(&e.object);
    let before = e
        .previous
        .as_ref()
        .map(|p| labels.matches(p) && fields.matches(p));
    let kind = match (e.kind, before, now) {
        (EventType::Modified, Some(false), true) => EventType::Added,
        (EventType::Modified, Some(true), false) => EventType::Deleted,
        (_, _, false) => return None,
        (k, _, true) => k,
    };
    Some(json!({"type": kind.as_str(), "object": *e.object}))
}

fn bookmark(api_version: &str, kind: &str, rv: u64, initial_end: bool) -> WireEvent {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    json!({"type": "BOOKMARK", "object": {"apiVersion": api_version, "kind": kind, "metadata": metadata}})
}
