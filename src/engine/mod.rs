//! Execution engines: the one place a DataFusion session is configured.

mod memory;
mod session;

pub use memory::{
    default_memory_limit, machine_memory, peak_rss, peak_rss_of, resident, runtime, session_config,
};
pub use session::{Engine, runs_on_cluster, session, session_with, state_with};
