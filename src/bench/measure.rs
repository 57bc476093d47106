//! One measured run, in the child process: what the parent asked for, what it got.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use datafusion::common::plan_err;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::{ExecutionPlan, collect, displayable};
use serde::{Deserialize, Serialize};

use super::Builtin;
use crate::catalog::register_lake;
use crate::cluster;
use crate::engine::{peak_rss, runtime, session_config, session_with};
use crate::hunt::{HuntParams, plan_query};
use crate::output::{OutputFormat, TextSafety, write_batches};

/// What a child runs, sent as JSON on its command line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub lake: PathBuf,
    pub contender: Builtin,
    pub params: HuntParams,
    /// The memory pool's size; `None` for no limit.
    pub memory_limit: Option<usize>,
    /// Where the result rows go, as Parquet, for the parent to compare.
    pub result: PathBuf,
    /// The scheduler (`df://host:port`) a `cluster` run is sent to.
    #[serde(default)]
    pub cluster: Option<String>,
}

/// What one run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// Planning and execution, from SQL text to the last batch (opening the lake and writing
    /// the result file are not timed: they are the same for every engine).
    pub seconds: f64,
    /// Rows the Parquet scans produced, summed over the plan's scans (unknown for peers).
    pub rows_scanned: Option<u64>,
    pub result_rows: u64,
    /// The process's peak resident memory (`VmHWM`), where the OS reports it.
    pub peak_rss: Option<u64>,
    /// The window-join operator's own peak (`peak_window_bytes`), when it ran.
    pub operator_peak: Option<u64>,
}

/// Runs `job` in this process.
///
/// # Errors
/// The lake failing to open, planning or execution errors (a resources error under the memory
/// limit among them), a plan that does not use the engine it claims, or the result file
/// failing to write.
pub async fn measure(job: &Job) -> Result<Measurement> {
    let (config, runtime) = (
        session_config(job.memory_limit, None),
        runtime(job.memory_limit)?,
    );
    let ctx = match (job.contender, &job.cluster) {
        (Builtin::Cluster, Some(url)) => {
            cluster::connect(url, job.contender.engine(), config, runtime).await?
        }
        (Builtin::Cluster, None) => {
            return plan_err!("the cluster run needs a scheduler: --cluster df://HOST:PORT");
        }
        (contender, _) => session_with(contender.engine(), config, runtime),
    };
    register_lake(&ctx, &job.lake.to_string_lossy())
        .await
        .map_err(|e| DataFusionError::External(e.into()))?;
    let started = Instant::now();
    let frame = plan_query(&ctx, job.contender.query(), &job.params).await?;
    let schema = Arc::new(frame.schema().as_arrow().clone());
    if job.contender == Builtin::Cluster {
        check_shipped(&frame.clone().into_optimized_plan()?)?;
    }
    let plan = frame.create_physical_plan().await?;
    let nodes = nodes(&plan);
    check_engine(job.contender, &plan, &nodes)?;
    let batches = collect(plan.clone(), ctx.task_ctx()).await?;
    let seconds = started.elapsed().as_secs_f64();

    let file = std::fs::File::create(&job.result)?;
    write_batches(
        OutputFormat::Parquet,
        TextSafety::Raw,
        &schema,
        batches.iter().cloned(),
        std::io::BufWriter::new(file),
    )?;
    let sum = |node_name: &str, metric: &dyn Fn(&dyn ExecutionPlan) -> Option<usize>| {
        nodes
            .iter()
            .filter(|node| node.name() == node_name)
            .filter_map(|node| metric(node.as_ref()))
            .map(|value| value as u64)
            .reduce(|a, b| a + b)
    };
    Ok(Measurement {
        seconds,
        rows_scanned: sum("DataSourceExec", &|node| node.metrics()?.output_rows()),
        result_rows: batches.iter().map(|b| b.num_rows() as u64).sum(),
        peak_rss: peak_rss(),
        operator_peak: sum("WindowJoinExec", &|node| {
            Some(node.metrics()?.sum_by_name("peak_window_bytes")?.as_usize())
        }),
    })
}

/// The bench's EXPLAIN check: a `sql*` run that used the operator, an `operator` run that
/// did not, or a `cluster` run that ran here would compare the wrong things.
fn check_engine(
    contender: Builtin,
    plan: &Arc<dyn ExecutionPlan>,
    nodes: &[Arc<dyn ExecutionPlan>],
) -> Result<()> {
    let shown = || displayable(plan.as_ref()).indent(false).to_string();
    if contender == Builtin::Cluster {
        return match plan.name() {
            "DistributedQueryExec" => Ok(()),
            _ => plan_err!(
                "the cluster run was planned to run in this process:\n{}",
                shown()
            ),
        };
    }
    let uses_operator = nodes.iter().any(|node| node.name() == "WindowJoinExec");
    let expected = contender == Builtin::Operator;
    if uses_operator == expected {
        return Ok(());
    }
    plan_err!(
        "the {} run {} the window-join operator:\n{}",
        contender.name(),
        if uses_operator {
            "was planned on"
        } else {
            "was not planned on"
        },
        shown()
    )
}

/// A cluster's physical plan is made on its scheduler, out of sight. What the client ships is
/// its logical plan, where the operator's node is already placed (the scheduler plans that
/// node as the operator): a `cluster` run without it would not be measuring the operator.
fn check_shipped(logical: &LogicalPlan) -> Result<()> {
    let window_join = |node: &LogicalPlan| {
        Ok(matches!(node, LogicalPlan::Extension(e) if e.node.name() == "WindowJoin"))
    };
    if logical.exists(window_join)? {
        return Ok(());
    }
    plan_err!(
        "the cluster run was not planned on the window-join operator:\n{}",
        logical.display_indent()
    )
}

fn nodes(plan: &Arc<dyn ExecutionPlan>) -> Vec<Arc<dyn ExecutionPlan>> {
    let mut all = Vec::new();
    plan.apply(|node| {
        all.push(node.clone());
        Ok(TreeNodeRecursion::Continue)
    })
    .expect("collecting nodes cannot fail");
    all
}
