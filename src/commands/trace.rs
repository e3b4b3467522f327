//! `esg-sync trace`: the history of one value (or of each value the options leave), newest
//! first: every change esg-sync made to it, from which origin, in which run and operation,
//! and where a person changed it in Workiva in between. Reads the ledger and Workiva's current
//! listing; writes nothing, not even what resolving the pipeline's names learns.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use anyhow::Context;

use crate::app::App;
use crate::cli::{ReportFormat, TraceArgs};
use crate::ledger::Snapshot;
use crate::ledger::history::{self, History, Step};
use crate::sync::ids::MetricId;
use crate::sync::resolve::{self, Resolved};
use crate::sync::{canon, period};

/// Which values the command line names within one metric and year.
struct Wanted {
    metric: MetricId,
    period: Option<String>,
    coordinates: BTreeMap<String, String>,
    value_id: Option<String>,
}

/// `trace`: exit 0 with the history, 1 when nothing matches (or a name is unknown).
pub async fn run(app: &App, a: TraceArgs) -> anyhow::Result<ExitCode> {
    let p = super::run::selected(app.settings(), Some(&a.pipeline))?[0];
    let (client, store) = (app.client().await?, app.store().await?);
    let resolved = resolve::resolve(client, store, p)
        .await
        .with_context(|| format!("pipeline `{}`", p.name))?;
    let wanted = wanted(&resolved, &a)?;
    let meta = &resolved.meta;
    let entries = store
        .ledger_of_metric(meta.id.as_str(), wanted.metric.as_str(), i64::from(a.year))
        .await?;
    let listed =
        resolve::current_values(client, &meta.id, &wanted.metric, &BTreeSet::from([a.year]))
            .await?;
    let dt = meta.metrics.get(&wanted.metric).map(|m| m.data_type);
    let same = |x: &str, y: &str| match dt {
        Some(dt) => canon::same_value(x, y, dt),
        None => x == y,
    };
    let mut current: BTreeMap<history::ValueKey, (Option<String>, Snapshot)> = listed
        .into_iter()
        .filter_map(|v| {
            let key = (
                period::label(&v.reporting_period?),
                v.coordinates.unwrap_or_default().0.into_iter().collect(),
            );
            let snap = Snapshot {
                value: v.value,
                notes: v.notes,
                status: v.status.map(|s| s.as_str().to_string()),
            };
            Some((key, (v.id, snap)))
        })
        .collect();
    let mut groups = history::by_value(entries);
    for key in current.keys() {
        groups.entry(key.clone()).or_default();
    }
    groups.retain(|key, entries| matches(&wanted, key, entries, current.get(key)));
    let histories: Vec<History> = groups
        .into_iter()
        .map(|(key, entries)| {
            let now = current.remove(&key);
            history::history(key, entries, now, &same)
        })
        .collect();
    if histories.is_empty() {
        eprintln!(
            "error: no value of metric `{}` in {} matches (no ledger entry, nothing in Workiva); check --period, --dimension and --value-id",
            a.metric, a.year
        );
        return Ok(ExitCode::from(1));
    }
    if a.output == ReportFormat::Json {
        println!("{}", serde_json::to_string_pretty(&histories)?);
    } else {
        let names = Names::of(&resolved);
        for h in &histories {
            println!("{}", render(&names, &a.metric, h));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether a value is one the command line names.
fn matches(
    w: &Wanted,
    key: &history::ValueKey,
    entries: &[crate::ledger::Content],
    current: Option<&(Option<String>, Snapshot)>,
) -> bool {
    let period = w.period.as_ref().is_none_or(|p| &key.0 == p);
    let coords = w.coordinates.iter().all(|(d, v)| key.1.get(d) == Some(v));
    let id = w.value_id.as_ref().is_none_or(|id| {
        current.is_some_and(|c| c.0.as_ref() == Some(id))
            || entries
                .iter()
                .any(|e| e.change.value_id.as_ref() == Some(id))
    });
    period && coords && id
}

/// The metric, period and coordinates the command line names, as Workiva's ids.
fn wanted(r: &Resolved, a: &TraceArgs) -> anyhow::Result<Wanted> {
    let meta = &r.meta;
    let metric = match r.mapper.metrics.get(&a.metric) {
        Some(Ok(id)) => id.clone(),
        _ => meta
            .metrics
            .iter()
            .find(|(id, m)| id.as_str() == a.metric || m.name == a.metric)
            .map(|(id, _)| id.clone())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "--metric `{}`: neither a lake key of the pipeline's [pipeline.metrics] nor the name or id of a metric of the program",
                    a.metric
                )
            })?,
    };
    let period = a
        .period
        .as_deref()
        .map(|p| period_label(a.year, p))
        .transpose()?;
    let mut coordinates = BTreeMap::new();
    for d in &a.dimension {
        let (name, value) = d.split_once('=').ok_or_else(|| {
            anyhow::anyhow!("--dimension `{d}`: write it as Name=VALUE (Facility=AMES)")
        })?;
        let dim = resolve::resolve_dimension(meta, name.trim()).ok_or_else(|| {
            anyhow::anyhow!("--dimension `{d}`: the program has no dimension `{name}`")
        })?;
        let value = value.trim();
        let id = r
            .mapper
            .dims
            .iter()
            .filter(|c| c.dimension == dim)
            .find_map(|c| c.values.get(value).cloned())
            .unwrap_or_else(|| value.to_string());
        coordinates.insert(dim.as_str().to_string(), id);
    }
    Ok(Wanted {
        metric,
        period,
        coordinates,
        value_id: a.value_id.clone(),
    })
}

/// `--period Q3` (of `--year`), or a whole label (`2025-Q3`, `2025-07`, `2025`).
fn period_label(year: u16, given: &str) -> anyhow::Result<String> {
    let text = if given.starts_with(|c: char| c.is_ascii_digit()) && given.len() >= 4 {
        given.to_string()
    } else {
        format!("{year}-{given}")
    };
    let rp = period::parse_label(&text).map_err(|e| anyhow::anyhow!("--period `{given}`: {e}"))?;
    if rp.year != year {
        anyhow::bail!("--period `{given}` is not in --year {year}");
    }
    Ok(period::label(&rp))
}

/// Dimension names and the lake's keys of values, for the table.
struct Names {
    dimensions: BTreeMap<String, String>,
    values: BTreeMap<(String, String), String>,
}

impl Names {
    fn of(r: &Resolved) -> Self {
        let dimensions = r
            .meta
            .dimensions
            .values()
            .map(|d| (d.id.as_str().to_string(), d.name.clone()))
            .collect();
        let mut values = BTreeMap::new();
        for c in &r.mapper.dims {
            for (lake, id) in &c.values {
                values
                    .entry((c.dimension.as_str().to_string(), id.clone()))
                    .or_insert_with(|| lake.clone());
            }
        }
        Self { dimensions, values }
    }

    fn coordinates(&self, c: &BTreeMap<String, String>) -> String {
        if c.is_empty() {
            return "(no coordinates)".into();
        }
        c.iter()
            .map(|(d, v)| {
                let name = self.dimensions.get(d).unwrap_or(d);
                match self.values.get(&(d.clone(), v.clone())) {
                    Some(lake) if lake != v => format!("{name}={lake} ({v})"),
                    _ => format!("{name}={v}"),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn shown(s: Option<&Snapshot>) -> String {
    match s {
        None => "(none)".into(),
        Some(s) => {
            let mut out = s.value.clone().unwrap_or_else(|| "(empty)".into());
            if let Some(n) = s.notes.as_deref().filter(|n| !n.is_empty()) {
                out.push_str(&format!(" [notes: {n}]"));
            }
            out
        }
    }
}

/// One value's history as a table, newest first.
fn render(names: &Names, metric: &str, h: &History) -> String {
    let mut out = format!(
        "{metric} {} {}{}\nWorkiva now: {}{}\n",
        h.period,
        names.coordinates(&h.coordinates),
        h.value_id
            .as_ref()
            .map(|id| format!(" (value {id})"))
            .unwrap_or_default(),
        shown(h.current.as_ref()),
        h.current
            .as_ref()
            .and_then(|c| c.status.as_deref())
            .map(|s| format!(", {s}"))
            .unwrap_or_default(),
    );
    let header = [
        "when",
        "what",
        "before",
        "after",
        "origin",
        "run",
        "operation",
    ];
    let rows: Vec<Vec<String>> = h.steps.iter().map(step_row).collect();
    out.push_str(&aligned(&header, &rows));
    out
}

/// Columns padded to their widest cell, two spaces apart.
fn aligned(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

fn step_row(s: &Step) -> Vec<String> {
    match s {
        Step::Change(c) => {
            let o = &c.change.origin;
            let mut origin = match c.change.action {
                crate::ledger::Action::Baseline => "Workiva's listing (a baseline)".to_string(),
                crate::ledger::Action::Delete => "the lake no longer has it".to_string(),
                _ => format!("{} row {}", o.source, o.row),
            };
            if let Some(v) = &o.version {
                origin.push_str(&format!(" ({})", v.short()));
            }
            let what = if c.change.hand_edit {
                format!("{} (over a hand edit)", c.change.action.as_str())
            } else {
                c.change.action.as_str().to_string()
            };
            vec![
                c.confirmed.confirmed_at.clone(),
                what,
                shown(c.change.before.as_ref()),
                shown(c.change.after.as_ref()),
                origin,
                c.confirmed.run_id.to_string(),
                c.confirmed.operation.clone().unwrap_or_default(),
            ]
        }
        Step::HandEdit {
            since_run,
            until_seq,
            from,
            to,
            ..
        } => vec![
            match until_seq {
                None => "now".into(),
                Some(seq) => format!("before entry {seq}"),
            },
            "hand edit".into(),
            shown(from.as_ref()),
            shown(to.as_ref()),
            format!("a person in Workiva, since run {since_run}"),
            String::new(),
            String::new(),
        ],
    }
}
