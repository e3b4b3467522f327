//! The emulator as a program: `workiva-emulator` and `esg-sync emulator` both start it here,
//! print how to reach it, and stop it when `until` resolves (their stop signal).

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::{ClientConfig, Emulator, EmulatorConfig, Seed, StartOptions};

/// What to serve, as the command line said it.
#[derive(Debug, Clone)]
pub struct Serve {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// The emulator's configuration file (clients, token lifetime, timing, faults).
    pub config: Option<PathBuf>,
    /// A JSON seed file to load at start.
    pub seed: Option<PathBuf>,
    /// Load the built-in demo program first.
    pub demo: bool,
    /// Serve the admin API under `/_emulator/`.
    pub admin: bool,
    /// A file holding the admin API's token; off loopback without one, a token is made.
    pub admin_token_file: Option<PathBuf>,
    /// Accept only this OAuth client (with every scope): id and secret.
    pub client: Option<(String, String)>,
    /// Access token lifetime in seconds.
    pub token_ttl: Option<u64>,
}

/// The admin API's token: read from its file (at least 16 bytes), none on loopback, or made
/// (and printed) off loopback. The flag says whether it was made.
fn admin_token(s: &Serve) -> anyhow::Result<(Option<String>, bool)> {
    if !s.admin {
        return Ok((None, false));
    }
    if let Some(f) = &s.admin_token_file {
        let t = std::fs::read_to_string(f)
            .map_err(|e| anyhow::anyhow!("cannot read --admin-token-file {}: {e}", f.display()))?;
        let t = t.trim();
        if t.len() < 16 {
            anyhow::bail!(
                "--admin-token-file {} holds {} bytes; use at least 16 random bytes (e.g. `openssl rand -hex 32`)",
                f.display(),
                t.len()
            );
        }
        return Ok((Some(t.to_string()), false));
    }
    if s.listen.ip().is_loopback() {
        return Ok((None, false));
    }
    let made = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    Ok((Some(made), true))
}

/// The configuration `s` describes: its file (or the defaults) with the command line's
/// client and token lifetime.
fn config(s: &Serve) -> anyhow::Result<EmulatorConfig> {
    let mut config = match &s.config {
        Some(p) => EmulatorConfig::from_file(p)?,
        None => EmulatorConfig::default(),
    };
    if let Some((id, secret)) = &s.client {
        config.clients = vec![ClientConfig {
            id: id.clone(),
            secret: secret.clone(),
            ..ClientConfig::default()
        }];
    }
    if let Some(ttl) = s.token_ttl {
        config.token_ttl_secs = ttl;
    }
    Ok(config)
}

/// Runs the emulator `s` describes until `until` resolves.
pub async fn serve(s: Serve, until: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
    let config = config(&s)?;
    let seed = Seed::build(s.demo, s.seed.as_deref())?;
    let clients: Vec<String> = config.clients.iter().map(|c| c.id.clone()).collect();
    // The banner's example uses the demo client only when it exists; another client's secret
    // is never printed.
    let example_client = config
        .clients
        .iter()
        .find(|c| c.id == "demo" && c.secret == "demo-secret")
        .map(|_| "client_id=demo -d client_secret=demo-secret".to_string())
        .or_else(|| {
            config
                .clients
                .first()
                .map(|c| format!("client_id={} -d client_secret=$CLIENT_SECRET", c.id))
        });
    let (admin_token, made) = admin_token(&s)?;
    eprintln!(
        "Warning: this is a test double of the Workiva API for trials and tests, not for production: it keeps everything in memory, its demo client is a workspace administrator, and its admin API can rewrite any data."
    );
    let emu = Emulator::start(
        config,
        StartOptions {
            listen: s.listen,
            admin: s.admin,
            admin_token: admin_token.clone(),
            seed: Some(seed),
        },
    )
    .await?;
    let base = emu.base_url();
    println!("Workiva API emulator listening on {base}");
    println!("  OAuth clients: {}", clients.join(", "));
    if let Some(client) = example_client {
        println!(
            "  token:  curl -s -X POST {base}/oauth2/token -d grant_type=client_credentials -d {client}"
        );
    }
    println!(
        "  then:   curl -s {base}/programs -H \"Authorization: Bearer $TOKEN\" -H 'X-Version: 2026-01-01'"
    );
    if s.admin {
        println!("  admin API: {base}/_emulator/ (seed, faults, tasks, requests, counters, reset)");
        match (&admin_token, made) {
            (Some(t), true) => println!("  admin token (Authorization: Bearer): {t}"),
            (Some(_), false) => println!("  admin token: the one in --admin-token-file"),
            (None, _) => {}
        }
    }
    for p in emu.with_store_advanced(|st| {
        st.programs
            .iter()
            .map(|p| format!("{} ({})", p.name, p.id))
            .collect::<Vec<_>>()
    }) {
        println!("  program: {p}");
    }
    println!("Press Ctrl-C to stop.");
    until.await;
    tracing::info!("Stopping the emulator.");
    emu.shutdown().await;
    Ok(())
}
