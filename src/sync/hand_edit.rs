//! Hand edits: a write that would change a value a person edited in Workiva since esg-sync
//! last wrote it. The ledger says what was last written (its latest entry for the value:
//! a change or a baseline); Workiva's listed value or notes differ from it, and the lake asks
//! for something else again. Under `keep` the write is taken out of the plan and listed;
//! under `overwrite` it stays, and its ledger entry says it replaced an edit. A value the
//! ledger knows nothing of is never a hand edit, and a status move is the workflow's. Pure.

use std::collections::BTreeMap;

use super::canon::same_value;
use super::diff::{MetricPlan, Write};
use super::lineage;
use super::period;
use super::program::ProgramMeta;
use crate::config::OnHandEdit;
use crate::ledger::{LastWritten, LedgerKey, Written};
use crate::outcome::HandEdit;
use crate::workiva::models::DataType;

/// The ledger key of a write's value.
pub fn key(w: &Write) -> LedgerKey {
    let period = w.item.reporting_period.unwrap_or_default();
    let coords = w.item.coordinates.clone().unwrap_or_default();
    (
        period::label(&period),
        crate::ledger::Change::coordinates_text(&coords),
    )
}

/// The values whose ledger history decides: the writes that change the value or notes of a
/// value Workiva holds, by year and coordinates (what the ledger is indexed by).
pub fn wanted(writes: &[Write]) -> BTreeMap<i64, Vec<String>> {
    let mut out: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for w in writes.iter().filter(|w| changes_content(w)) {
        let year = i64::from(w.item.reporting_period.unwrap_or_default().year);
        out.entry(year).or_default().push(key(w).1);
    }
    for v in out.values_mut() {
        v.sort();
        v.dedup();
    }
    out
}

/// Whether the write changes what a person edits (value or notes) of a value Workiva holds.
fn changes_content(w: &Write) -> bool {
    let Some(before) = w.before.as_deref() else {
        return false;
    };
    let after = lineage::after(&w.item, Some(before));
    after.value != before.snapshot.value || after.notes != before.snapshot.notes
}

/// Text as Workiva compares it: nothing and empty are the same.
fn text(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}

/// Whether Workiva's `found` value and notes are not what esg-sync `written` there.
pub fn edited(found_value: &str, found_notes: &str, written: &Written, dt: DataType) -> bool {
    let wrote = text(&written.value);
    let same_value = same_value(found_value, wrote, dt);
    !(same_value && found_notes == text(&written.notes))
}

/// Finds the metric's hand edits among its writes: under `keep` they leave the plan (counted
/// as `hand_edited`), under `overwrite` they stay, marked. Returns them in the writes' order.
pub fn sort(
    mp: &mut MetricPlan,
    last: &LastWritten,
    dt: DataType,
    policy: OnHandEdit,
    meta: &ProgramMeta,
) -> Vec<HandEdit> {
    let mut found = Vec::new();
    let keep = policy == OnHandEdit::Keep;
    mp.writes.retain_mut(|w| {
        if !changes_content(w) {
            return true;
        }
        let (Some(written), Some(b)) = (last.get(&key(w)), w.before.as_deref()) else {
            return true;
        };
        let before = &b.snapshot;
        if !edited(text(&before.value), text(&before.notes), written, dt) {
            return true;
        }
        found.push(listed(mp.metric_name.as_str(), w, written, keep, meta));
        w.hand_edit = !keep;
        !keep
    });
    if keep {
        mp.updates -= found.len();
        mp.hand_edited += found.len();
    }
    found
}

fn listed(metric: &str, w: &Write, written: &Written, kept: bool, meta: &ProgramMeta) -> HandEdit {
    let before = w.before.as_deref();
    let snap = before.map(|b| &b.snapshot);
    let coordinates = w
        .item
        .coordinates
        .iter()
        .flatten()
        .map(|(d, v)| {
            let name = meta
                .dimensions
                .get(d.as_str())
                .map_or(d.as_str(), |m| m.name.as_str());
            format!("{name}={v}")
        })
        .collect::<Vec<_>>()
        .join("; ");
    HandEdit {
        metric: metric.to_string(),
        metric_key: w.metric_key.to_string(),
        period: period::label(&w.item.reporting_period.unwrap_or_default()),
        coordinates,
        value_id: before.and_then(|b| b.id.clone()),
        written_value: written.value.clone(),
        written_notes: written.notes.clone(),
        found_value: snap.and_then(|s| s.value.clone()),
        found_notes: snap.and_then(|s| s.notes.clone()),
        lake_value: w.item.value.clone(),
        since_run: written.run_id,
        kept,
        first_seen: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Before;
    use crate::sync::validate::SrcRef;
    use crate::workiva::models::{MetricValue, ReportingPeriod, ValueStatus};

    fn write(lake: &str, found: &str, notes: Option<&str>) -> Write {
        Write {
            item: MetricValue {
                value: Some(lake.into()),
                reporting_period: Some(ReportingPeriod {
                    year: 2025,
                    start: 1,
                    end: 12,
                }),
                coordinates: Some([("F".to_string(), "A".to_string())].into()),
                ..MetricValue::default()
            },
            src: SrcRef {
                file: "f".into(),
                row: 1,
            },
            create: false,
            metric_key: "ghg".into(),
            before: Some(Box::new(Before::listed(
                Some("v1".into()),
                Some(found.into()),
                notes.map(str::to_string),
                Some(ValueStatus::NotStarted),
            ))),
            hand_edit: false,
        }
    }

    fn meta() -> ProgramMeta {
        ProgramMeta {
            id: crate::sync::ids::ProgramId::new("p"),
            metrics: Default::default(),
            dimensions: Default::default(),
        }
    }

    fn plan(writes: Vec<Write>) -> MetricPlan {
        MetricPlan {
            metric_name: "GHG".into(),
            updates: writes.len(),
            writes,
            ..MetricPlan::default()
        }
    }

    fn last(value: &str, notes: Option<&str>) -> LastWritten {
        let w = write("x", "x", None);
        [(
            key(&w),
            Written {
                run_id: 7,
                value: Some(value.into()),
                notes: notes.map(str::to_string),
            },
        )]
        .into()
    }

    #[test]
    fn an_edited_value_is_kept_and_listed_under_keep() {
        let mut mp = plan(vec![write("12", "11", None)]);
        let found = sort(
            &mut mp,
            &last("10", None),
            DataType::Number,
            OnHandEdit::Keep,
            &meta(),
        );
        assert!(mp.writes.is_empty());
        assert_eq!((mp.updates, mp.hand_edited), (0, 1));
        let e = &found[0];
        assert_eq!(
            (e.written_value.as_deref(), e.found_value.as_deref()),
            (Some("10"), Some("11"))
        );
        assert_eq!((e.lake_value.as_deref(), e.since_run), (Some("12"), 7));
        assert!(e.kept && e.first_seen);
        assert_eq!((e.period.as_str(), e.coordinates.as_str()), ("2025", "F=A"));
    }

    #[test]
    fn an_edited_note_is_overwritten_and_marked_under_overwrite() {
        let mut mp = plan(vec![write("12", "10", Some("fixed by hand"))]);
        let found = sort(
            &mut mp,
            &last("10", None),
            DataType::Number,
            OnHandEdit::Overwrite,
            &meta(),
        );
        assert_eq!((mp.writes.len(), mp.updates, mp.hand_edited), (1, 1, 0));
        assert!(mp.writes[0].hand_edit);
        assert!(!found[0].kept);
        assert_eq!(found[0].found_notes.as_deref(), Some("fixed by hand"));
    }

    #[test]
    fn what_esg_sync_wrote_or_never_wrote_is_no_hand_edit() {
        for (last, found) in [
            (last("10", None), "10"),
            (last("10.5", None), "10.50"),
            (LastWritten::new(), "11"),
        ] {
            let mut mp = plan(vec![write("12", found, None)]);
            let edits = sort(&mut mp, &last, DataType::Number, OnHandEdit::Keep, &meta());
            assert!(edits.is_empty(), "{found}");
            assert_eq!(mp.writes.len(), 1);
        }
    }

    #[test]
    fn a_status_only_write_is_no_hand_edit() {
        // The person entered what the lake now says: only the status would move.
        let mut w = write("11", "11", None);
        w.item.value = None;
        w.item.status = Some(ValueStatus::Complete);
        let mut mp = plan(vec![w]);
        let edits = sort(
            &mut mp,
            &last("10", None),
            DataType::Number,
            OnHandEdit::Keep,
            &meta(),
        );
        assert!(edits.is_empty());
        assert!(wanted(&mp.writes).is_empty());
    }
}
