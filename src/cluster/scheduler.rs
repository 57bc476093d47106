//! The scheduler: plans what clients send on the cluster's terms, then hands stages out.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ballista_core::config::TaskSchedulingPolicy;
use ballista_core::extension::{
    SessionConfigExt, ballista_aggregate_functions, ballista_scalar_functions,
    ballista_window_functions,
};
use ballista_core::optimizer::ballista_default_optimizer_rules;
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::common::Result;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::SessionState;
use datafusion::prelude::SessionConfig;

use super::codec::{ClusterLogicalCodec, ClusterPhysicalCodec};
use super::{config, runtime_with_stores};
use crate::operator::OperatorQueryPlanner;

/// The session a query's plan is made in on the scheduler, from the client's settings.
///
/// The client sends its optimised logical plan, window-join nodes already in place when its
/// engine is the operator; this session turns them into `WindowJoinExec` with both inputs
/// shuffled by key, and plans everything else as stock DataFusion does. Three settings are
/// forced whatever the client sent, because the plan is cut into stages afterwards:
/// - Ballista's adaptive planner is off: it rebuilds the physical optimizer from DataFusion's
///   defaults when it replans a stage, and then plans without our window join.
/// - Existing sorts are not kept through repartitions: a repartition becomes a shuffle, whose
///   reader concatenates what every map task wrote, so an order kept through it would be
///   claimed but lost, and a merge join above it would miss pairs.
/// - No prefix sort: it sorts and merges all its input partitions in one operator, so the
///   whole hunt would run as one task. DataFusion's sort runs per partition in the join's
///   stage, and its merge gets a stage of its own.
///
/// Ballista builds a session, and so this runtime, for every query: a lake in a store is
/// listed through the snapshot the query's plan carries (`catalog/lake_table.rs`), which
/// restricts this runtime's store and no other query's.
///
/// # Errors
/// The runtime cannot be built.
pub fn scheduler_session(config: SessionConfig) -> Result<SessionState> {
    let mut config = config.with_ballista_adaptive_query_planner(false);
    config.options_mut().optimizer.prefer_existing_sort = false;
    Ok(SessionStateBuilder::new()
        .with_default_features()
        .with_runtime_env(runtime_with_stores(None)?)
        .with_config(config)
        .with_optimizer_rules(ballista_default_optimizer_rules())
        .with_query_planner(Arc::new(OperatorQueryPlanner::distributed()))
        .with_scalar_functions(ballista_scalar_functions())
        .with_aggregate_functions(ballista_aggregate_functions())
        .with_window_functions(ballista_window_functions())
        .build())
}

/// Runs a scheduler on `bind` until the process ends. An executor silent for
/// `executor_timeout` is taken for dead: its work is run again on the others.
///
/// # Errors
/// The address cannot be bound, or Ballista refuses the configuration.
pub async fn run_scheduler(
    bind: SocketAddr,
    executor_timeout: Duration,
) -> ballista_core::error::Result<()> {
    let host = bind.ip().to_string();
    let timeout = executor_timeout.as_secs().max(1);
    let settings = SchedulerConfig {
        bind_host: host.clone(),
        external_host: host,
        bind_port: bind.port(),
        // Executors ask for work. With the scheduler pushing it, 2 of 9 queries hung for good
        // in trials where an executor was killed mid-query; pulled, none of 31 did.
        scheduling_policy: TaskSchedulingPolicy::PullStaged,
        executor_timeout_seconds: timeout,
        expire_dead_executor_interval_seconds: (timeout / 3).max(1),
        // A task that cannot fetch its input from a lost executor fails the query, with the
        // executor's address, instead of Ballista rolling the stages back and running them
        // again: that recovery once returned less than half of a hunt's rows as a success in
        // this project's trials (docs/cluster.md).
        stage_max_failures: 1,
        override_config_producer: Some(Arc::new(config)),
        override_session_builder: Some(Arc::new(scheduler_session)),
        override_logical_codec: Some(Arc::new(ClusterLogicalCodec::default())),
        override_physical_codec: Some(Arc::new(ClusterPhysicalCodec::default())),
        ..Default::default()
    };
    let cluster = BallistaCluster::new_from_config(&settings).await?;
    start_server(cluster, bind, Arc::new(settings)).await
}
