//! Export: what Workiva holds, as a catalog file, so a team adopts the catalog without
//! retyping its program. Pure: the catalog of a [`Current`]; planning it against the same
//! program finds nothing to do.

use std::ops::Range;

use toml::Spanned;

use super::file::{
    CatalogFile, DimensionDecl, MetricDecl, ProgramDecl, ReferenceDecl, TagDecl, TopicDecl,
    ValueDecl,
};
use super::plan::Current;
use crate::workiva::models::{Dimension, Metric};

/// A span for values made here (spans only matter for files read from disk).
fn spanned(s: String) -> Spanned<String> {
    Spanned::new(Range { start: 0, end: 0 }, s)
}

/// The catalog of `cur`'s program; `None` when there is no program.
pub fn export(cur: &Current) -> Option<CatalogFile> {
    let program = cur.program.as_ref()?;
    Some(CatalogFile {
        prune: false,
        program: ProgramDecl {
            name: program.name.clone(),
            id: None,
        },
        topics: topics(cur),
        dimensions: cur.dimensions.iter().map(dimension).collect(),
        metrics: cur.metrics.iter().map(|m| metric(cur, m)).collect(),
    })
}

/// The name of the topic with id `id`, as a catalog reference.
fn topic_name(cur: &Current, id: &str) -> Option<Spanned<String>> {
    cur.topics
        .iter()
        .find(|t| t.id == id)
        .map(|t| spanned(t.name.clone()))
}

/// The name of the dimension with id `id` (its id when it has none), as a catalog reference.
fn dim_name(cur: &Current, id: &str) -> Option<Spanned<String>> {
    cur.dimensions
        .iter()
        .find(|d| d.id == id)
        .map(|d| spanned(d.name.clone().unwrap_or_else(|| d.id.clone())))
}

/// The program's topics, parents before their children, as a reader expects.
fn topics(cur: &Current) -> Vec<TopicDecl> {
    let mut topics: Vec<TopicDecl> = Vec::new();
    let mut left: Vec<_> = cur.topics.iter().collect();
    while !left.is_empty() {
        let before = left.len();
        left.retain(|t| {
            let ready = t.parent.as_deref().is_none_or(|p| {
                topics
                    .iter()
                    .any(|d| Some(&d.name) == topic_name(cur, p).as_ref().map(|s| s.get_ref()))
                    || !cur.topics.iter().any(|x| x.id == p)
            });
            if ready {
                topics.push(TopicDecl {
                    name: t.name.clone(),
                    parent: t.parent.as_deref().and_then(|p| topic_name(cur, p)),
                    key: None,
                    id: None,
                });
            }
            !ready
        });
        if left.len() == before {
            break;
        }
    }
    topics
}

/// A dimension with its values, defaults left out.
fn dimension(d: &Dimension) -> DimensionDecl {
    DimensionDecl {
        name: d.name.clone().unwrap_or_else(|| d.id.clone()),
        values: d
            .values
            .iter()
            .flatten()
            .map(|v| ValueDecl {
                id: v.id.clone(),
                // Workiva's default name is the id, and a value is active by default.
                name: v.name.clone().filter(|n| n != &v.id),
                active: v.active.filter(|a| !a),
            })
            .collect(),
        values_csv: None,
        key: None,
        id: None,
    }
}

/// A metric, its topic and dimensions by name.
fn metric(cur: &Current, m: &Metric) -> MetricDecl {
    MetricDecl {
        name: m.name.clone(),
        data_type: m.data_type,
        unit: m.unit.clone().filter(|u| !u.is_empty()),
        topic: m.topic.as_deref().and_then(|t| topic_name(cur, t)),
        allowed_dimensions: m
            .allowed_dimensions
            .iter()
            .filter_map(|d| dim_name(cur, d))
            .collect(),
        description: m.description.clone().filter(|d| !d.is_empty()),
        require_notes: m.require_notes,
        require_supporting_attachments: m.require_supporting_attachments,
        tags: m
            .tags
            .iter()
            .map(|t| TagDecl {
                name: t.name.clone(),
                value: t.value.clone(),
            })
            .collect(),
        framework_references: m
            .framework_references
            .iter()
            .map(|r| ReferenceDecl {
                framework: r.framework.clone(),
                reference_name: r.reference_name.clone(),
                published_version: r.published_version.clone(),
            })
            .collect(),
        key: None,
        id: None,
    }
}

/// The catalog as TOML text.
pub fn to_toml(f: &CatalogFile) -> Result<String, toml::ser::Error> {
    toml::to_string(f)
}
