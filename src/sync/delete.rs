//! Delete (mirror mode): Workiva's values the lake no longer has, by id, in requests of at
//! most [`PER_REQUEST`] ids. Each request is recorded through the run's fence before it is
//! sent, so a run whose lease another replica took deletes nothing; Workiva's confirmation
//! and the count of deleted values are recorded in one transaction.

use super::diff::Deleted;
use super::error::ExecError;
use super::execute::{Ctx, Outcome, refused_by_store, stopped};
use super::lineage;
use crate::workiva::WorkivaError;
use crate::workiva::models::ValueIdentifier;

/// Ids per deletion request.
pub const PER_REQUEST: usize = 2000;

/// Deletes the values `ids` of `metric`; stops at the first failure, a stop or a lost lease
/// (what is left is counted in `out.unsent` or `out.abandoned`, and the next plan finds it).
pub async fn values(ctx: &Ctx<'_>, metric: &str, ids: &[Deleted], out: &mut Outcome) {
    for (i, part) in ids.chunks(PER_REQUEST).enumerate() {
        let left = ids.len() - i * PER_REQUEST;
        if ctx.stop.is_cancelled() {
            out.unsent += left;
            return;
        }
        if let Err(e) = one(ctx, metric, part, out).await {
            match e {
                ExecError::Stopped | ExecError::LeaseLost => out.unsent += left,
                e => {
                    out.abandoned += left;
                    refused_by_store(ctx, &e);
                    out.error = Some(e);
                }
            }
            return;
        }
    }
}

/// One request: recorded, sent, its outcome recorded.
async fn one(
    ctx: &Ctx<'_>,
    metric: &str,
    part: &[Deleted],
    out: &mut Outcome,
) -> Result<(), ExecError> {
    let ids: Vec<String> = part.iter().map(|d| d.id().to_string()).collect();
    let changes = lineage::deletions(&ctx.target(metric), part);
    let id = ctx
        .store
        .deletion_insert(
            ctx.run_id,
            ctx.pipeline,
            ctx.program,
            metric,
            &ids,
            &changes,
        )
        .await?;
    let idents: Vec<ValueIdentifier> = ids
        .into_iter()
        .map(|id| ValueIdentifier {
            id: Some(id),
            ..Default::default()
        })
        .collect();
    match ctx.client.batch_delete(ctx.program, metric, &idents).await {
        Ok(()) => {
            ctx.store.deletion_done(id, ctx.run_id, None).await?;
            out.deleted += part.len();
            Ok(())
        }
        Err(WorkivaError::Gated { .. }) => {
            // Never sent: the run stopped or lost its lease before the request went out.
            let why = "not sent: the run stopped or lost its lease";
            let _ = ctx.store.deletion_done(id, ctx.run_id, Some(why)).await;
            Err(stopped(ctx))
        }
        Err(e) => {
            let _ = ctx
                .store
                .deletion_done(id, ctx.run_id, Some(&e.to_string()))
                .await;
            Err(e.into())
        }
    }
}
