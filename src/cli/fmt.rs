//! `dqgate fmt`: canonical formatting of DQDL files.

use std::path::PathBuf;
use std::process::ExitCode;

use super::read_source;
use dqgate::dqdl;

pub fn run(files: &[PathBuf], write: bool, check: bool) -> ExitCode {
    let mut failed = false;
    for path in files {
        let file = path.display().to_string();
        let source = match read_source(path) {
            Ok(s) => s,
            Err(message) => {
                eprintln!("{message}");
                failed = true;
                continue;
            }
        };
        let ruleset = match dqdl::parse(&source) {
            Ok(r) => r,
            Err(e) => {
                eprint!("{}", e.render(&file, &source));
                failed = true;
                continue;
            }
        };
        let formatted = dqdl::format_ruleset(&ruleset);
        if check {
            if formatted != source {
                outln!("{file}");
                failed = true;
            }
        } else if write {
            if formatted != source
                && let Err(e) = std::fs::write(path, &formatted)
            {
                eprintln!("{file}: error: cannot write: {e}");
                failed = true;
            }
        } else {
            out!("{formatted}");
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
