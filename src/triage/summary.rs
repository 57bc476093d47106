//! `hunt --summary`: one row per user over the triaged findings (`sql/summary.sql`).

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::Result;

use datafusion::prelude::SessionContext;

use crate::engine::{Engine, session_with};

const SUMMARY_SQL: &str = include_str!("../../sql/summary.sql");

/// Summarises enriched findings (they need `Score`) into their schema and rows, in a session
/// of its own that shares `hunt`'s configuration and memory pool (so `--memory-limit` holds).
///
/// # Errors
/// Findings without the enrichment columns; execution errors.
pub async fn summarize(
    hunt: &SessionContext,
    schema: SchemaRef,
    findings: Vec<RecordBatch>,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let ctx = session_with(Engine::Sql, hunt.copied_config(), hunt.runtime_env());
    ctx.register_table(
        "findings",
        Arc::new(super::findings_table(schema, findings)?),
    )?;
    let frame = ctx.sql(SUMMARY_SQL).await?;
    let schema = Arc::new(frame.schema().as_arrow().clone());
    Ok((schema, frame.collect().await?))
}
