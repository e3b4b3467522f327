//! Riding out the store: a write that fails for a transient reason (the connection reset or
//! refused, the pool timed out, Postgres restarting, SQLite busy) is tried again with backoff
//! for up to the store's outage bound (`[store] outage_secs`). A write that fails for good (a
//! full disk, a bad schema, a fenced write) is returned at once.

use std::future::Future;
use std::time::{Duration, Instant};

use super::{Result, Store, StoreError};

/// The first pause after a transient failure; doubled up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// Postgres SQLSTATEs that a later attempt may not meet: connection exceptions (class 08),
/// the server shutting down or starting (57P01..57P03), serialization failures and
/// deadlocks (40001, 40P01), a lock not available in time (55P03), too many connections
/// (53300).
const PG_TRANSIENT: &[&str] = &[
    "57P01", "57P02", "57P03", "40001", "40P01", "55P03", "53300",
];

/// SQLite result codes (primary, as the low byte of the extended code) that pass: BUSY (5),
/// LOCKED (6).
const SQLITE_TRANSIENT: &[i64] = &[5, 6];

/// Whether `e` is a failure a later attempt may not meet.
pub fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(d) => {
            let Some(code) = d.code() else { return false };
            if PG_TRANSIENT.contains(&code.as_ref()) || code.starts_with("08") {
                return true;
            }
            code.parse::<i64>()
                .is_ok_and(|c| SQLITE_TRANSIENT.contains(&(c & 0xff)))
        }
        _ => false,
    }
}

impl StoreError {
    /// Whether the store may answer a later attempt of the same write.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Query { source, .. } => is_transient(source),
            _ => false,
        }
    }
}

impl Store {
    /// How long a write is tried again while the store fails transiently.
    pub fn outage(&self) -> Duration {
        self.outage
    }

    /// This store, riding out outages of up to `outage`.
    pub fn with_outage(mut self, outage: Duration) -> Self {
        self.outage = outage;
        self
    }

    /// Runs `attempt` until it succeeds, fails for good, or the store has failed transiently
    /// for longer than its outage bound (the last error is returned then). Each attempt must
    /// be a whole transaction, safe to run again: the writes that use this are idempotent or
    /// leave at worst an extra `pending` batch row, which no run resends.
    pub async fn ride<T, F, Fut>(&self, what: &'static str, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let began = Instant::now();
        let mut pause = FIRST_PAUSE;
        let mut failures = 0u32;
        loop {
            match attempt().await {
                Ok(v) => {
                    if failures > 0 {
                        tracing::info!(
                            what,
                            failures,
                            after_ms = began.elapsed().as_millis() as u64,
                            "The state store answers again."
                        );
                    }
                    return Ok(v);
                }
                Err(e) if e.is_transient() && began.elapsed() + pause <= self.outage => {
                    if failures == 0 {
                        tracing::warn!(what, error = %e, outage_secs = self.outage.as_secs(), "The state store failed transiently; trying again, sending nothing new meanwhile.");
                    }
                    failures += 1;
                    crate::telemetry::Event::emit(crate::telemetry::StoreRetry { what });
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_PAUSE);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_faults_and_busy_are_transient_and_a_full_disk_is_not() {
        assert!(is_transient(&sqlx::Error::PoolTimedOut));
        assert!(is_transient(&sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset
        ))));
        assert!(!is_transient(&sqlx::Error::RowNotFound));
        assert!(!is_transient(&sqlx::Error::PoolClosed));
    }
}
