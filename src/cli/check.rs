//! `dqgate check`: evaluate a ruleset over local data and report.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use dqgate::check::{self, CheckError, CheckRequest, HistoryScope, Prepared};
use dqgate::history::History;
use dqgate::plan::Outcome;
use dqgate::report::Report;
use dqgate::source::DatasetSpec;
use dqgate::store::Store;

use super::{OutputFormat, read_source};

/// Exit code when the check could not run at all.
pub const CANNOT_RUN: u8 = 2;

/// Options of `dqgate check`.
/// The evaluation timeout of a check on a cluster when none is given: a
/// cluster that loses its executors can leave a job waiting.
const DISTRIBUTED_TIMEOUT_SECS: u64 = 3600;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The DQDL ruleset.
    #[arg(long)]
    pub ruleset: PathBuf,
    /// A dataset as [ALIAS=]LOCATION: a file, folder or glob of Parquet,
    /// CSV or NDJSON, local or s3://bucket/prefix, or an Iceberg reference
    /// (iceberg:sqlite:CATALOG.db?name=N#NS.TABLE, iceberg:https://REST#NS.TABLE,
    /// iceberg:PATH.metadata.json). The first without an alias is the
    /// primary dataset; rules such as ReferentialIntegrity name the others
    /// by alias.
    #[arg(long = "data", required = true)]
    pub data: Vec<String>,
    /// Where and what to read.
    #[command(flatten)]
    pub source: super::source::SourceArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Write the rows that fail row-level rules to this Parquet file.
    #[arg(long)]
    pub failed_rows: Option<PathBuf>,
    /// Print the scans and the rules each one serves before running.
    #[arg(long)]
    pub explain: bool,
    /// How composite rules are judged: `column` (each side over the whole
    /// dataset, as Glue's default) or `row` (each row must pass the whole
    /// combination); overrides the ruleset's Metadata
    /// "compositeRuleEvaluation.method".
    #[arg(long, value_enum)]
    pub composite_mode: Option<CompositeModeArg>,
    /// Evaluate as of this instant (RFC 3339) instead of now; pins
    /// `now()` and DataFreshness.
    #[arg(long, env = "DQGATE_NOW")]
    pub now: Option<chrono::DateTime<chrono::Utc>>,
    /// Most memory the evaluation may use (e.g. 4GiB); sorts and
    /// group-bys spill to disk before failing. Unlimited by default.
    #[arg(long, env = "DQGATE_MEMORY_LIMIT", value_parser = parse_bytes)]
    pub memory_limit: Option<usize>,
    /// Where the scans run: `local` (this process) or df://HOST[:PORT], an
    /// Apache DataFusion Ballista scheduler whose executors can read the
    /// datasets (needs the `distributed` build feature).
    #[arg(long, env = "DQGATE_ENGINE", default_value = "local")]
    pub engine: dqgate::engine::Engine,
    /// Longest evaluation in seconds; past it the check stops with exit
    /// status 2 [default: none locally, 3600 with --engine df://…].
    #[arg(long, env = "DQGATE_EVAL_TIMEOUT_SECS")]
    pub eval_timeout_secs: Option<u64>,
    /// A results store (sqlite://PATH or postgres://...): dynamic rules and
    /// DetectAnomalies read the dataset's history from it, and the run is
    /// recorded there as history for later runs.
    #[arg(long, env = "DQGATE_CHECK_STORE")]
    pub store: Option<String>,
    /// The dataset name history is kept under (default: the primary path).
    #[arg(long, requires = "store")]
    pub dataset_name: Option<String>,
    /// Pipeline stage the run belongs to; history then comes from this
    /// stage only.
    #[arg(long, requires = "store", default_value = "cli")]
    pub stage: String,
}

/// `--composite-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompositeModeArg {
    /// Each side over the whole dataset, outcomes combined.
    Column,
    /// Each row must pass the whole combination.
    Row,
}

impl From<CompositeModeArg> for dqgate::dqdl::ast::CompositeMode {
    fn from(m: CompositeModeArg) -> Self {
        match m {
            CompositeModeArg::Column => dqgate::dqdl::ast::CompositeMode::Column,
            CompositeModeArg::Row => dqgate::dqdl::ast::CompositeMode::Row,
        }
    }
}

/// Parses a byte size: `512MiB`, `4GiB`, `2GB`, `1048576`.
pub fn parse_bytes(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size such as 512MiB or 4GiB"))?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "unknown size unit `{other}`; use B, KB, KiB, MB, MiB, GB or GiB"
            ));
        }
    };
    Ok((value * scale) as usize)
}

/// Builds the datasets from `--data` arguments: the first without an alias
/// is the primary dataset.
pub fn datasets(args: &[String]) -> Vec<DatasetSpec> {
    let mut out: Vec<DatasetSpec> = Vec::new();
    for a in args {
        let has_primary = out.iter().any(|d| d.alias == dqgate::plan::PRIMARY);
        let default_alias = if has_primary {
            ""
        } else {
            dqgate::plan::PRIMARY
        };
        // An existing path is a location even when it reads as
        // ALIAS=PATH (a hive partition folder such as `day=2026-11-25`).
        let mut spec = if std::path::Path::new(a).exists() {
            DatasetSpec {
                alias: default_alias.to_string(),
                location: a.clone(),
                ..DatasetSpec::default()
            }
        } else {
            DatasetSpec::parse(a, default_alias)
        };
        if spec.alias.is_empty() {
            spec.alias = format!("data{}", out.len());
        }
        out.push(spec);
    }
    out
}

pub fn run(args: CheckArgs) -> ExitCode {
    let source = match read_source(&args.ruleset) {
        Ok(s) => s,
        Err(m) => {
            eprintln!("{m}");
            return ExitCode::from(CANNOT_RUN);
        }
    };
    let mut specs = datasets(&args.data);
    if let Err(e) = args.source.apply(&mut specs) {
        eprintln!("error: {e}");
        return ExitCode::from(CANNOT_RUN);
    }
    if let Some(mode) = args.composite_mode {
        for spec in specs
            .iter_mut()
            .filter(|s| s.alias == dqgate::plan::PRIMARY)
        {
            spec.options.composite_mode = Some(mode.into());
        }
    }
    let request = CheckRequest {
        ruleset_name: args.ruleset.display().to_string(),
        ruleset_text: source.clone(),
        datasets: specs,
        now: args.now,
        memory_limit: args.memory_limit,
        engine: args.engine.clone(),
    };
    let runtime = match super::runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(CANNOT_RUN);
        }
    };
    let limit = args
        .eval_timeout_secs
        .or(args
            .engine
            .is_distributed()
            .then_some(DISTRIBUTED_TIMEOUT_SECS))
        .map(std::time::Duration::from_secs);
    let evaluation = async move {
        let progress = args.format == OutputFormat::Text && std::io::stderr().is_terminal();
        if progress {
            eprintln!(
                "reading {} dataset(s) and planning…",
                request.datasets.len()
            );
        }
        let prepared = match check::prepare(request).await {
            Ok(p) => p,
            Err(CheckError::Ruleset(e)) => {
                eprint!("{}", e.render(&args.ruleset.display().to_string(), &source));
                return ExitCode::from(CANNOT_RUN);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(CANNOT_RUN);
            }
        };
        if args.explain {
            print_explain(&prepared);
        }
        if progress {
            eprintln!("scanning ({} scan(s))…", prepared.scans().len());
        }
        let report = match &args.store {
            None => prepared.evaluate(&History::unavailable()).await,
            Some(url) => match with_store(&prepared, url, &args).await {
                Ok(report) => report,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(CANNOT_RUN);
                }
            },
        };
        if let Some(path) = &args.failed_rows {
            match prepared
                .write_failed_rows(&path.display().to_string())
                .await
            {
                Ok(n) => {
                    if args.format == OutputFormat::Text {
                        eprintln!(
                            "failed rows of {n} row-level rule(s) written to {}",
                            path.display()
                        );
                    }
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(CANNOT_RUN);
                }
            }
        }
        match args.format {
            OutputFormat::Json => super::print_json(&report),
            OutputFormat::Text => out!("{}", table(&report, std::io::stdout().is_terminal())),
        }
        if report.all_passed() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    };
    runtime.block_on(async move {
        let Some(limit) = limit else {
            return evaluation.await;
        };
        match tokio::time::timeout(limit, evaluation).await {
            Ok(code) => code,
            Err(_) => {
                eprintln!(
                    "error: the check did not finish within {} s (--eval-timeout-secs)",
                    limit.as_secs()
                );
                ExitCode::from(CANNOT_RUN)
            }
        }
    })
}

/// Evaluates with the store's history and records the run there.
async fn with_store(prepared: &Prepared, url: &str, args: &CheckArgs) -> Result<Report, String> {
    let store = Store::connect(url).await.map_err(|e| e.to_string())?;
    let primary = datasets(&args.data)
        .into_iter()
        .find(|d| d.alias == dqgate::plan::PRIMARY)
        .map(|d| d.location)
        .unwrap_or_default();
    let dataset = args.dataset_name.clone().unwrap_or(primary);
    let scope = HistoryScope {
        dataset: &dataset,
        stage: Some(&args.stage),
    };
    let history = prepared
        .load_history(&store, scope)
        .await
        .map_err(|e| e.to_string())?;
    let report = prepared.evaluate(&history).await;
    let observed_at = prepared.now().to_rfc3339();
    store
        .record_report(&report, (&dataset, &args.stage), &observed_at)
        .await
        .map_err(|e| format!("cannot record the run: {e}"))?;
    Ok(report)
}

fn print_explain(prepared: &Prepared) {
    outln!("{}", prepared.explain());
}

/// How a rule's outcome reads in the human report: a failed rule labelled
/// `severity = warn` is a warning, not a failure.
fn verdict(r: &dqgate::report::RuleResult) -> (&'static str, &'static str) {
    let warn = r.labels.get("severity").is_some_and(|s| s == "warn");
    match r.outcome {
        Outcome::Passed => ("PASS ", "32"),
        Outcome::Failed if warn => ("WARN ", "35"),
        Outcome::Failed => ("FAIL ", "31"),
        Outcome::Error => ("ERROR", "33"),
    }
}

/// The message lines of a rule; a composite's lines (one per side, in
/// order) each start with the side's own rule.
fn message_lines(rule: &str, message: &str) -> Vec<String> {
    let lines: Vec<String> = message.lines().map(str::to_string).collect();
    let parsed = dqgate::dqdl::parse(&format!("Rules = [ {rule} ]")).ok();
    let Some(dqgate::dqdl::ast::RuleExpr::Composite(c)) = parsed
        .as_ref()
        .and_then(|r| r.rules.as_ref())
        .and_then(|r| r.first())
        .map(|t| &t.expr)
    else {
        return lines;
    };
    let mut sides = Vec::new();
    leaves(&c.operands, &mut sides);
    if sides.len() != lines.len() {
        return lines;
    }
    sides
        .into_iter()
        .zip(lines)
        .map(|(side, line)| format!("{side}: {line}"))
        .collect()
}

/// The canonical text of every single rule in `operands`, in order.
fn leaves(operands: &[dqgate::dqdl::ast::RuleExpr], out: &mut Vec<String>) {
    for o in operands {
        match o {
            dqgate::dqdl::ast::RuleExpr::Rule(r) => out.push(dqgate::dqdl::format::rule_text(r)),
            dqgate::dqdl::ast::RuleExpr::Composite(c) => leaves(&c.operands, out),
        }
    }
}

/// The human report: one line per rule, then a summary.
pub fn table(report: &Report, color: bool) -> String {
    let paint = |(text, code): (&str, &str)| {
        if color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    };
    let mut out = format!("{} — {}\n", report.ruleset, report.dataset);
    for r in &report.rules {
        out.push_str(&format!("{} {}\n", paint(verdict(r)), r.rule));
        for line in message_lines(&r.rule, &r.message) {
            out.push_str(&format!("      {line}\n"));
        }
    }
    if !report.analyzers.is_empty() {
        out.push_str("analyzers:\n");
        for (k, v) in &report.analyzers {
            out.push_str(&format!("      {k} = {}\n", dqgate::dqdl::number::show(*v)));
        }
    }
    let score = report
        .score
        .map_or("n/a".to_string(), |s| format!("{:.1}%", s * 100.0));
    out.push_str(&format!(
        "score {score}: {} passed, {} failed, {} errors in {} ms\n",
        report.passed, report.failed, report.errors, report.duration_ms
    ));
    out
}
