//! Results as Parquet, their columns encoded on all cores. Encoding (dictionaries, levels,
//! page statistics) is most of what writing Parquet costs, and an `ArrowWriter` does it on
//! the calling thread, one column after another: a hunt's million findings then spend a fifth
//! of the hunt writing. Each row group's columns are independent, so they are encoded on
//! scoped threads and appended in order; the file is the one `ArrowWriter` would write with
//! the same properties.
//!
//! A text column gets statistics only when the rows are in its order. Computing a page's
//! minimum and maximum compares every value twice, about a twentieth of a hunt; yet a reader
//! can skip a page by them only where values gather, and a hunt's findings, in time order,
//! scatter every text column over every page. Numbers and times always get them: they are
//! cheap.
//!
//! Text the engine holds as views (`Utf8View`, as the lake is read) is written as plain
//! `Utf8` in the file's Arrow schema: the Parquet data is the same either way, and readers
//! that predate views (older pyarrow, other tools) read the file as they read it before.

use std::cmp::Ordering;
use std::collections::{HashSet, VecDeque};
use std::io::Write;
use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Schema};
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::compute_leaves;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowColumnWriter, ArrowLeafColumn};
use parquet::errors::{ParquetError, Result};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::format::is_text;

/// Rows a row group holds: an eighth of the parquet crate's default. Each row group is
/// encoded as soon as it is full, while the query is still making the rows after it; with
/// the default, a hunt's million findings would be one row group, encoded only once all of
/// them were there.
const ROWS_PER_GROUP: usize = 128 * 1024;

/// Writes `batches` (all of `schema`) to `out` as one Parquet file with default properties,
/// row groups of [`ROWS_PER_GROUP`] rows and text statistics aside. Each row group is
/// encoded once its rows have come, so a caller handing over rows as a query makes them
/// has the file written alongside.
///
/// # Errors
/// Encoding and write failures.
pub fn write_parquet<W: Write + Send>(
    out: W,
    schema: &Arc<Schema>,
    batches: impl IntoIterator<Item = RecordBatch>,
) -> Result<()> {
    let schema = &plain_text(schema);
    let mut groups = row_groups(batches, ROWS_PER_GROUP).peekable();
    let first = groups.peek().map_or(&[][..], Vec::as_slice);
    let properties = properties(schema, first);
    let (mut file, factory) = ArrowWriter::try_new(out, Arc::clone(schema), Some(properties))?
        .into_serialized_writer()?;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    for (index, group) in groups.enumerate() {
        let writers = factory.create_column_writers(index)?;
        let chunks = encode(writers, leaves(schema, &group)?, threads)?;
        let mut row_group = file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut row_group)?;
        }
        row_group.close()?;
    }
    file.close()?;
    Ok(())
}

/// `schema` with its top-level `Utf8View` columns as `Utf8`. The encoder reads the arrays
/// as they are; only the schema written in the file changes.
pub fn plain_text(schema: &Arc<Schema>) -> Arc<Schema> {
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .map(|field| match field.data_type() {
            DataType::Utf8View => Arc::new(field.as_ref().clone().with_data_type(DataType::Utf8)),
            _ => Arc::clone(field),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// Default properties, without statistics for the text columns the rows of the first row
/// group (`batches`) are not ordered by, and without a dictionary for the columns whose
/// values there mostly differ. A column that changes its ways after the first row group gets
/// statistics or plain values it did not need, which costs time or space, never correctness.
fn properties(schema: &Schema, batches: &[RecordBatch]) -> WriterProperties {
    let mut properties =
        WriterProperties::builder().set_max_row_group_row_count(Some(ROWS_PER_GROUP));
    for (column, field) in schema.fields().iter().enumerate() {
        let path = || ColumnPath::from(field.name().as_str());
        let pieces = || batches.iter().map(|b| b.column(column).as_ref());
        if is_text(field.data_type()) && !ordered(pieces()) {
            properties = properties.set_column_statistics_enabled(path(), EnabledStatistics::None);
        }
        if mostly_distinct(pieces()) {
            properties = properties.set_column_dictionary_enabled(path(), false);
        }
    }
    properties.build()
}

/// How many of a column's first values tell whether a dictionary would pay.
const SAMPLE_ROWS: usize = 4096;

/// Whether most of the first [`SAMPLE_ROWS`] values in `pieces` (nulls aside) differ from one
/// another. A dictionary of such a column holds nearly every value once: the writer hashes
/// every value into it until it outgrows its page, then writes the values plain anyway.
/// Times to the nanosecond and correlation ids are such columns; in a profile of a hunt's
/// writing, hashing values into dictionaries was about 7% of all samples.
fn mostly_distinct<'a>(pieces: impl Iterator<Item = &'a dyn Array>) -> bool {
    let mut sample = Vec::new();
    let mut taken = 0;
    for piece in pieces {
        let take = (SAMPLE_ROWS - taken).min(piece.len());
        sample.push(piece.slice(0, take));
        taken += take;
        if taken == SAMPLE_ROWS {
            break;
        }
    }
    let Some(first) = sample.first() else {
        return false;
    };
    // A type the row format cannot hold keeps the default.
    let Ok(converter) = RowConverter::new(vec![SortField::new(first.data_type().clone())]) else {
        return false;
    };
    let mut seen = HashSet::new();
    let mut values = 0;
    for piece in &sample {
        let Ok(rows) = converter.convert_columns(std::slice::from_ref(piece)) else {
            return false;
        };
        for (row, value) in rows.iter().enumerate() {
            if piece.is_valid(row) {
                values += 1;
                seen.insert(value.as_ref().to_vec());
            }
        }
    }
    values > 0 && seen.len() * 4 > values * 3
}

/// Whether the text in `pieces`, one after another and nulls aside, never rises or never
/// falls. An unordered column is usually told within its first rows.
fn ordered<'a>(pieces: impl Iterator<Item = &'a dyn Array>) -> bool {
    let mut values = pieces.flat_map(text_values).flatten();
    let Some(mut previous) = values.next() else {
        return true;
    };
    let mut direction = Ordering::Equal;
    for value in values {
        match (direction, value.cmp(previous)) {
            (_, Ordering::Equal) => {}
            (Ordering::Equal, step) => direction = step,
            (held, step) if held != step => return false,
            _ => {}
        }
        previous = value;
    }
    true
}

fn text_values(array: &dyn Array) -> Box<dyn Iterator<Item = Option<&str>> + '_> {
    match array.data_type() {
        DataType::Utf8 => Box::new(array.as_string::<i32>().iter()),
        DataType::LargeUtf8 => Box::new(array.as_string::<i64>().iter()),
        _ => Box::new(array.as_string_view().iter()),
    }
}

/// `batches` cut into groups of `rows` rows (the last one shorter), slicing a batch where a
/// group ends, as `ArrowWriter` cuts its row groups; each group as soon as its rows have come.
fn row_groups(
    batches: impl IntoIterator<Item = RecordBatch>,
    rows: usize,
) -> impl Iterator<Item = Vec<RecordBatch>> {
    let mut batches = batches.into_iter().fuse();
    let (mut group, mut held) = (Vec::new(), 0);
    let mut full = VecDeque::new();
    std::iter::from_fn(move || {
        loop {
            if let Some(done) = full.pop_front() {
                return Some(done);
            }
            let Some(batch) = batches.next() else {
                return (!group.is_empty()).then(|| std::mem::take(&mut group));
            };
            let mut offset = 0;
            while offset < batch.num_rows() {
                let take = (rows - held).min(batch.num_rows() - offset);
                group.push(batch.slice(offset, take));
                (offset, held) = (offset + take, held + take);
                if held == rows {
                    full.push_back(std::mem::take(&mut group));
                    held = 0;
                }
            }
        }
    })
}

/// For each leaf column of `schema` (one per column unless nested), its pieces in `group`.
fn leaves(schema: &Schema, group: &[RecordBatch]) -> Result<Vec<Vec<ArrowLeafColumn>>> {
    let mut columns: Vec<Vec<ArrowLeafColumn>> = Vec::new();
    for batch in group {
        let mut leaf = 0;
        for (field, array) in schema.fields().iter().zip(batch.columns()) {
            for piece in compute_leaves(field, array)? {
                if leaf == columns.len() {
                    columns.push(Vec::new());
                }
                columns[leaf].push(piece);
                leaf += 1;
            }
        }
    }
    Ok(columns)
}

/// Encodes each writer's pieces, the writers spread over `threads` threads; the chunks come
/// back in the writers' order.
fn encode(
    writers: Vec<ArrowColumnWriter>,
    mut pieces: Vec<Vec<ArrowLeafColumn>>,
    threads: usize,
) -> Result<Vec<ArrowColumnChunk>> {
    pieces.resize_with(writers.len(), Vec::new);
    let mut work: Vec<Vec<(usize, ArrowColumnWriter, Vec<ArrowLeafColumn>)>> = (0..threads
        .clamp(1, writers.len().max(1)))
        .map(|_| Vec::new())
        .collect();
    let count = work.len();
    for (index, (writer, pieces)) in writers.into_iter().zip(pieces).enumerate() {
        work[index % count].push((index, writer, pieces));
    }
    let mut chunks: Vec<(usize, ArrowColumnChunk)> = std::thread::scope(|scope| {
        let handles: Vec<_> = work
            .into_iter()
            .map(|columns| {
                scope.spawn(move || {
                    columns
                        .into_iter()
                        .map(|(index, mut writer, pieces)| {
                            for piece in &pieces {
                                writer.write(piece)?;
                            }
                            Ok((index, writer.close()?))
                        })
                        .collect::<Result<Vec<_>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .map_err(|_| ParquetError::General("a column encoder panicked".into()))?
            })
            .collect::<Result<Vec<_>>>()
    })?
    .into_iter()
    .flatten()
    .collect();
    chunks.sort_by_key(|(index, _)| *index);
    Ok(chunks.into_iter().map(|(_, chunk)| chunk).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, ArrayRef, Int64Array, StringArray, StringViewArray, StructArray};
    use arrow::datatypes::Field;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn batch(schema: &Arc<Schema>, from: i64, rows: i64) -> RecordBatch {
        let numbers = Int64Array::from_iter_values(from..from + rows);
        let texts =
            StringArray::from_iter_values((from..from + rows).map(|n| format!("v{}", n % 7)));
        let nested = StructArray::from(vec![(
            Arc::new(Field::new("n", DataType::Int64, false)),
            Arc::new(numbers.clone()) as ArrayRef,
        )]);
        RecordBatch::try_new(
            Arc::clone(schema),
            vec![Arc::new(numbers), Arc::new(texts), Arc::new(nested)],
        )
        .unwrap()
    }

    /// The file holds the rows in order, in row groups cut where `ArrowWriter` cuts them, and
    /// reads back as `ArrowWriter`'s own file does.
    #[test]
    fn the_file_is_what_an_arrow_writer_writes() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("number", DataType::Int64, false),
            Field::new("text", DataType::Utf8, false),
            Field::new(
                "nested",
                DataType::Struct(vec![Field::new("n", DataType::Int64, false)].into()),
                false,
            ),
        ]));
        // 1.5 row groups, in batches that straddle the cut.
        let per_group = ROWS_PER_GROUP as i64;
        let batches: Vec<RecordBatch> = (0..6)
            .map(|i| batch(&schema, i * per_group / 4, per_group / 4))
            .collect();
        let mut ours = Vec::new();
        write_parquet(&mut ours, &schema, batches.clone()).unwrap();
        let mut theirs = Vec::new();
        let properties = WriterProperties::builder()
            .set_max_row_group_row_count(Some(ROWS_PER_GROUP))
            .build();
        let mut writer =
            ArrowWriter::try_new(&mut theirs, Arc::clone(&schema), Some(properties)).unwrap();
        for batch in &batches {
            writer.write(batch).unwrap();
        }
        writer.close().unwrap();

        let read = |bytes: Vec<u8>| {
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes)).unwrap();
            let groups: Vec<i64> = reader
                .metadata()
                .row_groups()
                .iter()
                .map(|g| g.num_rows())
                .collect();
            let rows: Vec<RecordBatch> = reader.build().unwrap().map(Result::unwrap).collect();
            (
                groups,
                arrow::compute::concat_batches(&schema, &rows).unwrap(),
            )
        };
        let (our_groups, our_rows) = read(ours);
        let (their_groups, their_rows) = read(theirs);
        assert_eq!(our_groups, vec![per_group, per_group / 2]);
        assert_eq!(our_groups, their_groups);
        assert_eq!(our_rows, their_rows);
        assert_eq!(
            our_rows,
            arrow::compute::concat_batches(&schema, &batches).unwrap()
        );
    }

    #[test]
    fn no_rows_make_a_file_with_the_schema() {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
        let mut out = Vec::new();
        write_parquet(&mut out, &schema, []).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(out)).unwrap();
        assert_eq!(reader.schema().as_ref(), schema.as_ref());
        assert_eq!(reader.metadata().num_row_groups(), 0);
    }

    /// Statistics of each column of the file's only row group: (min, max) as text, or `None`.
    fn text_statistics(file: Vec<u8>) -> Vec<Option<(String, String)>> {
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(file)).unwrap();
        reader
            .metadata()
            .row_group(0)
            .columns()
            .iter()
            .map(|column| {
                column.statistics().and_then(|s| {
                    let text = |b: Option<&[u8]>| b.map(|b| String::from_utf8(b.to_vec()).unwrap());
                    Some((text(s.min_bytes_opt())?, text(s.max_bytes_opt())?))
                })
            })
            .collect()
    }

    #[test]
    fn only_text_the_rows_follow_gets_statistics() {
        let columns = [
            ("rising", vec!["a", "b", "b", "c"], vec!["c", "d"]),
            ("falling", vec!["z", "y", "y", "x"], vec!["x", "w"]),
            ("same", vec!["s", "s", "s", "s"], vec!["s", "s"]),
            // Ordered within each batch, not across them.
            ("restarting", vec!["a", "b", "c", "d"], vec!["a", "b"]),
            ("scattered", vec!["m", "a", "z", "b"], vec!["c", "d"]),
        ];
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|(name, _, _)| Field::new(*name, DataType::Utf8View, true))
                .collect::<Vec<_>>(),
        ));
        let batch = |second: bool| {
            let arrays = columns
                .iter()
                .map(|(_, first, then)| {
                    let values = if second { then } else { first };
                    Arc::new(StringViewArray::from(values.clone())) as ArrayRef
                })
                .collect();
            RecordBatch::try_new(Arc::clone(&schema), arrays).unwrap()
        };
        let batches = [batch(false), batch(true)];
        let mut out = Vec::new();
        write_parquet(&mut out, &schema, batches).unwrap();
        let pair = |min: &str, max: &str| Some((min.to_string(), max.to_string()));
        assert_eq!(
            text_statistics(out),
            vec![pair("a", "d"), pair("w", "z"), pair("s", "s"), None, None]
        );
    }

    /// A column whose values mostly differ is written without a dictionary, nulls aside (a
    /// column of distinct ids, most rows null, too); one whose values repeat keeps its own.
    #[test]
    fn only_repeating_columns_get_a_dictionary() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("distinct", DataType::Int64, true),
            Field::new("repeating", DataType::Utf8, true),
            Field::new("sparse", DataType::Utf8, true),
        ]));
        let rows = 10_000;
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from_iter_values(0..rows)),
                Arc::new(StringArray::from_iter_values(
                    (0..rows).map(|n| format!("user{}", n % 50)),
                )),
                // Nine rows in ten null, every value distinct.
                Arc::new(StringArray::from_iter(
                    (0..rows).map(|n| (n % 10 == 0).then(|| format!("id{n}"))),
                )),
            ],
        )
        .unwrap();
        let mut out = Vec::new();
        write_parquet(&mut out, &schema, [batch]).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(out)).unwrap();
        let dictionaries: Vec<bool> = reader
            .metadata()
            .row_group(0)
            .columns()
            .iter()
            .map(|column| column.dictionary_page_offset().is_some())
            .collect();
        assert_eq!(dictionaries, vec![false, true, false]);
        let read: Vec<RecordBatch> = reader.build().unwrap().map(Result::unwrap).collect();
        assert_eq!(
            read.iter().map(RecordBatch::num_rows).sum::<usize>(),
            rows as usize
        );
    }

    #[test]
    fn views_are_written_as_plain_text() {
        let values = ["", "short", "a value longer than twelve bytes", "x"];
        let views = Arc::new(Schema::new(vec![Field::new("t", DataType::Utf8View, true)]));
        let batch = RecordBatch::try_new(
            Arc::clone(&views),
            vec![Arc::new(StringViewArray::from_iter(
                values.iter().map(|v| Some(*v)).chain([None]),
            ))],
        )
        .unwrap();
        let mut out = Vec::new();
        write_parquet(&mut out, &views, [batch]).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(out)).unwrap();
        let read: Vec<RecordBatch> = reader.build().unwrap().map(Result::unwrap).collect();
        let plain = Schema::new(vec![Field::new("t", DataType::Utf8, true)]);
        assert_eq!(read[0].schema().as_ref(), &plain);
        let expected = StringArray::from_iter(values.iter().map(|v| Some(*v)).chain([None]));
        assert_eq!(read[0].column(0).as_ref(), &expected as &dyn Array);
    }
}
