//! Configuration files for the binary: one `[[pipeline]]` table ([`PipelineToml`]) and a
//! whole file ([`ConfigToml`]) built from parts instead of pasted TOML.

use std::path::{Path, PathBuf};

use crate::support::env::SyncEnv;

/// A quoted TOML string.
fn quoted(s: &str) -> String {
    format!("{s:?}")
}

/// One `[[pipeline]]` table. By default it reads `metric`, `period` and `value` columns, the
/// `facility` column as dimension `Facility`, and metric `ghg` as `Num`.
#[derive(Clone)]
pub struct PipelineToml {
    /// Top-level keys of the pipeline, in order: (key, TOML value).
    keys: Vec<(String, String)>,
    /// Lines right after the keys (keys of the caller's, or tables such as `[pipeline.source]`).
    extra: Vec<String>,
    columns: Vec<(String, String)>,
    dimensions: Vec<(String, String)>,
    metrics: Vec<(String, String)>,
    /// `[pipeline.dimension_values.DIM]` tables: dimension, then (label, id) pairs.
    dimension_values: Vec<(String, Vec<(String, String)>)>,
}

impl PipelineToml {
    /// A pipeline reading `source`, one file.
    pub fn new(name: &str, program: &str, source: &Path) -> Self {
        Self::without_source(name, program).key(
            "source",
            &format!("[{}]", quoted(&source.display().to_string())),
        )
    }

    /// A pipeline without a `source` key (give it a `[pipeline.source]` table with
    /// [`PipelineToml::extra`]).
    pub fn without_source(name: &str, program: &str) -> Self {
        let pair = |k: &str, v: &str| (k.to_string(), quoted(v));
        Self {
            keys: vec![
                ("name".into(), quoted(name)),
                ("program".into(), quoted(program)),
            ],
            extra: Vec::new(),
            columns: vec![
                pair("metric", "metric"),
                pair("period", "period"),
                pair("value", "value"),
            ],
            dimensions: vec![pair("facility", "Facility")],
            metrics: vec![pair("ghg", "Num")],
            dimension_values: Vec::new(),
        }
    }

    /// The pipeline's name instead of the one it was made with.
    pub fn named(mut self, name: &str) -> Self {
        self.keys[0].1 = quoted(name);
        self
    }

    /// A top-level key with its TOML value as written (`"\"skip\""`, `"1"`).
    pub fn key(mut self, key: &str, toml_value: &str) -> Self {
        self.keys.push((key.into(), toml_value.into()));
        self
    }

    /// `schedule = "CRON"`.
    pub fn schedule(self, cron: &str) -> Self {
        self.key("schedule", &quoted(cron))
    }

    /// `stale_after_secs = SECS`.
    pub fn stale_after(self, secs: u64) -> Self {
        self.key("stale_after_secs", &secs.to_string())
    }

    /// TOML lines placed right after the keys (more keys, or sub-tables of the pipeline).
    pub fn extra(mut self, lines: &str) -> Self {
        self.extra.push(lines.into());
        self
    }

    /// A `[pipeline.columns]` entry more (e.g. `notes = "notes"`).
    pub fn column(mut self, field: &str, column: &str) -> Self {
        self.columns.push((field.into(), quoted(column)));
        self
    }

    /// The dimension columns instead of the default `facility = "Facility"`; none for an
    /// empty slice (and then no `[pipeline.columns.dimensions]` table).
    pub fn dimensions(mut self, dims: &[(&str, &str)]) -> Self {
        self.dimensions = dims
            .iter()
            .map(|(c, d)| (c.to_string(), quoted(d)))
            .collect();
        self
    }

    /// The metrics instead of the default `ghg = "Num"`.
    pub fn metrics(mut self, metrics: &[(&str, &str)]) -> Self {
        self.metrics = metrics
            .iter()
            .map(|(k, m)| (k.to_string(), quoted(m)))
            .collect();
        self
    }

    /// A `[pipeline.dimension_values.DIM]` table.
    pub fn dimension_values(mut self, dim: &str, values: &[(&str, &str)]) -> Self {
        let values = values
            .iter()
            .map(|(l, id)| (quoted(l), quoted(id)))
            .collect();
        self.dimension_values.push((dim.into(), values));
        self
    }

    /// The table as TOML text.
    pub fn toml(&self) -> String {
        let lines = |pairs: &[(String, String)]| -> String {
            pairs.iter().map(|(k, v)| format!("{k} = {v}\n")).collect()
        };
        let mut t = format!("\n[[pipeline]]\n{}", lines(&self.keys));
        for e in &self.extra {
            t.push_str(e);
            t.push('\n');
        }
        t.push_str(&format!("\n[pipeline.columns]\n{}", lines(&self.columns)));
        if !self.dimensions.is_empty() {
            t.push_str(&format!(
                "\n[pipeline.columns.dimensions]\n{}",
                lines(&self.dimensions)
            ));
        }
        t.push_str(&format!("\n[pipeline.metrics]\n{}", lines(&self.metrics)));
        for (dim, values) in &self.dimension_values {
            t.push_str(&format!(
                "\n[pipeline.dimension_values.{dim}]\n{}",
                lines(values)
            ));
        }
        t
    }

    /// The table read as a pipeline's settings, as a test hands them to the engine.
    pub fn config(&self) -> esg_sync::config::PipelineConfig {
        #[derive(serde::Deserialize)]
        struct File {
            pipeline: Vec<esg_sync::config::PipelineConfig>,
        }
        let text = self.toml();
        let file: File = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        file.pipeline.into_iter().next().expect("one pipeline")
    }
}

/// A whole configuration file: `[workiva]` for the emulator (client `demo`, its secret in
/// `ESG_SYNC_TEST_SECRET`), `[store]`, then any tables (`[daemon]`, `[[alert]]`) and the
/// pipelines.
pub struct ConfigToml {
    workiva: Vec<(String, String)>,
    store: String,
    tables: Vec<String>,
    pipelines: Vec<PipelineToml>,
}

impl ConfigToml {
    /// The emulator at `base_url`, the state store at `store_url`.
    pub fn new(base_url: &str, store_url: &str) -> Self {
        Self {
            workiva: vec![
                ("base_url".into(), quoted(base_url)),
                ("client_id".into(), quoted("demo")),
                ("client_secret_env".into(), quoted("ESG_SYNC_TEST_SECRET")),
            ],
            store: store_url.into(),
            tables: Vec::new(),
            pipelines: Vec::new(),
        }
    }

    /// A `[workiva]` key with its TOML value as written; a key given twice is replaced.
    pub fn workiva(mut self, key: &str, toml_value: &str) -> Self {
        match self.workiva.iter_mut().find(|(k, _)| k == key) {
            Some(kv) => kv.1 = toml_value.into(),
            None => self.workiva.push((key.into(), toml_value.into())),
        }
        self
    }

    /// TOML text after `[store]` and before the pipelines (`[daemon]`, `[[alert]]` tables).
    pub fn table(mut self, text: &str) -> Self {
        self.tables.push(text.into());
        self
    }

    pub fn pipeline(mut self, p: PipelineToml) -> Self {
        self.pipelines.push(p);
        self
    }

    /// The file as TOML text.
    pub fn toml(&self) -> String {
        let mut t = String::from("\n[workiva]\n");
        for (k, v) in &self.workiva {
            t.push_str(&format!("{k} = {v}\n"));
        }
        t.push_str(&format!("\n[store]\nurl = {}\n", quoted(&self.store)));
        for table in &self.tables {
            t.push('\n');
            t.push_str(table);
            t.push('\n');
        }
        for p in &self.pipelines {
            t.push_str(&p.toml());
        }
        t
    }

    /// Writes the file to `path` and gives the path back.
    pub fn write(&self, path: PathBuf) -> PathBuf {
        std::fs::write(&path, self.toml()).unwrap();
        path
    }
}

/// The test configuration, with `top` before the pipeline (e.g. a `[daemon]` table) and
/// `pipeline` keys added to it.
pub(crate) fn config_with(e: &SyncEnv, top: &str, pipeline: &str) -> std::path::PathBuf {
    ConfigToml::new(
        &e.env.emu.base_url(),
        &format!("sqlite://{}/cli-state.db", e.dir.path().display()),
    )
    .workiva("poll_min_ms", "5")
    .workiva("poll_max_ms", "100")
    .workiva("requests_per_second", "0")
    .workiva("backoff_base_ms", "5")
    .table(top)
    .pipeline(
        e.standard(&e.file("data.parquet"))
            .named("crash")
            .key("concurrency", "1")
            .extra(pipeline),
    )
    .write(e.file("esg-sync.toml"))
}
