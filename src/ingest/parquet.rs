//! Parquet that already holds the Log Analytics columns (exports from Azure Data Explorer, a
//! data lake, another tool). Harmless type differences are adapted (ASN as an integer, other
//! timestamp units, string views), and columns without a lake column of their own are kept as
//! JSON in `AdditionalFields`.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray, TimestampNanosecondArray,
    new_null_array,
};
use arrow::compute::{cast, filter_record_batch};
use arrow::datatypes::{DataType, TimestampNanosecondType};
use bytes::Bytes;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};

use super::fields::{self, Target};
use super::json::Location;
use super::reader::{BATCH_ROWS, FileOutcome};
use super::rejects::Reject;
use super::row::{Route, additional_fields, user_key};
use super::time::parse_timestamp;
use crate::guid::uuids_as_text;
use crate::schema::{Table, Text, lake_schema, timestamp_type};

/// Reads every row, handing each decoded batch's columns and the line (row number) before
/// its first row to `each`, which returns `false` to stop reading. A file that is not
/// readable Parquet is an `Err` naming why. The decoder panics on some damaged files (fuzzing
/// found one in arrow-ipc's schema conversion): that too is an `Err` for this file, not the
/// end of the ingest.
pub fn read_parquet(
    bytes: &[u8],
    each: &mut dyn FnMut(&Columns, u64) -> bool,
) -> Result<(), String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_batches(bytes, each)))
        .unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(format!(
                "the Parquet decoder failed on this file: {message}"
            ))
        })
}

/// Decoding a batch and converting its columns (UUIDs to text, JSON kept as text) runs on a
/// thread of its own, a batch or two ahead of the lake rows being made from it here: a file
/// read alone (one large export) then keeps two cores busy, and its rows still arrive in
/// order.
fn read_batches(bytes: &[u8], each: &mut dyn FnMut(&Columns, u64) -> bool) -> Result<(), String> {
    // The Arrow schema some writers embed only hints at types that `Columns` adapts anyway,
    // and decoding it is where damaged footers crash the reader: go by the Parquet schema.
    let options = ArrowReaderOptions::new().with_skip_arrow_metadata(true);
    let reader = ParquetRecordBatchReaderBuilder::try_new_with_options(
        Bytes::copy_from_slice(bytes),
        options,
    )
    .and_then(|b| b.with_batch_size(BATCH_ROWS).build())
    .map_err(|e| format!("not readable as Parquet: {e}"))?;
    std::thread::scope(|scope| {
        let (sender, decoded) = std::sync::mpsc::sync_channel(2);
        let decoder = scope.spawn(move || {
            let mut line = 0;
            for batch in reader {
                let columns = batch
                    .map_err(|e| format!("Parquet data after row {line}: {e}"))
                    .and_then(|batch| Columns::new(&batch));
                let failed = columns.is_err();
                line += columns.as_ref().map_or(0, |columns| columns.rows as u64);
                // A closed channel: the rows' side stopped, at an error of its own or asked to.
                if sender.send(columns).is_err() || failed {
                    break;
                }
            }
        });
        let (mut line, mut read) = (0, Ok(()));
        for columns in decoded.iter() {
            match columns {
                Ok(columns) if each(&columns, line) => line += columns.rows as u64,
                // Asked to stop: not this file's failure.
                Ok(_) => break,
                Err(reason) => {
                    read = Err(reason);
                    break;
                }
            }
        }
        drop(decoded);
        // A panic in the decoder is this file's failure (`read_parquet`), as it was here.
        if let Err(panic) = decoder.join() {
            std::panic::resume_unwind(panic);
        }
        read
    })
}

/// One batch's columns, converted once to the types the lake's are made from.
pub struct Columns {
    rows: usize,
    texts: [Option<ArrayRef>; Text::COUNT],
    time_generated: Option<ArrayRef>,
    created: Option<ArrayRef>,
    is_interactive: Option<ArrayRef>,
    table_type: Option<ArrayRef>,
    user_key: Option<ArrayRef>,
    /// The columns without a lake column of their own, a JSON object per row; empty if none.
    extra: Vec<String>,
}

impl Columns {
    fn new(batch: &RecordBatch) -> Result<Columns, String> {
        let mut columns = Columns {
            rows: batch.num_rows(),
            texts: Default::default(),
            time_generated: None,
            created: None,
            is_interactive: None,
            table_type: None,
            user_key: None,
            extra: Vec::new(),
        };
        let mut unmapped = Vec::new();
        for (field, array) in batch.schema().fields().iter().zip(batch.columns()) {
            let uuids = uuids_as_text(array);
            let array = uuids.as_ref().unwrap_or(array);
            let convert = |to: &DataType| {
                cast(array, to).map_err(|e| format!("column {:?}: {e}", field.name()))
            };
            match fields::log_analytics(field.name()) {
                Some(Target::Text(text)) if is_scalar(array.data_type()) => {
                    columns.texts[text as usize] = Some(convert(&DataType::Utf8)?);
                }
                Some(Target::Text(text)) if text.is_json() => {
                    columns.texts[text as usize] = Some(json_texts(field.name(), array)?);
                }
                Some(Target::TimeGenerated) => {
                    columns.time_generated = Some(time_column(array, convert)?)
                }
                Some(Target::CreatedDateTime) => {
                    columns.created = Some(time_column(array, convert)?)
                }
                Some(Target::IsInteractive) => {
                    columns.is_interactive = Some(convert(&DataType::Boolean)?);
                }
                Some(Target::TableType) => columns.table_type = Some(convert(&DataType::Utf8)?),
                Some(Target::UserKey) => columns.user_key = Some(convert(&DataType::Utf8)?),
                _ => unmapped.push((
                    arrow::datatypes::Field::new(field.name(), array.data_type().clone(), true),
                    array.clone(),
                )),
            }
        }
        if !unmapped.is_empty() {
            let (fields, arrays): (Vec<_>, Vec<_>) = unmapped.into_iter().unzip();
            let extra =
                RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), arrays)
                    .map_err(|e| e.to_string())?;
            columns.extra = json_lines(&extra)?;
        }
        Ok(columns)
    }

    fn text(&self, text: Text, index: usize) -> &str {
        self.texts[text as usize]
            .as_ref()
            .map_or("", |array| string_at(array, index))
    }

    /// Adds these rows to `outcome` as lake rows of their tables. Each record is placed
    /// (routed, timed, or skipped or rejected with the reason) as other formats' records are,
    /// one at a time, but the lake's columns are made a column at a time, most of them the
    /// decoded arrays themselves: building them value by value was two thirds of reading a
    /// Parquet source (BENCHMARKS.md). `first_line` is the row number before the first row,
    /// `path` names the file in rejects. Returns the memory of the batches added.
    pub fn add_lake_rows(
        &self,
        first_line: u64,
        fallback: Option<Table>,
        path: &Path,
        outcome: &mut FileOutcome,
    ) -> usize {
        let mut tables = Vec::with_capacity(self.rows);
        let mut times = Vec::with_capacity(self.rows);
        // Rows whose `ResultType` comes from their `Status` (Graph's `errorCode`).
        let mut result_types = Vec::new();
        for index in 0..self.rows {
            outcome.records += 1;
            let derived = match self.text(Text::ResultType, index) {
                "" => super::json::error_code(self.text(Text::Status, index)).map(|code| {
                    result_types.push((index, code));
                }),
                _ => Ok(()),
            };
            let placed = derived.and_then(|()| {
                let route = Route::of(
                    self.table_type.as_ref().map(|a| string_at(a, index)),
                    self.text(Text::Category, index),
                    None,
                    self.is_interactive
                        .as_ref()
                        .filter(|a| a.is_valid(index))
                        .map(|a| a.as_boolean().value(index)),
                    fallback,
                );
                let time =
                    |array: &Option<ArrayRef>| array.as_ref().and_then(|a| time_at(a, index));
                outcome.place(route, time(&self.time_generated), time(&self.created))
            });
            let placed = placed.unwrap_or_else(|reason| {
                let location = Location {
                    line: first_line + index as u64 + 1,
                    record: None,
                };
                outcome
                    .rejects
                    .push(Reject::new(path, location, &[], reason));
                None
            });
            tables.push(placed.map(|(table, _)| table));
            times.push(placed.map_or(0, |(_, time)| time));
        }
        let batch = self.lake_batch(times, &result_types);
        let mut added = 0;
        for table in Table::ALL {
            let rows = tables.iter().filter(|t| **t == Some(table)).count();
            let rows = match rows {
                0 => continue,
                all if all == self.rows => batch.clone(),
                _ => {
                    let mask: BooleanArray =
                        tables.iter().map(|t| Some(*t == Some(table))).collect();
                    filter_record_batch(&batch, &mask).expect("the mask is as long as the batch")
                }
            };
            added += rows.get_array_memory_size();
            outcome.batches[table as usize].push(rows);
        }
        added
    }

    /// Every row in the lake's schema, `times` resolved; rows placed nowhere are filtered out
    /// by the caller.
    fn lake_batch(
        &self,
        times: Vec<i64>,
        result_types: &[(usize, Cow<'static, str>)],
    ) -> RecordBatch {
        let rows = self.rows;
        let user_keys = self.user_keys();
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(TimestampNanosecondArray::from(times).with_timezone("UTC")),
            self.created
                .clone()
                .unwrap_or_else(|| new_null_array(&timestamp_type(), rows)),
            Arc::new(user_keys.clone()),
        ];
        for text in Text::ALL {
            let column = match (text, &self.texts[text as usize]) {
                (Text::AdditionalFields, carried) => self.additional_fields(carried, &user_keys),
                (Text::ResultType, _) if !result_types.is_empty() => {
                    let mut derived = result_types.iter().peekable();
                    let values =
                        (0..rows).map(|index| match derived.next_if(|(at, _)| *at == index) {
                            Some((_, code)) => code.as_ref(),
                            None => self.text(Text::ResultType, index),
                        });
                    Arc::new(StringArray::from_iter_values(values))
                }
                (_, Some(array)) => without_nulls(array),
                (_, None) => Arc::new(StringArray::from_iter_values(std::iter::repeat_n("", rows))),
            };
            columns.push(column);
        }
        columns.push(
            self.is_interactive
                .clone()
                .unwrap_or_else(|| new_null_array(&DataType::Boolean, rows)),
        );
        RecordBatch::try_new(lake_schema(), columns).expect("columns made for the lake schema")
    }

    /// The lake's `UserKey` of every row.
    fn user_keys(&self) -> StringArray {
        let names = (0..self.rows).map(|index| self.text(Text::UserPrincipalName, index));
        StringArray::from_iter_values(names.map(user_key))
    }

    /// `AdditionalFields` from the fields no column took, with what the source carried in an
    /// `AdditionalFields` or `UserKey` of its own (`row::additional_fields`).
    fn additional_fields(&self, carried: &Option<ArrayRef>, user_keys: &StringArray) -> ArrayRef {
        let values = (0..self.rows).map(|index| {
            let extra = self.extra.get(index).map_or("{}", String::as_str);
            let carried = carried.as_ref().map_or("", |array| string_at(array, index));
            let own_key = self
                .user_key
                .as_ref()
                .filter(|array| array.is_valid(index))
                .map(|array| string_at(array, index))
                .filter(|key| *key != user_keys.value(index));
            additional_fields(carried, own_key, Cow::Borrowed(extra))
        });
        Arc::new(StringArray::from_iter_values(values))
    }
}

/// `array` (text) with its missing values as `""`, as lake text is never null: without a copy
/// where its nulls hold no bytes, as decoders write them.
fn without_nulls(array: &ArrayRef) -> ArrayRef {
    let strings = array.as_string::<i32>();
    let Some(nulls) = strings.nulls().filter(|nulls| nulls.null_count() > 0) else {
        return Arc::clone(array);
    };
    let offsets = strings.value_offsets();
    let empty = (0..strings.len())
        .filter(|&index| nulls.is_null(index))
        .all(|index| offsets[index] == offsets[index + 1]);
    if empty {
        let (offsets, values, _) = strings.clone().into_parts();
        Arc::new(StringArray::new(offsets, values, None))
    } else {
        Arc::new(StringArray::from_iter_values(
            strings.iter().map(|value| value.unwrap_or("")),
        ))
    }
}

fn is_scalar(data_type: &DataType) -> bool {
    !data_type.is_nested() && arrow::compute::can_cast_types(data_type, &DataType::Utf8)
}

fn time_column(
    array: &ArrayRef,
    convert: impl Fn(&DataType) -> Result<ArrayRef, String>,
) -> Result<ArrayRef, String> {
    if !matches!(
        array.data_type(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) {
        return convert(&timestamp_type());
    }
    let text = convert(&DataType::Utf8)?;
    let times: arrow::array::TimestampNanosecondArray = text
        .as_string::<i32>()
        .iter()
        .map(|value| {
            value
                .filter(|v| !v.is_empty())
                .map(parse_timestamp)
                .transpose()
        })
        .collect::<Result<_, _>>()?;
    Ok(Arc::new(times.with_timezone("UTC")))
}

fn string_at(array: &ArrayRef, index: usize) -> &str {
    if array.is_null(index) {
        ""
    } else {
        array.as_string::<i32>().value(index)
    }
}

fn time_at(array: &ArrayRef, index: usize) -> Option<i64> {
    array
        .is_valid(index)
        .then(|| array.as_primitive::<TimestampNanosecondType>().value(index))
}

/// Nested columns as JSON text, one value per row.
fn json_texts(name: &str, array: &ArrayRef) -> Result<ArrayRef, String> {
    let field = arrow::datatypes::Field::new(name, array.data_type().clone(), true);
    let batch = RecordBatch::try_new(
        Arc::new(arrow::datatypes::Schema::new(vec![field])),
        vec![array.clone()],
    )
    .map_err(|e| e.to_string())?;
    let prefix_len = serde_json::to_string(name)
        .expect("a string serialises")
        .len()
        + 2;
    let values: arrow::array::StringArray = json_lines(&batch)?
        .iter()
        .map(|line| {
            line.get(prefix_len..line.len().saturating_sub(1))
                .unwrap_or("")
        })
        .map(Some)
        .collect();
    Ok(Arc::new(values))
}

/// Each row of `batch` as one JSON object (nulls left out).
fn json_lines(batch: &RecordBatch) -> Result<Vec<String>, String> {
    let mut buffer = Vec::new();
    {
        let mut writer = arrow::json::LineDelimitedWriter::new(&mut buffer);
        writer.write(batch).map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
    }
    let text = String::from_utf8(buffer).map_err(|e| e.to_string())?;
    Ok(text.lines().map(str::to_string).collect())
}
