//! The OpenAPI validator of `support::spec` itself, and the emulator refusing requests that
//! violate the spec.

use crate::support::spec::{template, validate};

#[test]
fn validator_catches_wrong_shapes() {
    let ok =
        serde_json::json!({"data": [{"id": "ca72b647-8e43-44c3-a4e7-2aa3294c37ad", "name": "P"}]});
    assert_eq!(validate("GET", "/programs", 200, &ok), Ok(true));
    let bad = serde_json::json!({"data": [{"id": 5, "name": "P"}]});
    assert!(validate("GET", "/programs", 200, &bad).is_err());
    let missing = serde_json::json!({"items": []});
    assert!(validate("GET", "/programs", 200, &missing).is_err());
    assert!(validate("GET", "/programs", 418, &ok).is_err());
    let op = serde_json::json!({"id": "x", "status": "done"});
    assert!(validate("GET", "/operations/abc", 200, &op).is_err());
    assert_eq!(validate("GET", "/_emulator/requests", 200, &ok), Ok(false));
    // A literal segment beats a parameter.
    assert_eq!(
        template("/programs/p/metrics/m/values/batchUpsertion"),
        Some("/programs/{programId}/metrics/{metricId}/values/batchUpsertion")
    );
}

/// Requests that violate the official schema are refused with a 400 naming
/// the field, as real Workiva would, so a client bug cannot pass the tests.
#[tokio::test]
async fn schema_violating_requests_are_refused_naming_the_field() {
    let env = crate::support::start().await;
    let (p, m, f) = (&env.ids.program, &env.ids.num, &env.ids.facility);
    let created = env
        .api
        .post(
            &format!("/programs/{p}/metrics/{m}/values"),
            serde_json::json!({"reportingPeriod": {"year": 2025, "start": 1, "end": 12},
                "coordinates": {f: "A"}, "value": "1"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let vid = created.body["id"].as_str().unwrap().to_string();
    let period = serde_json::json!({"year": 2024, "start": 1, "end": 12});
    let cases: Vec<(reqwest::Method, String, serde_json::Value, &str)> = vec![
        (
            reqwest::Method::PATCH,
            format!("/programs/{p}"),
            serde_json::json!([{"op": "replace", "path": "/name", "value": "X", "from": "/name"}]),
            "[0].from",
        ),
        (
            reqwest::Method::PATCH,
            format!("/programs/{p}/metrics/{m}"),
            serde_json::json!([{"op": "replace", "path": "/unit", "value": "t", "from": 7}]),
            "[0].from",
        ),
        (
            reqwest::Method::PATCH,
            format!("/programs/{p}/metrics/{m}/values/{vid}"),
            serde_json::json!([{"op": "test", "path": "/value", "value": "1", "from": null}]),
            "[0].from",
        ),
        (
            reqwest::Method::POST,
            format!("/programs/{p}/dimensions"),
            serde_json::json!({"name": "Site", "values": [{"id": "S1", "active": null}]}),
            "values[0].active",
        ),
        (
            reqwest::Method::POST,
            format!("/programs/{p}/metrics"),
            serde_json::json!({"name": "New", "dataType": "number", "topic": null}),
            "topic",
        ),
        (
            reqwest::Method::POST,
            format!("/programs/{p}/metrics/{m}/values/batchDeletion"),
            serde_json::json!({"data": [{"reportingPeriod": period, "coordinates": null}]}),
            "data[0].coordinates",
        ),
        (
            reqwest::Method::POST,
            format!("/programs/{p}/metrics/{m}/values/batchUpsertion"),
            serde_json::json!({"data": [{"reportingPeriod": period, "coordinates": {f: "A"},
                "value": "2", "task": null}]}),
            "data[0].task",
        ),
    ];
    for (method, path, body, field) in cases {
        let r = env
            .api
            .send(
                method.clone(),
                &path,
                Some(serde_json::to_vec(&body).unwrap()),
            )
            .await;
        assert_eq!(r.status, 400, "{method} {path} {body}: {}", r.body);
        assert_eq!(
            r.body["target"].as_str(),
            Some(field),
            "{method} {path}: {}",
            r.body
        );
    }
    // Notes are the one nullable field of a value.
    env.api
        .upsert(
            p,
            m,
            serde_json::json!([{"reportingPeriod": period, "coordinates": {f: "A"}, "value": "3", "notes": null}]),
        )
        .await;
}
