//! `/permissions` and a program's permissions: list and modify.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{Q, S, advanced_store};
use crate::error::{ApiError, ApiResult};
use crate::filter;
use crate::gateway::{Base, Caller};
use crate::input::{Obj, parse_json};
use crate::paging::parse_query;
use crate::store::PERMISSIONS;

pub async fn list_permission_definitions(
    Extension(base): Extension<Base>,
    Query(q): Q,
) -> ApiResult<Json<Value>> {
    let lq = parse_query(&q, "/permissions", &[], &[], "permissions")?;
    let items = PERMISSIONS
        .iter()
        .enumerate()
        .map(|(i, (id, name))| (i as u64 + 1, (*id, *name)));
    Ok(Json(lq.page(
        &base.0,
        items,
        |(id, name)| json!({"id": id, "name": name}),
    )))
}

pub async fn get_permission_definition(Path(id): Path<String>) -> ApiResult<Json<Value>> {
    PERMISSIONS
        .iter()
        .find(|(p, _)| *p == id)
        .map(|(p, n)| Json(json!({"id": p, "name": n})))
        .ok_or_else(|| ApiError::not_found(format!("No permission with id `{id}` exists")))
}

pub async fn list_program_permissions(
    State(sh): S,
    Extension(base): Extension<Base>,
    Path(pid): Path<String>,
    Query(q): Q,
) -> ApiResult<Json<Value>> {
    let lq = parse_query(
        &q,
        &format!("/programs/{pid}/permissions"),
        filter::PERMISSION_FIELDS,
        &[],
        "program permissions",
    )?;
    let st = advanced_store(&sh);
    let p = st.program(&pid)?;
    let items = p
        .permissions
        .iter()
        .enumerate()
        .map(|(i, a)| (i as u64 + 1, a));
    Ok(Json(lq.page(&base.0, items, |a| {
        json!({"permission": a.permission, "principal": a.principal, "principalType": a.principal_type, "resource": p.id})
    })))
}

fn parse_assignments(o: &Obj, key: &str) -> ApiResult<Vec<(String, String)>> {
    let Some(arr) = o.opt_array(key, 1000)? else {
        return Ok(Vec::new());
    };
    arr.iter()
        .enumerate()
        .map(|(i, v)| {
            let a = Obj::new(v, format!("{key}[{i}]"))?;
            Ok((
                a.req_str("permission", 100)?.to_string(),
                a.req_str("principal", 200)?.to_string(),
            ))
        })
        .collect()
}

pub async fn modify_program_permissions(
    State(sh): S,
    Extension(caller): Extension<Caller>,
    Path(pid): Path<String>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let v = parse_json(&body)?;
    let o = Obj::new(&v, "")?;
    let assign = parse_assignments(&o, "toAssign")?;
    let revoke = parse_assignments(&o, "toRevoke")?;
    let mut st = advanced_store(&sh);
    let p = st.program(&pid)?;
    if !caller.workspace_admin && !st.is_owner(p, &caller.principal) {
        return Err(ApiError::forbidden(
            "You must have owner-level access to a program to modify its permissions",
        ));
    }
    st.modify_permissions(&pid, &assign, &revoke)?;
    Ok(StatusCode::NO_CONTENT)
}
