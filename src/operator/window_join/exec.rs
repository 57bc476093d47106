//! [`WindowJoinExec`]: the plan node, its requirements on the inputs and its display.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::compute::SortOptions;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::ColumnStatistics;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{JoinType, Result, internal_err, plan_err};
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::equivalence::join_equivalence_properties;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{
    LexOrdering, OrderingRequirements, PhysicalExpr, PhysicalExprRef, PhysicalSortExpr,
};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::projection::{
    ProjectionExec, join_allows_pushdown, join_table_borders, new_join_children,
    physical_to_column_exprs, update_join_on,
};
use datafusion::physical_plan::sorts::streaming_merge::StreamingMergeBuilder;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildStats, ChildrenPropertiesMode, DisplayAs, DisplayFormatType, Distribution, ExecutionPlan,
    ExecutionPlanProperties, InputDistributionRequirements, Partitioning, PlanProperties,
    ReplaceChildrenOptions, Statistics, StatisticsArgs, apply_expression_roots,
};
use futures::StreamExt;
use tokio::sync::OnceCell;

use super::band::Bound;
use super::files;
use super::held::compacted;
use super::layout::{self, Alignment, Driver, Layout, SideSpans, Span};
use super::metrics::WindowJoinMetrics;
use super::probe;
use super::stream::{self, Input, Params, Residual};

/// The order both inputs must have after their keys: ascending, nulls last, as the lake's
/// files declare it (so no sort is added above them).
const ORDER: SortOptions = SortOptions {
    descending: false,
    nulls_first: false,
};

/// An inner join of rows with equal keys whose right time lies in
/// `[left time + lower, left time + upper]`, further filtered by `residual`.
#[derive(Debug, Clone)]
pub struct WindowJoinExec {
    left: Arc<dyn ExecutionPlan>,
    right: Arc<dyn ExecutionPlan>,
    on: Vec<(PhysicalExprRef, PhysicalExprRef)>,
    left_time: Column,
    right_time: Column,
    lower: Bound,
    upper: Bound,
    /// Over the output schema (left columns, then right columns).
    residual: Option<PhysicalExprRef>,
    schema: SchemaRef,
    layout: Layout,
    /// The held side of a probe layout, built by the first partition that needs it.
    held: Arc<OnceCell<Arc<probe::Held>>>,
    metrics: ExecutionPlanMetricsSet,
    properties: Arc<PlanProperties>,
}

impl WindowJoinExec {
    /// # Errors
    /// Times that are not integers or timestamps of the same type on both sides; no keys.
    pub fn try_new(
        left: Arc<dyn ExecutionPlan>,
        right: Arc<dyn ExecutionPlan>,
        on: Vec<(PhysicalExprRef, PhysicalExprRef)>,
        (left_time, right_time): (Column, Column),
        (lower, upper): (Bound, Bound),
        residual: Option<PhysicalExprRef>,
        layout: Layout,
    ) -> Result<Self> {
        if on.is_empty() {
            return plan_err!("WindowJoin needs at least one equality key");
        }
        let left_type = left_time.data_type(&left.schema())?;
        let right_type = right_time.data_type(&right.schema())?;
        if left_type != right_type
            || !matches!(left_type, DataType::Int64 | DataType::Timestamp(_, _))
        {
            return plan_err!(
                "WindowJoin: times must be integers or timestamps of one type, not {left_type} \
                 and {right_type}"
            );
        }
        for (l, r) in &on {
            let (l, r) = (l.data_type(&left.schema())?, r.data_type(&right.schema())?);
            if l != r {
                return plan_err!("WindowJoin: key types differ: {l} and {r}");
            }
        }
        let schema = Arc::new(output_schema(&left.schema(), &right.schema()));
        let partitioning = match &layout {
            Layout::KeyPartitioned(_) => left.output_partitioning().clone(),
            Layout::TimeAligned(alignment) => Partitioning::UnknownPartitioning(alignment.outputs),
            Layout::Probe(driver) => {
                let (driver, _) = driver.order((&left, &right));
                Partitioning::UnknownPartitioning(driver.output_partitioning().partition_count())
            }
        };
        // The keys are equal across the output, and a key-partitioned join's rows come in its
        // left input's order (each left row's pairs together, in the order of its partition).
        let equivalences = join_equivalence_properties(
            left.equivalence_properties().clone(),
            right.equivalence_properties().clone(),
            &JoinType::Inner,
            schema.clone(),
            &maintains_input_order(&layout),
            None,
            &on,
        )?;
        let properties = Arc::new(PlanProperties::new(
            equivalences,
            partitioning,
            emission_from(&[&left, &right]),
            boundedness_from(&[&left, &right]),
        ));
        Ok(WindowJoinExec {
            left,
            right,
            on,
            left_time,
            right_time,
            lower,
            upper,
            residual,
            schema,
            layout,
            held: Arc::new(OnceCell::new()),
            metrics: ExecutionPlanMetricsSet::new(),
            properties,
        })
    }

    /// Chosen when planning from the inputs as they were then; see `layout.rs`.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The left and right inputs as the layout sees them.
    fn sides(&self) -> (SideSpans<'_>, SideSpans<'_>) {
        let left = SideSpans {
            plan: &self.left,
            time: &self.left_time,
        };
        let right = SideSpans {
            plan: &self.right,
            time: &self.right_time,
        };
        (left, right)
    }

    /// The merge of one (left, right) pair of ordered streams.
    fn join(
        &self,
        (left, right): (SendableRecordBatchStream, SendableRecordBatchStream),
        partition: usize,
        context: &Arc<TaskContext>,
        metrics: WindowJoinMetrics,
    ) -> Result<SendableRecordBatchStream> {
        let (left_keys, right_keys) = self.keys();
        let fields = self.key_fields()?;
        let left = Input {
            stream: left,
            keys: left_keys,
            time: self.left_time.index(),
            side: "left",
        };
        let right = Input {
            stream: right,
            keys: right_keys,
            time: self.right_time.index(),
            side: "right",
        };
        let params = Params {
            schema: self.schema.clone(),
            lower: self.lower.inclusive_lower(),
            upper: self.upper.inclusive_upper(),
            residual: self
                .residual
                .as_ref()
                .map(|residual| Residual::new(residual, &self.schema))
                .transpose()?,
            converter: RowConverter::new(fields)?,
        };
        Ok(stream::execute(
            left, right, params, partition, context, metrics,
        ))
    }

    /// How the keys encode as rows, for comparing (the merge) and hashing (the probe).
    fn key_fields(&self) -> Result<Vec<SortField>> {
        let (left_keys, _) = self.keys();
        left_keys
            .iter()
            .map(|key| {
                let data_type = key.data_type(&self.left.schema())?;
                Ok(SortField::new_with_options(data_type, ORDER))
            })
            .collect()
    }

    /// Partition `partition` of a probe: the driver's partition against the held side.
    fn probe(
        &self,
        driver: Driver,
        partition: usize,
        context: &Arc<TaskContext>,
        metrics: WindowJoinMetrics,
    ) -> Result<SendableRecordBatchStream> {
        let (left_keys, right_keys) = self.keys();
        let fields = self.key_fields()?;
        let (driver_plan, held_plan) = driver.order((&self.left, &self.right));
        let (driver_keys, held_keys) = driver.order((left_keys, right_keys));
        let (driver_time, held_time) =
            driver.order((self.left_time.index(), self.right_time.index()));
        let stream = driver_plan.execute(partition, Arc::clone(context))?;
        let held = probe::held(
            Arc::clone(&self.held),
            Arc::clone(held_plan),
            probe::Side {
                keys: held_keys,
                time: held_time,
            },
            fields.clone(),
            Arc::clone(context),
        );
        let probe = probe::Probe {
            driver,
            side: probe::Side {
                keys: driver_keys,
                time: driver_time,
            },
            fields,
            bounds: (self.lower.inclusive_lower(), self.upper.inclusive_upper()),
            schema: self.schema.clone(),
            residual: self.residual.clone(),
        };
        probe::execute(stream, held, probe, metrics)
    }

    /// Partition `partition` of one side, failing on a batch outside `span`.
    fn read(
        &self,
        side: Driver,
        partition: usize,
        span: Span,
        context: &Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let (left, right) = self.sides();
        let (side, name) = match side {
            Driver::Left => (left, "left"),
            Driver::Right => (right, "right"),
        };
        let stream = side.plan.execute(partition, context.clone())?;
        let what = format!("partition {partition} of the {name} input");
        Ok(layout::checked(stream, side.time.index(), span, what))
    }

    /// The inputs driver partition `d` joins: its own rows and, merged in (key, time) order,
    /// those of the partners it meets.
    fn aligned_inputs(
        &self,
        alignment: &Alignment,
        driver: Driver,
        d: usize,
        context: &Arc<TaskContext>,
    ) -> Result<(SendableRecordBatchStream, SendableRecordBatchStream)> {
        let (driver_side, partner_side) = driver.order((Driver::Left, Driver::Right));
        let driven = self.read(driver_side, d, alignment.driver_span(d), context)?;
        let mut streams = alignment.meets[d]
            .iter()
            .map(|&p| self.read(partner_side, p, alignment.partner_span(p), context))
            .collect::<Result<Vec<_>>>()?;
        let partnered = if streams.len() == 1 {
            streams.remove(0)
        } else {
            let (left, right) = self.sides();
            let (_, partner) = driver.order((left, right));
            let (left_keys, right_keys) = self.keys();
            let (_, partner_keys) = driver.order((left_keys, right_keys));
            let ordering = Self::lex_ordering(partner_keys, partner.time);
            let reservation = MemoryConsumer::new(format!("WindowJoinMerge[{d}]"))
                .register(context.memory_pool());
            // The merge reserves for every batch it holds, and a batch of text read as
            // views holds the pages it came from: copied out, it holds only its rows. The
            // partner is the smaller side, so the copy is the cheaper one.
            let streams = streams.into_iter().map(compacting).collect();
            // The merge's own rows are counted by the join's left/right_rows.
            let uncounted = BaselineMetrics::new(&ExecutionPlanMetricsSet::new(), d);
            StreamingMergeBuilder::new()
                .with_streams(streams)
                .with_schema(partner.plan.schema())
                .with_expressions(&ordering)
                .with_metrics(uncounted)
                .with_batch_size(context.session_config().batch_size())
                .with_reservation(reservation)
                .build()?
        };
        Ok(driver.order((driven, partnered)))
    }

    /// Output partition `partition` of a time-aligned join: its run of driver partitions, one
    /// after another, then the partitions it only checks.
    fn execute_aligned(
        &self,
        alignment: &Alignment,
        partition: usize,
        context: &Arc<TaskContext>,
        metrics: &WindowJoinMetrics,
    ) -> Result<SendableRecordBatchStream> {
        let (left, right) = self.sides();
        let planned = (alignment.partitions.0.len(), alignment.partitions.1.len());
        for (side, partitions) in [(&left, planned.0), (&right, planned.1)] {
            files::verify(side, partitions, context.session_config().options())?;
        }
        let driver = alignment.driver;
        let (driver_side, partner_side) = driver.order((Driver::Left, Driver::Right));
        let mut outputs = Vec::new();
        for &d in &alignment.runs[partition] {
            outputs.push(if alignment.meets[d].is_empty() {
                drained(self.read(driver_side, d, alignment.driver_span(d), context)?)
            } else {
                let inputs = self.aligned_inputs(alignment, driver, d, context)?;
                self.join(inputs, partition, context, metrics.clone())?
            });
        }
        for &p in &alignment.unmet[partition] {
            outputs.push(drained(self.read(
                partner_side,
                p,
                alignment.partner_span(p),
                context,
            )?));
        }
        let one_after_another = futures::stream::iter(outputs).flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            one_after_another,
        )))
    }

    pub fn times(&self) -> (&Column, &Column) {
        (&self.left_time, &self.right_time)
    }

    pub fn bounds(&self) -> (Bound, Bound) {
        (self.lower, self.upper)
    }

    pub fn residual(&self) -> Option<&PhysicalExprRef> {
        self.residual.as_ref()
    }

    /// The (keys, time) order each input must arrive in.
    pub(crate) fn lex_ordering(keys: Vec<PhysicalExprRef>, time: &Column) -> LexOrdering {
        let time: PhysicalExprRef = Arc::new(time.clone());
        let exprs = keys
            .into_iter()
            .chain([time])
            .map(|expr| PhysicalSortExpr::new(expr, ORDER));
        LexOrdering::new(exprs).expect("at least the time")
    }

    fn ordering(keys: Vec<PhysicalExprRef>, time: &Column) -> OrderingRequirements {
        OrderingRequirements::from(Self::lex_ordering(keys, time))
    }

    /// The left keys and the right keys.
    pub fn keys(&self) -> (Vec<PhysicalExprRef>, Vec<PhysicalExprRef>) {
        self.on.iter().cloned().unzip()
    }
}

/// Key-partitioned, each output partition is its left partition's rows in order, each with its
/// pairs, and a probe's are its driver's; time-aligned, runs of partitions follow one another,
/// so no input order survives.
fn maintains_input_order(layout: &Layout) -> [bool; 2] {
    match layout {
        Layout::KeyPartitioned(_) | Layout::Probe(Driver::Left) => [true, false],
        Layout::Probe(Driver::Right) => [false, true],
        Layout::TimeAligned(_) => [false, false],
    }
}

/// Rows come out as soon as both inputs have produced what a window needs: the join emits as
/// its slowest input does.
fn emission_from(children: &[&Arc<dyn ExecutionPlan>]) -> EmissionType {
    let emissions = children.iter().map(|child| child.pipeline_behavior());
    emissions.fold(EmissionType::Incremental, |join, child| {
        match (join, child) {
            (EmissionType::Final, _) | (_, EmissionType::Final) => EmissionType::Final,
            (EmissionType::Both, _) | (_, EmissionType::Both) => EmissionType::Both,
            _ => EmissionType::Incremental,
        }
    })
}

/// The join holds one window per partition, never a whole input (a probe holds its side with
/// one row per key): it runs on unbounded inputs in bounded memory, unless an input itself
/// needs unbounded memory.
fn boundedness_from(children: &[&Arc<dyn ExecutionPlan>]) -> Boundedness {
    let unbounded = |infinite_memory| Boundedness::Unbounded {
        requires_infinite_memory: infinite_memory,
    };
    children.iter().map(|child| child.boundedness()).fold(
        Boundedness::Bounded,
        |join, child| match (join, child) {
            (Boundedness::Bounded, child) => child,
            (join, Boundedness::Bounded) => join,
            (
                Boundedness::Unbounded {
                    requires_infinite_memory: a,
                },
                Boundedness::Unbounded {
                    requires_infinite_memory: b,
                },
            ) => unbounded(a || b),
        },
    )
}

/// `stream` read to its end for its errors only (a partition that pairs with nothing is still
/// checked against its span).
fn drained(stream: SendableRecordBatchStream) -> SendableRecordBatchStream {
    let schema = stream.schema();
    let errors = stream.filter_map(|batch| futures::future::ready(batch.err().map(Err)));
    Box::pin(RecordBatchStreamAdapter::new(schema, errors))
}

/// The join's output: the left columns, then the right columns (the residual is evaluated
/// over it).
pub fn output_schema(left: &Schema, right: &Schema) -> Schema {
    let fields = left.fields().iter().chain(right.fields().iter()).cloned();
    Schema::new(fields.collect::<Vec<_>>())
}

impl DisplayAs for WindowJoinExec {
    fn fmt_as(&self, format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let on: Vec<String> = self.on.iter().map(|(l, r)| format!("({l}, {r})")).collect();
        let window = format!(
            "{} in [{} + {}, {} + {}]",
            self.right_time, self.left_time, self.lower, self.left_time, self.upper
        );
        match format {
            DisplayFormatType::Default | DisplayFormatType::Verbose => {
                write!(f, "WindowJoinExec: on=[{}], window={window}", on.join(", "))?;
                if let Some(residual) = &self.residual {
                    write!(f, ", residual={residual}")?;
                }
                write!(f, ", layout={}", self.layout)
            }
            DisplayFormatType::TreeRender => {
                writeln!(f, "on={}", on.join(", "))?;
                writeln!(f, "window={window}")?;
                writeln!(f, "layout={}", self.layout)
            }
        }
    }
}

impl ExecutionPlan for WindowJoinExec {
    fn name(&self) -> &'static str {
        "WindowJoinExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    /// Key-partitioned: equal keys meet in one partition; any partition count works, the same
    /// on both sides. Time-aligned: the inputs' own partitions, untouched.
    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        match &self.layout {
            Layout::KeyPartitioned(_) => {
                let (left, right) = self.keys();
                InputDistributionRequirements::co_partitioned(vec![
                    Distribution::KeyPartitioned(left),
                    Distribution::KeyPartitioned(right),
                ])
            }
            Layout::TimeAligned { .. } => InputDistributionRequirements::new(vec![
                Distribution::UnspecifiedDistribution,
                Distribution::UnspecifiedDistribution,
            ]),
            Layout::Probe(driver) => {
                let (left, right) = driver.order((
                    Distribution::UnspecifiedDistribution,
                    Distribution::SinglePartition,
                ));
                InputDistributionRequirements::new(vec![left, right])
            }
        }
    }

    /// A time-aligned join's partitions are its spans: splitting or shuffling them would
    /// mix the times.
    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        let split = matches!(self.layout, Layout::KeyPartitioned(_));
        vec![split, split]
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        self.input_distribution_requirements().into_per_child()
    }

    /// A probe reads its inputs in any order.
    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        if let Layout::Probe(_) = self.layout {
            return vec![None, None];
        }
        let (left, right) = self.keys();
        vec![
            Some(Self::ordering(left, &self.left_time)),
            Some(Self::ordering(right, &self.right_time)),
        ]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        maintains_input_order(&self.layout).to_vec()
    }

    /// Key-partitioned, partition `p` joins partition `p` of each side; time-aligned, a
    /// partition joins spans of many, so it is sized from the whole inputs.
    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        let asked = match self.layout {
            Layout::KeyPartitioned(_) => partition,
            Layout::TimeAligned(_) | Layout::Probe(_) => None,
        };
        vec![ChildStats::At(asked), ChildStats::At(asked)]
    }

    /// A band join's row count cannot be known from its inputs' (a heavy user pairs
    /// quadratically, a sparse one not at all), so it is left unknown rather than guessed.
    /// Each output column is one of an input's, holding a subset of its values: its range
    /// carries over, inexact.
    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        _args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        let [left, right] = input_stats else {
            return internal_err!("WindowJoinExec has two children");
        };
        let columns = [left, right]
            .into_iter()
            .flat_map(|side| side.column_statistics.iter())
            .map(|column| ColumnStatistics {
                null_count: Precision::Absent,
                distinct_count: Precision::Absent,
                sum_value: Precision::Absent,
                byte_size: Precision::Absent,
                min_value: column.min_value.clone().to_inexact(),
                max_value: column.max_value.clone().to_inexact(),
            })
            .collect();
        Ok(Arc::new(Statistics {
            num_rows: Precision::Absent,
            total_byte_size: Precision::Absent,
            column_statistics: columns,
        }))
    }

    /// A projection of plain columns that keeps every column the join reads (keys, times,
    /// residual) goes below it, one to each side, as DataFusion's joins do: the join then
    /// carries, and a time-aligned one merges, only the columns wanted above it.
    fn try_swapping_with_projection(
        &self,
        projection: &ProjectionExec,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(columns) = physical_to_column_exprs(projection.expr()) else {
            return Ok(None);
        };
        let left_width = self.left.schema().fields().len();
        let (last_left, first_right) = join_table_borders(left_width, &columns);
        if !join_allows_pushdown(&columns, &self.schema, last_left, first_right) {
            return Ok(None);
        }
        let (left_columns, right_columns) = columns.split_at(first_right as usize);
        let Some(on) = update_join_on(left_columns, right_columns, &self.on, left_width) else {
            return Ok(None);
        };
        // Where an output column of the join is after the projection, renamed as it says.
        let moved = |old: usize| {
            let at = columns
                .iter()
                .position(|(column, _)| column.index() == old)?;
            Some(Column::new(&columns[at].1, at))
        };
        let (Some(left_time), Some(right_time)) = (
            moved(self.left_time.index()),
            moved(left_width + self.right_time.index())
                .map(|c| Column::new(c.name(), c.index() - left_columns.len())),
        ) else {
            return Ok(None);
        };
        let residual = match &self.residual {
            None => None,
            Some(residual) => {
                let mut lost = false;
                let moved_residual = Arc::clone(residual)
                    .transform(|expr| {
                        let Some(column) = expr.downcast_ref::<Column>() else {
                            return Ok(Transformed::no(expr));
                        };
                        match moved(column.index()) {
                            Some(new) => Ok(Transformed::yes(Arc::new(new) as PhysicalExprRef)),
                            None => {
                                lost = true;
                                Ok(Transformed::no(expr))
                            }
                        }
                    })?
                    .data;
                if lost {
                    return Ok(None);
                }
                Some(moved_residual)
            }
        };
        let (left, right) =
            new_join_children(&columns, last_left, first_right, &self.left, &self.right)?;
        WindowJoinExec::try_new(
            Arc::new(left),
            Arc::new(right),
            on,
            (left_time, right_time),
            (self.lower, self.upper),
            residual,
            self.layout.clone(),
        )
        .map(|join| Some(Arc::new(join) as _))
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.left, &self.right]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        let keys = self.on.iter().flat_map(|(l, r)| [l, r]);
        apply_expression_roots(keys.chain(&self.residual), f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [left, right] = <[_; 2]>::try_from(children)
            .or_else(|_| internal_err!("WindowJoinExec has two children"))?;
        Ok(Arc::new(match options.children_properties {
            ChildrenPropertiesMode::Keep => WindowJoinExec {
                left,
                right,
                metrics: ExecutionPlanMetricsSet::new(),
                ..WindowJoinExec::clone(&self)
            },
            ChildrenPropertiesMode::Recompute => WindowJoinExec::try_new(
                left,
                right,
                self.on.clone(),
                (self.left_time.clone(), self.right_time.clone()),
                (self.lower, self.upper),
                self.residual.clone(),
                self.layout.clone(),
            )?,
        }))
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
        let partitions = self.properties.output_partitioning().partition_count();
        if partition >= partitions {
            return internal_err!(
                "WindowJoinExec: partition {partition} asked of a join with {partitions}"
            );
        }
        let metrics = WindowJoinMetrics::new(&self.metrics, partition);
        if let Layout::Probe(driver) = self.layout {
            return self.probe(driver, partition, &context, metrics);
        }
        let Layout::TimeAligned(alignment) = &self.layout else {
            let right_partitions = self.right.output_partitioning().partition_count();
            if right_partitions != partitions {
                return internal_err!(
                    "WindowJoinExec: key-partitioned inputs of {partitions} and \
                     {right_partitions} partitions"
                );
            }
            let left = self.left.execute(partition, context.clone())?;
            let right = self.right.execute(partition, context.clone())?;
            return self.join((left, right), partition, &context, metrics);
        };
        self.execute_aligned(alignment, partition, &context, &metrics)
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// `stream` with every batch's text in buffers of its own (see `held.rs`).
fn compacting(stream: SendableRecordBatchStream) -> SendableRecordBatchStream {
    let schema = stream.schema();
    let batches = stream.map(|batch| Ok(compacted(&batch?)?));
    Box::pin(RecordBatchStreamAdapter::new(schema, batches))
}
