//! The band join as a logical plan node: what [`super::rule::WindowJoinRule`] puts in place
//! of a `Join`, and what the [`super::planner::WindowJoinPlanner`] turns into a
//! [`super::exec::WindowJoinExec`]. Being logical, it survives planners (such as
//! Ballista's) that drop custom physical optimizer rules.

use std::cmp::Ordering;
use std::fmt;

use datafusion::common::{DFSchemaRef, Dependency, JoinType, Result, internal_err};
use datafusion::logical_expr::logical_plan::build_join_schema;
use datafusion::logical_expr::{Expr, LogicalPlan, UserDefinedLogicalNodeCore};

use super::band::{Band, Bound};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WindowJoinNode {
    pub left: LogicalPlan,
    pub right: LogicalPlan,
    pub band: Band,
    /// The output schema of the join it replaces: left columns, then right columns.
    pub schema: DFSchemaRef,
}

impl WindowJoinNode {
    /// The join of `left` and `right` by `band`, its schema built from theirs.
    ///
    /// # Errors
    /// Inputs whose columns clash.
    pub fn over(left: LogicalPlan, right: LogicalPlan, band: Band) -> Result<Self> {
        let schema = build_join_schema(left.schema(), right.schema(), &JoinType::Inner)?;
        Ok(WindowJoinNode {
            left,
            right,
            band,
            schema: schema.into(),
        })
    }

    /// Whether one side holds at most one row per key ([`unique_on`]): the join is then
    /// probed, and pairs each row of the other side with at most one.
    pub fn probed(&self) -> bool {
        let (left_on, right_on): (Vec<Expr>, Vec<Expr>) = self.band.on.iter().cloned().unzip();
        unique_on(&self.left, &left_on) || unique_on(&self.right, &right_on)
    }
}

/// Whether `plan` holds at most one row per value of `keys` (plain columns), as its schema's
/// functional dependencies say: an aggregate grouped by the keys, or what keeps its rows.
/// A band join with such a side pairs each row of the other with at most one, and is probed
/// (`Layout::Probe`) rather than merged. A cluster's stages are left key-partitioned.
pub fn unique_on(plan: &LogicalPlan, keys: &[Expr]) -> bool {
    let schema = plan.schema();
    let Some(keys) = keys
        .iter()
        .map(|key| match key {
            Expr::Column(column) => schema.index_of_column(column).ok(),
            _ => None,
        })
        .collect::<Option<Vec<usize>>>()
    else {
        return false;
    };
    schema.functional_dependencies().iter().any(|dependence| {
        dependence.mode == Dependency::Single
            && dependence.source_indices.iter().all(|i| keys.contains(i))
            && dependence.target_indices.len() == schema.fields().len()
    })
}

impl PartialOrd for WindowJoinNode {
    /// The schema follows from the inputs, so it takes no part in the order.
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        (&self.left, &self.right, &self.band).partial_cmp(&(&other.left, &other.right, &other.band))
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "{}{}",
            self.offset,
            if self.inclusive { "" } else { " (exclusive)" }
        )
    }
}

impl UserDefinedLogicalNodeCore for WindowJoinNode {
    fn name(&self) -> &str {
        "WindowJoin"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.left, &self.right]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    /// Left keys, right keys, left time, right time, then the residual if any.
    fn expressions(&self) -> Vec<Expr> {
        let band = &self.band;
        let left_keys = band.on.iter().map(|(l, _)| l.clone());
        let right_keys = band.on.iter().map(|(_, r)| r.clone());
        left_keys
            .chain(right_keys)
            .chain([
                Expr::Column(band.left_time.clone()),
                Expr::Column(band.right_time.clone()),
            ])
            .chain(band.residual.clone())
            .collect()
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let band = &self.band;
        let on: Vec<String> = band.on.iter().map(|(l, r)| format!("{l} = {r}")).collect();
        write!(
            f,
            "WindowJoin: on=[{}], {} in [{} + {}, {} + {}]",
            on.join(", "),
            band.right_time,
            band.left_time,
            band.lower,
            band.left_time,
            band.upper
        )?;
        if let Some(residual) = &band.residual {
            write!(f, ", residual={residual}")?;
        }
        Ok(())
    }

    fn with_exprs_and_inputs(&self, exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> Result<Self> {
        let keys = self.band.on.len();
        let [left, right] = <[LogicalPlan; 2]>::try_from(inputs).map_err(|_| {
            datafusion::error::DataFusionError::Internal("WindowJoin has two inputs".into())
        })?;
        if exprs.len() != 2 * keys + 2 + usize::from(self.band.residual.is_some()) {
            return internal_err!("WindowJoin: unexpected number of expressions");
        }
        let mut exprs = exprs.into_iter();
        let left_keys: Vec<Expr> = exprs.by_ref().take(keys).collect();
        let right_keys: Vec<Expr> = exprs.by_ref().take(keys).collect();
        let (Some(Expr::Column(left_time)), Some(Expr::Column(right_time))) =
            (exprs.next(), exprs.next())
        else {
            return internal_err!("WindowJoin: the times must stay plain columns");
        };
        Ok(WindowJoinNode {
            left,
            right,
            band: Band {
                on: left_keys.into_iter().zip(right_keys).collect(),
                left_time,
                right_time,
                lower: self.band.lower,
                upper: self.band.upper,
                residual: exprs.next(),
            },
            schema: self.schema.clone(),
        })
    }
}
