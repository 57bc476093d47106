//! Writing query results for people and for other tools.

mod format;

pub use format::{OutputFormat, write_batches};
