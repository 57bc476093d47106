//! Evidence for each finding, from the lake (`sql/enrich.sql`): whether the non-interactive
//! ASN and IP were seen for the user in the lookback, how many users the ASN serves, how many
//! mismatches the user has, and the `Score` that orders the findings (docs/hunt.md rule 12).

use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, UInt64Array};
use datafusion::arrow::datatypes::IntervalMonthDayNano;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::dataframe::DataFrame;
use datafusion::error::{DataFusionError, Result};
use datafusion::prelude::SessionContext;

use crate::hunt::HuntParams;

const ENRICH_SQL: &str = include_str!("../../sql/enrich.sql");
const DAY: i64 = 86_400 * 1_000_000_000;

/// How far back "seen before" and tenant prevalence look: at least a day (the evidence query
/// is exact only then), in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookback(i64);

impl Lookback {
    /// # Errors
    /// Under a day.
    pub fn new(nanos: i64) -> std::result::Result<Lookback, String> {
        if nanos < DAY {
            return Err("the lookback must be at least a day (e.g. 30d)".into());
        }
        Ok(Lookback(nanos))
    }
}

/// The hunt's `findings` (all of `schema`) with the evidence columns after the 14 of
/// docs/hunt.md rule 8, ordered by `Score` descending, then rule 9.
///
/// # Errors
/// Planning and execution errors.
pub async fn enrich(
    ctx: &SessionContext,
    schema: SchemaRef,
    findings: Vec<RecordBatch>,
    params: &HuntParams,
    lookback: Lookback,
) -> Result<DataFrame> {
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("FindingId", DataType::UInt64, false));
    let numbered_schema = Arc::new(Schema::new(fields));
    let mut next = 0u64;
    let numbered = findings
        .into_iter()
        .map(|batch| {
            let ids = UInt64Array::from_iter_values(next..next + batch.num_rows() as u64);
            next += batch.num_rows() as u64;
            let mut columns = batch.columns().to_vec();
            columns.push(Arc::new(ids));
            RecordBatch::try_new(numbered_schema.clone(), columns)
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let table = super::findings_table(numbered_schema, numbered)?;
    if ctx.table_exist("findings")? {
        return Err(DataFusionError::Plan(
            "the lake has a table named findings, which enrichment needs for the hunt's rows"
                .into(),
        ));
    }
    ctx.register_table("findings", Arc::new(table))?;
    // The hunt's parameters, with the lookback in the window's place.
    let mut values = params.values();
    values[2] =
        ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(0, 0, lookback.0)));
    ctx.sql(ENRICH_SQL).await?.with_param_values(values)
}
