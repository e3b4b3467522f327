//! `esg-sync store prune`: the state store's retention, run once.

use std::path::Path;
use std::process::ExitCode;

use crate::config::Settings;
use crate::store::Store;

/// Prunes the store as `[store]` says (or, `dry`, counts what would go) and prints it.
pub async fn prune(config: Option<&Path>, dry: bool) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(config)?;
    let store = Store::open(&settings.store).await?;
    let (bodies, runs) = settings.store.cutoffs();
    let p = store.prune(bodies, runs, dry).await;
    store.close().await;
    let p = p?;
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
