//! Parquet on Azure Blob Storage, against the Azurite emulator (npm; `.ci/run`
//! installs it and sets `ESG_SYNC_TEST_AZURITE` to its `azurite-blob`), started on 127.0.0.1
//! port 0 by each test. The same lake as in the S3 tests, a glob across prefixes, and a refused
//! key as a clear error that never shows the key. Skipped, saying so, when the variable is
//! unset.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use base64::Engine;
use esg_sync::config::{Source, StoreCredentials, StoreOptions};
use esg_sync::sync::{RunOptions, Status};
use hmac::{KeyInit, Mac};
use object_store::ObjectStoreExt;
use serde_json::json;

use crate::support::env::{sync_env, write_rows};

/// Azurite's well-known development account and key (public; every Azurite has them).
const ACCOUNT: &str = "devstoreaccount1";
const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

struct Azurite {
    child: Child,
    _dir: tempfile::TempDir,
    /// The account's endpoint, path-style: `http://127.0.0.1:PORT/devstoreaccount1`.
    endpoint: String,
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn azurite() -> Option<Azurite> {
    let bin = crate::support::outside(
        "ESG_SYNC_TEST_AZURITE",
        ".ci/run installs Azurite and sets it",
    )?;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin)
        .args(["--blobHost", "127.0.0.1", "--blobPort", "0", "--location"])
        .arg(dir.path())
        .args(["--disableTelemetry", "--skipApiVersionCheck", "--loose"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("azurite starts");
    // It says where it listens: "... successfully listens on http://127.0.0.1:PORT".
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("azurite said where it listens")
            .unwrap();
        if let Some(at) = line.split("listens on ").nth(1) {
            break at.trim().to_string();
        }
    };
    // Keep reading its output, so it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Some(Azurite {
        child,
        _dir: dir,
        endpoint: format!("{base}/{ACCOUNT}"),
    })
}

/// Creates a container with a SharedKey-signed request (object_store cannot).
async fn create_container(endpoint: &str, name: &str) {
    let date = chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let version = "2021-08-06";
    // VERB, then eleven standard headers (all empty here), then x-ms-* headers and resource.
    let to_sign = format!(
        "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{ACCOUNT}/{ACCOUNT}/{name}\nrestype:container"
    );
    let key = base64::engine::general_purpose::STANDARD
        .decode(KEY)
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(to_sign.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let r = reqwest::Client::new()
        .put(format!("{endpoint}/{name}?restype=container"))
        .header("x-ms-date", date)
        .header("x-ms-version", version)
        .header("Authorization", format!("SharedKey {ACCOUNT}:{signature}"))
        .header("Content-Length", "0")
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert!(status.is_success(), "{status}: {}", r.text().await.unwrap());
}

/// Writes a blob through object_store, as the lake's producer would.
async fn put(endpoint: &str, container: &str, key: &str, body: Vec<u8>) {
    let store = object_store::azure::MicrosoftAzureBuilder::new()
        .with_account(ACCOUNT)
        .with_access_key(KEY)
        .with_container_name(container)
        .with_endpoint(endpoint.to_string())
        .with_allow_http(true)
        .build()
        .unwrap();
    let store: Arc<dyn object_store::ObjectStore> = Arc::new(store);
    store
        .put(&object_store::path::Path::from(key), body.into())
        .await
        .unwrap();
}

/// The lake's paths on Azurite, with the account and `key` given in code (the test process's
/// environment is never changed).
fn source(paths: &[&str], endpoint: &str, key: &str) -> Source {
    Source::Parquet {
        paths: paths.iter().map(|p| p.to_string()).collect(),
        store: StoreOptions {
            endpoint: Some(endpoint.into()),
            region: None,
            allow_http: true,
            credentials: Some(StoreCredentials::Azure {
                account: ACCOUNT.into(),
                access_key: key.into(),
            }),
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lake_in_an_azure_container_syncs_and_a_wrong_key_is_refused_in_words() {
    let Some(az) = azurite() else { return };
    create_container(&az.endpoint, "esg-lake").await;
    let e = sync_env().await;
    let local = e.file("part.parquet");
    write_rows(
        &local,
        &[
            ("ghg", "2024", "A", "X", "10.50", "audited"),
            ("ghg", "2024-Q1", "B", "", "7", ""),
        ],
    );
    let body = std::fs::read(&local).unwrap();
    put(&az.endpoint, "esg-lake", "lake/2024/part-1.parquet", body).await;
    write_rows(
        &local,
        &[
            ("ghg", "2025", "A", "X", "11", ""),
            ("share", "2025", "", "Y", "45.50", ""),
        ],
    );
    let body = std::fs::read(&local).unwrap();
    put(&az.endpoint, "esg-lake", "lake/2025/part-1.parquet", body).await;
    put(
        &az.endpoint,
        "esg-lake",
        "lake/2025/notes.txt",
        b"x".to_vec(),
    )
    .await;

    let mut p = e.pipeline("");
    p.source = source(&["az://esg-lake/lake/*/part-*.parquet"], &az.endpoint, KEY);
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(
        (r.status, r.counts.read, r.counts.created),
        (Status::Succeeded, 4, 4),
        "{r:?}"
    );
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
    // abfs:// names the same container.
    p.source = source(
        &["abfs://esg-lake/lake/2025/part-1.parquet"],
        &az.endpoint,
        KEY,
    );
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(
        (r.status, r.counts.unchanged),
        (Status::Succeeded, 2),
        "{r:?}"
    );

    // A wrong key: refused, said in words, and the key shown nowhere.
    let wrong = base64::engine::general_purpose::STANDARD.encode([7u8; 64]);
    p.source = source(
        &["az://esg-lake/lake/*/part-*.parquet"],
        &az.endpoint,
        &wrong,
    );
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(r.status, Status::Failed);
    let msg = r.message().unwrap();
    assert!(msg.contains("az://esg-lake/lake/*/part-*.parquet"), "{msg}");
    assert!(!msg.contains(&wrong) && !msg.contains(KEY), "{msg}");
    assert!(!format!("{r:?}").contains(&wrong));
}
