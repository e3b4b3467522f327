//! OAuth 2.0 client credentials at `POST /oauth2/token` and the deprecated
//! `/iam/v1/oauth2/token`: id and secret in the form body or an HTTP Basic header (not both),
//! optional `scope`, IAM-style errors, tokens that expire.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::config::ClientConfig;
use super::error::IamError;
use super::gateway::{Shared, TokenInfo, lock};

/// The client id and secret of an HTTP Basic `Authorization` header, if one is sent.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, IamError> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || {
        IamError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The Authorization header is not valid HTTP Basic credentials",
        )
    };
    let v = v.to_str().map_err(|_| bad())?;
    let Some((scheme, rest)) = v.split_once(' ') else {
        return Err(bad());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = STANDARD.decode(rest.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    // RFC 6749 2.3.1: both parts are form-urlencoded before they are joined.
    let dec = |s: &str| -> String {
        serde_urlencoded::from_str::<HashMap<String, String>>(&format!("v={s}"))
            .ok()
            .and_then(|mut m| m.remove("v"))
            .unwrap_or_else(|| s.to_string())
    };
    Ok(Some((dec(id), dec(secret))))
}

/// Issues a token for valid client credentials.
pub async fn token(State(sh): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    match issue(&sh, &headers, &body) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// Checks the grant, the client and the scopes asked for, then issues a token.
fn issue(sh: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Response, IamError> {
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(body).map_err(|_| {
        IamError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The body must be application/x-www-form-urlencoded, such as grant_type=client_credentials&client_id=...&client_secret=...",
        )
    })?;
    check_grant_type(&form)?;
    let client = authenticate(sh, credentials(headers, &form)?)?;
    let scopes = granted_scopes(client, &form)?;
    Ok(token_answer(sh, client, scopes))
}

/// Only the client credentials grant is served.
fn check_grant_type(form: &HashMap<String, String>) -> Result<(), IamError> {
    match form.get("grant_type").map(String::as_str) {
        None => Err(IamError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is required; use grant_type=client_credentials",
        )),
        Some("client_credentials") => Ok(()),
        Some(other) => Err(IamError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("grant_type `{other}` is not supported; use client_credentials"),
        )),
    }
}

/// The client id and secret, from the Basic header or from the body (not both).
fn credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<(String, String), IamError> {
    let basic = basic_credentials(headers)?;
    let in_body = form.contains_key("client_id") || form.contains_key("client_secret");
    match (basic, in_body) {
        (Some(_), true) => Err(IamError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Send the client credentials either in the Authorization header or in the body, not both",
        )),
        (Some(c), false) => Ok(c),
        (None, _) => Ok((
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned().unwrap_or_default(),
        )),
    }
}

/// The configured client with this id and secret.
fn authenticate(sh: &Shared, (id, secret): (String, String)) -> Result<&ClientConfig, IamError> {
    sh.config
        .clients
        .iter()
        .find(|c| c.id == id && c.secret == secret && !id.is_empty())
        .ok_or_else(|| {
            IamError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Client authentication failed: unknown client id or wrong secret",
            )
        })
}

/// The scopes the token gets: those asked for (each one the client's), else all the client's.
fn granted_scopes(
    client: &ClientConfig,
    form: &HashMap<String, String>,
) -> Result<Vec<String>, IamError> {
    let Some(asked) = form
        .get("scope")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    else {
        return Ok(client.scopes.clone());
    };
    asked
        .split_whitespace()
        .map(|s| {
            if client.scopes.iter().any(|c| c == s) {
                Ok(s.to_string())
            } else {
                Err(IamError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    format!(
                        "Scope `{s}` is unknown or not granted to this client; it may have: {}",
                        client.scopes.join(" ")
                    ),
                ))
            }
        })
        .collect()
}

/// Issues a new token (forgetting the expired ones) and answers with it, uncached.
fn token_answer(sh: &Shared, client: &ClientConfig, scopes: Vec<String>) -> Response {
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let ttl = sh.config.token_ttl_secs;
    {
        let mut tokens = lock(&sh.tokens);
        let now = Instant::now();
        tokens.retain(|_, t| t.expires_at > now);
        tokens.insert(
            token.clone(),
            TokenInfo {
                client_id: client.id.clone(),
                scopes: scopes.clone(),
                expires_at: now + Duration::from_secs(ttl),
            },
        );
    }
    let mut r = Json(json!({
        "access_token": token,
        "expires_in": ttl,
        "scope": scopes.join(" "),
        "token_type": "Bearer",
    }))
    .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
