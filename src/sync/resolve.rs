//! Resolve: everything planning reads, read before anything is validated. The program (by id,
//! or by name through the mapping store), its metrics and dimensions with their values, the
//! pipeline's lake keys turned into Workiva ids, the dimension value maps, and (per metric,
//! as the diff asks) the values Workiva holds now. All I/O of planning happens here; the
//! mapping store is only read: what it should learn is returned as [`MappingChange`]s, which a
//! run applies and a dry run does not.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use super::error::{PlanError, ValueMapError};
use super::ids::{DimensionId, DimensionValueId, MetricId, ProgramId};
pub use super::program::{DimColumn, DimMeta, Mapper, ProgramMeta, UnknownMetric};
use crate::config::PipelineConfig;
use crate::store::{MappingKind, Store, StoreError};
use crate::workiva::models::ListedValue;
use crate::workiva::{ListOptions, WorkivaClient, WorkivaError};

/// Something the mapping store should learn from this resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingChange {
    Put {
        kind: MappingKind,
        scope: String,
        name: String,
        id: String,
    },
    Drop {
        kind: MappingKind,
        scope: String,
        name: String,
    },
}

/// What planning needs before it validates a row.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub meta: ProgramMeta,
    pub mapper: Mapper,
    pub mapping_changes: Vec<MappingChange>,
}

/// Resolves the pipeline's program, metrics, dimensions and value maps.
pub async fn resolve(
    client: &WorkivaClient,
    store: &Store,
    p: &PipelineConfig,
) -> Result<Resolved, PlanError> {
    let mut changes = Vec::new();
    let program = resolve_program(client, store, &p.program, &p.name, &mut changes).await?;
    let meta = load_program(client, &program).await?;
    let mapper = mapper(p, &meta, store, &mut changes).await?;
    Ok(Resolved {
        meta,
        mapper,
        mapping_changes: changes,
    })
}

/// Writes what resolving learnt into the mapping store.
pub async fn apply_mapping_changes(
    store: &Store,
    changes: &[MappingChange],
) -> Result<(), StoreError> {
    for c in changes {
        match c {
            MappingChange::Put {
                kind,
                scope,
                name,
                id,
            } => store.mapping_put(*kind, scope, name, id).await?,
            MappingChange::Drop { kind, scope, name } => {
                store.mapping_drop(*kind, scope, name).await?
            }
        }
    }
    Ok(())
}

fn is_uuid(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok()
}

/// The program's id: given, or by name through the mapping store. A cached id that Workiva
/// answers 404 for (or that now names another program) is dropped and the name looked up
/// again.
pub async fn resolve_program(
    client: &WorkivaClient,
    store: &Store,
    given: &str,
    pipeline: &str,
    changes: &mut Vec<MappingChange>,
) -> Result<ProgramId, PlanError> {
    if is_uuid(given) {
        client.program(given).await?;
        return Ok(ProgramId::new(given));
    }
    let drop = || MappingChange::Drop {
        kind: MappingKind::Program,
        scope: String::new(),
        name: given.to_string(),
    };
    if let Some(id) = store.mapping_get(MappingKind::Program, "", given).await? {
        match client.program(&id).await {
            Ok(p) if p.name == given => return Ok(ProgramId::new(id)),
            Ok(_) => changes.push(drop()),
            Err(e) if e.status() == Some(404) => {
                tracing::info!(
                    program = given,
                    "The cached program id is gone from Workiva; looking the name up again."
                );
                changes.push(drop());
            }
            Err(e) => return Err(e.into()),
        }
    }
    match client.find_program(given).await? {
        Some(p) => {
            changes.push(MappingChange::Put {
                kind: MappingKind::Program,
                scope: String::new(),
                name: given.to_string(),
                id: p.id.clone(),
            });
            Ok(ProgramId::new(p.id))
        }
        None => Err(PlanError::UnknownProgram {
            pipeline: pipeline.into(),
            program: given.into(),
        }),
    }
}

/// Reads the program's metrics and dimensions (each dimension with its values).
pub async fn load_program(
    client: &WorkivaClient,
    program: &ProgramId,
) -> Result<ProgramMeta, PlanError> {
    let pid = program.as_str();
    let metrics = client.metrics(pid, &ListOptions::default()).await?;
    let mut dimensions = HashMap::new();
    for d in client.dimensions(pid, &ListOptions::default()).await? {
        let full = client.dimension(pid, &d.id).await?;
        let values = full
            .values
            .unwrap_or_default()
            .into_iter()
            .map(|v| (DimensionValueId::new(v.id.clone()), v.is_active()))
            .collect();
        let id = DimensionId::new(d.id);
        dimensions.insert(
            id.clone(),
            DimMeta {
                id,
                name: d.name.unwrap_or_default(),
                values,
            },
        );
    }
    Ok(ProgramMeta {
        id: program.clone(),
        metrics: metrics
            .into_iter()
            .map(|m| (MetricId::new(m.id.clone()), m))
            .collect(),
        dimensions,
    })
}

/// A metric given by id or name, through the mapping store; the listing is authoritative, so
/// a cached id that is no longer in the program is dropped and the name resolved again.
async fn resolve_metric(
    meta: &ProgramMeta,
    store: &Store,
    given: &str,
    changes: &mut Vec<MappingChange>,
) -> Result<Option<MetricId>, PlanError> {
    if meta.metrics.contains_key(given) {
        return Ok(Some(MetricId::new(given)));
    }
    let scope = meta.id.as_str();
    if let Some(id) = store.mapping_get(MappingKind::Metric, scope, given).await? {
        if meta
            .metrics
            .get(id.as_str())
            .is_some_and(|m| m.name == given)
        {
            return Ok(Some(MetricId::new(id)));
        }
        changes.push(MappingChange::Drop {
            kind: MappingKind::Metric,
            scope: scope.to_string(),
            name: given.to_string(),
        });
    }
    let found = meta
        .metrics
        .iter()
        .find(|(_, m)| m.name == given)
        .map(|(id, _)| id.clone());
    if let Some(id) = &found {
        changes.push(MappingChange::Put {
            kind: MappingKind::Metric,
            scope: scope.to_string(),
            name: given.to_string(),
            id: id.to_string(),
        });
    }
    Ok(found)
}

/// The pipeline's metrics, each once with the first lake key (in order) that maps to it.
pub fn pipeline_metrics(r: &Resolved, p: &PipelineConfig) -> Vec<(MetricId, String)> {
    let mut keys: Vec<(&String, &MetricId)> = r
        .mapper
        .metrics
        .iter()
        .filter_map(|(k, m)| m.as_ref().ok().map(|m| (k, m)))
        .collect();
    keys.sort();
    let mut out: BTreeMap<MetricId, String> = BTreeMap::new();
    for (k, m) in keys {
        out.entry(m.clone()).or_insert_with(|| k.clone());
    }
    if let Some(m) = &r.mapper.fixed {
        let key = p.columns.fixed_metric.clone().unwrap_or_default();
        out.entry(m.clone()).or_insert(key);
    }
    out.into_iter().collect()
}

/// A dimension given by id or name.
pub fn resolve_dimension(meta: &ProgramMeta, given: &str) -> Option<DimensionId> {
    if meta.dimensions.contains_key(given) {
        return Some(DimensionId::new(given));
    }
    meta.dimensions
        .values()
        .find(|d| d.name == given)
        .map(|d| d.id.clone())
}

/// Reads a `lake_value,workiva_value_id` CSV (header optional, quotes allowed).
fn read_value_map(path: &Path) -> Result<BTreeMap<String, String>, ValueMapError> {
    let text = std::fs::read_to_string(path).map_err(ValueMapError::Read)?;
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let cells: Vec<String> = split_csv(line);
        if cells.len() < 2 {
            return Err(ValueMapError::Line(i + 1));
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

/// The pipeline's metric keys, fixed metric and dimension columns, resolved.
async fn mapper(
    p: &PipelineConfig,
    meta: &ProgramMeta,
    store: &Store,
    changes: &mut Vec<MappingChange>,
) -> Result<Mapper, PlanError> {
    let mut metrics = HashMap::new();
    for (key, target) in &p.metrics {
        let r = resolve_metric(meta, store, target, changes).await?;
        metrics.insert(
            key.clone(),
            r.ok_or_else(|| UnknownMetric {
                key: key.clone(),
                target: target.clone(),
            }),
        );
    }
    let fixed = match &p.columns.fixed_metric {
        Some(m) => Some(
            resolve_metric(meta, store, m, changes)
                .await?
                .ok_or_else(|| PlanError::UnknownFixedMetric {
                    pipeline: p.name.clone(),
                    metric: m.clone(),
                })?,
        ),
        None => None,
    };
    let mut dims = Vec::new();
    for (column, target) in &p.columns.dimensions {
        let id = resolve_dimension(meta, target).ok_or_else(|| PlanError::UnknownDimension {
            pipeline: p.name.clone(),
            column: column.clone(),
            dimension: target.clone(),
        })?;
        let mut values = BTreeMap::new();
        let name = &meta.dimensions[&id].name;
        for key in [target.as_str(), id.as_str(), name.as_str()] {
            if let Some(m) = p.dimension_values.get(key) {
                values.extend(m.clone());
            }
            if let Some(f) = p.dimension_values_csv.get(key) {
                values.extend(read_value_map(f).map_err(|reason| PlanError::ValueMap {
                    pipeline: p.name.clone(),
                    path: f.clone(),
                    reason,
                })?);
            }
        }
        dims.push(DimColumn {
            column: column.clone(),
            dimension: id,
            values,
        });
    }
    Ok(Mapper {
        metrics,
        fixed,
        dims,
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

/// Years listed as streams of their own at once, at most.
const YEAR_STREAMS: usize = 8;

/// The values Workiva holds for one metric in the years in scope (all pages). Several years
/// are listed as filtered streams of their own, at once (within the client's adaptive limit),
/// so a long backfill's listing is not one long chain of pages.
pub async fn current_values(
    client: &WorkivaClient,
    program: &ProgramId,
    metric: &MetricId,
    years: &BTreeSet<u16>,
) -> Result<Vec<ListedValue>, WorkivaError> {
    use futures_util::{StreamExt, TryStreamExt};
    let list = |filter: String| async move {
        client
            .listed_values(
                program.as_str(),
                metric.as_str(),
                &ListOptions::filter(filter),
            )
            .await
    };
    let all: Vec<ListedValue> = if years.len() > 1 && years.len() <= 20 {
        let parts: Vec<Vec<ListedValue>> = futures_util::stream::iter(years.iter().copied())
            .map(|y| list(format!("reportingPeriod.year eq {y}")))
            .buffered(YEAR_STREAMS)
            .try_collect()
            .await?;
        parts.into_iter().flatten().collect()
    } else {
        let Some(filter) = years_filter(years) else {
            return Ok(Vec::new());
        };
        list(filter).await?
    };
    Ok(all
        .into_iter()
        .filter(|v| {
            v.reporting_period
                .is_some_and(|rp| years.contains(&rp.year))
        })
        .collect())
}
