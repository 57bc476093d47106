//! What the lake's tables look like to readers, and their registration with DataFusion.

mod contents;
mod damaged;
mod foreign;
mod lake_table;
mod register;

pub use contents::{LakeDates, NotALake};
pub use damaged::{Damaged, damaged_files, paths as damaged_paths};
pub use lake_table::LakeTable;
pub use register::{LakeTables, OpenError, register_lake};
