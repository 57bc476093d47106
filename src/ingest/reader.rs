//! Reading one input file end to end: bytes → records → routed lake rows, counting every
//! record and keeping every reject. Files are independent, so the ingest runs several of these
//! at once.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::RecordBatch;

use super::json::Location;
use super::rejects::Reject;
use super::row::{Route, Row, RowsBuilder};
use super::source::{self, Format, Limits};
use crate::lake::Source;
use crate::schema::Table;

/// Rows per batch handed to the lake.
const BATCH_ROWS: usize = 8192;

/// How the user asked for files to be read.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Overrides format detection.
    pub format: Option<Format>,
    /// The table for records that do not say which one they belong to.
    pub table: Option<Table>,
    /// Longer records (lines) are rejected, skipped without being held [default:
    /// [`DEFAULT_MAX_RECORD`]].
    pub max_record_size: Option<usize>,
    /// Most decompressed bytes one file may hold; the rest of a larger file is a reject
    /// [default: unbounded; `ingest` derives it from its memory limit].
    pub max_content_size: Option<usize>,
}

/// Far above any real record: an Event Hub message is at most 1 MB, a Log Analytics record
/// a few tens of KB.
pub const DEFAULT_MAX_RECORD: usize = 128 << 20;

impl ReadOptions {
    fn limits(&self) -> Limits {
        Limits {
            record: self.max_record_size.unwrap_or(DEFAULT_MAX_RECORD),
            content: self.max_content_size.unwrap_or(usize::MAX),
        }
    }
}

/// Everything one file produced.
#[derive(Debug, Default)]
pub struct FileOutcome {
    pub source: Option<Source>,
    pub batches: [Vec<RecordBatch>; 2],
    pub records: u64,
    pub skipped: BTreeMap<String, u64>,
    pub time_from_created: u64,
    pub rejects: Vec<Reject>,
    pub bytes: u64,
}

/// The identity of a file as stored: what the manifest compares.
pub fn identify(path: &Path, raw: &[u8]) -> Source {
    Source {
        path: std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
        size: raw.len() as u64,
        hash: blake3::hash(raw).to_hex().to_string(),
        etag: None,
        resume: None,
    }
}

/// Reads `data` as a file called `name` in `format` and checks what must hold for any input
/// whatsoever: every record is written, skipped or rejected, and every reject says why. Panics
/// otherwise; the fuzz targets (`tests/fuzz/`) and the replay of their findings call it.
pub fn check_decoder(format: Format, name: &str, data: &[u8]) {
    let path = Path::new(name);
    let options = ReadOptions {
        format: Some(format),
        table: Some(Table::Signin),
        ..ReadOptions::default()
    };
    let outcome = read_file(path, data.to_vec(), identify(path, data), &options);
    let rows: usize = outcome.batches.iter().flatten().map(|b| b.num_rows()).sum();
    let skipped: u64 = outcome.skipped.values().sum();
    assert_eq!(
        outcome.records,
        rows as u64 + skipped + outcome.rejects.len() as u64,
        "records unaccounted for"
    );
    assert!(outcome.rejects.iter().all(|r| !r.reason.is_empty()));
}

/// Reads a whole file. `source` is its manifest identity, already computed by the caller from
/// the same bytes.
pub fn read_file(path: &Path, raw: Vec<u8>, source: Source, options: &ReadOptions) -> FileOutcome {
    let mut outcome = FileOutcome {
        bytes: raw.len() as u64,
        source: Some(source),
        ..FileOutcome::default()
    };
    let limits = options.limits();
    let content = match source::decompress(raw, limits) {
        Ok(content) => content,
        Err(e) => {
            file_reject(&mut outcome, path, format!("cannot read: {e}"));
            return outcome;
        }
    };
    for skipped in &content.oversized {
        outcome.records += 1;
        let location = Location {
            line: skipped.line,
            record: None,
        };
        let reason = format!(
            "record of {} bytes at byte {} (after decompression) is longer than \
             --max-record-size ({} bytes); skipped to its line end",
            skipped.len, skipped.offset, limits.record
        );
        let mut reject = Reject::new(path, location, &skipped.head, reason);
        reject.raw_truncated = true;
        outcome.rejects.push(reject);
    }
    let fallback = options.table.or_else(|| table_from_path(path));
    let mut builders = [RowsBuilder::default(), RowsBuilder::default()];
    {
        let mut sink = |location: Location, raw: &[u8], row: Result<Row<'_>, String>| {
            outcome.records += 1;
            let reject = |outcome: &mut FileOutcome, reason| {
                outcome
                    .rejects
                    .push(Reject::new(path, location, raw, reason));
            };
            let row = match row {
                Ok(row) => row,
                Err(reason) => return reject(&mut outcome, reason),
            };
            let table = match row.route(fallback) {
                Route::Table(table) => table,
                Route::Skip(category) => {
                    *outcome.skipped.entry(category).or_default() += 1;
                    return;
                }
                Route::Unknown => {
                    let reason = "cannot tell the table: the record has no Type, category, \
                                  signInEventTypes or isInteractive; name it with --table"
                        .to_string();
                    return reject(&mut outcome, reason);
                }
            };
            let time = match (row.time_generated, row.created) {
                (Some(time), _) => time,
                (None, Some(created)) => {
                    outcome.time_from_created += 1;
                    created
                }
                (None, None) => {
                    let reason = "no TimeGenerated, time or CreatedDateTime".to_string();
                    return reject(&mut outcome, reason);
                }
            };
            let builder = &mut builders[table as usize];
            builder.append(&row, time);
            if builder.len() >= BATCH_ROWS {
                outcome.batches[table as usize].push(builder.finish());
            }
        };
        match options
            .format
            .unwrap_or_else(|| source::detect(path, &content.bytes))
        {
            Format::Json => super::json::read_json(&content.bytes, &mut sink),
            Format::Csv => super::csv::read_csv(&content.bytes, &mut sink),
            Format::Parquet => {
                if let Err(reason) = super::parquet::read_parquet(&content.bytes, &mut sink) {
                    sink(Location::default(), &[], Err(reason));
                }
            }
        }
    }
    for table in Table::ALL {
        let builder = &mut builders[table as usize];
        if !builder.is_empty() {
            outcome.batches[table as usize].push(builder.finish());
        }
    }
    if let Some(reason) = content.truncated {
        file_reject(&mut outcome, path, reason);
    }
    outcome
}

/// A failure of the file as a whole counts as one rejected record (docs/tables.md).
fn file_reject(outcome: &mut FileOutcome, path: &Path, reason: String) {
    outcome.records += 1;
    outcome
        .rejects
        .push(Reject::new(path, Location::default(), &[], reason));
}

/// Downloads and archives name their table: the admin center's `NonInteractiveSignIns_*.csv`,
/// the storage containers `insights-logs-noninteractiveusersigninlogs` / `-signinlogs`, data
/// export's `am-signinlogs` / `am-aadnoninteractiveusersigninlogs`, an export's table folder.
/// Only whole folder names count for the interactive table: `serviceprincipalsigninlogs`
/// holds other sign-ins.
fn table_from_path(path: &Path) -> Option<Table> {
    let text = path.to_string_lossy().to_ascii_lowercase();
    if text.contains("noninteractive") {
        return Some(Table::NonInteractive);
    }
    let folder = text.split(['/', '\\']).any(|part| {
        matches!(
            part,
            "signinlogs" | "am-signinlogs" | "insights-logs-signinlogs"
        )
    });
    (folder || text.contains("interactivesignins")).then_some(Table::Signin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_and_containers_name_their_table() {
        for (path, table) in [
            (
                "az://insights-logs-signinlogs/y=2026/PT1H.json",
                Some(Table::Signin),
            ),
            (
                "am-signinlogs/WorkspaceResourceId=/x/PT05M.json",
                Some(Table::Signin),
            ),
            (
                "export/SigninLogs/y=2026/m=03/d=02/h=00/0.parquet",
                Some(Table::Signin),
            ),
            ("InteractiveSignIns_2026-03-02.csv", Some(Table::Signin)),
            (
                "am-aadnoninteractiveusersigninlogs/x/PT05M.json",
                Some(Table::NonInteractive),
            ),
            (
                "NonInteractiveSignIns_2026.csv",
                Some(Table::NonInteractive),
            ),
            ("am-aadserviceprincipalsigninlogs/x/PT05M.json", None),
            ("exports/signinlogs-2026.json", None),
        ] {
            assert_eq!(table_from_path(Path::new(path)), table, "{path}");
        }
    }
}
