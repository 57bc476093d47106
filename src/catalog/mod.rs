//! What the lake's tables look like to readers, and their registration with DataFusion.

mod foreign;
mod lake_table;
mod register;
pub mod schema;

pub use register::register_lake;
