//! `retrohunt hunt`: arguments validated into [`HuntParams`] before any I/O.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, DurationRound, SecondsFormat, TimeDelta, Utc};
use retrohunt::choice::Choice;

use retrohunt::hunt::{self, HuntParams};
use retrohunt::output::{IfExists, write_report as write_report_html, write_whole};
use retrohunt::pipeline::{
    self, Bookmarks, HuntOutput, HuntRun, OpenLake, RunFacts, Triage, Written,
};
use retrohunt::store::redacted;
use retrohunt::triage::{Exclusions, Lookback};

use super::Usage;
use super::args::{HuntArgs, HuntParamArgs, ResultFormat};
use super::results::{Stderr, open_lake, print_plan, report_requests, report_rows, sink};

pub async fn run(args: HuntArgs) -> anyhow::Result<ExitCode> {
    let params = params(&args.params)?;
    let exclusions = exclusions(&args)?;
    let lookback = lookback(&args.triage.lookback)?;
    let lake = open_lake(&args.lake, &args.engine).await?;
    let started = Instant::now();
    if args.explain.any() {
        let frame = hunt::plan(&lake.ctx, &params)
            .await
            .context("cannot plan the hunt")?;
        return print_plan(frame, &args.explain).await;
    }
    // The report ranks users by score (it needs the enrichment) and ranks them itself.
    let html = args.output.format == ResultFormat::Html;
    let run = HuntRun {
        params,
        name: &args.hunt_name,
        incremental: args.incremental.as_deref(),
        append_findings: args.append_findings,
        triage: Triage {
            enrich: args.triage.enrich || html,
            summary: args.triage.summary && !html,
            exclusions: exclusions.as_ref(),
            lookback,
        },
    };
    let sink = match html {
        true => None,
        false => Some(sink(&args.output, Bookmarks::Hunt)?),
    };
    let hunted = async {
        let found = pipeline::hunt(&lake, &run, &Stderr, sink.as_ref()).await?;
        let written = match found.written {
            Some(written) => written,
            None => write_report(&lake, &args, &found).await?,
        };
        anyhow::Ok((found, written))
    }
    .await;
    report_requests(&lake);
    let (found, written) = hunted.map_err(|error| lake.name_damage(error))?;
    let mut code = report_rows(written, started);
    if args.summary_json {
        eprintln!(
            "{}",
            run_summary(&args, &found.params, found.findings, started)
        );
    }
    if args.fail_on_findings && found.findings > 0 {
        code = ExitCode::from(super::EXIT_FINDINGS);
    }
    Ok(code)
}

/// The investigation report of `found`, where `--output` says (standard output without it).
async fn write_report(
    lake: &OpenLake,
    args: &HuntArgs,
    found: &HuntOutput,
) -> anyhow::Result<Written> {
    let time = |nanos: Option<i64>| {
        nanos.map_or("the lake's first or last sign-in".into(), |nanos| {
            DateTime::from_timestamp_nanos(nanos).to_rfc3339_opts(SecondsFormat::Secs, true)
        })
    };
    let lake_name = args
        .lake
        .lake
        .as_ref()
        .map_or("the sample in data/".into(), |path| {
            redacted(&path.display().to_string())
        });
    let exclusions = args.triage.exclusions.as_ref();
    let run = [
        ("Lake", lake_name),
        ("From", time(found.params.start)),
        ("To", time(found.params.end)),
        ("Window", args.params.window.clone()),
        ("Time column", found.params.time_column.name().into()),
        ("Engine", args.engine.engine.choice_name().into()),
        (
            "Exclusions",
            exclusions.map_or("none".into(), |p| p.display().to_string()),
        ),
        ("Findings", found.findings.to_string()),
        (
            "Ran at",
            time(Some(Utc::now().timestamp_nanos_opt().unwrap_or_default())),
        ),
        // A lake's URL may carry a SAS token: the report keeps no secret.
        (
            "Command",
            std::env::args()
                .map(|a| redacted(&a))
                .collect::<Vec<_>>()
                .join(" "),
        ),
    ];
    let facts = RunFacts {
        run: run.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        top_users: args.report_users,
    };
    let report = pipeline::report(lake, found, facts).await?;
    let write = |out: &mut dyn std::io::Write| write_report_html(&report, out);
    match &args.output.output {
        Some(path) => write_whole(path, IfExists::Replace, |file| write(file))
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => write(&mut std::io::stdout().lock())?,
    }
    Ok(Written {
        rows: report.users.rows.len(),
        shown: None,
    })
}

/// `--exclusions`, loaded, with the history their rules need asked for.
fn exclusions(args: &HuntArgs) -> Result<Option<Exclusions>, Usage> {
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
            )));
        }
    }
    Ok(exclusions)
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
        "engine": args.engine.engine.choice_name(),
        "findings": findings,
        "seconds": started.elapsed().as_secs_f64(),
    })
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
