//! The command line's types: `daemon` (the default), `run-now`, `plan`, `validate`, `runs`,
//! `rejects`, `inspect`, `emulator`, `healthcheck`, `catalog`, `review`, `alerts`, `store`.
//! Each command's handler is a file of `commands/`; `commands::dispatch` runs them.

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
    /// The value ledger: every value change Workiva confirmed, hash-chained.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// The history of a value, newest first: each change esg-sync made (before, after, origin,
    /// run, operation) and each hand edit in Workiva in between. Exit 1 when no value matches.
    Trace(TraceArgs),
    /// An assurance pack for one program and year: Workiva's values with the ledger entry
    /// behind each, the year's ledger entries, rejects, reviews and decisions, the effective
    /// configuration, MANIFEST.sha256 and a README. `evidence verify DIR` checks a pack.
    #[command(subcommand_negates_reqs = true, args_conflicts_with_subcommands = true)]
    Evidence(EvidenceArgs),
}

#[derive(Debug, clap::Args)]
pub struct EvidenceArgs {
    #[command(subcommand)]
    pub command: Option<EvidenceCommand>,
    /// The pipeline whose program and metrics the pack covers.
    #[arg(long, conflicts_with = "program")]
    pub pipeline: Option<String>,
    /// Or a program (id or name): all its metrics, and the rejects and reviews of every
    /// pipeline that writes to it.
    #[arg(long, required_unless_present = "pipeline")]
    pub program: Option<String>,
    /// The reporting year.
    #[arg(long, required = true)]
    pub year: Option<u16>,
    /// The folder to write the pack to (created; it must be new or empty).
    #[arg(long, required = true)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Checks a pack: every file against MANIFEST.sha256, and the ledger entries in
    /// ledger.csv against their hashes and content. Exit 0 when it holds, 1 naming what does
    /// not. Needs no configuration.
    Verify {
        /// The pack's folder.
        dir: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub struct TraceArgs {
    /// The pipeline whose program, metric and dimension mappings name the value.
    #[arg(long)]
    pub pipeline: String,
    /// The lake's key for the metric, the Workiva metric's name, or its id.
    #[arg(long)]
    pub metric: String,
    /// The reporting year.
    #[arg(long)]
    pub year: u16,
    /// Only this period of the year: Q3, 07 (July), H1, or a whole label (2025-Q3); default:
    /// every period.
    #[arg(long)]
    pub period: Option<String>,
    /// Only values with this coordinate, as Name=VALUE: the dimension's name (or id) and the
    /// lake's key (or Workiva's id) of its value. Repeat for several dimensions.
    #[arg(long)]
    pub dimension: Vec<String>,
    /// Only the value with this Workiva id.
    #[arg(long)]
    pub value_id: Option<String>,
    /// table (default) or json.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub output: ReportFormat,
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Walks the ledger from its first entry: exit 0 when every entry matches its hash and the
    /// entry before it, 1 naming the first that does not.
    Verify,
    /// Records Workiva's current values of a pipeline's metrics (every year) as baselines
    /// (action `baseline`), for an installation that existed before the ledger: only values
    /// whose value or notes differ from what the ledger last recorded for them. Hand edits are
    /// judged against the baseline from then on.
    Baseline {
        /// The pipeline whose program and metrics to baseline.
        #[arg(long)]
        pipeline: String,
        /// Count what would be recorded; record nothing.
        #[arg(long)]
        dry_run: bool,
    },
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
