//! An executor: runs the stages the scheduler hands it, with this crate's operators.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ballista_core::config::TaskSchedulingPolicy;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};

use super::codec::{ClusterLogicalCodec, ClusterPhysicalCodec};
use super::{config, runtime_with_stores};

/// How an executor joins a cluster.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler's host and port.
    pub scheduler: (String, u16),
    /// Where other executors and clients fetch this executor's shuffle output (Arrow Flight).
    pub bind: SocketAddr,
    /// Where the scheduler reaches it; the next port when not given.
    pub grpc_port: Option<u16>,
    /// Tasks run at once; the machine's cores when not given.
    pub concurrent_tasks: Option<usize>,
    /// Memory all running tasks share, in bytes; Ballista's share of the machine's when not
    /// given.
    pub memory_limit: Option<u64>,
    /// Where shuffle files go; a temporary folder when not given.
    pub work_dir: Option<PathBuf>,
    /// How often it tells the scheduler it is alive: well inside the scheduler's executor
    /// timeout.
    pub heartbeat_interval: Duration,
}

/// Runs an executor until the process ends.
///
/// # Errors
/// The addresses cannot be bound, or the scheduler cannot be reached.
pub async fn run_executor(options: ExecutorOptions) -> ballista_core::error::Result<()> {
    let defaults = ExecutorProcessConfig::default();
    // One runtime for every task (Ballista gives each its own memory pool over it), so each
    // store is built once.
    let runtime = runtime_with_stores(options.work_dir.clone())
        .map_err(ballista_core::error::BallistaError::from)?;
    let settings = ExecutorProcessConfig {
        bind_host: options.bind.ip().to_string(),
        external_host: Some(options.bind.ip().to_string()),
        port: options.bind.port(),
        grpc_port: options
            .grpc_port
            .unwrap_or_else(|| options.bind.port().wrapping_add(1)),
        scheduler_host: options.scheduler.0,
        scheduler_port: options.scheduler.1,
        task_scheduling_policy: TaskSchedulingPolicy::PullStaged,
        vcores: options.concurrent_tasks.unwrap_or(defaults.vcores),
        memory_pool_size: options.memory_limit,
        work_dir: options
            .work_dir
            .as_ref()
            .map(|dir| dir.display().to_string()),
        executor_heartbeat_interval_seconds: options.heartbeat_interval.as_secs().max(1),
        override_config_producer: Some(Arc::new(config)),
        override_runtime_producer: Some(Arc::new(move |_| Ok(Arc::clone(&runtime)))),
        override_logical_codec: Some(Arc::new(ClusterLogicalCodec::default())),
        override_physical_codec: Some(Arc::new(ClusterPhysicalCodec::default())),
        ..defaults
    };
    start_executor_process(Arc::new(settings)).await
}
