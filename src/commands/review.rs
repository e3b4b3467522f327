//! `esg-sync review report | tasks | history`: the values a run's threshold review flagged
//! for a person; one pass of the final reviewers; their past decisions.

use std::process::ExitCode;

use crate::app::App;
use crate::cli::{RejectFormat, ReportFormat, ReviewCommand};

/// `review report`, `review tasks` or `review history`.
pub async fn run(app: &App, c: ReviewCommand) -> anyhow::Result<ExitCode> {
    let json = |o: ReportFormat| o == ReportFormat::Json;
    match c {
        ReviewCommand::Report { run, output } => {
            report(app, run, output == RejectFormat::Json).await
        }
        ReviewCommand::Tasks {
            reviewer,
            dry_run,
            output,
        } => tasks(app, reviewer.as_deref(), dry_run, json(output)).await,
        ReviewCommand::History {
            reviewer,
            limit,
            output,
        } => history(app, reviewer.as_deref(), limit, json(output)).await,
    }
}

/// Lists every value run `run` (the latest by default) flagged, with the numbers behind it.
pub async fn report(app: &App, run: Option<i64>, json: bool) -> anyhow::Result<ExitCode> {
    let store = app.store().await?;
    let run_id = super::pick_run(store, run).await?;
    let list = store.reviews(run_id, true).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("run,metric,period,coordinates,value,prior,delta,delta_percent,reason");
    let cell = crate::outcome::csv_cell;
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

/// `review tasks`: one pass of the selected reviewers (every one by default); exit 1 when a
/// decision could not be submitted.
pub async fn tasks(
    app: &App,
    reviewer: Option<&str>,
    dry_run: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let chosen: Vec<_> = app
        .settings()
        .reviewers
        .iter()
        .filter(|r| reviewer.is_none_or(|n| n == r.name))
        .cloned()
        .collect();
    if chosen.is_empty() {
        match reviewer {
            Some(n) => anyhow::bail!("no [[reviewer]] is named `{n}`"),
            None => anyhow::bail!("the configuration has no [[reviewer]]"),
        }
    }
    let client = app.client().await?;
    let store = app.store().await?;
    let mut all = Vec::new();
    let mut failed = false;
    for r in &chosen {
        let outcomes = crate::reviewer::run_once(client, store, r, dry_run).await;
        let outcomes = match outcomes {
            Ok(o) => o,
            Err(e) => {
                eprintln!("{e}");
                failed = true;
                continue;
            }
        };
        failed |= outcomes
            .iter()
            .any(|o| o.state == crate::reviewer::ReviewState::Failed);
        if !json {
            println!("reviewer {}: {} task(s)", r.name, outcomes.len());
            for o in &outcomes {
                println!(
                    "  {} `{}` step {}: {} {}",
                    o.task_id,
                    o.title,
                    o.step + 1,
                    o.action.map_or("-", |a| a.as_str()),
                    o.state
                );
                if let Some(c) = &o.comment {
                    println!("    comment: {c}");
                }
                if let Some(n) = &o.note {
                    println!("    note: {n}");
                }
            }
            if dry_run || r.dry_run {
                println!("  dry run: nothing was submitted or recorded");
            }
        }
        all.push(serde_json::json!({"reviewer": r.name, "tasks": outcomes}));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `review history`: the reviewers' past decisions, newest first (the audit trail).
pub async fn history(
    app: &App,
    reviewer: Option<&str>,
    limit: i64,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let list = app.store().await?.decisions(reviewer, limit).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    for d in &list {
        println!(
            "{}  {}  task {} `{}` step {}: {} ({})\n    {}",
            crate::store::shown(&d.created_at),
            d.reviewer,
            d.task_id,
            d.task_title,
            d.step + 1,
            d.action,
            d.state,
            d.comment
        );
    }
    Ok(ExitCode::SUCCESS)
}
