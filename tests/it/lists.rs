//! Paging, $filter, $orderBy.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::support::*;

async fn load_values(env: &Env, n: usize) {
    let f = &env.ids.facility;
    let sites = ["A", "B", "C"];
    let data: Vec<Value> = (0..n)
        .map(|i| {
            let mut v = val(
                1500 + (i / 3) as u16,
                json!({f: sites[i % 3]}),
                &format!("{i}"),
            );
            v["notes"] = json!(if i % 2 == 0 {
                "from the lake"
            } else {
                "manual entry"
            });
            v
        })
        .collect();
    assert_eq!(
        env.api
            .upsert(&env.ids.program, &env.ids.num, Value::Array(data))
            .await["status"],
        "completed"
    );
}

#[tokio::test]
async fn pages_follow_next_link_to_the_end_in_a_stable_order() {
    let env = start().await;
    load_values(&env, 25).await;
    let (p, m) = (&env.ids.program, &env.ids.num);
    let mut url = format!("/programs/{p}/metrics/{m}/values?$maxpagesize=10");
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let r = env.api.get(&url).await;
        assert_eq!(r.status, 200);
        pages += 1;
        seen.extend(
            r.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["value"].as_str().unwrap().to_string()),
        );
        match r.body["@nextLink"].as_str() {
            Some(next) => {
                assert!(
                    next.starts_with(&env.api.base),
                    "@nextLink is absolute: {next}"
                );
                url = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..25).map(|i| i.to_string()).collect();
    assert_eq!(seen, expected, "creation order, nothing lost or repeated");
    // An item added meanwhile lands at the end and does not shift page boundaries.
    let first = env
        .api
        .get(&format!("/programs/{p}/metrics/{m}/values?$maxpagesize=10"))
        .await;
    env.api
        .upsert(
            p,
            m,
            json!([val(2500, json!({&env.ids.facility: "A"}), "new")]),
        )
        .await;
    let second = env.api.get(first.body["@nextLink"].as_str().unwrap()).await;
    assert_eq!(second.body["data"][0]["value"], "10");
}

#[tokio::test]
async fn page_size_defaults_to_1000_and_is_bounded() {
    let env = start().await;
    load_values(&env, 1500).await;
    let (p, m) = (&env.ids.program, &env.ids.num);
    let r = env
        .api
        .get(&format!("/programs/{p}/metrics/{m}/values"))
        .await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1000);
    assert!(r.body["@nextLink"].is_string());
    let r = env
        .api
        .get(&format!(
            "/programs/{p}/metrics/{m}/values?$maxpagesize=1000"
        ))
        .await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1000);
    for bad in ["0", "1001", "ten", "-1"] {
        let r = env
            .api
            .get(&format!(
                "/programs/{p}/metrics/{m}/values?$maxpagesize={bad}"
            ))
            .await;
        assert_eq!((r.status, r.target()), (400, "$maxpagesize"), "{bad}");
    }
    let r = env
        .api
        .get(&format!("/programs/{p}/metrics/{m}/values?$next=garbage"))
        .await;
    assert_eq!((r.status, r.target()), (400, "$next"));
    // A cursor of one list is not accepted by another.
    let next = env
        .api
        .get(&format!("/programs/{p}/metrics/{m}/values?$maxpagesize=1"))
        .await
        .body["@nextLink"]
        .as_str()
        .unwrap()
        .to_string();
    let token = next.split("$next=").nth(1).unwrap();
    assert_eq!(
        env.api
            .get(&format!(
                "/programs/{p}/metrics/{}/values?$next={token}",
                env.ids.txt
            ))
            .await
            .status,
        400
    );
    let all = env.api.values(p, m).await;
    assert_eq!(all.len(), 1500);
    assert_eq!(
        all.iter()
            .map(|v| v["id"].as_str().unwrap())
            .collect::<HashSet<_>>()
            .len(),
        1500
    );
}

#[tokio::test]
async fn value_filters() {
    let env = start().await;
    load_values(&env, 30).await;
    let (p, m) = (&env.ids.program, &env.ids.num);
    let count = |f: &str| {
        let api = env.api.clone();
        let url = format!("/programs/{p}/metrics/{m}/values?$filter={}", urlencode(f));
        async move { api.list_all(&url).await.len() }
    };
    assert_eq!(count("reportingPeriod.year eq 1500").await, 3);
    assert_eq!(
        count("reportingPeriod.year ge 1505 and reportingPeriod.year le 1506").await,
        6
    );
    assert_eq!(count("reportingPeriod.year gt 1508").await, 3);
    assert_eq!(count("reportingPeriod.year lt 1501").await, 3);
    assert_eq!(count("reportingPeriod.year ne 1500").await, 27);
    assert_eq!(count("reportingPeriod.year in (1500, 1509)").await, 6);
    assert_eq!(
        count("reportingPeriod.start eq 1 and reportingPeriod.end eq 12").await,
        30
    );
    assert_eq!(count("notes contains \"lake\"").await, 15);
    assert_eq!(
        count("notes eq \"manual entry\" or reportingPeriod.year eq 1500").await,
        17
    );
    let some = env.api.values(p, m).await;
    let (a, b) = (
        some[0]["id"].as_str().unwrap(),
        some[1]["id"].as_str().unwrap(),
    );
    assert_eq!(count(&format!("id in (\"{a}\", \"{b}\")")).await, 2);
    assert_eq!(count(&format!("id eq \"{a}\"")).await, 1);
    // The filter travels in @nextLink.
    let r = env
        .api
        .get(&format!(
            "/programs/{p}/metrics/{m}/values?$maxpagesize=2&$filter={}",
            urlencode("reportingPeriod.year eq 1501")
        ))
        .await;
    let rest = env.api.get(r.body["@nextLink"].as_str().unwrap()).await;
    assert_eq!(rest.body["data"].as_array().unwrap().len(), 1);
    assert!(rest.body.get("@nextLink").is_none());
    for (bad, word) in [
        ("value eq \"1\"", "`value`"),
        ("notes gt \"a\"", "`gt`"),
        ("id contains \"a\"", "`contains`"),
        ("reportingPeriod.year like 2025", "`like`"),
        ("reportingPeriod.year eq", "ends"),
    ] {
        let r = env
            .api
            .get(&format!(
                "/programs/{p}/metrics/{m}/values?$filter={}",
                urlencode(bad)
            ))
            .await;
        assert_eq!((r.status, r.target()), (400, "$filter"), "{bad}");
        assert!(r.message().contains(word), "{bad}: {}", r.message());
    }
}

#[tokio::test]
async fn metric_dimension_program_and_task_filters() {
    let env = start().await;
    let (api, p) = (&env.api, &env.ids.program);
    let q = |path: String, f: &str| format!("{path}?$filter={}", urlencode(f));
    let metrics = format!("/programs/{p}/metrics");
    assert_eq!(
        api.list_all(&q(metrics.clone(), "name contains \"nu\""))
            .await
            .len(),
        1
    );
    assert_eq!(
        api.list_all(&q(metrics.clone(), "dataType eq \"number\""))
            .await
            .len(),
        1
    );
    assert_eq!(
        api.list_all(&q(metrics.clone(), "dataType in (\"number\", \"text\")"))
            .await
            .len(),
        2
    );
    assert_eq!(
        api.list_all(&q(metrics.clone(), "code gt 2")).await.len(),
        2
    );
    assert_eq!(
        api.list_all(&q(metrics.clone(), "strCode eq \"M1\""))
            .await
            .len(),
        1
    );
    assert_eq!(
        api.list_all(&q(
            metrics.clone(),
            &format!("topic eq \"{}\"", env.ids.emissions)
        ))
        .await
        .len(),
        1
    );
    assert_eq!(
        api.list_all(&q(metrics.clone(), "requireNotes eq false"))
            .await
            .len(),
        4
    );
    assert_eq!(
        api.list_all(&q(metrics.clone(), "unit eq \"t\""))
            .await
            .len(),
        1
    );
    assert_eq!(
        api.get(&q(metrics.clone(), "frameworkReferences eq \"x\""))
            .await
            .status,
        400
    );
    let dims = format!("/programs/{p}/dimensions");
    assert_eq!(
        api.list_all(&q(dims.clone(), "active eq true")).await.len(),
        3
    );
    assert_eq!(
        api.list_all(&q(dims.clone(), "name in (\"BU\", \"Other\")"))
            .await
            .len(),
        2
    );
    assert_eq!(
        api.get(&q(dims.clone(), "active gt true")).await.status,
        400
    );
    assert_eq!(
        api.list_all(&q("/programs".into(), "name eq \"Test Program\""))
            .await
            .len(),
        1
    );
    let r = api
        .get(&q("/programs".into(), "name contains \"Test\""))
        .await;
    assert_eq!(r.status, 400, "programs document only name eq");
    assert_eq!(
        api.get(&q(format!("/programs/{p}/topics"), "name eq \"Climate\""))
            .await
            .status,
        400
    );
    assert_eq!(
        api.list_all(&q(
            "/tasks".into(),
            &format!("location.resource eq \"{p}\" and status eq \"Created\"")
        ))
        .await
        .len(),
        0
    );
    assert_eq!(
        api.get(&q("/tasks".into(), "title eq \"x\"")).await.status,
        400
    );
}

#[tokio::test]
async fn order_by_where_supported() {
    let env = start().await;
    let (api, p) = (&env.api, &env.ids.program);
    let names = |v: Vec<Value>| {
        v.iter()
            .map(|m| m["name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let desc = names(
        api.list_all(&format!(
            "/programs/{p}/metrics?$orderBy={}",
            urlencode("name desc")
        ))
        .await,
    );
    assert_eq!(desc, vec!["When", "Txt", "Share", "Num"]);
    let paged = names(
        api.list_all(&format!(
            "/programs/{p}/metrics?$maxpagesize=1&$orderBy=name"
        ))
        .await,
    );
    assert_eq!(paged, vec!["Num", "Share", "Txt", "When"]);
    let r = api
        .get(&format!(
            "/programs/{p}/metrics?$orderBy={}",
            urlencode("unit desc")
        ))
        .await;
    assert_eq!((r.status, r.target()), (400, "$orderBy"));
    assert_eq!(r.body["details"][0]["code"], "InvalidOrder");
    assert_eq!(
        api.get(&format!(
            "/programs/{p}/metrics?$orderBy={}",
            urlencode("name sideways")
        ))
        .await
        .status,
        400
    );
}
