//! The investigation report of a hunt's run (`--format html`): the users ranked as
//! `--summary` ranks them, and for the top users their sign-ins around their findings, read
//! from the lake, with each finding's enrichment and Sentinel entities.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use anyhow::Context;
use datafusion::arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit, TimestampNanosecondType};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::scalar::ScalarValue;

use super::hunt::HuntOutput;
use super::lake::OpenLake;
use super::sink::query_failed;
use crate::hunt::{HuntParams, write_sentinel};
use crate::output::{Pair, Report, SignIn, Table, TextSafety, Timeline};
use crate::schema::Table as LakeTable;
use crate::triage;

/// An hour either side of a user's findings.
const AROUND: i64 = 3_600 * 1_000_000_000;

/// The enrichment's facts shown beside a finding, when the run has them.
const FACTS: [(&str, &str); 4] = [
    ("Score", "score"),
    ("NonInteractiveAsnSeenBefore", "network seen before"),
    ("NonInteractiveIpSeenBefore", "IP seen before"),
    ("AsnTenantUsers", "users on the network"),
];

/// What the report says of the run itself.
#[derive(Debug, Clone, Default)]
pub struct RunFacts {
    /// Name and value, in order: lake, range, window, engine, when, command line.
    pub run: Vec<(String, String)>,
    /// Users given a timeline.
    pub top_users: usize,
}

/// The report of `found` (a hunt's run over `lake`, enriched: the ranking is by score).
///
/// # Errors
/// Ranking the users, or reading their sign-ins from the lake.
pub async fn report(
    lake: &OpenLake,
    found: &HuntOutput,
    facts: RunFacts,
) -> anyhow::Result<Report> {
    let (schema, findings) = (&found.found.0, &found.found.1);
    let (summary_schema, summary) =
        triage::summarize(&lake.local, Arc::clone(schema), findings.clone())
            .await
            .map_err(query_failed)?;
    let users = table(&summary_schema, &summary)?;
    let top: HashSet<&str> = users
        .rows
        .iter()
        .take(facts.top_users)
        .map(|row| row[0].as_str())
        .collect();
    let by_user = findings_by_user(schema, findings, &top)?;
    let mut timelines = Vec::new();
    for row in users.rows.iter().take(facts.top_users) {
        let user = &row[0];
        let Some(pairs) = by_user.get(user) else {
            continue;
        };
        timelines.push(timeline(lake, &found.params, user, pairs.clone()).await?);
    }
    let exclusions = found
        .excluded
        .iter()
        .map(|count| (count.name.clone(), count.rows, count.reason.clone()))
        .collect();
    Ok(Report {
        title: "retrohunt: short-window sign-in mismatch".into(),
        run: facts.run,
        exclusions,
        users,
        timelines,
    })
}

/// `batches` as text, every column formatted as `--format table` shows it.
fn table(schema: &SchemaRef, batches: &[RecordBatch]) -> anyhow::Result<Table> {
    let options = FormatOptions::default().with_null("");
    let mut rows = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|column| ArrayFormatter::try_new(column.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .map(|f| f.value(row).to_string())
                    .collect(),
            );
        }
    }
    Ok(Table {
        columns: schema.fields().iter().map(|f| f.name().clone()).collect(),
        rows,
    })
}

/// The findings of the users in `top`: the pair's times, the enrichment's facts and the
/// Sentinel entities. Only their rows are read further: a run may hold millions of findings.
fn findings_by_user(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    top: &HashSet<&str>,
) -> anyhow::Result<BTreeMap<String, Vec<Pair>>> {
    let mut users: BTreeMap<String, Vec<Pair>> = BTreeMap::new();
    let user_column = schema.index_of("UserPrincipalName")?;
    for batch in batches {
        let named = cast(batch.column(user_column), &DataType::Utf8)?;
        let named = named.as_string::<i32>();
        let wanted: BooleanArray = (0..named.len())
            .map(|i| Some(named.is_valid(i) && top.contains(named.value(i))))
            .collect();
        let batch = &filter_record_batch(batch, &wanted)?;
        if batch.num_rows() == 0 {
            continue;
        }
        let times = |name: &str| -> anyhow::Result<Vec<i64>> {
            let column = cast(
                batch.column(schema.index_of(name)?),
                &DataType::Timestamp(TimeUnit::Nanosecond, None),
            )?;
            Ok(column
                .as_primitive::<TimestampNanosecondType>()
                .iter()
                .map(|t| t.unwrap_or_default())
                .collect())
        };
        let texts = |name: &str| -> anyhow::Result<Option<Vec<String>>> {
            let Ok(index) = schema.index_of(name) else {
                return Ok(None);
            };
            let column = cast(batch.column(index), &DataType::Utf8)?;
            let column = column.as_string::<i32>();
            Ok(Some(
                (0..column.len())
                    .map(|i| {
                        if column.is_valid(i) {
                            column.value(i)
                        } else {
                            ""
                        }
                        .to_owned()
                    })
                    .collect(),
            ))
        };
        let (interactive, other) = (times("InteractiveTime")?, times("NonInteractiveTime")?);
        let user = texts("UserPrincipalName")?.context("the findings lack UserPrincipalName")?;
        let facts: Vec<(&str, Vec<String>)> = FACTS
            .iter()
            .map(|(column, label)| Ok(texts(column)?.map(|values| (*label, values))))
            .collect::<anyhow::Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect();
        let mut sentinel = Vec::new();
        write_sentinel(
            TextSafety::Raw,
            schema,
            std::slice::from_ref(batch),
            &mut sentinel,
        )?;
        let entities = sentinel
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty());
        for (row, line) in entities.enumerate() {
            let bookmark: serde_json::Value = serde_json::from_slice(line)?;
            let entities = serde_json::to_string(&bookmark["EntityMappings"])?;
            users.entry(user[row].clone()).or_default().push(Pair {
                interactive: interactive[row],
                non_interactive: other[row],
                facts: facts
                    .iter()
                    .map(|(label, values)| ((*label).to_owned(), values[row].clone()))
                    .collect(),
                entities,
            });
        }
    }
    Ok(users)
}

/// `user`'s sign-ins in both tables from an hour before their first finding to an hour after
/// their last, as the hunt's time column places them.
async fn timeline(
    lake: &OpenLake,
    params: &HuntParams,
    user: &str,
    pairs: Vec<Pair>,
) -> anyhow::Result<Timeline> {
    let first = pairs
        .iter()
        .map(|p| p.interactive.min(p.non_interactive))
        .min();
    let last = pairs
        .iter()
        .map(|p| p.interactive.max(p.non_interactive))
        .max();
    let (from, to) = (
        first.unwrap_or_default().saturating_sub(AROUND),
        last.unwrap_or_default().saturating_add(AROUND),
    );
    let time = params.time_column.name();
    let at = |nanos: i64| ScalarValue::TimestampNanosecond(Some(nanos), Some("UTC".into()));
    let mut sign_ins = Vec::new();
    for table in LakeTable::USERS {
        let sql = format!(
            "SELECT {time} AS Time, IPAddress, AutonomousSystemNumber, AppDisplayName, \
             ResultType, LocationDetails FROM {} \
             WHERE UserKey = $1 AND {time} BETWEEN $2 AND $3 ORDER BY {time}",
            table.name()
        );
        let rows = lake
            .local
            .sql(&sql)
            .await?
            .with_param_values(vec![ScalarValue::from(user), at(from), at(to)])?
            .collect()
            .await
            .map_err(query_failed)?;
        for batch in &rows {
            let times = cast(
                batch.column(0),
                &DataType::Timestamp(TimeUnit::Nanosecond, None),
            )?;
            let times = times.as_primitive::<TimestampNanosecondType>();
            let text = |index: usize| -> anyhow::Result<Vec<String>> {
                let column = cast(batch.column(index), &DataType::Utf8)?;
                let column = column.as_string::<i32>();
                Ok((0..column.len())
                    .map(|i| column.value(i).to_owned())
                    .collect())
            };
            let (ip, asn, app, result, location) =
                (text(1)?, text(2)?, text(3)?, text(4)?, text(5)?);
            for row in 0..batch.num_rows() {
                let country = serde_json::from_str::<serde_json::Value>(&location[row])
                    .ok()
                    .and_then(|l| l["countryOrRegion"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                sign_ins.push(SignIn {
                    time: times.value(row),
                    interactive: table == LakeTable::Signin,
                    network: asn[row].clone(),
                    detail: format!(
                        "{} · AS{} · {} · {} · result {}",
                        ip[row], asn[row], country, app[row], result[row]
                    ),
                });
            }
        }
    }
    sign_ins.sort_by_key(|s| s.time);
    Ok(Timeline {
        user: user.to_owned(),
        from,
        to,
        sign_ins,
        pairs,
    })
}
