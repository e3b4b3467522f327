//! The `[workiva]` settings: where the API is, how to authenticate, and how hard to try.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::error::WorkivaError;
use super::sensitive::Sensitive;

/// Workiva's regional hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    Us,
    Eu,
    Apac,
}

impl Region {
    pub fn base_url(self) -> &'static str {
        match self {
            Self::Us => "https://api.app.wdesk.com",
            Self::Eu => "https://api.eu.wdesk.com",
            Self::Apac => "https://api.apac.wdesk.com",
        }
    }
}

/// Where the client id and secret go in a token request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form body (Workiva's documented default).
    #[default]
    Body,
    /// An HTTP Basic `Authorization` header (preferred by Workiva's IAM reference).
    Basic,
}

/// The token endpoint's path, as token requests are logged and counted.
pub const TOKEN_PATH: &str = "/oauth2/token";

/// The current API version.
pub const API_VERSION: &str = "2026-01-01";
/// The deprecated version, usable for the prototype batch upsertion path only.
pub const LEGACY_VERSION: &str = "2022-01-01";
/// When the prototype batch upsertion path goes away.
pub const LEGACY_SUNSET: &str = "2027-01-31";

/// The default cap on one answer's size.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// A token's lifetime is taken as the server's `expires_in` within these bounds: a huge value
/// cannot overflow a clock, a zero cannot make every request fetch a token.
pub const TOKEN_LIFETIME_SECS: std::ops::RangeInclusive<u64> = 1..=86_400;

/// The environment variable read for the secret when `client_secret_env` is not set.
pub const DEFAULT_SECRET_ENV: &str = "WORKIVA_CLIENT_SECRET";

/// `[workiva]`: every key is optional except `client_id` and a secret. Its `Debug` shows no
/// secret: the plain-text one is a [`Sensitive`], the one handed over in process a
/// `SecretString`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkivaConfig {
    /// `us`, `eu` or `apac`; ignored when `base_url` is set. Default `us`.
    pub region: Region,
    /// The API's base URL, e.g. `http://127.0.0.1:8080` for the emulator. `http://` is
    /// accepted for loopback hosts only.
    pub base_url: Option<String>,
    /// The token endpoint; default `{base_url}/oauth2/token`.
    pub token_url: Option<String>,
    /// The OAuth client id.
    pub client_id: String,
    /// Name of an environment variable that holds the client secret (default
    /// `WORKIVA_CLIENT_SECRET`).
    pub client_secret_env: Option<String>,
    /// A file that holds the client secret (systemd credentials, Kubernetes secrets).
    pub client_secret_file: Option<PathBuf>,
    /// The secret in plain text: accepted, with a warning. Prefer the two keys above.
    pub client_secret: Option<Sensitive<String>>,
    /// `body` (default) or `basic`.
    pub client_auth: ClientAuth,
    /// Scopes to ask for (space-separated); default: whatever the client may have.
    pub scope: Option<String>,
    /// `2026-01-01` (default), or `2022-01-01` to send batch upsertions to the deprecated
    /// `/prototype/platform` path (sunset 2027-01-31). Every other request uses 2026-01-01.
    pub api_version: String,
    /// A fixed client-side request rate, requests per second, for tenants that need one
    /// (default 0: off; the adaptive concurrency limit governs).
    pub requests_per_second: f64,
    /// The ceiling of the adaptive concurrency limit: most requests in flight at once
    /// (default 64). The limit starts at 4, rises while answers are clean and fast, and is cut
    /// on 429, 503, 504, timeouts and rising latency.
    pub max_concurrent_requests: usize,
    /// Timeout of one request, seconds (default 30; Workiva allows 29 s per request).
    pub request_timeout_secs: u64,
    /// Timeout to connect, seconds (default 10).
    pub connect_timeout_secs: u64,
    /// Most attempts of one request, the first included (default 8). Waits the server asked
    /// for with `Retry-After` do not count.
    pub max_attempts: u32,
    /// Longest time spent retrying one request, seconds (default 300).
    pub max_retry_secs: u64,
    /// First backoff step, milliseconds (default 200); doubles each attempt, full jitter.
    pub backoff_base_ms: u64,
    /// Largest backoff step, milliseconds (default 30000).
    pub backoff_max_ms: u64,
    /// `$maxpagesize` for lists (1–1000, default 1000).
    pub page_size: u32,
    /// Shortest wait between operation polls, milliseconds, whatever `Retry-After` says
    /// (default 1000).
    pub poll_min_ms: u64,
    /// Longest wait between operation polls, milliseconds (default 30000).
    pub poll_max_ms: u64,
    /// How long to wait for one operation before giving up with a resumable error, seconds
    /// (default 1800).
    pub operation_timeout_secs: u64,
    /// Most bytes read from one answer (default 67108864, 64 MiB: far above any real page);
    /// a larger answer is refused, whatever the server sends.
    pub max_response_bytes: usize,
    /// Most pages of one list (default 100000: 100 million items at 1000 a page); a server
    /// that keeps sending `@nextLink`s is stopped there.
    pub max_pages: u32,
    /// Longest time one list may take, all pages, seconds (default 3600).
    pub max_list_secs: u64,
    /// Most further attempts of one request after waits the server asked for with
    /// `Retry-After` (default 20). These do not use up `max_attempts`, but have this cap of
    /// their own; a `Retry-After` of 0 is raised to `backoff_base_ms`.
    pub max_server_waits: u32,
    /// A secret handed over in process (the embedded emulator's); never read from or written
    /// to a file.
    #[serde(skip)]
    pub provided_secret: Option<SecretString>,
}

impl Default for WorkivaConfig {
    fn default() -> Self {
        Self {
            region: Region::Us,
            base_url: None,
            token_url: None,
            client_id: String::new(),
            client_secret_env: None,
            client_secret_file: None,
            client_secret: None,
            client_auth: ClientAuth::Body,
            scope: None,
            api_version: API_VERSION.into(),
            requests_per_second: 0.0,
            max_concurrent_requests: 64,
            request_timeout_secs: 30,
            connect_timeout_secs: 10,
            max_attempts: 8,
            max_retry_secs: 300,
            backoff_base_ms: 200,
            backoff_max_ms: 30_000,
            page_size: 1000,
            poll_min_ms: 1000,
            poll_max_ms: 30_000,
            operation_timeout_secs: 1800,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_pages: 100_000,
            max_list_secs: 3600,
            max_server_waits: 20,
            provided_secret: None,
        }
    }
}

fn cfg_err(msg: impl Into<String>) -> WorkivaError {
    WorkivaError::Config(msg.into())
}

/// Whether a URL's host is a loopback address (`localhost`, 127.0.0.0/8, `::1`).
pub fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

fn check_url(name: &str, raw: &str) -> Result<reqwest::Url, WorkivaError> {
    let url = reqwest::Url::parse(raw)
        .map_err(|e| cfg_err(format!("workiva.{name} `{raw}` is not a URL: {e}")))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(cfg_err(format!(
            "workiva.{name} `{raw}` uses plain http:// to a host that is not loopback; use https:// (http:// is allowed only for 127.0.0.1, ::1 and localhost, such as the local emulator)"
        ))),
        other => Err(cfg_err(format!(
            "workiva.{name} `{raw}` has scheme `{other}`; use https://"
        ))),
    }
}

impl WorkivaConfig {
    /// The base URL without a trailing slash.
    pub fn base_url(&self) -> String {
        self.base_url
            .as_deref()
            .unwrap_or(self.region.base_url())
            .trim_end_matches('/')
            .to_string()
    }

    pub fn token_url(&self) -> String {
        self.token_url
            .clone()
            .unwrap_or_else(|| format!("{}/oauth2/token", self.base_url()))
    }

    /// Whether batch upsertions go to the deprecated 2022-01-01 path.
    pub fn legacy_batch_path(&self) -> bool {
        self.api_version == LEGACY_VERSION
    }

    /// Checks every value and reads the secret; reports every problem found, not the first.
    pub fn validate(&self) -> Result<(), WorkivaError> {
        self.check(false).map(|_| ())
    }

    /// As [`Self::validate`], returning the secret it read (warning once if it is plain text):
    /// what a client is built from.
    pub fn checked_secret(&self) -> Result<SecretString, WorkivaError> {
        self.check(true)
    }

    fn check(&self, warn: bool) -> Result<SecretString, WorkivaError> {
        let mut problems = Vec::new();
        for (name, url) in [
            ("base_url", self.base_url()),
            ("token_url", self.token_url()),
        ] {
            if let Err(WorkivaError::Config(m)) = check_url(name, &url) {
                problems.push(m);
            }
        }
        if self.client_id.trim().is_empty() {
            problems.push("workiva.client_id is empty; set it in the config file or ESG_SYNC__WORKIVA__CLIENT_ID".into());
        }
        if self.api_version != API_VERSION && self.api_version != LEGACY_VERSION {
            problems.push(format!(
                "workiva.api_version `{}` is not supported; use {API_VERSION} (or {LEGACY_VERSION} for the deprecated batch upsertion path)",
                self.api_version
            ));
        }
        self.check_ranges(&mut problems);
        if warn && let Some((token_host, base_host)) = self.token_host_differs() {
            tracing::warn!(
                token_host = %token_host,
                base_host = %base_host,
                "workiva.token_url is on another host than workiva.base_url: the client secret goes to {token_host}, the API requests to {base_host}. Check that both are Workiva's."
            );
        }
        let secret = match self.read_secret(warn) {
            Ok(s) => Some(s),
            Err(WorkivaError::Config(m)) => {
                problems.push(m);
                None
            }
            Err(e) => {
                problems.push(e.to_string());
                None
            }
        };
        if let (true, Some(secret)) = (problems.is_empty(), secret) {
            Ok(secret)
        } else {
            Err(cfg_err(problems.join("; ")))
        }
    }

    /// The numeric settings' problems, each naming its key, checked at load with the rest of
    /// the configuration.
    pub fn number_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        self.check_ranges(&mut problems);
        problems
    }

    /// Every numeric setting within the range the client can honour, each problem naming the
    /// key, its value and the range.
    fn check_ranges(&self, problems: &mut Vec<String>) {
        let mut range = |key: &str, v: u64, lo: u64, hi: u64| {
            if !(lo..=hi).contains(&v) {
                problems.push(format!(
                    "workiva.{key} is {v}; it must be from {lo} to {hi}"
                ));
            }
        };
        range("page_size", self.page_size.into(), 1, 1000);
        range("max_attempts", self.max_attempts.into(), 1, 100);
        range(
            "max_concurrent_requests",
            self.max_concurrent_requests as u64,
            1,
            1024,
        );
        range("request_timeout_secs", self.request_timeout_secs, 1, 600);
        range("connect_timeout_secs", self.connect_timeout_secs, 1, 300);
        range("max_retry_secs", self.max_retry_secs, 1, 86_400);
        range("backoff_base_ms", self.backoff_base_ms, 1, 60_000);
        range(
            "backoff_max_ms",
            self.backoff_max_ms,
            self.backoff_base_ms.max(1),
            600_000,
        );
        range("poll_min_ms", self.poll_min_ms, 1, 60_000);
        range(
            "poll_max_ms",
            self.poll_max_ms,
            self.poll_min_ms.max(1),
            600_000,
        );
        range(
            "operation_timeout_secs",
            self.operation_timeout_secs,
            1,
            7 * 86_400,
        );
        range(
            "max_response_bytes",
            self.max_response_bytes as u64,
            65_536,
            1 << 30,
        );
        range("max_pages", self.max_pages.into(), 1, 10_000_000);
        range("max_list_secs", self.max_list_secs, 1, 7 * 86_400);
        range("max_server_waits", self.max_server_waits.into(), 0, 1000);
        let rps = self.requests_per_second;
        if !(rps == 0.0 || (0.1..=10_000.0).contains(&rps)) {
            problems.push(format!(
                "workiva.requests_per_second is {rps}; it must be 0 (no limit) or from 0.1 to 10000"
            ));
        }
    }

    /// The hosts that receive the client secret and the bearer token, when they differ.
    pub fn token_host_differs(&self) -> Option<(String, String)> {
        let (base, token) = (
            super::error::host_of(&self.base_url()),
            super::error::host_of(&self.token_url()),
        );
        (!base.eq_ignore_ascii_case(&token)).then_some((token, base))
    }

    /// Reads the client secret: from `client_secret_file`, else the environment variable named
    /// by `client_secret_env` (default `WORKIVA_CLIENT_SECRET`), else `client_secret` (with a
    /// warning, unless it came from `ESG_SYNC__WORKIVA__CLIENT_SECRET`).
    pub fn secret(&self) -> Result<SecretString, WorkivaError> {
        self.read_secret(true)
    }

    fn read_secret(&self, warn: bool) -> Result<SecretString, WorkivaError> {
        if let Some(s) = &self.provided_secret {
            return Ok(s.clone());
        }
        if let Some(path) = &self.client_secret_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                cfg_err(format!(
                    "cannot read workiva.client_secret_file {}: {e}",
                    path.display()
                ))
            })?;
            let s = text.trim_end_matches(['\n', '\r']);
            if s.is_empty() {
                return Err(cfg_err(format!(
                    "workiva.client_secret_file {} is empty",
                    path.display()
                )));
            }
            return Ok(SecretString::from(s.to_string()));
        }
        let var = self
            .client_secret_env
            .as_deref()
            .unwrap_or(DEFAULT_SECRET_ENV);
        if let Ok(v) = std::env::var(var)
            && !v.is_empty()
        {
            return Ok(SecretString::from(v));
        }
        if let Some(s) = &self.client_secret {
            if warn && std::env::var("ESG_SYNC__WORKIVA__CLIENT_SECRET").is_err() {
                tracing::warn!(
                    "The Workiva client secret is written in plain text in the config file; move it to the environment variable {var} or to workiva.client_secret_file."
                );
            }
            return Ok(SecretString::from(s.expose().clone()));
        }
        Err(cfg_err(format!(
            "no client secret: set the environment variable {var}, or workiva.client_secret_file, or workiva.client_secret"
        )))
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
}

/// Days from `today` to the sunset of the 2022-01-01 batch upsertion path.
pub fn days_to_legacy_sunset(today: NaiveDate) -> i64 {
    let sunset = NaiveDate::from_ymd_opt(2027, 1, 31).expect("valid date");
    (sunset - today).num_days()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> WorkivaConfig {
        WorkivaConfig {
            client_id: "id".into(),
            client_secret: Some("plain".into()),
            ..WorkivaConfig::default()
        }
    }

    #[test]
    fn regions_and_defaults() {
        let mut c = base();
        assert_eq!(c.base_url(), "https://api.app.wdesk.com");
        assert_eq!(c.token_url(), "https://api.app.wdesk.com/oauth2/token");
        c.region = Region::Eu;
        assert_eq!(c.base_url(), "https://api.eu.wdesk.com");
        c.region = Region::Apac;
        assert_eq!(c.base_url(), "https://api.apac.wdesk.com");
        c.base_url = Some("http://127.0.0.1:8080/".into());
        assert_eq!(c.token_url(), "http://127.0.0.1:8080/oauth2/token");
        assert!(c.validate().is_ok());
    }

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in [
            "http://127.0.0.1:1",
            "http://localhost:8080",
            "http://[::1]:9",
            "https://example.com",
        ] {
            let c = WorkivaConfig {
                base_url: Some(ok.into()),
                ..base()
            };
            assert!(c.validate().is_ok(), "{ok}");
        }
        for bad in ["http://example.com", "http://10.0.0.1", "ftp://127.0.0.1"] {
            let c = WorkivaConfig {
                base_url: Some(bad.into()),
                ..base()
            };
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains("base_url"), "{e}");
        }
    }

    #[test]
    fn every_problem_is_reported() {
        let c = WorkivaConfig {
            client_id: String::new(),
            api_version: "2025-01-01".into(),
            page_size: 0,
            base_url: Some("http://example.com".into()),
            client_secret: Some("x".into()),
            ..WorkivaConfig::default()
        };
        let e = c.validate().unwrap_err().to_string();
        for part in ["client_id", "api_version", "page_size", "base_url"] {
            assert!(e.contains(part), "{part} missing from: {e}");
        }
    }

    #[test]
    fn every_number_is_bounded_and_named_with_its_range() {
        let c = WorkivaConfig {
            max_concurrent_requests: usize::MAX,
            request_timeout_secs: 0,
            requests_per_second: 1e-6,
            max_attempts: 0,
            max_response_bytes: 1,
            poll_min_ms: 50,
            poll_max_ms: 10,
            ..base()
        };
        let e = c.validate().unwrap_err().to_string();
        for part in [
            "workiva.max_concurrent_requests is 18446744073709551615; it must be from 1 to 1024",
            "workiva.request_timeout_secs is 0; it must be from 1 to 600",
            "workiva.requests_per_second is 0.000001; it must be 0 (no limit) or from 0.1 to 10000",
            "workiva.max_attempts is 0; it must be from 1 to 100",
            "workiva.max_response_bytes is 1",
            "workiva.poll_max_ms is 10; it must be from 50 to 600000",
        ] {
            assert!(e.contains(part), "{part} missing from: {e}");
        }
        assert!(base().validate().is_ok());
    }

    #[test]
    fn a_token_url_on_another_host_is_named() {
        let c = WorkivaConfig {
            base_url: Some("https://api.app.wdesk.com".into()),
            token_url: Some("https://login.example.net/token".into()),
            ..base()
        };
        assert_eq!(
            c.token_host_differs(),
            Some(("login.example.net".into(), "api.app.wdesk.com".into()))
        );
        assert_eq!(base().token_host_differs(), None);
    }

    #[test]
    fn secret_sources_and_redaction() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("secret");
        std::fs::write(&f, "from-file\n").unwrap();
        let c = WorkivaConfig {
            client_secret_file: Some(f),
            client_secret: Some("plain-secret-xyz".into()),
            ..base()
        };
        use secrecy::ExposeSecret;
        assert_eq!(c.secret().unwrap().expose_secret(), "from-file");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("plain-secret-xyz"), "{dbg}");
        let c = WorkivaConfig {
            client_secret: None,
            client_secret_env: Some("ESG_SYNC_TEST_NO_SUCH_VAR".into()),
            ..base()
        };
        assert!(
            c.secret()
                .unwrap_err()
                .to_string()
                .contains("ESG_SYNC_TEST_NO_SUCH_VAR")
        );
    }

    #[test]
    fn sunset_countdown() {
        assert_eq!(
            days_to_legacy_sunset(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()),
            69
        );
        assert_eq!(
            days_to_legacy_sunset(NaiveDate::from_ymd_opt(2027, 1, 31).unwrap()),
            0
        );
    }
}
