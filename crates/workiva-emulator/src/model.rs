//! What the emulator stores, and how each thing is written out as JSON.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::error::Detail;

pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A metric's data type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    Text,
    Number,
    Date,
    Currency,
    Percent,
}

impl DataType {
    pub const NAMES: [&'static str; 5] = ["text", "number", "date", "currency", "percent"];

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "text" => Self::Text,
            "number" => Self::Number,
            "date" => Self::Date,
            "currency" => Self::Currency,
            "percent" => Self::Percent,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Number => "number",
            Self::Date => "date",
            Self::Currency => "currency",
            Self::Percent => "percent",
        }
    }

    /// Whether `value` is acceptable for this type; the reason when it is not.
    /// An empty string means "no value yet" and fits every type.
    pub fn check(self, value: &str) -> Result<(), BadValue> {
        if value.is_empty() {
            return Ok(());
        }
        match self {
            Self::Text => Ok(()),
            Self::Number | Self::Currency | Self::Percent => {
                if is_decimal(value) {
                    Ok(())
                } else {
                    Err(BadValue::NotANumber {
                        preview: preview(value),
                        data_type: self.as_str(),
                    })
                }
            }
            Self::Date => {
                if value.len() == 10 && chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok()
                {
                    Ok(())
                } else {
                    Err(BadValue::NotADate(preview(value)))
                }
            }
        }
    }
}

/// Why a value does not fit its metric's data type; the value is shown cut to 40 characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadValue {
    /// A number, currency or percent metric's value is not a decimal.
    #[error("`{preview}` is not a number; a {data_type} metric takes a decimal such as 1024.55")]
    NotANumber {
        preview: String,
        data_type: &'static str,
    },
    /// A date metric's value is not a date.
    #[error("`{0}` is not a date; a date metric takes YYYY-MM-DD")]
    NotADate(String),
}

fn preview(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s.to_string()
    }
}

/// A plain decimal, optionally signed, optionally with an exponent: `-12.5`, `.5`, `1e3`.
pub fn is_decimal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let mut digits = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

/// A metric value's workflow status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    NotStarted,
    NotSent,
    InProgress,
    SentForApproval,
    Returned,
    Complete,
    Error,
}

impl Status {
    pub const NAMES: [&'static str; 7] = [
        "notStarted",
        "notSent",
        "inProgress",
        "sentForApproval",
        "returned",
        "complete",
        "error",
    ];
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "notStarted" => Self::NotStarted,
            "notSent" => Self::NotSent,
            "inProgress" => Self::InProgress,
            "sentForApproval" => Self::SentForApproval,
            "returned" => Self::Returned,
            "complete" => Self::Complete,
            "error" => Self::Error,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotStarted => "notStarted",
            Self::NotSent => "notSent",
            Self::InProgress => "inProgress",
            Self::SentForApproval => "sentForApproval",
            Self::Returned => "returned",
            Self::Complete => "complete",
            Self::Error => "error",
        }
    }

    /// Whether a client may move a value from `from` to `to` (None: a new value).
    /// Sending the status a value already has is a no-op and allowed, so that a batch can be
    /// resent safely.
    pub fn client_may_set(from: Option<Status>, to: Status) -> bool {
        match from {
            None => matches!(to, Status::NotStarted | Status::Complete),
            Some(f) if f == to => true,
            Some(Status::NotStarted) => to == Status::Complete,
            Some(Status::Complete) => to == Status::NotStarted,
            Some(_) => false,
        }
    }
}

/// A reporting period: year and start/end months.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    pub year: u16,
    pub start: u8,
    pub end: u8,
}

impl Period {
    pub fn to_json(self) -> Value {
        json!({"year": self.year, "start": self.start, "end": self.end})
    }
}

/// Coordinates: dimension id to dimension value id, sorted by dimension.
pub type Coords = Vec<(Uuid, String)>;

/// What identifies a value within its metric.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ValueKey {
    pub period: Period,
    pub coords: Coords,
}

pub fn coords_json(coords: &Coords) -> Value {
    let mut m = serde_json::Map::with_capacity(coords.len());
    for (k, v) in coords {
        m.insert(k.to_string(), Value::String(v.clone()));
    }
    Value::Object(m)
}

#[derive(Debug, Clone)]
pub struct Program {
    pub id: Uuid,
    pub seq: u64,
    pub name: String,
    pub topics: Vec<Topic>,
    pub dimensions: Vec<Dimension>,
    pub metrics: Vec<Metric>,
    pub permissions: Vec<Assignment>,
}

impl Program {
    pub fn to_json(&self) -> Value {
        json!({"id": self.id, "name": self.name})
    }
    pub fn metric(&self, id: Uuid) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.id == id)
    }
    pub fn dimension(&self, id: Uuid) -> Option<&Dimension> {
        self.dimensions.iter().find(|d| d.id == id)
    }
    pub fn topic(&self, id: Uuid) -> Option<&Topic> {
        self.topics.iter().find(|t| t.id == id)
    }
}

/// One permission assignment on a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub permission: String,
    pub principal: String,
    pub principal_type: &'static str,
}

#[derive(Debug, Clone)]
pub struct Topic {
    pub id: Uuid,
    pub seq: u64,
    pub name: String,
    pub index: i64,
    pub parent: Option<Uuid>,
}

impl Topic {
    pub fn to_json(&self) -> Value {
        json!({"id": self.id, "name": self.name, "index": self.index, "parent": self.parent})
    }
}

#[derive(Debug, Clone)]
pub struct DimValue {
    pub id: String,
    pub name: String,
    pub active: bool,
}

#[derive(Debug, Clone)]
pub struct Dimension {
    pub id: Uuid,
    pub seq: u64,
    pub name: Option<String>,
    pub active: bool,
    values: Vec<DimValue>,
    /// Value id -> position in `values`, so checking a coordinate is not a scan.
    index: HashMap<String, usize>,
}

impl Dimension {
    pub fn new(
        id: Uuid,
        seq: u64,
        name: Option<String>,
        active: bool,
        values: Vec<DimValue>,
    ) -> Self {
        let mut d = Self {
            id,
            seq,
            name,
            active,
            values: Vec::new(),
            index: HashMap::new(),
        };
        d.set_values(values);
        d
    }
    pub fn values(&self) -> &[DimValue] {
        &self.values
    }
    pub fn set_values(&mut self, values: Vec<DimValue>) {
        self.index = values
            .iter()
            .enumerate()
            .map(|(i, v)| (v.id.clone(), i))
            .collect();
        self.values = values;
    }
    pub fn values_json(&self) -> Value {
        Value::Array(
            self.values
                .iter()
                .map(|v| json!({"id": v.id, "name": v.name, "active": v.active}))
                .collect(),
        )
    }
    /// The full dimension; `with_values: false` gives the list form, where `values` is null.
    pub fn to_json(&self, with_values: bool) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "active": self.active,
            "values": if with_values { self.values_json() } else { Value::Null },
        })
    }
    pub fn value(&self, id: &str) -> Option<&DimValue> {
        self.index.get(id).map(|&i| &self.values[i])
    }
}

#[derive(Debug, Clone)]
pub struct Metric {
    pub id: Uuid,
    pub seq: u64,
    pub name: String,
    pub data_type: DataType,
    pub unit: Option<String>,
    pub description: Option<String>,
    pub topic: Option<Uuid>,
    pub index: i64,
    pub code: i64,
    pub allowed_dimensions: Vec<Uuid>,
    pub require_notes: bool,
    pub require_supporting_attachments: bool,
    pub tags: Vec<Value>,
    pub framework_references: Vec<Value>,
}

impl Metric {
    pub fn str_code(&self) -> String {
        format!("M{}", self.code)
    }
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "name": self.name,
            "dataType": self.data_type.as_str(),
            "index": self.index,
            "code": self.code,
            "strCode": self.str_code(),
            "requireNotes": self.require_notes,
            "requireSupportingAttachments": self.require_supporting_attachments,
            "allowedDimensions": self.allowed_dimensions,
            "tags": self.tags,
            "frameworkReferences": self.framework_references,
        });
        let m = v.as_object_mut().expect("json! object");
        if let Some(u) = &self.unit {
            m.insert("unit".into(), json!(u));
        }
        if let Some(d) = &self.description {
            m.insert("description".into(), json!(d));
        }
        if let Some(t) = &self.topic {
            m.insert("topic".into(), json!(t));
        }
        v
    }
}

#[derive(Debug, Clone)]
pub struct StoredValue {
    pub id: Uuid,
    pub key: Arc<ValueKey>,
    pub value: String,
    pub status: Status,
    pub notes: Option<String>,
    pub task: Option<String>,
    pub data_source: Option<Value>,
    pub attachments: Vec<Value>,
}

impl StoredValue {
    pub fn to_json(&self) -> Value {
        serde_json::to_value(ValueJson(self)).expect("a stored value serialises")
    }
}

/// A stored value written straight to JSON, without building a `Value` tree first (lists of a
/// million values are served page by page through this).
pub struct ValueJson<'a>(pub &'a StoredValue);

struct PeriodJson(Period);

impl serde::Serialize for PeriodJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("year", &self.0.year)?;
        m.serialize_entry("start", &self.0.start)?;
        m.serialize_entry("end", &self.0.end)?;
        m.end()
    }
}

struct CoordsJson<'a>(&'a Coords);

impl serde::Serialize for CoordsJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(&k.hyphenated(), v)?;
        }
        m.end()
    }
}

impl serde::Serialize for ValueJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let v = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &v.id.hyphenated())?;
        m.serialize_entry("value", &v.value)?;
        m.serialize_entry("reportingPeriod", &PeriodJson(v.key.period))?;
        m.serialize_entry("coordinates", &CoordsJson(&v.key.coords))?;
        m.serialize_entry("status", v.status.as_str())?;
        if let Some(n) = &v.notes {
            m.serialize_entry("notes", n)?;
        }
        if let Some(t) = &v.task {
            m.serialize_entry("task", t)?;
        }
        if let Some(d) = &v.data_source {
            m.serialize_entry("dataSource", d)?;
        }
        if !v.attachments.is_empty() {
            m.serialize_entry("supportingAttachments", &v.attachments)?;
        }
        m.end()
    }
}

/// The values of one metric: a slab in creation order (stable list order and cursor), with
/// hash indexes by key and by id so that no lookup scans.
#[derive(Debug, Default)]
pub struct MetricValues {
    pub slab: Vec<Option<StoredValue>>,
    pub by_key: HashMap<Arc<ValueKey>, u32>,
    pub by_id: HashMap<Uuid, u32>,
}

impl MetricValues {
    pub fn len(&self) -> usize {
        self.by_id.len()
    }
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
    pub fn get_by_id(&self, id: Uuid) -> Option<&StoredValue> {
        self.by_id
            .get(&id)
            .and_then(|&i| self.slab[i as usize].as_ref())
    }
    pub fn slot_of_key(&self, key: &ValueKey) -> Option<u32> {
        self.by_key.get(key).copied()
    }
    pub fn get_mut(&mut self, slot: u32) -> Option<&mut StoredValue> {
        self.slab.get_mut(slot as usize).and_then(|v| v.as_mut())
    }
    pub fn get(&self, slot: u32) -> Option<&StoredValue> {
        self.slab.get(slot as usize).and_then(|v| v.as_ref())
    }
    pub fn insert(&mut self, v: StoredValue) -> u32 {
        let slot = self.slab.len() as u32;
        self.by_key.insert(v.key.clone(), slot);
        self.by_id.insert(v.id, slot);
        self.slab.push(Some(v));
        slot
    }
    pub fn remove(&mut self, slot: u32) -> Option<StoredValue> {
        let v = self.slab.get_mut(slot as usize)?.take()?;
        self.by_key.remove(&*v.key);
        self.by_id.remove(&v.id);
        Some(v)
    }
}

/// An asynchronous operation's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpStatus {
    Queued,
    Started,
    Completed,
    Failed,
}

impl OpStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Started => "started",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

/// A field an upsertion may clear with `fieldsToClear`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClearField {
    Notes,
    Task,
    DataSource,
    Value,
}

impl ClearField {
    pub const NAMES: [&'static str; 4] = ["notes", "task", "dataSource", "value"];
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "notes" => Self::Notes,
            "task" => Self::Task,
            "dataSource" => Self::DataSource,
            "value" => Self::Value,
            _ => return None,
        })
    }
}

/// One value of a batch upsertion, checked for form but not yet against program state.
#[derive(Debug, Clone)]
pub struct UpsertItem {
    pub id: Option<String>,
    pub period: Option<Period>,
    /// Coordinates as sent: dimension id text to dimension value id.
    pub coords: Vec<(String, String)>,
    pub value: Option<String>,
    pub status: Option<Status>,
    pub notes: Option<String>,
    pub task: Option<String>,
    pub data_source: Option<Value>,
    pub fields_to_clear: Vec<ClearField>,
}

#[derive(Debug)]
pub struct Operation {
    pub id: String,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub original_request: Uuid,
    pub program: Uuid,
    pub metric: Uuid,
    pub items: Vec<UpsertItem>,
    pub queued_until: std::time::Instant,
    pub complete_at: std::time::Instant,
    pub status: OpStatus,
    pub details: Vec<Detail>,
    /// The metric and ids of the values the operation wrote, in batch order.
    pub results: Vec<Uuid>,
    /// Decided at submission by fault injection: fail with a server error.
    pub inject_failure: bool,
    /// Values this operation refuses (fault injection), and whether to hide their index.
    pub refuse: (Vec<String>, bool),
}

impl Operation {
    pub fn to_json(&self, base: &str) -> Value {
        let mut v = json!({
            "id": self.id,
            "status": self.status.as_str(),
            "created": {"dateTime": ts(self.created)},
            "updated": {"dateTime": ts(self.updated)},
            "originalRequest": self.original_request,
        });
        let m = v.as_object_mut().expect("json! object");
        if self.status == OpStatus::Completed {
            m.insert(
                "resourceUrl".into(),
                json!(format!(
                    "{base}/operations/{}/metricValuesBatchUpsertionResults",
                    self.id
                )),
            );
        }
        if self.status == OpStatus::Failed {
            m.insert("details".into(), json!(self.details));
        }
        v
    }
}

/// A task's status strings, as Workiva spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    Created,
    AwaitingApproval,
    Approved,
    Returned,
    Completed,
    Cancelled,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "Created",
            Self::AwaitingApproval => "Awaiting Approval",
            Self::Approved => "Approved",
            Self::Returned => "Returned",
            Self::Completed => "Completed",
            Self::Cancelled => "Cancelled",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ApprovalStep {
    pub completion_mode: String,
    pub participants: Vec<Value>,
    pub due_date: Option<String>,
    pub responses: Vec<Value>,
}

/// A value a task is linked to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueRef {
    pub program: Uuid,
    pub metric: Uuid,
    pub value: Uuid,
}

#[derive(Debug, Clone)]
pub struct Task {
    pub id: String,
    pub seq: u64,
    pub title: String,
    pub description: Option<String>,
    pub status: TaskStatus,
    pub assignees: Vec<Value>,
    pub steps: Vec<ApprovalStep>,
    pub current_step: usize,
    pub due_date: Option<String>,
    pub resource: String,
    pub segment: Option<String>,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub values: Vec<ValueRef>,
}

impl Task {
    pub fn to_json(&self) -> Value {
        let steps: Vec<Value> = self
            .steps
            .iter()
            .map(|s| {
                json!({
                    "completionMode": s.completion_mode,
                    "participants": s.participants,
                    "dueDate": s.due_date,
                    "responses": s.responses,
                })
            })
            .collect();
        json!({
            "id": self.id,
            "title": self.title,
            "description": self.description.clone().unwrap_or_default(),
            "status": self.status.as_str(),
            "assignees": self.assignees,
            "approvalSteps": steps,
            "dueDate": self.due_date,
            "location": {"resource": self.resource, "segment": self.segment},
            "created": {"dateTime": ts(self.created)},
            "modified": {"dateTime": ts(self.modified)},
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        for ok in ["0", "-1", "+2.5", "512.870", ".5", "5.", "1e3", "1.2E-4"] {
            assert!(is_decimal(ok), "{ok}");
        }
        for bad in [
            "", "-", ".", "1,000", "abc", "1e", "NaN", "inf", "1 2", "0x10",
        ] {
            assert!(!is_decimal(bad), "{bad}");
        }
    }

    #[test]
    fn status_transitions() {
        use Status::*;
        assert!(Status::client_may_set(None, NotStarted));
        assert!(Status::client_may_set(None, Complete));
        assert!(!Status::client_may_set(None, InProgress));
        assert!(Status::client_may_set(Some(NotStarted), Complete));
        assert!(Status::client_may_set(Some(Complete), NotStarted));
        assert!(Status::client_may_set(Some(Complete), Complete));
        assert!(!Status::client_may_set(Some(InProgress), Complete));
        assert!(!Status::client_may_set(Some(Returned), NotStarted));
        assert!(!Status::client_may_set(Some(NotStarted), SentForApproval));
    }

    #[test]
    fn dates() {
        assert!(DataType::Date.check("2025-02-28").is_ok());
        assert!(DataType::Date.check("2025-02-30").is_err());
        assert!(DataType::Date.check("2025-2-3").is_err());
        assert!(DataType::Number.check("").is_ok());
        assert!(DataType::Text.check("anything").is_ok());
    }
}
