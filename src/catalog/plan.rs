//! Plan: the catalog against what Workiva holds, resource by resource: create, update (field by
//! field, old → new, one JSON Patch request each, as Workiva requires), leave alone, or (with
//! `prune`) delete. Pure: it reads nothing and writes nothing.
//!
//! A declared resource is matched to Workiva's by its pinned `id`, else by the id recorded
//! under its `key` (its name unless given) when it was last applied, else by name; so a
//! resource renamed in the catalog (its old name kept as `key`) is patched, not created again.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

use super::file::{CatalogFile, DimensionDecl, MetricDecl, ValueDecl};
use crate::workiva::models::{Dimension, DimensionValue, Metric, Program, Topic};

/// What Workiva holds.
#[derive(Debug, Clone, Default)]
pub struct Current {
    /// The program, when it exists.
    pub program: Option<Program>,
    pub topics: Vec<Topic>,
    /// Each with its values.
    pub dimensions: Vec<Dimension>,
    pub metrics: Vec<Metric>,
    /// Ids recorded under the catalog's keys when it was last applied.
    pub recorded: HashMap<(Kind, String), String>,
}

/// What a step is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Program,
    Topic,
    Dimension,
    Metric,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Program => "program",
            Kind::Topic => "topic",
            Kind::Dimension => "dimension",
            Kind::Metric => "metric",
        }
    }
}

/// The value a patch sets: plain JSON, or a topic named in the catalog (its id is known only
/// when applying, after it is created).
#[derive(Debug, Clone, PartialEq)]
pub enum Patch {
    Json(Value),
    Topic(Option<String>),
}

/// One field to change: one PATCH request.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub path: &'static str,
    pub old: String,
    pub new: String,
    pub value: Patch,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Create,
    Update(Vec<Field>),
    Unchanged,
    Delete,
}

/// One resource's step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub kind: Kind,
    pub name: String,
    /// The key its id is recorded under.
    pub key: String,
    /// Its Workiva id, when it exists.
    pub id: Option<String>,
    /// Its position among the catalog's declarations of its kind (none for a delete).
    pub decl: Option<usize>,
    pub action: Action,
    /// Differences the API cannot apply (a metric's tags, references, allowed dimensions).
    pub warnings: Vec<String>,
}

/// The steps in the order they are applied: program, topics (parents first), dimensions,
/// metrics, then deletes (metrics, then topics, children first).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CatalogPlan {
    pub steps: Vec<Step>,
}

impl CatalogPlan {
    /// Write requests the plan needs (a create or delete is one; an update one per field).
    pub fn requests(&self) -> usize {
        self.steps
            .iter()
            .map(|s| match &s.action {
                Action::Create | Action::Delete => 1,
                Action::Update(f) => f.len(),
                Action::Unchanged => 0,
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.requests() == 0
    }

    /// The summary table: one line per resource, a line per changed field.
    pub fn table(&self) -> String {
        let mut out = String::new();
        for s in &self.steps {
            let what = match &s.action {
                Action::Create => "create",
                Action::Update(_) => "update",
                Action::Unchanged => "unchanged",
                Action::Delete => "delete",
            };
            out.push_str(&format!("{:<10} {:<40} {what}\n", s.kind.as_str(), s.name));
            if let Action::Update(fields) = &s.action {
                for f in fields {
                    out.push_str(&format!("           {}: {} → {}\n", f.path, f.old, f.new));
                }
            }
            for w in &s.warnings {
                out.push_str(&format!("           warning: {w}\n"));
            }
        }
        let count = |a: fn(&Action) -> bool| self.steps.iter().filter(|s| a(&s.action)).count();
        out.push_str(&format!(
            "{} to create, {} to update, {} to delete, {} unchanged: {} write requests\n",
            count(|a| matches!(a, Action::Create)),
            count(|a| matches!(a, Action::Update(_))),
            count(|a| matches!(a, Action::Delete)),
            count(|a| matches!(a, Action::Unchanged)),
            self.requests()
        ));
        out
    }
}

/// Why a catalog cannot be planned: a declaration is pinned to an id the program lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} `{name}` is pinned to id `{id}`, which the program does not have")]
pub struct PlanProblem {
    pub kind: &'static str,
    pub name: String,
    pub id: String,
}

/// Plans the catalog against `cur`. `prune`: also delete what the catalog does not declare.
pub fn plan(f: &CatalogFile, cur: &Current, prune: bool) -> Result<CatalogPlan, PlanProblem> {
    let mut steps = vec![program_step(f, cur)];
    let topic_ids = matches(
        cur,
        Kind::Topic,
        f.topics
            .iter()
            .map(|t| (t.id.as_deref(), t.key(), t.name.as_str())),
        cur.topics.iter().map(|t| (t.id.as_str(), t.name.as_str())),
    )?;
    topic_steps(f, cur, &topic_ids, &mut steps);
    let dim_ids = matches(
        cur,
        Kind::Dimension,
        f.dimensions
            .iter()
            .map(|d| (d.id.as_deref(), d.key(), d.name.as_str())),
        cur.dimensions
            .iter()
            .map(|d| (d.id.as_str(), d.name.as_deref().unwrap_or_default())),
    )?;
    dimension_steps(f, cur, &dim_ids, prune, &mut steps);
    let metric_ids = matches(
        cur,
        Kind::Metric,
        f.metrics
            .iter()
            .map(|m| (m.id.as_deref(), m.key(), m.name.as_str())),
        cur.metrics.iter().map(|m| (m.id.as_str(), m.name.as_str())),
    )?;
    metric_steps(f, cur, &metric_ids, &mut steps);
    if prune {
        delete_steps(cur, &topic_ids, &metric_ids, &mut steps);
    }
    Ok(CatalogPlan { steps })
}

/// The name of the topic Workiva holds under `id`.
fn topic_name(cur: &Current, id: &str) -> Option<String> {
    cur.topics
        .iter()
        .find(|t| t.id == id)
        .map(|t| t.name.clone())
}

/// Each declared topic's step, parents first; `ids` are their matched Workiva ids.
fn topic_steps(f: &CatalogFile, cur: &Current, ids: &[Option<String>], steps: &mut Vec<Step>) {
    for i in topics_parents_first(f) {
        let t = &f.topics[i];
        let id = ids[i].clone();
        let current = id
            .as_ref()
            .and_then(|id| cur.topics.iter().find(|x| &x.id == id));
        let action = match current {
            None => Action::Create,
            Some(c) => {
                let mut fields = Vec::new();
                text_field(&mut fields, "/name", Some(&c.name), Some(&t.name));
                let old = c.parent.as_deref().and_then(|p| topic_name(cur, p));
                let new = t.parent.as_ref().map(|p| p.get_ref().clone());
                if old != new {
                    fields.push(Field {
                        path: "/parent",
                        old: shown(old.as_deref()),
                        new: shown(new.as_deref()),
                        value: Patch::Topic(new),
                    });
                }
                update_or_not(fields)
            }
        };
        steps.push(step(Kind::Topic, &t.name, t.key(), id, Some(i), action));
    }
}

/// Each declared dimension's step: its name, and its values merged into Workiva's.
fn dimension_steps(
    f: &CatalogFile,
    cur: &Current,
    ids: &[Option<String>],
    prune: bool,
    steps: &mut Vec<Step>,
) {
    for (i, d) in f.dimensions.iter().enumerate() {
        let current = ids[i]
            .as_ref()
            .and_then(|id| cur.dimensions.iter().find(|x| &x.id == id));
        let action = match current {
            None => Action::Create,
            Some(c) => {
                let mut fields = Vec::new();
                text_field(&mut fields, "/name", c.name.as_deref(), Some(&d.name));
                let old = c.values.clone().unwrap_or_default();
                let merged = merge_values(&old, &d.values, prune);
                if merged != old {
                    fields.push(Field {
                        path: "/values",
                        old: format!("{} values", old.len()),
                        new: values_change(&old, &merged),
                        value: Patch::Json(json!(merged)),
                    });
                }
                update_or_not(fields)
            }
        };
        steps.push(step(
            Kind::Dimension,
            &d.name,
            d.key(),
            ids[i].clone(),
            Some(i),
            action,
        ));
    }
}

/// Each declared metric's step, with what the API cannot change as warnings.
fn metric_steps(f: &CatalogFile, cur: &Current, ids: &[Option<String>], steps: &mut Vec<Step>) {
    for (i, m) in f.metrics.iter().enumerate() {
        let current = ids[i]
            .as_ref()
            .and_then(|id| cur.metrics.iter().find(|x| &x.id == id));
        let (action, warnings) = match current {
            None => (Action::Create, Vec::new()),
            Some(c) => (
                update_or_not(metric_fields(m, c, cur)),
                metric_warnings(m, c, cur),
            ),
        };
        let mut s = step(
            Kind::Metric,
            &m.name,
            m.key(),
            ids[i].clone(),
            Some(i),
            action,
        );
        s.warnings = warnings;
        steps.push(s);
    }
}

/// With `prune`: deletes of the metrics, then the topics (children first), that no
/// declaration matched.
fn delete_steps(
    cur: &Current,
    topic_ids: &[Option<String>],
    metric_ids: &[Option<String>],
    steps: &mut Vec<Step>,
) {
    let kept: BTreeSet<&String> = metric_ids.iter().flatten().collect();
    for m in cur.metrics.iter().filter(|m| !kept.contains(&m.id)) {
        steps.push(step(
            Kind::Metric,
            &m.name,
            &m.name,
            Some(m.id.clone()),
            None,
            Action::Delete,
        ));
    }
    let kept: BTreeSet<&String> = topic_ids.iter().flatten().collect();
    let mut gone: Vec<&Topic> = cur
        .topics
        .iter()
        .filter(|t| !kept.contains(&t.id))
        .collect();
    // Children first: deepest topics go before their parents.
    gone.sort_by_key(|t| std::cmp::Reverse(depth(cur, t)));
    for t in gone {
        steps.push(step(
            Kind::Topic,
            &t.name,
            &t.name,
            Some(t.id.clone()),
            None,
            Action::Delete,
        ));
    }
}

fn step(
    kind: Kind,
    name: &str,
    key: &str,
    id: Option<String>,
    decl: Option<usize>,
    action: Action,
) -> Step {
    Step {
        kind,
        name: name.to_string(),
        key: key.to_string(),
        id,
        decl,
        action,
        warnings: Vec::new(),
    }
}

fn program_step(f: &CatalogFile, cur: &Current) -> Step {
    let (id, action) = match &cur.program {
        None => (None, Action::Create),
        Some(p) => {
            let mut fields = Vec::new();
            text_field(&mut fields, "/name", Some(&p.name), Some(&f.program.name));
            (Some(p.id.clone()), update_or_not(fields))
        }
    };
    step(
        Kind::Program,
        &f.program.name,
        &f.program.name,
        id,
        Some(0),
        action,
    )
}

fn update_or_not(fields: Vec<Field>) -> Action {
    if fields.is_empty() {
        Action::Unchanged
    } else {
        Action::Update(fields)
    }
}

fn shown(v: Option<&str>) -> String {
    match v {
        Some(s) => format!("{s:?}"),
        None => "none".into(),
    }
}

/// Empty text and no text are the same to Workiva's readers.
fn norm(v: Option<&str>) -> Option<&str> {
    v.filter(|s| !s.is_empty())
}

fn text_field(out: &mut Vec<Field>, path: &'static str, old: Option<&str>, new: Option<&str>) {
    let (old, new) = (norm(old), norm(new));
    if old != new {
        out.push(Field {
            path,
            old: shown(old),
            new: shown(new),
            value: Patch::Json(new.map_or(Value::Null, |s| json!(s))),
        });
    }
}

fn bool_field(out: &mut Vec<Field>, path: &'static str, old: bool, new: bool) {
    if old != new {
        out.push(Field {
            path,
            old: old.to_string(),
            new: new.to_string(),
            value: Patch::Json(json!(new)),
        });
    }
}

/// Each declaration's Workiva id, if it has one: pinned, else recorded under its key, else
/// found by name. A pinned id Workiva does not have is an error; each resource matches once.
fn matches<'a>(
    cur: &Current,
    kind: Kind,
    decls: impl Iterator<Item = (Option<&'a str>, &'a str, &'a str)>,
    existing: impl Iterator<Item = (&'a str, &'a str)> + Clone,
) -> Result<Vec<Option<String>>, PlanProblem> {
    let decls: Vec<_> = decls.collect();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut out = vec![None; decls.len()];
    let has = |id: &str| existing.clone().any(|(x, _)| x == id);
    // Pinned and recorded ids first, so a renamed resource is not taken by name by another.
    for (i, (pinned, key, name)) in decls.iter().enumerate() {
        if let Some(id) = pinned {
            if !has(id) {
                return Err(PlanProblem {
                    kind: kind.as_str(),
                    name: name.to_string(),
                    id: id.to_string(),
                });
            }
            out[i] = Some(id.to_string());
        } else if let Some(id) = cur.recorded.get(&(kind, key.to_string()))
            && has(id)
            && !taken.contains(id)
        {
            out[i] = Some(id.clone());
        }
        if let Some(id) = &out[i] {
            taken.insert(id.clone());
        }
    }
    for (i, (_, _, name)) in decls.iter().enumerate() {
        if out[i].is_some() {
            continue;
        }
        if let Some((id, _)) = existing
            .clone()
            .find(|(id, n)| n == name && !taken.contains(*id))
        {
            out[i] = Some(id.to_string());
            taken.insert(id.to_string());
        }
    }
    Ok(out)
}

/// The order topics are created in: each after its parent.
fn topics_parents_first(f: &CatalogFile) -> Vec<usize> {
    let mut done: Vec<usize> = Vec::new();
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    while done.len() < f.topics.len() {
        let before = done.len();
        for (i, t) in f.topics.iter().enumerate() {
            let ready = t
                .parent
                .as_ref()
                .is_none_or(|p| placed.contains(p.get_ref().as_str()));
            if !done.contains(&i) && ready {
                done.push(i);
                placed.insert(&t.name);
            }
        }
        if done.len() == before {
            // A cycle (which `check` refuses): the rest in file order.
            done.extend(
                (0..f.topics.len())
                    .filter(|i| !done.contains(i))
                    .collect::<Vec<_>>(),
            );
        }
    }
    done
}

fn depth(cur: &Current, t: &Topic) -> usize {
    let mut d = 0;
    let mut at = t.parent.clone();
    while let Some(p) = at {
        d += 1;
        if d > cur.topics.len() {
            break;
        }
        at = cur
            .topics
            .iter()
            .find(|x| x.id == p)
            .and_then(|x| x.parent.clone());
    }
    d
}

/// A dimension's values after applying the catalog: Workiva's, in their order, with the
/// catalog's names and activity; the catalog's new ones after them. Values the catalog does
/// not list stay (Workiva cannot delete a value) unless `prune`, which deactivates them.
pub fn merge_values(
    old: &[DimensionValue],
    decl: &[ValueDecl],
    prune: bool,
) -> Vec<DimensionValue> {
    let mut out: Vec<DimensionValue> = old.to_vec();
    for v in decl {
        match out.iter_mut().find(|o| o.id == v.id) {
            Some(o) => {
                if let Some(n) = &v.name {
                    o.name = Some(n.clone());
                }
                if let Some(a) = v.active
                    && o.is_active() != a
                {
                    o.active = Some(a);
                }
            }
            None => out.push(DimensionValue {
                id: v.id.clone(),
                name: v.name.clone(),
                active: v.active,
            }),
        }
    }
    if prune {
        for o in out.iter_mut() {
            if o.is_active() && !decl.iter().any(|v| v.id == o.id) {
                o.active = Some(false);
            }
        }
    }
    out
}

/// What changes in a dimension's values, in words.
fn values_change(old: &[DimensionValue], new: &[DimensionValue]) -> String {
    let mut parts = Vec::new();
    let added: Vec<&str> = new
        .iter()
        .filter(|n| !old.iter().any(|o| o.id == n.id))
        .map(|n| n.id.as_str())
        .collect();
    if !added.is_empty() {
        parts.push(format!("add {}", added.join(", ")));
    }
    for n in new {
        if let Some(o) = old.iter().find(|o| o.id == n.id) {
            if o.name != n.name {
                parts.push(format!("rename {} to {}", n.id, shown(n.name.as_deref())));
            }
            if o.is_active() != n.is_active() {
                let what = if n.is_active() {
                    "activate"
                } else {
                    "deactivate"
                };
                parts.push(format!("{what} {}", n.id));
            }
        }
    }
    format!("{} values ({})", new.len(), parts.join("; "))
}

/// A metric's field updates: one per field that differs.
fn metric_fields(m: &MetricDecl, c: &Metric, cur: &Current) -> Vec<Field> {
    let mut fields = Vec::new();
    text_field(&mut fields, "/name", Some(&c.name), Some(&m.name));
    text_field(
        &mut fields,
        "/description",
        c.description.as_deref(),
        m.description.as_deref(),
    );
    text_field(&mut fields, "/unit", c.unit.as_deref(), m.unit.as_deref());
    let old = c.topic.as_deref().and_then(|t| topic_name(cur, t));
    let new = m.topic.as_ref().map(|t| t.get_ref().clone());
    if old != new {
        fields.push(Field {
            path: "/topic",
            old: shown(old.as_deref()),
            new: shown(new.as_deref()),
            value: Patch::Topic(new),
        });
    }
    bool_field(
        &mut fields,
        "/requireNotes",
        c.require_notes,
        m.require_notes,
    );
    bool_field(
        &mut fields,
        "/requireSupportingAttachments",
        c.require_supporting_attachments,
        m.require_supporting_attachments,
    );
    if c.data_type != m.data_type {
        fields.push(Field {
            path: "/datatype",
            old: c.data_type.as_str().into(),
            new: m.data_type.as_str().into(),
            value: Patch::Json(json!(m.data_type.as_str())),
        });
    }
    fields
}

/// What differs in a metric that the API cannot change: its allowed dimensions, tags and
/// framework references.
fn metric_warnings(m: &MetricDecl, c: &Metric, cur: &Current) -> Vec<String> {
    let mut warnings = Vec::new();
    let dim_name: HashMap<&str, &str> = cur
        .dimensions
        .iter()
        .map(|d| (d.id.as_str(), d.name.as_deref().unwrap_or_default()))
        .collect();
    let old_dims: BTreeSet<&str> = c
        .allowed_dimensions
        .iter()
        .map(|id| dim_name.get(id.as_str()).copied().unwrap_or(id.as_str()))
        .collect();
    let new_dims: BTreeSet<&str> = m
        .allowed_dimensions
        .iter()
        .map(|d| d.get_ref().as_str())
        .collect();
    let fixed = "the API cannot change it; recreate the metric to change it";
    if old_dims != new_dims {
        warnings.push(format!(
            "allowed dimensions are {old_dims:?} in Workiva and {new_dims:?} in the catalog: {fixed}"
        ));
    }
    let old_tags: Vec<(&str, &str)> = c
        .tags
        .iter()
        .map(|t| (t.name.as_str(), t.value.as_str()))
        .collect();
    let new_tags: Vec<(&str, &str)> = m
        .tags
        .iter()
        .map(|t| (t.name.as_str(), t.value.as_str()))
        .collect();
    if old_tags != new_tags {
        warnings.push(format!("tags differ: {fixed}"));
    }
    let old_refs: Vec<(&str, &str)> = c
        .framework_references
        .iter()
        .map(|r| (r.framework.as_str(), r.reference_name.as_str()))
        .collect();
    let new_refs: Vec<(&str, &str)> = m
        .framework_references
        .iter()
        .map(|r| (r.framework.as_str(), r.reference_name.as_str()))
        .collect();
    if old_refs != new_refs {
        warnings.push(format!("framework references differ: {fixed}"));
    }
    warnings
}

/// A dimension's create request's values.
pub fn decl_values(d: &DimensionDecl) -> Vec<DimensionValue> {
    d.values
        .iter()
        .map(|v| DimensionValue {
            id: v.id.clone(),
            name: v.name.clone(),
            active: v.active,
        })
        .collect()
}
