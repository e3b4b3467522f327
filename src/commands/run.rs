//! `esg-sync run-now` (also `--run-now`) and `esg-sync plan`: the selected pipelines once, a
//! summary each, exit 0 (succeeded), 2 (partial) or 1 (failed, interrupted, busy).

use std::process::ExitCode;

use crate::app::App;
use crate::cli::{ReportFormat, RunArgs};
use crate::config::{PipelineConfig, Settings};
use crate::sync::{self, Report, RunOptions, Status};

/// `run-now` (`plan`: `dry_run`).
pub async fn run(app: &App, args: &RunArgs, dry_run: bool) -> anyhow::Result<ExitCode> {
    let opts = options(args, dry_run)?;
    let json = args.output == ReportFormat::Json;
    let pipelines: Vec<PipelineConfig> = selected(app.settings(), args.pipeline.as_deref())?
        .into_iter()
        .cloned()
        .collect();
    let client = app.client().await?;
    let store = app.store().await?;
    // Ctrl-C or SIGTERM: batches in flight finish, nothing new is sent, the run is recorded
    // as interrupted (the next run resumes it); a second signal exits at once.
    let signals = crate::signals::stop_on_signals(
        opts.stop.clone(),
        "Stopping after the batches in flight; send the signal again to exit at once.",
    );
    let mut reports = Vec::new();
    for p in &pipelines {
        if opts.stop.is_cancelled() {
            break;
        }
        let r = sync::run_pipeline(client, store, p, &opts).await;
        if !json {
            println!("{}\n", sync::render(&r));
        }
        reports.push(r);
    }
    signals.abort();
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    }
    if reports.len() < pipelines.len() {
        let left: Vec<&str> = pipelines[reports.len()..]
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        eprintln!("stopped before these pipelines ran: {}", left.join(", "));
        return Ok(ExitCode::from(1));
    }
    Ok(exit_code(&reports))
}

/// Exit status of a run: 0 succeeded, 2 partial, 1 failed or interrupted.
pub fn exit_code(reports: &[Report]) -> ExitCode {
    if reports.iter().any(|r| {
        matches!(
            r.status,
            Status::Failed | Status::Interrupted | Status::Busy
        )
    }) {
        ExitCode::from(1)
    } else if reports.iter().any(|r| r.status == Status::Partial) {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// The run's options from the command line (`dry_run`: `plan`, or `--dry-run`).
pub fn options(args: &RunArgs, dry_run: bool) -> anyhow::Result<RunOptions> {
    Ok(RunOptions {
        dry_run: dry_run || args.dry_run,
        force: args.force,
        years: args.years.as_deref().map(parse_years).transpose()?,
        ..Default::default()
    })
}

/// The pipelines `--pipeline` names (every one without it).
pub(crate) fn selected<'a>(
    settings: &'a Settings,
    name: Option<&str>,
) -> anyhow::Result<Vec<&'a PipelineConfig>> {
    if settings.pipelines.is_empty() {
        anyhow::bail!("the configuration has no [[pipeline]]; see config/example.toml");
    }
    match name {
        None => Ok(settings.pipelines.iter().collect()),
        Some(n) => match settings.pipelines.iter().find(|p| p.name == n) {
            Some(p) => Ok(vec![p]),
            None => anyhow::bail!(
                "no pipeline is named `{n}`; the configuration has: {}",
                settings
                    .pipelines
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    }
}

/// Parses `2024..2025` or `2025`.
pub fn parse_years(s: &str) -> anyhow::Result<(u16, u16)> {
    let bad = || anyhow::anyhow!("--years `{s}`: use a year (2025) or a range (2024..2025)");
    let (a, b) = match s.split_once("..") {
        Some((a, b)) => (
            a.trim().parse::<u16>().map_err(|_| bad())?,
            b.trim()
                .trim_start_matches('=')
                .parse::<u16>()
                .map_err(|_| bad())?,
        ),
        None => {
            let y = s.trim().parse::<u16>().map_err(|_| bad())?;
            (y, y)
        }
    };
    if a > b || !(1000..=9999).contains(&a) || !(1000..=9999).contains(&b) {
        return Err(bad());
    }
    Ok((a, b))
}

#[cfg(test)]
mod tests {
    #[test]
    fn years() {
        assert_eq!(super::parse_years("2024..2025").unwrap(), (2024, 2025));
        assert_eq!(super::parse_years("2024..=2025").unwrap(), (2024, 2025));
        assert_eq!(super::parse_years("2025").unwrap(), (2025, 2025));
        assert!(super::parse_years("2025..2024").is_err());
        assert!(super::parse_years("soon").is_err());
        assert_eq!(crate::outcome::csv_cell("a,b"), "\"a,b\"");
    }
}
