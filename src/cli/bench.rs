//! `retrohunt bench` (the parent) and `retrohunt bench-run` (one measured run in a child).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDate;

use retrohunt::bench::{
    self, BenchError, BenchPlan, Builtin, IngestPlan, Job, ProcessRunner, Size,
};
use retrohunt::catalog::{LakeTables, OpenError};
use retrohunt::engine::default_memory_limit;
use retrohunt::generate::{self, TenantFormat};
use retrohunt::hunt::HuntParams;
use retrohunt::lake::{Root, layout};
use retrohunt::store::Location;

use super::Usage;
use super::args::{BenchArgs, Scale};
use super::hunt::params;
use retrohunt::pipeline::{query_failed, sample_lake};

use super::results::Stderr;

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let params = params(&args.params)?;
    check_cluster(&args)?;
    let work = work_folder(&args)?;
    if !args.ingest.is_empty() {
        let plan = IngestPlan {
            sources: args.ingest.clone(),
            exe: std::env::current_exe().context("cannot find this program to run it again")?,
            peers: args.peers.clone(),
            runs: args.runs.into(),
            warmup: args.warmup.into(),
            timeout: args.timeout,
            memory_limit: args.memory.memory_limit,
            work: work.path().to_path_buf(),
        };
        let report = bench::run_ingest(&plan, &mut |line| eprintln!("{line}"))?;
        println!("{}", report.render(args.format));
        return Ok(ExitCode::SUCCESS);
    }
    let lake = lake(&args, &work)?;
    let plan = BenchPlan {
        sizes: sizes(&args, &lake, params)?,
        engines: args.engines.clone(),
        peers: args.peers.clone(),
        cluster: args.cluster.clone(),
        runs: args.runs.into(),
        warmup: args.warmup.into(),
        timeout: args.timeout,
        slow_after: args.slow_after,
        memory_limit: args.memory.memory_limit.or_else(default_memory_limit),
        work: work.path().to_path_buf(),
    };
    let exe = std::env::current_exe().context("cannot find this program to run it again")?;
    let runner = ProcessRunner::new(exe);
    let report = match bench::run(&plan, &runner, &mut |line| eprintln!("{line}")) {
        Err(error @ BenchError::Mismatch(_)) => {
            // Kept for inspection: the error names the files.
            let _ = work.keep();
            return Err(error.into());
        }
        other => other?,
    };
    println!("{}", report.render(args.format));
    if let Some(path) = &args.plot {
        bench::plot(&report, path)?;
        eprintln!("chart written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// A fresh folder for the bench's files, under `--work` if given.
fn work_folder(args: &BenchArgs) -> anyhow::Result<tempfile::TempDir> {
    match &args.work {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            tempfile::Builder::new()
                .prefix("retrohunt-bench-")
                .tempdir_in(dir)
        }
        None => tempfile::Builder::new()
            .prefix("retrohunt-bench-")
            .tempdir(),
    }
    .context("cannot create the bench's work folder")
}

/// The lake to hunt: a tenant generated into `work`, `--lake`, or the sample.
fn lake(args: &BenchArgs, work: &tempfile::TempDir) -> anyhow::Result<PathBuf> {
    match (&args.generate, &args.lake) {
        (Some(spec), _) => {
            let mut spec = *spec;
            let longest = args.scale.iter().flat_map(|s| s.0.iter()).copied().max();
            spec.days = spec.days.max(longest.unwrap_or(0));
            let lake = work.path().join("lake");
            eprintln!(
                "generating {} users over {} days (seed {}) into {}",
                spec.users,
                spec.days,
                spec.seed,
                lake.display()
            );
            generate::generate(&spec, TenantFormat::Lake, &lake)
                .context("cannot generate the bench's tenant")?;
            Ok(lake)
        }
        (None, Some(lake)) => Ok(dates_of(lake)?.0),
        (None, None) => sample_lake(&Stderr),
    }
}

/// What the hunt is timed on: the range asked, or with `--scale`, each number of days from the
/// range's start.
fn sizes(args: &BenchArgs, lake: &Path, params: HuntParams) -> anyhow::Result<Vec<Size>> {
    let Some(Scale(days)) = &args.scale else {
        let label = match (&args.params.start, &args.params.end) {
            (None, None) => format!("{} (whole lake)", lake.display()),
            (start, end) => format!(
                "{} from {} to {}",
                lake.display(),
                start.as_deref().unwrap_or("the start"),
                end.as_deref().unwrap_or("the end")
            ),
        };
        return Ok(vec![Size {
            label,
            days: None,
            lake: lake.to_path_buf(),
            params,
        }]);
    };
    let (first, held) = lake_days(lake, &dates_of(lake)?.1, params.start)?;
    if let Some(&longest) = days.iter().find(|&&d| d > held) {
        return Err(Usage(format!(
            "--scale asks for {longest} days but {} holds {held} from {first}",
            lake.display()
        ))
        .into());
    }
    Ok(days
        .iter()
        .map(|&d| Size::days(lake, first, d, params))
        .collect())
}

/// The `cluster` engine and `--cluster` come together.
fn check_cluster(args: &BenchArgs) -> Result<(), Usage> {
    let engine = args.engines.contains(&Builtin::Cluster);
    match &args.cluster {
        None if engine => Err(Usage(
            "the cluster engine needs a scheduler: --cluster df://HOST:PORT".into(),
        )),
        Some(_) if !engine => Err(Usage(
            "--cluster is for the cluster engine: add it to --engines".into(),
        )),
        _ => Ok(()),
    }
}

/// The lake at `lake` (a folder, `file://` or a store's URL) as the bench's children open it,
/// and the dates it holds in either table; a usage error if it is not a lake.
fn dates_of(lake: &Path) -> anyhow::Result<(PathBuf, Vec<NaiveDate>)> {
    let location = Location::parse(&lake.to_string_lossy()).map_err(|e| Usage(e.to_string()))?;
    let root = Root::new(location)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start a runtime")?;
    let tables = runtime
        .block_on(async {
            let pinned = root.pin().await?;
            LakeTables::open(&pinned, &Default::default()).await
        })
        .map_err(|error| match error {
            OpenError::NotALake(not) => anyhow::Error::from(Usage(not.to_string())),
            other => anyhow::Error::from(other),
        })?;
    let lake = root.folder().unwrap_or(lake).to_path_buf();
    let dates = tables
        .dates
        .tables
        .into_iter()
        .flat_map(|(_, d)| d)
        .collect();
    Ok((lake, dates))
}

/// The first date to scale from (`start`'s, else the lake's first) and how many of `dates`
/// the lake holds from it on.
fn lake_days(
    lake: &Path,
    dates: &[NaiveDate],
    start: Option<i64>,
) -> anyhow::Result<(NaiveDate, u32)> {
    let (Some(&lake_first), Some(&last)) = (dates.iter().min(), dates.iter().max()) else {
        return Err(Usage(format!(
            "{} holds no dated partitions to scale over",
            lake.display()
        ))
        .into());
    };
    let first = start.map_or(lake_first, layout::date_of);
    let held = (last - first).num_days() + 1;
    Ok((first, u32::try_from(held.max(0)).unwrap_or(u32::MAX)))
}

/// `bench-run`: runs the job, prints its measurement as one JSON line.
pub async fn run_child(job: String) -> anyhow::Result<ExitCode> {
    let job: Job = serde_json::from_str(&job).context("unreadable bench job")?;
    let measurement = bench::measure(&job)
        .await
        .map_err(query_failed)
        .with_context(|| format!("the {} run failed", job.contender.name()))?;
    println!("{}", serde_json::to_string(&measurement)?);
    Ok(ExitCode::SUCCESS)
}
