//! Why a seed, or a task given to the admin API, is refused: where in the seed, and what is
//! wrong there.

use serde_json::Value;
use uuid::Uuid;

use crate::error::ApiError;
use crate::model::{DataType, Period, Status};

/// A refused seed: `CONTEXT: PROBLEM`, e.g. ``program `P`, metric `M`: no topic named `T` ``.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{context}: {problem}")]
pub struct SeedError {
    /// Where in the seed: ``program `P`, metric `M`, values[3]``, ``task `T` ``, ...
    pub context: String,
    /// What is wrong there.
    pub problem: SeedProblem,
}

/// What is wrong with one part of a seed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SeedProblem {
    /// A principal's type is neither `user` nor `group`.
    #[error("type `{0}` is neither user nor group")]
    PrincipalType(String),
    /// A topic's parent is listed after it (or not at all).
    #[error("parent `{0}` must be listed before it")]
    ParentNotBefore(String),
    /// A metric's data type is unknown.
    #[error("dataType `{0}` is not one of {names}", names = DataType::NAMES.join(", "))]
    DataType(String),
    /// A metric names a topic the program does not have.
    #[error("no topic named `{0}`")]
    NoTopic(String),
    /// Coordinates name a dimension the program does not have.
    #[error("no dimension named `{0}`")]
    NoDimension(String),
    /// A permission is neither a known name nor a known id.
    #[error("unknown permission `{0}`")]
    UnknownPermission(String),
    /// A reporting period's year, months or order are out of range.
    #[error("reporting period {0:?} is out of range")]
    PeriodOutOfRange(Period),
    /// A value's status is unknown.
    #[error("status `{0}` is not one of {names}", names = Status::NAMES.join(", "))]
    Status(String),
    /// Two things of the seed (or one of it and one already stored) are given the same id.
    #[error("id {0} is given twice")]
    IdGivenTwice(Uuid),
    /// What was created cannot be given the id the seed names.
    #[error("cannot keep id {0}")]
    CannotKeepId(Uuid),
    /// Two values of one metric are given the same id.
    #[error("value id {0} is given twice")]
    ValueIdGivenTwice(Uuid),
    /// A task names a program that does not exist.
    #[error("no program named (or with id) `{0}`")]
    NoProgram(String),
    /// A task names a metric the program does not have.
    #[error("no metric `{0}`")]
    NoMetric(String),
    /// A task names a value id the metric does not have.
    #[error("no value `{0}`")]
    NoValue(String),
    /// A task's value is given neither by id nor by reporting period.
    #[error("give an id or a reportingPeriod")]
    NoValueGiven,
    /// A task's value is given by a reporting period and coordinates where no value is.
    #[error("no value at that reporting period and coordinates")]
    NoValueAtKey,
    /// A task's approval steps are neither a number nor a list.
    #[error("approvalSteps is a number or a list of steps, not {0}")]
    ApprovalSteps(Value),
    /// The API's rules refused what the seed asked: their message, and the field it names.
    #[error("{message}{}", target.as_ref().map(|t| format!(" ({t})")).unwrap_or_default())]
    Refused {
        message: String,
        target: Option<String>,
    },
    /// A batch of values was refused: its first problem, and how many there are.
    #[error("{message} ({target}); {count} problem(s) in all")]
    Batch {
        message: String,
        target: String,
        count: usize,
    },
}

impl SeedProblem {
    /// This problem, at `context` in the seed.
    pub fn at(self, context: &str) -> SeedError {
        SeedError {
            context: context.to_string(),
            problem: self,
        }
    }
}

/// An API refusal of what the seed asked, named by where in the seed it was.
pub(super) fn refused(context: &str, e: ApiError) -> SeedError {
    SeedProblem::Refused {
        message: e.message,
        target: e.target,
    }
    .at(context)
}
