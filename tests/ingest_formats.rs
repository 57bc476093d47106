//! One hand-written fixture per format of docs/ingest.md that the real samples do not cover. The
//! expected values are read off the fixture files (times converted to UTC by hand).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use retrohunt::schema::Table;

use crate::util::{LakeRow, assert_accounted, find, fixture, ingest, read_table};

const FIXTURES: [&str; 7] = [
    "la-array.json",
    "la-lines.jsonl",
    "la-export.csv",
    "graph-page.json",
    "graph-array.json",
    "NonInteractiveSignIns_2026-03-06_2026-03-07.csv",
    "legacy-PT1H.json",
];

fn check_fixture_rows(signin: &[LakeRow], non_interactive: &[LakeRow]) {
    // Log Analytics JSON array: PascalCase, Type routes, ints become text.
    let a1 = find(signin, "a0000000-0000-0000-0000-000000000001");
    assert_eq!(a1.time_generated, "2026-03-02T09:15:42.123456700Z");
    assert_eq!(
        a1.created.as_deref(),
        Some("2026-03-02T09:13:01.500000000Z")
    );
    assert_eq!(
        (a1.upn.as_str(), a1.user_key.as_str()),
        ("Alice.Ng@Contoso.com", "alice.ng@contoso.com")
    );
    assert_eq!((a1.ip.as_str(), a1.asn.as_str()), ("73.12.4.9", "7922"));
    assert!(
        a1.additional.contains(r#""SourceSystem":"Azure AD""#),
        "{}",
        a1.additional
    );
    let a2 = find(non_interactive, "a0000000-0000-0000-0000-000000000002");
    assert_eq!(a2.time_generated, "2026-03-02T23:59:59.999999900Z");
    assert_eq!(
        (a2.result_type.as_str(), a2.asn.as_str(), a2.ip.as_str()),
        ("50126", "8075", "")
    );
    assert_eq!(a2.created, None);

    // Log Analytics JSON lines: category routes; "00" is kept as the raw code; offsets → UTC.
    let a3 = find(non_interactive, "a3");
    assert_eq!(
        (a3.ip.as_str(), a3.asn.as_str()),
        ("2600:1000:ab::1", "22394")
    );
    let a4 = find(signin, "a4");
    assert_eq!(a4.time_generated, "2026-03-03T09:00:00.000000100Z");
    assert_eq!((a4.result_type.as_str(), a4.asn.as_str()), ("00", ""));

    // Portal CSV: BOM, CRLF, [UTC] headers, US-locale times, multi-line quoted JSON cell.
    let a6 = find(signin, "a6");
    assert_eq!(a6.time_generated, "2021-04-28T14:08:45.221000000Z");
    assert_eq!(
        a6.created.as_deref(),
        Some("2021-04-28T14:07:10.000000000Z")
    );
    assert_eq!(
        (a6.upn.as_str(), a6.asn.as_str()),
        ("Dana@Contoso.com", "8075")
    );
    let a7 = find(non_interactive, "a7");
    assert_eq!(a7.time_generated, "2021-04-28T23:59:59.999000000Z");
    assert!(
        a7.additional.contains(r#""Identity":"Li, Dana""#),
        "{}",
        a7.additional
    );

    // Graph beta page: signInEventTypes route, TimeGenerated from createdDateTime.
    let g1 = find(signin, "g1");
    assert_eq!(g1.time_generated, "2026-03-04T08:00:00.000000000Z");
    assert_eq!((g1.asn.as_str(), g1.result_type.as_str()), ("2856", "0"));
    let g2 = find(non_interactive, "g2");
    assert_eq!(g2.time_generated, "2026-03-04T08:05:30.250000000Z");
    assert_eq!(g2.asn, "14061");

    // Graph v1.0 bare array: isInteractive routes, ResultType from status.errorCode.
    let g4 = find(signin, "g4");
    assert_eq!(g4.time_generated, "2026-03-05T10:00:00.000000000Z");
    assert_eq!((g4.result_type.as_str(), g4.asn.as_str()), ("50074", ""));

    // Admin-center CSV: the file name routes; two-space header; repeated header kept aside.
    let r1 = find(non_interactive, "r1");
    assert_eq!(r1.time_generated, "2026-03-06T07:30:15.000000000Z");
    assert_eq!(
        (r1.upn.as_str(), r1.asn.as_str(), r1.result_type.as_str()),
        ("Gina.Park@contoso.com", "7922", "0")
    );
    assert_eq!(r1.correlation_id, "rc1");
    assert!(
        r1.additional.contains(r#""Status":"Success""#),
        "{}",
        r1.additional
    );
    assert_eq!(find(non_interactive, "r2").result_type, "50126");

    // Legacy {"records":[...]} blob, pretty-printed.
    let l1 = find(signin, "l1");
    assert_eq!(l1.time_generated, "2018-10-01T10:00:00.100000000Z");
    assert_eq!(
        l1.created.as_deref(),
        Some("2018-10-01T09:58:00.000000000Z")
    );
    assert_eq!(find(signin, "l2").result_type, "50126");
}

#[test]
fn every_format_maps_to_the_same_columns() {
    let lake = tempfile::tempdir().unwrap();
    let inputs: Vec<PathBuf> = FIXTURES.iter().map(|f| fixture(f)).collect();
    let summary = ingest(lake.path(), &inputs);
    assert_accounted(&summary);
    assert_eq!(summary.rejected, 0, "{summary}");
    assert_eq!(summary.table(Table::Signin).written, 7, "{summary}");
    assert_eq!(summary.table(Table::NonInteractive).written, 6, "{summary}");
    // The managed identity's LA row (a5) and the Graph page's service principal (g3) go to
    // tables of their own: nothing is skipped.
    assert_eq!(
        summary.table(Table::ManagedIdentity).written,
        1,
        "{summary}"
    );
    assert_eq!(
        summary.table(Table::ServicePrincipal).written,
        1,
        "{summary}"
    );
    assert!(summary.skipped.is_empty(), "{summary}");
    let a5 = read_table(lake.path(), Table::ManagedIdentity);
    assert_eq!(
        (a5[0].id.as_str(), a5[0].time_generated.as_str()),
        ("a5", "2026-03-03T11:00:00.000000000Z")
    );
    let g3 = read_table(lake.path(), Table::ServicePrincipal);
    assert_eq!(
        (
            g3[0].id.as_str(),
            g3[0].app.as_str(),
            g3[0].result_type.as_str()
        ),
        ("g3", "Backup job", "0")
    );
    assert_eq!(g3[0].time_generated, "2026-03-04T08:06:00.000000000Z");
    // g3 has no envelope time: one more than the user tables' five.
    assert_eq!(summary.time_from_created, 6);
    check_fixture_rows(
        &read_table(lake.path(), Table::Signin),
        &read_table(lake.path(), Table::NonInteractive),
    );
}

#[test]
fn gzip_and_zstd_inputs_read_like_plain_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = Vec::new();
    for (i, name) in FIXTURES.iter().enumerate() {
        let plain = std::fs::read(fixture(name)).unwrap();
        let (bytes, suffix) = if i % 2 == 0 {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(&plain).unwrap();
            (encoder.finish().unwrap(), "gz")
        } else {
            (zstd::encode_all(plain.as_slice(), 3).unwrap(), "zst")
        };
        let path = dir.path().join(format!("{name}.{suffix}"));
        std::fs::write(&path, bytes).unwrap();
        inputs.push(path);
    }
    let lake = tempfile::tempdir().unwrap();
    let summary = ingest(lake.path(), &inputs);
    assert_eq!(summary.rejected, 0, "{summary}");
    assert_eq!(summary.written(), 15, "{summary}");
    check_fixture_rows(
        &read_table(lake.path(), Table::Signin),
        &read_table(lake.path(), Table::NonInteractive),
    );
}

#[test]
fn foreign_parquet_is_adapted() {
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "TimeGenerated",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("Type", DataType::Utf8, false),
        Field::new("UserPrincipalName", DataType::Utf8, true),
        Field::new("AutonomousSystemNumber", DataType::Int64, true),
        Field::new("ResultType", DataType::Utf8, true),
        Field::new("Id", DataType::Utf8, true),
        Field::new("Extra", DataType::Int32, true),
    ]));
    // 1_772_442_000_000_000 µs = 2026-03-02T09:00:00Z.
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(TimestampMicrosecondArray::from(vec![
                1_772_442_000_000_000,
                1_772_442_000_000_001,
            ])),
            Arc::new(StringArray::from(vec![
                "SigninLogs",
                "AADNonInteractiveUserSignInLogs",
            ])),
            Arc::new(StringArray::from(vec![Some("Ivy@Contoso.com"), None])),
            Arc::new(Int64Array::from(vec![Some(6128), None])),
            Arc::new(StringArray::from(vec![Some("0"), None])),
            Arc::new(StringArray::from(vec!["p1", "p2"])),
            Arc::new(Int32Array::from(vec![Some(5), None])),
        ],
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.parquet");
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, None)
            .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();

    let lake = tempfile::tempdir().unwrap();
    let summary = ingest(lake.path(), &[path]);
    assert_eq!(summary.written(), 2, "{summary}");
    let signin = read_table(lake.path(), Table::Signin);
    let p1 = find(&signin, "p1");
    assert_eq!(p1.time_generated, "2026-03-02T09:00:00.000000000Z");
    assert_eq!(
        (
            p1.user_key.as_str(),
            p1.asn.as_str(),
            p1.result_type.as_str()
        ),
        ("ivy@contoso.com", "6128", "0")
    );
    assert_eq!(p1.additional, r#"{"Extra":5}"#);
    let non_interactive = read_table(lake.path(), Table::NonInteractive);
    let p2 = find(&non_interactive, "p2");
    assert_eq!(p2.time_generated, "2026-03-02T09:00:00.000001000Z");
    assert_eq!(
        (p2.upn.as_str(), p2.asn.as_str()),
        ("", ""),
        "null strings read as empty"
    );
}

/// A source that carries `AdditionalFields` (a lake's own file or an export of one) keeps its
/// members, joined by the fields no column took; a carried `UserKey` is kept only where it is
/// not the lake's own (lower-case UserPrincipalName). Values written by hand from the input.
#[test]
fn carried_additional_fields_and_user_keys_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("export.jsonl");
    let line = |id: &str, key: &str, additional: &str| {
        format!(
            concat!(
                r#"{{"TimeGenerated":"2026-03-02T10:00:00Z","Type":"SigninLogs","Id":"{id}","#,
                r#""UserPrincipalName":"Ann@Contoso.com","UserKey":"{key}","#,
                r#""AdditionalFields":{additional},"Extra":2}}"#,
                "\n"
            ),
            id = id,
            key = key,
            additional = additional
        )
    };
    let text = [
        line("own-key", "ann@contoso.com", r#"{"a":1}"#),
        line("other-key", "someone", r#"{"a":1}"#),
        line("empty", "ann@contoso.com", "{}"),
        line("text", "ann@contoso.com", r#""not an object""#),
    ]
    .concat();
    std::fs::write(&input, text).unwrap();
    let lake = tempfile::tempdir().unwrap();
    let summary = ingest(lake.path(), &[input]);
    assert_accounted(&summary);
    let rows = read_table(lake.path(), Table::Signin);
    for (id, expected) in [
        ("own-key", r#"{"a":1,"Extra":2}"#),
        ("other-key", r#"{"a":1,"UserKey":"someone","Extra":2}"#),
        ("empty", r#"{"Extra":2}"#),
        ("text", r#"{"AdditionalFields":"not an object","Extra":2}"#),
    ] {
        let row = find(&rows, id);
        assert_eq!(row.additional, expected, "{id}");
        assert_eq!(row.user_key, "ann@contoso.com", "{id}");
    }
}

/// Reading files a piece at a time gives exactly what reading them whole gives, wherever a
/// piece ends: the same rows, counts and rejects, at the same lines. Here a piece ends after
/// every line (JSON) or row (CSV): inside nothing in well-formed files, and next to quoted
/// multi-line cells, blank and CRLF lines, a BOM, bad lines and an unclosed quote in the
/// hostile ones.
#[test]
fn files_read_in_pieces_read_like_whole_files() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = [
        (
            "hostile.csv",
            "\u{feff}TimeGenerated [UTC],Type,ResultType,UserPrincipalName,Id,Status\r\n\
             2026-03-02T10:00:00Z,SigninLogs,0,a@x.com,one,\"{\"\"errorCode\"\":0,\r\n\
             \"\"note\"\":\"\"two\r\nlines\"\"}\"\r\n\
             \r\n\
             not a time,SigninLogs,0,a@x.com,two,\r\n\
             2026-03-02T10:01:00Z,SigninLogs,0,b@x.com,three,\"\"\"quoted\"\"\"\r\n\
             2026-03-02T10:02:00Z,SigninLogs,0,b@x.com,four,\"never\nclosed\n\
             2026-03-02T10:03:00Z,SigninLogs,0,b@x.com,five,\n",
        ),
        (
            "hostile.jsonl",
            "\u{feff}{\"TimeGenerated\":\"2026-03-02T10:00:00Z\",\"Type\":\"SigninLogs\",\"Id\":\"1\",\"ResultType\":\"0\",\"UserPrincipalName\":\"a@x.com\"}\r\n\
             \r\n\
             {\"TimeGenerated\":\"2026-03-02T10:00:00Z\",\"Type\":\"SigninLogs\"\n\
             [{\"TimeGenerated\":\"2026-03-02T10:01:00Z\",\"Type\":\"SigninLogs\",\"Id\":\"2\",\"ResultType\":\"0\",\"UserPrincipalName\":\"a@x.com\"},{\"nothing\":1}]\n\
             {\"records\":[{\"time\":\"2026-03-02T10:02:00Z\",\"category\":\"SignInLogs\",\"properties\":{\"id\":\"3\",\"userPrincipalName\":\"b@x.com\"}}]}\n\
             \u{1}\n\
             {\"TimeGenerated\":\"2026-03-02T10:03:00Z\",\"Type\":\"SigninLogs\",\"Id\":\"4\",\"ResultType\":\"0\",\"UserPrincipalName\":\"b@x.com\"}",
        ),
    ];
    let mut inputs: Vec<PathBuf> = FIXTURES.iter().map(|f| fixture(f)).collect();
    inputs.extend(crate::util::samples());
    for (name, text) in hostile {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        inputs.push(path);
    }
    let run = |piece_size| {
        let lake = tempfile::tempdir().unwrap();
        let read = retrohunt::ingest::ReadOptions {
            piece_size,
            ..Default::default()
        };
        let summary = crate::util::ingest_with(lake.path(), &inputs, read, false).unwrap();
        assert_accounted(&summary);
        let mut rejects: Vec<String> = summary
            .rejects_file
            .iter()
            .flat_map(|file| {
                std::fs::read_to_string(file)
                    .unwrap()
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect();
        rejects.sort();
        let counts = (
            summary.records,
            summary.written(),
            summary.rejected,
            summary.files,
        );
        (counts, rejects, crate::util::lake_content(lake.path()))
    };
    let whole = run(None);
    let pieces = run(Some(1));
    assert_eq!(pieces.0, whole.0);
    assert_eq!(pieces.1, whole.1);
    assert_eq!(pieces.2, whole.2);
    // Hand-counted: the hostile CSV's rows "one", "three" and "four" are written ("four"'s
    // unclosed quote swallows the row "five" into its last cell), "two" is rejected at line 6;
    // the JSON lines' records 1 to 4 are written, the cut line 3, `{"nothing":1}` (line 4,
    // record 2) and the control character (line 6) rejected.
    let ids: Vec<&str> = whole.2[0].iter().map(|row| row.id.as_str()).collect();
    for id in ["one", "three", "four", "1", "2", "3", "4"] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    assert!(!ids.contains(&"five"));
    let rejected: Vec<(bool, u64, Option<u64>)> = whole
        .1
        .iter()
        .map(|line| {
            let reject: serde_json::Value = serde_json::from_str(line).unwrap();
            let csv = reject["source"].as_str().unwrap().ends_with("hostile.csv");
            (
                csv,
                reject["line"].as_u64().unwrap(),
                reject["record"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        rejected,
        [
            (true, 6, None),
            (false, 3, None),
            (false, 4, Some(2)),
            (false, 6, None)
        ]
    );
}

/// GUIDs that another tool stored as Parquet's 16-byte UUID type read as the text the logs
/// write: DuckDB, given Log Analytics JSON lines, infers `Id`, `CorrelationId`, `AppId` and
/// `UserId` as UUIDs and writes them so. Ingesting its Parquet must give the lake the same
/// GUIDs, and so the same duplicates, as ingesting the JSON lines themselves. (Before, every
/// such `Id` read as empty and no duplicate was removed.)
#[test]
fn guids_stored_as_uuids_read_as_their_text() {
    crate::emulators::python_package("duckdb", "duckdb");
    let json = tempfile::tempdir().unwrap();
    let spec = retrohunt::generate::TenantSpec::new(80, 3, 4);
    retrohunt::generate::generate(
        &spec,
        retrohunt::generate::TenantFormat::LaJsonl,
        json.path(),
    )
    .unwrap();
    let parquet = tempfile::tempdir().unwrap();
    let script = "import duckdb, sys\n\
        for table in ['SigninLogs', 'AADNonInteractiveUserSignInLogs']:\n\
        \x20   duckdb.sql(f\"COPY (SELECT * FROM read_json('{sys.argv[1]}/{table}/*.jsonl')) \
        TO '{sys.argv[2]}/{table}.parquet' (FORMAT parquet)\")\n";
    let status = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(json.path())
        .arg(parquet.path())
        .status()
        .unwrap();
    assert!(status.success());
    let exported: Vec<PathBuf> = Table::USERS
        .iter()
        .map(|t| parquet.path().join(format!("{}.parquet", t.name())))
        .collect();
    // The test means something only if the GUIDs really are 16-byte values there.
    let file = std::fs::File::open(&exported[0]).unwrap();
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let id = reader
        .schema()
        .field_with_name("Id")
        .unwrap()
        .data_type()
        .clone();
    assert_eq!(id, DataType::FixedSizeBinary(16));

    let (from_json, from_parquet) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let inputs: Vec<PathBuf> = Table::USERS
        .iter()
        .map(|t| json.path().join(t.name()))
        .collect();
    let json_summary = ingest(from_json.path(), &inputs);
    let parquet_summary = ingest(from_parquet.path(), &exported);
    let duplicates =
        |s: &retrohunt::ingest::Summary| -> u64 { s.tables.iter().map(|t| t.duplicates).sum() };
    assert!(duplicates(&json_summary) > 0, "{json_summary}");
    assert_eq!(
        parquet_summary.written(),
        json_summary.written(),
        "{parquet_summary}"
    );
    assert_eq!(duplicates(&parquet_summary), duplicates(&json_summary));
    for table in Table::ALL {
        let guids = |lake: &std::path::Path| {
            let mut rows: Vec<(String, String)> = read_table(lake, table)
                .into_iter()
                .map(|row| (row.id, row.correlation_id))
                .collect();
            rows.sort();
            rows
        };
        let ours = guids(from_json.path());
        assert!(ours.iter().all(|(id, _)| id.len() == 36), "{table:?}");
        assert_eq!(guids(from_parquet.path()), ours, "{table:?}");
    }
}

/// A Parquet file is held whole but its rows are handed on in pieces (a day's file decodes to
/// hundreds of MB). Here the pieces are a batch each, and rounds small enough that rows of one
/// file are committed before the rest of it is read: the lake must hold what reading each file
/// whole gives.
#[test]
fn a_parquet_file_read_in_pieces_ingests_as_when_whole() {
    let source = tempfile::tempdir().unwrap();
    let spec = retrohunt::generate::TenantSpec::new(300, 2, 11);
    retrohunt::generate::generate(
        &spec,
        retrohunt::generate::TenantFormat::Lake,
        source.path(),
    )
    .unwrap();
    let inputs: Vec<PathBuf> = Table::USERS
        .iter()
        .map(|table| source.path().join(table.name()))
        .collect();
    let files = walkdir::WalkDir::new(source.path())
        .into_iter()
        .filter(|entry| entry.as_ref().unwrap().path().extension() == Some("parquet".as_ref()))
        .count() as u64;

    let whole_lake = tempfile::tempdir().unwrap();
    let whole = ingest(whole_lake.path(), &inputs);
    let pieces_lake = tempfile::tempdir().unwrap();
    let options = retrohunt::ingest::IngestOptions {
        inputs: inputs
            .iter()
            .cloned()
            .map(retrohunt::store::Location::Local)
            .collect(),
        read: retrohunt::ingest::ReadOptions {
            piece_size: Some(1),
            // Files are held whole: not limited by the small memory limit below.
            max_content_size: Some(64 << 20),
            ..Default::default()
        },
        memory_limit: Some(2 << 20),
        ..Default::default()
    };
    let pieces = crate::util::ingest_options(pieces_lake.path(), &options).unwrap();

    assert_accounted(&whole);
    assert_accounted(&pieces);
    assert!(whole.written() > 20_000, "{whole}");
    assert_eq!(whole.rounds, 1, "{whole}");
    // More rounds than files: a round was committed in the middle of a file.
    assert!(
        pieces.rounds > files,
        "{} rounds, {files} files",
        pieces.rounds
    );
    assert_eq!(
        (pieces.records, pieces.written(), pieces.duplicates()),
        (whole.records, whole.written(), whole.duplicates())
    );
    assert!(
        crate::util::lake_content(pieces_lake.path())
            == crate::util::lake_content(whole_lake.path())
    );
}

/// A Parquet source's lake rows are made a column at a time (`src/ingest/parquet.rs`), other
/// formats' a record at a time: the same records as Parquet and as JSON lines must give the
/// same lake, byte for byte, the same counts, and the same rejects at the same rows. The
/// records cover what a column-at-a-time path can get wrong: nulls, `ResultType` taken from
/// `Status` (or a bad `Status` rejected), every routing rule, skipped categories, times from
/// `CreatedDateTime`, carried `AdditionalFields` and `UserKey`, columns without a lake column,
/// a non-ASCII user name, and more rows than one decoded batch.
#[test]
fn parquet_sources_ingest_as_their_json_lines_do() {
    use arrow::array::{ArrayRef, BooleanArray, TimestampMillisecondArray};
    use serde_json::{Map, Value, json};

    const ROWS: i64 = 10_000;
    // 2026-03-02T00:00:00Z in ms.
    const BASE: i64 = 1_772_409_600_000;
    let pick = |i: i64, choices: &[Option<&'static str>]| choices[i as usize % choices.len()];
    let time = |i: i64| (i % 97 != 5 && i % 991 != 7).then_some(BASE + i * 1_000);
    let created = |i: i64| (i % 3 == 0 || i % 97 == 5).then_some(BASE + i * 1_000 - 7);
    let table_type = |i: i64| {
        if i % 1_000 == 999 {
            return Some("AuditLogs");
        }
        pick(
            i,
            &[
                Some("SigninLogs"),
                Some("AADNonInteractiveUserSignInLogs"),
                Some(""),
                None,
                Some("AADServicePrincipalSignInLogs"),
            ],
        )
    };
    let category = |i: i64| {
        pick(
            i / 5,
            &[
                Some("SignInLogs"),
                Some("NonInteractiveUserSignInLogs"),
                None,
                Some("ManagedIdentitySignInLogs"),
                Some("ProvisioningLogs"),
            ],
        )
    };
    let interactive = |i: i64| [Some(true), Some(false), None][(i / 20) as usize % 3];
    let upn = |i: i64| {
        pick(
            i,
            &[
                Some("Ann@Contoso.com"),
                Some("ärne@CONTOSO.com"),
                None,
                Some("bob@contoso.com"),
                Some(""),
                Some("ÅSA@Contoso.COM"),
            ],
        )
    };
    let result_type = |i: i64| pick(i / 7, &[Some("0"), None, Some(""), Some("50126")]);
    let status = |i: i64| {
        pick(
            i / 11,
            &[
                Some(r#"{"errorCode":50126,"failureReason":"bad password"}"#),
                Some(r#"{"errorCode":"0"}"#),
                None,
                Some("{}"),
                Some(r#"{"errorCode":"#),
            ],
        )
    };
    let additional = |i: i64| {
        pick(
            i / 13,
            &[None, Some(r#"{"a":1}"#), Some("not an object"), Some("{}")],
        )
    };
    let user_key = |i: i64| {
        pick(
            i / 17,
            &[
                None,
                Some("ann@contoso.com"),
                Some("someone else"),
                Some(""),
            ],
        )
    };
    let extra = |i: i64| (i % 4 != 0).then_some(i);
    let extra_text = |i: i64| pick(i / 3, &[Some("x"), None, Some("with \"quotes\"")]);

    let dir = tempfile::tempdir().unwrap();
    let range = 0..ROWS;
    let strings = |f: &dyn Fn(i64) -> Option<&'static str>| -> ArrayRef {
        Arc::new(range.clone().map(f).collect::<StringArray>())
    };
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "TimeGenerated",
            Arc::new(
                range
                    .clone()
                    .map(time)
                    .collect::<TimestampMillisecondArray>(),
            ),
        ),
        (
            "CreatedDateTime",
            Arc::new(
                range
                    .clone()
                    .map(created)
                    .collect::<TimestampMillisecondArray>(),
            ),
        ),
        ("Type", strings(&table_type)),
        ("Category", strings(&category)),
        (
            "IsInteractive",
            Arc::new(range.clone().map(interactive).collect::<BooleanArray>()),
        ),
        ("UserPrincipalName", strings(&upn)),
        (
            "Id",
            Arc::new(
                range
                    .clone()
                    .map(|i| Some(format!("id-{i}")))
                    .collect::<StringArray>(),
            ),
        ),
        ("ResultType", strings(&result_type)),
        ("Status", strings(&status)),
        ("AdditionalFields", strings(&additional)),
        ("UserKey", strings(&user_key)),
        (
            "Extra",
            Arc::new(range.clone().map(extra).collect::<Int64Array>()),
        ),
        ("ExtraText", strings(&extra_text)),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let parquet_path = dir.path().join("export.parquet");
    // Row groups smaller than a decoded batch, as some writers make them.
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(3_000))
        .build();
    let file = std::fs::File::create(&parquet_path).unwrap();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(file, batch.schema(), Some(properties)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();

    // The same records as Log Analytics writes JSON lines: absent where null, times as
    // RFC 3339, dynamic columns as JSON text in a string.
    let rfc3339 = |ms: i64| crate::util::rfc3339(ms * 1_000_000);
    let mut lines = String::new();
    for i in range.clone() {
        let mut record = Map::new();
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                record.insert(key.to_string(), value);
            }
        };
        put("TimeGenerated", time(i).map(|t| json!(rfc3339(t))));
        put("CreatedDateTime", created(i).map(|t| json!(rfc3339(t))));
        put("Type", table_type(i).map(|v| json!(v)));
        put("Category", category(i).map(|v| json!(v)));
        put("IsInteractive", interactive(i).map(|v| json!(v)));
        put("UserPrincipalName", upn(i).map(|v| json!(v)));
        put("Id", Some(json!(format!("id-{i}"))));
        put("ResultType", result_type(i).map(|v| json!(v)));
        put("Status", status(i).map(|v| json!(v)));
        put("AdditionalFields", additional(i).map(|v| json!(v)));
        put("UserKey", user_key(i).map(|v| json!(v)));
        put("Extra", extra(i).map(|v| json!(v)));
        put("ExtraText", extra_text(i).map(|v| json!(v)));
        lines.push_str(&Value::Object(record).to_string());
        lines.push('\n');
    }
    let json_path = dir.path().join("export.jsonl");
    std::fs::write(&json_path, lines).unwrap();

    let rejects = |summary: &retrohunt::ingest::Summary| -> Vec<(u64, String)> {
        let text = std::fs::read_to_string(summary.rejects_file.as_ref().unwrap()).unwrap();
        let mut rejects: Vec<(u64, String)> = text
            .lines()
            .map(|line| {
                let reject: Value = serde_json::from_str(line).unwrap();
                let reason = reject["reason"].as_str().unwrap().to_string();
                (reject["line"].as_u64().unwrap(), reason)
            })
            .collect();
        rejects.sort();
        rejects
    };
    let lake_files = |lake: &std::path::Path| {
        let mut files = Vec::new();
        for table in Table::ALL {
            for date in retrohunt::lake::layout::dates(lake, table).unwrap() {
                let path = retrohunt::lake::layout::data_file(lake, table, date);
                files.push((table, date, retrohunt::lake::read_file(&path).unwrap()));
            }
        }
        files
    };
    let (from_parquet, from_json) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let parquet = ingest(from_parquet.path(), &[parquet_path]);
    let json = ingest(from_json.path(), &[json_path]);
    assert_accounted(&parquet);
    for summary in [&parquet, &json] {
        assert_eq!(summary.records, ROWS as u64, "{summary}");
    }
    // Every rule was met: the four tables written, both kinds of skip (a `Type` and a
    // category of no sign-in table), rejects of each kind.
    assert!(parquet.tables.iter().all(|t| t.written > 500), "{parquet}");
    assert_eq!(parquet.skipped.len(), 2, "{parquet}");
    assert!(parquet.time_from_created > 0, "{parquet}");
    let parquet_rejects = rejects(&parquet);
    for reason in [
        "cannot tell the table",
        "no TimeGenerated",
        "field \"status\"",
    ] {
        assert!(
            parquet_rejects.iter().any(|(_, r)| r.starts_with(reason)),
            "no reject {reason:?}: {parquet_rejects:?}"
        );
    }
    assert!(parquet_rejects.iter().any(|(line, _)| *line > 8_192));
    assert_eq!(
        (
            parquet.written(),
            &parquet.skipped,
            parquet.rejected,
            parquet.time_from_created
        ),
        (
            json.written(),
            &json.skipped,
            json.rejected,
            json.time_from_created
        )
    );
    assert_eq!(parquet_rejects, rejects(&json));
    let files = lake_files(from_parquet.path());
    assert!(files == lake_files(from_json.path()), "the lakes differ");

    // Values worked out by hand from the rules above.
    let rows: Vec<_> = Table::ALL
        .into_iter()
        .flat_map(|table| read_table(from_parquet.path(), table))
        .collect();
    // Row 1: UserPrincipalName "ärne@CONTOSO.com".
    assert_eq!(find(&rows, "id-1").user_key, "ärne@contoso.com");
    // Row 8: no Type, category NonInteractiveUserSignInLogs, no ResultType, Status with
    // errorCode 50126.
    assert_eq!(find(&rows, "id-8").result_type, "50126");
    // Row 221: UserPrincipalName "ÅSA@Contoso.COM", AdditionalFields {"a":1}, UserKey
    // "ann@contoso.com" (not the lake's), Extra 221, no ExtraText.
    let row = find(&rows, "id-221");
    assert_eq!(row.user_key, "åsa@contoso.com");
    assert_eq!(
        row.additional,
        r#"{"a":1,"UserKey":"ann@contoso.com","Extra":221}"#
    );
}
