//! Validate: source rows against the resolved program, into valid rows and rejects. A pure
//! function of the rows, the pipeline's settings and what `resolve` found: no Workiva, no
//! store, no files. A row is rejected with the file, row, field and a reason that says what
//! to do: unknown metric, bad period, a dimension the metric does not allow, an unknown value,
//! a value that is not of the metric's type, text too long, a bad status, or a key that two
//! rows share (both go).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::canon::canonical;
use super::ids::{Coordinates, DimensionId, DimensionValueId, MetricId, ValueKey};
use super::period::{self, PeriodError};
use super::program::{DimColumn, Mapper, ProgramMeta, UnknownMetric};
use crate::config::{EmptyValues, NewStatus, PipelineConfig};
use crate::outcome::Reject;
use crate::source::{Cell, SourceRow};
use crate::workiva::models::{Metric, ReportingPeriod, ValueStatus};

/// Workiva's limit on a value's and on notes' length, in characters.
pub const MAX_TEXT_CHARS: usize = 32_767;
/// Workiva's limits on a dimension value's id and on a dimension's number of values.
pub use crate::workiva::models::{MAX_DIMENSION_VALUES, MAX_VALUE_ID_CHARS};

/// Where a row came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SrcRef {
    pub file: Arc<str>,
    pub row: u64,
}

/// A validated row.
#[derive(Debug, Clone)]
pub struct Row {
    pub src: SrcRef,
    pub metric_key: Arc<str>,
    pub metric_id: MetricId,
    pub period: ReportingPeriod,
    pub coords: Coordinates,
    /// The canonical value; `None` clears it (only with `empty_values = "clear"`).
    pub value: Option<String>,
    /// `Some` when a notes column is mapped ("" means none).
    pub notes: Option<String>,
    pub status: Option<ValueStatus>,
}

/// Validated rows, rejects, and the keys of rejected rows whose key was known (mirror mode
/// never deletes those: the source still has them, in a form that could not go).
#[derive(Debug, Default)]
pub struct Validated {
    pub rows: Vec<Row>,
    pub rejects: Vec<Reject>,
    pub claimed: HashSet<ValueKey>,
}

/// A cell's text, borrowed when it already is text.
fn cell_str(c: &Cell) -> Option<std::borrow::Cow<'_, str>> {
    match c {
        Cell::Text(t) if t.trim().is_empty() => None,
        Cell::Text(t) => Some(std::borrow::Cow::Borrowed(t.as_str())),
        other => other.text().map(std::borrow::Cow::Owned),
    }
}

/// A rejected row: the field at fault and why.
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

/// Why a row's metric is not known.
#[derive(Debug, Clone, thiserror::Error)]
enum MetricProblem {
    #[error("the metric key is empty")]
    EmptyKey,
    #[error("lake metric key `{0}` is not in [pipeline.metrics]; add it to sync this row")]
    NotMapped(String),
    #[error(transparent)]
    Unknown(UnknownMetric),
}

/// A status cell that is neither `notStarted` nor `complete`.
#[derive(Debug, thiserror::Error)]
#[error("status `{0}` must be notStarted or complete")]
struct BadStatus(String);

/// Why a row cannot go, and its key when the key was known (mirror mode keeps such values).
struct Refusal {
    reject: Reject,
    key: Option<ValueKey>,
}

/// What validating rows needs, and the caches that spare repeated work. A source is
/// validated chunk by chunk as it is read ([`Checker::check`]); [`Checker::finish`] then
/// rejects the keys that two rows share.
pub struct Checker<'a> {
    p: &'a PipelineConfig,
    meta: &'a ProgramMeta,
    mapper: &'a Mapper,
    has_months: bool,
    /// Labels repeat across rows: each is parsed once.
    periods: HashMap<String, Result<ReportingPeriod, PeriodError>>,
    /// Metric keys repeat across rows: each is allocated once.
    keys: HashMap<String, Arc<str>>,
    /// With `create_dimension_values`: the values Workiva lacks that rows use so far, per
    /// dimension, to keep each dimension within Workiva's limit.
    new_values: HashMap<DimensionId, HashSet<String>>,
    /// Dimension value ids repeat across rows: each is held once.
    value_ids: HashMap<String, DimensionValueId>,
    /// `notes_template`, parsed.
    template: Option<crate::config::notes::NotesTemplate>,
}

/// Validates source rows against the program, all at once.
pub fn validate(
    p: &PipelineConfig,
    meta: &ProgramMeta,
    mapper: &Mapper,
    source: Vec<SourceRow>,
) -> Validated {
    let mut c = Checker::new(p, meta, mapper);
    let mut out = Validated {
        rows: Vec::with_capacity(source.len()),
        ..Validated::default()
    };
    c.check(source, &mut out);
    Checker::finish(&mut out);
    out
}

impl<'a> Checker<'a> {
    pub fn new(p: &'a PipelineConfig, meta: &'a ProgramMeta, mapper: &'a Mapper) -> Self {
        Checker {
            p,
            meta,
            mapper,
            has_months: p.columns.year.is_some() && p.columns.start_month.is_some(),
            // A template that does not parse is a configuration problem, refused at load.
            template: p.notes_template().ok().flatten(),
            periods: HashMap::new(),
            keys: HashMap::new(),
            new_values: HashMap::new(),
            value_ids: HashMap::new(),
        }
    }

    /// Validates a chunk of rows into `out`; the raw rows are dropped as they go.
    pub fn check(&mut self, rows: Vec<SourceRow>, out: &mut Validated) {
        for s in rows {
            match self.row(&s) {
                Ok(r) => out.rows.push(r),
                Err(refusal) => {
                    out.claimed.extend(refusal.key);
                    out.rejects.push(refusal.reject);
                }
            }
        }
    }

    /// Once every chunk is checked: two rows with one key are both rejected.
    pub fn finish(out: &mut Validated) {
        reject_duplicates(out);
    }
}

impl Validated {
    /// Adds another origin's results.
    pub fn append(&mut self, mut other: Validated) {
        self.rows.append(&mut other.rows);
        self.rejects.append(&mut other.rejects);
        self.claimed.extend(other.claimed);
    }
}

impl Checker<'_> {
    fn row(&mut self, s: &SourceRow) -> Result<Row, Box<Refusal>> {
        let key_text = cell_str(&s.metric);
        let mk = || key_text.as_deref().map(str::to_string);
        // Refusals are the rare path: boxed, so a valid row travels light.
        let refuse = |field: &str, why: String, period: Option<String>, key: Option<ValueKey>| {
            let metric_key = key_text.as_deref().map(str::to_string);
            Box::new(Refusal {
                reject: reject(s, field, why, metric_key, period),
                key,
            })
        };
        let metric_id = self
            .metric(key_text.as_deref())
            .map_err(|why| refuse("metric", why.to_string(), None, None))?;
        let meta = self.meta;
        let metric = &meta.metrics[&metric_id];
        let per = self.period(s).map_err(|why| {
            let c = &self.p.columns;
            let field = c.period.clone().or(c.year.clone()).unwrap_or_default();
            refuse(&field, why.to_string(), s.period.text(), None)
        })?;
        let label = || Some(period::label(&per));
        let coords = self
            .coordinates(metric, s)
            .map_err(|(field, why)| refuse(&field, why, label(), None))?;
        let key = || ValueKey {
            metric: metric_id.clone(),
            period: per,
            coords: coords.clone(),
        };
        let value_field = self.p.columns.value.as_str();
        let value = self
            .value(s, metric)
            .map_err(|why| refuse(value_field, why, label(), Some(key())))?;
        let notes = self
            .notes(s, key_text.as_deref().unwrap_or(&metric.name))
            .map_err(|why| {
                let field = self.p.columns.notes.as_deref().unwrap_or("notes");
                refuse(field, why, label(), Some(key()))
            })?;
        let status = self.status(s).map_err(|why| {
            let field = self.p.columns.status.as_deref().unwrap_or("status");
            refuse(field, why.to_string(), label(), Some(key()))
        })?;
        let metric_key = match mk() {
            Some(k) => self.intern(k),
            None => Arc::from(metric.name.as_str()),
        };
        Ok(Row {
            src: SrcRef {
                file: s.file.clone(),
                row: s.row,
            },
            metric_key,
            metric_id,
            period: per,
            coords,
            value,
            notes,
            status,
        })
    }

    /// The row's canonical value: of the metric's type, not empty unless empty values clear,
    /// and within Workiva's length.
    #[inline]
    fn value(&self, s: &SourceRow, metric: &Metric) -> Result<Option<String>, String> {
        let value = canonical(&s.value, metric.data_type).map_err(|e| e.to_string())?;
        if value.is_none() && self.p.empty_values == EmptyValues::Reject {
            return Err("the value is empty; fill it in, or set empty_values = \"clear\" to clear Workiva's value".into());
        }
        if let Some(n) = value
            .as_ref()
            .map(|v| v.chars().count())
            .filter(|n| *n > MAX_TEXT_CHARS)
        {
            return Err(format!(
                "the value is {n} characters; Workiva allows {MAX_TEXT_CHARS}"
            ));
        }
        Ok(value)
    }

    /// The row's notes, when a notes column is mapped or `notes_template` makes them, within
    /// Workiva's length.
    #[inline]
    fn notes(&self, s: &SourceRow, metric_key: &str) -> Result<Option<String>, String> {
        let lake = self
            .p
            .columns
            .notes
            .as_ref()
            .map(|_| s.notes.text().unwrap_or_default());
        let Some(t) = &self.template else {
            if lake
                .as_ref()
                .is_some_and(|n| n.chars().count() > MAX_TEXT_CHARS)
            {
                return Err(format!("notes are longer than {MAX_TEXT_CHARS} characters"));
            }
            return Ok(lake);
        };
        let notes = super::notes::render(t, s, lake.as_deref().unwrap_or(""), metric_key);
        let n = notes.chars().count();
        if n > MAX_TEXT_CHARS {
            return Err(format!(
                "the notes notes_template makes are {n} characters; Workiva allows {MAX_TEXT_CHARS}: shorten the template or the lake's notes"
            ));
        }
        Ok(Some(notes))
    }

    fn intern(&mut self, k: String) -> Arc<str> {
        if let Some(a) = self.keys.get(&k) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(k.as_str());
        self.keys.insert(k, a.clone());
        a
    }

    /// The row's metric: the fixed one, or its key through `[pipeline.metrics]`.
    fn metric(&self, key: Option<&str>) -> Result<MetricId, MetricProblem> {
        match (&self.mapper.fixed, key) {
            (Some(id), _) => Ok(id.clone()),
            (None, None) => Err(MetricProblem::EmptyKey),
            (None, Some(k)) => match self.mapper.metrics.get(k) {
                Some(Ok(id)) => Ok(id.clone()),
                Some(Err(why)) => Err(MetricProblem::Unknown(why.clone())),
                None => Err(MetricProblem::NotMapped(k.to_string())),
            },
        }
    }

    fn period(&mut self, s: &SourceRow) -> Result<ReportingPeriod, PeriodError> {
        match (&s.period, self.has_months) {
            (Cell::Text(t), false) => {
                if let Some(r) = self.periods.get(t.as_str()) {
                    return r.clone();
                }
                let r = period::from_cells(&s.period, &s.start_month, &s.end_month, false);
                self.periods.insert(t.clone(), r.clone());
                r
            }
            _ => period::from_cells(&s.period, &s.start_month, &s.end_month, self.has_months),
        }
    }

    /// The row's coordinates, sorted; or the column at fault and why.
    fn coordinates(
        &mut self,
        metric: &Metric,
        s: &SourceRow,
    ) -> Result<Coordinates, (String, String)> {
        let mapper = self.mapper;
        let mut coords = Vec::new();
        for (dc, cell) in mapper.dims.iter().zip(&s.dims) {
            // Only a true null means "no coordinate": a blank cell is a broken value, and
            // dropping the coordinate would overwrite the total with a part.
            let Some(lake) = cell_str(cell) else {
                if matches!(cell, Cell::Null) {
                    continue;
                }
                return Err((
                    dc.column.clone(),
                    "the dimension cell is blank; leave it null for no coordinate, or fill it in"
                        .into(),
                ));
            };
            let value_id = dc
                .values
                .get(lake.as_ref())
                .cloned()
                .unwrap_or_else(|| lake.to_string());
            self.admit(metric, dc, &lake, &value_id)
                .map_err(|why| (dc.column.clone(), why))?;
            coords.push((dc.dimension.clone(), self.value_id(value_id)));
        }
        coords.sort();
        Ok(coords)
    }

    /// Whether `value_id` (read as `lake`) may be the row's coordinate in `dc`'s dimension:
    /// the metric allows the dimension, and the dimension has the value (or, with
    /// `create_dimension_values`, Workiva may be given it).
    #[inline]
    fn admit(
        &mut self,
        metric: &Metric,
        dc: &DimColumn,
        lake: &str,
        value_id: &str,
    ) -> Result<(), String> {
        let meta = self.meta;
        let dim = &meta.dimensions[&dc.dimension];
        if !metric
            .allowed_dimensions
            .iter()
            .any(|d| d == dc.dimension.as_str())
        {
            return Err(format!(
                "metric `{}` does not allow dimension `{}`; remove the column or allow the dimension in Workiva",
                metric.name, dim.name
            ));
        }
        if dim.values.contains_key(value_id) {
            return Ok(());
        }
        if self.p.create_dimension_values {
            return self.new_value(dc, value_id);
        }
        let via = if value_id == lake {
            String::new()
        } else {
            format!(" (mapped from `{lake}`)")
        };
        Err(format!(
            "`{value_id}`{via} is not a value of dimension `{}`; add it in Workiva or map it in [pipeline.dimension_values]",
            dim.name
        ))
    }

    /// A value Workiva lacks, to be added to `dc`'s dimension: its id within Workiva's length,
    /// and the dimension within Workiva's number of values.
    fn new_value(&mut self, dc: &DimColumn, value_id: &str) -> Result<(), String> {
        let meta = self.meta;
        let dim = &meta.dimensions[&dc.dimension];
        let (n, max) = (value_id.chars().count(), MAX_VALUE_ID_CHARS);
        if n > max {
            return Err(format!(
                "`{value_id}` has {n} characters; a dimension value id has at most {max} in Workiva: map it to a shorter id in [pipeline.dimension_values]"
            ));
        }
        let added = self.new_values.entry(dc.dimension.clone()).or_default();
        if !added.contains(value_id) {
            if dim.values.len() + added.len() >= MAX_DIMENSION_VALUES {
                return Err(format!(
                    "`{value_id}` would be value {} of dimension `{}`; Workiva allows {MAX_DIMENSION_VALUES}",
                    dim.values.len() + added.len() + 1,
                    dim.name
                ));
            }
            added.insert(value_id.to_string());
        }
        Ok(())
    }

    /// The value id, held once however many rows name it.
    #[inline]
    fn value_id(&mut self, value_id: String) -> DimensionValueId {
        match self.value_ids.get(value_id.as_str()) {
            Some(id) => id.clone(),
            None => {
                let id = DimensionValueId::new(value_id.clone());
                self.value_ids.insert(value_id, id.clone());
                id
            }
        }
    }

    /// The status column, when statuses come from the lake.
    fn status(&self, s: &SourceRow) -> Result<Option<ValueStatus>, BadStatus> {
        if self.p.status.new != NewStatus::Column {
            return Ok(None);
        }
        match s.status.text().as_deref() {
            Some("notStarted") => Ok(Some(ValueStatus::NotStarted)),
            Some("complete") => Ok(Some(ValueStatus::Complete)),
            other => Err(BadStatus(other.unwrap_or("").to_string())),
        }
    }
}

/// Two rows with one key are ambiguous: both are rejected, each naming the other. Each row's
/// key is hashed once and the (hash, row) pairs sorted, so equal keys lie side by side: 12
/// bytes a row instead of a map of every key, and the keys compared only where hashes meet.
fn reject_duplicates(v: &mut Validated) {
    use std::hash::BuildHasher;
    let rows = &v.rows;
    let key = |i: usize| {
        let r = &rows[i];
        (&r.metric_id, r.period, r.coords.as_slice())
    };
    let hasher = foldhash::fast::RandomState::default();
    let mut hashed: Vec<(u64, u32)> = (0..rows.len())
        .map(|i| (hasher.hash_one(key(i)), i as u32))
        .collect();
    hashed.sort_unstable();
    // Rows that share a key with an earlier one, grouped: the first row's index, then the rest.
    let mut seen: Vec<Vec<usize>> = Vec::new();
    for run in hashed.chunk_by(|a, b| a.0 == b.0).filter(|r| r.len() > 1) {
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for &(_, i) in run {
            let i = i as usize;
            match groups.iter_mut().find(|g| key(g[0]) == key(i)) {
                Some(g) => g.push(i),
                None => groups.push(vec![i]),
            }
        }
        seen.extend(groups.into_iter().filter(|g| g.len() > 1));
    }
    drop(hashed);
    if seen.is_empty() {
        return;
    }
    let seen: Vec<(_, Vec<usize>)> = seen.into_iter().map(|g| (key(g[0]), g)).collect();
    let mut dropped = HashSet::new();
    for (k, idx) in seen.iter() {
        v.claimed.insert(ValueKey {
            metric: k.0.clone(),
            period: k.1,
            coords: k.2.to_vec(),
        });
        let places: Vec<String> = idx
            .iter()
            .map(|&i| format!("{} row {}", rows[i].src.file, rows[i].src.row))
            .collect();
        for &i in idx {
            let r = &rows[i];
            dropped.insert(i);
            v.rejects.push(Reject {
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
    drop(seen);
    let mut i = 0;
    v.rows.retain(|_| {
        i += 1;
        !dropped.contains(&(i - 1))
    });
}
