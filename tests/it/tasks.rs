//! Tasks and their workflow.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

async fn value_with_task(env: &Env, steps: Value, sent: bool) -> (String, String) {
    let (api, ids) = (&env.api, &env.ids);
    api.upsert(
        &ids.program,
        &ids.num,
        json!([val(2025, json!({&ids.facility: "A"}), "1")]),
    )
    .await;
    let vid = api.values(&ids.program, &ids.num).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, task) = admin(api, Method::POST, "/_emulator/tasks", Some(json!({
        "title": "Review Scope 1", "program": "Test Program", "approvalSteps": steps, "sent": sent,
        "values": [{"metric": "Num", "reportingPeriod": {"year": 2025, "start": 1, "end": 12}, "coordinates": {"Facility": "A"}}]
    }))).await;
    assert_eq!(s, 201, "{task}");
    (task["id"].as_str().unwrap().to_string(), vid)
}

async fn status_of(env: &Env, vid: &str) -> Value {
    env.api
        .get(&format!(
            "/programs/{}/metrics/{}/values/{vid}",
            env.ids.program, env.ids.num
        ))
        .await
        .body
}

async fn act(env: &Env, task: &str, action: &str) -> crate::support::Resp {
    env.api
        .post(
            &format!("/tasks/{task}/actionSubmission"),
            json!({"action": action, "comment": format!("{action} by test")}),
        )
        .await
}

#[tokio::test]
async fn approval_workflow_moves_task_and_values_together() {
    let env = start().await;
    let (task, vid) = value_with_task(&env, json!(1), true).await;
    let v = status_of(&env, &vid).await;
    assert_eq!(v["status"], "inProgress");
    assert_eq!(v["task"], task.as_str());
    let t = env.api.get(&format!("/tasks/{task}")).await;
    assert_eq!(t.body["status"], "Created");
    assert_eq!(t.body["location"]["resource"], env.ids.program.as_str());
    assert_eq!(t.body["location"]["segment"], env.ids.num.as_str());
    let listed = env
        .api
        .list_all(&format!(
            "/tasks?$filter={}",
            crate::support::urlencode(&format!("location.resource eq \"{}\"", env.ids.program))
        ))
        .await;
    assert_eq!(listed.len(), 1);
    let r = act(&env, &task, "APPROVE").await;
    assert_eq!(r.status, 409, "nothing to approve before SUBMIT");
    assert!(r.message().contains("SUBMIT"));
    assert_eq!(
        act(&env, &task, "SUBMIT").await.body["status"],
        "Awaiting Approval"
    );
    assert_eq!(status_of(&env, &vid).await["status"], "sentForApproval");
    let awaiting = env
        .api
        .list_all(&format!(
            "/tasks?$filter={}",
            crate::support::urlencode("status eq \"Awaiting Approval\"")
        ))
        .await;
    assert_eq!(awaiting.len(), 1);
    let r = act(&env, &task, "REJECT").await;
    assert_eq!(r.body["status"], "Returned");
    assert_eq!(
        r.body["approvalSteps"][0]["responses"][0]["action"],
        "REJECT"
    );
    assert_eq!(status_of(&env, &vid).await["status"], "returned");
    assert_eq!(
        act(&env, &task, "SUBMIT").await.body["status"],
        "Awaiting Approval"
    );
    let r = act(&env, &task, "APPROVE").await;
    assert_eq!(r.body["status"], "Approved");
    assert_eq!(status_of(&env, &vid).await["status"], "complete");
    assert_eq!(act(&env, &task, "APPROVE").await.status, 409);
    assert_eq!(act(&env, &task, "RESTART").await.body["status"], "Created");
    assert_eq!(status_of(&env, &vid).await["status"], "inProgress");
    assert_eq!(act(&env, &task, "CANCEL").await.body["status"], "Cancelled");
    assert_eq!(status_of(&env, &vid).await["status"], "notStarted");
    let r = env
        .api
        .post(
            &format!("/tasks/{task}/actionSubmission"),
            json!({"action": "APPROVE_ALL"}),
        )
        .await;
    assert_eq!((r.status, r.target()), (400, "action"));
    assert_eq!(env.api.get("/tasks/T-nope").await.status, 404);
}

#[tokio::test]
async fn multi_step_approval_skip_and_unsent_tasks() {
    let env = start().await;
    let (task, vid) = value_with_task(&env, json!(2), true).await;
    act(&env, &task, "SUBMIT").await;
    let r = act(&env, &task, "APPROVE").await;
    assert_eq!(
        r.body["status"], "Awaiting Approval",
        "the second step still has to approve"
    );
    assert_eq!(status_of(&env, &vid).await["status"], "sentForApproval");
    let r = act(&env, &task, "SKIP").await;
    assert_eq!(r.body["status"], "Approved");
    assert_eq!(status_of(&env, &vid).await["status"], "complete");

    let env = start().await;
    let (_task, vid) = value_with_task(&env, json!(1), false).await;
    assert_eq!(status_of(&env, &vid).await["status"], "notSent");

    let env = start().await;
    let (task, vid) = value_with_task(&env, json!([]), true).await;
    assert_eq!(
        act(&env, &task, "SUBMIT").await.body["status"],
        "Completed",
        "no approval steps: done on submit"
    );
    assert_eq!(status_of(&env, &vid).await["status"], "complete");
}

#[tokio::test]
async fn a_value_has_one_open_task() {
    let env = start().await;
    let (_task, _vid) = value_with_task(&env, json!(1), true).await;
    let (s, b) = admin(&env.api, Method::POST, "/_emulator/tasks", Some(json!({
        "title": "Again", "program": "Test Program",
        "values": [{"metric": "Num", "reportingPeriod": {"year": 2025, "start": 1, "end": 12}, "coordinates": {"Facility": "A"}}]
    }))).await;
    assert_eq!(s, 400, "{b}");
    let (s, _) = admin(
        &env.api,
        Method::POST,
        "/_emulator/tasks",
        Some(json!({"title": "x", "program": "Nope", "values": []})),
    )
    .await;
    assert_eq!(s, 400);
}
