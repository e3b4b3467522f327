//! `[daemon]` and `[daemon.auth]`: where the daemon's endpoints listen, who may call them,
//! which `Host` names they answer, and the server's limits.

use std::net::SocketAddr;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

/// The shortest endpoint token accepted, in bytes.
pub const MIN_TOKEN_BYTES: usize = 32;

/// `[daemon]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DaemonConfig {
    /// Address of the endpoints (default `127.0.0.1:9184`; a container needs `0.0.0.0:9184`,
    /// and an address off loopback needs `[daemon.auth]`; port 0 picks a free port, which the
    /// start-up log line names).
    pub listen: String,
    /// After SIGTERM or SIGINT, how long runs may go on polling the batches they already sent
    /// (default 60). Runs still going then are recorded as interrupted; the next start
    /// resumes them.
    pub grace_period_secs: u64,
    /// How long `/readyz` and the status page wait for the store (default 5).
    pub readiness_timeout_secs: u64,
    /// How long a pipeline's lease lasts unrenewed (default 120; renewed every quarter of
    /// it). A replica that dies mid-run has its pipelines taken over by another replica
    /// within this time.
    pub lease_ttl_secs: u64,
    /// How often the daemon checks each pipeline's staleness for `stale` alerts and which
    /// replica leads each pipeline (default 15).
    pub watch_interval_secs: u64,
    /// Host names a request's `Host` may carry besides the listen address, `localhost`,
    /// `127.0.0.1` and `::1` (and any IP address when listening on all of them); any other is
    /// refused with 421, so a web page cannot read the endpoints through DNS rebinding. Give
    /// the names people and Prometheus reach the daemon by (`esg-sync.example.com`,
    /// `esg-sync.esg.svc`).
    pub allowed_hosts: Vec<String>,
    /// A connection that has not sent a whole request head within this time is closed
    /// (default 10; 1..300). The same limit applies while a kept-alive connection waits for
    /// its next request.
    pub header_read_timeout_secs: u64,
    /// A connection on which no byte moves for this long is closed (default 60; 1..3600).
    pub idle_timeout_secs: u64,
    /// Connections served at once (default 256; 1..65536); more wait in the listen backlog.
    pub max_connections: usize,
    /// The key of the endpoints; required when `listen` is off loopback.
    pub auth: Option<AuthConfig>,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:9184".into(),
            grace_period_secs: 60,
            readiness_timeout_secs: 5,
            lease_ttl_secs: 120,
            watch_interval_secs: 15,
            allowed_hosts: Vec::new(),
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections: 256,
            auth: None,
        }
    }
}

/// `[daemon.auth]`: the token every request to the status page, `/status`, `/runs/*` and
/// (with `metrics_auth`) the probes and metrics must carry, as `Authorization: Bearer TOKEN`
/// or, from a browser, as the password of HTTP Basic (any user name).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// A file holding the token (a mounted Secret, systemd's credential).
    pub token_file: Option<PathBuf>,
    /// An environment variable holding the token.
    pub token_env: Option<String>,
    /// Also require the token for `/healthz`, `/readyz` and `/metrics` (default false: probes
    /// and Prometheus usually cannot send one, and these show no figures).
    pub metrics_auth: bool,
}

impl AuthConfig {
    /// Reads the token; one shorter than [`MIN_TOKEN_BYTES`] is refused.
    pub fn token(&self) -> anyhow::Result<SecretString> {
        let kept = crate::config::read_kept(
            "daemon.auth",
            ("token_file", self.token_file.as_deref()),
            ("token_env", self.token_env.as_deref()),
        )
        .map_err(anyhow::Error::msg)?
        .ok_or_else(|| anyhow::anyhow!("daemon.auth needs token_file or token_env"))?;
        if kept.len() < MIN_TOKEN_BYTES {
            anyhow::bail!(
                "daemon.auth: the token is {} bytes; use at least {MIN_TOKEN_BYTES} random bytes (e.g. the output of `openssl rand -hex 32`)",
                kept.len()
            );
        }
        Ok(SecretString::from(kept))
    }
}

impl DaemonConfig {
    /// The listen address, if it parses.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.listen.parse().ok()
    }

    /// Whether the endpoints are reachable from other hosts.
    pub fn off_loopback(&self) -> bool {
        self.addr().is_some_and(|a| !a.ip().is_loopback())
    }

    /// What serde cannot check, every problem at once.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.addr().is_none() {
            out.push(format!(
                "daemon.listen `{}` is not an address such as 127.0.0.1:9184",
                self.listen
            ));
        }
        if self.off_loopback() && self.auth.is_none() {
            out.push(format!(
                "daemon.listen `{}` is reachable from other hosts, so its endpoints need a key: add [daemon.auth] with token_file or token_env (or listen on 127.0.0.1)",
                self.listen
            ));
        }
        if let Some(a) = &self.auth {
            match (&a.token_file, &a.token_env) {
                (None, None) => out.push("daemon.auth needs token_file or token_env".into()),
                (Some(_), Some(_)) => {
                    out.push("daemon.auth: set token_file or token_env, not both".into())
                }
                _ => {}
            }
        }
        for h in &self.allowed_hosts {
            if h.is_empty() || h.contains(['/', ' ', '@']) {
                out.push(format!(
                    "daemon.allowed_hosts has `{h}`; give host names such as esg-sync.example.com, without scheme or path"
                ));
            }
        }
        for (key, v, lo, hi) in [
            (
                "daemon.grace_period_secs",
                self.grace_period_secs,
                0,
                86_400,
            ),
            (
                "daemon.readiness_timeout_secs",
                self.readiness_timeout_secs,
                1,
                300,
            ),
            ("daemon.lease_ttl_secs", self.lease_ttl_secs, 4, 3_600),
            (
                "daemon.watch_interval_secs",
                self.watch_interval_secs,
                1,
                3_600,
            ),
            (
                "daemon.header_read_timeout_secs",
                self.header_read_timeout_secs,
                1,
                300,
            ),
            ("daemon.idle_timeout_secs", self.idle_timeout_secs, 1, 3_600),
            (
                "daemon.max_connections",
                self.max_connections as u64,
                1,
                65_536,
            ),
        ] {
            if !(lo..=hi).contains(&v) {
                out.push(format!("{key} is {v}; it must be from {lo} to {hi}"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_loopback_needs_a_key_and_a_short_token_is_refused() {
        let mut d = DaemonConfig {
            listen: "0.0.0.0:9184".into(),
            ..DaemonConfig::default()
        };
        let p = d.problems().join("; ");
        assert!(p.contains("need a key: add [daemon.auth]"), "{p}");
        d.listen = "[::1]:9184".into();
        assert!(d.problems().is_empty(), "{:?}", d.problems());
        d.listen = "10.0.0.5:9184".into();
        d.auth = Some(AuthConfig::default());
        assert_eq!(
            d.problems(),
            vec!["daemon.auth needs token_file or token_env".to_string()]
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("token");
        std::fs::write(&f, "short\n").unwrap();
        let a = AuthConfig {
            token_file: Some(f.clone()),
            ..AuthConfig::default()
        };
        let e = a.token().unwrap_err().to_string();
        assert!(e.contains("the token is 5 bytes; use at least 32"), "{e}");
        assert!(!e.contains("short"), "{e}");
        std::fs::write(&f, format!("{}\n", "k".repeat(40))).unwrap();
        assert!(a.token().is_ok());
        d.auth = Some(a);
        assert!(d.problems().is_empty(), "{:?}", d.problems());
    }
}
