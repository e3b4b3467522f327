//! Fast by default: `cargo bench --bench defaults`. Everything a new user would run, measured
//! from outside: the release binary, the emulator in a process of its own, default settings
//! but the base URL. Prints each figure (wall time with `/usr/bin/time`, peak RSS) for:
//!
//! 1. `esg-sync plan` of 1,000,000 Parquet rows over 100 metrics against 1,000,000 values
//!    already in Workiva (target: at most 3 s and 512 MiB);
//! 2. `esg-sync run-now` of 100,000 rows over 10 metrics, 10% of them changed, the emulator
//!    adding 50 ms to every request and taking about 1 s per batch operation (target: 4 s),
//!    and its unchanged rerun (target: 1.5 s);
//! 3. the same run against an emulator allowing 10 requests per second (429 beyond): it
//!    completes with no request failing for good.
//!
//! `ESG_SYNC_BENCH_RUNS` (default 3) runs of each; minimum, median and maximum are printed.
//! `ESG_SYNC_BENCH_ONLY=plan|run|limited` runs one of the three;
//! `ESG_SYNC_BENCH_WRAP` is put before the binary (a profiler: `perf record -g --`).
//! `ESG_SYNC_BENCH_POSTGRES_URL` (a server where databases can be created) adds one run-now
//! on a fresh PostgreSQL store and prints the ledger's bytes per entry there;
//! `ESG_SYNC_BENCH_SHOW_WARN=1` prints each run's first warnings.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[path = "support/lake.rs"]
mod lake;

const BIN: &str = env!("CARGO_BIN_EXE_esg-sync");
const SECRET: &str = "bench-secret";

struct Emulator {
    child: Child,
    url: String,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_emulator() -> Emulator {
    let port = free_port();
    let child = Command::new(BIN)
        .args([
            "emulator",
            "--admin",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--client-id", "bench", "--client-secret", SECRET])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the emulator starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the emulator did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Emulator {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

async fn admin(e: &Emulator, method: reqwest::Method, path: &str, body: Value) -> Value {
    let r = reqwest::Client::new()
        .request(method, format!("{}{path}", e.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {v}");
    v
}

/// Emulator settings: operation timing, added latency, a rate limit.
async fn settings(e: &Emulator, op_ms: u64, latency_ms: u64, rps: Option<f64>) {
    let faults = if latency_ms > 0 {
        json!({"latency": 1.0, "latency_ms": latency_ms})
    } else {
        json!({})
    };
    let body = json!({
        "operations": {"queued_ms": 0, "base_ms": op_ms, "per_value_us": 0, "retry_after_secs": if op_ms >= 1000 { 1 } else { 0 }},
        "rate_limit": {"requests_per_second": rps, "burst": rps.map(|r| r as u32)},
        "faults": faults,
    });
    admin(e, reqwest::Method::PUT, "/_emulator/faults", body).await;
}

/// A program of `metrics` number metrics over `sites` facilities, each metric holding one
/// value per site and year (loaded through the API, as a first sync would).
async fn program(e: &Emulator, name: &str, metrics: usize, sites: usize, years: usize) {
    let values: Vec<Value> = (0..sites)
        .map(|i| json!({"id": format!("S{i:05}")}))
        .collect();
    let ms: Vec<Value> = (0..metrics)
        .map(|m| json!({"name": format!("Metric {m:03}"), "dataType": "number", "allowedDimensions": ["Facility"]}))
        .collect();
    let seed = json!({"programs": [{"name": name, "dimensions": [{"name": "Facility", "values": values}], "metrics": ms}]});
    let summary = admin(e, reqwest::Method::POST, "/_emulator/seed", seed).await;
    let p = &summary["programs"][0];
    let pid = p["id"].as_str().unwrap().to_string();
    let fid = p["dimensions"]["Facility"].as_str().unwrap().to_string();
    let client = esg_sync::workiva::WorkivaClient::new(esg_sync::workiva::WorkivaConfig {
        base_url: Some(e.url.clone()),
        client_id: "bench".into(),
        provided_secret: Some(secrecy::SecretString::from(SECRET)),
        poll_min_ms: 5,
        ..Default::default()
    })
    .unwrap();
    let client = Arc::new(client);
    let mut jobs = Vec::new();
    for m in 0..metrics {
        let mid = p["metrics"][format!("Metric {m:03}")]
            .as_str()
            .unwrap()
            .to_string();
        let (client, pid, fid) = (client.clone(), pid.clone(), fid.clone());
        jobs.push(tokio::spawn(async move {
            let items: Vec<esg_sync::workiva::models::MetricValue> = (0..years * sites)
                .map(|i| esg_sync::workiva::models::MetricValue {
                    value: Some(format!("{i}.25")),
                    reporting_period: Some(esg_sync::workiva::models::ReportingPeriod {
                        year: 2000 + (i / sites) as u16,
                        start: 1,
                        end: 12,
                    }),
                    coordinates: Some([(fid.clone(), format!("S{:05}", i % sites))].into()),
                    ..Default::default()
                })
                .collect();
            let op = client.batch_upsert(&pid, &mid, &items).await.unwrap();
            client.wait_operation(&op).await.unwrap();
        }));
    }
    for j in jobs {
        j.await.unwrap();
    }
}

/// The lake: one row per metric, year and site (`S00000`, as [`program`] seeds them); every
/// `changed`-th value differs.
fn lake(path: &Path, metrics: usize, sites: usize, years: usize, changed: usize, salt: f64) {
    lake::Lake {
        metrics,
        years,
        sites,
        site: |i| format!("S{i:05}"),
        changed,
        salt,
    }
    .write(path);
}

/// A configuration with default settings but the base URL, the client and the store.
fn config(dir: &Path, e: &Emulator, program: &str, lake: &Path, metrics: usize) -> PathBuf {
    let store = format!("sqlite://{}/state.db", dir.display());
    config_on(dir, e, program, lake, metrics, &store)
}

/// [`config`] with the state store at `store`.
fn config_on(
    dir: &Path,
    e: &Emulator,
    program: &str,
    lake: &Path,
    metrics: usize,
    store: &str,
) -> PathBuf {
    let mut t = format!(
        "[workiva]\nbase_url = \"{}\"\nclient_id = \"bench\"\n\n[store]\nurl = \"{store}\"\n\n\
         [[pipeline]]\nname = \"bench\"\nprogram = \"{program}\"\nsource = [\"{}\"]\n\
         [pipeline.columns]\nmetric = \"metric\"\nperiod = \"period\"\nvalue = \"value\"\n\
         [pipeline.columns.dimensions]\nfacility = \"Facility\"\n[pipeline.metrics]\n",
        e.url,
        lake.display()
    );
    for m in 0..metrics {
        t.push_str(&format!("m{m:03} = \"Metric {m:03}\"\n"));
    }
    let path = dir.join("esg-sync.toml");
    std::fs::write(&path, t).unwrap();
    path
}

/// One timed run: exit code, seconds, peak RSS in MiB, and the time of each phase the run
/// logged (`Phase done.`), in order.
struct Timed {
    code: i32,
    secs: f64,
    /// CPU seconds of the process (user + system): against `secs`, how much of the wall
    /// time it waited on the emulator.
    cpu: f64,
    mib: f64,
    phases: Vec<(String, f64)>,
    /// The client's adaptive concurrency limit at the run's end.
    limit: Option<u64>,
}

/// Runs the binary under `/usr/bin/time`, its phases logged as JSON lines.
fn timed(args: &[&str], cfg: &Path) -> Timed {
    // `ESG_SYNC_BENCH_WRAP="perf record -g -o /tmp/plan.perf --"` profiles each run.
    let wrap = std::env::var("ESG_SYNC_BENCH_WRAP").unwrap_or_default();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "TIME %e %M %U %S"])
        .args(wrap.split_whitespace())
        .arg(BIN)
        .args(args)
        .args(["--config", cfg.to_str().unwrap()])
        .env("WORKIVA_CLIENT_SECRET", SECRET)
        .env(
            "RUST_LOG",
            "warn,esg_sync::sync::progress=info,esg_sync::sync::run=info",
        )
        .env("ESG_SYNC_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .output()
        .expect("/usr/bin/time runs");
    let err = String::from_utf8_lossy(&out.stderr);
    // `ESG_SYNC_BENCH_SHOW_WARN=1` prints the run's first warnings (slow statements, slow
    // pool acquisitions): what a run waits on.
    if std::env::var("ESG_SYNC_BENCH_SHOW_WARN").is_ok() {
        for l in err.lines().filter(|l| l.contains("\"WARN\"")).take(20) {
            eprintln!("{l}");
        }
    }
    let line = err
        .lines()
        .rev()
        .find(|l| l.starts_with("TIME "))
        .unwrap_or("TIME 0 0 0 0");
    let mut f = line.split_whitespace().skip(1);
    let mut num = || -> f64 { f.next().unwrap_or("0").parse().unwrap_or(0.0) };
    let (secs, kib, user, system) = (num(), num(), num(), num());
    let phases = err
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "Phase done.")
        .map(|v| {
            (
                v["fields"]["phase"].as_str().unwrap_or("?").to_string(),
                v["fields"]["secs"].as_f64().unwrap_or(0.0),
            )
        })
        .collect();
    let limit = err
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find_map(|v| v["fields"]["concurrency_limit"].as_u64());
    // `time` reports the child's own status as 0 on success; a failure shows in stderr.
    let code = out.status.code().unwrap_or(-1);
    Timed {
        code,
        secs,
        cpu: user + system,
        mib: kib / 1024.0,
        phases,
        limit,
    }
}

fn summary(label: &str, runs: &[Timed], target: &str) {
    let mut secs: Vec<f64> = runs.iter().map(|r| r.secs).collect();
    let mut mib: Vec<f64> = runs.iter().map(|r| r.mib).collect();
    secs.sort_by(f64::total_cmp);
    mib.sort_by(f64::total_cmp);
    let mid = |v: &[f64]| v[v.len() / 2];
    let codes: Vec<i32> = runs.iter().map(|r| r.code).collect();
    println!(
        "{label:<44} wall {:.2}/{:.2}/{:.2} s (min/median/max), peak {:.0}/{:.0}/{:.0} MiB, exit {codes:?}; target {target}",
        secs[0],
        mid(&secs),
        secs[secs.len() - 1],
        mib[0],
        mid(&mib),
        mib[mib.len() - 1]
    );
    // Each step of the median run, so the next slow step is visible; what the phases leave
    // out is start-up, resolving and the summary.
    let median = runs
        .iter()
        .min_by(|a, b| {
            (a.secs - mid(&secs))
                .abs()
                .total_cmp(&(b.secs - mid(&secs)).abs())
        })
        .unwrap();
    let phased: f64 = median.phases.iter().map(|p| p.1).sum();
    let steps: Vec<String> = median
        .phases
        .iter()
        .map(|(name, s)| format!("{name} {s:.2} s"))
        .chain(std::iter::once(format!(
            "the rest {:.2} s",
            (median.secs - phased).max(0.0)
        )))
        .collect();
    println!(
        "{:<44}   steps of the median run: {}; its CPU {:.2} s",
        "",
        steps.join(", "),
        median.cpu
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runs: usize = std::env::var("ESG_SYNC_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    let only = std::env::var("ESG_SYNC_BENCH_ONLY").ok();
    let wanted = |what: &str| only.as_deref().is_none_or(|o| o == what);

    // 1. plan: 1,000,000 rows vs 1,000,000 values.
    if wanted("plan") {
        plan_scenario(dir.path(), runs).await;
    }
    if wanted("run") {
        run_scenario(dir.path(), runs).await;
    }
    if wanted("limited") {
        limited_scenario(dir.path()).await;
    }
}

async fn plan_scenario(dir: &Path, runs: usize) {
    let e = start_emulator();
    settings(&e, 0, 0, None).await;
    let t = Instant::now();
    program(&e, "Scale", 100, 1_000, 10).await;
    println!(
        "loaded 1,000,000 values into the emulator in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let d1 = dir.join("plan");
    std::fs::create_dir_all(&d1).unwrap();
    let lake1 = d1.join("lake.parquet");
    lake(&lake1, 100, 1_000, 10, 10, 0.5);
    let cfg = config(&d1, &e, "Scale", &lake1, 100);
    let r: Vec<_> = (0..runs).map(|_| timed(&["plan"], &cfg)).collect();
    summary(
        "plan, 1,000,000 rows vs 1,000,000 values",
        &r,
        "3 s, 512 MiB",
    );
}

async fn run_scenario(dir: &Path, runs: usize) {
    // 2. run-now: 100,000 rows over 10 metrics, 10% changed, 50 ms a request, ~1 s a batch.
    let mut full = Vec::new();
    let mut rerun = Vec::new();
    for i in 0..runs {
        let e = start_emulator();
        settings(&e, 0, 0, None).await;
        program(&e, "E2E", 10, 1_000, 10).await;
        settings(&e, 1_000, 50, None).await;
        let d = dir.join(format!("e2e-{i}"));
        std::fs::create_dir_all(&d).unwrap();
        let l = d.join("lake.parquet");
        lake(&l, 10, 1_000, 10, 10, 0.5);
        let cfg = config(&d, &e, "E2E", &l, 10);
        full.push(timed(&["run-now"], &cfg));
        rerun.push(timed(&["run-now"], &cfg));
        if i == 0 {
            ledger_size(&d).await;
        }
    }
    summary("run-now, 100,000 rows, 10% changed", &full, "4 s");
    summary("run-now again, unchanged", &rerun, "1.5 s");
    if let Ok(admin) = std::env::var("ESG_SYNC_BENCH_POSTGRES_URL") {
        ledger_size_on_postgres(dir, &admin).await;
    }
}

/// With `ESG_SYNC_BENCH_POSTGRES_URL` (a server where databases can be created): the same
/// run once on a fresh PostgreSQL database, and the ledger's bytes per entry there (the
/// table with its indexes and TOAST, `pg_total_relation_size`).
async fn ledger_size_on_postgres(dir: &Path, admin: &str) {
    use sqlx::Connection;
    let name = format!("esg_bench_{}", std::process::id());
    let mut a = sqlx::PgConnection::connect(admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut a)
        .await
        .unwrap();
    let mut url = url::Url::parse(admin).unwrap();
    url.set_path(&name);
    let e = start_emulator();
    settings(&e, 0, 0, None).await;
    program(&e, "E2E", 10, 1_000, 10).await;
    settings(&e, 1_000, 50, None).await;
    let d = dir.join("e2e-postgres");
    std::fs::create_dir_all(&d).unwrap();
    let l = d.join("lake.parquet");
    lake(&l, 10, 1_000, 10, 10, 0.5);
    let cfg = config_on(&d, &e, "E2E", &l, 10, url.as_str());
    let r = timed(&["run-now"], &cfg);
    let mut c = sqlx::PgConnection::connect(url.as_str()).await.unwrap();
    let (n, bytes): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), pg_total_relation_size('ledger') FROM ledger")
            .fetch_one(&mut c)
            .await
            .unwrap();
    c.close().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .execute(&mut a)
    .await
    .unwrap();
    let steps: Vec<String> = r
        .phases
        .iter()
        .map(|(p, t)| format!("{p} {t:.2} s"))
        .collect();
    println!(
        "ledger on PostgreSQL after the same run (exit {}, {:.2} s, CPU {:.2} s; {}): {n} entries, {:.0} bytes per entry with its indexes and TOAST",
        r.code,
        r.secs,
        r.cpu,
        steps.join(", "),
        bytes as f64 / n.max(1) as f64
    );
}

/// The ledger's size on SQLite after a run: its entries, their content, and the bytes per
/// entry of a copy of the state file holding only the ledger and its indexes, vacuumed.
async fn ledger_size(dir: &Path) {
    use sqlx::Connection;
    let copy = dir.join("ledger-only.db");
    let url = |p: &Path| format!("sqlite://{}", p.display());
    let mut c = sqlx::SqliteConnection::connect(&url(&dir.join("state.db")))
        .await
        .unwrap();
    let _ = std::fs::remove_file(&copy);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "VACUUM INTO '{}'",
        copy.display()
    )))
    .execute(&mut c)
    .await
    .unwrap();
    c.close().await.unwrap();
    let mut c = sqlx::SqliteConnection::connect(&url(&copy)).await.unwrap();
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('ledger', 'sqlite_sequence')",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    for (t,) in tables {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE \"{t}\"")))
            .execute(&mut c)
            .await
            .unwrap();
    }
    sqlx::query("VACUUM").execute(&mut c).await.unwrap();
    let (n, content): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COALESCE(SUM(LENGTH(content)), 0) FROM ledger")
            .fetch_one(&mut c)
            .await
            .unwrap();
    c.close().await.unwrap();
    let bytes = std::fs::metadata(&copy).map(|m| m.len()).unwrap_or(0);
    let per = |b: u64| b as f64 / n.max(1) as f64;
    println!(
        "ledger after the run: {n} entries, {:.0} bytes of content each; on SQLite {:.0} bytes per entry with its columns, hashes and indexes",
        per(content as u64),
        per(bytes)
    );
}

async fn limited_scenario(dir: &Path) {
    // 3. The same run against an emulator allowing 10 requests per second.
    let e = start_emulator();
    settings(&e, 0, 0, None).await;
    program(&e, "E2E", 10, 1_000, 10).await;
    settings(&e, 1_000, 50, Some(10.0)).await;
    let d = dir.join("limited");
    std::fs::create_dir_all(&d).unwrap();
    let l = d.join("lake.parquet");
    lake(&l, 10, 1_000, 10, 10, 0.75);
    let cfg = config(&d, &e, "E2E", &l, 10);
    let r = timed(&["run-now"], &cfg);
    let counters = admin(&e, reqwest::Method::GET, "/_emulator/counters", Value::Null).await;
    let throttled: u64 = counters
        .as_object()
        .map(|o| o.values().filter_map(|v| v["429"].as_u64()).sum())
        .unwrap_or(0);
    let total: u64 = counters
        .as_object()
        .map(|o| {
            o.values()
                .filter_map(Value::as_object)
                .flat_map(|s| s.values().filter_map(Value::as_u64))
                .sum()
        })
        .unwrap_or(0);
    println!(
        "run-now at 10 requests/s: exit {} in {:.2} s; {throttled} of {total} requests answered 429 (retried); the client's limit ended at {} requests in flight; target: exit 0, the limit near the server's",
        r.code,
        r.secs,
        r.limit.map(|l| l.to_string()).unwrap_or_else(|| "?".into())
    );
}
