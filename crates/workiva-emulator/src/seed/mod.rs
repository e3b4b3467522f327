//! Seed data: a JSON document that builds a tenant (programs with their topics, dimensions,
//! metrics, values and permissions; principals; tasks). Everything is referred to by name
//! (or id), so a seed file is written by hand. Seeds go through the same rules as the API,
//! except that values may be given any status, so locked values can be set up.

mod error;
mod export;
mod load;
mod task;
mod values;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::model::Program;

use error::refused;
pub use error::{SeedError, SeedProblem};
pub use export::export;
pub use load::load;
pub use task::create_task;

/// The demo tenant shipped with the binary (`config/demo/seed.json`).
pub const DEMO_SEED: &str = include_str!("../../../../config/demo/seed.json");

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

/// The item named `key`, else the one whose id is `key`.
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

/// Resolves `coordinates` given by dimension name or id.
fn coords(
    p: &Program,
    given: &BTreeMap<String, String>,
    ctx: &str,
) -> Result<Vec<(String, String)>, SeedError> {
    given
        .iter()
        .map(|(d, v)| {
            find_by_name_or_id(&p.dimensions, d, |x| x.id, |x| x.name.as_deref())
                .map(|dim| (dim.id.to_string(), v.clone()))
                .ok_or_else(|| SeedProblem::NoDimension(d.clone()).at(ctx))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::Store;

    fn refusal(seed: Value) -> String {
        let seed: Seed = serde_json::from_value(seed).unwrap();
        load(&mut Store::default(), &seed).unwrap_err().to_string()
    }

    #[test]
    fn a_refusal_names_where_in_the_seed_and_what() {
        assert_eq!(
            refusal(json!({"principals": [{"id": "x", "type": "robot"}]})),
            "principal `x`: type `robot` is neither user nor group"
        );
        assert_eq!(
            refusal(
                json!({"programs": [{"name": "P", "metrics": [{"name": "M", "dataType": "blob"}]}]})
            ),
            "program `P`, metric `M`: dataType `blob` is not one of text, number, date, currency, percent"
        );
        assert_eq!(
            refusal(
                json!({"programs": [{"name": "P", "metrics": [{"name": "M", "values": [
                    {"reportingPeriod": {"year": 1, "start": 1, "end": 1}}
                ]}]}]})
            ),
            "program `P`, metric `M`, values[0]: reporting period Period { year: 1, start: 1, end: 1 } is out of range"
        );
        assert_eq!(
            refusal(json!({"tasks": [{"title": "T", "program": "Q", "values": []}]})),
            "task `T`: no program named (or with id) `Q`"
        );
        assert_eq!(
            refusal(json!({"programs": [{"name": "P", "dimensions": [
                {"name": "D", "values": [{"id": "a"}, {"id": "a"}]}
            ]}]})),
            "program `P`, dimension `D`: Dimension value id `a` is listed twice (values[1].id)"
        );
    }
}
