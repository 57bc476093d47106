//! The lake's promises: one sorted file per (table, date) with the order declared in
//! `sorting_columns`, deduplication by `Id` keeping the earliest copy even across dates, and
//! re-ingest adding nothing, and the same lake however many rounds a memory limit cuts the
//! ingest into.

use std::path::Path;

use parquet::basic::Encoding;
use parquet::file::reader::{FileReader, SerializedFileReader};
use retrohunt::ingest::{IngestOptions, Summary};
use retrohunt::lake::layout;
use retrohunt::schema::{Table, col, lake_schema};
use retrohunt::store::Location;

use crate::util::{
    assert_accounted, diagnostic_tenant, ingest, ingest_options, lake_content, read_table, samples,
};

fn record(id: &str, time: &str, upn: &str, ip: &str) -> String {
    format!(
        r#"{{"time":"{time}","category":"NonInteractiveUserSignInLogs","resultType":"0","properties":{{"id":"{id}","userPrincipalName":"{upn}","ipAddress":"{ip}"}}}}"#
    )
}

/// Writes `lines` to `file` (CRLF, as Azure writes blobs) and ingests it into `lake`.
fn ingest_lines(lake: &Path, file: &Path, lines: &[String]) -> Summary {
    std::fs::write(file, lines.join("\r\n") + "\r\n").unwrap();
    ingest(lake, &[file.to_path_buf()])
}

#[test]
fn files_are_sorted_and_declare_it() {
    let lake = tempfile::tempdir().unwrap();
    ingest(lake.path(), &samples());
    for table in Table::ALL {
        let rows = read_table(lake.path(), table);
        for pair in rows.windows(2).filter(|p| p[0].date == p[1].date) {
            assert!(
                (&pair[0].user_key, &pair[0].time_generated)
                    <= (&pair[1].user_key, &pair[1].time_generated),
                "{pair:?}"
            );
        }
        for date in layout::dates(lake.path(), table).unwrap() {
            let file = std::fs::File::open(layout::data_file(lake.path(), table, date)).unwrap();
            let reader = SerializedFileReader::new(file).unwrap();
            let row_group = reader.metadata().row_group(0);
            let sorting = row_group
                .sorting_columns()
                .expect("sorting_columns written");
            let schema = lake_schema();
            let names: Vec<&str> = sorting
                .iter()
                .map(|s| schema.field(s.column_idx as usize).name().as_str())
                .collect();
            assert_eq!(names, ["UserKey", "TimeGenerated"]);
            assert!(sorting.iter().all(|s| !s.descending));
            let stats = row_group.column(col::TIME_GENERATED).statistics();
            assert!(
                stats.is_some_and(|s| s.min_bytes_opt().is_some()),
                "time statistics written"
            );
        }
    }
}

/// Page statistics go where a reader can skip pages by them (times; the user's own columns,
/// which gather on a page in a file sorted by user), dictionaries where values repeat: not on
/// the ids minted once per sign-in.
#[test]
fn files_spend_statistics_and_dictionaries_where_they_pay() {
    let lake = tempfile::tempdir().unwrap();
    ingest(lake.path(), &samples());
    let schema = lake_schema();
    let mut files = 0;
    for table in Table::ALL {
        for date in layout::dates(lake.path(), table).unwrap() {
            let file = std::fs::File::open(layout::data_file(lake.path(), table, date)).unwrap();
            let reader = SerializedFileReader::new(file).unwrap();
            let row_group = reader.metadata().row_group(0);
            let column = |name: &str| row_group.column(schema.index_of(name).unwrap());
            for name in ["TimeGenerated", "UserKey", "UserPrincipalName", "UserId"] {
                assert!(column(name).statistics().is_some(), "{name} has statistics");
            }
            for name in [
                "IPAddress",
                "AppDisplayName",
                "CorrelationId",
                "DeviceDetail",
            ] {
                assert!(column(name).statistics().is_none(), "{name} has none");
            }
            let dictionary = |name: &str| {
                column(name)
                    .encodings()
                    .any(|e| matches!(e, Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY))
            };
            for name in [
                "Id",
                "CorrelationId",
                "UniqueTokenIdentifier",
                "TimeGenerated",
                "CreatedDateTime",
            ] {
                assert!(!dictionary(name), "{name} has no dictionary");
            }
            for name in ["UserPrincipalName", "AppDisplayName", "IPAddress"] {
                assert!(dictionary(name), "{name} has a dictionary");
            }
            files += 1;
        }
    }
    assert!(files >= 2, "both tables have files");
}

#[test]
fn the_same_ingest_twice_adds_nothing() {
    let lake = tempfile::tempdir().unwrap();
    let first = ingest(lake.path(), &samples());
    let rows_before = read_table(lake.path(), Table::NonInteractive);
    let second = ingest(lake.path(), &samples());
    assert_eq!(second.unchanged_files, samples().len() as u64);
    assert_eq!((second.records, second.written()), (0, 0));
    assert_eq!(read_table(lake.path(), Table::NonInteractive), rows_before);
    assert!(first.written() > 0);
}

#[test]
fn a_grown_blob_is_read_again_and_known_records_are_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let blob = dir.path().join("PT1H.json");
    let a = record("a", "2026-03-02T10:00:00Z", "u@x", "1.1.1.1");
    let b = record("b", "2026-03-02T10:05:00Z", "u@x", "1.1.1.1");
    let lake = tempfile::tempdir().unwrap();
    assert_eq!(
        ingest_lines(lake.path(), &blob, &[a.clone(), b.clone()]).written(),
        2
    );

    let c = record("c", "2026-03-02T10:10:00Z", "u@x", "1.1.1.1");
    let a_later = record("a", "2026-03-02T10:30:00Z", "u@x", "9.9.9.9");
    let summary = ingest_lines(lake.path(), &blob, &[a, b, c, a_later]);
    assert_accounted(&summary);
    assert_eq!(
        (summary.records, summary.written(), summary.duplicates()),
        (4, 1, 3)
    );
    let rows = read_table(lake.path(), Table::NonInteractive);
    let ids: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.id.as_str(), r.ip.as_str()))
        .collect();
    assert_eq!(ids, [("a", "1.1.1.1"), ("b", "1.1.1.1"), ("c", "1.1.1.1")]);
}

/// A commit reads the days either side of its own for their keys alone; one that holds a row
/// the new rows supersede is then read whole and rewritten with its other rows.
#[test]
fn a_day_either_side_loses_a_superseded_row_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let lake = tempfile::tempdir().unwrap();
    ingest_lines(
        lake.path(),
        &dir.path().join("late.json"),
        &[
            record("x", "2026-03-03T00:10:00Z", "u@x", "2.2.2.2"),
            record("y", "2026-03-03T05:00:00Z", "u@x", "4.4.4.4"),
        ],
    );
    let summary = ingest_lines(
        lake.path(),
        &dir.path().join("early.json"),
        &[record("x", "2026-03-02T23:50:00Z", "u@x", "3.3.3.3")],
    );
    assert_accounted(&summary);
    assert_eq!(summary.table(Table::NonInteractive).superseded, 1);
    let rows = read_table(lake.path(), Table::NonInteractive);
    let rows: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r.id.as_str(), r.date.as_str(), r.ip.as_str()))
        .collect();
    assert_eq!(
        rows,
        [
            ("x", "2026-03-02", "3.3.3.3"),
            ("y", "2026-03-03", "4.4.4.4")
        ]
    );
}

#[test]
fn an_earlier_copy_on_the_previous_date_supersedes_the_stored_one() {
    let dir = tempfile::tempdir().unwrap();
    let lake = tempfile::tempdir().unwrap();
    ingest_lines(
        lake.path(),
        &dir.path().join("late.json"),
        &[record("x", "2026-03-03T00:10:00Z", "u@x", "2.2.2.2")],
    );
    let summary = ingest_lines(
        lake.path(),
        &dir.path().join("early.json"),
        &[record("x", "2026-03-02T23:50:00Z", "u@x", "3.3.3.3")],
    );
    assert_eq!(summary.table(Table::NonInteractive).superseded, 1);
    let rows = read_table(lake.path(), Table::NonInteractive);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].date.as_str(), rows[0].ip.as_str()),
        ("2026-03-02", "3.3.3.3")
    );
    assert_eq!(
        layout::dates(lake.path(), Table::NonInteractive)
            .unwrap()
            .len(),
        1,
        "the emptied date is gone"
    );
}

#[test]
fn duplicates_inside_one_ingest_keep_the_earliest() {
    let dir = tempfile::tempdir().unwrap();
    let lake = tempfile::tempdir().unwrap();
    let summary = ingest_lines(
        lake.path(),
        &dir.path().join("PT1H.json"),
        &[
            record("d", "2026-03-02T10:09:00Z", "u@x", "5.5.5.5"),
            record("d", "2026-03-02T10:01:00Z", "u@x", "4.4.4.4"),
            record("", "2026-03-02T10:02:00Z", "u@x", "6.6.6.6"),
            record("", "2026-03-02T10:02:00Z", "u@x", "6.6.6.6"),
        ],
    );
    assert_eq!(
        (summary.written(), summary.duplicates()),
        (3, 1),
        "empty Ids are never duplicates"
    );
    let rows = read_table(lake.path(), Table::NonInteractive);
    assert_eq!(
        rows.iter()
            .filter(|r| r.id == "d")
            .map(|r| r.ip.as_str())
            .collect::<Vec<_>>(),
        ["4.4.4.4"]
    );
}

/// Under a small memory limit the rows are committed in many rounds, each merging with (and
/// deduplicating against) the dates already written; the lake ends with exactly the rows of
/// one round, and the accounting holds.
#[test]
fn a_small_memory_limit_commits_in_rounds_to_the_same_lake() {
    let input = diagnostic_tenant(30, 3, 4);
    let run = |memory_limit| {
        let lake = tempfile::tempdir().unwrap();
        let options = IngestOptions {
            inputs: vec![Location::Local(input.path().to_path_buf())],
            memory_limit,
            ..IngestOptions::default()
        };
        let summary = ingest_options(lake.path(), &options).unwrap();
        assert_accounted(&summary);
        (summary, lake_content(lake.path()), lake)
    };
    let (one, expected, _one) = run(None);
    let (many, found, _many) = run(Some(256 * 1024));
    assert_eq!(one.rounds, 1);
    assert!(many.rounds > 3, "{} rounds", many.rounds);
    assert!(many.files_written > one.files_written);
    // A copy earlier than one a previous round wrote supersedes it: it is written, and the
    // stored copy counted as superseded. Net, the same rows.
    let superseded =
        |s: &Summary| -> u64 { Table::ALL.iter().map(|&t| s.table(t).superseded).sum() };
    assert_eq!(superseded(&one), 0);
    assert_eq!(many.written() - superseded(&many), one.written());
    assert_eq!(many.duplicates() + superseded(&many), one.duplicates());
    assert!(
        one.duplicates() > 0,
        "the generator re-delivers some records"
    );
    assert_eq!(found, expected);
}
