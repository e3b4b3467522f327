//! JSON Patch.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn one_operation_allowed_paths_and_ops_only() {
    let env = start().await;
    let (api, ids) = (&env.api, &env.ids);
    let program = format!("/programs/{}", ids.program);
    let r = api.patch(&program, json!([{"op": "replace", "path": "/name", "value": "A"}, {"op": "replace", "path": "/name", "value": "B"}])).await;
    assert_eq!(r.status, 400);
    assert!(r.message().contains("exactly one operation"));
    let r = api.patch(&program, json!([])).await;
    assert_eq!(r.status, 400);
    let r = api
        .patch(
            &program,
            json!([{"op": "replace", "path": "/id", "value": "x"}]),
        )
        .await;
    assert_eq!((r.status, r.target()), (400, "[0].path"));
    let r = api
        .patch(
            &program,
            json!([{"op": "add", "path": "/name", "value": "x"}]),
        )
        .await;
    assert_eq!((r.status, r.target()), (400, "[0].op"));
    let r = api
        .patch(&program, json!([{"op": "replace", "path": "/name"}]))
        .await;
    assert_eq!((r.status, r.target()), (400, "[0].value"));
    let r = api
        .patch(
            &program,
            json!({"op": "replace", "path": "/name", "value": "x"}),
        )
        .await;
    assert_eq!(r.status, 400, "a bare object is not a patch document");
    let metric = format!("/programs/{}/metrics/{}", ids.program, ids.num);
    let r = api
        .patch(
            &metric,
            json!([{"op": "test", "path": "/datatype", "value": "number"}]),
        )
        .await;
    assert_eq!(r.status, 400, "/datatype takes replace only");
    let r = api
        .patch(
            &metric,
            json!([{"op": "replace", "path": "/allowedDimensions", "value": []}]),
        )
        .await;
    assert_eq!(r.status, 400);
    for (path, value) in [
        ("/unit", json!("kg")),
        ("/description", json!("d")),
        ("/index", json!(3)),
        ("/requireNotes", json!(true)),
        ("/requireSupportingAttachments", json!(true)),
        ("/topic", json!(ids.climate)),
        ("/name", json!("Renamed")),
    ] {
        let r = api
            .patch(
                &metric,
                json!([{"op": "replace", "path": path, "value": value}]),
            )
            .await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert_eq!(r.body[&path[1..]], value);
    }
    let r = api
        .patch(
            &metric,
            json!([{"op": "replace", "path": "/requireNotes", "value": "yes"}]),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = api.patch(&metric, json!([{"op": "replace", "path": "/topic", "value": "00000000-0000-0000-0000-000000000000"}])).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn test_op_compares_like_rfc_6902() {
    let env = start().await;
    let (api, ids) = (&env.api, &env.ids);
    let metric = format!("/programs/{}/metrics/{}", ids.program, ids.num);
    let r = api
        .patch(
            &metric,
            json!([{"op": "test", "path": "/unit", "value": "t"}]),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["unit"], "t");
    let r = api
        .patch(
            &metric,
            json!([{"op": "test", "path": "/index", "value": 0.0}]),
        )
        .await;
    assert_eq!(r.status, 200, "numbers compare by value");
    let r = api
        .patch(
            &metric,
            json!([{"op": "test", "path": "/unit", "value": "kg"}]),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.target(), "/unit");
    assert_eq!(
        api.get(&metric).await.body["unit"],
        "t",
        "a failed test changes nothing"
    );
    let dim = format!("/programs/{}/dimensions/{}", ids.program, ids.bu);
    let r = api.patch(&dim, json!([{"op": "test", "path": "/values", "value": [{"id": "X", "name": "X", "active": true}, {"active": true, "name": "Y", "id": "Y"}]}])).await;
    assert_eq!(r.status, 200, "objects compare regardless of key order");
    let r = api.patch(&dim, json!([{"op": "test", "path": "/values", "value": [{"id": "Y", "name": "Y", "active": true}, {"id": "X", "name": "X", "active": true}]}])).await;
    assert_eq!(r.status, 409, "arrays compare in order");
    let topic = format!("/programs/{}/topics/{}", ids.program, ids.climate);
    assert_eq!(
        api.patch(
            &topic,
            json!([{"op": "test", "path": "/parent", "value": null}])
        )
        .await
        .status,
        200
    );
    assert_eq!(
        api.patch(
            &format!("/programs/{}", ids.program),
            json!([{"op": "test", "path": "/name", "value": "Test Program"}])
        )
        .await
        .status,
        200
    );
}

#[tokio::test]
async fn datatype_change_must_fit_existing_values() {
    let env = start().await;
    let (api, ids) = (&env.api, &env.ids);
    api.upsert(
        &ids.program,
        &ids.txt,
        json!([{"reportingPeriod": {"year": 2025, "start": 1, "end": 12}, "value": "twelve"}]),
    )
    .await;
    let metric = format!("/programs/{}/metrics/{}", ids.program, ids.txt);
    let r = api
        .patch(
            &metric,
            json!([{"op": "replace", "path": "/datatype", "value": "number"}]),
        )
        .await;
    assert_eq!(r.status, 409);
    let r = api
        .patch(
            &metric,
            json!([{"op": "replace", "path": "/datatype", "value": "float"}]),
        )
        .await;
    assert_eq!(r.status, 400);
    let num = format!("/programs/{}/metrics/{}", ids.program, ids.num);
    let r = api
        .patch(
            &num,
            json!([{"op": "replace", "path": "/datatype", "value": "currency"}]),
        )
        .await;
    assert_eq!(r.body["dataType"], "currency");
}
