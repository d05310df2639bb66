//! The operator's HTTP endpoints: `/healthz` (the process serves requests), `/readyz`
//! ([`Readiness`]) and `/metrics` ([`Metrics`], OpenMetrics text).

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

use super::{metrics::Metrics, readiness::Readiness};

/// The content type of `/metrics` (OpenMetrics text, which Prometheus negotiates and parses).
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What the handlers read.
#[derive(Clone, Debug)]
pub struct Endpoints {
    /// Readiness, for `/readyz`.
    pub readiness: Readiness,
    /// Metrics, for `/metrics`.
    pub metrics: Arc<Metrics>,
}

/// The router of `/healthz`, `/readyz` and `/metrics`.
pub fn router(endpoints: Endpoints) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(endpoints)
}

async fn readyz(State(endpoints): State<Endpoints>) -> Response {
    match endpoints.readiness.check() {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")).into_response(),
    }
}

async fn metrics(State(endpoints): State<Endpoints>) -> Response {
    match endpoints.metrics.encode() {
        Ok(text) => ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], text).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Binds `address` (port 0: any free port).
///
/// # Errors
///
/// When the address cannot be bound (in use, not local, no permission).
pub async fn bind(address: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(address).await
}

/// Serves `endpoints` on `listener` until the future is dropped.
///
/// # Errors
///
/// When accepting connections fails for good.
pub async fn serve(listener: tokio::net::TcpListener, endpoints: Endpoints) -> std::io::Result<()> {
    axum::serve(listener, router(endpoints)).await
}
