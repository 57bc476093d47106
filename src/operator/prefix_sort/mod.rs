//! A sort for orders that lead with a fixed-width column, such as the hunt's
//! `ORDER BY InteractiveTime DESC, NonInteractiveTime, …` over fourteen columns.
//!
//! DataFusion sorts each partition's batches and merges them, then merges the partitions; both
//! merges compare rows in arrow's row format, which encodes every sort column of every row,
//! strings included. When the first columns already tell almost every row apart, that is
//! mostly wasted: here each row gets a 16-byte key from its leading fixed-width columns (in
//! the same row format, so keys compare as the columns do), the keys are sorted, and only rows
//! whose keys are equal are encoded in full to settle their order.
//!
//! ```text
//!  partition 0 ──▶ batches + keys, sorted ─┐
//!                                          ├─▶ merge the sorted keys ─▶ settle equal keys
//!  partition 1 ──▶ batches + keys, sorted ─┘       ─▶ gather each output batch (interleave)
//! ```
//!
//! Partitions are read in parallel, each sorting its own keys; the rows are copied once, into
//! the output. Memory: every input row plus 32 bytes of key, reserved from the session's
//! pool. When the pool refuses, what was read and the unread rest are handed to DataFusion's
//! `SortExec` and `SortPreservingMergeExec`, which spill: the same rows in the same order,
//! more slowly.
//!
//! [`PrefixSortRule`] puts it in place of DataFusion's sort after physical planning. A
//! planner that drops custom physical rules (Ballista's adaptive one) keeps DataFusion's sort:
//! the same rows, more slowly.

mod codec;
mod exec;
mod order;
mod rule;

pub use codec::PrefixSortCodec;
pub use exec::PrefixSortExec;
pub use rule::PrefixSortRule;
