//! `retrohunt bench`: the hunt on each engine over the same lake, side by side with the scan
//! floor, checking that every engine returns the same rows.
//!
//! Each run is a child process ([`process`]) so that its peak memory is its own, and a run
//! past the timeout can be killed without taking the bench with it. Other tools run beside
//! ours as shell commands ([`peer`]), and their rows are compared with ours ([`rows`]). Runs are interleaved
//! (round by round, every engine once per round) so that drift on a shared machine hits all
//! engines alike.
//!
//! ```text
//!  bench (parent)                          bench-run (child, one per run)
//!  for size, round, contender ──job JSON──▶ session(engine) → plan → EXPLAIN check → run
//!          ◀── measurement JSON, result file ── time, rows scanned, peak RSS, metrics
//!  compare result digests → Report → table | markdown | JSON, SVG chart
//! ```

mod contender;
mod ingest;
mod measure;
mod peer;
mod plot;
mod process;
mod report;
mod rows;
mod run;

pub use contender::{Builtin, Contender, Peer};
pub use ingest::{IngestContender, IngestPlan, IngestReport, run_ingest};
pub use measure::{Job, Measurement, measure};
pub use plot::plot;
pub use process::{CHILD_COMMAND, Outcome, ProcessRunner, Runner};
pub use report::{ContenderReport, Machine, Ratio, Report, ReportFormat, SizeReport, Times};
pub use run::{BenchPlan, Size, run};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start a measured run: {0}")]
    Spawn(std::io::Error),
    #[error("a measured run reported nothing readable ({reason}); it printed: {output}")]
    Garbled { reason: String, output: String },
    #[error(transparent)]
    Mismatch(Box<Mismatch>),
    #[error("cannot draw {path}: {reason}")]
    Plot { path: PathBuf, reason: String },
}

/// Two engines returned different rows: the bench's loudest failure.
#[derive(Debug, thiserror::Error)]
#[error(
    "engines disagree on {size}: {first} returned {first_rows} rows, {second} {second_rows}; \
     first difference at row {row}:\n  {first}: {first_line}\n  {second}: {second_line}\n\
     results kept in {first_file} and {second_file}"
)]
pub struct Mismatch {
    pub size: String,
    pub first: String,
    pub second: String,
    pub first_rows: usize,
    pub second_rows: usize,
    /// Numbered from 1.
    pub row: usize,
    pub first_line: String,
    pub second_line: String,
    pub first_file: String,
    pub second_file: String,
}
