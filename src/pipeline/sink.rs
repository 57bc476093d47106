//! Where a run's rows go: a format (a plain one, or Sentinel bookmarks), to a file that
//! appears whole or to standard output, text defanged unless asked otherwise.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::error::ArrowError;
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::hunt::write_sentinel;
use crate::kql::QueryFile;
use crate::output::{
    IfExists, OutputFormat, TextSafety, write_batches, write_bookmarks, write_whole,
};

/// What `--format sentinel` makes of a row: the hunt's findings, or any query's rows as its
/// Sentinel query file says.
#[derive(Debug, Clone)]
pub enum Bookmarks {
    Hunt,
    Query(Arc<QueryFile>),
}

/// Where and how rows are written.
#[derive(Debug, Clone)]
pub struct Sink {
    /// A plain format; `None` writes Sentinel bookmarks, as `bookmarks` says.
    pub format: Option<OutputFormat>,
    pub bookmarks: Bookmarks,
    pub safety: TextSafety,
    /// A file, written whole or not at all; `None`, standard output.
    pub output: Option<PathBuf>,
    /// Write only the first rows.
    pub limit: Option<usize>,
}

/// What a sink wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// The rows given.
    pub rows: usize,
    /// The rows written, when the limit left some out.
    pub shown: Option<usize>,
}

/// A writer that remembers its reader went away. Arrow's writers turn I/O errors into text
/// (`Csv error: Broken pipe`), so the error they return cannot tell a closed pipe from a
/// failing write; the writer underneath can.
struct PipeWatch<W> {
    inner: W,
    closed: Arc<AtomicBool>,
}

impl<W: Write> PipeWatch<W> {
    fn watch<T>(&self, result: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(error) = &result
            && error.kind() == std::io::ErrorKind::BrokenPipe
        {
            self.closed.store(true, Ordering::Relaxed);
        }
        result
    }
}

impl<W: Write> Write for PipeWatch<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let result = self.inner.write(buf);
        self.watch(result)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let result = self.inner.flush();
        self.watch(result)
    }
}

/// Rows on their way into a sink, written on a thread of their own as they are pushed: a
/// file's encoding (Parquet's above all) runs beside the query still making the rows after
/// them, instead of after it. A file appears only once [`Writing::finish`] is called; rows
/// that stop short (the query failed, the writing was dropped) leave no file. Standard
/// output gets the rows only once they are all there, so a failed query prints none.
pub struct Writing {
    /// At most [`WRITE_AHEAD`] batches wait for the writer: a query making rows faster than
    /// they are written waits, instead of its rows piling up in memory.
    /// Taken when the rows end.
    rows: Option<mpsc::Sender<RecordBatch>>,
    /// Set by `finish`: the rows ended where they were meant to.
    complete: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
    given: usize,
    limit: Option<usize>,
}

/// Batches that may wait for the writer: two row groups of Parquet at the default batch size,
/// one being encoded while the next gathers.
const WRITE_AHEAD: usize = 32;

impl Writing {
    /// Hands `batch` to the writer; past the sink's limit, only counts it.
    ///
    /// # Errors
    /// The writing failed (the error it failed with).
    pub async fn push(&mut self, batch: &RecordBatch) -> anyhow::Result<()> {
        let room = match self.limit {
            Some(limit) => limit.saturating_sub(self.given).min(batch.num_rows()),
            None => batch.num_rows(),
        };
        self.given += batch.num_rows();
        if room == 0 {
            return Ok(());
        }
        let Some(rows) = &self.rows else {
            return Err(anyhow::anyhow!("the writer stopped"));
        };
        if rows.send(batch.slice(0, room)).await.is_err() {
            return Err(self
                .join()
                .unwrap_or_else(|| anyhow::anyhow!("the writer stopped")));
        }
        Ok(())
    }

    /// Ends the rows and waits for them to be written (the file to appear whole).
    ///
    /// # Errors
    /// The file or standard output cannot be written.
    pub fn finish(mut self) -> anyhow::Result<Written> {
        self.complete.store(true, Ordering::SeqCst);
        if let Some(error) = self.join() {
            return Err(error);
        }
        Ok(Written {
            rows: self.given,
            shown: self.limit.filter(|&limit| limit < self.given),
        })
    }

    /// Closes the rows and waits for the thread; its error, if it failed.
    fn join(&mut self) -> Option<anyhow::Error> {
        self.rows = None;
        let thread = self.thread.take()?;
        match thread.join() {
            Ok(written) => written.err(),
            Err(_) => Some(anyhow::anyhow!("the writer panicked")),
        }
    }
}

impl Drop for Writing {
    /// Rows never finished: the thread sees them end short and leaves no file behind.
    fn drop(&mut self) {
        self.join();
    }
}

impl Sink {
    /// Starts writing rows of `schema`.
    pub fn start(&self, schema: &Arc<Schema>) -> Writing {
        let (rows, mut incoming) = mpsc::channel(WRITE_AHEAD);
        let complete = Arc::new(AtomicBool::new(false));
        let (sink, schema, ended) = (self.clone(), Arc::clone(schema), Arc::clone(&complete));
        let thread = std::thread::spawn(move || {
            let batches = std::iter::from_fn(move || incoming.blocking_recv());
            sink.write_all(&schema, batches, &ended)
        });
        Writing {
            rows: Some(rows),
            complete,
            thread: Some(thread),
            given: 0,
            limit: self.limit,
        }
    }

    /// Runs `frame` and writes its rows as they come.
    ///
    /// # Errors
    /// The query failing, or the writing.
    pub async fn run(&self, frame: DataFrame) -> anyhow::Result<Written> {
        let mut writing = self.start(&Arc::new(frame.schema().as_arrow().clone()));
        drain(frame, Some(&mut writing), false).await?;
        writing.finish()
    }

    /// Writes `batches` (all of `schema`).
    ///
    /// # Errors
    /// The file or standard output cannot be written.
    pub async fn write(
        &self,
        schema: &Arc<Schema>,
        batches: &[RecordBatch],
    ) -> anyhow::Result<Written> {
        let mut writing = self.start(schema);
        for batch in batches {
            writing.push(batch).await?;
        }
        writing.finish()
    }

    /// The writing thread: `batches` into the file as they come, or (standard output) all of
    /// them once they are complete. A reader of standard output that goes away (`| head`)
    /// is its choice, not a failure.
    fn write_all(
        &self,
        schema: &Arc<Schema>,
        batches: impl Iterator<Item = RecordBatch>,
        complete: &AtomicBool,
    ) -> anyhow::Result<()> {
        let short = || std::io::Error::other("the rows stopped before their end");
        match &self.output {
            Some(path) => write_whole(path, IfExists::Replace, |file| {
                let mut out = BufWriter::new(file);
                self.write_in(schema, batches, &mut out)
                    .map_err(std::io::Error::other)?;
                match complete.load(Ordering::SeqCst) {
                    true => out.flush(),
                    false => Err(short()),
                }
            })
            .with_context(|| format!("cannot write {}", path.display())),
            None => {
                let batches: Vec<RecordBatch> = batches.collect();
                if !complete.load(Ordering::SeqCst) {
                    return Err(short().into());
                }
                let closed = Arc::new(AtomicBool::new(false));
                let stdout = PipeWatch {
                    inner: std::io::stdout(),
                    closed: Arc::clone(&closed),
                };
                match self.write_in(schema, batches, BufWriter::new(stdout)) {
                    Err(_) if closed.load(Ordering::Relaxed) => {}
                    other => other?,
                }
                let _ = std::io::stdout().flush();
                Ok(())
            }
        }
    }

    fn write_in<W: Write + Send>(
        &self,
        schema: &Arc<Schema>,
        batches: impl IntoIterator<Item = RecordBatch>,
        out: W,
    ) -> Result<(), ArrowError> {
        match (self.format, &self.bookmarks) {
            (Some(format), _) => write_batches(format, self.safety, schema, batches, out),
            (None, Bookmarks::Hunt) => {
                let batches: Vec<RecordBatch> = batches.into_iter().collect();
                write_sentinel(self.safety, schema, &batches, out)
            }
            (None, Bookmarks::Query(file)) => {
                let batches: Vec<RecordBatch> = batches.into_iter().collect();
                write_bookmarks(self.safety, schema, &batches, out, |row| file.bookmark(row))
            }
        }
    }
}

/// Runs `frame` to its end, handing each batch to `writing` (if any) as it comes. Returns the
/// rows when `keep`; otherwise each batch is let go once written, so that a query's rows
/// written to a file never need to fit in memory together.
///
/// # Errors
/// The query failing, or the writing.
pub async fn drain(
    frame: DataFrame,
    mut writing: Option<&mut Writing>,
    keep: bool,
) -> anyhow::Result<Vec<RecordBatch>> {
    let mut stream = frame.execute_stream().await.map_err(query_failed)?;
    let mut rows = Vec::new();
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(query_failed)?;
        if let Some(writing) = writing.as_deref_mut() {
            writing.push(&batch).await?;
        }
        if keep {
            rows.push(batch);
        }
    }
    Ok(rows)
}

/// `frame`'s physical plan as a table (run, with its metrics, when `analyze`).
///
/// # Errors
/// The plan cannot be made, or (analyzed) the query fails.
pub async fn explain(frame: DataFrame, analyze: bool) -> anyhow::Result<String> {
    let plan = frame.explain(false, analyze)?.collect().await?;
    Ok(datafusion::arrow::util::pretty::pretty_format_batches(&plan)?.to_string())
}

/// A query's error, with the way out when it ran out of memory.
pub fn query_failed(error: DataFusionError) -> anyhow::Error {
    let hint = match error.find_root() {
        DataFusionError::ResourcesExhausted(_) => {
            "query failed: out of memory under --memory-limit (default 60% of the \
             machine's memory); raise it, or hunt a shorter --start/--end range"
        }
        _ => "query failed",
    };
    anyhow::Error::from(error).context(hint)
}
