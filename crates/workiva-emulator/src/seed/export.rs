//! The tenant written out as a seed document, so it can be saved and loaded again.

use uuid::Uuid;

use super::{
    Seed, SeedAssignment, SeedDimValue, SeedDimension, SeedMetric, SeedPeriod, SeedPrincipal,
    SeedProgram, SeedTopic, SeedValue,
};
use crate::model::{Dimension, Metric, Program, StoredValue, Topic};
use crate::store::Store;

/// The tenant as a seed document (programs with topics, dimensions, metrics, values with their
/// statuses, and permissions; tasks are left out), so it can be saved and loaded again. Ids
/// are written too, so a reloaded tenant keeps them.
pub fn export(store: &Store) -> Seed {
    let mut principals: Vec<SeedPrincipal> = store
        .principals
        .iter()
        .map(|(id, kind)| SeedPrincipal {
            id: id.clone(),
            kind: Some(kind.to_string()),
        })
        .collect();
    principals.sort_by(|a, b| a.id.cmp(&b.id));
    Seed {
        principals,
        programs: store
            .programs
            .iter()
            .map(|p| export_program(store, p))
            .collect(),
        tasks: Vec::new(),
    }
}

fn export_program(store: &Store, p: &Program) -> SeedProgram {
    SeedProgram {
        id: Some(p.id),
        name: p.name.clone(),
        topics: p.topics.iter().map(|t| export_topic(p, t)).collect(),
        dimensions: p.dimensions.iter().map(export_dimension).collect(),
        metrics: p
            .metrics
            .iter()
            .map(|m| export_metric(store, p, m))
            .collect(),
        permissions: p
            .permissions
            .iter()
            .map(|a| SeedAssignment {
                permission: a.permission.clone(),
                principal: a.principal.clone(),
            })
            .collect(),
    }
}

/// A seed names topics by name.
fn topic_name(p: &Program, id: Uuid) -> Option<String> {
    p.topic(id).map(|t| t.name.clone())
}

/// A seed names dimensions by name; an unnamed (or missing) one by id.
fn dim_name(p: &Program, id: Uuid) -> String {
    p.dimension(id)
        .and_then(|d| d.name.clone())
        .unwrap_or_else(|| id.to_string())
}

fn export_topic(p: &Program, t: &Topic) -> SeedTopic {
    SeedTopic {
        id: Some(t.id),
        name: t.name.clone(),
        index: Some(t.index),
        parent: t.parent.and_then(|id| topic_name(p, id)),
    }
}

fn export_dimension(d: &Dimension) -> SeedDimension {
    SeedDimension {
        id: Some(d.id),
        name: d.name.clone().unwrap_or_else(|| d.id.to_string()),
        active: d.active,
        values: d
            .values()
            .iter()
            .map(|v| SeedDimValue {
                id: v.id.clone(),
                name: Some(v.name.clone()),
                active: v.active,
            })
            .collect(),
    }
}

fn export_metric(store: &Store, p: &Program, m: &Metric) -> SeedMetric {
    SeedMetric {
        id: Some(m.id),
        name: m.name.clone(),
        data_type: Some(m.data_type.as_str().to_string()),
        unit: m.unit.clone(),
        description: m.description.clone(),
        topic: m.topic.and_then(|id| topic_name(p, id)),
        code: Some(m.code),
        allowed_dimensions: m
            .allowed_dimensions
            .iter()
            .map(|d| dim_name(p, *d))
            .collect(),
        require_notes: m.require_notes,
        require_supporting_attachments: m.require_supporting_attachments,
        tags: m.tags.clone(),
        framework_references: m.framework_references.clone(),
        values: store
            .values
            .get(&m.id)
            .map(|mv| {
                mv.slab
                    .iter()
                    .flatten()
                    .map(|v| export_value(p, v))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn export_value(p: &Program, v: &StoredValue) -> SeedValue {
    SeedValue {
        id: Some(v.id),
        reporting_period: SeedPeriod {
            year: v.key.period.year,
            start: v.key.period.start,
            end: v.key.period.end,
        },
        coordinates: v
            .key
            .coords
            .iter()
            .map(|(d, val)| (dim_name(p, *d), val.clone()))
            .collect(),
        value: v.value.clone(),
        status: Some(v.status.as_str().to_string()),
        notes: v.notes.clone(),
        supporting_attachments: v.attachments.clone(),
    }
}
