//! Dimension values added by writers at the same time: a dimension's patch may test
//! `/values` before replacing them, atomically, so concurrent additions never drop each other.

use esg_sync::sync::dimension_values::add_dimension_values;
use esg_sync::sync::ids::{DimensionId, DimensionValueId, ProgramId};
use esg_sync::sync::plan::{NewValues, Plan};
use esg_sync::workiva::WorkivaClient;
use serde_json::{Value, json};

use crate::support::*;

const PATCH_DIMENSION: &str = "PATCH /programs/{programId}/dimensions/{dimensionId}";

fn dim_path(env: &Env, dim: &str) -> String {
    format!("/programs/{}/dimensions/{dim}", env.ids.program)
}

/// The ids of a dimension's values, in order.
async fn value_ids(env: &Env, dim: &str) -> Vec<String> {
    let r = env.api.get(&dim_path(env, dim)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    ids_of(&r.body["values"])
}

fn ids_of(values: &Value) -> Vec<String> {
    let list = values.as_array().expect("values are a list");
    list.iter()
        .map(|v| v["id"].as_str().unwrap().into())
        .collect()
}

fn tested(expected: Value, new: Value) -> Value {
    json!([
        {"op": "test", "path": "/values", "value": expected},
        {"op": "replace", "path": "/values", "value": new}
    ])
}

#[tokio::test]
async fn a_stale_test_is_a_409_that_changes_nothing_and_a_holding_test_replaces() {
    let env = start().await;
    let dim = dim_path(&env, &env.ids.bu);
    let before = env.api.get(&dim).await.body["values"].clone();
    let stale = json!([{"id": "X", "name": "X", "active": true}]);
    let r = env
        .api
        .patch(&dim, tested(stale, json!([{"id": "X"}, {"id": "Z"}])))
        .await;
    assert_eq!((r.status, r.target()), (409, "/values"), "{}", r.body);
    assert!(r.message().starts_with("test failed"), "{}", r.body);
    assert_eq!(env.api.get(&dim).await.body["values"], before);

    let mut grown = before.as_array().unwrap().clone();
    grown.push(json!({"id": "Z"}));
    let r = env
        .api
        .patch(&dim, tested(before, Value::Array(grown)))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids_of(&r.body["values"]), ["X", "Y", "Z"]);
    assert_eq!(value_ids(&env, &env.ids.bu).await, ["X", "Y", "Z"]);
}

#[tokio::test]
async fn the_client_sends_the_test_and_the_replace_in_one_patch() {
    let env = start().await;
    let client = crate::support::client::client(&env);
    let (pid, bu) = (&env.ids.program, &env.ids.bu);
    let stale = json!([{"id": "X"}]);
    let e = client
        .patch_dimension_values_tested(pid, bu, stale, json!([{"id": "X"}, {"id": "Z"}]))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(409), "{e}");
    assert_eq!(value_ids(&env, bu).await, ["X", "Y"]);

    let held =
        json!([{"id": "X", "name": "X", "active": true}, {"id": "Y", "name": "Y", "active": true}]);
    let d = client
        .patch_dimension_values_tested(pid, bu, held, json!([{"id": "Y"}, {"id": "Z"}]))
        .await
        .unwrap();
    let ids: Vec<_> = d.values.unwrap().into_iter().map(|v| v.id).collect();
    assert_eq!(ids, ["Y", "Z"]);
    let patches: Vec<u16> = env
        .emu
        .requests()
        .iter()
        .filter(|r| r.endpoint == PATCH_DIMENSION)
        .map(|r| r.status)
        .collect();
    assert_eq!(patches, [409, 200], "one request per tested patch");
}

#[tokio::test]
async fn other_shapes_are_refused_and_other_resources_take_one_operation() {
    let env = start().await;
    let dim = dim_path(&env, &env.ids.bu);
    let values = env.api.get(&dim).await.body["values"].clone();
    let op = |op: &str, path: &str, value: &Value| json!({"op": op, "path": path, "value": value});
    let (test, replace) = (
        op("test", "/values", &values),
        op("replace", "/values", &values),
    );
    for (doc, why) in [
        (
            json!([replace, test]),
            "must be a `test` followed by a `replace`",
        ),
        (
            json!([test, op("replace", "/name", &json!("N"))]),
            "of the same path",
        ),
        (
            json!([replace, replace]),
            "must be a `test` followed by a `replace`",
        ),
        (json!([test, test, replace]), "holds 3 operations"),
    ] {
        let r = env.api.patch(&dim, doc.clone()).await;
        assert_eq!((r.status, r.target()), (400, "body"), "{doc}: {}", r.body);
        assert!(r.message().contains(why), "{doc}: {}", r.body);
    }
    assert_eq!(env.api.get(&dim).await.body["values"], values);

    let ids = &env.ids;
    env.api
        .upsert(&ids.program, &ids.txt, json!([val(2025, json!({}), "a")]))
        .await;
    let value_id = env.api.values(&ids.program, &ids.txt).await[0]["id"].clone();
    let program = format!("/programs/{}", ids.program);
    for (path, field, current) in [
        (program.clone(), "/name", json!("Test Program")),
        (
            format!("{program}/topics/{}", ids.climate),
            "/name",
            json!("Climate"),
        ),
        (
            format!("{program}/metrics/{}", ids.txt),
            "/name",
            json!("Txt"),
        ),
        (
            format!(
                "{program}/metrics/{}/values/{}",
                ids.txt,
                value_id.as_str().unwrap()
            ),
            "/value",
            json!("a"),
        ),
    ] {
        let doc = json!([op("test", field, &current), op("replace", field, &current)]);
        let r = env.api.patch(&path, doc).await;
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert!(
            r.message().contains("exactly one operation is allowed"),
            "{path}: {}",
            r.body
        );
    }
}

/// A plan that adds `values` to the Facility dimension.
fn adding(env: &Env, values: &[&str]) -> Plan {
    Plan {
        program_id: ProgramId::new(env.ids.program.clone()),
        new_dimension_values: vec![NewValues {
            dimension: DimensionId::new(env.ids.facility.clone()),
            name: "Facility".into(),
            values: values.iter().copied().map(DimensionValueId::new).collect(),
        }],
        ..Plan::default()
    }
}

/// Two pipelines (two clients) add different values to one dimension at once. Every answer
/// takes 300 ms, so both read the dimension before either writes: the later write's test
/// fails, and it reads again and retries, so both sets land.
#[tokio::test]
async fn concurrent_additions_to_one_dimension_both_land() {
    let env = start().await;
    let (one, two): (WorkivaClient, WorkivaClient) = (
        crate::support::client::client(&env),
        crate::support::client::client(&env),
    );
    one.check_token().await.unwrap();
    two.check_token().await.unwrap();
    let quiet = env.emu.settings();
    let mut slow = quiet.clone();
    slow.faults.latency = 1.0;
    slow.faults.latency_ms = 300;
    env.emu.set_settings(slow).unwrap();
    let from = env.emu.requests().len();

    let (p1, p2) = (adding(&env, &["N1", "N2"]), adding(&env, &["M1"]));
    let (r1, r2) = tokio::join!(
        add_dimension_values(&one, &p1),
        add_dimension_values(&two, &p2)
    );
    r1.unwrap();
    r2.unwrap();
    env.emu.set_settings(quiet).unwrap();

    let ids = value_ids(&env, &env.ids.facility).await;
    assert_eq!(ids[..4], ["A", "B", "C", "OLD"], "{ids:?}");
    let mut added = ids[4..].to_vec();
    added.sort();
    assert_eq!(added, ["M1", "N1", "N2"], "both additions land: {ids:?}");
    let mut patches: Vec<u16> = env.emu.requests()[from..]
        .iter()
        .filter(|r| r.endpoint == PATCH_DIMENSION)
        .map(|r| r.status)
        .collect();
    patches.sort();
    assert_eq!(
        patches,
        [200, 200, 409],
        "the reads overlapped: one write's test failed and it was retried"
    );
}
