//! The real binary: exit codes, summary, generate → ingest.

use std::process::Command;

use crate::util::samples;

fn retrohunt() -> Command {
    Command::new(env!("CARGO_BIN_EXE_retrohunt"))
}

#[test]
fn ingest_prints_the_accounting() {
    let lake = tempfile::tempdir().unwrap();
    let output = retrohunt()
        .arg("ingest")
        .arg("--lake")
        .arg(lake.path())
        .args(samples())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("records in 27 = written 26 + duplicates 0 + skipped 1 + rejected 0"),
        "{stdout}"
    );
}

#[test]
fn strict_exits_with_2_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.jsonl");
    std::fs::write(
        &input,
        "{\"time\":\"2026-03-02T10:00:00Z\",\"category\":\"SignInLogs\"}\n{broken\n",
    )
    .unwrap();
    let lake = tempfile::tempdir().unwrap();
    let output = retrohunt()
        .args(["ingest", "--strict", "--lake"])
        .arg(lake.path())
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("bad.jsonl:2: malformed JSON"), "{stderr}");
}

#[test]
fn bad_arguments_exit_with_2() {
    let output = retrohunt()
        .args(["ingest", "--table", "Nope", "--lake", "x", "y"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_generated_archive_ingests_completely() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let status = retrohunt()
        .args([
            "generate", "--users", "30", "--days", "2", "--seed", "7", "--out",
        ])
        .arg(&archive)
        .status()
        .unwrap();
    assert!(status.success());
    let lake = dir.path().join("lake");
    let output = retrohunt()
        .arg("ingest")
        .arg("--lake")
        .arg(&lake)
        .arg(&archive)
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("+ skipped 0 + rejected 0"), "{stdout}");
    assert!(
        !stdout.contains("duplicates 0 +"),
        "the generator re-delivers ~3% of records: {stdout}"
    );
}
