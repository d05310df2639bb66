//! One `ecs-bridge run` process, with its log and its HTTP endpoints.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::Duration,
};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Backend, eventually};

/// A running operator; killed when dropped.
pub struct Operator {
    child: Child,
    log: PathBuf,
}

impl Operator {
    /// Starts `ecs-bridge run` against `backend` for `namespace`, as `identity` (`POD_NAME`),
    /// electing on the Lease `ecs-bridge` in `namespace`, serving its endpoints on a free local
    /// port, logging to `log`.
    pub fn spawn(backend: &Backend, namespace: &str, identity: &str, log: &Path) -> Operator {
        let file = std::fs::File::create(log).expect("operator log");
        let child = Command::new(env!("CARGO_BIN_EXE_ecs-bridge"))
            .args([
                "run",
                "--namespace",
                namespace,
                "--log",
                "info,ecs_bridge=debug,kube=warn",
                "--lease-namespace",
                namespace,
                "--metrics-address",
                "127.0.0.1:0",
            ])
            .env("KUBECONFIG", backend.kubeconfig())
            .env("POD_NAME", identity)
            .env_remove("ECS_BRIDGE_LEADER_ELECT")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start ecs-bridge run");
        Operator {
            child,
            log: log.to_owned(),
        }
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Where it serves `/healthz`, `/readyz` and `/metrics` (from its log, once it listens).
    pub async fn address(&self) -> SocketAddr {
        eventually(
            "the operator to serve its endpoints",
            Duration::from_secs(60),
            || {
                let log = strip_ansi(&self.log());
                log.lines()
                    .filter(|l| l.contains("serving /healthz"))
                    .find_map(|l| l.split("address=").nth(1))
                    .and_then(|rest| rest.split_whitespace().next())
                    .and_then(|a| a.parse().ok())
                    .ok_or_else(|| format!("not yet; log:\n{log}"))
            },
        )
        .await
    }

    /// `GET path` on its endpoints: the status code and the body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        http_get(self.address().await, path).await
    }

    /// Waits (at most `timeout`) until `/readyz` answers 200.
    pub async fn ready(&self, what: &str, timeout: Duration) {
        super::wait::eventually_async(what, timeout, || async {
            let (code, body) = self.get("/readyz").await;
            (code == 200).then_some(()).ok_or(format!("{code} {body}"))
        })
        .await;
    }

    /// Sends SIGTERM (its graceful shutdown trigger).
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill on PATH");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits until it has exited, for at most `timeout`.
    pub async fn exited(&mut self, timeout: Duration) -> ExitStatus {
        let log = self.log.clone();
        let child = &mut self.child;
        eventually("the operator to exit", timeout, || {
            child
                .try_wait()
                .expect("try_wait")
                .ok_or_else(|| std::fs::read_to_string(&log).unwrap_or_default())
        })
        .await
    }
}

/// How much of an operator's log a failed test prints.
const LOG_TAIL_LINES: usize = 120;

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A failed test shows the end of each operator's log (its scratch directory goes).
        if std::thread::panicking() {
            let log = strip_ansi(&self.log());
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
            eprintln!(
                "--- {}, last {LOG_TAIL_LINES} lines ---\n{tail}",
                self.log.display()
            );
        }
    }
}

/// `text` without ANSI escape sequences (colours).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `GET path` over HTTP/1.0 on `address`: the status code and the body (0 and the error when
/// the connection fails).
async fn http_get(address: SocketAddr, path: &str) -> (u16, String) {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(address).await?;
        stream
            .write_all(format!("GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").as_bytes())
            .await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&response).into_owned())
    };
    match tokio::time::timeout(Duration::from_secs(30), exchange).await {
        Ok(Ok(response)) => {
            let code = response
                .split_whitespace()
                .nth(1)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let body = response
                .split_once("\r\n\r\n")
                .map(|(_, b)| b.to_owned())
                .unwrap_or_default();
            (code, body)
        }
        Ok(Err(e)) => (0, e.to_string()),
        Err(_) => (0, "timed out".to_owned()),
    }
}
