//! A run's findings as the findings table keeps them: which hunt ran, which run, when, and
//! `TimeGenerated` (the interactive sign-in's time, the column Sentinel and other log tools
//! filter on) before the finding's own columns.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, RecordBatch, StringArray, TimestampNanosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::error::{ArrowError, Result};

/// One run of a hunt.
#[derive(Debug, Clone)]
pub struct Run {
    pub hunt: String,
    /// Unique per run: the run time and the process id.
    pub id: String,
    pub time: DateTime<Utc>,
}

impl Run {
    pub fn now(hunt: &str) -> Run {
        let time = Utc::now();
        Run {
            hunt: hunt.to_owned(),
            id: format!(
                "{}-{}",
                time.format("%Y%m%dT%H%M%S%.6fZ"),
                std::process::id()
            ),
            time,
        }
    }
}

/// `batches` (all of `schema`, the hunt's columns first) with `TimeGenerated`, `HuntName`,
/// `RunId`, `RunTime` and `Retracted` (whether the rows take back earlier findings) in front.
///
/// # Errors
/// A schema without `InteractiveTime`.
pub fn with_run(
    run: &Run,
    retracted: bool,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let time_index = schema.index_of("InteractiveTime")?;
    let time_type = schema.field(time_index).data_type().clone();
    let utc = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
    let mut fields = vec![
        Field::new("TimeGenerated", time_type, true),
        Field::new("HuntName", DataType::Utf8, false),
        Field::new("RunId", DataType::Utf8, false),
        Field::new("RunTime", utc, false),
        Field::new("Retracted", DataType::Boolean, false),
    ];
    fields.extend(schema.fields().iter().map(|f| f.as_ref().clone()));
    let recorded = Arc::new(Schema::new(fields));
    let run_time = run
        .time
        .timestamp_nanos_opt()
        .ok_or_else(|| ArrowError::ComputeError("the run time is past 2262".into()))?;
    let batches = batches
        .iter()
        .map(|batch| {
            let rows = batch.num_rows();
            let mut columns: Vec<ArrayRef> = vec![
                batch.column(time_index).clone(),
                Arc::new(StringArray::from(vec![run.hunt.as_str(); rows])),
                Arc::new(StringArray::from(vec![run.id.as_str(); rows])),
                Arc::new(TimestampNanosecondArray::from(vec![run_time; rows]).with_timezone("UTC")),
                Arc::new(BooleanArray::from(vec![retracted; rows])),
            ];
            columns.extend(batch.columns().iter().cloned());
            RecordBatch::try_new(recorded.clone(), columns)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((recorded, batches))
}
