//! Liveness, readiness and freshness. `/readyz` answers only whether this replica can serve
//! (configuration loaded, store reachable and writable, not stopping): one stale pipeline
//! must not make every replica NotReady and stall node drains. Freshness (each pipeline's
//! age against its `stale_after_secs`), the lease holders and whether a token can be had are
//! in `/status` and the `stale` alert.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::Health;
use super::routes::holders;

pub(super) async fn healthz(State(h): State<Health>) -> Response {
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
        Ok(Err(e)) => json!({"ok": false, "error": crate::redact::text(&e.to_string())}),
        Err(_) => json!({"ok": false, "error": format!("no answer within {limit:?}")}),
    }
}

/// How long a pipeline has gone without a run that landed: since its last success, or, if it
/// never had one, since the daemon started. `/status` and the `stale` alert both judge by it.
pub fn age(
    last_success: Option<DateTime<Utc>>,
    started: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Duration {
    (now - last_success.unwrap_or(started))
        .to_std()
        .unwrap_or_default()
}

/// Whether this replica can serve, with each check's `ok` and, when not, why.
pub async fn readiness(h: &Health) -> (bool, serde_json::Value) {
    let store = timed(
        h.timeout,
        h.store.ping_write(crate::sync::lease::holder_id()),
    )
    .await;
    let stopping = h.stopping.is_cancelled();
    let ok = store["ok"] == true && !stopping;
    (
        ok,
        json!({
            "ready": ok,
            "replica": crate::sync::lease::holder_id(),
            "stopping": stopping,
            "config": {"ok": true, "pipelines": h.limits.len()},
            "store": store,
        }),
    )
}

pub(super) async fn readyz(State(h): State<Health>) -> Response {
    let (ok, body) = readiness(&h).await;
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}

/// Each pipeline's freshness, holder and last run, whether a token can be had, and whether
/// every pipeline is fresh (`fresh`). The checks run at once, so the answer comes within
/// one `readiness_timeout_secs` however many pipelines there are.
pub async fn status(h: &Health) -> serde_json::Value {
    let lasts = async {
        let each = h.limits.iter().map(|(name, _)| async move {
            let last_success = tokio::time::timeout(h.timeout, h.store.last_success(name))
                .await
                .ok()
                .and_then(|r| r.ok())
                .flatten();
            let last_run = tokio::time::timeout(h.timeout, h.store.last_run(name))
                .await
                .ok()
                .and_then(|r| r.ok())
                .flatten();
            (last_success, last_run)
        });
        futures_util::future::join_all(each).await
    };
    let (ready, token, lasts, holders) = tokio::join!(
        readiness(h),
        timed(h.timeout, h.client.check_token()),
        lasts,
        holders(h),
    );
    let me = crate::sync::lease::holder_id();
    let now = Utc::now();
    let mut pipelines = serde_json::Map::new();
    let mut fresh = true;
    for ((name, limit), (last, run)) in h.limits.iter().zip(lasts) {
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
                "last_run": run.map(|r| json!({
                    "id": r.id,
                    "status": r.status,
                    "started_at": crate::store::shown(&r.started_at),
                    "finished_at": r.finished_at.as_ref().map(crate::store::shown),
                    "message": r.message,
                })),
            }),
        );
    }
    json!({
        "ready": ready.0,
        "fresh": fresh,
        "replica": me,
        "stopping": h.stopping.is_cancelled(),
        "store": ready.1["store"],
        "token": token,
        "pipelines": pipelines,
    })
}

pub(super) async fn status_json(State(h): State<Health>) -> Response {
    axum::Json(status(&h).await).into_response()
}
