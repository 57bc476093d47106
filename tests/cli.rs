//! The real binary: exit codes, summary, generate → ingest.

use std::path::{Path, PathBuf};

use crate::util::{retrohunt, samples, sql_csv, succeeded, usage_error};

/// `generate --format lake` of `users` over two days into `dir/lake`.
fn generated_lake(dir: &Path, users: &str, seed: &str) -> PathBuf {
    let lake = dir.join("lake");
    let status = retrohunt()
        .args(["generate", "--format", "lake", "--days", "2"])
        .args(["--users", users, "--seed", seed, "--out"])
        .arg(&lake)
        .status()
        .unwrap();
    assert!(status.success());
    lake
}

/// `hunt --format csv` over `lake` with `args`.
fn hunt_csv(lake: &Path, args: &[&str]) -> std::process::Output {
    retrohunt()
        .args(["hunt", "--format", "csv", "--lake"])
        .arg(lake)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn ingest_prints_the_accounting() {
    let lake = tempfile::tempdir().unwrap();
    let output = succeeded(
        retrohunt()
            .arg("ingest")
            .arg("--lake")
            .arg(lake.path())
            .args(samples()),
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("records in 27 = written 27 + duplicates 0 + skipped 0 + rejected 0"),
        "{stdout}"
    );
}

/// `ingest` of one file, `name`, holding `text`, into a new lake, with `flags`.
fn ingest_text(name: &str, text: &str, flags: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join(name);
    std::fs::write(&input, text).unwrap();
    let lake = dir.path().join("lake");
    retrohunt()
        .arg("ingest")
        .args(flags)
        .arg("--lake")
        .arg(&lake)
        .arg(&input)
        .output()
        .unwrap()
}

#[test]
fn strict_exits_with_2_naming_file_and_line() {
    let output = ingest_text(
        "bad.jsonl",
        "{\"time\":\"2026-03-02T10:00:00Z\",\"category\":\"SignInLogs\"}\n{broken\n",
        &["--strict"],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("bad.jsonl:2: malformed JSON"), "{stderr}");
}

#[test]
fn bad_arguments_exit_with_2() {
    let stderr = usage_error(&["ingest", "--table", "Nope", "--lake", "x", "y"]);
    assert!(stderr.contains("unknown table \"Nope\""), "{stderr}");
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

/// A generated tenant's lake, hunted by both engines: the same bytes out; `--explain` names
/// each engine's join; a memory limit too small for the stock hash join is a clear error
/// (exit 1), not a crash; a size that is not one is a usage error (exit 2).
#[test]
fn hunt_engines_agree_and_respect_the_memory_limit() {
    let dir = tempfile::tempdir().unwrap();
    let lake = generated_lake(dir.path(), "60", "3");
    let hunt = |args: &[&str]| hunt_csv(&lake, args);
    let operator = hunt(&["--engine", "operator"]);
    let sql = hunt(&["--engine", "sql"]);
    assert!(
        operator.status.success(),
        "{}",
        String::from_utf8_lossy(&operator.stderr)
    );
    assert!(sql.status.success());
    assert!(operator.stdout.len() > 1_000, "the tenant has findings");
    assert_eq!(operator.stdout, sql.stdout);

    let plan = |engine| String::from_utf8(hunt(&["--explain", "--engine", engine]).stdout).unwrap();
    // The lake's files are already in (key, time) order: nothing is sorted below the join.
    let operator_plan = plan("operator");
    let below_join = operator_plan
        .split("WindowJoinExec")
        .nth(1)
        .unwrap_or_default();
    assert!(
        !below_join.is_empty() && !below_join.contains("SortExec"),
        "{operator_plan}"
    );
    // With a date file per core or more (3 days; DataFusion runs a partition per core), the
    // join reads the files time-aligned: no repartition either.
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if cores <= 3 {
        assert!(
            operator_plan.contains("layout=time-aligned") && !below_join.contains("Repartition"),
            "{operator_plan}"
        );
    } else {
        assert!(
            operator_plan.contains("layout=key-partitioned"),
            "{operator_plan}"
        );
    }
    assert!(plan("sql").contains("HashJoinExec") && !plan("sql").contains("WindowJoinExec"));
    // The hunt's ORDER BY leads with InteractiveTime: the operator engine sorts it with the
    // prefix sort; stock SQL keeps DataFusion's (and the rows above are the same).
    assert!(
        operator_plan.contains("PrefixSortExec: expr=[InteractiveTime@0 DESC"),
        "{operator_plan}"
    );
    assert!(
        plan("sql").contains("SortPreservingMergeExec") && !plan("sql").contains("PrefixSortExec")
    );

    let starved = hunt(&["--engine", "sql", "--memory-limit", "16KiB"]);
    assert_eq!(starved.status.code(), Some(1));
    let stderr = String::from_utf8(starved.stderr).unwrap();
    assert!(
        stderr.contains("out of memory under --memory-limit"),
        "{stderr}"
    );
    assert_eq!(hunt(&["--memory-limit", "lots"]).status.code(), Some(2));

    // The lake as a file:// URL reads the same; a store this build cannot reach is a usage
    // error.
    let url = format!("file://{}", lake.display());
    let by_url = retrohunt()
        .args(["hunt", "--format", "csv", "--lake", &url])
        .output()
        .unwrap();
    assert_eq!(by_url.stdout, operator.stdout);
    let gcs = usage_error(&["hunt", "--lake", "gs://bucket/lake"]);
    assert!(
        gcs.contains(
            "gs://bucket/lake: unsupported URL: GoogleCloudStorage stores are not supported"
        ),
        "{gcs}"
    );
}

/// `retrohunt hunt | head` is normal use: a reader that stops early is not a failure.
#[test]
fn a_closed_pipe_is_not_a_failure() {
    use std::io::Read;
    use std::process::Stdio;

    let mut child = retrohunt()
        .args(["hunt", "--format", "csv"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap();
    // The pipe is closed here, long before the sample's 1,342 rows are written.
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(head.starts_with(b"InteractiveTime,NonInteractiveTime,"));
}

/// Attacker-chosen text (here app names) cannot run as a spreadsheet formula or drive the
/// terminal, unless `--raw` asks for the bytes as stored.
#[test]
fn hostile_text_is_defanged_in_csv_and_tables() {
    use crate::util::{SignIn, write_lake};
    const BASE: i64 = 1_772_445_600 * 1_000_000_000;
    let sign_in = |time, ip, asn, app| SignIn {
        app,
        ..SignIn::success(time, "a@x.com", ip, asn)
    };
    let lake = tempfile::tempdir().unwrap();
    write_lake(
        lake.path(),
        &[sign_in(
            BASE,
            "1.1.1.1",
            "1",
            "=HYPERLINK(\"http://evil\",\"x\")",
        )],
        &[sign_in(
            BASE + 1_000_000_000,
            "2.2.2.2",
            "2",
            "\u{1b}[2J\u{1b}[31mred\u{202e}",
        )],
    );
    let hunt = |args: &[&str]| {
        let output = retrohunt()
            .args(["hunt", "--lake"])
            .arg(lake.path())
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap()
    };
    let csv = hunt(&["--format", "csv"]);
    assert!(
        csv.contains(",\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\","),
        "{csv}"
    );
    let raw = hunt(&["--format", "csv", "--raw"]);
    assert!(
        raw.contains(",\"=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\","),
        "{raw}"
    );
    let table = hunt(&[]);
    assert!(
        !table.contains('\u{1b}') && !table.contains('\u{202e}'),
        "{table}"
    );
    assert!(
        table.contains("\\u{1b}[2J\\u{1b}[31mred\\u{202e}"),
        "{table}"
    );
    let raw_table = hunt(&["--raw"]);
    assert!(raw_table.contains("\u{1b}[2J\u{1b}[31mred\u{202e}"));
    // Times and numbers are never rewritten.
    assert!(
        csv.contains("2026-03-02T10:00:00Z,2026-03-02T10:00:01Z,1,a@x.com"),
        "{csv}"
    );
}

/// One account with 400,000 interactive and 400,000 non-interactive sign-ins over two days (a
/// service account's volume: about 115 MB once read, at the 145 bytes a row the operator
/// reports holding) under a memory pool of `LIMIT`: the operator completes, holding the
/// batches its windows and merges reach into (a few of 8,192 rows each); stock SQL
/// cannot fit the account into its hash table and stops with the resources error that names
/// the limit and the way out (exit 1, no OOM kill).
#[test]
fn a_heavy_account_fits_the_operator_not_stock_sql() {
    use crate::util::{SignIn, write_lake};
    const BASE: i64 = 1_772_409_600 * 1_000_000_000; // 2026-03-02T00:00:00Z
    const LIMIT: &str = "12MiB";
    let sign_in = |at: i64, ip, asn, id: String| SignIn {
        time: BASE + at,
        created: None,
        upn: "svc@x.com",
        result: "0",
        ip,
        asn,
        app: "Pipeline",
        correlation: id,
        ..SignIn::default()
    };
    let step = 400_000_000; // 0.4 s
    let interactive: Vec<SignIn> = (0..400_000)
        .map(|i| sign_in(i * step, "1.1.1.1", "1", format!("i{i}")))
        .collect();
    // Half a step after each interactive one; every thousandth from elsewhere.
    let non_interactive: Vec<SignIn> = (0..400_000)
        .map(|j| {
            let (ip, asn) = if j % 1000 == 0 {
                ("2.2.2.2", "2")
            } else {
                ("1.1.1.1", "1")
            };
            sign_in(j * step + step / 2, ip, asn, format!("n{j}"))
        })
        .collect();
    let lake = tempfile::tempdir().unwrap();
    write_lake(lake.path(), &interactive, &non_interactive);
    let hunt = |engine: &str| {
        retrohunt()
            .args(["hunt", "--format", "csv", "--window", "10s"])
            .args(["--memory-limit", LIMIT, "--engine", engine])
            .arg("--lake")
            .arg(lake.path())
            .output()
            .unwrap()
    };
    let operator = hunt("operator");
    assert!(
        operator.status.success(),
        "{}",
        String::from_utf8_lossy(&operator.stderr)
    );
    // The odd sign-in j (j = 0, 1000, ..., 399000) at T = 0.4 s x j + 0.2 s meets the
    // interactive ones at 0.4 s x i in [T - 10 s, T]: i from j - 24 to j, 25 of them; at j = 0
    // only i = 0.
    let rows = String::from_utf8(operator.stdout).unwrap().lines().count() - 1;
    assert_eq!(rows, 1 + 399 * 25);
    let sql = hunt("sql");
    assert_eq!(sql.status.code(), Some(1));
    let stderr = String::from_utf8(sql.stderr).unwrap();
    assert!(
        stderr.contains("out of memory under --memory-limit") && stderr.contains("raise it"),
        "{stderr}"
    );
}

/// A damaged file (bytes flipped inside its data, or cut short) stops the hunt with an error
/// naming it; `--skip-bad-files` hunts the rest: exactly the clean lake's findings minus those
/// that needed the damaged file.
#[test]
fn damaged_files_are_named_and_can_be_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let lake = generated_lake(dir.path(), "40", "8");
    let hunt = |args: &[&str]| hunt_csv(&lake, args);
    let clean = String::from_utf8(hunt(&[]).stdout).unwrap();

    let damaged = lake.join("AADNonInteractiveUserSignInLogs/date=2026-03-03/data.parquet");
    let mut bytes = std::fs::read(&damaged).unwrap();
    for i in (1_000..bytes.len() / 2).step_by(7) {
        bytes[i] ^= 0x5a;
    }
    std::fs::write(&damaged, bytes).unwrap();
    let failed = hunt(&[]);
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8(failed.stderr).unwrap();
    assert!(
        stderr.contains("damaged files") && stderr.contains("date=2026-03-03/data.parquet"),
        "{stderr}"
    );

    let skipped = hunt(&["--skip-bad-files"]);
    assert!(skipped.status.success());
    let stderr = String::from_utf8(skipped.stderr).unwrap();
    assert!(stderr.contains("skipping damaged file"), "{stderr}");
    assert!(stderr.contains("date=2026-03-03/data.parquet"), "{stderr}");
    // Without the non-interactive sign-ins of 2026-03-03, the findings whose
    // NonInteractiveTime (the second column) falls on that day are gone, and only they.
    let expected: Vec<&str> = clean
        .lines()
        .filter(|line| !line.split(',').nth(1).unwrap().starts_with("2026-03-03"))
        .collect();
    let found = String::from_utf8(skipped.stdout).unwrap();
    assert!(expected.len() > 1 && expected.len() < clean.lines().count());
    assert_eq!(found.lines().collect::<Vec<_>>(), expected);

    // A file cut short fails when the lake is opened, named too.
    let cut = lake.join("SigninLogs/date=2026-03-02/data.parquet");
    let length = std::fs::metadata(&cut).unwrap().len();
    std::fs::File::options()
        .write(true)
        .open(&cut)
        .unwrap()
        .set_len(length / 2)
        .unwrap();
    let failed = hunt(&[]);
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8(failed.stderr).unwrap();
    assert!(
        stderr.contains("SigninLogs/date=2026-03-02/data.parquet"),
        "{stderr}"
    );
    assert!(hunt(&["--skip-bad-files"]).status.success());
}

/// Rows are written as the query makes them, yet a query that fails after some of them
/// were written leaves no file: the file it was to replace stays as it was, and nothing
/// half-written is left beside it.
#[test]
fn a_query_failing_midway_leaves_the_output_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let status = retrohunt()
        .args([
            "generate", "--format", "lake", "--days", "6", "--users", "200",
        ])
        .args(["--seed", "8", "--out"])
        .arg(&lake)
        .status()
        .unwrap();
    assert!(status.success());
    let table = lake.join("AADNonInteractiveUserSignInLogs");
    let mut dates: Vec<_> = std::fs::read_dir(&table)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("date="))
        .collect();
    dates.sort();
    assert!(dates.len() >= 6, "{dates:?}");
    // The last full day (the last date holds the few sign-ins received after midnight). Its
    // data pages, not its footer: the lake opens, and the scan fails once it reaches them,
    // after (as traced by hand) a row group of the other days went to the file.
    let last = &dates[dates.len() - 2];
    let damaged = table.join(last).join("data.parquet");
    let mut bytes = std::fs::read(&damaged).unwrap();
    for i in (1_000..bytes.len() / 2).step_by(7) {
        bytes[i] ^= 0x5a;
    }
    std::fs::write(&damaged, bytes).unwrap();

    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let file = out.join("rows.parquet");
    std::fs::write(&file, "the last run's rows\n").unwrap();
    let query = "AADNonInteractiveUserSignInLogs | project TimeGenerated, UserPrincipalName, AppDisplayName";
    let failed = retrohunt()
        .args(["kql", "--all", "--format", "parquet", "--lake"])
        .arg(&lake)
        .arg("--output")
        .arg(&file)
        .arg(query)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(last.as_str()), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "the last run's rows\n"
    );
    let names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names, ["rows.parquet"]);
}

/// A lake whose folder's name holds characters special in URLs or globs (`?`, `#`, `%`, `[`,
/// `*`, a space) is hunted as it is: the same rows as the same files under a plain name,
/// never an empty answer (DataFusion would read `a?b` as a path ending at a query).
#[test]
fn a_lake_named_with_url_and_glob_characters_is_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let plain = generated_lake(dir.path(), "60", "3");
    let expected = hunt_csv(&plain, &[]);
    assert!(expected.status.success());
    let rows = expected.stdout.split(|&b| b == b'\n').count();
    assert!(rows > 3, "the plain lake has findings: {rows} lines");
    for name in [
        "lake?sig=x",
        "lake#1",
        "lake%41",
        "lake[1]",
        "lake*",
        "my lake",
    ] {
        let odd = dir.path().join(name);
        let copied = std::process::Command::new("cp")
            .arg("-r")
            .arg(&plain)
            .arg(&odd)
            .status()
            .unwrap();
        assert!(copied.success());
        let output = hunt_csv(&odd, &[]);
        assert!(output.status.success(), "{name}");
        assert_eq!(output.stdout, expected.stdout, "{name}");
    }
}

/// A `--lake` that is not a lake is an error naming the path and what is there instead, never
/// an empty answer; `sql` too.
#[test]
fn a_folder_that_is_not_a_lake_is_an_error_not_an_empty_hunt() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let file = dir.path().join("lake.txt");
    std::fs::write(&file, "not a lake").unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample");
    let missing = dir.path().join("nonexistent");
    for (lake, says) in [
        (&missing, "no such folder"),
        (&empty, "is not a lake"),
        (&file, "it is a file"),
        (&sample, "retrohunt ingest --lake LAKE"),
    ] {
        for command in [&["hunt"][..], &["sql", "SELECT count(*) FROM SigninLogs"]] {
            let output = retrohunt()
                .arg(command[0])
                .arg("--lake")
                .arg(lake)
                .args(&command[1..])
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(
                output.status.code(),
                Some(2),
                "{command:?} {lake:?}: {stderr}"
            );
            assert!(
                stderr.contains(&lake.display().to_string()) && stderr.contains(says),
                "{command:?} {lake:?}: {stderr}"
            );
            assert!(output.stdout.is_empty(), "{command:?} {lake:?}");
        }
    }
}

/// An ingest into a file names the path and the cause once.
#[test]
fn an_error_names_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lake.txt");
    std::fs::write(&file, "not a lake").unwrap();
    let output = retrohunt()
        .arg("ingest")
        .arg("--lake")
        .arg(&file)
        .args(samples())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("os error").count(), 1, "{stderr}");
    assert!(stderr.contains(&file.display().to_string()), "{stderr}");
}

/// An empty hunt says why when the question, not the data, is the cause.
#[test]
fn an_empty_hunt_says_why() {
    let dir = tempfile::tempdir().unwrap();
    // Generated from 2026-03-02, two days.
    let lake = generated_lake(dir.path(), "20", "5");
    let outside = hunt_csv(
        &lake,
        &[
            "--start",
            "2025-01-01T00:00:00Z",
            "--end",
            "2025-01-31T00:00:00Z",
        ],
    );
    assert!(outside.status.success());
    let stderr = String::from_utf8_lossy(&outside.stderr);
    assert!(
        stderr.contains("0 rows")
            && stderr.contains("does not overlap the lake's dates (2026-03-02 to 2026-03-03)"),
        "{stderr}"
    );
    // A lake whose rows carry no CreatedDateTime: hunting on it is said to find nothing.
    let bare = dir.path().join("bare");
    for table in ["SigninLogs", "AADNonInteractiveUserSignInLogs"] {
        let folder = bare.join(table).join("date=2026-03-02");
        std::fs::create_dir_all(&folder).unwrap();
        let file = std::fs::File::create(folder.join("export.parquet")).unwrap();
        let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new(
                "TimeGenerated",
                arrow::datatypes::DataType::Timestamp(
                    arrow::datatypes::TimeUnit::Microsecond,
                    Some("UTC".into()),
                ),
                false,
            ),
            arrow::datatypes::Field::new(
                "UserPrincipalName",
                arrow::datatypes::DataType::Utf8,
                false,
            ),
        ]));
        let batch = arrow::array::RecordBatch::try_new(
            schema.clone(),
            vec![
                std::sync::Arc::new(
                    arrow::array::TimestampMicrosecondArray::from(vec![1_772_445_600_000_000])
                        .with_timezone("UTC"),
                ),
                std::sync::Arc::new(arrow::array::StringArray::from(vec!["a@b.c"])),
            ],
        )
        .unwrap();
        let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }
    let created = hunt_csv(&bare, &["--time-column", "CreatedDateTime"]);
    assert!(created.status.success());
    let stderr = String::from_utf8_lossy(&created.stderr);
    assert!(
        stderr.contains("CreatedDateTime is empty in all 1 rows of SigninLogs"),
        "{stderr}"
    );
}

/// Log data echoed in the ingest summary cannot drive the terminal.
#[test]
fn the_ingest_summary_escapes_what_the_logs_say() {
    let output = ingest_text(
        "odd.jsonl",
        "{\"time\":\"2026-03-02T10:00:00Z\",\"category\":\"evil\\u001b[31mRED\\u001b[0m\\u202e\"}\n",
        &[],
    );
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("skipped (category evil\\u{1b}[31mRED\\u{1b}[0m\\u{202e}): 1"),
        "{stdout}"
    );
    assert!(!stdout.contains('\u{1b}') && !stdout.contains('\u{202e}'));
}

/// Without `--lake` the sample is ingested into the user's cache folder, never into the
/// source tree; with no cache folder to use, the error says to pass `--lake`.
#[test]
fn the_sample_lake_goes_to_the_cache_folder() {
    let cache = tempfile::tempdir().unwrap();
    let output = retrohunt()
        .args(["hunt", "--format", "csv"])
        .env("XDG_CACHE_HOME", cache.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let lake = cache.path().join("retrohunt/sample-lake");
    assert!(
        stderr.contains(&format!("into {}", lake.display())),
        "{stderr}"
    );
    assert!(lake.join("SigninLogs").is_dir());
    // The sample's 1,342 findings, one CSV line each after the header.
    assert_eq!(output.stdout.split(|&b| b == b'\n').count() - 2, 1342);

    let output = retrohunt()
        .arg("hunt")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("HOME")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("pass --lake LAKE"));
}

/// `--limit` writes the first rows and says how many there were; piped output gets every
/// row unless asked.
#[test]
fn limit_writes_the_first_rows_and_counts_the_rest() {
    let output = retrohunt()
        .args(["hunt", "--format", "csv", "--limit", "5"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let full = retrohunt()
        .args(["hunt", "--format", "csv"])
        .output()
        .unwrap();
    let lines = |bytes: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let (limited, full) = (lines(&output.stdout), lines(&full.stdout));
    assert_eq!(full.len(), 1 + 1342);
    assert_eq!(limited, full[..1 + 5]);
    assert!(
        stderr.contains("1342 rows in") && stderr.contains("showed the first 5 of 1342 rows"),
        "{stderr}"
    );
    // A table through a pipe is every row: a border, the header, a border, the rows, a border.
    let table = retrohunt().arg("hunt").output().unwrap();
    assert_eq!(lines(&table.stdout).len(), 1342 + 4);
}

/// `--output` appears whole or not at all, readable as a file `File::create` would make.
#[test]
fn output_files_appear_whole() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("findings.csv");
    let status = retrohunt()
        .args(["hunt", "--format", "csv", "--output"])
        .arg(&file)
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count(), 1 + 1342);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o044, 0o044, "{mode:o}");
    }
    // A path that is a folder cannot be replaced: an error naming it, and nothing left over.
    let output = retrohunt()
        .args(["hunt", "--format", "csv", "--output"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains(&dir.path().display().to_string()));
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names, ["findings.csv"]);
}

/// `--enrich` and `--summary` run their queries in the hunt's memory pool: a limit too small
/// for them stops each with the resources error, and an ample one gives the full answer.
#[test]
fn enrich_and_summary_keep_to_the_memory_limit() {
    for triage in ["--enrich", "--summary"] {
        let run = |limit: &str| {
            retrohunt()
                .args(["hunt", "--format", "csv", triage, "--memory-limit", limit])
                .output()
                .unwrap()
        };
        let starved = run("64KiB");
        let stderr = String::from_utf8_lossy(&starved.stderr);
        assert_eq!(starved.status.code(), Some(1), "{triage}: {stderr}");
        assert!(
            stderr.contains("out of memory under --memory-limit"),
            "{triage}: {stderr}"
        );
        let fed = run("512MiB");
        let stderr = String::from_utf8_lossy(&fed.stderr);
        assert!(fed.status.success(), "{triage}: {stderr}");
        // The sample's 1,342 findings, or one row per user they belong to.
        let rows = if triage == "--enrich" {
            1342
        } else {
            hunted_users()
        };
        assert_eq!(
            fed.stdout.split(|&b| b == b'\n').count() - 2,
            rows,
            "{triage}"
        );
    }
}

/// How many users the sample's findings belong to, from the plain hunt's CSV.
fn hunted_users() -> usize {
    let output = retrohunt()
        .args(["hunt", "--format", "csv"])
        .output()
        .unwrap();
    let mut reader = csv::Reader::from_reader(&output.stdout[..]);
    let users: std::collections::BTreeSet<String> = reader
        .records()
        .map(|record| record.unwrap()[3].to_owned())
        .collect();
    assert!(users.len() > 20, "{users:?}");
    users.len()
}

/// Scheduled runs: relative ranges, exit status 3 on findings when asked, and a JSON line
/// that says what was hunted.
#[test]
fn scheduled_runs_get_relative_ranges_an_exit_status_and_a_json_line() {
    // The sample is one day, 2026-03-02: "the last 24 hours" from now finds none of it, which
    // the run reports with status 0, or 0 still under --fail-on-findings.
    let recent = retrohunt()
        .args([
            "hunt",
            "--format",
            "csv",
            "--last",
            "24h",
            "--fail-on-findings",
        ])
        .args(["--summary-json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&recent.stderr);
    assert_eq!(recent.status.code(), Some(0), "{stderr}");
    let line = stderr
        .lines()
        .find(|line| line.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line in {stderr}"));
    let summary: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(summary["findings"], 0);
    assert_eq!(summary["engine"], "operator");
    assert_eq!(summary["window_seconds"], 600.0);
    let start = chrono::DateTime::parse_from_rfc3339(summary["start"].as_str().unwrap()).unwrap();
    let end = chrono::DateTime::parse_from_rfc3339(summary["end"].as_str().unwrap()).unwrap();
    assert_eq!(end - start, chrono::TimeDelta::hours(24));
    assert!((chrono::Utc::now() - end.to_utc()).num_seconds().abs() < 600);

    // A range written relative to a day that holds the sample: the whole day's findings, and
    // status 3 because there are some.
    let today = chrono::Utc::now().date_naive();
    let back = (today - chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()).num_days();
    let output = retrohunt()
        .args(["hunt", "--format", "csv", "--fail-on-findings"])
        .args(["--start", &format!("today-{back}d")])
        .args(["--end", &format!("today-{}d", back - 1)])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(output.stdout.split(|&b| b == b'\n').count() - 2, 1342);

    // Nonsense is a usage error that shows what is accepted.
    let bad = usage_error(&["hunt", "--start", "last tuesday"]);
    assert!(bad.contains("now-24h"), "{bad}");
}

/// `--format sentinel` against a file written by hand from Sentinel's bookmark shape: the
/// account and both IPs as entities (an empty IP or suffix maps nothing), the tactics and
/// techniques, the finding as evidence.
#[test]
fn sentinel_format_matches_the_hand_written_findings() {
    use crate::util::{SignIn, fixture, write_lake};
    const BASE: i64 = 1_772_445_600 * 1_000_000_000; // 2026-03-02T10:00:00Z
    const SECOND: i64 = 1_000_000_000;
    let sign_in = |time, upn, ip, asn, app, correlation: &str| SignIn {
        app,
        correlation: correlation.to_owned(),
        ..SignIn::success(time, upn, ip, asn)
    };
    let lake = tempfile::tempdir().unwrap();
    write_lake(
        lake.path(),
        &[
            sign_in(
                BASE,
                "Ann.Lee@Contoso.com",
                "1.1.1.1",
                "100",
                "Outlook",
                "c-1",
            ),
            sign_in(
                BASE + 3600 * SECOND,
                "svc",
                "",
                "100",
                "Azure Portal",
                "c-3",
            ),
        ],
        &[
            sign_in(
                BASE + 125 * SECOND + SECOND / 2,
                "ann.lee@contoso.com",
                "2.2.2.2",
                "200",
                "Microsoft Teams",
                "c-2",
            ),
            sign_in(
                BASE + 3660 * SECOND,
                "SVC",
                "3.3.3.3",
                "300",
                "Azure CLI",
                "c-4",
            ),
        ],
    );
    let output = succeeded(
        retrohunt()
            .args(["hunt", "--format", "sentinel", "--lake"])
            .arg(lake.path()),
    );
    let found: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("sentinel/findings.json")).unwrap())
            .unwrap();
    assert_eq!(serde_json::Value::Array(found), expected);

    // Rows that are not the hunt's cannot be handed to Sentinel.
    let output = retrohunt()
        .args(["sql", "--format", "sentinel", "--lake"])
        .arg(lake.path())
        .arg("SELECT count(*) FROM SigninLogs")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("lack InteractiveTime"));
}

/// `triage suggest` then `triage measure` on the sample: rules come out with their evidence,
/// and the two injected attacks the hunt finds are both kept. Rules that read history need
/// `--enrich`.
#[test]
fn suggested_rules_keep_the_samples_attacks() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    let suggested = retrohunt()
        .args(["triage", "suggest", "--out"])
        .arg(&rules)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&suggested.stderr);
    assert!(suggested.status.success(), "{stderr}");
    assert!(stderr.contains("of 1342 findings"), "{stderr}");
    let text = std::fs::read_to_string(&rules).unwrap();
    assert!(text.contains("# evidence: AS8075:"), "{text}");

    let truth = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample/_ground_truth.jsonl");
    let measured = retrohunt()
        .args(["triage", "measure", "--rules"])
        .arg(&rules)
        .arg("--truth")
        .arg(&truth)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&measured.stdout);
    assert!(measured.status.success(), "{stdout}");
    assert!(
        stdout.contains("attacks: 2 injected, 2 found by the hunt, 2 kept by the rules"),
        "{stdout}"
    );

    let without = usage_error(&["hunt", "--exclusions", rules.to_str().unwrap()]);
    assert!(without.contains("add --enrich or --summary"), "{without}");
    // With the summary, the rules' counts on standard error, the users left on standard out.
    let summary = retrohunt()
        .args(["hunt", "--summary", "--format", "csv", "--exclusions"])
        .arg(&rules)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&summary.stderr);
    assert!(summary.status.success(), "{stderr}");
    assert!(stderr.contains("tenant-networks"), "{stderr}");
    let users = String::from_utf8_lossy(&summary.stdout);
    for victim in ["elena.garcia184@contoso.com", "brian.tanaka61@contoso.com"] {
        assert!(users.contains(victim), "{users}");
    }
}

/// `--append-findings` keeps each run in the lake's `RetrohuntFindings` table, which `sql`
/// reads: one file a run, `TimeGenerated` the interactive time, the run's name and id, and
/// the triage columns where the run had them (null for runs without).
#[test]
fn appended_findings_become_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let lake = generated_lake(dir.path(), "40", "4");
    let plain = hunt_csv(&lake, &[]);
    let findings = plain.stdout.split(|&b| b == b'\n').count() - 2;
    assert!(findings > 0);
    for args in [
        &["--append-findings"][..],
        &["--append-findings", "--enrich", "--hunt-name", "enriched"],
    ] {
        let run = hunt_csv(&lake, args);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{stderr}");
        assert!(
            stderr.contains(&format!("appended {findings} findings to")),
            "{stderr}"
        );
    }
    let files: Vec<_> = walkdir::WalkDir::new(lake.join("RetrohuntFindings"))
        .into_iter()
        .map(|entry| entry.unwrap().path().to_owned())
        .filter(|path| path.is_file())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(
        files
            .iter()
            .all(|f| f.extension().is_some_and(|e| e == "parquet"))
    );

    let table = sql_csv(
        &lake,
        "SELECT HuntName, count(*) AS n, count(Score) AS scored, \
         sum(CASE WHEN TimeGenerated = InteractiveTime THEN 1 ELSE 0 END) AS same_time, \
         count(DISTINCT RunId) AS runs \
         FROM RetrohuntFindings GROUP BY HuntName ORDER BY HuntName",
    );
    let n = findings;
    assert_eq!(
        String::from_utf8(table).unwrap(),
        format!(
            "HuntName,n,scored,same_time,runs\n\
             enriched,{n},{n},{n},1\n\
             short-window-sign-in-mismatch,{n},0,{n},1\n"
        )
    );
}

/// `--incremental NAME` reports each pair once, in the first run after both of its sign-ins
/// are in the lake, whatever date a late record lands in; a run that recorded its findings
/// but was killed before recording itself reports nothing twice. Both engines, each under a
/// name of its own, report the same pairs.
#[test]
fn incremental_hunts_report_each_pair_once() {
    use crate::util::{SignIn, add_to_lake};
    const BASE: i64 = 1_772_445_600 * 1_000_000_000; // 2026-03-02T10:00:00Z
    const MINUTE: i64 = 60 * 1_000_000_000;
    const DAY: i64 = 1440 * MINUTE;
    let sign_in = |time, upn, ip, asn, id: &str| SignIn {
        correlation: id.to_owned(),
        ..SignIn::success(time, upn, ip, asn)
    };
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let run = |engine: &str| -> (Vec<String>, String) {
        let output = retrohunt()
            .args([
                "hunt",
                "--format",
                "csv",
                "--engine",
                engine,
                "--incremental",
                engine,
            ])
            .arg("--lake")
            .arg(&lake)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{stderr}");
        let mut reader = csv::Reader::from_reader(&output.stdout[..]);
        let pairs = reader
            .records()
            .map(|r| {
                let r = r.unwrap();
                format!("{}/{}", &r[12], &r[13])
            })
            .collect();
        (pairs, stderr)
    };
    let both = |expected: &[&str]| {
        for engine in ["operator", "sql"] {
            let (pairs, stderr) = run(engine);
            assert_eq!(pairs, expected, "{engine}: {stderr}");
        }
    };

    // u1's pair on day one; u2's interactive sign-in, its partner not yet delivered.
    add_to_lake(
        &lake,
        &[
            sign_in(BASE, "u1@x.com", "1.1.1.1", "1", "i1"),
            sign_in(BASE + 120 * MINUTE, "u2@x.com", "1.1.1.2", "1", "i2"),
            // 23:58 on day one; its partner comes last, after midnight.
            sign_in(BASE + 838 * MINUTE, "u5@x.com", "1.1.1.5", "1", "i5"),
        ],
        &[sign_in(BASE + 2 * MINUTE, "u1@x.com", "2.2.2.1", "2", "n1")],
        "a",
    );
    both(&["i1/n1"]);
    // Two days later: u2's partner arrives late, into day one, and u3 pairs on day three.
    add_to_lake(
        &lake,
        &[sign_in(BASE + 2 * DAY, "u3@x.com", "1.1.1.3", "1", "i3")],
        &[
            sign_in(BASE + 125 * MINUTE, "u2@x.com", "3.3.3.2", "3", "n2"),
            sign_in(BASE + 2 * DAY + MINUTE, "u3@x.com", "3.3.3.3", "3", "n3"),
        ],
        "b",
    );
    // Newest first, as the hunt orders.
    both(&["i3/n3", "i2/n2"]);
    // Nothing new: nothing reported, and the run says why.
    for engine in ["operator", "sql"] {
        let (pairs, stderr) = run(engine);
        assert!(pairs.is_empty(), "{pairs:?}");
        assert!(
            stderr.contains("has not changed since this hunt's last run"),
            "{stderr}"
        );
    }
    // Only day two changes: u4 pairs there, and u5's partner lands at 00:03, pairing with
    // day one's 23:58, a date this commit does not touch.
    add_to_lake(
        &lake,
        &[sign_in(BASE + DAY, "u4@x.com", "1.1.1.4", "1", "i4")],
        &[
            sign_in(BASE + DAY + 9 * MINUTE, "u4@x.com", "4.4.4.4", "4", "n4"),
            sign_in(BASE + 843 * MINUTE, "u5@x.com", "5.5.5.5", "5", "n5"),
        ],
        "c",
    );
    both(&["i4/n4", "i5/n5"]);
    // A run killed after recording its findings, before recording itself: the next run
    // finds every date changed, and reports nothing twice.
    for engine in ["operator", "sql"] {
        let records = lake.join("_hunts").join(engine);
        for record in std::fs::read_dir(&records).unwrap() {
            let path = record.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                std::fs::remove_file(path).unwrap();
            }
        }
    }
    both(&[]);

    // Every pair of the final lake, reported once under each name.
    let all = hunt_csv(&lake, &[]);
    assert_eq!(all.stdout.split(|&b| b == b'\n').count() - 2, 5);
    let table = sql_csv(
        &lake,
        "SELECT HuntName, count(*) AS n, count(DISTINCT NonInteractiveCorrelationId) AS d \
         FROM RetrohuntFindings GROUP BY HuntName ORDER BY HuntName",
    );
    assert_eq!(
        String::from_utf8(table).unwrap(),
        "HuntName,n,d\noperator,5,5\nsql,5,5\n"
    );
    // A second run of a name waits for the first: here a held lock stands for the first.
    let lock = std::fs::File::open(lake.join("_hunts/sql/_lock")).unwrap();
    lock.lock().unwrap();
    let mut second = retrohunt()
        .args(["hunt", "--format", "csv", "--incremental", "sql", "--lake"])
        .arg(&lake)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert!(
        second.try_wait().unwrap().is_none(),
        "the second run did not wait"
    );
    lock.unlock().unwrap();
    let waited = second.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&waited.stderr);
    assert!(waited.status.success(), "{stderr}");
    assert!(
        stderr.contains("waiting for another run of sql"),
        "{stderr}"
    );
    // A lake whose files are not one data.parquet per date (another tool's) is refused
    // rather than read as never changing.
    let foreign = dir.path().join("foreign");
    std::fs::create_dir_all(foreign.join("SigninLogs")).unwrap();
    std::fs::copy(
        lake.join("SigninLogs/date=2026-03-02/data.parquet"),
        foreign.join("SigninLogs/part-0.parquet"),
    )
    .unwrap();
    let refused = usage_error(&[
        "hunt",
        "--incremental",
        "x",
        "--lake",
        foreign.to_str().unwrap(),
    ]);
    assert!(refused.contains("part-0.parquet"), "{refused}");
    // Another window under a name already used is refused.
    let refused = usage_error(&[
        "hunt",
        "--incremental",
        "sql",
        "--window",
        "5m",
        "--lake",
        lake.to_str().unwrap(),
    ]);
    assert!(refused.contains("needs another name"), "{refused}");
}
