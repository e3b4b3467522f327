//! Typed models of the API's schemas. Reading is tolerant: unknown fields are ignored, missing
//! optional fields default, and the spec's slips are accepted (`dueAt` for `dueDate`, `id` on
//! batch deletion items). Writing skips what is unset.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use super::error::ErrorDetail;

/// Workiva's request body limit (the guide's 10 MB: 10,485,760 bytes), for every endpoint;
/// a batch upsertion body must stay within it.
pub const MAX_BODY_BYTES: usize = 10_485_760;

/// A list page: `{data, @nextLink}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    #[serde(rename = "@nextLink", default)]
    pub next_link: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Program {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Topic {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<i64>,
    pub parent: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DimensionValue {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

impl DimensionValue {
    /// Workiva's default: a value is active unless it says otherwise.
    pub fn is_active(&self) -> bool {
        self.active.unwrap_or(true)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Dimension {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Null in lists; fetch the dimension by id for its values.
    pub values: Option<Vec<DimensionValue>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Tag {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct FrameworkReference {
    pub framework: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_version: Option<String>,
    pub reference_name: String,
}

/// A metric's data type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataType {
    #[default]
    Text,
    Number,
    Date,
    Currency,
    Percent,
}

impl DataType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Number => "number",
            Self::Date => "date",
            Self::Currency => "currency",
            Self::Percent => "percent",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Metric {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub name: String,
    pub data_type: DataType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    #[serde(skip_serializing)]
    pub str_code: Option<String>,
    pub allowed_dimensions: Vec<String>,
    pub require_notes: bool,
    pub require_supporting_attachments: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub framework_references: Vec<FrameworkReference>,
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct ReportingPeriod {
    pub year: u16,
    pub start: u8,
    pub end: u8,
}

/// A metric value's workflow status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ValueStatus {
    #[default]
    NotStarted,
    NotSent,
    InProgress,
    SentForApproval,
    Returned,
    Complete,
    Error,
}

impl ValueStatus {
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
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Attachment {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// A metric value as read, or as written by upsertion (set only what should change).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MetricValue {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporting_period: Option<ReportingPeriod>,
    /// Dimension id to dimension value id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coordinates: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<ValueStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_source: Option<Value>,
    #[serde(skip_serializing)]
    pub supporting_attachments: Option<Vec<Attachment>>,
    #[serde(skip_serializing_if = "Vec::is_empty", skip_deserializing)]
    pub fields_to_clear: Vec<String>,
}

/// Identifies a value for batch deletion: an id, or a period and coordinates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ValueIdentifier {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporting_period: Option<ReportingPeriod>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coordinates: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Action {
    pub date_time: Option<String>,
}

/// An asynchronous operation.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Operation {
    pub id: String,
    pub status: String,
    pub resource_url: Option<String>,
    pub details: Option<Vec<ErrorDetail>>,
    pub original_request: Option<String>,
    pub created: Option<Action>,
    pub updated: Option<Action>,
}

impl Operation {
    pub fn is_terminal(&self) -> bool {
        matches!(self.status.as_str(), "completed" | "failed" | "cancelled")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TaskLocation {
    pub resource: Option<String>,
    pub segment: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Task {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub status: String,
    /// The schema says `dueDate`; the guide's examples say `dueAt`. Both are read.
    #[serde(alias = "dueAt")]
    pub due_date: Option<String>,
    pub location: Option<TaskLocation>,
    pub assignees: Vec<Value>,
    pub approval_steps: Vec<Value>,
    /// When the task last changed (`{"dateTime": ...}`).
    pub modified: Option<Action>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Permission {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ResourcePermission {
    pub permission: String,
    pub principal: String,
    #[serde(skip_serializing)]
    pub principal_type: Option<String>,
    #[serde(skip_serializing)]
    pub resource: Option<String>,
}

/// A task action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TaskAction {
    Submit,
    Approve,
    Reject,
    Cancel,
    Restart,
    Skip,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerant_reading() {
        let t: Task = serde_json::from_str(
            r#"{"id":"T","title":"x","status":"Created","dueAt":"2026-02-15T00:00:00Z","extra":1}"#,
        )
        .unwrap();
        assert_eq!(t.due_date.as_deref(), Some("2026-02-15T00:00:00Z"));
        let t: Task = serde_json::from_str(r#"{"id":"T","title":"x","dueDate":null}"#).unwrap();
        assert_eq!(t.due_date, None);
        let d: Dimension =
            serde_json::from_str(r#"{"id":"d","name":"Facility","active":true,"values":null}"#)
                .unwrap();
        assert!(d.values.is_none());
        let p: Page<Program> = serde_json::from_str(r#"{"data":[{"id":"1","name":"P"}]}"#).unwrap();
        assert!(p.next_link.is_none());
        let v: MetricValue = serde_json::from_str(r#"{"id":"v","status":"sentForApproval","coordinates":{"d":"A"},"reportingPeriod":{"year":2025,"start":1,"end":3}}"#).unwrap();
        assert_eq!(v.status, Some(ValueStatus::SentForApproval));
        let i: ValueIdentifier = serde_json::from_str(r#"{"id":"v1"}"#).unwrap();
        assert_eq!(i.id.as_deref(), Some("v1"));
    }

    #[test]
    fn writing_skips_unset_fields() {
        let v = MetricValue {
            value: Some("1.5".into()),
            reporting_period: Some(ReportingPeriod {
                year: 2025,
                start: 1,
                end: 12,
            }),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"value":"1.5","reportingPeriod":{"year":2025,"start":1,"end":12}}"#
        );
        let m = Metric {
            name: "M".into(),
            data_type: DataType::Number,
            ..Default::default()
        };
        let s = serde_json::to_string(&m).unwrap();
        assert!(!s.contains("strCode") && !s.contains("\"id\""), "{s}");
    }
}
