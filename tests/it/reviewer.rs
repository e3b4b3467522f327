//! The automated final reviewer against the emulator's tasks and approval workflow:
//! a supported task is approved, one with a value lacking notes is rejected naming it, a step
//! that is not the reviewer's is left alone, a second pass does nothing, a dry run sends and
//! records nothing, and a crash between recording and submitting resumes without a second
//! action.

use esg_sync::config::review::ReviewerConfig;
use serde_json::Value;

use crate::support::env::{SyncEnv, sync_env};
use crate::support::review::setup;

fn reviewer(dry_run: bool) -> ReviewerConfig {
    ReviewerConfig {
        name: "final-review".into(),
        program: "Review Program".into(),
        principal: "U-bot".into(),
        schedule: None,
        timezone: "UTC".into(),
        require_notes: true,
        require_attachments: true,
        max_change_percent: Some(10.0),
        dry_run,
    }
}

fn actions(e: &SyncEnv) -> usize {
    e.env
        .emu
        .requests()
        .iter()
        .filter(|r| r.endpoint == "POST /tasks/{taskId}/actionSubmission")
        .count()
}

async fn task(e: &SyncEnv, id: &str) -> Value {
    e.env.api.get(&format!("/tasks/{id}")).await.body
}

#[tokio::test]
async fn the_final_reviewer_approves_supported_tasks_and_rejects_the_rest_once() {
    let e = sync_env().await;
    let (good, bad, other) = setup(&e).await;
    let before = actions(&e);
    // A dry run decides, but sends and records nothing.
    let planned = esg_sync::reviewer::run_once(&e.client, &e.store, &reviewer(true), false)
        .await
        .unwrap();
    assert_eq!(planned.iter().filter(|o| o.state == "planned").count(), 2);
    assert_eq!(actions(&e), before);
    assert!(e.store.decisions(None, 10).await.unwrap().is_empty());

    let out = esg_sync::reviewer::run_once(&e.client, &e.store, &reviewer(false), false)
        .await
        .unwrap();
    let by = |id: &str| out.iter().find(|o| o.task_id == id).unwrap().clone();
    assert_eq!(
        (
            by(&good).action.map(|a| a.as_str()),
            by(&good).state.as_str()
        ),
        (Some("APPROVE"), "submitted")
    );
    assert_eq!(by(&bad).action.map(|a| a.as_str()), Some("REJECT"));
    assert_eq!(by(&other).state, "skipped");
    assert_eq!(
        by(&other).note.as_deref(),
        Some("`U-bot` is not an approver of step 2")
    );
    assert_eq!(actions(&e), before + 2);
    assert_eq!(task(&e, &good).await["status"], "Approved");
    let t = task(&e, &bad).await;
    assert_eq!(t["status"], "Returned");
    let comment = t["approvalSteps"][1]["responses"][0]["comment"]
        .as_str()
        .unwrap();
    assert_eq!(
        comment,
        "Auto-rejected by esg-sync reviewer `final-review`: Scope 1 2025 (Facility=B): no notes; 50.0% from the prior year's 100 (limit 10%). Add what is missing and resubmit."
    );
    let good_comment = task(&e, &good).await["approvalSteps"][1]["responses"][0]["comment"].clone();
    assert_eq!(
        good_comment,
        "Auto-approved by esg-sync reviewer `final-review`: 1 value(s) checked: notes present, supporting attachments present, within 10% of the prior year."
    );
    // A second pass does nothing.
    let again = esg_sync::reviewer::run_once(&e.client, &e.store, &reviewer(false), false)
        .await
        .unwrap();
    assert!(again.iter().all(|o| o.state == "skipped"), "{again:?}");
    assert_eq!(actions(&e), before + 2);
    // The audit trail.
    let history = e.store.decisions(Some("final-review"), 10).await.unwrap();
    assert_eq!(history.len(), 2);
    assert!(history.iter().all(|d| d.state == "submitted"));
}

#[tokio::test]
async fn a_crash_between_record_and_submit_resumes_without_a_second_action() {
    let e = sync_env().await;
    let (good, bad, _) = setup(&e).await;
    let cfg = crate::support::pipeline::config_with(
        &e,
        "[[reviewer]]\nname = \"final-review\"\nprogram = \"Review Program\"\nprincipal = \"U-bot\"\nmax_change_percent = 10.0\n",
        "",
    )
    .display()
    .to_string();
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let env = |fp: Option<&str>| {
        let mut v = vec![("ESG_SYNC_TEST_SECRET", "demo-secret".to_string())];
        if let Some(f) = fp {
            v.push(("ESG_SYNC_FAILPOINT", f.to_string()));
        }
        v
    };
    let before = actions(&e);
    // The second decision is recorded, then the process dies before submitting it.
    let r = crate::support::run_esg(
        args(&["review", "tasks", "--config", &cfg]),
        env(Some("decision_recorded:2")),
    )
    .await;
    assert_ne!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    assert_eq!(actions(&e), before + 1, "one submitted before the crash");
    // The next pass submits the recorded one, once, and acts on nothing twice.
    let r = crate::support::run_esg(args(&["review", "tasks", "--config", &cfg]), env(None)).await;
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("resumed"), "{}", r.stdout);
    assert_eq!(actions(&e), before + 2);
    assert_eq!(task(&e, &good).await["status"], "Approved");
    assert_eq!(task(&e, &bad).await["status"], "Returned");
    let r = crate::support::run_esg(args(&["review", "tasks", "--config", &cfg]), env(None)).await;
    assert_eq!(r.code, Some(0));
    assert_eq!(actions(&e), before + 2);
    let r =
        crate::support::run_esg(args(&["review", "history", "--config", &cfg]), env(None)).await;
    assert_eq!(r.stdout.matches("(submitted)").count(), 2, "{}", r.stdout);
}
