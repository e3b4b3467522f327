//! Restart safety: the binary is stopped at several points of a run (an abort at a planned
//! failure point, which skips every destructor and flush as `kill -9` does, and a real
//! SIGKILL), then run again; Workiva must end equal to the source, nothing lost or duplicated,
//! and recorded operations are polled rather than resent.

use std::process::Command;

use crate::support::env::{ROWS, assert_equal_to_source, posts};
use crate::support::env::{SyncEnv, sync_env, write_rows};
use crate::support::pipeline::config_with;
use crate::support::{eventually, run_binary};

fn config(e: &SyncEnv) -> std::path::PathBuf {
    config_with(e, "", "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_at_any_point_is_finished_by_the_next() {
    // (failure point, upsertion POSTs the two runs make together)
    for (point, expected_posts) in [
        ("run_recorded", 2),
        ("run_started", 2),
        ("batch_recorded", 2),
        ("operation_recorded", 2),
        ("batch_completed:1", 2),
    ] {
        let e = sync_env().await;
        write_rows(&e.file("data.parquet"), ROWS);
        let cfg = config(&e);
        let out = run_binary(cfg.clone(), Some(point)).await;
        assert!(!out.success(), "{point}: the first run must stop");
        assert!(
            out.stderr.contains(&format!(
                "failure point `{}`",
                point.split(':').next().unwrap()
            )),
            "{point}: {}",
            out.stderr
        );
        let out = run_binary(cfg.clone(), None).await;
        let stdout = out.stdout.clone();
        assert_eq!(
            out.code,
            Some(0),
            "{point}: the rerun succeeds\n{stdout}\n{}",
            out.stderr
        );
        assert_equal_to_source(&e).await;
        assert_eq!(
            posts(&e),
            expected_posts,
            "{point}: a recorded operation is polled, not resent; an unsent batch is sent once"
        );
        let store = esg_sync::store::Store::connect(&format!(
            "sqlite://{}/cli-state.db",
            e.dir.path().display()
        ))
        .await
        .unwrap();
        let runs = store.runs(10).await.unwrap();
        assert_eq!(runs.len(), 2, "{point}");
        assert_eq!(
            runs[1].status, "interrupted",
            "{point}: the stopped run is recorded as such"
        );
        assert_eq!(runs[0].status, "succeeded");
        // Every value a completed batch wrote is counted in exactly one run: the one that saw
        // its operation complete (the stopped run for batches it finished, the resuming run
        // for the ones it polled or resent).
        let written: i64 = runs
            .iter()
            .map(|r| r.counts.created + r.counts.updated)
            .sum();
        assert_eq!(written, ROWS.len() as i64, "{point}: {runs:?}");
        // And each change is in the ledger once, from whichever run confirmed it.
        let mut entries = Vec::new();
        for r in &runs {
            entries.extend(store.ledger_of_run(r.id).await.unwrap());
        }
        let keys: std::collections::HashSet<_> = entries
            .iter()
            .map(|c| (&c.change.metric_id, &c.change.period, &c.change.coordinates))
            .collect();
        assert_eq!(
            (entries.len(), keys.len()),
            (ROWS.len(), ROWS.len()),
            "{point}: {entries:?}"
        );
        if point == "batch_completed:1" {
            assert!(runs[1].counts.created > 0, "{point}: {runs:?}");
        }
        if point == "operation_recorded" {
            assert!(
                stdout.contains("batches resumed from an interrupted run: 1"),
                "{point}: {stdout}"
            );
        }
        if point == "batch_recorded" {
            // Recorded, never confirmed sent: not resent blind, but marked unconfirmed; the
            // rerun's plan found its values missing and sent them once.
            assert!(
                !stdout.contains("batches resumed from an interrupted run"),
                "{point}: {stdout}"
            );
            let statuses: Vec<String> = store
                .batches_of_run(runs[1].id)
                .await
                .unwrap()
                .into_iter()
                .map(|b| b.0.to_string())
                .collect();
            assert_eq!(statuses, vec!["unconfirmed"], "{point}");
        }
        // And a third run has nothing left to do.
        let out = run_binary(cfg, None).await;
        assert_eq!(out.code, Some(0));
        assert_eq!(posts(&e), expected_posts, "{point}: nothing more to send");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_sigkill_mid_run_then_a_rerun_ends_equal_to_the_source() {
    let e = sync_env().await;
    write_rows(&e.file("data.parquet"), ROWS);
    let cfg = config(&e);
    // Slow operations, so the process is killed while one is in flight.
    let mut s = e.env.emu.settings();
    s.operations.base_ms = 4000;
    e.env.emu.set_settings(s).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_esg-sync"))
        .args(["run-now", "--config", cfg.to_str().unwrap()])
        .env("ESG_SYNC_TEST_SECRET", "demo-secret")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // First the emulator sees the batch (so the process has long since set up its store),
    // then the store holds its operation URL.
    let url = format!("sqlite://{}/cli-state.db", e.dir.path().display());
    assert!(
        eventually(|| async { posts(&e) == 1 }).await,
        "the first batch was sent"
    );
    let recorded = eventually(|| async {
        let Ok(store) = esg_sync::store::Store::connect(&url).await else {
            return false;
        };
        let sent = store
            .open_batches("crash")
            .await
            .is_ok_and(|b| b.iter().any(|x| x.status == "sent"));
        store.close().await;
        sent
    })
    .await;
    assert!(recorded, "the operation URL was recorded");
    assert_eq!(
        posts(&e),
        1,
        "killed while the first batch's operation runs"
    );
    Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    let mut s = e.env.emu.settings();
    s.operations.base_ms = 10;
    e.env.emu.set_settings(s).unwrap();
    let out = run_binary(cfg, None).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_equal_to_source(&e).await;
    assert_eq!(
        posts(&e),
        2,
        "the batch in flight was polled after the restart, not sent again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leftover_batch_for_a_deleted_metric_does_not_block_the_pipeline() {
    let e = sync_env().await;
    write_rows(&e.file("data.parquet"), ROWS);
    let cfg = config(&e);
    let out = run_binary(cfg.clone(), Some("batch_recorded")).await;
    assert!(!out.success());
    // The metric of the unsent batch goes away before the rerun.
    let r = e
        .env
        .api
        .delete(&format!(
            "/programs/{}/metrics/{}",
            e.env.ids.program, e.env.ids.num
        ))
        .await;
    assert_eq!(r.status, 204);
    let out = run_binary(cfg, None).await;
    let stdout = out.stdout.clone();
    // The rows of the deleted metric are now rejected (their metric no longer exists); the
    // other metric syncs.
    assert_eq!(out.code, Some(2), "{stdout}\n{}", out.stderr);
    let share: Vec<String> = e
        .workiva(&e.env.ids.share)
        .await
        .into_iter()
        .map(|v| v.value)
        .collect();
    assert_eq!(share, vec!["40.5", "41"]);
}
