//! The account an ingest gives of itself: every record that went in is written, a duplicate,
//! skipped (another category) or rejected, and the numbers add up.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::reader::FileOutcome;
use crate::lake::CommitStats;
use crate::schema::Table;
use crate::store::RequestCounts;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TableSummary {
    pub written: u64,
    pub duplicates: u64,
    /// Rows already in the lake that an earlier copy arriving now replaced.
    pub superseded: u64,
}

#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub files: u64,
    /// Files the manifest says were ingested before with the same size and content.
    pub unchanged_files: u64,
    pub bytes: u64,
    pub records: u64,
    pub tables: [TableSummary; Table::COUNT],
    /// Records of other categories, by category.
    pub skipped: BTreeMap<String, u64>,
    pub rejected: u64,
    /// Rows whose TimeGenerated was taken from CreatedDateTime (docs/tables.md).
    pub time_from_created: u64,
    pub rejects_file: Option<PathBuf>,
    pub elapsed: Duration,
    /// Rounds of rows committed (see `IngestOptions::memory_limit`), and the date files they
    /// wrote (a date touched by several rounds is rewritten by each).
    pub rounds: u64,
    pub files_written: u64,
    /// HTTP requests to object stores, when any input was remote.
    pub requests: Option<RequestCounts>,
}

impl Summary {
    pub fn table(&self, table: Table) -> &TableSummary {
        &self.tables[table as usize]
    }

    pub fn written(&self) -> u64 {
        self.tables.iter().map(|t| t.written).sum()
    }

    pub fn duplicates(&self) -> u64 {
        self.tables.iter().map(|t| t.duplicates).sum()
    }

    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    /// Adds a file's piece; its last piece counts the file.
    pub(super) fn add_file(&mut self, outcome: &FileOutcome) {
        self.files += u64::from(outcome.source.is_some());
        self.bytes += outcome.bytes;
        self.records += outcome.records;
        self.rejected += outcome.rejects.len() as u64;
        self.time_from_created += outcome.time_from_created;
        for (category, count) in &outcome.skipped {
            *self.skipped.entry(category.clone()).or_default() += count;
        }
    }

    pub(super) fn add_commit(&mut self, table: Table, stats: CommitStats) {
        let summary = &mut self.tables[table as usize];
        summary.written += stats.written;
        summary.duplicates += stats.duplicates;
        summary.superseded += stats.superseded;
        self.files_written += stats.files_written;
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.elapsed.as_secs_f64();
        let mb = self.bytes as f64 / 1e6;
        writeln!(
            f,
            "read {} files ({:.1} MB) in {:.2} s ({:.1} MB/s, {:.0} records/s); {} unchanged files \
             skipped; date files written: {}, commit rounds: {}",
            self.files,
            mb,
            seconds,
            mb / seconds.max(1e-9),
            self.records as f64 / seconds.max(1e-9),
            self.unchanged_files,
            self.files_written,
            self.rounds,
        )?;
        writeln!(
            f,
            "{:<34} {:>12} {:>12} {:>12}",
            "table", "written", "duplicates", "superseded"
        )?;
        for table in Table::ALL {
            let t = self.table(table);
            writeln!(
                f,
                "{:<34} {:>12} {:>12} {:>12}",
                table.name(),
                t.written,
                t.duplicates,
                t.superseded
            )?;
        }
        writeln!(
            f,
            "records in {} = written {} + duplicates {} + skipped {} + rejected {}",
            self.records,
            self.written(),
            self.duplicates(),
            self.skipped_total(),
            self.rejected
        )?;
        if let Some(requests) = &self.requests {
            writeln!(f, "store requests: {requests}")?;
        }
        for (category, count) in &self.skipped {
            writeln!(f, "skipped (category {category}): {count}")?;
        }
        if self.time_from_created > 0 {
            writeln!(
                f,
                "TimeGenerated taken from CreatedDateTime: {} rows",
                self.time_from_created
            )?;
        }
        match &self.rejects_file {
            Some(path) => write!(f, "rejected records are kept in {}", path.display()),
            None => write!(f, "no records rejected"),
        }
    }
}
