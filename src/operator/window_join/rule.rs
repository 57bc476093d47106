//! The optimizer rule that puts the window join in place of every band-shaped `Join`.
//! It runs after DataFusion's own rules have pushed filters into the join and split its
//! equalities from the rest, which is when the band shape is visible.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::tree_node::Transformed;
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};

use super::band::Band;
use super::node::WindowJoinNode;

#[derive(Debug, Default)]
pub struct WindowJoinRule;

impl OptimizerRule for WindowJoinRule {
    fn name(&self) -> &str {
        "window_join"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Join(join) = plan else {
            return Ok(Transformed::no(plan));
        };
        let Some(band) = Band::recognise(&join) else {
            return Ok(Transformed::no(LogicalPlan::Join(join)));
        };
        let node = WindowJoinNode {
            left: Arc::unwrap_or_clone(join.left),
            right: Arc::unwrap_or_clone(join.right),
            band,
            schema: join.schema,
        };
        Ok(Transformed::yes(LogicalPlan::Extension(Extension {
            node: Arc::new(node),
        })))
    }
}
