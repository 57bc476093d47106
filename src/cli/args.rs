//! What the user can type.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use retrohunt::catalog::schema::Table;
use retrohunt::engine::Engine;
use retrohunt::generate::TenantFormat;
use retrohunt::hunt::TimeColumn;
use retrohunt::ingest::Format;
use retrohunt::output::OutputFormat;

#[derive(Debug, Parser)]
#[command(
    name = "retrohunt",
    version,
    about = "Retro-hunt months of Microsoft Entra ID sign-in logs"
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ingest sign-in logs (files or folders, any supported format) into a Parquet lake.
    Ingest(IngestArgs),
    /// Run the short-window sign-in mismatch hunt (SPEC §1) over a lake.
    Hunt(HuntArgs),
    /// Run any SQL over the lake's tables (SigninLogs, AADNonInteractiveUserSignInLogs).
    Sql(SqlArgs),
    /// Write a synthetic tenant with injected attacks.
    Generate(GenerateArgs),
}

#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// The lake folder (created if missing).
    #[arg(long)]
    pub lake: PathBuf,
    /// Files or folders (walked recursively); gzip and zstd are read transparently.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Read every input as this format instead of detecting it per file.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Table for records that do not say (SigninLogs or AADNonInteractiveUserSignInLogs).
    #[arg(long)]
    pub table: Option<Table>,
    /// Stop at the first bad record (exit status 2) instead of keeping it in LAKE/_rejects/.
    #[arg(long)]
    pub strict: bool,
    /// No progress bar and no summary.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Output folder (a lake with --format lake).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 200)]
    pub users: usize,
    #[arg(long, default_value_t = 1)]
    pub days: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t = TenantFormat::Diagnostic)]
    pub format: TenantFormat,
}

#[derive(Debug, clap::Args)]
pub struct LakeArg {
    /// The lake folder. Without it, the sample in data/ is ingested into a cached lake
    /// (target/sample-lake) on first use and hunted.
    #[arg(long)]
    pub lake: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct EngineArgs {
    /// How band joins run: the window-join operator, or stock DataFusion.
    #[arg(long, value_enum, default_value_t = Engine::Operator)]
    pub engine: Engine,
    /// Memory the query may use (e.g. 8GiB, 500MB). Past it, the query stops with a resources
    /// error instead of the process being killed.
    /// [default: 60% of the machine's memory]
    #[arg(long, value_parser = parse_size)]
    pub memory_limit: Option<usize>,
}

fn parse_size(text: &str) -> Result<usize, String> {
    let size: bytesize::ByteSize = text.parse()?;
    usize::try_from(size.as_u64()).map_err(|e| e.to_string())
}

#[derive(Debug, clap::Args)]
pub struct OutputArgs {
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Write results here instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct HuntArgs {
    #[command(flatten)]
    pub lake: LakeArg,
    /// First instant hunted (RFC 3339, inclusive; offsets are normalised to UTC).
    #[arg(long)]
    pub start: Option<String>,
    /// Last instant hunted (RFC 3339, inclusive).
    #[arg(long)]
    pub end: Option<String>,
    /// How long after an interactive sign-in a non-interactive one counts (e.g. 10m, 90s).
    #[arg(long, default_value = "10m")]
    pub window: String,
    /// The time the hunt filters, windows and reports: when Log Analytics received the record,
    /// or when the sign-in happened (reads every date of the lake).
    #[arg(long, value_enum, default_value_t = TimeColumn::TimeGenerated)]
    pub time_column: TimeColumn,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Show the physical plan instead of running the hunt.
    #[arg(long, conflicts_with = "explain_analyze")]
    pub explain: bool,
    /// Run the hunt and show the plan with its metrics.
    #[arg(long)]
    pub explain_analyze: bool,
}

#[derive(Debug, clap::Args)]
pub struct SqlArgs {
    #[command(flatten)]
    pub lake: LakeArg,
    /// The query; or `--file`; or standard input when neither is given.
    pub query: Option<String>,
    /// Read the query from this file.
    #[arg(long, conflicts_with = "query")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}
