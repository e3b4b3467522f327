//! Emulator scale benchmark: `cargo bench --bench emulator_scale`.
//!
//! Loads 1,000,000 values (100 metrics x 10,000), then prints: load time, resident memory,
//! the time to accept and apply a batch upsertion of just under 10 MB over HTTP, and the cost
//! of finding a value by (metric, period, coordinates). Targets: holds 1,000,000
//! values; applies a 10 MB batch in well under a second; lookups are hash lookups, not scans.

use std::time::{Duration, Instant};

use esg_sync::emulator::Emulator;
use esg_sync::emulator::model::{Period, ValueKey};
use serde_json::{Value, json};
use tenant::Tenant;

#[path = "support/tenant.rs"]
mod tenant;

const METRICS: usize = 100;
const SITES: usize = 1_000;
const YEARS: usize = 10;

fn proc_status(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| "n/a".into())
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

/// Loads 1,000,000 values through the store's own all-or-nothing upsert path.
fn load_values(tn: &Tenant) {
    let emu = &tn.emu;
    let t = Instant::now();
    tn.load(YEARS, SITES, |i| format!("{}.{}", i, i % 97));
    let load = t.elapsed();
    let total: usize = emu.with_store_advanced(|st| st.values.values().map(|v| v.len()).sum());
    println!("values held:            {total}");
    println!(
        "load time:              {:.2} s ({:.0} values/s)",
        load.as_secs_f64(),
        total as f64 / load.as_secs_f64()
    );
    println!(
        "resident memory:        {} (peak {})",
        proc_status("VmRSS:"),
        proc_status("VmHWM:")
    );
}

/// The demo client's token.
async fn token(client: &reqwest::Client, emu: &Emulator) -> String {
    let token: Value = client
        .post(format!("{}/oauth2/token", emu.base_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "demo"),
            ("client_secret", "demo-secret"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    token["access_token"].as_str().unwrap().to_string()
}

/// One batch of just under 10 MB, sent and polled to its end.
async fn batch(
    tn: &Tenant,
    client: &reqwest::Client,
    token: &str,
    label: &str,
    data: Vec<Value>,
    metric: uuid::Uuid,
) {
    let (emu, program) = (&tn.emu, tn.program);
    let n = data.len();
    let body = serde_json::to_vec(&json!({ "data": data })).unwrap();
    assert!(body.len() <= 10_485_760, "body is {} bytes", body.len());
    let t = Instant::now();
    let r = client
        .post(format!(
            "{}/programs/{program}/metrics/{metric}/values/batchUpsertion",
            emu.base_url()
        ))
        .bearer_auth(token)
        .header("X-Version", "2026-01-01")
        .header("Content-Type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let accepted = t.elapsed();
    let loc: Value = r.json().await.unwrap();
    let loc = loc["operationLocation"].as_str().unwrap().to_string();
    let status = loop {
        let op: Value = client
            .get(&loc)
            .bearer_auth(token)
            .header("X-Version", "2026-01-01")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let s = op["status"].as_str().unwrap().to_string();
        if s == "completed" || s == "failed" {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let applied = t.elapsed();
    assert_eq!(status, "completed");
    println!(
        "10 MB batch ({label}): {n} values, {} bytes ({:.1}% of 10,485,760): accepted (parsed, checked) in {} ms, applied in {} ms",
        body.len(),
        body.len() as f64 * 100.0 / 10_485_760.0,
        accepted.as_millis(),
        applied.as_millis()
    );
}

/// Finding a value by (metric, period, coordinates).
fn lookups(tn: &Tenant) {
    let (emu, fid, mid) = (&tn.emu, tn.facility, tn.metric_ids[METRICS / 2]);
    let n = 200_000;
    let t = Instant::now();
    let found = emu.with_store_advanced(|st| {
        let mv = st.metric_values(mid);
        (0..n)
            .filter(|i| {
                let key = ValueKey {
                    period: Period {
                        year: 2000 + ((i * 7) % YEARS) as u16,
                        start: 1,
                        end: 12,
                    },
                    coords: vec![(fid, tenant::site((i * 13) % SITES))],
                };
                mv.slot_of_key(&key).is_some()
            })
            .count()
    });
    let per = t.elapsed().as_nanos() as f64 / n as f64;
    assert_eq!(found, n);
    println!("lookup by key:          {per:.0} ns each ({n} lookups, key built each time)");
    println!(
        "resident memory at end: {} (peak {})",
        proc_status("VmRSS:"),
        proc_status("VmHWM:")
    );
}

async fn run() {
    let tn = tenant::start(METRICS, SITES).await;
    load_values(&tn);
    let client = reqwest::Client::new();
    let token = token(&client, &tn.emu).await;
    let (facility, metric_ids) = (tn.facility.to_string(), &tn.metric_ids);
    // Two batches of just under 10 MB: 10,000 updates carrying ~900-character notes, and
    // 70,000 small new values.
    let note = "n".repeat(890);
    let updates: Vec<Value> = (0..YEARS * SITES)
        .map(|i| {
            json!({
                "reportingPeriod": {"year": 2000 + i / SITES, "start": 1, "end": 12},
                "coordinates": {&facility: tenant::site(i % SITES)},
                "value": format!("{}.5", i),
                "notes": note,
            })
        })
        .collect();
    let creates: Vec<Value> = (0..70 * SITES)
        .map(|i| {
            json!({
                "reportingPeriod": {"year": 2100 + i / SITES, "start": 1, "end": 12},
                "coordinates": {&facility: tenant::site(i % SITES)},
                "value": format!("{}.25", i),
            })
        })
        .collect();
    for (label, data, metric) in [
        ("10,000 updates with notes", updates, metric_ids[0]),
        ("70,000 new values", creates, metric_ids[1]),
    ] {
        batch(&tn, &client, &token, label, data, metric).await;
    }
    lookups(&tn);
    tn.emu.shutdown().await;
}
