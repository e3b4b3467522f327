//! The sync engine, one file per step: `canon` and `period` (turning cells into Workiva's
//! forms), `plan` (resolve, validate, diff), `chunk`, `execute` (send, poll, narrow down
//! failed batches, resume), `run` (one run of a pipeline and its report), `failpoint` (planned
//! crashes for tests). Only `execute` talks to Workiva's write endpoints and only `store` to
//! the database.

pub mod canon;
pub mod chunk;
pub mod execute;
pub mod failpoint;
pub mod lease;
pub mod period;
pub mod plan;
pub mod run;

pub use run::{Report, RunOptions, Status, build_plan, render, run_pipeline};
