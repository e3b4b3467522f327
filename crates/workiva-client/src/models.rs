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

/// Workiva's limit on a dimension value's id, in characters: the one statement of it on this
/// side (the lake's rows and the catalog are checked against it before anything is sent).
pub const MAX_VALUE_ID_CHARS: usize = 20;

/// Workiva's limit on a dimension's number of values.
pub const MAX_DIMENSION_VALUES: usize = 1_500;

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

/// A metric value as a listing gives it to the sync's diff: only what the diff compares and
/// needs, decoded straight from the page. A value's task, data source and attachments are
/// skipped unread, and its coordinates are pairs sorted by dimension id, not a map.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ListedValue {
    pub id: Option<String>,
    pub value: Option<String>,
    pub reporting_period: Option<ReportingPeriod>,
    pub coordinates: Option<Pairs>,
    pub status: Option<ValueStatus>,
    pub notes: Option<String>,
}

/// A JSON object of strings as (key, value) pairs sorted by key (a duplicate key: the last
/// value, as a map would keep).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pairs(pub Vec<(String, String)>);

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Pairs;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of dimension ids to dimension value ids")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Pairs, A::Error> {
                let mut v: Vec<(String, String)> =
                    Vec::with_capacity(m.size_hint().unwrap_or(0).min(8));
                while let Some((k, x)) = m.next_entry::<String, String>()? {
                    match v.iter_mut().find(|(d, _)| *d == k) {
                        Some(e) => e.1 = x,
                        None => v.push((k, x)),
                    }
                }
                v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                Ok(Pairs(v))
            }
        }
        d.deserialize_map(Visit)
    }
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
    pub approval_steps: Vec<ApprovalStep>,
    /// When the task last changed (`{"dateTime": ...}`).
    pub modified: Option<Action>,
}

/// One step of a task's approval: who takes part and what they answered.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApprovalStep {
    /// `ONE` (one participant's answer completes the step) or `ALL`.
    pub completion_mode: Option<String>,
    pub due_at: Option<String>,
    pub participants: Vec<Participant>,
    pub responses: Vec<StepResponse>,
}

impl ApprovalStep {
    /// Whether `principal` takes part in this step.
    pub fn has_participant(&self, principal: &str) -> bool {
        self.participants.iter().any(|p| p.id() == principal)
    }
}

/// A participant of an approval step: `{"type": "USER", "id": ...}`, or (as some answers
/// give it) the bare id.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Participant {
    Principal {
        id: String,
        #[serde(default, rename = "type")]
        kind: Option<String>,
    },
    Id(String),
}

impl Participant {
    pub fn id(&self) -> &str {
        match self {
            Self::Principal { id, .. } | Self::Id(id) => id,
        }
    }
}

/// A participant's answer to an approval step.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct StepResponse {
    /// `APPROVE` or `REJECT` as the server wrote it (read, never acted on).
    pub action: Option<String>,
    pub comment: Option<String>,
    /// Who answered and when.
    pub created: Option<Value>,
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
    fn approval_steps_read_as_the_spec_writes_them_and_as_bare_ids() {
        let t: Task = serde_json::from_str(
            r#"{"id":"T","approvalSteps":[
                {"completionMode":"ONE","dueAt":null,
                 "participants":[{"type":"USER","id":"U1"},{"type":"USER","id":"U2"}],
                 "responses":[{"created":{"user_id":"U2","dateTime":"2023-06-11T13:00:00+00:00"},
                               "action":"APPROVE","comment":"ok","extra":1}]},
                {"participants":["U3"]}]}"#,
        )
        .unwrap();
        let s = &t.approval_steps;
        assert_eq!(s.len(), 2);
        assert!(s[0].has_participant("U2") && !s[0].has_participant("U3"));
        assert_eq!(s[0].responses[0].action.as_deref(), Some("APPROVE"));
        assert!(s[1].has_participant("U3") && s[1].responses.is_empty());
        // A step with nothing in it is a step with no participants, not an error.
        let t: Task = serde_json::from_str(r#"{"id":"T","approvalSteps":[{}]}"#).unwrap();
        assert!(t.approval_steps[0].participants.is_empty());
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

    #[test]
    fn a_listed_value_reads_what_the_diff_needs_and_skips_the_rest() {
        let v: ListedValue = serde_json::from_str(
            r#"{"id":"V1","value":"12.5","reportingPeriod":{"year":2025,"start":1,"end":3},
                "coordinates":{"D2":"b","D1":"a"},"status":"complete","notes":"n",
                "task":"T9","dataSource":{"any":["json",1]},"supportingAttachments":[{"id":"A"}]}"#,
        )
        .unwrap();
        assert_eq!(v.id.as_deref(), Some("V1"));
        assert_eq!(
            v.coordinates,
            Some(Pairs(vec![
                ("D1".into(), "a".into()),
                ("D2".into(), "b".into())
            ])),
            "sorted by dimension id, as a map iterates"
        );
        assert_eq!(v.status, Some(ValueStatus::Complete));
        let v: ListedValue = serde_json::from_str(r#"{"coordinates":null}"#).unwrap();
        assert_eq!(v.coordinates, None);
        let v: ListedValue = serde_json::from_str(r#"{"coordinates":{"D":"x","D":"y"}}"#).unwrap();
        assert_eq!(v.coordinates, Some(Pairs(vec![("D".into(), "y".into())])));
        assert!(serde_json::from_str::<ListedValue>(r#"{"coordinates":["D","x"]}"#).is_err());
        assert!(serde_json::from_str::<ListedValue>(r#"{"coordinates":{"D":1}}"#).is_err());
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Coordinates read as pairs are what a map reads, in its order.
            #[test]
            fn pairs_are_the_map_in_order(m in proptest::collection::btree_map("[a-zA-Z0-9é_-]{0,12}", "[ -~]{0,24}", 0..8)) {
                let json = serde_json::json!({ "coordinates": m.clone() }).to_string();
                let listed: ListedValue = serde_json::from_str(&json).unwrap();
                let full: MetricValue = serde_json::from_str(&json).unwrap();
                let pairs: Vec<(String, String)> = m.into_iter().collect();
                prop_assert_eq!(&listed.coordinates.unwrap().0, &pairs);
                prop_assert_eq!(full.coordinates.unwrap().into_iter().collect::<Vec<_>>(), pairs);
            }

            /// Whatever a server sends, reading it never panics.
            #[test]
            fn reading_never_panics(body in "\\PC{0,200}") {
                let _ = serde_json::from_str::<ListedValue>(&body);
                let _ = serde_json::from_str::<Page<ListedValue>>(&body);
            }
        }
    }
}
