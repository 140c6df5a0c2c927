//! Rules over two datasets: ReferentialIntegrity, DatasetMatch and
//! AggregateMatch.

use super::*;

impl Planner<'_> {
    pub(super) fn referential_integrity_rule(
        &mut self,
        i: &Input<'_>,
    ) -> Result<LeafPlan, Settled> {
        let v = self.referential_integrity(&i.params[0], &i.params[1])?;
        // Glue names the metric by the reference dataset's alias.
        let alias =
            split_alias_columns(&i.params[1]).map_or_else(|| i.params[1].clone(), |(a, _)| a);
        Ok(numeric(
            &format!("Column.{alias}.ReferentialIntegrity"),
            v,
            i.condition()?,
        ))
    }

    pub(super) fn dataset_match_rule(&mut self, i: &Input<'_>) -> Result<LeafPlan, Settled> {
        let v = self.dataset_match(&i.params)?;
        Ok(numeric(
            &format!("Dataset.{}.DatasetMatch", i.params[0]),
            v,
            i.condition()?,
        ))
    }

    pub(super) fn aggregate_match(&mut self, i: &Input<'_>) -> Result<LeafPlan, Settled> {
        let (name, v) = self.aggregate_match_formula(&i.params[0], &i.params[1])?;
        Ok(numeric(&name, v, i.condition()?))
    }

    /// `"a,b"` and `"ref.{x,y}"` (or `"ref.x"`).
    pub(super) fn referential_integrity(
        &mut self,
        primary_cols: &str,
        reference: &str,
    ) -> Result<Formula, Settled> {
        let (alias, ref_cols) = split_alias_columns(reference).ok_or_else(|| {
            error(format!(
                "\"{reference}\" must be alias.column or alias.{{col1,col2}}"
            ))
        })?;
        let p_cols: Vec<&str> = primary_cols.split(',').map(str::trim).collect();
        if p_cols.len() != ref_cols.len() {
            return Err(error(format!(
                "ReferentialIntegrity compares {} primary column(s) with {} reference column(s)",
                p_cols.len(),
                ref_cols.len()
            )));
        }
        let mut conds = Vec::new();
        for (p, r) in p_cols.iter().zip(&ref_cols) {
            let (pc, _) = self.column(PRIMARY, p)?;
            let (rc, _) = self.column(&alias, r)?;
            conds.push(format!("r.{} = p.{}", ident(&rc), ident(&pc)));
        }
        let sql = format!(
            "SELECT CAST(count(*) AS DOUBLE) FROM {} p WHERE EXISTS (SELECT 1 FROM {} r WHERE {})",
            ident(PRIMARY),
            ident(&alias),
            conds.join(" AND ")
        );
        let id = self.reg.add(Query::Join { sql });
        let total = self.row_count(PRIMARY, None)?;
        Ok(ratio(Formula::Value(id, 0), total))
    }

    pub(super) fn dataset_match(&mut self, params: &[String]) -> Result<Formula, Settled> {
        let alias = &params[0];
        let keys = parse_mappings(&params[1]);
        let p_schema = self.schema(PRIMARY)?;
        self.schema(alias)?;
        let mut key_pairs = Vec::new();
        for (p, r) in &keys {
            key_pairs.push((self.column(PRIMARY, p)?.0, self.column(alias, r)?.0));
        }
        let compared: Vec<(String, String)> = match params.get(2) {
            Some(m) => {
                let mut v = Vec::new();
                for (p, r) in parse_mappings(m) {
                    v.push((self.column(PRIMARY, &p)?.0, self.column(alias, &r)?.0));
                }
                v
            }
            None => p_schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .filter(|n| !key_pairs.iter().any(|(k, _)| k == n))
                .filter_map(|n| self.column(alias, &n).ok().map(|(r, _)| (n, r)))
                .collect(),
        };
        if compared.is_empty() {
            // Glue compares the non-key columns, which must have the same
            // names in both datasets: with none, nothing could match.
            let names = |alias: &str| -> Result<String, Settled> {
                Ok(self
                    .schema(alias)?
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect::<Vec<_>>()
                    .join(", "))
            };
            return Err(decided(
                Outcome::Failed,
                format!(
                    "no columns to compare: besides the keys, `primary` has [{}] and `{alias}` has [{}], and none share a name; give the columns to compare as the third parameter (\"a->b,c\")",
                    names(PRIMARY)?,
                    names(alias)?
                ),
            ));
        }
        let list = |cols: &[&String]| cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
        let pk: Vec<&String> = key_pairs.iter().map(|(p, _)| p).collect();
        let rk: Vec<&String> = key_pairs.iter().map(|(_, r)| r).collect();
        let nulls = |cols: &[&String]| {
            cols.iter()
                .map(|c| format!("{} IS NULL", ident(c)))
                .collect::<Vec<_>>()
                .join(" OR ")
        };
        let join: Vec<String> = key_pairs
            .iter()
            .map(|(p, r)| format!("p.{} = r.{}", ident(p), ident(r)))
            .collect();
        let equal: Vec<String> = compared
            .iter()
            .map(|(p, r)| format!("(p.{} IS NOT DISTINCT FROM r.{})", ident(p), ident(r)))
            .collect();
        let (pt, rt) = (ident(PRIMARY), ident(alias));
        let count = |from: String| format!("(SELECT CAST(count(*) AS DOUBLE) FROM {from})");
        let sql = format!(
            "SELECT {} AS p_rows, {} AS p_keys, {} AS p_null_keys, {} AS r_rows, {} AS r_keys, {} AS r_null_keys, {} AS matched",
            count(pt.clone()),
            count(format!(
                "(SELECT {} FROM {pt} GROUP BY {})",
                list(&pk),
                list(&pk)
            )),
            count(format!("{pt} WHERE {}", nulls(&pk))),
            count(rt.clone()),
            count(format!(
                "(SELECT {} FROM {rt} GROUP BY {})",
                list(&rk),
                list(&rk)
            )),
            count(format!("{rt} WHERE {}", nulls(&rk))),
            count(format!(
                "{pt} p JOIN {rt} r ON {} WHERE {}",
                join.join(" AND "),
                equal.join(" AND ")
            )),
        );
        let id = self.reg.add(Query::Join { sql });
        Ok(Formula::DatasetMatch(id))
    }

    pub(super) fn aggregate_match_formula(
        &mut self,
        first: &str,
        second: &str,
    ) -> Result<(String, Formula), Settled> {
        let (c1, f1) = self.aggregate_expr(first)?;
        let (c2, f2) = self.aggregate_expr(second)?;
        let name = if c1 == c2 {
            format!("Column.{c1}.AggregateMatch")
        } else {
            format!("Column.{c1},{c2}.AggregateMatch")
        };
        Ok((name, Formula::AggregateRatio(Box::new(f1), Box::new(f2))))
    }

    /// `sum(col)`, `avg(alias.col)`, case-insensitive.
    pub(super) fn aggregate_expr(&mut self, text: &str) -> Result<(String, Formula), Settled> {
        let t = text.trim();
        let open = t
            .find('(')
            .ok_or_else(|| error(format!("\"{text}\" must be sum(column) or avg(column)")))?;
        let func = t[..open].trim().to_ascii_lowercase();
        let inner = t[open + 1..]
            .trim_end()
            .strip_suffix(')')
            .unwrap_or("")
            .trim();
        if !matches!(func.as_str(), "sum" | "avg") || inner.is_empty() {
            return Err(error(format!(
                "\"{text}\" must be sum(column) or avg(column)"
            )));
        }
        let (alias, col) = match inner.rsplit_once('.') {
            Some((a, c))
                if self.ctx.schemas.contains_key(a) || self.ctx.unavailable.contains_key(a) =>
            {
                (a.to_string(), c.to_string())
            }
            Some((a, c)) if a.contains('.') => {
                (a.rsplit('.').next().unwrap_or(a).to_string(), c.to_string())
            }
            _ => (PRIMARY.to_string(), inner.to_string()),
        };
        let (c, t) = self.column(&alias, &col)?;
        if !sql::is_numeric(&t) {
            return Err(error(format!(
                "{func} needs a numeric column; {col} is {}",
                sql::describe(&t)
            )));
        }
        let f = self.agg(&alias, &format!("{func}({})", ident(&c)), None)?;
        Ok((col, f))
    }
}

/// Splits `alias.{a,b}` or `alias.col` at the last dot before the columns.
fn split_alias_columns(text: &str) -> Option<(String, Vec<String>)> {
    if let Some(open) = text.find(".{") {
        let inner = text[open + 2..].strip_suffix('}')?;
        let cols = inner.split(',').map(|c| c.trim().to_string()).collect();
        return Some((text[..open].to_string(), cols));
    }
    let (alias, col) = text.rsplit_once('.')?;
    Some((alias.to_string(), vec![col.to_string()]))
}

/// `a->b,c` as [(a, b), (c, c)].
fn parse_mappings(text: &str) -> Vec<(String, String)> {
    text.split(',')
        .map(|m| match m.split_once("->") {
            Some((a, b)) => (a.trim().to_string(), b.trim().to_string()),
            None => (m.trim().to_string(), m.trim().to_string()),
        })
        .collect()
}
