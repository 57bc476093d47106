//! Late materialisation for band joins: decide on the narrow columns, read the wide ones for
//! the joined rows only.
//!
//! A hunt reads, per sign-in, a few narrow columns it decides on (the user, the time, the
//! result, the address) and wide text it only reports (correlation ids, app names). A probed
//! band join (one side one row per key) keeps few of the other side's rows; carried through
//! it, the wide text is decoded for every row and thrown away for most. Here
//! ([`LateFetchRule`], `rule.rs`) the join's inputs read each row's file and position instead
//! of the columns they only carry, the join carries those, and [`LateFetchExec`] (`exec.rs`)
//! above it reads the columns again for the rows kept, each file once per round with only the
//! pages that hold them (`read.rs`).
//!
//! The contract: the rows above the join, every column of them, are what they would have been
//! without it. Only tables whose files hold their columns as the table reads them qualify (the
//! catalog says which); the positions are the scan's own (`file_row_index()`), and a reader
//! holds the lake as of one commit for the whole query (docs/lake.md), so the second read finds
//! the rows the first one did (a file with fewer rows than a position names stops the query).
//! On a cluster the rule is not registered: the fetch would need the executors to reach every
//! file of the stage above the join.

mod exec;
mod node;
mod read;
mod rule;

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{LogicalPlan, UserDefinedLogicalNode};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{ExtensionPlanner, PhysicalPlanner};

pub use rule::{LateFetchRule, Locate};

use exec::LateFetchExec;
use node::LateFetchNode;

/// Plans [`node::LateFetchNode`]s.
#[derive(Debug, Default)]
pub struct LateFetchPlanner;

#[async_trait]
impl ExtensionPlanner for LateFetchPlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        _session: &dyn Session,
        _planning_ctx: &PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(node) = node.as_any().downcast_ref::<LateFetchNode>() else {
            return Ok(None);
        };
        let [input] = physical_inputs else {
            return plan_err!("LateFetch has one input");
        };
        let schema = Arc::new(node.schema.as_arrow().clone());
        let exec = LateFetchExec::try_new(Arc::clone(input), node.plan.clone(), schema)?;
        Ok(Some(Arc::new(exec)))
    }
}
