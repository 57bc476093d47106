//! Turns the logical [`WindowJoinNode`] into a [`WindowJoinExec`], compiling its keys against
//! each input and its residual against the join's output.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{LogicalPlan, UserDefinedLogicalNode};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};
use datafusion::physical_planner::{ExtensionPlanner, PhysicalPlanner};

use super::exec::WindowJoinExec;
use super::files;
use super::layout::{self, Because, Driver, Layout, SideSpans};
use super::node::{WindowJoinNode, unique_on};

/// Plans [`WindowJoinNode`]s.
#[derive(Debug, Default)]
pub struct WindowJoinPlanner {
    distributed: bool,
}

impl WindowJoinPlanner {
    /// A planner for a cluster's scheduler. Ballista cuts the plan into stages, and a task of a
    /// stage reads only its own partition of each input, so the time-aligned layout, whose
    /// output partitions read their partners' input partitions, is never chosen there: both
    /// inputs are shuffled by key instead.
    pub fn distributed() -> Self {
        WindowJoinPlanner { distributed: true }
    }
}

#[async_trait]
impl ExtensionPlanner for WindowJoinPlanner {
    async fn plan_extension(
        &self,
        planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        session: &dyn Session,
        planning_ctx: &PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(node) = node.as_any().downcast_ref::<WindowJoinNode>() else {
            return Ok(None);
        };
        let ([left_plan, right_plan], [left, right]) = (logical_inputs, physical_inputs) else {
            return plan_err!("WindowJoin has two inputs");
        };
        let (left_schema, right_schema) = (left_plan.schema(), right_plan.schema());
        let band = &node.band;
        let on = band
            .on
            .iter()
            .map(|(l, r)| {
                Ok((
                    planner.create_physical_expr(l, left_schema, session, planning_ctx)?,
                    planner.create_physical_expr(r, right_schema, session, planning_ctx)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let time = |schema: &datafusion::common::DFSchema, column| -> Result<Column> {
            let index = schema.index_of_column(column)?;
            Ok(Column::new(schema.field(index).name(), index))
        };
        let residual = band
            .residual
            .as_ref()
            .map(|expr| planner.create_physical_expr(expr, &node.schema, session, planning_ctx))
            .transpose()?;
        let (left_time, right_time) = (
            time(left_schema, &band.left_time)?,
            time(right_schema, &band.right_time)?,
        );
        let (left_keys, right_keys): (Vec<_>, Vec<_>) = on.iter().cloned().unzip();
        let in_order = |plan: &Arc<dyn ExecutionPlan>, keys, time| {
            plan.equivalence_properties()
                .ordering_satisfy(WindowJoinExec::lex_ordering(keys, time))
        };
        let streamed =
            in_order(left, left_keys, &left_time)? && in_order(right, right_keys, &right_time)?;
        let (left_on, right_on): (Vec<_>, Vec<_>) = band.on.iter().cloned().unzip();
        let layout = if self.distributed {
            Layout::KeyPartitioned(Because::Distributed)
        } else if unique_on(right_plan, &right_on) {
            Layout::Probe(Driver::Left)
        } else if unique_on(left_plan, &left_on) {
            Layout::Probe(Driver::Right)
        } else {
            layout::choose(
                &SideSpans {
                    plan: left,
                    time: &left_time,
                },
                &SideSpans {
                    plan: right,
                    time: &right_time,
                },
                (band.lower.inclusive_lower(), band.upper.inclusive_upper()),
                session.config().target_partitions(),
                streamed,
            )
        };
        let (left, right) = match &layout {
            Layout::TimeAligned(_) => (files::pin(left)?, files::pin(right)?),
            Layout::KeyPartitioned(_) | Layout::Probe(_) => (left.clone(), right.clone()),
        };
        let exec = WindowJoinExec::try_new(
            left,
            right,
            on,
            (left_time, right_time),
            (band.lower, band.upper),
            residual,
            layout,
        )?;
        Ok(Some(Arc::new(exec)))
    }
}
