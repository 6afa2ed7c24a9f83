//! Procedo's workflow engine.
//!
//! A workflow is a YAML state machine ([`definition`]); an instance moves through it by
//! commands applied by a pure transition function ([`machine`]); the [`store`] commits each
//! transition in one database transaction, SQLite or PostgreSQL; every step is recorded in a
//! hash-chained [`history`]. [`Engine`] ties them together for callers (the API, the CLI, tests).
//!
//! This crate knows nothing of HTTP.

pub mod audit;
pub mod calendar;
pub mod case_file;
pub mod checkpoint;
mod context;
mod decide;
pub mod definition;
pub mod diagnostic;
pub mod documents;
mod engine;
pub mod expr;
pub mod files;
pub mod history;
pub mod ids;
pub mod jobs;
pub mod machine;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod ocds;
pub mod relation_chain;
mod scheduler;
mod source_map;
pub mod store;
pub mod tenancy;
pub mod timefmt;

pub use audit::{BrokenDocument, VerifyReport};
pub use engine::{
    Clock, Deployed, Engine, EngineError, ManualClock, PLATFORM_TENANT, ShiftedClock, SystemClock,
    TaskQuery, VisibleDefinition,
};
pub use ids::{InstanceId, Role, TaskId, Tenant};
pub use procedo_forms as forms;
