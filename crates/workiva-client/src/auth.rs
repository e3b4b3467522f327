//! Access tokens: fetched with client credentials, cached, refreshed at 80% of their life,
//! one refresh at a time however many requests wait. The token and the secret live in
//! `SecretString`s and are never logged.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::config::{API_VERSION, ClientAuth, TOKEN_PATH, WorkivaConfig};
use super::error::{ApiFailure, ErrorBody, Result, WorkivaError};
use super::retry::{RetryAction, RetryPolicy, Tries};
use super::telemetry::{ApiRequest, Event, TokenRetry};

#[derive(Deserialize)]
struct BearerToken {
    access_token: String,
    expires_in: Option<u64>,
}

struct Cached {
    token: SecretString,
    refresh_at: Instant,
}

pub struct TokenCache {
    http: reqwest::Client,
    url: String,
    client_id: String,
    secret: SecretString,
    auth: ClientAuth,
    scope: Option<String>,
    user_agent: String,
    policy: RetryPolicy,
    state: Mutex<Option<Cached>>,
    fetches: AtomicU64,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .field("fetches", &self.fetches.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    pub fn new(
        http: reqwest::Client,
        cfg: &WorkivaConfig,
        secret: SecretString,
        user_agent: String,
    ) -> Self {
        Self {
            http,
            url: cfg.token_url(),
            client_id: cfg.client_id.clone(),
            secret,
            auth: cfg.client_auth,
            scope: cfg.scope.clone(),
            user_agent,
            policy: RetryPolicy::from_config(cfg),
            state: Mutex::new(None),
            fetches: AtomicU64::new(0),
        }
    }

    /// How many tokens were fetched so far.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// A valid token: the cached one until 80% of its life has passed, else a new one.
    /// Concurrent callers wait for a single refresh.
    pub async fn token(&self) -> Result<SecretString> {
        let mut state = self.state.lock().await;
        if let Some(c) = state.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *state = Some(fresh);
        Ok(token)
    }

    /// Drops the cached token if it is still `used` (a 401 answered it), so the next call
    /// fetches a new one; a token another request already replaced is kept.
    pub async fn invalidate(&self, used: &SecretString) {
        let mut state = self.state.lock().await;
        if state
            .as_ref()
            .is_some_and(|c| c.token.expose_secret() == used.expose_secret())
        {
            *state = None;
        }
    }

    async fn fetch(&self) -> Result<Cached> {
        let mut tries = Tries::start();
        loop {
            let err = match self.fetch_once().await {
                Ok(c) => return Ok(c),
                Err(e) => e,
            };
            match tries.next(&self.policy, &err) {
                RetryAction::Stop | RetryAction::WaitTooLong { .. } => return Err(err),
                RetryAction::Retry { delay, .. } => {
                    TokenRetry { delay, error: &err }.emit();
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    async fn fetch_once(&self) -> Result<Cached> {
        let t = Instant::now();
        let sent = self.request().send().await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                self.attempted(None, t);
                return Err(self.unanswered(&e));
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(super::retry::parse_retry_after);
        let bytes = resp.bytes().await;
        self.attempted(bytes.is_ok().then_some(status), t);
        let bytes = bytes.map_err(|e| WorkivaError::Transport {
            method: "POST".into(),
            path: TOKEN_PATH.into(),
            reason: format!(
                "{} ({})",
                super::error::describe_reqwest(&e),
                super::error::host_of(&self.url)
            ),
            reached_server: true,
            timed_out: e.is_timeout(),
        })?;
        tracing::debug!(
            method = "POST",
            path = TOKEN_PATH,
            status,
            latency_ms = t.elapsed().as_millis() as u64,
            "Requested an access token."
        );
        self.fetches.fetch_add(1, Ordering::Relaxed);
        if !(200..300).contains(&status) {
            return Err(self.refused(status, &bytes, retry_after));
        }
        token_of(status, &bytes)
    }

    /// The token request: the client credentials grant, the secret in the body or as Basic
    /// authentication as `[workiva] client_auth` says.
    fn request(&self) -> reqwest::RequestBuilder {
        let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
        if let Some(s) = &self.scope {
            form.push(("scope", s));
        }
        let mut rb = self
            .http
            .post(&self.url)
            .header("X-Version", API_VERSION)
            .header(reqwest::header::USER_AGENT, &self.user_agent);
        match self.auth {
            ClientAuth::Body => {
                form.push(("client_id", &self.client_id));
                form.push(("client_secret", self.secret.expose_secret()));
            }
            ClientAuth::Basic => {
                rb = rb.basic_auth(&self.client_id, Some(self.secret.expose_secret()));
            }
        }
        rb.form(&form)
    }

    fn attempted(&self, status: Option<u16>, t: Instant) {
        ApiRequest {
            method: "POST",
            endpoint: TOKEN_PATH,
            status,
            took: t.elapsed(),
        }
        .emit();
    }

    /// No answer came: a TLS problem named as such, else the transport's failure.
    fn unanswered(&self, e: &reqwest::Error) -> WorkivaError {
        if let Some(reason) = super::error::tls_problem(e) {
            return WorkivaError::Tls {
                host: super::error::host_of(&self.url),
                reason,
            };
        }
        WorkivaError::Transport {
            method: "POST".into(),
            path: TOKEN_PATH.into(),
            reason: format!(
                "{} ({})",
                super::error::describe_reqwest(e),
                super::error::host_of(&self.url)
            ),
            reached_server: !e.is_connect(),
            timed_out: e.is_timeout(),
        }
    }

    /// A refusal: retriable when the endpoint is throttled or unavailable, else the
    /// credentials' problem as the server named it.
    fn refused(&self, status: u16, bytes: &[u8], retry_after: Option<Duration>) -> WorkivaError {
        let body: ErrorBody = serde_json::from_slice(bytes).unwrap_or_default();
        if matches!(status, 429 | 500 | 502 | 503 | 504) {
            return WorkivaError::Api(Box::new(ApiFailure {
                status,
                code: body.error.or(body.code).unwrap_or_default(),
                message: body
                    .error_description
                    .or(body.message)
                    .unwrap_or_else(|| "the token endpoint is unavailable".into()),
                target: None,
                details: Vec::new(),
                method: "POST".into(),
                path: TOKEN_PATH.into(),
                retry_after,
            }));
        }
        WorkivaError::Auth {
            status,
            error: body.error.or(body.code).unwrap_or_else(|| "error".into()),
            description: body.error_description.or(body.message).unwrap_or_default(),
            url: self.url.clone(),
        }
    }
}

/// The token in a 2xx answer, checked to fit a header, with its refresh time.
fn token_of(status: u16, bytes: &[u8]) -> Result<Cached> {
    let decode = |reason: String| WorkivaError::Decode {
        method: "POST".into(),
        path: TOKEN_PATH.into(),
        status,
        reason,
    };
    let tok: BearerToken = serde_json::from_slice(bytes).map_err(|e| decode(e.to_string()))?;
    if reqwest::header::HeaderValue::from_str(&format!("Bearer {}", tok.access_token)).is_err() {
        return Err(decode(
            "the access token holds characters a header cannot carry (a line break, say); refused"
                .into(),
        ));
    }
    // A server's number is clamped: a huge `expires_in` cannot overflow the clock, a zero
    // cannot make every request fetch a token.
    let secs = tok.expires_in.unwrap_or(600);
    let life = Duration::from_secs(secs.clamp(
        *super::config::TOKEN_LIFETIME_SECS.start(),
        *super::config::TOKEN_LIFETIME_SECS.end(),
    ));
    Ok(Cached {
        token: SecretString::from(tok.access_token),
        refresh_at: Instant::now() + life.mul_f64(0.8),
    })
}
