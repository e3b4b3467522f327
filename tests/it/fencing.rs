//! Fencing between replicas that are alive but should not write: one paused (`SIGSTOP`) in
//! the middle of a run, and two that share a hostname and, in their own pid namespaces, a
//! pid. Each replica signs in to the emulator as a client of its own, so the request log says
//! who sent what.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::daemon::Daemon;
use crate::support::env::{SyncEnv, sync_env};
use crate::support::eventually;
use crate::support::pipeline::{ConfigToml, PipelineToml};

/// Sixty months of facility A, each value `generation`: twelve batches at 1,000 bytes.
fn write_lake(e: &SyncEnv, generation: u32) {
    let period: Vec<String> = (0..60)
        .map(|i| format!("{}-{:02}", 2000 + i / 12, i % 12 + 1))
        .collect();
    crate::support::env::write_periods(e, "lake", &period, generation);
}

/// The metric, and slow operations, so a run takes seconds.
async fn setup(e: &SyncEnv) -> String {
    let m = e
        .env
        .api
        .post(
            &format!("/programs/{}/metrics", e.env.ids.program),
            json!({"name": "Fenced", "dataType": "number", "topic": e.env.ids.emissions, "allowedDimensions": [e.env.ids.facility]}),
        )
        .await;
    assert_eq!(m.status, 201, "{:?}", m.body);
    let mut s = e.env.emu.settings();
    s.operations.base_ms = 600;
    e.env.emu.set_settings(s).unwrap();
    write_lake(e, 0);
    m.body["id"].as_str().unwrap().to_string()
}

/// Replica `client`'s configuration: one pipeline ticking every second.
fn config(e: &SyncEnv, client: &str, store: &str, ttl: u64) -> std::path::PathBuf {
    ConfigToml::new(&e.env.emu.base_url(), store)
        .workiva("client_id", &format!("\"{client}\""))
        .workiva("poll_min_ms", "20")
        .workiva("poll_max_ms", "200")
        .workiva("backoff_base_ms", "5")
        .table(&format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\ngrace_period_secs = 5\nlease_ttl_secs = {ttl}\nwatch_interval_secs = 1"
        ))
        .pipeline(
            PipelineToml::new("fenced", "Test Program", &e.file("lake.parquet"))
                .schedule("* * * * * *")
                .key("catch_up", "\"skip\"")
                .key("batch_bytes", "1000")
                .metrics(&[("m", "Fenced")]),
        )
        .write(e.file(&format!("{client}.toml")))
}

/// Whether every value of `metric` is `generation`.
async fn landed(e: &SyncEnv, metric: &str, generation: u32) -> bool {
    let vals = e.env.api.values(&e.env.ids.program, metric).await;
    vals.len() == 60
        && vals
            .iter()
            .all(|v| v["value"] == generation.to_string().as_str())
}

/// Requests that change the program (not a GET, not a token), by client, after entry `after`.
fn writes_by(e: &SyncEnv, client: &str, after: u64) -> Vec<String> {
    e.env
        .emu
        .requests()
        .iter()
        .filter(|r| {
            r.seq > after
                && r.method != "GET"
                && !r.endpoint.contains("oauth2")
                && r.client_id.as_deref() == Some(client)
        })
        .map(|r| format!("{} {} {}", r.seq, r.endpoint, r.status))
        .collect()
}

fn last_seq(e: &SyncEnv) -> u64 {
    e.env.emu.requests().last().map_or(0, |r| r.seq)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_paused_mid_run_is_taken_over_and_once_continued_sends_nothing_more() {
    let e = sync_env().await;
    let metric = setup(&e).await;
    let store_url = format!("sqlite://{}/shared.db", e.dir.path().display());
    let ttl = 4;
    let a = Daemon::spawn_with(
        "daemon",
        &config(&e, "demo", &store_url, ttl),
        "info",
        &[("ESG_SYNC_TEST_SECRET", "demo-secret")],
    );
    // A runs alone until it has a batch in flight; then B starts, and A is paused.
    let store = esg_sync::store::Store::connect(&store_url).await.unwrap();
    assert!(
        eventually(|| async {
            store
                .open_batches("fenced")
                .await
                .is_ok_and(|b| b.iter().any(|x| x.status == "sent"))
        })
        .await,
        "A sent a batch\n{}",
        a.log()
    );
    let b = Daemon::spawn_with(
        "daemon",
        &config(&e, "second", &store_url, ttl),
        "info",
        &[("ESG_SYNC_TEST_SECRET", "second-secret")],
    );
    a.signal("-STOP");
    let paused = Instant::now();
    let a_holder = store.leases().await.unwrap()[0].holder.clone();
    assert!(
        a_holder.contains(&format!("/{}/", a.child.id())),
        "{a_holder}"
    );
    // B takes the lease once A's has expired, resumes A's batch and brings Workiva to the lake.
    assert!(
        eventually(|| async {
            store
                .leases()
                .await
                .is_ok_and(|l| l[0].holder.contains(&format!("/{}/", b.child.id())))
        })
        .await,
        "B took the lease over\n{}",
        b.log()
    );
    println!(
        "B took the lease {:?} after A was paused (TTL {ttl} s)",
        paused.elapsed()
    );
    write_lake(&e, 1);
    assert!(
        eventually(|| landed(&e, &metric, 1)).await,
        "B landed the lake\n{}",
        b.log()
    );
    // A continues: its lease went unrenewed past a third of the TTL, so its gate refuses
    // every write; it sends nothing, and its run is recorded as stopped by a lost lease.
    let before = last_seq(&e);
    a.signal("-CONT");
    tokio::time::sleep(Duration::from_secs(3 * ttl)).await;
    assert_eq!(
        writes_by(&e, "demo", before),
        Vec::<String>::new(),
        "A wrote nothing after it continued\n{}",
        a.log()
    );
    assert!(landed(&e, &metric, 1).await, "A overwrote nothing");
    // Every batch recorded was sent once: as many upsertions as batches, none refused.
    let upserts: Vec<_> = e
        .env
        .emu
        .requests()
        .into_iter()
        .filter(|r| r.endpoint.ends_with("/batchUpsertion"))
        .collect();
    let mut batches = 0;
    for r in store.runs_of("fenced", 1000).await.unwrap() {
        batches += store.batches_of_run(r.id).await.unwrap().len();
    }
    assert_eq!(upserts.len(), batches, "no batch sent twice");
    assert!(upserts.iter().all(|r| r.status == 202), "{upserts:?}");
    let a_runs: Vec<_> = store
        .runs_of("fenced", 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.holder.as_deref() == Some(a_holder.as_str()))
        .collect();
    assert!(
        a_runs.iter().all(|r| r.status != "running"),
        "A's runs ended: {a_runs:?}"
    );
    store.close().await;
}

/// `unshare --pid --kill-child`: the daemon is pid 1 of a namespace of its own.
fn in_own_pid_namespace(e: &SyncEnv, client: &str, store_url: &str) -> Daemon {
    let cfg = config(e, client, store_url, 30);
    let secret = if client == "demo" {
        "demo-secret"
    } else {
        "second-secret"
    };
    Daemon::spawn_prefixed(
        &["unshare", "--pid", "--kill-child"],
        "daemon",
        &cfg,
        "info",
        &[("ESG_SYNC_TEST_SECRET", secret)],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_with_one_hostname_and_one_pid_keep_their_own_leases() {
    let probe = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "true"])
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must allow unshare --pid"
        );
        println!("skipped: this machine cannot create pid namespaces (unshare --pid)");
        return;
    }
    let e = sync_env().await;
    let metric = setup(&e).await;
    let store_url = format!("sqlite://{}/shared.db", e.dir.path().display());
    let store = esg_sync::store::Store::connect(&store_url).await.unwrap();
    let a = in_own_pid_namespace(&e, "demo", &store_url);
    assert!(
        eventually(|| async {
            store
                .open_batches("fenced")
                .await
                .is_ok_and(|b| b.iter().any(|x| x.status == "sent"))
        })
        .await,
        "A is in a run\n{}",
        a.log()
    );
    let held = store.leases().await.unwrap()[0].clone();
    assert_eq!(held.holder.split('/').nth(1), Some("1"), "{}", held.holder);
    let run = store.last_run("fenced").await.unwrap().unwrap();
    assert_eq!(run.status, "running");
    // B, also pid 1 on this host, ticks every second for the rest of A's run: A's lease is a
    // live holder's elsewhere, not a dead earlier life of B's own pid.
    let before = last_seq(&e);
    let b = in_own_pid_namespace(&e, "second", &store_url);
    let mut looks = 0;
    loop {
        let now = store.run(run.id).await.unwrap().unwrap();
        if now.status != "running" {
            break;
        }
        let lease = store.leases().await.unwrap()[0].clone();
        assert_eq!(
            (lease.holder.as_str(), lease.token),
            (held.holder.as_str(), held.token),
            "the lease stayed A's for its run\nA:\n{}\nB:\n{}",
            a.log(),
            b.log()
        );
        looks += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ended = store.run(run.id).await.unwrap().unwrap();
    assert_eq!(
        ended.status, "succeeded",
        "A's run was not taken: {ended:?}"
    );
    assert!(looks >= 10, "B ticked beside A's run for {looks} looks");
    assert_eq!(
        writes_by(&e, "second", before),
        Vec::<String>::new(),
        "B wrote nothing during A's run"
    );
    assert!(landed(&e, &metric, 0).await, "A synced the lake");
    store.close().await;
}
