//! The bench loop: sizes, rounds, contenders interleaved; every hunt result compared.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{Days, NaiveDate};

use super::report::{Report, SizeReport, Tally};
use super::{BenchError, Contender, Job, Mismatch, Outcome, Runner};
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
    pub engines: Vec<Contender>,
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
    let mut contenders = vec![Contender::ScanFloor];
    for &engine in &plan.engines {
        if !contenders.contains(&engine) {
            contenders.push(engine);
        }
    }
    let mut sizes = Vec::new();
    for (index, size) in plan.sizes.iter().enumerate() {
        let mut tallies = vec![Tally::default(); contenders.len()];
        let mut reference = None;
        for round in 0..plan.warmup + plan.runs {
            let warmup = round < plan.warmup;
            for (&contender, tally) in contenders.iter().zip(&mut tallies) {
                if tally.done() {
                    continue;
                }
                let job = Job {
                    lake: size.lake.clone(),
                    contender,
                    params: size.params,
                    memory_limit: plan.memory_limit,
                    result: plan.work.join(format!(
                        "{index}-{}.json",
                        contender.name().replace(' ', "-")
                    )),
                };
                let outcome = runner.run(&job, plan.timeout)?;
                if let Outcome::Finished(_) = &outcome
                    && contender.is_hunt()
                {
                    compare(&mut reference, contender, &job.result, &size.label)?;
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
    contender: Contender,
    digest: blake3::Hash,
    file: PathBuf,
}

/// Checks `result` against the size's first hunt result (which it becomes if there is none).
fn compare(
    reference: &mut Option<Reference>,
    contender: Contender,
    result: &Path,
    size: &str,
) -> Result<(), BenchError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BenchError::Io { path, source }
    };
    let bytes = std::fs::read(result).map_err(io(result))?;
    let digest = blake3::hash(&bytes);
    let Some(first) = reference else {
        let file = result.with_extension("reference.json");
        std::fs::write(&file, &bytes).map_err(io(&file))?;
        *reference = Some(Reference {
            contender,
            digest,
            file,
        });
        return Ok(());
    };
    if first.digest == digest {
        return Ok(());
    }
    let first_text = std::fs::read_to_string(&first.file).map_err(io(&first.file))?;
    let second_text = String::from_utf8_lossy(&bytes);
    let first_lines: Vec<&str> = first_text.lines().collect();
    let second_lines: Vec<&str> = second_text.lines().collect();
    let row = first_lines
        .iter()
        .zip(&second_lines)
        .position(|(a, b)| a != b)
        .unwrap_or(first_lines.len().min(second_lines.len()));
    let line = |lines: &[&str]| lines.get(row).copied().unwrap_or("(no row)").to_string();
    Err(BenchError::Mismatch(Box::new(Mismatch {
        size: size.to_string(),
        first: first.contender.name(),
        second: contender.name(),
        first_rows: first_lines.len(),
        second_rows: second_lines.len(),
        row: row + 1,
        first_line: line(&first_lines),
        second_line: line(&second_lines),
        first_file: first.file.display().to_string(),
        second_file: result.display().to_string(),
    })))
}
