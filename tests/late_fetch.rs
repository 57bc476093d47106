//! Late materialisation (`operator::late_fetch`): the columns a probed band join only carries
//! are read again after it, for the joined rows only. Every query here returns, byte for byte,
//! what stock DataFusion (`--engine sql`, which carries every column through its join) returns:
//! KQL's AiTM shape and a SQL join of each user's last success with the sign-ins after it (both
//! probed, both fetching late, the SQL one reading fetched columns above the join), and the hunt
//! (merged, carrying its columns); on a generated lake's own files and on the same rows
//! rewritten into many small row groups and pages (so that positions cross row-group and page
//! boundaries, and the files declare no order).

use std::path::Path;

use arrow::array::RecordBatchReader;

use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::properties::WriterProperties;

use retrohunt::generate::{TenantFormat, TenantSpec, generate};

use crate::util::{retrohunt, succeeded};

const RANGE: [&str; 4] = [
    "--start",
    "2026-03-02T00:00:00Z",
    "--end",
    "2026-03-04T23:59:59Z",
];

/// Each user's non-interactive sign-ins in the hour after their last successful interactive
/// one, with apps, correlation ids and user agents (read by nothing below the join) and
/// expressions on fetched columns above it.
const AFTER_LAST_SUCCESS: &str = "
WITH last AS (
    SELECT UserKey, max(TimeGenerated) AS LastSuccess
    FROM SigninLogs WHERE ResultType = '0' GROUP BY UserKey
)
SELECT n.TimeGenerated, n.UserKey, l.LastSuccess, upper(n.AppDisplayName) AS App,
       n.CorrelationId, length(n.UserAgent) AS AgentLength, n.ResultType, n.IPAddress
FROM last l
JOIN AADNonInteractiveUserSignInLogs n
  ON n.UserKey = l.UserKey
 AND n.TimeGenerated BETWEEN l.LastSuccess AND l.LastSuccess + INTERVAL '1 hour'
ORDER BY 1, 2, 3, 4, 5, 6, 7, 8";

/// The query each case runs, and whether it fetches its wide columns late.
fn cases() -> Vec<(&'static str, Vec<String>, bool)> {
    let tokens = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/kql/tokens_after_interactive.kql"
    );
    let range = RANGE.map(String::from).to_vec();
    vec![
        (
            "kql",
            [
                vec!["kql".to_string(), "--file".to_string(), tokens.to_string()],
                range.clone(),
            ]
            .concat(),
            true,
        ),
        (
            "sql",
            vec!["sql".to_string(), AFTER_LAST_SUCCESS.to_string()],
            true,
        ),
        ("hunt", [vec!["hunt".to_string()], range].concat(), false),
    ]
}

/// `args` run on `lake` with `engine`, as CSV.
fn csv(args: &[String], lake: &Path, engine: &str) -> String {
    let mut command = retrohunt();
    command
        .args(args)
        .args(["--engine", engine, "--format", "csv", "--lake"])
        .arg(lake);
    if args[0] != "sql" {
        command.arg("--all");
    }
    String::from_utf8(succeeded(command).stdout).unwrap()
}

/// The plan `args` run on `lake` with the operator.
fn plan(args: &[String], lake: &Path) -> String {
    let mut command = retrohunt();
    match args[0].as_str() {
        "sql" => command.args(["sql", &format!("EXPLAIN {}", args[1])]),
        _ => command.args(args).arg("--explain"),
    };
    command.arg("--lake").arg(lake);
    String::from_utf8(succeeded(command).stdout).unwrap()
}

/// The lake at `lake` with every file rewritten in row groups of 700 rows and pages of 50.
fn small_pages(lake: &Path) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    for entry in walkdir::WalkDir::new(lake) {
        let entry = entry.unwrap();
        let relative = entry.path().strip_prefix(lake).unwrap();
        let target = copy.path().join(relative);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            continue;
        }
        if entry.path().extension().is_none_or(|e| e != "parquet") {
            std::fs::copy(entry.path(), &target).unwrap();
            continue;
        }
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(entry.path()).unwrap())
                .unwrap()
                .with_batch_size(50)
                .build()
                .unwrap();
        let properties = WriterProperties::builder()
            .set_max_row_group_row_count(Some(700))
            .set_data_page_row_count_limit(50)
            .set_write_batch_size(50)
            .build();
        let file = std::fs::File::create(&target).unwrap();
        let mut writer = ArrowWriter::try_new(file, reader.schema(), Some(properties)).unwrap();
        for batch in reader {
            writer.write(&batch.unwrap()).unwrap();
        }
        writer.close().unwrap();
    }
    copy
}

#[test]
fn joined_rows_read_their_wide_columns_again_and_match_stock_datafusion() {
    let lake = tempfile::tempdir().unwrap();
    generate(&TenantSpec::new(60, 3, 11), TenantFormat::Lake, lake.path()).unwrap();
    let pages = small_pages(lake.path());
    for lake in [lake.path(), pages.path()] {
        for (name, args, fetched) in cases() {
            let plan = plan(&args, lake);
            assert_eq!(
                plan.contains("LateFetchExec"),
                fetched,
                "{name}: whether the plan fetches late:\n{plan}"
            );
            let ours = csv(&args, lake, "operator");
            let stock = csv(&args, lake, "sql");
            assert!(
                ours.lines().count() > 10,
                "{name} should find rows on this tenant:\n{ours}"
            );
            assert!(
                ours == stock,
                "{name}: the operator's rows differ from stock DataFusion's"
            );
        }
    }
}
