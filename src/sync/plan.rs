//! Resolve, validate and diff: from source rows and Workiva's current values to a plan of
//! what to create, update, leave, report as locked, delete and reject. No writes happen here.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use serde_json::json;

use super::canon::{canonical, canonical_stored};
use super::period;
use crate::config::{Mode, NewStatus, OnCompleteChanged, PipelineConfig};
use crate::source::{Cell, SourceRow};
use crate::store::{Counts, Reject, Store};
use crate::workiva::models::{DataType, Metric, MetricValue, ReportingPeriod, ValueStatus};
use crate::workiva::{ListOptions, WorkivaClient, WorkivaError};

/// Where a row came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SrcRef {
    pub file: Arc<str>,
    pub row: u64,
}

/// What identifies a value: metric, period, coordinates (dimension id -> value id, sorted).
pub type Key = (String, ReportingPeriod, Vec<(String, String)>);

/// A dimension with its values: id -> active.
#[derive(Debug, Clone)]
pub struct DimMeta {
    pub id: String,
    pub name: String,
    pub values: HashMap<String, bool>,
}

/// What the program holds, as far as the pipeline needs it.
#[derive(Debug, Clone)]
pub struct ProgramMeta {
    pub id: String,
    pub metrics: HashMap<String, Metric>,
    pub dimensions: HashMap<String, DimMeta>,
}

/// A validated row.
#[derive(Debug, Clone)]
pub struct Row {
    pub src: SrcRef,
    pub metric_key: Arc<str>,
    pub metric_id: String,
    pub period: ReportingPeriod,
    pub coords: Vec<(String, String)>,
    pub value: Option<String>,
    /// `Some` when a notes column is mapped ("" means none).
    pub notes: Option<String>,
    pub status: Option<ValueStatus>,
}

/// One value to write, with the rows it came from.
#[derive(Debug, Clone)]
pub struct Write {
    pub item: MetricValue,
    pub src: SrcRef,
    pub create: bool,
}

/// What the plan does to one metric.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MetricPlan {
    pub metric_id: String,
    pub metric_name: String,
    pub creates: usize,
    pub updates: usize,
    pub unchanged: usize,
    pub locked: usize,
    pub deletes: usize,
    pub rejects: usize,
    #[serde(skip)]
    pub writes: Vec<Write>,
    #[serde(skip)]
    pub delete_ids: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub pipeline: String,
    pub program_id: String,
    pub metrics: Vec<MetricPlan>,
    pub rejects: Vec<Reject>,
    pub read: usize,
    /// Values of the pipeline's scope in Workiva (for the mirror guard).
    pub in_scope: usize,
}

impl Plan {
    pub fn counts(&self) -> Counts {
        let mut c = Counts {
            read: self.read as i64,
            rejected: self.rejects.len() as i64,
            ..Counts::default()
        };
        for m in &self.metrics {
            c.created += m.creates as i64;
            c.updated += m.updates as i64;
            c.unchanged += m.unchanged as i64;
            c.locked += m.locked as i64;
            c.deleted += m.deletes as i64;
        }
        c
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Workiva(#[from] WorkivaError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Source(#[from] crate::source::parquet::SourceError),
    #[error("pipeline `{pipeline}`: {message}")]
    Config { pipeline: String, message: String },
}

fn is_uuid(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok()
}

/// The program's id: given, or by name through the mapping store. A cached id that Workiva
/// answers 404 for is dropped and looked up again.
pub async fn resolve_program(
    client: &WorkivaClient,
    store: &Store,
    given: &str,
    pipeline: &str,
) -> Result<String, PlanError> {
    if is_uuid(given) {
        client.program(given).await?;
        return Ok(given.to_string());
    }
    if let Some(id) = store.mapping_get("program", "", given).await? {
        match client.program(&id).await {
            Ok(p) if p.name == given => return Ok(id),
            Ok(_) => store.mapping_drop("program", "", given).await?,
            Err(e) if e.status() == Some(404) => {
                tracing::info!(
                    program = given,
                    "The cached program id is gone from Workiva; looking the name up again."
                );
                store.mapping_drop("program", "", given).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    match client.find_program(given).await? {
        Some(p) => {
            store.mapping_put("program", "", given, &p.id).await?;
            Ok(p.id)
        }
        None => Err(PlanError::Config {
            pipeline: pipeline.into(),
            message: format!(
                "no Workiva program is named `{given}`; check `program` (run `esg-sync inspect programs`)"
            ),
        }),
    }
}

/// Reads the program's metrics and dimensions (each dimension with its values).
pub async fn load_program(client: &WorkivaClient, program: &str) -> Result<ProgramMeta, PlanError> {
    let metrics = client.metrics(program, &ListOptions::default()).await?;
    let mut dimensions = HashMap::new();
    for d in client.dimensions(program, &ListOptions::default()).await? {
        let full = client.dimension(program, &d.id).await?;
        let values = full
            .values
            .unwrap_or_default()
            .into_iter()
            .map(|v| (v.id.clone(), v.is_active()))
            .collect();
        dimensions.insert(
            d.id.clone(),
            DimMeta {
                id: d.id,
                name: d.name.unwrap_or_default(),
                values,
            },
        );
    }
    Ok(ProgramMeta {
        id: program.to_string(),
        metrics: metrics.into_iter().map(|m| (m.id.clone(), m)).collect(),
        dimensions,
    })
}

/// A metric given by id or name, through the mapping store; the listing is authoritative, so
/// a cached id that is no longer in the program is dropped and the name resolved again.
async fn resolve_metric(
    meta: &ProgramMeta,
    store: &Store,
    given: &str,
) -> Result<Option<String>, PlanError> {
    if meta.metrics.contains_key(given) {
        return Ok(Some(given.to_string()));
    }
    if let Some(id) = store.mapping_get("metric", &meta.id, given).await? {
        if meta.metrics.get(&id).is_some_and(|m| m.name == given) {
            return Ok(Some(id));
        }
        store.mapping_drop("metric", &meta.id, given).await?;
    }
    let found = meta
        .metrics
        .values()
        .find(|m| m.name == given)
        .map(|m| m.id.clone());
    if let Some(id) = &found {
        store.mapping_put("metric", &meta.id, given, id).await?;
    }
    Ok(found)
}

fn resolve_dimension(meta: &ProgramMeta, given: &str) -> Option<String> {
    if meta.dimensions.contains_key(given) {
        return Some(given.to_string());
    }
    meta.dimensions
        .values()
        .find(|d| d.name == given)
        .map(|d| d.id.clone())
}

/// Reads a `lake_value,workiva_value_id` CSV (header optional, quotes allowed).
fn read_value_map(path: &std::path::Path) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let cells: Vec<String> = split_csv(line);
        if cells.len() < 2 {
            return Err(format!(
                "{} line {}: expected `lake_value,workiva_value_id`",
                path.display(),
                i + 1
            ));
        }
        if i == 0 && cells[0].eq_ignore_ascii_case("lake_value") {
            continue;
        }
        out.insert(cells[0].clone(), cells[1].clone());
    }
    Ok(out)
}

fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().map(|s| s.trim().to_string()).collect()
}

struct Mapper {
    /// lake metric key -> metric id (or an error to report per row).
    metrics: HashMap<String, Result<String, String>>,
    fixed: Option<String>,
    /// In the order of `columns.dimensions`: (column, dimension id, value map).
    dims: Vec<(String, String, BTreeMap<String, String>)>,
}

/// A cell's text, borrowed when it already is text.
fn cell_str(c: &Cell) -> Option<std::borrow::Cow<'_, str>> {
    match c {
        Cell::Text(t) if t.trim().is_empty() => None,
        Cell::Text(t) => Some(std::borrow::Cow::Borrowed(t.as_str())),
        other => other.text().map(std::borrow::Cow::Owned),
    }
}

fn reject(
    src: &SourceRow,
    field: &str,
    reason: String,
    metric_key: Option<String>,
    period: Option<String>,
) -> Reject {
    Reject {
        source_file: src.file.to_string(),
        source_row: src.row as i64,
        field: field.to_string(),
        reason,
        metric_key,
        period,
        value: src.value.text().map(|v| v.chars().take(200).collect()),
    }
}

async fn mapper(
    p: &PipelineConfig,
    meta: &ProgramMeta,
    store: &Store,
) -> Result<Mapper, PlanError> {
    let cfg_err = |message: String| PlanError::Config {
        pipeline: p.name.clone(),
        message,
    };
    let mut metrics = HashMap::new();
    for (key, target) in &p.metrics {
        let r = resolve_metric(meta, store, target).await?;
        metrics.insert(
            key.clone(),
            r.ok_or_else(|| format!("lake metric `{key}` maps to `{target}`, which is not a metric of the program; fix [pipeline.metrics]")),
        );
    }
    let fixed = match &p.columns.fixed_metric {
        Some(m) => Some(resolve_metric(meta, store, m).await?.ok_or_else(|| {
            cfg_err(format!(
                "columns.fixed_metric `{m}` is not a metric of the program"
            ))
        })?),
        None => None,
    };
    let mut dims = Vec::new();
    for (column, target) in &p.columns.dimensions {
        let id = resolve_dimension(meta, target).ok_or_else(|| cfg_err(format!("columns.dimensions.{column} names dimension `{target}`, which the program does not have")))?;
        let mut map = BTreeMap::new();
        let name = &meta.dimensions[&id].name;
        for key in [target.as_str(), id.as_str(), name.as_str()] {
            if let Some(m) = p.dimension_values.get(key) {
                map.extend(m.clone());
            }
            if let Some(f) = p.dimension_values_csv.get(key) {
                map.extend(read_value_map(f).map_err(cfg_err)?);
            }
        }
        dims.push((column.clone(), id, map));
    }
    Ok(Mapper {
        metrics,
        fixed,
        dims,
    })
}

/// Validated rows, rejects, and the keys of rejected rows whose key was known (mirror mode
/// never deletes those: the source still has them, in a form that could not go).
pub struct Validated {
    pub rows: Vec<Row>,
    pub rejects: Vec<Reject>,
    pub claimed: HashSet<Key>,
}

/// Validates source rows against the program.
pub async fn validate(
    p: &PipelineConfig,
    meta: &ProgramMeta,
    store: &Store,
    source: Vec<SourceRow>,
) -> Result<Validated, PlanError> {
    let mut claimed = HashSet::new();
    let m = mapper(p, meta, store).await?;
    let has_months = p.columns.year.is_some() && p.columns.start_month.is_some();
    let mut rows = Vec::with_capacity(source.len());
    let mut rejects = Vec::new();
    let mut period_cache: HashMap<String, Result<ReportingPeriod, String>> = HashMap::new();
    let mut keys: HashMap<String, Arc<str>> = HashMap::new();
    for s in source {
        let metric_key_ref = cell_str(&s.metric);
        let mk = || metric_key_ref.as_deref().map(str::to_string);
        let metric_id = match (&m.fixed, &metric_key_ref) {
            (Some(id), _) => id.clone(),
            (None, None) => {
                rejects.push(reject(
                    &s,
                    "metric",
                    "the metric key is empty".into(),
                    None,
                    None,
                ));
                continue;
            }
            (None, Some(k)) => match m.metrics.get(k.as_ref()) {
                Some(Ok(id)) => id.clone(),
                Some(Err(why)) => {
                    rejects.push(reject(&s, "metric", why.clone(), mk(), None));
                    continue;
                }
                None => {
                    rejects.push(reject(&s, "metric", format!("lake metric key `{k}` is not in [pipeline.metrics]; add it to sync this row"), mk(), None));
                    continue;
                }
            },
        };
        let metric = &meta.metrics[&metric_id];
        // Labels repeat across rows: parse each once.
        let parsed = match (&s.period, has_months) {
            (Cell::Text(t), false) => match period_cache.get(t.as_str()) {
                Some(r) => r.clone(),
                None => {
                    let r = period::from_cells(&s.period, &s.start_month, &s.end_month, false);
                    period_cache.insert(t.clone(), r.clone());
                    r
                }
            },
            _ => period::from_cells(&s.period, &s.start_month, &s.end_month, has_months),
        };
        let per = match parsed {
            Ok(x) => x,
            Err(why) => {
                let field = p
                    .columns
                    .period
                    .clone()
                    .or(p.columns.year.clone())
                    .unwrap_or_default();
                rejects.push(reject(&s, &field, why, mk(), s.period.text()));
                continue;
            }
        };
        let plabel = || Some(period::label(&per));
        let mut coords = Vec::new();
        let mut bad = None;
        for ((column, dim_id, map), cell) in m.dims.iter().zip(&s.dims) {
            let Some(lake) = cell_str(cell) else { continue };
            let value_id = map
                .get(lake.as_ref())
                .cloned()
                .unwrap_or_else(|| lake.to_string());
            let dim = &meta.dimensions[dim_id];
            if !metric.allowed_dimensions.contains(dim_id) {
                bad = Some((
                    column.clone(),
                    format!(
                        "metric `{}` does not allow dimension `{}`; remove the column or allow the dimension in Workiva",
                        metric.name, dim.name
                    ),
                ));
                break;
            }
            if !dim.values.contains_key(&value_id) {
                let via = if value_id == lake {
                    String::new()
                } else {
                    format!(" (mapped from `{lake}`)")
                };
                bad = Some((
                    column.clone(),
                    format!(
                        "`{value_id}`{via} is not a value of dimension `{}`; add it in Workiva or map it in [pipeline.dimension_values]",
                        dim.name
                    ),
                ));
                break;
            }
            coords.push((dim_id.clone(), value_id));
        }
        if let Some((field, why)) = bad {
            rejects.push(reject(&s, &field, why, mk(), plabel()));
            continue;
        }
        coords.sort();
        let key = || -> Key { (metric_id.clone(), per, coords.clone()) };
        let value = match canonical(&s.value, metric.data_type) {
            Ok(v) => v,
            Err(why) => {
                claimed.insert(key());
                rejects.push(reject(&s, &p.columns.value, why, mk(), plabel()));
                continue;
            }
        };
        if let Some(v) = &value
            && v.chars().count() > 32_767
        {
            claimed.insert(key());
            rejects.push(reject(
                &s,
                &p.columns.value,
                format!(
                    "the value is {} characters; Workiva allows 32767",
                    v.chars().count()
                ),
                mk(),
                plabel(),
            ));
            continue;
        }
        let notes = if p.columns.notes.is_some() {
            Some(s.notes.text().unwrap_or_default())
        } else {
            None
        };
        if notes.as_ref().is_some_and(|n| n.chars().count() > 32_767) {
            claimed.insert(key());
            rejects.push(reject(
                &s,
                p.columns.notes.as_deref().unwrap_or("notes"),
                "notes are longer than 32767 characters".into(),
                mk(),
                plabel(),
            ));
            continue;
        }
        let status = if p.status.new == NewStatus::Column {
            match s.status.text().as_deref() {
                Some("notStarted") => Some(ValueStatus::NotStarted),
                Some("complete") => Some(ValueStatus::Complete),
                other => {
                    claimed.insert(key());
                    rejects.push(reject(
                        &s,
                        p.columns.status.as_deref().unwrap_or("status"),
                        format!(
                            "status `{}` must be notStarted or complete",
                            other.unwrap_or("")
                        ),
                        mk(),
                        plabel(),
                    ));
                    continue;
                }
            }
        } else {
            None
        };
        rows.push(Row {
            src: SrcRef {
                file: s.file.clone(),
                row: s.row,
            },
            metric_key: match &metric_key_ref {
                Some(k) => keys.get(k.as_ref()).cloned().unwrap_or_else(|| {
                    let a: Arc<str> = Arc::from(k.as_ref());
                    keys.insert(k.to_string(), a.clone());
                    a
                }),
                None => Arc::from(metric.name.as_str()),
            },
            metric_id,
            period: per,
            coords,
            value,
            notes,
            status,
        });
    }
    // Two rows with one key are ambiguous: both are rejected.
    // First row of each key, borrowed from the rows; only keys seen twice get a list.
    type Borrowed<'r> = (&'r str, ReportingPeriod, &'r [(String, String)]);
    let mut first: HashMap<Borrowed<'_>, usize> = HashMap::with_capacity(rows.len());
    let mut seen: HashMap<Borrowed<'_>, Vec<usize>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        let k = (r.metric_id.as_str(), r.period, r.coords.as_slice());
        match first.entry(k) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(i);
            }
            std::collections::hash_map::Entry::Occupied(e) => {
                seen.entry(k).or_insert_with(|| vec![*e.get()]).push(i)
            }
        }
    }
    drop(first);
    let mut drop = HashSet::new();
    for (k, idx) in seen.iter() {
        claimed.insert((k.0.to_string(), k.1, k.2.to_vec()));
        let places: Vec<String> = idx
            .iter()
            .map(|&i| format!("{} row {}", rows[i].src.file, rows[i].src.row))
            .collect();
        for &i in idx {
            let r = &rows[i];
            drop.insert(i);
            rejects.push(Reject {
                source_file: r.src.file.to_string(),
                source_row: r.src.row as i64,
                field: "key".into(),
                reason: format!(
                    "ambiguous: {} give the same metric, period and coordinates; keep one",
                    places.join(" and ")
                ),
                metric_key: Some(r.metric_key.to_string()),
                period: Some(period::label(&r.period)),
                value: r.value.clone(),
            });
        }
    }
    let rows = rows
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !drop.contains(i))
        .map(|(_, r)| r)
        .collect();
    Ok(Validated {
        rows,
        rejects,
        claimed,
    })
}

/// The `$filter` for the years in scope.
pub fn years_filter(years: &BTreeSet<u16>) -> Option<String> {
    let (first, last) = (years.first()?, years.last()?);
    if years.len() <= 20 {
        Some(format!(
            "reportingPeriod.year in ({})",
            years
                .iter()
                .map(|y| y.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    } else {
        Some(format!(
            "reportingPeriod.year ge {first} and reportingPeriod.year le {last}"
        ))
    }
}

/// Diffs one metric's rows against what Workiva holds.
pub fn diff_metric(
    p: &PipelineConfig,
    meta: &ProgramMeta,
    metric: &Metric,
    rows: Vec<Row>,
    existing: Vec<MetricValue>,
    claimed: &HashSet<Key>,
) -> (MetricPlan, Vec<Reject>) {
    let dt: DataType = metric.data_type;
    let mut plan = MetricPlan {
        metric_id: metric.id.clone(),
        metric_name: metric.name.clone(),
        ..MetricPlan::default()
    };
    let mut rejects = Vec::new();
    // Within one metric a value is identified by period and coordinates; the coordinates are
    // moved, not copied, into the keys (a BTreeMap iterates sorted, as keys need).
    type LocalKey = (ReportingPeriod, Vec<(String, String)>);
    let mut by_key: HashMap<LocalKey, MetricValue> = HashMap::with_capacity(existing.len());
    for mut v in existing {
        let Some(period) = v.reporting_period else {
            continue;
        };
        let coords: Vec<(String, String)> = v
            .coordinates
            .take()
            .unwrap_or_default()
            .into_iter()
            .collect();
        by_key.insert((period, coords), v);
    }
    let mirror = p.mode == Mode::Mirror;
    let mut seen: HashSet<LocalKey> = HashSet::new();
    for mut r in rows {
        let key: LocalKey = (r.period, std::mem::take(&mut r.coords));
        let current = by_key.get(&key);
        if let Some(cur) = current {
            // Unchanged rows, the common case, cost no allocation beyond the key.
            let stored = cur.value.as_deref().unwrap_or("");
            let wanted = r.value.as_deref().unwrap_or("");
            let same_value = stored == wanted || canonical_stored(stored, dt) == wanted;
            let same_notes = r
                .notes
                .as_ref()
                .is_none_or(|n| n == cur.notes.as_deref().unwrap_or(""));
            let same_status = r.status.is_none_or(|s| s == cur.status.unwrap_or_default());
            if same_value && same_notes && same_status {
                plan.unchanged += 1;
                if mirror {
                    seen.insert(key);
                }
                continue;
            }
        }
        let coords: BTreeMap<String, String> = key.1.iter().cloned().collect();
        if mirror {
            seen.insert(key.clone());
        }
        let mut item = MetricValue {
            value: Some(r.value.clone().unwrap_or_default()),
            reporting_period: Some(r.period),
            coordinates: Some(coords),
            ..MetricValue::default()
        };
        match &r.notes {
            Some(n) if n.is_empty() => item.fields_to_clear.push("notes".into()),
            Some(n) => item.notes = Some(n.clone()),
            None => {}
        }
        let Some(cur) = current else {
            if let Some((d, v)) = key.1.iter().find(|(d, v)| {
                meta.dimensions.get(d).and_then(|dm| dm.values.get(v)) == Some(&false)
            }) {
                let dim = &meta.dimensions[d].name;
                rejects.push(Reject {
                    source_file: r.src.file.to_string(),
                    source_row: r.src.row as i64,
                    field: "coordinates".into(),
                    reason: format!("dimension value `{v}` of `{dim}` is inactive and cannot be used in a new value; activate it in Workiva"),
                    metric_key: Some(r.metric_key.to_string()),
                    period: Some(period::label(&r.period)),
                    value: r.value.clone(),
                });
                plan.rejects += 1;
                continue;
            }
            // A new value has no notes to clear.
            item.fields_to_clear.clear();
            item.status = match p.status.new {
                NewStatus::NotStarted => Some(ValueStatus::NotStarted),
                NewStatus::Complete => Some(ValueStatus::Complete),
                NewStatus::Column => r.status,
            };
            plan.creates += 1;
            plan.writes.push(Write {
                item,
                src: r.src,
                create: true,
            });
            continue;
        };
        let cur_status = cur.status.unwrap_or_default();
        let stored = cur.value.as_deref().unwrap_or("");
        let wanted = r.value.as_deref().unwrap_or("");
        let same_value = stored == wanted || canonical_stored(stored, dt) == wanted;
        let same_notes = r
            .notes
            .as_ref()
            .is_none_or(|n| n == cur.notes.as_deref().unwrap_or(""));
        if r.notes.as_ref().is_some_and(|n| n.is_empty()) && cur.notes.is_none() {
            item.fields_to_clear.clear();
        }
        match cur_status {
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
                        OnCompleteChanged::Skip => {
                            plan.locked += 1;
                            continue;
                        }
                    }
                }
                if let Some(s) = r.status
                    && (same_value && same_notes || p.status.new == NewStatus::Column)
                {
                    item.status = Some(s);
                }
            }
            _ => {
                plan.locked += 1;
                continue;
            }
        }
        plan.updates += 1;
        plan.writes.push(Write {
            item,
            src: r.src,
            create: false,
        });
    }
    if mirror {
        for (k, v) in by_key {
            if seen.contains(&k) || claimed.contains(&(metric.id.clone(), k.0, k.1.clone())) {
                continue;
            }
            match v.status.unwrap_or_default() {
                ValueStatus::NotStarted | ValueStatus::Complete => {
                    if let Some(id) = v.id {
                        plan.delete_ids.push(id);
                        plan.deletes += 1;
                    }
                }
                _ => plan.locked += 1,
            }
        }
        plan.delete_ids.sort();
    }
    (plan, rejects)
}

/// Serialises a write, for chunking.
pub fn item_json(w: &Write) -> Vec<u8> {
    serde_json::to_vec(&w.item).unwrap_or_else(|_| json!({}).to_string().into_bytes())
}
