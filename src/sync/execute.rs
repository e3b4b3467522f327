//! Execute: one batch in flight per metric. Each batch is recorded before it is sent and its
//! operation URL as soon as Workiva gives it; the operation is polled to its end. A failed
//! batch stored nothing, so it is narrowed down: values Workiva names in its details are
//! rejected with those details and the rest sent again; without such details the batch is
//! tried once more whole (a server fault), then split in halves until bad values stand alone.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::future::BoxFuture;

use super::chunk::{assemble, chunk};
use super::diff::Write;
use super::error::ExecError;
use super::failpoint;
use super::lineage;
use super::period;
use super::progress::Phase;
use crate::outcome::Reject;
use crate::store::{BatchStatus, Store};
use crate::workiva::{ErrorDetail, WorkivaClient, WorkivaError};

/// What writing one metric achieved.
#[derive(Debug, Default)]
pub struct Outcome {
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    pub rejects: Vec<Reject>,
    pub batches: usize,
    /// Why the metric stopped early (its remaining batches are resumed next run).
    pub error: Option<ExecError>,
    /// Values left unsent because a shutdown began or the lease was lost (the next run's diff
    /// finds them again).
    pub unsent: usize,
    /// Values left unsent because the metric failed (`error`) before they were sent.
    pub abandoned: usize,
}

pub struct Ctx<'a> {
    pub client: &'a WorkivaClient,
    pub store: &'a Store,
    pub run_id: i64,
    pub pipeline: &'a str,
    pub program: &'a str,
    pub budget: usize,
    pub progress: &'a Phase,
    /// Cancelled when a shutdown begins or the lease is lost: batches in flight are polled to
    /// their end, no new batch is sent.
    pub stop: &'a tokio_util::sync::CancellationToken,
    /// The pipeline's lease, confirmed before each batch is sent.
    pub lease: Option<&'a super::lease::Lease>,
    /// The pipeline's configuration fingerprint, recorded with each change in the ledger.
    pub config: &'a str,
    /// The version of each origin read, recorded with each change in the ledger.
    pub versions: &'a crate::source::Versions,
}

fn reject_write(w: &Write, reason: String) -> Reject {
    Reject {
        source_file: w.src.file.to_string(),
        source_row: w.src.row as i64,
        field: "value".into(),
        reason,
        metric_key: None,
        period: w.item.reporting_period.as_ref().map(period::label),
        value: w.item.value.clone(),
    }
}

/// `data[12].coordinates` -> 12.
fn index_of(target: &str) -> Option<usize> {
    target
        .strip_prefix("data[")?
        .split(']')
        .next()?
        .parse()
        .ok()
}

fn describe(details: &[ErrorDetail]) -> String {
    details
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Writes one metric's values.
pub async fn write_metric(ctx: &Ctx<'_>, metric: &str, writes: Vec<Write>) -> Outcome {
    let mut out = Outcome::default();
    let (chunks, too_large) = chunk(writes, ctx.budget);
    for w in too_large {
        let size = w.json().len();
        out.rejects.push(reject_write(&w, format!("the value is {size} bytes as JSON, more than fits in one request of {} bytes; shorten it", ctx.budget)));
        ctx.progress.add(1);
    }
    let mut chunks = chunks.into_iter();
    let mut stopped = false;
    for c in chunks.by_ref() {
        let n = c.writes.len();
        let settled = |o: &Outcome| o.created + o.updated + o.rejects.len();
        let before = settled(&out);
        let Err(e) = send(ctx, metric, c.writes, c.body, 0, &mut out).await else {
            continue;
        };
        // A batch being narrowed down when it stopped may have landed in part.
        let left = n.saturating_sub(settled(&out) - before);
        stopped = matches!(e, ExecError::Stopped | ExecError::LeaseLost);
        if stopped {
            out.unsent += left;
        } else {
            refused_by_store(ctx, &e);
            out.abandoned += left;
            out.error = Some(e);
        }
        break;
    }
    let rest = chunks.map(|c| c.writes.len()).sum::<usize>();
    if stopped {
        out.unsent += rest;
    } else {
        out.abandoned += rest;
    }
    out
}

/// A store that refused a write for good (a full disk, past its outage bound) stops the
/// whole run's sending at once, not only this metric's: nothing more goes to Workiva that
/// the store could not record.
pub(super) fn refused_by_store(ctx: &Ctx<'_>, e: &ExecError) {
    if let ExecError::Store(s) = e
        && !s.is_fenced()
        && !ctx.stop.is_cancelled()
    {
        tracing::error!(pipeline = ctx.pipeline, error = %s, "The state store refused a write; this run sends nothing more to Workiva.");
        ctx.stop.cancel();
    }
}

impl Ctx<'_> {
    /// Where `metric`'s changes are going, as the ledger records them.
    pub(super) fn target<'m>(&'m self, metric: &'m str) -> lineage::Target<'m> {
        lineage::Target {
            pipeline: self.pipeline,
            program: self.program,
            metric,
            config: self.config,
            versions: self.versions,
        }
    }
}

/// Why the run's gate refused a write: its lease was lost, or it is stopping.
pub(super) fn stopped(ctx: &Ctx<'_>) -> ExecError {
    if ctx.lease.is_some_and(|l| l.is_lost()) {
        ExecError::LeaseLost
    } else {
        ExecError::Stopped
    }
}

/// Follows a batch Workiva took to its end: records its operation URL, polls it, records
/// its completion. `None` when it completed, its details when it failed. The batch is never
/// sent again: if its URL cannot be recorded (the store is down past its outage bound), the
/// operation is still polled to its end before the metric stops, and the next run, which
/// finds the batch unconfirmed, plans against what Workiva holds.
async fn follow(
    ctx: &Ctx<'_>,
    id: i64,
    op: &crate::workiva::OperationRef,
) -> Result<Option<Vec<ErrorDetail>>, ExecError> {
    let unrecorded = ctx.store.batch_sent(id, &op.url).await.err();
    if let Some(e) = &unrecorded {
        tracing::error!(batch = id, operation = %op.url, error = %e, "Cannot record the operation URL of a batch Workiva took; polling it to its end, then stopping this metric.");
    }
    failpoint::hit(failpoint::Point::OperationRecorded);
    match ctx.client.wait_operation(op).await {
        Ok(_) => {
            let recorded = ctx.store.batch_completed(id, ctx.run_id, None).await;
            if let (Some(e), Err(_)) = (unrecorded, &recorded) {
                return Err(e.into());
            }
            recorded?;
            Ok(None)
        }
        Err(WorkivaError::OperationFailed { details, .. }) => Ok(Some(details)),
        Err(e) => Err(e.into()),
    }
}

/// Records a batch before it is sent, with the changes the ledger records once Workiva
/// confirms it.
async fn record(
    ctx: &Ctx<'_>,
    metric: &str,
    writes: &[Write],
    body: &[u8],
) -> Result<i64, ExecError> {
    let creates = writes.iter().filter(|w| w.create).count();
    let changes = lineage::changes(&ctx.target(metric), writes);
    let id = ctx
        .store
        .batch_insert(
            ctx.run_id,
            ctx.pipeline,
            ctx.program,
            metric,
            creates,
            writes.len() - creates,
            body,
            &changes,
        )
        .await?;
    Ok(id)
}

fn send<'a>(
    ctx: &'a Ctx<'_>,
    metric: &'a str,
    writes: Vec<Write>,
    body: Vec<u8>,
    whole_retries: u32,
    out: &'a mut Outcome,
) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        if let Some(lease) = ctx.lease
            && !lease.confirm().await
        {
            return Err(ExecError::LeaseLost);
        }
        if ctx.stop.is_cancelled() {
            return Err(ExecError::Stopped);
        }
        let id = record(ctx, metric, &writes, &body).await?;
        out.batches += 1;
        failpoint::hit(failpoint::Point::BatchRecorded);
        let details = match ctx
            .client
            .batch_upsert_raw(ctx.program, metric, body.clone())
            .await
        {
            Ok(op) => {
                crate::telemetry::Event::emit(crate::telemetry::BatchSent {
                    pipeline: ctx.pipeline,
                    bytes: body.len(),
                });
                match follow(ctx, id, &op).await? {
                    None => {
                        for w in &writes {
                            if w.create {
                                out.created += 1;
                            } else {
                                out.updated += 1;
                            }
                        }
                        ctx.progress.add(writes.len() as u64);
                        failpoint::hit(failpoint::Point::BatchCompleted);
                        return Ok(());
                    }
                    Some(details) => details,
                }
            }
            // Refused at once as malformed: narrowed down like a failed operation.
            Err(WorkivaError::Api(a)) if a.status == 400 => {
                let mut d = a.details.clone();
                if d.is_empty() {
                    d.push(ErrorDetail {
                        code: Some(a.code.clone()),
                        message: Some(a.message.clone()),
                        target: a.target.clone(),
                    });
                }
                d
            }
            Err(WorkivaError::Gated { .. }) => return Err(stopped(ctx)),
            Err(e) => return Err(e.into()),
        };
        let summary = describe(&details);
        ctx.store
            .batch_done(id, BatchStatus::Failed, Some(&summary))
            .await?;
        narrow(ctx, metric, writes, details, whole_retries, out).await
    })
}

async fn narrow(
    ctx: &Ctx<'_>,
    metric: &str,
    writes: Vec<Write>,
    details: Vec<ErrorDetail>,
    whole_retries: u32,
    out: &mut Outcome,
) -> Result<(), ExecError> {
    let mut named: BTreeMap<usize, Vec<ErrorDetail>> = BTreeMap::new();
    for d in &details {
        if let Some(i) = d
            .target
            .as_deref()
            .and_then(index_of)
            .filter(|i| *i < writes.len())
        {
            named.entry(i).or_default().push(d.clone());
        }
    }
    if writes.len() == 1 {
        let why = if named.is_empty() {
            describe(&details)
        } else {
            describe(&named[&0])
        };
        out.rejects.push(reject_write(
            &writes[0],
            format!("Workiva refused the value: {why}"),
        ));
        return Ok(());
    }
    if !named.is_empty() {
        let bad: BTreeSet<usize> = named.keys().copied().collect();
        let mut rest = Vec::new();
        for (i, w) in writes.into_iter().enumerate() {
            match named.get(&i) {
                Some(d) => out.rejects.push(reject_write(
                    &w,
                    format!(
                        "Workiva refused the value: {}",
                        describe(d).replace(&format!("data[{i}]"), "value")
                    ),
                )),
                None => rest.push(w),
            }
        }
        tracing::info!(
            metric,
            rejected = bad.len(),
            resent = rest.len(),
            "Workiva named the bad values of a failed batch; sending the rest again."
        );
        if rest.is_empty() {
            return Ok(());
        }
        let body = assemble(&rest.iter().map(Write::json).collect::<Vec<_>>());
        return send(ctx, metric, rest, body, 0, out).await;
    }
    if whole_retries < 1 {
        // No value was named: likely a server fault. Try the batch once more as it is.
        tracing::warn!(metric, details = %describe(&details), "A batch failed without naming a value; sending it once more.");
        let body = assemble(&writes.iter().map(Write::json).collect::<Vec<_>>());
        return send(ctx, metric, writes, body, whole_retries + 1, out).await;
    }
    let mut right = writes;
    let left: Vec<Write> = right.drain(..right.len() / 2).collect();
    tracing::info!(
        metric,
        left = left.len(),
        right = right.len(),
        "Bisecting a failed batch."
    );
    for half in [left, right] {
        let body = assemble(&half.iter().map(Write::json).collect::<Vec<_>>());
        send(ctx, metric, half, body, 0, out).await?;
    }
    Ok(())
}

/// Finishes what an interrupted run left: polls recorded operations instead of resending
/// them, and never resends a batch that has no operation URL (it is marked `unconfirmed`;
/// the plan that follows sends whatever of it did not land). The values of each batch that
/// completes are counted in `run_id`, the run that resumed it. A deletion left `pending` is
/// marked `unconfirmed` (deleting is idempotent: the plan deletes what is still there).
/// Returns how many batches were resumed.
pub async fn resume(
    client: &WorkivaClient,
    store: &Store,
    pipeline: &str,
    run_id: i64,
) -> Result<usize, ExecError> {
    let open = store.open_batches(pipeline).await?;
    let interrupted = store.mark_interrupted(pipeline, run_id).await?;
    if !interrupted.is_empty() {
        tracing::warn!(pipeline, runs = ?interrupted, batches = open.len(), "Earlier runs stopped before they finished; resuming their batches first.");
    }
    let unconfirmed = store.deletions_unconfirm(pipeline).await?;
    if unconfirmed > 0 {
        tracing::warn!(
            pipeline,
            deletions = unconfirmed,
            "Deletions an earlier run recorded were never confirmed; the plan deletes what is still there."
        );
    }
    let mut polled = 0;
    for b in &open {
        let op = match &b.operation_url {
            Some(url) => crate::workiva::OperationRef {
                url: url.clone(),
                retry_after: None,
            },
            // Recorded but never confirmed sent: it may not have gone out, or Workiva took it
            // and the store never learnt (a crash, a store outage). Sending it blind could write
            // its values twice; the fresh run that follows plans against what Workiva holds
            // now and sends only what did not land.
            None => {
                store
                    .batch_done(
                        b.id,
                        BatchStatus::Unconfirmed,
                        Some(
                            "resumed: never confirmed sent; the next plan sends what did not land",
                        ),
                    )
                    .await?;
                continue;
            }
        };
        polled += 1;
        match client.wait_operation(&op).await {
            Ok(_) => store.batch_completed(b.id, run_id, Some("resumed")).await?,
            Err(WorkivaError::OperationFailed { details, .. }) => {
                // The fresh run that follows narrows its values down again.
                store
                    .batch_done(
                        b.id,
                        BatchStatus::Failed,
                        Some(&format!("resumed: {}", describe(&details))),
                    )
                    .await?;
            }
            Err(WorkivaError::Api(a)) if a.status == 404 => {
                store
                    .batch_done(
                        b.id,
                        BatchStatus::Failed,
                        Some("resumed: Workiva no longer knows the operation"),
                    )
                    .await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(polled)
}
