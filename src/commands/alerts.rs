//! `esg-sync alerts test|history`: a test event to one alert; the deliveries recorded.

use std::path::Path;
use std::process::ExitCode;

use crate::config::Settings;
use crate::store::Store;

/// Sends a test event to the alert named `name`; exit 0 when it was delivered.
pub async fn test(config: Option<&Path>, name: &str) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(config)?;
    let Some(alert) = settings.alerts.iter().find(|a| a.name == name) else {
        let names: Vec<&str> = settings.alerts.iter().map(|a| a.name.as_str()).collect();
        anyhow::bail!(
            "no [[alert]] is named `{name}`; the configuration has {}",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        );
    };
    let store = Store::open(&settings.store).await?;
    let d = crate::alerts::send_test(alert, &store).await?;
    store.close().await;
    match d.status {
        "delivered" => {
            println!(
                "alert `{name}`: delivered to {} in {} attempt(s) (HTTP {})",
                alert.shown_url(),
                d.attempts,
                d.http_status.map(|s| s.to_string()).unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            println!(
                "alert `{name}`: not delivered to {} after {} attempt(s): {}",
                alert.shown_url(),
                d.attempts,
                d.error.as_deref().unwrap_or("unknown error")
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The newest `limit` deliveries.
pub async fn history(config: Option<&Path>, limit: i64, json: bool) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(config)?;
    let store = Store::open(&settings.store).await?;
    let list = store.deliveries(limit.clamp(1, 10_000)).await?;
    store.close().await;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:>6}  {:<24}  {:<18}  {:<20}  {:<9}  {:>8}  {:>4}  error",
        "id", "when", "alert", "event", "status", "attempts", "http"
    );
    for d in &list {
        println!(
            "{:>6}  {:<24}  {:<18}  {:<20}  {:<9}  {:>8}  {:>4}  {}",
            d.id,
            d.created_at,
            d.alert,
            format!(
                "{}{}",
                d.event,
                d.pipeline
                    .as_deref()
                    .map(|p| format!(" ({p})"))
                    .unwrap_or_default()
            ),
            d.status,
            d.attempts,
            d.http_status.map(|s| s.to_string()).unwrap_or_default(),
            d.error.as_deref().unwrap_or("")
        );
    }
    Ok(ExitCode::SUCCESS)
}
