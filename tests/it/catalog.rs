//! The catalog as code, against the emulator. Apply builds a program from nothing, a
//! second apply writes nothing, a changed field is one PATCH, limits are refused before any
//! request, export then plan is empty, a lost answer on a create leaves one resource, a rename
//! with `key` patches, prune deletes only with --force, and a pipeline with
//! `create_dimension_values` lands a new facility's rows in the same run.

use std::path::PathBuf;

use esg_sync::catalog::{self, Action, Catalog, Kind};
use esg_sync::emulator::config::PlannedFault;
use esg_sync::sync::{RunOptions, Status};
use esg_sync::workiva::ListOptions;
use serde_json::json;

use crate::support::env::{SyncEnv, sync_env, write_rows};

const CATALOG: &str = r#"
[program]
name = "ESG Reporting 2025"

[[topic]]
name = "Climate"
[[topic]]
name = "Emissions"
parent = "Climate"

[[dimension]]
name = "Facility"
values = [ { id = "AMES-IA", name = "Ames, Iowa" }, { id = "OLD", active = false } ]

[[metric]]
name = "Scope 1 GHG Emissions"
data_type = "number"
unit = "tCO2e"
topic = "Emissions"
allowed_dimensions = ["Facility"]
description = "..."
require_notes = false
tags = [ { name = "scope", value = "1" } ]
framework_references = [ { framework = "GRI", reference_name = "305-1" } ]
"#;

fn write_catalog(e: &SyncEnv, text: &str) -> PathBuf {
    let path = e.file("catalog.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn load(e: &SyncEnv, text: &str) -> Catalog {
    catalog::load(&write_catalog(e, text)).unwrap_or_else(|p| panic!("{p:?}"))
}

/// Requests other than GETs (and token requests) since `from`.
fn writes_since(e: &SyncEnv, from: usize) -> Vec<String> {
    e.env.emu.requests()[from..]
        .iter()
        .filter(|r| r.method != "GET" && r.path != "/oauth2/token")
        .map(|r| r.endpoint.clone())
        .collect()
}

async fn apply(e: &SyncEnv, c: &Catalog, force: bool) -> catalog::Applied {
    catalog::apply_catalog(&e.client, &e.store, c, force)
        .await
        .unwrap()
        .1
}

#[tokio::test]
async fn apply_builds_the_program_and_a_second_apply_writes_nothing() {
    let e = sync_env().await;
    let c = load(&e, CATALOG);
    let (plan, _) = catalog::plan_catalog(&e.client, &e.store, &c, false)
        .await
        .unwrap();
    assert!(plan.steps.iter().all(|s| s.action == Action::Create));
    assert_eq!(plan.requests(), 5);
    let from = e.env.emu.requests().len();
    let done = apply(&e, &c, false).await;
    assert_eq!((done.created, done.requests), (5, 5));
    // Topics parents first, then the dimension, then the metric.
    assert_eq!(
        writes_since(&e, from),
        vec![
            "POST /programs",
            "POST /programs/{programId}/topics",
            "POST /programs/{programId}/topics",
            "POST /programs/{programId}/dimensions",
            "POST /programs/{programId}/metrics",
        ]
    );
    let pid = done.program_id;
    let topics = e.client.topics(&pid).await.unwrap();
    let climate = topics.iter().find(|t| t.name == "Climate").unwrap();
    let emissions = topics.iter().find(|t| t.name == "Emissions").unwrap();
    assert_eq!(emissions.parent.as_deref(), Some(climate.id.as_str()));
    let dims = e
        .client
        .dimensions(&pid, &ListOptions::default())
        .await
        .unwrap();
    let facility = e.client.dimension(&pid, &dims[0].id).await.unwrap();
    let values = facility.values.unwrap();
    assert_eq!(values.len(), 2);
    assert_eq!(values[0].name.as_deref(), Some("Ames, Iowa"));
    assert!(!values[1].is_active());
    let m = &e
        .client
        .metrics(&pid, &ListOptions::default())
        .await
        .unwrap()[0];
    assert_eq!(m.unit.as_deref(), Some("tCO2e"));
    assert_eq!(m.topic.as_deref(), Some(emissions.id.as_str()));
    assert_eq!(m.allowed_dimensions, vec![facility.id.clone()]);
    assert_eq!(m.tags[0].value, "1");
    assert_eq!(m.framework_references[0].reference_name, "305-1");

    // Again: nothing to do, and nothing sent.
    let from = e.env.emu.requests().len();
    let done = apply(&e, &c, false).await;
    assert_eq!((done.created, done.updated, done.requests), (0, 0, 0));
    assert_eq!(writes_since(&e, from), Vec::<String>::new());
}

#[tokio::test]
async fn a_changed_unit_is_one_patch_and_new_values_are_added() {
    let e = sync_env().await;
    apply(&e, &load(&e, CATALOG), false).await;
    let changed = CATALOG.replace("unit = \"tCO2e\"", "unit = \"t CO2e\"");
    let c = load(&e, &changed);
    let (plan, _) = catalog::plan_catalog(&e.client, &e.store, &c, false)
        .await
        .unwrap();
    let m = plan.steps.iter().find(|s| s.kind == Kind::Metric).unwrap();
    let Action::Update(fields) = &m.action else {
        panic!("{m:?}")
    };
    assert_eq!(fields.len(), 1);
    assert_eq!(
        (
            fields[0].path,
            fields[0].old.as_str(),
            fields[0].new.as_str()
        ),
        ("/unit", "\"tCO2e\"", "\"t CO2e\"")
    );
    assert!(plan.table().contains("/unit: \"tCO2e\" → \"t CO2e\""));
    let from = e.env.emu.requests().len();
    apply(&e, &c, false).await;
    // The emulator refuses a patch of more than one operation, as Workiva does.
    assert_eq!(
        writes_since(&e, from),
        vec!["PATCH /programs/{programId}/metrics/{metricId}"]
    );
    // A new facility and a renamed one: one patch of the dimension's values.
    let more = changed.replace(
        "{ id = \"OLD\", active = false } ]",
        "{ id = \"OLD\", active = false }, { id = \"BER-DE\", name = \"Berlin\" } ]",
    );
    let from = e.env.emu.requests().len();
    let done = apply(&e, &load(&e, &more), false).await;
    assert_eq!(done.updated, 1);
    assert_eq!(
        writes_since(&e, from),
        vec!["PATCH /programs/{programId}/dimensions/{dimensionId}"]
    );
    let pid = done.program_id;
    let dims = e
        .client
        .dimensions(&pid, &ListOptions::default())
        .await
        .unwrap();
    let values = e
        .client
        .dimension(&pid, &dims[0].id)
        .await
        .unwrap()
        .values
        .unwrap();
    let ids: Vec<&str> = values.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(ids, vec!["AMES-IA", "OLD", "BER-DE"]);
}

#[tokio::test]
async fn limits_and_unknown_references_are_refused_before_any_request() {
    let e = sync_env().await;
    let values: Vec<String> = (0..1501).map(|i| format!("{{ id = \"V{i}\" }}")).collect();
    let text = CATALOG
        .replace(
            "values = [ { id = \"AMES-IA\", name = \"Ames, Iowa\" }, { id = \"OLD\", active = false } ]",
            &format!("values = [ {{ id = \"A-VERY-LONG-FACILITY-ID\" }}, {} ]", values.join(", ")),
        )
        .replace("topic = \"Emissions\"", "topic = \"Emisions\"");
    let path = write_catalog(&e, &text);
    let from = e.env.emu.requests().len();
    let problems = catalog::load(&path).unwrap_err();
    let all = problems.join("\n");
    assert!(all.contains("1502 values; Workiva allows 1500"), "{all}");
    assert!(
        all.contains("value id `A-VERY-LONG-FACILITY-ID` has 23 characters; Workiva allows 20"),
        "{all}"
    );
    assert!(
        all.contains(&format!(
            "{}:19: metric `Scope 1 GHG Emissions`: topic `Emisions`",
            path.display()
        )),
        "{all}"
    );
    assert_eq!(e.env.emu.requests().len(), from, "nothing was sent");
}

#[tokio::test]
async fn export_then_plan_is_empty_and_plan_sends_nothing() {
    let e = sync_env().await;
    // The test tenant, made by hand (a seed), exported.
    let wanted = catalog::CatalogFile {
        program: catalog::file::ProgramDecl {
            name: "Test Program".into(),
            id: None,
        },
        ..Default::default()
    };
    let cur = catalog::read(&e.client, &e.store, &wanted).await.unwrap();
    let file = catalog::export::export(&cur).unwrap();
    let text = catalog::export::to_toml(&file).unwrap();
    assert!(
        text.contains("name = \"Emissions\"\nparent = \"Climate\""),
        "{text}"
    );
    let c = load(&e, &text);
    let from = e.env.emu.requests().len();
    let (plan, _) = catalog::plan_catalog(&e.client, &e.store, &c, true)
        .await
        .unwrap();
    assert!(plan.is_empty(), "{}", plan.table());
    assert!(
        plan.steps.iter().all(|s| s.warnings.is_empty()),
        "{}",
        plan.table()
    );
    assert_eq!(writes_since(&e, from), Vec::<String>::new());
    // Planning a whole new program sends nothing either.
    let from = e.env.emu.requests().len();
    let (plan, _) = catalog::plan_catalog(&e.client, &e.store, &load(&e, CATALOG), false)
        .await
        .unwrap();
    assert_eq!(plan.requests(), 5);
    assert_eq!(writes_since(&e, from), Vec::<String>::new());
}

#[tokio::test]
async fn a_lost_answer_on_a_create_leaves_one_resource() {
    let e = sync_env().await;
    let mut s = e.env.emu.settings();
    s.faults.plan = [
        "POST /programs/{programId}/topics",
        "POST /programs/{programId}/metrics",
        "POST /programs/{programId}/dimensions",
    ]
    .into_iter()
    .map(|endpoint| PlannedFault {
        endpoint: endpoint.into(),
        fault: "lost_response".parse().unwrap(),
        times: 1,
        retry_after_secs: None,
    })
    .collect();
    e.env.emu.set_settings(s).unwrap();
    let done = apply(&e, &load(&e, CATALOG), false).await;
    let pid = done.program_id;
    assert_eq!(e.client.topics(&pid).await.unwrap().len(), 2);
    assert_eq!(
        e.client
            .metrics(&pid, &ListOptions::default())
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        e.client
            .dimensions(&pid, &ListOptions::default())
            .await
            .unwrap()
            .len(),
        1
    );
    // And the next apply finds everything.
    let done = apply(&e, &load(&e, CATALOG), false).await;
    assert_eq!(done.requests, 0);
}

#[tokio::test]
async fn a_rename_with_its_old_name_as_key_is_patched_and_prune_needs_force() {
    let e = sync_env().await;
    let first = apply(&e, &load(&e, CATALOG), false).await;
    let renamed = CATALOG.replace(
        "name = \"Scope 1 GHG Emissions\"",
        "name = \"Scope 1 emissions\"\nkey = \"Scope 1 GHG Emissions\"",
    );
    let from = e.env.emu.requests().len();
    let done = apply(&e, &load(&e, &renamed), false).await;
    assert_eq!((done.created, done.updated), (0, 1));
    assert_eq!(
        writes_since(&e, from),
        vec!["PATCH /programs/{programId}/metrics/{metricId}"]
    );
    let metrics = e
        .client
        .metrics(&first.program_id, &ListOptions::default())
        .await
        .unwrap();
    assert_eq!(metrics.len(), 1);
    assert_eq!(metrics[0].name, "Scope 1 emissions");

    // A metric made by hand is left alone, unless prune = true and --force.
    let pid = &first.program_id;
    e.client
        .create_metric(
            pid,
            &esg_sync::workiva::models::Metric {
                name: "Handmade".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let pruned = format!("prune = true\n{renamed}");
    let c = load(&e, &pruned);
    let (plan, _) = catalog::plan_catalog(&e.client, &e.store, &c, false)
        .await
        .unwrap();
    assert!(plan.is_empty(), "{}", plan.table());
    let (plan, _) = catalog::plan_catalog(&e.client, &e.store, &c, true)
        .await
        .unwrap();
    let deletes: Vec<&str> = plan
        .steps
        .iter()
        .filter(|s| s.action == Action::Delete)
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(deletes, vec!["Handmade"]);
    let done = apply(&e, &c, true).await;
    assert_eq!(done.deleted, 1);
    let metrics = e
        .client
        .metrics(pid, &ListOptions::default())
        .await
        .unwrap();
    assert_eq!(metrics.len(), 1);
}

#[tokio::test]
async fn a_new_facility_in_the_lake_lands_in_the_same_run_with_create_dimension_values() {
    let e = sync_env().await;
    write_rows(
        &e.file("data.parquet"),
        &[
            ("ghg", "2025", "A", "X", "1", ""),
            ("ghg", "2025", "NEW-SITE", "X", "2", ""),
            ("ghg", "2025", "A-FACILITY-ID-TOO-LONG", "X", "3", ""),
        ],
    );
    // Without the setting: the new facility's row is rejected, saying how to fix it.
    let p = e.pipeline("");
    let r = e
        .run(
            &p,
            RunOptions {
                dry_run: true,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(r.counts.rejected, 2, "{r:?}");
    assert!(r.rejects.iter().any(|j| {
        j.reason
            .contains("`NEW-SITE` is not a value of dimension `Facility`")
    }));
    // With it: plan lists the new value and sends nothing.
    let p = e.pipeline("create_dimension_values = true");
    let from = e.env.emu.requests().len();
    let r = e
        .run(
            &p,
            RunOptions {
                dry_run: true,
                ..Default::default()
            },
        )
        .await;
    assert_eq!((r.counts.created, r.counts.rejected), (2, 1), "{r:?}");
    assert_eq!(r.new_dimension_values[0].name, "Facility");
    assert_eq!(r.new_dimension_values[0].values[0].as_str(), "NEW-SITE");
    assert!(
        esg_sync::sync::render(&r).contains("new values of dimension Facility (to add): NEW-SITE")
    );
    assert!(
        r.rejects[0]
            .reason
            .contains("has 22 characters; a dimension value id has at most 20"),
        "{:?}",
        r.rejects
    );
    assert_eq!(writes_since(&e, from), Vec::<String>::new());
    // The run adds the value, then lands both rows.
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!((r.status, r.counts.created), (Status::Partial, 2), "{r:?}");
    let f = &e.env.ids.facility;
    let values = e.workiva(&e.env.ids.num).await;
    assert!(
        values
            .iter()
            .any(|v| v.coordinates == json!({f: "NEW-SITE", &e.env.ids.bu: "X"}) && v.value == "2"),
        "{values:?}"
    );
    let dim = e.client.dimension(&e.env.ids.program, f).await.unwrap();
    let ids: Vec<String> = dim.values.unwrap().into_iter().map(|v| v.id).collect();
    assert!(ids.contains(&"NEW-SITE".to_string()) && ids.contains(&"OLD".to_string()));
    // A rerun adds nothing and sends nothing.
    let r = e.run(&p, RunOptions::default()).await;
    assert!(r.new_dimension_values.is_empty());
    assert_eq!(r.counts.unchanged, 2);
}

#[tokio::test]
async fn the_catalog_commands_plan_apply_export_and_validate() {
    let e = sync_env().await;
    let path = write_catalog(&e, CATALOG);
    let cfg = crate::support::pipeline::config_with(&e, "", "");
    let cfg = cfg.display().to_string();
    let env = || vec![("ESG_SYNC_TEST_SECRET", "demo-secret".to_string())];
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let c = path.display().to_string();
    let r = crate::support::run_esg(
        args(&["catalog", "plan", "--config", &cfg, "--catalog", &c]),
        env(),
    )
    .await;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stdout
            .contains("5 to create, 0 to update, 0 to delete, 0 unchanged: 5 write requests"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("nothing was sent"), "{}", r.stdout);
    let r = crate::support::run_esg(
        args(&["catalog", "apply", "--config", &cfg, "--catalog", &c]),
        env(),
    )
    .await;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stdout
            .contains("5 created, 0 updated, 0 deleted in 5 requests"),
        "{}",
        r.stdout
    );
    let out = e.file("exported.toml").display().to_string();
    let r = crate::support::run_esg(
        args(&[
            "catalog",
            "export",
            "--config",
            &cfg,
            "--program",
            "ESG Reporting 2025",
            "--out",
            &out,
        ]),
        env(),
    )
    .await;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let r = crate::support::run_esg(
        args(&["catalog", "plan", "--config", &cfg, "--catalog", &out]),
        env(),
    )
    .await;
    assert!(r.stdout.contains("0 write requests"), "{}", r.stdout);
    // validate checks the catalog named by [catalog] file.
    std::fs::write(
        &path,
        CATALOG.replace("parent = \"Climate\"", "parent = \"Climat\""),
    )
    .unwrap();
    let cfg2 = crate::support::pipeline::config_with(&e, &format!("[catalog]\nfile = \"{c}\""), "");
    let r = crate::support::run_esg(
        args(&["validate", "--config", &cfg2.display().to_string()]),
        env(),
    )
    .await;
    assert_eq!(r.code, Some(1), "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!(
            "catalog: {c}:9: topic `Emissions`: parent `Climat` is not a topic of this catalog"
        )),
        "{}",
        r.stdout
    );
    // A command without a catalog file says how to give one.
    crate::support::pipeline::config_with(&e, "", "");
    let r = crate::support::run_esg(args(&["catalog", "plan", "--config", &cfg]), env()).await;
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr
            .contains("give --catalog FILE, or set [catalog] file"),
        "{}",
        r.stderr
    );
}
