//! Loading a seed: principals, then each program with its topics, dimensions, metrics (and
//! their values) and permissions, then tasks.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::values::load_values;
use super::{
    Seed, SeedAssignment, SeedDimension, SeedError, SeedMetric, SeedPrincipal, SeedProblem,
    SeedProgram, SeedTopic, create_task, refused,
};
use crate::model::{DataType, DimValue, Metric};
use crate::store::{NewMetric, PERMISSIONS, Store, check_dim_values};

/// Loads a seed into the store; returns the ids of what it created, by name.
pub fn load(store: &mut Store, seed: &Seed) -> Result<Value, SeedError> {
    load_principals(store, &seed.principals)?;
    let programs = seed
        .programs
        .iter()
        .map(|sp| load_program(store, sp))
        .collect::<Result<Vec<_>, _>>()?;
    let tasks = seed
        .tasks
        .iter()
        .map(|t| create_task(store, t))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({"programs": programs, "tasks": tasks}))
}

/// Adds the seed's principals, each a user or a group.
fn load_principals(store: &mut Store, principals: &[SeedPrincipal]) -> Result<(), SeedError> {
    for pr in principals {
        let kind = match pr.kind.as_deref() {
            None | Some("user") => "user",
            Some("group") => "group",
            Some(k) => {
                return Err(
                    SeedProblem::PrincipalType(k.to_string()).at(&format!("principal `{}`", pr.id))
                );
            }
        };
        store.principals.insert(pr.id.clone(), kind);
    }
    Ok(())
}

/// Creates one program and everything under it; returns its ids by name.
fn load_program(store: &mut Store, sp: &SeedProgram) -> Result<Value, SeedError> {
    let ctx = format!("program `{}`", sp.name);
    let created = store
        .create_program(&sp.name, None)
        .map_err(|e| refused(&ctx, e))?
        .id;
    let pid = keep_id(store, &ctx, created, sp.id, |s, old, new| {
        let p = s.programs.iter_mut().find(|p| p.id == old)?;
        p.id = new;
        Some(())
    })?
    .to_string();
    let mut topics = Map::new();
    for t in &sp.topics {
        let id = load_topic(store, &pid, t, &topics, &ctx)?;
        topics.insert(t.name.clone(), json!(id));
    }
    let mut dims = Map::new();
    for d in &sp.dimensions {
        dims.insert(d.name.clone(), json!(load_dimension(store, &pid, d, &ctx)?));
    }
    let mut metrics = Map::new();
    for m in &sp.metrics {
        let id = load_metric(store, &pid, m, (&topics, &dims), &ctx)?;
        metrics.insert(m.name.clone(), json!(id));
    }
    for (i, a) in sp.permissions.iter().enumerate() {
        grant(store, &pid, a, &format!("{ctx}, permissions[{i}]"))?;
    }
    Ok(
        json!({"id": pid, "name": sp.name, "topics": topics, "dimensions": dims, "metrics": metrics}),
    )
}

/// Creates one topic; its parent, by name, must be among the topics created before it.
fn load_topic(
    store: &mut Store,
    pid: &str,
    t: &SeedTopic,
    topics: &Map<String, Value>,
    ctx: &str,
) -> Result<Uuid, SeedError> {
    let tctx = format!("{ctx}, topic `{}`", t.name);
    let parent = match &t.parent {
        Some(name) => Some(
            created_id(topics, name)
                .ok_or_else(|| SeedProblem::ParentNotBefore(name.clone()).at(&tctx))?,
        ),
        None => None,
    };
    let created = store
        .create_topic(pid, &t.name, t.index, parent.as_deref())
        .map_err(|e| refused(&tctx, e))?
        .id;
    keep_id(store, &tctx, created, t.id, |s, old, new| {
        let p = s.programs.iter_mut().find(|p| p.id.to_string() == pid)?;
        p.topics.iter_mut().find(|t| t.id == old)?.id = new;
        Some(())
    })
}

/// The id created for `name`, from a map of ids by name.
fn created_id(created: &Map<String, Value>, name: &str) -> Option<String> {
    created
        .get(name)
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Creates one dimension with its values (a value's name defaults to its id).
fn load_dimension(
    store: &mut Store,
    pid: &str,
    d: &SeedDimension,
    ctx: &str,
) -> Result<Uuid, SeedError> {
    let values: Vec<DimValue> = d
        .values
        .iter()
        .map(|v| DimValue {
            id: v.id.clone(),
            name: v.name.clone().unwrap_or_else(|| v.id.clone()),
            active: v.active,
        })
        .collect();
    let dctx = format!("{ctx}, dimension `{}`", d.name);
    check_dim_values(&values, "values").map_err(|e| refused(&dctx, e))?;
    let created = store
        .create_dimension(pid, Some(d.name.clone()), d.active, values)
        .map_err(|e| refused(&dctx, e))?
        .id;
    keep_id(store, &dctx, created, d.id, |s, old, new| {
        let p = s.programs.iter_mut().find(|p| p.id.to_string() == pid)?;
        p.dimensions.iter_mut().find(|d| d.id == old)?.id = new;
        Some(())
    })
}

/// The topics and the dimensions created so far, each an id by name.
type Created<'a> = (&'a Map<String, Value>, &'a Map<String, Value>);

/// Creates one metric and loads its values.
fn load_metric(
    store: &mut Store,
    pid: &str,
    m: &SeedMetric,
    created: Created<'_>,
    ctx: &str,
) -> Result<Uuid, SeedError> {
    let mctx = format!("{ctx}, metric `{}`", m.name);
    let new = new_metric(m, created, &mctx)?;
    let metric = store
        .create_metric(pid, new)
        .map_err(|e| refused(&mctx, e))?;
    let id = keep_id(store, &mctx, metric.id, m.id, |s, old, new| {
        let p = s.programs.iter_mut().find(|p| p.id.to_string() == pid)?;
        p.metrics.iter_mut().find(|m| m.id == old)?.id = new;
        let values = s.values.remove(&old)?;
        s.values.insert(new, values);
        Some(())
    })?;
    let metric = Metric { id, ..metric };
    if !m.values.is_empty() {
        load_values(store, pid, &metric, m, &mctx)?;
    }
    Ok(id)
}

/// The API's input for a seed metric: its topic and allowed dimensions by name (a dimension
/// not created by the seed is taken as an id).
fn new_metric(
    m: &SeedMetric,
    (topics, dims): Created<'_>,
    mctx: &str,
) -> Result<NewMetric, SeedError> {
    let data_type = match &m.data_type {
        Some(t) => {
            Some(DataType::parse(t).ok_or_else(|| SeedProblem::DataType(t.clone()).at(mctx))?)
        }
        None => None,
    };
    let topic = match &m.topic {
        Some(t) => {
            Some(created_id(topics, t).ok_or_else(|| SeedProblem::NoTopic(t.clone()).at(mctx))?)
        }
        None => None,
    };
    let allowed_dimensions = m
        .allowed_dimensions
        .iter()
        .map(|d| created_id(dims, d).unwrap_or_else(|| d.clone()))
        .collect();
    Ok(NewMetric {
        name: m.name.clone(),
        data_type,
        unit: m.unit.clone(),
        description: m.description.clone(),
        topic,
        code: m.code,
        allowed_dimensions,
        require_notes: m.require_notes,
        require_supporting_attachments: m.require_supporting_attachments,
        tags: m.tags.clone(),
        framework_references: m.framework_references.clone(),
        ..NewMetric::default()
    })
}

/// Grants one permission (by name or id) on the program; an unknown principal becomes a user.
fn grant(store: &mut Store, pid: &str, a: &SeedAssignment, ctx: &str) -> Result<(), SeedError> {
    let perm = PERMISSIONS
        .iter()
        .find(|(id, name)| *id == a.permission || name.eq_ignore_ascii_case(&a.permission))
        .map(|(id, _)| id.to_string())
        .ok_or_else(|| SeedProblem::UnknownPermission(a.permission.clone()).at(ctx))?;
    store
        .principals
        .entry(a.principal.clone())
        .or_insert("user");
    store
        .modify_permissions(pid, &[(perm, a.principal.clone())], &[])
        .map_err(|e| refused(ctx, e))?;
    Ok(())
}

/// Gives what the seed just created (`created`) the id the seed names, if any: `rekey` moves it
/// in the store. Refused when another object already has that id.
fn keep_id(
    store: &mut Store,
    ctx: &str,
    created: Uuid,
    wanted: Option<Uuid>,
    rekey: impl FnOnce(&mut Store, Uuid, Uuid) -> Option<()>,
) -> Result<Uuid, SeedError> {
    let Some(want) = wanted.filter(|w| *w != created) else {
        return Ok(created);
    };
    if id_taken(store, want) {
        return Err(SeedProblem::IdGivenTwice(want).at(ctx));
    }
    rekey(store, created, want).ok_or_else(|| SeedProblem::CannotKeepId(want).at(ctx))?;
    Ok(want)
}

/// Whether any program, topic, dimension or metric (or any metric's values) has this id.
fn id_taken(store: &Store, id: Uuid) -> bool {
    store.values.contains_key(&id)
        || store.programs.iter().any(|p| {
            p.id == id
                || p.topics.iter().any(|t| t.id == id)
                || p.dimensions.iter().any(|d| d.id == id)
                || p.metrics.iter().any(|m| m.id == id)
        })
}
