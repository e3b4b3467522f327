//! What the client tells operators, as typed events: each event logs and counts in one
//! place, its [`Event::emit`]. Counting goes through the `metrics` facade, so nothing is
//! recorded until the application installs a recorder (the daemon installs Prometheus's);
//! every label comes from a bounded set (an API path template, never a path with ids in it;
//! a status class; an outcome).

use std::time::Duration;

use metrics::{counter, gauge, histogram};

use crate::error::WorkivaError;

pub const API_REQUESTS: &str = "esg_sync_api_requests_total";
pub const API_SECONDS: &str = "esg_sync_api_request_duration_seconds";
pub const API_THROTTLED: &str = "esg_sync_api_throttled_total";
pub const API_RETRIES: &str = "esg_sync_api_retries_total";
pub const OPERATION_WAIT: &str = "esg_sync_operation_wait_seconds";
pub const CONCURRENCY_LIMIT: &str = "esg_sync_api_concurrency_limit";
pub const CONCURRENCY_CHANGES: &str = "esg_sync_api_concurrency_changes_total";

/// The client's metrics with their type and help text; the application lists them with its
/// own (docs/operations.md's metrics table).
pub const CATALOGUE: &[(&str, &str, &str)] = &[
    (
        API_REQUESTS,
        "counter",
        "Workiva API requests (each attempt), by method, endpoint (path template) and status class (2xx, 4xx, 5xx, error).",
    ),
    (
        API_SECONDS,
        "histogram",
        "Workiva API request latency, by method and endpoint.",
    ),
    (
        API_THROTTLED,
        "counter",
        "429 Too Many Requests answers, by endpoint.",
    ),
    (
        API_RETRIES,
        "counter",
        "Requests sent again after a retriable failure, by endpoint.",
    ),
    (
        OPERATION_WAIT,
        "histogram",
        "Time from accepted to the end of an asynchronous operation, by outcome (completed, failed, timeout).",
    ),
    (
        CONCURRENCY_LIMIT,
        "gauge",
        "Workiva requests the client lets be in flight at once now (adaptive: raised while answers are clean and fast, cut on 429, 503, 504, timeouts and rising latency).",
    ),
    (
        CONCURRENCY_CHANGES,
        "counter",
        "Changes of the adaptive concurrency limit, by direction (up, down).",
    ),
];

/// Something that happened, told to operators: logged and counted by `emit`.
pub trait Event {
    fn emit(self);
}

/// A response's status as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    Success,
    Redirect,
    ClientError,
    ServerError,
    /// No answer came (connection refused, timed out, body cut off).
    NoAnswer,
}

impl StatusClass {
    pub fn of(status: Option<u16>) -> Self {
        match status {
            Some(200..=299) => Self::Success,
            Some(300..=399) => Self::Redirect,
            Some(400..=499) => Self::ClientError,
            Some(500..=599) => Self::ServerError,
            _ => Self::NoAnswer,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Success => "2xx",
            Self::Redirect => "3xx",
            Self::ClientError => "4xx",
            Self::ServerError => "5xx",
            Self::NoAnswer => "error",
        }
    }
}

/// One attempt of an API request; `status` is `None` when no answer came.
pub struct ApiRequest<'a> {
    pub method: &'a str,
    pub endpoint: &'static str,
    pub status: Option<u16>,
    pub took: Duration,
}

impl Event for ApiRequest<'_> {
    fn emit(self) {
        let class = StatusClass::of(self.status).label();
        counter!(API_REQUESTS, "method" => self.method.to_string(), "endpoint" => self.endpoint, "status_class" => class).increment(1);
        histogram!(API_SECONDS, "method" => self.method.to_string(), "endpoint" => self.endpoint)
            .record(self.took.as_secs_f64());
        if self.status == Some(429) {
            counter!(API_THROTTLED, "endpoint" => self.endpoint).increment(1);
        }
    }
}

/// A request about to be sent again after `error`. Retries are routine: each is a DEBUG
/// line, and a run's summary says how many there were and why.
pub struct ApiRetry<'a> {
    pub method: &'a str,
    pub endpoint: &'static str,
    pub attempt: u32,
    pub delay: Duration,
    /// The server asked for the wait (Retry-After), so the attempt is not counted.
    pub server_asked: bool,
    pub error: &'a WorkivaError,
}

impl Event for ApiRetry<'_> {
    fn emit(self) {
        counter!(API_RETRIES, "endpoint" => self.endpoint).increment(1);
        tracing::debug!(
            method = self.method,
            path = self.endpoint,
            attempt = self.attempt,
            delay_ms = self.delay.as_millis() as u64,
            server_asked = self.server_asked,
            error = %self.error,
            "Retrying a Workiva request."
        );
    }
}

/// The token request about to be sent again: a WARN line, since no request can go out
/// until it succeeds.
pub struct TokenRetry<'a> {
    pub delay: Duration,
    pub error: &'a WorkivaError,
}

impl Event for TokenRetry<'_> {
    fn emit(self) {
        counter!(API_RETRIES, "endpoint" => crate::config::TOKEN_PATH).increment(1);
        tracing::warn!(error = %self.error, delay_ms = self.delay.as_millis() as u64, "Retrying the token request.");
    }
}

/// How an asynchronous operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationOutcome {
    Completed,
    /// Failed or cancelled.
    Failed,
    /// The client stopped waiting.
    Timeout,
}

impl OperationOutcome {
    pub fn label(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Timeout => "timeout",
        }
    }
}

/// An operation that ended after `waited`.
pub struct OperationWaited {
    pub outcome: OperationOutcome,
    pub waited: Duration,
}

impl Event for OperationWaited {
    fn emit(self) {
        histogram!(OPERATION_WAIT, "outcome" => self.outcome.label())
            .record(self.waited.as_secs_f64());
    }
}

/// The adaptive concurrency limit after an answer, and whether it moved.
pub struct ConcurrencyChanged {
    pub limit: usize,
    pub raised: bool,
    pub cut: bool,
}

impl Event for ConcurrencyChanged {
    fn emit(self) {
        gauge!(CONCURRENCY_LIMIT).set(self.limit as f64);
        if self.raised {
            counter!(CONCURRENCY_CHANGES, "direction" => "up").increment(1);
            tracing::debug!(limit = self.limit, "Raised the Workiva concurrency limit.");
        }
        if self.cut {
            counter!(CONCURRENCY_CHANGES, "direction" => "down").increment(1);
            tracing::debug!(limit = self.limit, "Cut the Workiva concurrency limit.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::StatusClass;

    #[test]
    fn status_classes() {
        assert_eq!(StatusClass::of(Some(204)).label(), "2xx");
        assert_eq!(StatusClass::of(Some(429)).label(), "4xx");
        assert_eq!(StatusClass::of(Some(503)).label(), "5xx");
        assert_eq!(StatusClass::of(None).label(), "error");
    }
}
