//! The evidence pack's tables, from what was read: Workiva's values of the year with their
//! last ledger entries, the year's ledger entries, rejects, reviews and decisions. Every
//! cell is text (or empty). Pure.

use std::collections::{BTreeMap, HashMap};

use crate::ledger::{Action, Content, Snapshot, Stored};
use crate::store::{Decision, RunReject, RunReview};
use crate::workiva::models::ListedValue;

/// One table of the pack: its file's stem, header and rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// A metric of the pack: Workiva's id and name, and the lake's key where a pipeline maps one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricInfo {
    pub id: String,
    pub name: String,
    pub key: Option<String>,
}

/// The ledger table's columns; `seq`, `prev_hash`, `hash` and `content` are what
/// `evidence verify` checks the chain with, the rest are read from `content`.
pub const LEDGER_HEADER: [&str; 30] = [
    "seq",
    "confirmed_at",
    "action",
    "program_id",
    "metric_id",
    "metric_key",
    "year",
    "period",
    "coordinates",
    "value_id",
    "before_value",
    "before_notes",
    "before_status",
    "after_value",
    "after_notes",
    "after_status",
    "hand_edit",
    "pipeline",
    "source",
    "row",
    "version",
    "run_id",
    "batch_id",
    "deletion_id",
    "operation",
    "confirmed_by_run",
    "config",
    "prev_hash",
    "hash",
    "content",
];

fn s(v: impl ToString) -> Option<String> {
    Some(v.to_string())
}

fn snap(x: Option<&Snapshot>) -> [Option<String>; 3] {
    match x {
        None => [None, None, None],
        Some(x) => [x.value.clone(), x.notes.clone(), x.status.clone()],
    }
}

/// One ledger entry's row: its columns read from its content, then its hashes and content.
pub fn ledger_row(e: &Stored, c: &Content) -> Vec<Option<String>> {
    let ch = &c.change;
    let [bv, bn, bs] = snap(ch.before.as_ref());
    let [av, an, at] = snap(ch.after.as_ref());
    let o = &ch.origin;
    vec![
        s(e.seq),
        s(&c.confirmed.confirmed_at),
        s(ch.action.as_str()),
        s(&ch.program_id),
        s(&ch.metric_id),
        s(&ch.metric_key),
        s(ch.year),
        s(&ch.period),
        s(crate::ledger::Change::coordinates_text(&ch.coordinates)),
        ch.value_id.clone(),
        bv,
        bn,
        bs,
        av,
        an,
        at,
        s(ch.hand_edit),
        s(&o.pipeline),
        s(&o.source),
        s(o.row),
        o.version
            .as_ref()
            .and_then(|v| serde_json::to_string(v).ok()),
        s(c.confirmed.run_id),
        c.confirmed.batch_id.map(|b| b.to_string()),
        c.confirmed.deletion_id.map(|d| d.to_string()),
        c.confirmed.operation.clone(),
        s(c.confirmed.run_id != 0),
        s(&ch.config),
        s(&e.prev_hash),
        s(&e.hash),
        s(&e.content),
    ]
}

/// The year's ledger entries.
pub fn ledger(entries: &[(Stored, Content)]) -> Table {
    Table {
        name: "ledger",
        header: LEDGER_HEADER.to_vec(),
        rows: entries.iter().map(|(e, c)| ledger_row(e, c)).collect(),
    }
}

/// Workiva's values of the year, each with its last ledger entry (or marked as never written
/// by esg-sync) and whether Workiva still holds what that entry left.
pub fn values(
    metrics: &[(MetricInfo, Vec<ListedValue>)],
    entries: &[(Stored, Content)],
    dimensions: &HashMap<String, String>,
    same: &dyn Fn(&str, &str, &str) -> bool,
) -> Table {
    let mut last: BTreeMap<(String, String, String), &Content> = BTreeMap::new();
    for (e, c) in entries {
        last.insert(
            (
                e.metric_id.clone(),
                c.change.period.clone(),
                e.coordinates.clone(),
            ),
            c,
        );
    }
    let mut rows = Vec::new();
    for (m, listed) in metrics {
        for v in listed {
            let Some(rp) = v.reporting_period else {
                continue;
            };
            let ids: BTreeMap<String, String> = v
                .coordinates
                .clone()
                .unwrap_or_default()
                .0
                .into_iter()
                .collect();
            let coords = crate::ledger::Change::coordinates_text(&ids);
            let period = crate::sync::period::label(&rp);
            let entry = last
                .get(&(m.id.clone(), period.clone(), coords.clone()))
                .copied();
            let mut row = vec![
                s(&m.id),
                s(&m.name),
                m.key.clone(),
                s(&period),
                s(named(&ids, dimensions)),
                s(&coords),
                v.id.clone(),
                v.value.clone(),
                v.notes.clone(),
                v.status.map(|x| x.as_str().to_string()),
            ];
            row.extend(written(entry, v, &|a, b| same(&m.id, a, b)));
            rows.push(row);
        }
    }
    Table {
        name: "values",
        header: vec![
            "metric_id",
            "metric",
            "metric_key",
            "period",
            "coordinates",
            "coordinate_ids",
            "value_id",
            "value",
            "notes",
            "status",
            "written_by_esg_sync",
            "as_written",
            "ledger_seq",
            "ledger_action",
            "ledger_confirmed_at",
            "ledger_run",
            "ledger_operation",
            "ledger_source",
            "ledger_row",
            "ledger_version",
        ],
        rows,
    }
}

/// The ledger's side of a value's row: whether esg-sync wrote it, whether Workiva still holds
/// what it wrote, and the last entry's particulars.
fn written(
    entry: Option<&Content>,
    v: &ListedValue,
    same: &dyn Fn(&str, &str) -> bool,
) -> Vec<Option<String>> {
    let Some(c) = entry.filter(|c| c.change.action != Action::Delete) else {
        let mut out = vec![s("no"), None];
        out.resize(10, None);
        return out;
    };
    let after = c.change.after.clone().unwrap_or_default();
    let text = |x: &Option<String>| x.clone().unwrap_or_default();
    let held = same(&text(&after.value), &text(&v.value)) && text(&after.notes) == text(&v.notes);
    let o = &c.change.origin;
    vec![
        s("yes"),
        s(if held {
            "yes"
        } else {
            "no: edited in Workiva since"
        }),
        s(c.seq),
        s(c.change.action.as_str()),
        s(&c.confirmed.confirmed_at),
        s(c.confirmed.run_id),
        c.confirmed.operation.clone(),
        s(&o.source),
        s(o.row),
        o.version
            .as_ref()
            .and_then(|x| serde_json::to_string(x).ok()),
    ]
}

/// `Dimension=value id` pairs, `; `-separated, by the dimensions' names.
fn named(ids: &BTreeMap<String, String>, dimensions: &HashMap<String, String>) -> String {
    ids.iter()
        .map(|(d, v)| format!("{}={v}", dimensions.get(d).unwrap_or(d)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The year's rejects, with their runs.
pub fn rejects(list: &[RunReject]) -> Table {
    Table {
        name: "rejects",
        header: vec![
            "run",
            "source_file",
            "source_row",
            "field",
            "reason",
            "metric_key",
            "period",
            "value",
        ],
        rows: list
            .iter()
            .map(|(run, r)| {
                vec![
                    s(run),
                    s(&r.source_file),
                    s(r.source_row),
                    s(&r.field),
                    s(&r.reason),
                    r.metric_key.clone(),
                    r.period.clone(),
                    r.value.clone(),
                ]
            })
            .collect(),
    }
}

/// The year's threshold reviews, with their runs.
pub fn reviews(list: &[RunReview]) -> Table {
    Table {
        name: "reviews",
        header: vec![
            "run",
            "metric",
            "period",
            "coordinates",
            "value",
            "prior",
            "delta",
            "delta_percent",
            "flagged",
            "reason",
        ],
        rows: list
            .iter()
            .map(|(run, r)| {
                vec![
                    s(run),
                    s(&r.metric),
                    s(&r.period),
                    s(&r.coordinates),
                    s(&r.value),
                    r.prior.clone(),
                    r.delta.clone(),
                    r.delta_percent.clone(),
                    s(r.flagged),
                    s(&r.reason),
                ]
            })
            .collect(),
    }
}

/// The final reviewers' decisions on the program's tasks.
pub fn decisions(list: &[Decision]) -> Table {
    let time = |t: &chrono::DateTime<chrono::Utc>| {
        s(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    };
    Table {
        name: "decisions",
        header: vec![
            "id",
            "reviewer",
            "program_id",
            "task_id",
            "task_title",
            "step",
            "action",
            "comment",
            "state",
            "created_at",
            "updated_at",
        ],
        rows: list
            .iter()
            .map(|d| {
                vec![
                    s(d.id),
                    s(&d.reviewer),
                    s(&d.program_id),
                    s(&d.task_id),
                    s(&d.task_title),
                    s(d.step),
                    s(d.action.as_str()),
                    s(&d.comment),
                    s(d.state.as_str()),
                    time(&d.created_at),
                    time(&d.updated_at),
                ]
            })
            .collect(),
    }
}
