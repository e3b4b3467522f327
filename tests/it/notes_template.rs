//! `notes_template`: each value's notes say where it came from; an unchanged rerun sends
//! nothing, a changed origin updates the notes, notes past Workiva's limit reject their row,
//! and a placeholder that is not one is refused at load.

use esg_sync::sync::{RunOptions, Status};

use crate::support::env::{sync_env, write_rows};

const TEMPLATE: &str =
    "notes_template = \"{notes} (source: {source}, {origin} row {row}; {facility})\"";

#[tokio::test]
async fn notes_name_the_origin_and_stay_the_same_for_the_same_lake() {
    let e = sync_env().await;
    let data = e.file("data.parquet");
    let origin = data.display().to_string();
    write_rows(
        &data,
        &[
            ("ghg", "2024", "A", "", "10", "metered"),
            ("share", "2024", "", "", "45", ""),
        ],
    );
    let p = e.pipeline(TEMPLATE);
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(
        (r.status, r.counts.created),
        (Status::Succeeded, 2),
        "{r:?}"
    );
    let ghg = e.workiva(&e.env.ids.num).await;
    assert_eq!(
        ghg[0].notes,
        format!("metered (source: data.parquet, {origin} row 1; A)")
    );
    let share = e.workiva(&e.env.ids.share).await;
    assert_eq!(
        share[0].notes,
        format!("(source: data.parquet, {origin} row 2; )")
    );

    // The same lake: nothing to send.
    let sent = e.upsertions();
    let again = e.run(&p, RunOptions::default()).await;
    assert_eq!(
        (again.counts.unchanged, again.counts.updated),
        (2, 0),
        "{again:?}"
    );
    assert_eq!(e.upsertions(), sent);

    // The rows swap places: the origin changed, so the notes do.
    write_rows(
        &data,
        &[
            ("share", "2024", "", "", "45", ""),
            ("ghg", "2024", "A", "", "10", "metered"),
        ],
    );
    let moved = e.run(&p, RunOptions::default()).await;
    assert_eq!(moved.counts.updated, 2, "{moved:?}");
    let ghg = e.workiva(&e.env.ids.num).await;
    assert!(ghg[0].notes.ends_with("row 2; A)"), "{}", ghg[0].notes);
    assert_eq!(ghg[0].value, "10");

    // Notes the template makes too long for Workiva: that row is rejected, saying why.
    let long = "n".repeat(32_760);
    write_rows(
        &data,
        &[
            ("share", "2024", "", "", "45", ""),
            ("ghg", "2024", "A", "", "10", &long),
        ],
    );
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!((r.status, r.counts.rejected), (Status::Partial, 1), "{r:?}");
    assert!(
        r.rejects[0].reason.contains("notes_template makes are")
            && r.rejects[0].reason.contains("32767"),
        "{:?}",
        r.rejects[0]
    );
}

#[test]
fn a_placeholder_that_is_not_one_is_refused_at_load() {
    let p =
        crate::support::pipeline::PipelineToml::new("t", "P", std::path::Path::new("x.parquet"))
            .dimensions(&[("facility", "Facility")])
            .metrics(&[("ghg", "Num")])
            .extra("notes_template = \"{notes} in run {run_id}\"")
            .config();
    let problems = p.problems();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("`{run_id}` is not a placeholder")),
        "{problems:?}"
    );
}
