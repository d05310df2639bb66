//! The API server's operations (create, get, list, watch, update, patch, delete) over the store,
//! with Kubernetes' object semantics. The HTTP layer and the simulated cluster both call these.

mod crd;
mod create;
mod delete;
pub mod error;
mod meta;
mod pod_update;

/// Metadata helpers shared with the garbage collector and the simulated cluster.
pub mod meta_helpers {
    pub use super::meta::*;
}
mod read;
mod write;

use std::sync::{Arc, RwLock};

pub use delete::DeleteOptions;
pub use error::{ApiError, Cause};
pub use read::{ListQuery, WatchQuery, WatchStart};
use serde_json::Value;
use tokio::sync::Notify;

use crate::{
    faults::Faults,
    registry::{Registry, ResourceType},
    schema::{Gvk, Schemas, validate::FieldValidation},
    store::{Key, Store},
};

/// Options of a write (query parameters `fieldManager`, `fieldValidation`, `dryRun`, `force`).
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// The field manager (defaults to the client's user agent, as the API server does).
    pub field_manager: String,
    /// How unknown and duplicate fields are treated.
    pub field_validation: FieldValidation,
    /// `dryRun=All`: validate and answer, store nothing.
    pub dry_run: bool,
    /// `force=true` for server-side apply.
    pub force: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            field_manager: "testbed".to_owned(),
            field_validation: FieldValidation::Warn,
            dry_run: false,
            force: false,
        }
    }
}

/// The result of a write.
#[derive(Debug, Clone)]
pub struct Written {
    /// The object as stored.
    pub object: Value,
    /// Warnings for the `Warning` response header (unknown fields under `fieldValidation=Warn`).
    pub warnings: Vec<String>,
    /// Whether the write created the object (HTTP 201).
    pub created: bool,
}

/// The API server double's state: objects, kinds and schemas, fault switches.
#[derive(Debug)]
pub struct ApiServer {
    /// Objects and the change log.
    pub store: Store,
    registry: RwLock<Registry>,
    schemas: RwLock<Schemas>,
    /// Fault injection switches.
    pub faults: Faults,
    /// Woken after deletions and owner-reference changes, for the garbage collector.
    pub(crate) gc_wakeup: Arc<Notify>,
}

impl ApiServer {
    /// A server with the built-in kinds and the namespaces `default`, `kube-system` and
    /// `kube-public`.
    ///
    /// # Panics
    /// When the upstream Kubernetes schemas cannot be loaded (see [`Schemas::upstream`]).
    #[must_use]
    pub fn new() -> Arc<Self> {
        let server = Arc::new(Self {
            store: Store::default(),
            registry: RwLock::new(Registry::builtin()),
            schemas: RwLock::new((*Schemas::upstream()).clone()),
            faults: Faults::default(),
            gc_wakeup: Arc::new(Notify::new()),
        });
        let ns = server
            .resource_type(&Gvk::new("", "v1", "Namespace"))
            .expect("namespaces are built in");
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let body =
                serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            server
                .create(&ns, None, body, &WriteOptions::default())
                .expect("create namespace");
        }
        server
    }

    /// The type of a kind.
    #[must_use]
    pub fn resource_type(&self, gvk: &Gvk) -> Option<ResourceType> {
        self.registry.read().expect("registry lock").by_gvk(gvk).cloned()
    }

    /// The type served at `group`/`version`/`plural`.
    #[must_use]
    pub fn resource_type_by_plural(&self, group: &str, version: &str, plural: &str) -> Option<ResourceType> {
        self.registry
            .read()
            .expect("registry lock")
            .by_plural(group, version, plural)
            .cloned()
    }

    /// A snapshot of the registry (for discovery).
    #[must_use]
    pub fn registry(&self) -> Registry {
        self.registry.read().expect("registry lock").clone()
    }

    /// Runs `f` with the schemas (for OpenAPI documents and validation).
    pub fn with_schemas<R>(&self, f: impl FnOnce(&Schemas) -> R) -> R {
        f(&self.schemas.read().expect("schemas lock"))
    }

    fn key(rt: &ResourceType, namespace: Option<&str>, name: &str) -> Key {
        Key {
            group: rt.gvk.group.clone(),
            plural: rt.plural.clone(),
            namespace: if rt.namespaced {
                namespace.unwrap_or("").to_owned()
            } else {
                String::new()
            },
            name: name.to_owned(),
        }
    }

    /// Checks that a namespaced request names a namespace, and a cluster-scoped one does not.
    fn check_scope(rt: &ResourceType, namespace: Option<&str>) -> Result<(), ApiError> {
        match (rt.namespaced, namespace) {
            (true, None) => Err(ApiError::bad_request(format!(
                "{} is namespaced: the request needs a namespace",
                rt.qualified()
            ))),
            (false, Some(ns)) => Err(ApiError::no_route(&format!(
                "{} is cluster-scoped, not in namespace {ns}",
                rt.qualified()
            ))),
            _ => Ok(()),
        }
    }
}
