//! Seed data: a JSON document that builds a tenant (programs with their topics, dimensions,
//! metrics, values and permissions; principals; tasks). Everything is referred to by name
//! (or id), so a seed file is written by hand. Seeds go through the same rules as the API,
//! except that values may be given any status, so locked values can be set up.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::error::ApiError;
use super::model::*;
use super::store::{NewMetric, NewTask, PERMISSIONS, Store, check_dim_values};

/// The demo tenant shipped with the binary (`config/demo/seed.json`).
pub const DEMO_SEED: &str = include_str!("../../../config/demo/seed.json");

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Seed {
    #[serde(default)]
    pub principals: Vec<SeedPrincipal>,
    #[serde(default)]
    pub programs: Vec<SeedProgram>,
    #[serde(default)]
    pub tasks: Vec<SeedTask>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SeedPrincipal {
    pub id: String,
    /// `user` (default) or `group`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SeedProgram {
    /// The id to keep (an exported tenant keeps its ids across restarts); new when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    pub name: String,
    #[serde(default)]
    pub topics: Vec<SeedTopic>,
    #[serde(default)]
    pub dimensions: Vec<SeedDimension>,
    #[serde(default)]
    pub metrics: Vec<SeedMetric>,
    #[serde(default)]
    pub permissions: Vec<SeedAssignment>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SeedTopic {
    /// The id to keep (an exported tenant keeps its ids across restarts); new when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    pub name: String,
    pub index: Option<i64>,
    /// The parent topic's name.
    pub parent: Option<String>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SeedDimension {
    /// The id to keep (an exported tenant keeps its ids across restarts); new when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    pub name: String,
    #[serde(default = "yes")]
    pub active: bool,
    pub values: Vec<SeedDimValue>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SeedDimValue {
    pub id: String,
    pub name: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SeedMetric {
    /// The id to keep (an exported tenant keeps its ids across restarts); new when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    pub name: String,
    pub data_type: Option<String>,
    pub unit: Option<String>,
    pub description: Option<String>,
    /// The topic's name.
    pub topic: Option<String>,
    pub code: Option<i64>,
    /// Dimension names (or ids).
    #[serde(default)]
    pub allowed_dimensions: Vec<String>,
    #[serde(default)]
    pub require_notes: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_supporting_attachments: bool,
    /// As the API takes them: `{name, value}` objects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<serde_json::Value>,
    /// As the API takes them: `{framework, referenceName, publishedVersion?}` objects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub framework_references: Vec<serde_json::Value>,
    #[serde(default)]
    pub values: Vec<SeedValue>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SeedPeriod {
    pub year: u16,
    pub start: u8,
    pub end: u8,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SeedValue {
    /// The id to keep (an exported tenant keeps its ids across restarts); new when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    pub reporting_period: SeedPeriod,
    /// Dimension name (or id) to dimension value id.
    #[serde(default)]
    pub coordinates: BTreeMap<String, String>,
    #[serde(default)]
    pub value: String,
    /// Any status, including the ones only the task workflow sets.
    pub status: Option<String>,
    pub notes: Option<String>,
    /// Supporting attachments (the API cannot add them; the Workiva UI does), as GET shows
    /// them, e.g. `[{"id": "A1", "fileName": "invoice.pdf"}]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supporting_attachments: Vec<Value>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SeedAssignment {
    /// A permission name (`Owner`, `Editor`, `Viewer`, `None`) or id.
    pub permission: String,
    pub principal: String,
}

/// A task to create; the body of `POST /_emulator/tasks` too.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SeedTask {
    pub title: String,
    pub description: Option<String>,
    /// The program's name or id.
    pub program: String,
    /// The values the task reviews.
    pub values: Vec<SeedTaskValue>,
    /// Approval steps: a number of one-participant steps, or the steps themselves.
    #[serde(default)]
    pub approval_steps: Option<Value>,
    #[serde(default)]
    pub assignees: Vec<Value>,
    pub due_date: Option<String>,
    /// False: the task is created but not sent; its values become `notSent`.
    #[serde(default = "yes")]
    pub sent: bool,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SeedTaskValue {
    /// The metric's name or id.
    pub metric: String,
    /// The value's id; or give `reportingPeriod` and `coordinates`.
    pub id: Option<String>,
    pub reporting_period: Option<SeedPeriod>,
    #[serde(default)]
    pub coordinates: BTreeMap<String, String>,
}

impl Seed {
    /// The demo tenant (`config/demo/seed.json`), with `extra` (a seed file) added, if any:
    /// the one way both the emulator's command and the embedded emulator build their seed.
    pub fn build(demo: bool, extra: Option<&Path>) -> anyhow::Result<Self> {
        let mut seed = if demo {
            serde_json::from_str(DEMO_SEED)
                .map_err(|e| anyhow::anyhow!("the built-in demo seed is invalid: {e}"))?
        } else {
            Self::default()
        };
        if let Some(p) = extra {
            let more = Self::from_file(p)?;
            seed.principals.extend(more.principals);
            seed.programs.extend(more.programs);
            seed.tasks.extend(more.tasks);
        }
        Ok(seed)
    }

    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read seed file {}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("seed file {} is not valid: {e}", path.display()))
    }
}

fn err(ctx: &str, e: ApiError) -> String {
    match e.target {
        Some(t) => format!("{ctx}: {} ({t})", e.message),
        None => format!("{ctx}: {}", e.message),
    }
}

fn find_by_name_or_id<'a, T>(
    items: &'a [T],
    key: &str,
    id: impl Fn(&T) -> Uuid,
    name: impl Fn(&T) -> Option<&str>,
) -> Option<&'a T> {
    items
        .iter()
        .find(|t| name(t) == Some(key))
        .or_else(|| items.iter().find(|t| id(t).to_string() == key))
}

fn program_id(store: &Store, key: &str) -> Result<Uuid, String> {
    find_by_name_or_id(&store.programs, key, |p| p.id, |p| Some(&p.name))
        .map(|p| p.id)
        .ok_or_else(|| format!("no program named (or with id) `{key}`"))
}

/// Resolves `coordinates` given by dimension name or id.
fn coords(
    p: &Program,
    given: &BTreeMap<String, String>,
    ctx: &str,
) -> Result<Vec<(String, String)>, String> {
    given
        .iter()
        .map(|(d, v)| {
            find_by_name_or_id(&p.dimensions, d, |x| x.id, |x| x.name.as_deref())
                .map(|dim| (dim.id.to_string(), v.clone()))
                .ok_or_else(|| format!("{ctx}: no dimension named `{d}`"))
        })
        .collect()
}

/// Gives what the seed just created (`created`) the id the seed names, if any: `rekey` moves it
/// in the store. Refused when another object already has that id.
fn keep_id(
    store: &mut Store,
    ctx: &str,
    created: Uuid,
    wanted: Option<Uuid>,
    rekey: impl FnOnce(&mut Store, Uuid, Uuid) -> Option<()>,
) -> Result<Uuid, String> {
    let Some(want) = wanted.filter(|w| *w != created) else {
        return Ok(created);
    };
    if id_taken(store, want) {
        return Err(format!("{ctx}: id {want} is given twice"));
    }
    rekey(store, created, want).ok_or_else(|| format!("{ctx}: cannot keep id {want}"))?;
    Ok(want)
}

fn id_taken(store: &Store, id: Uuid) -> bool {
    store.values.contains_key(&id)
        || store.programs.iter().any(|p| {
            p.id == id
                || p.topics.iter().any(|t| t.id == id)
                || p.dimensions.iter().any(|d| d.id == id)
                || p.metrics.iter().any(|m| m.id == id)
        })
}

/// Loads a seed into the store; returns the ids of what it created, by name.
pub fn load(store: &mut Store, seed: &Seed) -> Result<Value, String> {
    for pr in &seed.principals {
        let kind = match pr.kind.as_deref() {
            None | Some("user") => "user",
            Some("group") => "group",
            Some(k) => {
                return Err(format!(
                    "principal `{}`: type `{k}` is neither user nor group",
                    pr.id
                ));
            }
        };
        store.principals.insert(pr.id.clone(), kind);
    }
    let mut out_programs = Vec::new();
    for sp in &seed.programs {
        let ctx = format!("program `{}`", sp.name);
        let created = store
            .create_program(&sp.name, None)
            .map_err(|e| err(&ctx, e))?
            .id;
        let pid = keep_id(store, &ctx, created, sp.id, |s, old, new| {
            let p = s.programs.iter_mut().find(|p| p.id == old)?;
            p.id = new;
            Some(())
        })?
        .to_string();
        let mut topics = serde_json::Map::new();
        for t in &sp.topics {
            let parent = match &t.parent {
                Some(name) => Some(
                    topics
                        .get(name)
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .ok_or_else(|| {
                            format!(
                                "{ctx}, topic `{}`: parent `{name}` must be listed before it",
                                t.name
                            )
                        })?,
                ),
                None => None,
            };
            let tctx = format!("{ctx}, topic `{}`", t.name);
            let created = store
                .create_topic(&pid, &t.name, t.index, parent.as_deref())
                .map_err(|e| err(&tctx, e))?
                .id;
            let id = keep_id(store, &tctx, created, t.id, |s, old, new| {
                let p = s.programs.iter_mut().find(|p| p.id.to_string() == pid)?;
                p.topics.iter_mut().find(|t| t.id == old)?.id = new;
                Some(())
            })?;
            topics.insert(t.name.clone(), json!(id));
        }
        let mut dims = serde_json::Map::new();
        for d in &sp.dimensions {
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
            check_dim_values(&values, "values").map_err(|e| err(&dctx, e))?;
            let created = store
                .create_dimension(&pid, Some(d.name.clone()), d.active, values)
                .map_err(|e| err(&dctx, e))?
                .id;
            let id = keep_id(store, &dctx, created, d.id, |s, old, new| {
                let p = s.programs.iter_mut().find(|p| p.id.to_string() == pid)?;
                p.dimensions.iter_mut().find(|d| d.id == old)?.id = new;
                Some(())
            })?;
            dims.insert(d.name.clone(), json!(id));
        }
        let mut metrics = serde_json::Map::new();
        for m in &sp.metrics {
            let mctx = format!("{ctx}, metric `{}`", m.name);
            let data_type = match &m.data_type {
                Some(t) => Some(DataType::parse(t).ok_or_else(|| {
                    format!(
                        "{mctx}: dataType `{t}` is not one of {}",
                        DataType::NAMES.join(", ")
                    )
                })?),
                None => None,
            };
            let topic = match &m.topic {
                Some(t) => Some(
                    topics
                        .get(t)
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .ok_or_else(|| format!("{mctx}: no topic named `{t}`"))?,
                ),
                None => None,
            };
            let allowed = m
                .allowed_dimensions
                .iter()
                .map(|d| {
                    dims.get(d)
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .unwrap_or_else(|| d.clone())
                })
                .collect();
            let metric = store
                .create_metric(
                    &pid,
                    NewMetric {
                        name: m.name.clone(),
                        data_type,
                        unit: m.unit.clone(),
                        description: m.description.clone(),
                        topic,
                        code: m.code,
                        allowed_dimensions: allowed,
                        require_notes: m.require_notes,
                        require_supporting_attachments: m.require_supporting_attachments,
                        tags: m.tags.clone(),
                        framework_references: m.framework_references.clone(),
                        ..NewMetric::default()
                    },
                )
                .map_err(|e| err(&mctx, e))?;
            let id = keep_id(store, &mctx, metric.id, m.id, |s, old, new| {
                let p = s.programs.iter_mut().find(|p| p.id.to_string() == pid)?;
                p.metrics.iter_mut().find(|m| m.id == old)?.id = new;
                let values = s.values.remove(&old)?;
                s.values.insert(new, values);
                Some(())
            })?;
            let metric = Metric { id, ..metric };
            metrics.insert(m.name.clone(), json!(metric.id));
            if !m.values.is_empty() {
                load_values(store, &pid, &metric, m, &mctx)?;
            }
        }
        for (i, a) in sp.permissions.iter().enumerate() {
            let perm = PERMISSIONS
                .iter()
                .find(|(id, name)| *id == a.permission || name.eq_ignore_ascii_case(&a.permission))
                .map(|(id, _)| id.to_string())
                .ok_or_else(|| {
                    format!(
                        "{ctx}, permissions[{i}]: unknown permission `{}`",
                        a.permission
                    )
                })?;
            store
                .principals
                .entry(a.principal.clone())
                .or_insert("user");
            store
                .modify_permissions(&pid, &[(perm, a.principal.clone())], &[])
                .map_err(|e| err(&format!("{ctx}, permissions[{i}]"), e))?;
        }
        out_programs.push(json!({"id": pid, "name": sp.name, "topics": topics, "dimensions": dims, "metrics": metrics}));
    }
    let mut tasks = Vec::new();
    for t in &seed.tasks {
        tasks.push(create_task(store, t)?);
    }
    Ok(json!({"programs": out_programs, "tasks": tasks}))
}

fn load_values(
    store: &mut Store,
    pid: &str,
    metric: &Metric,
    m: &SeedMetric,
    ctx: &str,
) -> Result<(), String> {
    let p = store.program(pid).map_err(|e| err(ctx, e))?;
    let mut items = Vec::with_capacity(m.values.len());
    let mut statuses = Vec::with_capacity(m.values.len());
    for (i, v) in m.values.iter().enumerate() {
        let vctx = format!("{ctx}, values[{i}]");
        let period = Period {
            year: v.reporting_period.year,
            start: v.reporting_period.start,
            end: v.reporting_period.end,
        };
        if !(1000..=9999).contains(&period.year)
            || !(1..=12).contains(&period.start)
            || !(1..=12).contains(&period.end)
            || period.start > period.end
        {
            return Err(format!(
                "{vctx}: reporting period {period:?} is out of range"
            ));
        }
        let status = match &v.status {
            Some(s) => Some(Status::parse(s).ok_or_else(|| {
                format!(
                    "{vctx}: status `{s}` is not one of {}",
                    Status::NAMES.join(", ")
                )
            })?),
            None => None,
        };
        statuses.push(status);
        items.push(UpsertItem {
            id: None,
            period: Some(period),
            coords: coords(p, &v.coordinates, &vctx)?,
            value: Some(v.value.clone()),
            status: None,
            notes: v.notes.clone(),
            task: None,
            data_source: None,
            fields_to_clear: Vec::new(),
        });
    }
    let pid_u = p.id;
    let ids = store
        .upsert_all(pid_u, metric.id, &items, "values")
        .map_err(|details| {
            let d = &details[0];
            format!(
                "{ctx}: {} ({}); {} problem(s) in all",
                d.message,
                d.target,
                details.len()
            )
        })?;
    let mv = store.values.get_mut(&metric.id).expect("metric has values");
    for ((id, status), sv) in ids.into_iter().zip(statuses).zip(&m.values) {
        let Some(&slot) = mv.by_id.get(&id) else {
            continue;
        };
        if let (Some(s), Some(v)) = (status, mv.get_mut(slot)) {
            v.status = s;
        }
        if let Some(v) = mv.get_mut(slot) {
            v.attachments = sv.supporting_attachments.clone();
        }
        // An exported tenant keeps its value ids.
        if let Some(want) = sv.id.filter(|w| *w != id) {
            if mv.by_id.contains_key(&want) {
                return Err(format!("{ctx}: value id {want} is given twice"));
            }
            mv.by_id.remove(&id);
            mv.by_id.insert(want, slot);
            if let Some(v) = mv.get_mut(slot) {
                v.id = want;
            }
        }
    }
    Ok(())
}

/// Creates a task from its seed form; returns the task's JSON.
pub fn create_task(store: &mut Store, t: &SeedTask) -> Result<Value, String> {
    let ctx = format!("task `{}`", t.title);
    let pid = program_id(store, &t.program).map_err(|e| format!("{ctx}: {e}"))?;
    let p = store.programs.iter().find(|p| p.id == pid).expect("found");
    let mut values = Vec::new();
    for (i, v) in t.values.iter().enumerate() {
        let vctx = format!("{ctx}, values[{i}]");
        let m = find_by_name_or_id(&p.metrics, &v.metric, |m| m.id, |m| Some(&m.name))
            .ok_or_else(|| format!("{vctx}: no metric `{}`", v.metric))?;
        let mv = store.metric_values(m.id);
        let id = if let Some(id) = &v.id {
            Uuid::try_parse(id)
                .ok()
                .filter(|u| mv.get_by_id(*u).is_some())
                .ok_or_else(|| format!("{vctx}: no value `{id}`"))?
        } else {
            let rp = v
                .reporting_period
                .as_ref()
                .ok_or_else(|| format!("{vctx}: give an id or a reportingPeriod"))?;
            let mut c: Coords = Vec::new();
            for (d, dv) in coords(p, &v.coordinates, &vctx)? {
                c.push((Uuid::try_parse(&d).expect("dimension ids are uuids"), dv));
            }
            c.sort();
            let key = ValueKey {
                period: Period {
                    year: rp.year,
                    start: rp.start,
                    end: rp.end,
                },
                coords: c,
            };
            let slot = mv.slot_of_key(&key).ok_or_else(|| {
                format!("{vctx}: no value at that reporting period and coordinates")
            })?;
            mv.get(slot).expect("indexed").id
        };
        values.push((m.id, id));
    }
    let steps = match &t.approval_steps {
        None => vec![default_step()],
        Some(Value::Number(n)) => (0..n.as_u64().unwrap_or(1))
            .map(|_| default_step())
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|s| ApprovalStep {
                completion_mode: s
                    .get("completionMode")
                    .and_then(Value::as_str)
                    .unwrap_or("ONE")
                    .to_string(),
                participants: s
                    .get("participants")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
                due_date: s.get("dueDate").and_then(Value::as_str).map(str::to_string),
                responses: Vec::new(),
            })
            .collect(),
        Some(other) => {
            return Err(format!(
                "{ctx}: approvalSteps is a number or a list of steps, not {other}"
            ));
        }
    };
    let task = store
        .create_task(NewTask {
            title: t.title.clone(),
            description: t.description.clone(),
            program: pid,
            segment: None,
            values,
            assignees: t.assignees.clone(),
            steps,
            due_date: t.due_date.clone(),
            sent: t.sent,
        })
        .map_err(|e| err(&ctx, e))?;
    Ok(task.to_json())
}

fn default_step() -> ApprovalStep {
    ApprovalStep {
        completion_mode: "ONE".into(),
        participants: vec![json!({"id": "approver", "type": "USER"})],
        due_date: None,
        responses: Vec::new(),
    }
}

/// The tenant as a seed document (programs with topics, dimensions, metrics, values with their
/// statuses, and permissions; tasks are left out), so it can be saved and loaded again. Ids
/// are not kept: a reloaded tenant has new ones, as a rebuilt tenant would.
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
    let programs = store
        .programs
        .iter()
        .map(|p| {
            let topic_name = |id: Uuid| p.topic(id).map(|t| t.name.clone());
            let dim_name = |id: Uuid| {
                p.dimension(id)
                    .and_then(|d| d.name.clone())
                    .unwrap_or_else(|| id.to_string())
            };
            SeedProgram {
                id: Some(p.id),
                name: p.name.clone(),
                topics: p
                    .topics
                    .iter()
                    .map(|t| SeedTopic {
                        id: Some(t.id),
                        name: t.name.clone(),
                        index: Some(t.index),
                        parent: t.parent.and_then(topic_name),
                    })
                    .collect(),
                dimensions: p
                    .dimensions
                    .iter()
                    .map(|d| SeedDimension {
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
                    })
                    .collect(),
                metrics: p
                    .metrics
                    .iter()
                    .map(|m| SeedMetric {
                        id: Some(m.id),
                        name: m.name.clone(),
                        data_type: Some(m.data_type.as_str().to_string()),
                        unit: m.unit.clone(),
                        description: m.description.clone(),
                        topic: m.topic.and_then(topic_name),
                        code: Some(m.code),
                        allowed_dimensions: m
                            .allowed_dimensions
                            .iter()
                            .map(|d| dim_name(*d))
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
                                    .map(|v| SeedValue {
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
                                            .map(|(d, val)| (dim_name(*d), val.clone()))
                                            .collect(),
                                        value: v.value.clone(),
                                        status: Some(v.status.as_str().to_string()),
                                        notes: v.notes.clone(),
                                        supporting_attachments: v.attachments.clone(),
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                    })
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
        })
        .collect();
    Seed {
        principals,
        programs,
        tasks: Vec::new(),
    }
}
