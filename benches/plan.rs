//! Planning a large ruleset: parse + validate + plan 10,000 rules against
//! a small in-memory table's schema, and building and optimizing the scans
//! of that plan (DataFusion logical and physical planning, no data read).
//! Run: `cargo bench --bench plan`.

use std::collections::HashMap;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use dqgate::engine::{self, SessionParser};
use dqgate::plan::{self, PRIMARY, Plan, PlanContext};

/// Columns of the table: `n0..n9` numbers, `s0..s9` strings.
const COLUMNS: usize = 10;

/// A ruleset of `n` distinct rules cycling through the common shapes over
/// the table's columns.
pub fn large_ruleset(n: usize) -> String {
    let shapes = [
        "RowCount > {i}",
        "IsComplete \"s{c}\"",
        "Completeness \"n{c}\" >= 0.95 where \"n{c} > {i}\"",
        "ColumnValues \"s{c}\" in [\"a\", \"b\", \"{i}\"] with threshold > 0.9",
        "ColumnValues \"s{c}\" matches \"[0-9a-f]+-{i}\"",
        "Mean \"n{c}\" between {i} and 1.5",
        "ColumnValues \"n{c}\" > {i}",
        "ColumnLength \"s{c}\" <= {i}",
        "(IsComplete \"s{c}\") or (ColumnValues \"n{c}\" < {i})",
        "Sum \"n{c}\" > {i} where \"s{c} = 'x{i}'\"",
    ];
    let rules: Vec<String> = (0..n)
        .map(|i| {
            let shape = shapes[i % shapes.len()];
            format!(
                "    {}",
                shape
                    .replace("{c}", &(i % COLUMNS).to_string())
                    .replace("{i}", &i.to_string())
            )
        })
        .collect();
    format!("Rules = [\n{}\n]\n", rules.join(",\n"))
}

/// A session with an empty in-memory `primary` table and its schema.
pub fn table() -> (SessionContext, HashMap<String, SchemaRef>) {
    let mut fields = Vec::new();
    for c in 0..COLUMNS {
        fields.push(Field::new(format!("n{c}"), DataType::Float64, true));
        fields.push(Field::new(format!("s{c}"), DataType::Utf8, true));
    }
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    let ctx = SessionContext::new();
    let table = MemTable::try_new(schema.clone(), vec![Vec::new()]).expect("table");
    ctx.register_table(PRIMARY, Arc::new(table))
        .expect("register");
    (ctx, HashMap::from([(PRIMARY.to_string(), schema)]))
}

/// Parses, validates and plans `source`.
pub fn plan_text(ctx: &SessionContext, schemas: &HashMap<String, SchemaRef>, source: &str) -> Plan {
    let ruleset = dqgate::dqdl::parse(source).expect("valid");
    let parser = SessionParser::new(ctx, schemas);
    let facts = dqgate::source::files::FileFacts::default();
    plan::plan_ruleset(
        &ruleset,
        &PlanContext {
            schemas,
            unavailable: &HashMap::new(),
            now: chrono::Utc::now(),
            files: plan::files::FileScope {
                facts: &facts,
                primary: None,
            },
            parser: &parser,
            composite_mode: Default::default(),
            hash_wide_keys: true,
        },
    )
}

fn bench_plan(c: &mut Criterion) {
    let (ctx, schemas) = table();
    let source = large_ruleset(10_000);
    let mut group = c.benchmark_group("plan");
    group.sample_size(10);
    group.bench_function("parse_validate_plan_10k_rules", |b| {
        b.iter(|| plan_text(&ctx, &schemas, std::hint::black_box(&source)))
    });
    let plan = plan_text(&ctx, &schemas, &source);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    group.bench_function("execute_10k_rules_empty_table", |b| {
        b.iter(|| runtime.block_on(engine::execute(&ctx, std::hint::black_box(&plan))))
    });
    group.finish();
}

criterion_group!(benches, bench_plan);
criterion_main!(benches);
