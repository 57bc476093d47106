//! What a bench found, and how it is shown: a terminal table, Markdown, or JSON.

use std::time::Duration;

use bytesize::ByteSize;
use comfy_table::{Table, presets};
use serde::Serialize;

use super::{BenchPlan, Builtin, Contender, Measurement, Outcome, Size};
use crate::engine::machine_memory;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReportFormat {
    #[default]
    Table,
    Markdown,
    Json,
}

impl crate::choice::Choice for ReportFormat {
    const OFFERED: &'static [(Self, &'static str, &'static str)] = &[
        (
            ReportFormat::Table,
            "table",
            "Aligned tables for the terminal",
        ),
        (
            ReportFormat::Markdown,
            "markdown",
            "GitHub Markdown, for BENCHMARKS.md and pull requests",
        ),
        (ReportFormat::Json, "json", "Every figure, for scripts"),
    ];
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub runs: usize,
    pub warmup: usize,
    pub timeout_seconds: f64,
    pub slow_after_seconds: f64,
    pub memory_limit: Option<u64>,
    pub sizes: Vec<SizeReport>,
}

/// Where the figures were measured: they mean little without it.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory: Option<u64>,
    pub retrohunt: String,
}

impl Machine {
    pub(super) fn this() -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find_map(|line| line.strip_prefix("model name"))
                    .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_string())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory: machine_memory(),
            retrohunt: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SizeReport {
    pub label: String,
    pub days: Option<u32>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub contenders: Vec<ContenderReport>,
    /// Every pair of hunt engines, the faster first.
    pub ratios: Vec<Ratio>,
}

/// The recorded runs' times, and their median, min and max.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Times {
    pub seconds: Vec<f64>,
    pub median_seconds: Option<f64>,
    pub min_seconds: Option<f64>,
    pub max_seconds: Option<f64>,
}

impl Times {
    pub(super) fn of(seconds: Vec<f64>) -> Times {
        let mut sorted = seconds.clone();
        sorted.sort_by(f64::total_cmp);
        let middle = sorted.len() / 2;
        let median_seconds = match sorted.len() {
            0 => None,
            n if n % 2 == 1 => Some(sorted[middle]),
            _ => Some((sorted[middle - 1] + sorted[middle]) / 2.0),
        };
        Times {
            median_seconds,
            min_seconds: sorted.first().copied(),
            max_seconds: sorted.last().copied(),
            seconds,
        }
    }

    /// Median, min and max as table cells; a contender that failed, or timed out (`stopped`
    /// says how to show it), shows that in place of its median.
    pub(super) fn cells(&self, failed: bool, stopped: Option<String>) -> [String; 3] {
        let secs = |value: Option<f64>| value.map_or("-".into(), |s| format!("{s:.3} s"));
        let median = match (failed, stopped) {
            (true, _) => "failed".to_string(),
            (false, Some(stopped)) => stopped,
            (false, None) => secs(self.median_seconds),
        };
        [median, secs(self.min_seconds), secs(self.max_seconds)]
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ContenderReport {
    pub contender: Contender,
    #[serde(flatten)]
    pub times: Times,
    /// Stopped at the timeout: its time is more than `timeout_seconds`.
    pub timed_out: bool,
    pub failed: Option<String>,
    /// Median over the scan floor's median; a lower bound when timed out.
    pub times_scan_floor: Option<f64>,
    pub rows_scanned: Option<u64>,
    pub rows_per_second: Option<f64>,
    pub result_rows: Option<u64>,
    /// The largest peak resident memory of its runs (each run is its own process).
    pub peak_rss: Option<u64>,
    /// The window-join operator's own peak memory, largest over runs.
    pub operator_peak: Option<u64>,
    /// How a peer's rows differ from ours, if they do.
    pub differs: Option<String>,
}

/// `faster` took `times` less time than `slower` (at least that, when `slower` timed out).
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    pub faster: Contender,
    pub slower: Contender,
    pub times: f64,
    pub at_least: bool,
}

/// One contender's runs in one size, as they come in.
#[derive(Debug, Clone, Default)]
pub(super) struct Tally {
    measurements: Vec<Measurement>,
    timed_out: bool,
    failed: Option<String>,
    slow: bool,
    /// A peer's rows differ from ours: how, the first time.
    pub(super) differs: Option<String>,
}

impl Tally {
    /// No more runs: it timed out, failed, or was slow enough that one run is the figure.
    pub(super) fn done(&self) -> bool {
        self.timed_out || self.failed.is_some() || self.slow
    }

    pub(super) fn add(&mut self, outcome: Outcome, warmup: bool, slow_after: Duration) {
        match outcome {
            Outcome::Finished(measurement) => {
                self.slow = measurement.seconds > slow_after.as_secs_f64();
                if !warmup || self.slow {
                    self.measurements.push(measurement);
                }
            }
            Outcome::TimedOut => self.timed_out = true,
            Outcome::Failed(reason) => self.failed = Some(reason),
        }
    }
}

impl SizeReport {
    pub(super) fn new(
        size: &Size,
        contenders: &[Contender],
        tallies: Vec<Tally>,
        timeout: Duration,
    ) -> SizeReport {
        let mut reports: Vec<ContenderReport> = contenders
            .iter()
            .zip(tallies)
            .map(|(contender, tally)| ContenderReport::new(contender.clone(), tally))
            .collect();
        let timeout = timeout.as_secs_f64();
        // A timed-out run took longer than the timeout: that is its known lower bound.
        let time = |report: &ContenderReport| {
            report
                .times
                .median_seconds
                .or(report.timed_out.then_some(timeout))
        };
        let floor = reports
            .iter()
            .find(|r| r.contender == Contender::Builtin(Builtin::ScanFloor))
            .and_then(|r| r.times.median_seconds);
        for report in &mut reports {
            report.times_scan_floor = floor.zip(time(report)).map(|(floor, t)| t / floor);
        }
        let hunts: Vec<&ContenderReport> =
            reports.iter().filter(|r| r.contender.is_hunt()).collect();
        let mut ratios = Vec::new();
        for (i, a) in hunts.iter().enumerate() {
            for b in &hunts[i + 1..] {
                let (Some(ta), Some(tb)) = (time(a), time(b)) else {
                    continue;
                };
                if a.timed_out && b.timed_out {
                    continue;
                }
                let (faster, slower) = if ta <= tb { (a, b) } else { (b, a) };
                ratios.push(Ratio {
                    faster: faster.contender.clone(),
                    slower: slower.contender.clone(),
                    times: ta.max(tb) / ta.min(tb),
                    at_least: slower.timed_out,
                });
            }
        }
        SizeReport {
            label: size.label.clone(),
            days: size.days,
            start: size.params.start,
            end: size.params.end,
            contenders: reports,
            ratios,
        }
    }
}

impl ContenderReport {
    fn new(contender: Contender, tally: Tally) -> ContenderReport {
        let times = Times::of(tally.measurements.iter().map(|m| m.seconds).collect());
        let median = times.median_seconds;
        let last = tally.measurements.last();
        let rows_scanned = last.and_then(|m| m.rows_scanned);
        let largest = |field: fn(&Measurement) -> Option<u64>| {
            tally.measurements.iter().filter_map(field).max()
        };
        ContenderReport {
            contender,
            timed_out: tally.timed_out,
            failed: tally.failed,
            times_scan_floor: None,
            rows_scanned,
            rows_per_second: rows_scanned.zip(median).map(|(rows, t)| rows as f64 / t),
            result_rows: last.map(|m| m.result_rows),
            peak_rss: largest(|m| m.peak_rss),
            operator_peak: largest(|m| m.operator_peak),
            differs: tally.differs,
            times,
        }
    }
}

impl Report {
    pub(super) fn new(plan: &BenchPlan, sizes: Vec<SizeReport>) -> Report {
        Report {
            machine: Machine::this(),
            runs: plan.runs,
            warmup: plan.warmup,
            timeout_seconds: plan.timeout.as_secs_f64(),
            slow_after_seconds: plan.slow_after.as_secs_f64(),
            memory_limit: plan.memory_limit.map(|limit| limit as u64),
            sizes,
        }
    }

    pub fn render(&self, format: ReportFormat) -> String {
        match format {
            ReportFormat::Json => serde_json::to_string_pretty(self).expect("a report serialises"),
            ReportFormat::Table => self.text(presets::UTF8_FULL_CONDENSED, ""),
            ReportFormat::Markdown => self.text(presets::ASCII_MARKDOWN, "### "),
        }
    }

    fn text(&self, preset: &str, heading: &str) -> String {
        let mut out = format!(
            "{} · {} cores · {} memory · retrohunt {}\n{} run(s) after {} warm-up, timeout {} s, \
             memory limit {}; a run over {} s is its engine's only one\n",
            self.machine.cpu,
            self.machine.cores,
            bytes(self.machine.memory),
            self.machine.retrohunt,
            self.runs,
            self.warmup,
            self.timeout_seconds,
            bytes(self.memory_limit),
            self.slow_after_seconds,
        );
        for size in &self.sizes {
            out.push_str(&format!("\n{heading}{}\n\n", size.label));
            let mut table = Table::new();
            table.load_preset(preset).set_header([
                "engine",
                "runs",
                "median",
                "min",
                "max",
                "× scan floor",
                "rows scanned",
                "rows/s",
                "result rows",
                "peak RSS",
                "operator peak",
            ]);
            for r in &size.contenders {
                let stopped = r.timed_out.then(|| format!("> {} s", self.timeout_seconds));
                let [median, min, max] = r.times.cells(r.failed.is_some(), stopped);
                let floor = r.times_scan_floor.map_or("-".into(), |x| {
                    format!("{}{x:.1}x", if r.timed_out { "> " } else { "" })
                });
                table.add_row([
                    r.contender.name().to_string(),
                    r.times.seconds.len().to_string(),
                    median,
                    min,
                    max,
                    floor,
                    count(r.rows_scanned.map(|n| n as f64)),
                    count(r.rows_per_second),
                    count(r.result_rows.map(|n| n as f64)),
                    bytes(r.peak_rss),
                    bytes(r.operator_peak),
                ]);
            }
            out.push_str(&format!("{table}\n"));
            for ratio in &size.ratios {
                out.push_str(&format!(
                    "{} is {}{:.1}x faster than {}\n",
                    ratio.faster.name(),
                    if ratio.at_least { "at least " } else { "" },
                    ratio.times,
                    ratio.slower.name()
                ));
            }
            for r in &size.contenders {
                if let Some(reason) = &r.failed {
                    out.push_str(&format!("{} failed: {reason}\n", r.contender.name()));
                }
                if let Some(difference) = &r.differs {
                    out.push_str(&format!("{} {difference}\n", r.contender.name()));
                }
            }
        }
        out
    }
}

pub(super) fn bytes(value: Option<u64>) -> String {
    value.map_or("-".into(), |b| ByteSize(b).display().iec().to_string())
}

/// Thousands separated, so 12635472 reads as 12,635,472.
pub(super) fn count(value: Option<f64>) -> String {
    let Some(value) = value else {
        return "-".into();
    };
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
