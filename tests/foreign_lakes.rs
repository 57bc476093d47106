//! The operator on Parquet other tools wrote, with stock SQL as the reference: no declared
//! order, rows in no order, several row groups and pages per file, files without statistics,
//! ns / µs / ms times, one or two files per date, files spanning two dates; sessions of 1, 2,
//! 3 and 8 target partitions, batch sizes from DataFusion's own join fuzzing, files split by
//! byte range. Band joins of 1 s to 2 days, forward and backward, `>`/`<` and `BETWEEN`; and
//! the hunt itself on a generated tenant rewritten this way.
//!
//! `RETROHUNT_FUZZ_SECONDS=N` turns `fuzz_foreign_lakes` into a long run of random cases.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray, TimestampNanosecondArray, UInt32Array};
use arrow::compute::{cast, take_record_batch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::ListingOptions;
use datafusion::physical_plan::displayable;
use datafusion::prelude::{SessionConfig, SessionContext};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use retrohunt::catalog::register_lake;
use retrohunt::engine::{Engine, session_with};
use retrohunt::generate::{self, TenantFormat, TenantSpec};
use retrohunt::hunt::{self, HuntParams, TimeColumn};

use crate::util::{pairs, retrohunt};

const DAY: i64 = 86_400;
const NANOS: i64 = 1_000_000_000;
/// 2026-03-02T00:00:00Z, in seconds.
const EPOCH_DAY: i64 = 1_772_409_600;

/// How another tool wrote one table.
#[derive(Debug, Clone, Copy)]
struct Writer {
    unit: TimeUnit,
    /// Rows in (k, t) order (no file says so); otherwise shuffled.
    sorted: bool,
    /// Which file, if any, carries no statistics.
    bare: Option<usize>,
    row_group: usize,
    page_rows: usize,
    cut: Cut,
}

/// How a table's rows are cut into files below `date=` folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    PerDay,
    TwoPerDay,
    /// Days two by two in one file, under the first day's folder.
    TwoDaysPerFile,
    OneFile,
}

fn writer() -> impl Strategy<Value = Writer> {
    (
        prop::sample::select(vec![
            TimeUnit::Nanosecond,
            TimeUnit::Microsecond,
            TimeUnit::Millisecond,
        ]),
        any::<bool>(),
        prop::option::weighted(0.3, 0..4usize),
        prop::sample::select(vec![3usize, 17, 1_000_000]),
        prop::sample::select(vec![2usize, 5, 20_000]),
        prop::sample::select(vec![
            Cut::PerDay,
            Cut::TwoPerDay,
            Cut::TwoDaysPerFile,
            Cut::OneFile,
        ]),
    )
        .prop_map(|(unit, sorted, bare, row_group, page_rows, cut)| Writer {
            unit,
            sorted,
            bare,
            row_group,
            page_rows,
            cut,
        })
}

impl Writer {
    /// Shuffled rows with nanosecond times and statistics in every file, as pandas writes a
    /// DataFrame by default.
    fn shuffled(row_group: usize, page_rows: usize, cut: Cut) -> Writer {
        Writer {
            unit: TimeUnit::Nanosecond,
            sorted: false,
            bare: None,
            row_group,
            page_rows,
            cut,
        }
    }

    fn properties(&self, file: usize) -> WriterProperties {
        let statistics = if self.bare == Some(file) {
            EnabledStatistics::None
        } else {
            EnabledStatistics::Page
        };
        WriterProperties::builder()
            .set_max_row_group_row_count(Some(self.row_group))
            .set_data_page_row_count_limit(self.page_rows)
            .set_write_batch_size(self.page_rows)
            .set_statistics_enabled(statistics)
            .build()
    }

    /// `batch` with its timestamp columns in this writer's unit, rows in its order.
    fn shape(&self, batch: &RecordBatch, rng: &mut ChaCha8Rng) -> RecordBatch {
        let mut order: Vec<u32> = (0..batch.num_rows() as u32).collect();
        if !self.sorted {
            order.shuffle(rng);
        }
        let batch = take_record_batch(batch, &UInt32Array::from(order)).unwrap();
        let (fields, columns): (Vec<_>, Vec<_>) = batch
            .schema()
            .fields()
            .iter()
            .zip(batch.columns())
            .map(|(field, column)| match field.data_type() {
                DataType::Timestamp(_, zone) => {
                    let to = DataType::Timestamp(self.unit, zone.clone());
                    let field = field.as_ref().clone().with_data_type(to.clone());
                    (Arc::new(field), cast(column, &to).unwrap())
                }
                _ => (field.clone(), column.clone()),
            })
            .unzip();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    }

    /// Writes `days` (each day's rows, in (key, time) order) of one table below `folder`.
    fn write(&self, folder: &Path, days: &[RecordBatch], rng: &mut ChaCha8Rng) {
        let date = |day: usize| {
            let date = chrono::DateTime::from_timestamp(EPOCH_DAY + day as i64 * DAY, 0).unwrap();
            folder.join(format!("date={}", date.format("%Y-%m-%d")))
        };
        let mut files: Vec<(std::path::PathBuf, RecordBatch)> = Vec::new();
        let concat = |batches: &[RecordBatch]| {
            arrow::compute::concat_batches(&days[0].schema(), batches).unwrap()
        };
        match self.cut {
            Cut::PerDay => {
                for (day, batch) in days.iter().enumerate() {
                    files.push((date(day), batch.clone()));
                }
            }
            Cut::TwoPerDay => {
                for (day, batch) in days.iter().enumerate() {
                    let half = rng.random_range(0..=batch.num_rows());
                    files.push((date(day), batch.slice(0, half)));
                    files.push((date(day), batch.slice(half, batch.num_rows() - half)));
                }
            }
            Cut::TwoDaysPerFile => {
                for (pair, batches) in days.chunks(2).enumerate() {
                    files.push((date(pair * 2), concat(batches)));
                }
            }
            Cut::OneFile => files.push((date(0), concat(days))),
        }
        for (number, (dir, batch)) in files.into_iter().enumerate() {
            std::fs::create_dir_all(&dir).unwrap();
            let batch = self.shape(&batch, rng);
            let file = std::fs::File::create(dir.join(format!("part-{number}.parquet"))).unwrap();
            let properties = self.properties(number);
            let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(properties)).unwrap();
            writer.write(&batch).unwrap();
            writer.close().unwrap();
        }
    }
}

/// The layout the operator chose, from `--explain`'s text of a plan.
fn layout(plan: &str) -> &str {
    let start = plan.find("layout=").expect("a window join");
    plan[start..]
        .split_once('\n')
        .map_or(&plan[start..], |(line, _)| line)
}

/// A session as users configure one, and the knobs DataFusion's own join fuzzing turns.
#[derive(Debug, Clone, Copy)]
struct Session {
    target_partitions: usize,
    batch_size: usize,
    /// Split files into byte ranges even when small.
    split_files: bool,
}

fn session() -> impl Strategy<Value = Session> {
    (
        prop::sample::select(vec![1usize, 2, 3, 8]),
        prop::sample::select(vec![1usize, 2, 7, 49, 50, 51, 100, 8192]),
        any::<bool>(),
    )
        .prop_map(|(target_partitions, batch_size, split_files)| Session {
            target_partitions,
            batch_size,
            split_files,
        })
}

impl Session {
    fn context(&self, engine: Engine) -> SessionContext {
        let mut config = SessionConfig::new()
            .with_target_partitions(self.target_partitions)
            .with_batch_size(self.batch_size);
        if self.split_files {
            config.options_mut().optimizer.repartition_file_min_size = 1;
        }
        session_with(engine, config, Arc::default())
    }
}

// ---------------------------------------------------------------------------------------
// Band joins users write, over tables `l` and `r` (k, t, g, v, id).

/// A row: key, time in seconds since `EPOCH_DAY`, a second key, a value.
#[derive(Debug, Clone)]
struct Row {
    key: Option<&'static str>,
    time: Option<i64>,
    group: i64,
    value: i64,
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Utf8, true),
        Field::new(
            "t",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            true,
        ),
        Field::new("g", DataType::Int64, false),
        Field::new("v", DataType::Int64, false),
        Field::new("id", DataType::Int64, false),
    ]))
}

/// Rows clustered near the start, middle and end of 4 days, so that short windows find
/// pairs and long ones cross midnight.
fn row() -> impl Strategy<Value = Row> {
    (
        prop::sample::select(vec![Some("a"), Some("a"), Some("b"), Some("c"), None]),
        prop::option::weighted(
            0.95,
            (
                0..4i64,
                prop::sample::select(vec![0, DAY / 2, DAY - 40]),
                0..40i64,
            ),
        ),
        0..2i64,
        0..3i64,
    )
        .prop_map(|(key, time, group, value)| Row {
            key,
            time: time.map(|(day, at, offset)| day * DAY + at + offset),
            group,
            value,
        })
}

/// Each day's rows (by time; null times on the first day), in (key, time) order.
fn days(rows: &[Row]) -> Vec<RecordBatch> {
    let mut numbered: Vec<(usize, &Row)> = rows.iter().enumerate().collect();
    numbered.sort_by_key(|(_, r)| (r.key.is_none(), r.key, r.time.is_none(), r.time));
    (0..4)
        .map(|day| {
            let on_day: Vec<&(usize, &Row)> = numbered
                .iter()
                .filter(|(_, r)| r.time.map_or(0, |t| t.div_euclid(DAY)) == day)
                .collect();
            RecordBatch::try_new(
                schema(),
                vec![
                    Arc::new(StringArray::from_iter(on_day.iter().map(|(_, r)| r.key))),
                    Arc::new(
                        TimestampNanosecondArray::from_iter(
                            on_day
                                .iter()
                                .map(|(_, r)| r.time.map(|t| (EPOCH_DAY + t) * NANOS)),
                        )
                        .with_timezone("UTC"),
                    ),
                    Arc::new(Int64Array::from_iter_values(
                        on_day.iter().map(|(_, r)| r.group),
                    )),
                    Arc::new(Int64Array::from_iter_values(
                        on_day.iter().map(|(_, r)| r.value),
                    )),
                    Arc::new(Int64Array::from_iter_values(
                        on_day.iter().map(|(i, _)| *i as i64),
                    )),
                ],
            )
            .unwrap()
        })
        .collect()
}

/// A band join and, for the reference, whether right time `rt` matches left time `lt`
/// (seconds; keys already equal and non-null).
struct Query {
    sql: &'static str,
    /// Joined on the text key `k` (null keys never match); otherwise only on what `matches`
    /// says.
    on_k: bool,
    matches: fn(&Row, &Row, i64, i64) -> bool,
}

const HOUR: i64 = 3_600;

const QUERIES: [Query; 7] = [
    Query {
        sql: "SELECT l.id, r.id FROM l JOIN r ON l.k = r.k \
              AND r.t BETWEEN l.t AND l.t + INTERVAL '1 second'",
        on_k: true,
        matches: |_, _, lt, rt| lt <= rt && rt <= lt + 1,
    },
    Query {
        sql: "SELECT l.id, r.id FROM l JOIN r ON l.k = r.k \
              WHERE r.t > l.t - INTERVAL '10 minutes' AND r.t < l.t + INTERVAL '10 minutes'",
        on_k: true,
        matches: |_, _, lt, rt| lt - 600 < rt && rt < lt + 600,
    },
    Query {
        sql: "SELECT l.id, r.id FROM l JOIN r ON l.k = r.k \
              AND r.t BETWEEN l.t + INTERVAL '1 day' AND l.t + INTERVAL '2 days'",
        on_k: true,
        matches: |_, _, lt, rt| lt + DAY <= rt && rt <= lt + 2 * DAY,
    },
    // A window wholly in the past: r.t in [l.t - 2 days, l.t - 12 hours].
    Query {
        sql: "SELECT l.id, r.id FROM l JOIN r ON l.k = r.k \
              AND r.t >= l.t - INTERVAL '2 days' AND r.t <= l.t - INTERVAL '12 hours'",
        on_k: true,
        matches: |_, _, lt, rt| lt - 2 * DAY <= rt && rt <= lt - 12 * HOUR,
    },
    // Exclusive bounds and a residual.
    Query {
        sql: "SELECT l.id, r.id FROM l JOIN r ON l.k = r.k \
              AND r.t > l.t AND r.t < l.t + INTERVAL '30 seconds' AND l.v <> r.v",
        on_k: true,
        matches: |l, r, lt, rt| lt < rt && rt < lt + 30 && l.value != r.value,
    },
    // Two keys, anchored on the right's time.
    Query {
        sql: "SELECT l.id, r.id FROM l JOIN r ON l.k = r.k AND l.g = r.g \
              AND l.t BETWEEN r.t - INTERVAL '5 seconds' AND r.t + INTERVAL '1 hour'",
        on_k: true,
        matches: |l, r, lt, rt| l.group == r.group && rt - 5 <= lt && lt <= rt + HOUR,
    },
    // An integer key: the sorts below the join lead with a fixed-width column.
    Query {
        sql: "SELECT l.id, r.id FROM l JOIN r ON l.g = r.g \
              AND r.t BETWEEN l.t AND l.t + INTERVAL '1 minute'",
        on_k: false,
        matches: |l, r, lt, rt| l.group == r.group && lt <= rt && rt <= lt + 60,
    },
];

/// The pairs by nested loops: the definition, independent of both engines.
fn reference(left: &[Row], right: &[Row], query: &Query) -> Vec<(i64, i64)> {
    let mut pairs = Vec::new();
    for (li, l) in left.iter().enumerate() {
        for (ri, r) in right.iter().enumerate() {
            let keys_match = !query.on_k || (l.key.is_some() && l.key == r.key);
            if let (Some(lt), Some(rt)) = (l.time, r.time)
                && keys_match
                && (query.matches)(l, r, lt, rt)
            {
                pairs.push((li as i64, ri as i64));
            }
        }
    }
    pairs.sort_unstable();
    pairs
}

/// One generated case of the band-join property.
#[derive(Debug, Clone)]
struct JoinCase {
    left: Vec<Row>,
    right: Vec<Row>,
    writers: (Writer, Writer),
    query: usize,
    session: Session,
}

fn join_case() -> impl Strategy<Value = JoinCase> {
    (
        prop::collection::vec(row(), 0..50),
        prop::collection::vec(row(), 0..80),
        (writer(), writer()),
        0..QUERIES.len(),
        session(),
    )
        .prop_map(|(left, right, writers, query, session)| JoinCase {
            left,
            right,
            writers,
            query,
            session,
        })
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// (pairs, plan) of `case` on `engine`.
fn run_join(case: &JoinCase, dir: &Path, engine: Engine) -> (Vec<(i64, i64)>, String) {
    block_on(async {
        let ctx = case.session.context(engine);
        for name in ["l", "r"] {
            let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet")
                .with_table_partition_cols(vec![("date".into(), DataType::Date32)]);
            let folder = dir.join(name);
            ctx.register_listing_table(
                name,
                folder.to_str().unwrap(),
                options,
                Some(schema()),
                None,
            )
            .await
            .unwrap();
        }
        let frame = ctx.sql(QUERIES[case.query].sql).await.unwrap();
        let plan = frame.clone().create_physical_plan().await.unwrap();
        let plan = displayable(plan.as_ref()).indent(false).to_string();
        (pairs(&frame.collect().await.unwrap()), plan)
    })
}

fn check_join(case: &JoinCase, seed: u64) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    case.writers
        .0
        .write(&dir.path().join("l"), &days(&case.left), &mut rng);
    case.writers
        .1
        .write(&dir.path().join("r"), &days(&case.right), &mut rng);
    let query = &QUERIES[case.query];
    let expected = reference(&case.left, &case.right, query);
    let (stock, _) = run_join(case, dir.path(), Engine::Sql);
    prop_assert_eq!(&stock, &expected, "stock SQL against the reference");
    let (found, plan) = run_join(case, dir.path(), Engine::Operator);
    prop_assert!(plan.contains("WindowJoinExec"), "{}", plan);
    prop_assert_eq!(&found, &expected, "{}", plan);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn band_joins_on_foreign_files_match_stock_sql(case in join_case(), seed in any::<u64>()) {
        check_join(&case, seed)?;
    }
}

// ---------------------------------------------------------------------------------------
// The hunt on a generated tenant whose lake another tool rewrote.

/// A lake rewritten by `writers` (interactive, non-interactive) from a generated tenant.
fn foreign_tenant(seed: u64, writers: (Writer, Writer)) -> tempfile::TempDir {
    let generated = tempfile::tempdir().unwrap();
    let spec = TenantSpec::new(40, 4, seed);
    generate::generate(&spec, TenantFormat::Lake, generated.path()).unwrap();
    let lake = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for (table, writer) in [
        ("SigninLogs", writers.0),
        ("AADNonInteractiveUserSignInLogs", writers.1),
    ] {
        let days: Vec<RecordBatch> = spec
            .dates()
            .map(|date| {
                let file = generated
                    .path()
                    .join(table)
                    .join(format!("date={date}"))
                    .join("data.parquet");
                let reader =
                    ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(file).unwrap())
                        .unwrap()
                        .build()
                        .unwrap();
                let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
                arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
            })
            .collect();
        writer.write(&lake.path().join(table), &days, &mut rng);
    }
    lake
}

/// The hunt's rows, as text, sorted (the hunt's own order breaks ties by every column, so
/// this is its multiset), and its plan.
fn hunt_rows(
    lake: &Path,
    params: &HuntParams,
    session: Session,
    engine: Engine,
) -> (Vec<String>, String) {
    block_on(async {
        let ctx = session.context(engine);
        register_lake(&ctx, lake.to_str().unwrap()).await.unwrap();
        let frame = hunt::plan(&ctx, params).await.unwrap();
        let plan = frame.clone().create_physical_plan().await.unwrap();
        let plan = displayable(plan.as_ref()).indent(false).to_string();
        let batches = frame.collect().await.unwrap();
        let mut rows: Vec<String> = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string()
            .lines()
            .skip(3)
            .filter(|line| !line.starts_with('+'))
            .map(str::to_string)
            .collect();
        rows.sort_unstable();
        (rows, plan)
    })
}

#[derive(Debug, Clone)]
struct HuntCase {
    writers: (Writer, Writer),
    session: Session,
    time_column: TimeColumn,
    /// The hunt's range, in hours after the tenant's start: the whole lake when `None`.
    range: Option<(i64, i64)>,
}

fn hunt_case() -> impl Strategy<Value = HuntCase> {
    (
        (writer(), writer()),
        session(),
        prop::sample::select(vec![TimeColumn::TimeGenerated, TimeColumn::CreatedDateTime]),
        prop::option::of((0..48i64, 1..72i64)),
    )
        .prop_map(|(writers, session, time_column, range)| HuntCase {
            writers,
            session: Session {
                // A batch of one row per flush over thousands of sign-ins is slow to no end.
                batch_size: session.batch_size.max(49),
                ..session
            },
            time_column,
            range: range.map(|(from, hours)| (from, from + hours)),
        })
}

fn check_hunt(case: &HuntCase, seed: u64) -> Result<(), TestCaseError> {
    let lake = foreign_tenant(seed, case.writers);
    let hour = |h: i64| (EPOCH_DAY + h * HOUR) * NANOS;
    let params = HuntParams {
        start: case.range.map(|(from, _)| hour(from)),
        end: case.range.map(|(_, to)| hour(to)),
        time_column: case.time_column,
        ..HuntParams::default()
    };
    let (stock, _) = hunt_rows(lake.path(), &params, case.session, Engine::Sql);
    let (found, plan) = hunt_rows(lake.path(), &params, case.session, Engine::Operator);
    prop_assert_eq!(found.len(), stock.len(), "{}", layout(&plan));
    prop_assert_eq!(found, stock, "{}", plan);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn the_hunt_on_foreign_lakes_matches_stock_sql(case in hunt_case(), seed in 0..1_000u64) {
        check_hunt(&case, seed)?;
    }
}

/// The pandas shape of issue 14: nanosecond UTC times, a file per date, no sorting columns,
/// rows shuffled, at every target partition count, files split by byte range or not. Stock
/// SQL finds pairs here (the tenant holds injected replays), so an operator that drops some
/// cannot pass. Written by arrow-rs, whose statistics say they are exact, the files are
/// joined time-aligned (each sorted on its own) wherever there are as many as the session's
/// target partitions.
#[test]
fn the_hunt_on_a_pandas_lake_matches_stock_sql_at_every_partition_count() {
    let pandas = Writer::shuffled(1_000_000, 20_000, Cut::PerDay);
    let lake = foreign_tenant(7, (pandas, pandas));
    let params = HuntParams::default();
    for target_partitions in [1, 2, 3, 8] {
        for split_files in [false, true] {
            let session = Session {
                target_partitions,
                batch_size: 8192,
                split_files,
            };
            let (stock, _) = hunt_rows(lake.path(), &params, session, Engine::Sql);
            assert!(!stock.is_empty());
            for _ in 0..3 {
                let (found, plan) = hunt_rows(lake.path(), &params, session, Engine::Operator);
                assert_eq!(found, stock, "{session:?}: {}", layout(&plan));
                let expected = if target_partitions <= 4 {
                    "layout=time-aligned"
                } else {
                    "layout=key-partitioned (fewer files than target partitions)"
                };
                assert!(layout(&plan).starts_with(expected), "{session:?}: {plan}");
            }
        }
    }
}

/// A band join on an integer key over one file per table in a one-partition session: the
/// operator engine's own full sort may then stand in for DataFusion's below a time-aligned
/// join, whose partners are read more than once.
#[test]
fn an_integer_key_over_one_file_per_table_in_one_partition() {
    let one_file = Writer::shuffled(3, 2, Cut::OneFile);
    let rows = |seed: u64| -> Vec<Row> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..60)
            .map(|_| Row {
                key: None,
                time: Some(rng.random_range(0..4) * DAY + rng.random_range(0..120)),
                group: rng.random_range(0..3),
                value: 0,
            })
            .collect()
    };
    let case = JoinCase {
        left: rows(1),
        right: rows(2),
        writers: (one_file, one_file),
        query: QUERIES.len() - 1,
        session: Session {
            target_partitions: 1,
            batch_size: 7,
            split_files: false,
        },
    };
    check_join(&case, 3).unwrap();
}

/// Random cases for as long as `RETROHUNT_FUZZ_SECONDS` says (nothing when unset).
#[test]
fn fuzz_foreign_lakes() {
    let Some(seconds) = std::env::var("RETROHUNT_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    else {
        return;
    };
    let until = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    let mut runner = TestRunner::new(Config {
        failure_persistence: None,
        ..Config::default()
    });
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let mut seeds = ChaCha8Rng::seed_from_u64(now.unwrap().as_nanos() as u64);
    let (mut joins, mut hunts) = (0u64, 0u64);
    while std::time::Instant::now() < until {
        let join = join_case().new_tree(&mut runner).unwrap().current();
        let seed = seeds.random();
        if let Err(error) = check_join(&join, seed) {
            panic!("band join case failed ({error}), seed {seed}: {join:?}");
        }
        joins += 1;
        if joins % 10 == 0 {
            let hunt = hunt_case().new_tree(&mut runner).unwrap().current();
            let seed = seeds.random_range(0..1_000);
            if let Err(error) = check_hunt(&hunt, seed) {
                panic!("hunt case failed ({error}), seed {seed}: {hunt:?}");
            }
            hunts += 1;
        }
    }
    eprintln!("fuzz_foreign_lakes: {joins} band-join cases and {hunts} hunts agreed");
}

/// One file per table in a one-partition session: each side's sort covers its whole input,
/// the shape where the operator engine's own full sort may stand in for DataFusion's below a
/// time-aligned join, whose partners are read more than once.
#[test]
fn one_file_per_table_in_one_partition() {
    let one_file = Writer::shuffled(17, 5, Cut::OneFile);
    let session = Session {
        target_partitions: 1,
        batch_size: 50,
        split_files: false,
    };
    let lake = foreign_tenant(11, (one_file, one_file));
    for time_column in [TimeColumn::TimeGenerated, TimeColumn::CreatedDateTime] {
        let params = HuntParams {
            time_column,
            ..HuntParams::default()
        };
        let (stock, _) = hunt_rows(lake.path(), &params, session, Engine::Sql);
        let (found, plan) = hunt_rows(lake.path(), &params, session, Engine::Operator);
        assert!(!stock.is_empty());
        assert_eq!(found, stock, "{plan}");
        assert!(layout(&plan).starts_with("layout=time-aligned"), "{plan}");
    }
}

/// The triage paths (enrichment, summary, exclusions) on a foreign lake: every engine prints
/// the same rows, on either time column.
#[test]
fn triage_on_a_foreign_lake_matches_stock_sql() {
    let writer = Writer::shuffled(1_000, 100, Cut::PerDay);
    let lake = foreign_tenant(5, (writer, writer));
    let exclusions = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/exclusions.example.toml");
    let run = |engine: &str, time_column: &str, triage: &[&str]| {
        let output = retrohunt()
            .args(["hunt", "--format", "csv", "--lake"])
            .arg(lake.path())
            .args(["--engine", engine, "--time-column", time_column])
            .args(triage)
            .arg("--exclusions")
            .arg(&exclusions)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert!(output.status.success(), "{stderr}");
        let mut lines: Vec<String> = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        lines.sort_unstable();
        lines
    };
    for time_column in ["TimeGenerated", "CreatedDateTime"] {
        for triage in [&["--enrich"][..], &["--summary"]] {
            let stock = run("sql", time_column, triage);
            assert!(stock.len() > 1, "{time_column} {triage:?}: no rows");
            assert_eq!(
                run("operator", time_column, triage),
                stock,
                "{time_column} {triage:?}"
            );
        }
    }
}

/// A copy of `lake` with `Id` and `CorrelationId` stored as 16-byte UUIDs, as DuckDB writes
/// the GUIDs it read from JSON.
pub(crate) fn with_uuids(lake: &Path) -> tempfile::TempDir {
    use arrow::array::{ArrayRef, AsArray, FixedSizeBinaryArray};

    let as_uuids = |text: &ArrayRef| -> ArrayRef {
        let bytes = text.as_string::<i32>().iter().map(|guid| {
            let hex: String = guid.unwrap().chars().filter(|c| *c != '-').collect();
            assert_eq!(hex.len(), 32, "{guid:?}");
            (0..16)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
                .collect::<Vec<u8>>()
        });
        Arc::new(FixedSizeBinaryArray::try_from_iter(bytes).unwrap())
    };
    crate::util::rewritten_lake(lake, |batch| {
        let schema = batch.schema();
        let (fields, columns): (Vec<_>, Vec<_>) = schema
            .fields()
            .iter()
            .zip(batch.columns())
            .map(|(field, column)| match field.name().as_str() {
                "Id" | "CorrelationId" => (
                    Field::new(field.name(), DataType::FixedSizeBinary(16), false),
                    as_uuids(column),
                ),
                _ => (field.as_ref().clone(), Arc::clone(column)),
            })
            .unzip();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    })
}

/// GUIDs stored as 16-byte UUIDs. Arrow casts no such value to text, so without its own
/// adaptation the scan fails; read as text, the hunt with both engines (it prints the
/// correlation ids) and a query of the ids must print what the lake with text prints.
#[test]
fn guids_stored_as_uuids_read_as_their_text() {
    let lake = tempfile::tempdir().unwrap();
    generate::generate(&TenantSpec::new(60, 2, 9), TenantFormat::Lake, lake.path()).unwrap();
    let uuids = with_uuids(lake.path());
    let ids = "SELECT \"Id\", \"CorrelationId\" FROM SigninLogs ORDER BY 1, 2";
    let runs: [&[&str]; 3] = [
        &["hunt", "--engine", "operator"],
        &["hunt", "--engine", "sql"],
        &["sql", ids],
    ];
    for args in runs {
        let run = |lake: &Path| {
            crate::util::succeeded(
                retrohunt()
                    .args(args)
                    .args(["--format", "csv", "--lake"])
                    .arg(lake),
            )
            .stdout
        };
        let text = run(lake.path());
        assert!(text.iter().filter(|&&b| b == b'\n').count() > 1, "{args:?}");
        assert!(run(uuids.path()) == text, "{args:?}");
    }

    // One file back as text: the table cannot read `Id` one way, and says which files differ.
    let sample = walkdir::WalkDir::new(lake.path().join("SigninLogs"))
        .into_iter()
        .map(|entry| entry.unwrap().into_path())
        .find(|path| path.extension().is_some_and(|ext| ext == "parquet"))
        .unwrap();
    let relative = sample.strip_prefix(lake.path()).unwrap();
    std::fs::copy(&sample, uuids.path().join(relative)).unwrap();
    let refused = retrohunt()
        .arg("hunt")
        .arg("--lake")
        .arg(uuids.path())
        .output()
        .unwrap();
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success()
            && message.contains("as 16-byte UUIDs but")
            && message.contains(&*relative.to_string_lossy()),
        "{message}"
    );
}
