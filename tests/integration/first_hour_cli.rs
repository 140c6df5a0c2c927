//! The command line in a new user's first hour: the source flags every
//! reading command takes, `check --store` on a new SQLite file, and a demo
//! whose marked rules are the only failures on any later day.

use std::path::Path;
use std::process::{Command, Output};

use super::s3::{ACCESS_KEY, S3Server, SECRET_KEY};

pub fn dqgate(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dqgate"))
        .args(args)
        .current_dir(dir)
        .env_remove("DQGATE_NOW")
        .env_remove("DQGATE_CHECK_STORE")
        .output()
        .expect("dqgate runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The reading flags of `check` (see `SourceArgs`).
const SOURCE_FLAGS: [&str; 9] = [
    "--s3-endpoint",
    "--s3-region",
    "--s3-path-style",
    "--snapshot-id",
    "--as-of",
    "--since-snapshot-id",
    "--slice-column",
    "--start-date",
    "--end-date",
];

#[test]
fn every_reading_command_takes_the_same_source_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    for command in ["check", "suggest"] {
        let help = text(&dqgate(&[command, "--help"], dir.path()).stdout);
        for flag in SOURCE_FLAGS {
            assert!(help.contains(flag), "`{command}` lacks {flag}:\n{help}");
        }
    }
}

/// Before: `suggest --s3-endpoint` was parsed and ignored, so suggest read
/// from the default endpoint (here a closed loopback port).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suggest_reads_s3_through_its_endpoint_flag() {
    let server = S3Server::start().await;
    server.bucket("lake");
    let local = tempfile::tempdir().expect("tempdir");
    let people = local.path().join("people.parquet");
    super::fixtures::write(&people, &super::fixtures::people());
    server
        .upload(&people, "lake", "people/part-0.parquet")
        .await;
    let endpoint = server.endpoint.clone();
    let cwd = local.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_dqgate"))
            .args(["suggest", "--data", "s3://lake/people", "--s3-endpoint"])
            .arg(&endpoint)
            .args(["--s3-region", "us-east-1", "--now", "2026-11-26T12:00:00Z"])
            .current_dir(&cwd)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_CONFIG_FILE", cwd.join("no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                cwd.join("no-aws-credentials"),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ENDPOINT_URL")
            // The endpoint the flag must override: nothing listens there.
            .env("DQGATE_S3_ENDPOINT", "http://127.0.0.1:9")
            .output()
            .expect("dqgate runs")
    })
    .await
    .expect("joined");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ruleset = text(&out.stdout);
    assert!(ruleset.contains("IsComplete \"id\""), "{ruleset}");
}

/// Before: "unable to open database file" for a store that did not exist.
#[test]
fn check_store_creates_a_new_sqlite_store_and_its_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    super::fixtures::write_all(dir.path());
    std::fs::write(dir.path().join("rules.dqdl"), "Rules = [ RowCount > 0 ]").expect("ruleset");
    for store in ["sqlite://newstore.db", "sqlite://stores/deeper/history.db"] {
        let out = dqgate(
            &[
                "check",
                "--ruleset",
                "rules.dqdl",
                "--data",
                "people.parquet",
                "--store",
                store,
            ],
            dir.path(),
        );
        assert!(out.status.success(), "{store}: {}", text(&out.stderr));
        let file = store.trim_start_matches("sqlite://");
        assert!(dir.path().join(file).is_file(), "{file} was not created");
    }
}

/// The rules of `ruleset` marked `# expected to fail`, as written.
fn marked(ruleset: &str) -> Vec<String> {
    ruleset
        .lines()
        .filter(|l| l.contains("# expected to fail"))
        .map(|l| {
            l.split(" #")
                .next()
                .unwrap_or_default()
                .trim()
                .trim_end_matches(',')
                .to_string()
        })
        .collect()
}

/// Before: the demo's data was anchored to the day it was generated and its
/// printed command was not, so three days later `DataFreshness` failed too.
#[test]
fn the_demo_command_fails_only_the_marked_rules_days_later() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = dqgate(&["demo", "--now", "2026-11-26T15:30:00Z"], dir.path());
    assert!(demo.status.success(), "{}", text(&demo.stderr));
    let printed = text(&demo.stdout);
    let command = printed
        .lines()
        .find_map(|l| l.strip_prefix("Try: dqgate "))
        .unwrap_or_else(|| panic!("no command printed:\n{printed}"));
    let mut args: Vec<&str> = command.split_whitespace().collect();
    args.retain(|a| *a != "--explain");
    args.extend(["--format", "json"]);
    let later = Command::new(env!("CARGO_BIN_EXE_dqgate"))
        .args(&args)
        .current_dir(dir.path())
        // The clock three days later.
        .env("DQGATE_NOW", "2026-11-29T15:30:00Z")
        .output()
        .expect("dqgate runs");
    let report: serde_json::Value = serde_json::from_slice(&later.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&later.stderr)));
    let ruleset = std::fs::read_to_string(dir.path().join("dqgate-demo/rulesets/sessions.dqdl"))
        .expect("ruleset written by the demo");
    let expected = marked(&ruleset);
    let rules = report["rules"].as_array().expect("rules");
    let failing: Vec<&str> = rules
        .iter()
        .filter(|r| r["outcome"] != "Passed")
        .map(|r| r["rule"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        failing.len(),
        expected.len(),
        "{failing:#?} vs {expected:#?}"
    );
    for rule in failing {
        assert!(expected.iter().any(|e| e == rule), "{rule} is not marked");
    }
    assert!(
        std::fs::read_to_string(dir.path().join("dqgate-demo/generated-at.txt"))
            .is_ok_and(|t| t.trim() == "2026-11-26T15:30:00Z")
    );
}
