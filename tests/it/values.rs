//! Rules 4 and 5: values, identity, statuses, fieldsToClear, batch upsertion and deletion.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

fn upsert_path(env: &Env, metric: &str) -> String {
    format!(
        "/programs/{}/metrics/{metric}/values/batchUpsertion",
        env.ids.program
    )
}

#[tokio::test]
async fn single_value_create_get_patch_delete() {
    let env = start().await;
    let (api, ids) = (&env.api, &env.ids);
    let base = format!("/programs/{}/metrics/{}/values", ids.program, ids.num);
    let r = api.post(&base, json!({"value": "512.8768743", "reportingPeriod": {"year": 2025, "start": 1, "end": 12}, "coordinates": {&ids.facility: "A"}, "status": "notStarted", "notes": "ERP"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["status"], "notStarted");
    let dup = api.post(&base, json!({"value": "1", "reportingPeriod": {"year": 2025, "start": 1, "end": 12}, "coordinates": {&ids.facility: "A"}})).await;
    assert_eq!(dup.status, 409);
    let bad = api
        .post(
            &base,
            json!({"value": "12,5", "reportingPeriod": {"year": 2025, "start": 1, "end": 12}}),
        )
        .await;
    assert_eq!((bad.status, bad.target()), (400, "value"));
    let locked = api.post(&base, json!({"reportingPeriod": {"year": 2024, "start": 1, "end": 12}, "status": "inProgress"})).await;
    assert_eq!((locked.status, locked.target()), (400, "status"));
    let got = api.get(&format!("{base}/{id}")).await;
    assert_eq!(got.body["notes"], "ERP");
    let p = api
        .patch(
            &format!("{base}/{id}"),
            json!([{"op": "replace", "path": "/value", "value": "525.10"}]),
        )
        .await;
    assert_eq!(p.body["value"], "525.10");
    let p = api
        .patch(
            &format!("{base}/{id}"),
            json!([{"op": "replace", "path": "/value", "value": "lots"}]),
        )
        .await;
    assert_eq!(p.status, 400, "a number metric refuses a non-number");
    let p = api
        .patch(
            &format!("{base}/{id}"),
            json!([{"op": "replace", "path": "/notes", "value": null}]),
        )
        .await;
    assert!(p.body.get("notes").is_none());
    let p = api
        .patch(
            &format!("{base}/{id}"),
            json!([{"op": "replace", "path": "/status", "value": "complete"}]),
        )
        .await;
    assert_eq!(p.status, 400, "status is not patchable");
    assert_eq!(api.delete(&format!("{base}/{id}")).await.status, 204);
    assert_eq!(api.get(&format!("{base}/{id}")).await.status, 404);
    assert_eq!(api.delete(&format!("{base}/{id}")).await.status, 404);
}

#[tokio::test]
async fn batch_upsertion_accepts_polls_and_links_results() {
    let env = start().await;
    let (api, ids) = (&env.api, &env.ids);
    let mut slow = env.emu.settings();
    slow.operations.queued_ms = 300;
    slow.operations.base_ms = 900;
    slow.operations.retry_after_secs = 2;
    env.emu.set_settings(slow).unwrap();
    let data = json!([
        val(2025, json!({&ids.facility: "A"}), "1.5"),
        val(2025, json!({&ids.facility: "B", &ids.bu: "X"}), "2")
    ]);
    let r = api
        .post(&upsert_path(&env, &ids.num), json!({ "data": data }))
        .await;
    assert_eq!(r.status, 202);
    let loc = r.body["operationLocation"].as_str().unwrap().to_string();
    assert_eq!(r.header("location"), Some(loc.as_str()));
    assert_eq!(r.retry_after(), Some(2));
    assert!(loc.starts_with(&format!("{}/operations/", api.base)));
    let first = api.get(&loc).await;
    assert_eq!(first.body["status"], "queued");
    assert_eq!(first.retry_after(), Some(2));
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(api.get(&loc).await.body["status"], "started");
    assert!(
        api.values(&ids.program, &ids.num).await.is_empty(),
        "nothing is visible before the operation completes"
    );
    let done = api.wait(&loc).await;
    assert_eq!(done["status"], "completed");
    let results_url = done["resourceUrl"].as_str().unwrap();
    assert!(results_url.ends_with("/metricValuesBatchUpsertionResults"));
    let results = api.list_all(results_url).await;
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|v| v["id"].is_string()));
    let alias = api.list_all(&format!("{loc}/results")).await;
    assert_eq!(
        alias, results,
        "the guide's /results path serves the same list"
    );
    let paged = api.get(&format!("{results_url}?$maxpagesize=1")).await;
    assert!(paged.body["@nextLink"].is_string());
    let vals = api.values(&ids.program, &ids.num).await;
    assert_eq!(vals.len(), 2);
    assert_eq!(
        find(&vals, 2025, &json!({&ids.facility: "A"})).unwrap()["status"],
        "notStarted"
    );
}

#[tokio::test]
async fn results_of_an_unfinished_or_failed_operation_are_refused() {
    let env = start().await;
    let (api, ids) = (&env.api, &env.ids);
    let op = api
        .upsert(
            &ids.program,
            &ids.num,
            json!([val(2025, json!({&ids.facility: "NOPE"}), "1")]),
        )
        .await;
    assert_eq!(op["status"], "failed");
    assert!(op.get("resourceUrl").is_none());
    let r = api
        .get(&format!(
            "/operations/{}/metricValuesBatchUpsertionResults",
            op["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(
        api.get("/operations/feedface/metricValuesBatchUpsertionResults")
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn identity_by_key_and_id_wins_over_key() {
    let env = start().await;
    let (api, ids) = (&env.api, &env.ids);
    let (p, m, f) = (&ids.program, &ids.num, &ids.facility);
    api.upsert(
        p,
        m,
        json!([
            val(2025, json!({f: "A"}), "1"),
            val(2025, json!({f: "B"}), "2")
        ]),
    )
    .await;
    // Same period and coordinates: an update, not a duplicate.
    let op = api
        .upsert(p, m, json!([val(2025, json!({f: "A"}), "10")]))
        .await;
    assert_eq!(op["status"], "completed");
    let vals = api.values(p, m).await;
    assert_eq!(vals.len(), 2);
    let a = find(&vals, 2025, &json!({f: "A"})).unwrap().clone();
    assert_eq!(a["value"], "10");
    // id + the key of B: the id wins, so A changes and B does not.
    let mut item = val(2025, json!({f: "B"}), "11");
    item["id"] = a["id"].clone();
    api.upsert(p, m, json!([item])).await;
    let vals = api.values(p, m).await;
    assert_eq!(find(&vals, 2025, &json!({f: "A"})).unwrap()["value"], "11");
    assert_eq!(find(&vals, 2025, &json!({f: "B"})).unwrap()["value"], "2");
    // An id alone identifies a value; fieldsToClear removes its notes.
    api.upsert(p, m, json!([{"id": a["id"], "notes": "audited"}]))
        .await;
    assert_eq!(
        api.get(&format!(
            "/programs/{p}/metrics/{m}/values/{}",
            a["id"].as_str().unwrap()
        ))
        .await
        .body["notes"],
        "audited"
    );
    api.upsert(
        p,
        m,
        json!([{"id": a["id"], "value": "12", "fieldsToClear": ["notes"]}]),
    )
    .await;
    let got = api
        .get(&format!(
            "/programs/{p}/metrics/{m}/values/{}",
            a["id"].as_str().unwrap()
        ))
        .await;
    assert!(got.body.get("notes").is_none(), "{}", got.body);
    assert_eq!(got.body["value"], "12");
    // Values without coordinates are fine for a metric without dimensions.
    let op = api
        .upsert(
            p,
            &ids.txt,
            json!([{"reportingPeriod": {"year": 2025, "start": 1, "end": 3}, "value": "A plan"}]),
        )
        .await;
    assert_eq!(op["status"], "completed");
    let bad = api
        .post(
            &upsert_path(&env, m),
            json!({"data": [{"id": a["id"], "fieldsToClear": ["status"]}]}),
        )
        .await;
    assert_eq!(
        (bad.status, bad.target()),
        (400, "data[0].fieldsToClear[0]")
    );
}

#[tokio::test]
async fn status_transitions_follow_the_guide() {
    let env = start().await;
    let (api, ids) = (&env.api, &env.ids);
    let (p, m, f) = (&ids.program, &ids.num, &ids.facility);
    let mut a = val(2025, json!({f: "A"}), "1");
    a["status"] = json!("complete");
    assert_eq!(
        api.upsert(p, m, json!([a.clone()])).await["status"],
        "completed",
        "a new value may start complete"
    );
    assert_eq!(
        api.upsert(p, m, json!([a.clone()])).await["status"],
        "completed",
        "complete -> complete is a no-op, so a batch can be resent"
    );
    a["status"] = json!("notStarted");
    assert_eq!(
        api.upsert(p, m, json!([a.clone()])).await["status"],
        "completed",
        "complete -> notStarted"
    );
    a["status"] = json!("complete");
    assert_eq!(
        api.upsert(p, m, json!([a.clone()])).await["status"],
        "completed",
        "notStarted -> complete"
    );
    let mut b = val(2025, json!({f: "B"}), "1");
    b["status"] = json!("sentForApproval");
    let op = api.upsert(p, m, json!([b])).await;
    assert_eq!(op["status"], "failed");
    assert_eq!(op["details"][0]["target"], "data[0].status");
    // A value in the task workflow cannot be completed through the API.
    let vid = find(&api.values(p, m).await, 2025, &json!({f: "A"})).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    a["status"] = json!("notStarted");
    api.upsert(p, m, json!([a.clone()])).await;
    let (s, _) = admin(
        api,
        reqwest::Method::POST,
        "/_emulator/tasks",
        Some(json!({"title": "Review", "program": p, "values": [{"metric": m, "id": vid}]})),
    )
    .await;
    assert_eq!(s, 201);
    a["status"] = json!("complete");
    let op = api.upsert(p, m, json!([a])).await;
    assert_eq!(op["status"], "failed");
    assert!(
        op["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("inProgress")
    );
}

#[tokio::test]
async fn state_problems_fail_the_operation_and_store_nothing() {
    let env = start().await;
    let (api, ids) = (&env.api, &env.ids);
    let (p, m, f, bu) = (&ids.program, &ids.num, &ids.facility, &ids.bu);
    api.upsert(p, m, json!([val(2024, json!({f: "A"}), "5")]))
        .await;
    let data = json!([
        val(2025, json!({f: "A"}), "1"),
        val(2025, json!({f: "ZZ"}), "2"),
        val(2025, json!({&ids.other_dim: "O1"}), "3"),
        val(2025, json!({f: "OLD"}), "4"),
        val(2025, json!({f: "B", bu: "X"}), "not a number"),
        {"id": "00000000-0000-0000-0000-000000000000", "value": "6"},
        val(2025, json!({f: "A"}), "7"),
        {"reportingPeriod": {"year": 2025, "start": 1, "end": 12}, "coordinates": {f: "C"}, "task": "T-missing"},
        val(2024, json!({f: "A"}), "8"),
    ]);
    let op = api.upsert(p, m, data).await;
    assert_eq!(op["status"], "failed");
    let details = op["details"].as_array().unwrap();
    let targets: Vec<&str> = details
        .iter()
        .map(|d| d["target"].as_str().unwrap())
        .collect();
    assert_eq!(
        targets,
        vec![
            "data[1].coordinates",
            "data[2].coordinates",
            "data[3].coordinates",
            "data[4].value",
            "data[5].id",
            "data[6]",
            "data[7].task",
        ],
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .all(|d| d["code"].is_string() && d["message"].is_string())
    );
    let vals = api.values(p, m).await;
    assert_eq!(vals.len(), 1, "nothing of the failed batch is stored");
    assert_eq!(vals[0]["value"], "5");
    // An inactive dimension value still works for an existing value, not for a new one.
    let d = format!("/programs/{p}/dimensions/{f}");
    api.patch(&d, json!([{"op": "replace", "path": "/values", "value": [{"id": "A", "active": false}, {"id": "B"}, {"id": "C"}, {"id": "OLD", "active": false}]}])).await;
    assert_eq!(
        api.upsert(p, m, json!([val(2024, json!({f: "A"}), "9")]))
            .await["status"],
        "completed"
    );
    let op = api
        .upsert(p, m, json!([val(2023, json!({f: "A"}), "9")]))
        .await;
    assert_eq!(op["details"][0]["code"], "InactiveDimensionValue");
    // Dates and percents are checked by their metric's type.
    let op = api
        .upsert(
            p,
            &ids.date,
            json!([val(2025, json!({f: "B"}), "2025-02-30")]),
        )
        .await;
    assert_eq!(op["details"][0]["target"], "data[0].value");
    assert_eq!(
        api.upsert(
            p,
            &ids.date,
            json!([val(2025, json!({f: "B"}), "2025-02-28")])
        )
        .await["status"],
        "completed"
    );
    assert_eq!(
        api.upsert(p, &ids.share, json!([val(2025, json!({bu: "X"}), "45.5")]))
            .await["status"],
        "completed"
    );
}

#[tokio::test]
async fn malformed_batches_are_refused_at_once() {
    let env = start().await;
    let (api, ids) = (&env.api, &env.ids);
    let path = upsert_path(&env, &ids.num);
    let f = &ids.facility;
    let long_target = format!("data[0].coordinates.{f}");
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"data": [{"reportingPeriod": {"year": 999, "start": 1, "end": 12}}]}),
            "data[0].reportingPeriod.year",
        ),
        (
            json!({"data": [{"reportingPeriod": {"year": 10000, "start": 1, "end": 12}}]}),
            "data[0].reportingPeriod.year",
        ),
        (
            json!({"data": [{"reportingPeriod": {"year": 2025, "start": 0, "end": 12}}]}),
            "data[0].reportingPeriod.start",
        ),
        (
            json!({"data": [{"reportingPeriod": {"year": 2025, "start": 1, "end": 13}}]}),
            "data[0].reportingPeriod.end",
        ),
        (
            json!({"data": [{"reportingPeriod": {"year": 2025, "start": 6, "end": 3}}]}),
            "data[0].reportingPeriod.end",
        ),
        (
            json!({"data": [{"reportingPeriod": {"year": 2025, "start": 1}}]}),
            "data[0].reportingPeriod.end",
        ),
        (
            json!({"data": [{"reportingPeriod": {"year": "2025", "start": 1, "end": 12}}]}),
            "data[0].reportingPeriod.year",
        ),
        (json!({"data": [{"value": "1"}]}), "data[0].reportingPeriod"),
        (
            json!({"data": [val(2025, json!({f: "A", "k2": "B", "k3": "C", "k4": "D"}), "1")]}),
            "data[0].coordinates",
        ),
        (
            json!({"data": [val(2025, json!({f: "A".repeat(21)}), "1")]}),
            &long_target,
        ),
        (
            json!({"data": [val(2025, json!({}), &"9".repeat(32768))]}),
            "data[0].value",
        ),
        (
            json!({"data": [{"reportingPeriod": {"year": 2025, "start": 1, "end": 12}, "notes": "n".repeat(32768)}]}),
            "data[0].notes",
        ),
        (
            json!({"data": [{"reportingPeriod": {"year": 2025, "start": 1, "end": 12}, "value": 5}]}),
            "data[0].value",
        ),
        (
            json!({"data": [{"reportingPeriod": {"year": 2025, "start": 1, "end": 12}, "status": "approved"}]}),
            "data[0].status",
        ),
        (json!({"data": []}), "data"),
        (json!({"values": []}), "data"),
        (json!([1, 2]), "body"),
    ];
    for (body, target) in cases {
        let r = api.post(&path, body.clone()).await;
        assert_eq!((r.status, r.target()), (400, target), "{body}: {}", r.body);
    }
    let r = api
        .send(reqwest::Method::POST, &path, Some(b"{\"data\": [".to_vec()))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.message().contains("not valid JSON"));
    assert_eq!(
        api.post(
            &format!(
                "/programs/{}/metrics/00000000-0000-0000-0000-000000000000/values/batchUpsertion",
                ids.program
            ),
            json!({"data": []})
        )
        .await
        .status,
        404
    );
}

#[tokio::test]
async fn bodies_over_10_mib_are_refused_with_413() {
    let env = start().await;
    let path = upsert_path(&env, &env.ids.num);
    let exactly = vec![b' '; 10_485_760];
    let r = env
        .api
        .send(reqwest::Method::POST, &path, Some(exactly))
        .await;
    assert_eq!(
        r.status, 400,
        "10,485,760 bytes is within the limit (this body is merely not JSON)"
    );
    let over = vec![b' '; 10_485_761];
    let r = env.api.send(reqwest::Method::POST, &path, Some(over)).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.body["code"], "413PayloadTooLarge");
    let r = env
        .api
        .send(
            reqwest::Method::POST,
            "/programs",
            Some(vec![b' '; 10_485_761]),
        )
        .await;
    assert_eq!(r.status, 413, "the limit applies to every endpoint");
}

#[tokio::test]
async fn a_second_upsertion_for_a_metric_in_flight_is_a_409() {
    let env = start().await;
    let (api, ids) = (&env.api, &env.ids);
    let mut s = env.emu.settings();
    s.operations.base_ms = 400;
    env.emu.set_settings(s).unwrap();
    let body = json!({"data": [val(2025, json!({&ids.facility: "A"}), "1")]});
    let first = api.post(&upsert_path(&env, &ids.num), body.clone()).await;
    assert_eq!(first.status, 202);
    let second = api.post(&upsert_path(&env, &ids.num), body.clone()).await;
    assert_eq!(second.status, 409);
    assert!(second.message().contains("still upserting"));
    let other = api.post(&upsert_path(&env, &ids.txt), json!({"data": [{"reportingPeriod": {"year": 2025, "start": 1, "end": 12}, "value": "x"}]})).await;
    assert_eq!(other.status, 202, "other metrics are not blocked");
    let del = api
        .post(
            &format!(
                "/programs/{}/metrics/{}/values/batchDeletion",
                ids.program, ids.num
            ),
            json!({"data": [{"reportingPeriod": {"year": 2025, "start": 1, "end": 12}}]}),
        )
        .await;
    assert_eq!(
        del.status, 409,
        "no deletion while an upsertion is in flight"
    );
    api.wait(first.body["operationLocation"].as_str().unwrap())
        .await;
    assert_eq!(
        api.post(&upsert_path(&env, &ids.num), body).await.status,
        202
    );
}

#[tokio::test]
async fn processing_time_grows_with_batch_size() {
    let env = start().await;
    let (api, ids) = (&env.api, &env.ids);
    let mut s = env.emu.settings();
    s.operations.queued_ms = 0;
    s.operations.base_ms = 0;
    s.operations.per_value_us = 2_000;
    env.emu.set_settings(s).unwrap();
    let small = api.post(&upsert_path(&env, &ids.txt), json!({"data": [{"reportingPeriod": {"year": 2025, "start": 1, "end": 12}, "value": "x"}]})).await;
    let many: Vec<Value> = (0..600)
        .map(
            |i| json!({"reportingPeriod": {"year": 1000 + i, "start": 1, "end": 12}, "value": "1"}),
        )
        .collect();
    let big = api
        .post(&upsert_path(&env, &ids.num), json!({ "data": many }))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        api.get(small.body["operationLocation"].as_str().unwrap())
            .await
            .body["status"],
        "completed"
    );
    assert_eq!(
        api.get(big.body["operationLocation"].as_str().unwrap())
            .await
            .body["status"],
        "started",
        "600 values take 1.2 s at 2 ms each"
    );
    assert_eq!(
        api.wait(big.body["operationLocation"].as_str().unwrap())
            .await["status"],
        "completed"
    );
    assert_eq!(api.values(&ids.program, &ids.num).await.len(), 600);
}

#[tokio::test]
async fn batch_deletion_by_id_or_key() {
    let env = start().await;
    let (api, ids) = (&env.api, &env.ids);
    let (p, m, f) = (&ids.program, &ids.num, &ids.facility);
    api.upsert(
        p,
        m,
        json!([
            val(2025, json!({f: "A"}), "1"),
            val(2025, json!({f: "B"}), "2"),
            val(2025, json!({f: "C"}), "3")
        ]),
    )
    .await;
    let vals = api.values(p, m).await;
    let a_id = find(&vals, 2025, &json!({f: "A"})).unwrap()["id"].clone();
    let path = format!("/programs/{p}/metrics/{m}/values/batchDeletion");
    let r = api
        .post(
            &path,
            json!({"data": [
                {"id": a_id},
                {"reportingPeriod": {"year": 2025, "start": 1, "end": 12}, "coordinates": {f: "B"}},
                {"reportingPeriod": {"year": 2019, "start": 1, "end": 12}, "coordinates": {f: "B"}}
            ]}),
        )
        .await;
    assert_eq!(r.status, 204);
    let left = api.values(p, m).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["coordinates"][f], "C");
    assert_eq!(
        api.post(&path, json!({"data": [{"id": a_id}]}))
            .await
            .status,
        204,
        "deleting again is harmless"
    );
    let r = api
        .post(&path, json!({"data": [{"coordinates": {f: "C"}}]}))
        .await;
    assert_eq!((r.status, r.target()), (400, "data[0].reportingPeriod"));
}
