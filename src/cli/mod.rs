//! Command-line front end: parses arguments, runs a command, reports. The library does the work.

mod args;
mod bench;
mod cluster;
mod generate;
mod hunt;
mod ingest;
mod kql;
mod results;
mod sql;
mod triage;

use std::process::ExitCode;

use clap::Parser;

use args::{Args, Command};

/// Bad arguments or bad data under `--strict`.
pub const EXIT_USAGE: u8 = 2;
/// `hunt --fail-on-findings` found something.
pub const EXIT_FINDINGS: u8 = 3;

pub fn run() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    match args.command {
        Command::Ingest(args) => ingest::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Hunt(args) => runtime()?.block_on(hunt::run(args)),
        Command::Sql(args) => runtime()?.block_on(sql::run(args)),
        Command::Kql(args) => runtime()?.block_on(kql::run(args)),
        Command::Bench(args) => bench::run(args),
        Command::Triage { command } => runtime()?.block_on(triage::run(command)),
        Command::Cluster { command } => runtime()?.block_on(cluster::run(command)),
        Command::BenchRun { job } => runtime()?.block_on(bench::run_child(job)),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// `error` and its causes on one line, each said once (an I/O error is often repeated by
/// every layer that passes it up), its text escaped: paths and records in messages come from
/// the user's data, and must not drive the terminal.
pub fn describe(error: &anyhow::Error) -> String {
    let mut said: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !said.iter().any(|earlier| earlier.contains(&text)) {
            said.push(text);
        }
    }
    said.iter()
        .map(|text| escape_lines(text))
        .collect::<Vec<_>>()
        .join(": ")
}

/// `text` with control characters and direction overrides made visible, line breaks kept.
pub fn escape_lines(text: &str) -> String {
    text.split('\n')
        .map(|line| retrohunt::output::escape_for_terminal(line).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// An argument the user must change: reported with exit status 2.
pub use retrohunt::pipeline::Usage;
