//! Findings kept in the lake: each run of `hunt --append-findings` adds one Parquet file under
//! `LAKE/RetrohuntFindings/run_date=YYYY-MM-DD/`, so scheduled hunts leave a table that this
//! tool's `sql`, DuckDB, Spark or Sentinel's data federation can read with a plain Parquet
//! reader. A file appears whole or not at all (`output::write_whole`: written beside its
//! place under a name no listing reads, then renamed); runs never touch each other's files,
//! so appends need no lock. In a lake in object storage the file is one put, which a store
//! makes visible whole, refused if the name exists.

use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use chrono::NaiveDate;
use parquet::arrow::ArrowWriter;

use super::error::LakeError;
use super::file::parquet_properties;
use super::layout;
use crate::output::{IfExists, plain_text, write_whole};
use crate::store::{Remote, StoreError};
use object_store::{PutMode, PutOptions, PutPayload};

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
    let relative = relative_path(run_date, run_id);
    let target = root.join(&relative);
    let folder = target
        .parent()
        .expect("a findings file lives in a run_date folder");
    std::fs::create_dir_all(folder).map_err(|e| LakeError::io(&target, e))?;
    // Run ids are unique; never replacing a file is the last guard of that.
    write_whole(&target, IfExists::Fail, |file| {
        encode(file, schema, batches)
    })
    .map_err(|e| LakeError::io(&target, e))?;
    Ok(target)
}

/// As [`append`], into a lake in object storage; returns the file's URL.
///
/// # Errors
/// Parquet errors, or the store refusing the put (also if the name exists).
pub async fn append_remote(
    remote: &Remote,
    run_date: NaiveDate,
    run_id: &str,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<String, LakeError> {
    let location = super::snapshot::child(remote.prefix(), &relative_path(run_date, run_id));
    let url = remote.url_of(&location);
    let mut body = Vec::new();
    encode(&mut body, schema, batches).map_err(|e| LakeError::io(Path::new(&url), e))?;
    let options = PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    };
    remote
        .store()
        .put_opts(&location, PutPayload::from(body), options)
        .await
        .map_err(|e| StoreError::new(&url, e))?;
    Ok(url)
}

/// `RetrohuntFindings/run_date=YYYY-MM-DD/<run>.parquet`, below the lake.
fn relative_path(run_date: NaiveDate, run_id: &str) -> String {
    format!(
        "{}/run_date={}/{run_id}.parquet",
        layout::FINDINGS_TABLE,
        run_date.format("%Y-%m-%d")
    )
}

fn encode(
    out: impl std::io::Write + Send,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> std::io::Result<()> {
    let properties = parquet_properties().build();
    let mut writer = ArrowWriter::try_new(out, plain_text(schema), Some(properties))?;
    for batch in batches {
        writer.write(batch)?;
    }
    writer.close()?;
    Ok(())
}
