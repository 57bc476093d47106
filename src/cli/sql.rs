//! `retrohunt sql`: a query of the user's over the lake's tables.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use retrohunt::pipeline::Bookmarks;

use super::args::SqlArgs;
use super::results::{open_lake, print_results};

pub async fn run(args: SqlArgs) -> anyhow::Result<ExitCode> {
    let query = args.query.text()?;
    let lake = open_lake(&args.lake, &args.engine).await?;
    let started = Instant::now();
    let frame = lake.ctx.sql(&query).await.context("invalid query")?;
    print_results(&lake, frame, &args.output, Bookmarks::Hunt, started).await
}
