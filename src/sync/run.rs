//! Run: one run of a pipeline, in the order it happens: take the pipeline's lease, resume what
//! an interrupted run left, plan, record the run and the plan's rejects, apply the mirror
//! guard, execute metric by metric, and record the outcome. State moves only on completed
//! operations. A dry run (`plan`, `--dry-run`) stops after the plan and its guard, and writes
//! nothing anywhere.

use std::sync::Arc;

use futures_util::StreamExt;

use super::error::{MetricFailure, RunError};
use super::execute::{self, Ctx, Outcome};
use super::failpoint;
use super::lease;
use super::plan::{MetricPlan, Plan, build_plan};
use super::progress::Phase;
use super::report::{Report, ReviewTotals, Status, status_of};
use super::resolve::apply_mapping_changes;
use crate::config::PipelineConfig;
use crate::outcome::{Counts, Reject};
use crate::store::{RunStatus, Store, StoreError};
use crate::workiva::WorkivaClient;
use crate::workiva::tally::{self, RetryTally};

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
    /// How long the pipeline's lease lasts unrenewed (default [`lease::TTL`]); it is renewed
    /// every quarter of that, and before each batch.
    pub lease_ttl: Option<std::time::Duration>,
}

/// Runs one pipeline (or plans it, with `dry_run`). A run holds the pipeline's lease in the
/// store, so no two processes run one pipeline at once.
pub async fn run_pipeline(
    client: &WorkivaClient,
    store: &Store,
    p: &PipelineConfig,
    opts: &RunOptions,
) -> Report {
    let tally = std::sync::Arc::new(RetryTally::default());
    let r = tally::scope(tally.clone(), run_or_plan(client, store, p, opts)).await;
    if let Some(why) = tally.summary() {
        tracing::info!(pipeline = %p.name, run = r.run_id, retried = tally.total(), reasons = %why, "Requests were retried during the run.");
    }
    tracing::info!(pipeline = %p.name, run = r.run_id, concurrency_limit = client.concurrency_limit(), "Requests in flight at once at the run's end (the adaptive limit).");
    r
}

async fn run_or_plan(
    client: &WorkivaClient,
    store: &Store,
    p: &PipelineConfig,
    opts: &RunOptions,
) -> Report {
    if opts.dry_run {
        return caught(store, p, false, dry_run(client, store, p, opts)).await;
    }
    // The run's own stop: a shutdown, or the loss of its lease.
    let stop = opts.stop.child_token();
    let ttl = opts.lease_ttl.unwrap_or(lease::TTL);
    let lease = match lease::acquire(store, &p.name, ttl, stop.clone()).await {
        Ok(Ok(l)) => l,
        Ok(Err(held)) => {
            let busy = RunError::Busy {
                pipeline: p.name.clone(),
                holder: held.holder,
                until: held.until,
            };
            return Report::from_error(&p.name, None, busy);
        }
        Err(e) => return Report::from_error(&p.name, None, e.into()),
    };
    let held = Held {
        stop: &stop,
        lease: &lease,
    };
    // Every write of the run carries the lease's fencing token from here on.
    let store = &lease.fenced_store();
    // And every write to Workiva, each attempt, goes only while the lease is confirmed and
    // the run is not stopping.
    let run = caught(store, p, true, run_leased(client, store, p, opts, held));
    let r = crate::workiva::gate::scope(lease.gate(stop.clone()), run).await;
    lease.release().await;
    r
}

/// Runs `run`, turning a panic inside it (a bug) into a failed run that is recorded (when
/// `record`), so the lease is released and a daemon goes on with its next tick.
async fn caught(
    store: &Store,
    p: &PipelineConfig,
    record: bool,
    run: impl std::future::Future<Output = Report>,
) -> Report {
    use futures_util::FutureExt;
    let payload = match std::panic::AssertUnwindSafe(run).catch_unwind().await {
        Ok(r) => return r,
        Err(payload) => payload,
    };
    let error = RunError::Panicked(crate::outcome::panic_message(payload));
    tracing::error!(pipeline = %p.name, error = %error, "A run panicked; recorded as failed.");
    if !record {
        return Report::from_error(&p.name, None, error);
    }
    let message = error.to_string();
    let run_id = match store.fail_running(&p.name, &message).await {
        Ok(ids) if !ids.is_empty() => ids.last().copied(),
        // It panicked before its run was recorded: record it now, so `runs` shows it.
        _ => match store.run_start(&p.name).await {
            Ok(id) => {
                let _ = store
                    .run_finish(id, RunStatus::Failed, &Counts::default(), Some(&message))
                    .await;
                Some(id)
            }
            Err(_) => None,
        },
    };
    Report::from_error(&p.name, run_id, error)
}

/// `plan` and `--dry-run`: the plan and its guard; nothing is sent, recorded or cached.
async fn dry_run(
    client: &WorkivaClient,
    store: &Store,
    p: &PipelineConfig,
    opts: &RunOptions,
) -> Report {
    let plan = match build_plan(client, store, p, opts.years).await {
        Ok(pl) => pl,
        Err(e) => return Report::from_error(&p.name, None, e.into()),
    };
    let counts = plan.counts();
    let review = ReviewTotals::of(p.review.is_some(), &plan.metrics);
    let guard = plan.guard(p, opts.force).err();
    let status = if guard.is_some() {
        Status::Failed
    } else if left_to_a_person(&counts) {
        Status::Partial
    } else {
        Status::Planned
    };
    Report {
        pipeline: p.name.clone(),
        run_id: None,
        status,
        counts,
        metrics: plan.metrics,
        batches: 0,
        resumed_batches: 0,
        error: guard.map(|g| Arc::new(g.into())),
        rejects: plan.rejects,
        new_dimension_values: plan.new_dimension_values,
        hand_edits: plan.hand_edits,
        review,
    }
}

/// Records the end of run `run_id`; returns its counts as recorded (created, updated and
/// deleted were counted as batches completed, resumed ones included), or `counts` when the
/// store cannot say.
async fn finish(
    store: &Store,
    run_id: i64,
    status: Status,
    counts: &Counts,
    message: Option<&str>,
) -> Counts {
    match store
        .run_finish(run_id, status.recorded(), counts, message)
        .await
    {
        Ok(recorded) => recorded,
        Err(e) => {
            tracing::error!(error = %e, "Could not record the end of the run.");
            *counts
        }
    }
}

/// Records the end of run `run_id` as `error` decides, and reports it.
async fn end(
    store: &Store,
    p: &PipelineConfig,
    run_id: i64,
    error: RunError,
    counts: Counts,
) -> Report {
    let status = status_of(&error);
    let message = error.to_string();
    let counts = finish(store, run_id, status, &counts, Some(&message)).await;
    let mut r = Report::from_error(&p.name, Some(run_id), error);
    r.counts = counts;
    r
}

/// What a run holds while it goes: its stop token and its lease.
#[derive(Clone, Copy)]
struct Held<'a> {
    stop: &'a tokio_util::sync::CancellationToken,
    lease: &'a lease::Lease,
}

async fn run_leased(
    client: &WorkivaClient,
    store: &Store,
    p: &PipelineConfig,
    opts: &RunOptions,
    held: Held<'_>,
) -> Report {
    // Recorded first, before anything is resumed: a run killed at any point leaves a record.
    let run_id = match store.run_start(&p.name).await {
        Ok(id) => id,
        Err(e) => return Report::from_error(&p.name, None, e.into()),
    };
    failpoint::hit(failpoint::Point::RunRecorded);
    let resumed = match execute::resume(client, store, &p.name, run_id).await {
        Ok(n) => n,
        Err(e) => return end(store, p, run_id, RunError::Resume(e), Counts::default()).await,
    };
    let mut plan = match build_plan(client, store, p, opts.years).await {
        Ok(pl) => pl,
        Err(e) => return end(store, p, run_id, e.into(), Counts::default()).await,
    };
    let planned = plan.counts();
    if held.lease.is_lost() {
        let lost = RunError::Incomplete {
            failures: Vec::new(),
            unsent: plan
                .metrics
                .iter()
                .map(|m| m.writes.len() + m.deleted.len())
                .sum(),
            abandoned: 0,
            recording: None,
            lease_lost: true,
        };
        return end(store, p, run_id, lost, planned).await;
    }
    if held.stop.is_cancelled() {
        return end(store, p, run_id, RunError::StoppedBeforeSending, planned).await;
    }
    failpoint::hit(failpoint::Point::RunStarted);
    let recorded = record_planned(store, &p.name, run_id, &mut plan).await;
    if let Err(e) = recorded {
        return end(store, p, run_id, e.into(), planned).await;
    }
    if let Err(g) = plan.guard(p, opts.force) {
        let counts = Counts {
            created: 0,
            updated: 0,
            deleted: 0,
            ..planned
        };
        let mut r = end(store, p, run_id, g.into(), counts).await;
        r.metrics = plan.metrics;
        r.rejects = plan.rejects;
        return r;
    }
    if let Err(e) = super::dimension_values::add_dimension_values(client, &plan).await {
        return end(store, p, run_id, e, planned).await;
    }
    let outcomes = execute_plan(client, store, p, held, run_id, &plan).await;
    let mut r = tally(store, p, run_id, plan, outcomes, held.lease.is_lost()).await;
    r.resumed_batches = resumed;
    r
}

/// Records what the plan found before anything is sent: what the mapping store learns, the
/// rejects, the reviewed values and the hand edits (each marked first found or not).
async fn record_planned(
    store: &Store,
    pipeline: &str,
    run_id: i64,
    plan: &mut Plan,
) -> Result<(), StoreError> {
    let reviewed: Vec<crate::outcome::Reviewed> = plan
        .metrics
        .iter()
        .flat_map(|m| m.reviewed.iter().cloned())
        .collect();
    apply_mapping_changes(store, &plan.mapping_changes).await?;
    store
        .rejects_insert(run_id, pipeline, &plan.rejects)
        .await?;
    store.reviews_insert(run_id, pipeline, &reviewed).await?;
    store
        .hand_edits_insert(run_id, pipeline, &mut plan.hand_edits)
        .await
}

/// Writes every metric of the plan, `concurrency` metrics at a time.
async fn execute_plan(
    client: &WorkivaClient,
    store: &Store,
    p: &PipelineConfig,
    held: Held<'_>,
    run_id: i64,
    plan: &Plan,
) -> Vec<(usize, Outcome)> {
    let total: usize = plan.metrics.iter().map(|m| m.writes.len()).sum();
    let progress = Phase::start(
        &p.name,
        "sending, waiting on operations",
        "values",
        Some(total as u64),
    );
    let config = super::lineage::fingerprint(p);
    let ctx = Ctx {
        client,
        store,
        run_id,
        pipeline: &p.name,
        program: plan.program_id.as_str(),
        budget: p.batch_bytes,
        progress: &progress,
        stop: held.stop,
        lease: Some(held.lease),
        config: &config,
        versions: &plan.versions,
    };
    let jobs: Vec<(usize, MetricPlan)> = plan.metrics.iter().cloned().enumerate().collect();
    let outcomes = futures_util::stream::iter(jobs)
        .map(|(i, mp)| {
            let ctx = &ctx;
            async move {
                let metric = mp.metric_id.as_str();
                let mut out = execute::write_metric(ctx, metric, mp.writes).await;
                if out.error.is_none() && !mp.deleted.is_empty() {
                    super::delete::values(ctx, metric, &mp.deleted, &mut out).await;
                }
                (i, out)
            }
        })
        .buffer_unordered(p.concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    progress.finish();
    outcomes
}

/// Whether a run that otherwise landed leaves values to a person: rows rejected, values
/// locked, or hand edits kept. Such a run is `partial`.
fn left_to_a_person(c: &Counts) -> bool {
    c.rejected > 0 || c.locked > 0 || c.hand_edited > 0
}

/// What the metrics' outcomes add up to, besides the counts.
struct Sums {
    failures: Vec<MetricFailure>,
    batches: usize,
    unsent: usize,
    abandoned: usize,
    /// The rows Workiva refused, each named by its metric.
    late_rejects: Vec<Reject>,
}

/// Adds each metric's outcome to `counts` and to its metric's plan.
fn add_up(
    metrics: &mut [MetricPlan],
    outcomes: Vec<(usize, Outcome)>,
    counts: &mut Counts,
) -> Sums {
    let mut sums = Sums {
        failures: Vec::new(),
        batches: 0,
        unsent: 0,
        abandoned: 0,
        late_rejects: Vec::new(),
    };
    for (i, out) in outcomes {
        let m = &mut metrics[i];
        sums.unsent += out.unsent;
        sums.abandoned += out.abandoned;
        counts.created += out.created as i64;
        counts.updated += out.updated as i64;
        counts.deleted += out.deleted as i64;
        sums.batches += out.batches;
        m.rejects += out.rejects.len();
        if let Some(error) = out.error {
            sums.failures.push(MetricFailure {
                metric: m.metric_name.clone(),
                error,
            });
        }
        sums.late_rejects
            .extend(out.rejects.into_iter().map(|mut r| {
                r.metric_key = Some(m.metric_name.clone());
                r
            }));
    }
    sums
}

/// Adds up what each metric achieved, records the rejects Workiva named and the run's end.
async fn tally(
    store: &Store,
    p: &PipelineConfig,
    run_id: i64,
    plan: Plan,
    outcomes: Vec<(usize, Outcome)>,
    lease_lost: bool,
) -> Report {
    let planned = plan.counts();
    let review = ReviewTotals::of(p.review.is_some(), &plan.metrics);
    let mut metrics = plan.metrics;
    let mut counts = Counts {
        read: planned.read,
        unchanged: planned.unchanged,
        locked: planned.locked,
        hand_edited: planned.hand_edited,
        ..Counts::default()
    };
    let mut rejects = plan.rejects;
    let new_dimension_values = plan.new_dimension_values;
    let hand_edits = plan.hand_edits;
    let Sums {
        failures,
        batches,
        unsent,
        abandoned,
        late_rejects,
    } = add_up(&mut metrics, outcomes, &mut counts);
    let recording = store
        .rejects_insert(run_id, &p.name, &late_rejects)
        .await
        .err();
    let lease_lost = lease_lost
        || failures.iter().any(|f| f.error.is_lease_loss())
        || recording.as_ref().is_some_and(StoreError::is_fenced);
    rejects.extend(late_rejects);
    counts.rejected = rejects.len() as i64;
    let error = (!failures.is_empty() || unsent > 0 || recording.is_some() || lease_lost)
        .then_some(RunError::Incomplete {
            failures,
            unsent,
            abandoned,
            recording,
            lease_lost,
        });
    let status = match &error {
        Some(e) => status_of(e),
        None if left_to_a_person(&counts) => Status::Partial,
        None => Status::Succeeded,
    };
    let message = error.as_ref().map(|e| e.to_string());
    let counts = finish(store, run_id, status, &counts, message.as_deref()).await;
    Report {
        pipeline: p.name.clone(),
        run_id: Some(run_id),
        status,
        counts,
        metrics,
        batches,
        resumed_batches: 0,
        error: error.map(Arc::new),
        rejects,
        new_dimension_values,
        hand_edits,
        review,
    }
}
