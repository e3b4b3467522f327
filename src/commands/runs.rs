//! `esg-sync runs`: the recent runs with their counts, newest first.

use std::process::ExitCode;

use crate::app::App;

/// Prints the newest `limit` runs as a table or JSON.
pub async fn run(app: &App, limit: i64, json: bool) -> anyhow::Result<ExitCode> {
    let runs = app.store().await?.runs(limit).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:>5}  {:<24}  {:<11}  {:<24}  {:>8} {:>8} {:>9} {:>8} {:>8} {:>8} {:>7}",
        "run",
        "pipeline",
        "status",
        "started",
        "read",
        "rejected",
        "unchanged",
        "created",
        "updated",
        "deleted",
        "locked"
    );
    for r in &runs {
        let c = &r.counts;
        println!(
            "{:>5}  {:<24}  {:<11}  {:<24}  {:>8} {:>8} {:>9} {:>8} {:>8} {:>8} {:>7}",
            r.id,
            r.pipeline,
            r.status,
            crate::store::shown(&r.started_at),
            c.read,
            c.rejected,
            c.unchanged,
            c.created,
            c.updated,
            c.deleted,
            c.locked
        );
        if r.auto_completed + r.flagged > 0 {
            println!(
                "       review: {} auto-completed, {} flagged (esg-sync review report --run {})",
                r.auto_completed, r.flagged, r.id
            );
        }
        if c.hand_edited > 0 {
            println!(
                "       hand-edited: {} values a person changed in Workiva were kept (the run's summary and the status page list them)",
                c.hand_edited
            );
        }
        if let Some(m) = &r.message {
            println!("       {m}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
