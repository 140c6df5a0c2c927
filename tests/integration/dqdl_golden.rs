//! Golden files for the DQDL parser: each `tests/golden/dqdl/valid/*.dqdl`
//! is pinned to its canonical text and AST, each `invalid/*.dqdl` to its
//! rendered errors. `UPDATE_GOLDEN=1 cargo test` rewrites the `.golden` files.

use std::path::{Path, PathBuf};

use dqgate::dqdl;

fn golden_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/dqdl")
        .join(kind)
}

fn cases(kind: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(golden_dir(kind))
        .expect("golden directory exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "dqdl"))
        .collect();
    files.sort();
    files
}

/// Removes every `span` key so snapshots do not churn with offsets.
fn strip_spans(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            map.remove("span");
            map.values_mut().for_each(strip_spans);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_spans),
        _ => {}
    }
}

fn check_snapshot(case: &Path, actual: &str, failures: &mut Vec<String>) {
    let golden = case.with_extension("golden");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, actual).expect("write golden");
        return;
    }
    match std::fs::read_to_string(&golden) {
        Ok(expected) if expected == actual => {}
        Ok(expected) => failures.push(format!(
            "{}: output differs from golden\n--- expected\n{expected}\n--- actual\n{actual}",
            case.display()
        )),
        Err(_) => failures.push(format!(
            "{}: no golden file (run with UPDATE_GOLDEN=1)",
            golden.display()
        )),
    }
}

#[test]
fn valid_rulesets_match_their_golden_ast_and_format() {
    let files = cases("valid");
    assert!(
        files.len() >= 40,
        "expected at least 40 valid cases, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for case in files {
        let source = std::fs::read_to_string(&case).expect("read case");
        let ruleset = match dqdl::parse(&source) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!(
                    "{}: should parse but failed:\n{}",
                    case.display(),
                    e.render("case", &source)
                ));
                continue;
            }
        };
        let formatted = dqdl::format_ruleset(&ruleset);
        // The formatter's contract, checked on every golden case.
        match dqdl::parse(&formatted) {
            Ok(again) => {
                if again != ruleset {
                    failures.push(format!("{}: parse(format(x)) != x", case.display()));
                }
                if dqdl::format_ruleset(&again) != formatted {
                    failures.push(format!("{}: format is not idempotent", case.display()));
                }
            }
            Err(e) => failures.push(format!(
                "{}: formatted text does not parse: {e}",
                case.display()
            )),
        }
        let mut ast = serde_json::to_value(&ruleset).expect("AST serializes");
        strip_spans(&mut ast);
        let actual = format!(
            "--- formatted\n{formatted}--- ast\n{}\n",
            serde_json::to_string_pretty(&ast).expect("json")
        );
        check_snapshot(&case, &actual, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn invalid_rulesets_match_their_golden_errors() {
    let files = cases("invalid");
    assert!(
        files.len() >= 60,
        "expected at least 60 invalid cases, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for case in files {
        let source = std::fs::read_to_string(&case).expect("read case");
        match dqdl::parse(&source) {
            Ok(_) => failures.push(format!("{}: should be rejected but parsed", case.display())),
            Err(e) => {
                let name = case.file_name().and_then(|n| n.to_str()).unwrap_or("case");
                check_snapshot(&case, &e.render(name, &source), &mut failures);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
