//! Result rows in a form any tool's output can be compared in: one line per row, the hunt's
//! columns in order, times as nanoseconds since the epoch, numbers without a trailing `.0`,
//! so DuckDB's `DOUBLE` 60 and our `BIGINT` 60 agree, and a timestamp with or without a zone
//! is the same instant.

use std::fs::File;
use std::path::Path;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit};
use arrow::util::display::ArrayFormatter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::hunt::COLUMNS;

/// The rows of the Parquet file at `path`, as lines, in the file's order.
///
/// # Errors
/// The file cannot be read as Parquet, or lacks one of the hunt's columns (matched without
/// regard to case).
pub fn lines(path: &Path) -> Result<Vec<String>, String> {
    let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let file = File::open(path).map_err(|e| fail(&e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|builder| builder.build())
        .map_err(|e| fail(&e))?;
    let mut lines = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| fail(&e))?;
        lines.extend(batch_lines(&batch).map_err(|e| fail(&e))?);
    }
    Ok(lines)
}

fn batch_lines(batch: &RecordBatch) -> Result<Vec<String>, String> {
    let schema = batch.schema();
    let columns = COLUMNS
        .iter()
        .map(|name| {
            let index = schema
                .fields()
                .iter()
                .position(|f| f.name().eq_ignore_ascii_case(name))
                .ok_or_else(|| format!("no column {name}"))?;
            canonical(batch.column(index)).map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<ArrayRef>, String>>()?;
    let formatters = columns
        .iter()
        .map(|column| ArrayFormatter::try_new(column.as_ref(), &Default::default()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    Ok((0..batch.num_rows())
        .map(|row| {
            let cells: Vec<String> = columns
                .iter()
                .zip(&formatters)
                .map(|(column, formatter)| match column.is_null(row) {
                    true => "\\N".to_string(),
                    false => formatter.value(row).to_string(),
                })
                .collect();
            cells.join("\t")
        })
        .collect())
}

/// Times as nanoseconds, integral numbers as integers, the rest as they are.
fn canonical(column: &ArrayRef) -> Result<ArrayRef, arrow::error::ArrowError> {
    let nanos = DataType::Timestamp(TimeUnit::Nanosecond, None);
    Ok(match column.data_type() {
        DataType::Timestamp(..) => cast(&cast(column, &nanos)?, &DataType::Int64)?,
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            let floats = cast(column, &DataType::Float64)?;
            let floats = floats.as_primitive::<arrow::datatypes::Float64Type>();
            if floats
                .iter()
                .flatten()
                .all(|f| f.fract() == 0.0 && f.abs() < 9e15)
            {
                cast(column, &DataType::Int64)?
            } else {
                std::sync::Arc::new(floats.clone())
            }
        }
        data_type if data_type.is_integer() => cast(column, &DataType::Int64)?,
        _ => column.clone(),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float64Array, Int64Array, TimestampMicrosecondArray};
    use arrow::datatypes::Int64Type;

    use super::*;

    fn is_int64(column: &ArrayRef) -> bool {
        column.as_primitive_opt::<Int64Type>().is_some()
    }

    #[test]
    fn the_same_values_in_other_types_read_alike() {
        let ours: ArrayRef = Arc::new(Int64Array::from(vec![60, -3]));
        let theirs: ArrayRef = Arc::new(Float64Array::from(vec![60.0, -3.0]));
        let (ours, theirs) = (canonical(&ours).unwrap(), canonical(&theirs).unwrap());
        assert!(is_int64(&ours) && is_int64(&theirs));
        assert_eq!(ours.as_ref(), theirs.as_ref());
        let micros: ArrayRef = Arc::new(
            TimestampMicrosecondArray::from(vec![1_772_443_064_424_905]).with_timezone("UTC"),
        );
        let nanos = canonical(&micros).unwrap();
        assert_eq!(
            nanos.as_primitive::<Int64Type>().value(0),
            1_772_443_064_424_905_000
        );
        let half: ArrayRef = Arc::new(Float64Array::from(vec![0.5]));
        assert!(!is_int64(&canonical(&half).unwrap()));
    }
}
