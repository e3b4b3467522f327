//! `/programs`: list, get, create, patch.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::{Q, S, advanced_store, created, patch_str};
use crate::error::ApiResult;
use crate::filter;
use crate::gateway::{Base, Caller};
use crate::input::{Obj, parse_json};
use crate::paging::parse_query;
use crate::patch;
use crate::store::limits;

/// The programs the caller may read (all of them for a workspace administrator).
pub async fn list_programs(
    State(sh): S,
    Extension(base): Extension<Base>,
    Extension(caller): Extension<Caller>,
    Query(q): Q,
) -> ApiResult<Json<Value>> {
    let lq = parse_query(
        &q,
        "/programs",
        filter::PROGRAM_FIELDS,
        &["name"],
        "programs",
    )?;
    let st = advanced_store(&sh);
    let readable = |p: &&crate::model::Program| {
        caller.workspace_admin || st.access(p, &caller.principal).is_some()
    };
    Ok(Json(lq.page(
        &base.0,
        st.programs.iter().filter(readable).map(|p| (p.seq, p)),
        |p| p.to_json(),
    )))
}

pub async fn get_program(State(sh): S, Path(pid): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(advanced_store(&sh).program(&pid)?.to_json()))
}

pub async fn create_program(
    State(sh): S,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> ApiResult<Response> {
    let v = parse_json(&body)?;
    let o = Obj::new(&v, "")?;
    let name = o.req_str("name", limits::PROGRAM_NAME)?;
    let mut st = advanced_store(&sh);
    Ok(created(
        st.create_program(name, Some(&caller.principal))?.to_json(),
    ))
}

pub async fn patch_program(
    State(sh): S,
    Path(pid): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let op = patch::parse(&body, patch::PROGRAM_PATHS, "program")?;
    let mut st = advanced_store(&sh);
    if op.is_test() {
        let p = st.program(&pid)?;
        patch::run_test(&op, &json!(p.name))?;
        return Ok(Json(p.to_json()));
    }
    let name = patch_str(&op, limits::PROGRAM_NAME, false)?.expect("not nullable");
    Ok(Json(st.rename_program(&pid, &name)?.to_json()))
}
