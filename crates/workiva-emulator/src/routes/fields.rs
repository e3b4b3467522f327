//! The fields `$filter` and `$orderBy` can name, per resource.

use crate::filter::{FieldVal, Filterable};
use crate::model::*;

impl Filterable for &Program {
    fn field(&self, name: &str) -> FieldVal<'_> {
        match name {
            "name" => FieldVal::Str(Some(&self.name)),
            _ => FieldVal::Str(None),
        }
    }
}
impl Filterable for &Topic {
    fn field(&self, name: &str) -> FieldVal<'_> {
        match name {
            "name" => FieldVal::Str(Some(&self.name)),
            "index" => FieldVal::Int(self.index),
            _ => FieldVal::Str(None),
        }
    }
}
impl Filterable for &Dimension {
    fn field(&self, name: &str) -> FieldVal<'_> {
        match name {
            "name" => FieldVal::Str(self.name.as_deref()),
            "id" => FieldVal::Id(Some(self.id)),
            "active" => FieldVal::Bool(self.active),
            _ => FieldVal::Str(None),
        }
    }
}
impl Filterable for &Metric {
    fn field(&self, name: &str) -> FieldVal<'_> {
        match name {
            "code" => FieldVal::Int(self.code),
            "index" => FieldVal::Int(self.index),
            "dataType" => FieldVal::Str(Some(self.data_type.as_str())),
            "id" => FieldVal::Id(Some(self.id)),
            "topic" => FieldVal::Id(self.topic),
            "name" => FieldVal::Str(Some(&self.name)),
            "description" => FieldVal::Str(self.description.as_deref()),
            "unit" => FieldVal::Str(self.unit.as_deref()),
            "requireNotes" => FieldVal::Bool(self.require_notes),
            "requireSupportingAttachments" => FieldVal::Bool(self.require_supporting_attachments),
            // strCode is "M" + code; compare as text without storing it twice.
            _ => FieldVal::Str(None),
        }
    }
}

/// strCode needs an owned string; metrics are few, so the filter wraps them when asked.
pub(super) struct MetricView<'a> {
    pub(super) m: &'a Metric,
    pub(super) str_code: String,
}
impl Filterable for MetricView<'_> {
    fn field(&self, name: &str) -> FieldVal<'_> {
        if name == "strCode" {
            FieldVal::Str(Some(&self.str_code))
        } else {
            (&self.m).field(name)
        }
    }
}

impl Filterable for &StoredValue {
    fn field(&self, name: &str) -> FieldVal<'_> {
        match name {
            "id" => FieldVal::Id(Some(self.id)),
            "notes" => FieldVal::Str(self.notes.as_deref()),
            "reportingPeriod.year" => FieldVal::Int(self.key.period.year as i64),
            "reportingPeriod.start" => FieldVal::Int(self.key.period.start as i64),
            "reportingPeriod.end" => FieldVal::Int(self.key.period.end as i64),
            _ => FieldVal::Str(None),
        }
    }
}
impl Filterable for &Task {
    fn field(&self, name: &str) -> FieldVal<'_> {
        match name {
            "location.resource" => FieldVal::Str(Some(&self.resource)),
            "status" => FieldVal::Str(Some(self.status.as_str())),
            "title" => FieldVal::Str(Some(&self.title)),
            _ => FieldVal::Str(None),
        }
    }
}
impl Filterable for &Assignment {
    fn field(&self, name: &str) -> FieldVal<'_> {
        match name {
            "permission" => FieldVal::Str(Some(&self.permission)),
            "principal" => FieldVal::Str(Some(&self.principal)),
            _ => FieldVal::Str(None),
        }
    }
}
impl Filterable for (&str, &str) {
    fn field(&self, _: &str) -> FieldVal<'_> {
        FieldVal::Str(None)
    }
}
