//! Parquet on object storage. An S3-compatible server (moto, from PyPI; `.ci/run`
//! installs it and sets `ESG_SYNC_TEST_MOTO` to its `moto_server`) is started on 127.0.0.1 by
//! each test; the same lake as Parquet in a bucket, a glob across prefixes, a missing bucket and
//! refused credentials. Skipped, saying so, when `ESG_SYNC_TEST_MOTO` is unset.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use esg_sync::config::{Source, StoreCredentials, StoreOptions};
use esg_sync::sync::{RunOptions, Status};
use serde_json::json;

use crate::support::env::{sync_env, write_rows};

struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts moto on a free loopback port, with `env` (e.g. to make it check credentials).
fn moto(env: &[(&str, &str)]) -> Option<Moto> {
    let bin = crate::support::outside("ESG_SYNC_TEST_MOTO", ".ci/run installs moto and sets it")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new(bin);
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("moto starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    })
}

async fn put(endpoint: &str, key: &str, body: Vec<u8>) {
    let r = reqwest::Client::new()
        .put(format!("{endpoint}/{key}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "PUT {key}: {}", r.status());
}

fn source(paths: &[&str], endpoint: &str) -> Source {
    Source::Parquet {
        paths: paths.iter().map(|p| p.to_string()).collect(),
        store: StoreOptions {
            endpoint: Some(endpoint.into()),
            region: Some("us-east-1".into()),
            allow_http: true,
            // Given in code: the test process's environment is never changed.
            credentials: Some(StoreCredentials::S3 {
                access_key_id: "esg-sync-test".into(),
                secret_access_key: "esg-sync-test-secret".into(),
            }),
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lake_in_a_bucket_syncs_through_a_glob_across_prefixes() {
    let Some(m) = moto(&[]) else { return };
    let e = sync_env().await;
    put(&m.endpoint, "esg-lake", Vec::new()).await;
    let local = e.file("part.parquet");
    write_rows(
        &local,
        &[
            ("ghg", "2024", "A", "X", "10.50", "audited"),
            ("ghg", "2024-Q1", "B", "", "7", ""),
        ],
    );
    put(
        &m.endpoint,
        "esg-lake/lake/2024/part-1.parquet",
        std::fs::read(&local).unwrap(),
    )
    .await;
    write_rows(
        &local,
        &[
            ("ghg", "2025", "A", "X", "11", ""),
            ("share", "2025", "", "Y", "45.50", ""),
            ("nox", "2025", "A", "", "1", ""),
        ],
    );
    put(
        &m.endpoint,
        "esg-lake/lake/2025/part-1.parquet",
        std::fs::read(&local).unwrap(),
    )
    .await;
    put(
        &m.endpoint,
        "esg-lake/lake/2025/readme.txt",
        b"not parquet".to_vec(),
    )
    .await;
    let mut p = e.pipeline("");
    p.source = source(&["s3://esg-lake/lake/*/part-*.parquet"], &m.endpoint);
    let Source::Parquet { paths, store } = &p.source else {
        panic!()
    };
    // `validate` lists the bucket and reads each footer.
    let (objects, errors) = esg_sync::source::object::expand(paths, store).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        objects.iter().map(|o| o.url.as_str()).collect::<Vec<_>>(),
        vec![
            "s3://esg-lake/lake/2024/part-1.parquet",
            "s3://esg-lake/lake/2025/part-1.parquet"
        ]
    );
    for o in &objects {
        esg_sync::source::object::check_object(o, &p.columns)
            .await
            .unwrap();
    }
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(
        (r.status, r.counts.created, r.counts.rejected),
        (Status::Partial, 4, 1),
        "{r:?}"
    );
    assert_eq!(
        r.rejects[0].source_file,
        "s3://esg-lake/lake/2025/part-1.parquet"
    );
    assert_eq!(r.rejects[0].source_row, 3);
    // Each change's origin: the object, by the version the bucket listed (its ETag).
    let entries = e.store.ledger_of_run(r.run_id.unwrap()).await.unwrap();
    assert_eq!(entries.len(), 4, "{entries:?}");
    for c in &entries {
        let o = &c.change.origin;
        let listed = objects
            .iter()
            .find(|x| x.url == o.source)
            .expect("a listed object");
        assert_eq!(o.version.as_ref(), Some(&listed.version));
        let Some(esg_sync::source::Version::Object { etag, size, .. }) = &o.version else {
            panic!("an object's version: {o:?}");
        };
        assert!(
            etag.as_ref().is_some_and(|t| !t.is_empty()) && *size > 0,
            "{o:?}"
        );
    }
    let (f, bu) = (&e.env.ids.facility, &e.env.ids.bu);
    let num: Vec<_> = e
        .workiva(&e.env.ids.num)
        .await
        .into_iter()
        .map(|v| (v.year, v.start, v.coordinates, v.value))
        .collect();
    assert_eq!(
        num,
        vec![
            (2024, 1, json!({f: "A", bu: "X"}), "10.5".to_string()),
            (2024, 1, json!({f: "B"}), "7".to_string()),
            (2025, 1, json!({f: "A", bu: "X"}), "11".to_string()),
        ]
    );
    assert_eq!(e.workiva(&e.env.ids.share).await[0].value, "45.5");
    // A rerun sends nothing.
    let before = e.upsertions();
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!((r.counts.unchanged, e.upsertions()), (4, before), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_and_refused_credentials_are_clear_errors() {
    let Some(m) = moto(&[]) else { return };
    let e = sync_env().await;
    let mut p = e.pipeline("");
    p.source = source(&["s3://no-such-bucket/lake/*.parquet"], &m.endpoint);
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(r.status, Status::Failed);
    let msg = r.message().unwrap();
    assert!(
        msg.contains("s3://no-such-bucket/lake/*.parquet") && msg.contains("bucket does not exist"),
        "{msg}"
    );
    // A server that checks credentials refuses ours.
    let Some(strict) = moto(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]) else {
        return;
    };
    p.source = source(&["s3://esg-lake/lake/*.parquet"], &strict.endpoint);
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(r.status, Status::Failed);
    let msg = r.message().unwrap();
    assert!(msg.contains("access denied"), "{msg}");
    assert!(
        !msg.contains("esg-sync-test-secret"),
        "the secret never shows: {msg}"
    );
}

#[test]
fn plain_http_to_a_store_is_loopback_only_and_opt_in() {
    let problems = |endpoint: &str, allow_http: bool| {
        let mut s = Source::Parquet {
            paths: vec!["s3://b/*.parquet".into()],
            store: StoreOptions {
                endpoint: Some(endpoint.into()),
                region: None,
                allow_http,
                credentials: None,
            },
        };
        let p = s.problems("pipeline `x`").join("; ");
        if let Source::Parquet { paths, .. } = &mut s {
            paths.clear();
        }
        p
    };
    assert!(problems("http://127.0.0.1:9000", false).contains("set allow_http = true"));
    assert!(problems("http://127.0.0.1:9000", true).is_empty());
    assert!(problems("http://minio.internal:9000", true).contains("not loopback"));
    assert!(problems("https://minio.internal", false).is_empty());
}
