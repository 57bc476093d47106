//! What `EXPLAIN ANALYZE` shows for the window join: enough to see the work stay linear
//! (candidate pairs near output rows, not near the product of the sides) and the memory stay
//! bounded by the window.

use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, Gauge, MetricBuilder,
};

#[derive(Clone)]
pub struct WindowJoinMetrics {
    pub baseline: BaselineMetrics,
    pub left_rows: Count,
    pub right_rows: Count,
    /// Pairs inside the window, before the residual predicate.
    pub candidate_pairs: Count,
    pub peak_window_rows: Gauge,
    pub peak_window_bytes: Gauge,
}

impl WindowJoinMetrics {
    pub fn new(metrics: &ExecutionPlanMetricsSet, partition: usize) -> Self {
        let builder = || MetricBuilder::new(metrics);
        WindowJoinMetrics {
            baseline: BaselineMetrics::new(metrics, partition),
            left_rows: builder().counter("left_rows", partition),
            right_rows: builder().counter("right_rows", partition),
            candidate_pairs: builder().counter("candidate_pairs", partition),
            peak_window_rows: builder().gauge("peak_window_rows", partition),
            peak_window_bytes: builder().peak_memory_usage("peak_window_bytes", partition),
        }
    }
}
