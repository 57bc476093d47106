//! The hunt on an Apache DataFusion Ballista cluster, for when one machine is outgrown: the
//! same SQL and the same window-join operator, planned by a Ballista scheduler and run by its
//! executors, both processes of this binary (`retrohunt cluster scheduler|executor`).
//!
//! What had to change for the operator to run there, and where:
//! - Plans cross processes as protobuf: `codec.rs` wraps Ballista's codecs with this crate's
//!   (window join, prefix sort, the lake's tables).
//! - Ballista cuts a plan into stages at every shuffle, and a task reads only its own
//!   partition of a stage's input. The time-aligned layout reads other partitions, so the
//!   scheduler (`scheduler.rs`) plans the window join key-partitioned: both sides shuffled by
//!   user, each partition merged on its own, sorted after the shuffle.
//! - The client (`client.rs`) only parses and optimises, so the window-join node is already in
//!   the plan it sends; the scheduler plans it.

mod client;
mod codec;
mod executor;
mod scheduler;

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::common::Result;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};

use crate::store::StoresFromEnvironment;

pub use client::{config, connect, scheduler_address, start_in_process};
pub use codec::{ClusterLogicalCodec, ClusterPhysicalCodec};
pub use executor::{ExecutorOptions, run_executor};
pub use scheduler::{run_scheduler, scheduler_session};

/// A runtime for a cluster's process: plans name lakes in object storage by URL alone, so
/// stores are built from those URLs and this process's environment (`AZURE_STORAGE_*`,
/// `AWS_*`). Spills go to `work_dir` when given.
fn runtime_with_stores(work_dir: Option<PathBuf>) -> Result<Arc<RuntimeEnv>> {
    let builder = RuntimeEnvBuilder::new()
        .with_object_store_registry(Arc::new(StoresFromEnvironment::default()));
    match work_dir {
        Some(dir) => builder.with_temp_file_path(dir).build_arc(),
        None => builder.build_arc(),
    }
}
