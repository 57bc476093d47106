//! Where things live in a lake (docs/lake.md): `LAKE/<Table>/date=YYYY-MM-DD/data.parquet`, plus
//! bookkeeping folders whose names start with `_`, which table listings never read.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate};

use crate::schema::Table;

/// Whether a file or folder name is bookkeeping or hidden (`_staging`, `_rejects`, Spark's
/// `_SUCCESS`, `.DS_Store`) rather than data, for inputs and lake tables alike.
pub fn not_data(name: &std::ffi::OsStr) -> bool {
    name.to_string_lossy().starts_with(['.', '_'])
}

/// The one file this project writes per (table, date); replaced by rename, never edited.
pub const DATA_FILE: &str = "data.parquet";

pub fn table_dir(root: &Path, table: Table) -> PathBuf {
    root.join(table.name())
}

pub fn date_dir(root: &Path, table: Table, date: NaiveDate) -> PathBuf {
    table_dir(root, table).join(format!("date={}", date.format("%Y-%m-%d")))
}

pub fn data_file(root: &Path, table: Table, date: NaiveDate) -> PathBuf {
    date_dir(root, table, date).join(DATA_FILE)
}

/// Temporary files, renamed into place when complete (same file system, so the rename is atomic).
pub fn staging_dir(root: &Path) -> PathBuf {
    root.join("_staging")
}

/// Where `hunt --append-findings` keeps each run's findings (see `findings.rs`).
pub const FINDINGS_TABLE: &str = "RetrohuntFindings";

/// Where incremental hunts keep their records (and in a folder, their locks), by name.
pub const HUNTS: &str = "_hunts";

pub fn rejects_dir(root: &Path) -> PathBuf {
    root.join("_rejects")
}

pub fn manifest_file(root: &Path) -> PathBuf {
    root.join("_manifest.jsonl")
}

pub fn lock_file(root: &Path) -> PathBuf {
    root.join("_lock")
}

/// Readers hold it shared, a writer publishing a commit exclusively (see `lake/mod.rs`).
pub fn readers_file(root: &Path) -> PathBuf {
    root.join("_readers")
}

/// The UTC date of a nanosecond timestamp: the partition a row belongs to.
pub fn date_of(nanos: i64) -> NaiveDate {
    DateTime::from_timestamp_nanos(nanos).date_naive()
}

/// The dates that have a folder under a table, ascending.
pub fn dates(root: &Path, table: Table) -> std::io::Result<Vec<NaiveDate>> {
    let dir = table_dir(root, table);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut dates = Vec::new();
    for entry in entries {
        let name = entry?.file_name();
        if let Some(date) = name
            .to_str()
            .and_then(|n| n.strip_prefix("date="))
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        {
            dates.push(date);
        }
    }
    dates.sort();
    Ok(dates)
}
