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
//! Every pair is found once: in the output partition of its driver row. No repartition, no
//! sort, no merge of the big side; the small side is read about twice. Statistics are only
//! trusted so far: every batch is checked to lie in its partition's declared span, and a
//! batch outside it stops the query instead of silently losing pairs.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::{cast, max, min};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{Result, ScalarValue, Statistics, exec_err};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ExecutionPlan, ExecutionPlanProperties, StatisticsArgs, StatisticsContext,
};
use futures::StreamExt;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    KeyPartitioned,
    /// Output partition `g` joins a contiguous run of driver partitions, one after another,
    /// so `outputs` runs go in parallel and each sorts nothing more than its own.
    TimeAligned {
        driver: Driver,
        outputs: usize,
    },
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Layout::KeyPartitioned => write!(f, "key-partitioned"),
            Layout::TimeAligned { driver, outputs } => {
                let (driver, _) = driver.order(("left", "right"));
                write!(f, "time-aligned(driver={driver}, outputs={outputs})")
            }
        }
    }
}

/// The times one input partition holds, as its statistics declare them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Empty,
    Within(i64, i64),
    Unknown,
}

/// Time-aligned only pays while each partner partition is read a few times; past this many on
/// average (a window of days over daily files, or one partner file spanning all the dates) a
/// key-partitioned join reads less.
const MAX_PARTNER_READS: f64 = 3.0;

/// One input partition's span and estimated rows.
type Partition = (Span, usize);

/// One side of the join as the layout sees it.
pub struct SideSpans<'a> {
    pub plan: &'a Arc<dyn ExecutionPlan>,
    pub time: &'a Column,
}

impl SideSpans<'_> {
    fn partitions(&self) -> Vec<Partition> {
        let context = StatisticsContext::new();
        let partitions = self.plan.output_partitioning().partition_count();
        (0..partitions)
            .map(|partition| {
                let args = StatisticsArgs::new().with_partition(Some(partition));
                match context.compute(self.plan.as_ref(), &args) {
                    Ok(stats) => (self.span(&stats), rows(&stats)),
                    Err(_) => (Span::Unknown, 0),
                }
            })
            .collect()
    }

    fn span(&self, stats: &Statistics) -> Span {
        if stats.num_rows == Precision::Exact(0) {
            return Span::Empty;
        }
        let Some(column) = stats.column_statistics.get(self.time.index()) else {
            return Span::Unknown;
        };
        match (
            column.min_value.get_value().and_then(as_i64),
            column.max_value.get_value().and_then(as_i64),
        ) {
            (Some(min), Some(max)) if min <= max => Span::Within(min, max),
            _ => Span::Unknown,
        }
    }
}

fn rows(stats: &Statistics) -> usize {
    stats.num_rows.get_value().copied().unwrap_or(0)
}

/// A time statistic in the column's own unit (timestamps are integers underneath).
fn as_i64(value: &ScalarValue) -> Option<i64> {
    match value.cast_to(&DataType::Int64).ok()? {
        ScalarValue::Int64(value) => value,
        _ => None,
    }
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
        _ => true,
    }
}

/// Which partitions a time-aligned join reads, for which output partition.
#[derive(Debug)]
pub struct Alignment {
    pub driver: Vec<Span>,
    pub partners: Vec<Span>,
    /// `meets[d]`: the partner partitions driver partition `d` meets.
    pub meets: Vec<Vec<usize>>,
    /// `runs[g]`: the driver partitions output partition `g` joins, in order.
    pub runs: Vec<Vec<usize>>,
}

impl Alignment {
    pub fn new(
        driver: Driver,
        (left, right): (&SideSpans, &SideSpans),
        bounds: (i64, i64),
        outputs: usize,
    ) -> Self {
        let partitions = (left.partitions(), right.partitions());
        Self::of_partitions(driver, partitions, bounds, outputs)
    }

    /// From each side's (span, rows) per partition.
    fn of_partitions(
        driver: Driver,
        (left, right): (Vec<Partition>, Vec<Partition>),
        (lower, upper): (i64, i64),
        outputs: usize,
    ) -> Self {
        let (driver_side, partner_side) = driver.order((left, right));
        let meets = driver_side
            .iter()
            .map(|&(d, _)| {
                let meets_partner = |&p: &usize| {
                    let (left, right) = driver.order((d, partner_side[p].0));
                    meet(left, right, lower, upper)
                };
                (0..partner_side.len()).filter(meets_partner).collect()
            })
            .collect();
        let driver_rows: Vec<usize> = driver_side.iter().map(|&(_, rows)| rows).collect();
        Alignment {
            driver: driver_side.into_iter().map(|(span, _)| span).collect(),
            partners: partner_side.into_iter().map(|(span, _)| span).collect(),
            meets,
            runs: contiguous_runs(&driver_rows, outputs),
        }
    }

    /// How many times the partners are read, on average over those holding rows.
    fn partner_reads(&self) -> f64 {
        let meetings: usize = self.meets.iter().map(Vec::len).sum();
        let holding = self.partners.iter().filter(|s| **s != Span::Empty).count();
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

/// Time-aligned when every partition's span is known, both inputs can be read more than once,
/// each has at least the session's target partitions (so DataFusion adds no repartition below
/// the join for parallelism), and partners are read few times; otherwise key-partitioned.
/// `streamed`: both inputs already arrive in (key, time) order.
pub fn choose(
    left: &SideSpans,
    right: &SideSpans,
    bounds: (i64, i64),
    target_partitions: usize,
    streamed: bool,
) -> Layout {
    let cores = target_partitions.max(1);
    let wide_enough = |side: &SideSpans| side.plan.output_partitioning().partition_count() >= cores;
    if !(wide_enough(left) && wide_enough(right) && rereadable(left.plan) && rereadable(right.plan))
    {
        return Layout::KeyPartitioned;
    }
    let partitions = (left.partitions(), right.partitions());
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
    let known = |spans: &[Span]| spans.iter().all(|span| *span != Span::Unknown);
    if known(&alignment.driver)
        && known(&alignment.partners)
        && alignment.partner_reads() <= MAX_PARTNER_READS
    {
        Layout::TimeAligned { driver, outputs }
    } else {
        Layout::KeyPartitioned
    }
}

/// Plans whose partitions may be executed more than once, as partners are: scans and
/// per-batch or per-partition operators. A repartition hands each output partition out once.
pub fn rereadable(plan: &Arc<dyn ExecutionPlan>) -> bool {
    const STATELESS: [&str; 6] = [
        "DataSourceExec",
        "FilterExec",
        "ProjectionExec",
        "SortExec",
        "CoalesceBatchesExec",
        "CooperativeExec",
    ];
    let mut all = true;
    let _ = plan.apply(|node| {
        all &= STATELESS.contains(&node.name());
        Ok(if all {
            TreeNodeRecursion::Continue
        } else {
            TreeNodeRecursion::Stop
        })
    });
    all
}

/// `stream`, failing on the first batch with a time outside `span`: a wrong statistic must
/// stop the query, not lose the pairs it hid.
pub fn checked(
    stream: SendableRecordBatchStream,
    time: usize,
    span: Span,
    what: String,
) -> SendableRecordBatchStream {
    let Span::Within(lowest, highest) = span else {
        return stream;
    };
    let schema = stream.schema();
    let checked = stream.map(move |batch| {
        let batch = batch?;
        check_batch(&batch, time, (lowest, highest), &what)?;
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
    fn empty_never_meets_and_unknown_always_does() {
        assert!(!meet(Span::Empty, day(1), 0, 600));
        assert!(!meet(Span::Unknown, Span::Empty, 0, 600));
        assert!(meet(Span::Unknown, day(9), 0, 600));
        assert!(meet(day(9), Span::Unknown, 0, 600));
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
