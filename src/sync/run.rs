//! One run of a pipeline: resume what an interrupted run left, plan, record, execute, record
//! the outcome. State moves only on completed operations.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::{StreamExt, TryStreamExt};

use super::execute::{self, Ctx, Outcome};
use super::plan::{self, MetricPlan, Plan, PlanError, Row};
use crate::config::{Mode, PipelineConfig};
use crate::source::parquet;
use crate::store::{Counts, Reject, Store};
use crate::workiva::{ListOptions, WorkivaClient};

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

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub dry_run: bool,
    /// Mirror mode: delete even when more than `max_delete_fraction` would go.
    pub force: bool,
    /// Only these years (inclusive).
    pub years: Option<(u16, u16)>,
    /// Cancelled when a shutdown begins: the run sends no new batch, polls the ones in flight
    /// to their end and records itself as `interrupted`.
    pub stop: tokio_util::sync::CancellationToken,
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
    pub message: Option<String>,
    #[serde(skip)]
    pub rejects: Vec<Reject>,
}

impl Report {
    fn failed(pipeline: &str, run_id: Option<i64>, message: String) -> Self {
        Self::ended(pipeline, run_id, Status::Failed, message)
    }

    /// A run that ended before it wrote anything, with why.
    fn ended(pipeline: &str, run_id: Option<i64>, status: Status, message: String) -> Self {
        Self {
            pipeline: pipeline.into(),
            run_id,
            status,
            counts: Counts::default(),
            metrics: Vec::new(),
            batches: 0,
            resumed_batches: 0,
            message: Some(message),
            rejects: Vec::new(),
        }
    }
}

/// Builds the plan: resolve, read, validate, diff. Writes nothing to Workiva.
pub async fn build_plan(
    client: &WorkivaClient,
    store: &Store,
    p: &PipelineConfig,
    opts: &RunOptions,
) -> Result<Plan, PlanError> {
    let program = plan::resolve_program(client, store, &p.program, &p.name).await?;
    let meta = plan::load_program(client, &program).await?;
    let files = parquet::expand(&p.source)?;
    let columns = p.columns.clone();
    let source = tokio::task::spawn_blocking(move || parquet::read_all(&files, &columns))
        .await
        .map_err(|e| PlanError::Config {
            pipeline: p.name.clone(),
            message: format!("the reader stopped: {e}"),
        })??;
    let read = source.len();
    let validated = plan::validate(p, &meta, store, source).await?;
    let mut rejects = validated.rejects;
    let in_years = |y: u16| opts.years.is_none_or(|(a, b)| (a..=b).contains(&y));
    let mut by_metric: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    for r in validated
        .rows
        .into_iter()
        .filter(|r| in_years(r.period.year))
    {
        by_metric.entry(r.metric_id.clone()).or_default().push(r);
    }
    // Every metric the pipeline maps, so mirror mode sees metrics whose rows all went away.
    let mut metric_ids: BTreeSet<String> = by_metric.keys().cloned().collect();
    if p.mode == Mode::Mirror {
        for target in p.metrics.values().chain(p.columns.fixed_metric.iter()) {
            if let Some(m) = meta
                .metrics
                .values()
                .find(|m| &m.id == target || &m.name == target)
            {
                metric_ids.insert(m.id.clone());
            }
        }
    }
    // Workiva's values of each metric, several metrics at once.
    let jobs: Vec<(String, Vec<Row>, BTreeSet<u16>)> = metric_ids
        .into_iter()
        .map(|mid| {
            let rows = by_metric.remove(&mid).unwrap_or_default();
            let years: BTreeSet<u16> = match opts.years {
                Some((a, b)) => (a..=b).collect(),
                None => rows.iter().map(|r| r.period.year).collect(),
            };
            (mid, rows, years)
        })
        .collect();
    // Workiva's values of each metric, several metrics at once; each metric is diffed as soon
    // as its values arrive, so only a few metrics' values are held at a time.
    let program_ref = &program;
    let (meta_ref, claimed) = (&meta, &validated.claimed);
    let diffed: Vec<(MetricPlan, Vec<Reject>, usize)> = futures_util::stream::iter(jobs)
        .map(|(mid, rows, years)| async move {
            let existing = match plan::years_filter(&years) {
                Some(f) => {
                    client
                        .values(program_ref, &mid, &ListOptions::filter(f))
                        .await?
                }
                None => Vec::new(),
            };
            let existing: Vec<_> = existing
                .into_iter()
                .filter(|v| {
                    v.reporting_period
                        .is_some_and(|rp| years.contains(&rp.year))
                })
                .collect();
            let n = existing.len();
            let (mp, more) = plan::diff_metric(
                p,
                meta_ref,
                &meta_ref.metrics[&mid],
                rows,
                existing,
                claimed,
            );
            Ok::<_, PlanError>((mp, more, n))
        })
        .buffer_unordered(4)
        .try_collect()
        .await?;
    let mut metrics = Vec::new();
    let mut in_scope = 0;
    for (mp, more, n) in diffed {
        in_scope += n;
        rejects.extend(more);
        metrics.push(mp);
    }
    metrics.sort_by(|a, b| a.metric_name.cmp(&b.metric_name));
    Ok(Plan {
        pipeline: p.name.clone(),
        program_id: program,
        metrics,
        rejects,
        read,
        in_scope,
    })
}

/// Runs one pipeline (or plans it, with `dry_run`). A run holds the pipeline's lease in the
/// store, so no two processes run one pipeline at once.
pub async fn run_pipeline(
    client: &WorkivaClient,
    store: &Store,
    p: &PipelineConfig,
    opts: &RunOptions,
) -> Report {
    if opts.dry_run {
        return run_leased(client, store, p, opts).await;
    }
    let lease = match super::lease::acquire(store, &p.name).await {
        Ok(Ok(l)) => l,
        Ok(Err(busy)) => {
            return Report::ended(&p.name, None, Status::Busy, busy);
        }
        Err(e) => return Report::failed(&p.name, None, e.to_string()),
    };
    let r = run_leased(client, store, p, opts).await;
    lease.release().await;
    r
}

async fn run_leased(
    client: &WorkivaClient,
    store: &Store,
    p: &PipelineConfig,
    opts: &RunOptions,
) -> Report {
    let mut resumed = 0;
    if !opts.dry_run {
        match execute::resume(client, store, &p.name).await {
            Ok(n) => resumed = n,
            Err(e) => {
                return Report::failed(
                    &p.name,
                    None,
                    format!("resuming the interrupted run's batches failed: {e}"),
                );
            }
        }
    }
    let plan = match build_plan(client, store, p, opts).await {
        Ok(pl) => pl,
        Err(e) => {
            if !opts.dry_run
                && let Ok(id) = store.run_start(&p.name).await
            {
                let _ = store
                    .run_finish(id, "failed", &Counts::default(), Some(&e.to_string()))
                    .await;
                return Report::failed(&p.name, Some(id), e.to_string());
            }
            return Report::failed(&p.name, None, e.to_string());
        }
    };
    let planned = plan.counts();
    if opts.dry_run {
        let status = if planned.rejected > 0 || planned.locked > 0 {
            Status::Partial
        } else {
            Status::Planned
        };
        return Report {
            pipeline: p.name.clone(),
            run_id: None,
            status,
            counts: planned,
            metrics: plan.metrics,
            batches: 0,
            resumed_batches: 0,
            message: None,
            rejects: plan.rejects,
        };
    }
    let run_id = match store.run_start(&p.name).await {
        Ok(id) => id,
        Err(e) => return Report::failed(&p.name, None, e.to_string()),
    };
    if opts.stop.is_cancelled() {
        let msg = "stopped by a shutdown after planning, before sending anything; the next run plans again".to_string();
        let _ = store
            .run_finish(run_id, Status::Interrupted.as_str(), &planned, Some(&msg))
            .await;
        let mut r = Report::ended(&p.name, Some(run_id), Status::Interrupted, msg);
        r.counts = planned;
        return r;
    }
    super::failpoint::hit("run_started");
    let fail = |msg: String, c: Counts| async move {
        let _ = store.run_finish(run_id, "failed", &c, Some(&msg)).await;
        msg
    };
    if let Err(e) = store.rejects_insert(run_id, &p.name, &plan.rejects).await {
        let m = fail(e.to_string(), planned).await;
        return Report::failed(&p.name, Some(run_id), m);
    }
    if p.mode == Mode::Mirror && plan.in_scope > 0 {
        let deletes = planned.deleted as f64;
        let share = deletes / plan.in_scope as f64;
        if share > p.max_delete_fraction && !opts.force {
            let msg = format!(
                "mirror mode would delete {} of the {} values in scope ({:.0}%), more than max_delete_fraction {:.0}%; nothing was changed. Check the source, or run with --force",
                planned.deleted,
                plan.in_scope,
                share * 100.0,
                p.max_delete_fraction * 100.0
            );
            let m = fail(
                msg,
                Counts {
                    created: 0,
                    updated: 0,
                    deleted: 0,
                    ..planned
                },
            )
            .await;
            let mut r = Report::failed(&p.name, Some(run_id), m);
            r.metrics = plan.metrics;
            r.rejects = plan.rejects;
            return r;
        }
    }
    let progress =
        execute::Progress::new(&p.name, plan.metrics.iter().map(|m| m.writes.len()).sum());
    let ctx = Ctx {
        client,
        store,
        run_id,
        pipeline: &p.name,
        program: &plan.program_id,
        budget: p.batch_bytes,
        progress: &progress,
        stop: &opts.stop,
    };
    let jobs: Vec<(usize, MetricPlan)> = plan.metrics.iter().cloned().enumerate().collect();
    let outcomes: Vec<(usize, Outcome)> = futures_util::stream::iter(jobs)
        .map(|(i, mp)| {
            let ctx = &ctx;
            async move {
                let mut out = execute::write_metric(ctx, &mp.metric_id, mp.writes).await;
                if out.error.is_none() && !mp.delete_ids.is_empty() {
                    execute::delete_values(ctx, &mp.metric_id, &mp.delete_ids, &mut out).await;
                }
                (i, out)
            }
        })
        .buffer_unordered(p.concurrency.max(1))
        .collect()
        .await;
    let mut metrics = plan.metrics;
    let mut counts = Counts {
        read: planned.read,
        unchanged: planned.unchanged,
        locked: planned.locked,
        ..Counts::default()
    };
    let mut rejects = plan.rejects;
    let mut errors = Vec::new();
    let mut batches = 0;
    let mut late_rejects = Vec::new();
    let mut unsent = 0;
    for (i, out) in outcomes {
        unsent += out.unsent;
        let m = &mut metrics[i];
        counts.created += out.created as i64;
        counts.updated += out.updated as i64;
        counts.deleted += out.deleted as i64;
        batches += out.batches;
        m.rejects += out.rejects.len();
        if let Some(e) = out.error {
            errors.push(format!("metric `{}`: {e}", m.metric_name));
        }
        late_rejects.extend(out.rejects.into_iter().map(|mut r| {
            r.metric_key = Some(m.metric_name.clone());
            r
        }));
    }
    if let Err(e) = store.rejects_insert(run_id, &p.name, &late_rejects).await {
        errors.push(e.to_string());
    }
    rejects.extend(late_rejects);
    counts.rejected = rejects.len() as i64;
    if unsent > 0 {
        errors.push(format!(
            "stopped by a shutdown: batches in flight finished, {unsent} values were not sent; the next run sends them"
        ));
    }
    let status = if unsent > 0 {
        Status::Interrupted
    } else if !errors.is_empty() {
        Status::Failed
    } else if counts.rejected > 0 || counts.locked > 0 {
        Status::Partial
    } else {
        Status::Succeeded
    };
    let message = (!errors.is_empty()).then(|| errors.join("; "));
    if let Err(e) = store
        .run_finish(run_id, status.as_str(), &counts, message.as_deref())
        .await
    {
        tracing::error!(error = %e, "Could not record the end of the run.");
    }
    Report {
        pipeline: p.name.clone(),
        run_id: Some(run_id),
        status,
        counts,
        metrics,
        batches,
        resumed_batches: resumed,
        message,
        rejects,
    }
}

/// The summary table of one report.
pub fn render(r: &Report) -> String {
    let mut out = vec![format!(
        "pipeline {}: {}{}",
        r.pipeline,
        r.status.as_str(),
        r.run_id.map(|i| format!(" (run {i})")).unwrap_or_default()
    )];
    let header = [
        "metric",
        "create",
        "update",
        "unchanged",
        "locked",
        "delete",
        "reject",
    ];
    let mut rows: Vec<Vec<String>> = r
        .metrics
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
        })
        .collect();
    let c = &r.counts;
    // Rows rejected while reading and validating belong to no metric's diff; this row makes
    // the column add up to the total.
    let before_diff = c.rejected - r.metrics.iter().map(|m| m.rejects as i64).sum::<i64>();
    if before_diff > 0 {
        let dash = || "-".to_string();
        rows.push(vec![
            "(rejected before the diff)".into(),
            dash(),
            dash(),
            dash(),
            dash(),
            dash(),
            before_diff.to_string(),
        ]);
    }
    rows.push(vec![
        "total".into(),
        c.created.to_string(),
        c.updated.to_string(),
        c.unchanged.to_string(),
        c.locked.to_string(),
        c.deleted.to_string(),
        c.rejected.to_string(),
    ]);
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
    out.push(line(header.iter().map(|h| h.to_string()).collect()));
    for row in rows {
        out.push(line(row));
    }
    out.push(format!(
        "rows read: {}; batches sent: {}{}",
        c.read,
        r.batches,
        if r.resumed_batches > 0 {
            format!(
                "; batches resumed from an interrupted run: {}",
                r.resumed_batches
            )
        } else {
            String::new()
        }
    ));
    if r.status == Status::Planned || (r.run_id.is_none() && r.status == Status::Partial) {
        out.push("dry run: nothing was written to Workiva".into());
    }
    if !r.rejects.is_empty() {
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
    }
    if let Some(m) = &r.message {
        out.push(format!("error: {m}"));
    }
    out.join("\n")
}
