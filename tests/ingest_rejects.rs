//! Bad input never aborts an ingest and is never lost: each bad record lands in
//! `LAKE/_rejects/` with its file, line and reason, and the accounting still adds up.

use std::io::Write;

use retrohunt::ingest::{IngestError, ReadOptions};

use crate::util::{assert_accounted, ingest, ingest_with};

const GOOD: &str = r#"{"time":"2026-03-02T10:00:00Z","category":"SignInLogs","resultType":"0","properties":{"id":"ok1","userPrincipalName":"a@b.c"}}"#;
const GOOD_2: &str = r#"{"time":"2026-03-02T10:01:00Z","category":"SignInLogs","resultType":"0","properties":{"id":"ok2","userPrincipalName":"a@b.c"}}"#;

fn bad_lines() -> Vec<u8> {
    let mut bytes = Vec::new();
    for line in [
        GOOD,
        r#"{"time":"2026-03-02T10:00:00Z","category":"#,
        r#"{"time":"2026-03-02T10:00:00Z","category":"SignInLogs","properties":{"id":"x3","userPrincipalName":{"nested":1}}}"#,
        r#"{"time":"yesterday","category":"SignInLogs","properties":{"id":"x4"}}"#,
        r#"{"category":"SignInLogs","properties":{"id":"x5"}}"#,
    ] {
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
    }
    bytes.extend_from_slice(b"{\"time\":\"2026-03-02T10:00:00Z\",\"category\":\"SignInLogs\",\"properties\":{\"id\":\"\xff\xfe\"}}\n");
    bytes.extend_from_slice(GOOD_2.as_bytes());
    bytes.push(b'\n');
    bytes
}

fn read_rejects(lake: &std::path::Path) -> Vec<serde_json::Value> {
    let dir = lake.join("_rejects");
    let mut rejects = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(
            path.extension().unwrap(),
            "jsonl",
            "no partial reject files stay behind"
        );
        for line in std::fs::read_to_string(path).unwrap().lines() {
            rejects.push(serde_json::from_str(line).unwrap());
        }
    }
    rejects.sort_by_key(|r: &serde_json::Value| r["line"].as_u64());
    rejects
}

#[test]
fn each_bad_record_is_rejected_with_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("PT1H.json");
    std::fs::write(&input, bad_lines()).unwrap();
    let lake = tempfile::tempdir().unwrap();
    let summary = ingest(lake.path(), std::slice::from_ref(&input));
    assert_eq!(summary.records, 7);
    assert_eq!(summary.written(), 2);
    assert_eq!(summary.rejected, 5);
    assert_accounted(&summary);
    assert!(
        summary.to_string().contains("_rejects"),
        "the summary names the folder"
    );

    let rejects = read_rejects(lake.path());
    let expected: [(u64, &str); 5] = [
        (2, "malformed JSON"),
        (3, "\"userPrincipalName\": expected text, found an object"),
        (4, "unparseable timestamp \"yesterday\""),
        (5, "no TimeGenerated, time or CreatedDateTime"),
        (6, "not valid UTF-8"),
    ];
    assert_eq!(rejects.len(), expected.len());
    for (reject, (line, reason)) in rejects.iter().zip(expected) {
        assert_eq!(reject["line"], line, "{reject}");
        assert!(
            reject["reason"].as_str().unwrap().contains(reason),
            "{reject}"
        );
        assert_eq!(reject["source"], input.to_str().unwrap());
        assert!(!reject["raw"].as_str().unwrap().is_empty(), "{reject}");
    }
}

#[test]
fn truncated_gzip_keeps_the_records_before_the_damage() {
    let mut text = String::new();
    for i in 0..200 {
        text.push_str(&GOOD.replace("ok1", &format!("id{i}")));
        text.push('\n');
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(text.as_bytes()).unwrap();
    let mut gz = encoder.finish().unwrap();
    gz.truncate(gz.len() / 2);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("PT1H.json.gz");
    std::fs::write(&input, gz).unwrap();
    let lake = tempfile::tempdir().unwrap();
    let summary = ingest(lake.path(), &[input]);
    assert_accounted(&summary);
    assert_eq!(summary.rejected, 1, "one file-level reject: {summary}");
    assert!(
        summary.written() > 0 && summary.written() < 200,
        "{summary}"
    );
    let rejects = read_rejects(lake.path());
    assert!(
        rejects[0]["reason"]
            .as_str()
            .unwrap()
            .contains("damaged or truncated"),
        "{}",
        rejects[0]
    );
}

#[test]
fn an_empty_file_holds_no_records() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("empty.json");
    std::fs::write(&input, "").unwrap();
    let lake = tempfile::tempdir().unwrap();
    let summary = ingest(lake.path(), &[input]);
    assert_eq!(
        (summary.files, summary.records, summary.rejected),
        (1, 0, 0)
    );
}

#[test]
fn strict_stops_at_the_first_bad_record() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("PT1H.json");
    std::fs::write(&input, bad_lines()).unwrap();
    let lake = tempfile::tempdir().unwrap();
    let error = ingest_with(lake.path(), &[input], ReadOptions::default(), true).unwrap_err();
    let IngestError::Strict(reject) = error else {
        panic!("expected a strict failure, got {error}");
    };
    assert_eq!(reject.line, 2);
    assert!(
        reject.to_string().contains("PT1H.json:2: malformed JSON"),
        "{reject}"
    );
}
