//! Loading a seed metric's values: through the API's batch rules, then given the statuses,
//! attachments and ids the seed names (which the API would not let a client set).

use uuid::Uuid;

use super::{SeedError, SeedMetric, SeedPeriod, SeedProblem, SeedValue, coords, refused};
use crate::error::Detail;
use crate::model::{Metric, MetricValues, Period, Program, Status, UpsertItem};
use crate::store::Store;

/// Loads a seed metric's values, all or nothing.
pub(super) fn load_values(
    store: &mut Store,
    pid: &str,
    metric: &Metric,
    m: &SeedMetric,
    ctx: &str,
) -> Result<(), SeedError> {
    let p = store.program(pid).map_err(|e| refused(ctx, e))?;
    let mut items = Vec::with_capacity(m.values.len());
    let mut statuses = Vec::with_capacity(m.values.len());
    for (i, v) in m.values.iter().enumerate() {
        let (item, status) = upsert_item(p, v, &format!("{ctx}, values[{i}]"))?;
        items.push(item);
        statuses.push(status);
    }
    let program = p.id;
    let ids = store
        .upsert_all(program, metric.id, &items, "values")
        .map_err(|details| batch_refusal(ctx, &details))?;
    let mv = store.values.get_mut(&metric.id).expect("metric has values");
    for ((id, status), sv) in ids.into_iter().zip(statuses).zip(&m.values) {
        finish_value(mv, id, status, sv, ctx)?;
    }
    Ok(())
}

/// A seed value as a batch item, and the status to give it once stored.
fn upsert_item(
    p: &Program,
    v: &SeedValue,
    vctx: &str,
) -> Result<(UpsertItem, Option<Status>), SeedError> {
    let period = period(&v.reporting_period, vctx)?;
    let status = match &v.status {
        Some(s) => Some(Status::parse(s).ok_or_else(|| SeedProblem::Status(s.clone()).at(vctx))?),
        None => None,
    };
    let item = UpsertItem {
        id: None,
        period: Some(period),
        coords: coords(p, &v.coordinates, vctx)?,
        value: Some(v.value.clone()),
        status: None,
        notes: v.notes.clone(),
        task: None,
        data_source: None,
        fields_to_clear: Vec::new(),
    };
    Ok((item, status))
}

/// A seed's reporting period, refused when its year, months or order are out of range.
fn period(rp: &SeedPeriod, vctx: &str) -> Result<Period, SeedError> {
    let period = Period {
        year: rp.year,
        start: rp.start,
        end: rp.end,
    };
    if !(1000..=9999).contains(&period.year)
        || !(1..=12).contains(&period.start)
        || !(1..=12).contains(&period.end)
        || period.start > period.end
    {
        return Err(SeedProblem::PeriodOutOfRange(period).at(vctx));
    }
    Ok(period)
}

/// The batch's refusal: its first problem, and how many there are.
fn batch_refusal(ctx: &str, details: &[Detail]) -> SeedError {
    let (message, target) = details
        .first()
        .map_or_else(Default::default, |d| (d.message.clone(), d.target.clone()));
    SeedProblem::Batch {
        message,
        target,
        count: details.len(),
    }
    .at(ctx)
}

/// Gives a stored value the status, attachments and id its seed names. An exported tenant
/// keeps its value ids; one given twice is refused.
fn finish_value(
    mv: &mut MetricValues,
    id: Uuid,
    status: Option<Status>,
    sv: &SeedValue,
    ctx: &str,
) -> Result<(), SeedError> {
    let Some(&slot) = mv.by_id.get(&id) else {
        return Ok(());
    };
    if let Some(v) = mv.get_mut(slot) {
        if let Some(s) = status {
            v.status = s;
        }
        v.attachments = sv.supporting_attachments.clone();
    }
    if let Some(want) = sv.id.filter(|w| *w != id) {
        if mv.by_id.contains_key(&want) {
            return Err(SeedProblem::ValueIdGivenTwice(want).at(ctx));
        }
        mv.by_id.remove(&id);
        mv.by_id.insert(want, slot);
        if let Some(v) = mv.get_mut(slot) {
            v.id = want;
        }
    }
    Ok(())
}
