//! Findings kept in the lake: each run of `hunt --append-findings` adds one Parquet file under
//! `LAKE/RetrohuntFindings/run_date=YYYY-MM-DD/`, so scheduled hunts leave a table that this
//! tool's `sql`, DuckDB, Spark or Sentinel's data federation can read with a plain Parquet
//! reader. A file appears whole or not at all (`output::write_whole`: written beside its
//! place under a name no listing reads, then renamed); runs never touch each other's files,
//! so appends need no lock.

use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use chrono::NaiveDate;
use parquet::arrow::ArrowWriter;

use super::error::LakeError;
use super::file::parquet_properties;
use super::layout;
use crate::output::{IfExists, write_whole};

/// Writes `batches` (all of `schema`) as run `run_id`'s file on `run_date`, and returns its
/// path.
///
/// # Errors
/// I/O and Parquet errors, naming the file.
pub fn append(
    root: &Path,
    run_date: NaiveDate,
    run_id: &str,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<PathBuf, LakeError> {
    let folder =
        layout::findings_dir(root).join(format!("run_date={}", run_date.format("%Y-%m-%d")));
    let target = folder.join(format!("{run_id}.parquet"));
    std::fs::create_dir_all(&folder).map_err(|e| LakeError::io(&target, e))?;
    // Run ids are unique; never replacing a file is the last guard of that.
    write_whole(&target, IfExists::Fail, |file| {
        let properties = parquet_properties().build();
        let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(properties))?;
        for batch in batches {
            writer.write(batch)?;
        }
        writer.close()?;
        Ok(())
    })
    .map_err(|e| LakeError::io(&target, e))?;
    Ok(target)
}
