//! Typed settings, layered: the TOML file, then environment variables
//! `ESG_SYNC__SECTION__KEY` (e.g. `ESG_SYNC__WORKIVA__CLIENT_ID`), then command-line flags.
//! Unknown keys are refused with the file's name, so a typo never passes silently.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::workiva::config::WorkivaConfig;

pub mod alert;
pub mod daemon;
pub mod notes;
pub mod pipeline;
pub mod review;
pub mod schedule;
pub mod source;

pub use daemon::{AuthConfig, DaemonConfig};
pub use pipeline::{
    CatchUp, Columns, EmptyValues, Mode, NewStatus, OnCompleteChanged, OnHandEdit, PipelineConfig,
    StatusPolicy,
};
pub use source::{Source, SqlKind, SqlSource, StoreCredentials, StoreOptions};

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
    /// The catalog of the program's structure (topics, dimensions, metrics).
    pub catalog: CatalogConfig,
    /// Automated final reviewers of tasks.
    #[serde(rename = "reviewer")]
    pub reviewers: Vec<review::ReviewerConfig>,
    /// Webhooks that events needing a person are sent to.
    #[serde(rename = "alert")]
    pub alerts: Vec<alert::AlertConfig>,
}

/// `[catalog]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogConfig {
    /// The catalog file (TOML), relative to the working directory.
    pub file: Option<PathBuf>,
    /// `never` (default): only `esg-sync catalog apply` applies it; `before_runs`: the daemon
    /// applies it before each scheduled run.
    pub apply: CatalogApply,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatalogApply {
    #[default]
    Never,
    BeforeRuns,
}

/// `[store]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://PATH` (default `sqlite://esg-sync-state.db`) or `postgres://USER:PASS@HOST/DB`;
    /// `Debug` shows it with its password masked.
    pub url: crate::redact::Sensitive<String, crate::redact::DbUrl>,
    /// How long a run rides out a store that fails transiently (retrying its writes, sending
    /// nothing new) before it stops; default 120.
    pub outage_secs: u64,
    /// Days a batch's body is kept once it has an outcome (its SHA-256 and size stay); 30.
    pub keep_batch_bodies_days: u32,
    /// Days a finished run is kept, with its batches, rejects and reviews (each pipeline's
    /// newest run stays); unset: kept for good.
    pub keep_runs_days: Option<u32>,
}

impl StoreConfig {
    /// The cut-offs of a prune now: batch bodies, and runs when `keep_runs_days` is set.
    pub fn cutoffs(
        &self,
    ) -> (
        chrono::DateTime<chrono::Utc>,
        Option<chrono::DateTime<chrono::Utc>>,
    ) {
        let now = chrono::Utc::now();
        let days = |d: u32| now - chrono::Duration::days(i64::from(d));
        (
            days(self.keep_batch_bodies_days),
            self.keep_runs_days.map(days),
        )
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: crate::redact::Sensitive::new("sqlite://esg-sync-state.db".into()),
            outage_secs: 120,
            keep_batch_bodies_days: 30,
            keep_runs_days: None,
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

/// Why a value kept out of the configuration file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum KeptError {
    #[error("cannot read {at}.{key} {}: {error}", path.display())]
    Unreadable {
        at: String,
        key: String,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{at}.{key} {} is empty", path.display())]
    EmptyFile {
        at: String,
        key: String,
        path: PathBuf,
    },
    #[error("{at}.{key} names the environment variable {var}, which is not set")]
    Unset {
        at: String,
        key: String,
        var: String,
    },
    #[error("{at}.{key} names the environment variable {var}, which is empty")]
    EmptyVar {
        at: String,
        key: String,
        var: String,
    },
}

/// Reads a value kept out of the configuration file (a secret, a database URL with its
/// password): from `file` if given, else from the environment variable `env` names; `None`
/// when neither is set. Surrounding white space (a file's final line break) is dropped; an
/// empty value is an error. `at` names the table in messages (`source`, ``alert `team` ``).
pub fn read_kept(
    at: &str,
    (file_key, file): (&str, Option<&Path>),
    (env_key, env): (&str, Option<&str>),
) -> Result<Option<String>, KeptError> {
    let value = if let Some(f) = file {
        let text = std::fs::read_to_string(f).map_err(|error| KeptError::Unreadable {
            at: at.to_string(),
            key: file_key.to_string(),
            path: f.to_path_buf(),
            error,
        })?;
        if text.trim().is_empty() {
            return Err(KeptError::EmptyFile {
                at: at.to_string(),
                key: file_key.to_string(),
                path: f.to_path_buf(),
            });
        }
        text
    } else if let Some(var) = env {
        let text = std::env::var(var).map_err(|_| KeptError::Unset {
            at: at.to_string(),
            key: env_key.to_string(),
            var: var.to_string(),
        })?;
        if text.trim().is_empty() {
            return Err(KeptError::EmptyVar {
                at: at.to_string(),
                key: env_key.to_string(),
                var: var.to_string(),
            });
        }
        text
    } else {
        return Ok(None);
    };
    Ok(Some(value.trim().to_string()))
}

/// Whether a line of a config file may hold a secret: a key named like one, or a URL with
/// credentials in it.
fn holds_secret(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    ["secret", "password", "passwd", "token", "credential", "key"]
        .iter()
        .any(|k| l.contains(k))
        || (l.contains("://") && l.contains('@'))
}

/// A message with every `"..."` value on a secret-looking line replaced.
fn redact_secrets(msg: &str) -> String {
    msg.lines()
        .map(|l| {
            if holds_secret(l) && l.contains('"') {
                let key = l.split('"').next().unwrap_or("");
                format!("{key}\"**REDACTED**\"")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses the file as TOML into the settings' types, so a mistake is reported with its line
/// and key path (`pipeline[1].batch_bytes`) and, for a choice, the values allowed. The line is
/// quoted unless it may hold a secret.
fn check_toml(file: &Path, text: &str) -> anyhow::Result<()> {
    let de = toml::Deserializer::new(text);
    let Err(e) = serde_path_to_error::deserialize::<_, Settings>(de) else {
        return Ok(());
    };
    let path = e.path().to_string();
    let inner = e.into_inner();
    let at = match inner.span() {
        Some(span) => {
            let line_no = text[..span.start.min(text.len())].matches('\n').count() + 1;
            let line = text.lines().nth(line_no - 1).unwrap_or("");
            let shown = if holds_secret(line) {
                "(the line sets a secret: its text is not shown)".to_string()
            } else {
                format!("`{}`", line.trim())
            };
            format!("line {line_no} {shown}")
        }
        None => "the file".to_string(),
    };
    let key = if path.is_empty() || path == "." {
        String::new()
    } else {
        format!(", key `{path}`")
    };
    anyhow::bail!(
        "config file {}, {at}{key}: {}",
        file.display(),
        inner.message().trim()
    )
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
            if f.is_dir() {
                anyhow::bail!(
                    "config file {} is a directory; give the path of a TOML file, such as {}/esg-sync.toml",
                    f.display(),
                    f.display()
                );
            }
            let t = std::fs::read_to_string(f)
                .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", f.display()))?;
            // The file's own syntax and types first, with messages that name the line and
            // key, list allowed values, and never show a secret.
            check_toml(f, &t)?;
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
        let settings: Self = built.try_deserialize().map_err(|e| {
            anyhow::anyhow!(
                "configuration in {where_} with its environment overrides (ESG_SYNC__SECTION__KEY) is not valid: {}",
                redact_secrets(&e.to_string())
            )
        })?;
        let problems = settings.problems();
        if !problems.is_empty() {
            anyhow::bail!(
                "configuration in {where_} is not valid:\n  {}",
                problems.join("\n  ")
            );
        }
        for w in settings.warnings() {
            tracing::warn!(warning = %w, "A database connection is not verified.");
        }
        Ok(settings)
    }

    /// What is allowed but unsafe: database URLs off loopback whose TLS mode does not verify
    /// the server (a source's URL is read from its variable or file for this).
    pub fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = crate::dburl::weak_tls("[store] url", self.store.url.expose())
            .into_iter()
            .collect();
        for p in &self.pipelines {
            if let Source::Sql(s) = &p.source
                && let Ok(url) = s.url()
            {
                out.extend(crate::dburl::weak_tls(
                    &format!("pipeline `{}` source", p.name),
                    &url,
                ));
            }
        }
        out
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
        let mut names = std::collections::BTreeSet::new();
        for r in &self.reviewers {
            if !names.insert(r.name.as_str()) {
                out.push(format!(
                    "two reviewers are named `{}`; names must be unique",
                    r.name
                ));
            }
            out.extend(r.problems());
        }
        let mut alerts = std::collections::BTreeSet::new();
        for a in &self.alerts {
            if !alerts.insert(a.name.as_str()) {
                out.push(format!(
                    "two alerts are named `{}`; names must be unique",
                    a.name
                ));
            }
            out.extend(a.problems());
        }
        out.extend(self.daemon.problems());
        if !(1..=3_600).contains(&self.store.outage_secs) {
            out.push(format!(
                "store.outage_secs is {}; it must be from 1 to 3600",
                self.store.outage_secs
            ));
        }
        for (key, days) in [
            (
                "keep_batch_bodies_days",
                Some(self.store.keep_batch_bodies_days),
            ),
            ("keep_runs_days", self.store.keep_runs_days),
        ] {
            if let Some(d) = days.filter(|d| !(1..=36_500).contains(d)) {
                out.push(format!("store.{key} is {d}; it must be from 1 to 36500"));
            }
        }
        let numbers = self.workiva.number_problems();
        if !numbers.is_empty() {
            out.push(numbers.join("; "));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_value_comes_from_its_file_or_variable_and_is_never_empty() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("secret");
        std::fs::write(&f, "s3cret\n").unwrap();
        let file = ("secret_file", Some(f.as_path()));
        let no_env = ("secret_env", None);
        assert_eq!(
            read_kept("alert `a`", file, no_env).unwrap(),
            Some("s3cret".into())
        );
        std::fs::write(&f, " \n").unwrap();
        let e = read_kept("alert `a`", file, no_env)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("alert `a`.secret_file ") && e.ends_with(" is empty"),
            "{e}"
        );
        let gone = dir.path().join("gone");
        let e = read_kept("source", ("url_file", Some(gone.as_path())), no_env)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cannot read source.url_file "), "{e}");
        let e = read_kept(
            "source",
            ("url_file", None),
            ("url_env", Some("ESG_SYNC_TEST_SURELY_UNSET_VAR")),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "source.url_env names the environment variable ESG_SYNC_TEST_SURELY_UNSET_VAR, which is not set"
        );
        assert_eq!(
            read_kept("source", ("url_file", None), ("url_env", None)).unwrap(),
            None
        );
    }

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
        let e = Settings::load_with_env(None, env.clone())
            .unwrap_err()
            .to_string();
        assert!(e.contains("need a key: add [daemon.auth]"), "{e}");
        let mut env = env;
        env.push((
            "ESG_SYNC__DAEMON__AUTH__TOKEN_ENV".to_string(),
            "ESG_SYNC_TOKEN".to_string(),
        ));
        let s = Settings::load_with_env(None, env).unwrap();
        assert_eq!(s.daemon.listen, "0.0.0.0:9999");
        assert_eq!(s.daemon.grace_period_secs, 5);
        assert_eq!(s.daemon.readiness_timeout_secs, 2);
        assert_eq!(s.store.url.expose(), "sqlite:///var/lib/esg-sync/state.db");
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

    #[test]
    fn mistakes_name_the_line_and_key_list_the_choices_and_hide_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("esg-sync.toml");
        let load = |text: &str| {
            std::fs::write(&f, text).unwrap();
            Settings::load_with_env(Some(&f), Vec::new())
                .unwrap_err()
                .to_string()
        };
        let e = load("[workiva]\nclient_id = \"x\"\nclient_secret = \"LEAKME\n");
        assert!(
            !e.contains("LEAKME") && e.contains("line 3") && e.contains("secret"),
            "{e}"
        );
        let e = load("[store]\nurl = \"postgres://u:hunter2@db/x\nx\"\n");
        assert!(!e.contains("hunter2"), "{e}");
        let e = load("[workiva]\nclient_auth = \"digest\"\n");
        assert!(
            e.contains("key `workiva.client_auth`") && e.contains("expected `body` or `basic`"),
            "{e}"
        );
        let e = load(
            "[[pipeline]]\nname = \"a\"\nprogram = \"P\"\nsource = [\"x\"]\nmode = \"sideways\"\n[pipeline.columns]\nvalue = \"v\"\n",
        );
        assert!(
            e.contains("`pipeline[0].mode`") && e.contains("`upsert`") && e.contains("`mirror`"),
            "{e}"
        );
        let e = load(
            "[workiva]\nmax_concurrent_requests = 100000\nrequest_timeout_secs = 0\n[daemon]\nreadiness_timeout_secs = 0\n",
        );
        assert!(
            e.contains("workiva.max_concurrent_requests is 100000; it must be from 1 to 1024")
                && e.contains("workiva.request_timeout_secs is 0")
                && e.contains("daemon.readiness_timeout_secs is 0"),
            "{e}"
        );
        let e = Settings::load_with_env(Some(dir.path()), Vec::new())
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a directory"), "{e}");
    }

    #[test]
    fn what_would_only_fail_when_reading_is_found_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("esg-sync.toml");
        std::fs::write(
            &f,
            "[[pipeline]]\nname = \"a\"\nprogram = \"P\"\nsource = [\"x\"]\nschedule = \"0 0 30 2 *\"\n[pipeline.columns]\nfixed_metric = \"M\"\nperiod = \"p\"\n[pipeline.dimension_values_csv]\nFacility = \"/no/such/values.csv\"\n",
        )
        .unwrap();
        let e = Settings::load_with_env(Some(&f), Vec::new())
            .unwrap_err()
            .to_string();
        for part in [
            "columns.value is not set",
            "dimension_values_csv.Facility: /no/such/values.csv is not a file",
            "schedule `0 0 30 2 *` never fires",
        ] {
            assert!(e.contains(part), "{part} missing from: {e}");
        }
    }
}
