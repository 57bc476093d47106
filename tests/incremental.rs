//! Incremental hunts against the whole hunt: a generated archive (duplicates, heavy accounts,
//! injected replays) is ingested in k chunks of its files in shuffled order, so that records
//! land late in past dates, with an incremental run after each chunk, some killed midway. In
//! the end the findings table, reported rows less retracted ones, must hold every pair of the
//! final lake exactly as often as the whole hunt finds it. (A pair can be reported and later
//! retracted when the lake replaces a record by an earlier copy that arrived later:
//! docs/lake.md, "Incremental hunts".)

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::util::{diagnostic_tenant, retrohunt, sql_csv, succeeded};

/// The 14 hunt columns of each row, as CSV lines, counted.
pub fn rows(csv: &[u8]) -> BTreeMap<Vec<String>, usize> {
    let mut counts = BTreeMap::new();
    let mut reader = csv::Reader::from_reader(csv);
    for record in reader.records() {
        let record: Vec<String> = record.unwrap().iter().map(str::to_owned).collect();
        *counts.entry(record).or_default() += 1;
    }
    counts
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
        succeeded(incremental());
    }
    let hunted = retrohunt()
        .args(["hunt", "--format", "csv", "--lake"])
        .arg(lake)
        .output()
        .unwrap();
    let whole = rows(&hunted.stdout);
    assert!(!whole.is_empty());
    let columns = retrohunt::hunt::COLUMNS.join(", ");
    let recorded = |retracted: bool| {
        rows(&sql_csv(
            lake,
            &format!(
                "SELECT {columns} FROM RetrohuntFindings \
                 WHERE HuntName = 'nightly' AND Retracted = {retracted}"
            ),
        ))
    };
    // What the runs reported, less what they took back: exactly the whole hunt.
    let mut net = recorded(false);
    let retracted = recorded(true);
    // These shuffles deliver some record's later copy first: retraction is exercised.
    assert!(!retracted.is_empty(), "seed {seed}: nothing was retracted");
    for (row, count) in retracted {
        let held = net
            .get_mut(&row)
            .unwrap_or_else(|| panic!("retracted, never reported: {row:?}"));
        *held -= count;
    }
    net.retain(|_, count| *count > 0);
    assert_eq!(net, whole, "seed {seed}");
}

#[test]
fn incremental_runs_report_every_pair_once_in_24_chunks() {
    check(5, 24);
}

#[test]
fn incremental_runs_report_every_pair_once_in_7_chunks() {
    check(9, 7);
}

/// An incremental run's first findings are the whole hunt's, printed in the hunt's order, on a
/// lake of many daily files whose findings span many batches; with --enrich too.
#[test]
fn a_first_incremental_run_prints_the_hunt_in_its_order() {
    let lake = tempfile::tempdir().unwrap();
    let lake_arg = lake.path().to_str().unwrap();
    succeeded(retrohunt().args([
        "generate", "--format", "lake", "--users", "400", "--days", "10", "--seed", "5", "--out",
        lake_arg,
    ]));
    for extra in [&[][..], &["--enrich"][..]] {
        let hunt = |more: &[&str]| {
            let args = ["hunt", "--lake", lake_arg, "--format", "csv"];
            succeeded(retrohunt().args(args).args(extra).args(more)).stdout
        };
        let whole = hunt(&[]);
        let name = format!("nightly{}", extra.len());
        let first = hunt(&["--incremental", &name]);
        assert!(
            whole.iter().filter(|&&b| b == b'\n').count() > 10_000,
            "{extra:?}"
        );
        assert!(
            first == whole,
            "{extra:?}: the first run's rows or order differ"
        );
    }
}
