//! The bench loop: sizes, rounds, contenders interleaved; every hunt result compared.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{Days, NaiveDate};

use super::report::{Report, SizeReport, Tally};
use super::{BenchError, Builtin, Contender, Job, Mismatch, Outcome, Peer, Runner, peer, rows};
use crate::hunt::HuntParams;

/// One lake and time range to measure.
#[derive(Debug, Clone)]
pub struct Size {
    /// How the report names it.
    pub label: String,
    /// Days of history, the x axis of scaling charts.
    pub days: Option<u32>,
    pub lake: PathBuf,
    pub params: HuntParams,
}

impl Size {
    /// The `days` days of `lake` from `first` (UTC midnight on), hunted with `params`' window
    /// and time column.
    pub fn days(lake: &Path, first: NaiveDate, days: u32, params: HuntParams) -> Size {
        let nanos = |date: NaiveDate| {
            date.and_hms_opt(0, 0, 0)
                .and_then(|t| t.and_utc().timestamp_nanos_opt())
        };
        let after = first.checked_add_days(Days::new(days.into()));
        Size {
            label: format!("{days} day{}", if days == 1 { "" } else { "s" }),
            days: Some(days),
            lake: lake.to_path_buf(),
            params: HuntParams {
                start: nanos(first),
                end: after.and_then(nanos).map(|end| end - 1),
                ..params
            },
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchPlan {
    pub sizes: Vec<Size>,
    /// Hunt engines in the order to run them; the scan floor is added before them.
    pub engines: Vec<Builtin>,
    /// Other tools, run after ours in every round.
    pub peers: Vec<Peer>,
    /// The scheduler (`df://host:port`) the `cluster` engine runs on.
    pub cluster: Option<String>,
    pub runs: usize,
    /// Rounds run first and not recorded (they warm the page cache for all alike).
    pub warmup: usize,
    /// A run still going after this is killed and reported as "> timeout".
    pub timeout: Duration,
    /// A run slower than this is its contender's only one in that size, warm-up or not: stock
    /// SQL at scale takes minutes a run, and one such run already tells the story.
    pub slow_after: Duration,
    pub memory_limit: Option<usize>,
    /// Where result files are written (kept when engines disagree, for inspection).
    pub work: PathBuf,
}

/// Runs `plan`, reporting each run to `progress` as it ends.
///
/// # Errors
/// [`BenchError::Mismatch`] as soon as two engines return different rows; a run that could
/// not be carried out or reported.
pub fn run(
    plan: &BenchPlan,
    runner: &dyn Runner,
    progress: &mut dyn FnMut(&str),
) -> Result<Report, BenchError> {
    let mut contenders = vec![Contender::Builtin(Builtin::ScanFloor)];
    for &engine in &plan.engines {
        let engine = Contender::Builtin(engine);
        if !contenders.contains(&engine) {
            contenders.push(engine);
        }
    }
    contenders.extend(plan.peers.iter().cloned().map(Contender::Peer));
    let mut sizes = Vec::new();
    for (index, size) in plan.sizes.iter().enumerate() {
        let mut tallies = vec![Tally::default(); contenders.len()];
        let mut reference = None;
        for round in 0..plan.warmup + plan.runs {
            let warmup = round < plan.warmup;
            for (contender, tally) in contenders.iter().zip(&mut tallies) {
                if tally.done() {
                    continue;
                }
                let slug: String = contender
                    .name()
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect();
                let result = plan.work.join(format!("{index}-{slug}.parquet"));
                let outcome = match contender {
                    Contender::Builtin(builtin) => {
                        let job = Job {
                            lake: size.lake.clone(),
                            contender: *builtin,
                            params: size.params,
                            memory_limit: plan.memory_limit,
                            result: result.clone(),
                            cluster: plan
                                .cluster
                                .clone()
                                .filter(|_| *builtin == Builtin::Cluster),
                        };
                        runner.run(&job, plan.timeout)?
                    }
                    Contender::Peer(peer) => peer::run(peer, size, &result, plan.timeout)?,
                };
                if let Outcome::Finished(_) = &outcome
                    && contender.is_hunt()
                {
                    let differs = compare(&mut reference, contender, &result, &size.label)?;
                    if let Some(difference) = differs {
                        progress(&format!("{}: {difference}", contender.name()));
                        tally.differs.get_or_insert(difference);
                    }
                }
                let round = if warmup {
                    "warm-up".to_string()
                } else {
                    format!("run {}/{}", round - plan.warmup + 1, plan.runs)
                };
                progress(&format!(
                    "{} · {} · {round}: {}",
                    size.label,
                    contender.name(),
                    describe(&outcome, plan.timeout)
                ));
                tally.add(outcome, warmup, plan.slow_after);
            }
        }
        sizes.push(SizeReport::new(size, &contenders, tallies, plan.timeout));
    }
    Ok(Report::new(plan, sizes))
}

fn describe(outcome: &Outcome, timeout: Duration) -> String {
    match outcome {
        Outcome::Finished(m) => format!("{:.3} s, {} rows", m.seconds, m.result_rows),
        Outcome::TimedOut => format!("stopped at the {} s timeout", timeout.as_secs_f64()),
        Outcome::Failed(reason) => {
            format!("failed: {}", reason.lines().next().unwrap_or_default())
        }
    }
}

/// The first hunt result of a size, kept aside.
struct Reference {
    name: String,
    lines: Vec<String>,
    file: PathBuf,
}

/// Checks `result` against the size's first hunt result (which it becomes if there is none).
/// Our engines must return the same rows in the same order: a difference is an error. A
/// peer's rows are compared as a multiset (it may order them otherwise); a difference is
/// returned, to be reported beside its figures.
fn compare(
    reference: &mut Option<Reference>,
    contender: &Contender,
    result: &Path,
    size: &str,
) -> Result<Option<String>, BenchError> {
    let garbled = |reason| BenchError::Garbled {
        reason,
        output: format!("the rows of {}", contender.name()),
    };
    let lines = rows::lines(result).map_err(garbled)?;
    let Some(first) = reference else {
        let file = result.with_extension("reference.parquet");
        std::fs::copy(result, &file).map_err(|source| BenchError::Io {
            path: file.clone(),
            source,
        })?;
        *reference = Some(Reference {
            name: contender.name().to_string(),
            lines,
            file,
        });
        return Ok(None);
    };
    if let Contender::Peer(_) = contender {
        let sorted = |lines: &[String]| {
            let mut sorted = lines.to_vec();
            sorted.sort();
            sorted
        };
        let (theirs, ours) = (sorted(&lines), sorted(&first.lines));
        let Some(row) = first_difference(&ours, &theirs) else {
            return Ok(None);
        };
        return Ok(Some(format!(
            "returned {} rows, {} {}; first difference in sorted order at row {}: {} has \
             {:?}, {} {:?} (rows kept in {})",
            theirs.len(),
            first.name,
            ours.len(),
            row + 1,
            first.name,
            ours.get(row).map_or("(no row)", String::as_str),
            contender.name(),
            theirs.get(row).map_or("(no row)", String::as_str),
            result.display(),
        )));
    }
    let Some(row) = first_difference(&first.lines, &lines) else {
        return Ok(None);
    };
    let line = |lines: &[String]| lines.get(row).cloned().unwrap_or("(no row)".into());
    Err(BenchError::Mismatch(Box::new(Mismatch {
        size: size.to_string(),
        first: first.name.clone(),
        second: contender.name().to_string(),
        first_rows: first.lines.len(),
        second_rows: lines.len(),
        row: row + 1,
        first_line: line(&first.lines),
        second_line: line(&lines),
        first_file: first.file.display().to_string(),
        second_file: result.display().to_string(),
    })))
}

/// Where two lists of rows first differ, if they do.
fn first_difference(a: &[String], b: &[String]) -> Option<usize> {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(row) => Some(row),
        None => (a.len() != b.len()).then(|| a.len().min(b.len())),
    }
}
