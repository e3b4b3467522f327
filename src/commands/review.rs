//! `esg-sync review report`: the values a run's threshold review flagged for a person.

use std::path::Path;
use std::process::ExitCode;

use crate::config::Settings;
use crate::store::Store;

/// Lists every value run `run` (the latest by default) flagged, with the numbers behind it.
pub async fn report(
    config: Option<&Path>,
    run: Option<i64>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(config)?;
    let store = Store::connect(&settings.store.url).await?;
    let run_id = super::pick_run(&store, run).await?;
    let list = store.reviews(run_id, true).await?;
    store.close().await;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("run,metric,period,coordinates,value,prior,delta,delta_percent,reason");
    let cell = super::csv_cell;
    for r in &list {
        println!(
            "{run_id},{},{},{},{},{},{},{},{}",
            cell(&r.metric),
            cell(&r.period),
            cell(&r.coordinates),
            cell(&r.value),
            cell(r.prior.as_deref().unwrap_or("")),
            cell(r.delta.as_deref().unwrap_or("")),
            cell(r.delta_percent.as_deref().unwrap_or("")),
            cell(&r.reason)
        );
    }
    Ok(ExitCode::SUCCESS)
}
