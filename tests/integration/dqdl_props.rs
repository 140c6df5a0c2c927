//! Property tests: generated rulesets round-trip through the formatter, and
//! arbitrary input is rejected cleanly (never a panic).

use dqgate::dqdl;
use proptest::prelude::*;

fn column() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9_]{0,8}".prop_map(|c| format!("\"{c}\"")),
        "[a-z][a-z0-9_]{0,8}".prop_filter("not a keyword", |c| {
            !matches!(
                c.as_str(),
                "and"
                    | "or"
                    | "of"
                    | "in"
                    | "not"
                    | "null"
                    | "empty"
                    | "with"
                    | "where"
                    | "labels"
                    | "between"
                    | "matches"
                    | "days"
                    | "hours"
                    | "minutes"
            )
        }),
        "[ a-z#\\\\\"-]{1,10}"
            .prop_map(|c| format!("\"{}\"", c.replace('\\', "\\\\").replace('"', "\\\""))),
    ]
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..100_000).prop_map(|n| n.to_string()),
        (0u32..1000, 0u32..1000).prop_map(|(a, b)| format!("{a}.{b}")),
        (0u32..100).prop_map(|n| format!("-{n}")),
    ]
}

fn num_expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        number(),
        (1u32..10).prop_map(|k| format!("avg(last({k}))")),
        (1u32..10, 0u32..3).prop_map(|(k, i)| format!("index(last({k}), {i})")),
    ];
    leaf.prop_recursive(3, 8, 2, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop_oneof![Just("+"), Just("-"), Just("*"), Just("/")],
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
            inner.prop_map(|e| format!("({e})")),
        ]
    })
}

fn number_condition() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            prop_oneof![
                Just("="),
                Just("!="),
                Just(">"),
                Just(">="),
                Just("<"),
                Just("<=")
            ],
            num_expr()
        )
            .prop_map(|(op, e)| format!("{op} {e}")),
        (any::<bool>(), number(), number()).prop_map(|(not, a, b)| format!(
            "{}between {a} and {b}",
            if not { "not " } else { "" }
        )),
        (any::<bool>(), prop::collection::vec(number(), 1..4)).prop_map(|(not, v)| format!(
            "{}in [{}]",
            if not { "not " } else { "" },
            v.join(", ")
        )),
    ]
}

fn value_condition() -> impl Strategy<Value = String> {
    prop_oneof![
        number_condition(),
        (
            any::<bool>(),
            prop::collection::vec(
                prop_oneof![
                    "[a-z]{1,5}".prop_map(|s| format!("\"{s}\"")),
                    Just("NULL".to_string()),
                    Just("EMPTY".to_string()),
                    Just("WHITESPACES_ONLY".to_string()),
                ],
                1..4
            )
        )
            .prop_map(|(not, v)| format!(
                "{}in [{}]",
                if not { "not " } else { "" },
                v.join(", ")
            )),
        (any::<bool>(), "[a-z0-9+*.]{1,8}")
            .prop_map(|(not, p)| format!("{}matches \"{p}\"", if not { "not " } else { "" })),
        prop_oneof![
            Just("= \"2024-01-31\""),
            Just("> (now() - 3 days)"),
            Just("<= now()"),
            Just("= \"9:30 AM\"")
        ]
        .prop_map(String::from),
    ]
}

fn rule() -> impl Strategy<Value = String> {
    prop_oneof![
        number_condition().prop_map(|c| format!("RowCount {c}")),
        (column(), number_condition()).prop_map(|(col, c)| format!("Completeness {col} {c}")),
        (column(), number_condition()).prop_map(|(col, c)| format!("Mean of {col} {c}")),
        (column(), column(), number_condition())
            .prop_map(|(a, b, c)| format!("ColumnCorrelation {a} and {b} {c}")),
        (column(), value_condition()).prop_map(|(col, c)| format!("ColumnValues {col} {c}")),
        (column(), value_condition(), number_condition())
            .prop_map(|(col, c, t)| format!("ColumnValues {col} {c} with threshold {t}")),
        column().prop_map(|c| format!("IsComplete {c} where \"x > 1\"")),
        (prop::collection::vec(column(), 1..4))
            .prop_map(|cols| format!("IsUnique {}", cols.join(" "))),
        (column(), 1u32..100).prop_map(|(c, n)| format!("DataFreshness {c} <= {n} hours")),
        (1u32..100).prop_map(|n| format!("FileSize < {n} MB")),
        (column(), "[a-z]{1,5}", "[a-z]{1,5}")
            .prop_map(|(c, k, v)| format!("IsComplete {c} labels=[\"{k}\"=\"{v}\"]")),
    ]
}

fn rule_expr() -> impl Strategy<Value = String> {
    rule().prop_recursive(3, 12, 3, |inner| {
        (
            inner.clone(),
            prop_oneof![Just("and"), Just("or"), Just("AND"), Just("OR")],
            inner,
        )
            .prop_map(|(a, op, b)| format!("({a}) {op} ({b})"))
    })
}

fn ruleset() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((rule_expr(), prop::option::of("[ a-z]{0,10}")), 1..8),
        any::<bool>(),
    )
        .prop_map(|(rules, analyzers)| {
            let body: Vec<String> = rules
                .into_iter()
                .map(|(r, c)| match c {
                    Some(c) => format!("  {r} # {c}\n"),
                    None => format!("  {r}\n"),
                })
                .collect();
            let mut s = format!("# generated\nRules = [\n{}]\n", body.join(","));
            if analyzers {
                s.push_str("Analyzers = [ RowCount, Completeness \"a\" ]\n");
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn format_round_trips(src in ruleset()) {
        let parsed = dqdl::parse(&src).map_err(|e| TestCaseError::fail(format!("{src}\n{}", e.render("gen", &src))))?;
        let formatted = dqdl::format_ruleset(&parsed);
        let again = dqdl::parse(&formatted).map_err(|e| TestCaseError::fail(format!("{formatted}\n{e}")))?;
        prop_assert_eq!(&again, &parsed);
        prop_assert_eq!(dqdl::format_ruleset(&again), formatted);
    }

    #[test]
    fn arbitrary_text_never_panics(src in "\\PC{0,200}") {
        let _ = dqdl::parse(&src);
    }

    #[test]
    fn mangled_rulesets_never_panic(src in ruleset(), cut in 0usize..400, junk in "[\\[\\](),\"#$=<>!a-z0-9 \n-]{0,6}") {
        let mut s = src;
        let at = cut.min(s.len());
        let at = (0..=at).rev().find(|i| s.is_char_boundary(*i)).unwrap_or(0);
        s.insert_str(at, &junk);
        if let Err(e) = dqdl::parse(&s) {
            for d in &e.diagnostics {
                prop_assert!(d.line >= 1 && d.column >= 1);
            }
            let _ = e.render("x", &s);
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let src = format!(
        "Rules = [ {}RowCount > 1{} ]",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    let err = dqdl::parse(&src).expect_err("too deep");
    assert!(err.diagnostics[0].message.contains("nesting"), "{err}");
    let src = format!(
        "Rules = [ RowCount > {}1{} ]",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    assert!(dqdl::parse(&src).is_err());
}

#[test]
fn huge_line_is_an_error_quickly() {
    let src = format!(
        "Rules = [ ColumnValues \"a\" in [\"{}\"] ]",
        "x".repeat(10 * 1024 * 1024)
    );
    let err = dqdl::parse(&src).expect_err("too large");
    assert!(err.diagnostics[0].message.contains("limit"), "{err}");
}
