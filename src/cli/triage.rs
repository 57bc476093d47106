//! `retrohunt triage suggest` and `retrohunt triage measure`: exclusion rules fitted to the
//! tenant, and how well a set of rules keeps the attacks while removing the rest.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use retrohunt::hunt::HuntParams;
use retrohunt::triage::{self, Exclusions, Lookback, RuleCount, Thresholds};

use super::Usage;
use super::args::{MeasureArgs, SuggestArgs, TriageCommand, TriageHuntArgs};
use super::hunt::{lookback, params};
use retrohunt::pipeline::{OpenLake, query_failed};

use super::results::open_lake;

pub async fn run(command: TriageCommand) -> anyhow::Result<ExitCode> {
    match command {
        TriageCommand::Suggest(args) => suggest(args).await,
        TriageCommand::Measure(args) => measure(args).await,
    }
}

async fn suggest(args: SuggestArgs) -> anyhow::Result<ExitCode> {
    let thresholds = Thresholds {
        shared_users: args.shared_users,
        regular_days: args.regular_days,
        background_users: args.background_users,
        background_share: args.background_share,
        service_hours: args.service_hours,
        service_app_share: args.service_app_share,
        recurring_days: args.recurring_days,
    };
    let (lake, params, lookback) = open(&args.hunt).await?;
    let suggestions = triage::suggest(&lake.ctx, &params, lookback, &thresholds)
        .await
        .map_err(|e| lake.name_damage(query_failed(e)))?;
    match &args.out {
        Some(path) => super::results::write_text(path, &suggestions.toml)?,
        None => std::io::stdout().write_all(suggestions.toml.as_bytes())?,
    }
    report(&suggestions.counts, suggestions.findings);
    Ok(ExitCode::SUCCESS)
}

async fn measure(args: MeasureArgs) -> anyhow::Result<ExitCode> {
    let rules = Exclusions::load(&args.rules).map_err(|e| Usage(e.to_string()))?;
    let attacks = ground_truth(&args.truth)?;
    let (lake, params, lookback) = open(&args.hunt).await?;
    let excluded = triage::hunt_and_exclude(&lake.ctx, &params, lookback, &rules)
        .await
        .map_err(|e| lake.name_damage(query_failed(e)))?;
    let found = attacks_in(&excluded.found, &attacks)?;
    let kept = attacks_in(&excluded.kept, &attacks)?;
    let (before, after) = (excluded.found_rows(), excluded.kept_rows());
    println!(
        "findings: {before} before the rules, {after} after ({:.1}% removed)",
        100.0 * (before - after) as f64 / before.max(1) as f64
    );
    println!(
        "attacks: {} injected, {found} found by the hunt, {kept} kept by the rules",
        attacks.len()
    );
    println!("removed per rule:");
    for count in &excluded.counts {
        println!("  {:>8}  {}", count.rows, count.name);
    }
    Ok(ExitCode::SUCCESS)
}

/// The lake opened on the chosen engine, the hunt's parameters and the history's reach.
async fn open(args: &TriageHuntArgs) -> anyhow::Result<(OpenLake, HuntParams, Lookback)> {
    let params = params(&args.params)?;
    let lookback = lookback(&args.lookback)?;
    let lake = open_lake(&args.lake, &args.engine).await?;
    Ok((lake, params, lookback))
}

/// The injected attacks: pairs of (interactive, non-interactive) correlation ids.
fn ground_truth(path: &std::path::Path) -> anyhow::Result<BTreeSet<(String, String)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read ground truth {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(number, line)| {
            let record: serde_json::Value = serde_json::from_str(line)
                .with_context(|| format!("{}:{}: not JSON", path.display(), number + 1))?;
            let id = |name: &str| {
                record[name]
                    .as_str()
                    .map(str::to_owned)
                    .with_context(|| format!("{}:{}: no {name}", path.display(), number + 1))
            };
            Ok((
                id("InteractiveCorrelationId")?,
                id("NonInteractiveCorrelationId")?,
            ))
        })
        .collect()
}

/// How many distinct attacks of `attacks` the rows of `batches` hold.
fn attacks_in(
    batches: &[RecordBatch],
    attacks: &BTreeSet<(String, String)>,
) -> anyhow::Result<usize> {
    let mut seen = BTreeSet::new();
    for batch in batches {
        let column = |name: &str| -> anyhow::Result<_> {
            let index = batch.schema().index_of(name)?;
            Ok(cast(batch.column(index), &DataType::Utf8)?)
        };
        let (interactive, other) = (
            column("InteractiveCorrelationId")?,
            column("NonInteractiveCorrelationId")?,
        );
        for (i, n) in interactive
            .as_string::<i32>()
            .iter()
            .zip(other.as_string::<i32>().iter())
        {
            let pair = (
                i.unwrap_or_default().to_owned(),
                n.unwrap_or_default().to_owned(),
            );
            if attacks.contains(&pair) {
                seen.insert(pair);
            }
        }
    }
    Ok(seen.len())
}

/// What the suggested rules remove, on standard error.
fn report(counts: &[RuleCount], findings: usize) {
    let removed: usize = counts.iter().map(|c| c.rows).sum();
    eprintln!("the suggested rules remove {removed} of {findings} findings:");
    for count in counts {
        eprintln!("  {:>8}  {}", count.rows, count.name);
    }
}
