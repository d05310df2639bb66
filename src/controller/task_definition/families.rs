//! The families' high-water marks: the last revision number each task definition family of a
//! namespace was given, kept where it survives the TaskDefinition object.
//!
//! ECS never reuses a family's revision numbers, not even after every revision was deregistered
//! and deleted (ecs-reference.md §1.1): a Service pinned to `web:4` must never run another spec
//! under that number. A TaskDefinition's revisions (ControllerRevisions) and its
//! `status.revision` go with the object, so the numbers are also kept in one ConfigMap per
//! namespace (the namespace is the ECS cluster), [`CONFIG_MAP`], owned by nothing: its `data`
//! maps each family ([`key`]) to the last revision given to it and the uid of the
//! TaskDefinition it was given to, e.g. `web: "4 6f1c…"` (a bare number is read too). Deleting
//! and re-applying TaskDefinition `web` registers `web:5`. The uid lets a registration whose
//! create failed after its mark was raised (an error, or the process killed in between) take
//! the same number again, as ECS uses up no number on a failed registration. Deleting the ConfigMap (or the
//! namespace) forgets the marks; a user who wants the numbers to start again at 1 deletes it.
//!
//! Requests: none at rest. The process keeps the ConfigMap as it last read or wrote it
//! ([`Marks`]): a registration reads it from there (one GET the first time, in load) and raises
//! the mark before it creates the revision ([`Marks::record`], in apply: a create, or a merge
//! patch guarded by the resource version known, so two registrations never lower a mark). The
//! registrations of a namespace raise their marks by group commit: one write at a time, each
//! carrying every mark waiting for it. So the operator's own concurrent reconciles never
//! conflict on the one ConfigMap (they did, thousands of times, in the scale bench), and do not
//! wait for one write each either; a conflict with another writer forgets the copy, and the
//! retry reads it.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, PoisonError},
};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::{
    Api, ResourceExt,
    api::{ObjectMeta, Patch, PatchParams, PostParams},
};

use crate::{controller::Error, translate::labels};

/// Name of the ConfigMap of a namespace that holds its families' high-water marks.
pub const CONFIG_MAP: &str = "ecsbridge-task-definition-families";

/// Longest ConfigMap key.
const MAX_KEY_LEN: usize = 253;

/// The ConfigMap key of `family`: the family itself when it is a valid key (ECS families are
/// letters, digits, `-` and `_`, so nearly always), else `family-<FNV-1a of the family>`.
#[must_use]
pub fn key(family: &str) -> String {
    let valid = !family.is_empty()
        && family.len() <= MAX_KEY_LEN
        && family
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        family.to_owned()
    } else {
        format!("family-{:016x}", crate::fnv::hash(family.bytes()))
    }
}

/// The last revision `cm` records for `family`; `None` when it records none (or not a number).
/// (A value is the number, then the uid of the TaskDefinition it was given to: `4 <uid>`; or
/// the number alone.)
#[must_use]
pub fn high_water_mark(cm: &ConfigMap, family: &str) -> Option<i64> {
    cm.data
        .as_ref()?
        .get(&key(family))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The uid of the TaskDefinition `cm` says the last revision of `family` was given to.
#[must_use]
pub fn given_to<'a>(cm: &'a ConfigMap, family: &str) -> Option<&'a str> {
    cm.data.as_ref()?.get(&key(family))?.split_whitespace().nth(1)
}

/// Reads the ConfigMap of `namespace`; `None` when it does not exist yet.
///
/// # Errors
/// [`Error::Kube`] when the read fails.
pub async fn read(client: &kube::Client, namespace: &str) -> Result<Option<ConfigMap>, Error> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    Ok(api.get_opt(CONFIG_MAP).await?)
}

/// One namespace's families ConfigMap as this process last read or wrote it (`None` before it
/// is read, `Some(None)` when it did not exist), and the marks waiting to be written.
#[derive(Debug, Default)]
struct Namespace {
    known: tokio::sync::Mutex<Option<Option<ConfigMap>>>,
    waiting: Mutex<Vec<Waiting>>,
}

/// A mark waiting to be raised: the family, the revision, the uid of the TaskDefinition it is
/// given to, and where to say how it went.
type Waiting = (String, i64, String, tokio::sync::oneshot::Sender<Raised>);

/// How raising one mark went.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Raised {
    Done,
    Taken,
    Failed(String),
}

/// The families ConfigMap of each namespace as this process last read or wrote it. A
/// namespace's registrations raise their marks by group commit: one write at a time, each
/// carrying every mark that waited for it, from the copy the last write returned (no GET, and
/// no conflict between the operator's own concurrent reconciles).
#[derive(Debug, Default)]
pub struct Marks(Mutex<HashMap<String, Arc<Namespace>>>);

impl Marks {
    fn namespace(&self, namespace: &str) -> Arc<Namespace> {
        Arc::clone(
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(namespace.to_owned())
                .or_default(),
        )
    }

    /// The ConfigMap of `namespace` as last known (read once, the first time); `None` when it
    /// does not exist.
    ///
    /// # Errors
    /// [`Error::Kube`] when the read fails.
    pub async fn read(&self, client: &kube::Client, namespace: &str) -> Result<Option<ConfigMap>, Error> {
        let ns = self.namespace(namespace);
        let mut known = ns.known.lock().await;
        if known.is_none() {
            *known = Some(read(client, namespace).await?);
        }
        Ok(known.clone().flatten())
    }

    /// Raises `family`'s mark to `revision`, given to the TaskDefinition of uid `uid`, in the
    /// ConfigMap of `namespace`: queued, and written by the next write of the namespace (this
    /// call's, or one already under way), with the other marks waiting then. A failed write
    /// forgets the copy (the retry reads it again). A mark already at `revision` and given to
    /// `uid` is done without a write (a retry after the create failed).
    ///
    /// # Errors
    /// [`Error::RevisionTaken`] when the mark already reached `revision` otherwise;
    /// [`Error::MarkNotRaised`] when the write failed, a conflict included.
    pub async fn record(
        &self,
        client: &kube::Client,
        namespace: &str,
        family: &str,
        revision: i64,
        uid: &str,
    ) -> Result<(), Error> {
        let ns = self.namespace(namespace);
        let (tx, rx) = tokio::sync::oneshot::channel();
        ns.waiting.lock().unwrap_or_else(PoisonError::into_inner).push((
            family.to_owned(),
            revision,
            uid.to_owned(),
            tx,
        ));
        {
            let mut known = ns.known.lock().await;
            let batch = std::mem::take(&mut *ns.waiting.lock().unwrap_or_else(PoisonError::into_inner));
            if !batch.is_empty() {
                write_batch(client, namespace, &mut known, batch).await;
            }
        }
        match rx.await {
            Ok(Raised::Done) => Ok(()),
            Ok(Raised::Taken) => Err(Error::RevisionTaken {
                family: family.to_owned(),
                revision,
            }),
            Ok(Raised::Failed(message)) => Err(Error::MarkNotRaised { message }),
            Err(_) => Err(Error::MarkNotRaised {
                message: "the write was abandoned".to_owned(),
            }),
        }
    }
}

/// Writes the marks of `batch` in one write against `known` (read first when unknown), and
/// says to each how it went: a mark already at its revision and given to its TaskDefinition is
/// done (not written); otherwise a mark already at its revision or above is taken (not written);
/// after a failure, or when nothing could be written, the copy is forgotten.
async fn write_batch(
    client: &kube::Client,
    namespace: &str,
    known: &mut Option<Option<ConfigMap>>,
    batch: Vec<Waiting>,
) {
    let current = match known.take() {
        Some(current) => current,
        None => match read(client, namespace).await {
            Ok(current) => current,
            Err(e) => {
                let message = crate::runtime::ErrorChain(&e).to_string();
                for (.., tx) in batch {
                    let _ = tx.send(Raised::Failed(message.clone()));
                }
                return;
            }
        },
    };
    // A number is given once: a mark at or above it, or an earlier waiter of the same batch
    // for the same family (two TaskDefinitions may name one family) at or above it, takes it.
    let mut highest: HashMap<String, i64> = HashMap::new();
    let mut wanted: Vec<Waiting> = Vec::with_capacity(batch.len());
    for (family, revision, uid, tx) in batch {
        let mark = current.as_ref().and_then(|cm| high_water_mark(cm, &family));
        let given = current.as_ref().and_then(|cm| given_to(cm, &family));
        if mark == Some(revision) && given == Some(uid.as_str()) && !highest.contains_key(&family) {
            let _ = tx.send(Raised::Done);
            continue;
        }
        let before = highest.get(&family).copied().max(mark);
        if before.is_some_and(|b| b >= revision) {
            let _ = tx.send(Raised::Taken);
            continue;
        }
        highest.insert(family.clone(), revision);
        wanted.push((family, revision, uid, tx));
    }
    if wanted.is_empty() {
        return;
    }
    let marks: Vec<(&str, i64, &str)> = wanted
        .iter()
        .map(|(f, r, u, _)| (f.as_str(), *r, u.as_str()))
        .collect();
    let outcome = match raise(client, namespace, current.as_ref(), &marks).await {
        Ok(written) => {
            *known = Some(Some(written));
            Raised::Done
        }
        Err(e) => Raised::Failed(crate::runtime::ErrorChain(&e).to_string()),
    };
    for (.., tx) in wanted {
        let _ = tx.send(outcome.clone());
    }
}

/// Raises the marks of `marks` (family, revision, the uid of the TaskDefinition it is given to;
/// the highest wins for a family given twice) in the ConfigMap of `namespace`, as `read`
/// (creates it when it did not exist, else patches it guarded by its resource version); returns
/// it as written.
///
/// # Errors
/// [`Error::Kube`] when the write fails, a conflict included (the ConfigMap changed since it was
/// read).
pub async fn raise(
    client: &kube::Client,
    namespace: &str,
    read: Option<&ConfigMap>,
    marks: &[(&str, i64, &str)],
) -> Result<ConfigMap, Error> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let mut highest: BTreeMap<String, (i64, &str)> = BTreeMap::new();
    for (family, revision, uid) in marks {
        let mark = highest.entry(key(family)).or_insert((*revision, uid));
        if *revision > mark.0 {
            *mark = (*revision, uid);
        }
    }
    let data: BTreeMap<String, String> = highest
        .into_iter()
        .map(|(k, (r, uid))| (k, format!("{r} {uid}")))
        .collect();
    match read {
        None => {
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(CONFIG_MAP.to_owned()),
                    namespace: Some(namespace.to_owned()),
                    labels: Some(BTreeMap::from([(
                        labels::MANAGED_BY.to_owned(),
                        labels::MANAGED_BY_VALUE.to_owned(),
                    )])),
                    annotations: Some(BTreeMap::from([(
                        "ecsbridge.io/description".to_owned(),
                        "The last revision number given to each task definition family of this \
                         namespace, and the uid of the TaskDefinition it was given to: ecs-bridge \
                         never reuses one. Delete to start again at 1."
                            .to_owned(),
                    )])),
                    ..ObjectMeta::default()
                },
                data: Some(data),
                ..ConfigMap::default()
            };
            Ok(api.create(&PostParams::default(), &cm).await?)
        }
        Some(cm) => {
            let patch = serde_json::json!({
                "metadata": { "resourceVersion": cm.resource_version() },
                "data": data,
            });
            Ok(api
                .patch(CONFIG_MAP, &PatchParams::default(), &Patch::Merge(&patch))
                .await?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_family_is_its_own_key_unless_no_key_can_hold_it() {
        assert_eq!(key("web"), "web");
        assert_eq!(key("dev-redash_server"), "dev-redash_server");
        let long = "w".repeat(254);
        for odd in [long.as_str(), "", "a/b"] {
            let k = key(odd);
            assert!(k.starts_with("family-") && k.len() == 23, "{k}");
        }
        assert_ne!(key(&"w".repeat(254)), key(&"w".repeat(255)));
    }

    #[test]
    fn the_mark_is_read_by_family() {
        let cm = ConfigMap {
            data: Some(BTreeMap::from([
                ("web".to_owned(), "4".to_owned()),
                ("api".to_owned(), "x".to_owned()),
                ("svc".to_owned(), "3 uid-1".to_owned()),
            ])),
            ..ConfigMap::default()
        };
        assert_eq!(high_water_mark(&cm, "svc"), Some(3));
        assert_eq!(given_to(&cm, "svc"), Some("uid-1"));
        assert_eq!(given_to(&cm, "web"), None);
        assert_eq!(high_water_mark(&cm, "web"), Some(4));
        assert_eq!(high_water_mark(&cm, "api"), None);
        assert_eq!(high_water_mark(&cm, "db"), None);
        assert_eq!(high_water_mark(&ConfigMap::default(), "web"), None);
    }
}
