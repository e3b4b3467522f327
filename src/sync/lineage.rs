//! Lineage: what each write of a batch will record in the ledger once Workiva confirms it:
//! the value before (as listed at planning) and after, and the row it came from. Pure.

use super::diff::{Deleted, Write};
use super::period;
use crate::ledger::{Action, Before, Change, Origin, Snapshot};
use crate::workiva::models::{MetricValue, ValueStatus};

/// Where the changes of one metric's batches are going.
pub struct Target<'a> {
    pub pipeline: &'a str,
    pub program: &'a str,
    pub metric: &'a str,
    /// The pipeline's configuration fingerprint.
    pub config: &'a str,
    /// The version of each origin read.
    pub versions: &'a crate::source::Versions,
}

/// The ledger's changes for `writes`, in their order.
pub fn changes(t: &Target<'_>, writes: &[Write]) -> Vec<Change> {
    writes.iter().map(|w| change(t, w)).collect()
}

/// The ledger's changes for mirror mode's deletions: what Workiva held, and nothing after.
/// Their origin is the lake's absence: the pipeline, no source, row 0.
pub fn deletions(t: &Target<'_>, deleted: &[Deleted]) -> Vec<Change> {
    deleted
        .iter()
        .map(|d| Change {
            program_id: t.program.to_string(),
            metric_id: t.metric.to_string(),
            metric_key: d.metric_key.as_deref().unwrap_or_default().to_string(),
            year: i64::from(d.period.year),
            period: period::label(&d.period),
            coordinates: d.coordinates.clone(),
            value_id: d.before.id.clone(),
            action: Action::Delete,
            before: Some(d.before.snapshot.clone()),
            after: None,
            hand_edit: false,
            origin: Origin {
                pipeline: t.pipeline.to_string(),
                source: String::new(),
                row: 0,
                version: None,
            },
            config: t.config.to_string(),
        })
        .collect()
}

/// The ledger's baseline for a value Workiva holds (`esg-sync ledger baseline`): nothing
/// before, Workiva's listing after; its origin is Workiva itself (source `workiva`, row 0).
/// `None` for a listed value without a period.
pub fn baseline(
    t: &Target<'_>,
    metric_key: &str,
    v: &crate::workiva::models::ListedValue,
) -> Option<Change> {
    let period = v.reporting_period?;
    Some(Change {
        program_id: t.program.to_string(),
        metric_id: t.metric.to_string(),
        metric_key: metric_key.to_string(),
        year: i64::from(period.year),
        period: period::label(&period),
        coordinates: v
            .coordinates
            .clone()
            .unwrap_or_default()
            .0
            .into_iter()
            .collect(),
        value_id: v.id.clone(),
        action: Action::Baseline,
        before: None,
        after: Some(Before::listed(None, v.value.clone(), v.notes.clone(), v.status).snapshot),
        hand_edit: false,
        origin: Origin {
            pipeline: t.pipeline.to_string(),
            source: "workiva".to_string(),
            row: 0,
            version: None,
        },
        config: t.config.to_string(),
    })
}

fn change(t: &Target<'_>, w: &Write) -> Change {
    let after = after(&w.item, w.before.as_deref());
    let period = w.item.reporting_period.unwrap_or_default();
    Change {
        program_id: t.program.to_string(),
        metric_id: t.metric.to_string(),
        metric_key: w.metric_key.to_string(),
        year: i64::from(period.year),
        period: period::label(&period),
        coordinates: w.item.coordinates.clone().unwrap_or_default(),
        value_id: w.before.as_ref().and_then(|b| b.id.clone()),
        action: action(w, &after),
        before: w.before.as_ref().map(|b| b.snapshot.clone()),
        after: Some(after),
        hand_edit: w.hand_edit,
        origin: Origin {
            pipeline: t.pipeline.to_string(),
            source: w.src.file.to_string(),
            row: w.src.row,
            version: t.versions.get(&w.src.file).cloned(),
        },
        config: t.config.to_string(),
    }
}

/// The value as it stands once the write lands: what it sends, and what it leaves as it was.
pub(super) fn after(item: &MetricValue, before: Option<&Before>) -> Snapshot {
    let was = before.map(|b| &b.snapshot);
    let cleared = |f: &str| item.fields_to_clear.iter().any(|c| c == f);
    let kept = |field: fn(&Snapshot) -> &Option<String>| was.and_then(|s| field(s).clone());
    Snapshot {
        value: if cleared("value") {
            None
        } else {
            item.value.clone().or_else(|| kept(|s| &s.value))
        },
        notes: if cleared("notes") {
            None
        } else {
            item.notes.clone().or_else(|| kept(|s| &s.notes))
        },
        status: item
            .status
            .map(|s| s.as_str().to_string())
            .or_else(|| kept(|s| &s.status))
            .or_else(|| Some(ValueStatus::default().as_str().to_string())),
    }
}

fn action(w: &Write, after: &Snapshot) -> Action {
    let Some(before) = &w.before else {
        return Action::Create;
    };
    let was = &before.snapshot;
    if after.value.is_none() && was.value.is_some() {
        Action::Clear
    } else if after.value == was.value && after.notes == was.notes {
        Action::Status
    } else {
        Action::Update
    }
}

/// The fingerprint of a pipeline's effective configuration: the SHA-256 of its settings as
/// they are shown (secrets masked), the same for the same settings under one version.
pub fn fingerprint(p: &crate::config::PipelineConfig) -> String {
    use sha2::Digest;
    crate::ledger::hex(&sha2::Sha256::digest(format!("{p:?}").as_bytes()))
}
