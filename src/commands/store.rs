//! `esg-sync store prune`: the state store's retention, run once.

use std::process::ExitCode;

use crate::app::App;
use crate::cli::StoreCommand;

/// `store prune`.
pub async fn run(app: &App, c: StoreCommand) -> anyhow::Result<ExitCode> {
    match c {
        StoreCommand::Prune { dry_run } => prune(app, dry_run).await,
    }
}

/// Prunes the store as `[store]` says (or, `dry`, counts what would go) and prints it.
pub async fn prune(app: &App, dry: bool) -> anyhow::Result<ExitCode> {
    let settings = app.settings();
    let (bodies, runs) = settings.store.cutoffs();
    let p = app.store().await?.prune(bodies, runs, dry).await?;
    let verb = if dry { "would drop" } else { "dropped" };
    println!(
        "{verb} {} batch bodies ({} bytes; older than {} days, their SHA-256 and size kept) and {} runs{}",
        p.bodies,
        p.body_bytes,
        settings.store.keep_batch_bodies_days,
        p.runs,
        settings
            .store
            .keep_runs_days
            .map(|d| format!(" (older than {d} days)"))
            .unwrap_or_else(|| " (keep_runs_days is unset: runs are kept)".into())
    );
    Ok(ExitCode::SUCCESS)
}
