//! The hunt "short-window sign-in mismatch" (docs/hunt.md). Its logic lives in one place, the SQL
//! file `sql/short_window_signin_mismatch.sql`; this module binds its parameters as typed
//! values (never splicing user text into SQL) and runs it on a session over the lake. Two
//! companions take the same parameters for benchmarks: the hand-bucketed rewrite users would
//! otherwise write, and the scan floor.

mod empty;
mod incremental;
mod record;
mod sentinel;

pub use empty::notes as why_empty;
pub use incremental::Incremental;
pub use record::{Run, with_run};
pub use sentinel::{QUERY_NAME, write_sentinel};

use datafusion::arrow::datatypes::IntervalMonthDayNano;
use datafusion::dataframe::DataFrame;
use datafusion::error::Result;
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use serde::{Deserialize, Serialize};

/// A query over the lake that takes the hunt's parameters: `$1` start, `$2` end, `$3` window,
/// `$4` time column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HuntQuery {
    /// The hunt, a plain range join.
    Hunt,
    /// The hunt joined on user and window-sized time buckets, then filtered: same rows.
    Bucketed,
    /// The hunt's columns and row filters without the join: a row count per table.
    ScanFloor,
}

impl HuntQuery {
    pub fn sql(self) -> &'static str {
        match self {
            HuntQuery::Hunt => include_str!("../../sql/short_window_signin_mismatch.sql"),
            HuntQuery::Bucketed => {
                include_str!("../../sql/short_window_signin_mismatch_bucketed.sql")
            }
            HuntQuery::ScanFloor => include_str!("../../sql/scan_floor.sql"),
        }
    }
}

/// The output columns of docs/hunt.md rule 8, in order.
pub const COLUMNS: [&str; 14] = [
    "InteractiveTime",
    "NonInteractiveTime",
    "TimeDeltaSeconds",
    "UserPrincipalName",
    "AccountName",
    "AccountUPNSuffix",
    "InteractiveIP",
    "NonInteractiveIP",
    "InteractiveASN",
    "NonInteractiveASN",
    "InteractiveAppDisplayName",
    "NonInteractiveAppDisplayName",
    "InteractiveCorrelationId",
    "NonInteractiveCorrelationId",
];

/// Without `--start`/`--end` the whole lake is hunted: these bounds hold every date a
/// nanosecond timestamp can express with room for the window.
const EARLIEST: i64 = -9_000_000_000_000_000_000;
const LATEST: i64 = 9_000_000_000_000_000_000;

/// The column whose time the hunt filters, windows and reports (docs/hunt.md rule 11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TimeColumn {
    #[default]
    TimeGenerated,
    CreatedDateTime,
}

impl crate::choice::Choice for TimeColumn {
    const OFFERED: &'static [(Self, &'static str, &'static str)] = &[
        (
            TimeColumn::TimeGenerated,
            "TimeGenerated",
            "When Log Analytics received the record (the lake's partitions and order follow it)",
        ),
        (
            TimeColumn::CreatedDateTime,
            "CreatedDateTime",
            "When the sign-in happened by Entra ID's clock; every date of the lake is read",
        ),
    ];
}

impl TimeColumn {
    pub fn name(self) -> &'static str {
        match self {
            TimeColumn::TimeGenerated => "TimeGenerated",
            TimeColumn::CreatedDateTime => "CreatedDateTime",
        }
    }
}

/// The hunt's parameters, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HuntParams {
    /// Inclusive, ns since the epoch, UTC.
    pub start: Option<i64>,
    /// Inclusive, ns since the epoch, UTC.
    pub end: Option<i64>,
    /// Positive, in ns.
    pub window: i64,
    pub time_column: TimeColumn,
}

impl Default for HuntParams {
    fn default() -> Self {
        HuntParams {
            start: None,
            end: None,
            window: 10 * 60 * 1_000_000_000,
            time_column: TimeColumn::default(),
        }
    }
}

impl HuntParams {
    /// `$1` start, `$2` end, `$3` window, `$4` time column, as the SQL files take them.
    pub(crate) fn values(&self) -> Vec<ScalarValue> {
        let time = |nanos| ScalarValue::TimestampNanosecond(Some(nanos), Some("UTC".into()));
        vec![
            time(self.start.unwrap_or(EARLIEST)),
            time(self.end.unwrap_or(LATEST)),
            ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(0, 0, self.window))),
            ScalarValue::from(self.time_column.name()),
        ]
    }
}

/// Plans the hunt on `ctx` (whose catalog holds the lake's tables).
///
/// # Errors
/// Planning errors (a table missing from the catalog, an invalid SQL file).
pub async fn plan(ctx: &SessionContext, params: &HuntParams) -> Result<DataFrame> {
    plan_query(ctx, HuntQuery::Hunt, params).await
}

/// Plans `query` on `ctx` with the hunt's parameters.
///
/// # Errors
/// As [`plan`].
pub async fn plan_query(
    ctx: &SessionContext,
    query: HuntQuery,
    params: &HuntParams,
) -> Result<DataFrame> {
    ctx.sql(query.sql())
        .await?
        .with_param_values(params.values())
}
