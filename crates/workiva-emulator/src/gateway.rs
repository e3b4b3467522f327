//! What every request goes through before its handler, in this order: injected faults,
//! the 10 MB body limit (413), `X-Version` (400), the bearer token (401), the endpoint's scope
//! (403), the per-client rate limit (429) and the operation poll interval (429). Every API
//! request is then written to the request log and counted per endpoint and status.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Serialize;

use super::config::{EmulatorConfig, Faults, MAX_BODY_BYTES, Settings};
use super::error::ApiError;
use super::store::Access;
use super::store::Store;

/// The client a request was authenticated as.
#[derive(Debug, Clone)]
pub struct Caller {
    pub client_id: String,
    pub principal: String,
    pub workspace_admin: bool,
}

/// Set when a planned fault says the batch operation this request starts must fail.
#[derive(Debug, Clone, Copy)]
pub struct FailOperation(pub bool);

/// The base URL links are built from (no trailing slash).
#[derive(Debug, Clone)]
pub struct Base(pub String);

#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub client_id: String,
    pub scopes: Vec<String>,
    pub expires_at: Instant,
}

/// One entry of the request log.
#[derive(Debug, Clone, Serialize)]
pub struct LoggedRequest {
    pub seq: u64,
    /// When the request arrived (RFC 3339, milliseconds).
    pub time: String,
    /// Milliseconds since the emulator started, for precise interval checks.
    pub elapsed_ms: u64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// The endpoint template, e.g. `GET /programs/{programId}`.
    pub endpoint: String,
    pub status: u16,
    pub request_bytes: usize,
    pub client_id: Option<String>,
    /// The `Retry-After` the answer carried, in seconds.
    pub retry_after: Option<u64>,
    pub duration_ms: u64,
    /// Set when the answer was an injected fault.
    pub fault: Option<&'static str>,
    /// The `X-Version` header the request carried.
    pub x_version: Option<String>,
    /// The `User-Agent` header the request carried.
    pub user_agent: Option<String>,
}

#[derive(Default)]
pub struct RequestLog {
    pub entries: VecDeque<LoggedRequest>,
    pub next_seq: u64,
    pub counters: BTreeMap<String, BTreeMap<u16, u64>>,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Everything the emulator's handlers share.
pub struct Shared {
    pub config: EmulatorConfig,
    pub admin: bool,
    /// SHA-256 of the token the admin API requires, if any.
    pub admin_token: Option<[u8; 32]>,
    pub started: Instant,
    pub settings: RwLock<Settings>,
    pub store: Mutex<Store>,
    pub tokens: Mutex<HashMap<String, TokenInfo>>,
    pub log: Mutex<RequestLog>,
    pub rng: Mutex<fastrand::Rng>,
    buckets: Mutex<HashMap<String, Bucket>>,
    /// (client, operation id) -> earliest time the next poll is welcome.
    poll_gate: Mutex<HashMap<(String, String), Instant>>,
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it: the emulator's state
/// is always left consistent between statements, so a poison carries no broken invariant.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn new(config: EmulatorConfig, admin: bool) -> Self {
        let settings = config.settings.clone();
        let tenant = empty_tenant(&config);
        let rng = match settings.faults.seed {
            Some(s) => fastrand::Rng::with_seed(s),
            None => fastrand::Rng::new(),
        };
        Self {
            config,
            admin,
            admin_token: None,
            started: Instant::now(),
            settings: RwLock::new(settings),
            store: Mutex::new(tenant),
            tokens: Mutex::new(HashMap::new()),
            log: Mutex::new(RequestLog::default()),
            rng: Mutex::new(rng),
            buckets: Mutex::new(HashMap::new()),
            poll_gate: Mutex::new(HashMap::new()),
        }
    }

    pub fn settings(&self) -> Settings {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_settings(&self, s: Settings) {
        if let Some(seed) = s.faults.seed {
            *lock(&self.rng) = fastrand::Rng::with_seed(seed);
        }
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = s;
        lock(&self.buckets).clear();
    }

    /// Clears the tenant, the log, counters and rate state; clients and tokens stay.
    pub fn reset(&self) {
        *lock(&self.store) = empty_tenant(&self.config);
        *lock(&self.log) = RequestLog::default();
        lock(&self.buckets).clear();
        lock(&self.poll_gate).clear();
    }

    /// Forgets every issued token, so the next request with one is a 401.
    pub fn revoke_tokens(&self) {
        lock(&self.tokens).clear();
    }

    /// The fault for this request: the first planned one that matches the endpoint (used up
    /// as it is taken), else one drawn by the probabilities. Also the planned `Retry-After`.
    fn pick_fault(
        &self,
        f: &Faults,
        endpoint: &str,
        token_path: bool,
    ) -> (Option<&'static str>, Option<u64>) {
        // Most runs plan no faults: this request's settings say so without a lock; when some
        // are planned, the write lock finds (and uses up) the one to take.
        if !f.plan.is_empty() {
            let mut s = self.settings.write().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = s
                .faults
                .plan
                .iter()
                .position(|p| p.endpoint == endpoint && p.times > 0)
            {
                let p = &mut s.faults.plan[i];
                p.times -= 1;
                let name = super::config::PLANNED_FAULTS
                    .iter()
                    .find(|f| **f == p.fault)
                    .copied();
                let retry = p.retry_after_secs;
                if p.times == 0 {
                    s.faults.plan.remove(i);
                }
                return (name, retry);
            }
        }
        if token_path && !f.include_token_endpoint {
            return (None, None);
        }
        let dice = lock(&self.rng).f64();
        let mut edge = 0.0;
        for (p, name) in [
            (f.error_500, "500"),
            (f.error_503, "503"),
            (f.error_504, "504"),
            (f.error_429, "429"),
            (f.drop_connection, "drop"),
        ] {
            edge += p;
            if p > 0.0 && dice < edge {
                return (Some(name), None);
            }
        }
        if self.roll(f.lost_response) {
            return (Some("lost_response"), None);
        }
        (None, None)
    }

    /// Rolls the dice for a probability.
    pub fn roll(&self, p: f64) -> bool {
        p > 0.0 && lock(&self.rng).f64() < p
    }

    fn rate_check(&self, client: &str, settings: &Settings) -> Result<(), u64> {
        let Some(rate) = settings.rate_limit.requests_per_second else {
            return Ok(());
        };
        let burst = settings
            .rate_limit
            .burst
            .map(f64::from)
            .unwrap_or(rate.max(1.0));
        let now = Instant::now();
        let mut buckets = lock(&self.buckets);
        let b = buckets.entry(client.to_string()).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * rate).min(burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}

/// Which `X-Version` an endpoint takes.
enum VersionRule {
    /// 2026-01-01 only.
    Current,
    /// The deprecated prototype path: 2022-01-01 (or no header, which means 2022-01-01).
    Legacy,
    /// Token and operation endpoints serve both versions.
    Any,
    /// The deprecated IAM token path: reported to answer 404 to `X-Version: 2026-01-01`.
    LegacyToken,
}

fn version_rule(path: &str) -> VersionRule {
    if path == "/iam/v1/oauth2/token" {
        VersionRule::LegacyToken
    } else if path.starts_with("/prototype/") {
        VersionRule::Legacy
    } else if path == "/oauth2/token" || path.starts_with("/operations/") {
        VersionRule::Any
    } else {
        VersionRule::Current
    }
}

fn check_version(headers: &HeaderMap, path: &str) -> Result<(), ApiError> {
    let v = headers
        .get("x-version")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    if let Some(v) = v
        && v != "2022-01-01"
        && v != "2026-01-01"
    {
        return Err(ApiError::invalid(
            "X-Version",
            format!("X-Version `{v}` is not a supported API version; use 2026-01-01"),
        ));
    }
    let effective = v.unwrap_or("2022-01-01");
    match version_rule(path) {
        VersionRule::Current if effective != "2026-01-01" => Err(ApiError::invalid(
            "X-Version",
            if v.is_none() {
                "This endpoint needs the header X-Version: 2026-01-01 (a request without X-Version is treated as 2022-01-01)".to_string()
            } else {
                format!(
                    "This endpoint exists in API version 2026-01-01, not {effective}; send X-Version: 2026-01-01"
                )
            },
        )),
        VersionRule::Legacy if effective != "2022-01-01" => Err(ApiError::invalid(
            "X-Version",
            "The /prototype/platform endpoints are API version 2022-01-01; send X-Version: 2022-01-01 or use the 2026-01-01 path without /prototype/platform",
        )),
        VersionRule::LegacyToken if effective == "2026-01-01" => Err(ApiError::not_found(
            "The requested resource could not be found",
        )),
        _ => Ok(()),
    }
}

/// The scope an endpoint needs; `None` means any valid token.
fn required_scope(method: &Method, template: &str) -> Option<&'static str> {
    if template.starts_with("/operations/") {
        return if template.ends_with("{operationId}") {
            None
        } else {
            Some("file:read")
        };
    }
    let read = method == Method::GET;
    if template.starts_with("/tasks") {
        return Some(if read { "task:read" } else { "task:write" });
    }
    Some(if read { "file:read" } else { "file:write" })
}

fn base_url(config: &EmulatorConfig, headers: &HeaderMap) -> String {
    if let Some(u) = &config.public_url {
        return u.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

fn retry_after_of(resp: &Response) -> Option<u64> {
    resp.headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse().ok())
}

/// A response whose body fails at once, so the client sees the connection dropped.
fn dropped() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "injected connection drop",
        ))
    });
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut().insert(
        header::CONTENT_LENGTH,
        header::HeaderValue::from_static("1048576"),
    );
    r
}

/// Workiva's documented dates for the prototype batch upsertion.
pub const DEPRECATION: &str = "@1770854400"; // 2026-02-12T00:00:00Z, RFC 9745
pub const SUNSET: &str = "Sun, 31 Jan 2027 00:00:00 GMT"; // RFC 8594

/// Marks an answer of a deprecated endpoint (RFC 9745 `Deprecation`, RFC 8594 `Sunset`).
fn deprecated(r: &mut Response) {
    let h = r.headers_mut();
    h.insert("deprecation", header::HeaderValue::from_static(DEPRECATION));
    h.insert("sunset", header::HeaderValue::from_static(SUNSET));
    h.insert(
        header::LINK,
        header::HeaderValue::from_static(
            "<https://developers.workiva.com>; rel=\"deprecation\"; type=\"text/html\"",
        ),
    );
}

/// Refuses a request on a program whose permissions do not let the caller do it (a workspace
/// administrator may do anything). A program that does not exist is left to the route (404).
fn check_access(
    shared: &Shared,
    caller: &Caller,
    method: &axum::http::Method,
    template: &str,
    path: &str,
) -> Result<(), ApiError> {
    if caller.workspace_admin || !template.starts_with("/programs/{programId}") {
        return Ok(());
    }
    let Some(pid) = path
        .strip_prefix("/programs/")
        .and_then(|r| r.split('/').next())
    else {
        return Ok(());
    };
    let need = Access::needed(method, template);
    let st = lock(&shared.store);
    let Ok(program) = st.program(pid) else {
        return Ok(());
    };
    match st.access(program, &caller.principal) {
        Some(has) if has >= need => Ok(()),
        has => Err(ApiError::forbidden(format!(
            "`{}` needs the {} permission on program `{}` for this request ({}); it holds {}. An owner of the program can grant it",
            caller.principal,
            need.role(),
            program.name,
            if need == Access::Admin {
                "owner-level access"
            } else if need == Access::Write {
                "writing"
            } else {
                "reading"
            },
            has.map(|a| a.role()).unwrap_or("none")
        ))),
    }
}

/// A tenant with nothing in it but its users: each configured client acts as a user of the
/// workspace, to whom program permissions can go.
fn empty_tenant(config: &EmulatorConfig) -> Store {
    let mut st = Store::default();
    for c in &config.clients {
        st.principals.insert(c.principal().to_string(), "user");
    }
    st
}

/// The middleware in front of every API route.
pub async fn gateway(State(shared): State<Arc<Shared>>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = req.uri().path().to_string();
    if path.starts_with("/_emulator") {
        return next.run(req).await;
    }
    let method = req.method().clone();
    let query = req.uri().query().map(str::to_string);
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let endpoint = format!("{method} {}", template.as_deref().unwrap_or("(unmatched)"));
    let token_path = path == "/oauth2/token" || path == "/iam/v1/oauth2/token";
    let mut client_id: Option<String> = None;
    let mut fault: Option<&'static str>;
    let mut request_bytes = 0usize;

    let x_version = req
        .headers()
        .get("x-version")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut lose_answer = false;
    let mut fail_operation = false;

    let resp = 'answer: {
        let settings = shared.settings();
        let f = &settings.faults;
        let (picked, planned_retry) = shared.pick_fault(f, &endpoint, token_path);
        fault = picked;
        if fault.is_none() && (!token_path || f.include_token_endpoint) && shared.roll(f.latency) {
            tokio::time::sleep(Duration::from_millis(f.latency_ms)).await;
        }
        match fault {
            Some("500") => break 'answer ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "The server encountered an unexpected condition that prevented it from fulfilling the request").into_response(),
            Some("503") => break 'answer ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "The server cannot handle the request due to a temporary overload or scheduled maintenance").into_response(),
            Some("504") => break 'answer ApiError::new(StatusCode::GATEWAY_TIMEOUT, "The gateway timed out waiting for the service").into_response(),
            Some("429") => break 'answer ApiError::too_many_requests(planned_retry.unwrap_or(f.retry_after_429_secs), "Too many requests have been made against the API in too short a time").into_response(),
            Some("401") => break 'answer ApiError::unauthorized("No valid API token provided").into_response(),
            Some("drop") => break 'answer dropped(),
            Some("lost_response") => lose_answer = true,
            Some("fail_operation") => fail_operation = true,
            _ => {}
        }

        if let Err(e) = check_version(req.headers(), &path) {
            break 'answer e.into_response();
        }
        let base = base_url(&shared.config, req.headers());
        req.extensions_mut().insert(Base(base));
        req.extensions_mut().insert(FailOperation(fail_operation));
        if token_path || template.is_none() {
            let (parts, body) = req.into_parts();
            let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES + 1).await {
                Ok(b) => b,
                Err(_) => {
                    break 'answer ApiError::payload_too_large(MAX_BODY_BYTES).into_response();
                }
            };
            request_bytes = bytes.len();
            break 'answer next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
        }

        let info = bearer(req.headers()).and_then(|t| {
            let mut tokens = lock(&shared.tokens);
            match tokens.get(t) {
                Some(i) if i.expires_at > Instant::now() => Some(i.clone()),
                Some(_) => {
                    tokens.remove(t);
                    None
                }
                None => None,
            }
        });
        let Some(info) = info else {
            break 'answer ApiError::unauthorized(
                "No valid API token provided: send Authorization: Bearer <token> with a token from POST /oauth2/token that has not expired",
            )
            .into_response();
        };
        client_id = Some(info.client_id.clone());
        let tpl = template.as_deref().unwrap_or("");
        if let Some(scope) = required_scope(&method, tpl)
            && !info.scopes.iter().any(|s| s == scope)
        {
            break 'answer ApiError::forbidden(format!(
                "The API token does not have permission to perform the request: it needs the `{scope}` scope"
            ))
            .into_response();
        }
        if let Err(wait) = shared.rate_check(&info.client_id, &settings) {
            fault = Some("rate-limit");
            break 'answer ApiError::too_many_requests(
                wait,
                "Too many requests have been made against the API in too short a time",
            )
            .into_response();
        }
        let poll_key = (tpl == "/operations/{operationId}").then(|| {
            (
                info.client_id.clone(),
                path.rsplit('/').next().unwrap_or("").to_string(),
            )
        });
        if settings.rate_limit.enforce_poll_interval
            && let Some(k) = &poll_key
            && let Some(at) = lock(&shared.poll_gate).get(k).copied()
        {
            let now = Instant::now();
            if now < at {
                let wait = (at - now).as_secs_f64().ceil().max(1.0) as u64;
                fault = Some("poll-too-soon");
                break 'answer ApiError::too_many_requests(
                    wait,
                    "The operation was polled sooner than its Retry-After allows; wait the number of seconds in Retry-After",
                )
                .into_response();
            }
        }
        let config = shared
            .config
            .clients
            .iter()
            .find(|c| c.id == info.client_id);
        let caller = Caller {
            client_id: info.client_id.clone(),
            principal: config
                .map(|c| c.principal().to_string())
                .unwrap_or_else(|| info.client_id.clone()),
            workspace_admin: config.is_some_and(|c| c.workspace_admin),
        };
        if let Err(e) = check_access(&shared, &caller, &method, tpl, &path) {
            break 'answer e.into_response();
        }
        // The body is read only now, after the caller is known: an unauthenticated client
        // learns nothing, not even the size limit.
        let (parts, body) = req.into_parts();
        let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES + 1).await {
            Ok(b) => b,
            Err(_) => break 'answer ApiError::payload_too_large(MAX_BODY_BYTES).into_response(),
        };
        request_bytes = bytes.len();
        if bytes.len() > MAX_BODY_BYTES {
            break 'answer ApiError::payload_too_large(MAX_BODY_BYTES).into_response();
        }
        let mut req = Request::from_parts(parts, Body::from(bytes));
        req.extensions_mut().insert(caller);
        let resp = next.run(req).await;
        if let (Some(k), Some(secs)) = (poll_key, retry_after_of(&resp))
            && resp.status() == StatusCode::OK
        {
            lock(&shared.poll_gate).insert(k, Instant::now() + Duration::from_secs(secs));
        }
        resp
    };

    let mut resp = if lose_answer {
        // The work is done; the gateway in front gives up on the answer.
        ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "The gateway timed out waiting for the service",
        )
        .into_response()
    } else {
        resp
    };
    if path.starts_with("/prototype/") {
        deprecated(&mut resp);
    }
    let status = resp.status().as_u16();
    let entry = LoggedRequest {
        seq: 0,
        time: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        elapsed_ms: shared.started.elapsed().as_millis() as u64,
        method: method.to_string(),
        path,
        query,
        endpoint: endpoint.clone(),
        status,
        request_bytes,
        client_id,
        retry_after: retry_after_of(&resp),
        duration_ms: started.elapsed().as_millis() as u64,
        fault,
        x_version,
        user_agent,
    };
    let status_key = if fault == Some("drop") { 0 } else { status };
    {
        let mut log = lock(&shared.log);
        let seq = log.next_seq;
        log.next_seq += 1;
        let cap = shared.config.request_log_capacity;
        if cap > 0 {
            if log.entries.len() >= cap {
                log.entries.pop_front();
            }
            log.entries.push_back(LoggedRequest {
                seq,
                status: status_key,
                ..entry
            });
        }
        *log.counters
            .entry(endpoint)
            .or_default()
            .entry(status_key)
            .or_default() += 1;
    }
    tracing::debug!(method = %method, status, "Emulator answered a request.");
    resp
}
