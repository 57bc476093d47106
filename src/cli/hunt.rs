//! `retrohunt hunt`: arguments validated into [`HuntParams`] before any I/O.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, DurationRound, SecondsFormat, TimeDelta, Utc};
use clap::ValueEnum;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::prelude::SessionContext;
use retrohunt::hunt::{self, HuntParams, Incremental, Run, with_run};
use retrohunt::triage::{self, Exclusions, Lookback, RuleCount};

use super::Usage;
use super::args::{HuntArgs, HuntParamArgs};
use super::lake::{Lake, name_damage, open_lake};
use super::results::{Bookmarks, print_plan, query_failed, write_results};

pub async fn run(args: HuntArgs) -> anyhow::Result<ExitCode> {
    let params = params(&args.params)?;
    let exclusions = args
        .triage
        .exclusions
        .as_deref()
        .map(Exclusions::load)
        .transpose()
        .map_err(|e| Usage(e.to_string()))?;
    if let Some(exclusions) = &exclusions {
        let history = exclusions.needing_history();
        if !history.is_empty() && !args.triage.enrich && !args.triage.summary {
            return Err(Usage(format!(
                "exclusion rules {} read the user's history (`when`): add --enrich or --summary",
                history.join(", ")
            ))
            .into());
        }
    }
    let lookback = lookback(&args.triage.lookback)?;
    let lake = open_lake(&args.lake, &args.engine).await?;
    let hunted = hunt(&lake, &args, &params, exclusions.as_ref(), lookback).await;
    lake.report_requests();
    hunted.map_err(|error| name_damage(lake.local(), error))
}

async fn hunt(
    lake: &Lake,
    args: &HuntArgs,
    params: &HuntParams,
    exclusions: Option<&Exclusions>,
    lookback: Lookback,
) -> anyhow::Result<ExitCode> {
    // With --cluster, the hunt's join runs there; what joins the findings this process holds
    // with the lake (reconciling an incremental run, enrichment) runs here.
    let (ctx, local) = (&lake.ctx, &lake.local);
    let started = Instant::now();
    let frame = hunt::plan(ctx, params)
        .await
        .context("cannot plan the hunt")?;
    if args.explain.any() {
        return print_plan(frame, &args.explain).await;
    }
    let incremental = match args.incremental.as_deref() {
        Some(name) => Some(lake.start_incremental(name, params).await?),
        None => None,
    };
    // From here on the findings are rows this process holds, in the hunt's order. They are
    // not planned as a table again: DataFusion would spread them over partitions to work on
    // them in parallel, and give them back out of order.
    let schema = Arc::new(frame.schema().as_arrow().clone());
    let (found, params, retracted) = match &incremental {
        None => (frame.collect().await.map_err(query_failed)?, *params, None),
        Some(run) => {
            let (found, params, retracted) =
                incremental_findings(ctx, local, &schema, run, params).await?;
            (found, params, Some(retracted))
        }
    };
    let params = &params;
    let (schema, found) = if args.triage.enrich || args.triage.summary {
        let enriched = triage::enrich(local, schema, found, params, lookback)
            .await
            .context("cannot plan the enrichment")?;
        let schema = Arc::new(enriched.schema().as_arrow().clone());
        (schema, enriched.collect().await.map_err(query_failed)?)
    } else {
        (schema, found)
    };
    let batches = match exclusions {
        None => found,
        Some(exclusions) => {
            let (kept, counts) = exclusions
                .apply(local, &schema, found)
                .await
                .map_err(query_failed)?;
            report_exclusions(&kept, &counts);
            kept
        }
    };
    let findings: usize = batches.iter().map(|b| b.num_rows()).sum();
    // One run, one id, for its findings and its retractions alike.
    let run = Run::now(args.incremental.as_deref().unwrap_or(&args.hunt_name));
    if (args.append_findings || incremental.is_some()) && findings > 0 {
        let (recorded, rows) = with_run(&run, false, &schema, &batches)?;
        let file = lake
            .append_findings(run.time.date_naive(), &run.id, &recorded, &rows)
            .await
            .context("cannot append the findings to the lake")?;
        eprintln!("appended {findings} findings to {file}");
    }
    if let Some((schema, rows)) = &retracted
        && !rows.is_empty()
    {
        let (recorded, rows) = with_run(&run, true, schema, rows)?;
        let id = format!("{}-retracted", run.id);
        lake.append_findings(run.time.date_naive(), &id, &recorded, &rows)
            .await
            .context("cannot record the retracted findings in the lake")?;
        eprintln!(
            "retracted {} findings that earlier runs of {} reported: the lake replaced a \
             sign-in of theirs by an earlier copy that arrived later",
            rows.iter().map(|b| b.num_rows()).sum::<usize>(),
            run.hunt
        );
    }
    if let Some(incremental) = incremental {
        if findings == 0 {
            eprintln!(
                "note: {}",
                match incremental.ranges.is_empty() {
                    true => "the lake has not changed since this hunt's last run",
                    false => "no pair is new since this hunt's last run",
                }
            );
        }
        incremental
            .finish()
            .await
            .context("cannot record the incremental run")?;
    }
    let (schema, batches) = if args.triage.summary {
        triage::summarize(local, schema, batches)
            .await
            .map_err(query_failed)?
    } else {
        (schema, batches)
    };
    let mut code = write_results(&schema, &batches, &args.output, Bookmarks::Hunt, started)?;
    if args.summary_json {
        eprintln!("{}", run_summary(args, params, findings, started));
    }
    if args.fail_on_findings && findings > 0 {
        code = ExitCode::from(super::EXIT_FINDINGS);
    }
    if findings == 0 && args.incremental.is_none() {
        let notes = hunt::why_empty(ctx, params, lake.dates.span())
            .await
            .map_err(query_failed)?;
        for note in notes {
            eprintln!("note: {note}");
        }
    }
    Ok(code)
}

/// The findings of an incremental run: the hunt over each range where something changed, the
/// latest first (so the rows keep the hunt's order), less what earlier runs reported; the
/// parameters that span them, for the enrichment; and earlier findings no longer in the lake.
/// The ranges are hunted in `ctx` (on the cluster, with one), the rows reconciled in `local`.
async fn incremental_findings(
    ctx: &SessionContext,
    local: &SessionContext,
    schema: &SchemaRef,
    run: &Incremental,
    params: &HuntParams,
) -> anyhow::Result<(Vec<RecordBatch>, HuntParams, (SchemaRef, Vec<RecordBatch>))> {
    let mut found = Vec::new();
    for &(start, end) in run.ranges.iter().rev() {
        let range = HuntParams {
            start: Some(start),
            end: Some(end),
            ..*params
        };
        let frame = hunt::plan(ctx, &range).await?;
        found.extend(frame.collect().await.map_err(query_failed)?);
    }
    let reconciled = run
        .reconcile(local, schema, found)
        .await
        .map_err(query_failed)?;
    let spanned = HuntParams {
        start: run.ranges.first().map(|r| r.0),
        end: run.ranges.last().map(|r| r.1),
        ..*params
    };
    let retracted = (Arc::clone(schema), reconciled.retracted);
    Ok((reconciled.new, spanned, retracted))
}

/// The run in one JSON line, for a scheduler's log: what was hunted, what was found, how long
/// it took.
fn run_summary(
    args: &HuntArgs,
    params: &HuntParams,
    findings: usize,
    started: Instant,
) -> serde_json::Value {
    let time = |nanos: Option<i64>| {
        nanos.map(|nanos| {
            DateTime::from_timestamp_nanos(nanos).to_rfc3339_opts(SecondsFormat::AutoSi, true)
        })
    };
    serde_json::json!({
        "command": "hunt",
        "start": time(params.start),
        "end": time(params.end),
        "window_seconds": params.window as f64 / 1e9,
        "time_column": params.time_column.name(),
        "engine": args
            .engine
            .engine
            .to_possible_value()
            .map(|value| value.get_name().to_owned()),
        "findings": findings,
        "seconds": started.elapsed().as_secs_f64(),
    })
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

/// `--lookback`: a duration of at least a day.
pub fn lookback(text: &str) -> Result<Lookback, Usage> {
    duration_nanos("--lookback", text).and_then(|nanos| {
        Lookback::new(nanos).map_err(|e| Usage(format!("invalid --lookback: {e}")))
    })
}

pub(super) fn duration_nanos(flag: &str, text: &str) -> Result<i64, Usage> {
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
    // One clock reading for the whole range, so `--start now-1h --end now` is an hour.
    let now = Utc::now();
    let (start_text, end_text) = match &args.last {
        Some(last) => (Some(format!("now-{last}")), Some("now".to_owned())),
        None => (args.start.clone(), args.end.clone()),
    };
    let flags = match &args.last {
        Some(_) => ("--last", "--last"),
        None => ("--start", "--end"),
    };
    let start = start_text
        .as_deref()
        .map(|text| instant(flags.0, text, now))
        .transpose()?;
    let end = end_text
        .as_deref()
        .map(|text| instant(flags.1, text, now))
        .transpose()?;
    if let (Some(start), Some(end)) = (start, end)
        && start > end
    {
        return Err(Usage(format!(
            "--start {:?} is after --end {:?}",
            start_text.unwrap_or_default(),
            end_text.unwrap_or_default()
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

/// An instant as ns since the epoch: RFC 3339, or relative to `now` for scheduled runs:
/// `now`, `today` and `yesterday` (midnight UTC), each optionally minus a duration
/// (`now-24h`, `today-7d`).
pub(super) fn instant(flag: &str, text: &str, now: DateTime<Utc>) -> Result<i64, Usage> {
    let invalid = |why: String| {
        Usage(format!(
            "invalid {flag} {text:?}: {why} (expected RFC 3339 such as 2026-03-02T00:00:00Z, \
             or now, today or yesterday, optionally minus a duration: now-24h, today-7d)"
        ))
    };
    let (anchor, minus) = match text.split_once('-') {
        Some((anchor, minus)) if ["now", "today", "yesterday"].contains(&anchor) => {
            (anchor, Some(minus))
        }
        _ => (text, None),
    };
    let midnight = now.duration_trunc(TimeDelta::days(1)).unwrap_or(now);
    let anchor = match anchor {
        "now" => now,
        "today" => midnight,
        "yesterday" => midnight - TimeDelta::days(1),
        _ => DateTime::parse_from_rfc3339(text)
            .map_err(|e| invalid(e.to_string()))?
            .with_timezone(&Utc),
    };
    let at = match minus {
        None => anchor,
        Some(duration) => {
            let duration =
                humantime::parse_duration(duration).map_err(|e| invalid(e.to_string()))?;
            TimeDelta::from_std(duration)
                .ok()
                .and_then(|duration| anchor.checked_sub_signed(duration))
                .ok_or_else(|| invalid("too far back".into()))?
        }
    };
    at.timestamp_nanos_opt()
        .ok_or_else(|| invalid("outside 1677..2262".into()))
}
