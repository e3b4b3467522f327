//! A test's emulator, Workiva client, state store and folder, with the standard pipeline.

use std::path::{Path, PathBuf};

use esg_sync::config::PipelineConfig;
use esg_sync::store::Store;
use esg_sync::sync::{RunOptions, run_pipeline};
use esg_sync::workiva::WorkivaClient;
use serde_json::Value;

use crate::support::pipeline::PipelineToml;
use crate::support::pq::{s, write};
use crate::support::{Env, start};

pub struct SyncEnv {
    pub env: Env,
    pub dir: tempfile::TempDir,
    pub client: WorkivaClient,
    pub store: Store,
}

pub async fn sync_env() -> SyncEnv {
    let env = start().await;
    let client = crate::support::client::client(&env);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!(
        "sqlite://{}",
        dir.path().join("state.db").display()
    ))
    .await
    .unwrap();
    SyncEnv {
        env,
        dir,
        client,
        store,
    }
}

/// A row of the standard test file: metric key, period, facility, business unit, value, notes.
pub type R<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, &'a str);

pub fn write_rows(path: &Path, rows: &[R]) {
    let col = |i: usize| {
        s(&rows
            .iter()
            .map(|r| [r.0, r.1, r.2, r.3, r.4, r.5][i])
            .collect::<Vec<_>>())
    };
    write(
        path,
        vec![
            ("metric", col(0)),
            ("period", col(1)),
            ("facility", col(2)),
            ("bu", col(3)),
            ("value", col(4)),
            ("notes", col(5)),
        ],
    );
}

impl SyncEnv {
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The standard pipeline over `data.parquet`, its columns `metric`, `period`, `value`,
    /// `notes`, `facility` (`Facility`) and `bu` (`BU`), metrics `ghg` (`Num`) and `share`
    /// (`Share`), and label `Site A` for facility `A`; `extra` TOML lines go after its keys
    /// (its own tables as `[pipeline.review]`).
    pub fn pipeline(&self, extra: &str) -> PipelineConfig {
        let p = self
            .standard(&self.file("data.parquet"))
            .extra(extra)
            .config();
        assert!(p.problems().is_empty(), "{:?}", p.problems());
        p
    }

    /// The standard pipeline's table, reading `source`.
    pub fn standard(&self, source: &Path) -> PipelineToml {
        PipelineToml::new("test", "Test Program", source)
            .column("notes", "notes")
            .dimensions(&[("facility", "Facility"), ("bu", "BU")])
            .metrics(&[("ghg", "Num"), ("share", "Share")])
            .dimension_values("Facility", &[("Site A", "A")])
    }

    pub async fn run(&self, p: &PipelineConfig, opts: RunOptions) -> esg_sync::sync::Report {
        run_pipeline(&self.client, &self.store, p, &opts).await
    }

    pub fn upsertions(&self) -> usize {
        self.env
            .emu
            .requests()
            .iter()
            .filter(|r| r.endpoint.ends_with("/batchUpsertion"))
            .count()
    }

    /// Workiva's values of a metric, sorted by year, start month and coordinates.
    pub async fn workiva(&self, metric: &str) -> Vec<Landed> {
        let mut v: Vec<_> = self
            .env
            .api
            .values(&self.env.ids.program, metric)
            .await
            .into_iter()
            .map(|x| Landed {
                year: x["reportingPeriod"]["year"].as_u64().unwrap(),
                start: x["reportingPeriod"]["start"].as_u64().unwrap(),
                end: x["reportingPeriod"]["end"].as_u64().unwrap(),
                coordinates: x["coordinates"].clone(),
                value: x["value"].as_str().unwrap().to_string(),
                status: x["status"].as_str().unwrap().to_string(),
                notes: x["notes"].as_str().unwrap_or("").to_string(),
            })
            .collect();
        v.sort_by_key(|a| (a.year, a.start, a.coordinates.to_string()));
        v
    }
}

/// One value as it landed in Workiva: its reporting period (year, start and end month),
/// coordinates, value, status and notes (empty when it has none).
#[derive(Debug, Clone, PartialEq)]
pub struct Landed {
    pub year: u64,
    pub start: u64,
    pub end: u64,
    pub coordinates: Value,
    pub value: String,
    pub status: String,
    pub notes: String,
}

/// The rows the restart, outage and daemon tests write, and [`assert_equal_to_source`] checks.
pub(crate) const ROWS: &[R] = &[
    ("ghg", "2025-Q1", "Site A", "X", "10", "n1"),
    ("ghg", "2025-Q2", "Site A", "X", "20", ""),
    ("ghg", "2024", "B", "", "30", ""),
    ("share", "2025-H1", "", "X", "40.5", ""),
    ("share", "2025-H2", "", "Y", "41", ""),
];

pub(crate) async fn assert_equal_to_source(e: &SyncEnv) {
    let (f, bu) = (&e.env.ids.facility, &e.env.ids.bu);
    let num = e.workiva(&e.env.ids.num).await;
    let got: Vec<(u64, u64, serde_json::Value, String, String)> = num
        .into_iter()
        .map(|v| (v.year, v.start, v.coordinates, v.value, v.notes))
        .collect();
    assert_eq!(
        got,
        vec![
            (2024, 1, serde_json::json!({f: "B"}), "30".into(), "".into()),
            (
                2025,
                1,
                serde_json::json!({f: "A", bu: "X"}),
                "10".into(),
                "n1".into()
            ),
            (
                2025,
                4,
                serde_json::json!({f: "A", bu: "X"}),
                "20".into(),
                "".into()
            ),
        ]
    );
    let share: Vec<String> = e
        .workiva(&e.env.ids.share)
        .await
        .into_iter()
        .map(|v| v.value)
        .collect();
    assert_eq!(share, vec!["40.5", "41"]);
}

pub(crate) fn posts(e: &SyncEnv) -> usize {
    e.upsertions()
}

/// `STEM.parquet`: metric `m` at facility A in each of `period`, each value `generation`.
pub(crate) fn write_periods(e: &SyncEnv, stem: &str, period: &[String], generation: u32) {
    let n = period.len();
    let tmp = e.file(&format!("{stem}.tmp"));
    crate::support::pq::write(
        &tmp,
        vec![
            ("metric", crate::support::pq::s(&vec!["m"; n])),
            (
                "period",
                crate::support::pq::s(&period.iter().map(String::as_str).collect::<Vec<_>>()),
            ),
            ("facility", crate::support::pq::s(&vec!["A"; n])),
            (
                "value",
                crate::support::pq::s(&vec![generation.to_string().as_str(); n]),
            ),
        ],
    );
    // Atomic: a run reads the old file or the new, never half of one.
    std::fs::rename(&tmp, e.file(&format!("{stem}.parquet"))).unwrap();
}
