//! Adaptive request concurrency against the emulator. With no fixed rate, a client
//! against a server that allows N requests per second and answers 429 beyond it completes
//! its run with nothing failing for good, its limit brought down near the server's; against a
//! fast, clean server the limit rises.

use esg_sync::sync::{RunOptions, Status};
use esg_sync::workiva::WorkivaClient;

use crate::support::env::{sync_env, write_rows};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_against_a_server_limited_to_10_requests_per_second_completes() {
    let mut e = sync_env().await;
    let mut s = e.env.emu.settings();
    s.rate_limit.requests_per_second = Some(10.0);
    s.rate_limit.burst = Some(10);
    e.env.emu.set_settings(s).unwrap();
    // The client as a new user has it: no fixed rate, the adaptive limit from 4 to 64.
    let mut cfg = crate::support::client::client_config(&e.env);
    cfg.requests_per_second = 0.0;
    cfg.max_concurrent_requests = 64;
    cfg.max_server_waits = 200;
    e.client = WorkivaClient::new(cfg).unwrap();
    let rows: Vec<(String, String)> = (0..40)
        .map(|i| (format!("{}", 2000 + i), format!("{}", i + 1)))
        .collect();
    let rows: Vec<_> = rows
        .iter()
        .flat_map(|(y, v)| {
            [
                ("ghg", y.as_str(), "A", "X", v.as_str(), ""),
                ("share", y.as_str(), "", "Y", v.as_str(), ""),
            ]
        })
        .collect();
    write_rows(&e.file("data.parquet"), &rows);
    let p = e.pipeline("");
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(
        (r.status, r.counts.created),
        (Status::Succeeded, 80),
        "{r:?}"
    );
    let throttled = e
        .env
        .emu
        .requests()
        .iter()
        .filter(|q| q.status == 429)
        .count();
    assert!(throttled > 0, "the server did refuse some requests");
    let limit = e.client.concurrency_limit();
    assert!(
        limit <= 10,
        "the limit came down near the server's: {limit}"
    );
    // An unchanged rerun lands nothing new and fails nothing.
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(
        (r.status, r.counts.unchanged),
        (Status::Succeeded, 80),
        "{r:?}"
    );
}

#[tokio::test]
async fn against_a_clean_fast_server_the_limit_rises() {
    let e = sync_env().await;
    let mut cfg = crate::support::client::client_config(&e.env);
    cfg.requests_per_second = 0.0;
    cfg.max_concurrent_requests = 32;
    let c = WorkivaClient::new(cfg).unwrap();
    assert_eq!(c.concurrency_limit(), 4);
    let none = esg_sync::workiva::ListOptions::default();
    let calls: Vec<_> = (0..200).map(|_| c.programs(&none)).collect();
    for r in futures_util::future::join_all(calls).await {
        r.unwrap();
    }
    assert_eq!(c.concurrency_limit(), 32);
}
