//! The API's handlers: read the request (a 400 names any malformed field), apply it to the
//! store under its lock, and write the answer. One section per resource, in the order of the
//! guide's summary table, one file per resource.

mod dimensions;
mod fields;
mod metrics;
mod operations;
mod permissions;
mod programs;
mod tasks;
mod topics;
mod values;

pub use dimensions::*;
pub use metrics::*;
pub use operations::*;
pub use permissions::*;
pub use programs::*;
pub use tasks::*;
pub use topics::*;
pub use values::*;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::gateway::{Shared, lock};
use super::patch::PatchOp;
use super::store::Store;

type S = State<Arc<Shared>>;
type Q = Query<HashMap<String, String>>;

/// The tenant, locked, after the operations that came due were applied: the emulator's clock
/// moves forward each time a handler takes it.
fn advanced_store(sh: &Shared) -> std::sync::MutexGuard<'_, Store> {
    let mut st = lock(&sh.store);
    st.advance(Instant::now());
    st
}

fn created(v: Value) -> Response {
    (StatusCode::CREATED, Json(v)).into_response()
}

fn patch_str(op: &PatchOp, max: usize, nullable: bool) -> ApiResult<Option<String>> {
    match &op.value {
        Value::Null if nullable => Ok(None),
        Value::String(s) if s.chars().count() > max => Err(ApiError::invalid(
            op.path,
            format!(
                "{} is {} characters; at most {max} are allowed",
                op.path,
                s.chars().count()
            ),
        )),
        Value::String(s) if s.trim().is_empty() && !nullable => Err(ApiError::invalid(
            op.path,
            format!("{} must not be empty", op.path),
        )),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(ApiError::invalid(
            op.path,
            format!(
                "{} takes a string{}",
                op.path,
                if nullable { " or null" } else { "" }
            ),
        )),
    }
}

fn patch_int(op: &PatchOp, min: i64) -> ApiResult<i64> {
    match op.value.as_i64() {
        Some(i) if i >= min => Ok(i),
        _ => Err(ApiError::invalid(
            op.path,
            format!("{} takes a whole number of at least {min}", op.path),
        )),
    }
}

fn patch_bool(op: &PatchOp) -> ApiResult<bool> {
    op.value
        .as_bool()
        .ok_or_else(|| ApiError::invalid(op.path, format!("{} takes true or false", op.path)))
}

pub async fn not_found_fallback() -> ApiError {
    ApiError::not_found("The requested resource could not be found")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "This endpoint does not support that method",
    )
}
