//! `retrohunt ingest`.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use retrohunt::ingest::{self, IngestError, IngestOptions, ReadOptions, TimeRange};
use retrohunt::lake::{LakeWriter, Root};
use retrohunt::store::Location;

use retrohunt::engine::{default_memory_limit, peak_rss};

use super::args::IngestArgs;
use super::hunt::{duration_nanos, instant};
use super::{EXIT_USAGE, Usage, escape_lines};

/// Rows are allocated by the reading and decoding threads and freed by the committing one,
/// rounds later. glibc gives each allocating thread an arena of its own (up to eight per core)
/// and keeps what is freed in the arena it came from. Since Parquet sources keep their decoded
/// columns (`ingest/parquet.rs`), the 30-day tenant's Parquet peaked at 1.61-2.23 GiB over 12
/// runs, 8 of them past the 2 GB this ingest is held to; with one arena per core, 1.49-1.54
/// GiB, in no more time (BENCHMARKS.md, "Parquet sources a column at a time").
fn share_allocator_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = libc::c_int::try_from(cores).unwrap_or(libc::c_int::MAX);
        // SAFETY: sets a tuning parameter of the C allocator; no memory is touched.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, arenas) };
    }
}

pub fn run(args: IngestArgs) -> anyhow::Result<ExitCode> {
    share_allocator_arenas();
    let lake = open(&args)?;
    let inputs = args
        .inputs
        .iter()
        .map(|text| Location::parse(text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Usage(e.to_string()))?;
    let range = time_range(&args)?;
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
        inputs,
        range,
        read: ReadOptions {
            format: args.format,
            table: args.table,
            max_record_size: args.max_record_size,
            max_content_size: None,
            piece_size: None,
        },
        strict: args.strict,
        memory_limit: args.memory_limit.or_else(default_memory_limit),
    };
    let result = ingest::ingest(&lake, &options, &Bar(progress.clone()));
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

/// `--since`, `--until` and `--late-arrivals`, read against one clock reading.
fn time_range(args: &IngestArgs) -> Result<TimeRange, Usage> {
    let now = chrono::Utc::now();
    let since = args
        .since
        .as_deref()
        .map(|text| instant("--since", text, now))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|text| instant("--until", text, now))
        .transpose()?;
    if let (Some(since), Some(until)) = (since, until)
        && since >= until
    {
        return Err(Usage(format!(
            "--since {:?} is not before --until {:?}",
            args.since.as_deref().unwrap_or_default(),
            args.until.as_deref().unwrap_or_default()
        )));
    }
    Ok(TimeRange {
        since,
        until,
        late_arrivals: duration_nanos("--late-arrivals", &args.late_arrivals)?,
    })
}

/// The lake at `--lake`: a folder (waiting for another writer), or a prefix in a store.
fn open(args: &IngestArgs) -> anyhow::Result<LakeWriter> {
    let text = args.lake.to_string_lossy();
    let location = Location::parse(&text).map_err(|e| Usage(e.to_string()))?;
    let nanos = duration_nanos("--keep-replaced", &args.keep_replaced)?;
    let grace = std::time::Duration::from_nanos(nanos.unsigned_abs());
    let opened = Root::new(location).and_then(|root| {
        LakeWriter::open_at(&root, grace, || {
            eprintln!("retrohunt: waiting for another ingest into {text} to finish");
        })
    });
    opened.with_context(|| format!("cannot open lake {text}"))
}

/// The terminal's progress bar, drawn from the ingest's progress.
struct Bar(ProgressBar);

impl ingest::Progress for Bar {
    fn total(&self, bytes: u64) {
        self.0.set_length(bytes);
    }

    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
    }
}
