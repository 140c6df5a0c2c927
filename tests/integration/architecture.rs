//! The library's module graph, enforced: every top-level module of `src/`
//! has a place in [`LAYERS`] and imports only modules listed before it, so
//! dependencies point one way (dqdl → source → plan → engine → judge, with
//! history beside the judge; the store, runs layer and API on top) and no
//! import circle can come back unnoticed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each module with the modules it may import, lowest layer first.
const LAYERS: &[(&str, &[&str])] = &[
    ("sql_support", &[]),
    ("dqdl", &[]),
    ("sample", &[]),
    ("telemetry", &[]),
    ("source", &["dqdl", "sql_support"]),
    ("plan", &["dqdl", "source", "sql_support"]),
    ("engine", &["plan", "sql_support"]),
    ("history", &["dqdl", "plan"]),
    ("judge", &["dqdl", "history", "plan"]),
    ("report", &["history", "plan", "source"]),
    ("gate", &["plan", "report"]),
    (
        "suggest",
        &["dqdl", "engine", "plan", "source", "sql_support"],
    ),
    (
        "check",
        &[
            "dqdl",
            "engine",
            "history",
            "judge",
            "plan",
            "report",
            "source",
            "sql_support",
        ],
    ),
    ("store", &["gate", "history", "plan", "report"]),
    ("client", &["gate"]),
    (
        "runs",
        &[
            "check",
            "dqdl",
            "engine",
            "gate",
            "history",
            "plan",
            "report",
            "source",
            "sql_support",
            "store",
        ],
    ),
    (
        "api",
        &[
            "check", "dqdl", "engine", "gate", "history", "plan", "report", "runs", "source",
            "store", "suggest",
        ],
    ),
    (
        "console",
        &[
            "api", "dqdl", "gate", "history", "plan", "report", "runs", "source", "store",
        ],
    ),
    ("config", &["api", "engine", "store", "telemetry"]),
];

/// The top-level module a file under `src/` belongs to.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main" | "cli")).then(|| name.to_string())
}

/// `crate::x` references in a file, including `use crate::{x, y}` groups.
fn crate_references(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        let names: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => group
                .split('}')
                .next()
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .collect(),
            None => vec![rest],
        };
        for name in names {
            let ident: String = name
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !ident.is_empty() && ident != "self" {
                found.insert(ident);
            }
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn modules_import_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut imports: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).expect("read file");
        let refs = imports.entry(module.clone()).or_default();
        refs.extend(crate_references(&text).into_iter().filter(|r| *r != module));
    }
    let position = |m: &str| LAYERS.iter().position(|(name, _)| *name == m);
    let mut problems = Vec::new();
    for (i, (module, allowed)) in LAYERS.iter().enumerate() {
        for a in *allowed {
            if position(a).is_none_or(|p| p >= i) {
                problems.push(format!(
                    "LAYERS: {module} may import {a}, which is not below it"
                ));
            }
        }
    }
    for (module, refs) in &imports {
        let Some(p) = position(module) else {
            problems.push(format!("module `{module}` has no place in LAYERS"));
            continue;
        };
        for r in refs {
            if !LAYERS[p].1.contains(&r.as_str()) {
                problems.push(format!("`{module}` imports `{r}`, which it may not"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn references_are_found_in_groups_and_paths() {
    let refs = crate_references("use crate::{plan::X, history};\nlet x = crate::judge::show(1.0);");
    assert_eq!(
        refs.into_iter().collect::<Vec<_>>(),
        ["history", "judge", "plan"]
    );
}

/// dqgate.example.toml documents every `dqgate.toml` key, and loads once
/// its settings are uncommented.
#[test]
fn the_example_config_names_every_setting_and_loads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = std::fs::read_to_string(root.join("dqgate.example.toml")).expect("example");
    let settings: String = example
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| l.split_once(" = ").is_some_and(|(k, _)| !k.contains(' ')))
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dqgate.toml");
    std::fs::write(&path, &settings).expect("write");
    dqgate::config::FileConfig::load(Some(&path)).expect("the uncommented example loads");
    let source = std::fs::read_to_string(root.join("src/config.rs")).expect("config.rs");
    let fields = source
        .split("pub struct FileConfig {")
        .nth(1)
        .and_then(|rest| rest.split("\n}").next())
        .expect("FileConfig");
    for line in fields.lines() {
        if let Some(name) = line
            .trim()
            .strip_prefix("pub ")
            .and_then(|l| l.split(':').next())
        {
            assert!(
                settings.contains(&format!("{name} = ")),
                "dqgate.example.toml does not show `{name}`"
            );
        }
    }
}
