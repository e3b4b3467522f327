//! The daemon's HTTP endpoints. Probes: `/healthz` (the process is alive), `/readyz` (this
//! replica can serve: configuration loaded, store reachable and writable, not stopping),
//! `/metrics` (Prometheus text format). For people and tools, behind `[daemon.auth]`'s key:
//! `/` (the status page, see [`crate::status_page`]), `/status` (each pipeline's freshness,
//! holder and last run as JSON) `/runs/{id}/rejects.csv` (a run's rejects) and `/runs/{id}/ledger.csv` (the ledger entries a
//! run appended).
//!
//! Every request passes [`guard`] first (its `Host`, its size, its key) and is served by
//! [`serve`], which bounds connections, header reads and idle sockets.

pub mod guard;
mod health;
mod routes;
pub mod serve;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use chrono::{DateTime, Utc};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio_util::sync::CancellationToken;

pub use guard::Guard;
pub use health::{age, readiness, status};
pub use serve::{Limits, serve};

use crate::store::Store;
use crate::workiva::WorkivaClient;

/// What the endpoints look at.
#[derive(Clone)]
pub struct Health {
    pub store: Store,
    pub client: WorkivaClient,
    /// (pipeline, staleness limit)
    pub limits: Vec<(String, Option<Duration>)>,
    /// When the daemon started: a pipeline that never succeeded is measured from here.
    pub started: DateTime<Utc>,
    pub stopping: CancellationToken,
    pub timeout: Duration,
    pub metrics: PrometheusHandle,
    /// Each scheduled pipeline's schedule, for the status page's next run.
    pub schedules: Vec<(String, crate::scheduler::Schedule)>,
}

/// Every route, behind the guard.
pub fn router(h: Health, guard: Guard) -> Router {
    Router::new()
        .route("/", get(routes::status_page))
        .route("/status", get(health::status_json))
        .route("/runs/{id}/rejects.csv", get(routes::rejects_csv))
        .route("/runs/{id}/ledger.csv", get(routes::ledger_csv))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(routes::metrics))
        .with_state(h)
        .layer(DefaultBodyLimit::max(guard::MAX_BODY_BYTES as usize))
        .layer(axum::middleware::from_fn_with_state(guard, guard::check))
}
