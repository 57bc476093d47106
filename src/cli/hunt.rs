//! `retrohunt hunt`: arguments validated into [`HuntParams`] before any I/O.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use chrono::DateTime;

use retrohunt::hunt::{self, HuntParams};

use super::Usage;
use super::args::{HuntArgs, HuntParamArgs};
use super::query::{open_lake, print_results};

pub async fn run(args: HuntArgs) -> anyhow::Result<ExitCode> {
    let params = params(&args.params)?;
    let ctx = open_lake(&args.lake, &args.engine).await?;
    let started = Instant::now();
    let frame = hunt::plan(&ctx, &params)
        .await
        .context("cannot plan the hunt")?;
    if args.explain || args.explain_analyze {
        let plan = frame
            .explain(false, args.explain_analyze)?
            .collect()
            .await?;
        println!("{}", arrow::util::pretty::pretty_format_batches(&plan)?);
        return Ok(ExitCode::SUCCESS);
    }
    print_results(frame, &args.output, started).await
}

/// # Errors
/// Unreadable times, a start after the end, a window that is not a positive duration.
pub fn params(args: &HuntParamArgs) -> Result<HuntParams, Usage> {
    let time = |flag: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|text| {
                DateTime::parse_from_rfc3339(text)
                    .map_err(|e| Usage(format!("invalid {flag} {text:?}: {e} (expected RFC 3339, e.g. 2026-03-02T00:00:00Z)")))
                    .and_then(|t| {
                        t.timestamp_nanos_opt()
                            .ok_or_else(|| Usage(format!("invalid {flag} {text:?}: outside 1677..2262")))
                    })
            })
            .transpose()
    };
    let start = time("--start", &args.start)?;
    let end = time("--end", &args.end)?;
    if let (Some(start), Some(end)) = (start, end)
        && start > end
    {
        return Err(Usage(format!(
            "--start {:?} is after --end {:?}",
            args.start.as_deref().unwrap_or_default(),
            args.end.as_deref().unwrap_or_default()
        )));
    }
    let window = humantime::parse_duration(&args.window).map_err(|e| {
        Usage(format!(
            "invalid --window {:?}: {e} (e.g. 10m, 90s)",
            args.window
        ))
    })?;
    let window = i64::try_from(window.as_nanos())
        .ok()
        .filter(|&w| w > 0)
        .ok_or_else(|| {
            Usage(format!(
                "invalid --window {:?}: must be positive and under 292 years",
                args.window
            ))
        })?;
    Ok(HuntParams {
        start,
        end,
        window,
        time_column: args.time_column,
    })
}
