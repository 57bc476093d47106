//! `retrohunt sql` and what it shares with `hunt`: opening the lake and printing results.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Context;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::Schema;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::SessionContext;
use indicatif::ProgressBar;

use datafusion::error::DataFusionError;
use retrohunt::catalog::{
    LakeDates, damaged_files, damaged_paths, inspect_lake, register_lake_skipping,
};
use retrohunt::engine::{default_memory_limit, runtime, session_config, session_with};
use retrohunt::ingest::{self, IngestOptions};
use retrohunt::lake::{LakeWriter, ReadSnapshot};
use retrohunt::output::{TextSafety, write_batches};

use super::args::{EngineArgs, LakeArg, OutputArgs, SqlArgs};
use super::{Usage, escape_lines};

pub async fn run(args: SqlArgs) -> anyhow::Result<ExitCode> {
    let query = match (&args.query, &args.file) {
        (Some(query), _) => query.clone(),
        (None, Some(file)) => std::fs::read_to_string(file)
            .with_context(|| format!("cannot read query file {}", file.display()))?,
        (None, None) => {
            let mut query = String::new();
            std::io::stdin()
                .read_to_string(&mut query)
                .context("cannot read the query from standard input")?;
            query
        }
    };
    let Lake { ctx, folder, .. } = open_lake(&args.lake, &args.engine).await?;
    let started = Instant::now();
    let frame = ctx.sql(&query).await.context("invalid query")?;
    print_results(frame, &args.output, started)
        .await
        .map_err(|error| name_damage(&folder, error))
}

/// A lake opened for reading.
pub struct Lake {
    /// A session with the lake's tables registered.
    pub ctx: SessionContext,
    pub folder: PathBuf,
    pub dates: LakeDates,
    /// The lake stays as of one commit while this is held.
    _snapshot: ReadSnapshot,
}

/// The lake at `--lake`, or without it the cached sample lake. A folder that is not a lake is
/// a usage error saying what it is instead. With `--skip-bad-files`, every file is read once
/// first and the damaged ones are left out, each named on standard error.
pub async fn open_lake(lake: &LakeArg, engine: &EngineArgs) -> anyhow::Result<Lake> {
    let location = match &lake.lake {
        Some(path) => path.clone(),
        None => sample_lake()?,
    };
    let text = location.to_string_lossy();
    if let Some((scheme, _)) = text.split_once("://")
        && scheme != "file"
    {
        return Err(Usage(format!(
            "cannot open lake {text}: only folders and file:// URLs can be hunted so far \
             ({scheme}:// object stores are not configured)"
        ))
        .into());
    }
    let folder = local_folder(&location);
    let dates = inspect_lake(&folder).map_err(|e| Usage(e.to_string()))?;
    // Before the tables list their files.
    let snapshot = ReadSnapshot::take(&folder)
        .with_context(|| format!("cannot open lake {}", folder.display()))?;
    let limit = engine.memory.memory_limit.or_else(default_memory_limit);
    let runtime = runtime(limit).context("cannot set up the memory pool")?;
    let ctx = session_with(engine.engine, session_config(limit), runtime);
    let skip = if lake.skip_bad_files {
        let damaged = damaged_files(&folder);
        for file in &damaged {
            let message = format!(
                "skipping damaged file {}: {}",
                file.path.display(),
                file.reason
            );
            eprintln!("{}", escape_lines(&message));
        }
        damaged_paths(&damaged)
    } else {
        BTreeSet::new()
    };
    register_lake_skipping(&ctx, &location.to_string_lossy(), &skip)
        .await
        .map_err(|error| name_damage(&folder, error.into()))
        .with_context(|| format!("cannot open lake {}", location.display()))?;
    Ok(Lake {
        ctx,
        folder,
        dates,
        _snapshot: snapshot,
    })
}

/// The folder a `--lake` path or `file://` URL names.
pub fn local_folder(location: &Path) -> PathBuf {
    let text = location.to_string_lossy();
    PathBuf::from(text.strip_prefix("file://").unwrap_or(&text))
}

/// A query that failed in the Parquet decoder names no file: find the damaged ones and say
/// which, and how to hunt the rest.
pub fn name_damage(folder: &Path, error: anyhow::Error) -> anyhow::Error {
    if !format!("{error:#}").contains("Parquet") {
        return error;
    }
    let damaged = damaged_files(folder);
    if damaged.is_empty() {
        return error;
    }
    let list: Vec<String> = damaged
        .iter()
        .map(|d| format!("  {}: {}", d.path.display(), d.reason))
        .collect();
    error.context(format!(
        "the lake holds damaged files (--skip-bad-files hunts the rest):\n{}",
        list.join("\n")
    ))
}

/// Ingests `data/sample` into `target/sample-lake` (a no-op once done: the manifest knows it).
pub fn sample_lake() -> anyhow::Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lake = root.join("target/sample-lake");
    let writer = LakeWriter::open(&lake, || {})
        .with_context(|| format!("cannot open {}", lake.display()))?;
    let options = IngestOptions {
        inputs: vec![root.join("data/sample")],
        ..IngestOptions::default()
    };
    let summary = ingest::ingest(&writer, &options, &ProgressBar::hidden())
        .context("cannot ingest the sample")?;
    if summary.written() > 0 {
        eprintln!("ingested the sample in data/sample into {}", lake.display());
    }
    Ok(lake)
}

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

/// Runs `frame` and writes its rows; the summary line goes to standard error.
async fn print_results(
    frame: DataFrame,
    output: &OutputArgs,
    started: Instant,
) -> anyhow::Result<ExitCode> {
    let schema = Arc::new(frame.schema().as_arrow().clone());
    let batches = frame.collect().await.map_err(query_failed)?;
    write_results(&schema, &batches, output, started)
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

/// Writes `batches` (all of `schema`) where `output` says; the summary line goes to standard
/// error.
pub fn write_results(
    schema: &Arc<Schema>,
    batches: &[RecordBatch],
    output: &OutputArgs,
    started: Instant,
) -> anyhow::Result<ExitCode> {
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let safety = if output.raw {
        TextSafety::Raw
    } else {
        TextSafety::Defanged
    };
    let result = match &output.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            write_batches(
                output.format,
                safety,
                schema,
                batches,
                std::io::BufWriter::new(file),
            )
            .with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            let stdout = PipeWatch::new(std::io::stdout());
            let closed = stdout.closed.clone();
            let result = write_batches(
                output.format,
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
    Ok(ExitCode::SUCCESS)
}
