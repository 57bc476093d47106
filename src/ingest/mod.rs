//! Ingest: sign-in logs in every format users hold them → the Parquet lake.
//!
//! Files are read in parallel (one worker per core), each into routed lake rows plus counts
//! and rejects. Rows are committed to the lake in rounds of bounded size, and the manifest
//! records a source only once all its rows are committed: a run killed at any point leaves a
//! readable lake, and re-running it ends with exactly the rows of an uninterrupted run.

mod blob;
mod csv;
mod fields;
mod json;
mod listing;
mod parquet;
mod reader;
mod rejects;
mod round;
mod row;
mod source;
mod summary;
mod tap;
pub mod time;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

pub use listing::{ListError, TimeRange};
pub use reader::{ReadOptions, check_decoder};
pub use rejects::Reject;
pub use row::{Row, RowsBuilder};
pub use source::Format;
pub use summary::{Summary, TableSummary};

use crate::lake::{LakeError, LakeWriter, Manifest};
use crate::store::{Location, StoreError};
use blob::{Io, read_blob};
use listing::Input;
use round::Round;

/// Rows are committed once this much Arrow memory is buffered. A round only has to hold the
/// days that the reading threads are still adding to (`round.rs`): on a 10,000-user tenant,
/// 768 MiB ingested no slower than 1 GiB in a sixth less memory, and 512 MiB split days and
/// wrote some twice (BENCHMARKS.md).
const ROUND_BYTES: usize = 768 << 20;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{path}: {reason}")]
    Input { path: PathBuf, reason: String },
    #[error(transparent)]
    List(#[from] ListError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("{path}: cannot write rejects: {source}")]
    Rejects {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `--strict` met a bad record.
    #[error("{0}")]
    Strict(Reject),
}

#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    pub inputs: Vec<Location>,
    /// Only folders of this time range are listed (`y=/m=/d=/h=`, `date=`).
    pub range: TimeRange,
    pub read: ReadOptions,
    /// Stop at the first bad record instead of keeping it in `_rejects`.
    pub strict: bool,
    /// Rows read but not yet written are kept to a quarter of this (sorting and merging them
    /// with the lake's files needs the rest).
    pub memory_limit: Option<usize>,
}

impl IngestOptions {
    fn round_bytes(&self) -> usize {
        self.memory_limit
            .map_or(ROUND_BYTES, |limit| (limit / 4).min(ROUND_BYTES))
    }
}

/// Told how far an ingest has come, in bytes of input read (a front end draws it; `()`
/// draws nothing).
pub trait Progress: Sync {
    /// The bytes the inputs hold, once listed.
    fn total(&self, bytes: u64);
    /// `bytes` more were read.
    fn advance(&self, bytes: u64);
}

impl Progress for () {
    fn total(&self, _: u64) {}
    fn advance(&self, _: u64) {}
}

/// Ingests `options.inputs` into the lake; `progress` advances by bytes read.
///
/// # Errors
/// An input that cannot be listed, a lake write that fails, or (with `strict`) the first bad
/// record. Bad records otherwise never fail the run.
pub fn ingest(
    lake: &LakeWriter,
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<Summary, IngestError> {
    let started = std::time::Instant::now();
    let io = Io::for_inputs(&options.inputs)?;
    let files = io.block_on(listing::list(&options.inputs, &options.range))?;
    let total_bytes = files.iter().map(Input::size).sum();
    progress.total(total_bytes);
    let mut manifest = lake.manifest()?;
    let known = manifest.clone();
    let mut rejects = rejects::RejectLog::new(lake.rejects_dir());
    let mut summary = Summary::default();
    let mut round = Round::default();

    // Blobs spend most of their time in flight: more of them are read at once.
    let per_core = if io.runtime.is_some() { 4 } else { 1 };
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get() * per_core)
        .min(files.len().max(1));
    // Each worker holds a file and the channel up to as many more: a file's share.
    let read = ReadOptions {
        max_content_size: options
            .read
            .max_content_size
            .or(options.memory_limit.map(|limit| limit / (2 * workers + 2))),
        ..options.read.clone()
    };
    let read = &read;
    let next = AtomicUsize::new(0);
    let cancel = AtomicBool::new(false);
    let result = std::thread::scope(|scope| -> Result<(), IngestError> {
        let (sender, receiver) = mpsc::sync_channel(workers);
        for _ in 0..workers {
            let sender = sender.clone();
            let (files, next, cancel, known, io) = (&files, &next, &cancel, &known, &io);
            scope.spawn(move || {
                while !cancel.load(Ordering::Relaxed) {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(input) = files.get(index) else {
                        break;
                    };
                    let mut send = |delivered| sender.send((index, delivered)).is_ok();
                    let more = match input {
                        Input::File(path) => read_local(path, known, read, &mut send),
                        Input::Blob(blob) => read_blob(blob, known, read, io, &mut send),
                    };
                    if !more {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let outcome = (|| {
            for (input, delivered) in receiver.iter() {
                let mut outcome = match delivered {
                    Delivered::Piece(outcome) => outcome,
                    Delivered::Unchanged(size) => {
                        progress.advance(size);
                        summary.unchanged_files += 1;
                        continue;
                    }
                    Delivered::Failed(e) => return Err(e),
                };
                progress.advance(outcome.bytes);
                if options.strict
                    && let Some(reject) = outcome.rejects.first()
                {
                    return Err(IngestError::Strict(reject.clone()));
                }
                for reject in &outcome.rejects {
                    rejects
                        .write(reject)
                        .map_err(|source| IngestError::Rejects {
                            path: rejects.path(),
                            source,
                        })?;
                }
                summary.add_file(&outcome);
                round.add(input, &mut outcome);
                if round.bytes >= options.round_bytes() {
                    round.commit(lake, &mut manifest, &mut summary, false)?;
                }
            }
            round.commit(lake, &mut manifest, &mut summary, true)
        })();
        if outcome.is_err() {
            cancel.store(true, Ordering::Relaxed);
        }
        // Workers blocked on a full channel see it closed and stop.
        drop(receiver);
        outcome
    });
    let rejects_file = rejects.finish().map_err(|source| IngestError::Rejects {
        path: rejects.path(),
        source,
    })?;
    result?;
    summary.rejects_file = rejects_file.map(|f| lake.keep_rejects(f)).transpose()?;
    summary.elapsed = started.elapsed();
    // Reading the inputs and writing the lake, where either is in a store.
    summary.requests = options
        .inputs
        .iter()
        .filter_map(|input| match input {
            Location::Remote(remote) => Some(remote.requests()),
            Location::Local(_) => None,
        })
        .chain(lake.requests())
        .reduce(|a, b| a + b);
    Ok(summary)
}

/// What a reading thread hands the committing one.
enum Delivered {
    /// A piece of a file; a file's last piece names its source.
    Piece(reader::FileOutcome),
    /// A file the manifest has as it is now, of this size.
    Unchanged(u64),
    Failed(IngestError),
}

/// Reads a local file unless the manifest has it with the same content, delivering it with
/// `send`; `false` when `send` refused, the ingest stopping.
fn read_local(
    path: &std::path::Path,
    known: &Manifest,
    read: &ReadOptions,
    send: &mut dyn FnMut(Delivered) -> bool,
) -> bool {
    let failed = |e: std::io::Error| {
        Delivered::Failed(IngestError::Input {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    };
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) => return send(failed(e)),
    };
    let previous = known.get(&absolute).filter(|previous| {
        previous.etag.is_none() && file.metadata().is_ok_and(|m| m.len() == previous.size)
    });
    if let Some(previous) = previous {
        let mut hasher = blake3::Hasher::new();
        let rewound = hasher
            .update_reader(&file)
            .and_then(|_| std::io::Seek::rewind(&mut file));
        match rewound {
            Ok(()) if hasher.finalize().to_hex().as_str() == previous.hash => {
                return send(Delivered::Unchanged(previous.size));
            }
            Ok(()) => {}
            Err(e) => return send(failed(e)),
        }
    }
    let stream = reader::Stream {
        hash: true,
        ..reader::Stream::default()
    };
    let pieces = &mut |piece| send(Delivered::Piece(piece));
    let Some(finished) = reader::read_stream(path, &file, stream, read, pieces) else {
        return false;
    };
    if let Some(e) = finished.tapped.error {
        return send(failed(e));
    }
    let mut outcome = finished.outcome;
    outcome.source = Some(crate::lake::Source {
        path: absolute,
        size: finished.tapped.bytes,
        hash: finished.tapped.hash(),
        etag: None,
        resume: None,
    });
    send(Delivered::Piece(outcome))
}
