//! Finding the lake files that cannot be read. A damaged file (a disk error, a truncated copy,
//! a file edited by hand) otherwise surfaces as a decoder error that names no file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::lake::layout::not_data;
use crate::schema::Table;

/// A lake file that cannot be read to its end, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damaged {
    pub path: PathBuf,
    pub reason: String,
}

/// Every Parquet file of the lake's tables that fails to read, decoding every page (a
/// footer check misses damage inside the data). Reads the whole lake once.
pub fn damaged_files(lake: &Path) -> Vec<Damaged> {
    let mut damaged = Vec::new();
    for table in Table::ALL {
        for path in parquet_files(&lake.join(table.name())) {
            if let Err(reason) = read_through(&path) {
                // Absolute, as the scans name their files.
                let path = std::fs::canonicalize(&path).unwrap_or(path);
                damaged.push(Damaged { path, reason });
            }
        }
    }
    damaged
}

/// The data files below `table_dir`, bookkeeping (`_staging`, hidden files) left out.
pub fn parquet_files(table_dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(table_dir)
        .into_iter()
        .filter_entry(|entry| entry.depth() == 0 || !not_data(entry.file_name()))
        .filter_map(std::result::Result::ok)
        .filter(|entry| {
            entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "parquet")
        })
        .map(walkdir::DirEntry::into_path)
        .collect()
}

fn read_through(path: &Path) -> Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|builder| builder.build())
        .map_err(|e| e.to_string())?;
    for batch in reader {
        batch.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The paths of `damaged`, for [`super::register_lake_skipping`].
pub fn paths(damaged: &[Damaged]) -> BTreeSet<PathBuf> {
    damaged.iter().map(|d| d.path.clone()).collect()
}
