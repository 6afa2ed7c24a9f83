//! Procedo's HTTP API, pages, connectors and command-line tools; `main.rs` is the
//! `procedo` command over them.

pub mod app;
pub mod audit_cli;
pub mod auth;
pub mod bench;
pub mod bench_cases;
pub mod bench_http;
pub mod bench_jobs;
pub mod bench_timers;
pub mod bench_verify;
pub mod case_file_cli;
pub mod client;
pub mod connectors;
pub mod downloads;
pub mod error;
pub mod hashing;
pub mod headers;
pub mod http;
pub mod mail;
pub mod remote;
pub mod serve;
pub mod shipped;
pub mod tenants;
pub mod tokens;
pub mod users;
pub mod web;

/// The default database: a SQLite file in the working directory.
pub const DEFAULT_DB: &str = "sqlite:procedo.db";
