//! A hunt's run: the hunt over the lake (or, incrementally, over what changed since the last
//! run of its name, less what that reported), the triage steps asked for, and the findings
//! recorded in the lake. With a cluster, the hunt's join runs there; what joins the findings
//! this process holds with the lake (reconciling an incremental run, enrichment) runs here.

use std::sync::Arc;

use anyhow::Context;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;

use super::lake::OpenLake;
use super::sink::{Sink, Written, drain, query_failed};
use super::{Event, Events};
use crate::hunt::{self, HuntParams, Incremental, Run, with_run};
use crate::triage::{self, Exclusions, Lookback, RuleCount};

/// What a hunt's run does besides the hunt.
#[derive(Debug, Clone, Copy)]
pub struct HuntRun<'a> {
    pub params: HuntParams,
    /// The hunt's name in the findings table.
    pub name: &'a str,
    /// Hunt what changed since the last run of this name, and record this one.
    pub incremental: Option<&'a str>,
    /// Add the findings to the lake's findings table.
    pub append_findings: bool,
    pub triage: Triage<'a>,
}

/// The triage steps after the hunt.
#[derive(Debug, Clone, Copy)]
pub struct Triage<'a> {
    /// Evidence from the lake and a score per finding.
    pub enrich: bool,
    /// One row per user instead of the findings.
    pub summary: bool,
    pub exclusions: Option<&'a Exclusions>,
    pub lookback: Lookback,
}

impl Triage<'_> {
    /// Whether the rows written are other than the hunt's findings as the query gives them.
    fn changes_rows(&self) -> bool {
        self.enrich || self.summary || self.exclusions.is_some()
    }
}

/// What a hunt's run found.
#[derive(Debug)]
pub struct HuntOutput {
    /// The rows to write: the findings (triaged), or the per-user summary.
    pub schema: SchemaRef,
    pub rows: Vec<RecordBatch>,
    /// The findings after exclusions.
    pub findings: usize,
    /// The findings themselves (triaged: enriched if asked, exclusions applied), whether or
    /// not the rows to write are the summary.
    pub found: (SchemaRef, Vec<RecordBatch>),
    /// Per exclusion rule, the rows it removed.
    pub excluded: Vec<RuleCount>,
    /// The range hunted (an incremental run's spans what changed).
    pub params: HuntParams,
    /// What the sink wrote, when the run was given one.
    pub written: Option<Written>,
}

/// Runs the hunt on `lake` as `run` says, and writes the rows to `sink` if given; tells
/// `events` what it records and why a result is empty. When the rows written are the query's
/// own (no triage step, not incremental), they are written as the query makes them; the file
/// appears after the findings are recorded, as it would otherwise.
///
/// # Errors
/// Planning or running a query, the lake's bookkeeping, and (as [`super::Usage`]) an
/// incremental run whose name or parameters do not fit.
pub async fn hunt(
    lake: &OpenLake,
    run: &HuntRun<'_>,
    events: &dyn Events,
    sink: Option<&Sink>,
) -> anyhow::Result<HuntOutput> {
    let local = &lake.local;
    let frame = hunt::plan(&lake.ctx, &run.params)
        .await
        .context("cannot plan the hunt")?;
    let incremental = match run.incremental {
        Some(name) => Some(lake.start_incremental(name, &run.params, events).await?),
        None => None,
    };
    // From here on the findings are rows this process holds, in the hunt's order. They are
    // not planned as a table again: DataFusion would spread them over partitions to work on
    // them in parallel, and give them back out of order.
    let schema = Arc::new(frame.schema().as_arrow().clone());
    let mut writing = sink
        .filter(|_| incremental.is_none() && !run.triage.changes_rows())
        .map(|sink| sink.start(&schema));
    let (found, params, retracted) = match &incremental {
        None => (
            drain(frame, writing.as_mut(), true).await?,
            run.params,
            None,
        ),
        Some(incremental) => {
            let (found, params, retracted) =
                incremental_findings(lake, &schema, incremental, &run.params).await?;
            (found, params, Some(retracted))
        }
    };
    let (schema, found) = if run.triage.enrich || run.triage.summary {
        let enriched = triage::enrich(local, schema, found, &params, run.triage.lookback)
            .await
            .context("cannot plan the enrichment")?;
        let schema = Arc::new(enriched.schema().as_arrow().clone());
        (schema, enriched.collect().await.map_err(query_failed)?)
    } else {
        (schema, found)
    };
    let (rows, excluded) = match run.triage.exclusions {
        None => (found, Vec::new()),
        Some(exclusions) => {
            let (kept, counts) = exclusions
                .apply(local, &schema, found)
                .await
                .map_err(query_failed)?;
            let kept_rows = kept.iter().map(|b| b.num_rows()).sum();
            events.event(&Event::Excluded {
                kept: kept_rows,
                counts: &counts,
            });
            (kept, counts)
        }
    };
    let findings: usize = rows.iter().map(|b| b.num_rows()).sum();
    record(lake, run, incremental, (&schema, &rows), retracted, events).await?;
    if findings == 0 && run.incremental.is_none() {
        let notes = hunt::why_empty(&lake.ctx, &params, lake.dates().span())
            .await
            .map_err(query_failed)?;
        for note in notes {
            events.event(&Event::Note(&note));
        }
    }
    let found = (Arc::clone(&schema), rows.clone());
    let (schema, rows) = if run.triage.summary {
        triage::summarize(local, schema, rows)
            .await
            .map_err(query_failed)?
    } else {
        (schema, rows)
    };
    let written = match (writing, sink) {
        (Some(writing), _) => Some(writing.finish()?),
        (None, Some(sink)) => Some(sink.write(&schema, &rows).await?),
        (None, None) => None,
    };
    Ok(HuntOutput {
        schema,
        rows,
        findings,
        found,
        excluded,
        params,
        written,
    })
}

/// Records the run in the lake: its findings and retractions in the findings table (one run,
/// one id, for both), then an incremental run's own record, last.
async fn record(
    lake: &OpenLake,
    run: &HuntRun<'_>,
    incremental: Option<Incremental>,
    (schema, rows): (&SchemaRef, &[RecordBatch]),
    retracted: Option<(SchemaRef, Vec<RecordBatch>)>,
    events: &dyn Events,
) -> anyhow::Result<()> {
    let findings: usize = rows.iter().map(|b| b.num_rows()).sum();
    let id = Run::now(run.incremental.unwrap_or(run.name));
    if (run.append_findings || incremental.is_some()) && findings > 0 {
        let (recorded, rows) = with_run(&id, false, schema, rows)?;
        let file = lake
            .append_findings(id.time.date_naive(), &id.id, &recorded, &rows)
            .await
            .context("cannot append the findings to the lake")?;
        events.event(&Event::Appended {
            findings,
            file: &file,
        });
    }
    if let Some((schema, rows)) = &retracted
        && !rows.is_empty()
    {
        let (recorded, rows) = with_run(&id, true, schema, rows)?;
        lake.append_findings(
            id.time.date_naive(),
            &format!("{}-retracted", id.id),
            &recorded,
            &rows,
        )
        .await
        .context("cannot record the retracted findings in the lake")?;
        events.event(&Event::Retracted {
            findings: rows.iter().map(|b| b.num_rows()).sum(),
            hunt: &id.hunt,
        });
    }
    let Some(incremental) = incremental else {
        return Ok(());
    };
    if findings == 0 {
        events.event(&Event::Note(match incremental.ranges.is_empty() {
            true => "the lake has not changed since this hunt's last run",
            false => "no pair is new since this hunt's last run",
        }));
    }
    incremental
        .finish()
        .await
        .context("cannot record the incremental run")
}

/// The findings of an incremental run: the hunt over each range where something changed, the
/// latest first (so the rows keep the hunt's order), less what earlier runs reported; the
/// parameters that span them, for the enrichment; and earlier findings no longer in the lake.
/// The ranges are hunted in `ctx` (on the cluster, with one), the rows reconciled in `local`.
async fn incremental_findings(
    lake: &OpenLake,
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
        let frame = hunt::plan(&lake.ctx, &range).await?;
        found.extend(drain(frame, None, true).await?);
    }
    let reconciled = run
        .reconcile(&lake.local, schema, found)
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
