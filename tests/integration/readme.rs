//! README's command lines are true: every flag its synopses and examples
//! give is one the command accepts (with the values it lists), and the
//! local `check` example runs on the demo's data.

use std::path::Path;
use std::process::Command;

fn dqgate(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dqgate"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("dqgate runs")
}

/// Each `dqgate …` command of README's indented blocks, continuation lines
/// joined.
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README");
    let mut commands: Vec<String> = Vec::new();
    let mut continuing = false;
    for line in readme.lines() {
        let code = line.strip_prefix("    ").map(str::trim_start);
        match code {
            Some(c) if c.starts_with("dqgate ") || c.contains(" dqgate check ") => {
                let start = c.find("dqgate ").unwrap_or(0);
                commands.push(c[start..].to_string());
                continuing = c.ends_with('\\') || c.ends_with("...") || c.ends_with(']');
            }
            Some(c) if continuing && (c.starts_with("--") || c.starts_with('[')) => {
                if let Some(last) = commands.last_mut() {
                    last.push(' ');
                    last.push_str(c);
                }
                continuing = c.ends_with('\\') || c.ends_with(']');
            }
            _ => continuing = false,
        }
    }
    commands
}

#[test]
fn every_flag_readme_shows_is_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let commands = readme_commands();
    assert!(commands.len() >= 8, "found {commands:?}");
    let mut problems = Vec::new();
    for command in &commands {
        let words: Vec<&str> = command.split_whitespace().collect();
        let mut sub = vec![words[1]];
        if words[1] == "token" {
            sub.push(words[2]);
        }
        let mut args = sub.clone();
        args.push("-h");
        let help = String::from_utf8_lossy(&dqgate(&args, dir.path()).stdout).to_string();
        for word in &words {
            let word = word.trim_start_matches(['[', '(']);
            let Some(flag) = word
                .strip_prefix("--")
                .map(|f| f.split(['=', ']', '|', ')']).next().unwrap_or(f))
            else {
                continue;
            };
            if flag.is_empty() || !help.contains(&format!("--{flag}")) {
                problems.push(format!(
                    "`{command}`: --{flag} is not an option of `dqgate {}`",
                    sub.join(" ")
                ));
            }
        }
        // `--format text|json`: every listed value is one the command takes.
        let possible: Vec<&str> = help
            .split("--format")
            .nth(1)
            .and_then(|s| s.split("[possible values: ").nth(1))
            .and_then(|s| s.split(']').next())
            .map(|v| v.split(", ").collect())
            .unwrap_or_default();
        for pair in words.windows(2) {
            if pair[0].trim_start_matches('[') == "--format" {
                for value in pair[1].trim_end_matches(']').split('|') {
                    if !possible.contains(&value) {
                        problems.push(format!(
                            "`{command}`: --format {value} is not a value of `dqgate {}`",
                            sub.join(" ")
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_local_check_example_runs_on_the_demo_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = dqgate(
        &["demo", "--rows", "2000", "--days", "2", "--format", "json"],
        dir.path(),
    );
    assert_eq!(
        demo.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let rulesets = Path::new(env!("CARGO_MANIFEST_DIR")).join("rulesets");
    std::os::unix::fs::symlink(&rulesets, dir.path().join("rulesets")).expect("link rulesets");
    let example = readme_commands()
        .into_iter()
        .find(|c| {
            c.starts_with("dqgate check --ruleset rulesets/deftunes/sessions.dqdl")
                && !c.contains("s3://")
        })
        .expect("README's local check example");
    let args: Vec<&str> = example
        .split_whitespace()
        .skip(1)
        .filter(|w| *w != "\\")
        .collect();
    let out = dqgate(&args, dir.path());
    // 1: the demo's planted defects fail their rules; 2 would mean it could not run.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{example}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
