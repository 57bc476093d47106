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

use crate::hunt::write_sentinel;
use crate::kql::QueryFile;
use crate::output::{
    IfExists, OutputFormat, TextSafety, write_batches, write_bookmarks, write_whole,
};

/// What `--format sentinel` makes of a row: the hunt's findings, or any query's rows as its
/// Sentinel query file says.
#[derive(Debug, Clone, Copy)]
pub enum Bookmarks<'a> {
    Hunt,
    Query(&'a QueryFile),
}

/// Where and how rows are written.
#[derive(Debug, Clone)]
pub struct Sink<'a> {
    /// A plain format; `None` writes Sentinel bookmarks, as `bookmarks` says.
    pub format: Option<OutputFormat>,
    pub bookmarks: Bookmarks<'a>,
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

impl Sink<'_> {
    /// Runs `frame` and writes its rows.
    ///
    /// # Errors
    /// The query failing, or the writing.
    pub async fn run(&self, frame: DataFrame) -> anyhow::Result<Written> {
        let schema = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await.map_err(query_failed)?;
        self.write(&schema, &batches)
    }

    /// Writes `batches` (all of `schema`). A reader of standard output that goes away
    /// (`| head`) is its choice, not a failure.
    ///
    /// # Errors
    /// The file or standard output cannot be written.
    pub fn write(&self, schema: &Arc<Schema>, batches: &[RecordBatch]) -> anyhow::Result<Written> {
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        let shown = self.limit.filter(|&limit| limit < rows);
        let batches = match shown {
            Some(limit) => first_rows(batches, limit),
            None => batches.to_vec(),
        };
        let batches = &batches[..];
        match &self.output {
            Some(path) => write_whole(path, IfExists::Replace, |file| {
                let mut out = BufWriter::new(file);
                self.write_in(schema, batches, &mut out)
                    .map_err(std::io::Error::other)?;
                out.flush()
            })
            .with_context(|| format!("cannot write {}", path.display()))?,
            None => {
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
            }
        }
        Ok(Written { rows, shown })
    }

    fn write_in<W: Write + Send>(
        &self,
        schema: &Arc<Schema>,
        batches: &[RecordBatch],
        out: W,
    ) -> Result<(), ArrowError> {
        match (self.format, self.bookmarks) {
            (Some(format), _) => write_batches(format, self.safety, schema, batches, out),
            (None, Bookmarks::Hunt) => write_sentinel(self.safety, schema, batches, out),
            (None, Bookmarks::Query(file)) => {
                write_bookmarks(self.safety, schema, batches, out, |row| file.bookmark(row))
            }
        }
    }
}

fn first_rows(batches: &[RecordBatch], mut limit: usize) -> Vec<RecordBatch> {
    let mut first = Vec::new();
    for batch in batches {
        if limit == 0 {
            break;
        }
        let take = batch.num_rows().min(limit);
        first.push(batch.slice(0, take));
        limit -= take;
    }
    first
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
