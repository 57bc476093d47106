//! The hunt with exclusion rules applied, keeping both sides: what the hunt found and what
//! the rules left, with each rule's count. `triage suggest` counts its rules with it, and
//! `triage measure` compares both sides with a generated tenant's ground truth.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::error::Result;
use datafusion::prelude::SessionContext;

use super::enrich::{Lookback, enrich};
use super::exclusions::{Exclusions, RuleCount};
use crate::hunt::{self, HuntParams};

/// The hunt's findings before and after the rules.
#[derive(Debug, Clone)]
pub struct Excluded {
    /// The hunt's rows, as the hunt orders them.
    pub found: Vec<RecordBatch>,
    /// The enriched rows no rule matched, ordered by score.
    pub kept: Vec<RecordBatch>,
    /// Rows each rule removed (the first that matched), in file order.
    pub counts: Vec<RuleCount>,
}

impl Excluded {
    pub fn found_rows(&self) -> usize {
        self.found.iter().map(|b| b.num_rows()).sum()
    }

    pub fn kept_rows(&self) -> usize {
        self.kept.iter().map(|b| b.num_rows()).sum()
    }
}

/// Runs the hunt over the lake in `ctx`, enriches its findings with `lookback` (the rules may
/// read the user's history) and applies `exclusions`.
///
/// # Errors
/// Planning and execution errors.
pub async fn hunt_and_exclude(
    ctx: &SessionContext,
    params: &HuntParams,
    lookback: Lookback,
    exclusions: &Exclusions,
) -> Result<Excluded> {
    let frame = hunt::plan(ctx, params).await?;
    let schema = Arc::new(frame.schema().as_arrow().clone());
    let found = frame.collect().await?;
    let enriched = enrich(ctx, schema, found.clone(), params, lookback).await?;
    let schema = Arc::new(enriched.schema().as_arrow().clone());
    let (kept, counts) = exclusions
        .apply(ctx, &schema, enriched.collect().await?)
        .await?;
    Ok(Excluded {
        found,
        kept,
        counts,
    })
}
