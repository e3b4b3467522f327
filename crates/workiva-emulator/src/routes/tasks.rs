//! `/tasks`: list, get, and actions on the approval workflow.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde_json::Value;

use super::{Q, S, advanced_store};
use crate::error::{ApiError, ApiResult};
use crate::filter;
use crate::gateway::Base;
use crate::input::{Obj, opt_enum, parse_json};
use crate::paging::parse_query;
use crate::store::{TaskAction, limits};

pub async fn list_tasks(
    State(sh): S,
    Extension(base): Extension<Base>,
    Query(q): Q,
) -> ApiResult<Json<Value>> {
    let lq = parse_query(&q, "/tasks", filter::TASK_FIELDS, &["title"], "tasks")?;
    let st = advanced_store(&sh);
    Ok(Json(lq.page(
        &base.0,
        st.tasks.iter().map(|t| (t.seq, t)),
        |t| t.to_json(),
    )))
}

pub async fn get_task(State(sh): S, Path(tid): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(advanced_store(&sh).task(&tid)?.to_json()))
}

pub async fn task_action(
    State(sh): S,
    Path(tid): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let v = parse_json(&body)?;
    let o = Obj::new(&v, "")?;
    let action = opt_enum(&o, "action", &TaskAction::NAMES)?
        .and_then(TaskAction::parse)
        .ok_or_else(|| {
            ApiError::invalid(
                "action",
                format!(
                    "action is required: one of {}",
                    TaskAction::NAMES.join(", ")
                ),
            )
        })?;
    let comment = o.opt_str("comment", limits::LONG_TEXT)?.map(str::to_string);
    let mut st = advanced_store(&sh);
    Ok(Json(st.task_action(&tid, action, comment)?.to_json()))
}
