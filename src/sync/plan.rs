//! Plan: the plan's types and `build_plan`, which runs the planning steps in order: resolve
//! (all reads of Workiva and the mapping store), read the source, validate, then per metric
//! list Workiva's current values and diff. The mirror-mode guard is part of the plan, so a dry
//! run refuses exactly what a run would. Nothing is written here.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::{StreamExt, TryStreamExt};

use super::diff::{Known, diff_metric, prior_values};
use super::error::{GuardRefused, PlanError};
use super::hand_edit;
use super::ids::{DimensionId, DimensionValueId, MetricId, ProgramId};
use super::progress::Phase;
use super::resolve::{self, MappingChange, Resolved};
use super::validate::{Checker, Row, Validated};
use crate::config::{Mode, PipelineConfig};
use crate::outcome::{Counts, HandEdit, Reject};
use crate::source::Versions;
use crate::source::parquet::SourceError;
use crate::source::stream::{self, Piece, ReadError};
use crate::store::Store;
use crate::workiva::WorkivaClient;

pub use super::diff::{MetricPlan, Write};

/// How many metrics' values are listed and diffed at once (the client's adaptive limit
/// governs the requests; this bounds how many metrics' values are held).
const LISTING_CONCURRENCY: usize = 16;

/// What a run would do, metric by metric.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub pipeline: String,
    pub program_id: ProgramId,
    pub metrics: Vec<MetricPlan>,
    pub rejects: Vec<Reject>,
    pub read: usize,
    /// Values of the pipeline's scope in Workiva (for the mirror guard).
    pub in_scope: usize,
    /// What the mapping store should learn; a run records it, a dry run does not.
    pub mapping_changes: Vec<MappingChange>,
    /// With `create_dimension_values`: the values the rows use that Workiva lacks, per
    /// dimension; a run adds them before sending values, a dry run lists them.
    pub new_dimension_values: Vec<NewValues>,
    /// The version of each origin (file, object, query) whose rows stand, by its name: the
    /// ledger records it with each change.
    pub versions: Versions,
    /// Values a person edited in Workiva since esg-sync last wrote them, which the lake would
    /// change again: left out of the writes (`keep`) or overwritten.
    pub hand_edits: Vec<HandEdit>,
}

/// Values to add to one dimension.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct NewValues {
    #[serde(skip)]
    pub dimension: DimensionId,
    /// The dimension's name.
    pub name: String,
    pub values: Vec<DimensionValueId>,
}

impl Plan {
    pub fn counts(&self) -> Counts {
        let mut c = Counts {
            read: self.read as i64,
            rejected: self.rejects.len() as i64,
            ..Counts::default()
        };
        for m in &self.metrics {
            c.created += m.creates as i64;
            c.updated += m.updates as i64;
            c.unchanged += m.unchanged as i64;
            c.locked += m.locked as i64;
            c.hand_edited += m.hand_edited as i64;
            c.deleted += m.deletes as i64;
        }
        c
    }

    /// Mirror mode's guard: a plan that deletes more than `max_delete_fraction` of the values
    /// in scope is refused unless forced.
    pub fn guard(&self, p: &PipelineConfig, force: bool) -> Result<(), GuardRefused> {
        let deletes: usize = self.metrics.iter().map(|m| m.deletes).sum();
        if p.mode != Mode::Mirror || self.in_scope == 0 || force {
            return Ok(());
        }
        if deletes as f64 / self.in_scope as f64 > p.max_delete_fraction {
            return Err(GuardRefused {
                deletes,
                in_scope: self.in_scope,
                limit: p.max_delete_fraction,
            });
        }
        Ok(())
    }
}

/// Reads the pipeline's source and validates it chunk by chunk as it arrives, so only a few
/// chunks of raw rows are held at once; the compact valid rows are kept. An origin (a file, an
/// object) that fails part way gives none of its rows: it becomes a reject naming it, and the
/// other origins' rows still land. In mirror mode it fails the plan, since what the source
/// holds is then unknown and nothing may be deleted; a failed query always does.
/// Returns the validated rows, the number of rows read and the version of each origin read.
async fn read_and_validate(
    p: &PipelineConfig,
    resolved: &Resolved,
) -> Result<(Validated, usize, Versions), PlanError> {
    let mut stream = stream::open(&p.source, &p.columns, &p.name)
        .await
        .map_err(|e| PlanError::read(&p.name, e))?;
    let reading = Phase::start(&p.name, "reading the source", "rows", None);
    let mut checker = Checker::new(p, &resolved.meta, &resolved.mapper);
    let mut out = Validated::default();
    // The origin being read checks into `pending`, whose rows are the valid rows so far (the
    // one big vector, moved, never copied) and whose rejects and claimed keys are its own:
    // rows past `mark` are the origin's, dropped if it fails part way.
    let mut pending = Validated::default();
    let (mut mark, mut started) = (0usize, false);
    let (mut read, mut pending_read) = (0usize, 0usize);
    let (mut unreadable, mut versions) = (Vec::new(), Versions::new());
    while let Some(piece) = stream.next().await {
        match piece {
            Piece::Rows(rows) => {
                if !started {
                    pending.rows = std::mem::take(&mut out.rows);
                    (mark, started) = (pending.rows.len(), true);
                }
                reading.add(rows.len() as u64);
                pending_read += rows.len();
                checker.check(rows, &mut pending);
            }
            Piece::Done(origin, version) => {
                versions.insert(origin, version);
                if std::mem::take(&mut started) {
                    out.rows = std::mem::take(&mut pending.rows);
                }
                out.append(std::mem::take(&mut pending));
                read += std::mem::take(&mut pending_read);
            }
            Piece::Stopped(reason) => {
                return Err(PlanError::read(&p.name, ReadError::Stopped(reason)));
            }
            Piece::Failed(_, e @ (ReadError::Sql(_) | ReadError::Stopped(_))) => {
                return Err(PlanError::read(&p.name, e));
            }
            Piece::Failed(_, ReadError::File(e)) => {
                if std::mem::take(&mut started) {
                    pending.rows.truncate(mark);
                    out.rows = std::mem::take(&mut pending.rows);
                }
                pending = Validated::default();
                pending_read = 0;
                unreadable.push(e);
            }
        }
    }
    reading.finish();
    if p.mode == Mode::Mirror
        && let Some(e) = SourceError::all(std::mem::take(&mut unreadable))
    {
        return Err(e.into());
    }
    out.rejects.extend(unreadable.into_iter().map(|e| Reject {
        source_file: e.file().unwrap_or_default().to_string(),
        source_row: 0,
        field: e.field().to_string(),
        reason: format!("the whole file was skipped: {e}"),
        metric_key: None,
        period: None,
        value: None,
    }));
    Checker::finish(&mut out);
    Ok((out, read, versions))
}

/// One metric to diff: its rows and the years whose values Workiva must list.
struct Job<'r> {
    metric: MetricId,
    rows: &'r mut [Row],
    years: BTreeSet<u16>,
}

/// The valid rows grouped by metric (within `years`), plus in mirror mode every metric the
/// pipeline maps, so a metric whose rows all went away still has its values deleted. The rows
/// are grouped in place (sorted by metric, then by file and row, their reading order), and
/// each job borrows its metric's part: no row is copied.
fn jobs<'r>(
    p: &PipelineConfig,
    r: &Resolved,
    rows: &'r mut Vec<Row>,
    years: Option<(u16, u16)>,
) -> Vec<Job<'r>> {
    let in_years = |y: u16| years.is_none_or(|(a, b)| (a..=b).contains(&y));
    rows.retain(|r| in_years(r.period.year));
    let groups = group_by_metric(rows);
    let mut by_metric: BTreeMap<MetricId, &'r mut [Row]> = BTreeMap::new();
    let mut rest: &'r mut [Row] = rows.as_mut_slice();
    for (metric, n) in groups {
        let (these, more) = std::mem::take(&mut rest).split_at_mut(n);
        by_metric.insert(metric, these);
        rest = more;
    }
    let mut ids: BTreeSet<MetricId> = by_metric.keys().cloned().collect();
    if p.mode == Mode::Mirror {
        for target in p.metrics.values().chain(p.columns.fixed_metric.iter()) {
            if let Some((id, _)) = r
                .meta
                .metrics
                .iter()
                .find(|(id, m)| id.as_str() == target || &m.name == target)
            {
                ids.insert(id.clone());
            }
        }
    }
    ids.into_iter()
        .map(|metric| {
            let rows = by_metric.remove(&metric).unwrap_or_default();
            let years = match years {
                Some((a, b)) => (a..=b).collect(),
                None => rows.iter().map(|r| r.period.year).collect(),
            };
            Job {
                metric,
                rows,
                years,
            }
        })
        .collect()
}

/// Groups the rows by metric in place, keeping their order within each metric (a counting
/// sort: one pass to count, one permutation applied by swaps; no row is copied). Returns each
/// metric with its number of rows, in the order the groups now lie.
fn group_by_metric(rows: &mut [Row]) -> Vec<(MetricId, usize)> {
    let mut index: super::ids::FastMap<&str, usize> = Default::default();
    let mut groups: Vec<(MetricId, usize)> = Vec::new();
    let mut of: Vec<u32> = Vec::with_capacity(rows.len());
    for r in rows.iter() {
        let g = *index.entry(r.metric_id.as_str()).or_insert_with(|| {
            groups.push((r.metric_id.clone(), 0));
            groups.len() - 1
        });
        groups[g].1 += 1;
        of.push(g as u32);
    }
    drop(index);
    let mut next: Vec<usize> = Vec::with_capacity(groups.len());
    let mut at = 0;
    for (_, n) in &groups {
        next.push(at);
        at += n;
    }
    // Where each row goes, in its group's order of reading.
    let mut dest: Vec<u32> = of
        .iter()
        .map(|&g| {
            let d = next[g as usize];
            next[g as usize] += 1;
            d as u32
        })
        .collect();
    drop(of);
    for i in 0..rows.len() {
        while dest[i] as usize != i {
            let j = dest[i] as usize;
            rows.swap(i, j);
            dest.swap(i, j);
        }
    }
    groups
}

/// What diffing one metric found: its plan, the rows it rejects, how many values of the
/// scope Workiva holds, and its hand edits.
type Diffed = (MetricPlan, Vec<Reject>, usize, Vec<HandEdit>);

/// Lists one metric's values and diffs its rows against them, then asks the ledger which of
/// the values it would change a person edited since esg-sync last wrote them.
async fn diff_job(
    client: &WorkivaClient,
    store: &Store,
    p: &PipelineConfig,
    meta: &super::program::ProgramMeta,
    claimed: &std::collections::HashSet<super::ids::ValueKey>,
    job: Job<'_>,
    listing: &Phase,
) -> Result<Diffed, PlanError> {
    // A review also lists the year before each year in scope, in the same listing; those
    // values are only compared with, never diffed or deleted.
    let mut listed = job.years.clone();
    if p.review.is_some() {
        listed.extend(job.years.iter().filter_map(|y| y.checked_sub(1)));
    }
    let mut existing = resolve::current_values(client, &meta.id, &job.metric, &listed).await?;
    let prior = p.review.as_ref().map(|_| prior_values(&existing));
    existing.retain(|v| {
        v.reporting_period
            .is_some_and(|rp| job.years.contains(&rp.year))
    });
    let n = existing.len();
    let metric = &meta.metrics[&job.metric];
    let known = Known {
        claimed,
        prior: prior.as_ref(),
    };
    let (mut mp, more) = diff_metric(p, meta, &job.metric, metric, job.rows, existing, &known);
    let wanted = hand_edit::wanted(&mp.writes);
    let edits = if wanted.is_empty() {
        Vec::new()
    } else {
        let last = store
            .ledger_last_written(meta.id.as_str(), job.metric.as_str(), &wanted)
            .await?;
        hand_edit::sort(&mut mp, &last, metric.data_type, p.on_hand_edit, meta)
    };
    listing.add(1);
    Ok((mp, more, n, edits))
}

/// Builds the plan: resolve, read, validate, diff. Writes nothing, to Workiva or the store.
/// `years`: only these years (inclusive).
pub async fn build_plan(
    client: &WorkivaClient,
    store: &Store,
    p: &PipelineConfig,
    years: Option<(u16, u16)>,
) -> Result<Plan, PlanError> {
    let resolved = resolve::resolve(client, store, p).await?;
    let (validated, read, versions) = read_and_validate(p, &resolved).await?;
    let new_dimension_values = new_values(p, &resolved, &validated.rows);
    let mut rejects = validated.rejects;
    let mut rows = validated.rows;
    let jobs = jobs(p, &resolved, &mut rows, years);
    // Several metrics at once; each is diffed as soon as its values arrive, so only a few
    // metrics' values are held at a time.
    let (meta, claimed) = (&resolved.meta, &validated.claimed);
    let listing = Phase::start(
        &p.name,
        "listing Workiva's values",
        "metrics",
        Some(jobs.len() as u64),
    );
    let diffs: Vec<_> = jobs
        .into_iter()
        .map(|job| diff_job(client, store, p, meta, claimed, job, &listing))
        .collect();
    let diffed: Vec<Diffed> = futures_util::stream::iter(diffs)
        .buffer_unordered(LISTING_CONCURRENCY)
        .try_collect()
        .await?;
    listing.finish();
    let mut metrics = Vec::with_capacity(diffed.len());
    let (mut in_scope, mut hand_edits) = (0, Vec::new());
    for (mp, more, n, edits) in diffed {
        in_scope += n;
        rejects.extend(more);
        hand_edits.extend(edits);
        metrics.push(mp);
    }
    metrics.sort_by(|a, b| a.metric_name.cmp(&b.metric_name));
    hand_edits.sort_by(|a, b| {
        (&a.metric, &a.period, &a.coordinates).cmp(&(&b.metric, &b.period, &b.coordinates))
    });
    Ok(Plan {
        pipeline: p.name.clone(),
        program_id: resolved.meta.id.clone(),
        metrics,
        rejects,
        read,
        in_scope,
        mapping_changes: resolved.mapping_changes,
        new_dimension_values,
        versions,
        hand_edits,
    })
}

/// The dimension values the valid rows use that Workiva does not have (only with
/// `create_dimension_values`: otherwise such rows were rejected).
fn new_values(p: &PipelineConfig, r: &Resolved, rows: &[Row]) -> Vec<NewValues> {
    let mut out: BTreeMap<DimensionId, BTreeSet<DimensionValueId>> = BTreeMap::new();
    if !p.create_dimension_values {
        return Vec::new();
    }
    for (dim, value) in rows.iter().flat_map(|row| row.coords.iter()) {
        let known = r
            .meta
            .dimensions
            .get(dim)
            .is_some_and(|d| d.values.contains_key(value.as_str()));
        if !known {
            out.entry(dim.clone()).or_default().insert(value.clone());
        }
    }
    out.into_iter()
        .map(|(dimension, values)| NewValues {
            name: r
                .meta
                .dimensions
                .get(&dimension)
                .map(|d| d.name.clone())
                .unwrap_or_else(|| dimension.to_string()),
            dimension,
            values: values.into_iter().collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workiva::models::ReportingPeriod;

    fn row(metric: &str, n: u64) -> Row {
        Row {
            src: super::super::validate::SrcRef {
                file: "f".into(),
                row: n,
            },
            metric_key: metric.into(),
            metric_id: MetricId::new(metric),
            period: ReportingPeriod {
                year: 2025,
                start: 1,
                end: 12,
            },
            coords: Vec::new(),
            value: Some(n.to_string()),
            notes: None,
            status: None,
        }
    }

    #[test]
    fn rows_are_grouped_by_metric_in_place_keeping_their_order() {
        let mut rows: Vec<Row> = [("b", 1), ("a", 2), ("b", 3), ("c", 4), ("a", 5), ("b", 6)]
            .iter()
            .map(|(m, n)| row(m, *n))
            .collect();
        let groups = group_by_metric(&mut rows);
        let got: Vec<(&str, u64)> = rows
            .iter()
            .map(|r| (r.metric_id.as_str(), r.src.row))
            .collect();
        assert_eq!(
            got,
            vec![("b", 1), ("b", 3), ("b", 6), ("a", 2), ("a", 5), ("c", 4)]
        );
        let sizes: Vec<(&str, usize)> = groups.iter().map(|(m, n)| (m.as_str(), *n)).collect();
        assert_eq!(sizes, vec![("b", 3), ("a", 2), ("c", 1)]);
    }
}
