//! The HTTP face of the double: routing, query parameters, content types, status codes, watch
//! streams, fault injection and the request log.

pub mod discovery;
pub mod events;
pub mod protobuf;
pub mod route;
pub mod table;

use std::{collections::HashMap, convert::Infallible, sync::Arc};

use axum::{
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use futures::StreamExt;
use serde_json::Value;
use tokio_stream::wrappers::ReceiverStream;

use crate::{
    api::{ApiError, ApiServer, DeleteOptions, ListQuery, WatchQuery, WatchStart, WriteOptions},
    faults::{Injected, RequestRecord},
    patch::PatchType,
    registry::ResourceType,
    schema::{openapi, validate::FieldValidation},
};
use route::{ResourcePath, Route};

/// What the handlers share.
#[derive(Debug)]
pub struct Ctx {
    /// The API server.
    pub api: Arc<ApiServer>,
    /// `host:port` the server listens on.
    pub address: String,
    /// OpenAPI documents by group version, for one set of served kinds (its hash first).
    pub openapi_cache: std::sync::Mutex<(u64, HashMap<String, Option<Value>>)>,
}

impl Ctx {
    /// Handler state for `api` listening on `address`.
    #[must_use]
    pub fn new(api: Arc<ApiServer>, address: String) -> Self {
        Self {
            api,
            address,
            openapi_cache: std::sync::Mutex::new((0, HashMap::new())),
        }
    }
}

/// The axum router: every path goes to one handler that routes like the API server.
pub fn router(ctx: Arc<Ctx>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(ctx)
}

async fn handle(
    State(ctx): State<Arc<Ctx>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let delay = ctx.api.faults.response_delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let path = uri.path().to_owned();
    let query_string = uri.query().unwrap_or("").to_owned();
    let is_api = path.starts_with("/api");
    let response = match (
        is_api,
        ctx.api
            .faults
            .decide_for(method.as_str(), &user_agent, Some(&path)),
    ) {
        (true, Injected::Error(500)) => error_response(&ApiError::internal("injected fault: internal error")),
        (true, Injected::Error(_)) => error_response(&ApiError::too_many_requests()),
        (true, Injected::Conflict) => error_response(&ApiError::conflict("injected", "fault")),
        _ => route(&ctx, &method, &path, &query_string, &headers, &body, &user_agent),
    };
    ctx.api.faults.record(RequestRecord {
        method: method.to_string(),
        path,
        query: query_string,
        user_agent,
        status: response.status().as_u16(),
    });
    response
}

fn route(
    ctx: &Ctx,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &Bytes,
    ua: &str,
) -> Response {
    let registry = ctx.api.registry();
    let parsed = route::parse(path, |g, v, plural| {
        registry.by_plural(g, v, plural).is_some_and(|t| t.namespaced)
    });
    let q: HashMap<String, String> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let get_only = |v: Value| {
        if *method == Method::GET {
            json_response(StatusCode::OK, &v)
        } else {
            error_response(&ApiError::method_not_allowed(format!(
                "{method} is not allowed on {path}"
            )))
        }
    };
    match parsed {
        Route::Version => get_only(openapi::version_info()),
        Route::Health => (StatusCode::OK, "ok").into_response(),
        Route::CoreVersions => get_only(discovery::core_versions(&ctx.address)),
        Route::Groups => get_only(discovery::group_list(&registry)),
        Route::Group(g) => match discovery::group(&registry, &g) {
            Some(v) => get_only(v),
            None => error_response(&ApiError::no_route(path)),
        },
        Route::ResourceList(g, v) => match discovery::resource_list(&registry, &g, &v) {
            Some(doc) => get_only(doc),
            None => error_response(&ApiError::no_route(path)),
        },
        Route::OpenApiIndex => get_only(openapi_index(ctx)),
        Route::OpenApiDocument(gv) => match openapi_document(ctx, &gv) {
            Some(doc) => get_only(doc),
            None => error_response(&ApiError::no_route(path)),
        },
        Route::Resource(rp) if events::is_events_v1(&rp.group, &rp.plural) => {
            events_v1(ctx, method, rp, &q, headers, body, ua)
        }
        Route::Resource(rp) => match ctx
            .api
            .resource_type_by_plural(&rp.group, &rp.version, &rp.plural)
        {
            Some(rt) => resource(ctx, method, &rt, &rp, &q, headers, body, ua),
            None => error_response(&ApiError::no_route(path)),
        },
        Route::Unknown => error_response(&ApiError::no_route(path)),
    }
}

/// A request for `events.k8s.io/v1` Events, served from core/v1's ([`events`]): the body
/// converted in, the answer converted out.
fn events_v1(
    ctx: &Ctx,
    method: &Method,
    rp: ResourcePath,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
    ua: &str,
) -> Response {
    let Some(core) = ctx.api.resource_type_by_plural("", "v1", "events") else {
        return error_response(&ApiError::internal("core/v1 events are not served"));
    };
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_owned();
    let body = if body.is_empty() || *method == Method::GET || *method == Method::DELETE {
        body.clone()
    } else {
        let parsed = if media.contains("yaml") {
            parse_yaml(body)
        } else {
            parse_json(body)
        };
        let parsed = match parsed {
            Ok(v) => v,
            Err(e) => return error_response(&e),
        };
        let converted = if media == "application/json-patch+json" {
            events::json_patch_to_core(parsed)
        } else {
            events::to_core(parsed)
        };
        Bytes::from(serde_json::to_vec(&converted).unwrap_or_default())
    };
    let core_rp = ResourcePath {
        group: String::new(),
        version: "v1".to_owned(),
        ..rp
    };
    events::response_from_core(resource(ctx, method, &core, &core_rp, q, headers, &body, ua))
}

fn openapi_index(ctx: &Ctx) -> Value {
    let registry = ctx.api.registry();
    let gvs: Vec<String> = registry
        .group_versions()
        .into_iter()
        .map(|(g, v)| {
            if g.is_empty() {
                format!("api/{v}")
            } else {
                format!("apis/{g}/{v}")
            }
        })
        .collect();
    openapi::index(&gvs, |gv| {
        openapi_document(ctx, gv)
            .map(|d| openapi::document_hash(&d))
            .unwrap_or_default()
    })
}

/// The OpenAPI document of a group version, built once per set of served kinds.
fn openapi_document(ctx: &Ctx, gv: &str) -> Option<Value> {
    let registry = ctx.api.registry();
    let generation = fxhash(&format!("{:?}", registry.types()));
    let mut cache = ctx.openapi_cache.lock().expect("openapi cache lock");
    if cache.0 != generation {
        *cache = (generation, HashMap::new());
    }
    if let Some(doc) = cache.1.get(gv) {
        return doc.clone();
    }
    let doc = build_openapi_document(ctx, &registry, gv);
    cache.1.insert(gv.to_owned(), doc.clone());
    doc
}

fn build_openapi_document(ctx: &Ctx, registry: &crate::registry::Registry, gv: &str) -> Option<Value> {
    let (group, version) = match gv.split('/').collect::<Vec<_>>().as_slice() {
        ["api", v] => (String::new(), (*v).to_owned()),
        ["apis", g, v] => ((*g).to_owned(), (*v).to_owned()),
        _ => return None,
    };
    let resources: Vec<openapi::OpenApiResource> = registry
        .types()
        .iter()
        .filter(|t| t.gvk.group == group && t.gvk.version == version)
        .map(|t| openapi::OpenApiResource {
            gvk: t.gvk.clone(),
            plural: t.plural.clone(),
            namespaced: t.namespaced,
            subresources: [
                t.status_subresource.then_some("status"),
                t.scale.as_ref().map(|_| "scale"),
            ]
            .into_iter()
            .flatten()
            .map(str::to_owned)
            .collect(),
        })
        .collect();
    if resources.is_empty() {
        return None;
    }
    Some(
        ctx.api
            .with_schemas(|s| openapi::group_version_document(s, &resources, &group, &version)),
    )
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[allow(clippy::too_many_arguments)]
fn resource(
    ctx: &Ctx,
    method: &Method,
    rt: &ResourceType,
    rp: &ResourcePath,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
    ua: &str,
) -> Response {
    let api = &ctx.api;
    let ns = rp.namespace.as_deref();
    let sub = rp.subresource.as_deref();
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    // The options of a write, validated as `ValidateCreateOptions`, `ValidateUpdateOptions` and
    // `ValidatePatchOptions` (k8s.io/apimachinery/pkg/apis/meta/v1/validation) do: 422 on the
    // options kind.
    let opts = |patch_type: Option<PatchType>| -> Result<WriteOptions, ApiError> {
        let options_kind = match *method {
            Method::POST => "CreateOptions.meta.k8s.io",
            Method::PUT => "UpdateOptions.meta.k8s.io",
            _ => "PatchOptions.meta.k8s.io",
        };
        let mut causes: Vec<crate::api::Cause> = Vec::new();
        let mut cause = |field: &str, reason: &str, message: String| {
            causes.push(crate::api::Cause {
                reason: reason.to_owned(),
                message,
                field: field.to_owned(),
            });
        };
        let field_validation = FieldValidation::from_query(q.get("fieldValidation").map(String::as_str))
            .unwrap_or_else(|c| {
                cause(&c.field, c.reason, c.message);
                FieldValidation::Warn
            });
        let field_manager = q.get("fieldManager").cloned();
        let force = q.get("force").map(String::as_str);
        if patch_type.is_some_and(|t| t != PatchType::Apply) && force.is_some() {
            cause(
                "force",
                "FieldValueForbidden",
                "Forbidden: may not be specified for non-apply patch".to_owned(),
            );
        }
        if patch_type == Some(PatchType::Apply) && field_manager.as_deref().is_none_or(str::is_empty) {
            cause(
                "fieldManager",
                "FieldValueRequired",
                "Required value: is required for apply patch".to_owned(),
            );
        }
        if !causes.is_empty() {
            return Err(ApiError::invalid(options_kind, "", causes));
        }
        Ok(WriteOptions {
            // The API server defaults the field manager to the client's user agent.
            field_manager: field_manager
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| ua.split('/').next().unwrap_or("unknown").to_owned()),
            field_validation,
            dry_run: q.get("dryRun").is_some_and(|d| d == "All"),
            force: force == Some("true"),
        })
    };
    let result: Result<Response, ApiError> = (|| match (method, rp.name.as_deref()) {
        (&Method::GET, None) if q.get("watch").is_some_and(|w| w == "true" || w == "1") => {
            let send_initial_events = match q.get("sendInitialEvents").map(String::as_str) {
                None => None,
                Some("true" | "1") => Some(true),
                Some("false" | "0") => Some(false),
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "invalid sendInitialEvents {other:?}"
                    )));
                }
            };
            let (start, send_initial_events) = WatchStart::from_query(
                q.get("resourceVersion").map(String::as_str),
                q.get("resourceVersionMatch").map(String::as_str),
                send_initial_events,
                q.get("continue").map(String::as_str),
            )?;
            let mut list = list_query(q)?;
            // Watches have their own resourceVersion semantics (above).
            list.resource_version = None;
            list.resource_version_match = None;
            let wq = WatchQuery {
                list,
                start,
                bookmarks: q.get("allowWatchBookmarks").is_some_and(|b| b == "true"),
                send_initial_events,
                timeout: q
                    .get("timeoutSeconds")
                    .and_then(|t| t.parse().ok())
                    .map(std::time::Duration::from_secs),
            };
            let rx = api.watch(rt, ns, wq)?;
            let stream = ReceiverStream::new(rx).map(|ev| {
                let mut line = serde_json::to_vec(&ev).unwrap_or_default();
                line.push(b'\n');
                Ok::<_, Infallible>(Bytes::from(line))
            });
            let mut resp = Response::new(Body::from_stream(stream));
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            Ok(resp)
        }
        (&Method::GET, None) => {
            let list = api.list(rt, ns, &list_query(q)?)?;
            if table::wants_table(accept) {
                let items = list["items"].as_array().cloned().unwrap_or_default();
                let rv = list
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                return Ok(json_response(StatusCode::OK, &table::table(rt, &items, rv)));
            }
            Ok(json_response(StatusCode::OK, &list))
        }
        (&Method::GET, Some(name)) => {
            let obj = api.get(rt, ns, name, sub)?;
            if table::wants_table(accept) && sub.is_none() {
                let rv = obj
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                return Ok(json_response(StatusCode::OK, &table::table(rt, &[obj], &rv)));
            }
            Ok(json_response(StatusCode::OK, &obj))
        }
        (&Method::POST, None) => {
            let written = api.create(rt, ns, parse_json(body)?, &opts(None)?)?;
            Ok(with_warnings(
                json_response(StatusCode::CREATED, &written.object),
                &written.warnings,
            ))
        }
        (&Method::PUT, Some(name)) => {
            let written = api.update(rt, ns, name, sub, parse_json(body)?, &opts(None)?)?;
            Ok(with_warnings(
                json_response(StatusCode::OK, &written.object),
                &written.warnings,
            ))
        }
        (&Method::PATCH, Some(name)) => {
            let media = content_type.split(';').next().unwrap_or("").trim();
            let patch_type =
                PatchType::from_content_type(media).ok_or_else(|| ApiError::unsupported_media_type(media))?;
            let patch_body = if patch_type == PatchType::Apply {
                parse_yaml(body)?
            } else {
                parse_json(body)?
            };
            let o = opts(Some(patch_type))?;
            let written = api.patch(rt, ns, name, sub, patch_type, &patch_body, &o)?;
            let code = if written.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(with_warnings(
                json_response(code, &written.object),
                &written.warnings,
            ))
        }
        (&Method::DELETE, Some(name)) => {
            let mut d = delete_options(body)?;
            if let Some(p) = q.get("propagationPolicy") {
                d.propagation_policy = Some(p.clone());
            }
            if q.get("dryRun").is_some_and(|x| x == "All") {
                d.dry_run = Some(vec!["All".into()]);
            }
            let obj = api.delete(rt, ns, name, &d)?;
            Ok(json_response(StatusCode::OK, &obj))
        }
        (&Method::DELETE, None) => {
            let list = api.list(rt, ns, &list_query(q)?)?;
            let d = delete_options(body)?;
            for item in list["items"].as_array().into_iter().flatten() {
                let name = item
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let item_ns = item.pointer("/metadata/namespace").and_then(Value::as_str);
                match api.delete(rt, item_ns, name, &d) {
                    Ok(_) | Err(ApiError { code: 404, .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(json_response(StatusCode::OK, &list))
        }
        _ => Err(ApiError::method_not_allowed(format!(
            "{method} is not supported on this path"
        ))),
    })();
    result.unwrap_or_else(|e| error_response(&e))
}

fn list_query(q: &HashMap<String, String>) -> Result<ListQuery, ApiError> {
    Ok(ListQuery {
        label_selector: q.get("labelSelector").cloned(),
        field_selector: q.get("fieldSelector").cloned(),
        limit: match q.get("limit") {
            Some(l) => l
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
            None => 0,
        },
        continue_token: q.get("continue").filter(|c| !c.is_empty()).cloned(),
        resource_version: q.get("resourceVersion").cloned(),
        resource_version_match: q.get("resourceVersionMatch").cloned(),
    })
}

fn parse_json(body: &Bytes) -> Result<Value, ApiError> {
    if body.starts_with(protobuf::MAGIC) {
        // Protobuf-encoded bodies start with the magic "k8s\0". The API server accepts them for
        // built-in kinds: client-go's typed clients send them (Helm's release Secrets, kubectl's
        // typed commands such as `kubectl create configmap`). The double decodes the kinds
        // `protobuf` knows and answers 501 for others (not 415, which clients do not fall back
        // from for protobuf).
        return protobuf::decode(body);
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
}

/// The DeleteOptions of a DELETE's body (JSON, or protobuf as client-go's typed clients send
/// it); the defaults when there is none.
fn delete_options(body: &Bytes) -> Result<DeleteOptions, ApiError> {
    if body.is_empty() {
        return Ok(DeleteOptions::default());
    }
    serde_json::from_value(parse_json(body)?)
        .map_err(|e| ApiError::bad_request(format!("DeleteOptions: {e}")))
}

fn parse_yaml(body: &Bytes) -> Result<Value, ApiError> {
    serde_yaml_ng::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the apply body is not valid YAML or JSON: {e}")))
}

fn json_response(code: StatusCode, value: &Value) -> Response {
    let mut resp = Response::new(Body::from(serde_json::to_vec(value).unwrap_or_default()));
    *resp.status_mut() = code;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn with_warnings(mut resp: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let text = format!("299 - \"{}\"", w.replace('"', "\\\""));
        if let Ok(v) = HeaderValue::from_str(&text) {
            resp.headers_mut().append("Warning", v);
        }
    }
    resp
}

/// An error as the API server sends it: the Status object with the error's code.
#[must_use]
pub fn error_response(e: &ApiError) -> Response {
    let mut resp = json_response(
        StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &e.to_status(),
    );
    if let Some(r) = e.retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(r));
    }
    resp
}
