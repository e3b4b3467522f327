//! All integration tests, in one binary to keep link time down. Each test starts its own
//! emulator on port 0; every API response is checked against Workiva's OpenAPI spec.

mod adaptive;
mod admin;
mod alerts;
mod auth;
mod azure;
mod browser;
mod catalog;
mod cli;
mod client;
mod commands;
mod corpus;
mod daemon;
mod deploy;
mod dimvalues;
mod faults;
mod fencing;
mod guard;

mod hostile;
mod layout;
mod lease;
mod lists;
mod outage;
mod patch;
mod permissions;
mod pq;
mod replicas;
mod resources;
mod restart;
mod retries;
mod review;
mod reviewer;
mod rows;
mod s3;
mod schedule;
mod secrets;
mod spec;
mod sql;
mod store;
mod stream;
mod support;
mod sync;
mod tasks;
mod values;
mod wire;
