//! The sync engine. One run flows through these files in this order:
//!
//! 1. `resolve`: the program, its metrics and dimensions, the pipeline's lake keys and value
//!    maps turned into Workiva ids, and (per metric) the values Workiva holds now. All reads
//!    of planning happen here; what the mapping store should learn is returned, not written.
//! 2. `validate`: source rows into valid rows and rejects (pure), with `canon` (cells into
//!    Workiva's canonical value text) and `period` (reporting periods from labels or months).
//! 3. `diff`: one metric's rows against its values in Workiva, into writes, deletes, locked
//!    and unchanged values (pure); then `hand_edit`: the writes that would change a value a
//!    person edited in Workiva since esg-sync last wrote it, by the ledger (pure).
//! 4. `plan`: the plan's types, `build_plan` (the three steps above, in order) and the mirror
//!    guard. A dry run stops here.
//! 5. `chunk`: writes into request bodies of exact size within the budget (pure).
//! 6. `dimension_values`: the lake's new dimension values added to their dimensions.
//! 7. `execute`: send, record the operation URL, poll, narrow a failed batch down to its bad
//!    values; resume what an interrupted run left. `delete` (mirror mode): the values the
//!    lake no longer has, each request recorded through the run's fence before it is sent.
//! 8. `report`: how the run ended and the summary table.
//! 9. `run`: one run, start to end: lease, resume, plan, guard, execute, record.
//!
//! Beside them: `program` (what resolving finds, as plain data), `ids` (the id newtypes and
//! a value's key), `error` (typed errors from each
//! step to the report and exit code), `lease` (one run of a pipeline at a time, across
//! processes), `lineage` (what each write records in the ledger once confirmed), `progress` (the
//! terminal's progress line), `failpoint` (planned crashes for
//! tests). Only `resolve`, `dimension_values`, `execute` and `delete` (and `run`, which
//! records) do I/O.

pub mod canon;
pub mod chunk;
pub mod delete;
pub mod diff;
pub mod dimension_values;
pub mod error;
pub mod execute;
pub mod failpoint;
pub mod hand_edit;
pub mod ids;
pub mod lease;
pub mod lineage;
pub mod notes;
pub mod period;
pub mod plan;
pub mod program;
pub mod progress;
pub mod report;
pub mod resolve;
pub mod review;
pub mod run;
pub mod validate;

pub use crate::outcome::{Counts, Reject};
pub use error::{ExecError, PlanError, RunError};
pub use plan::{Plan, build_plan};
pub use report::{Report, Status, render};
pub use run::{RunOptions, run_pipeline};
