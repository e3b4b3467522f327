//! All integration tests, in one binary to keep link time down. Each test starts its own
//! emulator on port 0; every API response is checked against Workiva's OpenAPI spec.

mod adaptive;
mod admin;
mod auth;
mod azure;
mod catalog;
mod cli;
mod client;
mod commands;
mod corpus;
mod daemon;
mod deploy;
mod faults;
mod helpers;
mod hostile;
mod layout;
mod lists;
mod patch;
mod permissions;
mod pq;
mod resources;
mod restart;
mod retries;
mod review;
mod reviewer;
mod rows;
mod s3;
mod schedule;
mod spec;
mod sql;
mod store;
mod stream;
mod sync;
mod tasks;
mod values;
mod wire;
