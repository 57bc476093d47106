//! Why a hunt found nothing. "0 rows" reads as "no compromise"; when the cause is the question
//! asked rather than the data (a range outside the lake, a table empty in the range, a time
//! column no row fills), the user is told on standard error. Only run when the hunt is empty.

use chrono::{DateTime, NaiveDate};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Int64Type, TimestampNanosecondType};
use datafusion::error::Result;
use datafusion::prelude::SessionContext;

use super::HuntParams;
use crate::schema::Table;

/// What one table holds of the hunt's question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Holding {
    rows: i64,
    /// Rows whose hunted time column is set.
    timed: i64,
    in_range: i64,
    /// In the range and successful (`ResultType` 0), as the hunt requires.
    successes: i64,
    first: Option<i64>,
    last: Option<i64>,
}

/// Notes that explain an empty result; none when the data simply holds no pair. `span` is the
/// first and last date of the lake's files.
///
/// # Errors
/// A failing count query.
pub async fn notes(
    ctx: &SessionContext,
    params: &HuntParams,
    span: Option<(NaiveDate, NaiveDate)>,
) -> Result<Vec<String>> {
    let column = params.time_column.name();
    let mut notes = Vec::new();
    let mut holdings = Vec::new();
    for table in Table::USERS {
        let sql = format!(
            "SELECT count(*), count({column}), \
                    count(*) FILTER (WHERE {column} BETWEEN $1 AND $2), \
                    count(*) FILTER (WHERE {column} BETWEEN $1 AND $2 AND ResultType = '0'), \
                    CAST(min({column}) AS TIMESTAMP(9)), CAST(max({column}) AS TIMESTAMP(9)) \
             FROM {}",
            table.name()
        );
        let values = params.values();
        let batches = ctx
            .sql(&sql)
            .await?
            .with_param_values(values[..2].to_vec())?
            .collect()
            .await?;
        holdings.push((table, holding(&batches)));
    }
    let range = describe_range(params);
    let outside = holdings.iter().all(|(_, h)| h.in_range == 0);
    if outside
        && params.time_column == super::TimeColumn::TimeGenerated
        && let Some((first, last)) = span
    {
        notes.push(format!(
            "the hunt's range ({range}) does not overlap the lake's dates ({first} to {last})"
        ));
    }
    for (table, holding) in holdings {
        let table = table.name();
        let note = if holding.rows == 0 {
            format!("{table} holds no rows: the hunt needs both tables")
        } else if holding.timed == 0 {
            format!(
                "{column} is empty in all {} rows of {table}: a hunt on it finds nothing (hunt \
                 on TimeGenerated instead)",
                holding.rows
            )
        } else if holding.in_range == 0 {
            format!(
                "{table} holds no rows with {column} in the hunt's range ({range}); its rows run \
                 from {} to {}",
                time(holding.first),
                time(holding.last)
            )
        } else if holding.successes == 0 {
            format!(
                "{table} holds {} rows in the hunt's range, none a successful sign-in \
                 (ResultType 0)",
                holding.in_range
            )
        } else {
            continue;
        };
        notes.push(note);
    }
    Ok(notes)
}

fn holding(batches: &[RecordBatch]) -> Holding {
    let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Holding::default();
    };
    let count = |i: usize| batch.column(i).as_primitive::<Int64Type>().value(0);
    let time = |i: usize| {
        let times = batch.column(i).as_primitive::<TimestampNanosecondType>();
        times.is_valid(0).then(|| times.value(0))
    };
    Holding {
        rows: count(0),
        timed: count(1),
        in_range: count(2),
        successes: count(3),
        first: time(4),
        last: time(5),
    }
}

fn describe_range(params: &HuntParams) -> String {
    match (params.start, params.end) {
        (None, None) => "the whole lake".into(),
        (start, end) => format!(
            "{} to {}",
            start.map_or("the start".into(), |t| time(Some(t))),
            end.map_or("the end".into(), |t| time(Some(t)))
        ),
    }
}

fn time(nanos: Option<i64>) -> String {
    nanos.map_or("-".into(), |nanos| {
        DateTime::from_timestamp_nanos(nanos)
            .format("%Y-%m-%dT%H:%M:%S%.fZ")
            .to_string()
    })
}
