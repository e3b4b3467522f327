//! Typed settings, layered: the TOML file, then environment variables
//! `ESG_SYNC__SECTION__KEY` (e.g. `ESG_SYNC__WORKIVA__CLIENT_ID`), then command-line flags.
//! Unknown keys are refused with the file's name, so a typo never passes silently.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::workiva::config::WorkivaConfig;

pub mod pipeline;
pub mod schedule;

pub use pipeline::{
    CatchUp, Columns, EmptyValues, Mode, NewStatus, OnCompleteChanged, PipelineConfig, StatusPolicy,
};

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// How to reach and authenticate with Workiva.
    pub workiva: WorkivaConfig,
    /// Where mappings and sync state live.
    pub store: StoreConfig,
    /// An emulator started in process (the demo, trials).
    pub emulator: EmbeddedEmulator,
    /// The daemon: its HTTP endpoints and shutdown.
    pub daemon: DaemonConfig,
    /// The pipelines.
    #[serde(rename = "pipeline")]
    pub pipelines: Vec<PipelineConfig>,
}

/// `[store]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://PATH` (default `sqlite://esg-sync-state.db`) or `postgres://USER:PASS@HOST/DB`.
    pub url: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://esg-sync-state.db".into(),
        }
    }
}

/// `[emulator]`: run against an emulator in this process instead of a tenant.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddedEmulator {
    /// Start an emulator in process and point `[workiva]` at it (client `demo`).
    pub embedded: bool,
    /// Seed it with the built-in demo program.
    pub demo: bool,
    /// A seed file to load.
    pub seed: Option<PathBuf>,
    /// Keep the emulated tenant in this JSON file between runs, so a second run sees what the
    /// first one wrote.
    pub state_file: Option<PathBuf>,
}

/// `[daemon]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DaemonConfig {
    /// Address of `/healthz`, `/readyz` and `/metrics` (default `127.0.0.1:9184`; a container
    /// needs `0.0.0.0:9184`; port 0 picks a free port, which the start-up log line names).
    pub listen: String,
    /// After SIGTERM or SIGINT, how long runs may go on polling the batches they already sent
    /// (default 60). Runs still going then are recorded as interrupted; the next start
    /// resumes them.
    pub grace_period_secs: u64,
    /// How long `/readyz` waits for the store and the token endpoint (default 5).
    pub readiness_timeout_secs: u64,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:9184".into(),
            grace_period_secs: 60,
            readiness_timeout_secs: 5,
        }
    }
}

/// Prefix of environment overrides: `ESG_SYNC__WORKIVA__BASE_URL` sets `workiva.base_url`.
pub const ENV_PREFIX: &str = "ESG_SYNC";

impl Settings {
    /// Reads `file` (if given) and the environment overrides.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        Self::load_with_env(file, std::env::vars())
    }

    /// As [`Settings::load`], with the environment given explicitly (for tests).
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Self> {
        let mut b = config::Config::builder();
        if let Some(f) = file {
            if !f.exists() {
                anyhow::bail!("config file {} does not exist", f.display());
            }
            b = b.add_source(
                config::File::from(PathBuf::from(f))
                    .format(config::FileFormat::Toml)
                    .required(true),
            );
        }
        let vars: config::Map<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("ESG_SYNC__"))
            .collect();
        b = b.add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("__")
                .separator("__")
                .source(Some(vars)),
        );
        let where_ = file
            .map(|f| f.display().to_string())
            .unwrap_or_else(|| "the environment".into());
        let built = b
            .build()
            .map_err(|e| anyhow::anyhow!("cannot read the configuration from {where_}: {e}"))?;
        let settings: Self = built
            .try_deserialize()
            .map_err(|e| anyhow::anyhow!("configuration in {where_} is not valid: {e} (environment overrides are ESG_SYNC__SECTION__KEY)"))?;
        let problems = settings.problems();
        if !problems.is_empty() {
            anyhow::bail!(
                "configuration in {where_} is not valid:\n  {}",
                problems.join("\n  ")
            );
        }
        Ok(settings)
    }

    /// What serde cannot check, every problem at once.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for p in &self.pipelines {
            if !seen.insert(p.name.as_str()) {
                out.push(format!(
                    "two pipelines are named `{}`; names must be unique (the state store keys on them)",
                    p.name
                ));
            }
            out.extend(p.problems());
        }
        if self.daemon.listen.parse::<std::net::SocketAddr>().is_err() {
            out.push(format!(
                "daemon.listen `{}` is not an address such as 127.0.0.1:9184",
                self.daemon.listen
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("esg-sync.toml");
        std::fs::write(&f, "[workiva]\nbase_url = \"http://127.0.0.1:9\"\nclient_id = \"from-file\"\npage_size = 50\n").unwrap();
        let s = Settings::load_with_env(Some(&f), vec![]).unwrap();
        assert_eq!(s.workiva.client_id, "from-file");
        assert_eq!(s.workiva.page_size, 50);
        let env = vec![
            (
                "ESG_SYNC__WORKIVA__CLIENT_ID".to_string(),
                "12345".to_string(),
            ),
            (
                "ESG_SYNC__WORKIVA__PAGE_SIZE".to_string(),
                "200".to_string(),
            ),
            (
                "ESG_SYNC__WORKIVA__CLIENT_AUTH".to_string(),
                "basic".to_string(),
            ),
            ("ESG_SYNC_UNRELATED".to_string(), "x".to_string()),
        ];
        let s = Settings::load_with_env(Some(&f), env).unwrap();
        assert_eq!(
            s.workiva.client_id, "12345",
            "a numeric-looking id stays text"
        );
        assert_eq!(s.workiva.page_size, 200);
        assert_eq!(s.workiva.client_auth, crate::workiva::ClientAuth::Basic);
        assert_eq!(s.workiva.base_url.as_deref(), Some("http://127.0.0.1:9"));
    }

    #[test]
    fn unknown_keys_and_missing_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("bad.toml");
        std::fs::write(&f, "[workiva]\nclient_idd = \"typo\"\n").unwrap();
        let e = Settings::load_with_env(Some(&f), vec![])
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad.toml") && e.contains("client_idd"), "{e}");
        let e = Settings::load_with_env(Some(&dir.path().join("nope.toml")), vec![])
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not exist"), "{e}");
    }

    #[test]
    fn daemon_keys_from_file_and_environment() {
        let s = Settings::load_with_env(None, vec![]).unwrap();
        assert_eq!(s.daemon.listen, "127.0.0.1:9184");
        assert_eq!(s.daemon.grace_period_secs, 60);
        let env = vec![
            (
                "ESG_SYNC__DAEMON__LISTEN".to_string(),
                "0.0.0.0:9999".to_string(),
            ),
            (
                "ESG_SYNC__DAEMON__GRACE_PERIOD_SECS".to_string(),
                "5".to_string(),
            ),
            (
                "ESG_SYNC__DAEMON__READINESS_TIMEOUT_SECS".to_string(),
                "2".to_string(),
            ),
            (
                "ESG_SYNC__STORE__URL".to_string(),
                "sqlite:///var/lib/esg-sync/state.db".to_string(),
            ),
            (
                "ESG_SYNC__WORKIVA__CLIENT_SECRET_FILE".to_string(),
                "/run/credentials/esg-sync.service/workiva-client-secret".to_string(),
            ),
        ];
        let s = Settings::load_with_env(None, env).unwrap();
        assert_eq!(s.daemon.listen, "0.0.0.0:9999");
        assert_eq!(s.daemon.grace_period_secs, 5);
        assert_eq!(s.daemon.readiness_timeout_secs, 2);
        assert_eq!(s.store.url, "sqlite:///var/lib/esg-sync/state.db");
        assert_eq!(
            s.workiva.client_secret_file.as_deref(),
            Some(Path::new(
                "/run/credentials/esg-sync.service/workiva-client-secret"
            ))
        );
        let bad = vec![(
            "ESG_SYNC__DAEMON__LISTEN".to_string(),
            "everywhere".to_string(),
        )];
        let e = Settings::load_with_env(None, bad).unwrap_err().to_string();
        assert!(e.contains("daemon.listen `everywhere`"), "{e}");
    }

    #[test]
    fn schedule_keys_and_every_pipeline_problem_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("esg-sync.toml");
        let pipeline = |name: &str, extra: &str| {
            format!(
                "[[pipeline]]\nname = \"{name}\"\nprogram = \"P\"\nsource = [\"x.parquet\"]\n{extra}\n[pipeline.columns]\nfixed_metric = \"M\"\nyear = \"year\"\nvalue = \"v\"\n"
            )
        };
        std::fs::write(
            &f,
            pipeline(
                "a",
                "schedule = \"0 3 * * *\"\ntimezone = \"Europe/Berlin\"\njitter_secs = 30\ncatch_up = \"skip\"\nstale_after_secs = 90000",
            ),
        )
        .unwrap();
        let s = Settings::load_with_env(Some(&f), vec![]).unwrap();
        let p = &s.pipelines[0];
        assert_eq!(p.schedule.as_deref(), Some("0 3 * * *"));
        assert_eq!(p.timezone, "Europe/Berlin");
        assert_eq!(p.jitter_secs, 30);
        assert_eq!(p.catch_up, CatchUp::Skip);
        assert_eq!(p.stale_after_secs, Some(90000));
        std::fs::write(
            &f,
            pipeline("b", "")
                + &pipeline(
                    "a",
                    "schedule = \"61 * * * *\"\ntimezone = \"Nowhere/Land\"",
                )
                + &pipeline("b", ""),
        )
        .unwrap();
        let s = Settings::load_with_env(Some(&f), vec![])
            .unwrap_err()
            .to_string();
        assert!(s.contains("esg-sync.toml"), "{s}");
        assert!(s.contains("two pipelines are named `b`"), "{s}");
        assert!(s.contains("pipeline `a`: schedule `61 * * * *`"), "{s}");
        assert!(s.contains("timezone `Nowhere/Land`"), "{s}");
        std::fs::write(
            &f,
            pipeline("j", "schedule = \"*/5 * * * *\"\njitter_secs = 300"),
        )
        .unwrap();
        let s = Settings::load_with_env(Some(&f), vec![])
            .unwrap_err()
            .to_string();
        assert!(
            s.contains("jitter_secs 300 is not shorter than the 300 s between two runs"),
            "{s}"
        );
    }
}
