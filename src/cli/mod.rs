//! Command-line front end: parses arguments, runs a command, reports. The library does the work.

mod args;
mod bench;
mod generate;
mod hunt;
mod ingest;
mod query;

use std::process::ExitCode;

use clap::Parser;

use args::{Args, Command};

/// Bad arguments or bad data under `--strict`.
pub const EXIT_USAGE: u8 = 2;

pub fn run() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    match args.command {
        Command::Ingest(args) => ingest::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Hunt(args) => runtime()?.block_on(hunt::run(args)),
        Command::Sql(args) => runtime()?.block_on(query::run(args)),
        Command::Bench(args) => bench::run(args),
        Command::BenchRun { job } => runtime()?.block_on(bench::run_child(job)),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// An argument the user must change: reported with exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);
