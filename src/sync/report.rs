//! Report: how a run ended, what it did metric by metric, and why it failed, for the summary
//! table, `--output json`, the logs and the exit status.

use std::sync::Arc;

use super::diff::MetricPlan;
use super::error::RunError;
use crate::outcome::{Counts, Reject};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Succeeded,
    /// Some rows were rejected or locked values conflict with the source.
    Partial,
    Failed,
    /// A dry run: nothing written.
    Planned,
    /// A shutdown stopped it: what was in flight finished, the rest is left to the next run.
    Interrupted,
    /// Not started: another process is running the pipeline.
    Busy,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Partial => "partial",
            Self::Failed => "failed",
            Self::Planned => "planned",
            Self::Interrupted => "interrupted",
            Self::Busy => "busy",
        }
    }
}

impl Status {
    /// The state a run that ended so is recorded in. A dry run and a busy pipeline record no
    /// run; were one recorded, it would read as failed.
    pub fn recorded(self) -> crate::store::RunStatus {
        use crate::store::RunStatus;
        match self {
            Self::Succeeded => RunStatus::Succeeded,
            Self::Partial => RunStatus::Partial,
            Self::Interrupted => RunStatus::Interrupted,
            Self::Failed | Self::Planned | Self::Busy => RunStatus::Failed,
        }
    }

    /// Whether the run landed its values (the last-success time moves).
    pub fn landed(self) -> bool {
        matches!(self, Self::Succeeded | Self::Partial)
    }
}

/// The threshold review's totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReviewTotals {
    pub auto_completed: usize,
    pub flagged: usize,
}

impl ReviewTotals {
    /// The totals of a plan's metrics, when the pipeline has a review.
    pub fn of(reviewing: bool, metrics: &[MetricPlan]) -> Option<Self> {
        reviewing.then(|| Self {
            auto_completed: metrics.iter().map(|m| m.auto_completed).sum(),
            flagged: metrics.iter().map(|m| m.flagged).sum(),
        })
    }
}

/// What a run did, for the summary and `--output json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub pipeline: String,
    pub run_id: Option<i64>,
    pub status: Status,
    pub counts: Counts,
    pub metrics: Vec<MetricPlan>,
    pub batches: usize,
    pub resumed_batches: usize,
    /// Why the run failed, was interrupted or did not start; shown as `message`.
    #[serde(rename = "message", serialize_with = "as_message")]
    pub error: Option<Arc<RunError>>,
    #[serde(skip)]
    pub rejects: Vec<Reject>,
    /// `[pipeline.review]`: values auto-completed and flagged for a person, over all metrics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review: Option<ReviewTotals>,
    /// `create_dimension_values`: the values added to (a run) or to add to (a plan) each
    /// dimension.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub new_dimension_values: Vec<super::plan::NewValues>,
    /// Values a person edited in Workiva since esg-sync last wrote them, which the lake
    /// would change again: kept or overwritten, as `on_hand_edit` says.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hand_edits: Vec<crate::outcome::HandEdit>,
}

fn as_message<S: serde::Serializer>(e: &Option<Arc<RunError>>, s: S) -> Result<S::Ok, S::Error> {
    match e {
        Some(e) => s.serialize_some(&e.to_string()),
        None => s.serialize_none(),
    }
}

impl Report {
    /// A run that ended with `error` before it wrote anything; the error decides the status.
    pub fn from_error(pipeline: &str, run_id: Option<i64>, error: RunError) -> Self {
        Self {
            pipeline: pipeline.into(),
            run_id,
            status: status_of(&error),
            counts: Counts::default(),
            metrics: Vec::new(),
            batches: 0,
            resumed_batches: 0,
            error: Some(Arc::new(error)),
            rejects: Vec::new(),
            new_dimension_values: Vec::new(),
            hand_edits: Vec::new(),
            review: None,
        }
    }

    /// The error's message, for logs.
    pub fn message(&self) -> Option<String> {
        self.error.as_ref().map(|e| e.to_string())
    }
}

/// The status a run ends with when `e` stopped it.
pub fn status_of(e: &RunError) -> Status {
    match e {
        RunError::Busy { .. } => Status::Busy,
        e if e.is_interruption() => Status::Interrupted,
        _ => Status::Failed,
    }
}

/// The summary table of one report: its title, the table of counts, the rows and batches,
/// the review, new dimension values, the first rejects and the error.
pub fn render(r: &Report) -> String {
    let mut out = vec![title(r)];
    out.extend(table(r));
    out.push(batches_line(r));
    out.extend(review_line(r));
    out.extend(new_values_lines(r));
    if r.status == Status::Planned || (r.run_id.is_none() && r.status == Status::Partial) {
        out.push("dry run: nothing was written to Workiva".into());
    }
    out.extend(rejects_lines(r));
    out.extend(hand_edit_lines(r));
    if let Some(e) = &r.error {
        out.push(format!("error: {e}"));
    }
    out.join("\n")
}

/// `pipeline NAME: STATUS (run ID)`.
fn title(r: &Report) -> String {
    format!(
        "pipeline {}: {}{}",
        r.pipeline,
        r.status.as_str(),
        r.run_id.map(|i| format!(" (run {i})")).unwrap_or_default()
    )
}

/// The table of counts, aligned: a header, a row per metric, the rows rejected before the
/// diff, and the total.
fn table(r: &Report) -> Vec<String> {
    let mut header = vec![
        "metric",
        "create",
        "update",
        "unchanged",
        "locked",
        "delete",
        "reject",
    ];
    // With a threshold review: per metric, the writes auto-completed and flagged.
    let reviewing = r.review.is_some();
    if reviewing {
        header.extend(["auto-complete", "flag"]);
    }
    let mut rows = metric_rows(r, reviewing);
    rows.extend(rejected_before_diff_row(r, reviewing));
    rows.push(total_row(r));
    // Hand edits kept: a column of their own, shown only when there are some.
    if r.counts.hand_edited > 0 {
        header.push("hand-edited");
        let per_metric = r.metrics.iter().map(|m| m.hand_edited.to_string());
        let before_diff = (rows.len() > r.metrics.len() + 1).then(|| "-".to_string());
        let total = std::iter::once(r.counts.hand_edited.to_string());
        for (row, n) in rows
            .iter_mut()
            .zip(per_metric.chain(before_diff).chain(total))
        {
            row.push(n);
        }
    }
    aligned(&header, rows)
}

/// One row per metric.
fn metric_rows(r: &Report, reviewing: bool) -> Vec<Vec<String>> {
    r.metrics
        .iter()
        .map(|m| {
            vec![
                m.metric_name.clone(),
                m.creates.to_string(),
                m.updates.to_string(),
                m.unchanged.to_string(),
                m.locked.to_string(),
                m.deletes.to_string(),
                m.rejects.to_string(),
            ]
            .into_iter()
            .chain(
                reviewing
                    .then(|| [m.auto_completed.to_string(), m.flagged.to_string()])
                    .into_iter()
                    .flatten(),
            )
            .collect()
        })
        .collect()
}

/// Rows rejected while reading and validating belong to no metric's diff; this row makes
/// the column add up to the total.
fn rejected_before_diff_row(r: &Report, reviewing: bool) -> Option<Vec<String>> {
    let before_diff = r.counts.rejected - r.metrics.iter().map(|m| m.rejects as i64).sum::<i64>();
    if before_diff <= 0 {
        return None;
    }
    let dash = || "-".to_string();
    let mut row = vec![
        "(rejected before the diff)".into(),
        dash(),
        dash(),
        dash(),
        dash(),
        dash(),
        before_diff.to_string(),
    ];
    if reviewing {
        row.extend([dash(), dash()]);
    }
    Some(row)
}

/// The run's totals.
fn total_row(r: &Report) -> Vec<String> {
    let c = &r.counts;
    let mut row = vec![
        "total".into(),
        c.created.to_string(),
        c.updated.to_string(),
        c.unchanged.to_string(),
        c.locked.to_string(),
        c.deleted.to_string(),
        c.rejected.to_string(),
    ];
    if let Some(t) = &r.review {
        row.extend([t.auto_completed.to_string(), t.flagged.to_string()]);
    }
    row
}

/// The header and rows as lines, each column as wide as its widest cell: the first to the
/// left, the others to the right.
fn aligned(header: &[&str], rows: Vec<Vec<String>>) -> Vec<String> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if i == 0 {
                    format!("{s:<w$}", w = widths[i])
                } else {
                    format!("{s:>w$}", w = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = vec![line(header.iter().map(|h| h.to_string()).collect())];
    out.extend(rows.into_iter().map(line));
    out
}

/// Rows read and batches sent (and resumed).
fn batches_line(r: &Report) -> String {
    format!(
        "rows read: {}; batches sent: {}{}",
        r.counts.read,
        r.batches,
        if r.resumed_batches > 0 {
            format!(
                "; batches resumed from an interrupted run: {}",
                r.resumed_batches
            )
        } else {
            String::new()
        }
    )
}

/// With a threshold review: what was (or would be) auto-completed and flagged.
fn review_line(r: &Report) -> Option<String> {
    let t = r.review.as_ref()?;
    let verb = if r.run_id.is_some() { "" } else { "would be " };
    Some(format!(
        "review: {} values {verb}auto-completed, {} {verb}flagged for review{}",
        t.auto_completed,
        t.flagged,
        match r.run_id {
            Some(id) if t.flagged > 0 => format!(" (esg-sync review report --run {id})"),
            _ => String::new(),
        }
    ))
}

/// The dimension values added (or to add), a line per dimension.
fn new_values_lines(r: &Report) -> Vec<String> {
    let verb = if r.run_id.is_some() {
        "added"
    } else {
        "to add"
    };
    r.new_dimension_values
        .iter()
        .map(|nv| {
            let ids: Vec<&str> = nv.values.iter().map(|v| v.as_str()).collect();
            format!(
                "new values of dimension {} ({verb}): {}",
                nv.name,
                ids.join(", ")
            )
        })
        .collect()
}

/// The hand edits found, the first five, and what was done with them.
fn hand_edit_lines(r: &Report) -> Vec<String> {
    let Some(first) = r.hand_edits.first() else {
        return Vec::new();
    };
    let done = if first.kept {
        "kept as the person left them (on_hand_edit = \"keep\"); set on_hand_edit = \"overwrite\" or change the lake to match"
    } else {
        "overwritten with the lake's values (on_hand_edit = \"overwrite\"); the ledger records what each replaced"
    };
    let mut out = vec![format!(
        "{} values were edited by hand in Workiva since esg-sync wrote them, {done}; first ones:",
        r.hand_edits.len()
    )];
    for e in r.hand_edits.iter().take(5) {
        let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
        let notes = if e.found_notes != e.written_notes {
            format!(
                ", notes {:?} (was {:?})",
                or_none(&e.found_notes),
                or_none(&e.written_notes)
            )
        } else {
            String::new()
        };
        out.push(format!(
            "  {} {} {}: Workiva holds {}{notes}, esg-sync wrote {} in run {}, the lake says {}",
            e.metric,
            e.period,
            if e.coordinates.is_empty() {
                "(no dimensions)"
            } else {
                &e.coordinates
            },
            or_none(&e.found_value),
            or_none(&e.written_value),
            e.since_run,
            or_none(&e.lake_value),
        ));
    }
    out
}

/// The number of rejects, the first five, and where to see them all.
fn rejects_lines(r: &Report) -> Vec<String> {
    let mut out = Vec::new();
    if r.rejects.is_empty() {
        return out;
    }
    out.push(format!("{} rows rejected; first ones:", r.rejects.len()));
    for rj in r.rejects.iter().take(5) {
        out.push(format!(
            "  {} row {}, {}: {}",
            rj.source_file, rj.source_row, rj.field, rj.reason
        ));
    }
    if let Some(id) = r.run_id {
        out.push(format!("  all of them: esg-sync rejects --run {id}"));
    }
    out
}
