//! What the front end adds to a run: its arguments mapped onto the library's engine choice and
//! sink, its events and the line that counts the rows printed on standard error.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use datafusion::dataframe::DataFrame;
use retrohunt::output::{IfExists, OutputFormat, TextSafety, write_whole};
use retrohunt::pipeline::{
    Bookmarks, EngineChoice, Event, Events, OpenLake, Sink, Written, explain,
};

use super::args::{EngineArgs, ExplainArgs, LakeArg, OutputArgs, ResultFormat};
use super::{Usage, escape_lines};

/// Events go to standard error, escaped: paths and records in them come from the user's data,
/// and must not drive the terminal.
pub struct Stderr;

impl Events for Stderr {
    fn event(&self, event: &Event) {
        eprintln!("{}", escape_lines(&event.to_string()));
    }
}

/// Opens `--lake` on the engine the arguments choose.
pub async fn open_lake(lake: &LakeArg, engine: &EngineArgs) -> anyhow::Result<OpenLake> {
    let choice = EngineChoice {
        engine: engine.engine,
        cluster: engine.cluster.clone(),
        memory_limit: engine.memory.memory_limit,
        partitions: engine.partitions.map(usize::from),
    };
    OpenLake::open(lake.lake.as_deref(), &choice, lake.skip_bad_files, &Stderr).await
}

/// Says on standard error what reading a lake in object storage cost.
pub fn report_requests(lake: &OpenLake) {
    if let Some(requests) = lake.requests() {
        eprintln!("store requests: {requests}");
    }
}

/// Prints `frame`'s physical plan (run, with its metrics, under `--explain-analyze`).
pub async fn print_plan(frame: DataFrame, explain_args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    println!("{}", explain(frame, explain_args.explain_analyze).await?);
    Ok(ExitCode::SUCCESS)
}

/// The sink `--format`, `--output`, `--limit`/`--all` and `--raw` say; the report
/// (`--format html`) is the hunt's alone.
pub fn sink(output: &OutputArgs, bookmarks: Bookmarks) -> Result<Sink, Usage> {
    if output.format == ResultFormat::Html {
        return Err(Usage(
            "--format html is the hunt's investigation report: use it with `retrohunt hunt`".into(),
        ));
    }
    Ok(Sink {
        format: output.format.plain(),
        bookmarks,
        safety: match output.raw {
            true => TextSafety::Raw,
            false => TextSafety::Defanged,
        },
        output: output.output.clone(),
        limit: shown_rows(output),
    })
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

/// The line that counts what was written, and how to see the rest.
pub fn report_rows(written: Written, started: Instant) -> ExitCode {
    let rows = written.rows;
    eprintln!("{rows} rows in {:.3} s", started.elapsed().as_secs_f64());
    if let Some(limit) = written.shown {
        eprintln!(
            "showed the first {limit} of {rows} rows: --all shows every row, \
             --format csv --output FILE writes them for a spreadsheet"
        );
    }
    ExitCode::SUCCESS
}

/// Runs `frame` into the sink the arguments say, and reports it.
pub async fn print_results(
    lake: &OpenLake,
    frame: DataFrame,
    output: &OutputArgs,
    bookmarks: Bookmarks,
    started: Instant,
) -> anyhow::Result<ExitCode> {
    let written = sink(output, bookmarks)?.run(frame).await;
    report_requests(lake);
    let written = written.map_err(|error| lake.name_damage(error))?;
    Ok(report_rows(written, started))
}

/// Writes `text` to `path`, whole or not at all.
pub fn write_text(path: &Path, text: &str) -> anyhow::Result<()> {
    write_whole(path, IfExists::Replace, |file| {
        file.write_all(text.as_bytes())
    })
    .with_context(|| format!("cannot write {}", path.display()))
}

impl ResultFormat {
    /// The output module's format, or `None` for Sentinel's bookmarks and the report.
    pub fn plain(self) -> Option<OutputFormat> {
        match self {
            ResultFormat::Table => Some(OutputFormat::Table),
            ResultFormat::Csv => Some(OutputFormat::Csv),
            ResultFormat::Json => Some(OutputFormat::Json),
            ResultFormat::Parquet => Some(OutputFormat::Parquet),
            ResultFormat::Sentinel | ResultFormat::Html => None,
        }
    }
}
