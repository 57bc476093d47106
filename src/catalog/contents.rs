//! What a folder holds before it is read as a lake. DataFusion reads a missing or empty table
//! folder as an empty table, so a mistyped `--lake` would hunt nothing and report "0 rows": an
//! analyst would conclude there was no compromise. A folder that is not a lake is an error
//! that says what is there instead.

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::damaged::parquet_files;
use crate::lake::layout::lock_file;
use crate::schema::Table;

/// Why a folder cannot be hunted as a lake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotALake {
    Missing(PathBuf),
    NotAFolder(PathBuf),
    /// Sign-in logs as they were exported (`example` is one of them), not yet ingested.
    RawLogs {
        folder: PathBuf,
        example: PathBuf,
    },
    /// Neither table folder, nor anything that looks like logs.
    NoTables(PathBuf),
    /// Table folders without a single data file.
    NoData(PathBuf),
    Unreadable {
        folder: PathBuf,
        reason: String,
    },
}

impl fmt::Display for NotALake {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let tables = || format!("{}/ or {}/", Table::ALL[0].name(), Table::ALL[1].name());
        match self {
            NotALake::Missing(folder) => {
                write!(f, "cannot open lake {}: no such folder", folder.display())
            }
            NotALake::NotAFolder(path) => write!(
                f,
                "cannot open lake {}: it is a file; a lake is a folder that `retrohunt \
                 ingest --lake` writes",
                path.display()
            ),
            NotALake::RawLogs { folder, example } => write!(
                f,
                "{} is not a lake: it holds sign-in logs as exported (e.g. {}) but no {}; \
                 ingest them first: retrohunt ingest --lake LAKE {}",
                folder.display(),
                example.display(),
                tables(),
                folder.display()
            ),
            NotALake::NoTables(folder) => write!(
                f,
                "{} is not a lake: it holds no {} (a lake is a folder that `retrohunt ingest \
                 --lake` writes)",
                folder.display(),
                tables()
            ),
            NotALake::NoData(folder) => write!(
                f,
                "lake {} holds no data files: its {} are empty",
                folder.display(),
                tables()
            ),
            NotALake::Unreadable { folder, reason } => {
                write!(f, "cannot open lake {}: {reason}", folder.display())
            }
        }
    }
}

impl std::error::Error for NotALake {}

/// The dates each table holds data files for (from their `date=` folders), ascending; a
/// table without any is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeDates {
    pub tables: Vec<(Table, Vec<NaiveDate>)>,
}

impl LakeDates {
    /// The first and last date of any table.
    pub fn span(&self) -> Option<(NaiveDate, NaiveDate)> {
        let all = self.tables.iter().flat_map(|(_, dates)| dates);
        let first = all.clone().min()?;
        Some((*first, *all.max()?))
    }
}

/// Extensions of exported sign-in logs (compressed or not) that `retrohunt ingest` reads.
const LOG_EXTENSIONS: [&str; 6] = ["json", "jsonl", "csv", "gz", "zst", "parquet"];

/// Looks at `folder` as a lake: its tables' dates, or why it is not one.
///
/// # Errors
/// See [`NotALake`].
pub fn inspect(folder: &Path) -> Result<LakeDates, NotALake> {
    match std::fs::metadata(folder) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(NotALake::NotAFolder(folder.to_path_buf())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(NotALake::Missing(folder.to_path_buf()));
        }
        Err(e) => {
            return Err(NotALake::Unreadable {
                folder: folder.to_path_buf(),
                reason: e.to_string(),
            });
        }
    }
    // An ingest creates its bookkeeping before its first commit.
    let has_tables = Table::ALL
        .iter()
        .any(|table| folder.join(table.name()).is_dir())
        || lock_file(folder).exists();
    if !has_tables {
        return Err(match exported_log(folder) {
            Some(example) => NotALake::RawLogs {
                folder: folder.to_path_buf(),
                example,
            },
            None => NotALake::NoTables(folder.to_path_buf()),
        });
    }
    let files: Vec<(Table, Vec<PathBuf>)> = Table::ALL
        .iter()
        .map(|&table| (table, parquet_files(&folder.join(table.name()))))
        .collect();
    if files.iter().all(|(_, files)| files.is_empty()) {
        return Err(NotALake::NoData(folder.to_path_buf()));
    }
    let tables = files
        .into_iter()
        .map(|(table, files)| (table, data_dates(&files)))
        .collect();
    Ok(LakeDates { tables })
}

/// The dates of the `date=` folders that hold `files`.
fn data_dates(files: &[PathBuf]) -> Vec<NaiveDate> {
    let mut dates: Vec<NaiveDate> = files
        .iter()
        .filter_map(|file| {
            file.ancestors()
                .filter_map(|dir| dir.file_name()?.to_str()?.strip_prefix("date="))
                .find_map(|date| NaiveDate::parse_from_str(date, "%Y-%m-%d").ok())
        })
        .collect();
    dates.sort();
    dates.dedup();
    dates
}

/// A file below `folder` that looks like exported logs, looking at a bounded number of entries.
fn exported_log(folder: &Path) -> Option<PathBuf> {
    walkdir::WalkDir::new(folder)
        .max_depth(12)
        .into_iter()
        .take(10_000)
        .filter_map(Result::ok)
        .find(|entry| {
            entry.file_type().is_file()
                && entry
                    .path()
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| LOG_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .map(walkdir::DirEntry::into_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"x").unwrap();
    }

    #[test]
    fn folders_that_are_not_lakes_say_what_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(
            inspect(&root.join("nope")),
            Err(NotALake::Missing(root.join("nope")))
        );
        touch(&root.join("file"));
        assert_eq!(
            inspect(&root.join("file")),
            Err(NotALake::NotAFolder(root.join("file")))
        );
        let empty = root.join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert_eq!(inspect(&empty), Err(NotALake::NoTables(empty.clone())));
        let archive = root.join("archive");
        let blob = archive.join("insights-logs-signinlogs/y=2026/m=03/d=02/h=00/m=00/PT1H.json");
        touch(&blob);
        assert_eq!(
            inspect(&archive),
            Err(NotALake::RawLogs {
                folder: archive.clone(),
                example: blob
            })
        );
        let hollow = root.join("hollow");
        std::fs::create_dir_all(hollow.join("SigninLogs/date=2026-03-02")).unwrap();
        assert_eq!(inspect(&hollow), Err(NotALake::NoData(hollow.clone())));
        // An ingest killed before its first commit leaves its lock only.
        let started = root.join("started");
        touch(&lock_file(&started));
        assert_eq!(inspect(&started), Err(NotALake::NoData(started.clone())));
    }

    #[test]
    fn a_lake_lists_the_dates_that_hold_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(&root.join("SigninLogs/date=2026-03-03/data.parquet"));
        touch(&root.join("SigninLogs/date=2026-03-01/data.parquet"));
        // A folder without a data file, and bookkeeping, do not count.
        std::fs::create_dir_all(root.join("SigninLogs/date=2026-02-01")).unwrap();
        touch(&root.join("SigninLogs/_staging/date=2026-01-01/x.parquet"));
        let dates = inspect(root).unwrap();
        let date = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
        assert_eq!(
            dates.tables,
            vec![
                (Table::Signin, vec![date("2026-03-01"), date("2026-03-03")]),
                (Table::NonInteractive, vec![]),
                (Table::ServicePrincipal, vec![]),
                (Table::ManagedIdentity, vec![]),
            ]
        );
        assert_eq!(dates.span(), Some((date("2026-03-01"), date("2026-03-03"))));
    }
}
