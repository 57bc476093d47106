//! Shared test helpers: temporary lakes, ingest calls, reading a table back as plain rows.

use std::borrow::BorrowMut;
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::LazyLock;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::TimestampNanosecondType;
use chrono::{DateTime, SecondsFormat};

use retrohunt::generate::{TenantFormat, TenantSpec, generate};
use retrohunt::ingest::{self, IngestOptions, ReadOptions, Row, RowsBuilder, Summary};
use retrohunt::lake::{LakeWriter, layout};
use retrohunt::schema::{Table, Text};
use retrohunt::store::Location;

/// The `retrohunt` binary, its cache folder (where the sample lake goes without `--lake`) one
/// temporary folder for this test run: the tests neither read a stale sample lake from an
/// earlier run nor write into the user's cache.
pub fn retrohunt() -> Command {
    static CACHE: LazyLock<tempfile::TempDir> = LazyLock::new(|| tempfile::tempdir().unwrap());
    let mut command = Command::new(env!("CARGO_BIN_EXE_retrohunt"));
    command.env("XDG_CACHE_HOME", CACHE.path());
    command
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `command` to its end, failing the test with its standard error unless it succeeded.
pub fn succeeded(mut command: impl BorrowMut<Command>) -> Output {
    let output = command.borrow_mut().output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Standard error of a run that must end with exit status 2 (an argument to change).
pub fn usage_error(args: &[&str]) -> String {
    let output = retrohunt().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    stderr
}

/// `retrohunt sql --format csv` of `query` over `lake`: its standard output, the run having
/// succeeded.
pub fn sql_csv(lake: &Path, query: &str) -> Vec<u8> {
    let output = succeeded(
        retrohunt()
            .args(["sql", "--format", "csv", "--lake"])
            .arg(lake)
            .arg(query),
    );
    output.stdout
}

/// The real record files in `tests/fixtures/samples/` (its README is documentation, not
/// input).
pub fn samples() -> Vec<PathBuf> {
    let dir = fixture("samples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension()
                .is_some_and(|e| e == "json" || e == "jsonl")
        })
        .collect();
    files.sort();
    files
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn ingest_with(
    lake: &Path,
    inputs: &[PathBuf],
    read: ReadOptions,
    strict: bool,
) -> Result<Summary, ingest::IngestError> {
    let options = IngestOptions {
        inputs: inputs.iter().cloned().map(Location::Local).collect(),
        read,
        strict,
        ..IngestOptions::default()
    };
    ingest_options(lake, &options)
}

pub fn ingest_options(
    lake: &Path,
    options: &IngestOptions,
) -> Result<Summary, ingest::IngestError> {
    let writer = LakeWriter::open(lake, || {}).expect("open lake");
    ingest::ingest(&writer, options, &())
}

pub fn ingest(lake: &Path, inputs: &[PathBuf]) -> Summary {
    ingest_with(lake, inputs, ReadOptions::default(), false).expect("ingest")
}

/// Asserts docs/tables.md's accounting: records in = written + duplicates + skipped + rejected.
pub fn assert_accounted(summary: &Summary) {
    assert_eq!(
        summary.records,
        summary.written() + summary.duplicates() + summary.skipped_total() + summary.rejected,
        "{summary}"
    );
}

/// One lake row with the columns tests look at, times as RFC 3339 with 9 fraction digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeRow {
    pub time_generated: String,
    pub created: Option<String>,
    pub user_key: String,
    pub upn: String,
    pub id: String,
    pub result_type: String,
    pub ip: String,
    pub asn: String,
    pub app: String,
    pub correlation_id: String,
    pub additional: String,
    pub date: String,
}

pub fn rfc3339(nanos: i64) -> String {
    DateTime::from_timestamp_nanos(nanos).to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn text(batch: &RecordBatch, name: &str, row: usize) -> String {
    let column = batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"));
    column.as_string::<i32>().value(row).to_string()
}

/// Every row of a table, in file order, date by date.
pub fn read_table(lake: &Path, table: Table) -> Vec<LakeRow> {
    let mut rows = Vec::new();
    for date in layout::dates(lake, table).expect("list dates") {
        let path = layout::data_file(lake, table, date);
        // A commit killed between creating a date's folder and renaming its file into it
        // leaves the folder empty; readers see no rows there.
        if !path.exists() {
            continue;
        }
        for batch in retrohunt::lake::read_file(&path).expect("read lake file") {
            let times = batch
                .column_by_name("TimeGenerated")
                .unwrap()
                .as_primitive::<TimestampNanosecondType>();
            let created = batch
                .column_by_name("CreatedDateTime")
                .unwrap()
                .as_primitive::<TimestampNanosecondType>();
            for r in 0..batch.num_rows() {
                rows.push(LakeRow {
                    time_generated: rfc3339(times.value(r)),
                    created: created.is_valid(r).then(|| rfc3339(created.value(r))),
                    user_key: text(&batch, "UserKey", r),
                    upn: text(&batch, "UserPrincipalName", r),
                    id: text(&batch, "Id", r),
                    result_type: text(&batch, "ResultType", r),
                    ip: text(&batch, "IPAddress", r),
                    asn: text(&batch, "AutonomousSystemNumber", r),
                    app: text(&batch, "AppDisplayName", r),
                    correlation_id: text(&batch, "CorrelationId", r),
                    additional: text(&batch, "AdditionalFields", r),
                    date: date.to_string(),
                });
            }
        }
    }
    rows
}

/// A generated tenant in the diagnostic-archive layout, in a temporary folder.
pub fn diagnostic_tenant(users: usize, days: u32, seed: u64) -> tempfile::TempDir {
    let input = tempfile::tempdir().unwrap();
    let spec = TenantSpec::new(users, days, seed);
    generate(&spec, TenantFormat::Diagnostic, input.path()).unwrap();
    input
}

/// Every row of every table, sorted: the lake's content, whatever its files' order.
pub fn lake_content(lake: &Path) -> Vec<Vec<LakeRow>> {
    Table::ALL
        .into_iter()
        .map(|table| {
            let mut rows = read_table(lake, table);
            rows.sort_by(|a, b| (&a.id, &a.time_generated).cmp(&(&b.id, &b.time_generated)));
            rows
        })
        .collect()
}

pub fn find<'a>(rows: &'a [LakeRow], id: &str) -> &'a LakeRow {
    rows.iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("no row with Id {id}"))
}

/// One sign-in of a hand-built lake.
#[derive(Debug, Clone, Default)]
pub struct SignIn {
    pub time: i64,
    /// CreatedDateTime; sources may lack it.
    pub created: Option<i64>,
    pub upn: &'static str,
    pub result: &'static str,
    pub ip: &'static str,
    pub asn: &'static str,
    pub app: &'static str,
    pub correlation: String,
    pub app_id: &'static str,
}

impl SignIn {
    /// A successful sign-in of `upn` at `time` (by both clocks) from `ip` in `asn`.
    pub fn success(time: i64, upn: &'static str, ip: &'static str, asn: &'static str) -> SignIn {
        SignIn {
            time,
            created: Some(time),
            upn,
            result: "0",
            ip,
            asn,
            ..SignIn::default()
        }
    }
}

/// A lake holding exactly these rows (Id = the row's index in its table).
pub fn write_lake(lake: &Path, interactive: &[SignIn], non_interactive: &[SignIn]) {
    add_to_lake(lake, interactive, non_interactive, "");
}

/// Commits these rows to the lake as an ingest would (Id = `ids` and the row's index in its
/// table, so that batches with other `ids` are not duplicates of each other).
pub fn add_to_lake(lake: &Path, interactive: &[SignIn], non_interactive: &[SignIn], ids: &str) {
    let writer = LakeWriter::open(lake, || {}).unwrap();
    commit_rows(&writer, interactive, non_interactive, ids).unwrap();
}

/// As [`add_to_lake`], through `writer` (the caller publishes).
pub fn commit_rows(
    writer: &LakeWriter,
    interactive: &[SignIn],
    non_interactive: &[SignIn],
    ids: &str,
) -> Result<(), retrohunt::lake::LakeError> {
    for (table, rows) in [
        (Table::Signin, interactive),
        (Table::NonInteractive, non_interactive),
    ] {
        let mut builder = RowsBuilder::default();
        for (index, s) in rows.iter().enumerate() {
            let mut row = Row::default();
            let id = format!("{ids}{index}");
            for (column, value) in [
                (Text::UserPrincipalName, s.upn),
                (Text::ResultType, s.result),
                (Text::IPAddress, s.ip),
                (Text::AutonomousSystemNumber, s.asn),
                (Text::AppDisplayName, s.app),
                (Text::CorrelationId, s.correlation.as_str()),
                (Text::AppId, s.app_id),
                (Text::Id, id.as_str()),
            ] {
                row.text[column as usize] = Cow::Borrowed(value);
            }
            row.created = s.created;
            builder.append(&row, s.time);
        }
        writer.commit(table, vec![builder.finish()])?;
    }
    Ok(())
}

/// The (left id, right id) pairs of a band join's first two columns, sorted.
pub fn pairs(batches: &[RecordBatch]) -> Vec<(i64, i64)> {
    let mut pairs = pairs_in_order(batches);
    pairs.sort_unstable();
    pairs
}

/// The first two columns (integers), row by row, in the order the batches hold them.
pub fn pairs_in_order(batches: &[RecordBatch]) -> Vec<(i64, i64)> {
    batches
        .iter()
        .flat_map(|b| {
            let (l, r) = (
                b.column(0).as_primitive::<arrow::datatypes::Int64Type>(),
                b.column(1).as_primitive::<arrow::datatypes::Int64Type>(),
            );
            (0..b.num_rows()).map(move |i| (l.value(i), r.value(i)))
        })
        .collect()
}

/// A copy of the lake at `lake` whose data files are rewritten batch by batch through `change`,
/// as another tool would write the same rows.
pub fn rewritten_lake(
    lake: &Path,
    change: impl Fn(RecordBatch) -> RecordBatch,
) -> tempfile::TempDir {
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let copy = tempfile::tempdir().unwrap();
    for table in Table::ALL {
        // A tenant without workload identities has no folder for their tables.
        if !lake.join(table.name()).exists() {
            continue;
        }
        for entry in walkdir::WalkDir::new(lake.join(table.name())) {
            let entry = entry.unwrap();
            if !entry.file_type().is_file() {
                continue;
            }
            let target = copy.path().join(entry.path().strip_prefix(lake).unwrap());
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            let reader = ParquetRecordBatchReaderBuilder::try_new(
                std::fs::File::open(entry.path()).unwrap(),
            )
            .unwrap()
            .build()
            .unwrap();
            let mut writer = None;
            for batch in reader {
                let batch = change(batch.unwrap());
                writer
                    .get_or_insert_with(|| {
                        let file = std::fs::File::create(&target).unwrap();
                        ArrowWriter::try_new(file, batch.schema(), None).unwrap()
                    })
                    .write(&batch)
                    .unwrap();
            }
            writer.unwrap().close().unwrap();
        }
    }
    copy
}
