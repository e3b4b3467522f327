//! Apply: a catalog plan's steps in order, one request each (a create, a delete, or a JSON
//! Patch of one operation per changed field). Each id found or created is recorded in the
//! mapping store under the resource's key, so a rename in the catalog patches it later. A
//! create whose answer was lost is found before it is sent again (the client's `create`), so a
//! retried apply never duplicates. The first failure stops the apply; what was done stays
//! done, and the next apply goes on from there.

use std::collections::HashMap;

use serde_json::Value;

use super::current::mapping_kind;
pub use super::error::{ApplyError, StepFailure};
use super::file::CatalogFile;
use super::plan::{Action, CatalogPlan, Field, Kind, Patch, Step, decl_values};
use crate::store::Store;
use crate::workiva::models::{Dimension, FrameworkReference, Metric, Tag, Topic};
use crate::workiva::{WorkivaClient, WorkivaError};

/// What an apply did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    pub program_id: String,
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    pub requests: usize,
}

/// Ids by kind and catalog name, filled as resources are matched or created.
type Ids = HashMap<(Kind, String), String>;

/// Applies `plan` (made from `f`).
pub async fn apply(
    client: &WorkivaClient,
    store: &Store,
    f: &CatalogFile,
    plan: &CatalogPlan,
) -> Result<Applied, ApplyError> {
    let mut ids: Ids = plan
        .steps
        .iter()
        .filter(|s| s.action != Action::Delete)
        .filter_map(|s| Some(((s.kind, s.name.clone()), s.id.clone()?)))
        .collect();
    let mut done = Applied::default();
    for s in &plan.steps {
        let fail = |reason: StepFailure, done: &Applied| ApplyError {
            kind: s.kind.as_str(),
            name: s.name.clone(),
            reason,
            done: format!(
                "{} created, {} updated, {} deleted",
                done.created, done.updated, done.deleted
            ),
        };
        let pid = ids.get(&(Kind::Program, f.program.name.clone())).cloned();
        let r = step(client, f, s, pid.as_deref(), &mut ids, &mut done).await;
        r.map_err(|e| fail(e, &done))?;
        // Record what the resource is now known as.
        if s.action != Action::Delete
            && let Some(id) = ids.get(&(s.kind, s.name.clone()))
        {
            let (scope, key) = match s.kind {
                Kind::Program => (String::new(), s.name.clone()),
                _ => (pid.clone().unwrap_or_else(|| id.clone()), s.key.clone()),
            };
            store
                .mapping_put(mapping_kind(s.kind), &scope, &key, id)
                .await
                .map_err(|e| fail(e.into(), &done))?;
        }
    }
    done.program_id = ids
        .get(&(Kind::Program, f.program.name.clone()))
        .cloned()
        .unwrap_or_default();
    Ok(done)
}

/// One step: the program's, or one topic's, dimension's or metric's.
async fn step(
    client: &WorkivaClient,
    f: &CatalogFile,
    s: &Step,
    pid: Option<&str>,
    ids: &mut Ids,
    done: &mut Applied,
) -> Result<(), StepFailure> {
    if s.kind == Kind::Program {
        return program_step(client, f, s, ids, done).await;
    }
    let pid = pid.ok_or(StepFailure::NoProgram)?;
    match &s.action {
        Action::Unchanged => {}
        Action::Create => {
            let id = create(client, f, s, pid, ids).await?;
            ids.insert((s.kind, s.name.clone()), id);
            done.created += 1;
            done.requests += 1;
        }
        Action::Update(fields) => {
            let id = s.id.as_deref().unwrap_or_default();
            for fl in fields {
                patch(client, s.kind, pid, id, fl, ids).await?;
                done.requests += 1;
            }
            done.updated += 1;
        }
        Action::Delete => {
            let id = s.id.as_deref().unwrap_or_default();
            match s.kind {
                Kind::Topic => client.delete_topic(pid, id).await,
                _ => client.delete_metric(pid, id).await,
            }?;
            done.deleted += 1;
            done.requests += 1;
        }
    }
    Ok(())
}

/// The program's step: create it, or rename it.
async fn program_step(
    client: &WorkivaClient,
    f: &CatalogFile,
    s: &Step,
    ids: &mut Ids,
    done: &mut Applied,
) -> Result<(), StepFailure> {
    match &s.action {
        Action::Create => {
            let p = client.create_program(&f.program.name).await?;
            ids.insert((Kind::Program, s.name.clone()), p.id);
            done.created += 1;
            done.requests += 1;
        }
        Action::Update(_) => {
            let id = s.id.as_deref().unwrap_or_default();
            client.rename_program(id, &f.program.name).await?;
            done.updated += 1;
            done.requests += 1;
        }
        _ => {}
    }
    Ok(())
}

/// Creates a topic, a dimension or a metric of program `pid`; its new id.
async fn create(
    client: &WorkivaClient,
    f: &CatalogFile,
    s: &Step,
    pid: &str,
    ids: &Ids,
) -> Result<String, StepFailure> {
    let i = s.decl.unwrap_or_default();
    let id = match s.kind {
        Kind::Topic => {
            let t = &f.topics[i];
            let parent = t.parent.as_ref().map(|p| p.get_ref().clone());
            let parent = topic_id(ids, &parent)?.as_str().map(str::to_string);
            let topic = Topic {
                name: t.name.clone(),
                parent,
                ..Topic::default()
            };
            client.create_topic(pid, &topic).await?.id
        }
        Kind::Dimension => {
            let d = &f.dimensions[i];
            let dim = Dimension {
                name: Some(d.name.clone()),
                values: Some(decl_values(d)),
                ..Dimension::default()
            };
            client.create_dimension(pid, &dim).await?.id
        }
        _ => {
            let m = metric(f, i, ids)?;
            client.create_metric(pid, &m).await?.id
        }
    };
    Ok(id)
}

/// One field's PATCH request on resource `id`.
async fn patch(
    client: &WorkivaClient,
    kind: Kind,
    pid: &str,
    id: &str,
    fl: &Field,
    ids: &Ids,
) -> Result<(), StepFailure> {
    let value = match &fl.value {
        Patch::Json(v) => v.clone(),
        Patch::Topic(name) => topic_id(ids, name)?,
    };
    let sent: Result<(), WorkivaError> = match kind {
        Kind::Topic => client.patch_topic(pid, id, fl.path, value).await.map(drop),
        Kind::Dimension => client
            .patch_dimension(pid, id, fl.path, value)
            .await
            .map(drop),
        _ => client.patch_metric(pid, id, fl.path, value).await.map(drop),
    };
    Ok(sent?)
}

/// A topic named in the catalog, by the id it has by now (null for none).
fn topic_id(ids: &Ids, name: &Option<String>) -> Result<Value, StepFailure> {
    match name {
        None => Ok(Value::Null),
        Some(n) => ids
            .get(&(Kind::Topic, n.clone()))
            .map(|id| Value::String(id.clone()))
            .ok_or_else(|| no_id(Kind::Topic, n)),
    }
}

fn no_id(kind: Kind, name: &str) -> StepFailure {
    StepFailure::NoId {
        kind: kind.as_str(),
        name: name.to_string(),
    }
}

/// A metric's create request, its topic and dimensions by id.
fn metric(f: &CatalogFile, i: usize, ids: &Ids) -> Result<Metric, StepFailure> {
    let m = &f.metrics[i];
    let topic = match &m.topic {
        None => None,
        Some(t) => Some(
            ids.get(&(Kind::Topic, t.get_ref().clone()))
                .cloned()
                .ok_or_else(|| no_id(Kind::Topic, t.get_ref()))?,
        ),
    };
    let allowed_dimensions = m
        .allowed_dimensions
        .iter()
        .map(|d| {
            ids.get(&(Kind::Dimension, d.get_ref().clone()))
                .cloned()
                .ok_or_else(|| no_id(Kind::Dimension, d.get_ref()))
        })
        .collect::<Result<_, _>>()?;
    Ok(Metric {
        name: m.name.clone(),
        data_type: m.data_type,
        unit: m.unit.clone(),
        description: m.description.clone(),
        topic,
        allowed_dimensions,
        require_notes: m.require_notes,
        require_supporting_attachments: m.require_supporting_attachments,
        tags: m
            .tags
            .iter()
            .map(|t| Tag {
                name: t.name.clone(),
                value: t.value.clone(),
            })
            .collect(),
        framework_references: m
            .framework_references
            .iter()
            .map(|r| FrameworkReference {
                framework: r.framework.clone(),
                published_version: r.published_version.clone(),
                reference_name: r.reference_name.clone(),
            })
            .collect(),
        ..Metric::default()
    })
}
