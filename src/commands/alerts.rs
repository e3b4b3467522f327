//! `esg-sync alerts test|history`: a test event to one alert; the deliveries recorded.

use std::process::ExitCode;

use crate::app::App;
use crate::cli::{AlertsCommand, ReportFormat};

/// `alerts test` or `alerts history`.
pub async fn run(app: &App, c: AlertsCommand) -> anyhow::Result<ExitCode> {
    match c {
        AlertsCommand::Test { name } => test(app, &name).await,
        AlertsCommand::History { limit, output } => {
            history(app, limit, output == ReportFormat::Json).await
        }
    }
}

/// Sends a test event to the alert named `name`; exit 0 when it was delivered.
pub async fn test(app: &App, name: &str) -> anyhow::Result<ExitCode> {
    let settings = app.settings();
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
    let d = crate::alerts::send_test(alert, app.store().await?).await?;
    match d.status {
        crate::store::DeliveryStatus::Delivered => {
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
pub async fn history(app: &App, limit: i64, json: bool) -> anyhow::Result<ExitCode> {
    let store = app.store().await?;
    let list = store.deliveries(limit.clamp(1, 10_000)).await?;
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
            crate::store::shown(&d.created_at),
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
