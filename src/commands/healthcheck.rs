//! `esg-sync healthcheck`: exit 0 when the daemon answers `/healthz` (a container's
//! HEALTHCHECK). It reads the configuration only to find `daemon.listen` when no `--url` is
//! given, and builds no application.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use crate::config::Settings;

/// Asks the daemon's `/healthz` (at `url`, or at `daemon.listen`, 0.0.0.0 read as 127.0.0.1).
pub async fn run(url: Option<&str>, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let url = match url {
        Some(u) => u.to_string(),
        None => {
            let settings = Settings::load(config)?;
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
        Ok(r) => {
            println!("{url}: {}", r.status());
            Ok(if r.status().is_success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Err(e) => {
            println!("{url}: {}", crate::workiva::error::describe_reqwest(&e));
            Ok(ExitCode::from(1))
        }
    }
}
