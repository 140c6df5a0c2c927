//! dqgate: a data-quality gate that speaks DQDL.
//!
//! The crate is layered; data flows top to bottom:
//! - [`dqdl`]: the language (grammar, AST, errors, validation, formatter).

#![warn(missing_docs)]

pub mod dqdl;
