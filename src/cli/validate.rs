//! `dqgate validate`: syntax and static checks of DQDL files.

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;

use super::{OutputFormat, read_source};
use dqgate::dqdl;

#[derive(Serialize)]
struct FileReport {
    file: String,
    valid: bool,
    errors: Vec<dqdl::Diagnostic>,
}

pub fn run(files: &[PathBuf], format: OutputFormat) -> ExitCode {
    let mut reports = Vec::new();
    let mut all_valid = true;
    for path in files {
        let file = path.display().to_string();
        let source = match read_source(path) {
            Ok(s) => s,
            Err(message) => {
                all_valid = false;
                if format == OutputFormat::Text {
                    eprintln!("{message}");
                }
                reports.push(FileReport {
                    file,
                    valid: false,
                    errors: vec![dqdl::Diagnostic {
                        line: 0,
                        column: 0,
                        message,
                        start: 0,
                        end: 0,
                    }],
                });
                continue;
            }
        };
        match dqdl::parse(&source) {
            Ok(_) => reports.push(FileReport {
                file,
                valid: true,
                errors: Vec::new(),
            }),
            Err(e) => {
                all_valid = false;
                if format == OutputFormat::Text {
                    eprint!("{}", e.render(&file, &source));
                }
                reports.push(FileReport {
                    file,
                    valid: false,
                    errors: e.diagnostics,
                });
            }
        }
    }
    match format {
        OutputFormat::Json => super::print_json(&reports),
        OutputFormat::Text => {
            let valid = reports.iter().filter(|r| r.valid).count();
            eprintln!("{valid} of {} file(s) valid", reports.len());
        }
    }
    if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
