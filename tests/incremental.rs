//! Incremental hunts against the whole hunt: a generated archive (duplicates, heavy accounts,
//! injected replays) is ingested in k chunks of its files in shuffled order, so that records
//! land late in past dates, with an incremental run after each chunk, some killed midway. In
//! the end the findings table must hold every pair of the final lake exactly once. A pair
//! beyond those is allowed only where the lake replaced a record by an earlier copy that
//! arrived later (docs/lake.md, "Incremental hunts"): the same two sign-ins, other times.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::util::{diagnostic_tenant, retrohunt};

/// The 14 hunt columns of each row, as CSV lines, counted.
fn rows(csv: &[u8]) -> BTreeMap<Vec<String>, usize> {
    let mut counts = BTreeMap::new();
    let mut reader = csv::Reader::from_reader(csv);
    for record in reader.records() {
        let record: Vec<String> = record.unwrap().iter().map(str::to_owned).collect();
        *counts.entry(record).or_default() += 1;
    }
    counts
}

fn sql_csv(lake: &Path, query: &str) -> Vec<u8> {
    let output = retrohunt()
        .args(["sql", "--format", "csv", "--lake"])
        .arg(lake)
        .arg(query)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn check(seed: u64, chunks: usize) {
    let archive = diagnostic_tenant(40, 3, seed);
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(archive.path())
        .into_iter()
        .filter_map(Result::ok)
        .map(|entry| entry.path().to_owned())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    files.shuffle(&mut rng);
    let lake_dir = tempfile::tempdir().unwrap();
    let lake = lake_dir.path();
    let incremental = || {
        let mut command = retrohunt();
        command
            .args([
                "hunt",
                "--incremental",
                "nightly",
                "--format",
                "csv",
                "--lake",
            ])
            .arg(lake);
        command
    };
    for chunk in files.chunks(files.len().div_ceil(chunks)) {
        let status = retrohunt()
            .args(["ingest", "--quiet", "--lake"])
            .arg(lake)
            .args(chunk)
            .status()
            .unwrap();
        assert!(status.success());
        if rng.random_bool(0.3) {
            let mut child = incremental()
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(rng.random_range(0..400)));
            let _ = child.kill();
            let _ = child.wait();
        }
        let output = incremental().output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let hunted = retrohunt()
        .args(["hunt", "--format", "csv", "--lake"])
        .arg(lake)
        .output()
        .unwrap();
    let whole = rows(&hunted.stdout);
    assert!(!whole.is_empty());
    let columns = retrohunt::hunt::COLUMNS.join(", ");
    let reported = rows(&sql_csv(
        lake,
        &format!("SELECT {columns} FROM RetrohuntFindings WHERE HuntName = 'nightly'"),
    ));
    // Every pair of the final lake, as often as the whole hunt has it.
    for (row, &count) in &whole {
        assert_eq!(reported.get(row), Some(&count), "seed {seed}: {row:?}");
    }
    // Anything more holds a sign-in that the lake now holds at another time: a record
    // replaced by its earlier copy (the same correlation id).
    let times = |table: &str| -> BTreeMap<String, Vec<String>> {
        let mut times: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let csv = sql_csv(
            lake,
            &format!("SELECT CorrelationId, TimeGenerated FROM {table}"),
        );
        for (row, _) in rows(&csv) {
            times
                .entry(row[0].clone())
                .or_default()
                .push(row[1].clone());
        }
        times
    };
    let (interactive, other) = (
        times("SigninLogs"),
        times("AADNonInteractiveUserSignInLogs"),
    );
    let replaced = |times: &BTreeMap<String, Vec<String>>, id: &str, time: &String| {
        times.get(id).is_some_and(|held| !held.contains(time))
    };
    for row in reported.keys().filter(|row| !whole.contains_key(*row)) {
        assert!(
            replaced(&interactive, &row[12], &row[0]) || replaced(&other, &row[13], &row[1]),
            "seed {seed}: reported, not in the lake, and no record of it replaced: {row:?}"
        );
    }
}

#[test]
fn incremental_runs_report_every_pair_once_in_24_chunks() {
    check(5, 24);
}

#[test]
fn incremental_runs_report_every_pair_once_in_7_chunks() {
    check(9, 7);
}
