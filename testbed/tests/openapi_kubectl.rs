//! The real `kubectl` against a throwaway server that serves the testbed's OpenAPI v3 documents
//! (`schema::openapi`) and validates with its field validation (`schema::validate`): kubectl
//! reads the documents, validates on the server (`fieldValidation=Strict`, or `Warn` with
//! `--validate=warn`), computes strategic merge patches from them and never falls back to
//! `/openapi/v2`. kubectl is `$KUBECTL` or `kubectl` on the PATH.

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use ecs_bridge_testbed::schema::{
    Gvk, Schemas,
    openapi::{OpenApiResource, document_hash, group_version_document, index, version_info},
    prune::prune,
    validate::{Cause, FieldValidation, validate, warning_header_value},
};
use serde_json::{Value, json};

fn configmaps() -> OpenApiResource {
    OpenApiResource {
        gvk: Gvk::new("", "v1", "ConfigMap"),
        plural: "configmaps".into(),
        namespaced: true,
        subresources: vec![],
    }
}

/// One request kubectl made.
#[derive(Debug, Clone, Default)]
struct Seen {
    method: String,
    target: String,
    accept: String,
    content_type: String,
    user_agent: String,
    if_none_match: String,
    body: String,
}

impl Seen {
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or(&self.target)
    }

    fn query(&self, key: &str) -> Option<String> {
        let q = self.target.split_once('?')?.1;
        q.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k == key).then(|| v.to_owned())
        })
    }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

fn reply(status: u16, body: &Value) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        body: body.to_string(),
    }
}

fn status(code: u16, reason: &str, message: &str, details: Value) -> Reply {
    let mut s = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": message, "reason": reason, "code": code});
    if !details.is_null() {
        s["details"] = details;
    }
    reply(code, &s)
}

/// The kinds the throwaway server serves: (resource, URL prefix, index path).
fn served() -> Vec<(OpenApiResource, &'static str, &'static str)> {
    vec![
        (configmaps(), "/api/v1", "api/v1"),
        (
            OpenApiResource {
                gvk: Gvk::new("apps", "v1", "Deployment"),
                plural: "deployments".into(),
                namespaced: true,
                subresources: vec!["status".into(), "scale".into()],
            },
            "/apis/apps/v1",
            "apis/apps/v1",
        ),
    ]
}

fn api_resource(r: &OpenApiResource) -> Value {
    let singular = r.gvk.kind.to_ascii_lowercase();
    json!({"name": r.plural, "singularName": singular, "namespaced": r.namespaced, "kind": r.gvk.kind,
           "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]})
}

/// A tiny API server: `/version`, legacy (unaggregated) discovery, the OpenAPI v3 documents
/// served like kube-openapi's handler3, and an in-memory store for create/get/list/patch in
/// namespace `default` (patches are recorded, not applied).
struct Throwaway {
    port: u16,
    store: Mutex<BTreeMap<(String, String), Value>>,
    log: Mutex<Vec<Seen>>,
}

impl Throwaway {
    fn respond(&self, seen: &Seen) -> Reply {
        let schemas = Schemas::upstream();
        let served = served();
        let path = seen.path();
        match (seen.method.as_str(), path) {
            ("GET", "/version") => return reply(200, &version_info()),
            ("GET", "/api") => {
                let address = format!("127.0.0.1:{}", self.port);
                return reply(
                    200,
                    &json!({"kind": "APIVersions", "versions": ["v1"],
                            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]}),
                );
            }
            ("GET", "/apis") => {
                let apps = json!({"groupVersion": "apps/v1", "version": "v1"});
                let group = json!({"name": "apps", "versions": [apps], "preferredVersion": apps});
                return reply(
                    200,
                    &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [group]}),
                );
            }
            ("GET", "/openapi/v3") => {
                let paths: Vec<String> = served.iter().map(|(_, _, p)| (*p).to_owned()).collect();
                return reply(
                    200,
                    &index(&paths, |gv| document_hash(&gv_document(&schemas, gv))),
                );
            }
            _ => {}
        }
        if let Some(gv) = path.strip_prefix("/openapi/v3/") {
            return openapi_reply(seen, gv, &gv_document(&schemas, gv));
        }
        for (r, prefix, _) in &served {
            if path == *prefix {
                let group_version = prefix.trim_start_matches("/api/").trim_start_matches("/apis/");
                let list = json!({"kind": "APIResourceList", "groupVersion": group_version, "resources": [api_resource(r)]});
                return reply(200, &list);
            }
            let collection = format!("{prefix}/namespaces/default/{}", r.plural);
            if path == collection {
                return self.collection(seen, r, &schemas);
            }
            if let Some(name) = path.strip_prefix(&format!("{collection}/")) {
                return self.item(seen, r, name);
            }
        }
        status(
            404,
            "NotFound",
            "the server could not find the requested resource",
            Value::Null,
        )
    }

    fn collection(&self, seen: &Seen, r: &OpenApiResource, schemas: &Schemas) -> Reply {
        let mut store = self.store.lock().expect("store");
        if seen.method == "GET" {
            let items: Vec<Value> = store
                .iter()
                .filter(|((p, _), _)| *p == r.plural)
                .map(|(_, v)| v.clone())
                .collect();
            let kind = format!("{}List", r.gvk.kind);
            return reply(
                200,
                &json!({"kind": kind, "apiVersion": r.gvk.api_version(), "metadata": {"resourceVersion": "9"}, "items": items}),
            );
        }
        let Ok(mut obj) = serde_json::from_str::<Value>(&seen.body) else {
            return status(400, "BadRequest", "the body is not JSON", Value::Null);
        };
        let mode = match FieldValidation::from_query(seen.query("fieldValidation").as_deref()) {
            Ok(mode) => mode,
            Err(cause) => return status(422, "Invalid", &cause.to_string(), Value::Null),
        };
        let schema = schemas.kind(&r.gvk).expect("served kinds have schemas");
        let v = validate(&obj, schema, mode);
        if let Some(message) = v.strict_decoding_message(&r.gvk) {
            return status(400, "BadRequest", &message, Value::Null);
        }
        let name = obj["metadata"]["name"].as_str().unwrap_or_default().to_owned();
        if let Some(message) = v.invalid_message(&r.gvk, &name) {
            let causes: Vec<Value> = v.errors.iter().map(Cause::to_status_cause).collect();
            let details = json!({"name": name, "group": r.gvk.group, "kind": r.gvk.kind, "causes": causes});
            return status(422, "Invalid", &message, details);
        }
        prune(&mut obj, schema);
        obj["metadata"]["namespace"] = json!("default");
        obj["metadata"]["uid"] = json!(format!("00000000-0000-4000-8000-{:012}", store.len() + 1));
        obj["metadata"]["resourceVersion"] = json!("1");
        obj["metadata"]["creationTimestamp"] = json!("2025-01-01T00:00:00Z");
        store.insert((r.plural.clone(), name), obj.clone());
        let mut reply = reply(201, &obj);
        reply.headers = v
            .warnings
            .iter()
            .map(|w| ("Warning".to_owned(), warning_header_value(w)))
            .collect();
        reply
    }

    fn item(&self, seen: &Seen, r: &OpenApiResource, name: &str) -> Reply {
        let store = self.store.lock().expect("store");
        match (
            seen.method.as_str(),
            store.get(&(r.plural.clone(), name.to_owned())),
        ) {
            ("GET" | "PATCH", Some(obj)) => reply(200, obj),
            _ => {
                let message = format!("{} \"{name}\" not found", r.plural);
                status(
                    404,
                    "NotFound",
                    &message,
                    json!({"name": name, "group": r.gvk.group, "kind": r.plural}),
                )
            }
        }
    }
}

fn gv_document(schemas: &Schemas, gv: &str) -> Value {
    let resources: Vec<OpenApiResource> = served()
        .into_iter()
        .filter(|(_, _, p)| *p == gv)
        .map(|(r, _, _)| r)
        .collect();
    let (group, version) = match gv.split('/').collect::<Vec<_>>()[..] {
        ["api", v] => ("", v),
        ["apis", g, v] => (g, v),
        _ => ("", "none"),
    };
    group_version_document(schemas, &resources, group, version)
}

/// As kube-openapi's handler3: the hash is the ETag; a stale hash redirects; a hashed URL
/// may be cached for ever (kubectl's disk cache then skips it); `If-None-Match` → 304.
fn openapi_reply(seen: &Seen, gv: &str, doc: &Value) -> Reply {
    let etag = document_hash(doc);
    if seen.query("hash").is_some_and(|h| h != etag) {
        let mut r = reply(301, &json!({}));
        r.headers
            .push(("Location".into(), format!("/openapi/v3/{gv}?hash={etag}")));
        return r;
    }
    let mut r = if seen.if_none_match == format!("\"{etag}\"") {
        Reply {
            status: 304,
            headers: vec![],
            body: String::new(),
        }
    } else {
        reply(200, doc)
    };
    let now = jiff::Timestamp::now();
    let http_date = |t: jiff::Timestamp| t.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string();
    r.headers.extend([
        ("ETag".to_owned(), format!("\"{etag}\"")),
        ("Vary".to_owned(), "Accept".to_owned()),
        ("Cache-Control".to_owned(), "public, immutable".to_owned()),
        ("Date".to_owned(), http_date(now)),
        (
            "Expires".to_owned(),
            http_date(now + jiff::SignedDuration::from_hours(24 * 365)),
        ),
    ]);
    r
}

fn handle(stream: TcpStream, server: &Throwaway) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(());
    }
    let mut parts = line.split_whitespace();
    let mut seen = Seen {
        method: parts.next().unwrap_or_default().to_owned(),
        target: parts.next().unwrap_or_default().to_owned(),
        ..Seen::default()
    };
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            let v = v.trim().to_owned();
            match k.to_ascii_lowercase().as_str() {
                "accept" => seen.accept = v,
                "content-type" => seen.content_type = v,
                "user-agent" => seen.user_agent = v,
                "if-none-match" => seen.if_none_match = v,
                "content-length" => length = v.parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    seen.body = String::from_utf8_lossy(&body).into_owned();
    let r = server.respond(&seen);
    server.log.lock().expect("request log").push(seen);
    let reason = match r.status {
        200 => "OK",
        201 => "Created",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        422 => "Unprocessable Entity",
        _ => "Other",
    };
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        r.status,
        r.body.len()
    );
    for (k, v) in &r.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = stream;
    stream.write_all(head.as_bytes())?;
    stream.write_all(r.body.as_bytes())?;
    stream.flush()
}

/// Starts the throwaway server on 127.0.0.1:0 (one thread per connection, `Connection: close`).
fn start_server() -> Arc<Throwaway> {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local addr").port();
    let server = Arc::new(Throwaway {
        port,
        store: Mutex::default(),
        log: Mutex::default(),
    });
    let shared = Arc::clone(&server);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                if let Err(e) = handle(stream, &shared) {
                    eprintln!("throwaway server: {e}");
                }
            });
        }
    });
    server
}

/// `$KUBECTL` or `kubectl` on the PATH; fails the test when there is none.
fn kubectl() -> String {
    let program = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".to_owned());
    match Command::new(&program).args(["version", "--client"]).output() {
        Ok(out) if out.status.success() => program,
        Ok(out) => panic!(
            "`{program} version --client` failed ({}): this test drives the real kubectl; install it or set $KUBECTL",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => panic!(
            "cannot run `{program}` ({e}): this test drives the real kubectl; install it (on PATH) or set $KUBECTL"
        ),
    }
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
    requests: Vec<Seen>,
}

/// Runs kubectl against the server with the scratch kubeconfig and cache, prints the
/// requests it made.
fn run_kubectl(program: &str, dir: &Path, server: &Throwaway, args: &[&str]) -> Run {
    let mut child = Command::new(program)
        .args(args)
        .env("KUBECONFIG", dir.join("kubeconfig"))
        .env("KUBECACHEDIR", dir.join("cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {program}: {e}"));
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for kubectl") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kubectl {args:?} did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let requests = std::mem::take(&mut *server.log.lock().expect("request log"));
    let run = Run {
        ok: status.success(),
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
        requests,
    };
    eprintln!(
        "--- kubectl {} → {} ({} requests) ---",
        args.join(" "),
        if run.ok { "ok" } else { "failed" },
        run.requests.len()
    );
    for s in &run.requests {
        let mut extra = String::new();
        if !s.content_type.is_empty() {
            extra.push_str(&format!(" [Content-Type: {}]", s.content_type));
        }
        if !s.if_none_match.is_empty() {
            extra.push_str(&format!(" [If-None-Match: {}]", s.if_none_match));
        }
        eprintln!(
            "{} {}    [Accept: {}]{extra} [User-Agent: {}]",
            s.method, s.target, s.accept, s.user_agent
        );
        if s.method == "PATCH" {
            eprintln!("    body: {}", s.body);
        }
    }
    eprintln!("stdout:\n{}stderr:\n{}", run.stdout, run.stderr);
    run
}

fn scratch_dir() -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("testbed-kubectl-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

const CONFIGMAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  key: value\n";
const CONFIGMAP_UPDATED: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  key: changed\n";
const CONFIGMAP_UNKNOWN_FIELD: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\nfoo: bar\ndata:\n  key: value\n";
const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: app\n        image: nginx:1\n      - name: sidecar\n        image: busybox:1\n";

#[test]
fn kubectl_apply_uses_server_side_field_validation() {
    let program = kubectl();
    let server = start_server();
    let dir = scratch_dir();
    let port = server.port;
    std::fs::write(
        dir.join("kubeconfig"),
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: double\n  cluster:\n    server: http://127.0.0.1:{port}\n\
             users:\n- name: tester\n  user:\n    token: test-token\ncontexts:\n- name: double\n  context:\n    cluster: double\n    user: tester\n\
             current-context: double\n"
        ),
    )
    .expect("kubeconfig");
    let file = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("manifest");
        path.display().to_string()
    };
    let cm = file("cm.yaml", CONFIGMAP);
    let cm2 = file("cm2.yaml", CONFIGMAP_UPDATED);
    let bad = file("bad.yaml", CONFIGMAP_UNKNOWN_FIELD);
    let deploy = file("deploy.yaml", DEPLOYMENT);
    let deploy2 = file("deploy2.yaml", &DEPLOYMENT.replace("nginx:1", "nginx:2"));
    let mut all = Vec::new();

    // 1. A valid ConfigMap with default flags (--validate=strict), empty caches.
    let run = run_kubectl(&program, &dir, &server, &["apply", "-f", &cm]);
    assert!(run.ok, "kubectl apply failed: {}", run.stderr);
    assert!(run.stdout.contains("configmap/demo created"), "{}", run.stdout);
    let post = run
        .requests
        .iter()
        .find(|s| s.method == "POST")
        .expect("kubectl POSTed the ConfigMap");
    assert_eq!(
        post.query("fieldValidation").as_deref(),
        Some("Strict"),
        "POST {}",
        post.target
    );
    assert_eq!(
        post.query("fieldManager").as_deref(),
        Some("kubectl-client-side-apply")
    );
    assert!(
        run.requests.iter().any(|s| s.path() == "/openapi/v3/api/v1"),
        "kubectl read the api/v1 document"
    );
    let sent: Value = serde_json::from_str(&post.body).expect("POST body is JSON");
    assert!(sent["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].is_string());
    all.extend(run.requests);

    // 2. An unknown field: the server's strict decoding error reaches the user.
    let run = run_kubectl(&program, &dir, &server, &["apply", "-f", &bad]);
    assert!(!run.ok, "kubectl should fail");
    let expected = format!(
        "Error from server (BadRequest): error when creating \"{bad}\": ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field \"foo\""
    );
    assert!(
        run.stderr.contains(&expected),
        "expected {expected:?} in {:?}",
        run.stderr
    );
    assert!(
        run.requests
            .iter()
            .any(|s| s.method == "POST" && s.query("fieldValidation").as_deref() == Some("Strict"))
    );
    all.extend(run.requests);

    // 3. --validate=warn: the object is created and the warning header is shown.
    let run = run_kubectl(&program, &dir, &server, &["apply", "--validate=warn", "-f", &bad]);
    assert!(run.ok, "kubectl apply --validate=warn failed: {}", run.stderr);
    assert!(
        run.stderr.contains("Warning: unknown field \"foo\""),
        "{}",
        run.stderr
    );
    assert!(
        run.requests
            .iter()
            .any(|s| s.method == "POST" && s.query("fieldValidation").as_deref() == Some("Warn"))
    );
    all.extend(run.requests);

    // 4. Applying a change to an existing ConfigMap: a strategic merge patch from the v3 document.
    let run = run_kubectl(&program, &dir, &server, &["apply", "-f", &cm2]);
    assert!(run.ok, "kubectl apply (update) failed: {}", run.stderr);
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    let patch = run
        .requests
        .iter()
        .find(|s| s.method == "PATCH")
        .expect("kubectl PATCHed the ConfigMap");
    assert_eq!(patch.content_type, "application/strategic-merge-patch+json");
    assert_eq!(
        patch.query("fieldValidation").as_deref(),
        Some("Strict"),
        "PATCH {}",
        patch.target
    );
    all.extend(run.requests);

    // 5./6. A Deployment (apps/v1), then a change: the patch uses the containers' merge key.
    let run = run_kubectl(&program, &dir, &server, &["apply", "-f", &deploy]);
    assert!(run.ok, "kubectl apply deployment failed: {}", run.stderr);
    assert!(
        run.stdout.contains("deployment.apps/web created"),
        "{}",
        run.stdout
    );
    assert!(
        run.requests
            .iter()
            .any(|s| s.method == "POST" && s.query("fieldValidation").as_deref() == Some("Strict"))
    );
    all.extend(run.requests);
    let run = run_kubectl(&program, &dir, &server, &["apply", "-f", &deploy2]);
    assert!(run.ok, "kubectl apply (deployment update) failed: {}", run.stderr);
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    let patch = run
        .requests
        .iter()
        .find(|s| s.method == "PATCH")
        .expect("kubectl PATCHed the Deployment");
    assert_eq!(patch.content_type, "application/strategic-merge-patch+json");
    let body: Value = serde_json::from_str(&patch.body).expect("patch is JSON");
    assert_eq!(
        body["spec"]["template"]["spec"]["$setElementOrder/containers"],
        json!([{"name": "app"}, {"name": "sidecar"}]),
        "{body}"
    );
    assert_eq!(
        body["spec"]["template"]["spec"]["containers"],
        json!([{"image": "nginx:2", "name": "app"}])
    );
    all.extend(run.requests);

    // 7. kubectl get asks for a server-side Table and prints a plain list itself.
    let run = run_kubectl(&program, &dir, &server, &["get", "configmaps"]);
    assert!(run.ok, "kubectl get failed: {}", run.stderr);
    assert!(
        run.stdout.contains("demo") && run.stdout.contains("bad"),
        "{}",
        run.stdout
    );
    all.extend(run.requests);

    // 8. kubectl explain reads the same document's components.
    let run = run_kubectl(
        &program,
        &dir,
        &server,
        &["explain", "deployment.spec.template.spec.containers.image"],
    );
    assert!(run.ok, "kubectl explain failed: {}", run.stderr);
    assert!(run.stdout.contains("FIELD: image <string>"), "{}", run.stdout);
    all.extend(run.requests);

    // Nothing fell back to OpenAPI v2 (client-side validation, v2 patch computation).
    assert!(
        !all.iter().any(|s| s.path().starts_with("/openapi/v2")),
        "kubectl fell back to /openapi/v2"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
