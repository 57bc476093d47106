//! The hunt "short-window sign-in mismatch" (SPEC §1). Its logic lives in one place, the SQL
//! file `sql/short_window_signin_mismatch.sql`; this module binds its parameters as typed
//! values (never splicing user text into SQL) and runs it on a session over the lake.

use clap::ValueEnum;
use datafusion::arrow::datatypes::IntervalMonthDayNano;
use datafusion::dataframe::DataFrame;
use datafusion::error::Result;
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

/// The hunt as SQL, with `$1` start, `$2` end, `$3` window, `$4` time column.
pub const HUNT_SQL: &str = include_str!("../../sql/short_window_signin_mismatch.sql");

/// The output columns of SPEC §1 rule 8, in order.
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

/// The column whose time the hunt filters, windows and reports (SPEC §1 rule 11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum TimeColumn {
    /// When Log Analytics received the record (the lake's partitions and order follow it).
    #[default]
    #[value(name = "TimeGenerated")]
    TimeGenerated,
    /// When the sign-in happened by Entra ID's clock; every date of the lake is read.
    #[value(name = "CreatedDateTime")]
    CreatedDateTime,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    fn values(&self) -> Vec<ScalarValue> {
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
    ctx.sql(HUNT_SQL).await?.with_param_values(params.values())
}
