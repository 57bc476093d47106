//! A run, the one thing every command drives: a lake opened on an engine ([`OpenLake`]: this
//! machine or a cluster, a memory limit, partitions), a query planned over it (the hunt, any
//! SQL, a KQL plan), the hunt's triage steps and bookkeeping ([`hunt`]: incremental runs,
//! enrichment, exclusions, the summary, the findings table), and a [`Sink`] the rows go to.
//!
//! The front end parses arguments into these and prints what a run tells it ([`Event`]); it
//! decides nothing a run does. A new command is a function here over [`OpenLake`] and
//! [`Sink`]; a new query language, a planner returning a DataFrame; a new output, a format of
//! the sink.

mod events;
mod hunt;
mod lake;
mod report;
mod sink;

pub use events::{Event, Events};
pub use hunt::{HuntOutput, HuntRun, Triage, hunt};
pub use lake::{EngineChoice, OpenLake, sample_lake};
pub use report::{RunFacts, report};
pub use sink::{Bookmarks, Sink, Written, explain, query_failed};

/// Something the user must change (an argument, a file they named): a front end reports it
/// as a usage error, not a failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);
