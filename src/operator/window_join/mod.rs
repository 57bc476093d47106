//! A sort-merge band join: rows with equal keys whose times lie within a constant window of
//! each other, in time linear in its input and output.
//!
//! The pieces, in the order a query meets them: [`WindowJoinRule`] recognises band joins in
//! logical plans (`band.rs`) and puts a logical node (`node.rs`) in their place;
//! [`WindowJoinPlanner`] (`planner.rs`) chooses a layout (`layout.rs`, `files.rs`) and
//! plans [`WindowJoinExec`] (`exec.rs`), whose partitions run the merge (`stream.rs`,
//! `merge.rs`) or the probe (`probe.rs`); the codecs (`codec.rs`) carry the node and the exec through protobuf plans.
//!
//! The contract: for any input (Parquet any tool wrote, in any order, with or without
//! statistics, split or grouped any way; tables in memory), any session configuration
//! (target partitions, batch size) and any band join the rule accepts, the operator returns
//! the same multiset of rows as DataFusion's own plan of the same SQL. A layout that cannot be
//! proven right from the plan is not chosen; a statistic found wrong while reading stops the
//! query with an error rather than lose a pair. `tests/window_join.rs` holds it to that,
//! with stock SQL as the reference.
//!
//! Stock plans join on the key and filter every key-equal pair by time, so a key with `n`
//! left and `m` right rows costs `n * m`: quadratic in a heavy account's history. Here both
//! inputs arrive ordered by (key, time) and two cursors slide over the right side:
//!
//! ```text
//!  left  (key, t)      right (key, t), buffered from `front` on
//!  ─────────────      ─────────────────────────────────────────────
//!  (bob, 10:00) ───▶  (bob, 09:58) (bob, 10:01) (bob, 10:07) (bob, 10:12) (carl, ..)
//!                        dropped    ▲front                    ▲back
//!                                   └─ pairs: [front, back) ──┘
//!  window [t + lower, t + upper] = [10:00, 10:10]
//! ```
//!
//! For each left row in order, `front` moves to the first right row not before
//! `(key, t + lower)` and `back` to the first right row after `(key, t + upper)`; the rows
//! between are its candidate pairs. Both cursors only move forward, because the targets grow
//! with the left rows, and right rows behind `front` can match no later left row, so they are
//! dropped. Work: O(n + m + pairs in window). Memory: the right rows inside the current
//! window plus one batch per side, reserved in the session's memory pool, whatever the size
//! of a key's whole history.
//!
//! Vectorised: candidate pairs are gathered as index lists, turned into a batch with `take`
//! (left) and `interleave` (right, across buffered batches), filtered by the residual
//! predicate compiled as a DataFusion physical expression, and coalesced into batches of the
//! session's batch size.
//!
//! Parallel, in one of three layouts (`layout.rs`, chosen when planning):
//! - probe, where one side holds at most one row per key (the logical plan's functional
//!   dependencies say so: an aggregate by the keys): that side is held in a hash table and the
//!   other streams past it unsorted (`probe.rs`), as no pair can be quadratic there.
//! - time-aligned, where both inputs are scans of whole files, one per partition, each with
//!   exact time statistics (a lake's date files; `files.rs` says what qualifies and pins the
//!   scans so DataFusion cannot regroup them): each output partition joins a run of the larger
//!   side's partitions one after another, each with only the other side's partitions its span
//!   can reach, read straight from the files. No repartition, no merge of the large side.
//!   Every partition is read and checked against its declared span, those that pair with
//!   nothing too.
//! - key-partitioned otherwise (`--explain` says why): both inputs are hash-partitioned by key the same way and each
//!   partition is merged on its own. Inputs already in (key, time) order get an
//!   order-preserving repartition (when the session prefers existing sorts); others are
//!   sorted by DataFusion.

mod band;
mod codec;
mod exec;
mod files;
mod held;
mod layout;
mod merge;
mod metrics;
mod node;
mod planner;
mod probe;
mod rule;
mod stream;

pub use codec::{WindowJoinLogicalCodec, WindowJoinPhysicalCodec};
pub use exec::WindowJoinExec;
pub use node::WindowJoinNode;
pub use planner::WindowJoinPlanner;
pub use rule::WindowJoinRule;
