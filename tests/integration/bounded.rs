//! Bounded work: wide rulesets split into bounded scans, the rule cap, the
//! evaluation pool (a responsive server, timeouts that stop the work, a
//! queue in front of suggest) and the HTTP connection timeouts and cap.

use dqgate::check::{CheckRequest, prepare};
use dqgate::engine::ScanKind;
use dqgate::history::History;
use dqgate::plan::Outcome;
use dqgate::source::DatasetSpec;

use super::fixtures;

/// `n` distinct aggregate rules over the `people` fixture.
fn wide_ruleset(n: usize) -> String {
    let rules: Vec<String> = (0..n)
        .map(|i| format!("ColumnValues \"age\" > {i} with threshold >= 0.5"))
        .collect();
    format!("Rules = [\n{}\n]\n", rules.join(",\n"))
}

#[tokio::test]
async fn a_wide_ruleset_is_split_into_bounded_scans_with_the_same_results() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (people, _) = fixtures::write_all(dir.path());
    let prepared = prepare(CheckRequest {
        ruleset_name: "wide".into(),
        ruleset_text: wide_ruleset(600),
        datasets: vec![DatasetSpec::parse(&people, "primary")],
        now: Some(fixtures::now()),
        memory_limit: None,
    })
    .await
    .expect("prepares");
    let widths: Vec<usize> = prepared
        .scans()
        .iter()
        .filter(|s| s.kind == ScanKind::Aggregate)
        .map(|s| s.queries.len())
        .collect();
    assert!(widths.len() > 1, "one scan of {widths:?} aggregates");
    assert!(widths.iter().all(|w| *w <= 256), "{widths:?}");
    let report = prepared.evaluate(&History::unavailable()).await;
    assert_eq!(report.rules.len(), 600);
    // Five of the ten ages are over i exactly when i < 30.
    for (i, rule) in report.rules.iter().enumerate() {
        let expected = if i < 30 {
            Outcome::Passed
        } else {
            Outcome::Failed
        };
        assert_eq!(rule.outcome, expected, "{}: {:?}", rule.rule, rule.message);
    }
}
