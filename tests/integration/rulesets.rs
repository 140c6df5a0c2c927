//! Every ruleset shipped under rulesets/ validates and is canonically formatted.

use std::path::Path;

use dqgate::dqdl;

fn dqdl_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable rulesets dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            dqdl_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "dqdl") {
            out.push(path);
        }
    }
}

#[test]
fn shipped_rulesets_validate_and_are_canonical() {
    let mut files = Vec::new();
    dqdl_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("rulesets"),
        &mut files,
    );
    assert!(!files.is_empty(), "rulesets/ holds no .dqdl file");
    for file in files {
        let source = std::fs::read_to_string(&file).expect("read");
        let parsed = dqdl::parse(&source).unwrap_or_else(|e| {
            panic!("{} is invalid:\n{}", file.display(), e.render("x", &source))
        });
        assert_eq!(
            dqdl::format_ruleset(&parsed),
            source,
            "{} is not canonical (run dqgate fmt --write)",
            file.display()
        );
    }
}
