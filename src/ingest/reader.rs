//! Reading one input file end to end: bytes as they arrive → pieces of content → records →
//! routed lake rows, counting every record and keeping every reject. Files are independent,
//! so the ingest runs several of these at once.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;

use arrow::array::RecordBatch;

use super::json::Location;
use super::rejects::Reject;
use super::row::{Route, Row, RowsBuilder};
use super::source::{Content, Cut, Format, Limits, Piece};
use super::tap::{Tap, Tapped};
use crate::lake::Source;
use crate::schema::Table;

/// Rows per batch handed to the lake.
pub(super) const BATCH_ROWS: usize = 8192;

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
    /// Most decompressed bytes one file may hold at once: the size of its pieces, and the cap
    /// on what is held whole (a JSON document, Parquet), past which the rest is a reject
    /// [default: unbounded; `ingest` derives it from its memory limit].
    pub max_content_size: Option<usize>,
    /// Content parsed at a time where records can be told apart without parsing (lines, CSV
    /// rows) [default: the content share, at most 64 MiB].
    pub piece_size: Option<usize>,
}

/// Far above any real record: an Event Hub message is at most 1 MB, a Log Analytics record
/// a few tens of KB.
pub const DEFAULT_MAX_RECORD: usize = 128 << 20;

/// Content parsed at a time: large enough that the per-piece cost vanishes, small enough
/// that a file's rows reach the lake's rounds while the rest is still arriving.
const PIECE: usize = 64 << 20;

impl ReadOptions {
    fn limits(&self) -> Limits {
        let content = self.max_content_size.unwrap_or(usize::MAX);
        Limits {
            record: self.max_record_size.unwrap_or(DEFAULT_MAX_RECORD),
            content,
            piece: self.piece_size.unwrap_or(content.min(PIECE)),
        }
    }
}

/// Everything a file, or a piece of one, produced. Only a file's last piece names its
/// `source`, so the manifest records the file once all its rows are committed.
#[derive(Debug, Default)]
pub struct FileOutcome {
    pub source: Option<Source>,
    pub batches: [Vec<RecordBatch>; Table::COUNT],
    pub records: u64,
    pub skipped: BTreeMap<String, u64>,
    pub time_from_created: u64,
    pub rejects: Vec<Reject>,
    /// Input bytes (before decompression) this piece came from.
    pub bytes: u64,
}

impl FileOutcome {
    /// A mapped record's table and time (its `TimeGenerated`, else its `CreatedDateTime`,
    /// counted), or `None` when its category is one the lake skips (counted); `Err` names why
    /// it is rejected.
    pub(super) fn place(
        &mut self,
        route: Route,
        time_generated: Option<i64>,
        created: Option<i64>,
    ) -> Result<Option<(Table, i64)>, String> {
        let table = match route {
            Route::Table(table) => table,
            Route::Skip(category) => {
                *self.skipped.entry(category).or_default() += 1;
                return Ok(None);
            }
            Route::Unknown => {
                return Err("cannot tell the table: the record has no Type, category, \
                            signInEventTypes or isInteractive; name it with --table"
                    .to_string());
            }
        };
        let time = match (time_generated, created) {
            (Some(time), _) => time,
            (None, Some(created)) => {
                self.time_from_created += 1;
                created
            }
            (None, None) => return Err("no TimeGenerated, time or CreatedDateTime".to_string()),
        };
        Ok(Some((table, time)))
    }
}

/// Reads `data` as a file called `name` in `format`, in pieces of a few records to try every
/// place a piece may end, and checks what must hold for any input whatsoever: every record is
/// written, skipped or rejected, and every reject says why. Panics otherwise; the fuzz targets
/// (`tests/fuzz/`) and the replay of their findings call it.
pub fn check_decoder(format: Format, name: &str, data: &[u8]) {
    let options = ReadOptions {
        format: Some(format),
        table: Some(Table::Signin),
        piece_size: Some(256),
        ..ReadOptions::default()
    };
    // Records, rows, skipped, rejected.
    let mut totals = [0u64; 4];
    let mut count = |outcome: &FileOutcome| {
        assert!(outcome.rejects.iter().all(|r| !r.reason.is_empty()));
        let rows = outcome.batches.iter().flatten().map(|b| b.num_rows());
        totals[0] += outcome.records;
        totals[1] += rows.sum::<usize>() as u64;
        totals[2] += outcome.skipped.values().sum::<u64>();
        totals[3] += outcome.rejects.len() as u64;
    };
    let finished = read_stream(
        Path::new(name),
        data,
        Stream::default(),
        &options,
        &mut |piece| {
            count(&piece);
            true
        },
    )
    .expect("every piece taken");
    count(&finished.outcome);
    let [records, rows, skipped, rejected] = totals;
    assert_eq!(
        records,
        rows + skipped + rejected,
        "records unaccounted for"
    );
}

/// How a file is read, beyond what the user asked.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Stream {
    /// Hash the raw bytes (a local file's manifest identity).
    pub hash: bool,
    /// The content is known to be JSON lines: the appended part of a blob.
    pub json_lines: bool,
}

/// A file read to its end: its last piece, and what passed from its input.
pub(super) struct Finished {
    pub outcome: FileOutcome,
    pub tapped: Tapped,
    /// Plain JSON lines: a grown copy may be read from where this read stopped.
    pub json_lines: bool,
}

/// Reads a file or blob from `raw` as it arrives, handing each piece but the last to `emit`.
/// `None` when `emit` refused a piece: the ingest is stopping.
pub(super) fn read_stream(
    path: &Path,
    raw: impl Read,
    stream: Stream,
    options: &ReadOptions,
    emit: &mut dyn FnMut(FileOutcome) -> bool,
) -> Option<Finished> {
    let (raw, tapped) = Tap::new(raw, stream.hash);
    let limits = options.limits();
    let fallback = options.table.or_else(|| table_from_path(path));
    let mut collector = Collector {
        path,
        fallback,
        outcome: FileOutcome::default(),
        builders: std::array::from_fn(|_| RowsBuilder::default()),
        tapped: Rc::clone(&tapped),
        bytes_taken: 0,
        rows_held: 0,
    };
    let (json_lines, outcome) = match Content::open(raw, limits) {
        Ok(mut content) => {
            let format = options.format.unwrap_or_else(|| content.format(path));
            let plain = !content.compressed();
            let lines = collector.read(&mut content, format, stream.json_lines, emit)?;
            (plain && lines, collector.take())
        }
        Err(e) => {
            collector.file_reject(format!("cannot read: {e}"));
            (false, collector.take())
        }
    };
    let tapped = std::mem::take(&mut *tapped.borrow_mut());
    Some(Finished {
        outcome,
        tapped,
        json_lines,
    })
}

/// A file's outcome as its pieces are read.
struct Collector<'p> {
    path: &'p Path,
    fallback: Option<Table>,
    outcome: FileOutcome,
    builders: [RowsBuilder; Table::COUNT],
    tapped: Rc<RefCell<Tapped>>,
    /// Input bytes already attributed to pieces.
    bytes_taken: u64,
    /// Memory of the finished batches not yet taken.
    rows_held: usize,
}

impl<'p> Collector<'p> {
    /// Parses every piece of `content`; whether it was read as JSON lines, or `None` when
    /// `emit` refused a piece.
    fn read(
        &mut self,
        content: &mut Content<'_>,
        format: Format,
        json_lines: bool,
        emit: &mut dyn FnMut(FileOutcome) -> bool,
    ) -> Option<bool> {
        let mut header = None;
        let mut piece = Piece::default();
        let cut = match format {
            Format::Json => Cut::Lines,
            Format::Csv => Cut::CsvRows,
            Format::Parquet => Cut::Binary,
        };
        content.next_piece(&mut piece, cut);
        let lines = format == Format::Json && (json_lines || super::json::line_mode(&piece.bytes));
        if format == Format::Json && !lines && !piece.last {
            // One document: held whole.
            content.extend(&mut piece, Cut::Never);
        }
        loop {
            self.oversized(&piece, content.limits());
            let bytes = &piece.bytes;
            let mut sink = |location: Location, raw: &[u8], row: Result<Row<'_>, String>| {
                self.record(location, raw, row);
            };
            match format {
                Format::Json if lines => super::json::read_lines(bytes, piece.line_base, &mut sink),
                Format::Json => super::json::read_document_file(bytes, &mut sink),
                Format::Csv => super::csv::read_csv(bytes, piece.line_base, &mut header, &mut sink),
                Format::Parquet => {
                    if !self.read_parquet(bytes, content.limits().piece, emit) {
                        return None;
                    }
                }
            }
            if let Some(reason) = piece.truncated.take() {
                self.file_reject(reason);
            }
            if piece.last {
                return Some(lines);
            }
            if !emit(self.take()) {
                return None;
            }
            content.next_piece(&mut piece, cut);
        }
    }

    /// A Parquet file is held whole (its footer is at its end), but its rows are handed on
    /// in pieces of about `piece` bytes, as other formats' are: a day's file decodes to
    /// hundreds of MB, and reading threads would otherwise each hold one while the rows
    /// before it are committed. `false` when `emit` refused a piece.
    fn read_parquet(
        &mut self,
        bytes: &[u8],
        piece: usize,
        emit: &mut dyn FnMut(FileOutcome) -> bool,
    ) -> bool {
        let mut refused = false;
        let mut each = |columns: &super::parquet::Columns, line: u64| {
            let (path, fallback) = (self.path, self.fallback);
            self.rows_held += columns.add_lake_rows(line, fallback, path, &mut self.outcome);
            if self.rows_held >= piece {
                refused = !emit(self.take());
            }
            !refused
        };
        if let Err(reason) = super::parquet::read_parquet(bytes, &mut each) {
            self.file_reject(reason);
        }
        !refused
    }

    fn oversized(&mut self, piece: &Piece, limits: Limits) {
        for skipped in &piece.oversized {
            self.outcome.records += 1;
            let location = Location {
                line: skipped.line,
                record: None,
            };
            let reason = format!(
                "record of {} bytes at byte {} (after decompression) is longer than \
                 --max-record-size ({} bytes); skipped to its line end",
                skipped.len, skipped.offset, limits.record
            );
            let mut reject = Reject::new(self.path, location, &skipped.head, reason);
            reject.raw_truncated = true;
            self.outcome.rejects.push(reject);
        }
    }

    fn record(&mut self, location: Location, raw: &[u8], row: Result<Row<'_>, String>) {
        self.outcome.records += 1;
        let row = match row {
            Ok(row) => row,
            Err(reason) => return self.reject(location, raw, reason),
        };
        let route = row.route(self.fallback);
        let (table, time) = match self.outcome.place(route, row.time_generated, row.created) {
            Ok(Some(placed)) => placed,
            Ok(None) => return,
            Err(reason) => return self.reject(location, raw, reason),
        };
        let builder = &mut self.builders[table as usize];
        builder.append(&row, time);
        if builder.len() >= BATCH_ROWS {
            let batch = builder.finish();
            self.rows_held += batch.get_array_memory_size();
            self.outcome.batches[table as usize].push(batch);
        }
    }

    fn reject(&mut self, location: Location, raw: &[u8], reason: String) {
        let reject = Reject::new(self.path, location, raw, reason);
        self.outcome.rejects.push(reject);
    }

    /// A failure of the file as a whole counts as one rejected record (docs/tables.md).
    fn file_reject(&mut self, reason: String) {
        self.outcome.records += 1;
        self.reject(Location::default(), &[], reason);
    }

    /// The outcome so far, its rows in batches.
    fn take(&mut self) -> FileOutcome {
        let bytes = self.tapped.borrow().bytes;
        self.outcome.bytes = bytes - self.bytes_taken;
        self.bytes_taken = bytes;
        for table in Table::ALL {
            let builder = &mut self.builders[table as usize];
            if !builder.is_empty() {
                self.outcome.batches[table as usize].push(builder.finish());
            }
        }
        self.rows_held = 0;
        std::mem::take(&mut self.outcome)
    }
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
