//! Findings kept in the lake: each run of `hunt --append-findings` adds one Parquet file under
//! `LAKE/RetrohuntFindings/run_date=YYYY-MM-DD/`, so scheduled hunts leave a table that this
//! tool's `sql`, DuckDB, Spark or Sentinel's data federation can read with a plain Parquet
//! reader. A file appears whole or not at all and never replaces another ([`Root::create`]);
//! runs never touch each other's files, so appends need no lock.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use chrono::NaiveDate;
use parquet::arrow::ArrowWriter;

use super::error::LakeError;
use super::file::parquet_properties;
use super::layout;
use super::root::Root;
use crate::output::plain_text;

/// Writes `batches` (all of `schema`) as run `run_id`'s file on `run_date`, and returns its
/// path or URL.
///
/// # Errors
/// I/O, Parquet and store errors, naming the file; a file of that run there already.
pub async fn append(
    root: &Root,
    run_date: NaiveDate,
    run_id: &str,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<String, LakeError> {
    let relative = format!(
        "{}/run_date={}/{run_id}.parquet",
        layout::FINDINGS_TABLE,
        run_date.format("%Y-%m-%d")
    );
    root.create(&relative, |out| {
        let properties = parquet_properties().build();
        let mut writer = ArrowWriter::try_new(out, plain_text(schema), Some(properties))?;
        for batch in batches {
            writer.write(batch)?;
        }
        writer.close()?;
        Ok(())
    })
    .await
}
