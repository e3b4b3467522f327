//! Sync pipeline benchmark: `cargo bench --bench sync_pipeline`.
//!
//! 1,000,000 source rows over 100 metrics (10 years x 1,000 facilities each) against
//! 1,000,000 values already in Workiva (the in-process emulator), 10% of them changed.
//! Timed: read + resolve + validate + diff (which lists every existing value, all pages) +
//! chunk. Printed: rows per second, the peak memory the pipeline adds, and each request
//! body's size as a share of the budget. Target on a 2-core machine: under 5 s and 1 GiB.

use std::time::Instant;

use esg_sync::config::PipelineConfig;
use esg_sync::emulator::Emulator;
use esg_sync::store::Store;
use esg_sync::sync::{build_plan, chunk::chunk};
use esg_sync::workiva::{WorkivaClient, WorkivaConfig};
use futures_util::StreamExt;

#[path = "support/lake.rs"]
mod lake;
#[path = "support/tenant.rs"]
mod tenant;

// The same allocator as the binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const METRICS: usize = 100;
const SITES: usize = 1_000;
const YEARS: usize = 10;

fn status(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

/// The emulated tenant: one program of METRICS metrics, each with YEARS x SITES values.
async fn tenant() -> Emulator {
    let t = tenant::start(METRICS, SITES).await;
    t.load(YEARS, SITES, |i| format!("{i}.25"));
    t.emu
}

/// The source: 1,000,000 rows, every tenth value changed.
fn write_lake(path: &std::path::Path) {
    lake::Lake {
        metrics: METRICS,
        years: YEARS,
        sites: SITES,
        site: tenant::site,
        changed: 10,
        salt: 0.5,
    }
    .write(path);
}

/// The pipeline reading the lake at `path`.
fn pipeline(path: &std::path::Path) -> PipelineConfig {
    let mut toml = format!(
        "name = \"bench\"\nprogram = \"Scale\"\nsource = [\"{}\"]\n[columns]\nmetric = \"metric\"\nperiod = \"period\"\nvalue = \"value\"\n[columns.dimensions]\nfacility = \"Facility\"\n[metrics]\n",
        path.display()
    );
    for m in 0..METRICS {
        toml.push_str(&format!("m{m:03} = \"Metric {m:03}\"\n"));
    }
    toml::from_str(&toml).unwrap()
}

/// The plan's steps one by one, to show where the time goes.
async fn steps_alone(client: &WorkivaClient, store: &Store, p: &PipelineConfig) {
    let t = Instant::now();
    let (rows, errors) = esg_sync::source::stream::read_all(&p.source, &p.columns, &p.name)
        .await
        .unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    let t_read = t.elapsed();
    let resolved = esg_sync::sync::resolve::resolve(client, store, p)
        .await
        .unwrap();
    let (meta, program) = (&resolved.meta, resolved.meta.id.to_string());
    let t = Instant::now();
    let v = esg_sync::sync::validate::validate(p, meta, &resolved.mapper, rows);
    let t_validate = t.elapsed();
    drop(v);
    let t = Instant::now();
    let ids: Vec<String> = meta.metrics.keys().map(|m| m.to_string()).collect();
    let fetched: Vec<usize> = futures_util::stream::iter(ids)
        .map(|mid| {
            let program = &program;
            async move {
                client
                    .values(
                        program,
                        &mid,
                        &esg_sync::workiva::ListOptions::filter("reportingPeriod.year ge 2000"),
                    )
                    .await
                    .unwrap()
                    .len()
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let t_fetch = t.elapsed();
    assert_eq!(fetched.iter().sum::<usize>(), 1_000_000);
    println!(
        "steps alone:           read {:.2} s, validate {:.2} s, list Workiva's values {:.2} s (the rest of the plan is the diff)",
        t_read.as_secs_f64(),
        t_validate.as_secs_f64(),
        t_fetch.as_secs_f64()
    );
}

async fn run() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let emu = tenant().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lake.parquet");
    write_lake(&path);
    let p = pipeline(&path);
    let client = WorkivaClient::new(WorkivaConfig {
        base_url: Some(emu.base_url()),
        client_id: "demo".into(),
        provided_secret: Some(secrecy::SecretString::from("demo-secret")),
        requests_per_second: 0.0,
        max_concurrent_requests: 16,
        ..WorkivaConfig::default()
    })
    .unwrap();
    let store = Store::connect(&format!("sqlite://{}/state.db", dir.path().display()))
        .await
        .unwrap();

    // Peak memory from here on is the pipeline's (the emulator's own values are already held).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let base_rss = status("VmRSS:");
    let t = Instant::now();
    let plan = build_plan(&client, &store, &p, None).await.unwrap();
    let planned = t.elapsed();
    let mut sizes = Vec::new();
    let mut batches = 0;
    for m in plan.metrics.iter() {
        let (chunks, too_large) = chunk(m.writes.clone(), p.batch_bytes);
        assert!(too_large.is_empty());
        batches += chunks.len();
        sizes.extend(chunks.iter().map(|c| c.body.len()));
    }
    let total = t.elapsed();
    let peak = status("VmHWM:");
    let c = plan.counts();
    assert_eq!(c.read, 1_000_000);
    assert_eq!(c.updated, 100_000);
    assert_eq!(c.unchanged, 900_000);
    steps_alone(&client, &store, &p).await;
    report(&c, &p, planned, total, (base_rss, peak), batches, &sizes);
    emu.shutdown().await;
}

/// The figures: rows, times, outcome, memory (RSS before and peak, KiB) and request sizes.
fn report(
    c: &esg_sync::sync::Counts,
    p: &PipelineConfig,
    planned: std::time::Duration,
    total: std::time::Duration,
    (base_rss, peak): (u64, u64),
    batches: usize,
    sizes: &[usize],
) {
    let pct = |b: usize| b as f64 * 100.0 / p.batch_bytes as f64;
    let (min, max) = (
        sizes.iter().min().copied().unwrap_or(0),
        sizes.iter().max().copied().unwrap_or(0),
    );
    let avg = sizes.iter().sum::<usize>() as f64 / sizes.len().max(1) as f64;
    println!(
        "rows:                  {} over {} metrics, {} values already in Workiva",
        c.read,
        METRICS,
        METRICS * YEARS * SITES
    );
    println!(
        "plan (read+resolve+validate+diff): {:.2} s",
        planned.as_secs_f64()
    );
    println!(
        "plan + chunk:          {:.2} s = {:.0} rows/s (target: under 5 s)",
        total.as_secs_f64(),
        c.read as f64 / total.as_secs_f64()
    );
    println!(
        "outcome:               {} updates, {} unchanged, {} rejected",
        c.updated, c.unchanged, c.rejected
    );
    println!(
        "peak memory added:     {} MiB (RSS {} -> peak {} MiB; target: under 1 GiB)",
        peak.saturating_sub(base_rss) / 1024,
        base_rss / 1024,
        peak / 1024
    );
    println!(
        "requests:              {batches} bodies; size as share of the {} byte budget: min {:.1}%, mean {:.1}%, max {:.1}%",
        p.batch_bytes,
        pct(min),
        avg * 100.0 / p.batch_bytes as f64,
        pct(max)
    );
}
