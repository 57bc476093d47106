//! The window-join operator alone, on in-memory batches already in (key, time) order: rows per
//! second through the join at several window densities (expected matches per left row) and
//! key skews. One partition, so the figure is the operator's, not a repartition's.
//! `cargo bench --bench window_join`.

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray, TimestampNanosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext, col};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::runtime::Runtime;

use retrohunt::engine::{Engine, session_with};

const SECOND: i64 = 1_000_000_000;
const DAY_SECONDS: i64 = 86_400;
const LEFT_ROWS: usize = 20_000;
const RIGHT_ROWS: usize = 200_000;
const KEYS: usize = 1_000;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Utf8, false),
        Field::new("t", DataType::Timestamp(TimeUnit::Nanosecond, None), false),
        Field::new("v", DataType::Int64, false),
    ]))
}

/// `rows` rows over one day, sorted by (key, time); with `skewed`, half of them belong to one
/// key, as a service account's do.
fn sorted_table(rows: usize, skewed: bool, seed: u64) -> MemTable {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut data: Vec<(String, i64)> = (0..rows)
        .map(|_| {
            let key = if skewed && rng.random_bool(0.5) {
                0
            } else {
                rng.random_range(0..KEYS)
            };
            (
                format!("user{key:05}"),
                rng.random_range(0..DAY_SECONDS * SECOND),
            )
        })
        .collect();
    data.sort();
    let batches = data
        .chunks(8192)
        .map(|chunk| {
            RecordBatch::try_new(
                schema(),
                vec![
                    Arc::new(StringArray::from_iter_values(chunk.iter().map(|r| &r.0))),
                    Arc::new(TimestampNanosecondArray::from_iter_values(
                        chunk.iter().map(|r| r.1),
                    )),
                    Arc::new(Int64Array::from_iter_values(0..chunk.len() as i64)),
                ],
            )
            .expect("a valid batch")
        })
        .collect();
    MemTable::try_new(schema(), vec![batches])
        .expect("a valid table")
        .with_sort_order(vec![vec![
            col("k").sort(true, false),
            col("t").sort(true, false),
        ]])
}

fn window_join(c: &mut Criterion) {
    let runtime = Runtime::new().expect("tokio runtime");
    let mut group = c.benchmark_group("window_join");
    group.sample_size(10);
    group.throughput(Throughput::Elements((LEFT_ROWS + RIGHT_ROWS) as u64));
    for skewed in [false, true] {
        let ctx: SessionContext = session_with(
            Engine::Operator,
            SessionConfig::new().with_target_partitions(1),
            Arc::default(),
        );
        ctx.register_table("l", Arc::new(sorted_table(LEFT_ROWS, skewed, 1)))
            .expect("registers");
        ctx.register_table("r", Arc::new(sorted_table(RIGHT_ROWS, skewed, 2)))
            .expect("registers");
        // A uniform key has 200 right rows a day: these windows expect about 0.14, 1.4 and
        // 8.3 matches per left row (the heavy key of the skewed case, ~350x that).
        for window_seconds in [60, 600, 3600] {
            let sql = format!(
                "SELECT count(*) FROM l JOIN r ON l.k = r.k \
                 AND r.t BETWEEN l.t AND l.t + INTERVAL '{window_seconds} seconds'"
            );
            let plan = runtime
                .block_on(async { ctx.sql(&format!("EXPLAIN {sql}")).await?.collect().await })
                .expect("explains");
            let plan = datafusion::arrow::util::pretty::pretty_format_batches(&plan)
                .expect("prints")
                .to_string();
            assert!(plan.contains("WindowJoin"), "not on the operator:\n{plan}");
            let name = if skewed { "skewed" } else { "uniform" };
            group.bench_function(BenchmarkId::new(name, format!("{window_seconds}s")), |b| {
                b.iter(|| runtime.block_on(async { ctx.sql(&sql).await?.collect().await }))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, window_join);
criterion_main!(benches);
