//! `/programs/{id}/metrics/{id}/values`: list, get, create, patch, delete, batch upsertion
//! (current and deprecated paths) and batch deletion.

use std::sync::Arc;
use std::time::Instant;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Q, S, advanced_store, created, patch_str};
use crate::error::{ApiError, ApiResult};
use crate::filter;
use crate::gateway::{Base, FailOperation, Shared};
use crate::model::*;
use crate::paging::{Position, parse_query};
use crate::patch;
use crate::store::limits;
use crate::value_input;

pub async fn list_values(
    State(sh): S,
    Extension(base): Extension<Base>,
    Path((pid, mid)): Path<(String, String)>,
    Query(q): Q,
) -> ApiResult<Response> {
    let lq = parse_query(
        &q,
        &format!("/programs/{pid}/metrics/{mid}/values"),
        filter::VALUE_FIELDS,
        &[
            "reportingPeriod.year",
            "reportingPeriod.start",
            "reportingPeriod.end",
        ],
        "metric values",
    )?;
    let mut st = advanced_store(&sh);
    let (_, metric) = st.metric_ids(&pid, &mid)?;
    let vals = st.metric_values(metric);
    let mut scanned = 0u64;
    let body = if lq.order.is_empty() {
        let from = match lq.start {
            Some(Position::After(s)) => s as usize + 1,
            _ => 0,
        };
        let mut page = Vec::with_capacity(lq.size.min(vals.len()));
        let mut last = None;
        let mut more = false;
        for (slot, v) in vals.slab.iter().enumerate().skip(from) {
            let Some(v) = v else { continue };
            scanned += 1;
            if !lq.matches(&v) {
                continue;
            }
            if page.len() == lq.size {
                more = true;
                break;
            }
            page.push(ValueJson(v));
            last = Some(slot as u64);
        }
        let next = if more {
            last.map(|l| lq.next_link(&base.0, Position::After(l)))
        } else {
            None
        };
        let bytes = serde_json::to_vec(&PageOut {
            data: page,
            next_link: next,
        })
        .expect("a page serialises");
        st.values_scanned += scanned;
        return Ok((
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response());
    } else {
        let items = vals
            .slab
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.as_ref().map(|v| (i as u64, v)));
        scanned += vals.len() as u64;
        lq.page(&base.0, items, |v| v.to_json())
    };
    st.values_scanned += scanned;
    Ok(Json(body).into_response())
}

/// A list page written straight to JSON.
#[derive(serde::Serialize)]
struct PageOut<T: serde::Serialize> {
    data: Vec<T>,
    #[serde(rename = "@nextLink", skip_serializing_if = "Option::is_none")]
    next_link: Option<String>,
}

pub async fn get_value(
    State(sh): S,
    Path((pid, mid, vid)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(advanced_store(&sh).value(&pid, &mid, &vid)?.to_json()))
}

pub async fn create_value(
    State(sh): S,
    Path((pid, mid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let item = value_input::parse_new_value(&body)?;
    let mut st = advanced_store(&sh);
    Ok(created(st.create_value(&pid, &mid, item)?.to_json()))
}

pub async fn patch_value(
    State(sh): S,
    Path((pid, mid, vid)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let op = patch::parse(&body, patch::VALUE_PATHS, "metric value")?;
    let mut st = advanced_store(&sh);
    let (dt, v) = st.value_mut(&pid, &mid, &vid)?;
    if op.is_test() {
        let cur = v.to_json();
        patch::run_test(&op, cur.get(&op.path[1..]).unwrap_or(&Value::Null))?;
        return Ok(Json(cur));
    }
    if op.path == "/notes" {
        v.notes = patch_str(&op, limits::LONG_TEXT, true)?;
    } else {
        let new = match &op.value {
            Value::String(s) if s.chars().count() <= limits::LONG_TEXT => s.clone(),
            _ => {
                return Err(ApiError::invalid(
                    "/value",
                    "/value takes a string of at most 32767 characters",
                ));
            }
        };
        dt.check(&new)
            .map_err(|why| ApiError::invalid("/value", why.to_string()))?;
        v.value = new;
    }
    Ok(Json(v.to_json()))
}

pub async fn delete_value(
    State(sh): S,
    Path((pid, mid, vid)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    advanced_store(&sh).delete_value(&pid, &mid, &vid)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn upsert(
    sh: Arc<Shared>,
    base: &str,
    pid: &str,
    mid: &str,
    body: &[u8],
    planned_failure: bool,
) -> ApiResult<(String, u64)> {
    // Unknown program or metric first (404), then the body's form (400), then the queue (409).
    advanced_store(&sh).metric_ids(pid, mid)?;
    let items = value_input::parse_upsertion(body)?;
    let settings = sh.settings();
    let inject = planned_failure || sh.roll(settings.faults.operation_failure);
    let refuse = (
        settings.faults.refuse_values.clone(),
        settings.faults.refuse_values_unnamed,
    );
    let id = {
        let mut st = advanced_store(&sh);
        let id = st.submit_upsertion(
            pid,
            mid,
            items,
            &settings.operations,
            inject,
            Instant::now(),
        )?;
        if let Some(op) = st.operations.get_mut(&id) {
            op.refuse = refuse;
        }
        id
    };
    Ok((
        format!("{base}/operations/{id}"),
        settings.operations.retry_after_secs,
    ))
}

fn accepted(location: &str, retry_after: u64, body: Option<Value>) -> Response {
    let mut r = match body {
        Some(b) => (StatusCode::ACCEPTED, Json(b)).into_response(),
        None => StatusCode::ACCEPTED.into_response(),
    };
    let h = r.headers_mut();
    if let Ok(l) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, l);
    }
    h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    r
}

pub async fn batch_upsertion(
    State(sh): S,
    Extension(base): Extension<Base>,
    Extension(fail): Extension<FailOperation>,
    Path((pid, mid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let (loc, ra) = upsert(sh, &base.0, &pid, &mid, &body, fail.0).await?;
    Ok(accepted(
        &loc,
        ra,
        Some(json!({ "operationLocation": loc })),
    ))
}

/// The deprecated 2022-01-01 path: a 202 with `Location` and `Retry-After` and no body. The
/// gateway adds `Deprecation` and `Sunset` to every answer of this path.
pub async fn legacy_batch_upsertion(
    State(sh): S,
    Extension(base): Extension<Base>,
    Extension(fail): Extension<FailOperation>,
    Path((pid, mid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let (loc, ra) = upsert(sh, &base.0, &pid, &mid, &body, fail.0).await?;
    Ok(accepted(&loc, ra, None))
}

pub async fn batch_deletion(
    State(sh): S,
    Path((pid, mid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    advanced_store(&sh).metric_ids(&pid, &mid)?;
    let items = value_input::parse_deletion(&body)?;
    advanced_store(&sh).batch_delete(&pid, &mid, &items)?;
    Ok(StatusCode::NO_CONTENT)
}
