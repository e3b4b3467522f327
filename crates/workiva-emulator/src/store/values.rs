//! Metric values: lookup by id or by key, single writes, upsertion items resolved to their
//! target and applied, batch deletion.

use std::collections::HashMap;
use std::sync::Arc;

use uuid::Uuid;

use super::{DeleteItem, Store, Target, not_found};
use crate::error::{ApiError, ApiResult, Detail};
use crate::model::*;

impl Store {
    pub fn metric_values(&self, metric: Uuid) -> &MetricValues {
        self.values
            .get(&metric)
            .expect("every metric has a value table")
    }

    pub fn value(&self, program: &str, metric: &str, value: &str) -> ApiResult<&StoredValue> {
        let (_, mid) = self.metric_ids(program, metric)?;
        Uuid::try_parse(value)
            .ok()
            .and_then(|u| self.metric_values(mid).get_by_id(u))
            .ok_or_else(|| not_found("metric value", value))
    }

    /// Finds where an item lands, checking every state rule; problems go to `details`.
    fn resolve(
        &self,
        p: &Program,
        m: &Metric,
        item: &UpsertItem,
        at: &dyn Fn() -> String,
        details: &mut Vec<Detail>,
    ) -> Option<Target> {
        let vals = self.metric_values(m.id);
        let before = details.len();
        let target = match &item.id {
            Some(id) => target_by_id(vals, m, id, at, details),
            None => target_by_key(vals, p, m, item, at, details),
        };
        let current = match &target {
            Some(Target::Existing(slot)) => vals.get(*slot),
            _ => None,
        };
        if let Some(v) = &item.value
            && let Err(why) = m.data_type.check(v)
        {
            details.push(Detail::new(
                "InvalidValue",
                format!("{}.value", at()),
                why.to_string(),
            ));
        }
        if let Some(s) = item.status
            && target.is_some()
        {
            check_status(current.map(|c| c.status), s, at, details);
        }
        if let Some(t) = &item.task
            && !self.tasks.iter().any(|x| &x.id == t)
        {
            details.push(Detail::new(
                "NotFound",
                format!("{}.task", at()),
                format!("No task with id `{t}` exists"),
            ));
        }
        if details.len() > before { None } else { target }
    }

    fn apply_item(vals: &mut MetricValues, target: Target, item: &UpsertItem) -> Uuid {
        let slot = match target {
            Target::Existing(slot) => slot,
            Target::New(key) => vals.insert(StoredValue {
                id: Uuid::new_v4(),
                key: Arc::new(key),
                value: String::new(),
                status: Status::NotStarted,
                notes: None,
                task: None,
                data_source: None,
                attachments: Vec::new(),
            }),
        };
        let v = vals.get_mut(slot).expect("slot just resolved");
        if let Some(x) = &item.value {
            v.value.clone_from(x);
        }
        if let Some(s) = item.status {
            v.status = s;
        }
        if let Some(n) = &item.notes {
            v.notes = Some(n.clone());
        }
        if let Some(t) = &item.task {
            v.task = Some(t.clone());
        }
        if let Some(d) = &item.data_source {
            v.data_source = Some(d.clone());
        }
        for f in &item.fields_to_clear {
            match f {
                ClearField::Notes => v.notes = None,
                ClearField::Task => v.task = None,
                ClearField::DataSource => v.data_source = None,
                ClearField::Value => v.value.clear(),
            }
        }
        v.id
    }

    /// Applies items all-or-nothing; on any problem nothing is stored and the details return.
    pub fn upsert_all(
        &mut self,
        program: Uuid,
        metric: Uuid,
        items: &[UpsertItem],
        prefix: &str,
    ) -> Result<Vec<Uuid>, Vec<Detail>> {
        let Some(p) = self.programs.iter().find(|p| p.id == program) else {
            return Err(vec![Detail::new(
                "NotFound",
                "programId",
                "The program no longer exists",
            )]);
        };
        let Some(m) = p.metric(metric) else {
            return Err(vec![Detail::new(
                "NotFound",
                "metricId",
                "The metric was deleted before the operation ran",
            )]);
        };
        let mut details = Vec::new();
        let mut targets = Vec::with_capacity(items.len());
        let mut seen_slots: HashMap<u32, usize> = HashMap::new();
        let mut seen_new: HashMap<ValueKey, usize> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let at = || format!("{prefix}[{i}]");
            let t = self.resolve(p, m, item, &at, &mut details);
            let dup_of = match &t {
                Some(Target::Existing(s)) => seen_slots.insert(*s, i),
                Some(Target::New(k)) => seen_new.insert(k.clone(), i),
                None => None,
            };
            if let Some(first) = dup_of {
                details.push(Detail::new(
                    "DuplicateValue",
                    at(),
                    format!("This value is the same value as {prefix}[{first}]; send each value once per batch"),
                ));
            }
            targets.push(t);
        }
        if !details.is_empty() {
            return Err(details);
        }
        let vals = self.values.get_mut(&metric).expect("metric has values");
        Ok(targets
            .into_iter()
            .zip(items)
            .map(|(t, item)| Self::apply_item(vals, t.expect("no details means resolved"), item))
            .collect())
    }

    /// Creates one value synchronously (`POST .../values`): a value that exists is a 409.
    pub fn create_value(
        &mut self,
        program: &str,
        metric: &str,
        item: UpsertItem,
    ) -> ApiResult<&StoredValue> {
        let (pid, mid) = self.metric_ids(program, metric)?;
        let p = self.program_by_id(pid);
        let m = p.metric(mid).expect("checked");
        let mut details = Vec::new();
        let target = self.resolve(p, m, &item, &|| "body".to_string(), &mut details);
        if let Some(d) = details.first() {
            return Err(
                ApiError::invalid(d.target.trim_start_matches("body."), d.message.clone())
                    .with_details(details),
            );
        }
        if let Some(Target::Existing(_)) = target {
            return Err(ApiError::conflict(
                "A value with this reporting period and coordinates already exists; update it with PATCH or batch upsertion",
            ));
        }
        let vals = self.values.get_mut(&mid).expect("metric has values");
        let id = Self::apply_item(vals, target.expect("resolved"), &item);
        Ok(self.metric_values(mid).get_by_id(id).expect("just created"))
    }

    pub fn value_mut(
        &mut self,
        program: &str,
        metric: &str,
        value: &str,
    ) -> ApiResult<(DataType, &mut StoredValue)> {
        let (_, mid) = self.metric_ids(program, metric)?;
        let dt = self.metric(program, metric)?.data_type;
        let vals = self.values.get_mut(&mid).expect("metric has values");
        let slot = Uuid::try_parse(value)
            .ok()
            .and_then(|u| vals.by_id.get(&u).copied())
            .ok_or_else(|| not_found("metric value", value))?;
        Ok((dt, vals.get_mut(slot).expect("indexed slot")))
    }

    pub fn delete_value(&mut self, program: &str, metric: &str, value: &str) -> ApiResult<()> {
        let (_, mid) = self.metric_ids(program, metric)?;
        let vals = self.values.get_mut(&mid).expect("metric has values");
        let slot = Uuid::try_parse(value)
            .ok()
            .and_then(|u| vals.by_id.get(&u).copied())
            .ok_or_else(|| not_found("metric value", value))?;
        vals.remove(slot);
        Ok(())
    }

    /// Deletes values by id or by (period, coordinates); identifiers that match nothing are
    /// skipped, so a deletion can be resent safely. Returns how many were deleted.
    pub fn batch_delete(
        &mut self,
        program: &str,
        metric: &str,
        items: &[DeleteItem],
    ) -> ApiResult<usize> {
        let (_, mid) = self.metric_ids(program, metric)?;
        if self.in_flight.contains_key(&mid) {
            return Err(ApiError::conflict(
                "A batch upsertion for this metric is still in progress; wait for it to finish before deleting values",
            ));
        }
        let vals = self.values.get_mut(&mid).expect("metric has values");
        let mut slots = Vec::new();
        for (id, period, coords) in items {
            let slot = if let Some(id) = id {
                Uuid::try_parse(id)
                    .ok()
                    .and_then(|u| vals.by_id.get(&u).copied())
            } else {
                let mut c: Coords = Vec::new();
                let mut ok = true;
                for (d, v) in coords {
                    match Uuid::try_parse(d) {
                        Ok(u) => c.push((u, v.clone())),
                        Err(_) => ok = false,
                    }
                }
                c.sort();
                period
                    .filter(|_| ok)
                    .and_then(|period| vals.slot_of_key(&ValueKey { period, coords: c }))
            };
            if let Some(s) = slot {
                slots.push(s);
            }
        }
        let mut n = 0;
        for s in slots {
            if vals.remove(s).is_some() {
                n += 1;
            }
        }
        Ok(n)
    }
}

/// The stored value an item names by id.
fn target_by_id(
    vals: &MetricValues,
    m: &Metric,
    id: &str,
    at: &dyn Fn() -> String,
    details: &mut Vec<Detail>,
) -> Option<Target> {
    let slot = Uuid::try_parse(id)
        .ok()
        .and_then(|u| vals.by_id.get(&u).copied());
    if slot.is_none() {
        details.push(Detail::new(
            "NotFound",
            format!("{}.id", at()),
            format!("No value with id `{id}` exists in metric `{}`", m.id),
        ));
    }
    slot.map(Target::Existing)
}

/// The stored value at an item's reporting period and coordinates, or the new one to create
/// there (whose dimension values must all be active).
fn target_by_key(
    vals: &MetricValues,
    p: &Program,
    m: &Metric,
    item: &UpsertItem,
    at: &dyn Fn() -> String,
    details: &mut Vec<Detail>,
) -> Option<Target> {
    let period = item
        .period
        .expect("form check requires a period without an id");
    let mut coords = known_coords(p, m, item, at, details)?;
    coords.sort();
    let key = ValueKey { period, coords };
    if let Some(slot) = vals.slot_of_key(&key) {
        return Some(Target::Existing(slot));
    }
    // Inactive dimension values cannot be used in new values.
    for (d, dv) in &key.coords {
        let dim = p.dimension(*d).expect("checked");
        if dim.value(dv).is_some_and(|v| !v.active) {
            details.push(Detail::new(
                "InactiveDimensionValue",
                format!("{}.coordinates", at()),
                format!("Dimension value `{dv}` of dimension `{d}` is inactive and cannot be used in a new value"),
            ));
        }
    }
    Some(Target::New(key))
}

/// The item's coordinates, when each names one of the metric's allowed dimensions and a value
/// of it; every one that does not is a problem.
fn known_coords(
    p: &Program,
    m: &Metric,
    item: &UpsertItem,
    at: &dyn Fn() -> String,
    details: &mut Vec<Detail>,
) -> Option<Coords> {
    let mut coords: Coords = Vec::with_capacity(item.coords.len());
    let mut all_known = true;
    for (dim, dv) in &item.coords {
        let t = || format!("{}.coordinates", at());
        let Some(dim_id) = Uuid::try_parse(dim)
            .ok()
            .filter(|u| m.allowed_dimensions.contains(u))
        else {
            details.push(Detail::new(
                "InvalidCoordinates",
                t(),
                format!(
                    "Dimension `{dim}` is not one of the metric's allowed dimensions ({})",
                    m.allowed_dimensions
                        .iter()
                        .map(|u| u.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
            all_known = false;
            continue;
        };
        let dimension = p.dimension(dim_id).expect("allowed dimensions exist");
        match dimension.value(dv) {
            None => {
                details.push(Detail::new(
                    "InvalidCoordinates",
                    t(),
                    format!("Dimension `{dim}` has no value with id `{dv}`"),
                ));
                all_known = false;
            }
            Some(v) => coords.push((dim_id, v.id.clone())),
        }
    }
    all_known.then_some(coords)
}

/// Refuses a status the API does not let a client set on this value (new, or `from`).
fn check_status(
    from: Option<Status>,
    to: Status,
    at: &dyn Fn() -> String,
    details: &mut Vec<Detail>,
) {
    if Status::client_may_set(from, to) {
        return;
    }
    let msg = match from {
        None => format!(
            "A new value may start as notStarted or complete, not {}",
            to.as_str()
        ),
        Some(f) => format!(
            "Status cannot change from {} to {} through the API; only notStarted→complete and complete→notStarted are allowed, other changes go through the task workflow",
            f.as_str(),
            to.as_str()
        ),
    };
    details.push(Detail::new(
        "InvalidStatusTransition",
        format!("{}.status", at()),
        msg,
    ));
}
