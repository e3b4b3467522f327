//! `workiva-emulator`: the emulator on its own, for trying an integration against it. The same
//! as `esg-sync emulator`.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;

use clap::Parser;

/// A faithful local emulator of the Workiva Platform API for sustainability, in memory. A
/// test double for trials and tests, not for production.
#[derive(Debug, Parser)]
#[command(name = "workiva-emulator", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The emulator's configuration file (TOML: clients, token lifetime, timing, faults).
    #[arg(long)]
    config: Option<PathBuf>,
    /// JSON seed file to load at start (see docs/emulator.md for its format).
    #[arg(long)]
    seed: Option<PathBuf>,
    /// Load the built-in demo program.
    #[arg(long)]
    demo: bool,
    /// Serve the admin API under /_emulator/ (seed, faults, tasks, request log, counters, reset).
    #[arg(long)]
    admin: bool,
    /// A file holding the admin API's token (Authorization: Bearer TOKEN). Off loopback the
    /// admin API always needs one: without this file a random token is made and printed.
    #[arg(long, requires = "admin")]
    admin_token_file: Option<PathBuf>,
    /// Accept this OAuth client id (with every scope) instead of the configured clients.
    #[arg(long, env = "WORKIVA_EMULATOR_CLIENT_ID", requires = "client_secret")]
    client_id: Option<String>,
    /// The secret of --client-id.
    #[arg(
        long,
        env = "WORKIVA_EMULATOR_CLIENT_SECRET",
        hide_env_values = true,
        requires = "client_id"
    )]
    client_secret: Option<String>,
    /// Access token lifetime in seconds (default 600).
    #[arg(long)]
    token_ttl: Option<u64>,
}

/// SIGTERM or SIGINT (Ctrl-C). Listened for from this call on, not from the first poll: a
/// signal sent once the banner is out, before the server waits for it, still stops it cleanly.
fn stop_signal() -> Pin<Box<dyn Future<Output = ()> + Send>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            return Box::pin(async move {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            });
        }
    }
    Box::pin(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let a = Args::parse();
    let serve = workiva_emulator::serve::Serve {
        listen: a.listen,
        config: a.config,
        seed: a.seed,
        demo: a.demo,
        admin: a.admin,
        admin_token_file: a.admin_token_file,
        client: a.client_id.zip(a.client_secret),
        token_ttl: a.token_ttl,
    };
    match workiva_emulator::serve::serve(serve, stop_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("workiva-emulator: {e:#}");
            ExitCode::from(2)
        }
    }
}
