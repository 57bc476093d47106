//! The sort on batches in memory: a 16-byte key per row, ties settled by every sort column.

use std::ops::Range;

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch};
use datafusion::arrow::compute::interleave;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::Result;
use datafusion::physical_expr::LexOrdering;
use datafusion::physical_expr::expressions::Column;

/// Where a row is, and the first 16 bytes of its leading sort columns in arrow's row format,
/// which compare as the columns do. Sorting these moves 32 bytes a row instead of the rows.
#[derive(Debug, Clone, Copy)]
pub struct Keyed {
    key: u128,
    batch: u32,
    row: u32,
}

/// How much of the leading columns' encoding a key holds; rows equal in it go to the tie-break.
const KEY_BYTES: usize = 16;

/// Memory a row's [`Keyed`] takes, for the reservation.
pub const KEYED_BYTES: usize = std::mem::size_of::<Keyed>();

/// A sort order over batch columns, split into its fixed-width leading columns (the key) and
/// all of them (the tie-break).
#[derive(Debug, Clone)]
pub struct SortColumns {
    columns: Vec<usize>,
    fields: Vec<SortField>,
    prefix: usize,
}

impl SortColumns {
    /// `None` when the order is not made of plain columns, or does not start with a
    /// fixed-width one: then there is no cheap key and the stock sort is as good.
    pub fn of(ordering: &LexOrdering, schema: &Schema) -> Option<Self> {
        let mut columns = Vec::new();
        let mut fields = Vec::new();
        let mut prefix = 0;
        for sort in ordering.iter() {
            let column = sort.expr.downcast_ref::<Column>()?;
            let data_type = schema.fields().get(column.index())?.data_type().clone();
            if prefix == columns.len() && fixed_width(&data_type) {
                prefix += 1;
            }
            columns.push(column.index());
            fields.push(SortField::new_with_options(data_type, sort.options));
        }
        (prefix > 0).then_some(SortColumns {
            columns,
            fields,
            prefix,
        })
    }

    /// A converter for the key's columns; each partition makes its own.
    pub fn key_encoder(&self) -> Result<KeyEncoder> {
        Ok(KeyEncoder {
            columns: self.columns[..self.prefix].to_vec(),
            converter: RowConverter::new(self.fields[..self.prefix].to_vec())?,
        })
    }

    /// Sorts `entries` (rows of `batches`) into the full order: by key, then the rows whose
    /// keys are equal by all sort columns, which only those rows are encoded for. Returns how
    /// many rows needed the tie-break.
    pub fn sort(&self, batches: &[RecordBatch], entries: &mut [Keyed]) -> Result<usize> {
        // Stable: runs sorted per partition are merged rather than sorted again.
        entries.sort_by_key(|entry| entry.key);
        let ties = equal_key_runs(entries);
        if ties.is_empty() {
            return Ok(0);
        }
        let tied: Vec<(usize, usize)> = ties
            .iter()
            .flat_map(|run| entries[run.clone()].iter().map(Keyed::position))
            .collect();
        let sort_columns = self
            .columns
            .iter()
            .map(|&column| interleave(&column_of(batches, column), &tied))
            .collect::<Result<Vec<ArrayRef>, _>>()?;
        let rows = RowConverter::new(self.fields.clone())?.convert_columns(&sort_columns)?;
        let mut first = 0;
        for run in ties {
            let before = entries[run.clone()].to_vec();
            let mut order: Vec<usize> = (0..run.len()).collect();
            order.sort_by(|&a, &b| rows.row(first + a).cmp(&rows.row(first + b)));
            for (slot, i) in entries[run.clone()].iter_mut().zip(order) {
                *slot = before[i];
            }
            first += run.len();
        }
        Ok(tied.len())
    }
}

/// Encodes batches' keys.
#[derive(Debug)]
pub struct KeyEncoder {
    columns: Vec<usize>,
    converter: RowConverter,
}

impl KeyEncoder {
    /// Appends a [`Keyed`] for every row of `batch`, the `index`th batch of its partition.
    pub fn push(&self, batch: &RecordBatch, index: u32, entries: &mut Vec<Keyed>) -> Result<()> {
        let columns: Vec<ArrayRef> = self
            .columns
            .iter()
            .map(|&column| batch.column(column).clone())
            .collect();
        let rows = self.converter.convert_columns(&columns)?;
        entries.reserve(rows.num_rows());
        for (row, encoded) in rows.iter().enumerate() {
            let bytes = encoded.as_ref();
            let mut key = [0u8; KEY_BYTES];
            let len = bytes.len().min(KEY_BYTES);
            key[..len].copy_from_slice(&bytes[..len]);
            entries.push(Keyed {
                key: u128::from_be_bytes(key),
                batch: index,
                row: row as u32,
            });
        }
        Ok(())
    }
}

impl Keyed {
    pub fn key(&self) -> u128 {
        self.key
    }

    fn position(&self) -> (usize, usize) {
        (self.batch as usize, self.row as usize)
    }

    /// The same row once its partition's batches come after `batches` others.
    pub fn shifted(self, batches: u32) -> Self {
        Keyed {
            batch: self.batch + batches,
            ..self
        }
    }
}

/// The rows of `entries`, in their order, as one batch.
pub fn gather(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    entries: &[Keyed],
) -> Result<RecordBatch> {
    let positions: Vec<(usize, usize)> = entries.iter().map(Keyed::position).collect();
    let columns = (0..schema.fields().len())
        .map(|column| interleave(&column_of(batches, column), &positions))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

fn column_of(batches: &[RecordBatch], column: usize) -> Vec<&dyn Array> {
    batches
        .iter()
        .map(|batch| batch.column(column).as_ref())
        .collect()
}

/// The runs of two or more rows with one key, in order.
fn equal_key_runs(entries: &[Keyed]) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    while start < entries.len() {
        let key = entries[start].key;
        let end = start
            + entries[start..]
                .iter()
                .take_while(|entry| entry.key == key)
                .count();
        if end - start > 1 {
            runs.push(start..end);
        }
        start = end;
    }
    runs
}

/// Types whose row encoding has one width, so that a leading run of them gives every row a
/// key of the same layout.
fn fixed_width(data_type: &DataType) -> bool {
    data_type.is_primitive() || *data_type == DataType::Boolean
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::compute::SortOptions;
    use datafusion::arrow::datatypes::Field;
    use datafusion::physical_expr::PhysicalSortExpr;

    use super::*;

    fn batch(schema: &SchemaRef, times: &[Option<i64>], names: &[&str]) -> RecordBatch {
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(times.to_vec())),
                Arc::new(StringArray::from(names.to_vec())),
            ],
        )
        .unwrap()
    }

    /// `time DESC NULLS FIRST, name ASC`, worked by hand: the nulls lead, equal times are
    /// ordered by name across batches.
    #[test]
    fn equal_keys_are_ordered_by_the_other_columns() {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("time", DataType::Int64, true),
            Field::new("name", DataType::Utf8, false),
        ]));
        let ordering = LexOrdering::new([
            PhysicalSortExpr::new(
                Arc::new(Column::new("time", 0)),
                SortOptions::new(true, true),
            ),
            PhysicalSortExpr::new(Arc::new(Column::new("name", 1)), SortOptions::default()),
        ])
        .unwrap();
        let columns = SortColumns::of(&ordering, &schema).unwrap();
        let batches = [
            batch(&schema, &[Some(5), None, Some(7)], &["b", "z", "c"]),
            batch(&schema, &[Some(5), Some(7), None], &["a", "d", "y"]),
        ];
        let encoder = columns.key_encoder().unwrap();
        let mut entries = Vec::new();
        for (index, batch) in batches.iter().enumerate() {
            encoder.push(batch, index as u32, &mut entries).unwrap();
        }
        let tied = columns.sort(&batches, &mut entries).unwrap();
        assert_eq!(tied, 6, "every row shares its time with another");
        let sorted = gather(&schema, &batches, &entries).unwrap();
        let names = sorted
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let names: Vec<&str> = names.iter().map(Option::unwrap).collect();
        assert_eq!(names, ["y", "z", "c", "d", "a", "b"]);
    }

    #[test]
    fn orders_without_a_fixed_width_lead_are_left_to_the_stock_sort() {
        let schema = Schema::new(vec![Field::new("name", DataType::Utf8, false)]);
        let ordering = LexOrdering::new([PhysicalSortExpr::new(
            Arc::new(Column::new("name", 0)),
            SortOptions::default(),
        )])
        .unwrap();
        assert!(SortColumns::of(&ordering, &schema).is_none());
    }
}
