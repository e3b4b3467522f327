//! The Workiva API client: every endpoint the sustainability sync uses, typed, and built to
//! survive real traffic: tokens that expire, 429 storms, 5xx, slow asynchronous operations,
//! long lists and deprecations.
//!
//! - `config`: the `[workiva]` settings and the client secret.
//! - `auth`: the token cache.
//! - `retry`: the retry policy, as a type.
//! - `ratelimit`: client-side rate and concurrency limits.
//! - `http`: sending one request (headers, limits, logs, retries).
//! - `tally`: retries counted by reason for a run's summary; `gate`: a run's check before
//!   each write attempt (its lease, its stop).
//! - `client`: a method per endpoint, lists as streams; `pages`: following a list's pages
//!   safely; `operations`: asynchronous operations polled to their end.
//! - `models`, `error`: the schemas and the errors.
//! - `sensitive`: one type for every secret-bearing value, shown only as its kind allows.
//! - `telemetry`: what the client tells operators, as typed events that log and count.

pub mod auth;
pub mod client;
pub mod config;
pub mod error;
pub mod gate;
pub mod http;
pub mod models;
pub mod operations;
pub mod pages;
pub mod ratelimit;
pub mod retry;
pub mod sensitive;
pub mod tally;
pub mod telemetry;

pub use client::{ListOptions, OperationRef, WorkivaClient, quote};
pub use config::{ClientAuth, Region, WorkivaConfig};
pub use error::{ApiFailure, ErrorDetail, WorkivaError};
