//! Parse + validate a 10,000-rule ruleset, and format it.
//! Run: `cargo bench -p dqdl --bench parse`.

use criterion::{Criterion, criterion_group, criterion_main};

/// A ruleset of `n` rules cycling through the common rule shapes.
fn large_ruleset(n: usize) -> String {
    let shapes = [
        "RowCount > 100",
        "IsComplete \"col_{i}\"",
        "Completeness \"col_{i}\" >= 0.95 where \"country = 'US'\"",
        "ColumnValues \"col_{i}\" in [\"a\", \"b\", NULL] with threshold > 0.9",
        "ColumnValues \"col_{i}\" matches \"[0-9a-f]{8}-[0-9a-f]{4}\"",
        "Mean \"col_{i}\" between 1.0 and 1.5",
        "RowCount > avg(last(7)) * 0.8",
        "(IsUnique \"col_{i}\") or (Uniqueness \"col_{i}\" > 0.99)",
        "DataFreshness \"col_{i}\" <= 26 hours",
        "ColumnValues \"col_{i}\" > (now() - 3 days)",
    ];
    let rules: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "    {}",
                shapes[i % shapes.len()].replace("{i}", &i.to_string())
            )
        })
        .collect();
    format!("# generated\nRules = [\n{}\n]\n", rules.join(",\n"))
}

fn bench_parse(c: &mut Criterion) {
    let source = large_ruleset(10_000);
    let mut group = c.benchmark_group("dqdl");
    group.sample_size(20);
    group.bench_function("parse_validate_10k_rules", |b| {
        b.iter(|| dqdl::parse(std::hint::black_box(&source)).expect("valid"))
    });
    let parsed = dqdl::parse(&source).expect("valid");
    group.bench_function("format_10k_rules", |b| {
        b.iter(|| dqdl::format_ruleset(std::hint::black_box(&parsed)))
    });
    group.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
