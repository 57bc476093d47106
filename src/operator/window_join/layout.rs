//! Which partitions of the two inputs meet.
//!
//! Key-partitioned: DataFusion hash-partitions both sides by key, so partition `i` of one side
//! meets partition `i` of the other. Keeping each partition in (key, time) order then costs an
//! order-preserving repartition, which merges every input partition into every output one:
//! over a lake of date files, a merge of all the dates, and buffers for a heavy key.
//!
//! Time-aligned: each input partition covers a time span its statistics declare (a lake's date
//! file: one day). Rows of two partitions can only pair when the spans leave room for the
//! window, so output partition `j` reads the larger ("driver") side's partition `j` once, and
//! merges in only the other side's partitions whose spans reach it:
//!
//! ```text
//!  right (driver):  [ day 1 ]   [ day 2 ]   [ day 3 ]      read once each
//!                       ▲        ▲     ▲     ▲     ▲
//!  left (partners): [ day 1 ]──┘ [ day 2 ]──┘ [ day 3 ]    a 10 minute window reaches the
//!                                                          next day's first 10 minutes
//! ```
//!
//! Every pair is found once: in the output partition of its driver row. No repartition and no
//! merge of the big side (files not in (key, time) order are each sorted on their own); the
//! small side is read about twice. Which inputs qualify is `files.rs`'s to say. Statistics are
//! only trusted so far: every partition is read, those that meet nothing only to be checked,
//! and a batch outside its partition's declared span stops the query instead of silently
//! losing pairs.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::{cast, max, min};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, exec_err};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::StreamExt;

use super::files;

/// The larger input of a time-aligned join: read once, its partitions drive the output's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    Left,
    Right,
}

impl Driver {
    /// A (left, right) pair as (driver's, partner's); and, the swap being its own inverse, a
    /// (driver's, partner's) pair back as (left, right).
    pub fn order<T>(self, (left, right): (T, T)) -> (T, T) {
        match self {
            Driver::Left => (left, right),
            Driver::Right => (right, left),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Why not time-aligned travels with the plan, for `--explain`.
    KeyPartitioned(Because),
    /// Decided from the inputs' statistics when planning, and carried with the plan (a plan
    /// decoded elsewhere may have lost the statistics, never the files' order).
    TimeAligned(Arc<Alignment>),
    /// The side other than the driver holds at most one row per key (an aggregate by the
    /// key, an `arg_max`), as the logical plan's functional dependencies say: a row of the
    /// driver pairs with at most one of its rows, so nothing needs an order. That side is held
    /// whole, in a hash table on the key; the driver streams past it in its own partitions,
    /// neither shuffled nor sorted (`probe.rs`).
    Probe(Driver),
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Layout::KeyPartitioned(because) => write!(f, "key-partitioned ({because})"),
            Layout::Probe(driver) => {
                let (driver, held) = driver.order(("left", "right"));
                write!(f, "probe(driver={driver}, {held} held: unique on the keys)")
            }
            Layout::TimeAligned(alignment) => {
                let (driver, _) = alignment.driver.order(("left", "right"));
                write!(
                    f,
                    "time-aligned(driver={driver}, outputs={})",
                    alignment.outputs
                )
            }
        }
    }
}

/// Why a join is not time-aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Because {
    /// An input is not a scan of whole files, one per partition, each read on its own
    /// (tables in memory, a repartition, files split by byte range or grouped).
    NotWholeFiles,
    /// Fewer files than the session's target partitions: the cores would idle.
    FewFiles,
    /// A file's time statistics are missing, inexact, or not in the column's type.
    InexactSpans,
    /// The files' time spans overlap so much that partners would be read many times.
    SpansOverlap,
    /// The plan runs on a cluster, whose stages hand each task only its own partition of an
    /// input: an output partition cannot read its partners' partitions there.
    Distributed,
}

impl fmt::Display for Because {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Because::NotWholeFiles => "inputs are not one whole file per partition",
            Because::FewFiles => "fewer files than target partitions",
            Because::InexactSpans => "files' time statistics are missing or inexact",
            Because::SpansOverlap => "files' time spans overlap",
            Because::Distributed => "a cluster's tasks read only their own partition",
        })
    }
}

/// The times one input partition holds, as its statistics declare them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Empty,
    Within(i64, i64),
}

/// Time-aligned only pays while each partner partition is read a few times; past this many on
/// average (a window of days over daily files, or one partner file spanning all the dates) a
/// key-partitioned join reads less.
const MAX_PARTNER_READS: f64 = 3.0;

/// One input partition's span and estimated rows.
pub type Partition = (Span, usize);

/// One side of the join as the layout sees it.
pub struct SideSpans<'a> {
    pub plan: &'a Arc<dyn ExecutionPlan>,
    pub time: &'a Column,
}

/// Can a left row in `left` pair with a right row in `right`, whose time must lie in
/// `[left time + lower, left time + upper]`?
fn meet(left: Span, right: Span, lower: i64, upper: i64) -> bool {
    match (left, right) {
        (Span::Empty, _) | (_, Span::Empty) => false,
        (Span::Within(left_min, left_max), Span::Within(right_min, right_max)) => {
            i128::from(left_min) + i128::from(lower) <= i128::from(right_max)
                && i128::from(right_min) <= i128::from(left_max) + i128::from(upper)
        }
    }
}

/// Which partitions a time-aligned join reads, for which output partition. Output partition
/// `g` joins a contiguous run of driver partitions, one after another, so `outputs` runs go
/// in parallel and each sorts nothing more than its own.
#[derive(Debug, PartialEq, Eq)]
pub struct Alignment {
    pub driver: Driver,
    pub outputs: usize,
    /// Each input's partitions as planned: (left, right).
    pub partitions: (Vec<Partition>, Vec<Partition>),
    /// `meets[d]`: the partner partitions driver partition `d` meets.
    pub meets: Vec<Vec<usize>>,
    /// `runs[g]`: the driver partitions output partition `g` joins, in order.
    pub runs: Vec<Vec<usize>>,
    /// `unmet[g]`: the partner partitions no driver partition meets, which output partition
    /// `g` reads only to check them against their spans (a partition never opened could hide
    /// rows its statistics understate).
    pub unmet: Vec<Vec<usize>>,
}

impl Alignment {
    /// From each side's (span, rows) per partition and the window's inclusive bounds.
    pub fn of_partitions(
        driver: Driver,
        partitions: (Vec<Partition>, Vec<Partition>),
        (lower, upper): (i64, i64),
        outputs: usize,
    ) -> Self {
        let (driver_side, partner_side) = driver.order((&partitions.0, &partitions.1));
        let meets: Vec<Vec<usize>> = driver_side
            .iter()
            .map(|&(d, _)| {
                let meets_partner = |&p: &usize| {
                    let (left, right) = driver.order((d, partner_side[p].0));
                    meet(left, right, lower, upper)
                };
                (0..partner_side.len()).filter(meets_partner).collect()
            })
            .collect();
        let outputs = outputs.max(1);
        let mut unmet = vec![Vec::new(); outputs];
        for p in 0..partner_side.len() {
            if !meets.iter().any(|partners| partners.contains(&p)) {
                unmet[p % outputs].push(p);
            }
        }
        let driver_rows: Vec<usize> = driver_side.iter().map(|&(_, rows)| rows).collect();
        Alignment {
            driver,
            outputs,
            meets,
            runs: contiguous_runs(&driver_rows, outputs),
            unmet,
            partitions,
        }
    }

    /// The (driver's, partner's) partitions.
    fn sides(&self) -> (&[Partition], &[Partition]) {
        self.driver.order((&self.partitions.0, &self.partitions.1))
    }

    pub fn driver_span(&self, d: usize) -> Span {
        self.sides().0[d].0
    }

    pub fn partner_span(&self, p: usize) -> Span {
        self.sides().1[p].0
    }

    /// How many times the partners are read, on average over those holding rows.
    fn partner_reads(&self) -> f64 {
        let meetings: usize = self.meets.iter().map(Vec::len).sum();
        let (_, partners) = self.sides();
        let holding = partners.iter().filter(|(s, _)| *s != Span::Empty).count();
        meetings as f64 / holding.max(1) as f64
    }
}

/// `outputs` runs of consecutive partitions with about equal rows each (by count where the
/// statistics give no rows).
fn contiguous_runs(rows: &[usize], outputs: usize) -> Vec<Vec<usize>> {
    let weights: Vec<u128> = if rows.iter().all(|&r| r == 0) {
        vec![1; rows.len()]
    } else {
        rows.iter().map(|&r| r as u128).collect()
    };
    let total: u128 = weights.iter().sum();
    let outputs = outputs.max(1);
    let mut runs = vec![Vec::new(); outputs];
    let mut before = 0u128;
    for (partition, weight) in weights.iter().enumerate() {
        // The run whose share holds this partition's middle.
        let middle = before * 2 + weight;
        let run = (middle * outputs as u128 / (2 * total.max(1))) as usize;
        runs[run.min(outputs - 1)].push(partition);
        before += weight;
    }
    runs
}

/// Runs per core of a time-aligned join whose inputs stream in (key, time) order. Dates differ
/// in size and do not divide evenly among the cores (a week is 4 + 3 days on two); with two
/// runs per core, tokio moves a run to whichever core is free, and a core left with the long
/// run no longer finishes alone. Each run holds one window, so the operator's memory doubles:
/// 8 to 16 MiB on the 10,000-user tenant. Measured on its first 7 days, two interleaved
/// rounds: 0.59 and 0.65 s against 0.71 and 0.68 s with one run per core. Where each date
/// file must be sorted first (hunting on `CreatedDateTime`), a run holds its sorted files
/// whole, and twice the runs would hold twice the files: the 30-day hunt then failed under a
/// 512 MiB limit that one run per core met in 8 runs of 9.
const RUNS_PER_CORE: usize = 2;

/// Time-aligned when both inputs read whole files with exact time statistics (`files.rs`),
/// each has at least the session's target partitions (so DataFusion adds no repartition below
/// the join for parallelism), and partners are read few times; otherwise key-partitioned,
/// saying why. `streamed`: both inputs already arrive in (key, time) order.
pub fn choose(
    left: &SideSpans,
    right: &SideSpans,
    bounds: (i64, i64),
    target_partitions: usize,
    streamed: bool,
) -> Layout {
    let partitions = match (files::partitions(left), files::partitions(right)) {
        (Ok(left), Ok(right)) => (left, right),
        (Err(because), _) | (_, Err(because)) => return Layout::KeyPartitioned(because),
    };
    let cores = target_partitions.max(1);
    if partitions.0.len() < cores || partitions.1.len() < cores {
        return Layout::KeyPartitioned(Because::FewFiles);
    }
    let total = |side: &[Partition]| side.iter().map(|&(_, rows)| rows).sum::<usize>();
    let driver = if total(&partitions.0) > total(&partitions.1) {
        Driver::Left
    } else {
        Driver::Right
    };
    let (driver_partitions, _) = driver.order((partitions.0.len(), partitions.1.len()));
    let runs_per_core = if streamed { RUNS_PER_CORE } else { 1 };
    let outputs = (cores * runs_per_core).min(driver_partitions);
    let alignment = Alignment::of_partitions(driver, partitions, bounds, outputs);
    if alignment.partner_reads() <= MAX_PARTNER_READS {
        Layout::TimeAligned(Arc::new(alignment))
    } else {
        Layout::KeyPartitioned(Because::SpansOverlap)
    }
}

/// `stream`, failing on the first batch with a time outside `span`: a wrong statistic must
/// stop the query, not lose the pairs it hid.
pub fn checked(
    stream: SendableRecordBatchStream,
    time: usize,
    span: Span,
    what: String,
) -> SendableRecordBatchStream {
    let schema = stream.schema();
    let checked = stream.map(move |batch| {
        let batch = batch?;
        match span {
            Span::Within(lowest, highest) => check_batch(&batch, time, (lowest, highest), &what)?,
            Span::Empty if batch.num_rows() > 0 => {
                return exec_err!(
                    "WindowJoin: {what} holds rows though its statistics declare it empty; is \
                     a file's metadata wrong?"
                );
            }
            Span::Empty => {}
        }
        Ok(batch)
    });
    Box::pin(RecordBatchStreamAdapter::new(schema, checked))
}

fn check_batch(batch: &RecordBatch, time: usize, span: (i64, i64), what: &str) -> Result<()> {
    let times = cast(batch.column(time), &DataType::Int64)?;
    let times = times.as_primitive::<Int64Type>();
    if let (Some(first), Some(last)) = (min(times), max(times))
        && (first < span.0 || last > span.1)
    {
        return exec_err!(
            "WindowJoin: {what} holds times {first}..={last}, outside the span \
             {}..={} its statistics declare; is a file's metadata wrong?",
            span.0,
            span.1
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    fn day(d: i64) -> Span {
        Span::Within(d * DAY, d * DAY + DAY - 1)
    }

    #[test]
    fn a_short_window_meets_the_same_day_and_crosses_midnight_forward_only() {
        let (lower, upper) = (0, 600);
        assert!(meet(day(1), day(1), lower, upper));
        // A left row at 23:55 of day 1 reaches 00:05 of day 2 ...
        assert!(meet(day(1), day(2), lower, upper));
        // ... but no right row of day 1 can follow a left row of day 2.
        assert!(!meet(day(2), day(1), lower, upper));
        assert!(!meet(day(1), day(3), lower, upper));
    }

    #[test]
    fn bounds_are_inclusive_at_the_edges() {
        // Left ends at 100, right starts at 110: a window up to +10 just reaches it.
        let (left, right) = (Span::Within(0, 100), Span::Within(110, 200));
        assert!(meet(left, right, 0, 10));
        assert!(!meet(left, right, 0, 9));
        // A window that looks back: right in [t - 5, t].
        assert!(meet(Span::Within(205, 300), right, -5, 0));
        assert!(!meet(Span::Within(206, 300), right, -5, 0));
    }

    #[test]
    fn empty_never_meets() {
        assert!(!meet(Span::Empty, day(1), 0, 600));
        assert!(!meet(day(1), Span::Empty, 0, 600));
    }

    #[test]
    fn each_day_of_the_driver_meets_its_own_day_and_the_one_before() {
        let days = |rows: &[usize]| -> Vec<Partition> {
            rows.iter()
                .enumerate()
                .map(|(d, &r)| (day(d as i64), r))
                .collect()
        };
        // The right side (non-interactive) is larger: it drives.
        let (left, right) = (days(&[10, 10, 10]), days(&[100, 100, 100]));
        let alignment = Alignment::of_partitions(Driver::Right, (left, right), (0, 600), 2);
        assert_eq!(alignment.meets, [vec![0], vec![0, 1], vec![1, 2]]);
        // Day 1's middle sits exactly at the halfway mark, which starts the second run.
        assert_eq!(alignment.runs, [vec![0], vec![1, 2]]);
        // Left days 0 and 1 are read twice, day 2 once.
        assert!((alignment.partner_reads() - 5.0 / 3.0).abs() < 1e-9);
        // Driven from the left, a left day meets its own right day and the next.
        let (left, right) = (days(&[100, 100, 100]), days(&[10, 10, 10]));
        let alignment = Alignment::of_partitions(Driver::Left, (left, right), (0, 600), 2);
        assert_eq!(alignment.meets, [vec![0, 1], vec![1, 2], vec![2]]);
        assert_eq!(alignment.unmet, [Vec::<usize>::new(), vec![]]);
    }

    #[test]
    fn partners_no_driver_meets_are_still_read_once() {
        // Left days 0, 5 and 9 (plus an empty partition); right days 0 and 1. A window of
        // +10 minutes reaches from day 0 into day 1 only: left days 5 and 9 and the empty
        // partition meet nobody, and are spread over the outputs to be checked.
        let left = vec![(day(0), 10), (day(5), 10), (day(9), 10), (Span::Empty, 0)];
        let right = vec![(day(0), 100), (day(1), 100)];
        let alignment = Alignment::of_partitions(Driver::Right, (left, right), (0, 600), 2);
        assert_eq!(alignment.meets, [vec![0], vec![0]]);
        assert_eq!(alignment.unmet, [vec![2], vec![1, 3]]);
    }

    #[test]
    fn runs_are_contiguous_and_balanced_by_rows() {
        assert_eq!(
            contiguous_runs(&[10, 10, 10, 10], 2),
            [vec![0, 1], vec![2, 3]]
        );
        // A heavy first day takes a run of its own.
        assert_eq!(contiguous_runs(&[90, 5, 5], 2), [vec![0], vec![1, 2]]);
        // Without row counts, by count; more runs than partitions leaves some empty.
        assert_eq!(contiguous_runs(&[0, 0, 0], 2), [vec![0], vec![1, 2]]);
        assert_eq!(contiguous_runs(&[7], 2), [vec![], vec![0]]);
        assert_eq!(contiguous_runs(&[], 2), [Vec::<usize>::new(), vec![]]);
    }

    #[test]
    fn a_batch_outside_its_declared_span_is_an_error() {
        use datafusion::arrow::array::TimestampNanosecondArray;
        use datafusion::arrow::datatypes::{Field, Schema, TimeUnit};
        let schema = Arc::new(Schema::new(vec![Field::new(
            "t",
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            true,
        )]));
        let batch = |times: Vec<Option<i64>>| {
            let times = TimestampNanosecondArray::from(times);
            RecordBatch::try_new(schema.clone(), vec![Arc::new(times)]).unwrap()
        };
        let what = "partition 3 of the left input";
        // Both ends inclusive; nulls are not times.
        assert!(check_batch(&batch(vec![Some(10), None, Some(20)]), 0, (10, 20), what).is_ok());
        for outside in [9, 21] {
            let error = check_batch(&batch(vec![Some(15), Some(outside)]), 0, (10, 20), what)
                .unwrap_err()
                .to_string();
            assert!(
                error.contains(what) && error.contains("outside the span"),
                "{error}"
            );
        }
    }

    #[test]
    fn extreme_offsets_do_not_overflow() {
        let all = Span::Within(i64::MIN, i64::MAX);
        assert!(meet(all, all, i64::MIN, i64::MAX));
        assert!(!meet(
            Span::Within(i64::MAX, i64::MAX),
            Span::Within(0, 0),
            1,
            i64::MAX
        ));
    }
}
