//! Bad input never aborts an ingest and is never lost: each bad record lands in
//! `LAKE/_rejects/` with its file, line and reason, and the accounting still adds up.

use std::io::Write;

use retrohunt::ingest::{IngestError, ReadOptions};

use crate::util::{assert_accounted, ingest, ingest_with, retrohunt};

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

/// Asserts the rejects are, in line order, exactly these lines with these reasons (a part of
/// each reason suffices).
fn assert_rejects(rejects: &[serde_json::Value], expected: &[(u64, &str)]) {
    assert_eq!(rejects.len(), expected.len(), "{rejects:?}");
    for (reject, &(line, reason)) in rejects.iter().zip(expected) {
        assert_eq!(reject["line"], line, "{reject}");
        assert!(
            reject["reason"].as_str().unwrap().contains(reason),
            "{reject}"
        );
    }
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
    assert_rejects(
        &rejects,
        &[
            (2, "malformed JSON"),
            (3, "\"userPrincipalName\": expected text, found an object"),
            (4, "unparseable timestamp \"yesterday\""),
            (5, "no TimeGenerated, time or CreatedDateTime"),
            (6, "not valid UTF-8"),
        ],
    );
    for reject in &rejects {
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

/// The hostile inputs of a log archive, one per line, each with its fate: rejected with a
/// precise reason, or (legal text, however odd) stored exactly. Memory stays bounded (a
/// 100 MB line is one record, 100,000 levels of nesting do not recurse) and the accounting
/// holds.
#[test]
fn hostile_records_one_by_one() {
    let line = |id: &str, field: &str, value: &str| {
        format!(
            r#"{{"TimeGenerated":"2026-03-02T10:00:00Z","Type":"SigninLogs","Id":"{id}","ResultType":"0","UserPrincipalName":"a@x.com",{field}:{value}}}"#
        )
        .into_bytes()
    };
    let long_upn = format!("{}@x.com", "u".repeat(1 << 20));
    let huge_app = "A".repeat(100 << 20);
    let mut bytes = Vec::new();
    let mut push = |record: Vec<u8>| {
        bytes.extend_from_slice(&record);
        bytes.push(b'\n');
    };
    // Stored.
    push(line(
        "nested",
        r#""Extra""#,
        &format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
    ));
    push(line("negative-asn", r#""AutonomousSystemNumber""#, "-5"));
    push(line(
        "long-asn",
        r#""AutonomousSystemNumber""#,
        "1234567890123456789012345678901234567890",
    ));
    push(line("escaped-nul", r#""AppDisplayName""#, r#""a\u0000b""#));
    push(
        String::from_utf8(line("long-upn", r#""Extra2""#, "1"))
            .unwrap()
            .replace("a@x.com", &long_upn)
            .into_bytes(),
    );
    push(line(
        "huge-line",
        r#""AppDisplayName""#,
        &format!("\"{huge_app}\""),
    ));
    // Rejected.
    push(line("raw-nul", r#""AppDisplayName""#, "\"a\u{0}b\""));
    let mut invalid = line("bad-utf8", r#""AppDisplayName""#, "\"ab\"");
    let at = invalid.len() - 3;
    invalid.splice(at..at + 1, [0xff, 0xfe]);
    push(invalid);
    let mut bom = "\u{feff}".as_bytes().to_vec();
    bom.extend(line("bom", r#""AppDisplayName""#, "\"x\""));
    push(bom);
    push(
        String::from_utf8(line("billion-years", r#""AppDisplayName""#, "\"x\""))
            .unwrap()
            .replace("2026-03-02T10:00:00Z", "1000000000-01-01T00:00:00Z")
            .into_bytes(),
    );
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("hostile.jsonl");
    std::fs::write(&input, bytes).unwrap();
    let lake = tempfile::tempdir().unwrap();
    let summary = ingest(lake.path(), std::slice::from_ref(&input));
    assert_accounted(&summary);
    assert_eq!(
        (summary.records, summary.written(), summary.rejected),
        (10, 6, 4)
    );

    assert_rejects(
        &read_rejects(lake.path()),
        &[
            (7, "control character"),
            (8, "not valid UTF-8"),
            (9, "byte-order mark (U+FEFF) in the middle of the file"),
            (10, "unparseable timestamp \"1000000000-01-01T00:00:00Z\""),
        ],
    );

    let rows = crate::util::read_table(lake.path(), retrohunt::schema::Table::Signin);
    let row = |id: &str| crate::util::find(&rows, id).clone();
    assert_eq!(row("negative-asn").asn, "-5");
    assert_eq!(
        row("long-asn").asn,
        "1234567890123456789012345678901234567890"
    );
    assert_eq!(row("escaped-nul").app, "a\u{0}b");
    assert_eq!(row("long-upn").upn, long_upn);
    assert_eq!(row("huge-line").app.len(), 100 << 20);
    assert!(row("nested").additional.contains(&"[".repeat(100_000)));
}

/// Portal CSV with a row short of fields and a quote that never closes: both rejected with
/// what is wrong, the good row kept.
#[test]
fn ragged_csv_rows_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("signins.csv");
    std::fs::write(
        &input,
        "Date (UTC),Request ID,User,Username,IP address,Status\n\
         2026-03-02 10:00:00,r1,a,a@x.com,1.1.1.1,Success\n\
         2026-03-02 10:00:00,r2,a\n\
         2026-03-02 10:00:00,\"r3,a,a@x.com,1.1.1.1,Success\n",
    )
    .unwrap();
    let lake = tempfile::tempdir().unwrap();
    let read = ReadOptions {
        table: Some(retrohunt::schema::Table::Signin),
        ..ReadOptions::default()
    };
    let summary = ingest_with(lake.path(), std::slice::from_ref(&input), read, false).unwrap();
    assert_accounted(&summary);
    assert_eq!(
        (summary.records, summary.written(), summary.rejected),
        (3, 1, 2)
    );
    assert_rejects(
        &read_rejects(lake.path()),
        &[
            (3, "row has 3 fields, the header has 6"),
            (
                4,
                "row has 2 fields, the header has 6 (a quoted field never closes",
            ),
        ],
    );
}

/// Every input the fuzz targets were seeded with or found (`tests/fixtures/fuzz/<target>/`),
/// replayed through the same check: no panic, every record accounted for.
#[test]
fn fuzz_findings_replay() {
    use retrohunt::ingest::{Format, check_decoder};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let mut replayed = 0;
    for (target, format, name) in [
        ("ingest_json", Format::Json, "fuzz.jsonl"),
        ("ingest_csv", Format::Csv, "fuzz.csv"),
        ("ingest_parquet", Format::Parquet, "fuzz.parquet"),
    ] {
        for entry in std::fs::read_dir(root.join(target)).unwrap() {
            let path = entry.unwrap().path();
            check_decoder(format, name, &std::fs::read(&path).unwrap());
            replayed += 1;
        }
    }
    assert!(replayed >= 6);
}

/// A file the Parquet decoder panics on while decoding its pages (found by fuzzing: an
/// assertion in parquet's bit reader, on the thread that decodes ahead of the rows) is that
/// file's one reject, and the ingest goes on to the next file.
#[test]
fn a_decoder_panic_is_the_files_reject() {
    let dir = tempfile::tempdir().unwrap();
    let crash = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz/ingest_parquet/crash-da062f37bd4fe904cb3bd6db8d98bcb473659381");
    let damaged = dir.path().join("SigninLogs-damaged.parquet");
    std::fs::copy(crash, &damaged).unwrap();
    let good = dir.path().join("SigninLogs.jsonl");
    std::fs::write(
        &good,
        concat!(
            r#"{"TimeGenerated":"2026-03-02T10:00:00Z","Type":"SigninLogs","Id":"ok","#,
            r#""UserPrincipalName":"a@x.com"}"#,
            "\n"
        ),
    )
    .unwrap();
    let lake = tempfile::tempdir().unwrap();
    let summary = ingest(lake.path(), &[damaged, good]);
    assert_accounted(&summary);
    assert_eq!((summary.records, summary.written()), (2, 1), "{summary}");
    assert_rejects(
        &read_rejects(lake.path()),
        &[(
            0,
            "the Parquet decoder failed on this file: assertion failed: num_bits",
        )],
    );
}

/// Decompression bombs and oversized records: each is rejected with its line and byte
/// offset, the good records around it are kept, the accounting holds, and the ingest's peak
/// memory stays bounded (the content here decompresses to 256 MiB; a record cap of 1 MiB and
/// a memory limit of 64 MiB hold the process well under that). Lines are read a piece at a
/// time, so 256 MiB of short lines are all read; a JSON document is held whole, so one
/// larger than the file's share of memory is cut there.
#[test]
fn bombs_are_rejected_in_bounded_memory() {
    use std::io::Write;
    let good = |id: &str| {
        format!(
            r#"{{"TimeGenerated":"2026-03-02T10:00:00Z","Type":"SigninLogs","Id":"{id}","ResultType":"0","UserPrincipalName":"a@x.com"}}"#
        )
    };
    let gzip = |content: &dyn Fn(&mut dyn Write)| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        content(&mut encoder);
        encoder.finish().unwrap()
    };
    let zstd = |content: &dyn Fn(&mut dyn Write)| {
        let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
        content(&mut encoder);
        encoder.finish().unwrap()
    };
    let mib = vec![0u8; 1 << 20];
    let (first, last) = (good("first"), good("last"));
    let endless_line = gzip(&|w| {
        writeln!(w, "{first}").unwrap();
        for _ in 0..256 {
            w.write_all(&mib).unwrap();
        }
        writeln!(w).unwrap();
        writeln!(w, "{last}").unwrap();
    });
    let long_lines = zstd(&|w| {
        writeln!(w, "{first}").unwrap();
        for _ in 0..64 {
            w.write_all(&[b'A'; 4 << 20]).unwrap();
            writeln!(w).unwrap();
        }
        writeln!(w, "{last}").unwrap();
    });
    let array = gzip(&|w| {
        w.write_all(b"[").unwrap();
        for i in 0..200_000 {
            write!(w, "{}{},", if i == 0 { "" } else { " " }, good("x")).unwrap();
        }
        w.write_all(b"{}]").unwrap();
    });
    // 256 MiB in 262,144 lines of 1 KiB: a header, the same row 262,142 times, a bad row.
    let many_lines = gzip(&|w| {
        let header = "TimeGenerated,Type,ResultType,UserPrincipalName,Id,Padding";
        let row = "2026-03-02T10:00:00Z,SigninLogs,0,a@x.com,same,";
        writeln!(w, "{header:A<1023}").unwrap();
        for _ in 0..262_142 {
            writeln!(w, "{row:A<1023}").unwrap();
        }
        writeln!(w, "{:A<1023}", row.replace("2026", "year 2026")).unwrap();
    });
    // 200,000 records of ~130 bytes: 26 MB, more than a file's share of 64 MiB (a sixth).
    let pretty_array = gzip(&|w| {
        writeln!(w, "[").unwrap();
        for i in 0..200_000 {
            writeln!(w, "{}{}", if i == 0 { "" } else { "," }, good("x")).unwrap();
        }
        writeln!(w, "]").unwrap();
    });
    // The endless line starts after the first record and its line end.
    let endless = format!("2: record of 268435456 bytes at byte {}", first.len() + 1);
    /// (name, compressed file, records, written, rejected (0: not counted exactly), a
    /// reject's line and reason)
    type Case<'a> = (&'a str, &'a [u8], u64, u64, u64, &'a str);
    let cases: [Case; 5] = [
        ("endless-line.json.gz", &endless_line, 3, 2, 1, &endless),
        (
            "long-lines.json.zst",
            &long_lines,
            66,
            2,
            64,
            "3: record of 4194304 bytes",
        ),
        ("array.json.gz", &array, 1, 0, 1, "1: record of"),
        (
            "many-lines.csv.gz",
            &many_lines,
            262_143,
            1,
            1,
            "262144: column \"TimeGenerated\"",
        ),
        // The document cut short is malformed (one reject), and the cut is another.
        (
            "pretty-array.json.gz",
            &pretty_array,
            2,
            0,
            2,
            "decompresses to more than",
        ),
    ];
    for (name, bytes, records, written, rejected, says) in cases {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join(name);
        std::fs::write(&input, bytes).unwrap();
        let lake = dir.path().join("lake");
        let output = retrohunt()
            .args([
                "ingest",
                "--max-record-size",
                "1MiB",
                "--memory-limit",
                "64MiB",
                "--lake",
            ])
            .arg(&lake)
            .arg(&input)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{name}: {stdout}");
        let peak: u64 = stdout
            .lines()
            .find_map(|line| line.strip_prefix("peak memory: "))
            .and_then(|mib| mib.trim_end_matches(" MiB").parse().ok())
            .unwrap_or_else(|| panic!("{name}: no peak memory in {stdout}"));
        assert!(peak < 200, "{name}: peak memory {peak} MiB");
        let rejects = read_rejects(&lake);
        assert!(
            rejects.iter().any(|r| {
                let reason = r["reason"].as_str().unwrap_or_default();
                format!("{}: {reason}", r["line"]).contains(says)
            }),
            "{name}: {} rejects, the first {:?}",
            rejects.len(),
            rejects.first().map(|r| &r["reason"])
        );
        // records in N = written W + duplicates D + skipped S + rejected R, and N = W+D+S+R.
        let accounting = stdout
            .lines()
            .find(|line| line.starts_with("records in "))
            .unwrap_or_else(|| panic!("{name}: {stdout}"));
        let numbers: Vec<u64> = accounting
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .collect();
        assert_eq!(numbers.len(), 5, "{accounting}");
        assert_eq!(numbers[0], numbers[1..].iter().sum::<u64>(), "{accounting}");
        if records > 0 {
            assert_eq!(
                (numbers[0], numbers[1], numbers[4]),
                (records, written, rejected),
                "{name}: {accounting}"
            );
        }
    }
}
