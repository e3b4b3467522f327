//! The catalog's errors: a file that cannot be read or is not valid, a plan that cannot be
//! made, and Workiva's or the state store's errors kept as they are, so
//! [`CatalogError::is_retriable`] answers as the client's own errors do.

use std::path::PathBuf;

use crate::store::StoreError;
use crate::workiva::WorkivaError;

/// Why a catalog could not be read, planned, applied or exported.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Workiva answered with an error, or gave no answer.
    #[error(transparent)]
    Api(#[from] WorkivaError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("[program] is pinned to id `{0}`, which Workiva does not have")]
    PinnedProgram(String),
    /// The file's text is not a catalog.
    #[error(transparent)]
    Syntax(#[from] super::file::SyntaxError),
    /// Every problem `load` found.
    #[error("catalog {} is not valid:\n  {}", path.display(), problems.join("\n  "))]
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
    #[error(transparent)]
    Plan(#[from] super::plan::PlanProblem),
    /// Boxed: it is the largest, and the rarest.
    #[error(transparent)]
    Apply(Box<ApplyError>),
    /// The catalog cannot be written as TOML.
    #[error(transparent)]
    Export(#[from] toml::ser::Error),
}

impl From<ApplyError> for CatalogError {
    fn from(e: ApplyError) -> Self {
        Self::Apply(Box::new(e))
    }
}

impl CatalogError {
    /// Whether the same call may succeed later without anyone changing anything: only when
    /// Workiva's (or the state store's) error underneath is retriable.
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Api(e) => e.is_retriable(),
            Self::Store(e) => e.is_retriable(),
            Self::Apply(e) => e.reason.is_retriable(),
            Self::PinnedProgram(_)
            | Self::Syntax(_)
            | Self::Invalid { .. }
            | Self::Plan(_)
            | Self::Export(_) => false,
        }
    }
}

/// A step of an apply that failed, and what was done before it.
#[derive(Debug, thiserror::Error)]
#[error("{kind} `{name}`: {reason} (done before it: {done})")]
pub struct ApplyError {
    pub kind: &'static str,
    pub name: String,
    pub reason: StepFailure,
    pub done: String,
}

/// Why one step of an apply failed.
#[derive(Debug, thiserror::Error)]
pub enum StepFailure {
    #[error(transparent)]
    Api(#[from] WorkivaError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the program was neither found nor created")]
    NoProgram,
    /// A resource the step refers to was neither found nor created before it.
    #[error("{kind} `{name}` has no id yet")]
    NoId { kind: &'static str, name: String },
}

impl StepFailure {
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Api(e) => e.is_retriable(),
            Self::Store(e) => e.is_retriable(),
            Self::NoProgram | Self::NoId { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workiva::error::ApiFailure;

    fn api(status: u16) -> WorkivaError {
        let body = br#"{"code":"x","message":"y"}"#;
        WorkivaError::Api(Box::new(ApiFailure::from_answer(
            status,
            body,
            "POST",
            "/programs/p/metrics",
            None,
        )))
    }

    #[test]
    fn is_retriable_survives_the_catalogs_error() {
        assert!(CatalogError::from(api(503)).is_retriable());
        assert!(!CatalogError::from(api(400)).is_retriable());
        let applied = |status| {
            CatalogError::from(ApplyError {
                kind: "metric",
                name: "Scope 1".into(),
                reason: StepFailure::from(api(status)),
                done: "0 created, 0 updated, 0 deleted".into(),
            })
        };
        assert!(applied(503).is_retriable());
        assert!(!applied(400).is_retriable());
        assert!(!CatalogError::PinnedProgram("p".into()).is_retriable());
    }

    #[test]
    fn an_apply_error_reads_as_before() {
        let e = ApplyError {
            kind: "metric",
            name: "Scope 1".into(),
            reason: StepFailure::NoId {
                kind: "topic",
                name: "Climate".into(),
            },
            done: "1 created, 0 updated, 0 deleted".into(),
        };
        assert_eq!(
            e.to_string(),
            "metric `Scope 1`: topic `Climate` has no id yet (done before it: 1 created, 0 updated, 0 deleted)"
        );
    }
}
