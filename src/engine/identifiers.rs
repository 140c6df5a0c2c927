//! Identifiers as Spark SQL (and so AWS Glue) resolves them: an unquoted
//! name matches a column whatever its case (an exact match wins), while a
//! double-quoted or backquoted name stays exact. DataFusion folds unquoted
//! names to lower case instead, so before planning every unquoted column
//! name of a user's `where` or CustomSql is replaced by the column's own
//! spelling, quoted.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr as SqlAst, Ident, ObjectNamePart, Statement, TableFactor, Visit, VisitMut, Visitor,
    visit_expressions_mut,
};

/// Resolves the unquoted identifiers of `node` against `columns`. Two
/// columns differing only in case make an unquoted name ambiguous: that is
/// an error that says to quote it.
pub fn resolve<V: VisitMut>(node: &mut V, columns: &[&str]) -> Result<(), String> {
    resolve_with(node, &|_| columns.iter().map(|c| c.to_string()).collect())
}

/// Resolves a query's unquoted column names against the tables it reads
/// (`tables`: registered name in lower case → its columns). A qualified
/// name (`p.id`) resolves in the table its qualifier names or aliases; a
/// bare name in the columns of every table the query reads.
pub fn resolve_query(
    statement: &mut Statement,
    tables: &BTreeMap<String, Vec<String>>,
) -> Result<(), String> {
    let mut read = TablesRead::default();
    let _ = Visit::visit(&*statement, &mut read);
    let columns_of = |table: &str| tables.get(table).cloned().unwrap_or_default();
    let every_read: Vec<String> = if read.tables.is_empty() {
        tables.values().flatten().cloned().collect()
    } else {
        read.tables.iter().flat_map(|t| columns_of(t)).collect()
    };
    resolve_with(statement, &|qualifier| {
        let table = qualifier
            .map(str::to_lowercase)
            .map(|q| read.aliases.get(&q).cloned().unwrap_or(q));
        match table {
            Some(t) if tables.contains_key(&t) => columns_of(&t),
            _ => every_read.clone(),
        }
    })
}

/// The tables a query reads and the aliases it gives them, in lower case.
#[derive(Default)]
struct TablesRead {
    tables: Vec<String>,
    aliases: BTreeMap<String, String>,
}

impl Visitor for TablesRead {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, alias, .. } = factor
            && let Some(ObjectNamePart::Identifier(last)) = name.0.last()
        {
            let table = last.value.to_lowercase();
            if let Some(alias) = alias {
                self.aliases
                    .insert(alias.name.value.to_lowercase(), table.clone());
            }
            self.tables.push(table);
        }
        ControlFlow::Continue(())
    }
}

fn resolve_with<V: VisitMut>(
    node: &mut V,
    candidates: &dyn Fn(Option<&str>) -> Vec<String>,
) -> Result<(), String> {
    let flow = visit_expressions_mut(node, |e| {
        let result = match e {
            SqlAst::Identifier(ident) => resolve_ident(ident, &candidates(None)),
            // `t.col`: the last part names a column of the table `t` names.
            SqlAst::CompoundIdentifier(parts) => {
                let qualifier = parts
                    .len()
                    .checked_sub(2)
                    .and_then(|i| parts.get(i))
                    .map(|q| q.value.clone());
                match parts.last_mut() {
                    Some(ident) => resolve_ident(ident, &candidates(qualifier.as_deref())),
                    None => Ok(()),
                }
            }
            _ => Ok(()),
        };
        match result {
            Ok(()) => ControlFlow::Continue(()),
            Err(message) => ControlFlow::Break(message),
        }
    });
    match flow {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(message) => Err(message),
    }
}

fn resolve_ident(ident: &mut Ident, columns: &[String]) -> Result<(), String> {
    if ident.quote_style.is_some() {
        return Ok(());
    }
    let name = ident.value.clone();
    let exact = columns.contains(&name);
    let spelling = if exact {
        Some(name.clone())
    } else {
        let mut matches: Vec<&str> = columns
            .iter()
            .map(String::as_str)
            .filter(|c| c.eq_ignore_ascii_case(&name))
            .collect();
        matches.sort_unstable();
        matches.dedup();
        match matches.as_slice() {
            [] => None,
            [one] => Some((*one).to_string()),
            several => {
                return Err(format!(
                    "`{name}` is ambiguous: columns {} differ only in case; quote the one you mean",
                    several
                        .iter()
                        .map(|c| format!("\"{c}\""))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ));
            }
        }
    };
    if let Some(spelling) = spelling {
        ident.value = spelling;
        ident.quote_style = Some('"');
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use datafusion::sql::parser::DFParserBuilder;

    use super::*;

    fn fixed(sql: &str, columns: &[&str]) -> Result<String, String> {
        let mut parsed = DFParserBuilder::new(sql)
            .build()
            .and_then(|mut p| p.parse_into_expr())
            .map_err(|e| e.to_string())?;
        resolve(&mut parsed.expr, columns)?;
        Ok(parsed.expr.to_string())
    }

    #[test]
    fn unquoted_names_take_the_columns_spelling() {
        assert_eq!(
            fixed("ID > 2 AND name = 'x'", &["id", "Name"]).as_deref(),
            Ok("\"id\" > 2 AND \"Name\" = 'x'")
        );
        assert_eq!(
            fixed("\"ID\" > 2", &["id"]).as_deref(),
            Ok("\"ID\" > 2"),
            "quoted names stay exact"
        );
        assert_eq!(
            fixed("`Some.Date` IS NULL", &["Some.Date"]).as_deref(),
            Ok("`Some.Date` IS NULL")
        );
        assert_eq!(
            fixed("a = 1", &["A", "a"]).as_deref(),
            Ok("\"a\" = 1"),
            "an exact match wins"
        );
        assert_eq!(
            fixed("nosuch = 1", &["a"]).as_deref(),
            Ok("nosuch = 1"),
            "unknown names are left for the planner to report"
        );
        let err = fixed("cc = 1", &["CC", "Cc"]);
        assert!(
            err.as_ref().is_err_and(|e| e.contains("ambiguous")),
            "{err:?}"
        );
    }
}
