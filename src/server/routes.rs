//! The pages: the status page, a run's rejects as CSV, and the metrics.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::Health;

/// The replica holding each pipeline's lease now (`None`: nobody runs it).
pub(super) async fn holders(h: &Health) -> std::collections::HashMap<String, String> {
    match tokio::time::timeout(h.timeout, h.store.leases()).await {
        Ok(Ok(rows)) => rows
            .into_iter()
            .filter(|l| l.is_held(Utc::now()))
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
    let hand_edits = match runs.first() {
        Some(r) => h.store.hand_edits(r.id).await?,
        None => Vec::new(),
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
        hand_edits,
    })
}

pub(super) async fn status_page(State(h): State<Health>) -> Response {
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
            crate::status_page::escape(&crate::redact::text(why))
        ),
    )
        .into_response()
}

/// The run `id` names, if it is one of this daemon's pipelines' (a shared store may hold
/// others' runs), or the answer saying why not.
async fn served_run(h: &Health, id: &str) -> Result<crate::store::RunRecord, Response> {
    let Ok(id) = id.parse::<i64>() else {
        return Err((StatusCode::NOT_FOUND, "no such run\n").into_response());
    };
    let found = match h.store.run(id).await {
        Ok(r) => r,
        Err(e) => return Err((StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response()),
    };
    found
        .filter(|r| h.limits.iter().any(|(n, _)| *n == r.pipeline))
        .ok_or_else(|| (StatusCode::NOT_FOUND, "no such run\n").into_response())
}

/// `/runs/{id}/ledger.csv`: the ledger entries the run appended, as the evidence pack's
/// `ledger.csv` holds them (with their hashes and content).
pub(super) async fn ledger_csv(State(h): State<Health>, Path(id): Path<String>) -> Response {
    let run = match served_run(&h, &id).await {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    let entries = match h.store.ledger_stored_of_run(run.id).await {
        Ok(e) => e,
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
    };
    let read: Result<Vec<_>, _> = entries
        .into_iter()
        .map(|e| serde_json::from_str(&e.content).map(|c| (e, c)))
        .collect();
    let Ok(read) = read else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "a ledger entry of the run does not read; run `esg-sync ledger verify`\n",
        )
            .into_response();
    };
    let body = crate::evidence::pack::csv(&crate::evidence::tables::ledger(&read));
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"esg-sync-run-{}-ledger.csv\"",
                    run.id
                ),
            ),
        ],
        body,
    )
        .into_response()
}

pub(super) async fn rejects_csv(State(h): State<Health>, Path(id): Path<String>) -> Response {
    let run = match served_run(&h, &id).await {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    // A page is read and sent, then the next: however many rejects a run has, a download
    // holds at most one page in memory and no store connection between pages.
    let first = match h.store.rejects_page(run.id, 0).await {
        Ok(p) => p,
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
    };
    let (store, run_id) = (h.store.clone(), run.id);
    // A page that cannot be read ends the body with an error, never as a shorter file.
    let pages = futures_util::stream::unfold(Some(Ok(first)), move |state| {
        let store = store.clone();
        async move {
            match state? {
                Err(e) => Some((Err(e), None)),
                Ok(None) => None,
                Ok(Some((page, last))) => {
                    let chunk = crate::outcome::rejects_csv_rows(run_id, &page);
                    let following = store.rejects_page(run_id, last).await;
                    Some((Ok(chunk), Some(following)))
                }
            }
        }
    });
    let header =
        futures_util::stream::once(async { Ok(crate::outcome::REJECTS_CSV_HEADER.to_string()) });
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"esg-sync-run-{run_id}-rejects.csv\""),
            ),
        ],
        axum::body::Body::from_stream(futures_util::StreamExt::chain(header, pages)),
    )
        .into_response()
}

pub(super) async fn metrics(State(h): State<Health>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        h.metrics.render(),
    )
        .into_response()
}
