//! The admin API, and lookups by key that are not scans.

use esg_sync::emulator::{Emulator, StartOptions};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn admin_api_only_with_admin() {
    let emu = Emulator::start(
        test_config(),
        StartOptions {
            admin: false,
            ..StartOptions::default()
        },
    )
    .await
    .unwrap();
    let api = Api::new(&emu.base_url());
    for (m, p) in [
        (Method::POST, "/_emulator/seed"),
        (Method::PUT, "/_emulator/faults"),
        (Method::GET, "/_emulator/requests"),
        (Method::GET, "/_emulator/counters"),
        (Method::POST, "/_emulator/reset"),
        (Method::POST, "/_emulator/tasks"),
    ] {
        let (s, _) = admin(&api, m, p, Some(json!({}))).await;
        assert_eq!(s, 404, "{p}");
    }
}

#[tokio::test]
async fn request_log_and_counters() {
    let env = start().await;
    let api = &env.api;
    let p = &env.ids.program;
    api.get("/programs").await;
    api.get(&format!("/programs/{p}")).await;
    api.get("/programs/00000000-0000-0000-0000-000000000000")
        .await;
    api.post(&format!("/programs/{p}/topics"), json!({"name": "Logged"}))
        .await;
    let (s, log) = admin(api, Method::GET, "/_emulator/requests", None).await;
    assert_eq!(s, 200);
    let entries = log["data"].as_array().unwrap();
    // The login's token request, then four API calls; admin calls are not logged.
    let paths: Vec<&str> = entries
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths[0], "/oauth2/token");
    assert_eq!(entries.len(), 5, "{paths:?}");
    let post = &entries[4];
    assert_eq!(post["method"], "POST");
    assert_eq!(post["status"], 201);
    assert_eq!(post["endpoint"], "POST /programs/{programId}/topics");
    assert_eq!(
        post["request_bytes"], 17,
        "the bytes of {{\"name\":\"Logged\"}}"
    );
    assert_eq!(post["client_id"], "demo");
    assert!(chrono::DateTime::parse_from_rfc3339(post["time"].as_str().unwrap()).is_ok());
    let (_, since) = admin(
        api,
        Method::GET,
        &format!("/_emulator/requests?since={}", entries[3]["seq"]),
        None,
    )
    .await;
    assert_eq!(since["data"].as_array().unwrap().len(), 1);
    let (_, counters) = admin(api, Method::GET, "/_emulator/counters", None).await;
    assert_eq!(counters["GET /programs/{programId}"]["200"], 1);
    assert_eq!(counters["GET /programs/{programId}"]["404"], 1);
    assert_eq!(counters["GET /programs"]["200"], 1);
    assert!(
        counters
            .as_object()
            .unwrap()
            .keys()
            .all(|k| !k.contains("_emulator"))
    );
}

#[tokio::test]
async fn seed_tasks_and_reset_over_http() {
    let env = start().await;
    let api = &env.api;
    let (s, summary) = admin(api, Method::POST, "/_emulator/seed", Some(json!({"programs": [{
        "name": "Seeded", "dimensions": [{"name": "Site", "values": [{"id": "S1"}]}],
        "metrics": [{"name": "M", "dataType": "number", "allowedDimensions": ["Site"], "values": [
            {"reportingPeriod": {"year": 2025, "start": 1, "end": 12}, "coordinates": {"Site": "S1"}, "value": "3", "status": "sentForApproval"}
        ]}]
    }]}))).await;
    assert_eq!(s, 201, "{summary}");
    let pid = summary["programs"][0]["id"].as_str().unwrap();
    let mid = summary["programs"][0]["metrics"]["M"].as_str().unwrap();
    let vals = api.values(pid, mid).await;
    assert_eq!(
        vals[0]["status"], "sentForApproval",
        "seeds may set locked statuses"
    );
    let (s, body) = admin(
        api,
        Method::POST,
        "/_emulator/seed",
        Some(json!({"programs": [{"name": "Seeded"}]})),
    )
    .await;
    assert_eq!(s, 400);
    assert!(body["message"].as_str().unwrap().contains("already exists"));
    let (s, body) = admin(api, Method::POST, "/_emulator/seed", Some(json!({"programs": [{"name": "Bad", "metrics": [{"name": "M", "allowedDimensions": ["Nope"]}]}]}))).await;
    assert_eq!(s, 400);
    assert!(
        body["message"].as_str().unwrap().contains("metric `M`"),
        "{body}"
    );
    let (s, _) = admin(api, Method::POST, "/_emulator/reset", None).await;
    assert_eq!(s, 204);
    assert!(api.list_all("/programs").await.is_empty());
    let (_, log) = admin(api, Method::GET, "/_emulator/requests", None).await;
    assert_eq!(
        log["data"].as_array().unwrap().len(),
        1,
        "only the request made after the reset"
    );
}

const SITES: [&str; 3] = ["A", "B", "C"];

#[tokio::test]
async fn lookups_by_key_and_id_do_not_scan() {
    let env = start().await;
    let ids = &env.ids;
    let data: Vec<Value> = (0..20_000)
        .map(|i| {
            val(
                1000 + (i % 9000) as u16,
                json!({&ids.facility: SITES[i / 9000]}),
                "1",
            )
        })
        .collect();
    assert_eq!(
        env.api
            .upsert(&ids.program, &ids.num, Value::Array(data))
            .await["status"],
        "completed"
    );
    let before = env.emu.values_scanned();
    let op = env
        .api
        .upsert(
            &ids.program,
            &ids.num,
            json!([val(5000, json!({&ids.facility: "B"}), "2")]),
        )
        .await;
    assert_eq!(op["status"], "completed");
    let id = env.api.list_all(op["resourceUrl"].as_str().unwrap()).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = env
        .api
        .get(&format!(
            "/programs/{}/metrics/{}/values/{id}",
            ids.program, ids.num
        ))
        .await;
    assert_eq!(r.body["value"], "2");
    assert_eq!(
        env.emu.values_scanned(),
        before,
        "upsert by key and get by id visit no other value"
    );
    let n = env
        .emu
        .with_store_advanced(|s| s.values[&uuid::Uuid::parse_str(&ids.num).unwrap()].len());
    assert_eq!(n, 20_000);
}

#[tokio::test]
async fn an_exported_tenant_loads_back_with_every_id_it_had() {
    let env = crate::support::start().await;
    let (p, m) = (&env.ids.program, &env.ids.num);
    env.api
        .upsert(
            p,
            m,
            serde_json::json!([{"reportingPeriod": {"year": 2025, "start": 1, "end": 3},
                "coordinates": {&env.ids.facility: "A"}, "value": "7"}]),
        )
        .await;
    let before = env.api.values(p, m).await;
    let exported = env.emu.export();
    let again = esg_sync::emulator::Emulator::start(
        crate::support::test_config(),
        esg_sync::emulator::StartOptions {
            seed: Some(exported.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        serde_json::to_value(again.export()).unwrap(),
        serde_json::to_value(&exported).unwrap(),
        "program, topic, dimension, metric and value ids all kept"
    );
    let mut api = crate::support::Api::new(&again.base_url());
    api.login("demo", "demo-secret").await;
    assert_eq!(api.values(p, m).await, before);
    // A seed that gives one id twice is refused, naming it.
    let mut twice = exported.clone();
    let dup = twice.programs[0].metrics[0].id;
    twice.programs[0].metrics[1].id = dup;
    again.reset();
    let e = again.seed(&twice).unwrap_err();
    assert!(e.to_string().contains("given twice"), "{e}");
}
