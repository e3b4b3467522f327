//! `[[pipeline]]`: where the rows come from, how their columns map to Workiva, and the
//! policies that decide what is sent.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// `upsert` sends creates and updates; `mirror` also deletes what the source no longer has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Upsert,
    Mirror,
}

/// The status new and changed values get.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum NewStatus {
    #[default]
    #[serde(rename = "notStarted")]
    NotStarted,
    #[serde(rename = "complete")]
    Complete,
    /// From the source's `status` column (`notStarted` or `complete`).
    #[serde(rename = "column")]
    Column,
}

/// What happens when the lake changes a value that is already `complete`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnCompleteChanged {
    /// Send the new value with status `notStarted`: a changed approved figure is reviewed again.
    #[default]
    Reopen,
    /// Leave it and report a conflict.
    Skip,
}

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatusPolicy {
    /// `notStarted` (default), `complete`, or `column`.
    pub new: NewStatus,
    /// `reopen` (default) or `skip`.
    pub on_complete_changed: OnCompleteChanged,
}

/// Which source column holds what.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Columns {
    /// A column holding the lake's metric key (mapped through `[pipeline.metrics]`).
    pub metric: Option<String>,
    /// Or one Workiva metric (id or name) for every row.
    pub fixed_metric: Option<String>,
    /// A column of period labels: `2025`, `2025-Q1`, `2025-H2`, `2025-03`.
    pub period: Option<String>,
    /// Or year, start month and end month columns.
    pub year: Option<String>,
    pub start_month: Option<String>,
    pub end_month: Option<String>,
    /// The value column.
    pub value: String,
    /// Optional notes column; when set, Workiva's notes follow it (empty clears them).
    pub notes: Option<String>,
    /// Optional status column (`notStarted` or `complete`), used with `status.new = "column"`.
    pub status: Option<String>,
    /// Source column -> Workiva dimension (id or name).
    pub dimensions: BTreeMap<String, String>,
}

/// One pipeline.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// A unique name (used by `--pipeline` and in the state store).
    pub name: String,
    /// The Workiva program: id or exact name.
    pub program: String,
    /// Parquet files or glob patterns (relative to the working directory), or a
    /// `[pipeline.source]` table: Parquet, or one SQL query (see `config::source`).
    pub source: super::source::Source,
    #[serde(default)]
    pub mode: Mode,
    /// Mirror mode refuses to delete more than this share of the values in scope, unless
    /// `--force` (default 0.1).
    #[serde(default = "default_delete_fraction")]
    pub max_delete_fraction: f64,
    pub columns: Columns,
    /// Lake metric key -> Workiva metric id or name.
    #[serde(default)]
    pub metrics: BTreeMap<String, String>,
    /// Per Workiva dimension (id or name): lake value -> dimension value id. A value not
    /// listed maps to itself.
    #[serde(default)]
    pub dimension_values: BTreeMap<String, BTreeMap<String, String>>,
    /// Per Workiva dimension: a CSV file of `lake_value,workiva_value_id` rows (a header row
    /// is allowed).
    #[serde(default)]
    pub dimension_values_csv: BTreeMap<String, PathBuf>,
    /// Add the lake's dimension values that Workiva does not have yet (after the value map)
    /// to their dimensions before the run's values, instead of rejecting their rows; within
    /// Workiva's limits (ids of at most 20 characters, at most 1,500 values a dimension).
    #[serde(default)]
    pub create_dimension_values: bool,
    #[serde(default)]
    pub status: StatusPolicy,
    /// Threshold review of the values a run writes against the prior year's.
    #[serde(default)]
    pub review: Option<super::review::ReviewConfig>,
    /// Largest request body, in bytes (default 9,500,000; Workiva's limit is 10,485,760).
    #[serde(default = "default_batch_bytes")]
    pub batch_bytes: usize,
    /// Most metrics written at once (one batch in flight per metric, as Workiva serialises
    /// batches per metric; default 128, so a 100-metric program has every metric in flight;
    /// the client's adaptive limit governs the requests).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// When the daemon runs the pipeline: a cron expression of 5 fields (minute hour
    /// day-of-month month day-of-week) or 6 (seconds first), in `timezone`. Without one the
    /// daemon leaves the pipeline to `run-now`.
    #[serde(default)]
    pub schedule: Option<String>,
    /// IANA time zone of `schedule`, e.g. `Europe/Berlin` (default `UTC`).
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Start each scheduled run up to this many seconds late, at random, so that pipelines
    /// on the same schedule do not all call Workiva in the same second (default 0).
    #[serde(default)]
    pub jitter_secs: u64,
    /// What the daemon does at start about ticks that passed while it was down: `once` runs
    /// the pipeline once at start, `skip` waits for the next tick (default `once`).
    #[serde(default)]
    pub catch_up: CatchUp,
    /// `/readyz` reports the daemon not ready when the pipeline's last run that landed its
    /// values (succeeded or partial) is older than this many seconds. Unset: no limit.
    #[serde(default)]
    pub stale_after_secs: Option<u64>,
    /// What a null or blank value cell means: `reject` (the default: the row is rejected,
    /// "value is empty") or `clear` (the value Workiva holds is cleared with `fieldsToClear`;
    /// nothing is created where Workiva holds none).
    #[serde(default)]
    pub empty_values: EmptyValues,
    /// What a run does with a value a person changed in Workiva (its value or notes differ
    /// from what the ledger says esg-sync last wrote there): `keep` (default: not written,
    /// listed as hand-edited, the run ends partial) or `overwrite`.
    #[serde(default)]
    pub on_hand_edit: OnHandEdit,
    /// The notes written with each value, from the lake's notes and the value's origin, e.g.
    /// `"{notes} (source: {source}, {origin} row {row})"` (see `config::notes`). Unset: the
    /// notes column as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes_template: Option<String>,
}

/// `on_hand_edit`: a value edited by hand in Workiva since esg-sync last wrote it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnHandEdit {
    /// Leave the person's value; list it, end the run partial and alert once.
    #[default]
    Keep,
    /// Write the lake's value; the ledger records the edited value it replaced.
    Overwrite,
}

/// `empty_values`: what a null or blank value cell means.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EmptyValues {
    /// The row is rejected: an empty cell is more often a broken extract than a deletion.
    #[default]
    Reject,
    /// The value in Workiva is cleared.
    Clear,
}

/// `catch_up`: ticks missed while the daemon was down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CatchUp {
    /// Run once at start if at least one tick was missed.
    #[default]
    Once,
    /// Wait for the next tick; the missed ones are logged and counted.
    Skip,
}

fn default_timezone() -> String {
    "UTC".into()
}

fn default_delete_fraction() -> f64 {
    0.1
}
fn default_batch_bytes() -> usize {
    9_500_000
}
fn default_concurrency() -> usize {
    128
}

impl PipelineConfig {
    /// Checks what serde cannot; every problem, not the first.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let at = format!("pipeline `{}`", self.name);
        if let Some(r) = &self.review {
            p.extend(r.problems(&at));
            if self.status.new == NewStatus::Column {
                p.push(format!("{at}: review and status.new = \"column\" both decide a value's status; choose one"));
            }
        }
        match (&self.columns.metric, &self.columns.fixed_metric) {
            (None, None) => p.push(format!("{at}: set columns.metric (a column of metric keys) or columns.fixed_metric")),
            (Some(_), Some(_)) => p.push(format!("{at}: set columns.metric or columns.fixed_metric, not both")),
            (Some(_), None) if self.metrics.is_empty() => p.push(format!("{at}: columns.metric needs a [pipeline.metrics] map from lake keys to Workiva metrics")),
            _ => {}
        }
        self.period_problems(&at, &mut p);
        p.extend(self.source.problems(&at));
        self.column_problems(&at, &mut p);
        self.limit_problems(&at, &mut p);
        self.schedule_problems(&at, &mut p);
        if let Err(e) = self.notes_template() {
            p.push(format!("{at}: {e}"));
        }
        p
    }

    /// `notes_template`, parsed against the mapped dimension columns.
    pub fn notes_template(
        &self,
    ) -> Result<Option<super::notes::NotesTemplate>, super::notes::TemplateError> {
        let dims: Vec<&str> = self.columns.dimensions.keys().map(String::as_str).collect();
        self.notes_template
            .as_deref()
            .map(|t| super::notes::NotesTemplate::parse(t, &dims))
            .transpose()
    }

    /// The period's columns: a label column or a year, and both months or neither.
    fn period_problems(&self, at: &str, p: &mut Vec<String>) {
        let c = &self.columns;
        match (&c.period, &c.year) {
            (None, None) => p.push(format!(
                "{at}: set columns.period (labels such as 2025-Q1) or columns.year"
            )),
            (Some(_), Some(_)) => p.push(format!(
                "{at}: set columns.period or columns.year, not both"
            )),
            _ => {}
        }
        if c.year.is_some() && (c.start_month.is_some() != c.end_month.is_some()) {
            p.push(format!(
                "{at}: columns.start_month and columns.end_month go together"
            ));
        }
    }

    /// The value, status and dimension columns, and the dimension value files.
    fn column_problems(&self, at: &str, p: &mut Vec<String>) {
        let c = &self.columns;
        if c.value.trim().is_empty() {
            p.push(format!(
                "{at}: columns.value is not set; name the source column that holds the values"
            ));
        }
        for (dim, file) in &self.dimension_values_csv {
            if !file.is_file() {
                p.push(format!(
                    "{at}: dimension_values_csv.{dim}: {} is not a file (a relative path is read from the working directory)",
                    file.display()
                ));
            }
        }
        if self.status.new == NewStatus::Column && c.status.is_none() {
            p.push(format!(
                "{at}: status.new = \"column\" needs columns.status"
            ));
        }
        if c.dimensions.len() > 3 {
            p.push(format!(
                "{at}: {} dimension columns; a Workiva value has at most 3 coordinates",
                c.dimensions.len()
            ));
        }
    }

    /// The delete guard, the batch size and the concurrency within their ranges.
    fn limit_problems(&self, at: &str, p: &mut Vec<String>) {
        if !(0.0..=1.0).contains(&self.max_delete_fraction) {
            p.push(format!("{at}: max_delete_fraction must be between 0 and 1"));
        }
        if self.batch_bytes < 1_000 || self.batch_bytes > crate::workiva::models::MAX_BODY_BYTES {
            p.push(format!("{at}: batch_bytes must be from 1000 to 10485760"));
        }
        if !(1..=256).contains(&self.concurrency) {
            p.push(format!(
                "{at}: concurrency is {}; it must be from 1 to 256",
                self.concurrency
            ));
        }
    }

    /// The schedule (it fires, and more often than the jitter) and the time zone.
    fn schedule_problems(&self, at: &str, p: &mut Vec<String>) {
        if let Some(cron) = &self.schedule {
            match super::schedule::Schedule::parse(cron, "UTC") {
                Err(e) => p.push(format!("{at}: {e}")),
                Ok(sched) if sched.next_after(chrono::Utc::now()).is_none() => p.push(format!(
                    "{at}: schedule `{cron}` never fires (no such date, such as 30 February); fix its day or month"
                )),
                Ok(sched) => {
                    let t0 = sched.next_after(chrono::Utc::now());
                    let gap = t0.and_then(|t| sched.next_after(t).map(|t1| t1 - t));
                    if let Some(gap) = gap
                        && self.jitter_secs > 0
                        && self.jitter_secs as i64 >= gap.num_seconds()
                    {
                        p.push(format!(
                            "{at}: jitter_secs {} is not shorter than the {} s between two runs of `{cron}`",
                            self.jitter_secs,
                            gap.num_seconds()
                        ));
                    }
                }
            }
        }
        if let Err(e) = super::schedule::parse_timezone(&self.timezone) {
            p.push(format!("{at}: {e}"));
        }
    }
}
