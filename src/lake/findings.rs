//! Findings kept in the lake: each run of `hunt --append-findings` adds one Parquet file under
//! `LAKE/RetrohuntFindings/run_date=YYYY-MM-DD/`, so scheduled hunts leave a table that this
//! tool's `sql`, DuckDB, Spark or Sentinel's data federation can read with a plain Parquet
//! reader. A file appears whole or not at all (written beside its place under a name no
//! listing reads, then renamed); runs never touch each other's files, so appends need no lock.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use chrono::NaiveDate;
use parquet::arrow::ArrowWriter;

use super::error::LakeError;
use super::file::parquet_properties;
use super::layout;

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
    let io = |e: std::io::Error| LakeError::io(&target, e);
    std::fs::create_dir_all(&folder).map_err(io)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".append-").suffix(".partial");
    // Readable by the other tools the table is for, as `File::create` would make it.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut temp = builder.tempfile_in(&folder).map_err(io)?;
    {
        let mut writer = ArrowWriter::try_new(
            temp.as_file_mut(),
            schema.clone(),
            Some(parquet_properties().build()),
        )
        .map_err(|e| LakeError::parquet(&target, e))?;
        for batch in batches {
            writer
                .write(batch)
                .map_err(|e| LakeError::parquet(&target, e))?;
        }
        writer.close().map_err(|e| LakeError::parquet(&target, e))?;
    }
    temp.as_file_mut().flush().map_err(io)?;
    temp.as_file().sync_all().map_err(io)?;
    temp.persist_noclobber(&target).map_err(|e| io(e.error))?;
    File::open(&folder)
        .and_then(|dir| dir.sync_all())
        .map_err(io)?;
    Ok(target)
}
