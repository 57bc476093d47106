//! `retrohunt cluster scheduler|executor`: the processes of a Ballista cluster.

use std::process::ExitCode;

use anyhow::Context;
use retrohunt::cluster::{ExecutorOptions, run_executor, run_scheduler, scheduler_address};

use super::Usage;
use super::args::ClusterCommand;

/// What a cluster's processes log unless `RUST_LOG` says otherwise: Ballista's own account
/// of jobs, stages, tasks and executors, which is how an operator follows a cluster.
const DEFAULT_LOG: &str = "warn,ballista_scheduler=info,ballista_executor=info";

pub async fn run(command: ClusterCommand) -> anyhow::Result<ExitCode> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(DEFAULT_LOG))
        .format_timestamp_millis()
        .init();
    match command {
        ClusterCommand::Scheduler {
            bind,
            executor_timeout,
        } => {
            eprintln!("scheduler listening on {bind}");
            run_scheduler(bind, executor_timeout)
                .await
                .with_context(|| format!("the scheduler at {bind} stopped"))?;
        }
        ClusterCommand::Executor(args) => {
            let with_scheme = if args.scheduler.contains("://") {
                args.scheduler.clone()
            } else {
                format!("df://{}", args.scheduler)
            };
            let scheduler = scheduler_address(&with_scheme).map_err(|e| Usage(e.to_string()))?;
            let bind = args.bind;
            eprintln!(
                "executor at {bind} joining the scheduler at {}:{}",
                scheduler.0, scheduler.1
            );
            run_executor(ExecutorOptions {
                scheduler,
                bind,
                grpc_port: args.grpc_port,
                concurrent_tasks: args.concurrent_tasks,
                memory_limit: args.memory_limit.map(|bytes| bytes as u64),
                work_dir: args.work_dir,
                heartbeat_interval: args.heartbeat_interval,
            })
            .await
            .with_context(|| format!("the executor at {bind} stopped"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
