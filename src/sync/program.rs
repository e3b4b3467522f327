//! What resolving finds, as plain data: the program's metrics and dimensions with their
//! values, and the pipeline's lake keys turned into Workiva ids. `resolve` builds it (with
//! I/O); `validate` and `diff` read it (without).

use std::collections::{BTreeMap, HashMap};

use super::ids::{DimensionId, DimensionValueId, MetricId, ProgramId};
use crate::workiva::models::Metric;

/// A dimension with its values: id -> active.
#[derive(Debug, Clone)]
pub struct DimMeta {
    pub id: DimensionId,
    pub name: String,
    pub values: HashMap<DimensionValueId, bool>,
}

/// What the program holds, as far as the pipeline needs it.
#[derive(Debug, Clone)]
pub struct ProgramMeta {
    pub id: ProgramId,
    pub metrics: HashMap<MetricId, Metric>,
    pub dimensions: HashMap<DimensionId, DimMeta>,
}

/// One mapped dimension column: its dimension and its lake value -> value id map.
#[derive(Debug, Clone)]
pub struct DimColumn {
    pub column: String,
    pub dimension: DimensionId,
    pub values: BTreeMap<String, String>,
}

/// Why a lake metric key cannot be synced: `[pipeline.metrics]` maps it to a metric the
/// program does not have (reported per row).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "lake metric `{key}` maps to `{target}`, which is not a metric of the program; fix [pipeline.metrics]"
)]
pub struct UnknownMetric {
    pub key: String,
    pub target: String,
}

/// The pipeline's lake keys, turned into Workiva ids.
#[derive(Debug, Clone, Default)]
pub struct Mapper {
    /// Lake metric key -> metric id, or why it cannot be synced (reported per row).
    pub metrics: HashMap<String, Result<MetricId, UnknownMetric>>,
    /// `columns.fixed_metric`, resolved.
    pub fixed: Option<MetricId>,
    /// In the order of `columns.dimensions`.
    pub dims: Vec<DimColumn>,
}
