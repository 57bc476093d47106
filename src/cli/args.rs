//! What the user can type.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use retrohunt::catalog::schema::Table;
use retrohunt::generate::OutputFormat;
use retrohunt::ingest::Format;

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
    #[arg(long, value_enum, default_value_t = OutputFormat::Diagnostic)]
    pub format: OutputFormat,
}
