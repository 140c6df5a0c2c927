//! `dqgate demo`: generate DeFtunes sample data and check it with the
//! DeFtunes rulesets, end to end, on local files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::Utc;
use dqgate::check::{self, CheckRequest};
use dqgate::report::Report;
use dqgate::sample::{self, SampleSpec};
use dqgate::source::DatasetSpec;
use dqgate::store::Store;

use super::OutputFormat;
use super::check::{CANNOT_RUN, table};

/// The DeFtunes rulesets, embedded so the demo runs from any folder.
pub const RULESETS: [(&str, &str); 3] = [
    (
        "sessions",
        include_str!("../../rulesets/deftunes/sessions.dqdl"),
    ),
    ("users", include_str!("../../rulesets/deftunes/users.dqdl")),
    ("songs", include_str!("../../rulesets/deftunes/songs.dqdl")),
];

/// Options of `dqgate demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Session rows to generate.
    #[arg(long, default_value_t = 20_000)]
    pub rows: usize,
    /// Ingestion days the sessions are spread over.
    #[arg(long, default_value_t = 7)]
    pub days: usize,
    /// Seed of the generator (same seed, same data).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Where to write the data.
    #[arg(long, default_value = "dqgate-demo")]
    pub out: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// The instant the data is generated at (RFC 3339; default: now). The
    /// data ends the day before it, and the demo's checks and the commands
    /// it prints are pinned to it, so only the marked rules fail on any day.
    #[arg(long, env = "DQGATE_NOW")]
    pub now: Option<chrono::DateTime<Utc>>,
    /// The store `dqgate serve` opens by default, where the demo registers
    /// its three datasets and saves its three rulesets (unchanged rulesets
    /// get no new version), so the console has them to gate.
    #[arg(long, env = "DQGATE_DATA_DIR", default_value = "dqgate-data")]
    pub data_dir: PathBuf,
    /// Do not register anything in a store.
    #[arg(long)]
    pub no_register: bool,
}

/// Registers the demo's datasets and saves its rulesets in the SQLite store
/// under `data_dir`; returns what it did, in words.
async fn register(
    data_dir: &Path,
    datasets: [(&str, &Path); 3],
) -> Result<String, Box<dyn std::error::Error>> {
    let store = Store::connect(&Store::sqlite_url(data_dir)?).await?;
    for (name, path) in datasets {
        let location = std::fs::canonicalize(path)?;
        store
            .put_dataset(
                name,
                "parquet",
                &location.display().to_string(),
                &serde_json::json!({}),
            )
            .await?;
    }
    let mut saved = Vec::new();
    for (name, text) in RULESETS {
        let latest = store.get_ruleset(name, None).await?;
        if latest.is_none_or(|v| v.dqdl != text) {
            store
                .put_ruleset(name, text, Some("from dqgate demo"), "dqgate demo")
                .await?;
            saved.push(name);
        }
    }
    Ok(format!(
        "registered datasets sessions, users and songs in {} ({} ruleset(s) saved: {})",
        data_dir.display(),
        saved.len(),
        if saved.is_empty() {
            "all unchanged".to_string()
        } else {
            saved.join(", ")
        }
    ))
}

fn spec(alias: &str, path: &Path) -> DatasetSpec {
    DatasetSpec {
        alias: alias.to_string(),
        location: path.display().to_string(),
        ..Default::default()
    }
}

pub fn run(args: DemoArgs) -> ExitCode {
    let clock = args.now.unwrap_or_else(Utc::now);
    let anchor = clock.date_naive().and_time(chrono::NaiveTime::MIN);
    let text = args.format == OutputFormat::Text;
    if text {
        eprintln!(
            "generating DeFtunes sample data in {} ({} sessions over {} days)…",
            args.out.display(),
            args.rows,
            args.days
        );
    }
    let summary = match sample::generate(
        &args.out,
        &SampleSpec {
            sessions: args.rows,
            days: args.days,
            seed: args.seed,
            anchor,
        },
        |step| {
            if text {
                eprintln!("  wrote {step}");
            }
        },
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(CANNOT_RUN);
        }
    };
    let rules_dir = args.out.join("rulesets");
    if let Err(e) = std::fs::create_dir_all(&rules_dir) {
        eprintln!("error: cannot create {}: {e}", rules_dir.display());
        return ExitCode::from(CANNOT_RUN);
    }
    let clock_file = args.out.join("generated-at.txt");
    let stamp = clock.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if let Err(e) = std::fs::write(&clock_file, format!("{stamp}\n")) {
        eprintln!("error: cannot write {}: {e}", clock_file.display());
        return ExitCode::from(CANNOT_RUN);
    }
    let runtime = match super::runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(CANNOT_RUN);
        }
    };
    let mut reports: Vec<Report> = Vec::new();
    for (name, ruleset) in RULESETS {
        let path = rules_dir.join(format!("{name}.dqdl"));
        if let Err(e) = std::fs::write(&path, ruleset) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::from(CANNOT_RUN);
        }
        let datasets = match name {
            "sessions" => vec![
                spec("primary", &summary.sessions),
                spec("users", &summary.users),
                spec("songs", &summary.songs),
            ],
            "users" => vec![spec("primary", &summary.users)],
            _ => vec![spec("primary", &summary.songs)],
        };
        if text {
            eprintln!("checking {name}…");
        }
        let request = CheckRequest {
            ruleset_name: path.display().to_string(),
            ruleset_text: ruleset.to_string(),
            datasets,
            now: Some(clock),
            memory_limit: None,
            engine: Default::default(),
        };
        match runtime.block_on(check::run(request)) {
            Ok(report) => reports.push(report),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(CANNOT_RUN);
            }
        }
    }
    let registered = if args.no_register {
        None
    } else {
        let datasets = [
            ("sessions", summary.sessions.as_path()),
            ("users", summary.users.as_path()),
            ("songs", summary.songs.as_path()),
        ];
        match runtime.block_on(register(&args.data_dir, datasets)) {
            Ok(done) => Some(done),
            Err(e) => {
                eprintln!(
                    "error: cannot register the demo in {}: {e}",
                    args.data_dir.display()
                );
                return ExitCode::from(CANNOT_RUN);
            }
        }
    };
    match args.format {
        OutputFormat::Json => super::print_json(&reports),
        OutputFormat::Text => {
            let color = std::io::IsTerminal::is_terminal(&std::io::stdout());
            for r in &reports {
                outln!("{}", table(r, color));
            }
            outln!(
                "The sample data carries deliberate defects: the rules marked \"expected to fail\" in {} should fail, and only those.",
                rules_dir.display()
            );
            let now = clock.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            outln!(
                "The data was generated as of {now} (recorded in {}); the commands below pin --now to it.",
                clock_file.display()
            );
            outln!(
                "Try: dqgate check --ruleset {}/sessions.dqdl --data {} --data users={} --data songs={} --now {now} --explain",
                rules_dir.display(),
                summary.sessions.display(),
                summary.users.display(),
                summary.songs.display()
            );
            if let Some(done) = registered {
                outln!(
                    "The console: {done}. Run `dqgate serve`, open the URL it prints, sign in with the token it prints, and gate a dataset from its page."
                );
            }
        }
    }
    ExitCode::SUCCESS
}
