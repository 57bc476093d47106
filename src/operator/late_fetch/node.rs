//! The logical node [`super::rule::LateFetchRule`] puts above a band join whose inputs left
//! their wide columns behind, and the plan it carries to [`super::exec::LateFetchExec`]: where
//! each output column comes from.

use std::cmp::Ordering;
use std::fmt;

use datafusion::common::{DFSchemaRef, Result, internal_err};
use datafusion::logical_expr::{Expr, LogicalPlan, UserDefinedLogicalNodeCore};

/// Where one output column comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub enum Source {
    /// The input's column at this index.
    Input(usize),
    /// Column `column` of what side `side` fetches.
    Fetched { side: usize, column: usize },
}

/// One join input whose wide columns are read late: the files they are in, and each row's
/// place in them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub struct Side {
    /// The object store holding the files (`scheme://authority`), as the session registers it.
    pub store: String,
    /// The input's column holding each row's file (its path in the store).
    pub file: usize,
    /// The input's column holding each row's zero-based position in its file.
    pub row: usize,
    /// The columns read from the files, by their names there.
    pub columns: Vec<String>,
}

/// How [`super::exec::LateFetchExec`] makes its output from its input.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub struct FetchPlan {
    /// One per output column, in order.
    pub sources: Vec<Source>,
    pub sides: Vec<Side>,
}

impl FetchPlan {
    /// Where each column side `side` fetches goes in the output, in the order it fetches them
    /// (`None` for a column fetched for nothing).
    pub fn outputs_of(&self, side: usize) -> Vec<Option<usize>> {
        let columns = self.sides.get(side).map_or(0, |s| s.columns.len());
        (0..columns)
            .map(|column| {
                self.sources
                    .iter()
                    .position(|source| *source == Source::Fetched { side, column })
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LateFetchNode {
    pub input: LogicalPlan,
    pub plan: FetchPlan,
    /// The schema of the join before its wide columns were left behind: what every plan
    /// above it reads.
    pub schema: DFSchemaRef,
}

impl PartialOrd for LateFetchNode {
    /// The schema follows from the input and the plan, so it takes no part in the order.
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        (&self.input, &self.plan).partial_cmp(&(&other.input, &other.plan))
    }
}

impl UserDefinedLogicalNodeCore for LateFetchNode {
    fn name(&self) -> &str {
        "LateFetch"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        Vec::new()
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "LateFetch: {}", Fetched(self))
    }

    fn with_exprs_and_inputs(
        &self,
        exprs: Vec<Expr>,
        mut inputs: Vec<LogicalPlan>,
    ) -> Result<Self> {
        if !exprs.is_empty() || inputs.len() != 1 {
            return internal_err!("LateFetch has one input and no expressions");
        }
        let input = inputs.remove(0);
        if input.schema().fields().len() != self.input.schema().fields().len() {
            return internal_err!("LateFetch: its input changed its columns");
        }
        Ok(LateFetchNode {
            input,
            ..self.clone()
        })
    }
}

/// The columns each side fetches, named as the output names them.
struct Fetched<'a>(&'a LateFetchNode);

impl fmt::Display for Fetched<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let node = self.0;
        let sides: Vec<String> = (0..node.plan.sides.len())
            .map(|side| {
                let columns: Vec<String> = node
                    .plan
                    .outputs_of(side)
                    .into_iter()
                    .flatten()
                    .map(|index| node.schema.qualified_field(index))
                    .map(|(qualifier, field)| match qualifier {
                        Some(qualifier) => format!("{qualifier}.{}", field.name()),
                        None => field.name().clone(),
                    })
                    .collect();
                format!("[{}]", columns.join(", "))
            })
            .collect();
        write!(f, "{}", sides.join(", "))
    }
}
