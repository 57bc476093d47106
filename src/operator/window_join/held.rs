//! The memory the merge's held batches retain, each buffer counted once however many batches
//! share it. Text is read from the lake as views into the decoded Parquet pages, and a page
//! (or a column chunk's dictionary) is shared by every batch cut from it: summing each batch's
//! own size would count it again for each, and a window of a few thousand rows would look
//! megabytes larger than it is, failing queries the memory limit has room for.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayData, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::error::ArrowError;

#[derive(Debug, Default)]
pub struct HeldBuffers {
    /// Each held allocation, by its start address: its capacity and how many held arrays
    /// refer to it.
    held: HashMap<usize, (usize, usize)>,
    bytes: usize,
}

impl HeldBuffers {
    pub fn hold(&mut self, batch: &RecordBatch) {
        for_each_buffer(batch, &mut |address, capacity| {
            let entry = self.held.entry(address).or_insert((capacity, 0));
            if entry.1 == 0 {
                self.bytes += capacity;
            }
            entry.1 += 1;
        });
    }

    /// Lets go of a batch [`HeldBuffers::hold`] took.
    pub fn release(&mut self, batch: &RecordBatch) {
        for_each_buffer(batch, &mut |address, _| {
            if let Some(entry) = self.held.get_mut(&address) {
                entry.1 -= 1;
                if entry.1 == 0 {
                    self.bytes -= entry.0;
                    self.held.remove(&address);
                }
            }
        });
    }

    /// Bytes of the allocations the held batches refer to.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// `batch` with its view columns (text and binary) in buffers of their own, so that holding
/// it no longer holds the pages they were read from.
///
/// # Errors
/// None in practice: the columns keep their types.
pub fn compacted(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let columns = batch
        .columns()
        .iter()
        .map(|column| match column.data_type() {
            DataType::Utf8View => Arc::new(column.as_string_view().gc()) as ArrayRef,
            DataType::BinaryView => Arc::new(column.as_binary_view().gc()),
            _ => Arc::clone(column),
        })
        .collect();
    RecordBatch::try_new(batch.schema(), columns)
}

fn for_each_buffer(batch: &RecordBatch, visit: &mut impl FnMut(usize, usize)) {
    fn walk(data: &ArrayData, visit: &mut impl FnMut(usize, usize)) {
        for buffer in data.buffers() {
            visit(buffer.data_ptr().addr().get(), buffer.capacity());
        }
        if let Some(nulls) = data.nulls() {
            let buffer = nulls.inner().inner();
            visit(buffer.data_ptr().addr().get(), buffer.capacity());
        }
        for child in data.child_data() {
            walk(child, visit);
        }
    }
    for column in batch.columns() {
        walk(&column.to_data(), visit);
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int64Array, StringViewArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn a_buffer_shared_by_batches_is_counted_once_and_until_the_last_goes() {
        // Strings longer than 12 bytes live in the data buffer the views point into.
        let text: Vec<String> = (0..1000)
            .map(|n| format!("a long enough value {n:05}"))
            .collect();
        let views = StringViewArray::from_iter_values(&text);
        let schema = Arc::new(Schema::new(vec![
            Field::new("t", DataType::Utf8View, false),
            Field::new("n", DataType::Int64, false),
        ]));
        let batch = |from: usize| {
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(views.slice(from, 100)),
                    Arc::new(Int64Array::from_iter_values(0..100)),
                ],
            )
            .unwrap()
        };
        let (first, second) = (batch(0), batch(500));
        let data: usize = views.data_buffers().iter().map(|b| b.capacity()).sum();
        let own = |b: &RecordBatch| {
            let views = b.column(0).to_data().buffers()[0].capacity();
            let numbers = b.column(1).to_data().buffers()[0].capacity();
            views + numbers
        };
        let mut held = HeldBuffers::default();
        held.hold(&first);
        assert_eq!(held.bytes(), data + own(&first));
        held.hold(&second);
        // The slices share the views' buffer too; the numbers are two allocations.
        let numbers = second.column(1).to_data().buffers()[0].capacity();
        assert_eq!(held.bytes(), data + own(&first) + numbers);
        held.release(&first);
        assert_eq!(held.bytes(), data + own(&second));
        held.release(&second);
        assert_eq!(held.bytes(), 0);
    }
}
