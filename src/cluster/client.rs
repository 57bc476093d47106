//! The client's side: a session whose queries run on a cluster, or on one started in this
//! process.

use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::SessionContextExt;
use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::BallistaCodec;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::codec::{ClusterLogicalCodec, ClusterPhysicalCodec};
use super::runtime_with_stores;
use super::scheduler::scheduler_session;
use crate::engine::{Engine, state_with};

/// How long a client waits for the scheduler to answer before saying it cannot be reached.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The configuration every process of a cluster starts from: Ballista's, with this crate's
/// codecs, so that plans holding its operators and tables can be shipped.
pub fn config() -> SessionConfig {
    with_codecs(SessionConfig::new_with_ballista())
}

fn with_codecs(config: SessionConfig) -> SessionConfig {
    config
        .with_ballista_logical_extension_codec(Arc::new(ClusterLogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(ClusterPhysicalCodec::default()))
        .with_ballista_adaptive_query_planner(false)
}

/// `host:port` of a `df://host:port` address (Ballista's own scheme); the port defaults to
/// Ballista's 50050.
///
/// # Errors
/// An address that is not `df://host[:port]`.
pub fn scheduler_address(url: &str) -> Result<(String, u16)> {
    let bad = || {
        DataFusionError::Configuration(format!(
            "{url} is not a scheduler's address: write df://HOST:PORT"
        ))
    };
    let rest = url.strip_prefix("df://").ok_or_else(bad)?;
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (host, port.parse::<u16>().map_err(|_| bad())?),
        None => (rest, 50050),
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

/// A session of `engine` whose queries run on the cluster whose scheduler is at `url`
/// (`df://host:port`). Tables are registered on it as on a local session; their files must be
/// where the scheduler and every executor can read them too.
///
/// # Errors
/// A malformed address, or a scheduler that does not answer (named in the error).
pub async fn connect(
    url: &str,
    engine: Engine,
    config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
) -> Result<SessionContext> {
    let (host, port) = scheduler_address(url)?;
    let endpoint = format!("http://{host}:{port}");
    match tokio::time::timeout(CONNECT_TIMEOUT, SchedulerGrpcClient::connect(endpoint)).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => {
            return Err(DataFusionError::Execution(format!(
                "cannot reach the cluster's scheduler at {host}:{port}: {error}"
            )));
        }
        Err(_) => {
            return Err(DataFusionError::Execution(format!(
                "cannot reach the cluster's scheduler at {host}:{port}: no answer in {}s",
                CONNECT_TIMEOUT.as_secs()
            )));
        }
    }
    let state = state_with(engine, with_codecs(config.upgrade_for_ballista()), runtime);
    SessionContext::remote_with_state(&format!("df://{host}:{port}"), state).await
}

/// Starts a cluster in this process, a scheduler and one executor running `concurrent_tasks`
/// at once, on loopback ports; returns the scheduler's address for [`connect`]. It plans and
/// runs as separate processes do (plans cross protobuf, shuffles cross Arrow Flight), for
/// tests and trials. It stops with the tokio runtime it was started on.
///
/// # Errors
/// The scheduler or executor cannot start.
pub async fn start_in_process(concurrent_tasks: usize) -> Result<String> {
    let external = |e: ballista_core::error::BallistaError| DataFusionError::External(e.into());
    let codec = BallistaCodec::new(
        Arc::new(ClusterLogicalCodec::default()),
        Arc::new(ClusterPhysicalCodec::default()),
    );
    let address = ballista_scheduler::standalone::new_standalone_scheduler_with_builder(
        Arc::new(scheduler_session),
        Arc::new(self::config),
        codec.clone(),
    )
    .await
    .map_err(external)?;
    let scheduler = SchedulerGrpcClient::connect(format!("http://localhost:{}", address.port()))
        .await
        .map_err(|e| DataFusionError::External(e.into()))?;
    let runtime = runtime_with_stores(None)?;
    ballista_executor::new_standalone_executor_from_builder(
        scheduler,
        concurrent_tasks,
        Arc::new(self::config),
        Arc::new(move |_| Ok(Arc::clone(&runtime))),
        codec,
        BallistaFunctionRegistry::default(),
    )
    .await
    .map_err(external)?;
    Ok(format!("df://localhost:{}", address.port()))
}
