//! CustomSql: the user's query, read-only, over the registered datasets.
//! `primary` is a keyword to DataFusion's SQL parser, so a bare `primary`
//! table name is quoted before planning.

use std::collections::BTreeMap;

use datafusion::dataframe::DataFrame;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{DFParserBuilder, Statement as DFStatement};

use super::{eval_error, first_row, one_row, read_only};
use crate::plan::{EvalError, EvalErrorKind, PRIMARY, QueryResult};
use crate::sql_support::ident;

/// Quotes every bare `primary` word outside strings and quoted names, so
/// `SELECT count(*) FROM primary` plans against the dataset.
pub fn prepare_user_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' || c == '"' {
            let quote = c;
            out.push(c);
            i += 1;
            while i < chars.len() {
                out.push(chars[i]);
                if chars[i] == quote {
                    i += 1;
                    break;
                }
                i += 1;
            }
            continue;
        }
        if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let after_dot = start > 0 && chars[start - 1] == '.';
            if word.eq_ignore_ascii_case(PRIMARY) && !after_dot {
                out.push_str(&ident(PRIMARY));
            } else {
                out.push_str(&word);
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Every registered dataset's columns, by name in lower case.
async fn registered_columns(ctx: &SessionContext) -> BTreeMap<String, Vec<String>> {
    let mut tables = BTreeMap::new();
    let Some(schema) = ctx.catalog("datafusion").and_then(|c| c.schema("public")) else {
        return tables;
    };
    for name in schema.table_names() {
        if let Ok(Some(table)) = schema.table(&name).await {
            let columns = table
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            tables.insert(name.to_lowercase(), columns);
        }
    }
    tables
}

/// The query with its unquoted column names spelled as the datasets spell
/// them (Spark resolves names whatever their case; DataFusion folds them
/// to lower case). Text that does not parse as one statement is returned
/// unchanged, so the planner reports it.
async fn resolve_identifiers(ctx: &SessionContext, sql: &str) -> Result<String, EvalError> {
    let parse = || {
        DFParserBuilder::new(sql)
            .build()
            .and_then(|mut p| p.parse_statements())
    };
    let (Ok(mut statements), Ok(original)) = (parse(), parse()) else {
        return Ok(sql.to_string());
    };
    let (Some(DFStatement::Statement(statement)), 1) = (statements.front_mut(), original.len())
    else {
        return Ok(sql.to_string());
    };
    let tables = registered_columns(ctx).await;
    super::identifiers::resolve_query(statement.as_mut(), &tables)
        .map_err(|m| EvalError::new(EvalErrorKind::Plan, m))?;
    let resolved = statement.to_string();
    let unchanged = original.front().map(ToString::to_string);
    Ok(if unchanged.as_deref() == Some(resolved.as_str()) {
        sql.to_string()
    } else {
        resolved
    })
}

/// The user's query as a DataFrame: `primary` quoted, column names
/// resolved as Spark would, read-only.
pub async fn user_query(ctx: &SessionContext, sql: &str) -> Result<DataFrame, EvalError> {
    let prepared = resolve_identifiers(ctx, &prepare_user_sql(sql)).await?;
    ctx.sql_with_options(&prepared, read_only())
        .await
        .map_err(|e| eval_error(&e))
}

/// The numeric form: one row with one numeric column.
pub async fn scalar(ctx: &SessionContext, prepared: &str) -> QueryResult {
    let resolved = resolve_identifiers(ctx, prepared).await?;
    let row = one_row(ctx, &resolved).await?;
    if row.len() != 1 {
        return Err(EvalError::new(
            EvalErrorKind::Shape,
            format!(
                "CustomSql must return one numeric column; the query returned {}",
                row.len()
            ),
        ));
    }
    Ok(row)
}

/// The row-level form: [primary rows matching a returned row, primary rows].
/// A primary row matches when it equals a returned row on every returned
/// column, NULL matching NULL.
pub async fn row_match(ctx: &SessionContext, sql: &str) -> QueryResult {
    let prepared = resolve_identifiers(ctx, &prepare_user_sql(sql)).await?;
    let df = ctx
        .sql_with_options(&prepared, read_only())
        .await
        .map_err(|e| eval_error(&e))?;
    let returned: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let primary = ctx.table(PRIMARY).await.map_err(|e| eval_error(&e))?;
    let missing: Vec<&String> = returned
        .iter()
        .filter(|c| primary.schema().field_with_unqualified_name(c).is_err())
        .collect();
    if !missing.is_empty() {
        return Err(EvalError::new(
            EvalErrorKind::Plan,
            format!(
                "CustomSql returned columns the dataset lacks: {}",
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let on: Vec<String> = returned
        .iter()
        .map(|c| format!("(q.{0} IS NOT DISTINCT FROM p.{0})", ident(c)))
        .collect();
    let count_sql = format!(
        "SELECT (SELECT CAST(count(*) AS DOUBLE) FROM {t} p WHERE EXISTS (SELECT 1 FROM ({prepared}) q WHERE {on})) AS matching, \
         (SELECT CAST(count(*) AS DOUBLE) FROM {t}) AS total",
        t = ident(PRIMARY),
        on = on.join(" AND ")
    );
    let df = ctx
        .sql_with_options(&count_sql, read_only())
        .await
        .map_err(|e| eval_error(&e))?;
    first_row(df).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_bare_primary_only() {
        assert_eq!(
            prepare_user_sql("SELECT count(*) FROM primary WHERE x = 'primary'"),
            "SELECT count(*) FROM \"primary\" WHERE x = 'primary'"
        );
        assert_eq!(
            prepare_user_sql("select p.primary_key from Primary p"),
            "select p.primary_key from \"primary\" p"
        );
        assert_eq!(
            prepare_user_sql("select \"primary\".a from \"primary\""),
            "select \"primary\".a from \"primary\""
        );
    }
}
