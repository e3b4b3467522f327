//! `/operations/{id}` and their results.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::{Q, S, advanced_store};
use crate::error::{ApiError, ApiResult};
use crate::gateway::Base;
use crate::model::*;
use crate::paging::parse_query;

pub async fn get_operation(
    State(sh): S,
    Extension(base): Extension<Base>,
    Path(oid): Path<String>,
) -> ApiResult<Response> {
    let retry = sh.settings().operations.retry_after_secs;
    let st = advanced_store(&sh);
    let op = st
        .operations
        .get(&oid)
        .ok_or_else(|| ApiError::not_found(format!("No operation with id `{oid}` exists")))?;
    let mut r = Json(op.to_json(&base.0)).into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry));
    Ok(r)
}

pub async fn operation_results(
    State(sh): S,
    Extension(base): Extension<Base>,
    Path(oid): Path<String>,
    Query(q): Q,
) -> ApiResult<Response> {
    let retry = sh.settings().operations.retry_after_secs;
    let lq = parse_query(
        &q,
        &format!("/operations/{oid}/metricValuesBatchUpsertionResults"),
        &[],
        &[],
        "operation results",
    )?;
    let st = advanced_store(&sh);
    let op = st
        .operations
        .get(&oid)
        .ok_or_else(|| ApiError::not_found(format!("No operation with id `{oid}` exists")))?;
    if op.status != OpStatus::Completed {
        return Err(ApiError::conflict(format!(
            "Operation `{oid}` is {}; results exist only for a completed batch upsertion",
            op.status.as_str()
        )));
    }
    let vals = st.values.get(&op.metric);
    let items = op.results.iter().enumerate().filter_map(|(i, id)| {
        vals.and_then(|mv| mv.get_by_id(*id))
            .map(|v| (i as u64 + 1, v))
    });
    let mut r = Json(lq.page(&base.0, items, |v| v.to_json())).into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry));
    Ok(r)
}
