//! The emulator's in-memory tenant: programs and everything under them, operations, tasks and
//! permissions, with every rule that needs state. HTTP lives in `routes`; this module takes
//! parsed input and returns results or `ApiError`s, so its rules are testable without a server.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;
use uuid::Uuid;

use super::config::OperationTiming;
use super::error::{ApiError, ApiResult, Detail};
use super::input::char_len;
use super::model::*;

/// The permission definitions of the workspace (`GET /permissions`).
pub const PERMISSIONS: [(&str, &str); 4] = [
    ("85aa87ee-beb9-4417-8fa0-420e9de63534", "Editor"),
    ("228d55c7-10d0-4ac3-85a3-1ac30ae97ac1", "Viewer"),
    ("598e8fa3-3e7c-4fb7-b662-f44522216e2b", "Owner"),
    ("23692e42-0e0d-463d-b1fb-f28096b7bc96", "None"),
];
pub const OWNER_PERMISSION: &str = "598e8fa3-3e7c-4fb7-b662-f44522216e2b";

/// Limits from the API documents.
pub mod limits {
    pub const PROGRAM_NAME: usize = 150;
    pub const NAME: usize = 300;
    pub const LONG_TEXT: usize = 32_767;
    pub const DIM_VALUE_ID: usize = 20;
    pub const DIM_VALUES: usize = 1_500;
    pub const ALLOWED_DIMENSIONS: usize = 7;
    pub const COORDINATES: usize = 3;
    pub const TAGS: usize = 20;
    pub const FRAMEWORK_REFS: usize = 20;
    pub const ATTACHMENTS: usize = 50;
}

/// Input for a new metric, checked for form by the route.
#[derive(Debug, Clone, Default)]
pub struct NewMetric {
    pub name: String,
    pub data_type: Option<DataType>,
    pub unit: Option<String>,
    pub description: Option<String>,
    pub topic: Option<String>,
    pub index: Option<i64>,
    pub code: Option<i64>,
    pub allowed_dimensions: Vec<String>,
    pub require_notes: bool,
    pub require_supporting_attachments: bool,
    pub tags: Vec<Value>,
    pub framework_references: Vec<Value>,
}

/// A batch deletion item as sent: id, or reporting period and coordinates.
pub type DeleteItem = (Option<String>, Option<Period>, Vec<(String, String)>);

/// Where an upsertion item lands.
enum Target {
    Existing(u32),
    New(ValueKey),
}

/// A task action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskAction {
    Submit,
    Approve,
    Reject,
    Cancel,
    Restart,
    Skip,
}

impl TaskAction {
    pub const NAMES: [&'static str; 6] =
        ["SUBMIT", "APPROVE", "REJECT", "CANCEL", "RESTART", "SKIP"];
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "SUBMIT" => Self::Submit,
            "APPROVE" => Self::Approve,
            "REJECT" => Self::Reject,
            "CANCEL" => Self::Cancel,
            "RESTART" => Self::Restart,
            "SKIP" => Self::Skip,
            _ => return None,
        })
    }
}

/// What a new task is built from (admin API and seed files).
#[derive(Debug, Clone, Default)]
pub struct NewTask {
    pub title: String,
    pub description: Option<String>,
    pub program: Uuid,
    pub segment: Option<String>,
    pub values: Vec<(Uuid, Uuid)>,
    pub assignees: Vec<Value>,
    pub steps: Vec<ApprovalStep>,
    pub due_date: Option<String>,
    /// False: the task is created but not sent, and its values are `notSent`.
    pub sent: bool,
}

#[derive(Default)]
pub struct Store {
    seq: u64,
    pub programs: Vec<Program>,
    pub values: HashMap<Uuid, MetricValues>,
    pub operations: HashMap<String, Operation>,
    pending: Vec<String>,
    in_flight: HashMap<Uuid, String>,
    pub tasks: Vec<Task>,
    /// Known principals and their type (`user` or `group`).
    pub principals: HashMap<String, &'static str>,
    /// Values visited by list scans; a lookup by key or id never adds to it.
    pub values_scanned: u64,
}

fn not_found(what: &str, id: &str) -> ApiError {
    ApiError::not_found(format!("No {what} with id `{id}` exists"))
}

impl Store {
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    // ---- programs ----

    pub fn program(&self, id: &str) -> ApiResult<&Program> {
        let uid = Uuid::try_parse(id).map_err(|_| not_found("program", id))?;
        self.programs
            .iter()
            .find(|p| p.id == uid)
            .ok_or_else(|| not_found("program", id))
    }

    pub fn program_mut(&mut self, id: &str) -> ApiResult<&mut Program> {
        let uid = Uuid::try_parse(id).map_err(|_| not_found("program", id))?;
        self.programs
            .iter_mut()
            .find(|p| p.id == uid)
            .ok_or_else(|| not_found("program", id))
    }

    fn check_program_name(&self, name: &str, except: Option<Uuid>) -> ApiResult<()> {
        if self
            .programs
            .iter()
            .any(|p| p.name == name && Some(p.id) != except)
        {
            return Err(ApiError::conflict(format!(
                "A program named `{name}` already exists; program names are unique within a workspace"
            ))
            .with_target("name"));
        }
        Ok(())
    }

    /// Creates a program; the creating principal becomes its Owner.
    pub fn create_program(&mut self, name: &str, owner: Option<&str>) -> ApiResult<&Program> {
        self.check_program_name(name, None)?;
        let seq = self.next_seq();
        let mut permissions = Vec::new();
        if let Some(o) = owner {
            self.principals.entry(o.to_string()).or_insert("user");
            permissions.push(Assignment {
                permission: OWNER_PERMISSION.into(),
                principal: o.into(),
                principal_type: self.principals[o],
            });
        }
        self.programs.push(Program {
            id: Uuid::new_v4(),
            seq,
            name: name.into(),
            topics: Vec::new(),
            dimensions: Vec::new(),
            metrics: Vec::new(),
            permissions,
        });
        Ok(self.programs.last().expect("just pushed"))
    }

    pub fn rename_program(&mut self, id: &str, name: &str) -> ApiResult<&Program> {
        let pid = self.program(id)?.id;
        self.check_program_name(name, Some(pid))?;
        let p = self.program_mut(id)?;
        p.name = name.into();
        Ok(p)
    }

    // ---- topics ----

    fn check_parent(
        p: &Program,
        parent: Option<&str>,
        me: Option<Uuid>,
    ) -> ApiResult<Option<Uuid>> {
        let Some(parent) = parent else {
            return Ok(None);
        };
        let pid = Uuid::try_parse(parent)
            .ok()
            .filter(|u| p.topic(*u).is_some())
            .ok_or_else(|| {
                ApiError::invalid(
                    "parent",
                    format!("No topic with id `{parent}` exists in this program"),
                )
            })?;
        if let Some(me) = me {
            // Walk up from the new parent: meeting `me` would make a cycle.
            let mut cur = Some(pid);
            while let Some(c) = cur {
                if c == me {
                    return Err(ApiError::invalid(
                        "parent",
                        "A topic cannot be placed under itself or one of its subtopics",
                    ));
                }
                cur = p.topic(c).and_then(|t| t.parent);
            }
        }
        Ok(Some(pid))
    }

    pub fn create_topic(
        &mut self,
        program: &str,
        name: &str,
        index: Option<i64>,
        parent: Option<&str>,
    ) -> ApiResult<Topic> {
        let seq = self.next_seq();
        let p = self.program_mut(program)?;
        let parent = Self::check_parent(p, parent, None)?;
        // Without an index the topic goes last among its siblings.
        let index = index.unwrap_or_else(|| {
            p.topics
                .iter()
                .filter(|t| t.parent == parent)
                .map(|t| t.index + 1)
                .max()
                .unwrap_or(0)
        });
        let t = Topic {
            id: Uuid::new_v4(),
            seq,
            name: name.into(),
            index,
            parent,
        };
        p.topics.push(t.clone());
        Ok(t)
    }

    pub fn topic_mut<'a>(p: &'a mut Program, id: &str) -> ApiResult<&'a mut Topic> {
        let uid = Uuid::try_parse(id).map_err(|_| not_found("topic", id))?;
        p.topics
            .iter_mut()
            .find(|t| t.id == uid)
            .ok_or_else(|| not_found("topic", id))
    }

    pub fn set_topic_parent(
        &mut self,
        program: &str,
        topic: &str,
        parent: Option<&str>,
    ) -> ApiResult<Topic> {
        let p = self.program_mut(program)?;
        let me = Self::topic_mut(p, topic)?.id;
        let parent = Self::check_parent(p, parent, Some(me))?;
        let t = Self::topic_mut(p, topic)?;
        t.parent = parent;
        Ok(t.clone())
    }

    /// Deletes a topic. Its metrics lose their topic and its subtopics move to the top level.
    pub fn delete_topic(&mut self, program: &str, topic: &str) -> ApiResult<()> {
        let p = self.program_mut(program)?;
        let id = Self::topic_mut(p, topic)?.id;
        p.topics.retain(|t| t.id != id);
        for t in &mut p.topics {
            if t.parent == Some(id) {
                t.parent = None;
            }
        }
        for m in &mut p.metrics {
            if m.topic == Some(id) {
                m.topic = None;
            }
        }
        Ok(())
    }

    // ---- dimensions ----

    pub fn create_dimension(
        &mut self,
        program: &str,
        name: Option<String>,
        active: bool,
        values: Vec<DimValue>,
    ) -> ApiResult<Dimension> {
        let seq = self.next_seq();
        let p = self.program_mut(program)?;
        let d = Dimension::new(Uuid::new_v4(), seq, name, active, values);
        p.dimensions.push(d.clone());
        Ok(d)
    }

    pub fn dimension_mut<'a>(p: &'a mut Program, id: &str) -> ApiResult<&'a mut Dimension> {
        let uid = Uuid::try_parse(id).map_err(|_| not_found("dimension", id))?;
        p.dimensions
            .iter_mut()
            .find(|d| d.id == uid)
            .ok_or_else(|| not_found("dimension", id))
    }

    /// Replaces a dimension's values. A value id that metric values still use may not be
    /// removed (deactivate it instead), so no stored value points at a missing id.
    pub fn replace_dimension_values(
        &mut self,
        program: &str,
        dimension: &str,
        values: Vec<DimValue>,
    ) -> ApiResult<Dimension> {
        let p = self.program(program)?;
        let dim_id = Uuid::try_parse(dimension)
            .ok()
            .filter(|u| p.dimension(*u).is_some())
            .ok_or_else(|| not_found("dimension", dimension))?;
        let keep: HashSet<&str> = values.iter().map(|v| v.id.as_str()).collect();
        let metrics: Vec<Uuid> = p
            .metrics
            .iter()
            .filter(|m| m.allowed_dimensions.contains(&dim_id))
            .map(|m| m.id)
            .collect();
        for m in metrics {
            if let Some(mv) = self.values.get(&m) {
                for v in mv.slab.iter().flatten() {
                    for (d, dv) in &v.key.coords {
                        if *d == dim_id && !keep.contains(dv.as_str()) {
                            return Err(ApiError::conflict(format!(
                                "Dimension value `{dv}` is used by metric values; deactivate it (\"active\": false) instead of removing it"
                            ))
                            .with_target("/values"));
                        }
                    }
                }
            }
        }
        let p = self.program_mut(program)?;
        let d = Self::dimension_mut(p, dimension)?;
        d.set_values(values);
        Ok(d.clone())
    }

    // ---- metrics ----

    pub fn metric_ids(&self, program: &str, metric: &str) -> ApiResult<(Uuid, Uuid)> {
        let p = self.program(program)?;
        let mid = Uuid::try_parse(metric)
            .ok()
            .filter(|u| p.metric(*u).is_some())
            .ok_or_else(|| not_found("metric", metric))?;
        Ok((p.id, mid))
    }

    pub fn metric(&self, program: &str, metric: &str) -> ApiResult<&Metric> {
        let (pid, mid) = self.metric_ids(program, metric)?;
        Ok(self.program_by_id(pid).metric(mid).expect("checked"))
    }

    fn program_by_id(&self, id: Uuid) -> &Program {
        self.programs
            .iter()
            .find(|p| p.id == id)
            .expect("program id checked")
    }

    pub fn metric_mut<'a>(p: &'a mut Program, id: &str) -> ApiResult<&'a mut Metric> {
        let uid = Uuid::try_parse(id).map_err(|_| not_found("metric", id))?;
        p.metrics
            .iter_mut()
            .find(|m| m.id == uid)
            .ok_or_else(|| not_found("metric", id))
    }

    pub fn check_metric_topic(p: &Program, topic: Option<&str>) -> ApiResult<Option<Uuid>> {
        match topic {
            None => Ok(None),
            Some(t) => Uuid::try_parse(t)
                .ok()
                .filter(|u| p.topic(*u).is_some())
                .map(Some)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "topic",
                        format!("No topic with id `{t}` exists in this program"),
                    )
                }),
        }
    }

    pub fn create_metric(&mut self, program: &str, m: NewMetric) -> ApiResult<Metric> {
        let seq = self.next_seq();
        let p = self.program_mut(program)?;
        let topic = Self::check_metric_topic(p, m.topic.as_deref())?;
        let mut dims = Vec::new();
        for (i, d) in m.allowed_dimensions.iter().enumerate() {
            let target = format!("allowedDimensions[{i}]");
            let dim = Uuid::try_parse(d)
                .ok()
                .and_then(|u| p.dimension(u))
                .ok_or_else(|| {
                    ApiError::invalid(
                        &target,
                        format!("No dimension with id `{d}` exists in this program"),
                    )
                })?;
            if !dim.active {
                return Err(ApiError::invalid(
                    &target,
                    format!(
                        "Dimension `{d}` is inactive; an inactive dimension cannot be used in new metrics"
                    ),
                ));
            }
            if dims.contains(&dim.id) {
                return Err(ApiError::invalid(
                    &target,
                    format!("Dimension `{d}` is listed twice"),
                ));
            }
            dims.push(dim.id);
        }
        let code = match m.code {
            Some(c) => {
                if p.metrics.iter().any(|x| x.code == c) {
                    return Err(ApiError::conflict(format!(
                        "Metric code {c} is already used in this program; codes are unique"
                    ))
                    .with_target("code"));
                }
                c
            }
            None => p.metrics.iter().map(|x| x.code).max().unwrap_or(0) + 1,
        };
        let index = m
            .index
            .unwrap_or_else(|| p.metrics.iter().map(|x| x.index + 1).max().unwrap_or(0));
        let metric = Metric {
            id: Uuid::new_v4(),
            seq,
            name: m.name,
            data_type: m.data_type.unwrap_or(DataType::Text),
            unit: m.unit,
            description: m.description,
            topic,
            index,
            code,
            allowed_dimensions: dims,
            require_notes: m.require_notes,
            require_supporting_attachments: m.require_supporting_attachments,
            tags: m.tags,
            framework_references: m.framework_references,
        };
        let id = metric.id;
        p.metrics.push(metric.clone());
        self.values.insert(id, MetricValues::default());
        Ok(metric)
    }

    /// Changes a metric's data type; refused while stored values would not fit the new type.
    pub fn set_metric_datatype(
        &mut self,
        program: &str,
        metric: &str,
        dt: DataType,
    ) -> ApiResult<Metric> {
        let (_, mid) = self.metric_ids(program, metric)?;
        if let Some(mv) = self.values.get(&mid)
            && let Some(bad) = mv
                .slab
                .iter()
                .flatten()
                .find(|v| dt.check(&v.value).is_err())
        {
            return Err(ApiError::conflict(format!(
                "Value `{}` of this metric is not a valid {}; change or delete such values first",
                bad.value,
                dt.as_str()
            ))
            .with_target("/datatype"));
        }
        let p = self.program_mut(program)?;
        let m = Self::metric_mut(p, metric)?;
        m.data_type = dt;
        Ok(m.clone())
    }

    /// Deletes a metric and all of its values.
    pub fn delete_metric(&mut self, program: &str, metric: &str) -> ApiResult<()> {
        let (_, mid) = self.metric_ids(program, metric)?;
        let p = self.program_mut(program)?;
        p.metrics.retain(|m| m.id != mid);
        self.values.remove(&mid);
        for t in &mut self.tasks {
            t.values.retain(|v| v.metric != mid);
        }
        Ok(())
    }

    // ---- values ----

    pub fn metric_values(&self, metric: Uuid) -> &MetricValues {
        self.values
            .get(&metric)
            .expect("every metric has a value table")
    }

    pub fn value(&self, program: &str, metric: &str, value: &str) -> ApiResult<&StoredValue> {
        let (_, mid) = self.metric_ids(program, metric)?;
        Uuid::try_parse(value)
            .ok()
            .and_then(|u| self.metric_values(mid).get_by_id(u))
            .ok_or_else(|| not_found("metric value", value))
    }

    /// Finds where an item lands, checking every state rule; problems go to `details`.
    fn resolve(
        &self,
        p: &Program,
        m: &Metric,
        item: &UpsertItem,
        at: &dyn Fn() -> String,
        details: &mut Vec<Detail>,
    ) -> Option<Target> {
        let vals = self.metric_values(m.id);
        let before = details.len();
        let target = if let Some(id) = &item.id {
            match Uuid::try_parse(id)
                .ok()
                .and_then(|u| vals.by_id.get(&u).copied())
            {
                Some(slot) => Some(Target::Existing(slot)),
                None => {
                    details.push(Detail::new(
                        "NotFound",
                        format!("{}.id", at()),
                        format!("No value with id `{id}` exists in metric `{}`", m.id),
                    ));
                    None
                }
            }
        } else {
            let period = item
                .period
                .expect("form check requires a period without an id");
            let mut coords: Coords = Vec::with_capacity(item.coords.len());
            let mut all_known = true;
            for (dim, dv) in &item.coords {
                let t = || format!("{}.coordinates", at());
                let Some(dim_id) = Uuid::try_parse(dim)
                    .ok()
                    .filter(|u| m.allowed_dimensions.contains(u))
                else {
                    details.push(Detail::new(
                        "InvalidCoordinates",
                        t(),
                        format!(
                            "Dimension `{dim}` is not one of the metric's allowed dimensions ({})",
                            m.allowed_dimensions
                                .iter()
                                .map(|u| u.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                    all_known = false;
                    continue;
                };
                let dimension = p.dimension(dim_id).expect("allowed dimensions exist");
                match dimension.value(dv) {
                    None => {
                        details.push(Detail::new(
                            "InvalidCoordinates",
                            t(),
                            format!("Dimension `{dim}` has no value with id `{dv}`"),
                        ));
                        all_known = false;
                    }
                    Some(v) => coords.push((dim_id, v.id.clone())),
                }
            }
            if !all_known {
                None
            } else {
                coords.sort();
                let key = ValueKey { period, coords };
                match vals.slot_of_key(&key) {
                    Some(slot) => Some(Target::Existing(slot)),
                    None => {
                        // Inactive dimension values cannot be used in new values.
                        for (d, dv) in &key.coords {
                            let dim = p.dimension(*d).expect("checked");
                            if dim.value(dv).is_some_and(|v| !v.active) {
                                details.push(Detail::new(
                                    "InactiveDimensionValue",
                                    format!("{}.coordinates", at()),
                                    format!("Dimension value `{dv}` of dimension `{d}` is inactive and cannot be used in a new value"),
                                ));
                            }
                        }
                        Some(Target::New(key))
                    }
                }
            }
        };
        let current = match &target {
            Some(Target::Existing(slot)) => vals.get(*slot),
            _ => None,
        };
        if let Some(v) = &item.value
            && let Err(why) = m.data_type.check(v)
        {
            details.push(Detail::new("InvalidValue", format!("{}.value", at()), why));
        }
        if let Some(s) = item.status {
            let from = current.map(|c| c.status);
            if target.is_some() && !Status::client_may_set(from, s) {
                let msg = match from {
                    None => format!(
                        "A new value may start as notStarted or complete, not {}",
                        s.as_str()
                    ),
                    Some(f) => format!(
                        "Status cannot change from {} to {} through the API; only notStarted→complete and complete→notStarted are allowed, other changes go through the task workflow",
                        f.as_str(),
                        s.as_str()
                    ),
                };
                details.push(Detail::new(
                    "InvalidStatusTransition",
                    format!("{}.status", at()),
                    msg,
                ));
            }
        }
        if let Some(t) = &item.task
            && !self.tasks.iter().any(|x| &x.id == t)
        {
            details.push(Detail::new(
                "NotFound",
                format!("{}.task", at()),
                format!("No task with id `{t}` exists"),
            ));
        }
        if details.len() > before { None } else { target }
    }

    fn apply_item(vals: &mut MetricValues, target: Target, item: &UpsertItem) -> Uuid {
        let slot = match target {
            Target::Existing(slot) => slot,
            Target::New(key) => vals.insert(StoredValue {
                id: Uuid::new_v4(),
                key: Arc::new(key),
                value: String::new(),
                status: Status::NotStarted,
                notes: None,
                task: None,
                data_source: None,
                attachments: Vec::new(),
            }),
        };
        let v = vals.get_mut(slot).expect("slot just resolved");
        if let Some(x) = &item.value {
            v.value.clone_from(x);
        }
        if let Some(s) = item.status {
            v.status = s;
        }
        if let Some(n) = &item.notes {
            v.notes = Some(n.clone());
        }
        if let Some(t) = &item.task {
            v.task = Some(t.clone());
        }
        if let Some(d) = &item.data_source {
            v.data_source = Some(d.clone());
        }
        for f in &item.fields_to_clear {
            match f {
                ClearField::Notes => v.notes = None,
                ClearField::Task => v.task = None,
                ClearField::DataSource => v.data_source = None,
                ClearField::Value => v.value.clear(),
            }
        }
        v.id
    }

    /// Applies items all-or-nothing; on any problem nothing is stored and the details return.
    pub fn upsert_all(
        &mut self,
        program: Uuid,
        metric: Uuid,
        items: &[UpsertItem],
        prefix: &str,
    ) -> Result<Vec<Uuid>, Vec<Detail>> {
        let Some(p) = self.programs.iter().find(|p| p.id == program) else {
            return Err(vec![Detail::new(
                "NotFound",
                "programId",
                "The program no longer exists",
            )]);
        };
        let Some(m) = p.metric(metric) else {
            return Err(vec![Detail::new(
                "NotFound",
                "metricId",
                "The metric was deleted before the operation ran",
            )]);
        };
        let mut details = Vec::new();
        let mut targets = Vec::with_capacity(items.len());
        let mut seen_slots: HashMap<u32, usize> = HashMap::new();
        let mut seen_new: HashMap<ValueKey, usize> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let at = || format!("{prefix}[{i}]");
            let t = self.resolve(p, m, item, &at, &mut details);
            let dup_of = match &t {
                Some(Target::Existing(s)) => seen_slots.insert(*s, i),
                Some(Target::New(k)) => seen_new.insert(k.clone(), i),
                None => None,
            };
            if let Some(first) = dup_of {
                details.push(Detail::new(
                    "DuplicateValue",
                    at(),
                    format!("This value is the same value as {prefix}[{first}]; send each value once per batch"),
                ));
            }
            targets.push(t);
        }
        if !details.is_empty() {
            return Err(details);
        }
        let vals = self.values.get_mut(&metric).expect("metric has values");
        Ok(targets
            .into_iter()
            .zip(items)
            .map(|(t, item)| Self::apply_item(vals, t.expect("no details means resolved"), item))
            .collect())
    }

    /// Creates one value synchronously (`POST .../values`): a value that exists is a 409.
    pub fn create_value(
        &mut self,
        program: &str,
        metric: &str,
        item: UpsertItem,
    ) -> ApiResult<&StoredValue> {
        let (pid, mid) = self.metric_ids(program, metric)?;
        let p = self.program_by_id(pid);
        let m = p.metric(mid).expect("checked");
        let mut details = Vec::new();
        let target = self.resolve(p, m, &item, &|| "body".to_string(), &mut details);
        if let Some(d) = details.first() {
            return Err(
                ApiError::invalid(d.target.trim_start_matches("body."), d.message.clone())
                    .with_details(details),
            );
        }
        if let Some(Target::Existing(_)) = target {
            return Err(ApiError::conflict(
                "A value with this reporting period and coordinates already exists; update it with PATCH or batch upsertion",
            ));
        }
        let vals = self.values.get_mut(&mid).expect("metric has values");
        let id = Self::apply_item(vals, target.expect("resolved"), &item);
        Ok(self.metric_values(mid).get_by_id(id).expect("just created"))
    }

    pub fn value_mut(
        &mut self,
        program: &str,
        metric: &str,
        value: &str,
    ) -> ApiResult<(DataType, &mut StoredValue)> {
        let (_, mid) = self.metric_ids(program, metric)?;
        let dt = self.metric(program, metric)?.data_type;
        let vals = self.values.get_mut(&mid).expect("metric has values");
        let slot = Uuid::try_parse(value)
            .ok()
            .and_then(|u| vals.by_id.get(&u).copied())
            .ok_or_else(|| not_found("metric value", value))?;
        Ok((dt, vals.get_mut(slot).expect("indexed slot")))
    }

    pub fn delete_value(&mut self, program: &str, metric: &str, value: &str) -> ApiResult<()> {
        let (_, mid) = self.metric_ids(program, metric)?;
        let vals = self.values.get_mut(&mid).expect("metric has values");
        let slot = Uuid::try_parse(value)
            .ok()
            .and_then(|u| vals.by_id.get(&u).copied())
            .ok_or_else(|| not_found("metric value", value))?;
        vals.remove(slot);
        Ok(())
    }

    /// Deletes values by id or by (period, coordinates); identifiers that match nothing are
    /// skipped, so a deletion can be resent safely. Returns how many were deleted.
    pub fn batch_delete(
        &mut self,
        program: &str,
        metric: &str,
        items: &[DeleteItem],
    ) -> ApiResult<usize> {
        let (_, mid) = self.metric_ids(program, metric)?;
        if self.in_flight.contains_key(&mid) {
            return Err(ApiError::conflict(
                "A batch upsertion for this metric is still in progress; wait for it to finish before deleting values",
            ));
        }
        let vals = self.values.get_mut(&mid).expect("metric has values");
        let mut slots = Vec::new();
        for (id, period, coords) in items {
            let slot = if let Some(id) = id {
                Uuid::try_parse(id)
                    .ok()
                    .and_then(|u| vals.by_id.get(&u).copied())
            } else {
                let mut c: Coords = Vec::new();
                let mut ok = true;
                for (d, v) in coords {
                    match Uuid::try_parse(d) {
                        Ok(u) => c.push((u, v.clone())),
                        Err(_) => ok = false,
                    }
                }
                c.sort();
                period
                    .filter(|_| ok)
                    .and_then(|period| vals.slot_of_key(&ValueKey { period, coords: c }))
            };
            if let Some(s) = slot {
                slots.push(s);
            }
        }
        let mut n = 0;
        for s in slots {
            if vals.remove(s).is_some() {
                n += 1;
            }
        }
        Ok(n)
    }

    // ---- operations ----

    /// Queues a batch upsertion. A second one for a metric with one in flight is a 409.
    pub fn submit_upsertion(
        &mut self,
        program: &str,
        metric: &str,
        items: Vec<UpsertItem>,
        timing: &OperationTiming,
        inject_failure: bool,
        now: Instant,
    ) -> ApiResult<String> {
        let (pid, mid) = self.metric_ids(program, metric)?;
        if let Some(op) = self.in_flight.get(&mid) {
            return Err(ApiError::conflict(format!(
                "Operation `{op}` is still upserting values of this metric; wait until it completes before sending the next batch"
            ))
            .with_target("metricId"));
        }
        let queued_until = now + Duration::from_millis(timing.queued_ms);
        let work = timing.base_ms * 1000 + timing.per_value_us * items.len() as u64;
        let complete_at = queued_until + Duration::from_micros(work);
        let id = Uuid::new_v4().simple().to_string();
        let t = Utc::now();
        self.operations.insert(
            id.clone(),
            Operation {
                id: id.clone(),
                created: t,
                updated: t,
                original_request: Uuid::new_v4(),
                program: pid,
                metric: mid,
                items,
                queued_until,
                complete_at,
                status: OpStatus::Queued,
                details: Vec::new(),
                results: Vec::new(),
                inject_failure,
                refuse: (Vec::new(), false),
            },
        );
        self.pending.push(id.clone());
        self.in_flight.insert(mid, id.clone());
        Ok(id)
    }

    /// Moves operations along their timeline; those that are due are applied now.
    pub fn advance(&mut self, now: Instant) {
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        let mut still = Vec::with_capacity(pending.len());
        for id in pending {
            let Some(op) = self.operations.get_mut(&id) else {
                continue;
            };
            if now < op.queued_until {
                still.push(id);
                continue;
            }
            if now < op.complete_at {
                if op.status == OpStatus::Queued {
                    op.status = OpStatus::Started;
                    op.updated = Utc::now();
                }
                still.push(id);
                continue;
            }
            let items = std::mem::take(&mut op.items);
            let (program, metric, inject) = (op.program, op.metric, op.inject_failure);
            let (refuse, unnamed) = std::mem::take(&mut op.refuse);
            let refused: Vec<Detail> = items
                .iter()
                .enumerate()
                .filter(|(_, it)| it.value.as_ref().is_some_and(|v| refuse.contains(v)))
                .map(|(i, it)| {
                    Detail::new(
                        "InvalidValue",
                        if unnamed {
                            "data".to_string()
                        } else {
                            format!("data[{i}].value")
                        },
                        format!(
                            "Value `{}` is refused by this program's rules",
                            it.value.clone().unwrap_or_default()
                        ),
                    )
                })
                .collect();
            let outcome = if !refused.is_empty() {
                Err(refused)
            } else if inject {
                Err(vec![Detail::new(
                    "500InternalServerError",
                    "operation",
                    "The server encountered an unexpected condition while processing the batch; nothing was stored. Send the batch again.",
                )])
            } else {
                self.upsert_all(program, metric, &items, "data")
            };
            let op = self.operations.get_mut(&id).expect("present");
            op.updated = Utc::now();
            match outcome {
                Ok(ids) => {
                    op.status = OpStatus::Completed;
                    op.results = ids;
                }
                Err(details) => {
                    op.status = OpStatus::Failed;
                    op.details = details;
                }
            }
            if self.in_flight.get(&metric) == Some(&id) {
                self.in_flight.remove(&metric);
            }
        }
        still.append(&mut self.pending);
        self.pending = still;
    }

    /// When the operation will next change, for `Retry-After`.
    pub fn next_change(&self, op: &Operation, now: Instant) -> Duration {
        if now < op.queued_until {
            op.queued_until - now
        } else {
            op.complete_at.saturating_duration_since(now)
        }
    }

    // ---- tasks ----

    pub fn task(&self, id: &str) -> ApiResult<&Task> {
        self.tasks
            .iter()
            .find(|t| t.id == id)
            .ok_or_else(|| not_found("task", id))
    }

    fn set_values_status(&mut self, refs: &[ValueRef], status: Status, link: Option<&str>) {
        for r in refs {
            if let Some(mv) = self.values.get_mut(&r.metric)
                && let Some(&slot) = mv.by_id.get(&r.value)
                && let Some(v) = mv.get_mut(slot)
            {
                v.status = status;
                if let Some(l) = link {
                    v.task = Some(l.to_string());
                }
            }
        }
    }

    /// Creates a task linked to values; the values move to `inProgress` (or `notSent`).
    pub fn create_task(&mut self, t: NewTask) -> ApiResult<&Task> {
        let p = self
            .programs
            .iter()
            .find(|p| p.id == t.program)
            .ok_or_else(|| not_found("program", &t.program.to_string()))?;
        let mut refs = Vec::new();
        for (i, (m, v)) in t.values.iter().enumerate() {
            if p.metric(*m).is_none() {
                return Err(ApiError::invalid(
                    format!("values[{i}].metric"),
                    format!("No metric `{m}` in program `{}`", p.id),
                ));
            }
            let Some(val) = self.metric_values(*m).get_by_id(*v) else {
                return Err(ApiError::invalid(
                    format!("values[{i}]"),
                    format!("No value `{v}` in metric `{m}`"),
                ));
            };
            if let Some(other) = &val.task
                && self.tasks.iter().any(|x| {
                    &x.id == other
                        && !matches!(
                            x.status,
                            TaskStatus::Cancelled | TaskStatus::Completed | TaskStatus::Approved
                        )
                })
            {
                return Err(ApiError::conflict(format!(
                    "Value `{v}` is already linked to open task `{other}`"
                )));
            }
            refs.push(ValueRef {
                program: p.id,
                metric: *m,
                value: *v,
            });
        }
        let seq = self.next_seq();
        let now = Utc::now();
        let id = format!("T{}", Uuid::new_v4().simple());
        let task = Task {
            id: id.clone(),
            seq,
            title: t.title,
            description: t.description,
            status: TaskStatus::Created,
            assignees: t.assignees,
            steps: t.steps,
            current_step: 0,
            due_date: t.due_date,
            resource: t.program.to_string(),
            segment: t
                .segment
                .or_else(|| refs.first().map(|r| r.metric.to_string())),
            created: now,
            modified: now,
            values: refs.clone(),
        };
        let status = if t.sent {
            Status::InProgress
        } else {
            Status::NotSent
        };
        self.set_values_status(&refs, status, Some(&id));
        self.tasks.push(task);
        Ok(self.tasks.last().expect("just pushed"))
    }

    /// Applies a task action, moving the task's and its values' status together.
    pub fn task_action(
        &mut self,
        id: &str,
        action: TaskAction,
        comment: Option<String>,
    ) -> ApiResult<&Task> {
        let idx = self
            .tasks
            .iter()
            .position(|t| t.id == id)
            .ok_or_else(|| not_found("task", id))?;
        let task = &self.tasks[idx];
        use TaskAction as A;
        use TaskStatus as S;
        let now = Utc::now();
        let response = |action: &str| {
            serde_json::json!({
                "created": {"dateTime": ts(now)},
                "action": action,
                "comment": comment,
            })
        };
        let last_step = task.steps.is_empty() || task.current_step + 1 >= task.steps.len();
        // (new task status, new value status, step change)
        let (status, value_status, step): (S, Status, Option<usize>) = match (task.status, action) {
            (S::Created | S::Returned, A::Submit) if task.steps.is_empty() => {
                (S::Completed, Status::Complete, None)
            }
            (S::Created | S::Returned, A::Submit) => {
                (S::AwaitingApproval, Status::SentForApproval, Some(0))
            }
            (S::AwaitingApproval, A::Approve | A::Skip) if last_step => {
                (S::Approved, Status::Complete, None)
            }
            (S::AwaitingApproval, A::Approve | A::Skip) => (
                S::AwaitingApproval,
                Status::SentForApproval,
                Some(task.current_step + 1),
            ),
            (S::AwaitingApproval, A::Reject) => (S::Returned, Status::Returned, None),
            (S::Created | S::AwaitingApproval | S::Returned, A::Cancel) => {
                (S::Cancelled, Status::NotStarted, None)
            }
            (S::Returned | S::Approved | S::Completed | S::Cancelled, A::Restart) => {
                (S::Created, Status::InProgress, Some(0))
            }
            (s, a) => {
                let allowed: &[&str] = match s {
                    S::Created => &["SUBMIT", "CANCEL"],
                    S::AwaitingApproval => &["APPROVE", "REJECT", "SKIP", "CANCEL"],
                    S::Returned => &["SUBMIT", "CANCEL", "RESTART"],
                    S::Approved | S::Completed | S::Cancelled => &["RESTART"],
                };
                return Err(ApiError::conflict(format!(
                    "{} makes no sense for a task that is `{}`; allowed now: {}",
                    TaskAction::NAMES[a as usize],
                    s.as_str(),
                    allowed.join(", ")
                ))
                .with_target("action"));
            }
        };
        let refs = task.values.clone();
        let task = &mut self.tasks[idx];
        if matches!(action, A::Approve | A::Reject | A::Skip)
            && let Some(st) = task.steps.get_mut(task.current_step)
        {
            st.responses
                .push(response(TaskAction::NAMES[action as usize]));
        }
        if action == A::Submit {
            // A resubmission starts a fresh approval round.
            for st in &mut task.steps {
                st.responses.clear();
            }
        }
        if let Some(s) = step {
            task.current_step = s;
        }
        task.status = status;
        task.modified = now;
        self.set_values_status(&refs, value_status, None);
        Ok(&self.tasks[idx])
    }

    // ---- permissions ----

    /// Whether `principal` holds Owner on the program.
    pub fn is_owner(&self, program: &Program, principal: &str) -> bool {
        program
            .permissions
            .iter()
            .any(|a| a.principal == principal && a.permission == OWNER_PERMISSION)
    }

    /// Applies a permission modification all-or-nothing.
    pub fn modify_permissions(
        &mut self,
        program: &str,
        assign: &[(String, String)],
        revoke: &[(String, String)],
    ) -> ApiResult<()> {
        let p = self.program(program)?;
        let mut next = p.permissions.clone();
        let mut problems = Vec::new();
        let known = |perm: &str| PERMISSIONS.iter().any(|(id, _)| *id == perm);
        for (i, (perm, princ)) in revoke.iter().enumerate() {
            if let Some(pos) = next
                .iter()
                .position(|a| &a.permission == perm && &a.principal == princ)
            {
                next.remove(pos);
            } else {
                problems.push(Detail::new(
                    "NotFound",
                    format!("toRevoke[{i}]"),
                    format!(
                        "Principal `{princ}` does not hold permission `{perm}` on this program"
                    ),
                ));
            }
        }
        for (i, (perm, princ)) in assign.iter().enumerate() {
            if !known(perm) {
                problems.push(Detail::new(
                    "InvalidPermission",
                    format!("toAssign[{i}].permission"),
                    format!("`{perm}` is not a permission of this workspace; see GET /permissions"),
                ));
                continue;
            }
            let Some(kind) = self.principals.get(princ) else {
                problems.push(Detail::new(
                    "InvalidPrincipal",
                    format!("toAssign[{i}].principal"),
                    format!("No user or group `{princ}` exists in this workspace"),
                ));
                continue;
            };
            if next
                .iter()
                .any(|a| &a.permission == perm && &a.principal == princ)
            {
                problems.push(Detail::new(
                    "Conflict",
                    format!("toAssign[{i}]"),
                    format!("Principal `{princ}` already holds permission `{perm}`"),
                ));
                continue;
            }
            next.push(Assignment {
                permission: perm.clone(),
                principal: princ.clone(),
                principal_type: kind,
            });
        }
        if !problems.is_empty() {
            let first = problems[0].message.clone();
            return Err(
                ApiError::bad_request(format!("No permission was changed: {first}"))
                    .with_details(problems),
            );
        }
        self.program_mut(program)?.permissions = next;
        Ok(())
    }
}

/// Checks the form of a dimension's values list.
pub fn check_dim_values(values: &[DimValue], target: &str) -> ApiResult<()> {
    if values.is_empty() || values.len() > limits::DIM_VALUES {
        return Err(ApiError::invalid(
            target,
            format!(
                "A dimension has from 1 to {} values; this one has {}",
                limits::DIM_VALUES,
                values.len()
            ),
        ));
    }
    let mut seen = HashSet::new();
    for (i, v) in values.iter().enumerate() {
        if !seen.insert(v.id.as_str()) {
            return Err(ApiError::invalid(
                format!("{target}[{i}].id"),
                format!("Dimension value id `{}` is listed twice", v.id),
            ));
        }
        if char_len(&v.id) > limits::DIM_VALUE_ID {
            return Err(ApiError::invalid(
                format!("{target}[{i}].id"),
                format!(
                    "Dimension value id `{}` is {} characters; Workiva allows {}",
                    v.id,
                    char_len(&v.id),
                    limits::DIM_VALUE_ID
                ),
            ));
        }
    }
    Ok(())
}
