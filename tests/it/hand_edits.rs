//! Hand edits: a value and a note a person changed in Workiva (through the API) since
//! esg-sync wrote them. Under `keep` (the default) they are not written, the run is partial
//! and lists them, and only the run that first finds an edit marks it new (its alert goes out
//! once); under `overwrite` they are written and the ledger entry holds the edit it replaced.
//! Where the lake comes to agree with the person, nothing is sent or flagged. On SQLite and
//! PostgreSQL.

use esg_sync::store::Store;
use esg_sync::sync::{RunOptions, Status};
use serde_json::{Value, json};

use crate::support::db::fresh_db;
use crate::support::env::{SyncEnv, sync_env, write_rows};

/// The standard file: `ghg` at facility A, valued `ghg`, and `share` without coordinates.
fn rows(e: &SyncEnv, ghg: &str) {
    write_rows(
        &e.file("data.parquet"),
        &[
            ("ghg", "2024", "A", "", ghg, "metered"),
            ("share", "2024", "", "", "45", ""),
        ],
    );
}

/// Changes one listed value in Workiva as a person would: the same value, another figure or
/// note, through the API.
async fn edit_by_hand(e: &SyncEnv, metric: &str, value: Option<&str>, notes: Option<&str>) {
    let mut listed = e.env.api.values(&e.env.ids.program, metric).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let v = listed.remove(0);
    let mut item = json!({
        "reportingPeriod": v["reportingPeriod"],
        "coordinates": v["coordinates"],
        "value": value.map_or(v["value"].clone(), Value::from),
    });
    item["notes"] = notes.map_or(v["notes"].clone(), Value::from);
    let done = e
        .env
        .api
        .upsert(&e.env.ids.program, metric, json!([item]))
        .await;
    assert_eq!(done["status"], "completed", "{done}");
}

/// Workiva's one value of a metric: its value and notes.
async fn held(e: &SyncEnv, metric: &str) -> (String, String) {
    let v = e.workiva(metric).await;
    assert_eq!(v.len(), 1, "{v:?}");
    (v[0].value.clone(), v[0].notes.clone())
}

async fn kept_and_listed(e: &SyncEnv) {
    let p = e.pipeline("");
    let (num, share) = (e.env.ids.num.clone(), e.env.ids.share.clone());
    rows(e, "10");
    let first = e.run(&p, RunOptions::default()).await;
    assert_eq!(
        (first.status, first.counts.created),
        (Status::Succeeded, 2),
        "{first:?}"
    );
    edit_by_hand(e, &num, Some("12"), None).await;
    edit_by_hand(e, &share, None, Some("checked by Ana")).await;

    // The lake moves ghg on and still has no note on share: both would overwrite a person.
    rows(e, "11");
    let sent = e.upsertions();
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(
        (r.status, r.counts.hand_edited, r.counts.updated),
        (Status::Partial, 2, 0),
        "{r:?}"
    );
    assert_eq!(e.upsertions(), sent, "nothing was sent");
    assert_eq!(held(e, &num).await, ("12".into(), "metered".into()));
    assert_eq!(held(e, &share).await.1, "checked by Ana");
    let ghg = r.hand_edits.iter().find(|h| h.metric_key == "ghg").unwrap();
    assert_eq!(
        (
            ghg.written_value.as_deref(),
            ghg.found_value.as_deref(),
            ghg.lake_value.as_deref()
        ),
        (Some("10"), Some("12"), Some("11")),
        "{ghg:?}"
    );
    assert_eq!(ghg.since_run, first.run_id.unwrap());
    assert!(ghg.kept && ghg.first_seen);
    assert!(ghg.coordinates.starts_with("Facility="), "{ghg:?}");
    let note = r
        .hand_edits
        .iter()
        .find(|h| h.metric_key == "share")
        .unwrap();
    assert_eq!(
        (note.written_notes.as_deref(), note.found_notes.as_deref()),
        (None, Some("checked by Ana"))
    );
    let stored = e.store.hand_edits(r.run_id.unwrap()).await.unwrap();
    assert_eq!(stored, r.hand_edits, "recorded with the run");
    let run = e.store.run(r.run_id.unwrap()).await.unwrap().unwrap();
    assert_eq!(run.counts.hand_edited, 2, "runs counts them");
    let planned = esg_sync::sync::run_pipeline(
        &e.client,
        &e.store,
        &p,
        &RunOptions {
            dry_run: true,
            ..RunOptions::default()
        },
    )
    .await;
    assert_eq!(
        (planned.status, planned.counts.hand_edited),
        (Status::Partial, 2),
        "plan counts them: {planned:?}"
    );

    // The same edits again: listed, not new (no second alert).
    let again = e.run(&p, RunOptions::default()).await;
    assert_eq!(again.counts.hand_edited, 2, "{again:?}");
    assert!(again.hand_edits.iter().all(|h| !h.first_seen), "{again:?}");

    // The lake now says what the person entered: nothing sent, nothing flagged for it.
    rows(e, "12");
    let sent = e.upsertions();
    let agreed = e.run(&p, RunOptions::default()).await;
    assert_eq!(agreed.counts.hand_edited, 1, "only the note: {agreed:?}");
    assert_eq!(agreed.hand_edits[0].metric_key, "share");
    assert_eq!(e.upsertions(), sent);
}

#[tokio::test]
async fn hand_edits_are_kept_and_listed_on_sqlite() {
    kept_and_listed(&sync_env().await).await;
}

#[tokio::test]
async fn hand_edits_are_kept_and_listed_on_postgres() {
    let Some(db) = fresh_db("ESG_SYNC_TEST_POSTGRES_URL", true).await else {
        return;
    };
    let mut e = sync_env().await;
    e.store = Store::connect(&db.url).await.unwrap();
    kept_and_listed(&e).await;
    e.store.close().await;
}

#[tokio::test]
async fn overwrite_writes_and_the_ledger_records_the_edit_it_replaced() {
    let e = sync_env().await;
    let p = e.pipeline("on_hand_edit = \"overwrite\"");
    let num = e.env.ids.num.clone();
    rows(&e, "10");
    let first = e.run(&p, RunOptions::default()).await;
    assert_eq!(first.counts.created, 2, "{first:?}");
    edit_by_hand(&e, &num, Some("12"), Some("typed in")).await;
    rows(&e, "11");
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(
        (r.status, r.counts.updated, r.counts.hand_edited),
        (Status::Succeeded, 1, 0),
        "{r:?}"
    );
    assert_eq!(r.hand_edits.len(), 1, "listed as overwritten: {r:?}");
    assert!(!r.hand_edits[0].kept);
    assert_eq!(held(&e, &num).await, ("11".into(), "metered".into()));
    let entries = e.store.ledger_of_run(r.run_id.unwrap()).await.unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let ch = &entries[0].change;
    assert!(ch.hand_edit, "the entry says it replaced a hand edit");
    let before = ch.before.as_ref().unwrap();
    assert_eq!(
        (before.value.as_deref(), before.notes.as_deref()),
        (Some("12"), Some("typed in")),
        "what the person had entered"
    );
    // Written now: the next run finds nothing edited.
    let next = e.run(&p, RunOptions::default()).await;
    assert_eq!(
        (next.status, next.hand_edits.len(), next.counts.unchanged),
        (Status::Succeeded, 0, 2),
        "{next:?}"
    );
}

/// `esg-sync trace` on the value a run created, a later run updated and a person then edited:
/// the three in order, newest first, named by the lake's keys.
#[tokio::test]
async fn trace_shows_create_update_and_a_hand_edit_in_order() {
    let e = sync_env().await;
    let p = e.pipeline("");
    rows(&e, "10");
    let created = e.run(&p, RunOptions::default()).await;
    rows(&e, "11");
    let updated = e.run(&p, RunOptions::default()).await;
    assert_eq!(updated.counts.updated, 1, "{updated:?}");
    edit_by_hand(&e, &e.env.ids.num, Some("12"), None).await;
    let cfg = crate::support::pipeline::ConfigToml::new(
        &e.env.emu.base_url(),
        &format!("sqlite://{}", e.file("state.db").display()),
    )
    .pipeline(e.standard(&e.file("data.parquet")))
    .write(e.file("trace.toml"));
    let trace = |extra: &[&str]| {
        let mut args: Vec<String> = ["trace", "--config", &cfg.display().to_string()]
            .iter()
            .chain(["--pipeline", "test", "--metric", "ghg", "--year", "2024"].iter())
            .chain(extra)
            .map(|s| s.to_string())
            .collect();
        args.retain(|a| !a.is_empty());
        crate::support::run_esg(args, vec![("ESG_SYNC_TEST_SECRET", "demo-secret".into())])
    };
    let json = trace(&["--dimension", "Facility=A", "--output", "json"]).await;
    assert_eq!(json.code, Some(0), "{}\n{}", json.stdout, json.stderr);
    let h: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(h.as_array().unwrap().len(), 1, "one value: {h}");
    let steps = h[0]["steps"].as_array().unwrap();
    let kinds: Vec<String> = steps
        .iter()
        .map(|s| match s["kind"].as_str().unwrap() {
            "change" => s["change"]["action"].as_str().unwrap().to_string(),
            k => k.to_string(),
        })
        .collect();
    assert_eq!(kinds, ["hand_edit", "update", "create"], "{h}");
    assert_eq!(steps[0]["from"]["value"], "11");
    assert_eq!(steps[0]["to"]["value"], "12");
    assert_eq!(steps[0]["since_run"], updated.run_id.unwrap());
    assert_eq!(steps[1]["change"]["before"]["value"], "10");
    assert_eq!(steps[1]["confirmed"]["run_id"], updated.run_id.unwrap());
    assert_eq!(steps[2]["confirmed"]["run_id"], created.run_id.unwrap());
    assert!(steps[1]["confirmed"]["operation"].is_string(), "{h}");
    assert_eq!(steps[2]["change"]["origin"]["row"], 1);
    assert_eq!(h[0]["current"]["value"], "12");

    // The table: newest first, with the origin; by the metric's Workiva name and the value's
    // id too.
    let value_id = h[0]["value_id"].as_str().unwrap().to_string();
    let table = trace(&["--value-id", &value_id]).await;
    assert_eq!(table.code, Some(0), "{}", table.stderr);
    let out = &table.stdout;
    let (edit, update, create) = (
        out.find("hand edit").unwrap(),
        out.find("update").unwrap(),
        out.find("create").unwrap(),
    );
    assert!(edit < update && update < create, "{out}");
    assert!(out.contains("data.parquet row 1"), "{out}");
    assert!(out.contains("Facility="), "{out}");

    let none = trace(&["--period", "Q1"]).await;
    assert_eq!(none.code, Some(1), "{}", none.stdout);
    assert!(
        none.stderr.contains("no value of metric"),
        "{}",
        none.stderr
    );
    let bad = trace(&["--dimension", "Nowhere=A"]).await;
    assert_eq!(bad.code, Some(1));
    assert!(
        bad.stderr.contains("no dimension `Nowhere`"),
        "{}",
        bad.stderr
    );
}

/// `ledger baseline` records what the ledger does not hold as Workiva holds it (nothing after
/// esg-sync's own writes; a person's edit once, then nothing): the baseline is then what the
/// ledger says was written, so the next change is no hand edit, and the chain still holds.
#[tokio::test]
async fn a_baseline_makes_older_values_known_to_the_ledger() {
    let e = sync_env().await;
    let p = e.pipeline("");
    rows(&e, "10");
    e.run(&p, RunOptions::default()).await;
    let cfg = crate::support::pipeline::ConfigToml::new(
        &e.env.emu.base_url(),
        &format!("sqlite://{}", e.file("state.db").display()),
    )
    .pipeline(e.standard(&e.file("data.parquet")))
    .write(e.file("baseline.toml"));
    let baseline = |dry: bool| {
        let mut args: Vec<String> = ["ledger", "baseline", "--config"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.push(cfg.display().to_string());
        args.extend(["--pipeline".to_string(), "test".to_string()]);
        if dry {
            args.push("--dry-run".into());
        }
        crate::support::run_esg(args, vec![("ESG_SYNC_TEST_SECRET", "demo-secret".into())])
    };
    // What esg-sync wrote is in the ledger already: nothing to record.
    let first = baseline(false).await;
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    assert!(
        first.stdout.contains("recorded 0 baseline entries"),
        "{}",
        first.stdout
    );
    assert!(
        first.stdout.contains("2 values already stood"),
        "{}",
        first.stdout
    );

    // A person edits the value; a baseline accepts Workiva's figure as the one written.
    edit_by_hand(&e, &e.env.ids.num, Some("12"), None).await;
    let dry = baseline(true).await;
    assert!(
        dry.stdout.contains("would record 1 baseline"),
        "{}",
        dry.stdout
    );
    let second = baseline(false).await;
    assert!(
        second.stdout.contains("recorded 1 baseline"),
        "{}",
        second.stdout
    );
    let again = baseline(false).await;
    assert!(
        again.stdout.contains("recorded 0 baseline"),
        "{}",
        again.stdout
    );

    // The lake moves on: 12 is now what the ledger says was written, so no hand edit.
    rows(&e, "13");
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!((r.counts.updated, r.counts.hand_edited), (1, 0), "{r:?}");
    let entries = e.store.ledger_of_run(r.run_id.unwrap()).await.unwrap();
    assert_eq!(
        entries[0].change.before.as_ref().unwrap().value.as_deref(),
        Some("12")
    );
    let verify = crate::support::run_esg(
        vec![
            "ledger".into(),
            "verify".into(),
            "--config".into(),
            cfg.display().to_string(),
        ],
        vec![("ESG_SYNC_TEST_SECRET", "demo-secret".into())],
    )
    .await;
    assert_eq!(verify.code, Some(0), "{}", verify.stderr);
    assert!(verify.stdout.contains("4 entries"), "{}", verify.stdout);
}
