//! The memory pool every query runs under. A query that outgrows it stops with a resources
//! error naming the pool's largest consumers, instead of the kernel killing the process and
//! everything else on the machine with it.

use std::num::NonZeroUsize;
use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::config::ConfigNonZeroUsize;
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::SessionConfig;

/// The share of the machine's memory a query may use when no limit is given: room for the
/// process's own buffers and the page cache the Parquet reads rely on.
const DEFAULT_SHARE: f64 = 0.6;

/// The default limit: [`DEFAULT_SHARE`] of the machine's memory, `None` where it is unknown.
pub fn default_memory_limit() -> Option<usize> {
    let bytes = machine_memory()? as f64 * DEFAULT_SHARE;
    Some(bytes as usize)
}

/// The machine's memory in bytes, where the OS reports it.
pub fn machine_memory() -> Option<u64> {
    proc_bytes("/proc/meminfo", "MemTotal:")
}

/// This process's peak resident memory in bytes (`VmHWM`), where the OS reports it.
pub fn peak_rss() -> Option<u64> {
    proc_bytes("/proc/self/status", "VmHWM:")
}

/// This process's resident memory now (`VmRSS`), where the OS reports it.
pub fn resident() -> Option<u64> {
    proc_bytes("/proc/self/status", "VmRSS:")
}

/// Process `pid`'s peak resident memory (`VmHWM`), while it runs.
pub fn peak_rss_of(pid: u32) -> Option<u64> {
    proc_bytes(&format!("/proc/{pid}/status"), "VmHWM:")
}

/// A `key: N kB` line of a Linux `/proc` file.
fn proc_bytes(file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    let kib: u64 = text
        .lines()
        .find_map(|line| line.strip_prefix(key))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// The session settings that depend on the limit and on how many partitions a query is
/// spread over (the machine's cores when `None`). Every sort sets aside
/// `sort_spill_reservation_bytes` per partition (10 MB by default) to merge what it spilled;
/// under a small limit those reservations alone would fill the pool, so they are scaled to a
/// share of it.
///
/// A repartition refused memory spills each batch to files its reader takes in order. In
/// DataFusion 55.2 two inputs spilling at once can leave two files open, and the reader then
/// waits on the older one for a batch that went to the newer (apache/datafusion#24883): the
/// query neither ends nor fails, as one `hunt --enrich` in two did under `--memory-limit`.
/// With a file per spilled batch, closed as soon as it is written, no file is left open.
pub fn session_config(limit: Option<usize>, partitions: Option<usize>) -> SessionConfig {
    let mut config = SessionConfig::new();
    if let Some(partitions) = partitions {
        config = config.with_target_partitions(partitions);
    }
    let partitions = config.target_partitions().max(1);
    let execution = &mut config.options_mut().execution;
    execution.max_spill_file_size_bytes = ConfigNonZeroUsize::try_new(1).expect("one is not zero");
    if let Some(limit) = limit {
        let share = limit / (4 * partitions);
        execution.sort_spill_reservation_bytes = execution.sort_spill_reservation_bytes.min(share);
    }
    config
}

/// A runtime whose pool holds at most `limit` bytes (unbounded with `None`). The pool is
/// fair to the operators that can spill (sorts): each gets a share of what the others cannot
/// give back, so several sorts spill instead of the first one taking everything and the last
/// one failing. It tracks its largest consumers, so an error says who held the memory.
///
/// # Errors
/// DataFusion refusing the runtime configuration.
pub fn runtime(limit: Option<usize>) -> Result<Arc<RuntimeEnv>> {
    match limit {
        Some(limit) => RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(TrackConsumersPool::new(
                FairSpillPool::new(limit),
                NonZeroUsize::new(5).expect("five is not zero"),
            )))
            .build_arc(),
        None => RuntimeEnvBuilder::new().build_arc(),
    }
}
