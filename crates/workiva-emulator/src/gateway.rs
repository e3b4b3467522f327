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

use super::config::{EmulatorConfig, Fault, Faults, MAX_BODY_BYTES, Settings};
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
    /// Set when the answer was an injected fault, or a refusal of the rate limits.
    pub fault: Option<LoggedFault>,
    /// The `X-Version` header the request carried.
    pub x_version: Option<String>,
    /// The `User-Agent` header the request carried.
    pub user_agent: Option<String>,
}

/// Why an answer was not the handler's own, as the request log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoggedFault {
    /// An injected fault, planned or drawn: by its name (`503`, `drop`, ...).
    Injected(Fault),
    /// The client's rate limit refused the request (`rate-limit`).
    RateLimit,
    /// The operation was polled sooner than its `Retry-After` (`poll-too-soon`).
    PollTooSoon,
}

impl Serialize for LoggedFault {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Injected(f) => f.serialize(s),
            Self::RateLimit => s.serialize_str("rate-limit"),
            Self::PollTooSoon => s.serialize_str("poll-too-soon"),
        }
    }
}

#[derive(Default)]
pub struct RequestLog {
    pub entries: VecDeque<LoggedRequest>,
    pub next_seq: u64,
    pub counters: BTreeMap<String, BTreeMap<u16, u64>>,
}

impl RequestLog {
    /// Adds an entry (numbered here), dropping the oldest beyond `capacity` (0 keeps none),
    /// and counts it.
    fn push(&mut self, entry: LoggedRequest, capacity: usize) {
        let seq = self.next_seq;
        self.next_seq += 1;
        *self
            .counters
            .entry(entry.endpoint.clone())
            .or_default()
            .entry(entry.status)
            .or_default() += 1;
        if capacity > 0 {
            if self.entries.len() >= capacity {
                self.entries.pop_front();
            }
            self.entries.push_back(LoggedRequest { seq, ..entry });
        }
    }
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
    ) -> (Option<Fault>, Option<u64>) {
        // Most runs plan no faults: this request's settings say so without a lock; when some
        // are planned, the write lock finds (and uses up) the one to take.
        if !f.plan.is_empty()
            && let Some((fault, retry)) = self.take_planned(endpoint)
        {
            return (Some(fault), retry);
        }
        if token_path && !f.include_token_endpoint {
            return (None, None);
        }
        (self.draw_fault(f), None)
    }

    /// Uses up one of the first planned fault for `endpoint`: the fault and its `Retry-After`.
    fn take_planned(&self, endpoint: &str) -> Option<(Fault, Option<u64>)> {
        let mut s = self.settings.write().unwrap_or_else(|e| e.into_inner());
        let plan = &mut s.faults.plan;
        let i = plan
            .iter()
            .position(|p| p.endpoint == endpoint && p.times > 0)?;
        let p = &mut plan[i];
        p.times -= 1;
        let planned = (p.fault, p.retry_after_secs);
        if p.times == 0 {
            plan.remove(i);
        }
        Some(planned)
    }

    /// A fault drawn by the probabilities: one of the answer faults (whose probabilities add
    /// up to at most 1, so one roll picks at most one), else perhaps a lost response.
    fn draw_fault(&self, f: &Faults) -> Option<Fault> {
        let dice = lock(&self.rng).f64();
        let mut edge = 0.0;
        for (p, fault) in [
            (f.error_500, Fault::Error500),
            (f.error_503, Fault::Error503),
            (f.error_504, Fault::Error504),
            (f.error_429, Fault::Error429),
            (f.drop_connection, Fault::Drop),
        ] {
            edge += p;
            if p > 0.0 && dice < edge {
                return Some(fault);
            }
        }
        self.roll(f.lost_response).then_some(Fault::LostResponse)
    }

    /// The unexpired token the request carries; an expired one is forgotten.
    fn valid_token(&self, headers: &HeaderMap) -> Option<TokenInfo> {
        let t = bearer(headers)?;
        let mut tokens = lock(&self.tokens);
        match tokens.get(t) {
            Some(i) if i.expires_at > Instant::now() => Some(i.clone()),
            Some(_) => {
                tokens.remove(t);
                None
            }
            None => None,
        }
    }

    /// The seconds to wait before this operation poll is welcome, if it came too soon.
    fn poll_wait(&self, key: &PollKey) -> Option<u64> {
        let at = lock(&self.poll_gate).get(key).copied()?;
        let now = Instant::now();
        (now < at).then(|| (at - now).as_secs_f64().ceil().max(1.0) as u64)
    }

    /// The client a token was issued to, as its configuration describes it.
    fn caller(&self, info: &TokenInfo) -> Caller {
        let config = self.config.clients.iter().find(|c| c.id == info.client_id);
        Caller {
            client_id: info.client_id.clone(),
            principal: config
                .map(|c| c.principal().to_string())
                .unwrap_or_else(|| info.client_id.clone()),
            workspace_admin: config.is_some_and(|c| c.workspace_admin),
        }
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

/// What the gateway notes of a request as it arrives, for the request log.
struct Arrival {
    started: Instant,
    method: Method,
    path: String,
    query: Option<String>,
    /// The route's template, `None` when no route matched.
    template: Option<String>,
    /// The endpoint as the log names it: method and template.
    endpoint: String,
    /// One of the two token endpoints, which take no bearer token.
    token_path: bool,
    x_version: Option<String>,
    user_agent: Option<String>,
}

impl Arrival {
    fn of(req: &Request) -> Self {
        let path = req.uri().path().to_string();
        let method = req.method().clone();
        let template = req
            .extensions()
            .get::<MatchedPath>()
            .map(|m| m.as_str().to_string());
        let header = |name: header::HeaderName| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        Self {
            started: Instant::now(),
            endpoint: format!("{method} {}", template.as_deref().unwrap_or("(unmatched)")),
            token_path: path == "/oauth2/token" || path == "/iam/v1/oauth2/token",
            query: req.uri().query().map(str::to_string),
            x_version: header(header::HeaderName::from_static("x-version")),
            user_agent: header(header::USER_AGENT),
            method,
            path,
            template,
        }
    }
}

/// What answering a request adds to its log entry.
#[derive(Default)]
struct Outcome {
    client_id: Option<String>,
    fault: Option<LoggedFault>,
    request_bytes: usize,
    /// A `lost_response` fault: the work is done, then the answer is replaced by a 504.
    lose_answer: bool,
}

/// The middleware in front of every API route.
pub async fn gateway(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/_emulator") {
        return next.run(req).await;
    }
    let arrival = Arrival::of(&req);
    let mut outcome = Outcome::default();
    let resp = answer(&shared, &arrival, req, next, &mut outcome).await;
    let resp = finish(resp, &arrival, &outcome);
    record(&shared, arrival, outcome, &resp);
    resp
}

/// Takes the request through every check in order, then to its handler.
async fn answer(
    shared: &Shared,
    arrival: &Arrival,
    mut req: Request,
    next: Next,
    out: &mut Outcome,
) -> Response {
    let settings = shared.settings();
    let fail_operation = match inject_fault(shared, &settings.faults, arrival, out).await {
        Ok(fail_operation) => fail_operation,
        Err(resp) => return resp,
    };
    if let Err(e) = check_version(req.headers(), &arrival.path) {
        return e.into_response();
    }
    let base = base_url(&shared.config, req.headers());
    req.extensions_mut().insert(Base(base));
    req.extensions_mut().insert(FailOperation(fail_operation));
    if arrival.token_path || arrival.template.is_none() {
        return run_without_token(req, next, out).await;
    }
    match admit(shared, &settings, arrival, req.headers(), out) {
        Ok((caller, poll_key)) => run_admitted(shared, req, next, caller, poll_key, out).await,
        Err(e) => e.into_response(),
    }
}

/// Picks this request's injected fault (and adds any injected latency). `Err` is the answer
/// the fault gives instead of the handler's; `Ok` says whether the batch operation the request
/// starts must fail.
async fn inject_fault(
    shared: &Shared,
    f: &Faults,
    arrival: &Arrival,
    out: &mut Outcome,
) -> Result<bool, Response> {
    let (picked, planned_retry) = shared.pick_fault(f, &arrival.endpoint, arrival.token_path);
    out.fault = picked.map(LoggedFault::Injected);
    if picked.is_none()
        && (!arrival.token_path || f.include_token_endpoint)
        && shared.roll(f.latency)
    {
        tokio::time::sleep(Duration::from_millis(f.latency_ms)).await;
    }
    let Some(fault) = picked else {
        return Ok(false);
    };
    let retry_429 = planned_retry.unwrap_or(f.retry_after_429_secs);
    match fault {
        Fault::Error500 => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "The server encountered an unexpected condition that prevented it from fulfilling the request").into_response()),
        Fault::Error503 => Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "The server cannot handle the request due to a temporary overload or scheduled maintenance").into_response()),
        Fault::Error504 => Err(gateway_timeout()),
        Fault::Error429 => Err(ApiError::too_many_requests(retry_429, "Too many requests have been made against the API in too short a time").into_response()),
        Fault::Error401 => Err(ApiError::unauthorized("No valid API token provided").into_response()),
        Fault::Drop => Err(dropped()),
        Fault::LostResponse => {
            out.lose_answer = true;
            Ok(false)
        }
        Fault::FailOperation => Ok(true),
    }
}

/// The 504 a gateway gives when the service behind it does not answer in time.
fn gateway_timeout() -> Response {
    ApiError::new(
        StatusCode::GATEWAY_TIMEOUT,
        "The gateway timed out waiting for the service",
    )
    .into_response()
}

/// Reads a body of at most the size limit; the 413 when it is larger.
async fn read_body(body: Body) -> Result<Bytes, Response> {
    axum::body::to_bytes(body, MAX_BODY_BYTES + 1)
        .await
        .map_err(|_| ApiError::payload_too_large(MAX_BODY_BYTES).into_response())
}

/// Runs a token request or an unmatched path: no bearer token is asked for.
async fn run_without_token(req: Request, next: Next, out: &mut Outcome) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    out.request_bytes = bytes.len();
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// A poll of one operation by one client, as the poll interval is kept.
type PollKey = (String, String);

/// The checks of a request to an API route: its token (401), the endpoint's scope (403), the
/// client's rate (429), the operation poll interval (429) and the program's permissions (403).
/// Gives the caller and, for an operation poll, its key; or the refusal.
fn admit(
    shared: &Shared,
    settings: &Settings,
    arrival: &Arrival,
    headers: &HeaderMap,
    out: &mut Outcome,
) -> Result<(Caller, Option<PollKey>), ApiError> {
    let Some(info) = shared.valid_token(headers) else {
        return Err(ApiError::unauthorized(
            "No valid API token provided: send Authorization: Bearer <token> with a token from POST /oauth2/token that has not expired",
        ));
    };
    out.client_id = Some(info.client_id.clone());
    let tpl = arrival.template.as_deref().unwrap_or("");
    check_scope(&arrival.method, tpl, &info)?;
    if let Err(wait) = shared.rate_check(&info.client_id, settings) {
        out.fault = Some(LoggedFault::RateLimit);
        return Err(ApiError::too_many_requests(
            wait,
            "Too many requests have been made against the API in too short a time",
        ));
    }
    let poll_key = (tpl == "/operations/{operationId}").then(|| {
        (
            info.client_id.clone(),
            arrival.path.rsplit('/').next().unwrap_or("").to_string(),
        )
    });
    if settings.rate_limit.enforce_poll_interval
        && let Some(wait) = poll_key.as_ref().and_then(|k| shared.poll_wait(k))
    {
        out.fault = Some(LoggedFault::PollTooSoon);
        return Err(ApiError::too_many_requests(
            wait,
            "The operation was polled sooner than its Retry-After allows; wait the number of seconds in Retry-After",
        ));
    }
    let caller = shared.caller(&info);
    check_access(shared, &caller, &arrival.method, tpl, &arrival.path)?;
    Ok((caller, poll_key))
}

/// Refuses a token without the scope the endpoint needs.
fn check_scope(method: &Method, template: &str, info: &TokenInfo) -> Result<(), ApiError> {
    match required_scope(method, template) {
        Some(scope) if !info.scopes.iter().any(|s| s == scope) => {
            Err(ApiError::forbidden(format!(
                "The API token does not have permission to perform the request: it needs the `{scope}` scope"
            )))
        }
        _ => Ok(()),
    }
}

/// Runs an admitted request: reads its body (only now, after the caller is known: an
/// unauthenticated client learns nothing, not even the size limit), then its handler, and
/// notes when the operation it polled may be polled again.
async fn run_admitted(
    shared: &Shared,
    req: Request,
    next: Next,
    caller: Caller,
    poll_key: Option<PollKey>,
    out: &mut Outcome,
) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    out.request_bytes = bytes.len();
    if bytes.len() > MAX_BODY_BYTES {
        return ApiError::payload_too_large(MAX_BODY_BYTES).into_response();
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
}

/// The answer as sent: a lost one replaced by the gateway's 504, a deprecated endpoint's
/// marked.
fn finish(resp: Response, arrival: &Arrival, out: &Outcome) -> Response {
    let mut resp = if out.lose_answer {
        gateway_timeout()
    } else {
        resp
    };
    if arrival.path.starts_with("/prototype/") {
        deprecated(&mut resp);
    }
    resp
}

/// Writes the request to the log and counts it per endpoint and status (0 for a dropped
/// connection, which has no status).
fn record(shared: &Shared, arrival: Arrival, out: Outcome, resp: &Response) {
    let status = resp.status().as_u16();
    let status_key = if out.fault == Some(LoggedFault::Injected(Fault::Drop)) {
        0
    } else {
        status
    };
    let entry = LoggedRequest {
        seq: 0,
        time: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        elapsed_ms: shared.started.elapsed().as_millis() as u64,
        method: arrival.method.to_string(),
        path: arrival.path,
        query: arrival.query,
        endpoint: arrival.endpoint,
        status: status_key,
        request_bytes: out.request_bytes,
        client_id: out.client_id,
        retry_after: retry_after_of(resp),
        duration_ms: arrival.started.elapsed().as_millis() as u64,
        fault: out.fault,
        x_version: arrival.x_version,
        user_agent: arrival.user_agent,
    };
    lock(&shared.log).push(entry, shared.config.request_log_capacity);
    tracing::debug!(method = %arrival.method, status, "Emulator answered a request.");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_names_faults_as_plans_do() {
        let name = |f: LoggedFault| serde_json::to_value(f).unwrap();
        assert_eq!(name(LoggedFault::Injected(Fault::Drop)), "drop");
        assert_eq!(name(LoggedFault::Injected(Fault::Error503)), "503");
        assert_eq!(name(LoggedFault::RateLimit), "rate-limit");
        assert_eq!(name(LoggedFault::PollTooSoon), "poll-too-soon");
    }
}
