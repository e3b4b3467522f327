//! A database password in a URL's query (`?password=`, as sqlx and libpq take it) reaches no
//! output: not `validate`, not `run-now --output json`, not the run's stored message or
//! `esg-sync runs`, not the status page or `/status`, not an alert's JSON body or Slack text,
//! not a log line. And such a URL written into the config file is refused like a password in
//! its userinfo.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;

use crate::support::daemon::Daemon;
use crate::support::env::sync_env;
use crate::support::pipeline::{ConfigToml, PipelineToml};

const PASSWORD: &str = "hunter2-query-secret";
const ALERT_SECRET: &str = "alert-signing-secret-0123456789abcdef";

/// A webhook that keeps each body it gets.
async fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new()
        .route(
            "/hook",
            post(
                |State(g): State<Arc<Mutex<Vec<String>>>>, body: Bytes| async move {
                    g.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&body).to_string());
                    "ok"
                },
            ),
        )
        .with_state(got.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (url, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_in_a_urls_query_reaches_no_output() {
    let e = sync_env().await;
    let (hook, got) = receiver().await;
    // Nothing listens on port 1: the source cannot connect, and every path reports it.
    let lake = format!("postgres://etl@127.0.0.1:1/lake?sslmode=disable&password={PASSWORD}");
    let cfg = e.file("secrets.toml");
    let text = ConfigToml::new(
        &e.env.emu.base_url(),
        &format!("sqlite://{}/secrets-state.db", e.dir.path().display()),
    )
    .table("[daemon]\nlisten = \"127.0.0.1:0\"")
    .table(&format!(
        r#"[[alert]]
name = "json"
url = "{hook}"
secret_env = "ESG_SYNC_TEST_ALERT_SECRET"
events = ["run_failed"]
[[alert]]
name = "chat"
url = "{hook}"
format = "slack"
events = ["run_failed"]"#
    ))
    .pipeline(
        PipelineToml::without_source("lake", "Test Program")
            .schedule("* * * * * *")
            .extra("[pipeline.source]\nkind = \"postgres\"\nurl_env = \"LAKE_URL\"\nquery = \"SELECT 1\"")
            .dimensions(&[]),
    )
    .toml();
    std::fs::write(&cfg, &text).unwrap();
    let c = cfg.to_str().unwrap().to_string();
    let envs = || {
        vec![
            ("ESG_SYNC_TEST_SECRET", "demo-secret".to_string()),
            ("ESG_SYNC_TEST_ALERT_SECRET", ALERT_SECRET.to_string()),
            ("LAKE_URL", lake.clone()),
            ("RUST_LOG", "debug".to_string()),
        ]
    };
    let mut seen = Vec::new();
    for args in [
        vec!["validate", "--config", &c],
        vec!["run-now", "--config", &c, "--output", "json"],
        vec!["runs", "--config", &c, "--output", "json"],
        vec!["runs", "--config", &c],
    ] {
        let r = crate::support::run_esg(args.iter().map(|s| s.to_string()).collect(), envs()).await;
        seen.push((args.join(" "), format!("{}\n{}", r.stdout, r.stderr)));
    }
    // The failure is reported, with the URL shown masked.
    let (_, run_now) = &seen[1];
    assert!(
        run_now.contains("postgres://etl@127.0.0.1:1/lake?sslmode=disable&password=***"),
        "{run_now}"
    );

    let mut d = Daemon::spawn_with(
        "daemon",
        &cfg,
        "debug",
        &envs()
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect::<Vec<_>>(),
    );
    let addr = d.addr().await;
    let arrived = crate::support::eventually(|| async { got.lock().unwrap().len() >= 2 }).await;
    assert!(arrived, "both alerts arrive:\n{}", d.log());
    for path in ["/", "/status"] {
        let body = reqwest::get(format!("http://{addr}{path}"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            body.contains("password=***"),
            "{path} shows the masked URL: {body}"
        );
        seen.push((path.to_string(), body));
    }
    d.signal("-TERM");
    assert_eq!(d.exit(Duration::from_secs(15)).await, Some(0));
    seen.push(("the daemon's log".into(), d.log()));
    for body in got.lock().unwrap().iter() {
        seen.push(("an alert".into(), body.clone()));
    }
    let store = esg_sync::store::Store::connect(&format!(
        "sqlite://{}/secrets-state.db",
        e.dir.path().display()
    ))
    .await
    .unwrap();
    seen.push((
        "the stored runs".into(),
        serde_json::to_string(&store.runs(50).await.unwrap()).unwrap(),
    ));
    for (what, out) in &seen {
        assert!(!out.contains(PASSWORD), "{what} shows the password:\n{out}");
        assert!(!out.contains(ALERT_SECRET), "{what} shows the alert secret");
    }

    // Written into the file, such a URL is refused, and the refusal does not quote it.
    std::fs::write(
        &cfg,
        text.replace(
            "url_env = \"LAKE_URL\"",
            &format!("url = \"postgres://etl@db/lake?password={PASSWORD}\""),
        ),
    )
    .unwrap();
    let r = crate::support::run_esg(vec!["validate".into(), "--config".into(), c], envs()).await;
    let out = format!("{}{}", r.stdout, r.stderr);
    assert!(out.contains("source.url holds a password"), "{out}");
    assert!(!out.contains(PASSWORD), "{out}");
}
