//! `retrohunt hunt`: arguments validated into [`HuntParams`] before any I/O.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::DateTime;

use datafusion::arrow::array::RecordBatch;
use retrohunt::hunt::{self, HuntParams};
use retrohunt::triage::{self, Exclusions, Lookback, RuleCount};

use super::Usage;
use super::args::{HuntArgs, HuntParamArgs};
use super::lake::{Lake, name_damage, open_lake};
use super::results::{query_failed, write_results};

pub async fn run(args: HuntArgs) -> anyhow::Result<ExitCode> {
    let params = params(&args.params)?;
    let exclusions = args
        .triage
        .exclusions
        .as_deref()
        .map(Exclusions::load)
        .transpose()
        .map_err(|e| Usage(e.to_string()))?;
    let lookback = duration_nanos("--lookback", &args.triage.lookback).and_then(|nanos| {
        Lookback::new(nanos).map_err(|e| Usage(format!("invalid --lookback: {e}")))
    })?;
    let lake = open_lake(&args.lake, &args.engine).await?;
    let hunted = hunt(&lake, &args, &params, exclusions.as_ref(), lookback).await;
    hunted.map_err(|error| name_damage(&lake.folder, error))
}

async fn hunt(
    lake: &Lake,
    args: &HuntArgs,
    params: &HuntParams,
    exclusions: Option<&Exclusions>,
    lookback: Lookback,
) -> anyhow::Result<ExitCode> {
    let ctx = &lake.ctx;
    let started = Instant::now();
    let frame = hunt::plan(ctx, params)
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
    let frame = if args.triage.enrich || args.triage.summary {
        let schema = Arc::new(frame.schema().as_arrow().clone());
        let findings = frame.collect().await.map_err(query_failed)?;
        triage::enrich(ctx, schema, findings, params, lookback)
            .await
            .context("cannot plan the enrichment")?
    } else {
        frame
    };
    let schema = Arc::new(frame.schema().as_arrow().clone());
    let batches = match exclusions {
        None => frame.collect().await.map_err(query_failed)?,
        Some(exclusions) => {
            let (kept, counts) = exclusions.apply(ctx, frame).await.map_err(query_failed)?;
            report_exclusions(&kept, &counts);
            kept
        }
    };
    let (schema, batches) = if args.triage.summary {
        triage::summarize(ctx, schema, batches)
            .await
            .map_err(query_failed)?
    } else {
        (schema, batches)
    };
    let code = write_results(&schema, &batches, &args.output, started)?;
    if batches.iter().all(|b| b.num_rows() == 0) {
        let notes = hunt::why_empty(ctx, params, lake.dates.span())
            .await
            .map_err(query_failed)?;
        for note in notes {
            eprintln!("note: {note}");
        }
    }
    Ok(code)
}

/// Nothing disappears without a count: every rule, with its reason, even when it removed none.
fn report_exclusions(kept: &[RecordBatch], counts: &[RuleCount]) {
    let excluded: usize = counts.iter().map(|c| c.rows).sum();
    let kept: usize = kept.iter().map(|b| b.num_rows()).sum();
    eprintln!("excluded {excluded} of {} rows:", excluded + kept);
    let width = counts.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for count in counts {
        eprintln!(
            "  {:width$}  {:>8}  {}",
            count.name, count.rows, count.reason
        );
    }
}

fn duration_nanos(flag: &str, text: &str) -> Result<i64, Usage> {
    let duration = humantime::parse_duration(text)
        .map_err(|e| Usage(format!("invalid {flag} {text:?}: {e} (e.g. 10m, 90s, 30d)")))?;
    i64::try_from(duration.as_nanos())
        .ok()
        .filter(|&nanos| nanos > 0)
        .ok_or_else(|| {
            Usage(format!(
                "invalid {flag} {text:?}: must be positive and under 292 years"
            ))
        })
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
    let window = duration_nanos("--window", &args.window)?;
    Ok(HuntParams {
        start,
        end,
        window,
        time_column: args.time_column,
    })
}
