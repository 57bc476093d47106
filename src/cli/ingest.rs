//! `retrohunt ingest`.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use retrohunt::ingest::{self, IngestError, IngestOptions, ReadOptions};
use retrohunt::lake::LakeWriter;

use retrohunt::engine::{default_memory_limit, peak_rss};

use super::args::IngestArgs;
use super::{EXIT_USAGE, escape_lines};

pub fn run(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let lake = LakeWriter::open(&args.lake, || {
        eprintln!(
            "retrohunt: waiting for another ingest into {} to finish",
            args.lake.display()
        );
    })
    .with_context(|| format!("cannot open lake {}", args.lake.display()))?;
    let progress = if args.quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0).with_style(
            ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("valid template"),
        )
    };
    let options = IngestOptions {
        inputs: args.inputs,
        read: ReadOptions {
            format: args.format,
            table: args.table,
            max_record_size: args.max_record_size,
            max_content_size: None,
        },
        strict: args.strict,
        memory_limit: args.memory_limit.or_else(default_memory_limit),
    };
    let result = ingest::ingest(&lake, &options, &progress);
    progress.finish_and_clear();
    match result {
        Ok(summary) => {
            if !args.quiet {
                println!("{}", escape_lines(&summary.to_string()));
                if let Some(peak) = peak_rss() {
                    println!("peak memory: {} MiB", peak >> 20);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(IngestError::Strict(reject)) => {
            eprintln!("retrohunt: {}", escape_lines(&reject.to_string()));
            Ok(ExitCode::from(EXIT_USAGE))
        }
        Err(e) => Err(e).context("ingest failed"),
    }
}
