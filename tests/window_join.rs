//! The window-join operator on joins users write themselves (not the hunt file): random
//! tables dense in the edge cases (null keys and times, duplicate times, one giant key, keys
//! spanning batches, empty sides), every bound spelling, checked against stock SQL and a
//! nested-loop reference, on in-memory tables and on time-cut Parquet files (the lake's shape,
//! joined time-aligned); which plans get the operator; memory bounded by the window; and plans
//! that survive protobuf serialisation.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray, TimestampNanosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::ListingOptions;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::physical_plan::{collect, displayable};
use datafusion::prelude::{SessionConfig, SessionContext, col};
use datafusion_proto::bytes::{
    logical_plan_from_bytes_with_extension_codec, logical_plan_to_bytes_with_extension_codec,
    physical_plan_from_bytes_with_extension_codec, physical_plan_to_bytes_with_extension_codec,
};
use proptest::prelude::*;

use retrohunt::engine::{Engine, session_with};

use crate::util::{pairs, pairs_in_order};
use retrohunt::operator::physical_codec;
use retrohunt::operator::window_join::WindowJoinLogicalCodec;

const SECOND: i64 = 1_000_000_000;

/// A row of `l` or `r`: key, time in seconds, a second key, a value, and its id.
#[derive(Debug, Clone)]
struct Row {
    key: Option<&'static str>,
    time: Option<i64>,
    group: i64,
    value: i64,
    id: i64,
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Utf8, true),
        Field::new("t", DataType::Timestamp(TimeUnit::Nanosecond, None), true),
        Field::new("g", DataType::Int64, false),
        Field::new("v", DataType::Int64, false),
        Field::new("id", DataType::Int64, false),
    ]))
}

/// How a test's tables are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// In memory, in no order.
    Unsorted,
    /// In memory, each partition in (k, t) order and declared so; keys span partitions.
    Sorted,
    /// A lake's shape: one Parquet file per partition, cut by time, each file in (k, t)
    /// order and declared so, with statistics (the time-aligned layout's input).
    TimeFiles,
}

/// Nulls last, as the operator requires.
fn sort_by_key_and_time(rows: &mut [Row]) {
    rows.sort_by_key(|r| (r.key.is_none(), r.key, r.time.is_none(), r.time));
}

/// `rows` as a table of `partitions` partitions, each in batches of `batch` rows. With
/// `sorted`, rows are put in (k, t) order and the table declares it.
fn table(rows: &[Row], partitions: usize, batch: usize, sorted: bool) -> MemTable {
    let mut rows = rows.to_vec();
    if sorted {
        sort_by_key_and_time(&mut rows);
    }
    let per_partition = rows.len().div_ceil(partitions).max(1);
    let mut parts: Vec<Vec<RecordBatch>> = rows
        .chunks(per_partition)
        .map(|part| part.chunks(batch).map(to_batch).collect())
        .collect();
    parts.resize(partitions.max(1), Vec::new());
    let table = MemTable::try_new(schema(), parts).unwrap();
    if sorted {
        table.with_sort_order(vec![vec![
            col("k").sort(true, false),
            col("t").sort(true, false),
        ]])
    } else {
        table
    }
}

/// `rows` cut by time into `partitions` Parquet files under `dir` (times in order, nulls in the
/// last; equal times may fall on both sides of a cut), each file sorted by (k, t), registered
/// as `name` with that order declared. Returns whether every file holds a time, i.e. whether
/// every partition's span is known.
async fn time_files(
    ctx: &SessionContext,
    name: &str,
    rows: &[Row],
    partitions: usize,
    batch: usize,
    dir: &Path,
) -> bool {
    let mut rows = rows.to_vec();
    rows.sort_by_key(|r| (r.time.is_none(), r.time));
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).unwrap();
    let per_file = rows.len().div_ceil(partitions).max(1);
    let mut every_file_has_a_time = rows.len() >= partitions;
    for (i, part) in rows.chunks(per_file).enumerate() {
        let mut part = part.to_vec();
        every_file_has_a_time &= part.iter().any(|r| r.time.is_some());
        sort_by_key_and_time(&mut part);
        let file = std::fs::File::create(folder.join(format!("{i:03}.parquet"))).unwrap();
        let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema(), None).unwrap();
        for rows in part.chunks(batch) {
            writer.write(&to_batch(rows)).unwrap();
        }
        writer.close().unwrap();
    }
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_file_sort_order(vec![vec![
            col("k").sort(true, false),
            col("t").sort(true, false),
        ]]);
    ctx.register_listing_table(
        name,
        folder.to_str().unwrap(),
        options,
        Some(schema()),
        None,
    )
    .await
    .unwrap();
    every_file_has_a_time && rows.chunks(per_file).count() == partitions
}

fn to_batch(rows: &[Row]) -> RecordBatch {
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.key))),
            Arc::new(TimestampNanosecondArray::from_iter(
                rows.iter().map(|r| r.time.map(|t| t * SECOND)),
            )),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.group))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.value))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.id))),
        ],
    )
    .unwrap()
}

/// A band join as a user writes it, and the same condition for the reference: does right row
/// `r` match left row `l` (keys already equal and non-null, times non-null)?
struct Query {
    sql: &'static str,
    matches: fn(&Row, &Row, i64, i64) -> bool,
}

const QUERIES: [Query; 5] = [
    Query {
        sql: "SELECT l.id, r.id FROM l JOIN r ON l.k = r.k \
              AND r.t BETWEEN l.t - INTERVAL '2 seconds' AND l.t + INTERVAL '3 seconds'",
        matches: |_, _, lt, rt| lt - 2 <= rt && rt <= lt + 3,
    },
    Query {
        sql: "SELECT l.id, r.id FROM l JOIN r ON l.k = r.k \
              WHERE r.t > l.t - INTERVAL '2 seconds' AND l.t + INTERVAL '3 seconds' > r.t",
        matches: |_, _, lt, rt| lt - 2 < rt && rt < lt + 3,
    },
    // Anchored on the right's time: r.t in [l.t - 5 s, l.t].
    Query {
        sql: "SELECT l.id, r.id FROM l JOIN r ON l.k = r.k \
              AND l.t BETWEEN r.t AND r.t + INTERVAL '5 seconds'",
        matches: |_, _, lt, rt| rt <= lt && lt <= rt + 5,
    },
    // A residual predicate, and a window of exactly one instant.
    Query {
        sql: "SELECT l.id, r.id FROM l JOIN r ON l.k = r.k \
              AND r.t >= l.t AND r.t <= l.t AND l.v <> r.v",
        matches: |l, r, lt, rt| lt == rt && l.value != r.value,
    },
    // Two keys.
    Query {
        sql: "SELECT l.id, r.id FROM l JOIN r ON l.k = r.k AND l.g = r.g \
              AND r.t BETWEEN l.t AND l.t + INTERVAL '4 seconds'",
        matches: |l, r, lt, rt| l.group == r.group && lt <= rt && rt <= lt + 4,
    },
];

fn reference(left: &[Row], right: &[Row], query: &Query) -> Vec<(i64, i64)> {
    let mut pairs = Vec::new();
    for l in left {
        for r in right {
            if let (Some(lk), Some(rk), Some(lt), Some(rt)) = (l.key, r.key, l.time, r.time)
                && lk == rk
                && (query.matches)(l, r, lt, rt)
            {
                pairs.push((l.id, r.id));
            }
        }
    }
    pairs.sort_unstable();
    pairs
}

#[derive(Debug, Clone, Copy)]
struct Setup {
    engine: Engine,
    /// The session's batch size: the operator's pairs per flush.
    batch: usize,
    /// Rows per input batch, apart from `batch`, so that a window spans many input batches
    /// while several left rows' pairs wait for one flush.
    input_batch: usize,
    partitions: usize,
    shape: Shape,
}

fn context(setup: Setup, runtime: Arc<RuntimeEnv>) -> SessionContext {
    let config = SessionConfig::new()
        .with_batch_size(setup.batch)
        .with_target_partitions(setup.partitions);
    session_with(setup.engine, config, runtime)
}

/// What a run found and how.
struct Outcome {
    /// (left id, right id), sorted.
    pairs: Vec<(i64, i64)>,
    /// (left id, right id), as the query returned them.
    in_order: Vec<(i64, i64)>,
    plan: String,
    /// Time files whose spans are all known (the time-aligned layout's precondition).
    spans_known: bool,
}

fn run(left: &[Row], right: &[Row], sql: &str, setup: Setup) -> Outcome {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    runtime.block_on(async {
        let ctx = context(setup, Arc::default());
        let (p, b) = (setup.partitions, setup.input_batch);
        let spans_known = match setup.shape {
            Shape::TimeFiles => {
                time_files(&ctx, "l", left, p, b, dir.path()).await
                    & time_files(&ctx, "r", right, p, b, dir.path()).await
            }
            Shape::Sorted | Shape::Unsorted => {
                let sorted = setup.shape == Shape::Sorted;
                ctx.register_table("l", Arc::new(table(left, p, b, sorted)))
                    .unwrap();
                ctx.register_table("r", Arc::new(table(right, p, b, sorted)))
                    .unwrap();
                false
            }
        };
        let frame = ctx.sql(sql).await.unwrap();
        let plan = frame.clone().create_physical_plan().await.unwrap();
        let plan = displayable(plan.as_ref()).indent(false).to_string();
        let batches = frame.collect().await.unwrap();
        Outcome {
            pairs: pairs(&batches),
            in_order: pairs_in_order(&batches),
            plan,
            spans_known,
        }
    })
}

fn row() -> impl Strategy<Value = Row> {
    (
        // "a" is the giant key.
        prop::sample::select(vec![
            Some("a"),
            Some("a"),
            Some("a"),
            Some("b"),
            Some("c"),
            None,
        ]),
        prop::option::weighted(0.95, 0..20i64),
        0..2i64,
        0..3i64,
    )
        .prop_map(|(key, time, group, value)| Row {
            key,
            time,
            group,
            value,
            id: 0,
        })
}

fn numbered(mut rows: Vec<Row>) -> Vec<Row> {
    for (i, row) in rows.iter_mut().enumerate() {
        row.id = i as i64;
    }
    rows
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn operator_sql_and_reference_agree(
        left in prop::collection::vec(row(), 0..40),
        right in prop::collection::vec(row(), 0..60),
        query in 0..QUERIES.len(),
        batch in prop::sample::select(vec![1usize, 3, 13, 8192]),
        input_batch in prop::sample::select(vec![1usize, 2, 8192]),
        partitions in prop::sample::select(vec![1usize, 3]),
        shape in prop::sample::select(vec![Shape::Unsorted, Shape::Sorted, Shape::TimeFiles]),
    ) {
        let (left, right) = (numbered(left), numbered(right));
        let query = &QUERIES[query];
        let expected = reference(&left, &right, query);
        let setup = Setup { engine: Engine::Operator, batch, input_batch, partitions, shape };
        let found = run(&left, &right, query.sql, setup);
        let plan = &found.plan;
        prop_assert!(plan.contains("WindowJoinExec"), "{}", plan);
        // Time files with known spans (at most 3, so no partner is read more than 3 times)
        // are joined time-aligned, straight from the files.
        if found.spans_known {
            prop_assert!(plan.contains("time-aligned"), "{}", plan);
            prop_assert!(!plan.contains("RepartitionExec"), "{}", plan);
        }
        prop_assert_eq!(&found.pairs, &expected, "{}", plan);
        let stock = Setup { engine: Engine::Sql, ..setup };
        prop_assert_eq!(&run(&left, &right, query.sql, stock).pairs, &expected);
    }
}

/// One row per key of `rows` (non-null keys): its latest time and its least id, as
/// `SELECT k, max(t) AS t, min(id) AS id ... GROUP BY k` gives them.
fn latest_per_key(rows: &[Row]) -> Vec<Row> {
    let mut by_key: std::collections::BTreeMap<&str, Row> = std::collections::BTreeMap::new();
    for row in rows {
        let Some(key) = row.key else { continue };
        let latest = by_key.entry(key).or_insert(Row {
            time: None,
            id: row.id,
            ..*row
        });
        latest.time = latest.time.max(row.time);
        latest.id = latest.id.min(row.id);
    }
    by_key.into_values().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// A side with one row per key (an aggregate by the key) is held and probed, on either
    /// side: no shuffle, no sort, and the pairs of a nested loop over the same rows.
    #[test]
    fn a_side_unique_on_the_key_is_probed(
        left in prop::collection::vec(row(), 0..40),
        right in prop::collection::vec(row(), 0..60),
        latest_on_the_right in any::<bool>(),
        batch in prop::sample::select(vec![1usize, 3, 8192]),
        input_batch in prop::sample::select(vec![1usize, 8192]),
        partitions in prop::sample::select(vec![1usize, 3]),
        shape in prop::sample::select(vec![Shape::Unsorted, Shape::Sorted, Shape::TimeFiles]),
    ) {
        let (left, right) = (numbered(left), numbered(right));
        let (sql, expected) = if latest_on_the_right {
            let sql = "SELECT l.id, r.id FROM l JOIN \
                       (SELECT k, max(t) AS t, min(id) AS id FROM r GROUP BY k) r \
                       ON l.k = r.k AND r.t BETWEEN l.t - INTERVAL '3 seconds' AND l.t";
            let query = Query { sql, matches: |_, _, lt, rt| lt - 3 <= rt && rt <= lt };
            (sql, reference(&left, &latest_per_key(&right), &query))
        } else {
            let sql = "SELECT l.id, r.id FROM \
                       (SELECT k, max(t) AS t, min(id) AS id FROM l GROUP BY k) l \
                       JOIN r ON l.k = r.k AND r.t BETWEEN l.t AND l.t + INTERVAL '4 seconds'";
            let query = Query { sql, matches: |_, _, lt, rt| lt <= rt && rt <= lt + 4 };
            (sql, reference(&latest_per_key(&left), &right, &query))
        };
        let setup = Setup { engine: Engine::Operator, batch, input_batch, partitions, shape };
        let found = run(&left, &right, sql, setup);
        let plan = &found.plan;
        prop_assert!(plan.contains("layout=probe"), "{}", plan);
        let join = plan.find("WindowJoinExec").unwrap();
        prop_assert!(!plan[join..].contains("SortExec:"), "{}", plan);
        prop_assert_eq!(&found.pairs, &expected, "{}", plan);
        let stock = Setup { engine: Engine::Sql, ..setup };
        prop_assert_eq!(&run(&left, &right, sql, stock).pairs, &expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// A key-partitioned join keeps its left input's (key, time) order, and says so: an
    /// `ORDER BY` on it needs no sort of its own, and the rows still come out in that order.
    #[test]
    fn an_order_the_join_keeps_is_not_sorted_again(
        left in prop::collection::vec(row(), 0..40),
        right in prop::collection::vec(row(), 0..60),
        batch in prop::sample::select(vec![1usize, 3, 8192]),
        input_batch in prop::sample::select(vec![1usize, 8192]),
        partitions in prop::sample::select(vec![1usize, 3]),
        shape in prop::sample::select(vec![Shape::Unsorted, Shape::Sorted]),
    ) {
        let (left, right) = (numbered(left), numbered(right));
        let sql = "SELECT l.id, r.id FROM l JOIN r ON l.k = r.k \
                   AND r.t BETWEEN l.t AND l.t + INTERVAL '4 seconds' ORDER BY r.k, l.t";
        let query = Query { sql, matches: |_, _, lt, rt| lt <= rt && rt <= lt + 4 };
        let setup = Setup { engine: Engine::Operator, batch, input_batch, partitions, shape };
        let found = run(&left, &right, sql, setup);
        let plan = &found.plan;
        prop_assert!(plan.contains("layout=key-partitioned"), "{}", plan);
        // The only sorts are below the join, of its inputs.
        let join = plan.find("WindowJoinExec").unwrap();
        prop_assert!(!plan[..join].contains("SortExec:"), "{}", plan);
        prop_assert_eq!(&found.pairs, &reference(&left, &right, &query), "{}", plan);
        // `r.k = l.k` in every row, so (r.k, l.t) is the left's (key, time).
        let key_time = |id: i64| {
            let row = &left[id as usize];
            (row.key, row.time)
        };
        let order: Vec<_> = found.in_order.iter().map(|&(l, _)| key_time(l)).collect();
        prop_assert!(order.is_sorted(), "{:?}\n{}", order, plan);
    }
}

fn plan_of(sql: &str, engine: Engine) -> String {
    let rows = numbered(vec![Row {
        key: Some("a"),
        time: Some(1),
        group: 0,
        value: 0,
        id: 0,
    }]);
    let setup = Setup {
        engine,
        batch: 8192,
        input_batch: 8192,
        partitions: 2,
        shape: Shape::Sorted,
    };
    run(&rows, &rows, sql, setup).plan
}

#[test]
fn band_joins_get_the_operator_and_other_joins_do_not() {
    for query in &QUERIES {
        let plan = plan_of(query.sql, Engine::Operator);
        assert!(plan.contains("WindowJoinExec"), "{}\n{plan}", query.sql);
        assert!(!plan.contains("HashJoinExec"), "{plan}");
        // The stock engine never uses it.
        assert!(!plan_of(query.sql, Engine::Sql).contains("WindowJoinExec"));
    }
    let not_bands = [
        // Only one bound: not a window.
        "SELECT l.id, r.id FROM l JOIN r ON l.k = r.k AND r.t >= l.t",
        // No time condition.
        "SELECT l.id, r.id FROM l JOIN r ON l.k = r.k",
        // Bounds on two different pairs of columns.
        "SELECT l.id, r.id FROM l JOIN r ON l.k = r.k AND r.t >= l.t AND r.id <= l.id",
        // Not an inner join.
        "SELECT l.id, r.id FROM l LEFT JOIN r ON l.k = r.k \
         AND r.t BETWEEN l.t AND l.t + INTERVAL '1 second'",
        // No equality key.
        "SELECT l.id, r.id FROM l JOIN r ON r.t BETWEEN l.t AND l.t + INTERVAL '1 second'",
        // A month has no fixed length.
        "SELECT l.id, r.id FROM l JOIN r ON l.k = r.k \
         AND r.t BETWEEN l.t AND l.t + INTERVAL '1 month'",
    ];
    for sql in not_bands {
        let plan = plan_of(sql, Engine::Operator);
        assert!(!plan.contains("WindowJoinExec"), "{sql}\n{plan}");
    }
}

/// Pre-sorted input whose one key holds ~300,000 right rows (over 10 MB as Arrow) against a
/// 4 MB pool: the operator holds only each window (a few rows) and succeeds; with a window
/// that spans the whole key it stops with a resources error that says what to do.
#[test]
fn memory_stays_bounded_by_the_window_not_the_key() {
    let left: Vec<Row> = numbered(
        (0..300)
            .map(|i| Row {
                key: Some("giant"),
                time: Some(i * 1_000),
                group: 0,
                value: 0,
                id: 0,
            })
            .collect(),
    );
    let right: Vec<Row> = numbered(
        (0..300_000)
            .map(|t| Row {
                key: Some("giant"),
                time: Some(t),
                group: 0,
                value: 1,
                id: 0,
            })
            .collect(),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let limit = 4 * 1024 * 1024;
    let join = |sql: &'static str| {
        runtime.block_on(async {
            let pool = RuntimeEnvBuilder::new()
                .with_memory_limit(limit, 1.0)
                .build_arc()
                .unwrap();
            let setup = Setup {
                engine: Engine::Operator,
                batch: 1024,
                input_batch: 1024,
                partitions: 1,
                shape: Shape::Sorted,
            };
            let ctx = context(setup, pool);
            ctx.register_table("l", Arc::new(table(&left, 1, 1024, true)))
                .unwrap();
            ctx.register_table("r", Arc::new(table(&right, 1, 1024, true)))
                .unwrap();
            let frame = ctx.sql(sql).await.unwrap();
            let plan = frame.clone().create_physical_plan().await.unwrap();
            let plan_text = displayable(plan.as_ref()).indent(false).to_string();
            assert!(
                plan_text.contains("WindowJoinExec") && !plan_text.contains("SortExec"),
                "{plan_text}"
            );
            frame.collect().await.map(|batches| pairs(&batches))
        })
    };
    let found = join(
        "SELECT l.id, r.id FROM l JOIN r ON l.k = r.k \
         AND r.t BETWEEN l.t AND l.t + INTERVAL '2 seconds'",
    )
    .unwrap();
    // Left row i at 1000·i meets right rows 1000·i, +1, +2 (right ids equal their times).
    let expected: Vec<(i64, i64)> = (0..300)
        .flat_map(|i| (0..3).map(move |d| (i, i * 1_000 + d)))
        .collect();
    assert_eq!(found, expected);

    let error = join(
        "SELECT l.id, r.id FROM l JOIN r ON l.k = r.k \
         AND r.t BETWEEN l.t AND l.t + INTERVAL '1 day'",
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("WindowJoin") && error.contains("raise the limit"),
        "{error}"
    );
}

/// The plan Ballista would ship: the logical node and the physical operator go through
/// datafusion-proto with the window join's codecs, and the decoded plans still run on the
/// operator and return the same, hand-computed rows.
#[test]
fn plans_round_trip_through_protobuf() {
    let row = |key, time, value, id| Row {
        key: Some(key),
        time: Some(time),
        group: 0,
        value,
        id,
    };
    let left = [row("a", 10, 0, 0), row("a", 20, 1, 1), row("b", 5, 0, 2)];
    let right = [
        row("a", 10, 1, 0),
        row("a", 12, 0, 1),
        row("a", 25, 0, 2),
        row("b", 5, 1, 3),
        row("b", 6, 0, 4),
    ];
    // By hand, r.t in [l.t, l.t + 5 s] with different values: l0 meets r0 (r1 has the same
    // value), l1 meets r2 at exactly +5 s, l2 meets r3 (r4 has the same value).
    let expected = vec![(0, 0), (1, 2), (2, 3)];
    let sql = "SELECT l.id, r.id FROM l JOIN r ON l.k = r.k \
               AND r.t BETWEEN l.t AND l.t + INTERVAL '5 seconds' AND l.v <> r.v";
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let setup = Setup {
            engine: Engine::Operator,
            batch: 2,
            input_batch: 2,
            partitions: 2,
            shape: Shape::TimeFiles,
        };
        let ctx = context(setup, Arc::default());
        assert!(time_files(&ctx, "l", &left, 2, 2, dir.path()).await);
        assert!(time_files(&ctx, "r", &right, 2, 2, dir.path()).await);
        let frame = ctx.sql(sql).await.unwrap();
        assert_eq!(pairs(&frame.clone().collect().await.unwrap()), expected);

        let logical = frame.clone().into_optimized_plan().unwrap();
        let codec = WindowJoinLogicalCodec;
        let bytes = logical_plan_to_bytes_with_extension_codec(&logical, &codec).unwrap();
        let decoded =
            logical_plan_from_bytes_with_extension_codec(&bytes, &ctx.task_ctx(), &codec).unwrap();
        assert!(
            decoded
                .display_indent()
                .to_string()
                .contains("WindowJoin: on="),
            "{decoded}"
        );
        let batches = ctx
            .execute_logical_plan(decoded)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(pairs(&batches), expected);

        let physical = frame.create_physical_plan().await.unwrap();
        let codec = physical_codec();
        let bytes = physical_plan_to_bytes_with_extension_codec(physical.clone(), &codec).unwrap();
        let decoded =
            physical_plan_from_bytes_with_extension_codec(&bytes, &ctx.task_ctx(), &codec).unwrap();
        // The operator's line (keys, window, residual, layout) survives; DataFusion's proto
        // drops a scan hint of its own (`sort_order_for_reorder`), so the scans are not
        // compared. The decoded join reads the files' partitions time-aligned, as planned.
        let join_line = |plan: &dyn datafusion::physical_plan::ExecutionPlan| {
            let text = displayable(plan).indent(false).to_string();
            text.lines()
                .find(|line| line.contains("WindowJoinExec"))
                .map(str::to_string)
        };
        let line = join_line(decoded.as_ref()).unwrap_or_default();
        assert!(line.contains("layout=time-aligned"), "{line}");
        assert_eq!(join_line(decoded.as_ref()), join_line(physical.as_ref()));
        let batches = collect(decoded, ctx.task_ctx()).await.unwrap();
        assert_eq!(pairs(&batches), expected);

        // The probe layout travels too. Per key of r, the latest time and least id: a at
        // 25 s (id 0), b at 6 s (id 3); within [l.t, l.t + 5 s] of l1 (a, 20 s) and of
        // l2 (b, 5 s), not of l0 (a, 10 s).
        let sql = "SELECT l.id, r.id FROM l JOIN \
                   (SELECT k, max(t) AS t, min(id) AS id FROM r GROUP BY k) r \
                   ON l.k = r.k AND r.t BETWEEN l.t AND l.t + INTERVAL '5 seconds'";
        let physical = ctx
            .sql(sql)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let bytes = physical_plan_to_bytes_with_extension_codec(physical.clone(), &codec).unwrap();
        let decoded =
            physical_plan_from_bytes_with_extension_codec(&bytes, &ctx.task_ctx(), &codec).unwrap();
        let line = join_line(decoded.as_ref()).unwrap_or_default();
        assert!(line.contains("layout=probe"), "{line}");
        assert_eq!(join_line(decoded.as_ref()), join_line(physical.as_ref()));
        let batches = collect(decoded, ctx.task_ctx()).await.unwrap();
        assert_eq!(pairs(&batches), vec![(1, 0), (2, 3)]);
    });
}

/// The rest of DataFusion's contract for a join, on the lake's shape (time-aligned) and on
/// sorted memory tables (key-partitioned): a projection of plain columns above the join goes
/// below it, one to each side, renaming kept, and the rows stay the nested-loop reference's;
/// a projection that drops a column the join reads stays above. The join's statistics leave
/// its row count unknown and carry its inputs' column ranges, inexact.
#[test]
fn projections_go_below_the_join_and_statistics_come_from_its_inputs() {
    use datafusion::common::ScalarValue;
    use datafusion::common::stats::Precision;
    use datafusion::physical_expr::expressions::Column;
    use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};
    use datafusion::physical_plan::{ExecutionPlan, StatisticsArgs, StatisticsContext};
    use retrohunt::operator::window_join::WindowJoinExec;

    fn find_join(plan: &Arc<dyn ExecutionPlan>) -> Option<Arc<dyn ExecutionPlan>> {
        if plan.downcast_ref::<WindowJoinExec>().is_some() {
            return Some(Arc::clone(plan));
        }
        plan.children().into_iter().find_map(find_join)
    }
    let rows = |seed: i64| -> Vec<Row> {
        numbered(
            (0..60)
                .map(|i| Row {
                    key: Some(["a", "b", "c"][(i % 3) as usize]),
                    time: Some((i * 7 + seed) % 40),
                    group: 0,
                    value: (i + seed) % 4,
                    id: 0,
                })
                .collect(),
        )
    };
    let (left, right) = (rows(0), rows(3));
    let expected = reference(
        &left,
        &right,
        &Query {
            sql: "",
            matches: |l, r, lt, rt| lt <= rt && rt <= lt + 4 && l.value != r.value,
        },
    );
    assert!(expected.len() > 20, "{}", expected.len());
    let sql = "SELECT * FROM l JOIN r ON l.k = r.k \
               AND r.t BETWEEN l.t AND l.t + INTERVAL '4 seconds' AND l.v <> r.v";
    // Output columns: l's k t g v id at 0..5, r's at 5..10.
    let project = |columns: &[(usize, &str)], input: &Arc<dyn ExecutionPlan>| {
        let schema = input.schema();
        let exprs = columns.iter().map(|&(index, alias)| ProjectionExpr {
            expr: Arc::new(Column::new(schema.field(index).name(), index)) as _,
            alias: alias.to_owned(),
        });
        ProjectionExec::try_new(exprs, Arc::clone(input)).unwrap()
    };
    let kept = [
        (4, "lid"),
        (0, "k"),
        (1, "lt"),
        (3, "lv"),
        (5, "rk"),
        (6, "rt"),
        (8, "rv"),
        (9, "rid"),
    ];
    for shape in [Shape::TimeFiles, Shape::Sorted] {
        let setup = Setup {
            engine: Engine::Operator,
            batch: 16,
            input_batch: 7,
            partitions: 3,
            shape,
        };
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        runtime.block_on(async {
            let ctx = context(setup, Arc::default());
            if shape == Shape::TimeFiles {
                assert!(time_files(&ctx, "l", &left, 3, 7, dir.path()).await);
                assert!(time_files(&ctx, "r", &right, 3, 7, dir.path()).await);
            } else {
                ctx.register_table("l", Arc::new(table(&left, 3, 7, true)))
                    .unwrap();
                ctx.register_table("r", Arc::new(table(&right, 3, 7, true)))
                    .unwrap();
            }
            let plan = ctx
                .sql(sql)
                .await
                .unwrap()
                .create_physical_plan()
                .await
                .unwrap();
            let join = find_join(&plan).expect("the operator plans the join");
            let exec = join.downcast_ref::<WindowJoinExec>().unwrap();
            let layout = exec.layout().to_string();

            let above = project(&kept, &join);
            let below = exec
                .try_swapping_with_projection(&above)
                .unwrap()
                .expect("a projection keeping keys, times and the residual goes below");
            assert!(
                below.downcast_ref::<WindowJoinExec>().is_some(),
                "{shape:?}"
            );
            let widths: Vec<usize> = below
                .children()
                .iter()
                .map(|child| {
                    assert!(child.downcast_ref::<ProjectionExec>().is_some());
                    child.schema().fields().len()
                })
                .collect();
            assert_eq!(widths, [4, 4], "{shape:?}");
            assert_eq!(below.schema(), Arc::new(above.schema().as_ref().clone()));
            let pushed = below.downcast_ref::<WindowJoinExec>().unwrap();
            assert_eq!(pushed.layout().to_string(), layout, "{shape:?}");
            let batches = collect(below, ctx.task_ctx()).await.unwrap();
            let mut found: Vec<(i64, i64)> = batches
                .iter()
                .flat_map(|batch| {
                    let id = |name: &str| {
                        batch
                            .column_by_name(name)
                            .unwrap()
                            .as_any()
                            .downcast_ref::<Int64Array>()
                            .unwrap()
                            .clone()
                    };
                    let (l, r) = (id("lid"), id("rid"));
                    (0..batch.num_rows())
                        .map(|i| (l.value(i), r.value(i)))
                        .collect::<Vec<_>>()
                })
                .collect();
            found.sort_unstable();
            assert_eq!(found, expected, "{shape:?}");

            // Without r.v, read by the residual: the projection stays above.
            let dropped: Vec<(usize, &str)> =
                kept.iter().copied().filter(|&(i, _)| i != 8).collect();
            let kept_above = exec
                .try_swapping_with_projection(&project(&dropped, &join))
                .unwrap();
            assert!(kept_above.is_none(), "{shape:?}");

            let stats = StatisticsContext::new()
                .compute(join.as_ref(), &StatisticsArgs::new())
                .unwrap();
            assert_eq!(stats.num_rows, Precision::Absent);
            assert_eq!(stats.column_statistics.len(), 10);
            if shape == Shape::TimeFiles {
                let time =
                    |seconds: i64| ScalarValue::TimestampNanosecond(Some(seconds * SECOND), None);
                let (min, max) = (
                    left.iter().filter_map(|r| r.time).min().unwrap(),
                    right.iter().filter_map(|r| r.time).max().unwrap(),
                );
                assert_eq!(
                    stats.column_statistics[1].min_value,
                    Precision::Inexact(time(min))
                );
                assert_eq!(
                    stats.column_statistics[6].max_value,
                    Precision::Inexact(time(max))
                );
            }
        });
    }
}
