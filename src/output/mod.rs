//! Writing query results for people and for other tools.

mod format;
mod safety;

pub use format::{OutputFormat, write_batches};
pub use safety::{TextSafety, escape_for_terminal, neutralise_formula};
