//! Parquet that already holds the Log Analytics columns (exports from Azure Data Explorer, a
//! data lake, another tool). Harmless type differences are adapted (ASN as an integer, other
//! timestamp units, string views), and columns without a lake column of their own are kept as
//! JSON in `AdditionalFields`.

use std::borrow::Cow;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimestampNanosecondType};
use bytes::Bytes;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};

use super::fields::{self, Target};
use super::json::{Location, RecordSink};
use super::row::Row;
use super::time::parse_timestamp;
use crate::guid::uuids_as_text;
use crate::schema::{Text, timestamp_type};

/// Reads every row; a file that is not readable Parquet is an `Err` naming why. The decoder
/// panics on some damaged files (fuzzing found one in arrow-ipc's schema conversion): that
/// too is an `Err` for this file, not the end of the ingest.
pub fn read_parquet(bytes: &[u8], sink: &mut RecordSink<'_>) -> Result<(), String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_rows(bytes, sink)))
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
/// thread of its own, a batch or two ahead of the rows being built from it here: a file read
/// alone (one large export) then keeps two cores busy, and its rows still arrive in order.
fn read_rows(bytes: &[u8], sink: &mut RecordSink<'_>) -> Result<(), String> {
    // The Arrow schema some writers embed only hints at types that `Columns` adapts anyway,
    // and decoding it is where damaged footers crash the reader: go by the Parquet schema.
    let options = ArrowReaderOptions::new().with_skip_arrow_metadata(true);
    let reader = ParquetRecordBatchReaderBuilder::try_new_with_options(
        Bytes::copy_from_slice(bytes),
        options,
    )
    .and_then(|b| b.build())
    .map_err(|e| format!("not readable as Parquet: {e}"))?;
    std::thread::scope(|scope| {
        let (sender, decoded) = std::sync::mpsc::sync_channel(2);
        let decoder = scope.spawn(move || {
            let mut line = 0;
            for batch in reader {
                let columns = batch
                    .map_err(|e| format!("Parquet data after row {line}: {e}"))
                    .and_then(|batch| Ok((batch.num_rows(), Columns::new(&batch)?)));
                let failed = columns.is_err();
                line += columns.as_ref().map_or(0, |(rows, _)| *rows);
                // A closed channel: the rows' side stopped at an error of its own.
                if sender.send(columns).is_err() || failed {
                    break;
                }
            }
        });
        let read = decoded.iter().try_fold(0, |mut line, columns| {
            let (rows, columns) = columns?;
            for index in 0..rows {
                line += 1;
                let location = Location { line, record: None };
                sink(location, &[], columns.row(index));
            }
            Ok(line)
        });
        drop(decoded);
        // A panic in the decoder is this file's failure (`read_parquet`), as it was here.
        if let Err(panic) = decoder.join() {
            std::panic::resume_unwind(panic);
        }
        read.map(|_| ())
    })
}

/// One batch's columns, converted once to the types rows are read from.
struct Columns {
    texts: Vec<(Text, ArrayRef)>,
    time_generated: Option<ArrayRef>,
    created: Option<ArrayRef>,
    is_interactive: Option<ArrayRef>,
    table_type: Option<ArrayRef>,
    user_key: Option<ArrayRef>,
    extra: Vec<String>,
}

impl Columns {
    fn new(batch: &RecordBatch) -> Result<Columns, String> {
        let mut columns = Columns {
            texts: Vec::new(),
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
                    columns.texts.push((text, convert(&DataType::Utf8)?));
                }
                Some(Target::Text(text)) if text.is_json() => {
                    columns.texts.push((text, json_texts(field.name(), array)?));
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
            let extra = RecordBatch::try_new(
                std::sync::Arc::new(arrow::datatypes::Schema::new(fields)),
                arrays,
            )
            .map_err(|e| e.to_string())?;
            columns.extra = json_lines(&extra)?;
        }
        Ok(columns)
    }

    fn row(&self, index: usize) -> Result<Row<'_>, String> {
        let mut row = Row::default();
        for (text, array) in &self.texts {
            row.text[*text as usize] = Cow::Borrowed(string_at(array, index));
        }
        row.time_generated = self.time_generated.as_ref().and_then(|a| time_at(a, index));
        row.created = self.created.as_ref().and_then(|a| time_at(a, index));
        row.is_interactive = self
            .is_interactive
            .as_ref()
            .filter(|a| a.is_valid(index))
            .map(|a| a.as_boolean().value(index));
        row.table_type = self
            .table_type
            .as_ref()
            .map(|a| Cow::Borrowed(string_at(a, index)));
        if row.text(Text::ResultType).is_empty() {
            row.text[Text::ResultType as usize] = super::json::error_code(row.text(Text::Status))?;
        }
        row.user_key = self
            .user_key
            .as_ref()
            .filter(|a| a.is_valid(index))
            .map(|a| Cow::Borrowed(string_at(a, index)));
        let extra = self.extra.get(index).map_or("{}", String::as_str);
        row.set_additional_fields(Cow::Borrowed(extra));
        Ok(row)
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
    Ok(std::sync::Arc::new(times.with_timezone("UTC")))
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
        std::sync::Arc::new(arrow::datatypes::Schema::new(vec![field])),
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
    Ok(std::sync::Arc::new(values))
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
