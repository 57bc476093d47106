//! The lake under SIGKILL and concurrent writers: after any kill it stays readable, rerunning
//! the ingest ends with exactly the rows of a clean run, and two ingests at once serialise.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use retrohunt::schema::Table;

use crate::util::{diagnostic_tenant, lake_content as content, retrohunt};

fn ingest(lake: &Path, input: &Path) -> Child {
    retrohunt()
        .args(["ingest", "--quiet", "--lake"])
        .arg(lake)
        .arg(input)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// `hunt` and `sql` read the lake (or, killed before its first commit, say it holds no data
/// yet), and nothing but `date=*/data.parquet` lies in its tables.
fn assert_readable(lake: &Path) {
    let committed = Table::ALL.iter().any(|table| {
        walkdir::WalkDir::new(lake.join(table.name()))
            .into_iter()
            .filter_map(Result::ok)
            .any(|entry| entry.path().extension().is_some_and(|e| e == "parquet"))
    });
    for args in [
        vec![
            "sql",
            "SELECT count(*) FROM AADNonInteractiveUserSignInLogs",
        ],
        vec!["hunt", "--format", "csv"],
    ] {
        let output = retrohunt()
            .args(&args)
            .arg("--lake")
            .arg(lake)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        if committed {
            assert!(output.status.success(), "{args:?}: {stderr}");
        } else {
            assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(stderr.contains("holds no data files"), "{args:?}: {stderr}");
        }
    }
    for table in Table::ALL {
        let dir = lake.join(table.name());
        let Ok(dates) = std::fs::read_dir(&dir) else {
            continue;
        };
        for date in dates {
            let date = date.unwrap().path();
            assert!(
                date.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("date="),
                "{}",
                date.display()
            );
            for file in std::fs::read_dir(&date).unwrap() {
                let file = file.unwrap().file_name();
                assert_eq!(file, "data.parquet", "in {}", date.display());
            }
        }
    }
}

#[test]
fn sigkill_anywhere_loses_and_duplicates_nothing() {
    let input = diagnostic_tenant(40, 3, 9);
    let clean = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let status = ingest(clean.path(), input.path()).wait().unwrap();
    assert!(status.success());
    let duration = started.elapsed();
    let expected = content(clean.path());
    // The generated tenant has users' sign-ins only.
    assert!(expected[..2].iter().all(|rows| !rows.is_empty()));

    let lake = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut interrupted = 0;
    for _ in 0..10 {
        let mut child = ingest(lake.path(), input.path());
        let wait = rng.random_range(0..duration.as_micros().max(1) as u64);
        std::thread::sleep(Duration::from_micros(wait));
        if child.try_wait().unwrap().is_none() {
            interrupted += 1;
        }
        // Child::kill is SIGKILL: no destructor, no cleanup, as a crash or the OOM killer.
        let _ = child.kill();
        child.wait().unwrap();
        assert_readable(lake.path());
    }
    // The kills must land while the ingest runs, not only after it ended. (Where in the run
    // they land varies with the machine's load: reading, sorting or renaming files in.)
    assert!(
        interrupted > 0,
        "every kill came after the ingest had finished"
    );
    let status = ingest(lake.path(), input.path()).wait().unwrap();
    assert!(status.success());
    assert_readable(lake.path());
    assert!(
        content(lake.path()) == expected,
        "rows differ from a clean ingest"
    );
}

#[test]
fn concurrent_ingests_serialise() {
    let input = diagnostic_tenant(30, 2, 4);
    let clean = tempfile::tempdir().unwrap();
    assert!(ingest(clean.path(), input.path()).wait().unwrap().success());

    let lake = tempfile::tempdir().unwrap();
    let first = ingest(lake.path(), input.path());
    let second = ingest(lake.path(), input.path());
    let (first, second) = (
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    );
    assert!(first.status.success() && second.status.success());
    // One of them found the lake locked and said so; the other ingested everything, so the
    // one that waited found nothing new.
    let waited = [&first, &second]
        .iter()
        .filter(|o| String::from_utf8_lossy(&o.stderr).contains("waiting for another ingest"))
        .count();
    assert!(waited <= 1);
    assert!(content(lake.path()) == content(clean.path()));
}

/// `sql` and `hunt` in a loop while ingests commit into the same lake: every answer is the
/// answer of one commit (never an error, never one table or some dates newer than the rest).
#[test]
fn readers_see_one_commit_while_ingests_run() {
    let input = diagnostic_tenant(40, 2, 13);
    let mut files: Vec<std::path::PathBuf> = walkdir::WalkDir::new(input.path())
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && !e.file_name().to_string_lossy().starts_with('_'))
        .map(walkdir::DirEntry::into_path)
        .collect();
    files.sort();
    let chunks: Vec<Vec<std::path::PathBuf>> = files
        .chunks(files.len().div_ceil(6))
        .map(<[_]>::to_vec)
        .collect();
    let ingest_chunk = |lake: &Path, chunk: &[std::path::PathBuf]| {
        let status = retrohunt()
            .args(["ingest", "--quiet", "--lake"])
            .arg(lake)
            .args(chunk)
            .status()
            .unwrap();
        assert!(status.success());
    };
    // Each reader's answer: both tables' row counts (`sql`), the findings (`hunt`).
    let answer = |lake: &Path| -> Result<[String; 2], String> {
        let counts = retrohunt()
            .args(["sql", "--format", "csv", "--lake"])
            .arg(lake)
            .arg(
                "SELECT (SELECT count(*) FROM SigninLogs) AS s, \
                 (SELECT count(*) FROM AADNonInteractiveUserSignInLogs) AS n",
            )
            .output()
            .unwrap();
        let hunt = retrohunt()
            .args(["hunt", "--format", "csv", "--lake"])
            .arg(lake)
            .output()
            .unwrap();
        let text = |output: &std::process::Output| {
            if output.status.success() {
                Ok(String::from_utf8_lossy(&output.stdout).into_owned())
            } else {
                Err(String::from_utf8_lossy(&output.stderr).into_owned())
            }
        };
        Ok([text(&counts)?, text(&hunt)?])
    };
    // The answer after each commit, one ingest after another.
    let reference = tempfile::tempdir().unwrap();
    let mut snapshots = Vec::new();
    for chunk in &chunks {
        ingest_chunk(reference.path(), chunk);
        snapshots.push(answer(reference.path()).unwrap());
    }
    // The same ingests again, read all along.
    let lake = tempfile::tempdir().unwrap();
    ingest_chunk(lake.path(), &chunks[0]);
    let done = std::sync::atomic::AtomicBool::new(false);
    let seen = std::thread::scope(|scope| {
        scope.spawn(|| {
            for chunk in &chunks[1..] {
                ingest_chunk(lake.path(), chunk);
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let mut seen = Vec::new();
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            let found = answer(lake.path()).unwrap_or_else(|error| panic!("{error}"));
            for (reader, found) in found.iter().enumerate() {
                assert!(
                    snapshots.iter().any(|answers| answers[reader] == *found),
                    "{found} is no commit's answer"
                );
            }
            seen.push(found);
        }
        seen
    });
    assert_eq!(answer(lake.path()).unwrap(), *snapshots.last().unwrap());
    assert!(!seen.is_empty());
}
