//! The daemon's HTTP endpoints: `/healthz` (the process is alive), `/readyz` (the store
//! answers, a token is obtainable, no pipeline is past its staleness limit; which replica
//! holds each pipeline), `/metrics` (Prometheus text format), and for people `/` (the status
//! page, see [`crate::status_page`]) and `/runs/{id}/rejects.csv` (a run's rejects).

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
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
    /// Each scheduled pipeline's schedule, for the status page's next run.
    pub schedules: Vec<(String, crate::scheduler::Schedule)>,
}

pub fn router(h: Health) -> Router {
    Router::new()
        .route("/", get(status_page))
        .route("/runs/{id}/rejects.csv", get(rejects_csv))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(h)
}

/// The replica holding each pipeline's lease now (`None`: nobody runs it).
async fn holders(h: &Health) -> std::collections::HashMap<String, String> {
    match tokio::time::timeout(h.timeout, h.store.leases()).await {
        Ok(Ok(rows)) => rows
            .into_iter()
            .filter(|l| l.is_held())
            .map(|l| (l.pipeline, l.holder))
            .collect(),
        _ => Default::default(),
    }
}

/// One pipeline's part of the status page.
async fn pipeline_view(
    h: &Health,
    name: &str,
    holder: Option<String>,
) -> Result<crate::status_page::PipelineView, crate::store::StoreError> {
    use crate::status_page::{PipelineView, REJECTS_SHOWN, RUNS_SHOWN};
    let runs = h.store.runs_of(name, RUNS_SHOWN).await?;
    let (rejects, rejects_total) = match runs.first() {
        Some(r) => h.store.rejects_first(r.id, REJECTS_SHOWN).await?,
        None => (Vec::new(), 0),
    };
    let next_run = h
        .schedules
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, s)| s.next_after(Utc::now()));
    Ok(PipelineView {
        name: name.to_string(),
        runs,
        next_run,
        holder,
        rejects,
        rejects_total,
    })
}

async fn status_page(State(h): State<Health>) -> Response {
    let holders = holders(&h).await;
    let views = h.limits.iter().map(|(name, _)| {
        let holder = holders.get(name).cloned();
        let h = &h;
        async move { tokio::time::timeout(h.timeout, pipeline_view(h, name, holder)).await }
    });
    let mut pipelines = Vec::new();
    for v in futures_util::future::join_all(views).await {
        match v {
            Ok(Ok(v)) => pipelines.push(v),
            Ok(Err(e)) => return page_error(&e.to_string()),
            Err(_) => return page_error("the state store did not answer in time"),
        }
    }
    let page = crate::status_page::Page {
        replica: crate::sync::lease::holder_id().to_string(),
        now: Utc::now(),
        stopping: h.stopping.is_cancelled(),
        pipelines,
    };
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        crate::status_page::render(&page),
    )
        .into_response()
}

fn page_error(why: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>esg-sync status</title></head><body><h1>esg-sync status</h1><p>The status cannot be read now: {}. Try again shortly.</p></body></html>",
            crate::status_page::escape(why)
        ),
    )
        .into_response()
}

async fn rejects_csv(State(h): State<Health>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return (StatusCode::NOT_FOUND, "no such run\n").into_response();
    };
    let found = match h.store.run(id).await {
        Ok(r) => r,
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
    };
    // Only the pipelines this daemon serves: a shared store may hold others' runs.
    let Some(run) = found.filter(|r| h.limits.iter().any(|(n, _)| *n == r.pipeline)) else {
        return (StatusCode::NOT_FOUND, "no such run\n").into_response();
    };
    match h.store.rejects(run.id).await {
        Ok(list) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"esg-sync-run-{}-rejects.csv\"",
                        run.id
                    ),
                ),
            ],
            crate::outcome::rejects_csv(run.id, &list),
        )
            .into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
    }
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

/// How long a pipeline has gone without a run that landed: since its last success, or, if it
/// never had one, since the daemon started. `/readyz` and the `stale` alert both judge by it.
pub fn age(
    last_success: Option<DateTime<Utc>>,
    started: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Duration {
    (now - last_success.unwrap_or(started))
        .to_std()
        .unwrap_or_default()
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
    let (store, token, lasts, holders) = tokio::join!(
        timed(h.timeout, h.store.ping()),
        timed(h.timeout, h.client.check_token()),
        lasts,
        holders(h),
    );
    let me = crate::sync::lease::holder_id();
    let now = Utc::now();
    let mut pipelines = serde_json::Map::new();
    let mut fresh = true;
    for ((name, limit), last) in h.limits.iter().zip(lasts) {
        let age = age(last, h.started, now);
        let stale = limit.is_some_and(|l| age > l);
        fresh &= !stale;
        pipelines.insert(
            name.clone(),
            json!({
                "ok": !stale,
                "last_success": last.map(|t| t.to_rfc3339()),
                "stale_after_secs": limit.map(|l| l.as_secs()),
                "age_secs": age.as_secs(),
                "held_by": holders.get(name),
                "leader": holders.get(name).is_some_and(|h| h == me),
            }),
        );
    }
    let stopping = h.stopping.is_cancelled();
    let ok = store["ok"] == true && token["ok"] == true && fresh && !stopping;
    (
        ok,
        json!({
            "ready": ok,
            "replica": me,
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
