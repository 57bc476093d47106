//! `PrefixSortExec` against DataFusion's own sort: the same rows in the same order for random
//! tables dense in equal keys, nulls and both directions, over several partitions and batch
//! sizes; which sorts it takes over; the hand-over to DataFusion's spilling sort when the
//! memory pool refuses it; and its trip through protobuf.

use std::sync::Arc;

use arrow::array::{Array, AsArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use datafusion::catalog::MemTable;
use datafusion::common::resources_err;
use datafusion::execution::memory_pool::{MemoryPool, MemoryReservation, UnboundedMemoryPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::physical_plan::{ExecutionPlan, collect, displayable};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::bytes::{
    physical_plan_from_bytes_with_extension_codec, physical_plan_to_bytes_with_extension_codec,
};
use proptest::prelude::*;

use retrohunt::engine::{Engine, session_with};
use retrohunt::operator::physical_codec;

/// A row of `t`: two sort times, a name, an id.
type Row = (Option<i64>, i64, &'static str, i64);

const ORDER: &str = "ORDER BY t1 DESC NULLS FIRST, t2, name DESC, id";

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("t1", DataType::Int64, true),
        Field::new("t2", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("id", DataType::Int64, false),
    ]))
}

/// `rows` dealt round-robin into `partitions`, each cut into batches of `batch` rows.
fn table(rows: &[Row], partitions: usize, batch: usize) -> MemTable {
    let parts = (0..partitions)
        .map(|p| {
            let mine: Vec<&Row> = rows.iter().skip(p).step_by(partitions).collect();
            mine.chunks(batch.max(1))
                .map(|chunk| {
                    RecordBatch::try_new(
                        schema(),
                        vec![
                            Arc::new(Int64Array::from_iter(chunk.iter().map(|r| r.0))),
                            Arc::new(Int64Array::from_iter_values(chunk.iter().map(|r| r.1))),
                            Arc::new(StringArray::from_iter_values(chunk.iter().map(|r| r.2))),
                            Arc::new(Int64Array::from_iter_values(chunk.iter().map(|r| r.3))),
                        ],
                    )
                    .unwrap()
                })
                .collect()
        })
        .collect();
    MemTable::try_new(schema(), parts).unwrap()
}

fn context(engine: Engine, batch: usize, runtime: Arc<RuntimeEnv>) -> SessionContext {
    let config = SessionConfig::new()
        .with_batch_size(batch)
        .with_target_partitions(2);
    session_with(engine, config, runtime)
}

fn rows_of(batches: &[RecordBatch]) -> Vec<(Option<i64>, i64, String, i64)> {
    batches
        .iter()
        .flat_map(|batch| {
            let t1 = batch.column(0).as_primitive::<Int64Type>();
            let t2 = batch.column(1).as_primitive::<Int64Type>();
            let name = batch.column(2).as_string::<i32>();
            let id = batch.column(3).as_primitive::<Int64Type>();
            (0..batch.num_rows())
                .map(|i| {
                    let t1 = t1.is_valid(i).then(|| t1.value(i));
                    (t1, t2.value(i), name.value(i).to_string(), id.value(i))
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn plan_text(plan: &Arc<dyn ExecutionPlan>) -> String {
    displayable(plan.as_ref()).indent(false).to_string()
}

/// The query's plan and rows on `engine`.
async fn sorted(
    engine: Engine,
    rows: &[Row],
    (partitions, input_batch, batch): (usize, usize, usize),
    sql: &str,
    runtime: Arc<RuntimeEnv>,
) -> datafusion::common::Result<(Arc<dyn ExecutionPlan>, Vec<RecordBatch>)> {
    let ctx = context(engine, batch, runtime);
    ctx.register_table("t", Arc::new(table(rows, partitions, input_batch)))?;
    let plan = ctx.sql(sql).await?.create_physical_plan().await?;
    let batches = collect(plan.clone(), ctx.task_ctx()).await?;
    Ok((plan, batches))
}

fn block_on<T>(future: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
        .block_on(future)
}

fn row() -> impl Strategy<Value = Row> {
    (
        prop::option::weighted(0.8, 0i64..4),
        0i64..3,
        prop::sample::select(vec!["", "a", "b", "ab"]),
        0i64..3,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Small ranges make most keys equal, so the tie-break decides most of the order; whole
    /// rows may repeat, and then only their count matters, which the comparison sees.
    #[test]
    fn orders_rows_as_datafusion_does(
        rows in prop::collection::vec(row(), 0..400),
        partitions in 1usize..4,
        input_batch in prop::sample::select(vec![1usize, 3, 8192]),
        batch in prop::sample::select(vec![1usize, 3, 8192]),
    ) {
        let setup = (partitions, input_batch, batch);
        let sql = format!("SELECT * FROM t {ORDER}");
        let (plan, found) = block_on(sorted(Engine::Operator, &rows, setup, &sql, Arc::default()))
            .unwrap();
        let (stock_plan, expected) =
            block_on(sorted(Engine::Sql, &rows, setup, &sql, Arc::default())).unwrap();
        prop_assert!(plan_text(&plan).contains("PrefixSortExec"), "{}", plan_text(&plan));
        prop_assert!(!plan_text(&stock_plan).contains("PrefixSortExec"));
        prop_assert_eq!(rows_of(&found), rows_of(&expected));
        prop_assert!(found.iter().all(|b| b.num_rows() <= batch));
    }
}

/// A string lead has no cheap key, a limit is a top-k, and a sort feeding a window keeps its
/// partitions: DataFusion's sorts stay.
#[test]
fn other_sorts_are_left_alone() {
    let rows: Vec<Row> = vec![(Some(1), 1, "a", 1), (None, 2, "b", 2)];
    for sql in [
        "SELECT * FROM t ORDER BY name, t1",
        "SELECT * FROM t ORDER BY t1 LIMIT 1",
        "SELECT id, row_number() OVER (PARTITION BY name ORDER BY t1) FROM t",
    ] {
        let (plan, _) = block_on(sorted(
            Engine::Operator,
            &rows,
            (2, 1, 8192),
            sql,
            Arc::default(),
        ))
        .unwrap();
        let text = plan_text(&plan);
        // DataFusion's sort is still there, and it is not the prefix sort.
        assert!(
            text.contains("SortExec: ") && !text.contains("PrefixSortExec"),
            "{sql}\n{text}"
        );
    }
}

/// A pool without a limit, except that it refuses each partition of the prefix sort more than
/// 1 MB: the hand-over happens for sure, and DataFusion's sort then runs as it would.
#[derive(Debug, Default)]
struct StingyToThePrefixSort(UnboundedMemoryPool);

impl std::fmt::Display for StingyToThePrefixSort {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl MemoryPool for StingyToThePrefixSort {
    fn name(&self) -> &str {
        "stingy to the prefix sort"
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.0.grow(reservation, additional);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.0.shrink(reservation, shrink);
    }

    fn try_grow(
        &self,
        reservation: &MemoryReservation,
        additional: usize,
    ) -> datafusion::common::Result<()> {
        if reservation.consumer().name().starts_with("PrefixSortExec")
            && reservation.size() + additional > 1_000_000
        {
            return resources_err!("the test refuses the prefix sort more memory");
        }
        self.0.try_grow(reservation, additional)
    }

    fn reserved(&self) -> usize {
        self.0.reserved()
    }
}

/// 200,000 rows (about 12 MB held with their keys) that the pool will not let the prefix sort
/// hold: it hands what it read, and the unread rest, to DataFusion's sort, and the rows come
/// out as DataFusion sorts them.
#[test]
fn a_refused_reservation_hands_over_to_datafusions_sort() {
    let rows: Vec<Row> = (0..200_000i64)
        .map(|i| {
            let name = ["", "a", "b", "ab"][(i % 4) as usize];
            (Some(i % 1_000), i % 7, name, i)
        })
        .collect();
    let sql = format!("SELECT * FROM t {ORDER}");
    let setup = (2, 4096, 8192);
    let stingy = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(StingyToThePrefixSort::default()))
        .build_arc()
        .unwrap();
    let (plan, found) = block_on(sorted(Engine::Operator, &rows, setup, &sql, stingy)).unwrap();
    let (_, expected) = block_on(sorted(Engine::Sql, &rows, setup, &sql, Arc::default())).unwrap();
    assert_eq!(rows_of(&found).len(), 200_000);
    assert_eq!(rows_of(&found), rows_of(&expected));
    let handed_over = plan
        .metrics()
        .and_then(|metrics| metrics.sum_by_name("handed_over"))
        .map(|count| count.as_usize());
    assert_eq!(handed_over, Some(1), "{}", plan_text(&plan));
}

/// The plan Ballista would ship: the sort survives the physical codec and still sorts.
#[test]
fn the_sort_round_trips_through_protobuf() {
    let rows: Vec<Row> = (0..500i64)
        .map(|i| (Some(i % 5).filter(|t| *t != 3), i % 3, "x", i))
        .collect();
    let sql = format!("SELECT * FROM t {ORDER}");
    block_on(async {
        let ctx = context(Engine::Operator, 64, Arc::default());
        ctx.register_table("t", Arc::new(table(&rows, 2, 50)))
            .unwrap();
        let plan = ctx
            .sql(&sql)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let codec = physical_codec();
        let bytes = physical_plan_to_bytes_with_extension_codec(plan.clone(), &codec).unwrap();
        let decoded =
            physical_plan_from_bytes_with_extension_codec(&bytes, &ctx.task_ctx(), &codec).unwrap();
        let first_line = |plan: &Arc<dyn ExecutionPlan>| {
            plan_text(plan)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string()
        };
        assert!(
            first_line(&decoded).starts_with("PrefixSortExec"),
            "{}",
            plan_text(&decoded)
        );
        assert_eq!(first_line(&decoded), first_line(&plan));
        let expected = collect(plan, ctx.task_ctx()).await.unwrap();
        let found = collect(decoded, ctx.task_ctx()).await.unwrap();
        assert_eq!(rows_of(&found), rows_of(&expected));
        assert_eq!(rows_of(&found).len(), 500);
    });
}
