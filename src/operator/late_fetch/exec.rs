//! [`LateFetchExec`]: buffers each partition of the join's output, reads the buffered rows'
//! wide columns from their files (`read.rs`), and emits the rows with them, in the order they
//! came.
//!
//! A partition buffers as much as the memory pool grants, so the rows of one fetch are as many
//! as memory allows, and a page holding several of them is decoded once rather than once per
//! batch. The columns it emits are the ones the join would have carried, so every operator
//! above reads what it read before.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch};
use datafusion::arrow::compute::concat;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::utils::memory::get_record_batch_memory_size;
use datafusion::common::{ColumnStatistics, Result, Statistics, internal_err};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{
    EquivalenceProperties, LexOrdering, PhysicalExpr, PhysicalSortExpr,
};
use datafusion::physical_plan::execution_plan::EmissionType;
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet, Time,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildStats, ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan,
    ExecutionPlanProperties, Partitioning, PlanProperties, ReplaceChildrenOptions, StatisticsArgs,
};
use futures::StreamExt;
use object_store::ObjectStore;

use super::node::{FetchPlan, Source};
use super::read;

#[derive(Debug, Clone)]
pub struct LateFetchExec {
    input: Arc<dyn ExecutionPlan>,
    plan: Arc<FetchPlan>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl LateFetchExec {
    /// `input`'s rows as `schema`, made by `plan`.
    ///
    /// # Errors
    /// A plan that names columns `input` or `schema` does not have.
    pub fn try_new(
        input: Arc<dyn ExecutionPlan>,
        plan: FetchPlan,
        schema: SchemaRef,
    ) -> Result<Self> {
        let width = input.schema().fields().len();
        let in_input = |index: usize| index < width;
        let sides_fit = plan
            .sides
            .iter()
            .all(|side| in_input(side.file) && in_input(side.row));
        let sources_fit = plan.sources.len() == schema.fields().len()
            && plan.sources.iter().all(|source| match source {
                Source::Input(index) => in_input(*index),
                Source::Fetched { side, column } => plan
                    .sides
                    .get(*side)
                    .is_some_and(|side| *column < side.columns.len()),
            });
        if !sides_fit || !sources_fit {
            return internal_err!("LateFetchExec: a plan that does not fit its input");
        }
        // Rows keep their partition; a hash partitioning stays declared when its columns are
        // among those passed through.
        let partitioning = match input.output_partitioning() {
            Partitioning::Hash(exprs, partitions) => exprs
                .iter()
                .map(|expr| {
                    let column = expr.downcast_ref::<Column>()?;
                    let output = plan
                        .sources
                        .iter()
                        .position(|s| *s == Source::Input(column.index()))?;
                    Some(Arc::new(Column::new(schema.field(output).name(), output))
                        as Arc<dyn PhysicalExpr>)
                })
                .collect::<Option<Vec<_>>>()
                .map_or(Partitioning::UnknownPartitioning(*partitions), |exprs| {
                    Partitioning::Hash(exprs, *partitions)
                }),
            other => Partitioning::UnknownPartitioning(other.partition_count()),
        };
        let properties = Arc::new(PlanProperties::new(
            orderings_through(&input, &plan, &schema),
            partitioning,
            EmissionType::Final,
            input.boundedness(),
        ));
        Ok(LateFetchExec {
            input,
            plan: Arc::new(plan),
            schema,
            properties,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }
}

impl DisplayAs for LateFetchExec {
    fn fmt_as(&self, format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let fetched: Vec<String> = self
            .plan
            .sides
            .iter()
            .enumerate()
            .map(|(index, side)| {
                let names: Vec<String> = self
                    .plan
                    .outputs_of(index)
                    .into_iter()
                    .flatten()
                    .map(|output| self.schema.field(output).name().clone())
                    .collect();
                format!(
                    "[{}] by file@{}, row@{}",
                    names.join(", "),
                    side.file,
                    side.row
                )
            })
            .collect();
        match format {
            DisplayFormatType::Default | DisplayFormatType::Verbose => {
                write!(f, "LateFetchExec: fetch={}", fetched.join("; "))
            }
            DisplayFormatType::TreeRender => writeln!(f, "fetch={}", fetched.join("; ")),
        }
    }
}

impl ExecutionPlan for LateFetchExec {
    fn name(&self) -> &'static str {
        "LateFetchExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    /// Rows leave in the order they came, and their orders on the columns passed through
    /// are declared ([`orderings_through`]); but not as an operator a sort may be pushed
    /// below, since its columns are not its input's.
    fn maintains_input_order(&self) -> Vec<bool> {
        vec![false]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        vec![ChildStats::At(partition)]
    }

    /// The input's rows; its columns' statistics where they pass through.
    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        _args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        let [input] = input_stats else {
            return internal_err!("LateFetchExec has one child");
        };
        let column_statistics = self
            .plan
            .sources
            .iter()
            .map(|source| match source {
                Source::Input(index) => input
                    .column_statistics
                    .get(*index)
                    .cloned()
                    .unwrap_or_else(ColumnStatistics::new_unknown),
                Source::Fetched { .. } => ColumnStatistics::new_unknown(),
            })
            .collect();
        Ok(Arc::new(Statistics {
            num_rows: input.num_rows,
            total_byte_size: Precision::Absent,
            column_statistics,
        }))
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [input] = <[_; 1]>::try_from(children)
            .or_else(|_| internal_err!("LateFetchExec has one child"))?;
        Ok(Arc::new(LateFetchExec::try_new(
            input,
            FetchPlan::clone(&self.plan),
            Arc::clone(&self.schema),
        )?))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let stores = self
            .plan
            .sides
            .iter()
            .map(|side| {
                context
                    .runtime_env()
                    .object_store(ObjectStoreUrl::parse(&side.store)?)
            })
            .collect::<Result<Vec<_>>>()?;
        let fetch = Fetch {
            input: self.input.execute(partition, Arc::clone(&context))?,
            plan: Arc::clone(&self.plan),
            schema: Arc::clone(&self.schema),
            stores,
            reservation: MemoryConsumer::new(format!("LateFetchExec[{partition}]"))
                .register(context.memory_pool()),
            held: None,
            ended: false,
            metrics: FetchMetrics::new(&self.metrics, partition),
        };
        let batches = futures::stream::try_unfold(fetch, |mut fetch| async move {
            Ok(fetch.next_round().await?.map(|batches| (batches, fetch)))
        })
        .map(|round: Result<Vec<RecordBatch>>| match round {
            Ok(batches) => futures::stream::iter(batches.into_iter().map(Ok)).left_stream(),
            Err(error) => futures::stream::once(async { Err(error) }).right_stream(),
        })
        .flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            batches,
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// The input's orderings, on the output's columns: each up to its first column not passed
/// through.
fn orderings_through(
    input: &Arc<dyn ExecutionPlan>,
    plan: &FetchPlan,
    schema: &SchemaRef,
) -> EquivalenceProperties {
    let output_of = |expr: &Arc<dyn PhysicalExpr>| -> Option<Arc<dyn PhysicalExpr>> {
        let column = expr.downcast_ref::<Column>()?;
        let output = plan
            .sources
            .iter()
            .position(|source| *source == Source::Input(column.index()))?;
        Some(Arc::new(Column::new(schema.field(output).name(), output)))
    };
    let orderings = input
        .equivalence_properties()
        .oeq_class()
        .iter()
        .filter_map(|ordering| {
            LexOrdering::new(ordering.iter().map_while(|sort| {
                Some(PhysicalSortExpr::new(output_of(&sort.expr)?, sort.options))
            }))
        });
    EquivalenceProperties::new_with_orderings(Arc::clone(schema), orderings)
}

#[derive(Clone)]
struct FetchMetrics {
    baseline: BaselineMetrics,
    /// How many times the partition read its rows' files: more than one when memory ran short.
    rounds: Count,
    /// Time spent reading the files again, decoding included.
    fetch_time: Time,
}

impl FetchMetrics {
    fn new(metrics: &ExecutionPlanMetricsSet, partition: usize) -> Self {
        FetchMetrics {
            baseline: BaselineMetrics::new(metrics, partition),
            rounds: MetricBuilder::new(metrics).counter("rounds", partition),
            fetch_time: MetricBuilder::new(metrics).subset_time("fetch_time", partition),
        }
    }
}

/// One partition's execution.
struct Fetch {
    input: SendableRecordBatchStream,
    plan: Arc<FetchPlan>,
    schema: SchemaRef,
    /// One per side.
    stores: Vec<Arc<dyn ObjectStore>>,
    reservation: MemoryReservation,
    /// A batch read but not yet buffered: memory ran short with it.
    held: Option<RecordBatch>,
    /// The input has ended: it is not polled again.
    ended: bool,
    metrics: FetchMetrics,
}

impl Fetch {
    /// The next round's output: the input buffered as far as memory allows, with its wide
    /// columns read. `None` at the input's end.
    async fn next_round(&mut self) -> Result<Option<Vec<RecordBatch>>> {
        let mut buffered: Vec<RecordBatch> = Vec::new();
        if let Some(batch) = self.held.take() {
            self.reservation
                .try_grow(get_record_batch_memory_size(&batch))?;
            buffered.push(batch);
        }
        while !self.ended {
            let Some(batch) = self.input.next().await.transpose()? else {
                self.ended = true;
                break;
            };
            if batch.num_rows() == 0 {
                continue;
            }
            let size = get_record_batch_memory_size(&batch);
            if let Err(error) = self.reservation.try_grow(size) {
                if buffered.is_empty() {
                    return Err(error);
                }
                self.held = Some(batch);
                break;
            }
            buffered.push(batch);
        }
        if buffered.is_empty() {
            return Ok(None);
        }
        let timer = self.metrics.fetch_time.timer();
        let fetched = fetch(&self.plan, &self.schema, &self.stores, &buffered).await?;
        drop(timer);
        let _timer = self.metrics.baseline.elapsed_compute().timer();
        let batches = buffered
            .iter()
            .enumerate()
            .map(|(index, batch)| {
                let columns = self
                    .plan
                    .sources
                    .iter()
                    .map(|source| match *source {
                        Source::Input(column) => Arc::clone(batch.column(column)),
                        Source::Fetched { side, column } => {
                            Arc::clone(&fetched[side][index][column])
                        }
                    })
                    .collect();
                RecordBatch::try_new(Arc::clone(&self.schema), columns)
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        self.reservation.free();
        self.metrics.rounds.add(1);
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        self.metrics.baseline.record_output(rows);
        Ok(Some(batches))
    }
}

/// Each side's fetched columns for `batches`, by `plan`, as `schema` types them: per side,
/// per batch, per column.
async fn fetch(
    plan: &FetchPlan,
    schema: &SchemaRef,
    stores: &[Arc<dyn ObjectStore>],
    batches: &[RecordBatch],
) -> Result<Vec<Vec<Vec<ArrayRef>>>> {
    let lengths: Vec<usize> = batches.iter().map(RecordBatch::num_rows).collect();
    let column = |index: usize| -> Result<ArrayRef> {
        let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(index).as_ref()).collect();
        Ok(concat(&arrays)?)
    };
    let mut fetched = Vec::with_capacity(plan.sides.len());
    for (index, side) in plan.sides.iter().enumerate() {
        let fields: Vec<_> = side
            .columns
            .iter()
            .zip(plan.outputs_of(index))
            .map(|(name, output)| match output {
                Some(output) => Ok((name.clone(), schema.field(output))),
                None => internal_err!("LateFetchExec: column {name} fetched for nothing"),
            })
            .collect::<Result<_>>()?;
        let arrays = read::fetch(
            &stores[index],
            &column(side.file)?,
            &column(side.row)?,
            &fields,
            &lengths,
        )
        .await?;
        fetched.push(arrays);
    }
    Ok(fetched)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{
        AsArray, DictionaryArray, Int64Array, RecordBatch, StringArray,
    };
    use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema};
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::execution::TaskContext;
    use datafusion::execution::memory_pool::GreedyMemoryPool;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::physical_plan::{ExecutionPlan, collect};
    use parquet::arrow::ArrowWriter;

    use super::LateFetchExec;
    use crate::operator::late_fetch::node::{FetchPlan, Side, Source};

    /// Rows whose positions point all over a file, fetched with memory for about three of
    /// their batches at a time: several rounds, each row with its own value, in input order.
    #[tokio::test]
    async fn rounds_cut_by_memory_keep_every_row_and_its_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("values.parquet");
        let values: StringArray = (0..1000).map(|i| Some(format!("v{i}"))).collect();
        let file_schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Utf8, false)]));
        let batch = RecordBatch::try_new(Arc::clone(&file_schema), vec![Arc::new(values)]).unwrap();
        let mut writer =
            ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), file_schema, None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();

        // Store paths have no leading `/`.
        let location = path.to_str().unwrap().trim_start_matches('/').to_string();
        let file_type = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let input_schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("file", file_type, false),
            Field::new("row", DataType::Int64, false),
        ]));
        let position = |id: i64| (id * 37) % 1000;
        let batches: Vec<RecordBatch> = (0..10)
            .map(|b| {
                let ids: Vec<i64> = (b * 100..b * 100 + 100).collect();
                let files: DictionaryArray<Int32Type> =
                    ids.iter().map(|_| location.as_str()).collect();
                let rows: Int64Array = ids.iter().map(|&id| position(id)).collect();
                RecordBatch::try_new(
                    Arc::clone(&input_schema),
                    vec![
                        Arc::new(Int64Array::from(ids)),
                        Arc::new(files),
                        Arc::new(rows),
                    ],
                )
                .unwrap()
            })
            .collect();
        let one_batch =
            datafusion::common::utils::memory::get_record_batch_memory_size(&batches[0]);
        let input =
            MemorySourceConfig::try_new_exec(&[batches], Arc::clone(&input_schema), None).unwrap();
        let plan = FetchPlan {
            sources: vec![Source::Input(0), Source::Fetched { side: 0, column: 0 }],
            sides: vec![Side {
                store: "file:///".to_string(),
                file: 1,
                row: 2,
                columns: vec!["v".to_string()],
            }],
        };
        let output_schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("v", DataType::Utf8, false),
        ]));
        let exec = Arc::new(LateFetchExec::try_new(input, plan, output_schema).unwrap());

        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(GreedyMemoryPool::new(one_batch * 3)))
            .build_arc()
            .unwrap();
        let context = Arc::new(TaskContext::default().with_runtime(runtime));
        let output = collect(Arc::clone(&exec) as Arc<dyn ExecutionPlan>, context)
            .await
            .unwrap();

        let mut seen = Vec::new();
        for batch in &output {
            let ids = batch.column(0).as_primitive::<Int64Type>();
            let values = batch.column(1).as_string::<i32>();
            for i in 0..batch.num_rows() {
                seen.push((ids.value(i), values.value(i).to_string()));
            }
        }
        let expected: Vec<(i64, String)> = (0..1000)
            .map(|id| (id, format!("v{}", position(id))))
            .collect();
        assert_eq!(seen, expected);
        let rounds = exec
            .metrics()
            .unwrap()
            .sum_by_name("rounds")
            .unwrap()
            .as_usize();
        assert!(
            rounds >= 3,
            "memory for three batches should cut ten into rounds: {rounds}"
        );
    }
}
