//! Why a run did not end well, typed from the step that failed to the report and the exit
//! code. Each message a user reads is written once, here, in `Display`; `is_retriable` says
//! whether the same run may succeed later without a person changing anything.

use std::path::PathBuf;

use crate::source::parquet::SourceError;
use crate::store::StoreError;
use crate::workiva::WorkivaError;

/// Planning failed: resolving, reading or listing.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Workiva(#[from] WorkivaError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Sql(#[from] crate::source::sql::SqlError),
    #[error(
        "pipeline `{pipeline}`: no Workiva program is named `{program}`; check `program` (run `esg-sync inspect programs`)"
    )]
    UnknownProgram { pipeline: String, program: String },
    #[error(
        "pipeline `{pipeline}`: columns.fixed_metric `{metric}` is not a metric of the program"
    )]
    UnknownFixedMetric { pipeline: String, metric: String },
    #[error(
        "pipeline `{pipeline}`: columns.dimensions.{column} names dimension `{dimension}`, which the program does not have"
    )]
    UnknownDimension {
        pipeline: String,
        column: String,
        dimension: String,
    },
    #[error("pipeline `{pipeline}`: dimension value map {}: {reason}", path.display())]
    ValueMap {
        pipeline: String,
        path: PathBuf,
        reason: ValueMapError,
    },
    /// The reading task ended without an answer (it panicked or was cancelled).
    #[error("pipeline `{pipeline}`: the source reader stopped: {reason}")]
    ReaderStopped { pipeline: String, reason: String },
}

impl PlanError {
    /// A source that could not be read, for pipeline `pipeline`.
    pub fn read(pipeline: &str, e: crate::source::stream::ReadError) -> Self {
        use crate::source::stream::ReadError;
        match e {
            ReadError::File(e) => PlanError::Source(e),
            ReadError::Sql(e) => PlanError::Sql(e),
            ReadError::Stopped(reason) => PlanError::ReaderStopped {
                pipeline: pipeline.to_string(),
                reason,
            },
        }
    }

    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Workiva(e) => e.is_retriable(),
            Self::Store(e) => e.is_retriable(),
            _ => false,
        }
    }
}

/// Why writing stopped: Workiva, or the state store. Kept apart so the message points at the
/// system that failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Workiva(#[from] WorkivaError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A shutdown began: no new batch is sent.
    #[error("stopped by a shutdown before this batch was sent")]
    Stopped,
    /// Another process took the pipeline's lease: no new batch is sent.
    #[error("the pipeline's lease was lost before this batch was sent")]
    LeaseLost,
}

impl ExecError {
    /// Whether it means the metric was stopped (a shutdown, the lease lost), not failed.
    pub fn is_stop(&self) -> bool {
        matches!(self, Self::Stopped) || self.is_lease_loss()
    }

    /// Whether it means the run's lease was lost: taken over before a batch, or a write
    /// refused by the store's fence.
    pub fn is_lease_loss(&self) -> bool {
        match self {
            Self::LeaseLost => true,
            Self::Store(e) => e.is_fenced(),
            _ => false,
        }
    }

    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Workiva(e) => e.is_retriable(),
            Self::Store(e) => e.is_retriable(),
            Self::Stopped | Self::LeaseLost => true,
        }
    }
}

/// The mirror-mode guard refused a plan: it would delete too much of what is in scope.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "mirror mode would delete {deletes} of the {in_scope} values in scope ({:.0}%), more than max_delete_fraction {:.0}%; nothing was changed. Check the source, or run with --force",
    *deletes as f64 * 100.0 / (*in_scope).max(1) as f64,
    limit * 100.0
)]
pub struct GuardRefused {
    pub deletes: usize,
    pub in_scope: usize,
    pub limit: f64,
}

/// One metric whose writes stopped early.
#[derive(Debug)]
pub struct MetricFailure {
    pub metric: String,
    pub error: ExecError,
}

/// Why a run ended other than `succeeded` or `partial`.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Another process holds the pipeline's lease.
    #[error(
        "pipeline `{pipeline}` is being run by another esg-sync ({holder}; its lease runs until {} unless renewed); not started. Wait for it, or stop it",
        crate::store::shown(.until)
    )]
    Busy {
        pipeline: String,
        holder: String,
        /// By the database's clock.
        until: chrono::DateTime<chrono::Utc>,
    },
    #[error("resuming the interrupted run's batches failed: {0}")]
    Resume(#[source] ExecError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Guard(#[from] GuardRefused),
    #[error(
        "stopped by a shutdown after planning, before sending anything; the next run plans again"
    )]
    StoppedBeforeSending,
    /// `create_dimension_values`: adding the lake's new values to a dimension failed; no
    /// value was sent.
    #[error(
        "adding values {values} to dimension `{dimension}` failed, so no value was sent: {error}"
    )]
    DimensionValues {
        dimension: String,
        values: String,
        error: crate::workiva::WorkivaError,
    },
    /// A bug: the run panicked. It was caught at the run's boundary and recorded.
    #[error(
        "esg-sync hit an internal error and stopped this run: {0}. This is a bug, please report it with the log; the run was recorded as failed, batches already sent are polled by the next run"
    )]
    Panicked(String),
    /// Some metrics stopped early, a shutdown left values unsent, or the rejects Workiva
    /// named could not be recorded.
    #[error("{}", incomplete(failures, *unsent, *abandoned, recording.as_ref(), *lease_lost))]
    Incomplete {
        failures: Vec<MetricFailure>,
        /// Values not sent because a shutdown began or the lease was lost.
        unsent: usize,
        /// Values not sent because their metric failed first.
        abandoned: usize,
        recording: Option<StoreError>,
        /// Another process took the pipeline's lease during the run.
        lease_lost: bool,
    },
}

fn incomplete(
    failures: &[MetricFailure],
    unsent: usize,
    abandoned: usize,
    recording: Option<&StoreError>,
    lease_lost: bool,
) -> String {
    let mut parts: Vec<String> = failures
        .iter()
        .map(|f| format!("metric `{}`: {}", f.metric, f.error))
        .collect();
    if let Some(e) = recording {
        parts.push(format!("recording the rejected values: {e}"));
    }
    if lease_lost {
        parts.push(format!(
            "another process took over the pipeline's lease: batches in flight finished, {unsent} values were not sent; the run that holds the lease sends them"
        ));
    } else if unsent > 0 {
        parts.push(format!(
            "stopped by a shutdown: batches in flight finished, {unsent} values were not sent; the next run sends them"
        ));
    }
    if abandoned > 0 {
        parts.push(format!(
            "{abandoned} values were not sent after the failure; the next run sends them"
        ));
    }
    parts.join("; ")
}

impl RunError {
    /// Whether running again later, unchanged, may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Busy { .. } | Self::StoppedBeforeSending => true,
            Self::Resume(e) => e.is_retriable(),
            Self::Plan(e) => e.is_retriable(),
            Self::Store(e) => e.is_retriable(),
            Self::Guard(_) | Self::Panicked(_) => false,
            Self::DimensionValues { error, .. } => error.is_retriable(),
            Self::Incomplete {
                failures,
                unsent,
                recording,
                lease_lost,
                ..
            } => {
                *unsent > 0
                    || *lease_lost
                    || (failures.iter().all(|f| f.error.is_retriable())
                        && recording.as_ref().is_none_or(StoreError::is_retriable))
            }
        }
    }

    /// Whether a shutdown or the loss of the lease, not a fault, ended the run: a run that
    /// a fault stopped (the store, Workiva, a refused token) is `failed`, even when a shutdown
    /// came too.
    pub fn is_interruption(&self) -> bool {
        match self {
            Self::Store(e) => e.is_fenced(),
            Self::Resume(e) => e.is_lease_loss(),
            Self::StoppedBeforeSending => true,
            Self::Incomplete {
                failures,
                unsent,
                recording,
                lease_lost,
                ..
            } => {
                (*unsent > 0 || *lease_lost)
                    && failures.iter().all(|f| f.error.is_stop())
                    && recording.as_ref().is_none_or(StoreError::is_fenced)
            }
            _ => false,
        }
    }

    /// Whether the run ended because its lease was lost.
    pub fn is_lease_loss(&self) -> bool {
        match self {
            Self::Store(e) => e.is_fenced(),
            Self::Resume(e) => e.is_lease_loss(),
            Self::Incomplete { lease_lost, .. } => *lease_lost,
            _ => false,
        }
    }
}

/// Why a dimension value map cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ValueMapError {
    #[error("cannot read it: {0}")]
    Read(std::io::Error),
    #[error("line {0}: expected `lake_value,workiva_value_id`")]
    Line(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_written_once_and_say_what_to_do() {
        let g = GuardRefused {
            deletes: 60,
            in_scope: 100,
            limit: 0.5,
        };
        assert_eq!(
            RunError::from(g.clone()).to_string(),
            "mirror mode would delete 60 of the 100 values in scope (60%), more than max_delete_fraction 50%; nothing was changed. Check the source, or run with --force"
        );
        let e = RunError::Incomplete {
            failures: vec![MetricFailure {
                metric: "Scope 1".into(),
                error: ExecError::Stopped,
            }],
            unsent: 3,
            abandoned: 0,
            recording: None,
            lease_lost: false,
        };
        assert_eq!(
            e.to_string(),
            "metric `Scope 1`: stopped by a shutdown before this batch was sent; stopped by a shutdown: batches in flight finished, 3 values were not sent; the next run sends them"
        );
        assert!(e.is_interruption() && e.is_retriable());
        assert!(!RunError::from(g).is_retriable());
        // A fault part way (here the store) is a failure, not an interruption, and says what
        // was left unsent.
        let e = RunError::Incomplete {
            failures: vec![MetricFailure {
                metric: "Scope 1".into(),
                error: ExecError::Store(StoreError::Query {
                    what: "record a batch",
                    source: sqlx::Error::PoolTimedOut,
                }),
            }],
            unsent: 0,
            abandoned: 5,
            recording: None,
            lease_lost: false,
        };
        assert!(!e.is_interruption(), "{e}");
        assert!(
            e.to_string()
                .contains("5 values were not sent after the failure"),
            "{e}"
        );
        assert!(!e.to_string().contains("stopped by a shutdown"), "{e}");
    }
}
