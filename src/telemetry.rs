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
pub const LAST_SUCCESS: &str = "esg_sync_last_success_timestamp_seconds";
pub const TICKS_SKIPPED: &str = "esg_sync_schedule_ticks_skipped_total";
pub const NEXT_RUN: &str = "esg_sync_next_run_timestamp_seconds";
pub const CATALOG_APPLIES: &str = "esg_sync_catalog_applies_total";
pub const REVIEWER_DECISIONS: &str = "esg_sync_reviewer_decisions_total";
pub const LEADER: &str = "esg_sync_pipeline_leader";
pub const ALERTS: &str = "esg_sync_alerts_total";
pub const STORE_RETRIES: &str = "esg_sync_store_retries_total";
pub const TICKS_MISSED: &str = "esg_sync_ticks_missed_total";

/// The application's own metrics with their type and help text; [`catalogue`] adds the
/// client's.
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
        "Values by pipeline and outcome (read, created, updated, deleted, unchanged, rejected, locked, hand_edited).",
    ),
    (BATCHES, "counter", "Batch upsertions sent, by pipeline."),
    (
        BATCH_BYTES,
        "counter",
        "Bytes of the batch upsertions sent, by pipeline.",
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

/// Every metric with its type and help text, as docs/operations.md's metrics table lists them:
/// the application's and the Workiva client's.
pub fn catalogue() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
    CATALOGUE.iter().chain(crate::workiva::telemetry::CATALOGUE)
}

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
    for (name, kind, help) in catalogue() {
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

/// Events are told the client's way: a type each, logged and counted in its `emit`.
pub use crate::workiva::telemetry::Event;

/// A batch upsertion sent.
pub struct BatchSent<'a> {
    pub pipeline: &'a str,
    pub bytes: usize,
}

impl Event for BatchSent<'_> {
    fn emit(self) {
        counter!(BATCHES, "pipeline" => self.pipeline.to_string()).increment(1);
        counter!(BATCH_BYTES, "pipeline" => self.pipeline.to_string()).increment(self.bytes as u64);
    }
}

/// A run's end: its status, its values by outcome, its duration. `landed`: the run landed
/// its values (succeeded or partial), so the last-success time moves.
pub struct RunFinished<'a> {
    pub pipeline: &'a str,
    pub status: &'static str,
    pub landed: bool,
    pub counts: &'a crate::outcome::Counts,
    pub took: Duration,
}

impl Event for RunFinished<'_> {
    fn emit(self) {
        let (p, c) = (self.pipeline.to_string(), self.counts);
        counter!(RUNS, "pipeline" => p.clone(), "status" => self.status).increment(1);
        histogram!(RUN_SECONDS, "pipeline" => p.clone()).record(self.took.as_secs_f64());
        for (outcome, n) in [
            ("read", c.read),
            ("created", c.created),
            ("updated", c.updated),
            ("deleted", c.deleted),
            ("unchanged", c.unchanged),
            ("rejected", c.rejected),
            ("locked", c.locked),
            ("hand_edited", c.hand_edited),
        ] {
            counter!(VALUES, "pipeline" => p.clone(), "outcome" => outcome)
                .increment(n.max(0) as u64);
        }
        if self.landed {
            LastSuccess {
                pipeline: &p,
                at: chrono::Utc::now(),
            }
            .emit();
        }
    }
}

/// When the pipeline last landed its values.
pub struct LastSuccess<'a> {
    pub pipeline: &'a str,
    pub at: chrono::DateTime<chrono::Utc>,
}

impl Event for LastSuccess<'_> {
    fn emit(self) {
        gauge!(LAST_SUCCESS, "pipeline" => self.pipeline.to_string())
            .set(self.at.timestamp_millis() as f64 / 1000.0);
    }
}

/// Whether a run of the pipeline is going.
pub struct Running<'a> {
    pub pipeline: &'a str,
    pub on: bool,
}

impl Event for Running<'_> {
    fn emit(self) {
        gauge!(RUNNING, "pipeline" => self.pipeline.to_string()).set(f64::from(u8::from(self.on)));
    }
}

/// Whether this replica holds the pipeline's lease.
pub struct Leader<'a> {
    pub pipeline: &'a str,
    pub on: bool,
}

impl Event for Leader<'_> {
    fn emit(self) {
        gauge!(LEADER, "pipeline" => self.pipeline.to_string()).set(f64::from(u8::from(self.on)));
    }
}

/// Why schedule ticks were not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The last run was still going.
    Overlap,
    /// They passed while the daemon was down, and `catch_up = "skip"`.
    Missed,
}

/// Schedule ticks not run.
pub struct TicksSkipped<'a> {
    pub pipeline: &'a str,
    pub reason: SkipReason,
    pub n: u64,
    /// The tick skipped (overlap), or the last tick handled before the daemon was down.
    pub tick: chrono::DateTime<chrono::Utc>,
}

impl Event for TicksSkipped<'_> {
    fn emit(self) {
        let reason = match self.reason {
            SkipReason::Overlap => {
                tracing::warn!(pipeline = %self.pipeline, tick = %self.tick, "The last run is still going; this tick is skipped.");
                "overlap"
            }
            SkipReason::Missed => {
                tracing::warn!(pipeline = %self.pipeline, missed = self.n, last_tick = %self.tick, "Ticks passed while the daemon was down; skipped (catch_up = \"skip\").");
                "missed"
            }
        };
        counter!(TICKS_SKIPPED, "pipeline" => self.pipeline.to_string(), "reason" => reason)
            .increment(self.n);
    }
}

/// A schedule tick not run: its claim could not be recorded, after retrying for the store's
/// outage bound (unclaimed, it could run on two replicas, and the run needs the store anyway).
pub struct TickMissed<'a> {
    pub pipeline: &'a str,
    pub tick: chrono::DateTime<chrono::Utc>,
    pub error: &'a dyn std::fmt::Display,
}

impl Event for TickMissed<'_> {
    fn emit(self) {
        counter!(TICKS_MISSED, "pipeline" => self.pipeline.to_string()).increment(1);
        tracing::error!(pipeline = self.pipeline, tick = %self.tick, error = %self.error, "Cannot claim the schedule tick in the state store after retrying for [store] outage_secs; it is missed (esg_sync_ticks_missed_total).");
    }
}

/// How a catalog apply before a scheduled run went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogOutcome {
    Applied,
    /// Workiva already matched the catalog: nothing was sent.
    Unchanged,
    Failed,
}

/// A catalog apply before a scheduled run (its log line is the caller's: it has the details).
pub struct CatalogApplied {
    pub outcome: CatalogOutcome,
}

impl Event for CatalogApplied {
    fn emit(self) {
        let outcome = match self.outcome {
            CatalogOutcome::Applied => "applied",
            CatalogOutcome::Unchanged => "unchanged",
            CatalogOutcome::Failed => "failed",
        };
        counter!(CATALOG_APPLIES, "outcome" => outcome).increment(1);
    }
}

/// A final reviewer's decision, submitted.
pub struct ReviewerDecided<'a> {
    pub reviewer: &'a str,
    pub action: crate::outcome::DecisionAction,
}

impl Event for ReviewerDecided<'_> {
    fn emit(self) {
        counter!(REVIEWER_DECISIONS, "reviewer" => self.reviewer.to_string(), "action" => self.action.as_str())
            .increment(1);
    }
}

/// A state store write tried again after a transient failure; `what` names the write (a
/// phrase of the code's, never data).
pub struct StoreRetry {
    pub what: &'static str,
}

impl Event for StoreRetry {
    fn emit(self) {
        counter!(STORE_RETRIES, "what" => self.what).increment(1);
    }
}

/// An alert delivery that ended.
pub struct AlertSent<'a> {
    pub alert: &'a str,
    pub delivered: bool,
}

impl Event for AlertSent<'_> {
    fn emit(self) {
        let outcome = if self.delivered {
            "delivered"
        } else {
            "failed"
        };
        counter!(ALERTS, "alert" => self.alert.to_string(), "outcome" => outcome).increment(1);
    }
}

/// The pipeline's next scheduled run.
pub struct NextRun<'a> {
    pub pipeline: &'a str,
    pub at: chrono::DateTime<chrono::Utc>,
}

impl Event for NextRun<'_> {
    fn emit(self) {
        gauge!(NEXT_RUN, "pipeline" => self.pipeline.to_string()).set(self.at.timestamp() as f64);
    }
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
        let mut names: Vec<_> = super::catalogue().map(|c| c.0).collect();
        let all = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all);
        assert!(names.iter().all(|n| n.starts_with("esg_sync_")));
    }
}
