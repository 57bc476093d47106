//! Writing a query's rows where `--format` and `--output` say, and the line that counts them.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Context;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::error::ArrowError;
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use retrohunt::hunt::write_sentinel;
use retrohunt::kql::QueryFile;
use retrohunt::output::{IfExists, TextSafety, write_batches, write_bookmarks, write_whole};

use super::args::{ExplainArgs, OutputArgs, ResultFormat};

/// A writer that remembers its reader went away. Arrow's writers turn I/O errors into text
/// (`Csv error: Broken pipe`), so the error they return cannot tell a closed pipe from a
/// failing write; the writer underneath can.
struct PipeWatch<W> {
    inner: W,
    closed: Arc<AtomicBool>,
}

impl<W: Write> PipeWatch<W> {
    fn new(inner: W) -> Self {
        PipeWatch {
            inner,
            closed: Arc::default(),
        }
    }

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

/// Prints `frame`'s physical plan (run, with its metrics, under `--explain-analyze`).
pub async fn print_plan(frame: DataFrame, explain: &ExplainArgs) -> anyhow::Result<ExitCode> {
    let plan = frame
        .explain(false, explain.explain_analyze)?
        .collect()
        .await?;
    println!(
        "{}",
        datafusion::arrow::util::pretty::pretty_format_batches(&plan)?
    );
    Ok(ExitCode::SUCCESS)
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

/// What `--format sentinel` makes of a row: the hunt's findings, or any query's rows as its
/// Sentinel query file says.
#[derive(Debug, Clone, Copy)]
pub enum Bookmarks<'a> {
    Hunt,
    Query(&'a QueryFile),
}

/// Writes `batches` (all of `schema`) where `output` says; the summary line goes to standard
/// error.
pub fn write_results(
    schema: &Arc<Schema>,
    batches: &[RecordBatch],
    output: &OutputArgs,
    bookmarks: Bookmarks,
    started: Instant,
) -> anyhow::Result<ExitCode> {
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let shown = shown_rows(output).filter(|&limit| limit < rows);
    let batches = match shown {
        Some(limit) => first_rows(batches, limit),
        None => batches.to_vec(),
    };
    let batches = &batches[..];
    let safety = if output.raw {
        TextSafety::Raw
    } else {
        TextSafety::Defanged
    };
    let result = match &output.output {
        Some(path) => write_whole(path, IfExists::Replace, |file| {
            let mut out = BufWriter::new(file);
            write_in(output.format, bookmarks, safety, schema, batches, &mut out)
                .map_err(std::io::Error::other)?;
            out.flush()
        })
        .with_context(|| format!("cannot write {}", path.display())),
        None => {
            let stdout = PipeWatch::new(std::io::stdout());
            let closed = stdout.closed.clone();
            let result = write_in(
                output.format,
                bookmarks,
                safety,
                schema,
                batches,
                std::io::BufWriter::new(stdout),
            );
            // A closed pipe (`| head`) is the reader's choice, not a failure.
            match result {
                Err(_) if closed.load(Ordering::Relaxed) => Ok(()),
                other => other.map_err(anyhow::Error::from),
            }
        }
    };
    result?;
    let _ = std::io::stdout().flush();
    eprintln!("{rows} rows in {:.3} s", started.elapsed().as_secs_f64());
    if let Some(limit) = shown {
        eprintln!(
            "showed the first {limit} of {rows} rows: --all shows every row, \
             --format csv --output FILE writes them for a spreadsheet"
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn write_in<W: Write + Send>(
    format: ResultFormat,
    bookmarks: Bookmarks,
    safety: TextSafety,
    schema: &Arc<Schema>,
    batches: &[RecordBatch],
    out: W,
) -> Result<(), ArrowError> {
    match (format.plain(), bookmarks) {
        (Some(format), _) => write_batches(format, safety, schema, batches, out),
        (None, Bookmarks::Hunt) => write_sentinel(safety, schema, batches, out),
        (None, Bookmarks::Query(file)) => {
            write_bookmarks(safety, schema, batches, out, |row| file.bookmark(row))
        }
    }
}

/// Rows a person reads in a terminal before scrolling.
const TERMINAL_ROWS: usize = 20;

fn shown_rows(output: &OutputArgs) -> Option<usize> {
    if output.all {
        return None;
    }
    output.limit.or_else(|| {
        let to_terminal = output.output.is_none() && std::io::stdout().is_terminal();
        (to_terminal && output.format == ResultFormat::Table).then_some(TERMINAL_ROWS)
    })
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

/// Writes `text` to `path`, whole or not at all.
pub fn write_text(path: &Path, text: &str) -> anyhow::Result<()> {
    write_whole(path, IfExists::Replace, |file| {
        file.write_all(text.as_bytes())
    })
    .with_context(|| format!("cannot write {}", path.display()))
}
