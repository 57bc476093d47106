//! [`WindowJoinExec`]: the plan node, its requirements on the inputs and its display.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::compute::SortOptions;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result, internal_err, plan_err};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{
    EquivalenceProperties, LexOrdering, OrderingRequirements, PhysicalExpr, PhysicalExprRef,
    PhysicalSortExpr,
};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, Distribution, ExecutionPlan,
    ExecutionPlanProperties, InputDistributionRequirements, PlanProperties, ReplaceChildrenOptions,
    apply_expression_roots,
};

use super::metrics::WindowJoinMetrics;
use super::stream::{self, Input, Params};
use crate::operator::band::Bound;

/// The order both inputs must have after their keys: ascending, nulls last, as the lake's
/// files declare it (so no sort is added above them).
const ORDER: SortOptions = SortOptions {
    descending: false,
    nulls_first: false,
};

/// An inner join of rows with equal keys whose right time lies in
/// `[left time + lower, left time + upper]`, further filtered by `residual`.
#[derive(Debug, Clone)]
pub struct WindowJoinExec {
    left: Arc<dyn ExecutionPlan>,
    right: Arc<dyn ExecutionPlan>,
    on: Vec<(PhysicalExprRef, PhysicalExprRef)>,
    left_time: Column,
    right_time: Column,
    lower: Bound,
    upper: Bound,
    /// Over the output schema (left columns, then right columns).
    residual: Option<PhysicalExprRef>,
    schema: SchemaRef,
    metrics: ExecutionPlanMetricsSet,
    properties: Arc<PlanProperties>,
}

impl WindowJoinExec {
    /// # Errors
    /// Times that are not integers or timestamps of the same type on both sides; no keys.
    pub fn try_new(
        left: Arc<dyn ExecutionPlan>,
        right: Arc<dyn ExecutionPlan>,
        on: Vec<(PhysicalExprRef, PhysicalExprRef)>,
        (left_time, right_time): (Column, Column),
        (lower, upper): (Bound, Bound),
        residual: Option<PhysicalExprRef>,
    ) -> Result<Self> {
        if on.is_empty() {
            return plan_err!("WindowJoin needs at least one equality key");
        }
        let left_type = left_time.data_type(&left.schema())?;
        let right_type = right_time.data_type(&right.schema())?;
        if left_type != right_type
            || !matches!(left_type, DataType::Int64 | DataType::Timestamp(_, _))
        {
            return plan_err!(
                "WindowJoin: times must be integers or timestamps of one type, not {left_type} \
                 and {right_type}"
            );
        }
        for (l, r) in &on {
            let (l, r) = (l.data_type(&left.schema())?, r.data_type(&right.schema())?);
            if l != r {
                return plan_err!("WindowJoin: key types differ: {l} and {r}");
            }
        }
        let schema = Arc::new(output_schema(&left.schema(), &right.schema()));
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            left.output_partitioning().clone(),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Ok(WindowJoinExec {
            left,
            right,
            on,
            left_time,
            right_time,
            lower,
            upper,
            residual,
            schema,
            metrics: ExecutionPlanMetricsSet::new(),
            properties,
        })
    }

    pub fn times(&self) -> (&Column, &Column) {
        (&self.left_time, &self.right_time)
    }

    pub fn bounds(&self) -> (Bound, Bound) {
        (self.lower, self.upper)
    }

    pub fn residual(&self) -> Option<&PhysicalExprRef> {
        self.residual.as_ref()
    }

    fn ordering(keys: Vec<PhysicalExprRef>, time: &Column) -> OrderingRequirements {
        let time: PhysicalExprRef = Arc::new(time.clone());
        let exprs = keys
            .into_iter()
            .chain([time])
            .map(|expr| PhysicalSortExpr::new(expr, ORDER));
        let ordering = LexOrdering::new(exprs).expect("at least the time");
        OrderingRequirements::from(ordering)
    }

    /// The left keys and the right keys.
    pub fn keys(&self) -> (Vec<PhysicalExprRef>, Vec<PhysicalExprRef>) {
        self.on.iter().cloned().unzip()
    }
}

/// The join's output: the left columns, then the right columns (the residual is evaluated
/// over it).
pub fn output_schema(left: &Schema, right: &Schema) -> Schema {
    let fields = left.fields().iter().chain(right.fields().iter()).cloned();
    Schema::new(fields.collect::<Vec<_>>())
}

impl DisplayAs for WindowJoinExec {
    fn fmt_as(&self, format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let on: Vec<String> = self.on.iter().map(|(l, r)| format!("({l}, {r})")).collect();
        let window = format!(
            "{} in [{} + {}, {} + {}]",
            self.right_time, self.left_time, self.lower, self.left_time, self.upper
        );
        match format {
            DisplayFormatType::Default | DisplayFormatType::Verbose => {
                write!(f, "WindowJoinExec: on=[{}], window={window}", on.join(", "))?;
                if let Some(residual) = &self.residual {
                    write!(f, ", residual={residual}")?;
                }
                Ok(())
            }
            DisplayFormatType::TreeRender => {
                writeln!(f, "on={}", on.join(", "))?;
                writeln!(f, "window={window}")
            }
        }
    }
}

impl ExecutionPlan for WindowJoinExec {
    fn name(&self) -> &'static str {
        "WindowJoinExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    /// Equal keys meet in one partition; any partition count works, the same on both sides.
    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        let (left, right) = self.keys();
        InputDistributionRequirements::co_partitioned(vec![
            Distribution::KeyPartitioned(left),
            Distribution::KeyPartitioned(right),
        ])
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        self.input_distribution_requirements().into_per_child()
    }

    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        let (left, right) = self.keys();
        vec![
            Some(Self::ordering(left, &self.left_time)),
            Some(Self::ordering(right, &self.right_time)),
        ]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![false, false]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.left, &self.right]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        let keys = self.on.iter().flat_map(|(l, r)| [l, r]);
        apply_expression_roots(keys.chain(&self.residual), f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [left, right] = <[_; 2]>::try_from(children)
            .or_else(|_| internal_err!("WindowJoinExec has two children"))?;
        Ok(Arc::new(match options.children_properties {
            ChildrenPropertiesMode::Keep => WindowJoinExec {
                left,
                right,
                metrics: ExecutionPlanMetricsSet::new(),
                ..WindowJoinExec::clone(&self)
            },
            ChildrenPropertiesMode::Recompute => WindowJoinExec::try_new(
                left,
                right,
                self.on.clone(),
                (self.left_time.clone(), self.right_time.clone()),
                (self.lower, self.upper),
                self.residual.clone(),
            )?,
        }))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let (left_keys, right_keys) = self.keys();
        let fields = left_keys
            .iter()
            .map(|key| {
                let data_type = key.data_type(&self.left.schema())?;
                Ok(SortField::new_with_options(data_type, ORDER))
            })
            .collect::<Result<Vec<_>>>()?;
        let input = |plan: &Arc<dyn ExecutionPlan>, keys, time: &Column, side| {
            Ok::<_, DataFusionError>(Input {
                stream: plan.execute(partition, context.clone())?,
                keys,
                time: time.index(),
                side,
            })
        };
        let left = input(&self.left, left_keys, &self.left_time, "left")?;
        let right = input(&self.right, right_keys, &self.right_time, "right")?;
        let params = Params {
            schema: self.schema.clone(),
            lower: self.lower.inclusive_lower(),
            upper: self.upper.inclusive_upper(),
            residual: self.residual.clone(),
            converter: RowConverter::new(fields)?,
        };
        let metrics = WindowJoinMetrics::new(&self.metrics, partition);
        Ok(stream::execute(
            left, right, params, partition, &context, metrics,
        ))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}
