//! One output partition of the window join: pulls batches from both inputs as the merge asks,
//! turns candidate pairs into output through the residual predicate, and keeps what it holds
//! reserved in the session's memory pool.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, BooleanArray, RecordBatch, RecordBatchOptions};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::{
    BatchCoalescer, cast, filter, filter_record_batch, prep_null_mask_filter,
};
use datafusion::arrow::datatypes::{DataType, Int64Type, Schema, SchemaRef};
use datafusion::arrow::row::{OwnedRow, RowConverter};
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{DataFusionError, Result, exec_err};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExprRef;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::utils::collect_columns;
use datafusion::physical_plan::metrics::{Count, RecordOutput};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::StreamExt;

use super::merge::{Chunk, Merge, Need, Pairs};
use super::metrics::WindowJoinMetrics;

/// One side's input stream and how to read keys and time from it.
pub struct Input {
    pub stream: SendableRecordBatchStream,
    pub keys: Vec<PhysicalExprRef>,
    pub time: usize,
    pub side: &'static str,
}

pub struct Params {
    pub schema: SchemaRef,
    pub lower: i64,
    pub upper: i64,
    pub residual: Option<Residual>,
    pub converter: RowConverter,
}

/// The residual predicate over only the joined columns it reads: the pairs it drops (42% of
/// the hunt's candidates, whose ASN or IP is the same on both sides) are never gathered in
/// full.
pub struct Residual {
    expr: PhysicalExprRef,
    /// Joined columns it reads, ascending; the rewritten `expr` reads them as 0, 1, …
    columns: Vec<usize>,
    schema: SchemaRef,
}

impl Residual {
    /// `expr` over the `joined` schema.
    pub fn new(expr: &PhysicalExprRef, joined: &Schema) -> Result<Self> {
        let mut columns: Vec<usize> = collect_columns(expr).iter().map(Column::index).collect();
        columns.sort_unstable();
        columns.dedup();
        let expr = Arc::clone(expr)
            .transform(|node| {
                let Some(column) = node.downcast_ref::<Column>() else {
                    return Ok(Transformed::no(node));
                };
                let at = columns.binary_search(&column.index()).map_err(|_| {
                    DataFusionError::Internal(format!("WindowJoin: {column} not collected"))
                })?;
                let renumbered: PhysicalExprRef = Arc::new(Column::new(column.name(), at));
                Ok(Transformed::yes(renumbered))
            })
            .data()?;
        let schema = Arc::new(joined.project(&columns)?);
        Ok(Residual {
            expr,
            columns,
            schema,
        })
    }

    /// Which of `pairs` pass (a null counts as false).
    fn keep(&self, pairs: &Pairs) -> Result<BooleanArray> {
        let options = RecordBatchOptions::new().with_row_count(Some(pairs.len()));
        let batch = RecordBatch::try_new_with_options(
            self.schema.clone(),
            pairs.gather(self.columns.iter().copied())?,
            &options,
        )?;
        let keep = self.expr.evaluate(&batch)?.into_array(batch.num_rows())?;
        let keep = keep.as_boolean_opt().ok_or_else(|| {
            DataFusionError::Internal("WindowJoin: the residual is not boolean".into())
        })?;
        Ok(if keep.null_count() > 0 {
            prep_null_mask_filter(keep)
        } else {
            keep.clone()
        })
    }
}

/// An input, with the last (key, time) it gave, to check the order the plan promised.
struct Side {
    input: Input,
    rows: Count,
    last: Option<(OwnedRow, i64)>,
}

struct WindowJoinStream {
    left: Side,
    right: Side,
    params: Params,
    merge: Merge,
    output: BatchCoalescer,
    reservation: MemoryReservation,
    metrics: WindowJoinMetrics,
    done: bool,
}

pub fn execute(
    left: Input,
    right: Input,
    params: Params,
    partition: usize,
    context: &TaskContext,
    metrics: WindowJoinMetrics,
) -> SendableRecordBatchStream {
    let batch_size = context.session_config().batch_size();
    let schema = params.schema.clone();
    let reservation =
        MemoryConsumer::new(format!("WindowJoin[{partition}]")).register(context.memory_pool());
    let state = WindowJoinStream {
        left: Side {
            input: left,
            rows: metrics.left_rows.clone(),
            last: None,
        },
        right: Side {
            input: right,
            rows: metrics.right_rows.clone(),
            last: None,
        },
        merge: Merge::new(params.lower, params.upper, batch_size),
        output: BatchCoalescer::new(schema.clone(), batch_size),
        params,
        reservation,
        metrics,
        done: false,
    };
    let stream = futures::stream::unfold(Some(state), |state| async move {
        let mut state = state?;
        match state.next_batch().await {
            Ok(Some(batch)) => Some((Ok(batch), Some(state))),
            Ok(None) => None,
            Err(error) => Some((Err(error), None)),
        }
    });
    Box::pin(RecordBatchStreamAdapter::new(schema, stream))
}

impl WindowJoinStream {
    async fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        loop {
            if let Some(batch) = self.output.next_completed_batch() {
                return Ok(Some(batch.record_output(&self.metrics.baseline)));
            }
            if self.done {
                self.metrics.baseline.done();
                return Ok(None);
            }
            let need = {
                let _timer = self.metrics.baseline.elapsed_compute().timer();
                self.merge.advance()
            };
            match need {
                Need::Left => match self.left.next(&self.params.converter).await? {
                    Some(chunk) => self.merge.push_left(chunk),
                    None => self.merge.finish_left(),
                },
                Need::Right => match self.right.next(&self.params.converter).await? {
                    Some(chunk) => self.merge.push_right(chunk),
                    None => self.merge.finish_right(),
                },
                Need::Flush => self.flush()?,
                Need::Done => {
                    self.output.finish_buffered_batch()?;
                    self.done = true;
                }
            }
            self.reserve()?;
        }
    }

    fn flush(&mut self) -> Result<()> {
        let _timer = self.metrics.baseline.elapsed_compute().timer();
        let pairs = self.merge.take_pairs()?;
        self.metrics.candidate_pairs.add(pairs.len());
        let pairs = match &self.params.residual {
            None => pairs,
            Some(residual) => {
                let keep = residual.keep(&pairs)?;
                pairs.keep(&keep)?
            }
        };
        let schema = &self.params.schema;
        let batch = RecordBatch::try_new(schema.clone(), pairs.gather(0..schema.fields().len())?)?;
        self.output.push_batch(batch)?;
        Ok(())
    }

    /// Keeps the reservation equal to what the merge holds. Past the pool's limit, the held
    /// text is first compacted (it may be views into whole Parquet pages); if it still does
    /// not fit, the query fails here with the reason, instead of the process being killed.
    fn reserve(&mut self) -> Result<()> {
        let mut bytes = self.merge.held_bytes();
        if self.reservation.try_resize(bytes).is_err() {
            self.merge.compact()?;
            bytes = self.merge.held_bytes();
        }
        self.metrics
            .peak_window_rows
            .set_max(self.merge.window_rows());
        self.metrics.peak_window_bytes.set_max(bytes);
        self.reservation.try_resize(bytes).map_err(|error| {
            DataFusionError::ResourcesExhausted(format!(
                "WindowJoin: the rows inside one key's time window ({} rows, {bytes} bytes) do \
                 not fit in the memory limit; raise the limit or shorten the window. {error}",
                self.merge.window_rows()
            ))
        })
    }
}

impl Side {
    /// The next non-empty batch of valid rows, checked to be in order.
    async fn next(&mut self, converter: &RowConverter) -> Result<Option<Chunk>> {
        while let Some(batch) = self.input.stream.next().await {
            let batch = batch?;
            self.rows.add(batch.num_rows());
            if let Some(chunk) = self.prepare(batch, converter)? {
                return Ok(Some(chunk));
            }
        }
        Ok(None)
    }

    /// Drops the rows a null key or time keeps from ever matching, and converts the rest.
    fn prepare(&mut self, batch: RecordBatch, converter: &RowConverter) -> Result<Option<Chunk>> {
        let rows = batch.num_rows();
        let mut keys = self
            .input
            .keys
            .iter()
            .map(|key| key.evaluate(&batch)?.into_array(rows))
            .collect::<Result<Vec<_>>>()?;
        let mut time = cast(batch.column(self.input.time), &DataType::Int64)?;
        let valid = keys
            .iter()
            .chain([&time])
            .fold(None, |nulls: Option<NullBuffer>, array| {
                NullBuffer::union(nulls.as_ref(), array.logical_nulls().as_ref())
            });
        let batch = match valid.filter(|valid| valid.null_count() > 0) {
            None => batch,
            Some(valid) => {
                let keep = BooleanArray::new(valid.into_inner(), None);
                keys = keys
                    .iter()
                    .map(|key| filter(key, &keep))
                    .collect::<Result<_, _>>()?;
                time = filter(&time, &keep)?;
                filter_record_batch(&batch, &keep)?
            }
        };
        if batch.num_rows() == 0 {
            return Ok(None);
        }
        let chunk = Chunk::new(
            batch,
            converter.convert_columns(&keys)?,
            time.as_primitive::<Int64Type>().values().clone(),
        );
        self.check_order(&chunk)?;
        Ok(Some(chunk))
    }

    /// The merge is only correct on input in (key, time) order. DataFusion guarantees it from
    /// the plan, but a file can declare an order it does not have: that must be an error, not
    /// silently missing rows.
    fn check_order(&mut self, chunk: &Chunk) -> Result<()> {
        let last_row = chunk.len() - 1;
        let mut prior = self.last.as_ref().map(|(key, time)| (key.row(), *time));
        for row in 0..chunk.len() {
            let current = (chunk.keys.row(row), chunk.times[row]);
            if prior.is_some_and(|prior| prior > current) {
                return exec_err!(
                    "WindowJoin: the {} input is not ordered by its keys and time (at row {row} \
                     of a batch), as its plan declared; is a file's sorting_columns wrong?",
                    self.input.side
                );
            }
            prior = Some(current);
        }
        self.last = Some((chunk.keys.row(last_row).owned(), chunk.times[last_row]));
        Ok(())
    }
}
