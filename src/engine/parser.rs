//! The planner's [`ExprParser`]: SQL expression text parsed by the
//! evaluation's own session against one dataset's columns, so functions and
//! types resolve exactly as they will when the scan runs. Each text must be
//! ONE expression (trailing tokens are an error) and may name no table:
//! a `where` cannot reach another dataset or add a column to a scan.
//! Unquoted names resolve to columns whatever their case, as in Spark SQL.

use std::collections::HashMap;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::DFSchema;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::{Expr, ExprSchemable};
use datafusion::prelude::SessionContext;

use datafusion::sql::parser::DFParserBuilder;

use super::identifiers;
use crate::plan::ExprParser;
use crate::sql_support::clean;

/// Parses expressions against the registered datasets' schemas.
pub struct SessionParser {
    state: SessionState,
    schemas: HashMap<String, DFSchema>,
}

impl SessionParser {
    /// A parser over `schemas` (by alias) with the functions of `ctx`.
    pub fn new(ctx: &SessionContext, schemas: &HashMap<String, SchemaRef>) -> SessionParser {
        let schemas = schemas
            .iter()
            .filter_map(|(alias, schema)| {
                DFSchema::try_from_qualified_schema(alias.as_str(), schema)
                    .ok()
                    .map(|s| (alias.clone(), s))
            })
            .collect();
        SessionParser {
            state: ctx.state(),
            schemas,
        }
    }

    fn parse(&self, dataset: &str, text: &str) -> Result<(Expr, &DFSchema), String> {
        let schema = self
            .schemas
            .get(dataset)
            .ok_or_else(|| format!("no dataset `{dataset}`"))?;
        let mut parsed = DFParserBuilder::new(text)
            .build()
            .and_then(|mut p| p.parse_into_expr())
            .map_err(|e| clean(&e))?;
        let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        identifiers::resolve(&mut parsed.expr, &columns)?;
        let expr = self
            .state
            .create_logical_expr_from_sql_expr(parsed, schema)
            .map_err(|e| clean(&e))?;
        Ok((expr, schema))
    }
}

impl ExprParser for SessionParser {
    fn value(&self, dataset: &str, text: &str) -> Result<Expr, String> {
        // `count(*)` comes back named; the engine names every output itself.
        self.parse(dataset, text).map(|(e, _)| e.unalias())
    }

    fn predicate(&self, dataset: &str, text: &str) -> Result<Expr, String> {
        let (expr, schema) = self.parse(dataset, text)?;
        if matches!(expr, Expr::Alias(_)) {
            return Err(format!(
                "`{text}` renames a condition with AS; write the condition alone"
            ));
        }
        let t = expr.get_type(schema).map_err(|e| clean(&e))?;
        if !matches!(t, DataType::Boolean | DataType::Null) {
            return Err(format!(
                "`{text}` is not a condition (it gives a {t} value, not true or false)"
            ));
        }
        Ok(expr)
    }
}
