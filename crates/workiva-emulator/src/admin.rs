//! The admin API under `/_emulator/`, served only with `--admin`: load seed data, set faults
//! and rates, create tasks, read the request log and counters, reset. Its requests are not
//! logged or counted, so tests can count exactly the API traffic they caused. Off loopback it
//! needs the admin token (`Authorization: Bearer TOKEN`), and like every route its body is at
//! most 10 MB.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::config::{MAX_BODY_BYTES, Settings};
use super::error::ApiError;
use super::gateway::{Shared, lock};
use super::seed::{self, Seed, SeedTask};

/// SHA-256 of an admin token, as kept and compared.
pub fn token_digest(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).into()
}

/// The admin API's own gate: its token (compared in constant time) and the body limit.
pub async fn guarded(State(sh): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    if let Some(want) = &sh.admin_token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| token_digest(t.trim()));
        let ok =
            given.is_some_and(|g| bool::from(subtle::ConstantTimeEq::ct_eq(&g[..], &want[..])));
        if !ok {
            return ApiError::unauthorized(
                "The emulator's admin API needs its admin token: Authorization: Bearer TOKEN",
            )
            .into_response();
        }
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => return ApiError::payload_too_large(MAX_BODY_BYTES).into_response(),
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn bad(msg: impl Into<String>) -> Response {
    ApiError::bad_request(msg).into_response()
}

pub async fn post_seed(State(sh): State<Arc<Shared>>, body: Bytes) -> Response {
    let seed: Seed = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return bad(format!("The seed is not valid: {e}")),
    };
    let mut st = lock(&sh.store);
    match seed::load(&mut st, &seed) {
        Ok(summary) => (StatusCode::CREATED, Json(summary)).into_response(),
        Err(e) => bad(e.to_string()),
    }
}

pub async fn get_faults(State(sh): State<Arc<Shared>>) -> Json<Settings> {
    Json(sh.settings())
}

pub async fn put_faults(State(sh): State<Arc<Shared>>, body: Bytes) -> Response {
    let s: Settings = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return bad(format!("The settings are not valid: {e}")),
    };
    if let Err(e) = s.validate() {
        return bad(e.to_string());
    }
    sh.set_settings(s.clone());
    Json(s).into_response()
}

pub async fn post_task(State(sh): State<Arc<Shared>>, body: Bytes) -> Response {
    let t: SeedTask = match serde_json::from_slice(&body) {
        Ok(t) => t,
        Err(e) => return bad(format!("The task is not valid: {e}")),
    };
    let mut st = lock(&sh.store);
    match seed::create_task(&mut st, &t) {
        Ok(task) => (StatusCode::CREATED, Json(task)).into_response(),
        Err(e) => bad(e.to_string()),
    }
}

/// `?since=SEQ` returns entries with a larger sequence number; `?limit=N` caps the count.
pub async fn get_requests(
    State(sh): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let since = match q.get("since").map(|s| s.parse::<u64>()) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => return bad("since must be a whole number"),
    };
    let limit = match q.get("limit").map(|s| s.parse::<usize>()) {
        None => usize::MAX,
        Some(Ok(n)) => n,
        Some(Err(_)) => return bad("limit must be a whole number"),
    };
    let log = lock(&sh.log);
    let data: Vec<&super::gateway::LoggedRequest> = log
        .entries
        .iter()
        .filter(|e| since.is_none_or(|s| e.seq > s))
        .take(limit)
        .collect();
    Json(json!({"data": data, "total": log.next_seq})).into_response()
}

pub async fn get_counters(State(sh): State<Arc<Shared>>) -> Json<Value> {
    let log = lock(&sh.log);
    let mut out = serde_json::Map::new();
    for (endpoint, by_status) in &log.counters {
        let m: serde_json::Map<String, Value> = by_status
            .iter()
            .map(|(s, n)| (s.to_string(), json!(n)))
            .collect();
        out.insert(endpoint.clone(), Value::Object(m));
    }
    Json(Value::Object(out))
}

pub async fn post_reset(State(sh): State<Arc<Shared>>) -> StatusCode {
    sh.reset();
    StatusCode::NO_CONTENT
}

/// `DELETE /_emulator/tokens`: every issued token stops working (the next use is a 401).
pub async fn delete_tokens(State(sh): State<Arc<Shared>>) -> StatusCode {
    sh.revoke_tokens();
    StatusCode::NO_CONTENT
}
