//! Retries counted by reason within a scope (a run): each retry is logged at DEBUG only, and
//! the run says once, in its summary, how many requests were retried and why.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::WorkivaError;

tokio::task_local! {
    static TALLY: Arc<RetryTally>;
}

/// Retries by reason.
#[derive(Debug, Default)]
pub struct RetryTally {
    /// 429: the server asked for less.
    pub throttled: AtomicU64,
    /// 408 and 5xx.
    pub server_errors: AtomicU64,
    /// No answer: connection failures and time-outs.
    pub no_answer: AtomicU64,
    /// 409 for a metric whose previous batch was still running.
    pub busy_metric: AtomicU64,
}

impl RetryTally {
    pub fn total(&self) -> u64 {
        [
            &self.throttled,
            &self.server_errors,
            &self.no_answer,
            &self.busy_metric,
        ]
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .sum()
    }

    /// `3 rate-limited (429), 1 server error (5xx)`, or `None` when nothing was retried.
    pub fn summary(&self) -> Option<String> {
        let parts: Vec<String> = [
            (&self.throttled, "rate-limited (429)"),
            (&self.server_errors, "server errors (408, 5xx)"),
            (&self.no_answer, "without an answer (connection, time-out)"),
            (
                &self.busy_metric,
                "waiting for the metric's previous batch (409)",
            ),
        ]
        .iter()
        .filter_map(|(c, what)| {
            let n = c.load(Ordering::Relaxed);
            (n > 0).then(|| format!("{n} {what}"))
        })
        .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// Runs `f` with its retries counted in `tally`.
pub async fn scope<F: Future>(tally: Arc<RetryTally>, f: F) -> F::Output {
    TALLY.scope(tally, f).await
}

/// Counts one retry caused by `err` in the current scope, if any.
pub fn add(err: &WorkivaError) {
    let _ = TALLY.try_with(|t| {
        let counter = match err.last() {
            WorkivaError::Api(a) if a.status == 429 => &t.throttled,
            WorkivaError::Api(a) if a.status == 409 => &t.busy_metric,
            WorkivaError::Api(_) => &t.server_errors,
            _ => &t.no_answer,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    });
}
