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
    /// `resourceVersion` (lists only; watches take [`WatchStart`]).
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`: `Exact` or `NotOlderThan`.
    pub resource_version_match: Option<String>,
}

/// Which state a list is served from
/// (https://kubernetes.io/docs/reference/using-api/api-concepts/#semantics-for-get-and-list).
#[derive(Debug, Clone, PartialEq, Eq)]
enum ListFrom {
    /// The latest state ("Most Recent", "Any"; "Not older than" this resourceVersion).
    Latest(u64),
    /// The state at exactly this resourceVersion ("Exact").
    Exact(u64),
    /// A continue token: the snapshot (`None`: the latest state, for the token a 410 hands out)
    /// and the etcd key suffix of the last object of the previous page.
    Continue(Option<u64>, String),
}

const CONTINUE_EXPIRED: &str = "The provided continue parameter is too old to display a consistent list result. You \
                                can start a new list without the continue parameter, or use the continue token in \
                                this response to retrieve the remainder of the results. Continuing with the \
                                provided token results in an inconsistent list - objects that were created, \
                                modified, or deleted between the time the first chunk was returned and now may \
                                show up in the list.";

/// A continue token: `<snapshot rv, or -1 for the latest>:<last key>`, base64-free but opaque to
/// clients, as the API server's (which they must pass back unmodified).
fn continue_token(snapshot: Option<u64>, last: &str) -> String {
    match snapshot {
        Some(rv) => format!("{rv}:{last}"),
        None => format!("-1:{last}"),
    }
}

fn parse_continue(token: &str) -> Result<(Option<u64>, String), ApiError> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token:?}"));
    let (rv, last) = token.split_once(':').ok_or_else(bad)?;
    let rv = if rv == "-1" {
        None
    } else {
        Some(rv.parse::<u64>().map_err(|_| bad())?)
    };
    Ok((rv, last.to_owned()))
}

fn list_options_invalid(field: &str, message: &str) -> ApiError {
    let mut e = ApiError::invalid(
        "ListOptions.meta.k8s.io",
        "",
        vec![super::Cause {
            reason: "FieldValueForbidden".into(),
            message: format!("Forbidden: {message}"),
            field: field.into(),
        }],
    );
    e.message = format!("ListOptions.meta.k8s.io \"\" is invalid: {field}: Forbidden: {message}");
    e
}

impl ListQuery {
    /// Where the list is served from, following the table of
    /// https://kubernetes.io/docs/reference/using-api/api-concepts/#semantics-for-get-and-list
    /// and the API server's `ValidateListOptions`.
    fn from(&self) -> Result<ListFrom, ApiError> {
        let rv = self.resource_version.as_deref().filter(|r| !r.is_empty());
        let matching = self.resource_version_match.as_deref().filter(|m| !m.is_empty());
        let parse = |r: &str| {
            r.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {r:?}")))
        };
        if let Some(token) = &self.continue_token {
            if matching.is_some() {
                return Err(list_options_invalid(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden when continue is provided",
                ));
            }
            if rv.is_some_and(|r| r != "0") {
                return Err(ApiError::bad_request(
                    "specifying resource version is not allowed when using continue",
                ));
            }
            let (snapshot, last) = parse_continue(token)?;
            return Ok(ListFrom::Continue(snapshot, last));
        }
        match (matching, rv) {
            (Some(_), None) => Err(list_options_invalid(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            )),
            (Some("Exact"), Some("0")) => Err(list_options_invalid(
                "resourceVersionMatch",
                "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            )),
            (Some("Exact"), Some(r)) => Ok(ListFrom::Exact(parse(r)?)),
            (Some("NotOlderThan"), Some(r)) => parse(r).map(ListFrom::Latest),
            (Some(other), Some(_)) => Err(ApiError::invalid(
                "ListOptions.meta.k8s.io",
                "",
                vec![super::Cause {
                    reason: "FieldValueNotSupported".into(),
                    message: format!(
                        "Unsupported value: \"{other}\": supported values: \"Exact\", \"NotOlderThan\", \"\""
                    ),
                    field: "resourceVersionMatch".into(),
                }],
            )),
            (None, None | Some("0")) => Ok(ListFrom::Latest(0)),
            // Legacy semantics without resourceVersionMatch: a paginated list at a resourceVersion
            // is Exact, an unpaginated one Not older than.
            (None, Some(r)) if self.limit > 0 => Ok(ListFrom::Exact(parse(r)?)),
            (None, Some(r)) => parse(r).map(ListFrom::Latest),
        }
    }
}

/// Where a watch starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchStart {
    /// No resourceVersion, or "0" (or `sendInitialEvents=true`): synthetic ADDED events for
    /// every existing object first.
    Now,
    /// `sendInitialEvents=false` without a resourceVersion: changes from now on, no initial
    /// events ("Start at Most Recent").
    MostRecent,
    /// After this resourceVersion.
    After(u64),
}

impl WatchStart {
    /// Where a watch starts and whether it streams a list (`sendInitialEvents=true`: the initial
    /// events end with a bookmark annotated `k8s.io/initial-events-end`), from the query
    /// parameters, validated as the API server's `validateWatchOptions` does
    /// (https://kubernetes.io/docs/reference/using-api/api-concepts/#streaming-lists and
    /// https://kubernetes.io/docs/reference/using-api/api-concepts/#semantics-for-watch).
    ///
    /// # Errors
    /// 422 for invalid combinations, 400 for a malformed resourceVersion.
    pub fn from_query(
        resource_version: Option<&str>,
        resource_version_match: Option<&str>,
        send_initial_events: Option<bool>,
        continue_token: Option<&str>,
    ) -> Result<(Self, bool), ApiError> {
        let matching = resource_version_match.filter(|m| !m.is_empty());
        if send_initial_events.is_some() && matching != Some("NotOlderThan") {
            return Err(list_options_invalid(
                "resourceVersionMatch",
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ));
        }
        if matching.is_some() && send_initial_events.is_none() {
            return Err(list_options_invalid(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
            ));
        }
        if matching.is_some() && continue_token.is_some_and(|c| !c.is_empty()) {
            return Err(list_options_invalid(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden when continue is provided",
            ));
        }
        let rv = match resource_version.filter(|r| !r.is_empty() && *r != "0") {
            None => None,
            Some(r) => Some(
                r.parse::<u64>()
                    .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {r:?}")))?,
            ),
        };
        Ok(match (send_initial_events, rv) {
            // The initial events are the current state (at least as new as `rv`), not the
            // history since `rv`.
            (Some(true), _) => (Self::Now, true),
            (Some(false), None) => (Self::MostRecent, false),
            (None, None) => (Self::Now, false),
            (_, Some(rv)) => (Self::After(rv), false),
        })
    }
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

    /// LIST, in a namespace or across all. `limit`/`continue` page through one consistent
    /// snapshot: later pages are served from the state at the first page's resourceVersion,
    /// rebuilt from the change log, and a continue token whose snapshot has been compacted away
    /// gets 410 Expired with a token that continues (inconsistently) from the latest state
    /// (https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks).
    /// `resourceVersion`/`resourceVersionMatch` follow
    /// https://kubernetes.io/docs/reference/using-api/api-concepts/#semantics-for-get-and-list.
    ///
    /// # Errors
    /// 400 for a bad selector or token, 410 for an expired continue token or a compacted exact
    /// resourceVersion, 422 for invalid list options, 504 for a resourceVersion not reached yet.
    pub fn list(&self, rt: &ResourceType, namespace: Option<&str>, q: &ListQuery) -> Result<Value, ApiError> {
        if !rt.namespaced && namespace.is_some() {
            Self::check_scope(rt, namespace)?;
        }
        let (labels, fields) = Self::selectors(rt, q)?;
        let from = q.from()?;
        let ns = namespace.filter(|_| rt.namespaced);
        let state = self.store.lock();
        let current = state.resource_version();
        let (snapshot_rv, after) = match &from {
            ListFrom::Latest(_) => (current, None),
            ListFrom::Exact(rv) => (*rv, None),
            ListFrom::Continue(rv, last) => (rv.unwrap_or(current), Some(last.clone())),
        };
        if let ListFrom::Exact(rv) | ListFrom::Latest(rv) = from
            && rv > current
        {
            return Err(too_large_resource_version(rv, current));
        }
        let objects = if snapshot_rv == current {
            state.list(&rt.gvk.group, &rt.plural, ns)
        } else {
            match state.snapshot(snapshot_rv, &rt.gvk.group, &rt.plural, ns) {
                Ok(objects) => objects,
                Err(_) => {
                    return Err(match &from {
                        ListFrom::Continue(_, last) => {
                            let mut e = ApiError::gone(CONTINUE_EXPIRED);
                            e.continue_token = Some(continue_token(None, last));
                            e
                        }
                        _ => ApiError::gone("The resourceVersion for the provided list is too old."),
                    });
                }
            }
        };
        drop(state);
        let mut items: Vec<Arc<Value>> = objects
            .into_iter()
            .filter(|(k, _)| after.as_ref().is_none_or(|a| k.etcd_suffix() > *a))
            .filter(|(_, v)| labels.matches(v) && fields.matches(v))
            .map(|(_, v)| v)
            .collect();
        let mut metadata = json!({"resourceVersion": snapshot_rv.to_string()});
        if q.limit > 0 && items.len() > q.limit {
            let remaining = items.len() - q.limit;
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
                let key = if ns.is_empty() {
                    name.to_owned()
                } else {
                    format!("{ns}/{name}")
                };
                metadata["continue"] = Value::String(continue_token(Some(snapshot_rv), &key));
                // The API server counts the rest only when it does not filter.
                if q.label_selector.as_deref().unwrap_or("").is_empty()
                    && q.field_selector.as_deref().unwrap_or("").is_empty()
                {
                    metadata["remainingItemCount"] = json!(remaining);
                }
            }
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
        // A watch from a resourceVersion the store has not reached yet starts there: changes up
        // to it are not sent.
        let floor = match q.start {
            WatchStart::After(rv) => rv,
            _ => 0,
        };
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
            WatchStart::MostRecent => (Vec::new(), Some(state.subscribe())),
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
            let mut last_rv = current.max(floor);
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
                            if e.rv > floor && matches(&e) && let Some(w) = wire(&e, &labels, &fields) && tx.send(w).await.is_err() {
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

/// 504 for a resourceVersion the store has not reached (the API server waits a few seconds
/// for it first).
fn too_large_resource_version(rv: u64, current: u64) -> ApiError {
    let mut e = ApiError::timeout(format!("Too large resource version: {rv}, current: {current}"));
    e.causes = vec![super::Cause {
        reason: "ResourceVersionTooLarge".into(),
        message: "Too large resource version".into(),
        field: String::new(),
    }];
    e.retry_after = Some(1);
    e
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
