//! The commands: one file each, each taking the [`App`] it runs on. [`dispatch`] builds the
//! application from the configuration, runs the command the command line names, and closes
//! the application once, whatever the command did. Two commands run without one: `emulator`
//! (it serves the emulator's own configuration) and `healthcheck` (it only asks a URL).

pub mod alerts;
pub mod catalog;
pub mod emulator;
pub mod evidence;
pub mod healthcheck;
pub mod inspect;
pub mod ledger;
pub mod rejects;
pub mod review;
pub mod run;
pub mod runs;
pub mod store;
pub mod trace;
pub mod validate;

use std::process::ExitCode;

use crate::app::App;
use crate::cli::{Cli, Command, RejectFormat, ReportFormat};
use crate::store::Store;

/// Runs a parsed command line.
pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = cli.config.as_deref();
    let app = match &cli.command {
        Some(Command::Emulator(args)) => return emulator::run(args, config).await,
        Some(Command::Healthcheck { url }) => {
            return healthcheck::run(url.as_deref(), config).await;
        }
        Some(Command::Evidence(crate::cli::EvidenceArgs {
            command: Some(crate::cli::EvidenceCommand::Verify { dir }),
            ..
        })) => return evidence::verify_pack(dir),
        // A configuration that does not load is `validate`'s first finding, not an error.
        Some(Command::Validate) => match App::load(config) {
            Ok(app) => app,
            Err(e) => {
                println!("config: {e}");
                return Ok(ExitCode::from(1));
            }
        },
        Some(Command::Inspect(args)) => inspect::app(args, config)?,
        _ => App::load(config)?,
    };
    let result = command(&app, cli).await;
    let closed = app.close().await;
    let code = result?;
    closed?;
    Ok(code)
}

/// The command, on the application built for it.
async fn command(app: &App, cli: Cli) -> anyhow::Result<ExitCode> {
    let json = |o: ReportFormat| o == ReportFormat::Json;
    match cli.command {
        Some(Command::RunNow { run }) => run::run(app, &run, false).await,
        Some(Command::Plan { run }) => run::run(app, &run, true).await,
        None if cli.run_now => run::run(app, &cli.run, false).await,
        Some(Command::Validate) => validate::run(app).await,
        Some(Command::Runs { limit, output }) => runs::run(app, limit, json(output)).await,
        Some(Command::Rejects { run, output }) => {
            rejects::run(app, run, output == RejectFormat::Json).await
        }
        Some(Command::Inspect(args)) => inspect::run(app, args).await,
        Some(Command::Review(c)) => review::run(app, c).await,
        Some(Command::Alerts(c)) => alerts::run(app, c).await,
        Some(Command::Store(c)) => store::run(app, c).await,
        Some(Command::Ledger(c)) => ledger::run(app, c).await,
        Some(Command::Trace(a)) => trace::run(app, a).await,
        Some(Command::Evidence(a)) => evidence::run(app, &a).await,
        Some(Command::Catalog(c)) => catalog::run(app, c).await,
        Some(Command::Daemon) | None => crate::daemon::run(app).await,
        // Dispatched above, before an application is built.
        Some(Command::Emulator(_) | Command::Healthcheck { .. }) => {
            anyhow::bail!("this command runs without the application's configuration")
        }
    }
}

/// The run `run` names, checked to exist, or the latest run.
pub(crate) async fn pick_run(store: &Store, run: Option<i64>) -> anyhow::Result<i64> {
    Ok(match run {
        Some(id) => {
            if store.run(id).await?.is_none() {
                anyhow::bail!("no run {id}; `esg-sync runs` lists them");
            }
            id
        }
        None => match store.runs(1).await?.first() {
            Some(r) => r.id,
            None => anyhow::bail!("no run has been recorded yet"),
        },
    })
}
