//! `dqgate validate` and `dqgate fmt` as a user runs them: exit codes,
//! output formats, in-place rewriting.

use std::path::Path;
use std::process::{Command, Output};

fn dqgate(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dqgate"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("dqgate runs")
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write fixture");
}

#[test]
fn validate_exit_codes_and_located_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "good.dqdl", "Rules = [ RowCount > 0 ]\n");
    write(
        dir.path(),
        "bad.dqdl",
        "Rules = [\n  RowCount > 0,\n  Completness \"a\" > 0.5\n]\n",
    );

    let ok = dqgate(&["validate", "good.dqdl"], dir.path());
    assert_eq!(ok.status.code(), Some(0));

    let bad = dqgate(&["validate", "good.dqdl", "bad.dqdl"], dir.path());
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains(
            "bad.dqdl:3:3: error: unknown rule type `Completness`; did you mean `Completeness`?"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("3 |   Completness \"a\" > 0.5\n"),
        "{stderr}"
    );
    assert!(stderr.contains("\n      ^^^^^^^^^^^\n"), "{stderr}");

    let missing = dqgate(&["validate", "nope.dqdl"], dir.path());
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn validate_json_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "good.dqdl", "Rules = [ RowCount > 0 ]\n");
    write(dir.path(), "bad.dqdl", "Rules = [ RowCount > 0, ]\n");
    let out = dqgate(
        &["validate", "--format", "json", "good.dqdl", "bad.dqdl"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json on stdout");
    assert_eq!(
        report,
        serde_json::json!([
            {"file": "good.dqdl", "valid": true, "errors": []},
            {"file": "bad.dqdl", "valid": false, "errors": [
                {"line": 1, "column": 25, "message": "expected `(` or a rule, found `]` (remove the trailing comma)"}
            ]}
        ])
    );
}

#[test]
fn fmt_prints_checks_and_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let messy = "Rules=[RowCount>0,   Completeness of email >= 0.95 # keep me\n]";
    let canonical =
        "Rules = [\n    RowCount > 0,\n    Completeness \"email\" >= 0.95 # keep me\n]\n";
    write(dir.path(), "messy.dqdl", messy);
    write(dir.path(), "clean.dqdl", canonical);

    let printed = dqgate(&["fmt", "messy.dqdl"], dir.path());
    assert_eq!(printed.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&printed.stdout), canonical);

    let check = dqgate(&["fmt", "--check", "messy.dqdl", "clean.dqdl"], dir.path());
    assert_eq!(check.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&check.stdout), "messy.dqdl\n");

    let write_out = dqgate(&["fmt", "--write", "messy.dqdl"], dir.path());
    assert_eq!(write_out.status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("messy.dqdl")).expect("read"),
        canonical
    );

    let check_again = dqgate(&["fmt", "--check", "messy.dqdl", "clean.dqdl"], dir.path());
    assert_eq!(check_again.status.code(), Some(0));

    write(dir.path(), "broken.dqdl", "Rules = [");
    let broken = dqgate(&["fmt", "broken.dqdl"], dir.path());
    assert_eq!(broken.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&broken.stderr).contains("broken.dqdl:1:10: error:"));
}

#[test]
fn shell_completions_are_printed() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (shell, marker) in [
        ("bash", "_dqgate()"),
        ("zsh", "#compdef dqgate"),
        ("fish", "complete -c dqgate"),
    ] {
        let out = dqgate(&["completions", shell], dir.path());
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(
            script.contains("check"),
            "{shell} completes the subcommands"
        );
    }
}

#[test]
fn serve_help_lists_its_settings_with_sizes_in_units() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dqgate(&["serve", "--help"], dir.path());
    let help = String::from_utf8_lossy(&out.stdout);
    for setting in [
        "--max-body-bytes",
        "--eval-memory-limit",
        "--eval-timeout-secs",
        "--max-rules-per-ruleset",
        "--allowed-paths",
        "--allowed-endpoints",
        "--store-acquire-timeout-ms",
        "--header-timeout-secs",
        "--max-connections",
        "--max-ruleset-bytes",
        "--shutdown-grace-secs",
    ] {
        assert!(
            help.contains(setting),
            "serve --help lists {setting}:\n{help}"
        );
    }
    assert!(help.contains("[default: 2GiB]"), "{help}");
}
