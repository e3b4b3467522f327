//! The command line: `daemon` (the default), `run-now`, `plan`, `validate`, `runs`, `rejects`,
//! `inspect`, `emulator`, `healthcheck`, `catalog`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "esg-sync",
    version,
    about = "Keeps a Workiva sustainability program in step with a data lake.",
    after_help = "Without a command, esg-sync runs the daemon (esg-sync daemon).\n\nExit status: 0 succeeded (the daemon: stopped cleanly by SIGTERM or SIGINT); 2 partial (run-now, plan: rows rejected or locked values conflicting); 1 failed, interrupted, busy (another process runs the pipeline) or bad configuration; 130 stopped at once by a second signal.\n\nLogs go to stderr, filtered by RUST_LOG (default info)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Configuration file (TOML); every command that needs one reads it.
    #[arg(long, env = "ESG_SYNC_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Run the selected pipelines once and exit (same as `esg-sync run-now`).
    #[arg(long)]
    pub run_now: bool,
    /// Log lines as text or JSON; auto is text when stdout and stderr are terminals, JSON
    /// otherwise.
    #[arg(long, value_enum, env = "ESG_SYNC_LOG_FORMAT", global = true, default_value_t = crate::telemetry::LogFormat::Auto)]
    pub log_format: crate::telemetry::LogFormat,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Options of a run.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Only this pipeline.
    #[arg(long)]
    pub pipeline: Option<String>,
    /// Only these years: 2025, or 2024..2025.
    #[arg(long)]
    pub years: Option<String>,
    /// Plan only: write nothing to Workiva, record nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Mirror mode: delete even beyond max_delete_fraction.
    #[arg(long)]
    pub force: bool,
    /// table (default) or json.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub output: ReportFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RejectFormat {
    Csv,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every pipeline that has a schedule, on its schedule, until SIGTERM or SIGINT; serve
    /// /healthz, /readyz and /metrics on daemon.listen. The default command.
    Daemon,
    /// Exit 0 if the daemon of this configuration answers /healthz (a container HEALTHCHECK).
    Healthcheck {
        /// The URL to ask (default: http://<daemon.listen>/healthz, 0.0.0.0 read as 127.0.0.1).
        #[arg(long)]
        url: Option<String>,
    },
    /// Run the selected pipelines once (a backfill), print a summary, and exit 0, 2 or 1.
    RunNow {
        #[command(flatten)]
        run: RunArgs,
    },
    /// Show what a run would do, per metric, without writing to Workiva or moving state.
    Plan {
        #[command(flatten)]
        run: RunArgs,
    },
    /// Check the configuration, credentials, program, metric and dimension resolution, and the
    /// sources; report every problem found.
    Validate,
    /// Recent runs with their counts.
    Runs {
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: i64,
        /// table (default) or json.
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        output: ReportFormat,
    },
    /// The rows a run rejected, with reasons (the latest run by default).
    Rejects {
        /// The run (see `esg-sync runs`).
        #[arg(long)]
        run: Option<i64>,
        /// csv (default) or json.
        #[arg(long, value_enum, default_value_t = RejectFormat::Csv)]
        output: RejectFormat,
    },
    /// Serve a local emulator of the Workiva Sustainability API (version 2026-01-01), in memory.
    ///
    /// A test double for trials and tests, not for production: it keeps everything in memory,
    /// its demo client (demo/demo-secret) is a workspace administrator, and its admin API can
    /// rewrite any data. Off loopback the admin API needs a token (--admin-token-file, or one
    /// printed at start).
    Emulator(EmulatorArgs),
    /// List what a Workiva tenant holds (following every page), to find the ids mappings need.
    Inspect(InspectArgs),
    /// The program's structure as code: plan, apply or export a catalog file (topics,
    /// dimensions and their values, metrics).
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Review automation: the values a run's threshold review flagged; the final reviewer.
    #[command(subcommand)]
    Review(ReviewCommand),
    /// Alerts ([[alert]]): send a test event, list recent deliveries.
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// The state store's upkeep.
    #[command(subcommand)]
    Store(StoreCommand),
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Drops batch bodies older than [store] keep_batch_bodies_days (keeping their SHA-256
    /// and size) and runs older than [store] keep_runs_days; prints what went (the daemon
    /// does this every hour).
    Prune {
        /// Only count what would go.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Sends a test event to one alert now, signed like any other, and says how it went
    /// (exit 0 when delivered, 1 when not).
    Test {
        /// The alert's name.
        #[arg(long)]
        name: String,
    },
    /// The newest alert deliveries and their outcomes, newest first.
    History {
        /// How many (default 50).
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// table (default) or json.
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        output: ReportFormat,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Every value a run's threshold review ([pipeline.review]) flagged for a person: metric,
    /// period, coordinates, value, prior value, change and reason.
    Report {
        /// The run (see `esg-sync runs`; default: the latest).
        #[arg(long)]
        run: Option<i64>,
        /// csv (default) or json.
        #[arg(long, value_enum, default_value_t = RejectFormat::Csv)]
        output: RejectFormat,
    },
    /// One pass of the final reviewers ([[reviewer]]): approve or reject each task awaiting
    /// their approval, printing every decision and its reasons. Exit 1 when a decision could
    /// not be submitted.
    Tasks {
        /// Only this reviewer.
        #[arg(long)]
        reviewer: Option<String>,
        /// Decide and print, but submit and record nothing.
        #[arg(long)]
        dry_run: bool,
        /// table (default) or json.
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        output: ReportFormat,
    },
    /// The final reviewers' past decisions, newest first: the audit trail.
    History {
        /// Only this reviewer.
        #[arg(long)]
        reviewer: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// table (default) or json.
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        output: ReportFormat,
    },
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Show what apply would create, update (field by field, old → new) and leave alone; send
    /// nothing.
    Plan {
        /// The catalog file (default: [catalog] file).
        #[arg(long)]
        catalog: Option<PathBuf>,
        /// With `prune = true` in the catalog: also plan deleting the topics and metrics it
        /// does not declare.
        #[arg(long)]
        force: bool,
    },
    /// Create and update the program, topics, dimensions and metrics the catalog declares.
    Apply {
        /// The catalog file (default: [catalog] file).
        #[arg(long)]
        catalog: Option<PathBuf>,
        /// With `prune = true` in the catalog: delete the topics and metrics it does not
        /// declare (never a dimension, which the API cannot delete).
        #[arg(long)]
        force: bool,
    },
    /// Write an existing Workiva program as a catalog file.
    Export {
        /// The program's name.
        #[arg(long)]
        program: String,
        /// Write here instead of to stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// What to list.
    #[arg(value_enum)]
    pub what: crate::inspect::Resource,
    /// API base URL (overrides workiva.base_url), e.g. http://127.0.0.1:8080 for the emulator.
    #[arg(long)]
    pub base_url: Option<String>,
    /// OAuth client id (overrides workiva.client_id). The secret comes from the environment
    /// variable WORKIVA_CLIENT_SECRET (or workiva.client_secret_env / client_secret_file).
    #[arg(long)]
    pub client_id: Option<String>,
    /// Program id or exact name (topics, dimensions, metrics, values; narrows tasks and
    /// permissions).
    #[arg(long)]
    pub program: Option<String>,
    /// Metric id or exact name (values).
    #[arg(long)]
    pub metric: Option<String>,
    /// $filter, e.g. "reportingPeriod.year eq 2025" (where Workiva documents one).
    #[arg(long)]
    pub filter: Option<String>,
    /// $orderBy, e.g. "name desc".
    #[arg(long)]
    pub order_by: Option<String>,
    /// table (default) or json.
    #[arg(long, value_enum, default_value_t = crate::inspect::Output::Table)]
    pub output: crate::inspect::Output,
}

/// Lists a resource and prints it.
pub async fn run_inspect(
    args: InspectArgs,
    config: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let mut settings = crate::config::Settings::load(config)?;
    if let Some(u) = args.base_url {
        settings.workiva.base_url = Some(u);
    }
    if let Some(id) = args.client_id {
        settings.workiva.client_id = id;
    }
    let client = crate::workiva::WorkivaClient::new(settings.workiva)?;
    let opts = crate::workiva::ListOptions {
        filter: args.filter,
        order_by: args.order_by,
    };
    let listing = crate::inspect::list(
        &client,
        args.what,
        args.program.as_deref(),
        args.metric.as_deref(),
        &opts,
    )
    .await?;
    match args.output {
        crate::inspect::Output::Table => println!("{}", crate::inspect::render_table(&listing)),
        crate::inspect::Output::Json => {
            println!("{}", serde_json::to_string_pretty(&listing.json)?)
        }
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(
        long,
        default_value = "127.0.0.1:8080",
        env = "ESG_SYNC_EMULATOR_LISTEN"
    )]
    pub listen: SocketAddr,
    /// JSON seed file to load at start (see docs/emulator.md for its format).
    #[arg(long)]
    pub seed: Option<PathBuf>,
    /// Load the built-in demo program (config/demo/seed.json).
    #[arg(long)]
    pub demo: bool,
    /// Serve the admin API under /_emulator/ (seed, faults, tasks, request log, counters, reset).
    #[arg(long)]
    pub admin: bool,
    /// A file holding the admin API's token (Authorization: Bearer TOKEN). Off loopback the
    /// admin API always needs one: without this file a random token is made and printed.
    #[arg(long, requires = "admin")]
    pub admin_token_file: Option<PathBuf>,
    /// Accept this OAuth client id (with every scope) instead of the configured clients.
    #[arg(long, env = "ESG_SYNC_EMULATOR_CLIENT_ID", requires = "client_secret")]
    pub client_id: Option<String>,
    /// The secret of --client-id.
    #[arg(
        long,
        env = "ESG_SYNC_EMULATOR_CLIENT_SECRET",
        hide_env_values = true,
        requires = "client_id"
    )]
    pub client_secret: Option<String>,
    /// Access token lifetime in seconds (default 600).
    #[arg(long)]
    pub token_ttl: Option<u64>,
}

impl RunArgs {
    pub fn options(&self, dry_run: bool) -> anyhow::Result<crate::sync::RunOptions> {
        Ok(crate::sync::RunOptions {
            dry_run: dry_run || self.dry_run,
            force: self.force,
            years: self
                .years
                .as_deref()
                .map(crate::commands::parse_years)
                .transpose()?,
            ..Default::default()
        })
    }
}

/// Dispatches a parsed command line.
pub async fn dispatch(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    use crate::commands;
    let config = cli.config.clone();
    match cli.command {
        Some(Command::Emulator(args)) => run_emulator(args, config.as_deref())
            .await
            .map(|_| std::process::ExitCode::SUCCESS),
        Some(Command::Inspect(args)) => run_inspect(args, config.as_deref())
            .await
            .map(|_| std::process::ExitCode::SUCCESS),
        Some(Command::RunNow { run }) => {
            commands::run(
                config.as_deref(),
                run.pipeline.as_deref(),
                run.options(false)?,
                run.output == ReportFormat::Json,
            )
            .await
        }
        Some(Command::Plan { run }) => {
            commands::run(
                config.as_deref(),
                run.pipeline.as_deref(),
                run.options(true)?,
                run.output == ReportFormat::Json,
            )
            .await
        }
        Some(Command::Validate) => commands::validate(config.as_deref()).await,
        Some(Command::Runs { limit, output }) => {
            commands::runs(config.as_deref(), limit, output == ReportFormat::Json).await
        }
        Some(Command::Rejects { run, output }) => {
            commands::rejects(config.as_deref(), run, output == RejectFormat::Json).await
        }
        None if cli.run_now => {
            let r = cli.run;
            commands::run(
                config.as_deref(),
                r.pipeline.as_deref(),
                r.options(false)?,
                r.output == ReportFormat::Json,
            )
            .await
        }
        Some(Command::Healthcheck { url }) => healthcheck(config.as_deref(), url).await,
        Some(Command::Review(ReviewCommand::Report { run, output })) => {
            commands::review::report(config.as_deref(), run, output == RejectFormat::Json).await
        }
        Some(Command::Review(ReviewCommand::Tasks {
            reviewer,
            dry_run,
            output,
        })) => {
            let json = output == ReportFormat::Json;
            commands::review::tasks(config.as_deref(), reviewer.as_deref(), dry_run, json).await
        }
        Some(Command::Review(ReviewCommand::History {
            reviewer,
            limit,
            output,
        })) => {
            let json = output == ReportFormat::Json;
            commands::review::history(config.as_deref(), reviewer.as_deref(), limit, json).await
        }
        Some(Command::Alerts(AlertsCommand::Test { name })) => {
            commands::alerts::test(config.as_deref(), &name).await
        }
        Some(Command::Alerts(AlertsCommand::History { limit, output })) => {
            commands::alerts::history(config.as_deref(), limit, output == ReportFormat::Json).await
        }
        Some(Command::Store(StoreCommand::Prune { dry_run })) => {
            commands::store::prune(config.as_deref(), dry_run).await
        }
        Some(Command::Catalog(c)) => {
            use commands::catalog as cat;
            match c {
                CatalogCommand::Plan { catalog, force } => {
                    cat::plan_or_apply(config.as_deref(), catalog, force, false).await
                }
                CatalogCommand::Apply { catalog, force } => {
                    cat::plan_or_apply(config.as_deref(), catalog, force, true).await
                }
                CatalogCommand::Export { program, out } => {
                    cat::export(config.as_deref(), &program, out).await
                }
            }
        }
        Some(Command::Daemon) | None => crate::daemon::run(config.as_deref()).await,
    }
}

/// Asks the daemon's `/healthz`.
async fn healthcheck(
    config: Option<&std::path::Path>,
    url: Option<String>,
) -> anyhow::Result<std::process::ExitCode> {
    let url = match url {
        Some(u) => u,
        None => {
            let settings = crate::config::Settings::load(config)?;
            let mut addr: SocketAddr = settings.daemon.listen.parse()?;
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            format!("http://{addr}/healthz")
        }
    };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()?;
    match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => {
            println!("{url}: {}", r.status());
            Ok(std::process::ExitCode::SUCCESS)
        }
        Ok(r) => {
            println!("{url}: {}", r.status());
            Ok(std::process::ExitCode::from(1))
        }
        Err(e) => {
            println!("{url}: {}", crate::workiva::error::describe_reqwest(&e));
            Ok(std::process::ExitCode::from(1))
        }
    }
}

/// Runs the emulator until Ctrl-C or SIGTERM.
pub async fn run_emulator(
    args: EmulatorArgs,
    file: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let serve = crate::emulator::serve::Serve {
        listen: args.listen,
        config: file.map(std::path::Path::to_path_buf),
        seed: args.seed,
        demo: args.demo,
        admin: args.admin,
        admin_token_file: args.admin_token_file,
        client: args.client_id.zip(args.client_secret),
        token_ttl: args.token_ttl,
    };
    crate::emulator::serve::serve(serve, async {
        crate::signals::next().await;
    })
    .await
}
