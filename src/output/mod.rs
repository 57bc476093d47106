//! Writing query results for people and for other tools (Sentinel's bookmarks among them),
//! and files that appear whole.

mod bookmark;
mod format;
mod parquet;
mod report;
mod safety;
mod whole;

pub use bookmark::{entity, write_bookmarks};
pub use format::{OutputFormat, write_batches};
pub use parquet::plain_text;
pub use report::{Pair, Report, SignIn, Table, Timeline, write_report};
pub use safety::{TextSafety, escape_for_terminal, neutralise_formula};
pub use whole::{IfExists, write_whole};
