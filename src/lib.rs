//! esg-sync keeps a Workiva sustainability program in step with a data lake. The Workiva client and
//! emulator are crates of their own (`crates/`); this one holds the rest; the binary in `main.rs` only parses the command line and dispatches.

pub mod alerts;
pub mod app;
pub mod catalog;
pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod dburl;
pub mod evidence;
/// The emulator of the Workiva API, a crate of its own.
pub use workiva_emulator as emulator;
pub mod inspect;
pub mod ledger;
pub mod outcome;
pub mod redact;
pub mod reviewer;
pub mod scheduler;
pub mod server;
pub mod signals;
pub mod source;
pub mod status_page;
pub mod store;
pub mod sync;
pub mod telemetry;
/// The Workiva API client, a crate of its own.
pub use workiva_client as workiva;
