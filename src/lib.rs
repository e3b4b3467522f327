//! esg-sync keeps a Workiva sustainability program in step with a data lake. This crate holds
//! everything; the binary in `main.rs` only parses the command line and dispatches.

pub mod alerts;
pub mod catalog;
pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod dburl;
pub use workiva_emulator as emulator;
pub mod inspect;
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
pub mod workiva;
