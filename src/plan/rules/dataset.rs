//! The dataset's shape (RowCount, ColumnCount, ColumnExists,
//! ColumnNamesMatchPattern) and its match with another (SchemaMatch,
//! RowCountMatch).

use super::*;

impl Planner<'_> {
    pub(super) fn row_count_rule(&mut self, i: &Input<'_>) -> Result<LeafPlan, Settled> {
        let v = self.row_count(PRIMARY, i.filter())?;
        Ok(numeric("Dataset.*.RowCount", v, i.condition()?))
    }

    pub(super) fn column_count(&mut self, i: &Input<'_>) -> Result<LeafPlan, Settled> {
        let n = self.schema(PRIMARY)?.fields().len() as f64;
        Ok(numeric(
            "Dataset.*.ColumnCount",
            Formula::Const(n),
            i.condition()?,
        ))
    }

    pub(super) fn column_exists(&mut self, i: &Input<'_>) -> LeafPlan {
        *match self.column(PRIMARY, &i.params[0]) {
            Ok(_) => decided(Outcome::Passed, format!("column {} exists", i.params[0])),
            Err(settled) => settled,
        }
    }

    pub(super) fn schema_match_rule(&mut self, i: &Input<'_>) -> Result<LeafPlan, Settled> {
        let v = self.schema_match(&i.params[0])?;
        Ok(numeric(
            &format!("Dataset.{}.SchemaMatch", i.params[0]),
            Formula::Const(v),
            i.condition()?,
        ))
    }

    pub(super) fn row_count_match(&mut self, i: &Input<'_>) -> Result<LeafPlan, Settled> {
        self.schema(&i.params[0])?;
        let v = ratio(
            self.row_count(PRIMARY, None)?,
            self.row_count(&i.params[0], None)?,
        );
        Ok(numeric(
            &format!("Dataset.{}.RowCountMatch", i.params[0]),
            v,
            i.condition()?,
        ))
    }

    pub(super) fn names_match(&self, pattern: &str) -> Result<LeafPlan, Settled> {
        let re = regex::Regex::new(pattern).map_err(|e| error(format!("invalid pattern: {e}")))?;
        let schema = self.schema(PRIMARY)?;
        let names: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
        // deequ searches rather than full-matches (SPEC §15.5).
        let mismatched: Vec<String> = names
            .iter()
            .filter(|n| !re.is_match(n))
            .map(|n| (*n).clone())
            .collect();
        let ratio = if names.is_empty() {
            1.0
        } else {
            (names.len() - mismatched.len()) as f64 / names.len() as f64
        };
        let subject = "Dataset.*.ColumnNamesPatternMatchRatio".to_string();
        Ok(leaf(
            vec![(subject.clone(), Formula::Const(ratio))],
            Check::NamesMatch {
                subject,
                ratio,
                mismatched,
            },
        ))
    }

    pub(super) fn schema_match(&self, alias: &str) -> Result<f64, Settled> {
        let p = self.schema(PRIMARY)?;
        let r = self.schema(alias)?;
        if p.fields().len() != r.fields().len() {
            return Ok(0.0);
        }
        if p.fields().is_empty() {
            return Ok(1.0);
        }
        let matching = p
            .fields()
            .iter()
            .filter(|f| {
                r.field_with_name(f.name())
                    .is_ok_and(|g| g.data_type() == f.data_type())
            })
            .count();
        Ok(matching as f64 / p.fields().len() as f64)
    }
}
