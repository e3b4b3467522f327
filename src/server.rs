//! The daemon's HTTP endpoints: `/healthz` (the process is alive), `/readyz` (the store
//! answers, a token is obtainable, no pipeline is past its staleness limit) and `/metrics`
//! (Prometheus text format).

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use tokio_util::sync::CancellationToken;

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
}

pub fn router(h: Health) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(h)
}

async fn healthz(State(h): State<Health>) -> Response {
    axum::Json(json!({
        "status": "alive",
        "stopping": h.stopping.is_cancelled(),
    }))
    .into_response()
}

/// `{"ok": true}`, or `{"ok": false, "error": …}` when `check` fails or takes over `limit`.
async fn timed<E: std::fmt::Display>(
    limit: Duration,
    check: impl std::future::Future<Output = Result<(), E>>,
) -> serde_json::Value {
    match tokio::time::timeout(limit, check).await {
        Ok(Ok(())) => json!({"ok": true}),
        Ok(Err(e)) => json!({"ok": false, "error": e.to_string()}),
        Err(_) => json!({"ok": false, "error": format!("no answer within {limit:?}")}),
    }
}

/// Each check with `ok` and, when not, why. The checks run at once, so the answer comes
/// within one `readiness_timeout_secs` however many pipelines there are.
pub async fn readiness(h: &Health) -> (bool, serde_json::Value) {
    let lasts = async {
        let each = h.limits.iter().map(|(name, _)| async move {
            tokio::time::timeout(h.timeout, h.store.last_success(name))
                .await
                .ok()
                .and_then(|r| r.ok())
                .flatten()
        });
        futures_util::future::join_all(each).await
    };
    let (store, token, lasts) = tokio::join!(
        timed(h.timeout, h.store.ping()),
        timed(h.timeout, h.client.check_token()),
        lasts,
    );
    let now = Utc::now();
    let mut pipelines = serde_json::Map::new();
    let mut fresh = true;
    for ((name, limit), last) in h.limits.iter().zip(lasts) {
        let since = last.unwrap_or(h.started);
        let age = (now - since).to_std().unwrap_or_default();
        let stale = limit.is_some_and(|l| age > l);
        fresh &= !stale;
        pipelines.insert(
            name.clone(),
            json!({
                "ok": !stale,
                "last_success": last.map(|t| t.to_rfc3339()),
                "stale_after_secs": limit.map(|l| l.as_secs()),
                "age_secs": age.as_secs(),
            }),
        );
    }
    let stopping = h.stopping.is_cancelled();
    let ok = store["ok"] == true && token["ok"] == true && fresh && !stopping;
    (
        ok,
        json!({
            "ready": ok,
            "stopping": stopping,
            "store": store,
            "token": token,
            "pipelines": pipelines,
        }),
    )
}

async fn readyz(State(h): State<Health>) -> Response {
    let (ok, body) = readiness(&h).await;
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}

async fn metrics(State(h): State<Health>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        h.metrics.render(),
    )
        .into_response()
}
