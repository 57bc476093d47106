//! The memory pool every query runs under. A query that outgrows it stops with a resources
//! error naming the pool's largest consumers, instead of the kernel killing the process and
//! everything else on the machine with it.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};

/// The share of the machine's memory a query may use when no limit is given: room for the
/// process's own buffers and the page cache the Parquet reads rely on.
const DEFAULT_SHARE: f64 = 0.6;

/// The default limit: [`DEFAULT_SHARE`] of the machine's memory, `None` where it is unknown.
pub fn default_memory_limit() -> Option<usize> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let bytes = (kib * 1024) as f64 * DEFAULT_SHARE;
    Some(bytes as usize)
}

/// A runtime whose pool holds at most `limit` bytes (unbounded with `None`). The pool tracks
/// its largest consumers, so an error says who held the memory.
///
/// # Errors
/// DataFusion refusing the runtime configuration.
pub fn runtime(limit: Option<usize>) -> Result<Arc<RuntimeEnv>> {
    match limit {
        Some(limit) => RuntimeEnvBuilder::new()
            .with_memory_limit(limit, 1.0)
            .build_arc(),
        None => RuntimeEnvBuilder::new().build_arc(),
    }
}
