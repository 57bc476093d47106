//! The probe layout's partitions (`Layout::Probe`): the side with one row per key is held
//! whole in a hash table on the key, built once by the first partition that needs it; each
//! batch of the driver is looked up in it, its pairs kept where the times fit the window, the
//! residual applied. Work: O(driver + held + pairs), with neither input shuffled nor sorted;
//! memory: the held side, reserved in the session's pool. A key the plan said was unique but
//! is not (the table keeps every row of a key) costs time, never a pair.

use std::collections::HashMap;
use std::sync::Arc;

use ahash::RandomState;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, UInt32Array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::prep_null_mask_filter;
use datafusion::arrow::compute::{cast, concat_batches, filter_record_batch, take};
use datafusion::arrow::datatypes::{DataType, Int64Type, SchemaRef};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExprRef;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{ExecutionPlan, collect};
use futures::{StreamExt, TryStreamExt};
use tokio::sync::OnceCell;

use super::layout::Driver;
use super::metrics::WindowJoinMetrics;

/// One input as the probe reads it: its key expressions and the index of its time column.
pub struct Side {
    pub keys: Vec<PhysicalExprRef>,
    pub time: usize,
}

/// The held side: its rows, their times, and each key's rows.
pub struct Held {
    batch: RecordBatch,
    times: Int64Array,
    rows_of: HashMap<Box<[u8]>, Vec<u32>, RandomState>,
    _reservation: MemoryReservation,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Held({} rows, {} keys)",
            self.batch.num_rows(),
            self.rows_of.len()
        )
    }
}

/// What a partition joins with: the held side, built at most once for all partitions.
pub async fn held(
    cell: Arc<OnceCell<Arc<Held>>>,
    plan: Arc<dyn ExecutionPlan>,
    side: Side,
    fields: Vec<SortField>,
    context: Arc<TaskContext>,
) -> Result<Arc<Held>> {
    cell.get_or_try_init(|| hold(plan, side, fields, context))
        .await
        .cloned()
}

async fn hold(
    plan: Arc<dyn ExecutionPlan>,
    side: Side,
    fields: Vec<SortField>,
    context: Arc<TaskContext>,
) -> Result<Arc<Held>> {
    let schema = plan.schema();
    let reservation = MemoryConsumer::new("WindowJoinProbe").register(context.memory_pool());
    let batches = collect(plan, Arc::clone(&context)).await?;
    let batch = concat_batches(&schema, &batches)?;
    drop(batches);
    reservation.try_grow(batch.get_array_memory_size())?;
    let keys = evaluate(&side.keys, &batch)?;
    let rows = RowConverter::new(fields)?.convert_columns(&keys)?;
    let times = times(&batch, side.time)?;
    let nulls = nulls(&keys, &times);
    let mut rows_of: HashMap<Box<[u8]>, Vec<u32>, RandomState> = HashMap::default();
    for row in 0..batch.num_rows() {
        if nulls.as_ref().is_some_and(|nulls| nulls.is_null(row)) {
            continue;
        }
        let index = u32::try_from(row)
            .map_err(|_| DataFusionError::ResourcesExhausted("WindowJoin: held side".into()))?;
        rows_of
            .entry(rows.row(row).as_ref().into())
            .or_default()
            .push(index);
    }
    reservation.try_grow(rows.size() + rows_of.len() * 48)?;
    Ok(Arc::new(Held {
        batch,
        times,
        rows_of,
        _reservation: reservation,
    }))
}

/// How a partition probes: which side drives, its keys and time, the window and residual.
pub struct Probe {
    pub driver: Driver,
    pub side: Side,
    pub fields: Vec<SortField>,
    /// The right time lies in `[left time + lower, left time + upper]`, both inclusive.
    pub bounds: (i64, i64),
    /// The join's output: the left columns, then the right columns.
    pub schema: SchemaRef,
    pub residual: Option<PhysicalExprRef>,
}

/// Partition `stream` of the driver, joined with the held side once it is built.
///
/// # Errors
/// Keys of a type rows cannot encode.
pub fn execute(
    stream: SendableRecordBatchStream,
    held: impl Future<Output = Result<Arc<Held>>> + Send + 'static,
    probe: Probe,
    metrics: WindowJoinMetrics,
) -> Result<SendableRecordBatchStream> {
    let schema = Arc::clone(&probe.schema);
    let mut driver = Some((stream, RowConverter::new(probe.fields.clone())?));
    let probe = Arc::new(probe);
    let joined = futures::stream::once(held)
        .map_ok(move |held| {
            let (probe, metrics) = (Arc::clone(&probe), metrics.clone());
            let (stream, mut converter) = driver.take().expect("the held side arrives once");
            stream.map(move |batch| {
                let batch = batch?;
                let timer = metrics.baseline.elapsed_compute().timer();
                let joined = probe.join(&held, &batch, &mut converter, &metrics);
                timer.done();
                if let Ok(joined) = &joined {
                    metrics.baseline.record_output(joined.num_rows());
                }
                joined
            })
        })
        .try_flatten();
    Ok(Box::pin(RecordBatchStreamAdapter::new(schema, joined)))
}

impl Probe {
    /// The pairs of one driver batch.
    fn join(
        &self,
        held: &Held,
        batch: &RecordBatch,
        converter: &mut RowConverter,
        metrics: &WindowJoinMetrics,
    ) -> Result<RecordBatch> {
        let driver_rows = match self.driver {
            Driver::Left => &metrics.left_rows,
            Driver::Right => &metrics.right_rows,
        };
        driver_rows.add(batch.num_rows());
        let keys = evaluate(&self.side.keys, batch)?;
        let rows = converter.convert_columns(&keys)?;
        let times = times(batch, self.side.time)?;
        let nulls = nulls(&keys, &times);
        let (lower, upper) = (i128::from(self.bounds.0), i128::from(self.bounds.1));
        let (mut driven, mut partners) = (Vec::new(), Vec::new());
        for row in 0..batch.num_rows() {
            if nulls.as_ref().is_some_and(|nulls| nulls.is_null(row)) {
                continue;
            }
            let Some(partners_of) = held.rows_of.get(rows.row(row).as_ref()) else {
                continue;
            };
            let time = i128::from(times.value(row));
            for &partner in partners_of {
                let other = i128::from(held.times.value(partner as usize));
                let (left, right) = self.driver.order((time, other));
                if left + lower <= right && right <= left + upper {
                    driven.push(row as u32);
                    partners.push(partner);
                }
            }
        }
        metrics.candidate_pairs.add(driven.len());
        let driven = UInt32Array::from(driven);
        let partners = UInt32Array::from(partners);
        let taken = |batch: &RecordBatch, indices: &UInt32Array| -> Result<Vec<ArrayRef>> {
            Ok(batch
                .columns()
                .iter()
                .map(|column| take(column, indices, None))
                .collect::<std::result::Result<_, _>>()?)
        };
        let (left, right) = self
            .driver
            .order((taken(batch, &driven)?, taken(&held.batch, &partners)?));
        let joined = RecordBatch::try_new(Arc::clone(&self.schema), [left, right].concat())?;
        let Some(residual) = &self.residual else {
            return Ok(joined);
        };
        let keep = residual.evaluate(&joined)?.into_array(joined.num_rows())?;
        let keep = keep.as_boolean_opt().ok_or_else(|| {
            DataFusionError::Internal("WindowJoin: the residual is not boolean".into())
        })?;
        let keep = if keep.null_count() > 0 {
            prep_null_mask_filter(keep)
        } else {
            keep.clone()
        };
        Ok(filter_record_batch(&joined, &keep)?)
    }
}

fn evaluate(keys: &[PhysicalExprRef], batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
    keys.iter()
        .map(|key| key.evaluate(batch)?.into_array(batch.num_rows()))
        .collect()
}

/// The rows with a null key or time, which pair with nothing: one mask per batch, not a check
/// of every column per row.
fn nulls(keys: &[ArrayRef], times: &Int64Array) -> Option<NullBuffer> {
    keys.iter().fold(times.nulls().cloned(), |nulls, key| {
        NullBuffer::union(nulls.as_ref(), key.logical_nulls().as_ref())
    })
}

/// A time column as nanoseconds (or the integers it holds).
fn times(batch: &RecordBatch, column: usize) -> Result<Int64Array> {
    let times = cast(batch.column(column), &DataType::Int64)?;
    Ok(times.as_primitive::<Int64Type>().clone())
}
