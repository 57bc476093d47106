//! Inputs the time-aligned layout may read partition by partition: scans of whole files, one
//! file per partition, with exact time statistics.
//!
//! The layout reads partition `p` of an input expecting the rows of the file its statistics
//! describe, and reads some partitions twice. DataFusion breaks both expectations unless told
//! not to: a scan that declares no output order shares one queue of files among its
//! partitions (work stealing), so partition `p` reads whatever file is next and a second
//! execution may find the queue empty; and the optimizer splits large files into byte ranges
//! across partitions. Either loses pairs silently. So an input qualifies only when every
//! operator above its scan computes partition `p` from the scan's partition `p` alone (as its
//! statistics requests declare), the scan holds one whole file per partition, and each file's
//! time statistics are exact; [`pin`] then declares the scan's partitioning so that neither
//! the optimizer nor the file stream may regroup it, and [`verify`] checks the executed plan
//! still has that shape.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::stats::Precision;
use datafusion::common::{DataFusionError, Result, ScalarValue, Statistics, internal_err};
use datafusion::datasource::physical_plan::{FileScanConfig, FileScanConfigBuilder};
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::{
    ChildStats, ChildrenPropertiesMode, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    ReplaceChildrenOptions, StatisticsArgs, StatisticsContext,
};

use super::layout::{Because, Partition, SideSpans, Span};

/// Each partition of `side` as (span, rows), when `side` reads whole files, one per
/// partition, whose time statistics are exact; otherwise why not. The span is the file's:
/// operators above the scan only drop rows or rename the column.
pub fn partitions(side: &SideSpans) -> std::result::Result<Vec<Partition>, Because> {
    let scan = file_scan(side.plan, side.time.index()).ok_or(Because::NotWholeFiles)?;
    if !whole_files(scan.config) {
        return Err(Because::NotWholeFiles);
    }
    let Ok(time_type) = side.time.data_type(&side.plan.schema()) else {
        return Err(Because::InexactSpans);
    };
    let context = StatisticsContext::new();
    (0..scan.config.file_groups.len())
        .map(|partition| {
            let args = StatisticsArgs::new().with_partition(Some(partition));
            let stats = context
                .compute(scan.plan.as_ref(), &args)
                .map_err(|_| Because::InexactSpans)?;
            let span = exact_span(&stats, scan.time, &time_type).ok_or(Because::InexactSpans)?;
            Ok((span, stats.num_rows.get_value().copied().unwrap_or(0)))
        })
        .collect()
}

/// `plan` with its scan's partitioning declared, so that the file stream shares no work among
/// partitions and the optimizer does not regroup its files. `plan` must satisfy
/// [`partitions`].
pub fn pin(plan: &Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    if let Some(config) = plan
        .downcast_ref::<DataSourceExec>()
        .and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>())
    {
        let groups = config.file_groups.len();
        let pinned = FileScanConfigBuilder::from(config.clone())
            .with_output_partitioning(Some(Partitioning::UnknownPartitioning(groups)))
            .build();
        return Ok(DataSourceExec::from_data_source(pinned));
    }
    let [child] = plan.children()[..] else {
        return internal_err!("WindowJoin: pinning a plan that is not a file scan");
    };
    let recompute = ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute);
    Arc::clone(plan).replace_children(vec![pin(child)?], recompute)
}

/// Whether `side` as it is about to execute still reads one whole file in each of its
/// `partitions` partitions, each partition only its own.
pub fn verify(side: &SideSpans, partitions: usize, options: &ConfigOptions) -> Result<()> {
    let plan = side.plan;
    let refuse = |why: &str| -> Result<()> {
        Err(DataFusionError::Internal(format!(
            "WindowJoin: the time-aligned layout was planned, but after optimisation an input \
             {why}:\n{}",
            datafusion::physical_plan::displayable(plan.as_ref()).indent(false)
        )))
    };
    let Some(FileScan { config, .. }) = file_scan(plan, side.time.index()) else {
        return refuse("is no longer a file scan read partition by partition");
    };
    if !whole_files(config) || config.file_groups.len() != partitions {
        return refuse(&format!(
            "no longer reads one whole file per partition, {partitions} partitions"
        ));
    }
    let shares_work = !(config.preserve_order
        || config.output_partitioning.is_some()
        || !options.execution.enable_file_stream_work_stealing);
    if shares_work {
        return refuse("lets its partitions take each other's files");
    }
    Ok(())
}

/// A file scan below a join input, and where the input's time column comes from in it.
struct FileScan<'a> {
    plan: &'a Arc<dyn ExecutionPlan>,
    config: &'a FileScanConfig,
    /// The time column's index in the scan's output.
    time: usize,
}

/// The file scan below `plan`, when every operator between computes each partition from the
/// same partition of its input alone and passes column `time` through unchanged.
fn file_scan(plan: &Arc<dyn ExecutionPlan>, time: usize) -> Option<FileScan<'_>> {
    if let Some(config) = plan
        .downcast_ref::<DataSourceExec>()
        .and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>())
    {
        return Some(FileScan { plan, config, time });
    }
    let [child] = plan.children()[..] else {
        return None;
    };
    if !partition_wise(plan.as_ref(), child.as_ref()) {
        return None;
    }
    file_scan(child, column_below(plan.as_ref(), child.as_ref(), time)?)
}

/// The index in `child`'s output of `node`'s column `index`, when `node` passes it through
/// as it is (renamed at most).
fn column_below(
    node: &dyn ExecutionPlan,
    child: &dyn ExecutionPlan,
    index: usize,
) -> Option<usize> {
    if let Some(projection) = node.downcast_ref::<ProjectionExec>() {
        let expr = &projection.expr().get(index)?.expr;
        return expr.downcast_ref::<Column>().map(Column::index);
    }
    if let Some(filter) = node.downcast_ref::<FilterExec>() {
        return match filter.projection() {
            Some(projection) => projection.get(index).copied(),
            None => Some(index),
        };
    }
    // Any other operator must leave the columns as they are.
    (node.schema().fields() == child.schema().fields()).then_some(index)
}

/// Whether output partition `p` of `node` is computed from partition `p` of `child` alone,
/// as the statistics each partition asks of its input declare.
fn partition_wise(node: &dyn ExecutionPlan, child: &dyn ExecutionPlan) -> bool {
    let partitions = node.output_partitioning().partition_count();
    partitions == child.output_partitioning().partition_count()
        && (0..partitions).all(|p| match node.child_stats_requests(Some(p))[..] {
            [ChildStats::At(Some(asked))] => asked == p,
            // All of a one-partition input is its partition 0.
            [ChildStats::At(None)] => partitions == 1,
            _ => false,
        })
}

/// One file per group, read whole (not a byte range of it).
fn whole_files(config: &FileScanConfig) -> bool {
    config
        .file_groups
        .iter()
        .all(|group| group.len() == 1 && group.iter().all(|file| file.range.is_none()))
}

/// The span of column `time` in a file's statistics, when both ends are exact and of the
/// join's time type (a statistic in another unit would be read as the wrong times).
fn exact_span(stats: &Statistics, time: usize, time_type: &DataType) -> Option<Span> {
    if stats.num_rows == Precision::Exact(0) {
        return Some(Span::Empty);
    }
    let column = stats.column_statistics.get(time)?;
    let end = |value: &Precision<ScalarValue>| match value {
        Precision::Exact(value) if value.data_type() == *time_type => as_i64(value),
        _ => None,
    };
    match (end(&column.min_value), end(&column.max_value)) {
        (Some(min), Some(max)) if min <= max && stats.num_rows.is_exact() == Some(true) => {
            Some(Span::Within(min, max))
        }
        _ => None,
    }
}

/// A time in its column's own unit (timestamps are integers underneath).
fn as_i64(value: &ScalarValue) -> Option<i64> {
    match value {
        ScalarValue::Int64(value)
        | ScalarValue::TimestampSecond(value, _)
        | ScalarValue::TimestampMillisecond(value, _)
        | ScalarValue::TimestampMicrosecond(value, _)
        | ScalarValue::TimestampNanosecond(value, _) => *value,
        _ => None,
    }
}
