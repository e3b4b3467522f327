//! What the tests share: the emulator and its API ([`emu`]), waiting ([`wait`]), the binary
//! ([`bin`], [`daemon`]), a sync environment ([`env`]), configuration files ([`pipeline`]),
//! Parquet files ([`pq`]), test databases ([`db`]), the Workiva client ([`client`]), the
//! OpenAPI validator ([`spec`]) and the reviewer's setup ([`review`]).

pub mod bin;
pub mod client;
pub mod daemon;
pub mod db;
pub mod emu;
pub mod env;
pub mod pipeline;
pub mod pq;
pub mod review;
pub mod spec;
pub mod wait;

pub use bin::*;
pub use emu::*;
pub use wait::*;
