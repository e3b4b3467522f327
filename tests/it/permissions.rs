//! Program permissions and their all-or-nothing modification.

use serde_json::json;

use crate::support::*;

const EDITOR: &str = "85aa87ee-beb9-4417-8fa0-420e9de63534";
const VIEWER: &str = "228d55c7-10d0-4ac3-85a3-1ac30ae97ac1";
const OWNER: &str = "598e8fa3-3e7c-4fb7-b662-f44522216e2b";

#[tokio::test]
async fn definitions_and_program_permissions() {
    let env = start().await;
    let (api, p) = (&env.api, &env.ids.program);
    let defs = api.get("/permissions").await;
    let names: Vec<&str> = defs.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Editor", "Viewer", "Owner", "None"]);
    assert_eq!(
        api.get(&format!("/permissions/{EDITOR}")).await.body["name"],
        "Editor"
    );
    let list = api.list_all(&format!("/programs/{p}/permissions")).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["principal"], "U-lead");
    assert_eq!(list[0]["permission"], OWNER);
    assert_eq!(list[0]["resource"], p.as_str());
    assert_eq!(list[0]["principalType"], "user");
    // The creator of a program owns it.
    let mut lead = env.api.clone();
    lead.login("lead", "lead-secret").await;
    let np = lead.post("/programs", json!({"name": "Lead's"})).await;
    let owners = api
        .list_all(&format!(
            "/programs/{}/permissions",
            np.body["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(owners[0]["principal"], "U-lead");
}

#[tokio::test]
async fn modification_is_all_or_nothing() {
    let env = start().await;
    let (api, p) = (&env.api, &env.ids.program);
    let path = format!("/programs/{p}/permissions/modification");
    let r = api.post(&path, json!({"toAssign": [{"permission": VIEWER, "principal": "U-other"}, {"permission": EDITOR, "principal": "U-ghost"}]})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["details"][0]["target"], "toAssign[1].principal");
    assert_eq!(
        api.list_all(&format!("/programs/{p}/permissions"))
            .await
            .len(),
        1,
        "the good half was not applied either"
    );
    let r = api
        .post(
            &path,
            json!({"toRevoke": [{"permission": EDITOR, "principal": "U-other"}]}),
        )
        .await;
    assert_eq!(r.status, 400, "revoking what is not held fails");
    let r = api
        .post(
            &path,
            json!({"toAssign": [{"permission": "not-a-permission", "principal": "U-other"}]}),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = api.post(&path, json!({"toAssign": [{"permission": VIEWER, "principal": "U-other"}, {"permission": VIEWER, "principal": "G-team"}]})).await;
    assert_eq!(r.status, 204);
    // Changing a level: revoke the old and assign the new in one request.
    let r = api.post(&path, json!({"toRevoke": [{"permission": VIEWER, "principal": "U-other"}], "toAssign": [{"permission": EDITOR, "principal": "U-other"}]})).await;
    assert_eq!(r.status, 204);
    let list = api
        .list_all(&format!(
            "/programs/{p}/permissions?$filter={}",
            crate::support::urlencode("principal eq \"U-other\"")
        ))
        .await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["permission"], EDITOR);
    let groups = api
        .list_all(&format!(
            "/programs/{p}/permissions?$filter={}",
            crate::support::urlencode(&format!("permission eq \"{VIEWER}\""))
        ))
        .await;
    assert_eq!(groups[0]["principalType"], "group");
    let r = api
        .post(
            &path,
            json!({"toAssign": [{"permission": EDITOR, "principal": "U-other"}]}),
        )
        .await;
    assert_eq!(r.status, 400, "assigning what is already held is refused");
}

#[tokio::test]
async fn only_owners_modify_permissions() {
    let env = start().await;
    let p = &env.ids.program;
    let path = format!("/programs/{p}/permissions/modification");
    let body = json!({"toAssign": [{"permission": VIEWER, "principal": "U-other"}]});
    let mut lead = env.api.clone();
    lead.login("lead", "lead-secret").await;
    assert_eq!(
        lead.post(&path, body.clone()).await.status,
        204,
        "U-lead owns the test program"
    );
    let np = env.api.post("/programs", json!({"name": "Admin's"})).await;
    let other = format!(
        "/programs/{}/permissions/modification",
        np.body["id"].as_str().unwrap()
    );
    let r = lead.post(&other, body).await;
    assert_eq!(r.status, 403);
    assert!(r.message().contains("owner"));
}

/// A program's permissions govern reads and writes, not only permission changes.
#[tokio::test]
async fn viewers_read_editors_write_owners_administer() {
    let env = start().await;
    let (p, m, f) = (&env.ids.program, &env.ids.num, &env.ids.facility);
    let mut out = env.api.clone();
    out.login("outsider", "outsider-secret").await;
    let grant = |perm: &'static str| {
        let api = env.api.clone();
        let p = p.clone();
        async move {
            let r = api
                .post(
                    &format!("/programs/{p}/permissions/modification"),
                    json!({"toAssign": [{"permission": perm, "principal": "U-outsider"}]}),
                )
                .await;
            assert_eq!(r.status, 204, "{}", r.body);
        }
    };
    let (program_path, upsert_path) = (
        format!("/programs/{p}"),
        format!("/programs/{p}/metrics/{m}/values/batchUpsertion"),
    );
    let rename = || {
        out.patch(
            &program_path,
            json!([{"op": "replace", "path": "/name", "value": "Renamed"}]),
        )
    };
    let upsert_body = json!({"data": [{"reportingPeriod": {"year": 2025, "start": 1, "end": 12}, "coordinates": {f: "A"}, "value": "1"}]});
    let upsert = || out.post(&upsert_path, upsert_body.clone());
    // No permission: the program is not listed, and neither read nor written.
    assert!(out.list_all("/programs").await.is_empty());
    let r = out.get(&format!("/programs/{p}/metrics")).await;
    assert_eq!(r.status, 403);
    assert!(
        r.message().contains("needs the Viewer permission"),
        "{}",
        r.message()
    );
    assert_eq!(upsert().await.status, 403);
    assert_eq!(rename().await.status, 403);
    // Viewer: reads.
    grant(VIEWER).await;
    assert_eq!(out.list_all("/programs").await.len(), 1);
    assert_eq!(out.get(&format!("/programs/{p}/metrics")).await.status, 200);
    let r = upsert().await;
    assert_eq!(r.status, 403);
    assert!(
        r.message().contains("needs the Editor permission"),
        "{}",
        r.message()
    );
    // Editor: writes, but does not administer.
    grant(EDITOR).await;
    assert_eq!(upsert().await.status, 202);
    let r = rename().await;
    assert_eq!(r.status, 403);
    assert!(r.message().contains("Owner"), "{}", r.message());
    // Owner: administers.
    grant(OWNER).await;
    assert_eq!(rename().await.status, 200);
}

#[tokio::test]
async fn an_oversized_body_is_refused_only_after_authentication() {
    let env = start().await;
    let p = &env.ids.program;
    let body = vec![b' '; 10_485_761];
    let path = format!(
        "/programs/{p}/metrics/{}/values/batchUpsertion",
        env.ids.num
    );
    let mut anon = env.api.clone();
    anon.token = None;
    let r = anon
        .send(reqwest::Method::POST, &path, Some(body.clone()))
        .await;
    assert_eq!(r.status, 401, "an unauthenticated client learns nothing");
    let r = env.api.send(reqwest::Method::POST, &path, Some(body)).await;
    assert_eq!(r.status, 413);
}
