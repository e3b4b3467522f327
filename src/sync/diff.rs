//! Diff: one metric's valid rows against the values Workiva holds for it, into writes
//! (creates and updates with the statuses the transition rules allow), unchanged and locked
//! values, deletes (mirror mode) and rejects. Pure: plain data in, plain data out.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use super::canon::canonical_stored;
use super::ids::{
    Coordinates, DimensionId, DimensionValueId, FastMap, FastSet, MetricId, ValueKey,
};
use super::period;
use super::program::ProgramMeta;
use super::review;
use super::validate::{Row, SrcRef};
use crate::config::review::{ReviewConfig, ReviewNotes};
use crate::config::{Mode, NewStatus, OnCompleteChanged, PipelineConfig};
use crate::ledger::Before;
use crate::outcome::{Reject, Reviewed};
use crate::workiva::models::{
    DataType, ListedValue, Metric, MetricValue, ReportingPeriod, ValueStatus,
};

/// One value to write, with the row it came from.
#[derive(Debug, Clone)]
pub struct Write {
    pub item: MetricValue,
    pub src: SrcRef,
    pub create: bool,
    /// The lake's key for the metric.
    pub metric_key: Arc<str>,
    /// What Workiva held, for an update (the ledger's "before"; boxed, as most writes of a
    /// first sync are creates).
    pub before: Option<Box<Before>>,
    /// It replaces a value a person edited in Workiva (`on_hand_edit = "overwrite"`).
    pub hand_edit: bool,
}

impl Write {
    /// The item as the JSON a batch body carries.
    pub fn json(&self) -> Vec<u8> {
        // A `MetricValue` is strings, numbers and maps of strings: it always serialises.
        serde_json::to_vec(&self.item).unwrap_or_else(|_| b"{}".to_vec())
    }
}

/// A value mirror mode deletes, as Workiva listed it.
#[derive(Debug, Clone)]
pub struct Deleted {
    pub period: ReportingPeriod,
    /// Dimension id to dimension value id.
    pub coordinates: BTreeMap<String, String>,
    /// The lake's key for the metric (none when the pipeline maps it by a name it no longer
    /// has).
    pub metric_key: Option<Arc<str>>,
    /// Its id is the one the deletion names.
    pub before: Before,
}

impl Deleted {
    pub fn id(&self) -> &str {
        self.before.id.as_deref().unwrap_or_default()
    }
}

/// What the plan does to one metric.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MetricPlan {
    pub metric_id: MetricId,
    pub metric_name: String,
    pub creates: usize,
    pub updates: usize,
    pub unchanged: usize,
    pub locked: usize,
    /// Values a person edited in Workiva, kept (`on_hand_edit = "keep"`).
    pub hand_edited: usize,
    pub deletes: usize,
    pub rejects: usize,
    #[serde(skip)]
    pub writes: Vec<Write>,
    /// Mirror mode's deletions, by id.
    #[serde(skip)]
    pub deleted: Vec<Deleted>,
    /// `[pipeline.review]`: writes auto-completed and flagged for a person.
    pub auto_completed: usize,
    pub flagged: usize,
    #[serde(skip)]
    pub reviewed: Vec<Reviewed>,
}

/// Within one metric a value is identified by its period and coordinates.
pub type LocalKey = (ReportingPeriod, Coordinates);

/// Workiva's values (of any year listed) by key, as text: what the review compares with.
pub type Prior = HashMap<LocalKey, String>;

/// What the diff knows besides the rows and the values: the keys rejected rows claim, and
/// (with `[pipeline.review]`) the values the review compares with.
pub struct Known<'a> {
    pub claimed: &'a HashSet<ValueKey>,
    pub prior: Option<&'a Prior>,
}

/// The values a review compares with, by key.
pub fn prior_values(values: &[ListedValue]) -> Prior {
    values
        .iter()
        .filter_map(|v| {
            let period = v.reporting_period?;
            let coords: Coordinates = v
                .coordinates
                .as_ref()?
                .0
                .iter()
                .map(|(d, x)| {
                    (
                        DimensionId::new(d.clone()),
                        DimensionValueId::new(x.clone()),
                    )
                })
                .collect();
            Some(((period, coords), v.value.clone()?))
        })
        .collect()
}

/// Whether the row's value and notes equal what Workiva holds (notes unmapped count as equal).
/// With a review, the note it added is not the lake's: it is left out of the comparison (and
/// with `notes = "replace"` the lake's notes are not sent at all).
fn same_value_and_notes(
    cur: &ListedValue,
    r: &Row,
    dt: DataType,
    review: Option<&ReviewConfig>,
) -> (bool, bool) {
    let stored = cur.value.as_deref().unwrap_or("");
    let wanted = r.value.as_deref().unwrap_or("");
    // String equality first: unchanged rows, the common case, cost no allocation.
    let same_value = stored == wanted || canonical_stored(stored, dt) == wanted;
    let held = cur.notes.as_deref().unwrap_or("");
    let same_notes = match review.map(|c| c.notes) {
        Some(ReviewNotes::Replace) => true,
        Some(ReviewNotes::Append) => r
            .notes
            .as_ref()
            .is_none_or(|n| n == review::without_review_note(held)),
        _ => r.notes.as_ref().is_none_or(|n| n == held),
    };
    (same_value, same_notes)
}

/// Workiva's values by key; the coordinates are moved, not copied, into the keys.
fn index(existing: Vec<ListedValue>) -> FastMap<LocalKey, ListedValue> {
    let mut by_key = FastMap::with_capacity_and_hasher(existing.len(), Default::default());
    for mut v in existing {
        let Some(period) = v.reporting_period else {
            continue;
        };
        let coords: Coordinates = v
            .coordinates
            .take()
            .unwrap_or_default()
            .0
            .into_iter()
            .map(|(d, x)| (DimensionId::new(d), DimensionValueId::new(x)))
            .collect();
        by_key.insert((period, coords), v);
    }
    by_key
}

/// Diffs one metric's rows against what Workiva holds.
pub fn diff_metric(
    p: &PipelineConfig,
    meta: &ProgramMeta,
    metric_id: &MetricId,
    metric: &Metric,
    rows: &mut [Row],
    existing: Vec<ListedValue>,
    known: &Known,
) -> (MetricPlan, Vec<Reject>) {
    let mut plan = MetricPlan {
        metric_id: metric_id.clone(),
        metric_name: metric.name.clone(),
        ..MetricPlan::default()
    };
    let mut rejects = Vec::new();
    let by_key = index(existing);
    let mirror = p.mode == Mode::Mirror;
    let mut seen: FastSet<LocalKey> = FastSet::default();
    let review_cfg = p.review.as_ref().filter(|_| known.prior.is_some());
    for r in rows.iter_mut() {
        let key: LocalKey = (r.period, std::mem::take(&mut r.coords));
        let current = by_key.get(&key);
        let same = current.map(|cur| same_value_and_notes(cur, r, metric.data_type, review_cfg));
        if let (Some(cur), Some((true, true))) = (current, same)
            && r.status.is_none_or(|s| s == cur.status.unwrap_or_default())
        {
            plan.unchanged += 1;
            if mirror {
                seen.insert(key);
            }
            continue;
        }
        let item = write_item(r, &key.1);
        let decided = match (current, same) {
            (Some(cur), Some(same)) => update(p, cur, r, item, same),
            _ => create(p, meta, &key.1, r, item),
        };
        let decided = match (decided, review_cfg, known.prior) {
            (Decision::Write(w), Some(cfg), Some(prior)) => {
                Decision::Write(reviewed(&mut plan, meta, metric, cfg, prior, &key, r, w))
            }
            (d, _, _) => d,
        };
        if mirror {
            seen.insert(key);
        }
        tally(&mut plan, &mut rejects, decided);
    }
    if mirror {
        let key = metric_key(p, metric_id, metric);
        deletes(&mut plan, (metric_id, key), by_key, &seen, known.claimed);
    }
    (plan, rejects)
}

/// The value a row asks Workiva to hold at `coords`: its value and notes, and the fields it
/// clears.
#[inline]
fn write_item(r: &Row, coords: &Coordinates) -> MetricValue {
    let mut item = MetricValue {
        value: r.value.clone(),
        reporting_period: Some(r.period),
        coordinates: Some(
            coords
                .iter()
                .map(|(d, v)| (d.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..MetricValue::default()
    };
    match &r.notes {
        Some(n) if n.is_empty() => item.fields_to_clear.push("notes".into()),
        Some(n) => item.notes = Some(n.clone()),
        None => {}
    }
    if r.value.is_none() {
        // An explicit clear (empty_values = "clear"), never `""`.
        item.fields_to_clear.push("value".into());
    }
    item
}

/// Counts a row's decision into the metric's plan (a write is kept, a reject returned).
#[inline]
fn tally(plan: &mut MetricPlan, rejects: &mut Vec<Reject>, decided: Decision) {
    match decided {
        Decision::Write(w) => {
            if w.create {
                plan.creates += 1;
            } else {
                plan.updates += 1;
            }
            plan.writes.push(w);
        }
        Decision::Nothing => plan.unchanged += 1,
        Decision::Locked => plan.locked += 1,
        Decision::Reject(rj) => {
            plan.rejects += 1;
            rejects.push(rj);
        }
    }
}

/// `[pipeline.review]`: a write of a number judged against the prior year's value, its
/// status and notes set by the verdict, and the verdict kept for `review report`. A clear, or
/// a value of a text or date metric, is written as the status policy says.
#[allow(clippy::too_many_arguments)]
fn reviewed(
    plan: &mut MetricPlan,
    meta: &ProgramMeta,
    metric: &Metric,
    cfg: &ReviewConfig,
    prior: &Prior,
    key: &LocalKey,
    r: &Row,
    mut w: Write,
) -> Write {
    let numeric = matches!(
        metric.data_type,
        DataType::Number | DataType::Currency | DataType::Percent
    );
    let Some(value) = w.item.value.clone().filter(|_| numeric) else {
        return w;
    };
    let earlier = ReportingPeriod {
        year: key.0.year.saturating_sub(1),
        ..key.0
    };
    let held = prior.get(&(earlier, key.1.clone())).map(String::as_str);
    let verdict = review::judge(cfg, &value, held);
    w.item.status = Some(verdict.status);
    if let Some(n) = review::notes(cfg, r.notes.as_deref(), &verdict) {
        w.item.fields_to_clear.retain(|f| f != "notes");
        if n.is_empty() {
            if !w.create {
                w.item.fields_to_clear.push("notes".into());
            }
            w.item.notes = None;
        } else {
            w.item.notes = Some(n);
        }
    }
    if verdict.flagged {
        plan.flagged += 1;
    } else {
        plan.auto_completed += 1;
    }
    let coordinates = key
        .1
        .iter()
        .map(|(d, v)| {
            let name = meta
                .dimensions
                .get(d)
                .map_or(d.as_str(), |m| m.name.as_str());
            format!("{name}={v}")
        })
        .collect::<Vec<_>>()
        .join("; ");
    plan.reviewed.push(Reviewed {
        metric: metric.name.clone(),
        period: period::label(&key.0),
        coordinates,
        value,
        prior: verdict.prior,
        delta: verdict.delta,
        delta_percent: verdict.delta_percent,
        flagged: verdict.flagged,
        reason: verdict.note,
    });
    w
}

enum Decision {
    Write(Write),
    /// A clear where Workiva holds no value: nothing to do.
    Nothing,
    Locked,
    Reject(Reject),
}

/// A value Workiva does not hold yet: created with the pipeline's first status, unless a
/// coordinate is inactive (Workiva refuses inactive values in new data).
fn create(
    p: &PipelineConfig,
    meta: &ProgramMeta,
    coords: &Coordinates,
    r: &Row,
    mut item: MetricValue,
) -> Decision {
    if let Some((d, v)) = coords
        .iter()
        .find(|(d, v)| meta.dimensions.get(d).and_then(|dm| dm.values.get(v)) == Some(&false))
    {
        let dim = &meta.dimensions[d].name;
        return Decision::Reject(Reject {
            source_file: r.src.file.to_string(),
            source_row: r.src.row as i64,
            field: "coordinates".into(),
            reason: format!(
                "dimension value `{v}` of `{dim}` is inactive and cannot be used in a new value; activate it in Workiva"
            ),
            metric_key: Some(r.metric_key.to_string()),
            period: Some(period::label(&r.period)),
            value: r.value.clone(),
        });
    }
    if r.value.is_none() {
        // Nothing to clear where Workiva holds nothing.
        return Decision::Nothing;
    }
    // A new value has no notes to clear.
    item.fields_to_clear.clear();
    item.status = match p.status.new {
        NewStatus::NotStarted => Some(ValueStatus::NotStarted),
        NewStatus::Complete => Some(ValueStatus::Complete),
        NewStatus::Column => r.status,
    };
    Decision::Write(Write {
        item,
        src: r.src.clone(),
        create: true,
        metric_key: r.metric_key.clone(),
        before: None,
        hand_edit: false,
    })
}

/// A value Workiva holds that differs: updated with a status the transition rules allow, or
/// left alone when its status locks it.
fn update(
    p: &PipelineConfig,
    cur: &ListedValue,
    r: &Row,
    mut item: MetricValue,
    (same_value, same_notes): (bool, bool),
) -> Decision {
    if r.notes.as_ref().is_some_and(|n| n.is_empty()) && cur.notes.is_none() {
        item.fields_to_clear.retain(|f| f != "notes");
    }
    match cur.status.unwrap_or_default() {
        ValueStatus::NotStarted => {
            item.status = match p.status.new {
                NewStatus::Complete => Some(ValueStatus::Complete),
                NewStatus::Column => r.status,
                NewStatus::NotStarted => None,
            };
        }
        ValueStatus::Complete => {
            if !(same_value && same_notes) {
                match p.status.on_complete_changed {
                    OnCompleteChanged::Reopen => item.status = Some(ValueStatus::NotStarted),
                    OnCompleteChanged::Skip => return Decision::Locked,
                }
            }
            if let Some(s) = r.status
                && (same_value && same_notes || p.status.new == NewStatus::Column)
            {
                item.status = Some(s);
            }
        }
        _ => return Decision::Locked,
    }
    Decision::Write(Write {
        item,
        src: r.src.clone(),
        create: false,
        metric_key: r.metric_key.clone(),
        before: Some(Box::new(Before::listed(
            cur.id.clone(),
            cur.value.clone(),
            cur.notes.clone(),
            cur.status,
        ))),
        hand_edit: false,
    })
}

/// Mirror mode: Workiva's values the source no longer has are deleted, unless a rejected row
/// still claims them or their status locks them.
fn deletes(
    plan: &mut MetricPlan,
    (metric_id, metric_key): (&MetricId, Option<Arc<str>>),
    by_key: FastMap<LocalKey, ListedValue>,
    seen: &FastSet<LocalKey>,
    claimed: &HashSet<ValueKey>,
) {
    for (k, v) in by_key {
        if seen.contains(&k) {
            continue;
        }
        if !claimed.is_empty() {
            let key = ValueKey {
                metric: metric_id.clone(),
                period: k.0,
                coords: k.1.clone(),
            };
            if claimed.contains(&key) {
                continue;
            }
        }
        match v.status.unwrap_or_default() {
            ValueStatus::NotStarted | ValueStatus::Complete => {
                if v.id.is_some() {
                    plan.deleted.push(Deleted {
                        period: k.0,
                        coordinates: k
                            .1
                            .iter()
                            .map(|(d, v)| (d.to_string(), v.to_string()))
                            .collect(),
                        metric_key: metric_key.clone(),
                        before: Before::listed(v.id, v.value, v.notes, v.status),
                    });
                    plan.deletes += 1;
                }
            }
            _ => plan.locked += 1,
        }
    }
    plan.deleted.sort_by(|a, b| a.id().cmp(b.id()));
}

/// The lake's key the pipeline maps to this metric (by its name or its id).
fn metric_key(p: &PipelineConfig, id: &MetricId, metric: &Metric) -> Option<Arc<str>> {
    p.metrics
        .iter()
        .find(|(_, v)| **v == metric.name || v.as_str() == id.as_str())
        .map(|(k, _)| Arc::from(k.as_str()))
}
