//! A run rides out its store: a private Postgres (the machine's `initdb` and `pg_ctl`, on its
//! own port, in a temporary folder) is restarted, or stopped for longer than
//! `[store] outage_secs`, while a run's batch is in flight; the emulator's request log must
//! show no batch sent twice, and Workiva must end equal to the source.
//!
//! Without `initdb` and `pg_ctl` on the PATH these tests say they were skipped (and fail
//! when `CI=true`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::env::{ROWS, assert_equal_to_source};
use crate::support::env::{SyncEnv, sync_env, write_rows};
use crate::support::eventually;
use crate::support::pipeline::config_with;

/// A Postgres server of the test's own.
struct PrivatePg {
    _dir: tempfile::TempDir,
    data: PathBuf,
    port: u16,
}

/// Runs a PostgreSQL tool, as the `postgres` user when the tests run as root (Postgres
/// refuses to run as root).
fn pg_tool(tool: &str, args: &[&str]) -> std::process::Output {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let mut cmd = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", tool]);
        c
    } else {
        Command::new(tool)
    };
    cmd.args(args).output().expect("run a PostgreSQL tool")
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

impl PrivatePg {
    fn start() -> Option<Self> {
        if !have("initdb") || !have("pg_ctl") {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "initdb and pg_ctl are needed in CI"
            );
            eprintln!("skipped: initdb and pg_ctl are not on the PATH");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let _ = Command::new("chown")
            .args(["postgres:", &dir.path().display().to_string()])
            .status();
        let data = dir.path().join("data");
        let out = pg_tool(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = Self {
            data,
            port,
            _dir: dir,
        };
        pg.ctl(&["start"]);
        Some(pg)
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn ctl(&self, what: &[&str]) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.data.parent().unwrap().display()
        );
        let log = self.data.parent().unwrap().join("pg.log");
        let mut args = vec!["-D", self.data.to_str().unwrap(), "-w", "-m", "fast"];
        args.extend(["-o", &opts, "-l", log.to_str().unwrap()]);
        args.extend(what);
        let out = pg_tool("pg_ctl", &args);
        assert!(
            out.status.success(),
            "pg_ctl {what:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let _ = pg_tool(
            "pg_ctl",
            &["-D", self.data.to_str().unwrap(), "-m", "immediate", "stop"],
        );
    }
}

/// The restart tests' pipeline on the private store, with slow operations so the store goes
/// away while the first batch is in flight.
fn setup(e: &SyncEnv, pg: &PrivatePg, outage_secs: u64) -> PathBuf {
    write_rows(&e.file("data.parquet"), ROWS);
    let cfg = config_with(e, "", "");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        &format!("url = \"sqlite://{}/cli-state.db\"", e.dir.path().display()),
        &format!("url = \"{}\"\noutage_secs = {outage_secs}", pg.url()),
    );
    std::fs::write(&cfg, text).unwrap();
    let mut s = e.env.emu.settings();
    s.operations.base_ms = 1500;
    e.env.emu.set_settings(s).unwrap();
    cfg
}

/// Waits for a spawned run: its exit code and its log.
async fn finished(child: std::process::Child) -> (Option<i32>, String) {
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn spawn_run(cfg: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_esg-sync"))
        .args(["run-now", "--config", cfg.to_str().unwrap()])
        .env("ESG_SYNC_TEST_SECRET", "demo-secret")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_restart_mid_run_is_ridden_out_and_no_batch_is_sent_twice() {
    let Some(pg) = PrivatePg::start() else { return };
    let e = sync_env().await;
    let cfg = setup(&e, &pg, 60);
    let child = spawn_run(&cfg);
    assert!(
        eventually(|| async { e.upsertions() == 1 }).await,
        "the first batch was sent"
    );
    pg.ctl(&["stop"]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    pg.ctl(&["start"]);
    let (code, stderr) = finished(child).await;
    assert_eq!(code, Some(0), "the run rode the restart out\n{stderr}");
    assert_equal_to_source(&e).await;
    assert_eq!(e.upsertions(), 2, "each of the two batches was sent once");
    let again = crate::support::run_binary(cfg, None).await;
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert_eq!(e.upsertions(), 2, "an unchanged rerun sends nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_down_past_its_outage_bound_fails_the_run_and_the_next_sends_nothing_twice() {
    let Some(pg) = PrivatePg::start() else { return };
    let e = sync_env().await;
    let cfg = setup(&e, &pg, 2);
    // Every answer comes late, so the store goes away while the first batch's POST is on
    // its way: Workiva takes the batch, and its operation URL cannot be recorded.
    let mut s = e.env.emu.settings();
    s.faults.latency = 1.0;
    s.faults.latency_ms = 1500;
    e.env.emu.set_settings(s).unwrap();
    let child = spawn_run(&cfg);
    let store = esg_sync::store::Store::connect(&pg.url()).await.unwrap();
    assert!(
        eventually(|| async {
            store
                .open_batches("crash")
                .await
                .is_ok_and(|b| b.iter().any(|x| x.status == "pending"))
        })
        .await,
        "the first batch was recorded"
    );
    store.close().await;
    pg.ctl(&["stop"]);
    let (code, stderr) = finished(child).await;
    assert_eq!(code, Some(1), "past outage_secs the run stops\n{stderr}");
    assert_eq!(
        e.upsertions(),
        1,
        "nothing new is sent while the store is unreachable\n{stderr}"
    );
    assert!(
        stderr.contains("polling it to its end"),
        "the batch Workiva took was polled although its URL could not be recorded\n{stderr}"
    );
    pg.ctl(&["start"]);
    let mut s = e.env.emu.settings();
    s.faults.latency = 0.0;
    e.env.emu.set_settings(s).unwrap();
    let again = crate::support::run_binary(cfg, None).await;
    assert_eq!(again.code, Some(0), "{}\n{}", again.stdout, again.stderr);
    assert_equal_to_source(&e).await;
    assert_eq!(
        e.upsertions(),
        2,
        "the batch Workiva took was polled to its end, not sent again; the other once\n{}",
        again.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_claimed_while_the_store_restarts_runs_late_not_never() {
    let Some(pg) = PrivatePg::start() else { return };
    let store = esg_sync::store::Store::connect(&pg.url())
        .await
        .unwrap()
        .with_outage(Duration::from_secs(60));
    pg.ctl(&["stop"]);
    let tick = chrono::Utc::now();
    let claim = tokio::spawn({
        let s = store.clone();
        async move { s.claim_tick("nightly", tick, "me").await }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    pg.ctl(&["start"]);
    assert!(
        claim
            .await
            .unwrap()
            .expect("the claim rode the restart out"),
        "the tick is claimed, late"
    );
    // A retry after a claim whose answer was lost finds its own claim; another's stays theirs.
    assert!(store.claim_tick("nightly", tick, "me").await.unwrap());
    assert!(!store.claim_tick("nightly", tick, "other").await.unwrap());
    store.close().await;
}

/// Runs `run-now` with the files it writes limited to `limit_kib` KiB (`ulimit -f`, with
/// SIGXFSZ ignored, so a write past it fails as on a full disk instead of killing it).
fn run_with_file_limit(cfg: &Path, limit_kib: u64) -> std::process::Output {
    Command::new("bash")
        .args([
            "-c",
            &format!("trap '' XFSZ; ulimit -f {limit_kib}; exec \"$0\" run-now --config \"$1\"",),
            env!("CARGO_BIN_EXE_esg-sync"),
            cfg.to_str().unwrap(),
        ])
        .env("ESG_SYNC_TEST_SECRET", "demo-secret")
        .env("RUST_LOG", "info")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_sending_and_the_next_run_sends_nothing_twice() {
    // The store's files may grow only so far: tried at several limits, so the store fills
    // before the run, between its two batches, and after them.
    let mut mid_run = false;
    for limit_kib in [24, 32, 40, 48, 64, 96] {
        let (during, stderr) = full_disk_once(limit_kib).await;
        eprintln!(
            "limit {limit_kib} KiB: {during} batches sent; {}",
            stderr
                .lines()
                .filter(|l| l.contains("ERROR") || l.contains("error"))
                .take(2)
                .collect::<Vec<_>>()
                .join(" | ")
        );
        mid_run |= during == 1 && stderr.contains("disk I/O error");
    }
    assert!(
        mid_run,
        "at one of the limits the store filled between the two batches"
    );
}

/// One run with the store limited to `limit_kib`, then one without: returns the batches the
/// limited run sent and its log. Workiva ends equal to the lake with each batch sent once.
async fn full_disk_once(limit_kib: u64) -> (usize, String) {
    let e = sync_env().await;
    let cfg = config_with(&e, "", "");
    // A first run of one row creates the store; then the lake grows.
    write_rows(&e.file("data.parquet"), &ROWS[..1]);
    let first = crate::support::run_binary(cfg.clone(), None).await;
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let before = e.upsertions();
    write_rows(&e.file("data.parquet"), ROWS);
    let out = run_with_file_limit(&cfg, limit_kib);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let during = e.upsertions() - before;
    let again = crate::support::run_binary(cfg, None).await;
    assert_eq!(
        again.code,
        Some(0),
        "{limit_kib} KiB: {}\n{}",
        again.stdout,
        again.stderr
    );
    assert_equal_to_source(&e).await;
    assert_eq!(
        e.upsertions() - before,
        2,
        "{limit_kib} KiB: each metric's batch was sent once across both runs\n{stderr}\n{}",
        again.stderr
    );
    (during, stderr)
}
