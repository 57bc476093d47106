//! Command-line front end: parses arguments, runs a command, reports. The library does the work.

mod args;
mod generate;
mod ingest;

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
    }
}
