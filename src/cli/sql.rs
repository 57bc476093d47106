//! `retrohunt sql`: a query of the user's over the lake's tables.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use datafusion::dataframe::DataFrame;

use super::args::{OutputArgs, SqlArgs};
use super::lake::{name_damage, open_lake};
use super::results::{Bookmarks, query_failed, write_results};

pub async fn run(args: SqlArgs) -> anyhow::Result<ExitCode> {
    let query = args.query.text()?;
    let lake = open_lake(&args.lake, &args.engine).await?;
    let started = Instant::now();
    let frame = lake.ctx.sql(&query).await.context("invalid query")?;
    let printed = print_results(frame, &args.output, Bookmarks::Hunt, started).await;
    lake.report_requests();
    printed.map_err(|error| name_damage(lake.local(), error))
}

/// Runs `frame` and writes its rows; the summary line goes to standard error.
pub(super) async fn print_results(
    frame: DataFrame,
    output: &OutputArgs,
    bookmarks: Bookmarks<'_>,
    started: Instant,
) -> anyhow::Result<ExitCode> {
    let schema = Arc::new(frame.schema().as_arrow().clone());
    let batches = frame.collect().await.map_err(query_failed)?;
    write_results(&schema, &batches, output, bookmarks, started)
}
