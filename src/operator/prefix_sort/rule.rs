//! Puts [`PrefixSortExec`] where DataFusion planned a full sort into one partition.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};

use super::PrefixSortExec;

/// Replaces `SortPreservingMergeExec` over a partition-wise `SortExec`, or a `SortExec` into
/// one partition, when neither has a limit and the order leads with a fixed-width column.
/// Sorts that keep several partitions (under window functions, merge joins) stay as they are.
#[derive(Debug, Default)]
pub struct PrefixSortRule;

impl PhysicalOptimizerRule for PrefixSortRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_down(|node| {
            Ok(match full_sort(&node)? {
                Some(sort) => Transformed::yes(Arc::new(sort) as Arc<dyn ExecutionPlan>),
                None => Transformed::no(node),
            })
        })
        .data()
    }

    fn name(&self) -> &str {
        "prefix_sort"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

fn full_sort(node: &Arc<dyn ExecutionPlan>) -> Result<Option<PrefixSortExec>> {
    let sort = if let Some(merge) = node.downcast_ref::<SortPreservingMergeExec>() {
        match merge.input().downcast_ref::<SortExec>() {
            Some(sort)
                if merge.fetch().is_none()
                    && sort.preserve_partitioning()
                    && sort.expr() == merge.expr() =>
            {
                sort
            }
            _ => return Ok(None),
        }
    } else if let Some(sort) = node.downcast_ref::<SortExec>() {
        if node.output_partitioning().partition_count() != 1 {
            return Ok(None);
        }
        sort
    } else {
        return Ok(None);
    };
    if sort.fetch().is_some() {
        return Ok(None);
    }
    PrefixSortExec::try_new(sort.expr().clone(), sort.input().clone())
}
