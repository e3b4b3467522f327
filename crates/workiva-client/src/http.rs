//! Sending one request well: rate and concurrency limits, `X-Version`, `User-Agent`, the
//! bearer token (refreshed once on a 401), the 10 MB body limit, one log event per attempt,
//! deprecation warnings once per endpoint, and retries as the [`RetryPolicy`] decides. A create
//! that may have reached the server is looked for (the probe) before it is sent again.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderValue};
use secrecy::ExposeSecret;

use super::auth::TokenCache;
use super::config::WorkivaConfig;
use super::error::{ApiFailure, Result, WorkivaError, describe_reqwest, tls_problem};
use super::ratelimit::{Limiter, Signal};
use super::retry::{RetryAction, RetryPolicy, Tries, parse_retry_after};
use super::telemetry::{ApiRequest, ApiRetry, Event};

pub use super::models::MAX_BODY_BYTES;

/// One request, described once and sent as often as needed.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// Absolute URL (a `@nextLink` or `resourceUrl` is used exactly as given).
    pub url: String,
    /// The endpoint's path template, for logs and errors: `/programs/{programId}/metrics`.
    pub template: &'static str,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Vec<u8>>,
    /// `X-Version` to send.
    pub version: &'static str,
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl Response {
    pub fn retry_after(&self) -> Option<Duration> {
        self.headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after)
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Looks for the object a create may already have made; `Some(json)` ends the retries.
pub type Probe<'a> =
    Box<dyn Fn() -> BoxFuture<'a, Result<Option<bytes::Bytes>>> + Send + Sync + 'a>;

pub struct Transport {
    pub http: reqwest::Client,
    pub tokens: TokenCache,
    pub policy: RetryPolicy,
    pub(super) limiter: std::sync::Arc<Limiter>,
    user_agent: String,
    warned: Mutex<HashSet<String>>,
    /// The configured API origin: the only one any request (and so the token) goes to.
    origin: url::Origin,
    /// Most bytes read from one answer.
    max_response_bytes: usize,
}

/// How many same-origin redirects of one GET are followed.
const MAX_REDIRECTS: u32 = 5;

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("tokens", &self.tokens)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub fn new(cfg: &WorkivaConfig) -> Result<Self> {
        let secret = cfg.checked_secret()?;
        let user_agent = format!("esg-sync/{}", env!("CARGO_PKG_VERSION"));
        // Redirects are followed by hand (GET only, same origin only): reqwest's own policy
        // would re-send a POST body to wherever a 307 points.
        let http = reqwest::Client::builder()
            .timeout(cfg.request_timeout())
            .connect_timeout(Duration::from_secs(cfg.connect_timeout_secs))
            .user_agent(&user_agent)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| WorkivaError::Config(format!("cannot build the HTTP client: {e}")))?;
        let origin = reqwest::Url::parse(&cfg.base_url())
            .map_err(|e| WorkivaError::Config(format!("workiva.base_url: {e}")))?
            .origin();
        Ok(Self {
            origin,
            max_response_bytes: cfg.max_response_bytes,
            tokens: TokenCache::new(http.clone(), cfg, secret, user_agent.clone()),
            http,
            policy: RetryPolicy::from_config(cfg),
            limiter: Limiter::new(cfg.requests_per_second, cfg.max_concurrent_requests),
            user_agent,
            warned: Mutex::new(HashSet::new()),
        })
    }

    /// The configured origin, for messages.
    pub fn origin(&self) -> String {
        self.origin.ascii_serialization()
    }

    /// Refuses a URL that is not on the configured origin (scheme, host and port), or is not
    /// absolute: `what` names where the server put it (`@nextLink`, `operationLocation`).
    pub fn check_origin(&self, what: &str, url: &str) -> Result<()> {
        match reqwest::Url::parse(url) {
            Ok(u) if u.origin() == self.origin => Ok(()),
            _ => Err(WorkivaError::ForeignUrl {
                what: what.to_string(),
                url: url.chars().take(300).collect(),
                origin: self.origin(),
            }),
        }
    }

    /// Sends `req`, retrying as the policy says. With a `probe`, a failure that may have
    /// reached the server is followed by a look for the object before the next attempt.
    pub async fn send(&self, req: &Request, probe: Option<Probe<'_>>) -> Result<Response> {
        self.check_request(req)?;
        let mut tries = Tries::start();
        let mut attempt = 0u32;
        let mut refreshed = false;
        let mut lost = false;
        loop {
            attempt += 1;
            gated(req).await?;
            let token = self.tokens.token().await?;
            let err = match self.attempt(req, attempt, &token).await {
                Ok(r) => return Ok(r),
                Err(e) => e,
            };
            if err.status() == Some(401) && !refreshed {
                // The token may have been revoked or expired early: refresh once, try once more.
                refreshed = true;
                self.tokens.invalidate(&token).await;
                continue;
            }
            match tries.next(&self.policy, &err) {
                RetryAction::WaitTooLong { wait, left } => {
                    return Err(WorkivaError::WaitTooLong {
                        method: req.method.to_string(),
                        path: req.template.to_string(),
                        wait,
                        left,
                    });
                }
                RetryAction::Stop if attempt == 1 => return Err(err),
                RetryAction::Stop => {
                    return Err(WorkivaError::RetriesExhausted {
                        attempts: tries.counted,
                        server_waits: tries.server_waits,
                        elapsed: tries.elapsed(),
                        last: Box::new(err),
                        earlier_may_have_reached: lost,
                    });
                }
                RetryAction::Retry { delay, counts } => {
                    lost |= err.may_have_reached_server();
                    super::tally::add(&err);
                    ApiRetry {
                        method: req.method.as_str(),
                        endpoint: req.template,
                        attempt,
                        delay,
                        server_asked: !counts,
                        error: &err,
                    }
                    .emit();
                    tokio::time::sleep(delay).await;
                    if let Some(found) = probed(req, probe.as_ref(), &err).await? {
                        return Ok(found);
                    }
                }
            }
        }
    }

    /// The request's URL is the API's, and its body within the API's limit.
    fn check_request(&self, req: &Request) -> Result<()> {
        self.check_origin(
            &format!("the URL of {} {}", req.method, req.template),
            &req.url,
        )?;
        match &req.body {
            Some(b) if b.len() > MAX_BODY_BYTES => Err(WorkivaError::BodyTooLarge {
                method: req.method.to_string(),
                path: req.template.to_string(),
                size: b.len(),
                limit: MAX_BODY_BYTES,
            }),
            _ => Ok(()),
        }
    }

    /// One attempt, within the client's limits, its answer fed back into them.
    async fn attempt(
        &self,
        req: &Request,
        attempt: u32,
        token: &secrecy::SecretString,
    ) -> Result<Response> {
        let slot = self.limiter.acquire().await;
        let t = Instant::now();
        let r = self.exchange(req, attempt, token).await;
        let signal = match &r {
            Ok(_) => Signal::Answered(t.elapsed()),
            Err(e) => match e.status() {
                Some(429 | 503 | 504) => Signal::Overloaded,
                Some(500..) => Signal::Neutral,
                Some(_) => Signal::Answered(t.elapsed()),
                None if matches!(
                    e,
                    WorkivaError::Transport {
                        timed_out: true,
                        ..
                    }
                ) =>
                {
                    Signal::Overloaded
                }
                None => Signal::Neutral,
            },
        };
        slot.feedback(signal);
        if let Err(e) = &r
            && matches!(e.status(), Some(429 | 503))
            && let Some(wait) = e.retry_after()
        {
            // The server asked every request to wait, not just this one.
            self.limiter.pause(wait.min(Duration::from_secs(300)));
        }
        r
    }

    /// One request and its answer: redirects followed within the API's origin (GETs only),
    /// the body read within the limit, a non-2xx answer made the API's failure.
    async fn exchange(
        &self,
        req: &Request,
        attempt: u32,
        token: &secrecy::SecretString,
    ) -> Result<Response> {
        let t = Instant::now();
        let resp = self.answered(req, attempt, token, t).await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = self.read_body(req, resp).await;
        ApiRequest {
            method: req.method.as_str(),
            endpoint: req.template,
            status: body.is_ok().then_some(status),
            took: t.elapsed(),
        }
        .emit();
        let body = body.map_err(|e| match e {
            BodyError::Transport(e) => transport_error(req, e, true),
            BodyError::TooLarge(e) => e,
        })?;
        tracing::debug!(method = %req.method, path = req.template, status, attempt, latency_ms = t.elapsed().as_millis() as u64, "Workiva answered.");
        self.note_deprecation(req, &headers);
        let r = Response {
            status,
            headers,
            body,
        };
        if (200..300).contains(&status) {
            return Ok(r);
        }
        let retry_after = r.retry_after();
        Err(WorkivaError::Api(Box::new(ApiFailure::from_answer(
            status,
            &r.body,
            req.method.as_str(),
            req.template,
            retry_after,
        ))))
    }

    /// The first answer that is not a redirect. A GET follows redirects within the API's
    /// origin (at most `MAX_REDIRECTS`); any other redirect is refused.
    async fn answered(
        &self,
        req: &Request,
        attempt: u32,
        token: &secrecy::SecretString,
        t: Instant,
    ) -> Result<reqwest::Response> {
        let mut url = req.url.clone();
        let mut redirects = 0;
        loop {
            let resp = match self.builder(req, &url, redirects == 0, token).send().await {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(method = %req.method, path = req.template, attempt, latency_ms = t.elapsed().as_millis() as u64, error = %describe_reqwest(&e), "Workiva request failed.");
                    ApiRequest {
                        method: req.method.as_str(),
                        endpoint: req.template,
                        status: None,
                        took: t.elapsed(),
                    }
                    .emit();
                    let reached = !e.is_connect() && !e.is_builder();
                    return Err(transport_error(req, e, reached));
                }
            };
            if !resp.status().is_redirection() {
                return Ok(resp);
            }
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| resp.url().join(l).ok());
            let refused = |location: String| WorkivaError::Redirect {
                method: req.method.to_string(),
                path: req.template.to_string(),
                status: resp.status().as_u16(),
                location,
                origin: self.origin(),
            };
            match location {
                Some(next)
                    if req.method == Method::GET
                        && next.origin() == self.origin
                        && redirects < MAX_REDIRECTS =>
                {
                    redirects += 1;
                    url = next.to_string();
                }
                Some(next) => return Err(refused(next.to_string())),
                None => return Err(refused("(no usable Location)".into())),
            }
        }
    }

    /// The request to `url`: the API's headers, the bearer token, the query (on the first
    /// hop only: a redirect's location carries its own) and the JSON body.
    fn builder(
        &self,
        req: &Request,
        url: &str,
        first: bool,
        token: &secrecy::SecretString,
    ) -> reqwest::RequestBuilder {
        let mut rb = self
            .http
            .request(req.method.clone(), url)
            .header("X-Version", req.version)
            .header(reqwest::header::USER_AGENT, &self.user_agent)
            .header(reqwest::header::ACCEPT, "application/json")
            .bearer_auth(token.expose_secret());
        if !req.query.is_empty() && first {
            rb = rb.query(&req.query);
        }
        if let Some(b) = &req.body {
            rb = rb
                .header(
                    reqwest::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )
                .body(b.clone());
        }
        rb
    }

    /// Reads an answer's body, at most `max_response_bytes` of it: a larger one (by its
    /// `Content-Length`, or as it streams in) is refused without reading the rest.
    async fn read_body(
        &self,
        req: &Request,
        mut resp: reqwest::Response,
    ) -> std::result::Result<bytes::Bytes, BodyError> {
        let limit = self.max_response_bytes;
        let too_large = || {
            BodyError::TooLarge(WorkivaError::ResponseTooLarge {
                method: req.method.to_string(),
                path: req.template.to_string(),
                limit,
            })
        };
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        // Sized once from Content-Length (a page of values is a few hundred KiB, read in small
        // chunks: growing by doubling copied it several times); at most 8 MiB is taken on a
        // server's word, the rest grows as it arrives.
        let expected = resp.content_length().unwrap_or(0).min(8 << 20) as usize;
        let mut body = bytes::BytesMut::with_capacity(expected);
        while let Some(chunk) = resp.chunk().await.map_err(BodyError::Transport)? {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }

    fn note_deprecation(&self, req: &Request, headers: &HeaderMap) {
        let dep = headers.get("deprecation").and_then(|v| v.to_str().ok());
        let sunset = headers.get("sunset").and_then(|v| v.to_str().ok());
        if dep.is_none() && sunset.is_none() {
            return;
        }
        let key = format!("{} {}", req.method, req.template);
        if !self
            .warned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone())
        {
            return;
        }
        let since = dep
            .map(deprecation_date)
            .unwrap_or_else(|| "an unannounced date".into());
        let until = sunset
            .and_then(|s| httpdate::parse_http_date(s).ok())
            .map(|t| {
                chrono::DateTime::<chrono::Utc>::from(t)
                    .format("%Y-%m-%d")
                    .to_string()
            })
            .unwrap_or_else(|| "an unannounced date".into());
        tracing::warn!(endpoint = %key, deprecated_since = %since, sunset = %until, "Workiva marks {key} as deprecated since {since}; it stops working on {until}.");
    }
}

/// Why a body could not be read.
enum BodyError {
    Transport(reqwest::Error),
    TooLarge(WorkivaError),
}

/// `Deprecation` is an RFC 9745 date (`@1770854400`) or, from older servers, `true` or an
/// HTTP date.
fn deprecation_date(v: &str) -> String {
    if let Some(secs) = v.strip_prefix('@').and_then(|s| s.parse::<i64>().ok()) {
        return chrono::DateTime::from_timestamp(secs, 0)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| v.to_string());
    }
    if let Ok(t) = httpdate::parse_http_date(v) {
        return chrono::DateTime::<chrono::Utc>::from(t)
            .format("%Y-%m-%d")
            .to_string();
    }
    v.to_string()
}

/// A write the run's gate refuses (its lease lost, its stop asked for) is not sent; reads
/// always go.
async fn gated(req: &Request) -> Result<()> {
    if req.method == reqwest::Method::GET {
        return Ok(());
    }
    match super::gate::refusal().await {
        Some(reason) => Err(WorkivaError::Gated {
            method: req.method.to_string(),
            path: req.template.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// A failure with no answer: a TLS problem named as such, else the transport's.
fn transport_error(req: &Request, e: reqwest::Error, reached: bool) -> WorkivaError {
    let host = super::error::host_of(&req.url);
    if let Some(reason) = tls_problem(&e) {
        return WorkivaError::Tls { host, reason };
    }
    WorkivaError::Transport {
        method: req.method.to_string(),
        path: req.template.to_string(),
        reason: format!("{} ({host})", describe_reqwest(&e)),
        reached_server: reached,
        timed_out: e.is_timeout(),
    }
}

/// After a failure that may have reached the server, the object the create made, when the
/// probe finds one: the create is not sent again.
async fn probed(
    req: &Request,
    probe: Option<&Probe<'_>>,
    err: &WorkivaError,
) -> Result<Option<Response>> {
    let Some(p) = probe.filter(|_| err.may_have_reached_server()) else {
        return Ok(None);
    };
    let Some(found) = p().await? else {
        return Ok(None);
    };
    tracing::info!(method = %req.method, path = req.template, "The create reached Workiva before it failed; using the object it made.");
    Ok(Some(Response {
        status: 200,
        headers: HeaderMap::new(),
        body: found,
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn deprecation_dates() {
        assert_eq!(super::deprecation_date("@1770854400"), "2026-02-12");
        assert_eq!(
            super::deprecation_date("Thu, 12 Feb 2026 00:00:00 GMT"),
            "2026-02-12"
        );
        assert_eq!(super::deprecation_date("true"), "true");
    }
}
