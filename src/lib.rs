//! dqgate: a data-quality gate that speaks DQDL.
//!
//! The crate is layered; data flows top to bottom:
//! - [`dqdl`]: the language (grammar, AST, errors, validation, formatter),
//!   the workspace crate `crates/dqdl`, re-exported here.
//! - [`source`]: datasets registered as DataFusion tables.
//! - [`plan`]: rules → deduplicated metric requests and checks.

#![warn(missing_docs)]

pub mod api;
pub mod check;
pub mod client;
pub mod config;
pub mod console;
pub mod engine;
pub mod gate;
pub mod history;
pub mod judge;
pub mod plan;
pub mod report;
pub mod runs;
pub mod sample;
pub mod source;
pub mod sql_support;
pub mod store;
pub mod suggest;
pub mod telemetry;

pub use dqdl;
