//! `retrohunt bench --ingest SOURCE...`: our ingest beside other tools' loading of the same
//! files (DuckDB's `COPY … TO … (FORMAT parquet)`), each run a whole process writing into a
//! fresh folder, interleaved round by round, timed from spawn to exit with the kernel's count
//! of its peak memory. Loading is whole-process work for every tool alike, so no tool's own
//! timing is used here.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use comfy_table::{Table, presets};
use parquet::file::reader::{FileReader, SerializedFileReader};
use serde::Serialize;

use super::process::{Ended, run_child};
use super::report::{Machine, ReportFormat, Times, bytes, count};
use super::{BenchError, Peer};

/// The placeholder for the input files, each quoted for the shell.
pub const INPUT: &str = "{input}";

const OURS: &str = "retrohunt ingest";

/// What to run.
#[derive(Debug, Clone)]
pub struct IngestPlan {
    /// Files or folders, as `retrohunt ingest` takes them.
    pub sources: Vec<PathBuf>,
    /// This program, run as `EXE ingest`.
    pub exe: PathBuf,
    pub peers: Vec<Peer>,
    pub runs: usize,
    pub warmup: usize,
    pub timeout: Duration,
    pub memory_limit: Option<usize>,
    /// Where each run writes (emptied after it).
    pub work: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub machine: Machine,
    pub runs: usize,
    pub warmup: usize,
    /// Bytes of the sources as stored (compressed where they are).
    pub input_bytes: u64,
    pub contenders: Vec<IngestContender>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestContender {
    pub contender: String,
    #[serde(flatten)]
    pub times: Times,
    /// Input megabytes (10^6) per second at the median.
    pub mb_per_second: Option<f64>,
    /// Rows in the Parquet files it wrote (ours: after dropping duplicates).
    pub rows_out: Option<u64>,
    pub peak_rss: Option<u64>,
    pub timed_out: bool,
    pub failed: Option<String>,
}

/// Runs `plan`, reporting each run to `progress` as it ends.
///
/// # Errors
/// A run that cannot be started, or a folder that cannot be created or emptied.
pub fn run_ingest(
    plan: &IngestPlan,
    progress: &mut dyn FnMut(&str),
) -> Result<IngestReport, BenchError> {
    let input_bytes = plan.sources.iter().map(|s| size_of(s)).sum();
    // `None` is our ingest.
    let contenders: Vec<Option<&Peer>> = std::iter::once(None)
        .chain(plan.peers.iter().map(Some))
        .collect();
    fn name<'a>(peer: &Option<&'a Peer>) -> &'a str {
        peer.map_or(OURS, |peer| peer.name.as_str())
    }
    let mut tallies = vec![IngestContender::default(); contenders.len()];
    for round in 0..plan.warmup + plan.runs {
        let warmup = round < plan.warmup;
        for (peer, tally) in contenders.iter().zip(&mut tallies) {
            if tally.failed.is_some() || tally.timed_out {
                continue;
            }
            let out = plan.work.join("out");
            let io = |source| BenchError::Io {
                path: out.clone(),
                source,
            };
            if out.exists() {
                std::fs::remove_dir_all(&out).map_err(io)?;
            }
            std::fs::create_dir_all(&out).map_err(io)?;
            let command = if let Some(peer) = peer {
                let mut shell = Command::new("sh");
                shell
                    .arg("-c")
                    .arg(command_line(&peer.command, &plan.sources, &out));
                shell
            } else {
                let mut command = Command::new(&plan.exe);
                command.args(["ingest", "--quiet", "--lake"]);
                command.arg(out.join("lake"));
                if let Some(limit) = plan.memory_limit {
                    command.arg(format!("--memory-limit={limit}"));
                }
                command.args(&plan.sources);
                command
            };
            let described = match run_child(command, plan.timeout)? {
                Ended::Succeeded {
                    seconds, peak_rss, ..
                } => {
                    tally.rows_out = Some(parquet_rows(&out));
                    tally.peak_rss = tally.peak_rss.max(peak_rss);
                    if !warmup {
                        tally.times.seconds.push(seconds);
                    }
                    format!("{seconds:.3} s")
                }
                Ended::Failed(reason) => {
                    let first = reason.lines().next().unwrap_or_default().to_string();
                    tally.failed = Some(reason);
                    format!("failed: {first}")
                }
                Ended::TimedOut => {
                    tally.timed_out = true;
                    format!("stopped at the {} s timeout", plan.timeout.as_secs_f64())
                }
            };
            let round = match warmup {
                true => "warm-up".to_string(),
                false => format!("run {}/{}", round - plan.warmup + 1, plan.runs),
            };
            progress(&format!("ingest · {} · {round}: {described}", name(peer)));
        }
    }
    let _ = std::fs::remove_dir_all(plan.work.join("out"));
    for (peer, tally) in contenders.iter().zip(&mut tallies) {
        tally.contender = name(peer).to_string();
        tally.times = Times::of(std::mem::take(&mut tally.times.seconds));
        tally.mb_per_second = tally
            .times
            .median_seconds
            .map(|seconds| input_bytes as f64 / 1e6 / seconds);
    }
    Ok(IngestReport {
        machine: Machine::this(),
        runs: plan.runs,
        warmup: plan.warmup,
        input_bytes,
        contenders: tallies,
    })
}

/// `command` with `{input}` (every source, quoted) and `{out}` (the run's folder) filled in.
fn command_line(command: &str, sources: &[PathBuf], out: &Path) -> String {
    let quoted = |path: &Path| format!("'{}'", path.to_string_lossy().replace('\'', r"'\''"));
    let input: Vec<String> = sources.iter().map(|s| quoted(s)).collect();
    command
        .replace(INPUT, &input.join(" "))
        .replace(super::peer::OUT, &out.to_string_lossy())
}

/// Bytes of the files at or under `path`.
fn size_of(path: &Path) -> u64 {
    walkdir::WalkDir::new(path)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .filter_map(|entry| entry.metadata().ok())
        .map(|meta| meta.len())
        .sum()
}

/// Rows of the Parquet data files under `folder` (bookkeeping folders, `_…` and `.…`, left
/// out).
fn parquet_rows(folder: &Path) -> u64 {
    walkdir::WalkDir::new(folder)
        .into_iter()
        .filter_entry(|entry| {
            entry.depth() == 0 || !entry.file_name().to_string_lossy().starts_with(['_', '.'])
        })
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|e| e == "parquet"))
        .filter_map(|entry| {
            let file = std::fs::File::open(entry.path()).ok()?;
            let reader = SerializedFileReader::new(file).ok()?;
            u64::try_from(reader.metadata().file_metadata().num_rows()).ok()
        })
        .sum()
}

impl IngestReport {
    pub fn render(&self, format: ReportFormat) -> String {
        let (preset, heading) = match format {
            ReportFormat::Json => {
                return serde_json::to_string_pretty(self).expect("a report serialises");
            }
            ReportFormat::Table => (presets::UTF8_FULL_CONDENSED, ""),
            ReportFormat::Markdown => (presets::ASCII_MARKDOWN, "### "),
        };
        let mut out = format!(
            "{} · {} cores · {} memory · retrohunt {}\n{} run(s) after {} warm-up, whole \
             processes\n\n{heading}ingest of {} MB\n\n",
            self.machine.cpu,
            self.machine.cores,
            bytes(self.machine.memory),
            self.machine.retrohunt,
            self.runs,
            self.warmup,
            count(Some(self.input_bytes as f64 / 1e6)),
        );
        let mut table = Table::new();
        table.load_preset(preset).set_header([
            "contender",
            "runs",
            "median",
            "min",
            "max",
            "MB/s",
            "rows out",
            "peak RSS",
        ]);
        for c in &self.contenders {
            let stopped = c.timed_out.then(|| "timed out".to_string());
            let [median, min, max] = c.times.cells(c.failed.is_some(), stopped);
            table.add_row([
                c.contender.clone(),
                c.times.seconds.len().to_string(),
                median,
                min,
                max,
                c.mb_per_second.map_or("-".into(), |r| format!("{r:.1}")),
                count(c.rows_out.map(|n| n as f64)),
                bytes(c.peak_rss),
            ]);
        }
        out.push_str(&format!("{table}\n"));
        if let Some(ours) = self.contenders.first().and_then(|c| c.mb_per_second) {
            for peer in &self.contenders[1..] {
                if let Some(theirs) = peer.mb_per_second {
                    out.push_str(&format!(
                        "{OURS} runs at {:.2}x the rate of {}\n",
                        ours / theirs,
                        peer.contender
                    ));
                }
            }
        }
        for c in &self.contenders {
            if let Some(reason) = &c.failed {
                out.push_str(&format!("{} failed: {reason}\n", c.contender));
            }
        }
        out
    }
}
