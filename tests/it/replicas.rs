//! Several daemons on one Postgres store. Three replicas run six pipelines scheduled
//! every two seconds while the lake changes under them; one replica is killed with SIGKILL in
//! the middle of a run. Each tick of each pipeline runs at most once (a run needs the tick's
//! claim, and a tick has one claim), no two processes ever had batches of one metric in flight
//! at once (the emulator refuses a second batch of a metric with 409: none was refused), the
//! killed replica's pipeline is taken over and its run resumed, and Workiva ends equal to the
//! lake.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::daemon::Daemon;
use crate::support::env::{SyncEnv, sync_env, write_periods};
use crate::support::eventually;
use crate::support::pipeline::{ConfigToml, PipelineToml};

const PIPELINES: usize = 6;

/// Pipeline `i`'s lake: twelve months of year 2010 + i at facility A, each value `generation`.
fn write_lake(e: &SyncEnv, i: usize, generation: u32) {
    let period: Vec<String> = (1..=12).map(|m| format!("{}-{m:02}", 2010 + i)).collect();
    write_periods(e, &format!("lake{i}"), &period, generation);
}

fn config(e: &SyncEnv, store_url: &str) -> std::path::PathBuf {
    let mut c = ConfigToml::new(&e.env.emu.base_url(), store_url)
        .workiva("poll_min_ms", "20")
        .workiva("poll_max_ms", "200")
        .workiva("backoff_base_ms", "5")
        .table(
            "[daemon]\nlisten = \"127.0.0.1:0\"\ngrace_period_secs = 20\nlease_ttl_secs = 4\nwatch_interval_secs = 1",
        );
    for i in 0..PIPELINES {
        let metric = format!("Replicated {i}");
        c = c.pipeline(
            PipelineToml::new(
                &format!("p{i}"),
                "Test Program",
                &e.file(&format!("lake{i}.parquet")),
            )
            .schedule("*/2 * * * * *")
            .key("catch_up", "\"skip\"")
            .metrics(&[("m", &metric)]),
        );
    }
    c.write(e.file("replicas.toml"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_run_each_tick_once_and_take_over_a_killed_one() {
    let Some(db) = crate::support::db::fresh_db("ESG_SYNC_TEST_POSTGRES_URL", true).await else {
        return;
    };
    let e = sync_env().await;
    let mut metrics = Vec::new();
    for i in 0..PIPELINES {
        let m = e
            .env
            .api
            .post(
                &format!("/programs/{}/metrics", e.env.ids.program),
                json!({"name": format!("Replicated {i}"), "dataType": "number", "topic": e.env.ids.emissions, "allowedDimensions": [e.env.ids.facility]}),
            )
            .await;
        assert_eq!(m.status, 201, "{:?}", m.body);
        metrics.push(m.body["id"].as_str().unwrap().to_string());
        write_lake(&e, i, 0);
    }
    // Runs that write take a while, so a kill lands in one.
    let mut s = e.env.emu.settings();
    s.operations.base_ms = 700;
    e.env.emu.set_settings(s).unwrap();
    let cfg = config(&e, &db.url);
    let mut replicas: Vec<Daemon> = (0..3)
        .map(|_| {
            Daemon::spawn_with(
                "daemon",
                &cfg,
                "warn",
                &[("ESG_SYNC_TEST_SECRET", "demo-secret")],
            )
        })
        .collect();

    // The lake changes every 1.5 s for 30 s; after 10 s a replica is killed mid-run.
    let store = esg_sync::store::Store::connect(&db.url).await.unwrap();
    let start = Instant::now();
    let (mut generation, mut killed) = (0u32, None::<(u32, chrono::DateTime<chrono::Utc>)>);
    while start.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        generation += 1;
        for i in 0..PIPELINES {
            write_lake(&e, i, generation);
        }
        if killed.is_none() && start.elapsed() > Duration::from_secs(10) {
            // A replica with a run going and a batch in flight.
            let open: Vec<_> = (0..PIPELINES).map(|i| format!("p{i}")).collect();
            let mut victim = None;
            for p in &open {
                let sent = store.open_batches(p).await.unwrap();
                if sent.iter().any(|b| b.status == "sent")
                    && let Some(r) = store.last_run(p).await.unwrap()
                    && r.status == "running"
                    && let Some(h) = r.holder
                {
                    victim = replicas
                        .iter()
                        .position(|x| h.contains(&format!("/{}/", x.child.id())));
                    if victim.is_some() {
                        break;
                    }
                }
            }
            if let Some(v) = victim {
                let pid = replicas[v].child.id();
                replicas[v].signal("-KILL");
                assert_eq!(
                    replicas[v].exit(Duration::from_secs(10)).await,
                    None,
                    "ended by the signal"
                );
                killed = Some((pid, chrono::Utc::now()));
            }
        }
    }
    let (dead, killed_at) = killed.expect("a replica was caught mid-run and killed");
    // The survivors bring every pipeline to the last generation.
    let last = generation.to_string();
    let settled = eventually(|| async {
        for m in &metrics {
            let vals = e.env.api.values(&e.env.ids.program, m).await;
            if vals.len() != 12 || vals.iter().any(|v| v["value"] != last.as_str()) {
                return false;
            }
        }
        true
    })
    .await;
    assert!(settled, "Workiva did not reach the lake's last generation");
    for r in replicas.iter_mut().filter(|r| r.child.id() != dead) {
        r.signal("-TERM");
        let code = r.exit(Duration::from_secs(30)).await;
        assert_eq!(code, Some(0), "a survivor stops cleanly");
    }

    let me = |h: &str, pid: u32| h.contains(&format!("/{pid}/"));
    let mut holders = std::collections::BTreeSet::new();
    let mut resumed_the_dead = false;
    for i in 0..PIPELINES {
        let p = format!("p{i}");
        let claims = store.tick_claims(&p).await.unwrap();
        let mut runs = store.runs_of(&p, 10_000).await.unwrap();
        runs.reverse();
        assert!(runs.len() >= 5, "{p}: {} runs", runs.len());
        // Every run was started for a tick its replica claimed, and a tick has one claim: so
        // no tick ran twice.
        for r in &runs {
            let h = r.holder.clone().expect("a run records its replica");
            holders.insert(h.clone());
            let mine = claims.iter().filter(|(_, c)| *c == h).count();
            let ran = runs
                .iter()
                .filter(|x| x.holder.as_deref() == Some(&h))
                .count();
            assert!(
                ran <= mine,
                "{p}: {h} ran {ran} runs on {mine} claimed ticks"
            );
        }
        // At most one run of the pipeline was going at any time: each run ended before the
        // next began, except the dead replica's, which the taker-over ended.
        for w in runs.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            if a.holder.as_deref().is_some_and(|h| me(h, dead)) && a.status == "interrupted" {
                resumed_the_dead = true;
                assert!(
                    b.started_at > killed_at - chrono::Duration::seconds(1),
                    "{p}: the dead replica's run was taken over only after the kill"
                );
                continue;
            }
            let end = a.finished_at.expect("a run that ended");
            assert!(
                end <= b.started_at,
                "{p}: run {} overlapped run {}",
                a.id,
                b.id
            );
        }
        assert!(
            runs.iter().all(|r| r.status != "running"),
            "{p}: no run left running: {runs:?}"
        );
    }
    assert!(
        resumed_the_dead,
        "the killed replica's run was resumed by another"
    );
    assert!(
        holders.len() >= 2,
        "the replicas shared the ticks: {holders:?}"
    );
    let conflicts = e
        .env
        .emu
        .requests()
        .iter()
        .filter(|q| q.endpoint.ends_with("/batchUpsertion") && q.status == 409)
        .count();
    assert_eq!(
        conflicts, 0,
        "no two batches of one metric were in flight at once"
    );
    store.close().await;
}
