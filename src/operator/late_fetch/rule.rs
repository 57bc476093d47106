//! The optimizer rule that leaves a probed band join's wide columns behind and fetches them for
//! the joined rows only.
//!
//! A join qualifies when one side holds one row per key (`WindowJoinNode::probed`); an input
//! of it, when it is a chain of projections, filters and aliases over a scan of a table whose
//! files hold its columns as the table reads them (the catalog says which tables,
//! [`Locate`]). A text column of such an input is left behind when nothing below the join
//! reads it (no filter, no other expression, not the band) and the join only carries it: the
//! scan reads, in its place, each row's file and position in it; the join carries those; and
//! [`super::node::LateFetchNode`] above the join reads the column again for the rows the join
//! kept.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::compute::cast as cast_array;
use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::Transformed;
use datafusion::common::utils::take_function_args;
use datafusion::common::{Column, Result, ScalarValue};
use datafusion::datasource::source_as_provider;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::functions::core::expr_fn::{file_row_index, input_file_name};
use datafusion::logical_expr::{
    ColumnarValue, ExpressionPlacement, Extension, Filter, LogicalPlan, Projection,
    ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, SubqueryAlias, TableScan,
    TableScanBuilder, UserDefinedLogicalNodeCore, Volatility,
};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};

use super::node::{FetchPlan, LateFetchNode, Side, Source};
use crate::operator::window_join::WindowJoinNode;

/// The store of a table's files, for a table each file of which holds every text column the
/// table shows, in the table's own values (no adaptation between file and table): only then
/// is a value read again from the file the value the scan would have read.
pub type Locate = Arc<dyn Fn(&dyn TableProvider) -> Option<ObjectStoreUrl> + Send + Sync>;

/// The name of the column holding each row's file; `_left` or `_right` follows.
const FILE: &str = "__retrohunt_file";
/// The name of the column holding each row's position in its file.
const ROW: &str = "__retrohunt_row";

pub struct LateFetchRule {
    locate: Locate,
}

impl LateFetchRule {
    pub fn new(locate: Locate) -> Self {
        LateFetchRule { locate }
    }
}

impl fmt::Debug for LateFetchRule {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("LateFetchRule")
    }
}

impl OptimizerRule for LateFetchRule {
    fn name(&self) -> &str {
        "late_fetch"
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
        let LogicalPlan::Extension(extension) = &plan else {
            return Ok(Transformed::no(plan));
        };
        let Some(join) = extension.node.as_any().downcast_ref::<WindowJoinNode>() else {
            return Ok(Transformed::no(plan));
        };
        let done = [&join.left, &join.right].iter().any(|input| {
            input
                .schema()
                .fields()
                .iter()
                .any(|f| f.name().starts_with(FILE))
        });
        // A merge of two streams of sign-ins (the hunt) keeps about one row in nine, from
        // every page: reading the pages again costs what carrying the columns did (measured:
        // even on 30 days, 10% slower on a heavy-tailed tenant). A probe pairs each row with
        // at most one and keeps few (3,470 of 12 M for KQL's AiTM shape): there it pays.
        if done || !join.probed() {
            return Ok(Transformed::no(plan));
        }
        let band_reads: Vec<Column> = join
            .expressions()
            .iter()
            .flat_map(|expr| expr.column_refs())
            .cloned()
            .collect();
        let left = defer(&join.left, &band_reads, "left", &self.locate)?;
        let right = defer(&join.right, &band_reads, "right", &self.locate)?;
        if left.is_none() && right.is_none() {
            return Ok(Transformed::no(plan));
        }
        let mut plan = FetchPlan {
            sources: Vec::new(),
            sides: Vec::new(),
        };
        let mut offset = 0;
        let mut inputs = Vec::with_capacity(2);
        for (input, deferred) in [(&join.left, left), (&join.right, right)] {
            let width = input.schema().fields().len();
            let Some(deferred) = deferred else {
                plan.sources
                    .extend((offset..offset + width).map(Source::Input));
                offset += width;
                inputs.push(input.clone());
                continue;
            };
            let side = plan.sides.len();
            let mut kept = 0;
            for index in 0..width {
                match deferred.columns.iter().position(|(at, _)| *at == index) {
                    Some(column) => plan.sources.push(Source::Fetched { side, column }),
                    None => {
                        plan.sources.push(Source::Input(offset + kept));
                        kept += 1;
                    }
                }
            }
            plan.sides.push(Side {
                store: deferred.store.as_str().to_string(),
                file: offset + kept,
                row: offset + kept + 1,
                columns: deferred.columns.into_iter().map(|(_, name)| name).collect(),
            });
            offset += kept + 2;
            inputs.push(deferred.plan);
        }
        let [left, right] = <[LogicalPlan; 2]>::try_from(inputs).expect("two inputs");
        let joined = WindowJoinNode::over(left, right, join.band.clone())?;
        let node = LateFetchNode {
            input: LogicalPlan::Extension(Extension {
                node: Arc::new(joined),
            }),
            plan,
            schema: Arc::clone(&join.schema),
        };
        Ok(Transformed::yes(LogicalPlan::Extension(Extension {
            node: Arc::new(node),
        })))
    }
}

/// A join input with columns left behind.
struct Deferred {
    /// The input reading positions in their place: its other columns in their order, then
    /// the file and the position.
    plan: LogicalPlan,
    /// Each column left behind: its index in the input, and its name in the files.
    columns: Vec<(usize, String)>,
    store: ObjectStoreUrl,
}

/// A column left behind: its index at each node from the input down to the scan.
type Path = Vec<usize>;

/// `input` with the columns it only carries left behind, when it qualifies and has any.
fn defer(
    input: &LogicalPlan,
    band_reads: &[Column],
    side: &str,
    locate: &Locate,
) -> Result<Option<Deferred>> {
    let mut chain: Vec<&LogicalPlan> = Vec::new();
    let mut node = input;
    let scan = loop {
        match node {
            LogicalPlan::Projection(Projection { input, .. })
            | LogicalPlan::Filter(Filter { input, .. })
            | LogicalPlan::SubqueryAlias(SubqueryAlias { input, .. }) => {
                chain.push(node);
                node = input;
            }
            LogicalPlan::TableScan(scan) => break scan,
            _ => return Ok(None),
        }
    };
    let Some(store) = source_as_provider(&scan.source)
        .ok()
        .and_then(|provider| locate(provider.as_ref()))
    else {
        return Ok(None);
    };
    let schema = input.schema();
    let mut paths: Vec<Path> = (0..schema.fields().len())
        .filter(|&index| is_text(schema.field(index).data_type()))
        .filter(|&index| !mentions(band_reads, &Column::from(schema.qualified_field(index))))
        .map(|index| vec![index])
        .collect();
    for node in &chain {
        paths.retain_mut(
            |path| match carried_below(node, *path.last().expect("a start")) {
                Some(below) => {
                    path.push(below);
                    true
                }
                None => false,
            },
        );
    }
    let scan_filters_read: HashSet<&str> = scan
        .filters
        .iter()
        .flat_map(|filter| filter.column_refs())
        .map(|column| column.name.as_str())
        .collect();
    let scanned = &scan.projected_schema;
    paths.retain(|path| {
        let name = scanned.field(*path.last().expect("a start")).name();
        !scan_filters_read.contains(name.as_str())
    });
    if paths.is_empty() {
        return Ok(None);
    }
    let names = (format!("{FILE}_{side}"), format!("{ROW}_{side}"));
    let mut plan = positioned_scan(scan, &paths, &names)?;
    for (level, node) in chain.iter().enumerate().rev() {
        plan = match node {
            LogicalPlan::Projection(projection) => {
                let left: HashSet<usize> = paths.iter().map(|path| path[level]).collect();
                let mut exprs: Vec<_> = projection
                    .expr
                    .iter()
                    .enumerate()
                    .filter(|(index, _)| !left.contains(index))
                    .map(|(_, expr)| expr.clone())
                    .collect();
                for name in [&names.0, &names.1] {
                    let column = plan.schema().qualified_field_with_unqualified_name(name)?;
                    exprs.push(datafusion::logical_expr::Expr::Column(Column::from(column)));
                }
                LogicalPlan::Projection(Projection::try_new(exprs, Arc::new(plan))?)
            }
            LogicalPlan::Filter(filter) => {
                LogicalPlan::Filter(Filter::try_new(filter.predicate.clone(), Arc::new(plan))?)
            }
            LogicalPlan::SubqueryAlias(alias) => LogicalPlan::SubqueryAlias(
                SubqueryAlias::try_new(Arc::new(plan), alias.alias.clone())?,
            ),
            _ => unreachable!("the chain holds projections, filters and aliases"),
        };
    }
    let columns = paths
        .iter()
        .map(|path| {
            let at_scan = *path.last().expect("a start");
            (path[0], scanned.field(at_scan).name().clone())
        })
        .collect();
    Ok(Some(Deferred {
        plan,
        columns,
        store,
    }))
}

/// The index below `node` of its output column `index`, when `node` only passes it on
/// (renamed at most) and reads it for nothing else.
fn carried_below(node: &LogicalPlan, index: usize) -> Option<usize> {
    match node {
        LogicalPlan::Projection(projection) => {
            let datafusion::logical_expr::Expr::Column(column) =
                projection.expr.get(index)?.clone().unalias()
            else {
                return None;
            };
            let read_elsewhere = projection
                .expr
                .iter()
                .enumerate()
                .any(|(other, expr)| other != index && mentions(expr.column_refs(), &column));
            match read_elsewhere {
                true => None,
                false => projection.input.schema().index_of_column(&column).ok(),
            }
        }
        LogicalPlan::Filter(filter) => {
            let column = Column::from(filter.input.schema().qualified_field(index));
            (!mentions(filter.predicate.column_refs(), &column)).then_some(index)
        }
        LogicalPlan::SubqueryAlias(_) => Some(index),
        _ => None,
    }
}

/// Whether `refs` name `column`: by name, and by qualifier where both have one (an
/// unqualified reference may mean it, and is taken to).
fn mentions<'a>(refs: impl IntoIterator<Item = &'a Column>, column: &Column) -> bool {
    refs.into_iter().any(|read| {
        read.name == column.name
            && match (&read.relation, &column.relation) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    })
}

/// `scan` without the columns `paths` end at, with each row's file and position after the
/// rest, named `names`.
fn positioned_scan(
    scan: &TableScan,
    paths: &[Path],
    names: &(String, String),
) -> Result<LogicalPlan> {
    let left: HashSet<usize> = paths
        .iter()
        .map(|path| *path.last().expect("a start"))
        .collect();
    let projection: Vec<usize> = match &scan.projection {
        Some(projection) => projection.clone(),
        None => (0..scan.source.schema().fields().len()).collect(),
    };
    let kept = projection
        .iter()
        .enumerate()
        .filter(|(index, _)| !left.contains(index))
        .map(|(_, column)| *column)
        .collect();
    let narrowed = TableScanBuilder::from(scan.clone())
        .with_projection(Some(kept))
        .build()?;
    let mut exprs: Vec<_> = narrowed
        .projected_schema
        .columns()
        .into_iter()
        .map(datafusion::logical_expr::Expr::Column)
        .collect();
    let file = ScalarUDF::new_from_impl(FileDictionary::default());
    exprs.push(file.call(vec![input_file_name()]).alias(&names.0));
    exprs.push(file_row_index().alias(&names.1));
    Ok(LogicalPlan::Projection(Projection::try_new(
        exprs,
        Arc::new(LogicalPlan::TableScan(narrowed)),
    )?))
}

/// A file's path as a dictionary of one value: each row names its file in four bytes.
///
/// Wrapped around `input_file_name()`, it moves with it into the scan (DataFusion moves
/// `input_file_name()` towards the scan and would leave a plain cast above the filters, so
/// that every row read would carry its path as text until then), where the path is a single
/// value per file.
#[derive(Debug, PartialEq, Eq, Hash)]
struct FileDictionary {
    signature: Signature,
}

impl Default for FileDictionary {
    fn default() -> Self {
        FileDictionary {
            signature: Signature::exact(vec![DataType::Utf8], Volatility::Immutable),
        }
    }
}

fn file_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

impl ScalarUDFImpl for FileDictionary {
    fn name(&self) -> &str {
        "late_fetch_file"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(file_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [path] = take_function_args(self.name(), args.args)?;
        Ok(match path {
            ColumnarValue::Scalar(path) => ColumnarValue::Scalar(ScalarValue::Dictionary(
                Box::new(DataType::Int32),
                Box::new(path),
            )),
            ColumnarValue::Array(paths) => ColumnarValue::Array(cast_array(&paths, &file_type())?),
        })
    }

    /// Wherever its argument may go: towards the scan, for `input_file_name()`.
    fn placement(&self, args: &[ExpressionPlacement]) -> ExpressionPlacement {
        match args {
            [ExpressionPlacement::MoveTowardsLeafNodes] => {
                ExpressionPlacement::MoveTowardsLeafNodes
            }
            _ => ExpressionPlacement::KeepInPlace,
        }
    }
}

fn is_text(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
    )
}
