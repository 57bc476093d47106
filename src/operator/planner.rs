//! DataFusion's physical planner with this crate's logical nodes added.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::Result;
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};

use super::late_fetch::LateFetchPlanner;
use super::window_join::WindowJoinPlanner;

#[derive(Debug, Default)]
pub struct OperatorQueryPlanner {
    distributed: bool,
}

impl OperatorQueryPlanner {
    /// A planner for a cluster's scheduler (see [`WindowJoinPlanner::distributed`]).
    pub fn distributed() -> Self {
        OperatorQueryPlanner { distributed: true }
    }
}

#[async_trait]
impl QueryPlanner for OperatorQueryPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let window_join = match self.distributed {
            true => WindowJoinPlanner::distributed(),
            false => WindowJoinPlanner::default(),
        };
        DefaultPhysicalPlanner::with_extension_planners(vec![
            Arc::new(window_join),
            Arc::new(LateFetchPlanner),
        ])
        .create_physical_plan(logical_plan, session)
        .await
    }
}
