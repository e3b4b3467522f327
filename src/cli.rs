//! The command line: `esg-sync emulator` and `esg-sync inspect` today; the sync commands
//! (daemon, run-now, plan, validate, runs, rejects) arrive with their issues.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::emulator::{ClientConfig, Emulator, EmulatorConfig, Seed, StartOptions};

/// The demo tenant shipped with the binary (`config/demo/seed.json`).
pub const DEMO_SEED: &str = include_str!("../config/demo/seed.json");

#[derive(Debug, Parser)]
#[command(
    name = "esg-sync",
    version,
    about = "Keeps a Workiva sustainability program in step with a data lake."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve a local emulator of the Workiva Sustainability API (version 2026-01-01), in memory.
    Emulator(EmulatorArgs),
    /// List what a Workiva tenant holds (following every page), to find the ids mappings need.
    Inspect(InspectArgs),
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// What to list.
    #[arg(value_enum)]
    pub what: crate::inspect::Resource,
    /// Configuration file (TOML); its [workiva] section says where and how to connect.
    #[arg(long, env = "ESG_SYNC_CONFIG")]
    pub config: Option<PathBuf>,
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
pub async fn run_inspect(args: InspectArgs) -> anyhow::Result<()> {
    let mut settings = crate::config::Settings::load(args.config.as_deref())?;
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
    /// TOML file with clients, token lifetime, operation timing, rate limits and faults
    /// (see docs/emulator.md).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// JSON seed file to load at start (see docs/emulator.md for its format).
    #[arg(long)]
    pub seed: Option<PathBuf>,
    /// Load the built-in demo program (config/demo/seed.json).
    #[arg(long)]
    pub demo: bool,
    /// Serve the admin API under /_emulator/ (seed, faults, tasks, request log, counters, reset).
    #[arg(long)]
    pub admin: bool,
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

/// Runs the emulator until Ctrl-C or SIGTERM.
pub async fn run_emulator(args: EmulatorArgs) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(p) => EmulatorConfig::from_file(p)?,
        None => EmulatorConfig::default(),
    };
    if let (Some(id), Some(secret)) = (&args.client_id, &args.client_secret) {
        config.clients = vec![ClientConfig {
            id: id.clone(),
            secret: secret.clone(),
            ..ClientConfig::default()
        }];
    }
    if let Some(ttl) = args.token_ttl {
        config.token_ttl_secs = ttl;
    }
    let mut seed = Seed::default();
    if args.demo {
        let demo: Seed = serde_json::from_str(DEMO_SEED)
            .map_err(|e| anyhow::anyhow!("built-in demo seed is invalid: {e}"))?;
        seed = demo;
    }
    if let Some(p) = &args.seed {
        let extra = Seed::from_file(p)?;
        seed.principals.extend(extra.principals);
        seed.programs.extend(extra.programs);
        seed.tasks.extend(extra.tasks);
    }
    let clients: Vec<String> = config.clients.iter().map(|c| c.id.clone()).collect();
    let emu = Emulator::start(
        config,
        StartOptions {
            listen: args.listen,
            admin: args.admin,
            seed: Some(seed),
        },
    )
    .await?;
    let base = emu.base_url();
    let programs = emu.with_store(|s| {
        s.programs
            .iter()
            .map(|p| format!("{} ({})", p.name, p.id))
            .collect::<Vec<_>>()
    });
    println!("Workiva API emulator listening on {base}");
    println!("  OAuth clients: {}", clients.join(", "));
    println!(
        "  token:  curl -s -X POST {base}/oauth2/token -d grant_type=client_credentials -d client_id=demo -d client_secret=demo-secret"
    );
    println!(
        "  then:   curl -s {base}/programs -H \"Authorization: Bearer $TOKEN\" -H 'X-Version: 2026-01-01'"
    );
    if args.admin {
        println!("  admin API: {base}/_emulator/ (seed, faults, tasks, requests, counters, reset)");
    }
    for p in programs {
        println!("  program: {p}");
    }
    println!("Press Ctrl-C to stop.");
    shutdown_signal().await;
    tracing::info!("Stopping the emulator.");
    emu.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
