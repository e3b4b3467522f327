//! `esg-sync ledger verify`: walks the value ledger's chain from its first entry and says
//! whether every entry still matches its hash and the one before it. `esg-sync ledger
//! baseline`: records Workiva's current values of a pipeline's metrics as baselines.

use std::process::ExitCode;

use crate::app::App;
use crate::cli::LedgerCommand;
use crate::ledger::Chain;

/// `ledger verify`, `ledger baseline`.
pub async fn run(app: &App, c: LedgerCommand) -> anyhow::Result<ExitCode> {
    match c {
        LedgerCommand::Verify => verify(app).await,
        LedgerCommand::Baseline { pipeline, dry_run } => baseline(app, &pipeline, dry_run).await,
    }
}

/// Records a baseline of every value of the pipeline's metrics that the ledger does not hold
/// as Workiva holds it (value and notes); exit 0.
async fn baseline(app: &App, pipeline: &str, dry_run: bool) -> anyhow::Result<ExitCode> {
    use crate::sync::{hand_edit, lineage, resolve};
    let p = super::run::selected(app.settings(), Some(pipeline))?[0];
    let (client, store) = (app.client().await?, app.store().await?);
    let resolved = resolve::resolve(client, store, p).await?;
    let meta = &resolved.meta;
    let config = lineage::fingerprint(p);
    let (mut changes, mut held) = (Vec::new(), 0usize);
    for (metric, key) in resolve::pipeline_metrics(&resolved, p) {
        let listed = client
            .listed_values(meta.id.as_str(), metric.as_str(), &Default::default())
            .await?;
        let mut wanted: std::collections::BTreeMap<i64, Vec<String>> = Default::default();
        let target = lineage::Target {
            pipeline: &p.name,
            program: meta.id.as_str(),
            metric: metric.as_str(),
            config: &config,
            versions: &Default::default(),
        };
        let found: Vec<_> = listed
            .iter()
            .filter_map(|v| lineage::baseline(&target, &key, v))
            .collect();
        for c in &found {
            let coords = crate::ledger::Change::coordinates_text(&c.coordinates);
            wanted.entry(c.year).or_default().push(coords);
        }
        let last = store
            .ledger_last_written(meta.id.as_str(), metric.as_str(), &wanted)
            .await?;
        let dt = meta
            .metrics
            .get(&metric)
            .map(|m| m.data_type)
            .unwrap_or_default();
        for c in found {
            let k = (
                c.period.clone(),
                crate::ledger::Change::coordinates_text(&c.coordinates),
            );
            let after = c.after.clone().unwrap_or_default();
            let (v, n) = (
                after.value.unwrap_or_default(),
                after.notes.unwrap_or_default(),
            );
            match last.get(&k) {
                Some(w) if !hand_edit::edited(&v, &n, w, dt) => held += 1,
                _ => changes.push(c),
            }
        }
    }
    let n = changes.len();
    if !dry_run {
        store.ledger_baseline(changes).await?;
    }
    println!(
        "{} {n} baseline entries for pipeline `{}`; {held} values already stood in the ledger as Workiva holds them",
        if dry_run { "would record" } else { "recorded" },
        p.name
    );
    Ok(ExitCode::SUCCESS)
}

/// Exit 0 with the count when the chain holds; 1 naming the first entry that does not.
async fn verify(app: &App) -> anyhow::Result<ExitCode> {
    let store = app.store().await?;
    let (mut chain, mut broken) = (Chain::default(), None);
    store
        .ledger_walk(|e| match chain.step(e) {
            Ok(()) => true,
            Err(b) => {
                broken = Some(b);
                false
            }
        })
        .await?;
    match broken {
        None => {
            println!(
                "the ledger holds: {} entries, each chained to the one before",
                chain.checked
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(b) => {
            eprintln!(
                "error: {b}; {} entries before it hold. The state store was changed behind esg-sync's back: restore it from a backup and keep this one for the investigation",
                chain.checked
            );
            Ok(ExitCode::from(1))
        }
    }
}
