//! The pest binding of `grammar/dqdl.pest`.

use pest_derive::Parser;

/// The generated DQDL parser; `Rule` is its rule enum.
#[derive(Parser)]
#[grammar = "../grammar/dqdl.pest"]
pub struct DqdlParser;
