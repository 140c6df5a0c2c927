//! The pest binding of `grammar/dqdl.pest`.

use pest_derive::Parser;

/// The generated DQDL parser; `Rule` is its rule enum.
#[derive(Parser)]
// Relative to this crate's `src`: the grammar stays at the repository's top level.
#[grammar = "../../../grammar/dqdl.pest"]
pub struct DqdlParser;
