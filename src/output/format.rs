//! Result formats. Text formats print times as RFC 3339 UTC with `Z` and every sub-second digit
//! the data has (docs/hunt.md rule 10); Parquet keeps the types.

use std::borrow::Cow;
use std::io::Write;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit, TimestampNanosecondType};
use arrow::error::{ArrowError, Result};
use chrono::{DateTime, SecondsFormat};

use super::parquet::write_parquet;
use super::safety::{TextSafety, escape_for_terminal, neutralise_formula};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// An aligned table for the terminal.
    Table,
    /// CSV with a header row.
    Csv,
    /// One JSON object per line.
    Json,
    /// Parquet, types kept.
    Parquet,
}

/// Writes `batches` (all of `schema`) to `out` in `format`, text cells per `safety`. Rows
/// are written as they come, except for the table, whose column widths need them all.
///
/// # Errors
/// Write failures and Arrow conversion errors.
pub fn write_batches<W: Write + Send>(
    format: OutputFormat,
    safety: TextSafety,
    schema: &Arc<Schema>,
    batches: impl IntoIterator<Item = RecordBatch>,
    mut out: W,
) -> Result<()> {
    let defanged = safety == TextSafety::Defanged;
    let shown = Arc::new(display_schema(schema));
    let text = |cell: Option<CellFn>| {
        let shown = Arc::clone(&shown);
        move |batch: RecordBatch| display_batch(&shown, &batch, cell)
    };
    match format {
        OutputFormat::Parquet => {
            write_parquet(out, schema, batches)
                .map_err(|e| ArrowError::ExternalError(Box::new(e)))?;
        }
        OutputFormat::Table => {
            let mut rows = batches
                .into_iter()
                .map(text(defanged.then_some(escape_for_terminal)))
                .collect::<Result<Vec<_>>>()?;
            if rows.is_empty() {
                rows.push(RecordBatch::new_empty(Arc::clone(&shown)));
            }
            writeln!(
                out,
                "{}",
                arrow::util::pretty::pretty_format_batches(&rows)?
            )?;
        }
        OutputFormat::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            let mut any = false;
            for batch in batches
                .into_iter()
                .map(text(defanged.then_some(neutralise_formula)))
            {
                writer.write(&batch?)?;
                any = true;
            }
            if !any {
                writer.write(&RecordBatch::new_empty(Arc::clone(&shown)))?;
            }
        }
        OutputFormat::Json => {
            // The JSON writer escapes control characters itself.
            let mut writer = arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow::json::writer::LineDelimited>(out);
            for batch in batches.into_iter().map(text(None)) {
                writer.write(&batch?)?;
            }
            writer.finish()?;
        }
    }
    Ok(())
}

/// A text cell's rewrite.
type CellFn = for<'a> fn(&'a str) -> Cow<'a, str>;

pub(super) fn is_text(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

fn is_timestamp(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Timestamp(_, _))
}

fn display_schema(schema: &Schema) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            if is_timestamp(f.data_type()) || is_text(f.data_type()) {
                Field::new(f.name(), DataType::Utf8, f.is_nullable())
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    Schema::new(fields)
}

/// Timestamps as RFC 3339 text in UTC, 0, 3, 6 or 9 fraction digits as the value needs;
/// text through `cell`.
fn display_batch(
    schema: &Arc<Schema>,
    batch: &RecordBatch,
    cell: Option<CellFn>,
) -> Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .map(|column| {
            if is_text(column.data_type()) {
                let text = arrow::compute::cast(column, &DataType::Utf8)?;
                return Ok(match cell {
                    None => text,
                    Some(cell) => {
                        let rewritten: StringArray = text
                            .as_string::<i32>()
                            .iter()
                            .map(|v| v.map(cell))
                            .collect();
                        Arc::new(rewritten) as ArrayRef
                    }
                });
            }
            if !is_timestamp(column.data_type()) {
                return Ok(column.clone());
            }
            let nanos =
                arrow::compute::cast(column, &DataType::Timestamp(TimeUnit::Nanosecond, None))?;
            let nanos = nanos.as_primitive::<TimestampNanosecondType>();
            let text: StringArray = nanos
                .iter()
                .map(|v| {
                    v.map(|v| {
                        DateTime::from_timestamp_nanos(v)
                            .to_rfc3339_opts(SecondsFormat::AutoSi, true)
                    })
                })
                .collect();
            Ok(Arc::new(text) as ArrayRef)
        })
        .collect::<Result<Vec<_>>>()?;
    RecordBatch::try_new(schema.clone(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, TimestampNanosecondArray};

    fn batch() -> RecordBatch {
        let times = TimestampNanosecondArray::from(vec![
            1_772_442_000_123_456_700,
            1_772_442_001_000_000_000,
        ])
        .with_timezone("UTC");
        RecordBatch::try_from_iter(vec![
            ("InteractiveTime", Arc::new(times) as ArrayRef),
            (
                "TimeDeltaSeconds",
                Arc::new(Int64Array::from(vec![10, -1])) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    fn render(format: OutputFormat) -> String {
        let batch = batch();
        let mut out = Vec::new();
        write_batches(
            format,
            TextSafety::Defanged,
            &batch.schema(),
            [batch],
            &mut out,
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_prints_utc_times_with_their_digits() {
        assert_eq!(
            render(OutputFormat::Csv),
            "InteractiveTime,TimeDeltaSeconds\n2026-03-02T09:00:00.123456700Z,10\n2026-03-02T09:00:01Z,-1\n"
        );
    }

    #[test]
    fn json_is_one_object_per_line() {
        assert_eq!(
            render(OutputFormat::Json),
            "{\"InteractiveTime\":\"2026-03-02T09:00:00.123456700Z\",\"TimeDeltaSeconds\":10}\n{\"InteractiveTime\":\"2026-03-02T09:00:01Z\",\"TimeDeltaSeconds\":-1}\n"
        );
    }
}
