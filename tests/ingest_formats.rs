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
    assert_eq!(summary.skipped.get("ManagedIdentitySignInLogs"), Some(&1));
    assert_eq!(summary.skipped.get("servicePrincipal"), Some(&1));
    assert_eq!(summary.time_from_created, 5);
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
    assert_eq!(summary.written(), 13, "{summary}");
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
