//! `retrohunt bench`: it runs every engine, checks they agree, and says so loudly when they do
//! not. Its timings are not tested (benchmarks measure; tests check behaviour).

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use retrohunt::bench::{
    self, BenchError, BenchPlan, Builtin, Job, Outcome, ProcessRunner, Runner, Size,
};
use retrohunt::catalog::register_lake;
use retrohunt::engine::{Engine, session};
use retrohunt::generate::{TenantFormat, TenantSpec, generate};
use retrohunt::hunt::{self, HuntParams};

use crate::util::{retrohunt, succeeded};

/// The hunt's row count on stock DataFusion, in this process: the bench's figure checked
/// against a path that shares none of its code.
fn hunt_rows(lake: &Path, params: &HuntParams) -> u64 {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let ctx = session(Engine::Sql);
        register_lake(&ctx, lake.to_str().unwrap()).await.unwrap();
        let batches = hunt::plan(&ctx, params)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        batches.iter().map(|b| b.num_rows() as u64).sum()
    })
}

fn bench_json(args: &[&str]) -> Value {
    let output = succeeded(
        retrohunt()
            .arg("bench")
            .args(args)
            .args(["--format", "json"]),
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn bench_runs_every_engine_and_they_agree() {
    let work = tempfile::tempdir().unwrap();
    let chart = work.path().join("chart.svg");
    let report = bench_json(&[
        "--generate",
        "users=40,days=2,seed=5",
        "--runs",
        "2",
        "--warmup",
        "1",
        "--plot",
        chart.to_str().unwrap(),
    ]);
    let lake = tempfile::tempdir().unwrap();
    generate(&TenantSpec::new(40, 2, 5), TenantFormat::Lake, lake.path()).unwrap();
    let expected = hunt_rows(lake.path(), &HuntParams::default());
    assert!(expected > 0, "the tenant should hold findings");

    let sizes = report["sizes"].as_array().unwrap();
    assert_eq!(sizes.len(), 1);
    let contenders = sizes[0]["contenders"].as_array().unwrap();
    let names: Vec<&str> = contenders
        .iter()
        .map(|c| c["contender"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["scan-floor", "sql", "operator", "sql-bucketed"]);
    for contender in contenders {
        assert_eq!(
            contender["seconds"].as_array().unwrap().len(),
            2,
            "{contender}"
        );
        assert_eq!(contender["timed_out"], false);
        assert!(contender["failed"].is_null(), "{contender}");
        assert!(contender["peak_rss"].as_u64().unwrap() > 0);
        assert!(contender["rows_scanned"].as_u64().unwrap() > 0);
        let median = contender["median_seconds"].as_f64().unwrap();
        let min = contender["min_seconds"].as_f64().unwrap();
        let max = contender["max_seconds"].as_f64().unwrap();
        assert!(min <= median && median <= max, "{contender}");
    }
    for hunt in &contenders[1..] {
        assert_eq!(hunt["result_rows"].as_u64(), Some(expected), "{hunt}");
    }
    // Only the operator reports the operator's own memory.
    assert!(contenders[2]["operator_peak"].as_u64().unwrap() > 0);
    assert!(contenders[1]["operator_peak"].is_null());
    // Three hunt engines: three pairs.
    assert_eq!(sizes[0]["ratios"].as_array().unwrap().len(), 3);
    let svg = std::fs::read_to_string(&chart).unwrap();
    assert!(svg.starts_with("<svg"), "{svg:.100}");
    assert!(svg.contains("sql-bucketed"));
}

/// Wraps the real runner and drops the last row of one engine's result.
struct Faulty {
    real: ProcessRunner,
    wrong: Builtin,
}

impl Runner for Faulty {
    fn run(&self, job: &Job, timeout: Duration) -> Result<Outcome, BenchError> {
        let outcome = self.real.run(job, timeout)?;
        if job.contender == self.wrong {
            let file = std::fs::File::open(&job.result).unwrap();
            let reader =
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                    .unwrap()
                    .build()
                    .unwrap();
            let batches: Vec<_> = reader.map(Result::unwrap).collect();
            let schema = batches[0].schema();
            let all = arrow::compute::concat_batches(&schema, &batches).unwrap();
            let shorter = all.slice(0, all.num_rows() - 1);
            let file = std::fs::File::create(&job.result).unwrap();
            let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
            writer.write(&shorter).unwrap();
            writer.close().unwrap();
        }
        Ok(outcome)
    }
}

#[test]
fn bench_fails_loudly_when_an_engine_differs() {
    let lake = tempfile::tempdir().unwrap();
    generate(&TenantSpec::new(40, 1, 5), TenantFormat::Lake, lake.path()).unwrap();
    let rows = hunt_rows(lake.path(), &HuntParams::default()) as usize;
    let work = tempfile::tempdir().unwrap();
    let plan = BenchPlan {
        sizes: vec![Size {
            label: "one day".into(),
            days: Some(1),
            lake: lake.path().to_path_buf(),
            params: HuntParams::default(),
        }],
        engines: vec![Builtin::Sql, Builtin::Operator],
        peers: Vec::new(),
        cluster: None,
        runs: 1,
        warmup: 0,
        timeout: Duration::from_secs(300),
        slow_after: Duration::from_secs(300),
        memory_limit: None,
        work: work.path().to_path_buf(),
    };
    let runner = Faulty {
        real: ProcessRunner::new(env!("CARGO_BIN_EXE_retrohunt").into()),
        wrong: Builtin::Operator,
    };
    let error = bench::run(&plan, &runner, &mut |_| {}).unwrap_err();
    let BenchError::Mismatch(mismatch) = &error else {
        panic!("expected a mismatch, got {error}");
    };
    assert_eq!(
        (mismatch.first.as_str(), mismatch.second.as_str()),
        ("sql", "operator")
    );
    assert_eq!(
        (mismatch.first_rows, mismatch.second_rows),
        (rows, rows - 1)
    );
    assert_eq!(mismatch.row, rows);
    assert!(error.to_string().contains("engines disagree on one day"));
}

#[test]
fn a_run_past_the_timeout_is_reported_not_waited_for() {
    let report = bench_json(&[
        "--engines",
        "sql,operator",
        "--runs",
        "3",
        "--warmup",
        "0",
        "--timeout",
        "0.001",
    ]);
    let contenders = report["sizes"][0]["contenders"].as_array().unwrap();
    assert_eq!(contenders.len(), 3);
    for contender in contenders {
        assert_eq!(contender["timed_out"], true, "{contender}");
        assert!(contender["median_seconds"].is_null());
        assert_eq!(contender["seconds"].as_array().unwrap().len(), 0);
    }
}

#[test]
fn scaling_hunts_growing_history() {
    let report = bench_json(&[
        "--generate",
        "users=30,days=1,seed=2",
        "--scale",
        "days=1,3",
        "--engines",
        "operator,sql",
        "--runs",
        "1",
        "--warmup",
        "0",
    ]);
    let sizes = report["sizes"].as_array().unwrap();
    let days: Vec<u64> = sizes.iter().map(|s| s["days"].as_u64().unwrap()).collect();
    assert_eq!(
        days,
        [1, 3],
        "the tenant is generated as long as the longest size"
    );
    let scanned = |size: &Value| size["contenders"][0]["rows_scanned"].as_u64().unwrap();
    assert!(scanned(&sizes[1]) > 2 * scanned(&sizes[0]));
    let day = 86_400 * 1_000_000_000i64;
    assert_eq!(
        sizes[1]["end"].as_i64().unwrap() - sizes[1]["start"].as_i64().unwrap(),
        3 * day - 1
    );
}

#[test]
fn scaling_past_the_lake_is_a_usage_error() {
    let lake = tempfile::tempdir().unwrap();
    generate(&TenantSpec::new(5, 2, 1), TenantFormat::Lake, lake.path()).unwrap();
    let output = retrohunt()
        .args(["bench", "--scale", "days=1,5", "--lake"])
        .arg(lake.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("--scale asks for 5 days but"), "{stderr}");
    assert!(stderr.contains("holds 2"), "{stderr}");
}

/// DuckDB from PyPI, installed if need be: the checked-in peers run on it.
fn ensure_duckdb() {
    crate::emulators::python_package("duckdb", "duckdb");
}

/// Other tools run beside ours (`--external`): the checked-in DuckDB peers' plain and
/// bucketed joins return exactly our rows (DuckDB, sharing no code with us, as a reference),
/// its scan floor is timed beside ours, every peer reports its own time and memory; a peer
/// that returns other rows (our own hunt with half the window) is reported as differing,
/// with its first differing row, and does not pass for ours.
#[test]
fn peers_run_beside_our_engines_and_their_rows_are_checked() {
    ensure_duckdb();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/peers/duckdb_hunt.py");
    let duckdb = |name: &str, query: &str, out: &str| {
        format!(
            "{name}=python3 {script} '{{lake}}' {query}{out} --start '{{start}}' \
             --end '{{end}}' --window {{window}}"
        )
    };
    let narrow = format!(
        "narrow={} hunt --lake '{{lake}}' --window 5m --format parquet --output '{{out}}'",
        env!("CARGO_BIN_EXE_retrohunt")
    );
    let report = bench_json(&[
        "--generate",
        "users=40,days=2,seed=5",
        "--engines",
        "operator",
        "--runs",
        "1",
        "--warmup",
        "0",
        "--start",
        "2026-03-02T06:00:00Z",
        "--external",
        &duckdb("duckdb-floor", "floor", ""),
        "--external",
        &duckdb("duckdb-plain", "plain", " --out '{out}'"),
        "--external",
        &duckdb("duckdb-bucketed", "bucketed", " --out '{out}'"),
        "--external",
        &narrow,
    ]);
    let contenders = report["sizes"][0]["contenders"].as_array().unwrap();
    let names: Vec<&str> = contenders
        .iter()
        .map(|c| c["contender"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "scan-floor",
            "operator",
            "duckdb-floor",
            "duckdb-plain",
            "duckdb-bucketed",
            "narrow"
        ]
    );
    let ours = contenders[1]["result_rows"].as_u64().unwrap();
    assert!(ours > 0);
    for peer in &contenders[2..] {
        assert!(peer["failed"].is_null(), "{peer}");
        assert_eq!(peer["seconds"].as_array().unwrap().len(), 1, "{peer}");
    }
    for duckdb in &contenders[2..5] {
        assert!(duckdb["peak_rss"].as_u64().unwrap() > 0, "{duckdb}");
    }
    // DuckDB's floor reads the two sides into one row each, as ours does.
    assert_eq!(contenders[2]["result_rows"], contenders[0]["result_rows"]);
    for duckdb in &contenders[3..5] {
        assert_eq!(duckdb["result_rows"].as_u64(), Some(ours), "{duckdb}");
        assert!(duckdb["differs"].is_null(), "{duckdb}");
    }
    let narrow = &contenders[5];
    assert!(narrow["result_rows"].as_u64().unwrap() < ours);
    let differs = narrow["differs"].as_str().unwrap();
    assert!(differs.starts_with("returned "), "{differs}");
    // The four hunts (ours, DuckDB's two, the differing peer) pairwise.
    assert_eq!(report["sizes"][0]["ratios"].as_array().unwrap().len(), 6);
}

/// `bench --ingest`: our ingest beside DuckDB's COPY of the same files (the checked-in peer),
/// whole processes with the kernel's count of their memory; each writes what it should: our
/// lake the records less duplicates and skipped ones (as a plain ingest says), DuckDB every
/// record of the archive (a line each). A peer that fails is reported, not fatal.
#[test]
fn ingest_is_benched_beside_duckdb() {
    ensure_duckdb();
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/data/sample");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/peers/duckdb_ingest.py"
    );
    let lines: usize = walkdir::WalkDir::new(sample)
        .into_iter()
        .map(Result::unwrap)
        // `_ground_truth.jsonl` is bookkeeping, which neither reads.
        .filter(|e| e.file_type().is_file() && !e.file_name().to_string_lossy().starts_with('_'))
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).unwrap();
            text.lines().filter(|l| !l.trim().is_empty()).count()
        })
        .sum();
    let lake = tempfile::tempdir().unwrap();
    let ingested = succeeded(
        retrohunt()
            .args(["ingest", "--lake"])
            .arg(lake.path())
            .arg(sample),
    );
    let stdout = String::from_utf8(ingested.stdout).unwrap();
    let written: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("records in "))
        .and_then(|l| l.split("written ").nth(1))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    let report = bench_json(&[
        "--ingest",
        sample,
        "--runs",
        "2",
        "--warmup",
        "0",
        "--external",
        &format!("duckdb-copy=python3 {script} '{{out}}' {{input}}"),
        "--external",
        "broken=echo no such tool >&2; exit 3",
    ]);
    let contenders = report["contenders"].as_array().unwrap();
    let names: Vec<&str> = contenders
        .iter()
        .map(|c| c["contender"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["retrohunt ingest", "duckdb-copy", "broken"]);
    assert_eq!(contenders[0]["rows_out"].as_u64(), Some(written));
    assert_eq!(contenders[1]["rows_out"].as_u64(), Some(lines as u64));
    for contender in &contenders[..2] {
        assert_eq!(
            contender["seconds"].as_array().unwrap().len(),
            2,
            "{contender}"
        );
        assert!(
            contender["peak_rss"].as_u64().unwrap() > 1 << 20,
            "{contender}"
        );
        assert!(contender["mb_per_second"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(contenders[2]["failed"], "no such tool");
}
