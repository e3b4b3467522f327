//! `/programs/{id}/topics`: list, get, create, patch, delete.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::{Q, S, advanced_store, created, patch_int, patch_str};
use crate::error::ApiResult;
use crate::filter;
use crate::gateway::Base;
use crate::input::{Obj, parse_json};
use crate::paging::parse_query;
use crate::patch;
use crate::store::{Store, limits};

pub async fn list_topics(
    State(sh): S,
    Extension(base): Extension<Base>,
    Path(pid): Path<String>,
    Query(q): Q,
) -> ApiResult<Json<Value>> {
    let lq = parse_query(
        &q,
        &format!("/programs/{pid}/topics"),
        filter::TOPIC_FIELDS,
        &["index", "name"],
        "topics",
    )?;
    let st = advanced_store(&sh);
    let p = st.program(&pid)?;
    Ok(Json(lq.page(
        &base.0,
        p.topics.iter().map(|t| (t.seq, t)),
        |t| t.to_json(),
    )))
}

pub async fn get_topic(
    State(sh): S,
    Path((pid, tid)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let mut st = advanced_store(&sh);
    let p = st.program_mut(&pid)?;
    Ok(Json(Store::topic_mut(p, &tid)?.to_json()))
}

pub async fn create_topic(
    State(sh): S,
    Path(pid): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let v = parse_json(&body)?;
    let o = Obj::new(&v, "")?;
    o.no_nulls(&["index"])?;
    let name = o.req_str("name", limits::NAME)?;
    let index = o.opt_int("index", 0, i32::MAX as i64)?;
    let parent = o.opt_str("parent", 100)?;
    let mut st = advanced_store(&sh);
    Ok(created(
        st.create_topic(&pid, name, index, parent)?.to_json(),
    ))
}

pub async fn patch_topic(
    State(sh): S,
    Path((pid, tid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let op = patch::parse(&body, patch::TOPIC_PATHS, "topic")?;
    let mut st = advanced_store(&sh);
    if op.is_test() {
        let p = st.program_mut(&pid)?;
        let t = Store::topic_mut(p, &tid)?;
        let cur = t.to_json();
        patch::run_test(&op, &cur[&op.path[1..]])?;
        return Ok(Json(cur));
    }
    let t = match op.path {
        "/name" => {
            let name = patch_str(&op, limits::NAME, false)?.expect("not nullable");
            let p = st.program_mut(&pid)?;
            let t = Store::topic_mut(p, &tid)?;
            t.name = name;
            t.clone()
        }
        "/index" => {
            let i = patch_int(&op, 0)?;
            let p = st.program_mut(&pid)?;
            let t = Store::topic_mut(p, &tid)?;
            t.index = i;
            t.clone()
        }
        _ => {
            let parent = patch_str(&op, 100, true)?;
            st.set_topic_parent(&pid, &tid, parent.as_deref())?
        }
    };
    Ok(Json(t.to_json()))
}

pub async fn delete_topic(
    State(sh): S,
    Path((pid, tid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    advanced_store(&sh).delete_topic(&pid, &tid)?;
    Ok(StatusCode::NO_CONTENT)
}
