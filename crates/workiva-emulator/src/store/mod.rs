//! The emulator's in-memory tenant: programs and everything under them, operations, tasks and
//! permissions, with every rule that needs state. HTTP lives in `routes`; this module takes
//! parsed input and returns results or `ApiError`s, so its rules are testable without a server.
//! One file per resource: programs, topics, dimensions, metrics, values, operations, tasks,
//! permissions; this one holds the tenant's shape and the inputs the routes build.

mod dimensions;
mod metrics;
mod operations;
mod permissions;
mod programs;
mod tasks;
mod topics;
mod values;

use std::collections::HashMap;

use serde_json::Value;
use uuid::Uuid;

use super::error::ApiError;
use super::model::*;

/// The permission definitions of the workspace (`GET /permissions`).
pub const PERMISSIONS: [(&str, &str); 4] = [
    ("85aa87ee-beb9-4417-8fa0-420e9de63534", "Editor"),
    ("228d55c7-10d0-4ac3-85a3-1ac30ae97ac1", "Viewer"),
    ("598e8fa3-3e7c-4fb7-b662-f44522216e2b", "Owner"),
    ("23692e42-0e0d-463d-b1fb-f28096b7bc96", "None"),
];
pub const OWNER_PERMISSION: &str = "598e8fa3-3e7c-4fb7-b662-f44522216e2b";

/// Limits from the API documents (lengths in characters, not bytes). The body size limit is
/// `config::MAX_BODY_BYTES`.
pub mod limits {
    /// Longest program name.
    pub const PROGRAM_NAME: usize = 150;
    /// Longest name (of a topic, dimension, dimension value or metric) or unit.
    pub const NAME: usize = 300;
    /// Longest free text: a value, its notes, a description, a task comment.
    pub const LONG_TEXT: usize = 32_767;
    /// Longest dimension value id: 20 characters. The one place the emulator states it; it is
    /// checked where dimension values are created or replaced and where coordinates name them.
    pub const DIM_VALUE_ID: usize = 20;
    /// Most values one dimension may have.
    pub const DIM_VALUES: usize = 1_500;
    /// Most dimensions a metric may allow.
    pub const ALLOWED_DIMENSIONS: usize = 7;
    /// Most coordinates one value may have.
    pub const COORDINATES: usize = 3;
    /// Most tags on a metric.
    pub const TAGS: usize = 20;
    /// Most framework references on a metric.
    pub const FRAMEWORK_REFS: usize = 20;
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
}

pub use dimensions::check_dim_values;
pub use permissions::Access;
