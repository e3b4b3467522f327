//! Rules 3 and 4 for programs, topics, dimensions and metrics.

use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn programs_crud_and_unique_names() {
    let env = start().await;
    let api = &env.api;
    let r = api
        .post("/programs", json!({"name": "ESG Reporting 2025"}))
        .await;
    assert_eq!(r.status, 201);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        api.get(&format!("/programs/{id}")).await.body["name"],
        "ESG Reporting 2025"
    );
    let r = api
        .post("/programs", json!({"name": "ESG Reporting 2025"}))
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["code"], "409Conflict");
    let r = api
        .patch(
            &format!("/programs/{id}"),
            json!([{"op": "replace", "path": "/name", "value": "Test Program"}]),
        )
        .await;
    assert_eq!(r.status, 409, "renaming onto another program's name");
    let r = api
        .patch(
            &format!("/programs/{id}"),
            json!([{"op": "replace", "path": "/name", "value": "ESG 2025 - Draft"}]),
        )
        .await;
    assert_eq!(
        (r.status, r.body["name"].as_str()),
        (200, Some("ESG 2025 - Draft"))
    );
    let r = api
        .post("/programs", json!({"name": "x".repeat(151)}))
        .await;
    assert_eq!((r.status, r.target()), (400, "name"));
    assert!(r.message().contains("151 characters"));
    assert_eq!(
        api.post("/programs", json!({"name": "é".repeat(150)}))
            .await
            .status,
        201,
        "150 characters, counted as characters"
    );
    assert_eq!(api.post("/programs", json!({"name": ""})).await.status, 400);
    assert_eq!(api.post("/programs", json!({"name": 5})).await.status, 400);
    assert_eq!(api.post("/programs", json!({})).await.status, 400);
    assert_eq!(
        api.get("/programs/00000000-0000-0000-0000-000000000000")
            .await
            .status,
        404
    );
    assert_eq!(api.get("/programs/not-a-uuid").await.status, 404);
    let all = api.list_all("/programs").await;
    assert_eq!(all.len(), 3);
    let f = api.get("/programs?$filter=name eq \"Test Program\"").await;
    assert_eq!(f.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn topics_nest_order_and_delete_without_deleting_metrics() {
    let env = start().await;
    let (api, p) = (&env.api, &env.ids.program);
    let base = format!("/programs/{p}/topics");
    let t = api.post(&base, json!({"name": "Water"})).await;
    assert_eq!(t.status, 201);
    assert_eq!(
        t.body["index"], 1,
        "without an index the topic is ordered last"
    );
    assert_eq!(t.body["parent"], Value::Null);
    let water = t.body["id"].as_str().unwrap().to_string();
    let sub = api
        .post(
            &base,
            json!({"name": "Withdrawal", "index": 0, "parent": water}),
        )
        .await;
    assert_eq!(sub.body["parent"], water.as_str());
    let sub_id = sub.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        api.post(
            &base,
            json!({"name": "Bad", "parent": "00000000-0000-0000-0000-000000000000"})
        )
        .await
        .status,
        400
    );
    assert_eq!(
        api.post(&base, json!({"name": "y".repeat(301)}))
            .await
            .status,
        400
    );
    // A topic cannot move under its own subtopic.
    let r = api
        .patch(
            &format!("{base}/{water}"),
            json!([{"op": "replace", "path": "/parent", "value": sub_id}]),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = api
        .patch(
            &format!("{base}/{water}"),
            json!([{"op": "replace", "path": "/name", "value": "Water & Oceans"}]),
        )
        .await;
    assert_eq!(r.body["name"], "Water & Oceans");
    let r = api
        .patch(
            &format!("{base}/{water}"),
            json!([{"op": "replace", "path": "/index", "value": 7}]),
        )
        .await;
    assert_eq!(r.body["index"], 7);
    // A metric under the topic keeps existing when the topic goes.
    let m = api
        .post(
            &format!("/programs/{p}/metrics"),
            json!({"name": "Water use", "dataType": "number", "topic": sub_id}),
        )
        .await;
    assert_eq!(m.status, 201);
    let mid = m.body["id"].as_str().unwrap().to_string();
    assert_eq!(api.delete(&format!("{base}/{sub_id}")).await.status, 204);
    let m = api.get(&format!("/programs/{p}/metrics/{mid}")).await;
    assert_eq!(m.status, 200);
    assert!(
        m.body.get("topic").is_none(),
        "the metric no longer has a topic: {}",
        m.body
    );
    // Deleting a parent lifts its subtopics to the top level.
    let climate = &env.ids.climate;
    assert_eq!(api.delete(&format!("{base}/{climate}")).await.status, 204);
    let em = api.get(&format!("{base}/{}", env.ids.emissions)).await;
    assert_eq!(em.body["parent"], Value::Null);
    assert_eq!(api.get(&format!("{base}/{climate}")).await.status, 404);
}

#[tokio::test]
async fn dimensions_list_null_values_and_limits() {
    let env = start().await;
    let (api, p) = (&env.api, &env.ids.program);
    let base = format!("/programs/{p}/dimensions");
    let list = api.get(&base).await;
    for d in list.body["data"].as_array().unwrap() {
        assert_eq!(d["values"], Value::Null, "the list returns values: null");
    }
    let one = api.get(&format!("{base}/{}", env.ids.facility)).await;
    let vals = one.body["values"].as_array().unwrap();
    assert_eq!(vals.len(), 4);
    assert_eq!(vals[0]["name"], "A", "name defaults to id");
    assert_eq!(vals[2]["name"], "Site C");
    let r = api
        .post(&base, json!({"name": "Empty", "values": []}))
        .await;
    assert_eq!(r.status, 400);
    let many: Vec<Value> = (0..1501).map(|i| json!({"id": format!("V{i}")})).collect();
    assert_eq!(
        api.post(&base, json!({"name": "Many", "values": many}))
            .await
            .status,
        400
    );
    let max: Vec<Value> = (0..1500).map(|i| json!({"id": format!("V{i}")})).collect();
    assert_eq!(
        api.post(&base, json!({"name": "Max", "values": max}))
            .await
            .status,
        201
    );
    let r = api
        .post(
            &base,
            json!({"name": "Long", "values": [{"id": "Ames, Iowa, USA 50010"}]}),
        )
        .await;
    assert_eq!((r.status, r.target()), (400, "values[0].id"));
    assert!(r.message().contains("21 characters"), "{}", r.message());
    assert_eq!(
        api.post(
            &base,
            json!({"name": "Dup", "values": [{"id": "A"}, {"id": "A"}]})
        )
        .await
        .status,
        400
    );
    assert_eq!(
        api.post(
            &base,
            json!({"name": "N", "values": [{"id": "A", "name": "n".repeat(301)}]})
        )
        .await
        .status,
        400
    );
    let created = api
        .post(&base, json!({"name": "Region", "values": [{"id": "EU"}]}))
        .await;
    assert_eq!(created.body["active"], true);
    let rid = created.body["id"].as_str().unwrap();
    let r = api
        .patch(
            &format!("{base}/{rid}"),
            json!([{"op": "replace", "path": "/active", "value": false}]),
        )
        .await;
    assert_eq!(r.body["active"], false);
    let r = api.patch(&format!("{base}/{rid}"), json!([{"op": "replace", "path": "/values", "value": [{"id": "EU"}, {"id": "NA", "name": "North America"}]}])).await;
    assert_eq!(r.body["values"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn removing_a_dimension_value_in_use_is_refused() {
    let env = start().await;
    let (api, ids) = (&env.api, &env.ids);
    let op = api
        .upsert(
            &ids.program,
            &ids.num,
            json!([val(2025, json!({&ids.facility: "A"}), "1")]),
        )
        .await;
    assert_eq!(op["status"], "completed");
    let path = format!("/programs/{}/dimensions/{}", ids.program, ids.facility);
    let r = api
        .patch(
            &path,
            json!([{"op": "replace", "path": "/values", "value": [{"id": "B"}]}]),
        )
        .await;
    assert_eq!(r.status, 409);
    assert!(r.message().contains("deactivate"));
    let r = api.patch(&path, json!([{"op": "replace", "path": "/values", "value": [{"id": "A", "active": false}, {"id": "B"}]}])).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn metrics_codes_limits_and_delete() {
    let env = start().await;
    let (api, ids) = (&env.api, &env.ids);
    let base = format!("/programs/{}/metrics", ids.program);
    let m = api
        .post(
            &base,
            json!({"name": "Scope 3", "dataType": "number", "allowedDimensions": [ids.facility]}),
        )
        .await;
    assert_eq!(m.status, 201);
    assert_eq!(
        m.body["code"], 5,
        "the next available code after the four seeded metrics"
    );
    assert_eq!(m.body["strCode"], "M5");
    let m = api.post(&base, json!({"name": "Coded", "code": 42})).await;
    assert_eq!(
        (m.body["code"].as_i64(), m.body["strCode"].as_str()),
        (Some(42), Some("M42"))
    );
    assert_eq!(m.body["dataType"], "text", "dataType defaults to text");
    assert_eq!(
        api.post(&base, json!({"name": "Again", "code": 42}))
            .await
            .status,
        409
    );
    assert_eq!(
        api.post(&base, json!({"name": "Next"})).await.body["code"],
        43
    );
    assert_eq!(
        api.post(&base, json!({"name": "Zero", "code": 0}))
            .await
            .status,
        400
    );
    let dims: Vec<Value> = (0..8).map(|_| json!(ids.facility)).collect();
    let r = api
        .post(&base, json!({"name": "Eight", "allowedDimensions": dims}))
        .await;
    assert_eq!((r.status, r.target()), (400, "allowedDimensions"));
    let r = api.post(&base, json!({"name": "Unknown dim", "allowedDimensions": ["00000000-0000-0000-0000-000000000000"]})).await;
    assert_eq!((r.status, r.target()), (400, "allowedDimensions[0]"));
    let r = api
        .post(&base, json!({"name": "Bad type", "dataType": "float"}))
        .await;
    assert_eq!((r.status, r.target()), (400, "dataType"));
    let tags: Vec<Value> = (0..21)
        .map(|i| json!({"name": "k", "value": format!("{i}")}))
        .collect();
    assert_eq!(
        api.post(&base, json!({"name": "Tags", "tags": tags}))
            .await
            .status,
        400
    );
    let refs: Vec<Value> = (0..21)
        .map(|_| json!({"framework": "GRI", "referenceName": "305-1"}))
        .collect();
    assert_eq!(
        api.post(&base, json!({"name": "Refs", "frameworkReferences": refs}))
            .await
            .status,
        400
    );
    assert_eq!(
        api.post(&base, json!({"name": "n".repeat(301)}))
            .await
            .status,
        400
    );
    assert_eq!(
        api.post(&base, json!({"name": "Unit", "unit": "u".repeat(301)}))
            .await
            .status,
        400
    );
    let full = api.post(&base, json!({"name": "Full", "unit": "t", "description": "d", "tags": [{"name": "Industry", "value": "Agriculture"}], "frameworkReferences": [{"framework": "GRI", "publishedVersion": "2016.2", "referenceName": "305-1"}]})).await;
    assert_eq!(full.status, 201);
    assert_eq!(
        full.body["frameworkReferences"][0]["referenceName"],
        "305-1"
    );
    // An inactive dimension cannot be used by a new metric.
    let d = format!("/programs/{}/dimensions/{}", ids.program, ids.other_dim);
    api.patch(
        &d,
        json!([{"op": "replace", "path": "/active", "value": false}]),
    )
    .await;
    assert_eq!(
        api.post(
            &base,
            json!({"name": "Inactive", "allowedDimensions": [ids.other_dim]})
        )
        .await
        .status,
        400
    );
    // Deleting a metric deletes its values.
    let op = api
        .upsert(
            &ids.program,
            &ids.num,
            json!([val(2025, json!({&ids.facility: "A"}), "1")]),
        )
        .await;
    let vid = env.emu.with_store_advanced(|s| {
        s.values[&uuid::Uuid::parse_str(&ids.num).unwrap()]
            .by_id
            .keys()
            .next()
            .copied()
            .unwrap()
    });
    assert_eq!(op["status"], "completed");
    assert_eq!(api.delete(&format!("{base}/{}", ids.num)).await.status, 204);
    assert_eq!(api.get(&format!("{base}/{}", ids.num)).await.status, 404);
    assert_eq!(
        api.get(&format!("{base}/{}/values/{vid}", ids.num))
            .await
            .status,
        404
    );
    assert_eq!(
        api.get(&format!("{base}/{}/values", ids.num)).await.status,
        404
    );
    assert!(env.emu.with_store_advanced(|s| {
        !s.values
            .contains_key(&uuid::Uuid::parse_str(&ids.num).unwrap())
    }));
}
