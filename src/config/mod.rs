//! Typed settings, layered: the TOML file, then environment variables
//! `ESG_SYNC__SECTION__KEY` (e.g. `ESG_SYNC__WORKIVA__CLIENT_ID`), then command-line flags.
//! Unknown keys are refused with the file's name, so a typo never passes silently.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::workiva::WorkivaConfig;

pub mod pipeline;

pub use pipeline::{Columns, Mode, NewStatus, OnCompleteChanged, PipelineConfig, StatusPolicy};

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
        built
            .try_deserialize()
            .map_err(|e| anyhow::anyhow!("configuration in {where_} is not valid: {e} (environment overrides are ESG_SYNC__SECTION__KEY)"))
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
}
