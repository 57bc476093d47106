//! `retrohunt kql`: an analyst's KQL query (as Sentinel holds it) over the lake's tables.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};

use retrohunt::kql::{self, Options, QueryFile};

use retrohunt::pipeline::Bookmarks;

use super::Usage;
use super::args::{KqlArgs, ResultFormat};
use super::hunt::instant;
use super::results::{open_lake, print_plan, print_results};

pub async fn run(args: KqlArgs) -> anyhow::Result<ExitCode> {
    let (text, file) = query_text(&args)?;
    let options = options(&args)?;
    let bookmarks = match (args.output.format, &file) {
        (ResultFormat::Sentinel, Some(file)) => Bookmarks::Query(Arc::new(file.clone())),
        (ResultFormat::Sentinel, None) => {
            return Err(Usage(
                "--format sentinel takes its bookmarks' name, tactics and entities from a \
                 Sentinel query file: give --file QUERY.yaml"
                    .into(),
            )
            .into());
        }
        _ => Bookmarks::Hunt,
    };
    let lake = open_lake(&args.lake, &args.engine).await?;
    let started = Instant::now();
    let planned = kql::plan(&lake.ctx, &text, &options)
        .await
        .map_err(|error| Usage(error.render(&text)))?;
    for note in &planned.notes {
        eprintln!("note: {note}");
    }
    if args.schema {
        for (name, ty) in &planned.columns {
            println!("{}:{}", super::escape_lines(name), ty.name());
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.explain.any() {
        return print_plan(planned.frame, &args.explain).await;
    }
    print_results(&lake, planned.frame, &args.output, bookmarks, started).await
}

/// The query, and the Sentinel query file it came from, if it did.
fn query_text(args: &KqlArgs) -> anyhow::Result<(String, Option<QueryFile>)> {
    let text = args.query.text()?;
    match &args.query.file {
        Some(path) if path.extension().is_some_and(|e| e == "yaml" || e == "yml") => {
            let file = QueryFile::parse(&text)
                .map_err(|reason| Usage(format!("{}: {reason}", path.display())))?;
            Ok((file.query.clone(), Some(file)))
        }
        _ => Ok((text, None)),
    }
}

/// `--now`, `--start` and `--end`, read against one clock reading.
fn options(args: &KqlArgs) -> Result<Options, Usage> {
    let clock = Utc::now();
    let at = |flag: &str, text: &Option<String>| -> Result<Option<DateTime<Utc>>, Usage> {
        text.as_deref()
            .map(|text| instant(flag, text, clock).map(DateTime::from_timestamp_nanos))
            .transpose()
    };
    Ok(Options {
        now: at("--now", &args.now)?.unwrap_or(clock),
        start: at("--start", &args.start)?,
        end: at("--end", &args.end)?,
    })
}
