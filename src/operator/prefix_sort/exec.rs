//! [`PrefixSortExec`]: the plan node, its partitions' buffering, and its hand-over to
//! DataFusion's spilling sort when memory runs short.

use std::fmt;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::utils::memory::get_record_batch_memory_size;
use datafusion::common::{DataFusionError, Result, internal_err};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{LexOrdering, PhysicalExpr};
use datafusion::physical_plan::execution_plan::EmissionType;
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet, RecordOutput,
};
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::physical_plan::{
    ChildStats, ChildrenPropertiesMode, DisplayAs, DisplayFormatType, Distribution, ExecutionPlan,
    ExecutionPlanProperties, Partitioning, PlanProperties, ReplaceChildrenOptions, Statistics,
    StatisticsArgs, apply_expression_roots,
};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt, TryStreamExt};

use super::order::{KEYED_BYTES, Keyed, SortColumns, gather};

/// Sorts all partitions of its input into one, like DataFusion's `SortExec` under a
/// `SortPreservingMergeExec`, for orders that lead with a fixed-width column.
#[derive(Debug, Clone)]
pub struct PrefixSortExec {
    input: Arc<dyn ExecutionPlan>,
    ordering: LexOrdering,
    columns: SortColumns,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl PrefixSortExec {
    /// `Ok(None)` when `ordering` does not lead with a fixed-width column, or is not made of
    /// plain columns: then this sort has nothing to offer over the stock one.
    pub fn try_new(ordering: LexOrdering, input: Arc<dyn ExecutionPlan>) -> Result<Option<Self>> {
        let Some(columns) = SortColumns::of(&ordering, &input.schema()) else {
            return Ok(None);
        };
        let mut equivalences = input.equivalence_properties().clone();
        equivalences.reorder(ordering.clone())?;
        let properties = Arc::new(PlanProperties::new(
            equivalences,
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            input.boundedness(),
        ));
        Ok(Some(PrefixSortExec {
            input,
            ordering,
            columns,
            properties,
            metrics: ExecutionPlanMetricsSet::new(),
        }))
    }

    pub fn ordering(&self) -> &LexOrdering {
        &self.ordering
    }
}

impl DisplayAs for PrefixSortExec {
    fn fmt_as(&self, format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        match format {
            DisplayFormatType::Default | DisplayFormatType::Verbose => {
                write!(f, "PrefixSortExec: expr=[{}]", self.ordering)
            }
            DisplayFormatType::TreeRender => writeln!(f, "{}", self.ordering),
        }
    }
}

impl ExecutionPlan for PrefixSortExec {
    fn name(&self) -> &'static str {
        "PrefixSortExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        vec![Distribution::UnspecifiedDistribution]
    }

    /// Its input's partitions are read in parallel as they are; more would only add a
    /// shuffle.
    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![false]
    }

    /// Its one partition reads all of its input: over an input of one partition, that
    /// partition alone (which is what lets it stand below a time-aligned window join).
    fn child_stats_requests(&self, _partition: Option<usize>) -> Vec<ChildStats> {
        vec![ChildStats::At(None)]
    }

    /// A sort keeps its input's rows and their statistics.
    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        _args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        match input_stats {
            [input] => Ok(Arc::clone(input)),
            _ => internal_err!("PrefixSortExec has one child"),
        }
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        apply_expression_roots(self.ordering.iter().map(|sort| &sort.expr), f)
    }

    /// Same properties: only the input changes (its metrics start afresh). Recomputed: the
    /// sort is checked against the new input, which may have lost its columns.
    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [input] = <[_; 1]>::try_from(children)
            .or_else(|_| internal_err!("PrefixSortExec has one child"))?;
        match options.children_properties {
            ChildrenPropertiesMode::Keep => Ok(Arc::new(PrefixSortExec {
                input,
                metrics: ExecutionPlanMetricsSet::new(),
                ..PrefixSortExec::clone(&self)
            })),
            ChildrenPropertiesMode::Recompute => {
                match PrefixSortExec::try_new(self.ordering.clone(), input)? {
                    Some(exec) => Ok(Arc::new(exec)),
                    None => internal_err!(
                        "PrefixSortExec: the new input no longer has the sort columns"
                    ),
                }
            }
        }
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
        if partition != 0 {
            return internal_err!("PrefixSortExec has one partition, not {partition}");
        }
        let sort = Sort {
            input: self.input.clone(),
            ordering: self.ordering.clone(),
            columns: self.columns.clone(),
            metrics: SortMetrics::new(&self.metrics),
        };
        let sorted = futures::stream::once(sort.run(context)).try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.input.schema(),
            sorted,
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

#[derive(Clone)]
struct SortMetrics {
    baseline: BaselineMetrics,
    /// Rows whose key another row shares, sorted by all their sort columns.
    tie_rows: Count,
    /// 1 when memory ran short and DataFusion's spilling sort took over.
    handed_over: Count,
}

impl SortMetrics {
    fn new(metrics: &ExecutionPlanMetricsSet) -> Self {
        SortMetrics {
            baseline: BaselineMetrics::new(metrics, 0),
            tie_rows: MetricBuilder::new(metrics).counter("tie_rows", 0),
            handed_over: MetricBuilder::new(metrics).counter("handed_over", 0),
        }
    }
}

/// One execution.
struct Sort {
    input: Arc<dyn ExecutionPlan>,
    ordering: LexOrdering,
    columns: SortColumns,
    metrics: SortMetrics,
}

/// A partition read to its end: every batch, with its rows' keys sorted.
struct Read {
    batches: Vec<RecordBatch>,
    entries: Vec<Keyed>,
    reservation: MemoryReservation,
}

/// What a partition's reading ended with.
enum Buffered {
    All(Read),
    /// The memory pool refused more: the batches so far, and the rest still unread.
    Short {
        batches: Vec<RecordBatch>,
        rest: SendableRecordBatchStream,
    },
}

impl Sort {
    async fn run(self, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let partitions = self.input.output_partitioning().partition_count();
        let readers = (0..partitions)
            .map(|partition| {
                let stream = self.input.execute(partition, context.clone())?;
                let reservation = MemoryConsumer::new(format!("PrefixSortExec[{partition}]"))
                    .with_can_spill(true)
                    .register(context.memory_pool());
                Ok(SpawnedTask::spawn(buffer(
                    stream,
                    self.columns.clone(),
                    reservation,
                )))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut buffered = Vec::with_capacity(partitions);
        for reader in readers {
            buffered.push(
                reader
                    .join_unwind()
                    .await
                    .map_err(|e| DataFusionError::ExecutionJoin(Box::new(e)))??,
            );
        }
        if buffered.iter().all(|b| matches!(b, Buffered::All(_))) {
            let reads = buffered
                .into_iter()
                .filter_map(|partition| match partition {
                    Buffered::All(read) => Some(read),
                    Buffered::Short { .. } => None,
                })
                .collect();
            let config = context.session_config();
            self.in_memory(reads, (config.batch_size(), config.target_partitions()))
        } else {
            self.metrics.handed_over.add(1);
            self.hand_over(buffered, context)
        }
    }

    /// All rows are held: sort their keys and stream them out in order.
    fn in_memory(
        self,
        reads: Vec<Read>,
        (batch_size, lanes): (usize, usize),
    ) -> Result<SendableRecordBatchStream> {
        let timer = self.metrics.baseline.elapsed_compute().timer();
        let mut batches = Vec::new();
        let mut entries = Vec::new();
        let mut reservations = Vec::new();
        for Read {
            batches: more,
            entries: keyed,
            reservation,
        } in reads
        {
            let offset = batches.len() as u32;
            entries.extend(keyed.into_iter().map(|entry| entry.shifted(offset)));
            batches.extend(more);
            reservations.push(reservation);
        }
        let tied = self.columns.sort(&batches, &mut entries)?;
        self.metrics.tie_rows.add(tied);
        timer.done();

        let sorted = Arc::new(Sorted {
            schema: self.input.schema(),
            batches,
            entries,
            batch_size: batch_size.max(1),
        });
        Ok(sorted.emit(lanes, reservations, self.metrics.baseline))
    }

    /// Memory ran short: what was read, and the unread rest, go to DataFusion's sort, which
    /// spills.
    fn hand_over(
        self,
        buffered: Vec<Buffered>,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let schema = self.input.schema();
        let partitions = buffered
            .into_iter()
            .map(|partition| {
                let (batches, rest) = match partition {
                    // Its reservation goes with it: the stock sort reserves for itself.
                    Buffered::All(read) => (read.batches, None),
                    Buffered::Short { batches, rest } => (batches, Some(rest)),
                };
                let read = futures::stream::iter(batches.into_iter().map(Ok));
                let unread = futures::stream::iter(rest).flatten();
                let stream = RecordBatchStreamAdapter::new(schema.clone(), read.chain(unread));
                Arc::new(Resumed::new(schema.clone(), Box::pin(stream))) as Arc<dyn PartitionStream>
            })
            .collect();
        let resumed = Arc::new(StreamingTableExec::try_new(
            schema,
            partitions,
            None,
            [],
            false,
            None,
        )?);
        let sort = SortExec::new(self.ordering.clone(), resumed).with_preserve_partitioning(true);
        SortPreservingMergeExec::new(self.ordering, Arc::new(sort)).execute(0, context)
    }
}

/// Every row, in order.
struct Sorted {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    entries: Vec<Keyed>,
    batch_size: usize,
}

impl Sorted {
    /// The output, gathered by `lanes` tasks in parallel: lane k gathers output batches k,
    /// k + lanes, …, and the stream takes them in turn, so at most one batch waits per lane.
    fn emit(
        self: Arc<Self>,
        lanes: usize,
        reservations: Vec<MemoryReservation>,
        baseline: BaselineMetrics,
    ) -> SendableRecordBatchStream {
        let outputs = self.entries.len().div_ceil(self.batch_size);
        let lanes = lanes.clamp(1, outputs.max(1));
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..lanes).map(|_| mpsc::channel(0)).unzip();
        let tasks: Vec<SpawnedTask<()>> = senders
            .into_iter()
            .enumerate()
            .map(|(lane, mut sender)| {
                let sorted = Arc::clone(&self);
                let baseline = baseline.clone();
                SpawnedTask::spawn(async move {
                    for output in (lane..outputs).step_by(lanes) {
                        let timer = baseline.elapsed_compute().timer();
                        let batch = sorted.gather(output);
                        timer.done();
                        if sender.send(batch).await.is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        // The tasks and the reservations live as long as the stream.
        let state = (receivers, 0, tasks, reservations);
        let output = futures::stream::unfold(state, move |mut state| async move {
            let (receivers, next, _, _) = &mut state;
            if *next == outputs {
                return None;
            }
            let lane = *next % receivers.len();
            let batch = receivers[lane]
                .next()
                .await
                .unwrap_or_else(|| internal_err!("PrefixSortExec: a gathering task stopped early"));
            *next += 1;
            Some((batch, state))
        })
        .inspect_ok(move |batch| {
            batch.record_output(&baseline);
        });
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), output))
    }

    fn gather(&self, output: usize) -> Result<RecordBatch> {
        let start = output * self.batch_size;
        let end = (start + self.batch_size).min(self.entries.len());
        gather(&self.schema, &self.batches, &self.entries[start..end])
    }
}

/// Reads a partition, keeping every batch and its rows' keys, until the end or until the pool
/// refuses memory.
async fn buffer(
    mut stream: SendableRecordBatchStream,
    columns: SortColumns,
    reservation: MemoryReservation,
) -> Result<Buffered> {
    let encoder = columns.key_encoder()?;
    let mut batches = Vec::new();
    let mut entries = Vec::new();
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let bytes = get_record_batch_memory_size(&batch) + batch.num_rows() * KEYED_BYTES;
        if reservation.try_grow(bytes).is_err() {
            batches.push(batch);
            return Ok(Buffered::Short {
                batches,
                rest: stream,
            });
        }
        encoder.push(&batch, batches.len() as u32, &mut entries)?;
        batches.push(batch);
    }
    // Sorted here, in parallel with the other partitions; the final sort merges the runs.
    entries.sort_unstable_by_key(Keyed::key);
    Ok(Buffered::All(Read {
        batches,
        entries,
        reservation,
    }))
}

/// A partition's stream, handed to DataFusion's sort once.
struct Resumed {
    schema: SchemaRef,
    stream: Mutex<Option<SendableRecordBatchStream>>,
}

impl Resumed {
    fn new(schema: SchemaRef, stream: SendableRecordBatchStream) -> Self {
        Resumed {
            schema,
            stream: Mutex::new(Some(stream)),
        }
    }
}

impl fmt::Debug for Resumed {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("Resumed")
    }
}

impl PartitionStream for Resumed {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _context: Arc<TaskContext>) -> SendableRecordBatchStream {
        let taken = self.stream.lock().map(|mut stream| stream.take());
        match taken {
            Ok(Some(stream)) => stream,
            _ => {
                let error = DataFusionError::Internal(
                    "PrefixSortExec: a partition handed over was read twice".into(),
                );
                Box::pin(RecordBatchStreamAdapter::new(
                    self.schema.clone(),
                    futures::stream::once(async { Err(error) }),
                ))
            }
        }
    }
}
