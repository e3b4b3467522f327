//! What the process tells operators: Prometheus metrics and logs.
//!
//! Every metric is named and described here, and every label comes from a bounded set: a
//! pipeline name (from the configuration), an API path template (never a path with ids in it),
//! a status class, an outcome. The `metrics` macros do nothing until [`install_recorder`] runs
//! (the daemon does), so the one-shot commands pay nothing for them.

use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub const RUNS: &str = "esg_sync_runs_total";
pub const RUN_SECONDS: &str = "esg_sync_run_duration_seconds";
pub const RUNNING: &str = "esg_sync_pipeline_running";
pub const VALUES: &str = "esg_sync_values_total";
pub const BATCHES: &str = "esg_sync_batches_total";
pub const BATCH_BYTES: &str = "esg_sync_batch_bytes_total";
pub const API_REQUESTS: &str = "esg_sync_api_requests_total";
pub const API_SECONDS: &str = "esg_sync_api_request_duration_seconds";
pub const API_THROTTLED: &str = "esg_sync_api_throttled_total";
pub const API_RETRIES: &str = "esg_sync_api_retries_total";
pub const OPERATION_WAIT: &str = "esg_sync_operation_wait_seconds";
pub const LAST_SUCCESS: &str = "esg_sync_last_success_timestamp_seconds";
pub const TICKS_SKIPPED: &str = "esg_sync_schedule_ticks_skipped_total";
pub const NEXT_RUN: &str = "esg_sync_next_run_timestamp_seconds";
pub const CATALOG_APPLIES: &str = "esg_sync_catalog_applies_total";
pub const REVIEWER_DECISIONS: &str = "esg_sync_reviewer_decisions_total";
pub const CONCURRENCY_LIMIT: &str = "esg_sync_api_concurrency_limit";
pub const CONCURRENCY_CHANGES: &str = "esg_sync_api_concurrency_changes_total";
pub const LEADER: &str = "esg_sync_pipeline_leader";
pub const ALERTS: &str = "esg_sync_alerts_total";
pub const STORE_RETRIES: &str = "esg_sync_store_retries_total";
pub const TICKS_MISSED: &str = "esg_sync_ticks_missed_total";

/// Every metric with its type and help text, as docs/operations.md's metrics table lists them.
pub const CATALOGUE: &[(&str, &str, &str)] = &[
    (
        RUNS,
        "counter",
        "Runs that ended, by pipeline and status (succeeded, partial, failed, interrupted, busy: not started because another process runs the pipeline).",
    ),
    (RUN_SECONDS, "histogram", "How long runs took, by pipeline."),
    (
        RUNNING,
        "gauge",
        "1 while a run of the pipeline is going, else 0.",
    ),
    (
        VALUES,
        "counter",
        "Values by pipeline and outcome (read, created, updated, deleted, unchanged, rejected, locked).",
    ),
    (BATCHES, "counter", "Batch upsertions sent, by pipeline."),
    (
        BATCH_BYTES,
        "counter",
        "Bytes of the batch upsertions sent, by pipeline.",
    ),
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
        LAST_SUCCESS,
        "gauge",
        "Unix time of the pipeline's last run that landed its values (succeeded or partial).",
    ),
    (
        TICKS_SKIPPED,
        "counter",
        "Schedule ticks not run, by pipeline and reason (overlap: the last run was still going; missed: passed while the daemon was down, catch_up = \"skip\").",
    ),
    (
        NEXT_RUN,
        "gauge",
        "Unix time of the pipeline's next scheduled run.",
    ),
    (
        CATALOG_APPLIES,
        "counter",
        "Catalog applies before scheduled runs (catalog.apply = \"before_runs\"), by outcome (applied, unchanged, failed).",
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
    (
        REVIEWER_DECISIONS,
        "counter",
        "Task decisions the final reviewer submitted, by reviewer and action (APPROVE, REJECT).",
    ),
    (
        LEADER,
        "gauge",
        "1 while this replica holds the pipeline's lease (runs it), else 0.",
    ),
    (
        ALERTS,
        "counter",
        "Alert deliveries that ended, by alert and outcome (delivered, failed).",
    ),
    (
        STORE_RETRIES,
        "counter",
        "State store writes tried again after a transient failure (connection lost, database restarting, busy), by what was written.",
    ),
    (
        TICKS_MISSED,
        "counter",
        "Schedule ticks not run because the state store could not record their claim within [store] outage_secs, by pipeline.",
    ),
];

/// Installs the Prometheus recorder for this process and registers the help texts.
pub fn install_recorder() -> anyhow::Result<PrometheusHandle> {
    let seconds = &[
        0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0, 3600.0,
    ];
    let handle = PrometheusBuilder::new()
        .set_buckets(seconds)
        .map_err(|e| anyhow::anyhow!("metrics buckets: {e}"))?
        .install_recorder()
        .map_err(|e| anyhow::anyhow!("cannot install the metrics recorder: {e}"))?;
    for (name, kind, help) in CATALOGUE {
        match *kind {
            "counter" => metrics::describe_counter!(*name, *help),
            "gauge" => metrics::describe_gauge!(*name, *help),
            _ => metrics::describe_histogram!(*name, *help),
        }
    }
    Ok(handle)
}

/// How often [`spawn_upkeep`] drains the histograms' samples.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The exporter's upkeep: histogram samples pile up until drained, and with
/// `install_recorder` (no exporter of its own) the caller must drain them, whether or not
/// anyone scrapes `/metrics`. Abort the task to stop it.
pub fn spawn_upkeep(handle: PrometheusHandle) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(UPKEEP_EVERY).await;
            handle.run_upkeep();
        }
    })
}

fn status_class(status: Option<u16>) -> &'static str {
    match status {
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        _ => "error",
    }
}

/// One attempt of an API request; `status` is `None` when no answer came.
pub fn api_request(method: &str, endpoint: &'static str, status: Option<u16>, took: Duration) {
    counter!(API_REQUESTS, "method" => method.to_string(), "endpoint" => endpoint, "status_class" => status_class(status)).increment(1);
    histogram!(API_SECONDS, "method" => method.to_string(), "endpoint" => endpoint)
        .record(took.as_secs_f64());
    if status == Some(429) {
        counter!(API_THROTTLED, "endpoint" => endpoint).increment(1);
    }
}

/// A request about to be sent again.
pub fn api_retry(endpoint: &'static str) {
    counter!(API_RETRIES, "endpoint" => endpoint).increment(1);
}

/// An operation that ended (`completed`, `failed` or `timeout`) after `waited`.
pub fn operation_waited(outcome: &'static str, waited: Duration) {
    histogram!(OPERATION_WAIT, "outcome" => outcome).record(waited.as_secs_f64());
}

/// A batch upsertion sent.
pub fn batch_sent(pipeline: &str, bytes: usize) {
    counter!(BATCHES, "pipeline" => pipeline.to_string()).increment(1);
    counter!(BATCH_BYTES, "pipeline" => pipeline.to_string()).increment(bytes as u64);
}

/// A run's end: its status, its values by outcome, its duration. `landed`: the run landed
/// its values (succeeded or partial), so the last-success time moves.
pub fn run_finished(
    pipeline: &str,
    status: &'static str,
    landed: bool,
    c: &crate::outcome::Counts,
    took: Duration,
) {
    let p = pipeline.to_string();
    counter!(RUNS, "pipeline" => p.clone(), "status" => status).increment(1);
    histogram!(RUN_SECONDS, "pipeline" => p.clone()).record(took.as_secs_f64());
    for (outcome, n) in [
        ("read", c.read),
        ("created", c.created),
        ("updated", c.updated),
        ("deleted", c.deleted),
        ("unchanged", c.unchanged),
        ("rejected", c.rejected),
        ("locked", c.locked),
    ] {
        counter!(VALUES, "pipeline" => p.clone(), "outcome" => outcome).increment(n.max(0) as u64);
    }
    if landed {
        last_success(&p, chrono::Utc::now());
    }
}

/// When the pipeline last landed its values.
pub fn last_success(pipeline: &str, at: chrono::DateTime<chrono::Utc>) {
    gauge!(LAST_SUCCESS, "pipeline" => pipeline.to_string())
        .set(at.timestamp_millis() as f64 / 1000.0);
}

/// Whether a run of the pipeline is going.
pub fn running(pipeline: &str, on: bool) {
    gauge!(RUNNING, "pipeline" => pipeline.to_string()).set(if on { 1.0 } else { 0.0 });
}

/// A schedule tick not run: `overlap` or `missed`.
pub fn tick_skipped(pipeline: &str, reason: &'static str, n: u64) {
    counter!(TICKS_SKIPPED, "pipeline" => pipeline.to_string(), "reason" => reason).increment(n);
}

/// A catalog apply before a scheduled run: `applied`, `unchanged` or `failed`.
pub fn catalog_applied(outcome: &'static str) {
    counter!(CATALOG_APPLIES, "outcome" => outcome).increment(1);
}

/// The adaptive concurrency limit after an answer, and whether it moved.
pub fn concurrency_limit(limit: usize, raised: bool, cut: bool) {
    gauge!(CONCURRENCY_LIMIT).set(limit as f64);
    if raised {
        counter!(CONCURRENCY_CHANGES, "direction" => "up").increment(1);
    }
    if cut {
        counter!(CONCURRENCY_CHANGES, "direction" => "down").increment(1);
    }
}

/// A final reviewer's decision, submitted.
pub fn reviewer_decided(reviewer: &str, action: &'static str) {
    counter!(REVIEWER_DECISIONS, "reviewer" => reviewer.to_string(), "action" => action)
        .increment(1);
}

/// Whether this replica holds the pipeline's lease.
pub fn leader(pipeline: &str, on: bool) {
    gauge!(LEADER, "pipeline" => pipeline.to_string()).set(if on { 1.0 } else { 0.0 });
}

/// A schedule tick not run: its claim could not be recorded.
pub fn tick_missed(pipeline: &str) {
    counter!(TICKS_MISSED, "pipeline" => pipeline.to_string()).increment(1);
}

/// A state store write tried again after a transient failure.
pub fn store_retry(what: &'static str) {
    counter!(STORE_RETRIES, "what" => what).increment(1);
}

/// An alert delivery that ended: `delivered` or `failed`.
pub fn alert_sent(alert: &str, outcome: &'static str) {
    counter!(ALERTS, "alert" => alert.to_string(), "outcome" => outcome).increment(1);
}

/// The pipeline's next scheduled run.
pub fn next_run(pipeline: &str, at: chrono::DateTime<chrono::Utc>) {
    gauge!(NEXT_RUN, "pipeline" => pipeline.to_string()).set(at.timestamp() as f64);
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable when stdout and stderr are terminals, JSON otherwise.
    #[default]
    Auto,
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// What `Auto` means here and now.
    pub fn resolve(self) -> Self {
        use std::io::IsTerminal;
        self.resolve_for(std::io::stdout().is_terminal() && std::io::stderr().is_terminal())
    }

    /// What `Auto` means when stdout and stderr are (`true`) or are not both terminals.
    fn resolve_for(self, terminals: bool) -> Self {
        match self {
            Self::Auto if terminals => Self::Text,
            Self::Auto => Self::Json,
            other => other,
        }
    }
}

/// A fatal error, the last thing the process says: a JSON log line when logs are JSON (so a
/// log collector sees it like any other), else `error: ...` on stderr.
pub fn fatal(format: LogFormat, message: &str) {
    match format.resolve() {
        LogFormat::Json => tracing::error!(error = %message, "esg-sync stopped with an error."),
        _ => eprintln!("error: {message}"),
    }
}

/// Sets up logging to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_logs(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format.resolve() {
        LogFormat::Json => b.json().with_current_span(false).init(),
        _ => b.init(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn status_classes() {
        assert_eq!(super::status_class(Some(204)), "2xx");
        assert_eq!(super::status_class(Some(429)), "4xx");
        assert_eq!(super::status_class(Some(503)), "5xx");
        assert_eq!(super::status_class(None), "error");
    }

    #[test]
    fn auto_logs_are_text_on_terminals_and_json_elsewhere() {
        use super::LogFormat::*;
        assert_eq!(Auto.resolve_for(true), Text);
        assert_eq!(Auto.resolve_for(false), Json);
        assert_eq!(
            Json.resolve_for(true),
            Json,
            "asked for, JSON even on a terminal"
        );
        assert_eq!(Text.resolve_for(false), Text);
    }

    #[test]
    fn every_metric_is_described_once() {
        let mut names: Vec<_> = super::CATALOGUE.iter().map(|c| c.0).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), super::CATALOGUE.len());
        assert!(names.iter().all(|n| n.starts_with("esg_sync_")));
    }
}
