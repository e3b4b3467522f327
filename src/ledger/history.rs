//! One value's history, as `esg-sync trace` tells it: the ledger's entries for the value,
//! newest first, with the hand edits they imply in between. A person changed the value
//! between two entries where the later one found it (`before`) other than the earlier one
//! left it (`after`), and since the last entry where Workiva now holds something else. Only
//! the value and notes count: a status move is the workflow's. Pure.

use std::collections::BTreeMap;

use serde::Serialize;

use super::entry::{Action, Content, Snapshot};

/// One step of a value's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// A change esg-sync made, as the ledger holds it.
    Change(Box<Content>),
    /// A person changed the value in Workiva between two of esg-sync's changes, or since the
    /// last (`until_seq` none: Workiva holds it now).
    HandEdit {
        /// The entry that left the value as `from`, and its run.
        after_seq: i64,
        since_run: i64,
        /// The entry that found it as `to`, if any.
        until_seq: Option<i64>,
        from: Option<Snapshot>,
        to: Option<Snapshot>,
    },
}

/// The history of one value: its period, coordinates and steps, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct History {
    pub period: String,
    pub coordinates: BTreeMap<String, String>,
    /// Workiva's id of the value, as last known.
    pub value_id: Option<String>,
    /// What Workiva holds now (none: it holds no such value).
    pub current: Option<Snapshot>,
    pub steps: Vec<Step>,
}

/// A value within one metric and year: its period's label and coordinates.
pub type ValueKey = (String, BTreeMap<String, String>);

/// Groups one metric's entries (in ledger order) by value.
pub fn by_value(entries: Vec<Content>) -> BTreeMap<ValueKey, Vec<Content>> {
    let mut out: BTreeMap<ValueKey, Vec<Content>> = BTreeMap::new();
    for e in entries {
        let key = (e.change.period.clone(), e.change.coordinates.clone());
        out.entry(key).or_default().push(e);
    }
    out
}

/// What a value holds after an entry: nothing once deleted.
fn left(e: &Content) -> Option<&Snapshot> {
    match e.change.action {
        Action::Delete => None,
        _ => e.change.after.as_ref(),
    }
}

/// Whether a person's edit separates `was` from `now`: their value or notes differ
/// (`same` compares two values of the metric's type, so `10.50` is `10.5`).
fn differs(
    was: Option<&Snapshot>,
    now: Option<&Snapshot>,
    same: &dyn Fn(&str, &str) -> bool,
) -> bool {
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    match (was, now) {
        (None, None) => false,
        (Some(a), Some(b)) => {
            !same(&text(&a.value), &text(&b.value)) || text(&a.notes) != text(&b.notes)
        }
        _ => true,
    }
}

/// The history of one value from its entries (in ledger order) and what Workiva holds now.
pub fn history(
    key: ValueKey,
    entries: Vec<Content>,
    current: Option<(Option<String>, Snapshot)>,
    same: &dyn Fn(&str, &str) -> bool,
) -> History {
    let (current_id, current) = match current {
        Some((id, s)) => (id, Some(s)),
        None => (None, None),
    };
    let mut steps = Vec::with_capacity(entries.len() + 1);
    let mut prev: Option<&Content> = None;
    for e in &entries {
        if let Some(p) = prev {
            let found = match e.change.action {
                // A create found nothing: the value was gone (a deletion), or never listed.
                Action::Create => None,
                _ => e.change.before.as_ref(),
            };
            if differs(left(p), found, same) {
                steps.push(edit(p, Some(e.seq), found.cloned()));
            }
        }
        steps.push(Step::Change(Box::new(e.clone())));
        prev = Some(e);
    }
    if let Some(p) = prev
        && differs(left(p), current.as_ref(), same)
    {
        steps.push(edit(p, None, current.clone()));
    }
    steps.reverse();
    let value_id =
        current_id.or_else(|| entries.iter().rev().find_map(|e| e.change.value_id.clone()));
    History {
        period: key.0,
        coordinates: key.1,
        value_id,
        current,
        steps,
    }
}

fn edit(after: &Content, until_seq: Option<i64>, to: Option<Snapshot>) -> Step {
    Step::HandEdit {
        after_seq: after.seq,
        since_run: after.confirmed.run_id,
        until_seq,
        from: left(after).cloned(),
        to,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{Change, Confirmation, Origin};

    fn snap(v: &str, notes: Option<&str>) -> Snapshot {
        Snapshot {
            value: Some(v.into()),
            notes: notes.map(str::to_string),
            status: Some("notStarted".into()),
        }
    }

    fn entry(seq: i64, action: Action, before: Option<Snapshot>, after: Snapshot) -> Content {
        Content {
            seq,
            change: Change {
                program_id: "P".into(),
                metric_id: "M".into(),
                metric_key: "ghg".into(),
                year: 2025,
                period: "2025".into(),
                coordinates: [("F".to_string(), "A".to_string())].into(),
                value_id: Some("v1".into()),
                action,
                before,
                after: Some(after),
                hand_edit: false,
                origin: Origin {
                    pipeline: "p".into(),
                    source: "lake.parquet".into(),
                    row: 1,
                    version: None,
                },
                config: "c".into(),
            },
            confirmed: Confirmation {
                run_id: seq * 10,
                batch_id: Some(seq),
                deletion_id: None,
                operation: Some(format!("op{seq}")),
                confirmed_at: "2025-01-01T00:00:00.000Z".into(),
            },
        }
    }

    fn eq(a: &str, b: &str) -> bool {
        a == b || a.trim_end_matches('0') == b.trim_end_matches('0')
    }

    fn kinds(h: &History) -> Vec<String> {
        h.steps
            .iter()
            .map(|s| match s {
                Step::Change(c) => format!("{}#{}", c.change.action.as_str(), c.seq),
                Step::HandEdit {
                    after_seq,
                    until_seq,
                    ..
                } => {
                    format!(
                        "edit#{after_seq}-{}",
                        until_seq.map_or("now".into(), |s| s.to_string())
                    )
                }
            })
            .collect()
    }

    #[test]
    fn create_update_and_edits_newest_first() {
        let entries = vec![
            entry(1, Action::Create, None, snap("10", None)),
            // Found 11: a person had typed it over the 10 written by entry 1.
            entry(2, Action::Update, Some(snap("11", None)), snap("12", None)),
        ];
        let key = ("2025".to_string(), entries[0].change.coordinates.clone());
        let h = history(
            key,
            entries,
            Some((Some("v1".into()), snap("12", Some("checked")))),
            &eq,
        );
        assert_eq!(
            kinds(&h),
            ["edit#2-now", "update#2", "edit#1-2", "create#1"]
        );
        let Step::HandEdit {
            from,
            to,
            since_run,
            ..
        } = &h.steps[2]
        else {
            panic!("{h:?}");
        };
        assert_eq!(
            (
                from.as_ref().unwrap().value.as_deref(),
                to.as_ref().unwrap().value.as_deref()
            ),
            (Some("10"), Some("11"))
        );
        assert_eq!(*since_run, 10);
        assert_eq!(h.value_id.as_deref(), Some("v1"));
    }

    #[test]
    fn no_edit_where_workiva_holds_what_was_written_or_only_the_status_moved() {
        let entries = vec![entry(1, Action::Create, None, snap("10.5", None))];
        let key = ("2025".to_string(), entries[0].change.coordinates.clone());
        let mut now = snap("10.50", None);
        now.status = Some("complete".into());
        let h = history(key, entries, Some((None, now)), &eq);
        assert_eq!(kinds(&h), ["create#1"]);
    }

    #[test]
    fn a_deleted_value_that_is_gone_is_no_edit_and_one_that_came_back_is() {
        let mut del = entry(2, Action::Delete, Some(snap("10", None)), snap("10", None));
        del.change.after = None;
        let entries = vec![entry(1, Action::Create, None, snap("10", None)), del];
        let key = ("2025".to_string(), entries[0].change.coordinates.clone());
        let gone = history(key.clone(), entries.clone(), None, &eq);
        assert_eq!(kinds(&gone), ["delete#2", "create#1"]);
        let back = history(key, entries, Some((None, snap("3", None))), &eq);
        assert_eq!(kinds(&back), ["edit#2-now", "delete#2", "create#1"]);
    }

    #[test]
    fn entries_group_by_period_and_coordinates() {
        let mut other = entry(2, Action::Create, None, snap("1", None));
        other.change.period = "2025-Q1".into();
        let groups = by_value(vec![
            entry(1, Action::Create, None, snap("10", None)),
            other,
        ]);
        assert_eq!(groups.len(), 2);
    }
}
