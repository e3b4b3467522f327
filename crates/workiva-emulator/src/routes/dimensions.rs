//! `/programs/{id}/dimensions`: list, get, create, patch (values replaced or added, a
//! replace optionally guarded by a `test` of the same path).

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde_json::Value;

use super::{Q, S, advanced_store, created, patch_bool, patch_str};
use crate::error::{ApiError, ApiResult};
use crate::filter;
use crate::gateway::Base;
use crate::input::{Obj, parse_json};
use crate::model::*;
use crate::paging::parse_query;
use crate::patch;
use crate::store::{self, Store, limits};

fn parse_dim_values(arr: &[Value], target: &str) -> ApiResult<Vec<DimValue>> {
    let mut out = Vec::with_capacity(arr.len());
    for (i, v) in arr.iter().enumerate() {
        let o = Obj::new(v, format!("{target}[{i}]"))?;
        o.no_nulls(&["id", "active"])?;
        let id = o.req_str("id", limits::DIM_VALUE_ID)?;
        let name = o.opt_str("name", limits::NAME)?.unwrap_or(id);
        let active = o.opt_bool("active")?.unwrap_or(true);
        out.push(DimValue {
            id: id.into(),
            name: name.into(),
            active,
        });
    }
    store::check_dim_values(&out, target)?;
    Ok(out)
}

pub async fn list_dimensions(
    State(sh): S,
    Extension(base): Extension<Base>,
    Path(pid): Path<String>,
    Query(q): Q,
) -> ApiResult<Json<Value>> {
    let lq = parse_query(
        &q,
        &format!("/programs/{pid}/dimensions"),
        filter::DIMENSION_FIELDS,
        &["name"],
        "dimensions",
    )?;
    let st = advanced_store(&sh);
    let p = st.program(&pid)?;
    Ok(Json(lq.page(
        &base.0,
        p.dimensions.iter().map(|d| (d.seq, d)),
        |d| d.to_json(false),
    )))
}

pub async fn get_dimension(
    State(sh): S,
    Path((pid, did)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let mut st = advanced_store(&sh);
    let p = st.program_mut(&pid)?;
    Ok(Json(Store::dimension_mut(p, &did)?.to_json(true)))
}

pub async fn create_dimension(
    State(sh): S,
    Path(pid): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let v = parse_json(&body)?;
    let o = Obj::new(&v, "")?;
    o.no_nulls(&["active"])?;
    let name = o.opt_str("name", limits::NAME)?.map(str::to_string);
    let active = o.opt_bool("active")?.unwrap_or(true);
    let values = o.opt_array("values", limits::DIM_VALUES)?.ok_or_else(|| {
        ApiError::invalid(
            "values",
            "values is required: a dimension has from 1 to 1500 values",
        )
    })?;
    let values = parse_dim_values(values, "values")?;
    let mut st = advanced_store(&sh);
    Ok(created(
        st.create_dimension(&pid, name, active, values)?
            .to_json(true),
    ))
}

/// One property per request; a `test` of that property may come first (our decision, see
/// `docs/emulator.md`). The store's lock is held across both, so nothing comes between the
/// test and the change: a failed test is a 409 and changes nothing.
pub async fn patch_dimension(
    State(sh): S,
    Path((pid, did)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let doc = patch::parse_tested(&body, patch::DIMENSION_PATHS, "dimension")?;
    let mut st = advanced_store(&sh);
    if let Some(test) = &doc.test {
        apply_op(&mut st, &pid, &did, test)?;
    }
    Ok(Json(apply_op(&mut st, &pid, &did, &doc.op)?))
}

/// Applies one operation to a dimension; answers the dimension as it is then.
fn apply_op(st: &mut Store, pid: &str, did: &str, op: &patch::PatchOp) -> ApiResult<Value> {
    if op.is_test() {
        let p = st.program_mut(pid)?;
        let cur = Store::dimension_mut(p, did)?.to_json(true);
        patch::run_test(op, &cur[&op.path[1..]])?;
        return Ok(cur);
    }
    let d = match op.path {
        "/values" => {
            let Value::Array(arr) = &op.value else {
                return Err(ApiError::invalid(
                    "/values",
                    "/values takes the whole list of dimension values",
                ));
            };
            if arr.len() > limits::DIM_VALUES {
                return Err(ApiError::invalid(
                    "/values",
                    format!("A dimension has at most {} values", limits::DIM_VALUES),
                ));
            }
            let vals = parse_dim_values(arr, "/values")?;
            st.replace_dimension_values(pid, did, vals)?
        }
        "/active" => {
            let b = patch_bool(op)?;
            let p = st.program_mut(pid)?;
            let d = Store::dimension_mut(p, did)?;
            d.active = b;
            d.clone()
        }
        _ => {
            let n = patch_str(op, limits::NAME, true)?;
            let p = st.program_mut(pid)?;
            let d = Store::dimension_mut(p, did)?;
            d.name = n;
            d.clone()
        }
    };
    Ok(d.to_json(true))
}
