//! The single integration-test binary (one link of the whole stack); one
//! module per area.

mod architecture;
mod auth;
mod bounded;
mod cli_check;
mod cli_dqdl;
mod confine;
#[cfg(feature = "console")]
mod console;
mod csv_malformed;
mod demo;
#[cfg(feature = "distributed")]
mod distributed;
mod dqdl_golden;
mod dqdl_props;
mod failed_row_samples;
mod features;
mod file_rules;
mod first_hour;
mod first_hour_cli;
mod first_hour_errors;
mod fixtures;
mod gate_cli;
mod globs;
mod glue_docs;
mod glue_fidelity;
mod history;
#[cfg(feature = "iceberg")]
mod iceberg;
mod openapi;
mod prometheus;
mod quarantine;
mod readme;
mod recovery;
mod reporting_views;
mod retention;
mod rulesets;
mod s3;
mod semantics;
mod service;
mod service_inprocess;
mod source_options;
mod sources;
mod suggest_robust;
mod trends_discovery;
